"""Verifying authflow's (and Cognito's) ID and access tokens.

`verify` is what a resource server embedding authflow calls: it checks what
aws-jwt-verify checks (signature with RS256 only, a kid from the given JWKS, `exp`,
`iss`, `token_use`, and `aud` for ID tokens / `client_id` for access tokens) and,
when given the engine, revocation as Cognito's own APIs enforce it (a JWT alone
cannot say it was revoked). Refusals raise `NotAuthorizedException` with Cognito's
messages.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from authflow.crypto.signing import TokenRejected, decode
from authflow.errors import NotAuthorizedException

_NAMES = {"id": "ID Token", "access": "Access Token"}


def verify(
    token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str | Collection[str] | None,
    token_use: str,
    now: datetime,
    leeway: int = 0,
    engine: Any = None,
) -> dict[str, Any]:
    """The token's claims, or `NotAuthorizedException`.

    `engine` is an `authflow.Client` (or its `.engine`): with it, a token whose
    refresh-token family was revoked or whose user signed out globally is refused.
    """
    if token_use not in _NAMES:
        raise ValueError("token_use must be 'id' or 'access'")
    name = _NAMES[token_use]
    try:
        claims = decode(token, jwks, issuer=issuer, token_use=token_use, client_id=client_id, now=now, leeway=leeway)
    except TokenRejected as err:
        raise NotAuthorizedException(f"{name} has expired" if err.reason == "expired" else f"Invalid {name}") from None
    if engine is not None:
        from authflow.service.tokens import revoked

        engine = getattr(engine, "engine", engine)
        pool_id = issuer.rsplit("/", 1)[-1]
        with engine.store.transaction() as tx:
            user = tx.get_user_by_sub(pool_id, str(claims.get("sub")))
            if user is None or revoked(tx, user, claims):
                raise NotAuthorizedException(f"{name} has been revoked")
    return claims
