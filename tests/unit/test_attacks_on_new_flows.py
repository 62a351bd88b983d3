"""Attacks on the new flows that authflow correctly refuses (security review): USER_SRP_AUTH
blocks moved between clients, pools, users and credentials; simulated challenges under
PreventUserExistenceErrors=ENABLED; CUSTOM_AUTH sessions reused, moved or answered for
someone else; malformed function answers; CustomMessage answers that drop or repeat the
code; code quotas across aliases, case and app clients; held attribute values; and
PreAuthentication for unknown names. Each test fails if its defence breaks. The bugs the
review found are in tests/regressions/test_review_findings.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from authflow.conformance import srp_client as spec
from authflow.conformance.srp_client import SrpClient
from authflow.core.codes import REQUEST_LIMIT
from authflow.errors import (
    AliasExistsException,
    CodeMismatchException,
    ExpiredCodeException,
    InvalidLambdaResponseException,
    InvalidParameterException,
    LimitExceededException,
    NotAuthorizedException,
    PasswordResetRequiredException,
    UserLambdaValidationException,
)
from tests.helpers import without_lockout
from tests.signin import NEW, Env, assert_tokens, refused
from tests.unit.test_custom_auth import (
    QUESTIONS,
    Quiz,
    SrpQuiz,
    confirmed,
    prove,
    quiz_env,
    reply,
    srp_start,
    start,
)
from tests.unit.test_srp import SALT_FORM, Srp
from tests.unit.test_triggers import Recorder, TriggerEnv

INCORRECT = "Incorrect username or password."
INVALID_SESSION = "Invalid session for the user."
SESSION_USED = "Invalid session for the user, session can only be used once."
LOCKED = "Password attempts exceeded"
BAD_TIMESTAMP = "TIMESTAMP must look like 'Tue Mar 3 07:05:09 UTC 2026'."
STALE = "TIMESTAMP is too far from the server's time."
NOT_HEX = "SRP_A must be a hexadecimal number."
UNRECOGNIZABLE = "Unrecognizable lambda output"
MISMATCH = "Invalid verification code provided, please try again."
TOO_MANY = "Attempt limit exceeded, please try after some time."
EMAIL = "alice@example.com"
VERIFIED_EMAIL = [{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}]
HIDDEN = {"PreventUserExistenceErrors": "ENABLED"}


def code_in(body: str) -> str:
    return re.search(r"\d{6}", body).group()


# == USER_SRP_AUTH =====================================================================================


@pytest.mark.parametrize("srp_a", [
    format(3 * spec.N, "x"),                      # any multiple of N
    "0" * 1024,                                   # zero, padded to the longest accepted form
    "0" * 256 + format(spec.N, "x"),              # N with leading zeros
])
def test_a_values_equal_to_zero_modulo_n_in_any_spelling_are_refused(srp_a):
    t = Srp()
    t.confirmed()
    before = t.snapshot()
    refused(NotAuthorizedException, INCORRECT, t.start, srp_a=srp_a)
    assert t.snapshot() == before


@pytest.mark.parametrize("srp_a", ["-1", "0x10", " 10", "10 ", "1\n", "１２", "1" * 1025, "+5", "1_0"])
def test_a_values_that_are_not_plain_hexadecimal_are_refused(srp_a):
    t = Srp()
    t.confirmed()
    before = t.snapshot()
    refused(InvalidParameterException, NOT_HEX, t.start, srp_a=srp_a)
    assert t.snapshot() == before


def test_a_huge_a_within_the_length_limit_is_an_ordinary_failed_guess():
    """A above N (1024 hex digits) is not reduced away: the proof still needs the password."""
    t = Srp()
    t.confirmed()
    srp = SrpClient(t.pool, 0x5EED)
    srp.big_a += 5 * spec.N  # same value mod N, different wire form
    _, started = t.start(srp_a=srp.srp_a)
    refused(NotAuthorizedException, INCORRECT, t.respond, t.claim(srp, started, "Wrong-pass-1"))
    assert_tokens(t.respond(t.claim(srp, started, NEW)))


@pytest.mark.parametrize("when", [
    "Thu Jan 1 12:00:00 UTC 2026 ",      # trailing space
    "Fri Jan 1 12:00:00 UTC 2026",       # weekday of another date
    "Thu jan 1 12:00:00 UTC 2026",       # lower-case month
    "Thu Jan 1 12:00:00 GMT 2026",       # another zone name
    "Thu Jan 1 24:00:00 UTC 2026",       # hour 24
    "Thu Jan 1 12:00:60 UTC 2026",       # leap second
    "Mon Feb 29 12:00:00 UTC 2027",      # no such date
    "Thu Jan 1 12:00:00 UTC 02026",      # five-digit year
    "Thu  Jan 1 12:00:00 UTC 2026",      # double space
])
def test_malformed_timestamps_are_refused_and_write_nothing(when):
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    before = t.snapshot()
    refused(InvalidParameterException, BAD_TIMESTAMP, t.respond, t.claim(srp, started, NEW, when=when))
    assert t.snapshot() == before


def test_a_timestamp_at_the_edge_of_the_window_is_accepted_and_just_past_it_refused():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    now = t.env.clock.now()
    refused(NotAuthorizedException, STALE, t.respond,
            t.claim(srp, started, NEW, when=spec.timestamp(now + timedelta(minutes=3, seconds=1))))
    assert_tokens(t.respond(t.claim(srp, started, NEW, when=spec.timestamp(now + timedelta(minutes=3)))))


def test_a_block_does_not_open_in_another_pool_even_through_the_admin_api():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    other_pool = t.env.pool()
    other_app = t.env.app_id(other_pool)
    t.env.user(other_pool, "alice", password=None)
    t.client.admin_set_user_password(UserPoolId=other_pool, Username="alice", Password=NEW, Permanent=True)
    before = t.snapshot()
    refused(NotAuthorizedException, INCORRECT, t.client.admin_respond_to_auth_challenge,
            UserPoolId=other_pool, ClientId=other_app, ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses=t.claim(srp, started, NEW))
    with pytest.raises(t.errors.ResourceNotFoundException):  # the client is not the other pool's
        t.client.admin_respond_to_auth_challenge(
            UserPoolId=other_pool, ClientId=t.app_id, ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses=t.claim(srp, started, NEW))
    assert t.snapshot() == before
    assert_tokens(t.respond(t.claim(srp, started, NEW)))


def test_an_answer_naming_another_user_is_refused_before_anything_is_counted():
    t = Srp()
    t.confirmed("alice")
    t.confirmed("bob")
    srp, started = t.start("alice")
    before = t.snapshot()
    refused(NotAuthorizedException, INCORRECT, t.respond, t.claim(srp, started, NEW, username="bob"))
    assert t.snapshot() == before  # no counter for either user
    # bob's own challenge is no help either: the block is bound to alice
    _, bobs = t.start("bob")
    mixed = {**t.claim(srp, started, NEW), "USERNAME": "bob",
             "PASSWORD_CLAIM_SECRET_BLOCK": bobs["ChallengeParameters"]["SECRET_BLOCK"]}
    refused(NotAuthorizedException, INCORRECT, t.respond, mixed)


@pytest.mark.parametrize("change", ["admin_set", "change_password", "recreate"])
def test_a_block_dies_with_the_credential_it_was_issued_for(change):
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    if change == "admin_set":
        t.client.admin_set_user_password(UserPoolId=t.pool, Username="alice", Password=NEW, Permanent=True)
    elif change == "change_password":
        access = t.env.initiate(t.app_id, "alice", NEW)["AuthenticationResult"]["AccessToken"]
        t.client.change_password(AccessToken=access, PreviousPassword=NEW, ProposedPassword="Other1!xx")
    else:  # deleted and created again with the same name and password
        t.client.admin_delete_user(UserPoolId=t.pool, Username="alice")
        t.confirmed()
    # Even the password that is right now does not make the old block succeed.
    for password in (NEW, "Other1!xx"):
        refused(NotAuthorizedException, INCORRECT, t.respond, t.claim(srp, started, password))


def test_a_user_disabled_between_challenge_and_answer_is_refused_without_a_count():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    t.client.admin_disable_user(UserPoolId=t.pool, Username="alice")
    before = t.snapshot()
    refused(NotAuthorizedException, "User is disabled.", t.respond, t.claim(srp, started, NEW))
    refused(NotAuthorizedException, "User is disabled.", t.respond, t.claim(srp, started, "Wrong-pass-1"))
    assert t.snapshot() == before


def test_the_flow_switched_off_between_challenge_and_answer_refuses_the_answer():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    t.client.update_user_pool_client(UserPoolId=t.pool, ClientId=t.app_id, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
    refused(InvalidParameterException, "USER_SRP_AUTH flow not enabled for this client",
            t.respond, t.claim(srp, started, NEW))


def test_a_simulated_block_never_signs_in_even_once_the_name_exists():
    t = Srp(app_kwargs=HIDDEN)
    srp, started = t.start("carol")
    t.confirmed("carol")  # the name now belongs to a user whose password the attacker chose to guess
    refused(NotAuthorizedException, INCORRECT, t.respond, t.claim(srp, started, NEW))
    refused(NotAuthorizedException, INCORRECT, t.respond, t.claim(srp, started, NEW, username="carol"))


def test_simulated_and_real_challenges_look_alike_and_fail_alike():
    t = Srp(pool_kwargs={"UsernameConfiguration": {"CaseSensitive": False}}, app_kwargs=HIDDEN)
    t.confirmed("alice")
    _, real = t.start("alice")
    _, fake = t.start("nobody")
    _, fake_upper = t.start("NOBODY")
    r, f = real["ChallengeParameters"], fake["ChallengeParameters"]
    assert real["ChallengeName"] == fake["ChallengeName"] == "PASSWORD_VERIFIER"
    assert set(r) == set(f) and "Session" not in real and "Session" not in fake
    assert len(r["SECRET_BLOCK"]) == len(f["SECRET_BLOCK"])
    for salt in (r["SALT"], f["SALT"]):  # 16 random bytes in pad_hex form, either way
        assert SALT_FORM.fullmatch(salt) and len(salt) in (30, 32, 34)
    assert abs(len(r["SRP_B"]) - len(f["SRP_B"])) <= 2  # random B, same group
    # stable salt, whatever the case of the name (as a real user's salt is)
    assert fake_upper["ChallengeParameters"]["SALT"] == f["SALT"]
    assert t.start("nobody")[1]["ChallengeParameters"]["SALT"] == f["SALT"]


def test_lockout_looks_the_same_for_real_and_unknown_names_over_srp():
    t = Srp(app_kwargs=HIDDEN)
    t.confirmed("alice")
    before = t.snapshot()
    outcomes = {}
    for name in ("alice", "nobody"):
        seen = []
        for _ in range(6):
            srp, started = t.start(name)
            with pytest.raises(NotAuthorizedException) as err:
                t.respond(t.claim(srp, started, "Wrong-pass-1"))
            seen.append(err.value.message)
        outcomes[name] = seen
    assert outcomes["alice"] == outcomes["nobody"] == [INCORRECT] * 5 + [LOCKED]
    assert without_lockout(t.snapshot()) == without_lockout(before)  # only the counters were written


def test_the_srp_and_password_flows_share_one_counter_for_unknown_names():
    t = Srp(app_kwargs=HIDDEN)
    for _ in range(3):
        refused(NotAuthorizedException, INCORRECT, t.env.initiate, t.app_id, "nobody", "Wrong-pass-1")
    for _ in range(2):
        srp, started = t.start("nobody")
        refused(NotAuthorizedException, INCORRECT, t.respond, t.claim(srp, started, "Wrong-pass-1"))
    refused(NotAuthorizedException, LOCKED, t.env.initiate, t.app_id, "nobody", "x-Wrong-1")


# == CUSTOM_AUTH ========================================================================================


def test_a_custom_session_answered_for_another_user_or_through_another_client_changes_nothing():
    env, quiz, pool, app = quiz_env()
    confirmed(env, pool, "alice")
    confirmed(env, pool, "bob")
    other_app = env.app_id(pool)
    other_pool = env.pool()
    other_pool_app = env.app_id(other_pool)
    response = start(env, app, "alice")
    before, verified = env.snapshot(), len(quiz.verify_events)
    refused(NotAuthorizedException, INVALID_SESSION, reply, env, app, response, "4", "bob")
    refused(NotAuthorizedException, INVALID_SESSION, reply, env, other_app, response, "4")
    refused(NotAuthorizedException, INVALID_SESSION, env.client.admin_respond_to_auth_challenge,
            UserPoolId=other_pool, ClientId=other_pool_app, ChallengeName="CUSTOM_CHALLENGE",
            Session=response["Session"], ChallengeResponses={"USERNAME": "alice", "ANSWER": "4"})
    with pytest.raises(env.client.exceptions.ResourceNotFoundException):
        env.client.admin_respond_to_auth_challenge(
            UserPoolId=other_pool, ClientId=app, ChallengeName="CUSTOM_CHALLENGE",
            Session=response["Session"], ChallengeResponses={"USERNAME": "alice", "ANSWER": "4"})
    assert env.snapshot() == before and len(quiz.verify_events) == verified  # Verify never asked
    assert reply(env, app, response, "4")["ChallengeName"] == "CUSTOM_CHALLENGE"  # still good for alice


def test_a_simulated_session_cannot_be_answered_as_a_real_user():
    env, quiz, pool, app = quiz_env(app_kwargs=HIDDEN)
    confirmed(env, pool, "alice")
    response = start(env, app, "nobody")
    refused(NotAuthorizedException, INVALID_SESSION, reply, env, app, response, "4", "alice")
    for _, answer in QUESTIONS[:-1]:
        response = reply(env, app, response, answer, "nobody")
    env.user(pool, "nobody", password=None)  # the name now exists: the simulated session still never signs in
    refused(NotAuthorizedException, INCORRECT, reply, env, app, response, QUESTIONS[-1][1], "nobody")


def test_a_custom_session_is_used_up_by_each_answer():
    env, _, pool, app = quiz_env()
    confirmed(env, pool)
    first = start(env, app)
    second = reply(env, app, first, "4")
    refused(NotAuthorizedException, SESSION_USED, reply, env, app, first, "4")
    env.clock.advance(timedelta(minutes=3))
    refused(NotAuthorizedException, "Invalid session for the user, session is expired.", reply, env, app, second, "Paris")


@pytest.mark.parametrize("between", ["disable", "delete", "reset", "recreate"])
def test_a_user_changed_between_rounds_gets_no_tokens(between):
    env, _, pool, app = quiz_env(app_kwargs=None)
    env.user(pool, "alice", attributes=VERIFIED_EMAIL, password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    response = start(env, app)
    for _, answer in QUESTIONS[:-1]:
        response = reply(env, app, response, answer)
    if between == "disable":
        env.client.admin_disable_user(UserPoolId=pool, Username="alice")
        expected = (NotAuthorizedException, "User is disabled.")
    elif between == "delete":
        env.client.admin_delete_user(UserPoolId=pool, Username="alice")
        expected = (NotAuthorizedException, INVALID_SESSION)
    elif between == "recreate":
        env.client.admin_delete_user(UserPoolId=pool, Username="alice")
        confirmed(env, pool)
        expected = (NotAuthorizedException, INVALID_SESSION)
    else:
        env.client.admin_reset_user_password(UserPoolId=pool, Username="alice")
        expected = (PasswordResetRequiredException, "Password reset required for the user")
    refused(*expected, reply, env, app, response, QUESTIONS[-1][1])


def _define_answering(answer):
    def define(event):
        event["response"].update(answer)
        return event
    return define


@pytest.mark.parametrize("answer", [
    {"challengeName": 7},
    {"challengeName": ["CUSTOM_CHALLENGE"]},
    {"issueTokens": "true"},
    {"failAuthentication": 1},
    {"issueTokens": 0, "challengeName": "CUSTOM_CHALLENGE"},
    {"challengeName": ""},
    {},
])
def test_malformed_define_answers_are_refused_and_write_nothing(answer):
    env, _, pool, app = quiz_env(DefineAuthChallenge=_define_answering(answer))
    confirmed(env, pool)
    before = env.snapshot()
    refused(InvalidLambdaResponseException, UNRECOGNIZABLE, start, env, app)
    assert env.snapshot() == before


@pytest.mark.parametrize("answer", [{"challengeName": "SMS_MFA"}, {"challengeName": "PASSWORD_VERIFIER"},
                                    {"challengeName": "NEW_PASSWORD_REQUIRED"}])
def test_define_cannot_name_a_standard_challenge_to_skip_a_step(answer):
    env, _, pool, app = quiz_env(DefineAuthChallenge=_define_answering(answer))
    confirmed(env, pool)
    before = env.snapshot()
    with pytest.raises(InvalidParameterException):
        start(env, app)
    assert env.snapshot() == before


@pytest.mark.parametrize("shape", ["list", "string", "response-list"])
def test_a_define_function_returning_garbage_is_refused(shape):
    def define(event):
        return {"list": [event], "string": "ok", "response-list": {**event, "response": [1]}}[shape]

    env, _, pool, app = quiz_env(DefineAuthChallenge=define)
    confirmed(env, pool)
    refused(InvalidLambdaResponseException, UNRECOGNIZABLE, start, env, app)


def test_failing_wins_over_issuing_tokens():
    env, _, pool, app = quiz_env(DefineAuthChallenge=_define_answering({"failAuthentication": True,
                                                                        "issueTokens": True}))
    confirmed(env, pool)
    refused(NotAuthorizedException, INCORRECT, start, env, app)


@pytest.mark.parametrize("private", [{"answer": 4}, {"answer": None}, ["4"], "4"])
def test_create_with_non_string_private_parameters_is_refused(private):
    def create(event):
        event["response"].update(publicChallengeParameters={"q": "2 + 2"}, privateChallengeParameters=private)
        return event

    env, _, pool, app = quiz_env(CreateAuthChallenge=create)
    confirmed(env, pool)
    before = env.snapshot()
    refused(InvalidLambdaResponseException, UNRECOGNIZABLE, start, env, app)
    assert env.snapshot() == before


def test_create_cannot_override_the_username_the_client_answers_with():
    def create(event):
        event["response"].update(publicChallengeParameters={"USERNAME": "bob"}, privateChallengeParameters={"a": "4"})
        return event

    env, _, pool, app = quiz_env(CreateAuthChallenge=create)
    confirmed(env, pool)
    assert start(env, app)["ChallengeParameters"]["USERNAME"] == "alice"


def test_the_sealed_progress_holds_no_private_answer_in_any_readable_form():
    import base64

    def create(event):
        event["response"].update(publicChallengeParameters={"q": "?"},
                                 privateChallengeParameters={"answer": "s3cr3t-answer-xyz"})
        return event

    env, _, pool, app = quiz_env(CreateAuthChallenge=create)
    confirmed(env, pool)
    start(env, app)
    dump = repr(env.snapshot())
    (session,) = [r for r in env.snapshot()["sessions"].values() if r.challenge == "CUSTOM_CHALLENGE"]
    assert "s3cr3t-answer-xyz" not in dump
    assert b"s3cr3t" not in base64.b64decode(session.progress)


def test_a_custom_password_proof_is_bound_to_its_user_and_counted():
    env, _, pool, app = quiz_env(SrpQuiz())
    confirmed(env, pool, "alice")
    confirmed(env, pool, "bob")
    srp = SrpClient(pool, 0xABC)
    started = srp_start(env, app, srp)
    as_bob = srp.answer(started["ChallengeParameters"], NEW, env.clock.now(), username="bob")
    refused(NotAuthorizedException, INCORRECT, env.client.respond_to_auth_challenge,
            ClientId=app, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=as_bob)
    for _ in range(5):
        refused(NotAuthorizedException, INCORRECT, prove, env, app, started, srp, "Wrong-pass-1")
    refused(NotAuthorizedException, LOCKED, prove, env, app, started, srp)  # even the right one
    env.clock.advance(timedelta(seconds=2))
    assert prove(env, app, started, srp)["ChallengeName"] == "CUSTOM_CHALLENGE"


def test_a_custom_flows_block_needs_custom_auth_not_user_srp_auth():
    env, _, pool, app = quiz_env(SrpQuiz())
    confirmed(env, pool)
    srp = SrpClient(pool, 0xABD)
    started = srp_start(env, app, srp)
    env.client.update_user_pool_client(UserPoolId=pool, ClientId=app, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"])
    refused(InvalidParameterException, "CUSTOM_AUTH flow not enabled for this client", prove, env, app, started, srp)


def test_an_unknown_name_in_a_custom_srp_flow_never_passes_the_proof():
    env, quiz, pool, app = quiz_env(SrpQuiz(), app_kwargs=HIDDEN)
    srp = SrpClient(pool, 0xABE)
    started = srp_start(env, app, srp)
    assert started["ChallengeName"] == "PASSWORD_VERIFIER"
    refused(NotAuthorizedException, INCORRECT, prove, env, app, started, srp)
    assert len(quiz.rounds) == 1  # Define never hears of a passed proof


# == CustomMessage =======================================================================================


def _message_env(answer):
    env = TriggerEnv(CustomMessage=Recorder(answer=answer))
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    env.user(pool, attributes=VERIFIED_EMAIL, password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    return env, pool, app


@pytest.mark.parametrize("answer", [
    {"emailMessage": "your code is lost"},
    {"emailMessage": "{###} almost"},
    {"emailMessage": "x" * 19_995 + "{####}"},
    {"emailMessage": 123456},
    {"emailMessage": ["{####}"]},
    {"emailMessage": {"text": "{####}"}},
    {"emailMessage": True},
    {"emailMessage": ""},
    {"emailSubject": "s" * 141},
    {"emailSubject": 5},
    {"smsMessage": "no code"},                    # the other medium is checked too
    {"smsMessage": "{####}" + "x" * 135},
])
def test_unusable_custom_messages_fail_the_request_and_leave_no_code(answer):
    env, pool, app = _message_env(answer)
    before, sent = env.snapshot(), len(env.outbox.messages)
    refused(InvalidLambdaResponseException, UNRECOGNIZABLE, env.client.forgot_password, ClientId=app, Username="alice")
    assert env.snapshot() == before and len(env.outbox.messages) == sent
    refused(ExpiredCodeException, "Invalid code provided, please request a code again.",
            env.client.confirm_forgot_password, ClientId=app, Username="alice", ConfirmationCode="123456",
            Password="Other1!xx")


def test_a_code_repeated_in_the_message_is_the_same_code_and_only_the_latest_works():
    env, pool, app = _message_env({"emailMessage": "{####} / {####} / {####}", "emailSubject": "{####}"})
    env.client.forgot_password(ClientId=app, Username="alice")
    first = env.outbox.last().body
    codes = re.findall(r"\d{6}", first)
    assert len(codes) == 3 and len(set(codes)) == 1
    env.client.forgot_password(ClientId=app, Username="alice")
    latest = code_in(env.outbox.last().body)
    if latest != codes[0]:
        refused(CodeMismatchException, MISMATCH, env.client.confirm_forgot_password, ClientId=app,
                Username="alice", ConfirmationCode=codes[0], Password="Other1!xx")
    env.client.confirm_forgot_password(ClientId=app, Username="alice", ConfirmationCode=latest, Password="Other1!xx")
    assert_tokens(env.initiate(app, "alice", "Other1!xx"))


def test_a_message_function_cannot_see_or_leak_the_code_through_the_event():
    recorder = Recorder(answer={"emailMessage": "c={####}"})
    env = TriggerEnv(CustomMessage=recorder)
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    env.user(pool, attributes=VERIFIED_EMAIL, password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    env.client.forgot_password(ClientId=app, Username="alice")
    code = code_in(env.outbox.last().body)
    assert code not in repr(recorder.events)
    assert recorder.events[-1]["request"]["codeParameter"] == "{####}"


# == Code quotas ===========================================================================================


def test_the_forgot_password_quota_is_per_user_whatever_name_or_client_asks():
    env = Env()
    pool = env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"],
                    UsernameConfiguration={"CaseSensitive": False})
    apps = [env.app_id(pool), env.app_id(pool), env.app_id(pool, **HIDDEN)]
    env.user(pool, "alice", attributes=VERIFIED_EMAIL, password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    names = ["alice", "ALICE", EMAIL, "Alice@Example.com", "aLiCe"]
    for i, name in enumerate(names[:REQUEST_LIMIT]):
        env.client.forgot_password(ClientId=apps[i % len(apps)], Username=name)
    for app in apps[:2]:
        for name in names:
            refused(LimitExceededException, TOO_MANY, env.client.forgot_password, ClientId=app, Username=name)
    # The client that hides users answers as a delivery (an unknown name is never
    # refused), but past the limit nothing is sent and nothing changes.
    before, sent = env.snapshot(), len(env.outbox.messages)
    for name in names:
        response = env.client.forgot_password(ClientId=apps[2], Username=name)
        assert response["CodeDeliveryDetails"]["Destination"] == "a***@e***"
    assert env.snapshot() == before and len(env.outbox.messages) == sent


def test_wrong_reset_codes_are_bounded_per_code_and_the_right_one_then_fails_too():
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    env.user(pool, attributes=VERIFIED_EMAIL, password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    env.client.forgot_password(ClientId=app, Username="alice")
    code = code_in(env.outbox.last().body)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        refused(CodeMismatchException, MISMATCH, env.client.confirm_forgot_password,
                ClientId=app, Username="alice", ConfirmationCode=wrong, Password="Other1!xx")
    refused(LimitExceededException, TOO_MANY, env.client.confirm_forgot_password,
            ClientId=app, Username="alice", ConfirmationCode=code, Password="Other1!xx")
    assert_tokens(env.initiate(app, "alice", NEW))  # the password did not change


# == AttributesRequireVerificationBeforeUpdate ==============================================================

HELD = {"AttributesRequireVerificationBeforeUpdate": ["email"]}
TARGET = "target@example.com"


def _held_env():
    env = Env()
    pool = env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"], UserAttributeUpdateSettings=HELD)
    app = env.app_id(pool)
    for name, email in (("alice", EMAIL), ("bob", "bob@example.com")):
        env.user(pool, name, attributes=[{"Name": "email", "Value": email},
                                         {"Name": "email_verified", "Value": "true"}], password=None)
        env.client.admin_set_user_password(UserPoolId=pool, Username=name, Password=NEW, Permanent=True)
    token = env.initiate(app, "alice", NEW)["AuthenticationResult"]["AccessToken"]
    return env, pool, app, token


def test_a_held_value_is_not_an_alias_and_cannot_be_claimed_without_its_code():
    env, pool, app, token = _held_env()
    env.client.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": TARGET}])
    held_code = code_in(env.outbox.last().body)
    # nobody signs in with the held value, and the old one still works
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.", env.initiate, app, TARGET, NEW)
    assert_tokens(env.initiate(app, EMAIL, NEW))
    # asking for a code for the current value drops the held one: its code no longer works
    env.client.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    current_code = code_in(env.outbox.last().body)
    assert current_code != held_code  # (seeded entropy: always true here)
    refused(CodeMismatchException, MISMATCH, env.client.verify_user_attribute,
            AccessToken=token, AttributeName="email", Code=held_code)
    # and the current value's code verifies the current value, never the held one
    env.client.verify_user_attribute(AccessToken=token, AttributeName="email", Code=current_code)
    assert env.attributes(pool)["email"] == EMAIL


def test_a_held_value_verified_first_by_someone_else_stays_theirs():
    env, pool, app, token = _held_env()
    env.client.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": TARGET}])
    alices_code = code_in(env.outbox.last().body)
    bob = env.initiate(app, "bob", NEW)["AuthenticationResult"]["AccessToken"]
    env.client.update_user_attributes(AccessToken=bob, UserAttributes=[{"Name": "email", "Value": TARGET}])
    env.client.verify_user_attribute(AccessToken=bob, AttributeName="email", Code=code_in(env.outbox.last().body))
    before = env.snapshot()
    refused(AliasExistsException, "An account with the email already exists.", env.client.verify_user_attribute,
            AccessToken=token, AttributeName="email", Code=alices_code)
    assert env.snapshot() == before
    assert env.attributes(pool, "alice")["email"] == EMAIL
    assert_tokens(env.initiate(app, TARGET, NEW)) and env.attributes(pool, "bob")["email"] == TARGET


@pytest.mark.parametrize("admin_writes", [
    [{"Name": "email", "Value": "admin@example.com"}, {"Name": "email_verified", "Value": "true"}],
    [{"Name": "email", "Value": "admin@example.com"}],  # held again: the code goes to the new value
])
def test_an_admin_update_of_the_same_attribute_voids_the_held_code(admin_writes):
    env, pool, app, token = _held_env()
    env.client.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": TARGET}])
    held_code = code_in(env.outbox.last().body)
    sent = len(env.outbox.messages)
    env.client.admin_update_user_attributes(UserPoolId=pool, Username="alice", UserAttributes=admin_writes)
    with pytest.raises((ExpiredCodeException, CodeMismatchException)):
        if len(env.outbox.messages) > sent and code_in(env.outbox.last().body) == held_code:
            raise CodeMismatchException(MISMATCH)  # same digits by chance: nothing to tell apart
        env.client.verify_user_attribute(AccessToken=token, AttributeName="email", Code=held_code)
    assert env.attributes(pool)["email"] != TARGET


# == PreAuthentication with userNotFound ==================================================================


def _pre_auth_env(fail: str | None = None):
    pre = Recorder(fail=fail)
    env = TriggerEnv(PreAuthentication=pre)
    pool = env.pool()
    app = env.app_id(pool, **HIDDEN)
    env.user(pool, "alice", password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    return env, pool, app, pre


def _outcome(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 -- the outcome is what is compared
        return type(err).__name__, getattr(err, "message", str(err))
    return "ok", None


def test_pre_authentication_refusals_look_the_same_and_write_nothing():
    env, pool, app, pre = _pre_auth_env(fail="denied")
    before = env.snapshot()
    outcomes = {name: _outcome(env.initiate, app, name, "Wrong-pass-1") for name in ("alice", "nobody")}
    assert outcomes["alice"] == outcomes["nobody"] == (
        "UserLambdaValidationException", "PreAuthentication failed with error denied.")
    assert env.snapshot() == before
    assert [e["request"]["userNotFound"] for e in pre.events] == [False, True]
    assert pre.events[1]["request"]["userAttributes"] == {}
    assert pre.events[1]["userName"] == "nobody"


def test_with_pre_authentication_wrong_passwords_and_unknown_names_lock_alike():
    env, pool, app, _ = _pre_auth_env()
    for name in ("alice", "nobody"):
        seen = [_outcome(env.initiate, app, name, "Wrong-pass-1") for _ in range(6)]
        assert seen == [("NotAuthorizedException", INCORRECT)] * 5 + [("NotAuthorizedException", LOCKED)], name
    before = env.snapshot()
    # while locked, PreAuthentication still runs and a refusal from it still writes nothing
    env.functions["PreAuthentication"].fail = "denied"
    for name in ("alice", "nobody"):
        assert _outcome(env.initiate, app, name, NEW) == (
            "UserLambdaValidationException", "PreAuthentication failed with error denied.")
    assert env.snapshot() == before


def test_pre_authentication_on_srp_and_custom_starts_writes_nothing_for_either():
    pre = Recorder()
    quiz = Quiz()
    env = TriggerEnv(PreAuthentication=pre, DefineAuthChallenge=quiz.define, CreateAuthChallenge=quiz.create,
                     VerifyAuthChallengeResponse=quiz.verify)
    pool = env.pool()
    app = env.app_id(pool, **HIDDEN)
    env.user(pool, "alice", password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    srp = SrpClient(pool, 77)
    before = env.snapshot()
    shapes = {}
    for name in ("alice", "nobody"):
        r = env.client.initiate_auth(ClientId=app, AuthFlow="USER_SRP_AUTH",
                                     AuthParameters={"USERNAME": name, "SRP_A": srp.srp_a})
        shapes[name] = (r["ChallengeName"], sorted(r["ChallengeParameters"]))
    assert shapes["alice"] == shapes["nobody"]
    assert env.snapshot() == before  # SRP's first step writes nothing for either
    assert [e["request"]["userNotFound"] for e in pre.events] == [False, True]
    custom = {name: start(env, app, name) for name in ("alice", "nobody")}
    assert {n: (r["ChallengeName"], sorted(r["ChallengeParameters"])) for n, r in custom.items()} == {
        n: ("CUSTOM_CHALLENGE", ["USERNAME", "question"]) for n in custom}
    assert len([s for s in env.snapshot()["sessions"].values() if s.challenge == "CUSTOM_CHALLENGE"]) == 2


def test_pre_authentication_is_not_told_about_names_under_legacy():
    pre = Recorder()
    env = TriggerEnv(PreAuthentication=pre)
    pool = env.pool()
    app = env.app_id(pool)
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.", env.initiate, app, "nobody", NEW)
    assert pre.events == []
    env.user(pool, "alice", password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    pre.fail = "x"
    refused(UserLambdaValidationException, "PreAuthentication failed with error x.", env.initiate, app, "alice", NEW)
    assert [e["request"]["userNotFound"] for e in pre.events] == [False]
