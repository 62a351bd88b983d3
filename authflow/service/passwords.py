"""Service functions for passwords and self-deletion: AdminSetUserPassword,
AdminResetUserPassword, ForgotPassword, ConfirmForgotPassword, AdminConfirmSignUp,
ChangePassword, DeleteUser, DeleteUserAttributes.

Theory of operation: as in sign-in, a new password is hashed (and a previous one
compared) outside any transaction, because Argon2id is slow on purpose; the second
transaction re-reads the user and writes only if the credential it was checked
against is still the stored one. ChangePassword counts a wrong previous password
against the same lockout schedule as sign-in (`authflow.core.lockout`): the attempt
is counted first and taken back when the password is right, and a counted failure
is the only write a refused ChangePassword leaves behind.

Reset codes come from the entropy port and are sent after the commit
(`Engine.deliver`); a wrong code given to ConfirmForgotPassword is counted on the
code in its own transaction, the only write a refused ConfirmForgotPassword leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import auth, codes, lockout
from authflow.core import passwords as core
from authflow.core import users as core_users
from authflow.errors import NotAuthorizedException, UserNotFoundException
from authflow.service import verifiers
from authflow.service.code_requests import client_and_user, code_request
from authflow.service.engine import Engine
from authflow.service.messages import customized
from authflow.service.registry import operation
from authflow.service.signup import post_confirmation, written_user
from authflow.service.tokens import INVALID_ACCESS, authenticate


@operation("AdminSetUserPassword")
def admin_set_user_password(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    password = request["Password"]
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        core_users.require_user(tx, pool, request["Username"])
        core.check_admin_password(pool, password)
    password_hash = engine.hasher(password)  # slow: outside the transaction
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        decision = core.decide_set_password(
            pool, user, password=password, permanent=bool(request.get("Permanent", False)),
            password_hash=password_hash, now=now,
        )
        decision = verifiers.with_verifiers(engine, pool, decision, password=password, password_hash=password_hash)
        engine.apply(tx, decision)
    return {}


@operation("AdminResetUserPassword")
def admin_reset_user_password(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    code = codes.new_code(engine.entropy)
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        decision = core.decide_reset_password(pool, user, code=code, pool_secret=engine.pool_secret(pool), now=now)
        decision = customized(
            engine, pool, decision, source="CustomMessage_ForgotPassword", client_id=None, request=request
        )
        engine.apply(tx, decision)
        entries = engine.enqueue(tx, decision.messages)
    engine.deliver(entries)
    return {}


@operation("ForgotPassword")
def forgot_password(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # Not yet: the UserMigration_ForgotPassword trigger.
    return code_request(engine, request, core.decide_forgot_password, source="CustomMessage_ForgotPassword")


def _reset_code_step(engine: Engine, request: Mapping[str, Any], now, password_hash: str | None):
    """One transaction of ConfirmForgotPassword: check everything (a wrong code is
    counted and committed, then refused); with `password_hash`, also write the new
    password, and return the pool, client and the user as written."""
    written = None
    with engine.store.transaction() as tx:
        pool, client, user = client_and_user(engine, tx, request)
        checked = core.check_confirm_forgot_password(
            pool, client, user, request, pool_secret=engine.pool_secret(pool), now=now
        )
        if checked.counted is not None:
            engine.write(tx, puts=(checked.counted,))
        elif checked.ok and user is not None and password_hash is not None:
            decision = core.decide_confirm_forgot_password(
                pool, user, password=request["Password"], password_hash=password_hash, now=now
            )
            decision = verifiers.with_verifiers(
                engine, pool, decision, password=request["Password"], password_hash=password_hash
            )
            engine.apply(tx, decision)
            written = (pool, client, written_user(decision, user))
    if checked.error is not None:
        raise checked.error
    return written


@operation("ConfirmForgotPassword")
def confirm_forgot_password(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # Not yet: password history.
    now = engine.now()
    _reset_code_step(engine, request, now, None)  # refuse before the slow hash
    password_hash = engine.hasher(request["Password"])  # slow: outside the transaction
    # Checked again where it is written: the code may have been used or replaced meanwhile.
    written = _reset_code_step(engine, request, now, password_hash)
    if written is not None:
        pool, client, user = written
        post_confirmation(engine, pool, client.id, user, "PostConfirmation_ConfirmForgotPassword", request)
    return {}


@operation("AdminConfirmSignUp")
def admin_confirm_sign_up(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        decision = core.decide_admin_confirm(pool, user, now=now)
        engine.apply(tx, decision)
    post_confirmation(engine, pool, None, written_user(decision, user), "PostConfirmation_ConfirmSignUp", request)
    return {}


def _authenticate(engine: Engine, tx, token: str, now):
    """`authenticate`, but the token of a user who no longer exists is an invalid token:
    what AWS answers ChangePassword (reference §3.18 [O]); GetUser and the other token
    operations keep their model's UserNotFoundException."""
    try:
        return authenticate(engine, tx, token, now)
    except UserNotFoundException:
        raise NotAuthorizedException(INVALID_ACCESS) from None


@operation("ChangePassword")
def change_password(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    refused = False
    with engine.store.transaction() as tx:
        pool, _, user, _ = _authenticate(engine, tx, request["AccessToken"], now)
        previous = core.check_change_password(pool, user, request)
        attempt = lockout.begin_attempt(
            tx.get_failed_sign_ins(pool.id, user.sub), pool_id=pool.id, key=user.sub, now=now
        )
        tx.put_failed_sign_ins(attempt.record)
        refused = attempt.refused
    if refused:
        raise NotAuthorizedException(lockout.LOCKED_MESSAGE)
    stored = user.credential.password_hash if user.credential else None
    if not engine.check_password(previous, stored):
        raise NotAuthorizedException(auth.INCORRECT)  # the failure is already counted
    password_hash = engine.hasher(request["ProposedPassword"])
    with engine.store.transaction() as tx:
        pool, _, current, _ = _authenticate(engine, tx, request["AccessToken"], now)
        if current.credential != user.credential:
            raise NotAuthorizedException(auth.INCORRECT)  # re-passworded meanwhile
        core.check_change_password(pool, current, request)
        if tx.get_failed_sign_ins(pool.id, current.sub) is not None:
            tx.delete_failed_sign_ins(pool.id, current.sub)  # a right password resets the count
        updated = core.decide_change_password(
            pool, current, proposed=request["ProposedPassword"], password_hash=password_hash, now=now
        )
        updated = verifiers.with_verifier(engine, pool, updated, request["ProposedPassword"])
        engine.write(tx, puts=(updated,))
    return {}


@operation("DeleteUser")
def delete_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # The user's refresh-token families stay behind but name a `sub` no user has any
    # more, so the refresh flow refuses them for good ("Invalid Refresh Token").
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        engine.apply(tx, core_users.decide_delete(pool, user))
    return {}


@operation("DeleteUserAttributes")
def delete_user_attributes(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    names = request["UserAttributeNames"]
    with engine.store.transaction() as tx:
        pool, client, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        core.check_client_may_delete(pool, client, names)
        engine.apply(tx, core_users.decide_delete_attributes(pool, user, names, now=now))
    return {}
