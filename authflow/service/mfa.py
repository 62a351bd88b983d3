"""MFA beyond the sign-in steps: the pool's MFA configuration (SetUserPoolMfaConfig,
GetUserPoolMfaConfig), software tokens (AssociateSoftwareToken, VerifySoftwareToken,
AdminDeleteSoftwareToken) and the legacy MFA settings (SetUserSettings,
AdminSetUserSettings). The decisions are `authflow.core.mfa`.

Theory of operation: a software token is set up in two steps, by access token (a signed-in
user adding an authenticator) or by the Session of an MFA_SETUP challenge (a user who must
set one up before signing in). By access token the new secret waits on the user record
(`pending_software_token`) until VerifySoftwareToken confirms it with a current code; the
verified token then replaces any older one, and SetUserMFAPreference turns TOTP MFA on. By
Session the secret travels sealed in the challenge session (each step hands out a new
Session and uses up the old one), and verifying it also turns TOTP MFA on as the preferred
factor, so that the MFA_SETUP answer completes the sign-in. Secrets are sealed under the KEK.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import auth
from authflow.core import mfa as core
from authflow.core import users as core_users
from authflow.core.lifecycle import auth_session
from authflow.core.records import AppClient, AuthSession, User, UserPool
from authflow.crypto import totp
from authflow.errors import (
    InvalidParameterException,
    NotAuthorizedException,
    SoftwareTokenMFANotFoundException,
)
from authflow.service.engine import Engine
from authflow.service.registry import operation
from authflow.service.tokens import authenticate

NOT_ASSOCIATED = "Software Token MFA has not been associated for the user."
ONE_OF = "Exactly one of AccessToken and Session must be given."


@operation("SetUserPoolMfaConfig")
def set_user_pool_mfa_config(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        config = core.set_config(pool.config, request)
        tx.put_pool(replace(pool, config=config, modified=now, version=pool.version + 1))
    return core.get_config(config)


@operation("GetUserPoolMfaConfig")
def get_user_pool_mfa_config(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
    return core.get_config(pool.config)


# -- secrets ---------------------------------------------------------------------------------------


def _token_context(pool: UserPool, user: User) -> str:
    return f"software-token:{pool.id}:{user.sub}"


def seal_secret(engine: Engine, pool: UserPool, user: User, secret: str) -> bytes:
    return engine.seal(secret.encode("ascii"), _token_context(pool, user))


def open_secret(engine: Engine, pool: UserPool, user: User, sealed: bytes) -> str:
    return engine.unseal(sealed, _token_context(pool, user)).decode("ascii")


def _setup_context(session: AuthSession) -> str:
    return f"mfa-setup:{session.pool_id}:{session.id}"


def setup_progress(engine: Engine, record: AuthSession) -> dict[str, Any]:
    """What an MFA_SETUP session holds: the secret handed out, and whether it was verified."""
    if not record.progress:
        return {}
    return json.loads(engine.unseal(base64.b64decode(record.progress), _setup_context(record)))


def _with_progress(engine: Engine, record: AuthSession, progress: dict[str, Any]) -> AuthSession:
    sealed = engine.seal(json.dumps(progress).encode(), _setup_context(record))
    return replace(record, progress=base64.b64encode(sealed).decode())


# -- AssociateSoftwareToken, VerifySoftwareToken ---------------------------------------------------------


def _setup_session(engine: Engine, tx, given: str, now: datetime) -> tuple[UserPool, AppClient, AuthSession, User]:
    """The MFA_SETUP session a Session-based call continues; refusals change nothing."""
    record = tx.get_session(auth.session_id(given))
    pool = tx.get_pool(record.pool_id) if record else None
    client = tx.get_client(record.client_id) if record else None
    if record is None or pool is None or client is None:
        raise NotAuthorizedException(auth.INVALID_SESSION)
    record = auth.check_session(record, pool=pool, client=client, now=now)
    user = tx.get_user(pool.id, record.username_key)
    if record.challenge != core.SETUP or user is None or user.sub != record.sub or not user.enabled:
        raise NotAuthorizedException(auth.INVALID_SESSION)
    auth.check_sign_in_still_holds(user, record)
    return pool, client, record, user


def _next_setup_session(engine: Engine, pool, client, record: AuthSession, user: User, progress: dict, now):
    token, session = auth.new_session(pool, client, user, challenge=core.SETUP, typed_username=record.typed_username,
                                      now=now, entropy=engine.entropy, device_key=record.device_key)
    return token, _with_progress(engine, replace(session, expires=record.expires), progress)


def _one_of(request: Mapping[str, Any]) -> None:
    if bool(request.get("AccessToken")) == bool(request.get("Session")):
        raise InvalidParameterException(ONE_OF)


@operation("AssociateSoftwareToken")
def associate_software_token(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    _one_of(request)
    now = engine.now()
    secret = totp.encode_secret(engine.entropy.random_bytes(totp.SECRET_BYTES))
    with engine.store.transaction() as tx:
        if request.get("AccessToken"):
            pool, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
            core.check_pool_offers_software_token(pool)
            pending = seal_secret(engine, pool, user, secret)
            engine.write(tx, puts=(replace(user, pending_software_token=pending, version=user.version + 1),))
            return {"SecretCode": secret}
        pool, client, record, user = _setup_session(engine, tx, request["Session"], now)
        core.check_pool_offers_software_token(pool)
        auth_session().next_state(core.SETUP, "software_token_associated")
        token, session = _next_setup_session(engine, pool, client, record, user, {"secret": secret}, now)
        engine.write(tx, puts=(auth.used(record), session))
    return {"SecretCode": secret, "Session": token}


@operation("VerifySoftwareToken")
def verify_software_token(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    _one_of(request)
    now = engine.now()
    code, name = request["UserCode"], request.get("FriendlyDeviceName")
    with engine.store.transaction() as tx:
        if request.get("AccessToken"):
            pool, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
            core.check_pool_offers_software_token(pool)
            if user.pending_software_token is None:
                raise SoftwareTokenMFANotFoundException(NOT_ASSOCIATED)
            secret = open_secret(engine, pool, user, user.pending_software_token)
            step = core.accepted_step(secret, code, now=now, last_step=None, setup=True)
            verified = core.verified_token(user.pending_software_token, step=step, friendly_name=name, now=now)
            engine.write(tx, puts=(core.with_token(user, verified, activate=False, now=now),))
            return {"Status": "SUCCESS"}
        pool, client, record, user = _setup_session(engine, tx, request["Session"], now)
        core.check_pool_offers_software_token(pool)
        progress = setup_progress(engine, record)
        if not progress.get("secret"):
            raise SoftwareTokenMFANotFoundException(NOT_ASSOCIATED)
        step = core.accepted_step(progress["secret"], code, now=now, last_step=None, setup=True)
        auth_session().next_state(core.SETUP, "software_token_verified")
        verified = core.verified_token(seal_secret(engine, pool, user, progress["secret"]), step=step,
                                       friendly_name=name, now=now)
        updated = core.with_token(user, verified, activate=True, now=now)
        token, session = _next_setup_session(engine, pool, client, record, updated, {"verified": True}, now)
        engine.write(tx, puts=(updated, auth.used(record), session))
    return {"Status": "SUCCESS", "Session": token}


@operation("AdminDeleteSoftwareToken")
def admin_delete_software_token(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    """Removes the user's authenticator (verified or pending), and TOTP from their MFA
    settings, so that they can register a new one."""
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        settings = tuple(f for f in user.mfa_settings if f != core.SOFTWARE_TOKEN)
        preferred = None if user.preferred_mfa == core.SOFTWARE_TOKEN else user.preferred_mfa
        engine.write(tx, puts=(replace(user, software_token=None, pending_software_token=None, mfa_settings=settings,
                                       preferred_mfa=preferred, modified=now, version=user.version + 1),))
    return {}


# -- the legacy MFA settings ----------------------------------------------------------------------------


@operation("SetUserSettings")
def set_user_settings(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        updated = core.set_legacy_settings(pool, user, list(request["MFAOptions"]), now)
        if updated is not user:
            engine.write(tx, puts=(updated,))
    return {}


@operation("AdminSetUserSettings")
def admin_set_user_settings(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        updated = core.set_legacy_settings(pool, user, list(request["MFAOptions"]), now)
        if updated is not user:
            engine.write(tx, puts=(updated,))
    return {}
