"""`authflow explore`: a bounded, exhaustive model checker that runs the real engine.

Theory of operation
-------------------
A small universe (`--users` users, `--aliases` shared email values, a temporary, a
new and a wrong password, clock jumps as long as the session lifetime and the
temporary-password window) gives a finite alphabet of requests: create each user
(plain, with a shared email verified or not, with ForceAliasCreation), re-invite,
sign in by username or email with each password, answer the user's latest
challenge well or badly, refresh, sign out (GlobalSignOut with the user's access
token, AdminUserGlobalSignOut), RevokeToken, disable, enable, verify or delete the
email, delete the user, and advance the clock.

`self_service=True` (`--self-service`) adds what users do for themselves and the
password administration around it: SignUp (with the user's own email, or with a
shared one), ConfirmSignUp with the code the caller was sent or a wrong one,
ResendConfirmationCode, AdminConfirmSignUp, ForgotPassword, ConfirmForgotPassword
(right or wrong code), AdminResetUserPassword, AdminSetUserPassword (Permanent true and
false), ChangePassword, GetUserAttributeVerificationCode and VerifyUserAttribute (right
or wrong code), DeleteUserAttributes and DeleteUser with the user's access token. The
default pool then auto-verifies emails, so that SignUp sends a code. Codes reach the
caller as a user gets them: read from the text of the message the engine delivered.
It is an option because it multiplies the state space (see docs/semantics.md for the
costs); the default run keeps the admin alphabet.

`flows=("srp", "custom")` (`--flows srp,custom`) adds the other sign-in flows, for each
user: USER_SRP_AUTH begun (by username), its PASSWORD_VERIFIER proved with the temporary,
the new or the wrong password (the explorer signs the claim as an SRP client does, and
tells the invariants which password it signed with); CUSTOM_AUTH begun plainly, with
CHALLENGE_NAME=SRP_A, or through a second app client that hides unknown users
(PreventUserExistenceErrors=ENABLED), and its CUSTOM_CHALLENGE answered rightly or
wrongly. The pool's custom functions are `_custom_define` and its two companions: one
question, tokens after its right answer, failure after a wrong one, and after SRP_A the
password proof and tokens right after it. A caller keeps the latest challenge (block or
session) of each user also after answering it, so replays are explored. Also an option
because of its cost (docs/semantics.md); without it the alphabet, the set-up and the
counts are what they were.

Exploration is breadth-first from one set-up state (a pool and an app client). A
state is the engine's storage (a MemoryStore snapshot) plus the clock, the entropy
position and what the caller holds (each user's latest Session and tokens, and the
`History` the invariants read). Requests that need values from earlier responses
("answer alice's latest challenge", "refresh with alice's refresh token") are
resolved from that caller state, and are skipped where it holds nothing.

Every request runs through `authflow.Client` against a MemoryStore restored from the
state's snapshot, a ManualClock set to its time and seeded entropy rewound to its
position, so each state, and each trace, is a function of the path that led to it.
What the engine delivered (its messages) is part of each checked step.
The selected invariants (`authflow.invariants`) are checked on every transition, and
the first violation found is reported with its trace, which is a shortest one
because every shorter path was explored first.

States are de-duplicated by a canonical digest of a projection that keeps what can
still influence a later request of the alphabet and drops the rest:

- random values (subs, session strings, tokens, salts, sealed blobs, key material)
  are replaced by what they refer to: a user by its universe name, a password hash
  by the universe password it verifies, a session or refresh token by the caller
  slot that holds it;
- times become durations relative to the clock, clamped where the engine stops
  telling them apart: a temporary password is "expired" once its window has passed,
  an expiry in the past is 0, a failed-sign-in counter idle for 15 minutes is absent;
- records no request can reach are left out (sessions and refresh tokens the caller
  no longer holds, lockout counters of deleted users), as are dates that only appear
  in responses and the optimistic-locking versions;
- a session the caller holds keeps whether the password it stands on is still its
  user's (a password's hash is random, and two issues of one universe password
  project alike);
- a pending code is every field but its hash (wrong guesses, attribute, held-back
  value, instants relative to the clock, collapsed past 24 hours), code requests are
  counted only in their hour, and a code the caller holds is only whether it is still
  the user's pending one (the digits are random);
- an SRP block the caller holds is (whether the store records it used, its remaining
  lifetime, whether it still proves its user's current password, custom or not): B,
  the salt and the block's bytes are random.

The counts (`states`, `transitions`) are therefore counts of distinct behaviours,
and are the same on every run with the same arguments.

Test-only hook: `faults`
------------------------
`explore(..., faults={"RevokeToken": wrap})` replaces the service function of an
operation by `wrap(original)` in the operation registry for the duration of the run
(and restores it afterwards), so a test can plant a deliberate bug without editing
the engine, and check that the explorer finds it with a minimal trace. It changes
process-global state while `explore` runs: never use it concurrently with other
engines, nor outside tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from authflow.adapters.clocks import ManualClock
from authflow.adapters.memory import MemoryStore
from authflow.adapters.triggers import CallableTriggers
from authflow.client import Client, method_name
from authflow.config import EngineConfig
from authflow.core.auth import credential_tag
from authflow.core.codes import REQUEST_WINDOW
from authflow.core.lockout import IDLE_RESET
from authflow.crypto import srp as srp_math
from authflow.crypto.keys import TEST_KEYS
from authflow.crypto.passwords import FAST_INSECURE, verify_password
from authflow.errors import CognitoError
from authflow.invariants import (
    INVARIANTS,
    History,
    Records,
    Step,
    Violation,
    block_id,
    check,
    observe,
    session_id,
    token_hash,
    token_owner,
)
from authflow.service.registry import OPERATIONS, load_all

__all__ = [
    "Action", "Caller", "Challenge", "Graph", "HeldCode", "Progress", "Result", "RewindableEntropy", "Tokens",
    "TraceStep", "Universe", "explore", "write_dot",
]

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
NAMES = ("alice", "bob", "carol", "dave", "erin", "frank")
MAX_USERS = len(NAMES)
MAX_ALIASES = 3
#: The default depth: every sequence of 6 admin requests (about 29,000 states, about a
#: minute on two cores); with the self-service alphabet, 5 (about 46,000 states, about
#: two minutes). docs/semantics.md keeps the measured costs.
DEPTH = 6
SELF_SERVICE_DEPTH = 5
#: With `flows` srp and custom, depth 5 is about 30,600 states, a minute and a half (6: about ten).
FLOWS_DEPTH = 5
ADVANCE = "advance_clock"
CLIENT_REQUEST = {
    "ClientName": "explore",
    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
}
#: The sign-in flows `flows` may add to the alphabet.
FLOWS = ("srp", "custom")
#: The pool's custom-auth functions (flows "custom") ask one question; see `_custom_define`.
QUESTION, ANSWER, WRONG_ANSWER = "2 + 2", "four-ish", "not-the-answer"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:explore-{}"
#: The app client that hides unknown users (flows "custom"): CUSTOM_AUTH only.
HIDDEN_CLIENT_REQUEST = {
    "ClientName": "explore-hidden", "ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH"], "PreventUserExistenceErrors": "ENABLED",
}
#: What progress reports carry; `progress=True` prints them to stderr at most twice a second.
PROGRESS_INTERVAL = 0.5
_SECRET_KEYS = frozenset({
    "AccessToken", "IdToken", "RefreshToken", "Session", "Token", "REFRESH_TOKEN",
    "SRP_A", "SRP_B", "SALT", "SECRET_BLOCK", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE",
})
#: Request members every call of a trace carries (shown once, in the set-up).
_IMPLIED = ("UserPoolId", "ClientId")


# -- the universe ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Universe:
    """The finite world the alphabet is built from."""

    names: tuple[str, ...]  # how the report names each user
    logins: tuple[str, ...]  # what each user is called in Username parameters
    emails: tuple[str, ...]  # the shared email values (sign-in aliases in alias pools)
    temporary: str
    new: str
    wrong: str
    weak: str
    validation_value: str
    clock_steps: tuple[int, ...]  # seconds
    temporary_window: timedelta
    phones: bool  # users have phone numbers (the pool asks for SMS MFA)
    mfa_optional: bool
    delivery: str  # the medium of re-invitations
    self_service: bool = False  # the alphabet has the self-service operations
    flows: tuple[str, ...] = ()  # the other sign-in flows in the alphabet (FLOWS)

    def password_name(self, password: str) -> str:
        return {self.temporary: "temporary", self.new: "new", self.wrong: "wrong", self.weak: "weak"}.get(
            password, "other"
        )


def _password(base: str, length: int) -> str:
    return base + "x" * max(0, length - len(base))


def _universe(
    users: int, aliases: int, pool: Mapping[str, Any], client: Mapping[str, Any], self_service: bool = False,
    flows: tuple[str, ...] = (),
) -> Universe:
    policy = (pool.get("Policies") or {}).get("PasswordPolicy") or {}
    length = int(policy.get("MinimumLength") or 8)
    days = int(policy.get("TemporaryPasswordValidityDays") or 7)
    username_kinds = set(pool.get("UsernameAttributes") or ())
    names = NAMES[:users]
    if "email" in username_kinds:
        logins = tuple(f"{n}@example.net" for n in names)
    elif "phone_number" in username_kinds:
        logins = tuple(f"+1555010{i:04d}" for i in range(users))
    else:
        logins = names
    mfa = pool.get("MfaConfiguration") or "OFF"
    return Universe(
        names=names,
        logins=logins,
        emails=() if username_kinds else tuple(
            "shared@example.com" if i == 0 else f"shared{i + 1}@example.com" for i in range(aliases)
        ),
        temporary=_password("Temporary-Pass-1", length),
        new=_password("Brand-New-Pass-2", length),
        wrong=_password("Wrong-Guess-Pass-3", length),
        weak="weak",
        validation_value="explore-validation-data-marker",
        clock_steps=(60 * int(client.get("AuthSessionValidity") or 3), 86400 * days),
        temporary_window=timedelta(days=days),
        phones=mfa != "OFF" or username_kinds == {"phone_number"},
        mfa_optional=mfa == "OPTIONAL",
        delivery="SMS" if username_kinds == {"phone_number"} else "EMAIL",
        self_service=self_service,
        flows=flows,
    )


# -- what the caller holds ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    session: str
    name: str  # ChallengeName
    username: str  # USER_ID_FOR_SRP: what an answer sends as USERNAME
    code: str | None = None  # the SMS_MFA code, read from the message that carried it
    required: tuple[str, ...] = ()  # NEW_PASSWORD_REQUIRED's requiredAttributes
    # PASSWORD_VERIFIER (SRP): `session` is the SECRET_BLOCK; the challenge's parameters,
    # its expiry, and the user and password hash it was issued for are kept.
    parameters: tuple[tuple[str, str], ...] = ()
    expires: datetime | None = None
    sub: str | None = None
    credential: str | None = None
    custom: bool = False  # begun by CUSTOM_AUTH (Define decides after the proof)
    hidden: bool = False  # through the client that hides unknown users


@dataclass(frozen=True, slots=True)
class HeldCode:
    """A verification code the caller was sent, and the keyed hash of the pending code it
    was sent for (so that the digest can tell whether it is still the current one)."""

    code: str
    code_hash: str


@dataclass(frozen=True, slots=True)
class Tokens:
    access: str
    refresh: str
    access_expires: datetime


@dataclass(frozen=True, slots=True)
class Caller:
    """Per universe user: the latest challenge, tokens and code of each purpose; and the
    invariants' History."""

    challenges: tuple[Challenge | None, ...]
    tokens: tuple[Tokens | None, ...]
    history: History = field(default_factory=History)
    codes: tuple[tuple[tuple[str, HeldCode], ...], ...] = ()  # per user: sorted (purpose, code)

    def code(self, i: int, purpose: str) -> HeldCode | None:
        return dict(self.codes[i]).get(purpose) if self.codes else None


