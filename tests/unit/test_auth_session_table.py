"""The exhaustive table test of the auth-session machine: for every (state, trigger)
pair and every combination of the guards' facts, driving the engine through the
public Client ends where `specs/auth-session.yaml` says, or raises a CognitoError
when the spec has no such transition.

A fact varies only where it can matter: DefineAuthChallenge's answers where a state
asks Define, the attempt's device (`device_remembered`, `device_skips_mfa`, which
implies it) where the spec's answer depends on it. A remembered device is a real one:
confirmed with the reference client's verifier, answering the device steps with its
own SRP proof."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest

from authflow.adapters import CallableTriggers
from authflow.conformance.srp_client import DeviceSrpClient, SrpClient, timestamp
from authflow.core.lifecycle import IllegalTransition, auth_session
from authflow.errors import CognitoError, InvalidParameterException, NotAuthorizedException
from tests.conftest import make_client
from tests.signin import NEW, TEMP, Env, confirm_new_device, tracking

MACHINE = auth_session()
PHONE = "+12065554567"
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
#: The device steps: a remembered device's own SRP proof.
DEVICE_STATES = ("DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER")
#: States a request can start from: the pseudo-state, and the challenges a session holds.
STARTS = ("INITIATED", "NEW_PASSWORD_REQUIRED", "SMS_MFA", "CUSTOM_CHALLENGE", "PASSWORD_VERIFIER", *DEVICE_STATES)
#: The attempt's device: none (a pool without device tracking), a remembered one, a
#: remembered one in a pool whose ChallengeRequiredOnNewDevice lets it stand in for MFA.
DEVICES = {
    "no_device": {"device_remembered": False, "device_skips_mfa": False},
    "remembered": {"device_remembered": True, "device_skips_mfa": False},
    "skips_mfa": {"device_remembered": True, "device_skips_mfa": True},
}
#: The MFA steps other than SMS_MFA are not driven by this table yet: their guards are false.
OTHER_MFA = {"software_token_mfa_required": False, "email_otp_mfa_required": False, "mfa_type_to_select": False,
             "mfa_setup_required": False}
FACTS = [
    {"must_change_password": must, "mfa_required": mfa, **OTHER_MFA, "fail_authentication": False,
     "issue_tokens": False, **DEVICES["no_device"]}
    for must, mfa in itertools.product((False, True), repeat=2)
]
#: The DefineAuthChallenge answers matter only where the machine asks Define.
CUSTOM_FACTS = [
    {**facts, "fail_authentication": fail, "issue_tokens": issue, "password_verifier_named": named}
    for facts in FACTS
    for fail, issue, named in itertools.product((False, True), repeat=3)
]
#: The device challenge a device trigger's answer is for.
DEVICE_ANSWERS = {"device_srp_started": "DEVICE_SRP_AUTH", "device_verified": "DEVICE_PASSWORD_VERIFIER"}
#: A DEVICE_KEY of the right shape that no device has.
UNKNOWN_KEY = "us-east-1_0badc0de-0000-4000-8000-000000000000"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def outcome(response) -> str:
    """The auth-session state a successful response shows."""
    if "AuthenticationResult" in response:
        return "AUTHENTICATED"
    return response["ChallengeName"]


class Attempt:
    """A pool whose MFA setting and a user whose status make the facts true, and
    custom-auth functions whose Define answers with the DefineAuthChallenge facts once
    `decide` is set (until then it asks a CUSTOM_CHALLENGE). With `device_remembered`,
    the pool tracks devices and the user has a remembered device (from a sign-in before
    the facts were put in place) whose DEVICE_KEY every request and answer carries."""

    def __init__(self, facts):
        self.env = env = Env()
        self.facts, self.decide = facts, False
        functions = {"DefineAuthChallenge": self._define, "CreateAuthChallenge": self._create,
                     "VerifyAuthChallengeResponse": self._verify}
        env.client = make_client(1, clock=env.clock, messenger=env.outbox,
                                 triggers=CallableTriggers({ARN.format(k): f for k, f in functions.items()}))
        extra = {"MfaConfiguration": "ON", "SmsConfiguration": SMS_CONFIG} if facts["mfa_required"] else {}
        extra["LambdaConfig"] = {k: ARN.format(k) for k in functions}
        if facts["device_remembered"]:
            extra["DeviceConfiguration"] = tracking(challenge_required=facts["device_skips_mfa"])
        self.pool = env.pool(**extra)
        self.app = env.app_id(self.pool)
        env.user(self.pool, attributes=[{"Name": "phone_number", "Value": PHONE}])
        self.password = TEMP
        self.device = None
        if facts["device_remembered"]:
            env.place(self.pool, "alice", status="CONFIRMED")
            self.device = self._remembered_device()
            if facts["must_change_password"]:
                env.place(self.pool, "alice", status="FORCE_CHANGE_PASSWORD")
        elif not facts["must_change_password"]:
            env.place(self.pool, "alice", status="CONFIRMED")

    def _remembered_device(self):
        """A first sign-in (a new device: no device steps) and ConfirmDevice of the
        device it issued, remembered at once."""
        response = self.initiate()
        while outcome(response) != "AUTHENTICATED":
            response = self.answer(response, outcome(response))
        device = confirm_new_device(self.env, response["AuthenticationResult"])
        assert self.env.client.admin_get_device(UserPoolId=self.pool, Username="alice", DeviceKey=device.key)
        return device

    def _with_device(self, values: dict) -> dict:
        return {**values, "DEVICE_KEY": self.device.key} if self.device else values

    def _define(self, event):
        rounds = event["request"]["session"]
        after_srp_a = bool(rounds) and rounds[-1]["challengeName"] == "SRP_A"
        if self.decide:
            event["response"].update(failAuthentication=self.facts["fail_authentication"],
                                     issueTokens=self.facts["issue_tokens"])
        if not event["response"]["failAuthentication"] and not event["response"]["issueTokens"]:
            # Neither: the next challenge; the password proof only right after SRP_A.
            named = after_srp_a and (not self.decide or self.facts.get("password_verifier_named"))
            event["response"]["challengeName"] = "PASSWORD_VERIFIER" if named else "CUSTOM_CHALLENGE"
        return event

    def _create(self, event):
        event["response"].update(publicChallengeParameters={"question": "6 * 7"},
                                 privateChallengeParameters={"answer": "42"})
        return event

    def _verify(self, event):
        event["response"]["answerCorrect"] = event["request"]["challengeAnswer"] == "42"
        return event

    def initiate(self, password=None):
        return self.env.initiate(self.app, password=password or self.password,
                                 **self._with_device({}))

    def custom(self):
        return self.env.client.initiate_auth(ClientId=self.app, AuthFlow="CUSTOM_AUTH",
                                             AuthParameters=self._with_device({"USERNAME": "alice"}))

    def custom_srp(self):
        """CUSTOM_AUTH beginning with SRP_A (what amazon-cognito-identity-js sends)."""
        self.srp_client = SrpClient(self.pool, 0xB0B)
        return self.env.client.initiate_auth(
            ClientId=self.app, AuthFlow="CUSTOM_AUTH",
            AuthParameters=self._with_device(
                {"USERNAME": "alice", "CHALLENGE_NAME": "SRP_A", "SRP_A": self.srp_client.srp_a}),
        )

    def srp(self):
        """USER_SRP_AUTH by the specification's client: a PASSWORD_VERIFIER challenge."""
        self.srp_client = SrpClient(self.pool, 0xA11CE)
        return self.env.client.initiate_auth(
            ClientId=self.app, AuthFlow="USER_SRP_AUTH",
            AuthParameters=self._with_device({"USERNAME": "alice", "SRP_A": self.srp_client.srp_a}),
        )

    def reach(self, state):
        """A response whose session is in challenge `state`."""
        if state == "CUSTOM_CHALLENGE":
            return self.custom()
        if state == "PASSWORD_VERIFIER":
            return self.srp()
        response = self.initiate()
        while outcome(response) != state:
            assert outcome(response) != "AUTHENTICATED", f"{state} was never asked"
            response = self.answer(response, outcome(response))
        return response

    def answer(self, response, challenge, *, good=True):
        if challenge == "NEW_PASSWORD_REQUIRED":
            responses = {"USERNAME": "alice", "NEW_PASSWORD": NEW if good else "weak"}
        elif challenge == "CUSTOM_CHALLENGE":
            responses = {"USERNAME": "alice", "ANSWER": "42"}
        elif challenge == "PASSWORD_VERIFIER":  # no Session: the state is in SECRET_BLOCK
            responses = self.srp_client.answer(response["ChallengeParameters"],
                                               self.password if good else "Wrong1234!", self.env.clock.now())
            return self.env.client.respond_to_auth_challenge(ClientId=self.app, ChallengeName=challenge,
                                                             ChallengeResponses=self._with_device(responses))
        elif challenge == "DEVICE_SRP_AUTH":  # a bad SRP_A: 0 modulo N
            self.device_srp = self.device.srp()
            responses = {"USERNAME": "alice", "SRP_A": self.device_srp.srp_a if good else "0"}
        elif challenge == "DEVICE_PASSWORD_VERIFIER":  # a bad proof: another device password
            srp = self.device_srp if good else DeviceSrpClient(self.device.group, self.device.key, "wrong",
                                                               self.device_srp.a)
            responses = srp.answer(response["ChallengeParameters"], "alice", self.env.clock.now())
        else:
            code = re.search(r"\d{6}", self.env.outbox.last().body).group() if good else "000000"
            responses = {"USERNAME": "alice", "SMS_MFA_CODE": code}
        return self.env.respond(self.app, response["Session"], self._with_device(responses), name=challenge)


