"""Housekeeping: removing records that can no longer matter.

Sessions are kept for `SESSION_GRACE` after they expire, so that a late answer
still gets "session is expired" rather than "Invalid session"; refresh tokens go
when they expire (a revoked one is refused as long as it exists, and refused as
unknown afterwards); lockout counters go once 15 idle minutes have reset them;
devices issued as NewDeviceMetadata and never confirmed go when the refresh token
they came with has expired (nothing could use them any more).
A server runs `purge_expired` periodically; it is safe to run at any time.
"""

from __future__ import annotations

from datetime import timedelta

from authflow.core.lockout import IDLE_RESET
from authflow.service.engine import Engine

SESSION_GRACE = timedelta(hours=1)


def purge_expired(engine: Engine, *, limit: int = 10_000) -> dict[str, int]:
    now = engine.now()
    with engine.store.transaction() as tx:
        return tx.purge_expired(
            sessions_before=now - SESSION_GRACE,
            refresh_tokens_before=now,
            failures_before=now - IDLE_RESET,
            limit=limit,
            devices_before=now,
        )
