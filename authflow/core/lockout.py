"""Cognito's lockout schedule for failed sign-ins, as pure functions.

Theory of operation: Cognito lets five failures through, then locks the user for
2^(n-5) seconds after the n-th failure, capped at 15 minutes. Attempts made while
locked are refused with "Password attempts exceeded" (even with the right
password) and are not counted. The counter resets after a successful sign-in, or
after 15 consecutive minutes without any attempt.

The engine counts a failure *before* it checks the password (`begin_attempt`) and
takes it back when the password turns out right (the service deletes the record).
Checking is slow (Argon2id) and happens outside the write transaction, so
counting afterwards would let a burst of parallel guesses all be checked before
any of them was counted; counting first means no more guesses are evaluated than
the schedule allows, and a crash in between errs on the locked side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from authflow.core.records import FailedSignIns

FREE_FAILURES = 5
MAX_LOCK = timedelta(seconds=900)
IDLE_RESET = timedelta(minutes=15)
LOCKED_MESSAGE = "Password attempts exceeded"


def lock_duration(failures: int) -> timedelta:
    """How long the user is locked after the `failures`-th failure."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - FREE_FAILURES, 20)), MAX_LOCK)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What to store for one attempt, and whether it may go on."""

    record: FailedSignIns
    refused: bool  # locked: answer LOCKED_MESSAGE and evaluate nothing


def live(record: FailedSignIns | None, now: datetime) -> FailedSignIns | None:
    """The record as it stands at `now`: gone after 15 idle minutes."""
    if record is None or now - record.last_attempt >= IDLE_RESET:
        return None
    return record


def begin_attempt(record: FailedSignIns | None, *, pool_id: str, key: str, now: datetime) -> Attempt:
    """One sign-in attempt starts: refused while locked, otherwise counted as a
    failure until proven right."""
    stored = record
    record = live(record, now)
    if record is not None and record.locked_until is not None and now < record.locked_until:
        # Refused attempts are not counted, but they are attempts: the idle clock restarts.
        return Attempt(replace(record, last_attempt=now, version=record.version + 1), refused=True)
    count = (record.count if record is not None else 0) + 1
    duration = lock_duration(count)
    new = FailedSignIns(
        pool_id=pool_id,
        key=key,
        count=count,
        locked_until=now + duration if duration else None,
        last_attempt=now,
        version=stored.version + 1 if stored is not None else 1,
    )
    return Attempt(new, refused=False)
