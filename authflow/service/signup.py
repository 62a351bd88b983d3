"""Service functions for self-service sign-up: SignUp, ConfirmSignUp,
ResendConfirmationCode.

Theory of operation: as AdminCreateUser, SignUp checks the request in a first
transaction, calls the PreSignUp function (if the pool has one), hashes the password
outside any transaction (Argon2id is slow on purpose), and checks again where it
writes. Confirmation codes come from the entropy port and are sent after the commit
(`Engine.deliver`). A wrong code given to ConfirmSignUp is counted on the code in its
own transaction, the only write a refused ConfirmSignUp leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import auth, codes, identity
from authflow.core import pool_config as pc
from authflow.core import signup as core
from authflow.core import users as core_users
from authflow.errors import UserLambdaValidationException
from authflow.service.code_requests import code_request
from authflow.service.engine import Engine
from authflow.service.registry import operation


def _checked_sign_up(engine: Engine, tx, request: Mapping[str, Any]):
    pool, client = engine.require_client(tx, request["ClientId"])
    core.check_sign_up_allowed(pool)
    auth.check_secret_hash(client, engine.client_secret(client), [request["Username"]], request.get("SecretHash"))
    return pool, client, core.prepare_sign_up(pool, client, request)


@operation("SignUp")
def sign_up(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool, client, command = _checked_sign_up(engine, tx, request)
    _pre_sign_up(engine, pool, client.id, command, request)
    password_hash = engine.hasher(command.password)  # slow: outside the transaction
    now = engine.now()
    code = codes.new_code(engine.entropy)
    with engine.store.transaction() as tx:
        pool, client, command = _checked_sign_up(engine, tx, request)
        existing = None
        if command.username_kind is None:
            existing = tx.get_user(pool.id, identity.username_key(pool.config, command.requested_username))
        holders = {pair: tx.get_user_by_alias(pool.id, *pair) for pair in core.alias_pairs(pool, command)}
        decision = core.decide_sign_up(
            pool, command, existing=existing, alias_holders=holders, password_hash=password_hash,
            code=code, pool_secret=engine.pool_secret(pool), now=now, entropy=engine.entropy,
        )
        engine.apply(tx, decision)
    engine.deliver(decision.messages)
    return decision.response


def _pre_sign_up(engine: Engine, pool, client_id: str, command: core.SignUp, request: Mapping[str, Any]) -> None:
    """PreSignUp_SignUp, as AdminCreateUser calls PreSignUp_AdminCreateUser: the function
    may refuse. Not yet: its autoConfirmUser / autoVerifyEmail / autoVerifyPhone answers
    (issue 8's triggers)."""
    arn = pc.lambda_arn(pool.config, "PreSignUp")
    if not arn:
        return
    event = {
        "version": "1",
        "triggerSource": "PreSignUp_SignUp",
        "region": engine.region,
        "userPoolId": pool.id,
        "userName": command.requested_username,
        "callerContext": {"awsSdkVersion": "authflow", "clientId": client_id},
        "request": {
            "userAttributes": dict(command.attributes),
            # ValidationData goes to the function and nowhere else: never stored.
            "validationData": {a["Name"]: a.get("Value", "") for a in request.get("ValidationData") or ()},
            "clientMetadata": dict(request.get("ClientMetadata") or {}),
        },
        "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    }
    try:
        engine.triggers.invoke(arn, event)
    except Exception as err:  # the function's failure is the caller's answer
        raise UserLambdaValidationException(f"PreSignUp failed with error {err}.") from None


@operation("ConfirmSignUp")
def confirm_sign_up(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # Not yet: the PostConfirmation_ConfirmSignUp trigger, the per-user hourly quota.
    now = engine.now()
    typed = request["Username"]
    with engine.store.transaction() as tx:
        pool, client = engine.require_client(tx, request["ClientId"])
        user = core_users.find_user(tx, pool, typed)
        auth.check_secret_hash(
            client, engine.client_secret(client), [typed] + ([user.username] if user else []),
            request.get("SecretHash"),
        )
        checked = core.check_confirm_sign_up(
            client, user, request["ConfirmationCode"], pool_secret=engine.pool_secret(pool), now=now
        )
        if checked.counted is not None:
            engine.write(tx, puts=(checked.counted,))
        elif checked.ok and user is not None:
            holders = {pair: tx.get_user_by_alias(pool.id, *pair) for pair in core.confirmed_alias_pairs(pool, user)}
            engine.apply(tx, core.decide_confirm_sign_up(
                pool, user, alias_holders=holders,
                force_alias_creation=bool(request.get("ForceAliasCreation", False)), now=now,
            ))
    if checked.error is not None:
        raise checked.error
    return {}


@operation("ResendConfirmationCode")
def resend_confirmation_code(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # Not yet: the CustomMessage_ResendCode trigger, the per-user hourly quota.
    return code_request(engine, request, core.decide_resend)
