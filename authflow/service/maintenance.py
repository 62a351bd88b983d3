"""Housekeeping: removing records that can no longer matter.

Sessions are kept for `SESSION_GRACE` after they expire, so that a late answer
still gets "session is expired" rather than "Invalid session"; refresh tokens go
when they expire (a revoked one is refused as long as it exists, and refused as
unknown afterwards); lockout counters go once 15 idle minutes have reset them;
devices issued as NewDeviceMetadata and never confirmed go when the refresh token
they came with has expired (nothing could use them any more); the memory of rotated-out
refresh tokens (`core.refresh_rotation`) goes when its family would have expired.
A server runs `purge_expired` periodically; it is safe to run at any time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from authflow.core import refresh_rotation as rotation
from authflow.core.lockout import IDLE_RESET
from authflow.service.engine import Engine

SESSION_GRACE = timedelta(hours=1)


def purge_expired(engine: Engine, *, limit: int = 10_000) -> dict[str, int]:
    now = engine.now()
    with engine.store.transaction() as tx:
        purged = tx.purge_expired(
            sessions_before=now - SESSION_GRACE,
            refresh_tokens_before=now,
            failures_before=now - IDLE_RESET,
            limit=limit,
            devices_before=now,
        )
    purged["rotated_refresh_tokens"] = _purge_rotation_memory(engine, now, limit=limit)
    return purged


def _purge_rotation_memory(engine: Engine, now: datetime, *, limit: int) -> int:
    """Rotation records whose family has expired: nothing they name can be presented any
    more. They are pool resources (no column to index on), so this walks each pool's,
    one transaction per pool, at most `limit` in all."""
    removed, after = 0, None
    while removed < limit:
        with engine.store.transaction() as tx:
            pools = tx.list_pools(after=after, limit=100)
        if not pools:
            return removed
        after = pools[-1].id
        for pool in pools:
            with engine.store.transaction() as tx:
                for kind in (rotation.ROTATED, rotation.LINEAGE):
                    position = None
                    while removed < limit:
                        records = tx.list_resources(pool.id, kind, after=position, limit=500)
                        if not records:
                            break
                        position = records[-1].name
                        for record in records:
                            if removed < limit and datetime.fromisoformat(record.body["Expires"]) <= now:
                                tx.delete_resource(pool.id, kind, record.name)
                                removed += 1
    return removed
