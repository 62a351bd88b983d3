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
from dataclasses import replace
from typing import Any

from authflow.core import attributes as attrs
from authflow.core import auth, codes, identity
from authflow.core import pool_config as pc
from authflow.core import signup as core
from authflow.core import trigger_events as te
from authflow.core import user_auth as user_auth_core
from authflow.core import users as core_users
from authflow.core.effects import Decision
from authflow.core.records import User
from authflow.errors import InvalidLambdaResponseException
from authflow.service import user_auth, verifiers
from authflow.service.code_requests import client_and_user, code_request
from authflow.service.engine import Engine
from authflow.service.messages import customized
from authflow.service.registry import operation


def _checked_sign_up(engine: Engine, tx, request: Mapping[str, Any]):
    pool, client = engine.require_client(tx, request["ClientId"])
    core.check_sign_up_allowed(pool)
    auth.check_secret_hash(client, engine.client_secrets(client), [request["Username"]], request.get("SecretHash"))
    return pool, client, core.prepare_sign_up(pool, client, request)


@operation("SignUp")
def sign_up(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool, client, command = _checked_sign_up(engine, tx, request)
    answer = _pre_sign_up(engine, pool, client.id, command, request)
    # Slow: outside the transaction. None: a passwordless sign-up.
    password_hash = engine.hasher(command.password) if command.password is not None else None
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
        decision = _auto_confirmed(engine, tx, pool, decision, answer, now)
        decision = customized(engine, pool, decision, source="CustomMessage_SignUp", client_id=client.id, request=request)
        if command.password is not None:
            decision = verifiers.with_verifiers(engine, pool, decision, password=command.password,
                                                password_hash=password_hash)
        engine.apply(tx, decision)
        entries = engine.enqueue(tx, decision.messages)
        # For USER_AUTH's sign-in straight after confirmation (ConfirmSignUp, then InitiateAuth).
        session = user_auth.sign_up_session(engine, tx, pool, client, _named(decision),
                                            stage=user_auth_core.SIGNED_UP, now=now)
    engine.deliver(entries)
    return {**decision.response, **({"Session": session} if session else {})}


def _named(decision: Decision):
    """The signed-up user of a sign-up decision (the last user it writes)."""
    return next(r for r in reversed(decision.puts) if isinstance(r, User))


def _pre_sign_up(
    engine: Engine, pool, client_id: str, command: core.SignUp, request: Mapping[str, Any]
) -> te.PreSignUpAnswer:
    """PreSignUp_SignUp, as AdminCreateUser calls PreSignUp_AdminCreateUser: the function
    may refuse, or answer autoConfirmUser / autoVerifyEmail / autoVerifyPhone."""
    arn = pc.lambda_arn(pool.config, "PreSignUp")
    if not arn:
        return te.PreSignUpAnswer()
    event = te.event(
        "PreSignUp_SignUp", region=engine.region, pool_id=pool.id, username=command.requested_username,
        client_id=client_id,
        request={
            "userAttributes": dict(command.attributes),
            # ValidationData goes to the function and nowhere else: never stored.
            "validationData": {a["Name"]: a.get("Value", "") for a in request.get("ValidationData") or ()},
            "clientMetadata": dict(request.get("ClientMetadata") or {}),
        },
    )
    answer = te.read_pre_sign_up(te.invoke(engine.triggers, arn, event))
    # Verifying an attribute the user did not give is an answer Cognito cannot apply.
    if (answer.auto_verify_email and not command.attributes.get("email")) or (
        answer.auto_verify_phone and not command.attributes.get("phone_number")
    ):
        raise InvalidLambdaResponseException(te.UNRECOGNIZABLE)
    return answer


def _auto_confirmed(engine: Engine, tx, pool, decision: Decision, answer: te.PreSignUpAnswer, now) -> Decision:
    """The sign-up decision with the PreSignUp answer applied: auto-confirmed users are
    CONFIRMED and get no code; auto-verified attributes are verified and, once the user
    holds them as aliases, move from any earlier holder (who loses their verification,
    as with ForceAliasCreation)."""
    if not (answer.auto_confirm or answer.auto_verify_email or answer.auto_verify_phone):
        return decision
    user = decision.puts[-1]
    attributes = dict(user.attributes)
    if answer.auto_verify_email:
        attributes["email_verified"] = "true"
    if answer.auto_verify_phone:
        attributes["phone_number_verified"] = "true"
    attributes = attrs.ordered(attributes)
    status = "CONFIRMED" if answer.auto_confirm else user.status
    aliases = identity.aliases_of(pool.config, attributes, status)
    losers = {}
    for pair in aliases:
        if pair in user.aliases:
            continue  # already checked by the sign-up decision
        holder = tx.get_user_by_alias(pool.id, *pair)
        if holder is not None and holder.username_key != user.username_key:
            previous = losers.get(holder.username_key, (holder, []))
            losers[holder.username_key] = (previous[0], previous[1] + [pair[0]])
    puts = [core_users.lose_aliases(pool, holder, kinds, now) for holder, kinds in losers.values()]
    user = replace(user, attributes=attributes, status=status, aliases=aliases)
    if not answer.auto_confirm:
        return replace(decision, puts=(*decision.puts[:-1], *puts, user))
    user = replace(user, codes={})
    response = {k: v for k, v in decision.response.items() if k != "CodeDeliveryDetails"}
    return replace(
        decision, puts=(*decision.puts[:-1], *puts, user), messages=(), response={**response, "UserConfirmed": True}
    )


@operation("ConfirmSignUp")
def confirm_sign_up(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # Calls are not counted: the guesses are, per code (codes.MAX_ATTEMPTS) and through
    # the hourly limit on new codes.
    now = engine.now()
    confirmed = None
    session = None
    with engine.store.transaction() as tx:
        pool, client, user = client_and_user(engine, tx, request)
        if request.get("Session"):  # SignUp's: checked before anything is written
            user_auth_core.check_sign_up_session(tx.get_session(auth.session_id(request["Session"])),
                                                 stage=user_auth_core.SIGNED_UP, client_id=client.id, user=user,
                                                 now=now)
        checked = core.check_confirm_sign_up(
            client, user, request["ConfirmationCode"], pool_secret=engine.pool_secret(pool), now=now
        )
        if checked.counted is not None:
            engine.write(tx, puts=(checked.counted,))
        elif checked.ok and user is not None:
            holders = {pair: tx.get_user_by_alias(pool.id, *pair) for pair in core.confirmed_alias_pairs(pool, user)}
            decision = core.decide_confirm_sign_up(
                pool, user, alias_holders=holders,
                force_alias_creation=bool(request.get("ForceAliasCreation", False)), now=now,
            )
            engine.apply(tx, decision)
            confirmed = written_user(decision, user)
            if request.get("Session"):
                user_auth.spend_sign_up_session(tx, request["Session"], stage=user_auth_core.SIGNED_UP,
                                                client=client, user=user, now=now)
                session = user_auth.sign_up_session(engine, tx, pool, client, confirmed,
                                                    stage=user_auth_core.CONFIRMED, now=now)
    if checked.error is not None:
        raise checked.error
    if confirmed is not None:
        post_confirmation(engine, pool, client.id, confirmed, "PostConfirmation_ConfirmSignUp", request)
    return {"Session": session} if session else {}


def written_user(decision: Decision, user):
    """The record a decision wrote for `user` (it may also write an alias loser)."""
    return next(r for r in reversed(decision.puts) if getattr(r, "username_key", None) == user.username_key)


def post_confirmation(engine: Engine, pool, client_id: str | None, user, source: str,
                      request: Mapping[str, Any]) -> None:
    """PostConfirmation, called after the commit: the confirmation stands whatever the
    function does, and its failure is still the caller's answer (as on Cognito)."""
    arn = pc.lambda_arn(pool.config, "PostConfirmation")
    if not arn:
        return
    event = te.event(
        source, region=engine.region, pool_id=pool.id, username=user.username, client_id=client_id,
        request={
            "userAttributes": te.user_attributes(user),
            "clientMetadata": dict(request.get("ClientMetadata") or {}),
        },
    )
    te.invoke(engine.triggers, arn, event)


@operation("ResendConfirmationCode")
def resend_confirmation_code(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # Limited to codes.REQUEST_LIMIT codes an hour (the decision refuses the next).
    return code_request(engine, request, core.decide_resend, source="CustomMessage_ResendCode")
