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
from authflow.explore import passwordless
from authflow.explore.actions import ADVANCE, Action
from authflow.explore.alphabet import base_attributes, build_alphabet
from authflow.explore.caller import (
    ROTATION_HELD,
    Caller,
    Challenge,
    HeldCode,
    HeldDevice,
    HeldFamily,
    HeldTotp,
    Tokens,
    pruned,
)
from authflow.explore.digest import StateDigest
from authflow.explore.flows import CUSTOM_FUNCTIONS, FUNCTION_ARN, HIDDEN_CLIENT_REQUEST
from authflow.explore.groups import GROUPS
from authflow.explore.results import TraceStep
from authflow.explore.rotation import ROTATING_CLIENT_REQUEST
from authflow.explore.totp import PREFER_TOTP, code_now
from authflow.explore.universe import CLIENT_REQUEST, FLOWS, START, build_universe
from authflow.invariants import History, Records, Step, observe, rfc6238, token_owner
from authflow.invariants.reading import access_owner, claims_of
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
    allowed = {"srp": "ALLOW_USER_SRP_AUTH", "custom": "ALLOW_CUSTOM_AUTH", "passwordless": "ALLOW_USER_AUTH"}
    extra = [allowed[f] for f in FLOWS if f in flows and f in allowed]
    return {**CLIENT_REQUEST, "ExplicitAuthFlows": [*CLIENT_REQUEST["ExplicitAuthFlows"], *extra]}