@dataclass(frozen=True, slots=True)
class Action:
    """One entry of the alphabet: a request, or None where the caller lacks what it needs."""

    label: str
    build: Callable[[Caller], tuple[str, dict[str, Any]] | None]


# -- results --------------------------------------------------------------------------------------


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


# -- the engine under exploration ---------------------------------------------------------------------


class RewindableEntropy:
    """Seeded, repeatable bytes whose position is one integer, so that every explored
    state can rewind it cheaply. For the model checker only: predictable by design."""

    def __init__(self, seed: int) -> None:
        self._seed = seed.to_bytes(16, "big", signed=True)
        self.position = 0

    def random_bytes(self, n: int) -> bytes:
        self.position += 1
        return hashlib.shake_256(self._seed + self.position.to_bytes(8, "big")).digest(n)


class _Outbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    def send(self, message: Any) -> None:
        self.messages.append(message)


@dataclass(slots=True)
class _Node:
    index: int
    depth: int
    state: Any  # a MemoryStore snapshot
    now: datetime
    entropy: int
    caller: Caller


def _ms(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


#: No code rule looks further back than this (the longest code lifetime).
_CODE_HORIZON = timedelta(hours=24)


def _pending_code(code: Any, now: datetime) -> tuple[Any, ...]:
    """A pending code as the digest sees it: every field but its keyed hash (wrong
    guesses, attribute, held-back value), instants as
    durations from now, clamped where no rule can tell them apart any more."""
    out = []
    for f in fields(code):
        value = getattr(code, f.name)
        if f.name == "code_hash":
            continue
        if isinstance(value, datetime):
            value = max(0, _ms(value - now)) if value >= now else max(-_ms(_CODE_HORIZON), _ms(value - now))
        out.append((f.name, value))
    return tuple(out)


class _Explorer:
    def __init__(
        self, users: int, aliases: int, pool_request: Mapping[str, Any], seed: int, self_service: bool = False,
        flows: tuple[str, ...] = (),
    ) -> None:
        self.clock = ManualClock(START)
        self.entropy = RewindableEntropy(seed)
        self.outbox = _Outbox()
        self.store = MemoryStore()
        triggers = CallableTriggers({FUNCTION_ARN.format(name): f for name, f in CUSTOM_FUNCTIONS.items()})
        self.client = Client(
            store=self.store, clock=self.clock, entropy=self.entropy, messenger=self.outbox,
            config=EngineConfig(kdf=FAST_INSECURE, signing_keys=TEST_KEYS),
            **({"triggers": triggers} if "custom" in flows else {}),
        )
        self.operations = {method_name(op): op for op in load_all()}
        pool = self.client.create_user_pool(**pool_request)["UserPool"]
        self.pool_id = pool["Id"]
        client_request = _client_request(flows)
        app = self.client.create_user_pool_client(UserPoolId=self.pool_id, **client_request)["UserPoolClient"]
        self.client_id = app["ClientId"]
        self.setup = (
            TraceStep("set-up", "CreateUserPool", dict(pool_request), {"UserPool": {"Id": self.pool_id}}, None),
            TraceStep("set-up", "CreateUserPoolClient", {"UserPoolId": self.pool_id, **client_request},
                      {"UserPoolClient": {"ClientId": self.client_id}}, None),
        )
        self.hidden_id = None
        if "custom" in flows:
            hidden = self.client.create_user_pool_client(UserPoolId=self.pool_id, **HIDDEN_CLIENT_REQUEST)
            self.hidden_id = hidden["UserPoolClient"]["ClientId"]
            self.setup += (TraceStep(
                "set-up", "CreateUserPoolClient", {"UserPoolId": self.pool_id, **HIDDEN_CLIENT_REQUEST},
                {"UserPoolClient": {"ClientId": self.hidden_id}}, None,
            ),)
        self.universe = _universe(users, aliases, pool, app, self_service, flows)
        self.by_login = dict(zip(self.universe.logins, range(users), strict=True))
        #: The password each SRP claim the alphabet signed was signed with (by signature).
        self.claims: dict[str, str] = {}
        self.alphabet = _alphabet(self.universe, self.pool_id, self.client_id, hidden_id=self.hidden_id,
                                  clock=self.clock.now, claims=self.claims)
        self._password_ids: dict[str, str] = {}
        self.root = _Node(
            0, 0, self.store.snapshot(), self.clock.now(), self.entropy.position,
            Caller(challenges=(None,) * users, tokens=(None,) * users, codes=((),) * users),
        )

    # -- running one request ------------------------------------------------------------------------

    def apply(self, node: _Node, action: Action, records: Records) -> tuple[Step, TraceStep, _Node] | None:
        self.clock.set(node.now)  # before building: an SRP claim is signed with the time
        built = action.build(node.caller)
        if built is None:
            return None
        method, request = built
        self.store.restore(node.state)
        self.entropy.position = node.entropy
        self.outbox.messages.clear()
        response: dict[str, Any] | None = None
        error: CognitoError | None = None
        if method == ADVANCE:
            operation = "AdvanceClock"
            self.clock.advance(timedelta(seconds=request["seconds"]))
            response = {}
            state, after = node.state, records
        else:
            operation = self.operations[method]
            try:
                response = getattr(self.client, method)(**request)
            except CognitoError as err:
                error = err
            state = self.store.snapshot()
            after = Records.of(state)
        now = self.clock.now()
        history = node.caller.history
        signature = (request.get("ChallengeResponses") or {}).get("PASSWORD_CLAIM_SIGNATURE")
        if signature in self.claims:  # the invariants judge the proof by the password it was signed with
            history = history.signed(signature, self.claims[signature])
        step = Step(
            operation=operation, request=request, response=response, error=error,
            before=records, after=after, now=now, history=history,
            messages=tuple(self.outbox.messages),
        )
        trace = TraceStep(
            action.label, operation, request, response, f"{error.code}: {error.message}" if error else None
        )
        # The claim's password was for judging this step only: the caller keeps no such list.
        caller = self._caller_after(node.caller, replace(step, history=node.caller.history), after)
        return step, trace, _Node(-1, node.depth + 1, state, now, self.entropy.position, caller)

    def _slot(self, user: Any) -> int | None:
        """The universe user a stored user is (by username, or by its login attribute)."""
        if user is None:
            return None
        if user.username in self.by_login:
            return self.by_login[user.username]
        for kind in ("email", "phone_number"):
            if user.attributes.get(kind) in self.by_login:
                return self.by_login[user.attributes[kind]]
        return None

    def _caller_after(self, caller: Caller, step: Step, after: Records) -> Caller:
        history = observe(caller.history, step)
        challenges, tokens = list(caller.challenges), list(caller.tokens)
        response = step.response or {}
        if step.ok and "ChallengeName" in response:
            parameters = response.get("ChallengeParameters") or {}
            named = parameters.get("USER_ID_FOR_SRP") or parameters.get("USERNAME", "")
            user = after.user_named(self.pool_id, named)
            slot = self._slot(user) if user is not None else self.by_login.get(named)  # a name no user has
            if slot is not None and response["ChallengeName"] == "PASSWORD_VERIFIER":
                challenges[slot] = Challenge(
                    session=parameters["SECRET_BLOCK"], name="PASSWORD_VERIFIER", username=named,
                    parameters=tuple(sorted(parameters.items())),
                    # a block lives AuthSessionValidity, the first clock step
                    expires=step.now + timedelta(seconds=self.universe.clock_steps[0]),
                    sub=user.sub if user else None,
                    credential=user.credential.password_hash if user and user.credential else None,
                    custom=step.request.get("AuthFlow") == "CUSTOM_AUTH",
                )
            elif slot is not None:
                code = next(
                    (m.body for m in self.outbox.messages if getattr(m, "kind", "") == "mfa_code"), None
                )
                found = re.search(r"\d{6}", code) if code else None
                required = json.loads(parameters.get("requiredAttributes") or "[]")
                challenges[slot] = Challenge(
                    session=response["Session"], name=response["ChallengeName"],
                    username=named, code=found.group() if found else None,
                    required=tuple(required),
                    hidden=self.hidden_id is not None and step.request.get("ClientId") == self.hidden_id,
                )
        result = response.get("AuthenticationResult") if step.ok else None
        if result:
            owner = token_owner(result)
            slot = self._slot(after.user_by_sub(*owner)) if owner else None
            if slot is not None:
                expires = step.now + timedelta(seconds=int(result.get("ExpiresIn", 0)))
                if result.get("RefreshToken"):
                    tokens[slot] = Tokens(result["AccessToken"], result["RefreshToken"], expires)
                elif tokens[slot] is not None:
                    tokens[slot] = replace(tokens[slot], access=result["AccessToken"], access_expires=expires)
        codes = [dict(held) for held in caller.codes]
        for pool_id, sub, purpose, code, _ in history.sent_codes - caller.history.sent_codes:
            user = after.user_by_sub(pool_id, sub)
            slot = self._slot(user)
            if slot is not None and purpose in user.codes:
                codes[slot][purpose] = HeldCode(code, user.codes[purpose].code_hash)
        held = tuple(tuple(sorted(c.items())) for c in codes)
        return Caller(tuple(challenges), tuple(tokens), _pruned(history, challenges, tokens, held), held)

    # -- the canonical digest ---------------------------------------------------------------------------

    def _password_id(self, password_hash: str) -> str:
        known = self._password_ids.get(password_hash)
        if known is None:
            u = self.universe
            known = next(
                (u.password_name(p) for p in (u.temporary, u.new, u.wrong, u.weak) if verify_password(p, password_hash)),
                "other",
            )
            self._password_ids[password_hash] = known
        return known

    def _name(self, user: Any) -> str:
        slot = self._slot(user)
        return self.universe.names[slot] if slot is not None else user.username

    def projection(self, records: Records, now: datetime, caller: Caller) -> tuple[Any, ...]:
        users = records.users_of(self.pool_id)
        by_sub = {u.sub: u for u in users}
        names = {u.sub: self._name(u) for u in users}
        window = self.universe.temporary_window
        projected_users = []
        for u in users:
            credential = None
            if u.credential is not None:
                credential = (self._password_id(u.credential.password_hash), u.credential.temporary)
                if u.credential.temporary:
                    age = now - u.credential.issued_at
                    credential += ("expired" if age >= window else _ms(age),)
            pending = tuple((purpose, _pending_code(c, now)) for purpose, c in sorted(u.codes.items()))
            # Code requests in an hour that has passed are as good as none.
            requests = tuple(
                (purpose, r.count, _ms(now - r.window_start))
                for purpose, r in sorted(u.code_requests.items()) if now < r.window_start + REQUEST_WINDOW
            )
            projected_users.append((
                names[u.sub], u.username == u.sub, u.status, u.enabled,
                tuple(sorted((k, v) for k, v in u.attributes.items() if k != "sub")),
                tuple(sorted(u.aliases)), tuple(u.mfa_settings), u.preferred_mfa, credential, pending, requests,
            ))
        counters = []
        for r in records.failed_sign_ins:
            age = now - r.last_attempt
            owner = names.get(r.key) or (r.key if r.key.startswith("unknown:") else None)
            if r.pool_id != self.pool_id or age >= IDLE_RESET or owner is None:
                continue  # idle for 15 minutes, or a deleted user's: no request can tell it from none
            locked = max(0, _ms(r.locked_until - now)) if r.locked_until is not None else 0
            counters.append((owner, r.count, locked, _ms(age)))
        history = caller.history
        challenges = []
        for c in caller.challenges:
            if c is None:
                challenges.append(None)
                continue
            named = records.user_named(self.pool_id, c.username)
            if c.name == "PASSWORD_VERIFIER":  # a block: no session record until it is used
                holder = by_sub.get(c.sub) if c.sub else None
                current = bool(holder and holder.credential and holder.credential.password_hash == c.credential)
                challenges.append((
                    c.name, names.get(named.sub) if named else None, c.custom,
                    records.session_by_id(block_id(c.session)) is not None,
                    max(0, _ms(c.expires - now)) if c.expires else 0,
                    names.get(holder.sub) if holder else None, current,
                    block_id(c.session) in history.succeeded_secret_blocks,
                ))
                continue
            record = records.session(c.session)
            holder = by_sub.get(record.sub) if record else None
            challenges.append((
                c.name, names.get(named.sub) if named else None, c.code is not None, c.required,
                None if record is None else (
                    record.used, max(0, _ms(record.expires - now)), names.get(holder.sub) if holder else None,
                    record.typed_username,
                    # whether the password the session stands on is still the user's: a
                    # re-sent temporary password hashes anew but projects the same
                    bool(holder and record.credential_tag == credential_tag(holder.credential)),
                ),
                session_id(c.session) in history.succeeded_sessions,
                *((c.hidden,) if c.hidden else ()),
            ))
        held = []
        for t in caller.tokens:
            if t is None:
                held.append(None)
                continue
            family = records.refresh_token(t.refresh)
            owner = by_sub.get(family.sub) if family else None
            held.append((
                None if family is None else (
                    family.revoked, names.get(owner.sub) if owner else None,
                    bool(owner and family.generation < owner.token_generation),
                    max(0, _ms(family.expires - now)),
                ),
                max(0, _ms(t.access_expires - now)),
                token_hash(t.refresh) in history.revoked_tokens,
            ))
        by_name = {names[u.sub]: u for u in users}
        codes = []
        for i, pairs in enumerate(caller.codes):
            user = by_name.get(self.universe.names[i])
            codes.append(tuple(
                (purpose, bool(user and purpose in user.codes and user.codes[purpose].code_hash == c.code_hash))
                for purpose, c in pairs
            ))
        return (
            tuple(sorted(projected_users)), tuple(sorted(counters)), tuple(challenges), tuple(held),
            tuple(sorted(history.validation_values)), tuple(codes),
        )

    def digest(self, records: Records, now: datetime, caller: Caller) -> bytes:
        return hashlib.blake2b(repr(self.projection(records, now, caller)).encode(), digest_size=16).digest()

    def describe(self, records: Records, now: datetime, caller: Caller) -> str:
        """A short label of a state, for the graph."""
        users = {self._name(u): u for u in records.users_of(self.pool_id)}
        counters = {r.key: r for r in records.failed_sign_ins if now - r.last_attempt < IDLE_RESET}
        lines = []
        for i, name in enumerate(self.universe.names):
            user = users.get(name)
            facts = []
            if user is None:
                facts.append("absent")
            else:
                facts.append(user.status)
                credential = user.credential
                if credential and credential.temporary and now - credential.issued_at >= self.universe.temporary_window:
                    facts.append("temporary password expired")
                if not user.enabled:
                    facts.append("disabled")
                facts.extend(f"{kind} alias" for kind, _ in user.aliases)
                counter = counters.get(user.sub)
                if counter is not None:
                    locked = counter.locked_until is not None and now < counter.locked_until
                    facts.append(f"{counter.count} failures" + (", locked" if locked else ""))
            challenge = caller.challenges[i]
            if challenge is not None:
                if challenge.name == "PASSWORD_VERIFIER":
                    used = records.session_by_id(block_id(challenge.session)) is not None
                    spent = used or challenge.expires is None or now >= challenge.expires
                else:
                    session = records.session(challenge.session)
                    spent = session is None or session.used or now >= session.expires
                what = "an SRP block" if challenge.name == "PASSWORD_VERIFIER" else f"a {challenge.name} session"
                facts.append(f"holds {what}" + (" (spent)" if spent else ""))
            if caller.tokens[i] is not None:
                revoked = token_hash(caller.tokens[i].refresh) in caller.history.revoked_tokens
                facts.append("holds tokens" + (" (revoked)" if revoked else ""))
            for purpose, held in caller.codes[i] if caller.codes else ():
                current = user is not None and purpose in user.codes and user.codes[purpose].code_hash == held.code_hash
                facts.append(f"holds a {purpose} code" + ("" if current else " (stale)"))
            lines.append(f"{name}: " + ", ".join(facts))
        return "\n".join(lines)


def _pruned(
    history: History, challenges: Sequence[Challenge | None], tokens: Sequence[Tokens | None],
    codes: Sequence[tuple[tuple[str, HeldCode], ...]],
) -> History:
    """Only what the caller can still present matters for later checks. (Deleted users
    stay: a handful of subs, and a deleted sub must never come back.)"""
    sessions = {session_id(c.session) for c in challenges if c is not None}
    blocks = {block_id(c.session) for c in challenges if c is not None and c.name == "PASSWORD_VERIFIER"}
    refresh = {token_hash(t.refresh) for t in tokens if t is not None}
    held = {c.code for pairs in codes for _, c in pairs}
    return replace(
        history,
        succeeded_sessions=history.succeeded_sessions & sessions,
        succeeded_secret_blocks=history.succeeded_secret_blocks & blocks,
        refresh_tokens=frozenset(h for h in history.refresh_tokens if h[0] in refresh),
        revoked_tokens=history.revoked_tokens & refresh,
        sent_codes=frozenset(e for e in history.sent_codes if e[3] in held),
    )


# -- the alphabet ---------------------------------------------------------------------------------


def _const(method: str, request: dict[str, Any]) -> Callable[[Caller], tuple[str, dict[str, Any]]]:
    return lambda caller: (method, request)


def _client_request(flows: Iterable[str]) -> dict[str, Any]:
    """The app client's CreateUserPoolClient request: the default one, with the flows' own."""
    extra = [{"srp": "ALLOW_USER_SRP_AUTH", "custom": "ALLOW_CUSTOM_AUTH"}[f] for f in FLOWS if f in flows]
    return {**CLIENT_REQUEST, "ExplicitAuthFlows": [*CLIENT_REQUEST["ExplicitAuthFlows"], *extra]}


def _custom_define(event: dict[str, Any]) -> dict[str, Any]:
    """DefineAuthChallenge: after SRP_A the password proof, and tokens right after it;
    otherwise one question, tokens after its right answer, failure after a wrong one."""
    rounds = event["request"]["session"]
    last = rounds[-1] if rounds else None
    if last is None:
        event["response"]["challengeName"] = "CUSTOM_CHALLENGE"
    elif last["challengeName"] == "SRP_A":
        event["response"]["challengeName"] = "PASSWORD_VERIFIER"
    elif last["challengeResult"]:
        event["response"]["issueTokens"] = True
    else:
        event["response"]["failAuthentication"] = True
    return event


def _custom_create(event: dict[str, Any]) -> dict[str, Any]:
    event["response"].update(publicChallengeParameters={"question": QUESTION},
                             privateChallengeParameters={"answer": ANSWER}, challengeMetadata="QUESTION-1")
    return event


def _custom_verify(event: dict[str, Any]) -> dict[str, Any]:
    request = event["request"]
    event["response"]["answerCorrect"] = request["challengeAnswer"] == request["privateChallengeParameters"]["answer"]
    return event


#: The pool's custom-auth functions (flows "custom"), by LambdaConfig member.
CUSTOM_FUNCTIONS = {"DefineAuthChallenge": _custom_define, "CreateAuthChallenge": _custom_create,
                    "VerifyAuthChallengeResponse": _custom_verify}


def _srp_secret(i: int) -> int:
    """User i's SRP client secret a (fixed: B, drawn by the engine, makes every attempt differ)."""
    return int.from_bytes(hashlib.sha256(f"explore-srp-a-{i}".encode()).digest(), "big")


def _srp_claim(pool_id: str, a: int, parameters: Mapping[str, str], password: str, now: datetime) -> dict[str, str]:
    """ChallengeResponses for PASSWORD_VERIFIER, computed as an SRP client does
    (reference/srp-and-clients.md §2), with the engine's arithmetic helpers."""
    big_a, big_b = srp_math.powmod(srp_math.G, a, srp_math.N), int(parameters["SRP_B"], 16)
    user_id = parameters["USER_ID_FOR_SRP"]
    u = srp_math.scrambler(big_a, big_b)
    x = srp_math.private_key(pool_id, user_id, password, int(parameters["SALT"], 16))
    base = (big_b - srp_math.K * srp_math.powmod(srp_math.G, x, srp_math.N)) % srp_math.N
    key = srp_math.session_key(srp_math.powmod(base, a + u * x, srp_math.N), u)
    when = srp_math.format_timestamp(now)
    block = parameters["SECRET_BLOCK"]
    return {
        "USERNAME": user_id, "PASSWORD_CLAIM_SECRET_BLOCK": block, "TIMESTAMP": when,
        "PASSWORD_CLAIM_SIGNATURE": srp_math.claim_signature(key, pool_id, user_id, base64.b64decode(block), when),
    }


def _flow_actions(
    u: Universe, pool_id: str, client_id: str, hidden_id: str | None, clock: Callable[[], datetime],
    claims: dict[str, str],
) -> list[Action]:
    """The SRP and custom half of the alphabet (`flows`)."""
    actions: list[Action] = []
    for i, name in enumerate(u.names):
        a = _srp_secret(i)
        srp_a = f"{srp_math.powmod(srp_math.G, a, srp_math.N):x}"
        start = {"ClientId": client_id, "AuthParameters": {"USERNAME": u.logins[i], "SRP_A": srp_a}}
        if "srp" in u.flows:
            actions.append(Action(f"start an SRP sign-in as {u.logins[i]}", _const(
                "initiate_auth", {**start, "AuthFlow": "USER_SRP_AUTH"})))
        if "custom" in u.flows:
            actions.append(Action(f"start a custom sign-in as {u.logins[i]}", _const("initiate_auth", {
                "ClientId": client_id, "AuthFlow": "CUSTOM_AUTH", "AuthParameters": {"USERNAME": u.logins[i]}})))
            actions.append(Action(f"start a custom sign-in with SRP as {u.logins[i]}", _const("initiate_auth", {
                **start, "AuthFlow": "CUSTOM_AUTH",
                "AuthParameters": {**start["AuthParameters"], "CHALLENGE_NAME": "SRP_A"}})))
            actions.append(Action(f"start a custom sign-in as {u.logins[i]} where unknown users are hidden", _const(
                "initiate_auth", {"ClientId": hidden_id, "AuthFlow": "CUSTOM_AUTH",
                                  "AuthParameters": {"USERNAME": u.logins[i]}})))
            for good in (True, False):
                actions.append(Action(
                    f"answer {name}'s custom challenge" + ("" if good else " wrongly"),
                    _custom_answer(client_id, hidden_id, i, good=good),
                ))
        for password in (u.temporary, u.new, u.wrong):  # a block of either flow
            actions.append(Action(
                f"prove {name}'s SRP challenge with the {u.password_name(password)} password",
                _srp_answer(pool_id, client_id, i, a, password, clock, claims),
            ))
    return actions


def _srp_answer(
    pool_id: str, client_id: str, i: int, a: int, password: str, clock: Callable[[], datetime], claims: dict[str, str],
) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge = caller.challenges[i]
        if challenge is None or challenge.name != "PASSWORD_VERIFIER":
            return None
        responses = _srp_claim(pool_id, a, dict(challenge.parameters), password, clock())
        claims[responses["PASSWORD_CLAIM_SIGNATURE"]] = password
        return "respond_to_auth_challenge", {
            "ClientId": client_id, "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": responses,
        }

    return build


def _custom_answer(client_id: str, hidden_id: str | None, i: int, *, good: bool) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge = caller.challenges[i]
        if challenge is None or challenge.name != "CUSTOM_CHALLENGE":
            return None
        return "respond_to_auth_challenge", {
            "ClientId": hidden_id if challenge.hidden else client_id, "ChallengeName": "CUSTOM_CHALLENGE",
            "Session": challenge.session,
            "ChallengeResponses": {"USERNAME": challenge.username, "ANSWER": ANSWER if good else WRONG_ANSWER},
        }

    return build


def _alphabet(
    u: Universe, pool_id: str, client_id: str, *, hidden_id: str | None = None,
    clock: Callable[[], datetime] | None = None, claims: dict[str, str] | None = None,
) -> list[Action]:
    actions: list[Action] = []
    marker = [{"Name": "explore", "Value": u.validation_value}]

    def base(i: int) -> list[dict[str, str]]:
        attributes = []
        if u.logins[i] == u.names[i]:  # a plain or alias pool: a personal, unverified email
            attributes.append({"Name": "email", "Value": f"{u.names[i]}@example.net"})
        if u.phones and not u.logins[i].startswith("+"):
            attributes.append({"Name": "phone_number", "Value": f"+1555020{i:04d}"})
        return attributes

    def with_email(i: int, email: str, verified: bool) -> list[dict[str, str]]:
        attributes = [a for a in base(i) if a["Name"] != "email"]
        attributes.append({"Name": "email", "Value": email})
        if verified:
            attributes.append({"Name": "email_verified", "Value": "true"})
        return attributes

    for i, name in enumerate(u.names):
        create = {
            "UserPoolId": pool_id, "Username": u.logins[i], "TemporaryPassword": u.temporary,
            "MessageAction": "SUPPRESS", "ValidationData": marker,
        }
        actions.append(Action(f"create {name}", _const("admin_create_user", {**create, "UserAttributes": base(i)})))
        for email in u.emails:
            for verified, force in ((True, False), (True, True), (False, False)):
                label = f"create {name} with {'verified' if verified else 'unverified'} {email}"
                actions.append(Action(
                    label + (" (ForceAliasCreation)" if force else ""),
                    _const("admin_create_user", {
                        **create, "UserAttributes": with_email(i, email, verified), "ForceAliasCreation": force,
                    }),
                ))
        actions.append(Action(f"re-invite {name}", _const("admin_create_user", {
            "UserPoolId": pool_id, "Username": u.logins[i], "MessageAction": "RESEND",
            "TemporaryPassword": u.temporary, "DesiredDeliveryMediums": [u.delivery],
        })))
    for login in (*u.logins, *u.emails):
        for password in (u.temporary, u.new, u.wrong):
            actions.append(Action(
                f"sign in as {login} with the {u.password_name(password)} password",
                _const("initiate_auth", {
                    "ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": login, "PASSWORD": password},
                }),
            ))
    for i, name in enumerate(u.names):
        actions.append(Action(f"answer {name}'s challenge", _answer(u, client_id, i, good=True)))
        actions.append(Action(f"answer {name}'s challenge wrongly", _answer(u, client_id, i, good=False)))
        actions.append(Action(f"refresh {name}'s tokens", _with_tokens(i, lambda t: ("initiate_auth", {
            "ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": t.refresh},
        }))))
        actions.append(Action(f"GlobalSignOut with {name}'s access token", _with_tokens(
            i, lambda t: ("global_sign_out", {"AccessToken": t.access}))))
        actions.append(Action(f"revoke {name}'s refresh token", _with_tokens(
            i, lambda t: ("revoke_token", {"ClientId": client_id, "Token": t.refresh}))))
    for i, name in enumerate(u.names):
        who = {"UserPoolId": pool_id, "Username": u.logins[i]}
        actions.append(Action(f"sign {name} out everywhere", _const("admin_user_global_sign_out", who)))
        actions.append(Action(f"disable {name}", _const("admin_disable_user", who)))
        actions.append(Action(f"enable {name}", _const("admin_enable_user", who)))
        for email in u.emails:
            actions.append(Action(f"give {name} the verified email {email}", _const("admin_update_user_attributes", {
                **who, "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            })))
        if u.logins[i] == u.names[i]:
            actions.append(Action(f"delete {name}'s email", _const(
                "admin_delete_user_attributes", {**who, "UserAttributeNames": ["email"]})))
        if u.mfa_optional:
            actions.append(Action(f"turn on SMS MFA for {name}", _const(
                "admin_set_user_mfa_preference", {**who, "SMSMfaSettings": {"Enabled": True, "PreferredMfa": True}})))
        actions.append(Action(f"delete {name}", _const("admin_delete_user", who)))
    if u.self_service:
        actions.extend(_self_service(u, pool_id, client_id, base, with_email))
    if u.flows:
        assert clock is not None and claims is not None
        actions.extend(_flow_actions(u, pool_id, client_id, hidden_id, clock, claims))
    for seconds in u.clock_steps:
        actions.append(Action(f"advance the clock {seconds} s", _const(ADVANCE, {"seconds": seconds})))
    return actions


def _self_service(
    u: Universe, pool_id: str, client_id: str, base: Callable[[int], list[dict[str, str]]],
    with_email: Callable[[int, str, bool], list[dict[str, str]]],
) -> list[Action]:
    """The self-service half of the alphabet (`self_service=True`)."""
    actions: list[Action] = []
    for i in range(len(u.names)):
        actions.extend(_self_service_of(u, i, pool_id, client_id, base(i), [
            (email, with_email(i, email, False)) for email in u.emails
        ]))
    return actions


def _self_service_of(
    u: Universe, i: int, pool_id: str, client_id: str, own: list[dict[str, str]],
    shared: list[tuple[str, list[dict[str, str]]]],
) -> list[Action]:
    """User i's self-service requests (a function of its own, so that every request
    builder binds this user's values)."""
    name = u.names[i]
    by_client = {"ClientId": client_id, "Username": u.logins[i]}
    who = {"UserPoolId": pool_id, "Username": u.logins[i]}
    sign_up = {**by_client, "Password": u.new}
    actions = [Action(f"sign {name} up", _const("sign_up", {**sign_up, "UserAttributes": own}))]
    for email, attributes in shared:  # the alias is claimed at confirmation, where it may clash
        actions.append(Action(f"sign {name} up with {email}", _const("sign_up", {**sign_up, "UserAttributes": attributes})))
    for good in (True, False):
        actions.append(Action(
            f"confirm {name}'s sign-up" + ("" if good else " with a wrong code"),
            _with_code(i, "confirm_sign_up", good, lambda code: (
                "confirm_sign_up", {**by_client, "ConfirmationCode": code})),
        ))
    actions += [
        Action(f"resend {name}'s confirmation code", _const("resend_confirmation_code", by_client)),
        Action(f"confirm {name} as an administrator", _const("admin_confirm_sign_up", who)),
        Action(f"{name} forgot the password", _const("forgot_password", by_client)),
    ]
    for good in (True, False):
        actions.append(Action(
            f"reset {name}'s password with {'the' if good else 'a wrong'} code",
            _with_code(i, "reset_password", good, lambda code: ("confirm_forgot_password", {
                **by_client, "ConfirmationCode": code, "Password": u.new,
            })),
        ))
    actions += [
        Action(f"reset {name}'s password as an administrator", _const("admin_reset_user_password", who)),
        Action(f"set {name}'s password for good", _const(
            "admin_set_user_password", {**who, "Password": u.new, "Permanent": True})),
        Action(f"give {name} a temporary password", _const(
            "admin_set_user_password", {**who, "Password": u.temporary, "Permanent": False})),
        # ChangePassword keeps the password (the universe has no other good one): what it
        # changes is the credential, the lockout counter and any pending reset code.
        Action(f"{name} changes the password", _with_tokens(i, lambda t: ("change_password", {
            "AccessToken": t.access, "PreviousPassword": u.new, "ProposedPassword": u.new,
        }))),
    ]
    if u.logins[i] == u.names[i]:  # email is an attribute, not the username
        actions.append(Action(f"{name} asks for an email code", _with_tokens(i, lambda t: (
            "get_user_attribute_verification_code", {"AccessToken": t.access, "AttributeName": "email"}))))
        for good in (True, False):
            actions.append(Action(
                f"{name} verifies the email with {'the' if good else 'a wrong'} code",
                _with_code(i, "verify_email", good, lambda code: _with_tokens(i, lambda t: (
                    "verify_user_attribute", {"AccessToken": t.access, "AttributeName": "email", "Code": code},
                ))),
            ))
        actions.append(Action(f"{name} deletes the email", _with_tokens(i, lambda t: (
            "delete_user_attributes", {"AccessToken": t.access, "UserAttributeNames": ["email"]}))))
    actions.append(Action(f"{name} deletes the account", _with_tokens(
        i, lambda t: ("delete_user", {"AccessToken": t.access}))))
    return actions


def _with_code(
    i: int, purpose: str, good: bool, make: Callable[[str], Any]
) -> Callable[[Caller], tuple[str, dict] | None]:
    """A request carrying user i's latest code of `purpose`, or a wrong one (a code that
    differs from it); None while the caller holds no such code. `make` may itself need
    more from the caller (an access token): it then returns a builder."""

    def build(caller: Caller) -> tuple[str, dict] | None:
        held = caller.code(i, purpose)
        if held is None:
            return None
        code = held.code if good else ("000000" if held.code != "000000" else "111111")
        made = make(code)
        return made(caller) if callable(made) else made

    return build


def _answer(u: Universe, client_id: str, i: int, *, good: bool) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge = caller.challenges[i]
        if challenge is None:
            return None
        responses = {"USERNAME": challenge.username}
        if challenge.name == "NEW_PASSWORD_REQUIRED":
            responses["NEW_PASSWORD"] = u.new if good else u.weak
            for name in challenge.required:
                attribute = name.removeprefix("userAttributes.")
                value = {"email": f"{u.names[i]}@example.org", "phone_number": f"+1555030{i:04d}"}.get(attribute, "x")
                responses[f"userAttributes.{attribute}"] = value
        elif challenge.name == "SMS_MFA" and challenge.code is not None:
            wrong = "000000" if challenge.code != "000000" else "111111"
            responses["SMS_MFA_CODE"] = challenge.code if good else wrong
        else:
            return None
        return "respond_to_auth_challenge", {
            "ClientId": client_id, "ChallengeName": challenge.name, "Session": challenge.session,
            "ChallengeResponses": responses,
        }

    return build


def _with_tokens(i: int, make: Callable[[Tokens], tuple[str, dict]]) -> Callable[[Caller], tuple[str, dict] | None]:
    return lambda caller: make(caller.tokens[i]) if caller.tokens[i] is not None else None


# -- the search ---------------------------------------------------------------------------------------


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
    flows: Iterable[str] = (),
) -> Result:
    """Explore every sequence of at most `depth` requests from the alphabet, checking
    the selected `invariants` (all by default) after each one. `depth` defaults to
    `DEPTH`, `SELF_SERVICE_DEPTH` with `self_service`, or `FLOWS_DEPTH` with `flows`.

    `pool_config` is a CreateUserPool request (PoolName optional); without it the pool
    has `AliasAttributes=["email"]` when `aliases` > 0. `progress=True` prints throttled
    progress to stderr; a callable receives `Progress` reports instead. `graph=True`
    keeps the state graph for `write_dot`. `faults` is the test-only hook described in
    the module docstring. `self_service=True` adds the self-service operations to the
    alphabet (see the module docstring); the default pool then also auto-verifies
    emails (`AutoVerifiedAttributes=["email"]`), so that SignUp sends a code.
    `flows` adds other sign-in flows (any of `FLOWS`: "srp", "custom"; see the module
    docstring); with "custom" the pool's LambdaConfig names the explorer's functions.
    """
    if not 1 <= users <= MAX_USERS:
        raise ValueError(f"users must be between 1 and {MAX_USERS}")
    if not 0 <= aliases <= MAX_ALIASES:
        raise ValueError(f"aliases must be between 0 and {MAX_ALIASES}")
    wanted = set(flows)
    if wanted - set(FLOWS):
        raise ValueError(f"unknown flow(s) {', '.join(sorted(wanted - set(FLOWS)))}; known: {', '.join(FLOWS)}")
    chosen = tuple(f for f in FLOWS if f in wanted)
    if depth is None:
        depth = SELF_SERVICE_DEPTH if self_service else FLOWS_DEPTH if chosen else DEPTH
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
    if "custom" in chosen:
        request["LambdaConfig"] = {
            **(request.get("LambdaConfig") or {}), **{name: FUNCTION_ARN.format(name) for name in CUSTOM_FUNCTIONS},
        }
    report = _stderr_progress if progress is True else (progress or None)
    started = time.monotonic()
    with _faults_installed(faults):
        explorer = _Explorer(users, aliases, request, seed, self_service, chosen)
        return _search(explorer, depth, names, report, graph, started)


def _search(
    ex: _Explorer, max_depth: int, names: tuple[str, ...], report: Callable[[Progress], None] | None,
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
        following: list[_Node] = []
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


def _replay(ex: _Explorer, path: list[int]) -> list[TraceStep]:
    """The trace of `path` from the set-up state (every run of it gives the same responses)."""
    node, trace = ex.root, []
    for a in path:
        applied = ex.apply(node, ex.alphabet[a], Records.of(node.state))
        assert applied is not None, "a recorded path no longer replays"
        _, step, node = applied
        trace.append(step)
    return trace


# -- the state graph ---------------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_dot(result: Result, path: str | Path) -> None:
    """Write the explored state graph as Graphviz DOT (`explore(..., graph=True)`).
    Self-loops (requests that left the state as it was, refusals mostly) are left out."""
    if result.graph is None:
        raise ValueError("explore(..., graph=True) keeps the graph")
    lines = [
        "digraph explore {",
        "  // generated by authflow explore; self-loops (refused or idempotent requests) are left out",
        "  rankdir=LR;",
        '  node [shape=box, fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for index, label in enumerate(result.graph.labels):
        lines.append(f"  s{index} [label={_dot_string(label)}{', style=bold' if index == 0 else ''}];")
    merged: dict[tuple[int, int], list[str]] = {}
    for source, target, label in sorted(result.graph.edges):
        merged.setdefault((source, target), []).append(label)
    for (source, target), labels in sorted(merged.items()):
        lines.append(f"  s{source} -> s{target} [label={_dot_string(chr(10).join(labels))}];")
    lines.append("}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


