"""Running scenarios against a target, one step at a time.

A scenario stops at its first divergence: later steps build on earlier ones, so what
follows a divergence says nothing more. Each scenario starts with the variables `run`
(this run's id), `scenario` (its name) and `unique` (both, for names that must not
collide across runs); every pool a scenario creates is deleted when it ends, passed or
not (its domain first, if a failed scenario left one: a pool with a domain cannot be
deleted), so a run leaves an endpoint as it found it.

The endpoint steps (`discovery`, `oauth_token`, `userinfo`, `revoke`, `authorize`,
`browser_sign_in`; `authflow.conformance.endpoints`) are judged as calls are: first the
HTTP status (`status:`, 200 or 302 by default), then `headers:`, then `expect:` over the
JSON body or the redirect, then `capture:`. A sign-in page a browser could not use (no
form, no CSRF token) is a divergence of the target like any other.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authflow.conformance.browser import BrowserProblem
from authflow.conformance.endpoints import DEFAULT_STATUS, EndpointProblem, Endpoints
from authflow.conformance.matching import check, mismatches
from authflow.conformance.scenarios import (
    ENDPOINT_STEPS,
    Scenario,
    ScenarioError,
    Step,
    Suite,
    duration_seconds,
)
from authflow.conformance.targets import Outcome, Target
from authflow.conformance.values import NOW, UnboundVariable, render, walk

PASSED, FAILED, SKIPPED, BROKEN = "passed", "failed", "skipped", "broken"


@dataclass
class Result:
    scenario: Scenario
    status: str  # PASSED, FAILED (the target diverged), SKIPPED, BROKEN (the scenario is wrong)
    step: str = ""  # where it stopped: "3 AdminCreateUser"
    problems: list[str] = field(default_factory=list)
    expected: str = ""
    actual: str = ""
    reason: str = ""  # why it was skipped or broken
    seconds: float = 0.0


class Divergence(Exception):
    def __init__(self, problems: list[str], expected: str, actual: str) -> None:
        super().__init__("; ".join(problems))
        self.problems, self.expected, self.actual = problems, expected, actual


@dataclass
class _Run:
    target: Target
    variables: dict[str, Any]
    pools: list[str] = field(default_factory=list)
    consumed: dict[tuple[str, str], int] = field(default_factory=dict)
    endpoints: Endpoints | None = None


def run_suite(suite: Suite, scenarios: list[Scenario], target: Target,
              progress: Callable[[Result, int, int], None] | None = None,
              variables: dict[str, Any] | None = None) -> list[Result]:
    """Run the scenarios in order; `variables` override the suite's defaults."""
    run_id = secrets.token_hex(3)
    results = []
    for number, scenario in enumerate(scenarios, 1):
        result = run_scenario(suite, scenario, target, run_id, variables)
        results.append(result)
        if progress is not None:
            progress(result, number, len(scenarios))
    return results


def run_scenario(suite: Suite, scenario: Scenario, target: Target, run_id: str,
                 variables: dict[str, Any] | None = None) -> Result:
    missing = sorted(suite.needs(scenario) - target.hooks)
    if missing:
        return Result(scenario, SKIPPED, reason=f"needs the {' and '.join(missing)} hook(s), "
                                                f"which this target does not offer")
    run = _Run(target, {**suite.variables, **(variables or {}),
                        "run": run_id, "scenario": scenario.name, "unique": f"{scenario.name}-{run_id}"})
    started = time.perf_counter()
    where = ""
    try:
        for where, step in _steps(suite, scenario.steps, run, ""):  # noqa: B007 -- `where` is read below
            _execute(step, run)
        result = Result(scenario, PASSED)
    except Divergence as div:
        result = Result(scenario, FAILED, step=where, problems=div.problems, expected=div.expected, actual=div.actual)
    except (UnboundVariable, ScenarioError) as err:
        result = Result(scenario, BROKEN, step=where, reason=str(err))
    except Exception as err:  # a hook or the network failed: a divergence of the target
        result = Result(scenario, FAILED, step=where, problems=[f"{type(err).__name__}: {err}"],
                        actual=f"{type(err).__name__}: {err}")
    finally:
        for pool in run.pools:
            _delete_pool(target, pool)
    result.seconds = time.perf_counter() - started
    return result


