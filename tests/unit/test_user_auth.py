"""Choice-based sign-in (USER_AUTH) through the Client: PREFERRED_CHALLENGE and
SELECT_CHALLENGE, the password and SRP factors under ALLOW_USER_AUTH alone, e-mail and SMS
one-time codes as a first factor (each code once, only within the session's life, wrong
codes counted toward the lockout, no MFA after them), the pool's sign-in policy and feature
plan, unknown users under PreventUserExistenceErrors, and GetUserAuthFactors
(docs/semantics.md, "Passwordless sign-in")."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from authflow.conformance.srp_client import SrpClient
from authflow.errors import (
    CodeMismatchException,
    FeatureUnavailableInTierException,
    InvalidParameterException,
    NotAuthorizedException,
    UserLambdaValidationException,
    UserNotFoundException,
)
from tests.signin import NEW, Env, assert_tokens, refused

EMAIL = "alice@example.com"
PHONE = "+15555550100"
SES = {"EmailSendingAccount": "DEVELOPER", "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
       "From": "no-reply@example.com"}
USED_SESSION = "Invalid session for the user, session can only be used once."
EXPIRED_SESSION = "Invalid session for the user, session is expired."


class Passwordless:
    """A pool whose sign-in policy allows every first factor, an app client with
    ALLOW_USER_AUTH only, and alice (CONFIRMED, verified e-mail and phone number)."""

    def __init__(self, env: Env, *, factors=("PASSWORD", "EMAIL_OTP", "SMS_OTP", "WEB_AUTHN"), flows=None,
                 prevent: str = "ENABLED", **pool) -> None:
        self.env = env
        self.pool = env.pool(Policies={"SignInPolicy": {"AllowedFirstAuthFactors": list(factors)}},
                             EmailConfiguration=SES, **pool)
        self.app = env.app_id(self.pool, ExplicitAuthFlows=flows or ["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                              PreventUserExistenceErrors=prevent)
        env.user(self.pool, attributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"},
                                        {"Name": "phone_number", "Value": PHONE},
                                        {"Name": "phone_number_verified", "Value": "true"}])
        env.client.admin_set_user_password(UserPoolId=self.pool, Username="alice", Password=NEW, Permanent=True)

    def start(self, username: str = "alice", **params) -> dict:
        return self.env.client.initiate_auth(ClientId=self.app, AuthFlow="USER_AUTH",
                                             AuthParameters={"USERNAME": username, **params})

    def admin_start(self, username: str = "alice", **params) -> dict:
        return self.env.client.admin_initiate_auth(UserPoolId=self.pool, ClientId=self.app, AuthFlow="USER_AUTH",
                                                   AuthParameters={"USERNAME": username, **params})

    def answer(self, started: dict, name: str, **responses) -> dict:
        return self.env.client.respond_to_auth_challenge(
            ClientId=self.app, ChallengeName=name, Session=started["Session"],
            ChallengeResponses={"USERNAME": "alice", **responses})

    def code(self) -> str:
        return re.search(r"\d{6,8}", self.env.outbox.last().body).group()


@pytest.fixture
def env():
    return Env()


@pytest.fixture
def pw(env):
    return Passwordless(env)


def test_without_a_preference_the_user_chooses_from_what_they_can_use(pw):
    started = pw.start()
    assert started["ChallengeName"] == "SELECT_CHALLENGE"
    assert started["ChallengeParameters"] == {}
    # No passkey registered: WEB_AUTHN is allowed by the pool but not available to alice.
    assert started["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP"]


def test_password_chosen_at_select_challenge_signs_in(pw):
    started = pw.start()
    assert_tokens(pw.answer(started, "SELECT_CHALLENGE", ANSWER="PASSWORD", PASSWORD=NEW))


def test_a_select_challenge_session_is_answered_once(pw):
    started = pw.start()
    refused(NotAuthorizedException, "Incorrect username or password.",
            pw.answer, started, "SELECT_CHALLENGE", ANSWER="PASSWORD", PASSWORD="Wrong1!xx")
    refused(NotAuthorizedException, USED_SESSION, pw.answer, started, "SELECT_CHALLENGE", ANSWER="PASSWORD",
            PASSWORD=NEW)


def test_password_named_directly_against_the_select_session(pw):
    assert_tokens(pw.answer(pw.start(), "PASSWORD", PASSWORD=NEW))


def test_preferred_password_signs_in_at_once_through_both_operations(pw):
    assert_tokens(pw.start(PREFERRED_CHALLENGE="PASSWORD", PASSWORD=NEW))
    assert_tokens(pw.admin_start(PREFERRED_CHALLENGE="PASSWORD", PASSWORD=NEW))


def test_preferred_password_without_the_password_is_refused(pw):
    refused(InvalidParameterException, "Missing required parameter PASSWORD", pw.start, PREFERRED_CHALLENGE="PASSWORD")


def test_password_srp_under_allow_user_auth_alone(pw):
    srp = SrpClient(pw.pool, 0xA11CE)
    started = pw.start(PREFERRED_CHALLENGE="PASSWORD_SRP", SRP_A=srp.srp_a)
    assert started["ChallengeName"] == "PASSWORD_VERIFIER"
    responses = srp.answer(started["ChallengeParameters"], NEW, pw.env.clock.now())
    done = pw.env.client.respond_to_auth_challenge(ClientId=pw.app, ChallengeName="PASSWORD_VERIFIER",
                                                   ChallengeResponses=responses)
    assert_tokens(done)


def test_email_otp_as_first_factor_signs_in_without_mfa(env):
    pw = Passwordless(env, MfaConfiguration="OPTIONAL", SmsConfiguration={"SnsCallerArn": "arn:aws:iam::1:role/sns"})
    env.client.admin_set_user_mfa_preference(UserPoolId=pw.pool, Username="alice",
                                             SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    started = pw.start(PREFERRED_CHALLENGE="EMAIL_OTP")
    assert started["ChallengeName"] == "EMAIL_OTP"
    assert started["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    assert started["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "a***@e***"
    message = env.outbox.last()
    assert message.destination == EMAIL
    assert_tokens(pw.answer(started, "EMAIL_OTP", EMAIL_OTP_CODE=pw.code()))


def test_sms_otp_chosen_at_select_challenge(pw):
    chosen = pw.answer(pw.start(), "SELECT_CHALLENGE", ANSWER="SMS_OTP")
    assert chosen["ChallengeName"] == "SMS_OTP"
    assert chosen["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "SMS"
    assert pw.env.outbox.last().destination == PHONE
    assert_tokens(pw.answer(chosen, "SMS_OTP", SMS_OTP_CODE=pw.code()))


def test_an_otp_is_accepted_once(pw):
    started = pw.start(PREFERRED_CHALLENGE="EMAIL_OTP")
    code = pw.code()
    assert_tokens(pw.answer(started, "EMAIL_OTP", EMAIL_OTP_CODE=code))
    refused(NotAuthorizedException, USED_SESSION, pw.answer, started, "EMAIL_OTP", EMAIL_OTP_CODE=code)


def test_an_otp_after_its_window_is_refused_and_changes_nothing(pw):
    started = pw.start(PREFERRED_CHALLENGE="EMAIL_OTP")
    code = pw.code()
    pw.env.clock.advance(timedelta(minutes=3, seconds=1))
    before = pw.env.snapshot()
    refused(NotAuthorizedException, EXPIRED_SESSION, pw.answer, started, "EMAIL_OTP", EMAIL_OTP_CODE=code)
    assert pw.env.snapshot() == before


def test_a_wrong_code_counts_and_the_session_stays_usable(pw):
    started = pw.start(PREFERRED_CHALLENGE="EMAIL_OTP")
    code = pw.code()
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    refused(CodeMismatchException, "Invalid code received for user", pw.answer, started, "EMAIL_OTP",
            EMAIL_OTP_CODE=wrong)
    assert_tokens(pw.answer(started, "EMAIL_OTP", EMAIL_OTP_CODE=code))


def test_unverified_email_is_not_offered_and_a_preference_for_it_falls_back_to_select(env):
    pw = Passwordless(env)
    env.client.admin_update_user_attributes(UserPoolId=pw.pool, Username="alice",
                                            UserAttributes=[{"Name": "email_verified", "Value": "false"}])
    started = pw.start(PREFERRED_CHALLENGE="EMAIL_OTP")
    assert started["ChallengeName"] == "SELECT_CHALLENGE"
    assert "EMAIL_OTP" not in started["AvailableChallenges"]
    refused(InvalidParameterException, "The challenge EMAIL_OTP is not one of this session's AvailableChallenges.",
            pw.answer, started, "SELECT_CHALLENGE", ANSWER="EMAIL_OTP")


def test_mfa_on_pools_offer_no_passwordless_factor(env):
    pw = Passwordless(env, MfaConfiguration="ON", SmsConfiguration={"SnsCallerArn": "arn:aws:iam::1:role/sns"})
    assert pw.start()["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]


def test_the_pool_policy_limits_the_choices(env):
    pw = Passwordless(env, factors=("PASSWORD",))
    assert pw.start()["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]


def test_a_client_without_allow_user_auth_is_refused(env):
    pw = Passwordless(env, flows=["ALLOW_USER_PASSWORD_AUTH"])
    refused(InvalidParameterException, "USER_AUTH flow not enabled for this client", pw.start)


def test_an_unknown_preferred_challenge_is_refused(pw):
    refused(InvalidParameterException,
            "PREFERRED_CHALLENGE must be one of PASSWORD, PASSWORD_SRP, EMAIL_OTP, SMS_OTP, WEB_AUTHN; "
            "SOFTWARE_TOKEN_MFA is not a USER_AUTH challenge.", pw.start, PREFERRED_CHALLENGE="SOFTWARE_TOKEN_MFA")


def test_lite_pools_refuse_passwordless_factors_and_user_auth(env):
    refused(FeatureUnavailableInTierException,
            "Passwordless first factors (EMAIL_OTP, SMS_OTP, WEB_AUTHN) in SignInPolicy need the Essentials or Plus "
            "feature plan; this user pool's UserPoolTier is LITE.",
            env.pool, UserPoolTier="LITE", Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}})
    pool = env.pool(UserPoolTier="LITE")
    app = env.app_id(pool, ExplicitAuthFlows=["ALLOW_USER_AUTH"])
    refused(FeatureUnavailableInTierException,
            "The USER_AUTH flow needs the Essentials or Plus feature plan; this user pool's UserPoolTier is LITE.",
            env.client.initiate_auth, ClientId=app, AuthFlow="USER_AUTH", AuthParameters={"USERNAME": "x"})


def test_software_token_is_no_first_factor(env):
    with pytest.raises(InvalidParameterException):
        env.pool(Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "SOFTWARE_TOKEN"]}})


def test_unknown_user_looks_like_a_real_one_under_prevent_user_existence_errors(pw):
    started = pw.start("nobody@example.com")
    assert started["ChallengeName"] == "SELECT_CHALLENGE"
    assert started["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP", "WEB_AUTHN"]
    before = len(pw.env.outbox.messages)
    chosen = pw.env.client.respond_to_auth_challenge(
        ClientId=pw.app, ChallengeName="SELECT_CHALLENGE", Session=started["Session"],
        ChallengeResponses={"USERNAME": "nobody@example.com", "ANSWER": "EMAIL_OTP"})
    assert chosen["ChallengeName"] == "EMAIL_OTP"
    assert chosen["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "n***@e***"
    assert len(pw.env.outbox.messages) == before  # nothing sent
    refused(CodeMismatchException, "Invalid code received for user", pw.env.client.respond_to_auth_challenge,
            ClientId=pw.app, ChallengeName="EMAIL_OTP", Session=chosen["Session"],
            ChallengeResponses={"USERNAME": "nobody@example.com", "EMAIL_OTP_CODE": "12345678"})


def test_unknown_user_without_prevent_user_existence_errors(env):
    pw = Passwordless(env, prevent="LEGACY")
    refused(UserNotFoundException, "User does not exist.", pw.start, "nobody")


def test_a_temporary_password_user_is_offered_the_password_only(env):
    pw = Passwordless(env)
    env.user(pw.pool, "bob", attributes=[{"Name": "email", "Value": "bob@example.com"},
                                         {"Name": "email_verified", "Value": "true"}])
    assert pw.start("bob")["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]


def test_get_user_auth_factors(pw):
    tokens = pw.start(PREFERRED_CHALLENGE="PASSWORD", PASSWORD=NEW)["AuthenticationResult"]
    mine = pw.env.client.get_user_auth_factors(AccessToken=tokens["AccessToken"])
    mine.pop("ResponseMetadata", None)
    assert mine == {"Username": "alice", "ConfiguredUserAuthFactors": ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]}
    theirs = pw.env.client.admin_get_user_auth_factors(UserPoolId=pw.pool, Username="alice")
    theirs.pop("ResponseMetadata", None)
    assert theirs == mine
    refused(UserNotFoundException, "User does not exist.", pw.env.client.admin_get_user_auth_factors,
            UserPoolId=pw.pool, Username="nobody")


# -- sign-up without a password, and signing in straight after it ---------------------------------


class SignUpPool:
    """A pool where visitors sign up with their e-mail address (auto-verified), EMAIL_OTP allowed."""

    def __init__(self, env: Env, *, factors=("PASSWORD", "EMAIL_OTP"), flows=("ALLOW_USER_AUTH",)) -> None:
        self.env = env
        self.pool = env.pool(Policies={"SignInPolicy": {"AllowedFirstAuthFactors": list(factors)}},
                             EmailConfiguration=SES, AutoVerifiedAttributes=["email"], UsernameAttributes=["email"])
        self.app = env.app_id(self.pool, ExplicitAuthFlows=list(flows))

    def sign_up(self, **extra) -> dict:
        return self.env.client.sign_up(ClientId=self.app, Username=EMAIL,
                                       UserAttributes=[{"Name": "email", "Value": EMAIL}], **extra)

    def confirm(self, **extra) -> dict:
        code = re.search(r"\d{6}", self.env.outbox.last().body).group()
        return self.env.client.confirm_sign_up(ClientId=self.app, Username=EMAIL, ConfirmationCode=code, **extra)

    def after(self, session: str) -> dict:
        return self.env.client.initiate_auth(ClientId=self.app, AuthFlow="USER_AUTH", Session=session,
                                             AuthParameters={"USERNAME": EMAIL})


def test_a_passwordless_sign_up_then_an_email_code_sign_in(env):
    sp = SignUpPool(env)
    signed_up = sp.sign_up()
    assert signed_up["UserConfirmed"] is False and signed_up["Session"]
    sp.confirm()
    user = env.client.admin_get_user(UserPoolId=sp.pool, Username=EMAIL)
    assert user["UserStatus"] == "CONFIRMED"
    started = env.client.initiate_auth(ClientId=sp.app, AuthFlow="USER_AUTH",
                                       AuthParameters={"USERNAME": EMAIL})
    assert started["AvailableChallenges"] == ["EMAIL_OTP"]  # no password to offer
    chosen = env.client.respond_to_auth_challenge(ClientId=sp.app, ChallengeName="SELECT_CHALLENGE",
                                                  Session=started["Session"],
                                                  ChallengeResponses={"USERNAME": EMAIL, "ANSWER": "EMAIL_OTP"})
    code = re.search(r"\d{8}", env.outbox.last().body).group()
    assert_tokens(env.client.respond_to_auth_challenge(ClientId=sp.app, ChallengeName="EMAIL_OTP",
                                                       Session=chosen["Session"],
                                                       ChallengeResponses={"USERNAME": EMAIL, "EMAIL_OTP_CODE": code}))


def test_without_an_otp_factor_sign_up_still_needs_a_password(env):
    sp = SignUpPool(env, factors=("PASSWORD", "WEB_AUTHN"))
    refused(InvalidParameterException, "Missing required parameter Password", sp.sign_up)


def test_sign_in_straight_after_confirmation_with_the_sessions(env):
    sp = SignUpPool(env)
    signed_up = sp.sign_up()
    confirmed = sp.confirm(Session=signed_up["Session"])
    assert confirmed["Session"] and confirmed["Session"] != signed_up["Session"]
    assert_tokens(sp.after(confirmed["Session"]))
    # Once only; SignUp's own Session is no InitiateAuth Session.
    refused(NotAuthorizedException, "Invalid session for the user.", sp.after, confirmed["Session"])
    refused(NotAuthorizedException, "Invalid session for the user.", sp.after, signed_up["Session"])


def test_the_sign_up_sessions_expire(env):
    sp = SignUpPool(env)
    signed_up = sp.sign_up()
    confirmed = sp.confirm(Session=signed_up["Session"])
    env.clock.advance(timedelta(minutes=3, seconds=1))
    before = env.snapshot()
    refused(NotAuthorizedException, "Invalid session for the user.", sp.after, confirmed["Session"])
    assert env.snapshot() == before


def test_a_bad_sign_up_session_refuses_confirmation_and_changes_nothing(env):
    sp = SignUpPool(env)
    sp.sign_up()
    before = env.snapshot()
    code = re.search(r"\d{6}", env.outbox.last().body).group()
    refused(NotAuthorizedException, "Invalid session for the user.", env.client.confirm_sign_up,
            ClientId=sp.app, Username=EMAIL, ConfirmationCode=code, Session="x" * 43)
    assert env.snapshot() == before
    assert env.client.admin_get_user(UserPoolId=sp.pool, Username=EMAIL)["UserStatus"] == "UNCONFIRMED"


def test_clients_without_user_auth_get_no_sign_up_session(env):
    sp = SignUpPool(env, flows=("ALLOW_USER_PASSWORD_AUTH",))
    assert "Session" not in sp.sign_up(Password=NEW)
    assert "Session" not in sp.confirm()


def test_wrong_codes_count_toward_the_lockout_as_mfa_codes_do(pw):
    started = pw.start(PREFERRED_CHALLENGE="EMAIL_OTP")
    code = pw.code()
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    for _ in range(5):
        refused(CodeMismatchException, "Invalid code received for user", pw.answer, started, "EMAIL_OTP",
                EMAIL_OTP_CODE=wrong)
    # Locked for a second after the fifth failure: the right code too, and the password.
    refused(NotAuthorizedException, "Password attempts exceeded", pw.answer, started, "EMAIL_OTP",
            EMAIL_OTP_CODE=code)
    refused(NotAuthorizedException, "Password attempts exceeded", pw.start, PREFERRED_CHALLENGE="PASSWORD",
            PASSWORD=NEW)
    pw.env.clock.advance(timedelta(seconds=1))
    assert_tokens(pw.answer(started, "EMAIL_OTP", EMAIL_OTP_CODE=code))


def test_a_select_answer_missing_its_input_changes_nothing(pw):
    started = pw.start()
    before = pw.env.snapshot()
    refused(InvalidParameterException, "Missing required parameter PASSWORD", pw.answer, started,
            "SELECT_CHALLENGE", ANSWER="PASSWORD")
    refused(InvalidParameterException, "Missing required parameter SRP_A", pw.answer, started,
            "SELECT_CHALLENGE", ANSWER="PASSWORD_SRP")
    assert pw.env.snapshot() == before
    assert_tokens(pw.answer(started, "SELECT_CHALLENGE", ANSWER="PASSWORD", PASSWORD=NEW))


def test_pre_authentication_runs_once_before_a_code_is_sent_and_may_refuse(env):
    from authflow.adapters import CallableTriggers
    from tests.conftest import make_client

    arn = "arn:aws:lambda:us-east-1:123456789012:function:pre"
    seen = []

    def pre(event):
        seen.append(event["triggerSource"])
        if event["request"]["validationData"].get("refuse"):
            raise RuntimeError("refused by the function")
        return event

    env.client = make_client(1, clock=env.clock, messenger=env.outbox, triggers=CallableTriggers({arn: pre}))
    pw = Passwordless(env, LambdaConfig={"PreAuthentication": arn})
    started = pw.start(PREFERRED_CHALLENGE="EMAIL_OTP")
    assert seen == ["PreAuthentication_Authentication"] and started["ChallengeName"] == "EMAIL_OTP"
    before = env.snapshot()
    with pytest.raises(UserLambdaValidationException):
        env.client.initiate_auth(ClientId=pw.app, AuthFlow="USER_AUTH", ClientMetadata={"refuse": "yes"},
                                 AuthParameters={"USERNAME": "alice", "PREFERRED_CHALLENGE": "EMAIL_OTP"})
    assert env.snapshot() == before and len(seen) == 2
