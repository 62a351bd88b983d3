"""The exhaustive table test of the auth-session machine: for every (state, trigger)
pair and every combination of the guards' facts, driving the engine through the
public Client ends where `specs/auth-session.yaml` says, or raises a CognitoError
when the spec has no such transition."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest

from authflow.core.lifecycle import IllegalTransition, auth_session
from authflow.errors import CognitoError, InvalidParameterException, NotAuthorizedException
from tests.signin import NEW, TEMP, Env

MACHINE = auth_session()
PHONE = "+12065554567"
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
#: States a request can start from: the pseudo-state, and the challenges a session holds.
STARTS = ("INITIATED", "NEW_PASSWORD_REQUIRED", "SMS_MFA")
FACTS = [
    {"must_change_password": must, "mfa_required": mfa}
    for must, mfa in itertools.product((False, True), repeat=2)
]


def outcome(response) -> str:
    """The auth-session state a successful response shows."""
    if "AuthenticationResult" in response:
        return "AUTHENTICATED"
    return response["ChallengeName"]


class Attempt:
    """A pool whose MFA setting and a user whose status make the facts true."""

    def __init__(self, facts):
        self.env = env = Env()
        extra = {"MfaConfiguration": "ON", "SmsConfiguration": SMS_CONFIG} if facts["mfa_required"] else {}
        self.pool = env.pool(**extra)
        self.app = env.app_id(self.pool)
        env.user(self.pool, attributes=[{"Name": "phone_number", "Value": PHONE}])
        self.password = TEMP
        if not facts["must_change_password"]:
            env.place(self.pool, "alice", status="CONFIRMED")

    def initiate(self, password=None):
        return self.env.initiate(self.app, password=password or self.password)

    def reach(self, state):
        """A response whose session is in challenge `state`."""
        response = self.initiate()
        while outcome(response) != state:
            assert outcome(response) != "AUTHENTICATED", f"{state} was never asked"
            response = self.answer(response, outcome(response))
        return response

    def answer(self, response, challenge, *, good=True):
        if challenge == "NEW_PASSWORD_REQUIRED":
            responses = {"USERNAME": "alice", "NEW_PASSWORD": NEW if good else "weak"}
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
        return _wrong_step(attempt, None, state)
    session = attempt.reach(state)
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
    if (state, trigger) in (("NEW_PASSWORD_REQUIRED", "new_password_set"), ("SMS_MFA", "mfa_code_verified")):
        return outcome(attempt.answer(session, state))
    return _wrong_step(attempt, session, state)


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
    for facts in FACTS
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