def drive(attempt: Attempt, state: str, trigger: str) -> str:
    """Fire `trigger` from `state` through the Client; the state it ends in, or
    REFUSED."""
    if state == "INITIATED":
        if trigger == "password_verified":
            return outcome(attempt.initiate())
        if trigger == "password_rejected":
            with pytest.raises(CognitoError):
                attempt.initiate(password="Wrong1234!")
            return "FAILED"
        if trigger == "refresh_token_accepted":
            return _refresh(attempt)
        if trigger == "challenge_defined":
            attempt.decide = True
            return _defined(attempt.custom_srp)
        if trigger == "srp_started":
            return outcome(attempt.srp())
        return _wrong_step(attempt, None, state, trigger)
    if (state, trigger) == ("PASSWORD_VERIFIER", "challenge_defined"):
        started = attempt.custom_srp()  # Define (not deciding yet) asks for the proof
        attempt.decide = True
        return _defined(lambda: attempt.answer(started, state))
    session = attempt.reach(state)
    if (state, trigger) == ("CUSTOM_CHALLENGE", "challenge_defined"):
        attempt.decide = True
        return _defined(lambda: attempt.answer(session, state))
    if state == "CUSTOM_CHALLENGE" and trigger != "session_expired":
        # Any answer to a custom challenge goes to Define; nothing else can be sent.
        return _wrong_step(attempt, session, state, trigger)
    if trigger == "session_expired":
        attempt.env.clock.advance(timedelta(minutes=3))
        with pytest.raises(CognitoError, match="session is expired"):
            attempt.answer(session, state)
        return "EXPIRED"
    if trigger == "answer_rejected":
        with pytest.raises(CognitoError):
            attempt.answer(session, state, good=False)
        attempt.answer(session, state)  # the same session still takes a good answer
        return state
    if (state, trigger) in (("NEW_PASSWORD_REQUIRED", "new_password_set"), ("SMS_MFA", "mfa_code_verified"),
                            ("PASSWORD_VERIFIER", "password_verified"), ("DEVICE_SRP_AUTH", "device_srp_started"),
                            ("DEVICE_PASSWORD_VERIFIER", "device_verified")):
        return outcome(attempt.answer(session, state))
    return _wrong_step(attempt, session, state, trigger)


