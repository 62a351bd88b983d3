"""The breadth-first search: `explore` checks its arguments and sets up the explorer,
`_search` expands each level, checking the invariants on every transition and
de-duplicating states by their digest, and a violation's shortest trace is replayed from
the set-up (`_replay`). Also the test-only `faults` hook and the progress reports."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from authflow.explore.devices import DEVICE_CONFIGURATION, SMS_CONFIGURATION
from authflow.explore.engine import Explorer, Node
from authflow.explore.flows import CUSTOM_FUNCTIONS, FUNCTION_ARN
from authflow.explore.passwordless import pool_request as passwordless_pool
from authflow.explore.results import Graph, Progress, Result, TraceStep
from authflow.explore.universe import (
    DEFAULT_FAMILY_USERS,
    DEFAULT_FLOWS,
    DEPTH,
    FLOWS,
    FLOWS_DEPTH,
    MAX_ALIASES,
    MAX_USERS,
    PASSWORDLESS_DEPTH,
    ROTATION_DEPTH,
    SELF_SERVICE_DEPTH,
)
from authflow.invariants import INVARIANTS, Records, Violation, check
from authflow.service.registry import OPERATIONS, load_all

#: What progress reports carry; `progress=True` prints them to stderr at most twice a second.
PROGRESS_INTERVAL = 0.5


@contextmanager
def _faults_installed(faults: Mapping[str, Callable[[Any], Any]] | None) -> Iterator[None]:
    load_all()
    saved: dict[str, Any] = {}
    try:
        for operation, wrap in (faults or {}).items():
            if operation not in OPERATIONS:
                raise ValueError(f"no operation {operation!r} to plant a fault in")
            saved[operation] = OPERATIONS[operation]
            OPERATIONS[operation] = wrap(saved[operation])
        yield
    finally:
        OPERATIONS.update(saved)


def _stderr_progress(report: Progress) -> None:
    print(
        f"explore: depth {report.depth + 1}/{report.max_depth}: {report.states:,} states, "
        f"{report.transitions:,} transitions, {report.frontier:,} states left at this depth "
        f"({report.elapsed:.0f} s)",
        file=sys.stderr, flush=True,
    )


def explore(
    *,
    users: int = 2,
    aliases: int = 1,
    depth: int | None = None,
    pool_config: Mapping[str, Any] | None = None,
    invariants: Iterable[str] | None = None,
    seed: int = 0,
    progress: bool | Callable[[Progress], None] = True,
    graph: bool = False,
    faults: Mapping[str, Callable[[Any], Any]] | None = None,
    self_service: bool = False,
    flows: Iterable[str] | None = None,
    family_users: int | None = None,
) -> Result:
    """Explore every sequence of at most `depth` requests from the alphabet, checking
    the selected `invariants` (all by default) after each one. `depth` defaults to
    `DEPTH`, `SELF_SERVICE_DEPTH` with `self_service`, `ROTATION_DEPTH` with `flows` rotation
    alone, `PASSWORDLESS_DEPTH` with passwordless alone, or `FLOWS_DEPTH` with other explicit `flows`.

    `pool_config` is a CreateUserPool request (PoolName optional); without it the pool
    has `AliasAttributes=["email"]` when `aliases` > 0. `progress=True` prints throttled
    progress to stderr; a callable receives `Progress` reports instead. `graph=True`
    keeps the state graph for `write_dot`. `faults` is the test-only hook described in
    the package docstring. `self_service=True` adds the self-service operations to the
    alphabet (see the package docstring); the default pool then also auto-verifies
    emails (`AutoVerifiedAttributes=["email"]`), so that SignUp sends a code.
    `flows` names the request families besides the admin alphabet (any of `FLOWS`: "srp",
    "custom", "devices", "groups", "totp"; see the package docstring); None, the default,
    is `DEFAULT_FLOWS` at `DEPTH` with `family_users` defaulting to `DEFAULT_FAMILY_USERS`
    (explicit flows: every user), or, with a `pool_config`, the admin alphabet alone (the
    pool as written); `()` is the admin alphabet alone. `family_users` is how
    many users (the first ones) the device, group and TOTP requests act for. With "custom"
    the pool's LambdaConfig names the explorer's
    functions; with "devices" the pool tracks devices (`DEVICE_CONFIGURATION` unless
    `pool_config` has a DeviceConfiguration; without `pool_config`, also SMS MFA a user
    may turn on) and the set-up creates every user CONFIRMED.
    """
    if not 1 <= users <= MAX_USERS:
        raise ValueError(f"users must be between 1 and {MAX_USERS}")
    if not 0 <= aliases <= MAX_ALIASES:
        raise ValueError(f"aliases must be between 0 and {MAX_ALIASES}")
    # The default run's families; a pool configuration of the caller's own is explored as
    # written (the families would add device tracking and TOTP to it) unless flows are named.
    default = flows is None and pool_config is None
    wanted = set(DEFAULT_FLOWS if default else flows or ())
    if wanted - set(FLOWS):
        raise ValueError(f"unknown flow(s) {', '.join(sorted(wanted - set(FLOWS)))}; known: {', '.join(FLOWS)}")
    chosen = tuple(f for f in FLOWS if f in wanted)
    if depth is None:
        depth = (SELF_SERVICE_DEPTH if self_service else ROTATION_DEPTH if chosen == ("rotation",)
                 else PASSWORDLESS_DEPTH if chosen == ("passwordless",)
                 else FLOWS_DEPTH if chosen and not default else DEPTH)
    if family_users is None:
        family_users = min(users, DEFAULT_FAMILY_USERS) if default else users
    if not 0 <= family_users <= users:
        raise ValueError(f"family_users must be between 0 and users ({users})")
    if depth < 0:
        raise ValueError("depth must be at least 0")
    names = tuple(INVARIANTS) if invariants is None else tuple(invariants)
    unknown = [n for n in names if n not in INVARIANTS]
    if unknown:
        raise ValueError(f"unknown invariant(s) {', '.join(unknown)}; known: {', '.join(INVARIANTS)}")
    request: dict[str, Any] = dict(pool_config or {})
    request.setdefault("PoolName", "explore")
    if pool_config is None and aliases:
        request["AliasAttributes"] = ["email"]
    if pool_config is None and self_service:
        request["AutoVerifiedAttributes"] = ["email"]
    if "devices" in chosen:
        request.setdefault("DeviceConfiguration", dict(DEVICE_CONFIGURATION))
        if pool_config is None:  # MFA where it is cheap: SMS MFA a user may turn on
            request.update(MfaConfiguration="OPTIONAL", SmsConfiguration=dict(SMS_CONFIGURATION))
    if "passwordless" in chosen:
        passwordless_pool(request, own_config=pool_config is not None or "devices" in chosen)
    totp_mode = "ON" if "totp" in chosen and request.pop("MfaConfiguration", None) == "ON" else "OPTIONAL"
    if "custom" in chosen:
        request["LambdaConfig"] = {
            **(request.get("LambdaConfig") or {}), **{name: FUNCTION_ARN.format(name) for name in CUSTOM_FUNCTIONS},
        }
    report = _stderr_progress if progress is True else (progress or None)
    started = time.monotonic()
    with _faults_installed(faults):
        explorer = Explorer(users, aliases, request, seed, self_service, chosen, totp_mode, family_users)
        return _search(explorer, depth, names, report, graph, started)


def _search(
    ex: Explorer, max_depth: int, names: tuple[str, ...], report: Callable[[Progress], None] | None,
    want_graph: bool, started: float,
) -> Result:
    root = ex.root
    root_records = Records.of(root.state)
    visited: dict[bytes, int] = {ex.digest(root_records, root.now, root.caller): 0}
    parents: list[tuple[int, int]] = [(-1, -1)]  # state index -> (parent index, action index)
    graph = Graph(labels=[ex.describe(root_records, root.now, root.caller)]) if want_graph else None
    frontier = [root]
    transitions = 0
    reached = 0
    last_report = started

    def result(violation: Violation | None = None, trace: list[TraceStep] | None = None, complete: bool = False) -> Result:
        return Result(
            states=len(parents), transitions=transitions, depth=reached, complete=complete, invariants=names,
            violation=violation, trace=trace, setup=ex.setup, universe=ex.universe, graph=graph,
            seconds=time.monotonic() - started,
        )

    for level in range(max_depth):
        reached = level + 1
        following: list[Node] = []
        for position, node in enumerate(frontier):
            records = Records.of(node.state)
            for a, action in enumerate(ex.alphabet):
                applied = ex.apply(node, action, records)
                if applied is None:
                    continue
                step, _, child = applied
                transitions += 1
                violations = check(step, names)
                if violations:
                    path = _path(parents, node.index) + [a]
                    return result(violations[0], _replay(ex, path))
                digest = ex.digest(step.after, child.now, child.caller)
                index = visited.get(digest)
                if index is None:
                    index = child.index = visited[digest] = len(parents)
                    parents.append((node.index, a))
                    following.append(child)
                    if graph is not None:
                        graph.labels.append(ex.describe(step.after, child.now, child.caller))
                if graph is not None and index != node.index:
                    graph.edges.add((node.index, index, action.label))
            if report is not None and position + 1 < len(frontier) and time.monotonic() - last_report >= PROGRESS_INTERVAL:
                last_report = time.monotonic()
                report(Progress(level, max_depth, len(parents), transitions, len(frontier) - position - 1,
                                last_report - started))
        if report is not None:
            last_report = time.monotonic()
            report(Progress(level, max_depth, len(parents), transitions, 0, last_report - started))
        frontier = following
        if not frontier:
            return result(complete=True)
    return result()


def _path(parents: list[tuple[int, int]], index: int) -> list[int]:
    actions: list[int] = []
    while index > 0:
        index, action = parents[index]
        actions.append(action)
    return actions[::-1]


def _replay(ex: Explorer, path: list[int]) -> list[TraceStep]:
    """The trace of `path` from the set-up state (every run of it gives the same responses)."""
    node, trace = ex.root, []
    for a in path:
        applied = ex.apply(node, ex.alphabet[a], Records.of(node.state))
        assert applied is not None, "a recorded path no longer replays"
        _, step, node = applied
        trace.append(step)
    return trace
