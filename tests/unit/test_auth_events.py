"""Auth events (threat protection's user event history) through the public Client:
what each sign-in and self-service step records, AdminListUserAuthEvents' order and
pages, feedback by admin and by FeedbackToken, and refusals that change nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy
from authflow.core import auth_events as core
from authflow.crypto.keys import TEST_KEYS
from authflow.crypto.passwords import FAST_INSECURE
from authflow.crypto.sealing import Keyring
from authflow.service import auth_events
from authflow.service.registry import OPERATIONS, load_all
from tests.conftest import START, CheckedClient, make_client
from tests.signin import NEW, TEMP, Env, assert_tokens, refused

ADD_ONS = {"AdvancedSecurityMode": "AUDIT"}
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
PHONE = "+12065554567"
EMAIL = [{"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"}]
PASSWORD_OK = {"ChallengeName": "Password", "ChallengeResponse": "Success"}
PASSWORD_BAD = {"ChallengeName": "Password", "ChallengeResponse": "Failure"}
MFA_OK = {"ChallengeName": "Mfa", "ChallengeResponse": "Success"}
MFA_BAD = {"ChallengeName": "Mfa", "ChallengeResponse": "Failure"}


@pytest.fixture
def env() -> Env:
    return Env()


def protected_pool(env: Env, mode: str = "AUDIT", **kwargs) -> str:
    return env.pool(UserPoolTier="PLUS", UserPoolAddOns={"AdvancedSecurityMode": mode}, **kwargs)


def confirmed_user(env: Env, pool: str, app: str, username: str = "alice", **kwargs) -> None:
    env.user(pool, username, **kwargs)
    env.client.admin_set_user_password(UserPoolId=pool, Username=username, Password=NEW, Permanent=True)


def events(env: Env, pool: str, username: str = "alice", **kwargs) -> list[dict]:
    return env.client.admin_list_user_auth_events(UserPoolId=pool, Username=username, **kwargs)["AuthEvents"]


def summary(event: dict) -> tuple:
    return event["EventType"], event["EventResponse"], event["ChallengeResponses"]


def stored_events(env: Env, pool: str) -> list:
    with env.client.store.transaction() as tx:
        return (tx.list_resources(pool, core.KIND, after=None, limit=1000)
                + tx.list_resources(pool, core.SESSION_KIND, after=None, limit=1000))


# -- what is recorded -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["AUDIT", "ENFORCED"])
def test_password_sign_in_pass_and_fail(env, mode):
    pool = protected_pool(env, mode)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    assert_tokens(env.initiate(app, password=NEW))
    env.clock.advance(timedelta(seconds=1))
    refused(env.client.exceptions.NotAuthorizedException, "Incorrect username or password.",
            env.initiate, app, password="Wrong1!pass")
    listed = events(env, pool)
    assert [summary(e) for e in listed] == [
        ("SignIn", "Fail", [PASSWORD_BAD]),
        ("SignIn", "Pass", [PASSWORD_OK]),
    ]
    newest, oldest = listed
    assert newest["CreationDate"] - oldest["CreationDate"] == timedelta(seconds=1)
    assert newest["EventRisk"] == {"RiskDecision": "NoRisk", "CompromisedCredentialsDetected": False}
    assert newest["EventId"] != oldest["EventId"]
    assert re.fullmatch(r"[\w+-]{1,50}", newest["EventId"])
    assert "EventContextData" not in newest  # in process there is no caller address
    assert "EventFeedback" not in newest


def test_a_challenge_keeps_its_sign_in_in_progress_until_answered(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    env.user(pool)
    started = env.initiate(app)
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert [summary(e) for e in events(env, pool)] == [("SignIn", "InProgress", [PASSWORD_OK])]
    first = events(env, pool)[0]
    assert_tokens(env.respond(app, started["Session"], {"USERNAME": "alice", "NEW_PASSWORD": NEW}))
    (done,) = events(env, pool)  # the same event, not a second one
    assert done["EventId"] == first["EventId"] and done["CreationDate"] == first["CreationDate"]
    assert summary(done) == ("SignIn", "Pass", [PASSWORD_OK])
    # The session index went with the finished sign-in: only the event is stored.
    assert [r.kind for r in stored_events(env, pool)] == [core.KIND]


def test_sms_mfa_answers_are_added_to_the_sign_in(env):
    pool = protected_pool(env, MfaConfiguration="ON", SmsConfiguration=SMS_CONFIG)
    app = env.app_id(pool)
    confirmed_user(env, pool, app, attributes=[{"Name": "phone_number", "Value": PHONE},
                                               {"Name": "phone_number_verified", "Value": "true"}])
    started = env.initiate(app, password=NEW)
    assert started["ChallengeName"] == "SMS_MFA"
    code = re.search(r"\d{6}", env.outbox.last().body).group()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(env.client.exceptions.CodeMismatchException):
        env.respond(app, started["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": wrong}, name="SMS_MFA")
    assert [summary(e) for e in events(env, pool)] == [("SignIn", "Fail", [PASSWORD_OK, MFA_BAD])]
    assert_tokens(env.respond(app, started["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": code}, name="SMS_MFA"))
    assert [summary(e) for e in events(env, pool)] == [("SignIn", "Pass", [PASSWORD_OK, MFA_BAD, MFA_OK])]


def test_admin_sign_in_takes_the_address_from_context_data(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    env.client.admin_initiate_auth(
        UserPoolId=pool, ClientId=app, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": NEW},
        ContextData={"IpAddress": "192.0.2.7", "ServerName": "app.example.com", "ServerPath": "/login",
                     "HttpHeaders": []},
    )
    assert events(env, pool)[0]["EventContextData"] == {"IpAddress": "192.0.2.7"}


def test_sign_up_forgot_password_change_password_and_resend(env):
    pool = protected_pool(env, AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    env.client.sign_up(ClientId=app, Username="bob", Password=NEW, UserAttributes=EMAIL[:1])
    env.client.resend_confirmation_code(ClientId=app, Username="bob")
    env.client.admin_confirm_sign_up(UserPoolId=pool, Username="bob")
    env.client.admin_update_user_attributes(UserPoolId=pool, Username="bob", UserAttributes=EMAIL[1:])
    env.client.forgot_password(ClientId=app, Username="bob")
    code = re.search(r"\d{6}", env.outbox.last().body).group()
    env.client.confirm_forgot_password(ClientId=app, Username="bob", ConfirmationCode=code, Password="Other1!pass")
    token = env.initiate(app, "bob", "Other1!pass")["AuthenticationResult"]["AccessToken"]
    env.client.change_password(AccessToken=token, PreviousPassword="Other1!pass", ProposedPassword=NEW)
    with pytest.raises(env.client.exceptions.NotAuthorizedException):  # wrong previous password: counted
        env.client.change_password(AccessToken=token, PreviousPassword="Wrong1!pass", ProposedPassword=NEW)
    assert [summary(e)[:2] for e in events(env, pool, "bob")] == [
        ("PasswordChange", "Fail"),
        ("PasswordChange", "Pass"),
        ("SignIn", "Pass"),
        ("ForgotPassword", "Pass"),  # ConfirmForgotPassword
        ("ForgotPassword", "Pass"),  # ForgotPassword
        ("ResendCode", "Pass"),
        ("SignUp", "Pass"),
    ]


def test_a_wrong_reset_code_is_a_failed_forgot_password_event(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app, attributes=EMAIL)
    env.client.forgot_password(ClientId=app, Username="alice")
    code = re.search(r"\d{6}", env.outbox.last().body).group()
    with pytest.raises(env.client.exceptions.CodeMismatchException):
        env.client.confirm_forgot_password(ClientId=app, Username="alice", Password="Other1!pass",
                                           ConfirmationCode=f"{(int(code) + 1) % 1_000_000:06d}")
    assert [summary(e)[:2] for e in events(env, pool)] == [("ForgotPassword", "Fail"), ("ForgotPassword", "Pass")]


def test_lockout_refusals_are_failures_too(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    for _ in range(6):
        with pytest.raises(env.client.exceptions.NotAuthorizedException):
            env.initiate(app, password="Wrong1!pass")
    refused(env.client.exceptions.NotAuthorizedException, "Password attempts exceeded", env.initiate, app, password=NEW)
    assert [summary(e)[1] for e in events(env, pool)] == ["Fail"] * 7


def test_a_token_refresh_is_no_event(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    refresh = env.initiate(app, password=NEW)["AuthenticationResult"]["RefreshToken"]
    env.client.initiate_auth(ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh})
    assert len(events(env, pool)) == 1


# -- refusals that record nothing -------------------------------------------------------------


def test_refusals_that_write_nothing_record_nothing(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    env.client.admin_disable_user(UserPoolId=pool, Username="alice")
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "User is disabled.", env.initiate, app, password=NEW)
    with pytest.raises(env.client.exceptions.UserNotFoundException):
        env.initiate(app, "nobody", NEW)
    with pytest.raises(env.client.exceptions.InvalidParameterException):
        env.client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice"})
    with pytest.raises(env.client.exceptions.UsernameExistsException):
        env.client.sign_up(ClientId=app, Username="alice", Password=NEW)
    assert env.snapshot() == before
    assert events(env, pool) == []


def test_a_pool_without_threat_protection_records_nothing_and_lists_nothing(env):
    pool = env.pool()
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    assert_tokens(env.initiate(app, password=NEW))
    assert stored_events(env, pool) == []
    for mode in (None, "OFF"):
        if mode:
            env.client.update_user_pool(UserPoolId=pool, UserPoolAddOns={"AdvancedSecurityMode": mode})
        refused(env.client.exceptions.UserPoolAddOnNotEnabledException, core.NOT_ENABLED,
                env.client.admin_list_user_auth_events, UserPoolId=pool, Username="alice")
        refused(env.client.exceptions.UserPoolAddOnNotEnabledException, core.NOT_ENABLED,
                env.client.admin_update_auth_event_feedback, UserPoolId=pool, Username="alice", EventId="e1",
                FeedbackValue="Valid")


def test_unknown_pool_and_user(env):
    pool = protected_pool(env)
    refused(env.client.exceptions.ResourceNotFoundException, "User pool us-east-1_nothere1 does not exist.",
            env.client.admin_list_user_auth_events, UserPoolId="us-east-1_nothere1", Username="alice")
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.admin_list_user_auth_events, UserPoolId=pool, Username="nobody")


# -- listing ----------------------------------------------------------------------------------


def test_newest_first_in_pages_and_by_alias(env):
    pool = protected_pool(env, AliasAttributes=["email"])
    app = env.app_id(pool)
    confirmed_user(env, pool, app, attributes=EMAIL)
    for _ in range(5):  # same millisecond: the order of recording still holds
        env.initiate(app, password=NEW)
    everything = events(env, pool)
    assert len(everything) == 5
    assert events(env, pool, "alice@example.com") == everything
    assert events(env, pool, MaxResults=0) == everything  # 0 means the default page, 60
    seen, token = [], None
    while True:
        page = env.client.admin_list_user_auth_events(
            UserPoolId=pool, Username="alice", MaxResults=2, **({"NextToken": token} if token else {}))
        seen += page["AuthEvents"]
        assert len(page["AuthEvents"]) <= 2
        token = page.get("NextToken")
        if token is None:
            break
    assert [e["EventId"] for e in seen] == [e["EventId"] for e in everything]
    refused(env.client.exceptions.InvalidParameterException, "Invalid NextToken.",
            env.client.admin_list_user_auth_events, UserPoolId=pool, Username="alice", NextToken="!!!")


def test_history_is_capped_oldest_first(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    first = None
    for i in range(core.MAX_EVENTS_PER_USER + 2):
        env.initiate(app, password=NEW)
        if i == 0:
            first = events(env, pool)[0]["EventId"]
        env.clock.advance(timedelta(milliseconds=1))
    kept = []
    token = None
    while True:
        page = env.client.admin_list_user_auth_events(UserPoolId=pool, Username="alice",
                                                      **({"NextToken": token} if token else {}))
        kept += page["AuthEvents"]
        token = page.get("NextToken")
        if not token:
            break
    assert len(kept) == core.MAX_EVENTS_PER_USER
    assert first not in {e["EventId"] for e in kept}


def test_users_do_not_see_each_other_and_a_deleted_users_history_goes(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app, "alice")
    confirmed_user(env, pool, app, "bob")
    env.initiate(app, "alice", NEW)
    env.initiate(app, "bob", NEW)
    env.initiate(app, "bob", NEW)
    assert len(events(env, pool, "alice")) == 1 and len(events(env, pool, "bob")) == 2
    env.client.admin_delete_user(UserPoolId=pool, Username="bob")
    assert len(stored_events(env, pool)) == 1
    confirmed_user(env, pool, app, "bob")  # a new bob starts with no history
    assert events(env, pool, "bob") == []
    token = env.initiate(app, "bob", NEW)["AuthenticationResult"]["AccessToken"]
    env.client.delete_user(AccessToken=token)
    assert [e["EventId"] for e in events(env, pool, "alice")] == [r.body["EventId"] for r in stored_events(env, pool)]


# -- feedback ---------------------------------------------------------------------------------


def test_admin_feedback(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    env.initiate(app, password=NEW)
    event_id = events(env, pool)[0]["EventId"]
    env.clock.advance(timedelta(minutes=5))
    answer = env.client.admin_update_auth_event_feedback(
        UserPoolId=pool, Username="alice", EventId=event_id, FeedbackValue="Invalid")
    assert set(answer) == {"ResponseMetadata"}
    assert events(env, pool)[0]["EventFeedback"] == {
        "FeedbackValue": "Invalid", "Provider": "Admin", "FeedbackDate": env.clock.now().replace(microsecond=0),
    }
    env.client.admin_update_auth_event_feedback(UserPoolId=pool, Username="alice", EventId=event_id,
                                                FeedbackValue="Valid")
    assert events(env, pool)[0]["EventFeedback"]["FeedbackValue"] == "Valid"
    before = env.snapshot()
    refused(env.client.exceptions.ResourceNotFoundException, "Auth event nope does not exist.",
            env.client.admin_update_auth_event_feedback, UserPoolId=pool, Username="alice", EventId="nope",
            FeedbackValue="Valid")
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.admin_update_auth_event_feedback, UserPoolId=pool, Username="bob", EventId=event_id,
            FeedbackValue="Valid")
    assert env.snapshot() == before


def test_user_feedback_needs_the_events_token(env):
    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    confirmed_user(env, pool, app, "bob")
    env.initiate(app, password=NEW)
    env.initiate(app, "bob", NEW)
    event_id = events(env, pool)[0]["EventId"]
    bobs = events(env, pool, "bob")[0]["EventId"]
    token = auth_events.feedback_token(env.client.engine, UserPoolId=pool, Username="alice", EventId=event_id)
    before = env.snapshot()
    for wrong in ("x" + token[1:], auth_events.feedback_token(env.client.engine, UserPoolId=pool, Username="bob",
                                                              EventId=bobs)):
        refused(env.client.exceptions.NotAuthorizedException, core.INVALID_FEEDBACK_TOKEN,
                env.client.update_auth_event_feedback, UserPoolId=pool, Username="alice", EventId=event_id,
                FeedbackToken=wrong, FeedbackValue="Invalid")
    # A token for alice's event is no token for bob's event, nor for another id.
    refused(env.client.exceptions.NotAuthorizedException, core.INVALID_FEEDBACK_TOKEN,
            env.client.update_auth_event_feedback, UserPoolId=pool, Username="bob", EventId=bobs,
            FeedbackToken=token, FeedbackValue="Invalid")
    missing = auth_events.feedback_token(env.client.engine, UserPoolId=pool, Username="alice", EventId="gone")
    refused(env.client.exceptions.ResourceNotFoundException, "Auth event gone does not exist.",
            env.client.update_auth_event_feedback, UserPoolId=pool, Username="alice", EventId="gone",
            FeedbackToken=missing, FeedbackValue="Invalid")
    assert env.snapshot() == before
    answer = env.client.update_auth_event_feedback(UserPoolId=pool, Username="alice", EventId=event_id,
                                                   FeedbackToken=token, FeedbackValue="Invalid")
    assert set(answer) == {"ResponseMetadata"}
    feedback = events(env, pool)[0]["EventFeedback"]
    assert (feedback["FeedbackValue"], feedback["Provider"]) == ("Invalid", "User")
    assert "EventFeedback" not in events(env, pool, "bob")[0]


# -- the wrapper ------------------------------------------------------------------------------


def test_load_all_wraps_once_and_only_the_recording_operations():
    handlers = dict(load_all())
    assert load_all() == handlers  # idempotent: the same callables on every call
    for name in (*auth_events.RECORDED, *auth_events.PURGING):
        assert OPERATIONS[name].__wrapped__ is not None
        assert not hasattr(OPERATIONS[name].__wrapped__, "__wrapped__")  # one layer only
    assert not hasattr(OPERATIONS["AdminGetUser"], "__wrapped__")
    assert OPERATIONS["InitiateAuth"].__module__ == "authflow.service.sign_in"


def test_sign_in_answers_are_the_same_with_and_without_threat_protection():
    answers = []
    for add_ons in (None, ADD_ONS):
        env = Env(seed=7)
        pool = env.pool(UserPoolTier="PLUS", **({"UserPoolAddOns": add_ons} if add_ons else {}))
        app = env.app_id(pool)
        env.user(pool)
        started = env.initiate(app, password=TEMP)
        answers.append((started["ChallengeName"], sorted(started["ChallengeParameters"])))
    assert answers[0] == answers[1]


# -- the durable stores -----------------------------------------------------------------------


def test_history_survives_a_durable_store_reopened_and_goes_with_the_pool(reopenable_store):
    open_store = reopenable_store
    config = authflow.EngineConfig(kek=Keyring(b"k" * 32), kdf=FAST_INSECURE, signing_keys=TEST_KEYS)
    clock = ManualClock(START)

    def client(store):
        return CheckedClient(authflow.Client(config=config, store=store, clock=clock, messenger=MemoryOutbox(),
                                             entropy=SeededEntropy(5)))

    first = client(open_store())
    pool = first.create_user_pool(PoolName="p", UserPoolTier="PLUS", UserPoolAddOns=ADD_ONS)["UserPool"]["Id"]
    app = first.create_user_pool_client(UserPoolId=pool, ClientName="a", ExplicitAuthFlows=[
        "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    first.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS")
    started = first.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "alice", "PASSWORD": TEMP})
    clock.advance(timedelta(milliseconds=1500))
    first.respond_to_auth_challenge(ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
                                    ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW})
    with pytest.raises(first.exceptions.NotAuthorizedException):
        first.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "alice", "PASSWORD": "Wrong1!pass"})
    listed = first.admin_list_user_auth_events(UserPoolId=pool, Username="alice")["AuthEvents"]
    first.admin_update_auth_event_feedback(UserPoolId=pool, Username="alice", EventId=listed[0]["EventId"],
                                           FeedbackValue="Invalid")
    written = first.admin_list_user_auth_events(UserPoolId=pool, Username="alice")["AuthEvents"]
    first.store.close()

    again = client(open_store())
    assert again.admin_list_user_auth_events(UserPoolId=pool, Username="alice")["AuthEvents"] == written
    assert [summary(e) for e in written] == [("SignIn", "Fail", [PASSWORD_BAD]),
                                             ("SignIn", "Pass", [PASSWORD_OK])]
    assert written[1]["CreationDate"] == START  # kept to the millisecond, answered later
    assert written[0]["EventFeedback"]["Provider"] == "Admin"
    again.delete_user_pool(UserPoolId=pool)
    with again.store.transaction() as tx:
        assert tx.list_resources(pool, core.KIND, after=None, limit=10) == []
        assert tx.list_resources(pool, core.SESSION_KIND, after=None, limit=10) == []
    again.store.close()


@pytest.mark.parametrize("admin", [False, True])
def test_srp_sign_in_is_one_event_with_its_password_proof(env, admin):
    from authflow.conformance.srp_client import SrpClient

    pool = protected_pool(env)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)

    def sign_in(password: str) -> dict:
        srp = SrpClient(pool, 0x1234567890ABCDEF)
        params = {"USERNAME": "alice", "SRP_A": srp.srp_a}
        if admin:
            started = env.client.admin_initiate_auth(UserPoolId=pool, ClientId=app, AuthFlow="USER_SRP_AUTH",
                                                     AuthParameters=params)
        else:
            started = env.client.initiate_auth(ClientId=app, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
        assert [summary(e) for e in events(env, pool)][0] == ("SignIn", "InProgress", [])
        responses = srp.answer(started["ChallengeParameters"], password, env.clock.now())
        if admin:
            return env.client.admin_respond_to_auth_challenge(
                UserPoolId=pool, ClientId=app, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses)
        return env.client.respond_to_auth_challenge(ClientId=app, ChallengeName="PASSWORD_VERIFIER",
                                                    ChallengeResponses=responses)

    assert_tokens(sign_in(NEW))
    with pytest.raises(env.client.exceptions.NotAuthorizedException):
        sign_in("Wrong1!pass")
    assert [summary(e) for e in events(env, pool)] == [
        ("SignIn", "Fail", [PASSWORD_BAD]),
        ("SignIn", "Pass", [PASSWORD_OK]),
    ]
    # The finished sign-in left no continuation; the refused one keeps its own (an answer may be
    # retried), which goes with its event.
    assert sorted(r.kind for r in stored_events(env, pool)) == [core.KIND, core.KIND, core.SESSION_KIND]


class CountingStore(MemoryStore):
    """A memory store that counts the transactions opened on it."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = 0

    def transaction(self):
        self.opened += 1
        return super().transaction()


