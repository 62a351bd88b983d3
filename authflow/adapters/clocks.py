"""Clocks: the system clock, and a manual clock for tests and the model checker."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that moves only when told to: every run with it is repeatable."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a ManualClock only moves forward; use set() to go back")
        self._now = self._now + delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = _aware(when)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("ManualClock needs a timezone-aware datetime, e.g. datetime(..., tzinfo=timezone.utc)")
    return when.astimezone(timezone.utc)


class OffsetClock:
    """Wall-clock time plus an offset that only grows: time travel for a running service
    (`authflow serve --test-hooks`, the conformance runner's `--in-process` target), where
    a ManualClock would freeze every timestamp."""

    def __init__(self, base: SystemClock | None = None) -> None:
        self._base = base if base is not None else SystemClock()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return self._base.now() + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("an OffsetClock only moves forward")
        self._offset += delta
        return self.now()
