"""The conformance scenarios: `specs/scenarios/*.yaml`, loaded and checked.

Each file is one *area* (its `area:` name, e.g. `sign-in-errors`) holding a list of
scenarios; `specs/scenarios/_fixtures.yaml` holds the step sequences scenarios reuse
(`use: pool`). A scenario is a named sequence of steps, each one of:

- `call: Operation` with `request:`, then either `expect:` (response members by dotted
  path, each an exact value or a matcher, `authflow.conformance.matching`) or `error:`
  (`code:` and `message:`), and `capture:` (variable name -> response path); `until:` (members
  as in `expect:`) repeats the call until they match, for at most `within:` (a duration, 60s
  unless given), for work the service finishes in the background (a user import job);
- `deliver: {username: NAME}` — the newest message the service sent that user, through
  the target's out-of-band outbox hook; its members are `Kind`, `Medium`, `Destination`,
  `Subject`, `Body`, `Code`; `none: true` asserts that nothing new was sent;
- `clock: {advance: 8d}` — time travel (`s`, `m`, `h`, `d`), on targets that can;
- `upload: {url: URL, body: TEXT, headers: {...}}` — an HTTP PUT of TEXT to URL as a client
  sends it, unsigned (a user import job's PreSignedUrl); `status:` the HTTP status wanted
  (200 unless given);
- `use: FIXTURE` with `with:` — the fixture's steps with these variables set;
- the endpoint steps, which reach a pool's OAuth 2.0 endpoints as a client does, found
  through its discovery document and needing no hook (`authflow.conformance.endpoints`):
  `discovery: {pool: P}` (the document itself); `oauth_token: {pool: P, form: {...},
  basic: [CLIENT_ID, SECRET]}` (POST /oauth2/token, HTTP Basic when `basic` is given);
  `userinfo: {pool: P, token: ACCESS_TOKEN, method: GET|POST}`; `revoke: {pool: P,
  form: {...}, basic: [...]}`; `authorize: {pool: P, query: {...}}` (one GET of the
  authorize URL, its redirect not followed); `browser_sign_in: {pool: P, query: {...},
  username: U, password: W}` (what a browser without JavaScript does: the authorize URL,
  the sign-in page's form with its CSRF token and cookies, the POST, up to the redirect
  back to the app). `authorization:` sends that Authorization header as written instead.
  Each takes `status:` (the HTTP status; 200, or 302 for the two browser steps, unless
  given), `headers:` (response headers by name, case-blind, values or matchers),
  `expect:` and `capture:` over the JSON body, or for the browser steps over the
  redirect: `status`, `location`, `to` (the Location without query and fragment),
  `query` and `fragment` (their parameters).

An area file may hold its own `fixtures:` (as `_fixtures.yaml` does), usable by any
scenario; their names must not clash with another file's.

Loading checks the shape of every file up front (unknown keys, a step of no kind, a
fixture that does not exist), so an authoring mistake is reported before anything runs.
Variables and matchers are resolved while running (`authflow.conformance.values`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from authflow.core.spec import spec_dir

#: The evidence tags of `reference/cognito-semantics.md` §0.
EVIDENCE = {
    "M": "botocore service model",
    "D": "documented by AWS",
    "X": "AWS example payload",
    "O": "observed on AWS",
    "E": "seen only in emulators",
    "U": "our decision (unconfirmed)",
}

#: The steps that reach a pool's OAuth endpoints, and the members each one's body takes.
ENDPOINT_STEPS = {
    "discovery": {"pool"},
    "oauth_token": {"pool", "form", "basic", "authorization"},
    "userinfo": {"pool", "token", "method", "authorization"},
    "revoke": {"pool", "form", "basic", "authorization"},
    "authorize": {"pool", "query"},
    "browser_sign_in": {"pool", "query", "username", "password"},
}
STEP_KINDS = ("call", "deliver", "clock", "use", "upload", *ENDPOINT_STEPS)
_STEP_KEYS = {
    "call": {"call", "request", "expect", "error", "capture", "until", "within", "note"},
    "upload": {"upload", "status", "note"},
    "deliver": {"deliver", "expect", "capture", "note"},
    "clock": {"clock", "note"},
    "use": {"use", "with", "note"},
    **{kind: {kind, "status", "headers", "expect", "capture", "note"} for kind in ENDPOINT_STEPS},
}
_SCENARIO_KEYS = {"name", "doc", "evidence", "reference", "steps"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file and the place."""


@dataclass(frozen=True)
class Step:
    kind: str  # one of STEP_KINDS
    body: dict[str, Any]  # the step as written

    @property
    def label(self) -> str:
        if self.kind == "call":
            return self.body["call"]
        if self.kind == "deliver":
            return "deliver"
        if self.kind == "clock":
            return f"clock +{self.body['clock']['advance']}"
        if self.kind in ENDPOINT_STEPS or self.kind == "upload":
            return self.kind
        return f"use {self.body['use']}"