def test_the_wrapper_costs_one_read_in_a_pool_without_threat_protection_and_nothing_elsewhere():
    counts = {}
    for protected in (False, True):
        store = CountingStore()
        env = Env()
        env.client = make_client(clock=env.clock, messenger=env.outbox, store=store)
        pool = protected_pool(env) if protected else env.pool()
        app = env.app_id(pool)
        confirmed_user(env, pool, app)
        store.opened = 0
        env.client.admin_get_user(UserPoolId=pool, Username="alice")
        unrecorded = store.opened
        store.opened = 0
        env.initiate(app, password=NEW)
        counts[protected] = (unrecorded, store.opened)
    assert counts[False][0] == counts[True][0] == 1  # an operation that records nothing: untouched
    plain_sign_in, protected_sign_in = counts[False][1], counts[True][1]
    load_all()
    handler = OPERATIONS["InitiateAuth"].__wrapped__
    store = CountingStore()
    env = Env()
    env.client = make_client(clock=env.clock, messenger=env.outbox, store=store)
    pool = env.pool()
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    store.opened = 0
    handler(env.client.engine, {"ClientId": app, "AuthFlow": "USER_PASSWORD_AUTH",
                                "AuthParameters": {"USERNAME": "alice", "PASSWORD": NEW}})
    assert plain_sign_in == store.opened + 1  # the probe's one read
    assert protected_sign_in == store.opened + 2  # the probe, and the event's write


