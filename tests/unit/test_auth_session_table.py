"""The exhaustive table test of the auth-session machine: for every (state, trigger)
pair and every combination of the guards' facts, driving the engine through the
public Client ends where `specs/auth-session.yaml` says, or raises a CognitoError
when the spec has no such transition."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest

from authflow.adapters import CallableTriggers
from authflow.conformance.srp_client import SrpClient
from authflow.core.lifecycle import IllegalTransition, auth_session
from authflow.errors import CognitoError, InvalidParameterException, NotAuthorizedException
from tests.conftest import make_client
from tests.signin import NEW, TEMP, Env

MACHINE = auth_session()
PHONE = "+12065554567"
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
#: States a request can start from: the pseudo-state, and the challenges a session holds.
STARTS = ("INITIATED", "NEW_PASSWORD_REQUIRED", "SMS_MFA", "CUSTOM_CHALLENGE", "PASSWORD_VERIFIER")
FACTS = [
    {"must_change_password": must, "mfa_required": mfa, "fail_authentication": False, "issue_tokens": False}
    for must, mfa in itertools.product((False, True), repeat=2)
]
#: The DefineAuthChallenge answers matter only where the machine asks Define.
CUSTOM_FACTS = [
    {**facts, "fail_authentication": fail, "issue_tokens": issue, "password_verifier_named": named}
    for facts in FACTS
    for fail, issue, named in itertools.product((False, True), repeat=3)
]
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def outcome(response) -> str:
    """The auth-session state a successful response shows."""
    if "AuthenticationResult" in response:
        return "AUTHENTICATED"
    return response["ChallengeName"]


class Attempt:
    """A pool whose MFA setting and a user whose status make the facts true, and
    custom-auth functions whose Define answers with the DefineAuthChallenge facts once
    `decide` is set (until then it asks a CUSTOM_CHALLENGE)."""

    def __init__(self, facts):
        self.env = env = Env()
        self.facts, self.decide = facts, False
        functions = {"DefineAuthChallenge": self._define, "CreateAuthChallenge": self._create,
                     "VerifyAuthChallengeResponse": self._verify}
        env.client = make_client(1, clock=env.clock, messenger=env.outbox,
                                 triggers=CallableTriggers({ARN.format(k): f for k, f in functions.items()}))
        extra = {"MfaConfiguration": "ON", "SmsConfiguration": SMS_CONFIG} if facts["mfa_required"] else {}
        extra["LambdaConfig"] = {k: ARN.format(k) for k in functions}
        self.pool = env.pool(**extra)
        self.app = env.app_id(self.pool)
        env.user(self.pool, attributes=[{"Name": "phone_number", "Value": PHONE}])
        self.password = TEMP
        if not facts["must_change_password"]:
            env.place(self.pool, "alice", status="CONFIRMED")

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
        return self.env.initiate(self.app, password=password or self.password)

    def custom(self):
        return self.env.client.initiate_auth(ClientId=self.app, AuthFlow="CUSTOM_AUTH",
                                             AuthParameters={"USERNAME": "alice"})

    def custom_srp(self):
        """CUSTOM_AUTH beginning with SRP_A (what amazon-cognito-identity-js sends)."""
        self.srp_client = SrpClient(self.pool, 0xB0B)
        return self.env.client.initiate_auth(
            ClientId=self.app, AuthFlow="CUSTOM_AUTH",
            AuthParameters={"USERNAME": "alice", "CHALLENGE_NAME": "SRP_A", "SRP_A": self.srp_client.srp_a},
        )

    def srp(self):
        """USER_SRP_AUTH by the specification's client: a PASSWORD_VERIFIER challenge."""
        self.srp_client = SrpClient(self.pool, 0xA11CE)
        return self.env.client.initiate_auth(ClientId=self.app, AuthFlow="USER_SRP_AUTH",
                                             AuthParameters={"USERNAME": "alice", "SRP_A": self.srp_client.srp_a})

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
                                                             ChallengeResponses=responses)
        else:
            code = re.search(r"\d{6}", self.env.outbox.last().body).group() if good else "000000"
            responses = {"USERNAME": "alice", "SMS_MFA_CODE": code}
        return self.env.respond(self.app, response["Session"], responses, name=challenge)


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
        return _wrong_step(attempt, None, state)
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
        return _wrong_step(attempt, session, state)
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
                            ("PASSWORD_VERIFIER", "password_verified")):
        return outcome(attempt.answer(session, state))
    return _wrong_step(attempt, session, state)


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


def _wrong_step(attempt: Attempt, session, state: str) -> str:
    """A trigger the state has no transition for. The only way a client can try one
    is to answer something the session is not waiting for (or to answer without a
    session at all): that must be refused."""
    if session is not None and "Session" not in session:
        session = None  # PASSWORD_VERIFIER gives no Session to answer another challenge with
    other = "SMS_MFA" if state == "NEW_PASSWORD_REQUIRED" else "NEW_PASSWORD_REQUIRED"
    # A well-formed answer to the other challenge (no SMS code exists yet before
    # SMS_MFA, so any six digits): refused for the mismatch, not for its content.
    expected = InvalidParameterException if session else NotAuthorizedException
    with pytest.raises(expected, match="challenge name" if session else "Invalid session"):
        attempt.answer(session or {"Session": "s" * 40}, other, good=other == "NEW_PASSWORD_REQUIRED")
    return "REFUSED"


def reachable(state: str, facts) -> bool:
    """A challenge is only ever asked when its fact holds."""
    return {"NEW_PASSWORD_REQUIRED": facts["must_change_password"], "SMS_MFA": facts["mfa_required"]}.get(state, True)


CASES = [
    pytest.param(state, trigger, facts, id=f"{state}-{trigger}-{'+'.join(k for k, v in facts.items() if v) or 'none'}")
    for state in STARTS
    for trigger in MACHINE.triggers
    for facts in (CUSTOM_FACTS if trigger == "challenge_defined" else FACTS)
    if reachable(state, facts)
]


@pytest.mark.parametrize(("state", "trigger", "facts"), CASES)
def test_every_state_trigger_and_fact_combination(state, trigger, facts):
    try:
        expected = MACHINE.next_state(state, trigger, facts)
    except IllegalTransition:
        expected = "REFUSED"
    assert drive(Attempt(facts), state, trigger) == expected


def test_the_table_covers_every_state_a_session_can_hold():
    assert set(STARTS) | {"AUTHENTICATED", "FAILED", "EXPIRED"} == set(MACHINE.states)
