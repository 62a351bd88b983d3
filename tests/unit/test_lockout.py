"""Cognito's lockout schedule for failed sign-ins, through the public Client with a
ManualClock (security.md §3.1 and §7 row 16, cognito-semantics.md §3.10).

Five failures are free; the n-th failure (n >= 5) locks the user for 2^(n-5) s, capped at
900 s. Attempts during a lock get NotAuthorizedException "Password attempts exceeded"
(even with the right password), are not counted and do not lengthen the lock. The count
resets on a successful sign-in and after 15 minutes without any attempt.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from authflow.adapters import ManualClock, MemoryOutbox
from tests.conftest import START, CheckedClient, make_client
from tests.signin import refused

TEMPORARY = "Tempor4ry!Pass"
PASSWORD = "N3w!Passw0rdX"
WRONG = "Wr0ng!Passw0rd"
INCORRECT = "Incorrect username or password."
LOCKED = "Password attempts exceeded"
OK = "ok"
FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"}
PHONE = "+15555550100"


def expected_lock(failures: int) -> int:
    """Seconds of lock after the `failures`-th consecutive failure (written from the
    reference, independently of authflow.core.lockout)."""
    return 0 if failures < 5 else min(2 ** (failures - 5), 900)


@dataclasses.dataclass
class World:
    client: CheckedClient
    clock: ManualClock
    outbox: MemoryOutbox
    pool_id: str
    client_id: str

    def advance(self, **kwargs: float) -> None:
        self.clock.advance(timedelta(**kwargs))

    def create_confirmed(self, username: str = "alice", attributes: list | None = None) -> None:
        self.client.admin_create_user(
            UserPoolId=self.pool_id, Username=username, TemporaryPassword=TEMPORARY,
            UserAttributes=attributes or [], MessageAction="SUPPRESS",
        )
        first = self.client.admin_initiate_auth(
            UserPoolId=self.pool_id, ClientId=self.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": TEMPORARY},
        )
        answer = self.client.admin_respond_to_auth_challenge(
            UserPoolId=self.pool_id, ClientId=self.client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=first["Session"], ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD},
        )
        assert "AuthenticationResult" in answer or answer["ChallengeName"] == "SMS_MFA"

    def initiate(self, password: str, *, admin: bool = False, username: str = "alice") -> dict[str, Any]:
        params = {"USERNAME": username, "PASSWORD": password}
        if admin:
            return self.client.admin_initiate_auth(
                UserPoolId=self.pool_id, ClientId=self.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters=params,
            )
        return self.client.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)

    def attempt(self, right: bool, *, admin: bool = False, username: str = "alice") -> str:
        """One password sign-in: "ok" with tokens, or the NotAuthorizedException message."""
        try:
            response = self.initiate(PASSWORD if right else WRONG, admin=admin, username=username)
        except self.client.exceptions.NotAuthorizedException as err:
            assert type(err) is self.client.exceptions.NotAuthorizedException
            return err.message
        assert response["AuthenticationResult"]["TokenType"] == "Bearer"
        return OK


def new_world(seed: int = 1, **pool: Any) -> World:
    clock = ManualClock(START)
    outbox = MemoryOutbox()
    client = make_client(seed, clock=clock, messenger=outbox)
    pool_id = client.create_user_pool(PoolName="lockout", **pool)["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=FLOWS
    )["UserPoolClient"]["ClientId"]
    return World(client=client, clock=clock, outbox=outbox, pool_id=pool_id, client_id=client_id)


@pytest.fixture
def world() -> World:
    w = new_world()
    w.create_confirmed()
    return w


def fail_times(world: World, n: int, *, admin: bool = False) -> None:
    """n failures at the same instant, each answered as a wrong password."""
    for _ in range(n):
        assert world.attempt(False, admin=admin) == INCORRECT


# -- the schedule --------------------------------------------------------------------------------


def test_five_free_failures_then_locked_even_with_the_right_password(world):
    fail_times(world, 5)
    with refused(world.client.exceptions.NotAuthorizedException, LOCKED):
        world.initiate(PASSWORD)
    with refused(world.client.exceptions.NotAuthorizedException, LOCKED):
        world.initiate(WRONG)
    world.advance(milliseconds=999)
    assert world.attempt(True) == LOCKED
    world.advance(milliseconds=1)
    assert world.attempt(True) == OK  # evaluated again after 1 s


def test_after_the_first_lock_a_wrong_password_is_evaluated_again(world):
    fail_times(world, 5)
    world.advance(seconds=1)
    assert world.attempt(False) == INCORRECT
    assert world.attempt(True) == LOCKED  # the 6th failure locks for 2 s


@pytest.mark.parametrize("n", range(1, 21))
def test_lock_length_after_the_nth_failure(n):
    world = new_world(seed=n)
    world.create_confirmed()
    for k in range(1, n):
        assert world.attempt(False) == INCORRECT, k
        lock = expected_lock(k)
        if lock:
            # A refused probe just before the end keeps the 15-minute idle clock from running out.
            world.advance(seconds=lock, milliseconds=-1)
            assert world.attempt(False) == LOCKED, k
            world.advance(milliseconds=1)
    assert world.attempt(False) == INCORRECT
    lock = expected_lock(n)
    assert lock == (0 if n < 5 else min(2 ** (n - 5), 900))
    if lock == 0:
        assert world.attempt(True) == OK
        return
    assert world.attempt(True) == LOCKED  # right away
    world.advance(seconds=lock, milliseconds=-1)
    assert world.attempt(True) == LOCKED  # just below the end
    world.advance(milliseconds=1)
    assert world.attempt(True) == OK  # at the end


def test_attempts_during_a_lock_do_not_lengthen_it(world):
    fail_times(world, 5)
    world.advance(seconds=1)
    assert world.attempt(False) == INCORRECT  # 6th failure: locked for 2 s
    for _ in range(4):
        world.advance(milliseconds=499)
        assert world.attempt(False) == LOCKED
        assert world.attempt(True) == LOCKED
    world.advance(milliseconds=4)  # 2 s after the 6th failure
    assert world.attempt(False) == INCORRECT  # 7th failure, not 7 + 8: locked for 4 s
    world.advance(seconds=4, milliseconds=-1)
    assert world.attempt(True) == LOCKED
    world.advance(milliseconds=1)
    assert world.attempt(True) == OK


def test_success_after_the_lock_resets_the_count(world):
    fail_times(world, 5)
    world.advance(seconds=1)
    assert world.attempt(False) == INCORRECT  # 6 failures, locked 2 s
    world.advance(seconds=2)
    assert world.attempt(True) == OK
    fail_times(world, 5)  # five free failures again
    assert world.attempt(True) == LOCKED
    world.advance(seconds=1)  # the 5th failure locks for 1 s again, not 2^(10-5)
    assert world.attempt(True) == OK


def test_success_before_any_lock_resets_the_count(world):
    fail_times(world, 4)
    assert world.attempt(True) == OK
    fail_times(world, 4)
    assert world.attempt(True) == OK


def test_fifteen_idle_minutes_reset_the_count(world):
    fail_times(world, 5)
    world.advance(seconds=1)
    assert world.attempt(False) == INCORRECT  # 6 failures
    world.advance(minutes=15)
    fail_times(world, 5)
    assert world.attempt(True) == LOCKED
    world.advance(seconds=1)
    assert world.attempt(True) == OK


def test_less_than_fifteen_idle_minutes_keep_the_count(world):
    fail_times(world, 5)
    world.advance(seconds=1)
    assert world.attempt(False) == INCORRECT  # 6 failures, locked 2 s
    world.advance(minutes=15, seconds=-1)
    assert world.attempt(False) == INCORRECT  # 7th failure: locked 4 s
    assert world.attempt(True) == LOCKED
    world.advance(seconds=3)
    assert world.attempt(True) == LOCKED
    world.advance(seconds=1)
    assert world.attempt(True) == OK


def test_refused_attempts_restart_the_idle_clock(world):
    fail_times(world, 5)
    world.advance(seconds=1)
    assert world.attempt(False) == INCORRECT  # 6 failures, locked 2 s
    world.advance(seconds=1)
    assert world.attempt(True) == LOCKED  # an attempt, though not counted
    world.advance(minutes=15, seconds=-1)  # 15 min after the 6th failure, not after the last attempt
    assert world.attempt(False) == INCORRECT  # the 7th failure
    assert world.attempt(True) == LOCKED


def test_lock_applies_to_admin_initiate_auth(world):
    fail_times(world, 5, admin=True)
    with refused(world.client.exceptions.NotAuthorizedException, LOCKED):
        world.initiate(PASSWORD, admin=True)
    with refused(world.client.exceptions.NotAuthorizedException, LOCKED):
        world.initiate(PASSWORD, admin=False)
    world.advance(seconds=1)
    assert world.attempt(True, admin=True) == OK


def test_both_operations_share_one_count(world):
    fail_times(world, 3, admin=True)
    fail_times(world, 2, admin=False)
    assert world.attempt(True, admin=True) == LOCKED
    assert world.attempt(True, admin=False) == LOCKED


def test_lock_is_per_user(world):
    world.create_confirmed("bob")
    fail_times(world, 5)
    assert world.attempt(True) == LOCKED
    assert world.attempt(True, username="bob") == OK
    assert world.attempt(False, username="bob") == INCORRECT


def test_locked_user_is_locked_whatever_name_variant_is_typed():
    world = new_world(UsernameConfiguration={"CaseSensitive": False})
    world.create_confirmed("alice")
    fail_times(world, 5)
    assert world.attempt(True, username="ALICE") == LOCKED


# -- wrong SMS MFA codes count too ---------------------------------------------------------------------


def sms_world() -> World:
    world = new_world(MfaConfiguration="ON", SmsConfiguration=SMS)
    world.create_confirmed(attributes=[{"Name": "phone_number", "Value": PHONE},
                                       {"Name": "phone_number_verified", "Value": "true"}])
    return world


def sms_challenge(world: World) -> tuple[str, str]:
    response = world.initiate(PASSWORD)
    assert response["ChallengeName"] == "SMS_MFA"
    match = re.search(r"\d{6}", world.outbox.last().body)
    assert match, world.outbox.last().body
    return response["Session"], match.group(0)


def answer(world: World, session: str, code: str) -> dict[str, Any]:
    return world.client.respond_to_auth_challenge(
        ClientId=world.client_id, ChallengeName="SMS_MFA", Session=session,
        ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": code},
    )


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_wrong_sms_codes_count_towards_the_lock():
    world = sms_world()
    session, code = sms_challenge(world)
    for _ in range(5):
        with refused(world.client.exceptions.CodeMismatchException, "Invalid code received for user"):
            answer(world, session, wrong_code(code))
    with refused(world.client.exceptions.NotAuthorizedException, LOCKED):
        answer(world, session, code)
    with refused(world.client.exceptions.NotAuthorizedException, LOCKED):
        world.initiate(PASSWORD)
    world.advance(seconds=1)
    result = answer(world, session, code)
    assert result["AuthenticationResult"]["TokenType"] == "Bearer"
    # The success reset the count: five free failures again.
    fail_times(world, 5)
    assert world.attempt(True) == LOCKED


def test_wrong_sms_codes_and_wrong_passwords_share_the_count():
    world = sms_world()
    fail_times(world, 3)
    session, code = sms_challenge(world)  # the right password resets the count
    for _ in range(4):
        with refused(world.client.exceptions.CodeMismatchException, "Invalid code received for user"):
            answer(world, session, wrong_code(code))
    assert world.attempt(False) == INCORRECT  # the 5th failure
    with refused(world.client.exceptions.NotAuthorizedException, LOCKED):
        answer(world, session, code)


# -- the schedule as a model ------------------------------------------------------------------------------


class LockoutModel:
    """An independent model of the documented schedule, in whole seconds."""

    def __init__(self) -> None:
        self.count = 0
        self.locked_until: int | None = None
        self.last: int | None = None

    def attempt(self, now: int, right: bool) -> str:
        if self.last is not None and now - self.last >= 900:
            self.count, self.locked_until = 0, None  # 15 idle minutes
        self.last = now
        if self.locked_until is not None and now < self.locked_until:
            return LOCKED  # not counted, but an attempt
        if right:
            self.count, self.locked_until = 0, None
            return OK
        self.count += 1
        if self.count >= 5:
            self.locked_until = now + min(2 ** (self.count - 5), 900)
        return INCORRECT


STEPS = st.lists(
    st.tuples(
        st.sampled_from([False] * 5 + [True]),  # right password? (rarely, or no lock is ever reached)
        st.one_of(st.just(0), st.integers(0, 4), st.integers(0, 40), st.integers(0, 1000)),  # seconds to wait
        st.booleans(),  # AdminInitiateAuth?
    ),
    min_size=1,
    max_size=40,
)


_FAIL, _RIGHT = (False, 0, False), (True, 0, False)


@given(steps=STEPS)
@example(steps=[_FAIL] * 6 + [(False, 900, True)] + [_FAIL] * 5 + [_RIGHT])  # idle reset after a lock
@example(steps=[_FAIL] * 6 + [(True, 1, True), (False, 899, False), _RIGHT])  # a refused attempt is an attempt
@example(steps=[_FAIL] * 5 + [(False, 1, False), (True, 2, False)] + [_FAIL] * 5 + [_RIGHT])  # success resets
def test_every_sequence_matches_the_model(steps):
    world = new_world()
    world.create_confirmed()
    model = LockoutModel()
    now = 0
    for i, (right, wait, admin) in enumerate(steps):
        now += wait
        world.advance(seconds=wait)
        expected = model.attempt(now, right)
        assert world.attempt(right, admin=admin) == expected, (i, steps[: i + 1])


def test_unknown_and_real_users_answer_alike_through_a_lockout_when_existence_errors_are_prevented():
    """security.md item 21: the lockout itself must not tell real accounts apart."""
    def outcomes(username):
        client = make_client()
        pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
        app = client.create_user_pool_client(
            UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
        client.admin_create_user(UserPoolId=pool, Username="real", TemporaryPassword="Temp1234!", MessageAction="SUPPRESS")
        seen = []
        for _ in range(7):
            try:
                client.initiate_auth(
                    ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": username, "PASSWORD": "Wrong1234!"},
                )
            except client.exceptions.ClientError as err:
                seen.append((err.code, err.message))
        return seen

    real, made_up = outcomes("real"), outcomes("made-up")
    assert real == made_up
    assert real[5] == ("NotAuthorizedException", "Password attempts exceeded")
