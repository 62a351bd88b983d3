"""What goes into Cognito's tokens: claims, lifetimes, refresh-token records.

Theory of operation: the claims are built here, purely, from the pool, the app
client, the user and the instant; the service signs them with the pool's keys
(`authflow.crypto.signing`). Claim names and types are Cognito's
(`../shared/reference/srp-and-clients.md` §3.4): `email_verified` and
`phone_number_verified` are JSON booleans in tokens although they are strings in
the attribute APIs, custom attributes are always strings, the ID token names the
client in `aud` and the access token in `client_id`. `jti` and `origin_jti` appear
only when the client has token revocation on, as on Cognito; `origin_jti` names the
refresh-token family the token belongs to (and `event_id` does when there is no
`origin_jti`).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authflow.core import client_config as cc
from authflow.core.attributes import VERIFIED_FLAGS, is_true
from authflow.core.federation import identities_claim
from authflow.core.groups import claims as group_claims
from authflow.core.policy import EntropySource
from authflow.core.records import AppClient, Group, RefreshToken, User, UserPool

#: The scope of tokens from the API flows (not OAuth).
API_SCOPE = "aws.cognito.signin.user.admin"
REFRESH_TOKEN_BYTES = 32


def issuer(pool_id: str, *, region: str, base_url: str | None) -> str:
    if base_url:
        return f"{base_url.rstrip('/')}/{pool_id}"
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def new_uuid(entropy: EntropySource) -> str:
    return str(uuid.UUID(bytes=entropy.random_bytes(16), version=4))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenClaims:
    id: dict[str, Any]
    access: dict[str, Any]
    expires_in: int  # the access token's lifetime, AuthenticationResult.ExpiresIn


def _attribute_claims(pool: UserPool, client: AppClient, user: User) -> dict[str, Any]:
    readable = cc.readable_attributes(client.config, pool.config)
    out: dict[str, Any] = {}
    for name, value in user.attributes.items():
        if name == "sub" or name not in readable:
            continue
        out[name] = is_true(value) if name in VERIFIED_FLAGS else value
    if user.attributes.get("identities"):  # federated and linked users (§6.3); no schema attribute
        out["identities"] = identities_claim(user.attributes["identities"])
    return out


def claims(
    pool: UserPool,
    client: AppClient,
    user: User,
    *,
    issuer: str,
    now: datetime,
    auth_time: datetime,
    origin_jti: str,
    entropy: EntropySource,
    device_key: str | None = None,
    groups: Sequence[Group] = (),
    scope: str | None = None,
    nonce: str | None = None,
) -> TokenClaims:
    """The claims of a new ID and access token pair. `groups`: the user's groups, which give
    `cognito:groups` (both tokens) and `cognito:roles` / `cognito:preferred_role` (ID token).
    `scope` and `nonce` are for tokens of a domain's OAuth flows: the access token then
    carries the granted scopes (space-separated) and `version: 2`, the ID token the
    authorize request's `nonce` (the caller adds `at_hash` once the access token is signed).
    Without them the claims are the API flows' own."""
    lifetimes = cc.token_validity_seconds(client.config)
    iat = int(now.timestamp())
    revocation = cc.token_revocation_enabled(client.config)
    # Without revocation Cognito's tokens carry no origin_jti; `event_id` then names the
    # family instead, so that a global sign-out can still tell old tokens from new ones.
    event_id = new_uuid(entropy) if revocation else origin_jti
    family = {"origin_jti": origin_jti} if revocation else {}
    id_group_claims, access_group_claims = group_claims(groups)
    id_claims: dict[str, Any] = {
        "sub": user.sub,
        **id_group_claims,
        **_attribute_claims(pool, client, user),
        "iss": issuer,
        "cognito:username": user.username,
        **family,
        "aud": client.id,
        "event_id": event_id,
        "token_use": "id",
        "auth_time": int(auth_time.timestamp()),
        "exp": iat + lifetimes["id"],
        "iat": iat,
    }
    access_claims: dict[str, Any] = {
        "sub": user.sub,
        **access_group_claims,
        "iss": issuer,
        "client_id": client.id,
        **family,
        "event_id": event_id,
        "token_use": "access",
        "scope": API_SCOPE if scope is None else scope,
        "auth_time": int(auth_time.timestamp()),
        "exp": iat + lifetimes["access"],
        "iat": iat,
    }
    if revocation:
        id_claims["jti"] = new_uuid(entropy)
        access_claims["jti"] = new_uuid(entropy)
    if device_key is not None:
        # Device tracking: the device the sign-in is bound to (access tokens only).
        access_claims["device_key"] = device_key
    access_claims["username"] = user.username
    if scope is not None:
        access_claims["version"] = 2
    if nonce is not None:
        id_claims["nonce"] = nonce
    return TokenClaims(id=id_claims, access=access_claims, expires_in=lifetimes["access"])


def machine_claims(
    client: AppClient, *, issuer: str, now: datetime, scope: str, entropy: EntropySource,
) -> dict[str, Any]:
    """The access token of client_credentials (machine to machine): no user, so `sub` is
    the client id; no `username`, `cognito:groups` or `aud` (§4.3 of the OAuth reference,
    from live tokens)."""
    iat = int(now.timestamp())
    return {
        "sub": client.id,
        "token_use": "access",
        "scope": scope,
        "auth_time": iat,
        "iss": issuer,
        "exp": iat + cc.token_validity_seconds(client.config)["access"],
        "iat": iat,
        "version": 2,
        "jti": new_uuid(entropy),
        "client_id": client.id,
    }


def new_refresh_token(
    pool: UserPool, client: AppClient, user: User, *, now: datetime, entropy: EntropySource,
    device_key: str | None = None, scope: str | None = None, auth_time: datetime | None = None,
) -> tuple[str, RefreshToken]:
    """A refresh token (256 random bits) and the record that keeps only its SHA-256.
    `scope`: the OAuth scopes of a family begun at a domain's token endpoint; `auth_time`:
    when the user authenticated, if not now (a code redeemed after the sign-in)."""
    token = base64.urlsafe_b64encode(entropy.random_bytes(REFRESH_TOKEN_BYTES)).decode().rstrip("=")
    lifetime = cc.token_validity_seconds(client.config)["refresh"]
    record = RefreshToken(
        pool_id=pool.id,
        token_hash=token_hash(token),
        origin_jti=new_uuid(entropy),
        client_id=client.id,
        sub=user.sub,
        auth_time=now if auth_time is None else auth_time,
        created=now,
        expires=now + timedelta(seconds=lifetime),
        generation=user.token_generation,
        device_key=device_key,
        scope=scope,
    )
    return token, record


def looks_like_jwt(token: str) -> bool:
    """A JWT (ID or access token) rather than one of our opaque refresh tokens."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4))
    except ValueError:
        return False
    return header.startswith(b"{")
