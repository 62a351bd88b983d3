"""An entry of the alphabet, `Action` (a label, and a builder that makes the request from
what the caller holds, or None where it holds nothing to make it from), and the builders
every part of the alphabet uses: a constant request, a request with a user's tokens, and
the clock jump (`ADVANCE`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authflow.explore.caller import Caller, Tokens

ADVANCE = "advance_clock"


@dataclass(frozen=True, slots=True)
class Action:
    """One entry of the alphabet: a request, or None where the caller lacks what it needs."""

    label: str
    build: Callable[[Caller], tuple[str, dict[str, Any]] | None]


def const(method: str, request: dict[str, Any]) -> Callable[[Caller], tuple[str, dict[str, Any]]]:
    return lambda caller: (method, request)


def with_tokens(i: int, make: Callable[[Tokens], tuple[str, dict]]) -> Callable[[Caller], tuple[str, dict] | None]:
    return lambda caller: make(caller.tokens[i]) if caller.tokens[i] is not None else None
