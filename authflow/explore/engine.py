"""The engine under exploration: `Explorer` sets up a pool and its app clients (and, with
the device flows, its users) through an
`authflow.Client` over a MemoryStore, a ManualClock and `RewindableEntropy`; its `apply`
runs one alphabet entry against a state (its snapshot restored, the clock set, the entropy
rewound) and returns the checked `Step`, the `TraceStep` and the next state (`Node`), with
what the caller holds after it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from authflow.adapters.clocks import ManualClock
from authflow.adapters.memory import MemoryStore
from authflow.adapters.triggers import CallableTriggers
from authflow.client import Client, method_name
from authflow.config import EngineConfig
from authflow.crypto.keys import TEST_KEYS
from authflow.crypto.passwords import FAST_INSECURE
from authflow.errors import CognitoError
from authflow.explore.actions import ADVANCE, Action
from authflow.explore.alphabet import base_attributes, build_alphabet
from authflow.explore.caller import Caller, Challenge, HeldCode, HeldDevice, Tokens, pruned
from authflow.explore.digest import StateDigest
from authflow.explore.flows import CUSTOM_FUNCTIONS, FUNCTION_ARN, HIDDEN_CLIENT_REQUEST
from authflow.explore.results import TraceStep
from authflow.explore.universe import CLIENT_REQUEST, FLOWS, START, build_universe
from authflow.invariants import Records, Step, observe, token_owner
from authflow.invariants.reading import claims_of
from authflow.service.registry import load_all


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
class Node:
    index: int
    depth: int
    state: Any  # a MemoryStore snapshot
    now: datetime
    entropy: int
    caller: Caller


def _client_request(flows: Iterable[str]) -> dict[str, Any]:
    """The app client's CreateUserPoolClient request: the default one, with the flows' own."""
    allowed = {"srp": "ALLOW_USER_SRP_AUTH", "custom": "ALLOW_CUSTOM_AUTH"}
    extra = [allowed[f] for f in FLOWS if f in flows and f in allowed]
    return {**CLIENT_REQUEST, "ExplicitAuthFlows": [*CLIENT_REQUEST["ExplicitAuthFlows"], *extra]}


class Explorer(StateDigest):
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
        self.universe = build_universe(users, aliases, pool, app, self_service, flows)
        self.by_login = dict(zip(self.universe.logins, range(users), strict=True))
        if "devices" in flows:
            self._set_up_users()
        #: The password each SRP claim the alphabet signed was signed with (by signature).
        self.claims: dict[str, str] = {}
        self.alphabet = build_alphabet(self.universe, self.pool_id, self.client_id, hidden_id=self.hidden_id,
                                  clock=self.clock.now, claims=self.claims)
        self._password_ids: dict[str, str] = {}
        self.root = Node(
            0, 0, self.store.snapshot(), self.clock.now(), self.entropy.position,
            Caller(challenges=(None,) * users, tokens=(None,) * users, codes=((),) * users,
                   devices=(None,) * users if "devices" in flows else ()),
        )

    def _set_up_users(self) -> None:
        """With the device flows, every universe user starts CONFIRMED with the new
        password (AdminCreateUser, then AdminSetUserPassword Permanent), so that the
        device steps (tokens, ConfirmDevice, a device sign-in of three requests) are
        within a few levels; deleting and re-creating a user still explores the rest."""
        u = self.universe
        for i, login in enumerate(u.logins):
            create = {"UserPoolId": self.pool_id, "Username": login, "TemporaryPassword": u.temporary,
                      "MessageAction": "SUPPRESS", "UserAttributes": base_attributes(u, i)}
            created = self.client.admin_create_user(**create)
            permanent = {"UserPoolId": self.pool_id, "Username": login, "Password": u.new, "Permanent": True}
            self.client.admin_set_user_password(**permanent)
            self.setup += (
                TraceStep("set-up", "AdminCreateUser", create, {"User": {"Username": created["User"]["Username"]}},
                          None),
                TraceStep("set-up", "AdminSetUserPassword", permanent, {}, None),
            )

    # -- running one request ------------------------------------------------------------------------

    def apply(self, node: Node, action: Action, records: Records) -> tuple[Step, TraceStep, Node] | None:
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
        return step, trace, Node(-1, node.depth + 1, state, now, self.entropy.position, caller)

    @staticmethod
    def _carried(caller: Caller, step: Step, slot: int | None) -> HeldDevice | None:
        """The held device a sign-in step carried: by the DEVICE_KEY it sent, or, for an
        answer, the device of the challenge it answered."""
        if not caller.devices:
            return None
        given = step.request.get("AuthParameters") or step.request.get("ChallengeResponses") or {}
        key = given.get("DEVICE_KEY")
        if key:
            return next((d for d in caller.devices if d is not None and d.key == key), None)
        previous = caller.challenges[slot] if slot is not None else None
        if previous is not None and previous.session == step.request.get("Session"):
            return previous.device
        return None

    def _caller_after(self, caller: Caller, step: Step, after: Records) -> Caller:
        history = observe(caller.history, step)
        challenges, tokens, devices = list(caller.challenges), list(caller.tokens), list(caller.devices)
        response = step.response or {}
        if step.ok and "ChallengeName" in response:
            parameters = response.get("ChallengeParameters") or {}
            named = parameters.get("USER_ID_FOR_SRP") or parameters.get("USERNAME", "")
            given = step.request.get("AuthParameters") or step.request.get("ChallengeResponses") or {}
            if response["ChallengeName"] == "DEVICE_SRP_AUTH":  # its parameters name nobody
                named = given.get("USERNAME", "")
            user = after.user_named(self.pool_id, named)
            slot = self._slot(user) if user is not None else self.by_login.get(named)  # a name no user has
            device = self._carried(caller, step, slot)
            if slot is not None and response["ChallengeName"] in ("DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"):
                challenges[slot] = Challenge(
                    session=response["Session"], name=response["ChallengeName"], username=named,
                    parameters=tuple(sorted(parameters.items())), device=device,
                )
            elif slot is not None and response["ChallengeName"] == "PASSWORD_VERIFIER":
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
                    device=device,
                )
        result = response.get("AuthenticationResult") if step.ok else None
        if result:
            owner = token_owner(result)
            slot = self._slot(after.user_by_sub(*owner)) if owner else None
            if slot is not None:
                expires = step.now + timedelta(seconds=int(result.get("ExpiresIn", 0)))
                if result.get("RefreshToken"):
                    tokens[slot] = Tokens(result["AccessToken"], result["RefreshToken"], expires,
                                          claims_of(result["AccessToken"]).get("device_key"))
                metadata = result.get("NewDeviceMetadata")
                if metadata and devices:
                    devices[slot] = HeldDevice(metadata["DeviceKey"], metadata["DeviceGroupKey"], slot)
                elif tokens[slot] is not None:
                    tokens[slot] = replace(tokens[slot], access=result["AccessToken"], access_expires=expires)
        codes = [dict(held) for held in caller.codes]
        for pool_id, sub, purpose, code, _ in history.sent_codes - caller.history.sent_codes:
            user = after.user_by_sub(pool_id, sub)
            slot = self._slot(user)
            if slot is not None and purpose in user.codes:
                codes[slot][purpose] = HeldCode(code, user.codes[purpose].code_hash)
        held = tuple(tuple(sorted(c.items())) for c in codes)
        return Caller(tuple(challenges), tuple(tokens), pruned(history, challenges, tokens, held, devices), held,
                      tuple(devices))
