"""Operations authorised by a token, and revocation: GetUser, GlobalSignOut,
AdminUserGlobalSignOut, RevokeToken, SetUserMFAPreference,
AdminSetUserMFAPreference.

Theory of operation: an access token is checked the way Cognito's own APIs check
it: the signature against the pool's published keys (RS256 only, kid looked up in
the pool's key set only), the issuer, `token_use`, the expiry, then revocation. A
token is revoked when its refresh-token family was revoked (RevokeToken) or began
before the user's last global sign-out (`User.token_generation`); tokens of clients
without revocation carry no `origin_jti` and name their family in `event_id`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import attributes as attrs
from authflow.core import client_config as cc
from authflow.core import mfa
from authflow.core import tokens as core_tokens
from authflow.core import users as core_users
from authflow.core.lifecycle import user_lifecycle
from authflow.core.records import AppClient, User, UserPool
from authflow.crypto.signing import TokenRejected, decode, unverified_claims
from authflow.errors import (
    NotAuthorizedException,
    UnauthorizedException,
    UnsupportedOperationException,
    UnsupportedTokenTypeException,
    UserNotFoundException,
)
from authflow.service import refresh_rotation as refresh_families
from authflow.service.engine import Engine
from authflow.service.keys import jwks
from authflow.service.registry import operation

INVALID_ACCESS = "Invalid Access Token"
REVOKED_ACCESS = "Access Token has been revoked"
MISSING_SCOPE = "Access Token does not have required scopes"
#: /oauth2/userInfo's refusal of a token (§5.5 of the OAuth reference).
USERINFO_REFUSED = "Access token is expired, disabled, or deleted, or the user has globally signed out."


def revoked(tx, user: User, claims: Mapping[str, Any]) -> bool:
    """Whether Cognito's APIs refuse this (signature-checked) token: its family was
    revoked or began before the user's last global sign-out. Tokens of clients without
    revocation name their family in `event_id` (they carry no `origin_jti`)."""
    origin = claims.get("origin_jti") or claims.get("event_id")
    family = tx.get_refresh_token_by_origin(user.pool_id, str(origin)) if origin else None
    return family is None or family.revoked or family.generation < user.token_generation


def verify_access(
    engine: Engine, tx, token: str, now: datetime, *, pool_id: str | None = None
) -> tuple[UserPool, AppClient, dict[str, Any]]:
    """The pool, app client and verified claims of an access token (of pool `pool_id`, when
    given); its user is not looked at yet (`token_user`)."""
    try:
        iss = unverified_claims(token).get("iss")
        named = iss.rsplit("/", 1)[-1] if isinstance(iss, str) else ""
        pool = tx.get_pool(named) if named and (pool_id is None or named == pool_id) else None
        if pool is None:
            raise TokenRejected("invalid")
        claims = decode(
            token, jwks(tx, pool.id, now), issuer=engine.issuer(pool.id), token_use="access",
            client_id=None, now=now,
        )
    except TokenRejected as err:
        raise NotAuthorizedException(
            "Access Token has expired" if err.reason == "expired" else INVALID_ACCESS
        ) from None
    client = tx.get_client(str(claims.get("client_id")))
    if client is None or client.pool_id != pool.id:
        raise NotAuthorizedException(INVALID_ACCESS)
    return pool, client, claims


def token_user(tx, pool: UserPool, claims: Mapping[str, Any]) -> User:
    """The user of verified access-token claims, if the token is not revoked and the user
    may still use it."""
    user = tx.get_user_by_sub(pool.id, str(claims["sub"]))
    if user is None:
        raise UserNotFoundException("User does not exist.")
    if revoked(tx, user, claims):
        raise NotAuthorizedException(REVOKED_ACCESS)
    if not user.enabled:
        raise NotAuthorizedException("User is disabled.")
    return user


def authenticate(
    engine: Engine, tx, token: str, now: datetime
) -> tuple[UserPool, AppClient, User, dict[str, Any]]:
    """The pool, app client, user and claims of a valid, unrevoked access token that the
    user-pool API accepts: one carrying aws.cognito.signin.user.admin. Tokens of a domain's
    OAuth flows granted other scopes only (and every client_credentials token) are refused,
    as Cognito refuses them."""
    pool, client, claims = verify_access(engine, tx, token, now)
    if core_tokens.API_SCOPE not in str(claims.get("scope") or "").split():
        raise NotAuthorizedException(MISSING_SCOPE)
    return pool, client, token_user(tx, pool, claims), claims


@operation("GetUser")
def get_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        readable = cc.readable_attributes(client.config, pool.config)
    shown = {k: v for k, v in user.attributes.items() if k in readable}
    return {
        "Username": user.username,
        "UserAttributes": attrs.as_attribute_list(shown),
        **core_users.mfa_members(user, pool),
    }


def _sign_out(user: User, now: datetime) -> User:
    user_lifecycle().next_status(user.status, "sign_out")
    return replace(user, token_generation=user.token_generation + 1, modified=now, version=user.version + 1)


@operation("GlobalSignOut")
def global_sign_out(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        _, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        engine.write(tx, puts=(_sign_out(user, now),))
    return {}


@operation("AdminUserGlobalSignOut")
def admin_user_global_sign_out(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        engine.write(tx, puts=(_sign_out(user, now),))
    return {}


@operation("RevokeToken")
def revoke_token(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    token = request["Token"]
    with engine.store.transaction() as tx:
        client = tx.get_client(request["ClientId"])
        if client is None:
            raise UnauthorizedException("Invalid client id.")
        secrets = engine.client_secrets(client)
        if secrets:
            given = (request.get("ClientSecret") or "").encode()
            ok = False
            for secret in secrets:  # every one compared: the time says nothing of which matched
                ok |= hmac.compare_digest(given, secret.encode())
            if not ok:
                raise UnauthorizedException("Client secret is missing or does not match.")
        if not cc.token_revocation_enabled(client.config):
            raise UnsupportedOperationException("Token revocation is not enabled for this client.")
        if core_tokens.looks_like_jwt(token):
            raise UnsupportedTokenTypeException("Only refresh tokens can be revoked.")
        family = tx.get_refresh_token(core_tokens.token_hash(token))
        if family is None:  # a token rotated out of its family (still remembered) names it too
            found = refresh_families.find_family(tx, client.pool_id, client, token, engine.now())
            family = found.family if found is not None else None
        if family is None:
            return {}  # RFC 7009: an unknown token is not an error, and says nothing
        if family.client_id != client.id:
            raise UnauthorizedException("The token was not issued to this client.")
        if not family.revoked:
            engine.write(tx, puts=(replace(family, revoked=True, version=family.version + 1),))
    return {}


@operation("AdminSetUserMFAPreference")
def admin_set_user_mfa_preference(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        updated = mfa.set_preference(pool, user, request, now)
        if updated is not user:
            engine.write(tx, puts=(updated,))
    return {}


@operation("SetUserMFAPreference")
def set_user_mfa_preference(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        updated = mfa.set_preference(pool, user, request, now)
        if updated is not user:
            engine.write(tx, puts=(updated,))
    return {}