class Explorer(StateDigest):
    def __init__(
        self, users: int, aliases: int, pool_request: Mapping[str, Any], seed: int, self_service: bool = False,
        flows: tuple[str, ...] = (), totp_mode: str = "OPTIONAL", family_users: int | None = None,
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
        self.setup = (
            TraceStep("set-up", "CreateUserPool", dict(pool_request), {"UserPool": {"Id": self.pool_id}}, None),
        )
        if "totp" in flows:
            mfa = {"UserPoolId": self.pool_id, "MfaConfiguration": totp_mode,
                   "SoftwareTokenMfaConfiguration": {"Enabled": True}}
            self.setup += (TraceStep("set-up", "SetUserPoolMfaConfig", mfa,
                                     self.client.set_user_pool_mfa_config(**mfa), None),)
        for group in GROUPS if "groups" in flows else ():
            created = {"UserPoolId": self.pool_id, **group}
            self.client.create_group(**created)
            self.setup += (TraceStep("set-up", "CreateGroup", created, {}, None),)
        client_request = _client_request(flows)
        app = self.client.create_user_pool_client(UserPoolId=self.pool_id, **client_request)["UserPoolClient"]
        self.client_id = app["ClientId"]
        self.setup += (
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
        self.rotating_id = None
        if "rotation" in flows:
            rotating = self.client.create_user_pool_client(UserPoolId=self.pool_id, **ROTATING_CLIENT_REQUEST)
            self.rotating_id = rotating["UserPoolClient"]["ClientId"]
            self.setup += (TraceStep(
                "set-up", "CreateUserPoolClient", {"UserPoolId": self.pool_id, **ROTATING_CLIENT_REQUEST},
                {"UserPoolClient": {"ClientId": self.rotating_id}}, None,
            ),)
        self.universe = build_universe(users, aliases, pool, app, self_service, flows, family_users)
        self.by_login = dict(zip(self.universe.logins, range(users), strict=True))
        history = History()
        held_totp: list[HeldTotp | None] = [None] * users
        if {"devices", "groups", "totp", "rotation", "passwordless"} & set(flows):
            self._set_up_users()
        if "totp" in flows and totp_mode != "ON":
            history = self._enrol_users(held_totp)
        held_rotating: list[HeldFamily | None] = [None] * users
        if "rotation" in flows:
            history = self._sign_in_rotating(history, held_rotating)
        held_tokens: list[Tokens | None] = [None] * users
        held_passwordless: list[Any] = [None] * users
        if "passwordless" in flows:
            history = passwordless.set_up(self, history, held_tokens, held_passwordless)
        #: The password each SRP claim the alphabet signed was signed with (by signature).
        self.claims: dict[str, str] = {}
        self.alphabet = build_alphabet(self.universe, self.pool_id, self.client_id, hidden_id=self.hidden_id,
                                  clock=self.clock.now, claims=self.claims, rotating_id=self.rotating_id)
        self._password_ids: dict[str, str] = {}
        self._opened: dict[bytes, str] = {}
        self.root = Node(
            0, 0, self.store.snapshot(), self.clock.now(), self.entropy.position,
            Caller(challenges=(None,) * users, tokens=tuple(held_tokens), codes=((),) * users, history=history,
                   devices=(None,) * users if "devices" in flows else (),
                   totp=tuple(held_totp) if "totp" in flows else (),
                   rotating=tuple(held_rotating) if "rotation" in flows else (),
                   passwordless=tuple(held_passwordless) if "passwordless" in flows else ()),
        )

    def _set_up_users(self) -> None:
        """With the device, group or TOTP flows, every universe user starts CONFIRMED with the new
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

    def _enrol_users(self, held: list[HeldTotp | None]) -> History:
        """With the TOTP flows of an OPTIONAL pool, every universe user has a verified
        authenticator it prefers (a sign-in, AssociateSoftwareToken, VerifySoftwareToken with
        the current code, SetUserMFAPreference), so that a SOFTWARE_TOKEN_MFA sign-in is two
        requests deep; the caller holds each secret, and the history knows it verified and
        its code used. (Under MFA ON nobody is enrolled: MFA_SETUP is what is explored.) Only
        the users the TOTP requests act for (`family_users`): the others sign in without MFA."""
        u, history = self.universe, History()
        for i, login in enumerate(u.logins[:u.family_users]):  # the others have no TOTP requests
            calls = [("InitiateAuth", "initiate_auth", {"ClientId": self.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                                                        "AuthParameters": {"USERNAME": login, "PASSWORD": u.new}})]
            records = Records.of(self.store)
            response = self.client.initiate_auth(**calls[0][2])
            steps = [(calls[0], response, records)]
            access = response["AuthenticationResult"]["AccessToken"]
            secret = None
            for operation, method, request in (
                ("AssociateSoftwareToken", "associate_software_token", {"AccessToken": access}),
                ("VerifySoftwareToken", "verify_software_token", {"AccessToken": access}),
                ("SetUserMFAPreference", "set_user_mfa_preference", {"AccessToken": access, **PREFER_TOTP}),
            ):
                if operation == "VerifySoftwareToken":
                    code, step = code_now(secret, self.clock.now())
                    request = {**request, "UserCode": code}
                records = Records.of(self.store)
                response = getattr(self.client, method)(**request)
                secret = response.get("SecretCode", secret)
                steps.append(((operation, method, request), response, records))
            for (operation, _, request), response, before in steps:
                history = observe(history, Step(operation=operation, request=request, response=response, error=None,
                                                before=before, after=Records.of(self.store), now=self.clock.now(),
                                                history=history))
                self.setup += (TraceStep("set-up", operation, request, {}, None),)
            held[i] = HeldTotp(secret, code, step)
        return replace(history, refresh_tokens=frozenset())  # the set-up's tokens are not the caller's

    def _sign_in_rotating(self, history: History, held: list[HeldFamily | None]) -> History:
        """With the rotation flows, every user the family acts for starts signed in through the
        rotating client (the caller holds that family, and its history knows it), so that a
        rotation, a clock jump past the grace period, the reuse and a refresh after it are four
        levels deep."""
        u = self.universe
        for i, login in enumerate(u.logins[:u.family_users]):
            request = {"ClientId": self.rotating_id, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": login, "PASSWORD": u.new}}
            before = Records.of(self.store)
            response = self.client.initiate_auth(**request)
            history = observe(history, Step(operation="InitiateAuth", request=request, response=response, error=None,
                                            before=before, after=Records.of(self.store), now=self.clock.now(),
                                            history=history))
            result = response["AuthenticationResult"]
            held[i] = HeldFamily(result["AccessToken"], self.clock.now() + timedelta(seconds=int(result["ExpiresIn"])),
                                 (result["RefreshToken"],))
            self.setup += (TraceStep("set-up", "InitiateAuth", request, {}, None),)
        return history

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
        rotating = list(caller.rotating)
        if result and rotating and step.request.get("ClientId") == self.rotating_id:
            self._rotating_after(step, result, after, rotating)
            result = None  # the rotating client's tokens are held apart from the default client's
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
        totp = list(caller.totp)
        if totp and step.ok:
            self._totp_after(step, after, challenges, totp)
        codes = [dict(held) for held in caller.codes]
        for pool_id, sub, purpose, code, _ in history.sent_codes - caller.history.sent_codes:
            user = after.user_by_sub(pool_id, sub)
            slot = self._slot(user)
            if slot is not None and purpose in user.codes:
                codes[slot][purpose] = HeldCode(code, user.codes[purpose].code_hash)
        held = tuple(tuple(sorted(c.items())) for c in codes)
        return Caller(tuple(challenges), tuple(tokens), pruned(history, challenges, tokens, held, devices, rotating),
                      held, tuple(devices), tuple(totp), tuple(rotating),
                      passwordless.held_after(self, caller, step) if caller.passwordless else ())

    def _rotating_after(self, step: Step, result: Mapping[str, Any], after: Records, rotating: list) -> None:
        """Tokens through the rotating client: a sign-in begins a new held family; a refresh
        (GetTokensFromRefreshToken) adds the new refresh token as the latest, the ones before
        it kept (at most ROTATION_HELD), and replaces the access token."""
        owner = token_owner(result)
        slot = self._slot(after.user_by_sub(*owner)) if owner else None
        if slot is None:
            return
        expires = step.now + timedelta(seconds=int(result.get("ExpiresIn", 0)))
        held = rotating[slot]
        if step.operation == "GetTokensFromRefreshToken" and held is not None:
            refresh = held.refresh + ((result["RefreshToken"],) if result.get("RefreshToken") else ())
            rotating[slot] = HeldFamily(result["AccessToken"], expires, refresh[-ROTATION_HELD:])
        elif result.get("RefreshToken"):
            rotating[slot] = HeldFamily(result["AccessToken"], expires, (result["RefreshToken"],))

    def _totp_after(self, step: Step, after: Records, challenges: list, totp: list) -> None:
        """What a successful TOTP step gives the caller: the secret handed out, the code it
        saw accepted (and its time step), the next MFA_SETUP Session."""
        request, response = step.request, step.response or {}
        answer = step.operation in ("RespondToAuthChallenge", "AdminRespondToAuthChallenge") and \
            request.get("ChallengeName") == "SOFTWARE_TOKEN_MFA"
        if step.operation not in ("AssociateSoftwareToken", "VerifySoftwareToken") and not answer:
            return
        owner = access_owner(request) if request.get("AccessToken") else None
        record = step.before.session(request["Session"]) if isinstance(request.get("Session"), str) else None
        if owner is None and record is not None:
            owner = (record.pool_id, record.sub)
        slot = self._slot(after.user_by_sub(*owner)) if owner else None
        if slot is None:
            return
        if step.operation == "AssociateSoftwareToken":
            totp[slot] = HeldTotp(response["SecretCode"])
        elif totp[slot] is not None:
            code = request.get("UserCode") or (request.get("ChallengeResponses") or {}).get("SOFTWARE_TOKEN_MFA_CODE")
            steps = rfc6238.steps_of(totp[slot].secret, code, rfc6238.time_step(step.now.timestamp()))
            totp[slot] = replace(totp[slot], used=code, used_step=steps[0] if steps else None)
        if response.get("Session") and challenges[slot] is not None:
            challenges[slot] = replace(challenges[slot], session=response["Session"])
