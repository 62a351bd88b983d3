"""Finding a refresh token's family and rotating it, for GetTokensFromRefreshToken and
the /oauth2/token refresh_token grant (the rules: `authflow.core.refresh_rotation`).

No operations here: the callers (`authflow.service.tokens`, `authflow.service.oauth`) read
and write inside their own transaction, so a rotation and the tokens it answers with are
committed together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from authflow.core import refresh_rotation as core
from authflow.core import tokens as core_tokens
from authflow.core.records import AppClient, RefreshToken
from authflow.service.engine import Engine


@dataclass(frozen=True, slots=True)
class Found:
    """The family a presented token belongs to; `replayed`: the token was rotated out and its
    grace period is over (the caller revokes the family and refuses)."""

    family: RefreshToken
    replayed: bool = False


def find_family(tx, pool_id: str, client: AppClient, token: str, now: datetime) -> Found | None:
    """The family of `token` for this client: its current token, or one rotated out of it
    that is still remembered. None: not a token of this client."""
    digest = core_tokens.token_hash(token)
    family = tx.get_refresh_token(digest)
    if family is not None:
        return Found(family) if family.pool_id == pool_id and family.client_id == client.id else None
    marker = tx.get_resource(pool_id, core.ROTATED, digest)
    if marker is None or marker.body.get("ClientId") != client.id:
        return None
    family = tx.get_refresh_token_by_origin(pool_id, marker.body["OriginJti"])
    if family is None or family.client_id != client.id:
        return None  # the family itself is gone (expired and purged)
    return Found(family, replayed=not core.within_grace(marker, now))


def revoke_family(engine: Engine, tx, family: RefreshToken) -> None:
    if not family.revoked:
        engine.write(tx, puts=(replace(family, revoked=True, version=family.version + 1),))


def rotate(engine: Engine, tx, client: AppClient, family: RefreshToken, now: datetime) -> tuple[str, RefreshToken]:
    """Give the family a new token (returned, with the family's new record); its current token
    stays usable for the client's RetryGracePeriodSeconds."""
    rotation = core.rotation_of(client.config)
    token, renewed = core.rotate(family, now=now, entropy=engine.entropy)
    tx.delete_refresh_token(family.token_hash)
    tx.put_refresh_token(renewed)
    tx.put_resource(core.rotated_out(family, grace_seconds=rotation.grace_seconds, now=now))
    lineage, forgotten = core.remembered(
        tx.get_resource(family.pool_id, core.LINEAGE, family.origin_jti), family, family.token_hash, now=now,
    )
    tx.put_resource(lineage)
    for digest in forgotten:
        if tx.get_resource(family.pool_id, core.ROTATED, digest) is not None:
            tx.delete_resource(family.pool_id, core.ROTATED, digest)
    return token, renewed
