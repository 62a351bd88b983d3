"""Each pool's signing keys: creation with the pool, rotation, and the published JWKS.

Theory of operation: a pool has one current RSA-2048 key per token use ("id" and
"access", as on Cognito, whose ID and access tokens carry different kids). Rotation
retires the current pair and makes a new one; a retired key stays in the JWKS for
`RETIRED_KEY_LIFETIME`, the longest an ID or access token can live, so that every
token it signed still verifies, and is deleted at the next rotation after that.
Key generation is slow (and uses the OS's randomness, as `cryptography` does), so
it happens before the write transaction opens.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from authflow.core.records import SigningKey
from authflow.crypto.keys import new_kid, public_jwk
from authflow.service.engine import Engine

USES = ("id", "access")
#: The longest lifetime of an ID or access token (one day).
RETIRED_KEY_LIFETIME = timedelta(days=1)


def new_keys(engine: Engine, pool_id: str, now: datetime) -> list[SigningKey]:
    keys = []
    for use in USES:
        der = engine.config.signing_keys()
        kid = new_kid(engine.entropy.random_bytes(32))
        # Sealed by kid alone (kids are random and unique), so a pool id chosen again
        # after a collision does not invalidate the blob.
        keys.append(SigningKey(
            pool_id=pool_id, kid=kid, use=use, private_key=engine.seal(der, f"signing-key:{kid}"),
            public_jwk=public_jwk(der, kid), created=now,
        ))
    return keys


def current_keys(engine: Engine, tx, pool_id: str, now: datetime) -> dict[str, SigningKey]:
    """The key that signs each token use. A pool stored without keys gets them now."""
    current = {k.use: k for k in tx.list_signing_keys(pool_id) if k.retired is None}
    if len(current) < len(USES):
        for key in new_keys(engine, pool_id, now):
            if key.use not in current:
                tx.put_signing_key(key)
                current[key.use] = key
    return current


def published(keys: list[SigningKey], now: datetime) -> list[SigningKey]:
    return [k for k in keys if k.retired is None or now < k.retired + RETIRED_KEY_LIFETIME]


def jwks(tx, pool_id: str, now: datetime) -> dict[str, list[dict[str, str]]]:
    """The pool's JWKS: public members only, current keys first."""
    keys = published(tx.list_signing_keys(pool_id), now)
    keys.sort(key=lambda k: (k.retired is not None, -(k.retired or k.created).timestamp(), k.use))
    return {"keys": [dict(k.public_jwk) for k in keys]}


def rotate(engine: Engine, pool_id: str) -> dict[str, list[dict[str, str]]]:
    now = engine.now()
    fresh = new_keys(engine, pool_id, now)
    with engine.store.transaction() as tx:
        engine.require_pool(tx, pool_id)
        for key in tx.list_signing_keys(pool_id):
            if key.retired is None:
                tx.put_signing_key(replace(key, retired=now, version=key.version + 1))
            elif now >= key.retired + RETIRED_KEY_LIFETIME:
                tx.delete_signing_key(pool_id, key.kid)
        for key in fresh:
            tx.put_signing_key(key)
        return jwks(tx, pool_id, now)