def _defined(call) -> str:
    """Where Define's answer leads: the response's state, or FAILED."""
    try:
        return outcome(call())
    except NotAuthorizedException as err:
        assert err.message == "Incorrect username or password."
        return "FAILED"


def _refresh(attempt: Attempt) -> str:
    response = attempt.initiate()
    while outcome(response) != "AUTHENTICATED":
        response = attempt.answer(response, outcome(response))
    refreshed = attempt.env.client.initiate_auth(
        ClientId=attempt.app, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": response["AuthenticationResult"]["RefreshToken"]},
    )
    return outcome(refreshed)


def _wrong_step(attempt: Attempt, session, state: str, trigger: str) -> str:
    """A trigger the state has no transition for. The only way a client can try one
    is to answer something the session is not waiting for (or to answer without a
    session at all): that must be refused."""
    if session is not None and "Session" not in session:
        session = None  # PASSWORD_VERIFIER gives no Session to answer another challenge with
    if state in DEVICE_STATES or trigger in DEVICE_ANSWERS:
        return _wrong_device_step(attempt, session, state, trigger)
    other = "SMS_MFA" if state == "NEW_PASSWORD_REQUIRED" else "NEW_PASSWORD_REQUIRED"
    # A well-formed answer to the other challenge (no SMS code exists yet before
    # SMS_MFA, so any six digits): refused for the mismatch, not for its content.
    expected = InvalidParameterException if session else NotAuthorizedException
    with pytest.raises(expected, match="challenge name" if session else "Invalid session"):
        attempt.answer(session or {"Session": "s" * 40}, other, good=other == "NEW_PASSWORD_REQUIRED")
    return "REFUSED"