def _delete_pool(target: Target, pool: str) -> None:
    """Best effort: the pool, and first its domains if they keep it from going."""
    try:
        if target.call("DeleteUserPool", {"UserPoolId": pool}).response is not None:
            return
        described = target.call("DescribeUserPool", {"UserPoolId": pool}).response or {}
        for key in ("Domain", "CustomDomain"):
            domain = (described.get("UserPool") or {}).get(key)
            if domain:
                target.call("DeleteUserPoolDomain", {"UserPoolId": pool, "Domain": domain})
        target.call("DeleteUserPool", {"UserPoolId": pool})
    except Exception:  # noqa: BLE001 -- cleaning up is best effort
        pass


def _steps(suite: Suite, steps: tuple[Step, ...], run: _Run, prefix: str) -> Iterator[tuple[str, Step]]:
    """The steps in order, each `use` expanded after setting its fixture's variables."""
    for number, step in enumerate(steps, 1):
        where = f"{prefix}{number}"
        if step.kind != "use":
            yield f"{where} {step.label}", step
            continue
        fixture = suite.fixtures[step.body["use"]]
        given = step.body.get("with") or {}
        for name, default in fixture.params.items():
            run.variables[name] = render(given[name] if name in given else default, run.variables)
        yield from _steps(suite, fixture.steps, run, f"{where} ({fixture.name}) ")


def _execute(step: Step, run: _Run) -> None:
    if step.kind == "call":
        _call(step.body, run)
    elif step.kind == "deliver":
        _deliver(step.body, run)
    elif step.kind == "clock":
        run.target.advance(duration_seconds(step.body["clock"]["advance"]))
    elif step.kind == "upload":
        _upload(step.body, run)
    elif step.kind in ENDPOINT_STEPS:
        _endpoint(step, run)


def _endpoint(step: Step, run: _Run) -> None:
    body = step.body
    if run.endpoints is None:
        run.endpoints = Endpoints(run.target)
    try:
        exchange = run.endpoints.perform(step.kind, render(body[step.kind], run.variables))
    except (BrowserProblem, EndpointProblem) as problem:
        raise Divergence([problem.problem], f"{step.kind} as a client does it", problem.seen) from None
    status = render(body.get("status", DEFAULT_STATUS[step.kind]), run.variables)
    expect = body.get("expect") or {}
    problems = [] if exchange.status == status else [f"status: expected {status}, got {exchange.status}"]
    problems.extend(f"header {p}" for p in mismatches(exchange.headers, {str(k).lower(): v for k, v in
                                                                         (body.get("headers") or {}).items()},
                                                      run.variables))
    if exchange.view is None and (expect or body.get("capture")):
        problems.append("the body is not a JSON object")
    elif exchange.view is not None:
        problems.extend(mismatches(exchange.view, expect, run.variables))
    if problems:
        wanted = {"status": status, **({"headers": body["headers"]} if body.get("headers") else {}), **expect}
        raise Divergence(problems, _show(wanted), exchange.shown)
    _expect({"capture": body.get("capture")}, exchange.view or {}, run)


def _call(body: dict[str, Any], run: _Run) -> None:
    operation = body["call"]
    run.variables[NOW] = run.target.now()
    request = render(body.get("request") or {}, run.variables)
    outcome = run.target.call(operation, request)
    if "until" in body:
        outcome = _until(body, operation, request, outcome, run)
    if outcome.response is not None and operation == "CreateUserPool":
        found, pool_id = walk(outcome.response, ["UserPool", "Id"])
        if found:
            run.pools.append(pool_id)
    if "error" in body:
        _expect_error(body["error"], outcome, run)
        return
    if outcome.response is None:
        raise Divergence([f"expected success, got {outcome.error_code}: {outcome.error_message}"],
                         expected="success", actual=_show_outcome(outcome))
    _expect(body, outcome.response, run)


