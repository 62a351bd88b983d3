"""Checking a live client: `Checker` runs calls through an `authflow.Client` over a
MemoryStore, checks the selected invariants on every step and keeps the caller's `History`;
`InvariantViolated` is what it raises when a step breaks one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from authflow.errors import CognitoError
from authflow.invariants.bookkeeping import observe
from authflow.invariants.records import Records
from authflow.invariants.registry import INVARIANTS, Violation, check
from authflow.invariants.step import History, Step


class InvariantViolated(AssertionError):
    """Raised by `Checker` when a step breaks an invariant."""

    def __init__(self, violations: list[Violation], step: Step) -> None:
        super().__init__("; ".join(map(str, violations)))
        self.violations = violations
        self.step = step


class Checker:
    """Runs calls through an `authflow.Client` over a MemoryStore and checks the
    selected invariants on every step; raises `InvariantViolated` when one breaks.
    The client's messenger, when it keeps `.messages` (a MemoryOutbox), tells the
    invariants which codes went out.

        checker = Checker(client)
        checker.call("admin_create_user", UserPoolId=pool, Username="alice")
        checker.advance(clock, timedelta(days=8))
    """

    def __init__(self, client: Any, names: Iterable[str] | None = None) -> None:
        from authflow.client import method_name
        from authflow.service.registry import load_all

        self.client = client
        self.names = list(INVARIANTS) if names is None else list(names)
        self.history = History()
        self.steps = 0
        self._operations = {method_name(op): op for op in load_all()}

    def _now(self) -> datetime:
        return self.client.engine.now()

    def call(self, method: str, **request: Any) -> dict[str, Any]:
        """`client.<method>(**request)`, checked; re-raises the call's CognitoError."""
        before = Records.of(self.client.store)
        now = self._now()
        outbox = getattr(getattr(self.client, "messenger", None), "messages", None)
        sent = len(outbox) if outbox is not None else 0
        response, error = None, None
        try:
            response = getattr(self.client, method)(**request)
        except CognitoError as err:
            error = err
        step = Step(
            operation=self._operations[method], request=request, response=response, error=error,
            before=before, after=Records.of(self.client.store), now=now, history=self.history,
            messages=tuple(outbox[sent:]) if outbox is not None else (),
        )
        self._check(step)
        if error is not None:
            raise error
        return response  # type: ignore[return-value]

    def signed(self, signature: str, password: str) -> None:
        """Tell the invariants, before sending it, which password the SRP claim
        `signature` was signed with (`History.srp_claims`)."""
        self.history = self.history.signed(signature, password)

    def advance(self, clock: Any, delta: timedelta) -> None:
        """Move a ManualClock forward and check the state at the new time."""
        clock.advance(delta)
        records = Records.of(self.client.store)
        self._check(Step(
            operation="AdvanceClock", request={"seconds": delta.total_seconds()}, response={}, error=None,
            before=records, after=records, now=self._now(), history=self.history,
        ))

    def _check(self, step: Step) -> None:
        self.steps += 1
        violations = check(step, self.names)
        self.history = observe(self.history, step)
        if violations:
            raise InvariantViolated(violations, step)