@dataclass(frozen=True)
class Fixture:
    name: str
    doc: str
    params: dict[str, Any]  # variable -> default value
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Scenario:
    area: str
    name: str
    doc: str
    evidence: tuple[str, ...]
    reference: str
    steps: tuple[Step, ...]
    source: str  # file name, for messages

    @property
    def id(self) -> str:
        return f"{self.area}/{self.name}"


@dataclass
class Suite:
    scenarios: list[Scenario]
    fixtures: dict[str, Fixture] = field(default_factory=dict)
    area_docs: dict[str, str] = field(default_factory=dict)
    #: Variables every scenario starts with (`variables:` in _fixtures.yaml): values a run
    #: against a real account must replace (`authflow conformance --var NAME=VALUE`).
    variables: dict[str, Any] = field(default_factory=dict)

    def select(self, patterns: list[str] | None) -> list[Scenario]:
        """The scenarios whose id (`area/name`) or name matches any glob (all without one)."""
        if not patterns:
            return list(self.scenarios)
        return [s for s in self.scenarios
                if any(fnmatch.fnmatchcase(s.id, p) or fnmatch.fnmatchcase(s.name, p) for p in patterns)]

    def needs(self, scenario: Scenario) -> set[str]:
        """The target hooks a scenario needs: `outbox` (a deliver step), `clock`."""
        needed: set[str] = set()
        for step in self.expand(scenario.steps):
            if step.kind == "deliver":
                needed.add("outbox")
            elif step.kind == "clock":
                needed.add("clock")
        return needed

    def expand(self, steps: tuple[Step, ...]) -> list[Step]:
        """The steps with every `use` replaced by its fixture's (recursively); the
        runner sets the fixture's variables itself, so this is for inspection only."""
        out: list[Step] = []
        for step in steps:
            if step.kind == "use":
                out.extend(self.expand(self.fixtures[step.body["use"]].steps))
            else:
                out.append(step)
        return out


def scenarios_dir() -> Path:
    return spec_dir() / "scenarios"


def duration_seconds(text: Any) -> int:
    match = _DURATION.match(str(text))
    if not match:
        raise ScenarioError(f"a duration is a number and one of s, m, h, d (e.g. 8d), not {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def load_suite(directory: Path | None = None) -> Suite:
    directory = directory if directory is not None else scenarios_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ScenarioError(f"no scenario files in {directory}")
    suite = Suite(scenarios=[])
    fixtures_path = directory / "_fixtures.yaml"
    if fixtures_path.exists():
        suite.fixtures, suite.variables = _load_fixtures(fixtures_path)
    seen: set[str] = set()
    for path in files:
        if path.name.startswith("_"):
            continue
        area, doc, scenarios, fixtures = _load_area(path)
        for name in fixtures:
            if name in suite.fixtures:
                raise ScenarioError(f"{path.name}: fixture {name!r} is defined in another file too")
        suite.fixtures.update(fixtures)
        suite.area_docs[area] = doc
        for scenario in scenarios:
            if scenario.id in seen:
                raise ScenarioError(f"{path.name}: scenario {scenario.name!r} appears twice")
            seen.add(scenario.id)
            suite.scenarios.append(scenario)
    for scenario in suite.scenarios:
        _check_uses(scenario.steps, suite.fixtures, f"{scenario.source}: {scenario.name}")
    for fixture in suite.fixtures.values():
        _check_uses(fixture.steps, suite.fixtures, f"_fixtures.yaml: {fixture.name}")
    return suite


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ScenarioError(f"{path.name}: {err}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path.name}: the file must be a mapping")
    return data


def _load_fixtures(path: Path) -> tuple[dict[str, Fixture], dict[str, Any]]:
    data = _read(path)
    _only(data, {"fixtures", "variables"}, path.name)
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise ScenarioError(f"{path.name}: variables must be a mapping")
    return _fixtures(data, path), dict(variables)


def _fixtures(data: dict[str, Any], path: Path) -> dict[str, Fixture]:
    raw = data.get("fixtures") or {}
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path.name}: fixtures must be a mapping of names to fixtures")
    fixtures = {}
    for name, body in raw.items():
        where = f"{path.name}: fixture {name}"
        if not isinstance(body, dict) or not isinstance(body.get("steps"), list):
            raise ScenarioError(f"{where}: needs steps")
        _only(body, {"doc", "params", "steps"}, where)
        fixtures[name] = Fixture(name=name, doc=str(body.get("doc", "")), params=dict(body.get("params") or {}),
                                 steps=tuple(_step(s, f"{where} step {i + 1}") for i, s in enumerate(body["steps"])))
    return fixtures


