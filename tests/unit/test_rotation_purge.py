"""`purge_expired` collects the memory of rotated-out refresh tokens once their family has
expired, and not before (a remembered token must still be recognised as reused)."""

from __future__ import annotations

from datetime import timedelta

from authflow.core import refresh_rotation
from tests.unit.test_refresh_rotation import rotating


def rotation_records(w) -> int:
    with w.c.engine.store.transaction() as tx:
        return sum(len(tx.list_resources(w.pool, kind, after=None, limit=100))
                   for kind in (refresh_rotation.ROTATED, refresh_rotation.LINEAGE))


def test_rotation_memory_goes_when_the_family_expires():
    w = rotating(0, RefreshTokenValidity=1, TokenValidityUnits={"RefreshToken": "days"})
    token = w.sign_in()["RefreshToken"]
    for _ in range(3):
        token = w.refresh(token)["RefreshToken"]
    kept = rotation_records(w)
    assert kept >= 3
    assert w.c.purge_expired()["rotated_refresh_tokens"] == 0  # the family is alive
    assert rotation_records(w) == kept
    w.clock.advance(timedelta(days=1, seconds=1))
    assert w.c.purge_expired()["rotated_refresh_tokens"] == kept
    assert rotation_records(w) == 0
