"""Each invariant of `authflow.invariants` accepts a good step and detects a
hand-made violating one (records edited with `dataclasses.replace`, or a step
whose request, time or history was changed after the fact)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from authflow.core.records import FailedSignIns
from authflow.errors import CognitoError, InternalErrorException, NotAuthorizedException
from authflow.invariants import (
    INVARIANTS,
    Checker,
    History,
    InvariantViolated,
    Records,
    Step,
    check,
    observe,
    session_id,
    token_hash,
)
from tests.conftest import START
from tests.signin import NEW, TEMP, Env

MARKER = "never-store-this-value"


class Scenario:
    """A pool with an email alias, its app client, and steps recorded as `Step`s."""

    def __init__(self) -> None:
        self.env = Env()
        self.client = self.env.client
        self.pool = self.env.pool(AliasAttributes=["email"])
        self.app = self.env.app_id(self.pool)
        self.history = History()

    def step(self, method: str, operation: str, **request) -> Step:
        before = Records.of(self.client.store)
        now = self.client.engine.now()
        response, error = None, None
        try:
            response = getattr(self.client, method)(**request)
        except CognitoError as err:
            error = err
        step = Step(
            operation=operation, request=request, response=response, error=error, before=before,
            after=Records.of(self.client.store), now=now, history=self.history,
        )
        self.history = observe(self.history, step)
        return step

    def create(self, name="alice", email=None, **extra) -> Step:
        attributes = []
        if email:
            attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        return self.step(
            "admin_create_user", "AdminCreateUser", UserPoolId=self.pool, Username=name, TemporaryPassword=TEMP,
            MessageAction="SUPPRESS", UserAttributes=attributes, **extra,
        )

    def initiate(self, name="alice", password=TEMP) -> Step:
        return self.step(
            "initiate_auth", "InitiateAuth", ClientId=self.app, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": password},
        )

    def answer(self, session: str, name="alice") -> Step:
        return self.step(
            "respond_to_auth_challenge", "RespondToAuthChallenge", ClientId=self.app,
            ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
            ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": NEW},
        )

    def signed_in(self, name="alice") -> Step:
        """Create `name` and complete the first sign-in; the step that issued tokens."""
        self.create(name)
        return self.answer(self.initiate(name).response["Session"], name)

    def refresh(self, token: str) -> Step:
        return self.step(
            "initiate_auth", "InitiateAuth", ClientId=self.app, AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": token},
        )


def names(step: Step, only: str) -> list[str]:
    return [v.invariant for v in check(step, [only])]


def with_user(records: Records, username: str, **changes) -> Records:
    users = tuple(replace(u, **changes) if u.username == username else u for u in records.users)
    return replace(records, users=users)


# -- one case per invariant: (a good step, a violating step) ----------------------------------------


def status_declared():
    s = Scenario()
    good = s.create()
    return good, replace(good, after=with_user(good.after, "alice", status="ABSENT"))


def verified_alias_single_holder():
    s = Scenario()
    s.create("alice", "shared@example.com")
    good = s.create("bob")
    bob_claims = {**next(u for u in good.after.users if u.username == "bob").attributes,
                  "email": "shared@example.com", "email_verified": "true"}
    return good, replace(good, after=with_user(good.after, "bob", attributes=bob_claims))


def unique_usernames_and_subs():
    s = Scenario()
    s.create("alice")
    good = s.create("bob")
    alice = next(u for u in good.after.users if u.username == "alice")
    bad = with_user(good.after, "bob", sub=alice.sub, attributes={"sub": alice.sub})
    return good, replace(good, after=bad)


def tokens_only_to_signed_in_users():
    s = Scenario()
    good = s.signed_in()
    # the same tokens, had the user been disabled, or never left FORCE_CHANGE_PASSWORD
    return good, replace(good, before=with_user(good.before, "alice", enabled=False))


def temporary_password_expires():
    s = Scenario()
    s.create()
    good = s.initiate()
    assert good.response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    return good, replace(good, now=START + timedelta(days=7))


def password_must_match():
    s = Scenario()
    s.create()
    good = s.initiate()
    return good, replace(good, request={**good.request, "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Other1!x"}})


def session_single_use():
    s = Scenario()
    s.create()
    good = s.answer(s.initiate().response["Session"])
    assert good.ok
    return good, replace(good, history=replace(good.history, succeeded_sessions=frozenset({
        session_id(good.request["Session"])})))


def validation_data_never_stored():
    s = Scenario()
    good = s.create(ValidationData=[{"Name": "v", "Value": MARKER}])
    alice = next(u for u in good.after.users if u.username == "alice")
    bad = with_user(good.after, "alice", attributes={**alice.attributes, "nickname": f"<{MARKER}>"})
    return good, replace(good, after=bad)


def refusal_changes_nothing():
    s = Scenario()
    s.create()
    good = s.create()  # UsernameExistsException
    assert good.error is not None
    changed = with_user(good.after, "alice", enabled=False)
    return good, replace(good, after=changed)


def revoked_refresh_token_yields_nothing():
    s = Scenario()
    token = s.signed_in().response["AuthenticationResult"]["RefreshToken"]
    good = s.refresh(token)
    assert good.ok
    return good, replace(good, history=replace(good.history, revoked_tokens=frozenset({token_hash(token)})))


def lockout_within_schedule():
    s = Scenario()
    s.create()
    good = s.initiate(password="Wrong1234!")
    assert good.error is not None and len(good.after.failed_sign_ins) == 1
    counter = good.after.failed_sign_ins[0]
    too_long = replace(counter, count=6, locked_until=counter.last_attempt + timedelta(seconds=3))
    return good, replace(good, after=replace(good.after, failed_sign_ins=(too_long,)))


def no_internal_error():
    s = Scenario()
    good = s.create()
    return good, replace(good, response=None, error=InternalErrorException("Internal server error."))


CASES = {case.__name__: case for case in (
    status_declared, verified_alias_single_holder, unique_usernames_and_subs, tokens_only_to_signed_in_users,
    temporary_password_expires, password_must_match, session_single_use, validation_data_never_stored,
    refusal_changes_nothing, revoked_refresh_token_yields_nothing, lockout_within_schedule, no_internal_error,
)}


def test_every_invariant_has_a_case():
    assert set(CASES) == set(INVARIANTS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_invariant_accepts_a_good_step_and_detects_a_violation(name):
    good, bad = CASES[name]()
    assert check(good) == [], check(good)  # the real engine's step keeps every invariant
    assert names(bad, name) == [name]


@pytest.mark.parametrize("name", sorted(INVARIANTS))
def test_every_invariant_is_documented(name):
    assert INVARIANTS[name].doc and INVARIANTS[name].summary.endswith(".")


# -- more violations of the same laws -----------------------------------------------------------------


def test_tokens_to_a_force_change_password_user_outside_new_password_required():
    s = Scenario()
    tokens = s.signed_in()
    as_sign_in = replace(tokens, operation="InitiateAuth", request={"AuthFlow": "USER_PASSWORD_AUTH"})
    assert names(as_sign_in, "tokens_only_to_signed_in_users") == ["tokens_only_to_signed_in_users"]
    still_forced = replace(tokens, after=with_user(tokens.after, "alice", status="FORCE_CHANGE_PASSWORD"))
    assert names(still_forced, "tokens_only_to_signed_in_users") == ["tokens_only_to_signed_in_users"]
    unconfirmed = replace(tokens, before=with_user(tokens.before, "alice", status="UNCONFIRMED"))
    assert names(unconfirmed, "tokens_only_to_signed_in_users") == ["tokens_only_to_signed_in_users"]


def test_a_used_session_in_the_store_is_a_violation_without_history():
    s = Scenario()
    s.create()
    answered = s.answer(s.initiate().response["Session"])
    used = tuple(replace(r, used=True) for r in answered.before.sessions)
    step = replace(answered, history=History(), before=replace(answered.before, sessions=used))
    assert names(step, "session_single_use") == ["session_single_use"]


def test_a_srp_secret_block_never_succeeds_twice():
    step = Step(
        operation="RespondToAuthChallenge",
        request={"ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": {"PASSWORD_CLAIM_SECRET_BLOCK": "b"}},
        response={}, error=None, before=Records(), after=Records(), now=START,
        history=History(succeeded_secret_blocks=frozenset({"b"})),
    )
    assert names(step, "session_single_use") == ["session_single_use"]
    assert observe(History(), replace(step, history=History())).succeeded_secret_blocks == {"b"}


def test_refused_requests_may_count_failures_only():
    s = Scenario()
    s.create()
    wrong = s.initiate(password="Wrong1234!")
    assert wrong.before.failed_sign_ins != wrong.after.failed_sign_ins
    assert check(wrong, ["refusal_changes_nothing"]) == []


def test_a_store_revoked_or_signed_out_family_is_a_violation():
    s = Scenario()
    token = s.signed_in().response["AuthenticationResult"]["RefreshToken"]
    good = s.refresh(token)
    revoked = replace(good.before, refresh_tokens=tuple(replace(t, revoked=True) for t in good.before.refresh_tokens))
    assert names(replace(good, before=revoked), "revoked_refresh_token_yields_nothing")
    signed_out = with_user(good.before, "alice", token_generation=5)
    assert names(replace(good, before=signed_out), "revoked_refresh_token_yields_nothing")
    expired = replace(good, now=START + timedelta(days=31))
    assert names(expired, "revoked_refresh_token_yields_nothing")


def test_sign_out_disable_and_delete_revoke_the_users_tokens_in_the_history():
    for method, operation in (("admin_user_global_sign_out", "AdminUserGlobalSignOut"),
                              ("admin_disable_user", "AdminDisableUser"),
                              ("admin_delete_user", "AdminDeleteUser")):
        s = Scenario()
        token = s.signed_in().response["AuthenticationResult"]["RefreshToken"]
        s.signed_in("bob")
        s.step(method, operation, UserPoolId=s.pool, Username="alice")
        assert s.history.revoked_tokens == {token_hash(token)}, operation


def test_lockout_counting_rules():
    s = Scenario()
    s.create()
    wrong = s.initiate(password="Wrong1234!")
    counter = wrong.after.failed_sign_ins[0]
    twice = replace(wrong, after=replace(wrong.after, failed_sign_ins=(replace(counter, count=2),)))
    assert names(twice, "lockout_within_schedule")
    early_lock = replace(counter, locked_until=counter.last_attempt + timedelta(seconds=1))
    assert names(replace(wrong, after=replace(wrong.after, failed_sign_ins=(early_lock,))), "lockout_within_schedule")
    locked = FailedSignIns(
        pool_id=counter.pool_id, key=counter.key, count=5, locked_until=START + timedelta(seconds=1), last_attempt=START,
    )
    counted_while_locked = replace(
        wrong, before=replace(wrong.before, failed_sign_ins=(locked,)),
        after=replace(wrong.after, failed_sign_ins=(replace(locked, count=6, locked_until=START + timedelta(seconds=2)),)),
    )
    assert names(counted_while_locked, "lockout_within_schedule")
    accepted_while_locked = replace(s.initiate(), before=replace(wrong.before, failed_sign_ins=(locked,)), now=START)
    assert accepted_while_locked.ok
    assert names(accepted_while_locked, "lockout_within_schedule")


def test_short_validation_values_are_matched_whole():
    s = Scenario()
    step = s.create(ValidationData=[{"Name": "v", "Value": "ali"}])  # a substring of "alice", never stored whole
    assert check(step, ["validation_data_never_stored"]) == []
    assert observe(History(), step).validation_values == {"ali"}


def test_at_rest_checks_the_state_invariants():
    s = Scenario()
    s.create()
    records = Records.of(s.client.store)
    assert check(Step.at_rest(records, START)) == []
    assert names(Step.at_rest(with_user(records, "alice", status="BOGUS"), START), "status_declared")


def test_checker_checks_every_call_and_raises_on_a_violation():
    env = Env()
    pool = env.pool()
    checker = Checker(env.client)
    checker.call("admin_create_user", UserPoolId=pool, Username="alice", MessageAction="SUPPRESS", TemporaryPassword=TEMP)
    with pytest.raises(NotAuthorizedException):
        checker.call("admin_initiate_auth", UserPoolId=pool, ClientId=env.app_id(pool),
                     AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": "Wrong1!xx"})
    checker.advance(env.clock, timedelta(days=8))
    assert checker.steps == 3
    # A fault planted in the store: a FORCE_CHANGE_PASSWORD user the spec does not know.
    env.place(pool, "alice", status="HALF_CONFIRMED")
    with pytest.raises(InvariantViolated, match="status_declared"):
        checker.call("admin_enable_user", UserPoolId=pool, Username="alice")


# -- the lifecycle table, re-run with every invariant checked -------------------------------------------


class _CheckedCalls:
    """A Client stand-in whose operations go through a Checker (for the table's `drive`)."""

    def __init__(self, checker: Checker) -> None:
        self._checker = checker
        self.store = checker.client.store
        self.exceptions = checker.client.exceptions

    def __getattr__(self, method: str):
        return lambda **request: self._checker.call(method, **request)


def _lifecycle_pairs():
    from tests.unit.test_lifecycle_table import PAIRS

    return PAIRS


@pytest.mark.parametrize(("status", "trigger"), _lifecycle_pairs())
def test_every_lifecycle_pair_keeps_every_invariant(status, trigger):
    """tests/unit/test_lifecycle_table.py drives every (status, trigger) pair; here the
    same drives run through a Checker, so a refusal must leave the whole store (not only
    the users) unchanged, and every other invariant must hold too."""
    from tests.conftest import make_client
    from tests.unit.test_lifecycle_table import PASSWORD, drive, place

    client = make_client()
    pool = client.create_user_pool(PoolName="t", AliasAttributes=["email"])["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    refresh_token = "not-a-refresh-token"
    if status != "ABSENT":
        client.admin_create_user(
            UserPoolId=pool, Username="u", TemporaryPassword=PASSWORD, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": "u@example.com"}, {"Name": "email_verified", "Value": "true"}],
        )
        if trigger == "refresh_tokens":
            place(client, pool, "CONFIRMED")
            refresh_token = drive(client, pool, "sign_in", client_id, None)["AuthenticationResult"]["RefreshToken"]
        place(client, pool, status)
    checked = _CheckedCalls(Checker(client))
    try:
        drive(checked, pool, trigger, client_id, refresh_token)
    except CognitoError:
        pass  # refused: the Checker has already compared the stores