@pytest.mark.parametrize("custom_mode", [None, "AUDIT"])
def test_custom_auth_is_recorded_only_when_custom_auth_mode_says_so(custom_mode):
    from tests.unit.test_custom_auth import QUESTIONS, quiz_env, reply, start

    env, _, _, _ = quiz_env()
    add_ons = {**ADD_ONS, **({"AdvancedSecurityAdditionalFlows": {"CustomAuthMode": custom_mode}}
                             if custom_mode else {})}
    pool = env.pool(UserPoolTier="PLUS", UserPoolAddOns=add_ons)
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    response = start(env, app)
    for _, answer in QUESTIONS:
        response = reply(env, app, response, answer)
    assert_tokens(response)
    if custom_mode is None:
        assert events(env, pool) == []
    else:  # one event through every round; custom challenges add no ChallengeResponses entry
        assert [summary(e) for e in events(env, pool)] == [("SignIn", "Pass", [])]


@pytest.mark.parametrize("session", [True, False])
def test_a_remembered_device_sign_in_is_one_event(env, session):
    from tests.signin import answer_device_challenges, confirm_new_device, tracking

    pool = protected_pool(env, DeviceConfiguration=tracking())
    app = env.app_id(pool)
    confirmed_user(env, pool, app)
    device = confirm_new_device(env, env.initiate(app, password=NEW)["AuthenticationResult"])
    asked = env.initiate(app, password=NEW, DEVICE_KEY=device.key)
    assert asked["ChallengeName"] == "DEVICE_SRP_AUTH"
    assert_tokens(answer_device_challenges(env, app, asked, device, session=session))
    assert [summary(e) for e in events(env, pool)] == [("SignIn", "Pass", [PASSWORD_OK])] * 2