def _until(body: dict[str, Any], operation: str, request: dict[str, Any], outcome: Outcome, run: _Run) -> Outcome:
    """Call again until the response matches `until:` (background work), for at most `within:`."""
    deadline = time.monotonic() + duration_seconds(body.get("within", "60s"))
    while True:
        if outcome.response is not None and not mismatches(outcome.response, body["until"], run.variables):
            return outcome
        if time.monotonic() >= deadline:
            if outcome.response is None:
                return outcome
            raise Divergence([f"until: {p}" for p in mismatches(outcome.response, body["until"], run.variables)],
                             _show(body["until"]), _show(outcome.response))
        time.sleep(0.2)
        outcome = run.target.call(operation, request)


def _upload(body: dict[str, Any], run: _Run) -> None:
    spec = render(body["upload"], run.variables)
    headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
    answer = run.target.web("PUT", str(spec["url"]), headers, str(spec["body"]).encode("utf-8"))
    status = render(body.get("status", 200), run.variables)
    if answer.status != status:
        raise Divergence([f"status: expected {status}, got {answer.status}"], f"HTTP {status}",
                         f"HTTP {answer.status}: {answer.body[:300].decode('utf-8', 'replace')}")


def _expect_error(wanted: dict[str, Any], outcome: Outcome, run: _Run) -> None:
    code = render(wanted["code"], run.variables)
    expected = f"{code}: {_show(wanted.get('message', '(any message)'))}"
    if outcome.response is not None:
        raise Divergence([f"expected {code}, got success"], expected, _show_outcome(outcome))
    problems = []
    if outcome.error_code != code:
        problems.append(f"expected {code}, got {outcome.error_code}")
    if "message" in wanted:
        problems.extend(f"message: {p}" for p in check(outcome.error_message, wanted["message"], run.variables))
    if problems:
        raise Divergence(problems, expected, _show_outcome(outcome))


def _expect(body: dict[str, Any], response: dict[str, Any], run: _Run) -> None:
    problems = mismatches(response, body.get("expect") or {}, run.variables)
    if problems:
        raise Divergence(problems, _show(body.get("expect")), _show(response))
    for name, path in (body.get("capture") or {}).items():
        found, value = walk(response, str(path).split("."))
        if not found:
            raise Divergence([f"capture {name}: {path} is absent"], f"{path} present", _show(response))
        run.variables[name] = value


def _deliver(body: dict[str, Any], run: _Run) -> None:
    spec = render(body["deliver"], run.variables)
    pool_id = spec.get("pool") or run.variables.get("pool_id")
    if not pool_id:
        raise ScenarioError("deliver needs the pool: capture pool_id first, or give pool:")
    username = str(spec["username"])
    messages = run.target.messages(pool_id, username)
    key = (pool_id, username)
    fresh = messages[run.consumed.get(key, 0):]
    run.consumed[key] = len(messages)
    if spec.get("none"):
        if fresh:
            raise Divergence([f"expected no message to {username}, got {len(fresh)}"], "no message",
                             _show([{k: m.get(k) for k in ("Kind", "Medium", "Destination")} for m in fresh]))
        return
    if not fresh:
        raise Divergence([f"expected a message to {username}, none was sent"], "a message", "none")
    _expect(body, fresh[-1], run)


def _show_outcome(outcome: Outcome) -> str:
    if outcome.response is None:
        return f"{outcome.error_code}: {outcome.error_message!r}"
    return _show(outcome.response)


def _show(value: Any) -> str:
    text = json.dumps(value, default=_json_default, sort_keys=True)
    return text if len(text) <= 600 else text[:597] + "..."


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)