def _load_area(path: Path) -> tuple[str, str, list[Scenario], dict[str, Fixture]]:
    data = _read(path)
    _only(data, {"area", "doc", "scenarios", "fixtures"}, path.name)
    area = data.get("area")
    if not isinstance(area, str) or not _NAME.match(area):
        raise ScenarioError(f"{path.name}: `area:` must be a lower-case name")
    scenarios = []
    for i, raw in enumerate(data.get("scenarios") or []):
        where = f"{path.name}: scenario {i + 1}"
        if not isinstance(raw, dict):
            raise ScenarioError(f"{where}: must be a mapping")
        _only(raw, _SCENARIO_KEYS, where)
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ScenarioError(f"{where}: `name:` must be a lower-case name (letters, digits, -)")
        where = f"{path.name}: {name}"
        evidence = raw.get("evidence")
        tags = tuple(evidence) if isinstance(evidence, list) else (evidence,)
        if not tags or any(t not in EVIDENCE for t in tags):
            raise ScenarioError(f"{where}: `evidence:` must be one or more of {', '.join(EVIDENCE)}")
        if not raw.get("doc"):
            raise ScenarioError(f"{where}: `doc:` says which Cognito behaviour the scenario pins")
        steps = raw.get("steps")
        if not isinstance(steps, list) or not steps:
            raise ScenarioError(f"{where}: needs steps")
        scenarios.append(Scenario(
            area=area, name=name, doc=" ".join(str(raw["doc"]).split()), evidence=tags,
            reference=str(raw.get("reference", "")), source=path.name,
            steps=tuple(_step(s, f"{where} step {j + 1}") for j, s in enumerate(steps)),
        ))
    if not scenarios:
        raise ScenarioError(f"{path.name}: no scenarios")
    return area, " ".join(str(data.get("doc", "")).split()), scenarios, _fixtures(data, path)


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: a step is a mapping")
    kinds = [k for k in STEP_KINDS if k in raw]
    if len(kinds) != 1:
        raise ScenarioError(f"{where}: a step has exactly one of {', '.join(STEP_KINDS)}")
    kind = kinds[0]
    _only(raw, _STEP_KEYS[kind], where)
    if kind == "call":
        if "expect" in raw and "error" in raw:
            raise ScenarioError(f"{where}: expect and error exclude each other")
        if "error" in raw:
            error = raw["error"]
            if not isinstance(error, dict) or "code" not in error:
                raise ScenarioError(f"{where}: error needs code (and usually message)")
            _only(error, {"code", "message"}, where)
        if not isinstance(raw.get("request", {}), dict):
            raise ScenarioError(f"{where}: request must be a mapping")
        if "until" in raw and (not isinstance(raw["until"], dict) or "error" in raw):
            raise ScenarioError(f"{where}: until is a mapping of response members, and excludes error")
        if "within" in raw:
            duration_seconds(raw["within"])
    if kind == "upload":
        body = raw["upload"]
        if not isinstance(body, dict) or not {"url", "body"} <= set(body):
            raise ScenarioError(f"{where}: upload needs url and body")
        _only(body, {"url", "body", "headers"}, f"{where}: upload")
        if "headers" in body and not isinstance(body["headers"], dict):
            raise ScenarioError(f"{where}: upload's headers must be a mapping")
    if kind == "deliver":
        if not isinstance(raw["deliver"], dict) or "username" not in raw["deliver"]:
            raise ScenarioError(f"{where}: deliver needs username")
        _only(raw["deliver"], {"username", "none", "pool"}, where)
    if kind == "clock":
        if not isinstance(raw["clock"], dict) or "advance" not in raw["clock"]:
            raise ScenarioError(f"{where}: clock needs advance (e.g. 8d)")
        duration_seconds(raw["clock"]["advance"])
    if kind in ENDPOINT_STEPS:
        _endpoint_step(kind, raw, where)
    for key in ("expect", "capture"):
        if key in raw and not isinstance(raw[key], dict):
            raise ScenarioError(f"{where}: {key} must be a mapping")
    return Step(kind=kind, body=raw)


def _endpoint_step(kind: str, raw: dict[str, Any], where: str) -> None:
    body = raw[kind]
    if not isinstance(body, dict) or "pool" not in body:
        raise ScenarioError(f"{where}: {kind} needs pool (and the request's members)")
    _only(body, ENDPOINT_STEPS[kind], f"{where}: {kind}")
    for member in ("form", "query"):
        if member in body and not isinstance(body[member], dict):
            raise ScenarioError(f"{where}: {kind}'s {member} must be a mapping")
    if kind == "browser_sign_in" and not {"username", "password"} <= set(body):
        raise ScenarioError(f"{where}: browser_sign_in needs username and password")
    if "basic" in body and not (isinstance(body["basic"], list) and len(body["basic"]) == 2):
        raise ScenarioError(f"{where}: basic is [CLIENT_ID, CLIENT_SECRET]")
    if "status" in raw and not (isinstance(raw["status"], int) and not isinstance(raw["status"], bool)):
        raise ScenarioError(f"{where}: status is an HTTP status code (a number)")
    if "headers" in raw and not isinstance(raw["headers"], dict):
        raise ScenarioError(f"{where}: headers must be a mapping of header names to values or matchers")


def _check_uses(steps: tuple[Step, ...], fixtures: dict[str, Fixture], where: str) -> None:
    for step in steps:
        if step.kind == "use":
            fixture = fixtures.get(step.body["use"])
            if fixture is None:
                raise ScenarioError(f"{where}: no fixture named {step.body['use']!r}")
            unknown = set(step.body.get("with") or {}) - set(fixture.params)
            if unknown:
                raise ScenarioError(f"{where}: fixture {fixture.name} has no parameter {sorted(unknown)}")


def _only(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