def _wrong_device_step(attempt: Attempt, session, state: str, trigger: str) -> str:
    """In a device step, the other device step's answer: the device's pending sign-in
    is not waiting for it. A device step's answer elsewhere: there is no device sign-in
    to continue (the attempt's own key, or one no device has)."""
    if state in DEVICE_STATES:
        other = "DEVICE_PASSWORD_VERIFIER" if state == "DEVICE_SRP_AUTH" else "DEVICE_SRP_AUTH"
        expected, match = InvalidParameterException, "challenge name"
    else:
        other, expected, match = DEVICE_ANSWERS[trigger], NotAuthorizedException, "Invalid session"
    key = attempt.device.key if attempt.device else UNKNOWN_KEY
    if other == "DEVICE_SRP_AUTH":
        responses = {"SRP_A": SrpClient(attempt.pool, 0xD1CE).srp_a}
    else:
        when = timestamp(attempt.env.clock.now())
        responses = {"PASSWORD_CLAIM_SECRET_BLOCK": "AAAA", "PASSWORD_CLAIM_SIGNATURE": "AAAA", "TIMESTAMP": when}
    request = {"ClientId": attempt.app, "ChallengeName": other,
               "ChallengeResponses": {"USERNAME": "alice", "DEVICE_KEY": key, **responses}}
    if session is not None:
        request["Session"] = session["Session"]
    with pytest.raises(expected, match=match):
        attempt.env.client.respond_to_auth_challenge(**request)
    return "REFUSED"


def reachable(state: str, facts) -> bool:
    """A challenge is only ever asked when its fact holds (SMS_MFA: and no device stands
    in for it)."""
    return {
        "NEW_PASSWORD_REQUIRED": facts["must_change_password"],
        "SMS_MFA": facts["mfa_required"] and not facts["device_skips_mfa"],
        "DEVICE_SRP_AUTH": facts["device_remembered"],
        "DEVICE_PASSWORD_VERIFIER": facts["device_remembered"],
    }.get(state, True)


def _expected(state: str, trigger: str, facts) -> str:
    try:
        return MACHINE.next_state(state, trigger, facts)
    except IllegalTransition:
        return "REFUSED"


def fact_sets(state: str, trigger: str):
    """The fact combinations (state, trigger) is driven with: Define's answers where the
    state asks Define; the device variants where the spec's answer depends on them (a
    device step needs a remembered device to be reached at all)."""
    base = CUSTOM_FACTS if MACHINE.allowed(state, "challenge_defined") and trigger == "challenge_defined" else FACTS
    for facts in base:
        if state in DEVICE_STATES:
            variants = [{**facts, **DEVICES["remembered"]}]
        else:
            variants = [{**facts, **device} for device in DEVICES.values()]
            if len({_expected(state, trigger, v) for v in variants if reachable(state, v)}) <= 1:
                variants = variants[:1]
        yield from (v for v in variants if reachable(state, v))


def _case_id(state: str, trigger: str, facts) -> str:
    named = [k for k, v in facts.items() if v and not (k == "device_remembered" and facts["device_skips_mfa"])]
    return f"{state}-{trigger}-{'+'.join(named) or 'none'}"


CASES = [
    pytest.param(state, trigger, facts, id=_case_id(state, trigger, facts))
    for state in STARTS
    for trigger in MACHINE.triggers
    for facts in fact_sets(state, trigger)
]


@pytest.mark.parametrize(("state", "trigger", "facts"), CASES)
def test_every_state_trigger_and_fact_combination(state, trigger, facts):
    assert drive(Attempt(facts), state, trigger) == _expected(state, trigger, facts)


def test_the_table_covers_every_state_a_session_can_hold():
    assert set(STARTS) | {"AUTHENTICATED", "FAILED", "EXPIRED"} == set(MACHINE.states)


def test_the_table_supplies_every_fact_the_spec_names():
    named = {guard.removeprefix("not ") for *_, guards in MACHINE.transitions() for guard in guards}
    assert named == set(CUSTOM_FACTS[0])
    assert all(set(device) == set(DEVICES["no_device"]) for device in DEVICES.values())


def test_every_device_variant_is_driven_where_it_changes_the_outcome():
    """The variants are not pruned away: each one ends somewhere at least once, and a
    remembered device's steps are reached through every step that can lead to them."""
    driven = {(state, trigger, tuple(facts[k] for k in DEVICES["no_device"])) for state, trigger, facts in
              (case.values for case in CASES)}
    for device in DEVICES.values():
        assert ("INITIATED", "password_verified", tuple(device.values())) in driven
    for state, trigger in (("NEW_PASSWORD_REQUIRED", "new_password_set"), ("SMS_MFA", "mfa_code_verified"),
                           ("PASSWORD_VERIFIER", "password_verified"), ("CUSTOM_CHALLENGE", "challenge_defined")):
        assert (state, trigger, (True, False)) in driven
