"""What `explore` returns and reports: `Result` (the counts, the depth reached, and a
violated invariant with its shortest trace), `TraceStep` (one call of a trace, secrets cut
short), the `Progress` reports and the state `Graph`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authflow.explore.universe import Universe
from authflow.invariants import Violation

_SECRET_KEYS = frozenset({
    "AccessToken", "IdToken", "RefreshToken", "Session", "Token", "REFRESH_TOKEN",
    "SRP_A", "SRP_B", "SALT", "SECRET_BLOCK", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE",
    "PasswordVerifier", "Salt",
})
#: Request members every call of a trace carries (shown once, in the set-up).
_IMPLIED = ("UserPoolId", "ClientId")


def _abbreviate(value: Any, key: str = "") -> Any:
    """A response or request for the report: secrets cut short (their first characters
    still tell one from another), dates as ISO text."""
    if isinstance(value, Mapping):
        return {k: _abbreviate(v, k) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [_abbreviate(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and key in _SECRET_KEYS and len(value) > 16:
        return value[:10] + "…"
    return value


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One API call of a trace and what it returned (`response`) or raised (`error`)."""

    label: str  # the alphabet entry
    operation: str  # Cognito's operation name, or AdvanceClock
    request: Mapping[str, Any]
    response: Mapping[str, Any] | None
    error: str | None  # "Code: message"

    @property
    def call(self) -> str:
        if self.operation == "AdvanceClock":
            return f"AdvanceClock(+{self.request['seconds']} s)"
        request = self.request
        if self.label != "set-up":
            request = {k: v for k, v in request.items() if k not in _IMPLIED}
        return f"{self.operation} {json.dumps(_abbreviate(request), ensure_ascii=False, default=str)}"

    @property
    def outcome(self) -> str:
        if self.error is not None:
            return self.error
        return json.dumps(_abbreviate(self.response or {}), ensure_ascii=False, default=str)

    def __iter__(self) -> Iterator[str]:  # a trace step unpacks as (API call, response/error)
        return iter((self.call, self.outcome))

    def __str__(self) -> str:
        return f"{self.call}\n   -> {self.outcome}"


@dataclass(frozen=True, slots=True)
class Progress:
    depth: int  # the level being expanded
    max_depth: int
    states: int
    transitions: int
    frontier: int
    elapsed: float


@dataclass(slots=True)
class Graph:
    """The explored state graph: `labels[i]` describes state i; edges are (from, to, action)."""

    labels: list[str] = field(default_factory=list)
    edges: set[tuple[int, int, str]] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Result:
    """What `explore` found: distinct states and transitions, the depth reached, and either
    no violation or the violated invariant with a shortest trace that breaks it."""

    states: int
    transitions: int
    depth: int  # the longest request sequence examined
    complete: bool  # the last level found no new state: every reachable state was explored
    invariants: tuple[str, ...]
    violation: Violation | None
    trace: list[TraceStep] | None
    setup: tuple[TraceStep, ...]
    universe: Universe
    graph: Graph | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.violation is None

    def report(self) -> str:
        """The text `authflow explore` prints."""
        bound = "every reachable state explored" if self.complete else f"bounded at depth {self.depth}"
        lines = [
            f"explored {self.states:,} distinct states and {self.transitions:,} transitions "
            f"to depth {self.depth} ({bound}) in {self.seconds:.1f} s, checking {len(self.invariants)} "
            f"invariant{'' if len(self.invariants) == 1 else 's'}",
        ]
        if self.violation is None:
            lines.append("no invariant violated")
            return "\n".join(lines)
        lines.append(f"invariant violated: {self.violation.invariant}: {self.violation.message}")
        lines.append(f"shortest trace ({len(self.trace or ())} calls after the set-up):")
        for i, step in enumerate(self.setup):
            lines.append(f"  set-up {i + 1}. {step.call}\n     -> {step.outcome}")
        for i, step in enumerate(self.trace or (), 1):
            lines.append(f"  {i}. {step.call}\n     -> {step.outcome}")
        return "\n".join(lines)
