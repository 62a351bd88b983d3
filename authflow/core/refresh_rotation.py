"""Refresh-token rotation (RefreshTokenRotation, GetTokensFromRefreshToken) as pure decisions.

Theory of operation: a refresh-token family is one `RefreshToken` record, found by the
hash of its current token and by its `origin_jti` (which its access and ID tokens carry).
Rotating the family gives it a new token: the record is replaced by one with the new hash
and everything else kept (the same `origin_jti`, so tokens minted earlier in the family
stay tied to it and RevokeToken of any of them revokes all; the same absolute expiry, so
rotation never extends a sign-in past the client's RefreshTokenValidity). The token rotated
out is remembered by a `PoolResource` of kind `ROTATED`, named by its hash, saying which
family it belonged to and until when it may still be used (RetryGracePeriodSeconds after
the rotation; 0: not at all). Presented within that time it refreshes again (a client
retrying a request whose answer it lost); after it, the token was replayed: Cognito answers
RefreshTokenReuseException [API reference], and authflow also revokes the family, since a
replay after rotation means two holders of one sign-in [ASVS 5.0 10.4.5; our decision].

A family remembers at most `MAX_REMEMBERED` rotated-out tokens (a `LINEAGE` resource named
by its `origin_jti` lists their hashes); older ones are forgotten and then answer as unknown
tokens ("Invalid Refresh Token"), which bounds what one sign-in can leave in the store.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from authflow.core.policy import EntropySource
from authflow.core.records import PoolResource, RefreshToken
from authflow.core.tokens import REFRESH_TOKEN_BYTES, token_hash

#: PoolResource kinds: a token rotated out of its family; a family's rotated-out tokens.
ROTATED = "rotated_refresh_token"
LINEAGE = "refresh_lineage"
MAX_REMEMBERED = 16

REUSED = "Refresh Token has been rotated and can no longer be used"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rotation:
    enabled: bool
    grace_seconds: int


def rotation_of(config: Mapping[str, Any]) -> Rotation:
    """An app client's RefreshTokenRotation (absent: DISABLED; no RetryGracePeriodSeconds: 0)."""
    given = config.get("RefreshTokenRotation") or {}
    return Rotation(enabled=given.get("Feature") == "ENABLED", grace_seconds=int(given.get("RetryGracePeriodSeconds") or 0))


def rotate(family: RefreshToken, *, now: datetime, entropy: EntropySource) -> tuple[str, RefreshToken]:
    """A new token for the family and the record that replaces the family's (a new row: the
    store's key is the hash)."""
    token = base64.urlsafe_b64encode(entropy.random_bytes(REFRESH_TOKEN_BYTES)).decode().rstrip("=")
    return token, replace(family, token_hash=token_hash(token), created=now, version=1)


def rotated_out(family: RefreshToken, *, grace_seconds: int, now: datetime) -> PoolResource:
    """What remembers the family's current token once it is rotated out."""
    return PoolResource(
        pool_id=family.pool_id, kind=ROTATED, name=family.token_hash,
        body={"OriginJti": family.origin_jti, "ClientId": family.client_id,
              "RotatedAt": now.isoformat(), "UsableUntil": (now + timedelta(seconds=grace_seconds)).isoformat(),
              # when the family ends, and with it any use of this record (for a purge to go by)
              "Expires": family.expires.isoformat()},
        created=now, modified=now,
    )


def within_grace(marker: PoolResource, now: datetime) -> bool:
    """Whether a rotated-out token may still be used (strictly before its grace ends)."""
    return now < datetime.fromisoformat(marker.body["UsableUntil"])


def remembered(
    lineage: PoolResource | None, family: RefreshToken, rotated_hash: str, *, now: datetime
) -> tuple[PoolResource, tuple[str, ...]]:
    """The family's lineage with `rotated_hash` added, and the hashes it forgets (their
    markers are to be deleted)."""
    hashes = [*(lineage.body.get("Rotated") or () if lineage is not None else ()), rotated_hash]
    forgotten = tuple(hashes[:-MAX_REMEMBERED]) if len(hashes) > MAX_REMEMBERED else ()
    kept = hashes[-MAX_REMEMBERED:]
    if lineage is None:
        record = PoolResource(pool_id=family.pool_id, kind=LINEAGE, name=family.origin_jti,
                              body={"Rotated": kept, "Expires": family.expires.isoformat()}, created=now, modified=now)
    else:
        record = replace(lineage, body={**lineage.body, "Rotated": kept}, modified=now, version=lineage.version + 1)
    return record, forgotten
