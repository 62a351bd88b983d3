"""The MFA steps beyond SMS during sign-in, through the Client: SOFTWARE_TOKEN_MFA,
MFA_SETUP and SELECT_MFA_TYPE (docs/semantics.md, "MFA beyond SMS"), through both
operation pairs, after NEW_PASSWORD_REQUIRED and after USER_SRP_AUTH; the skew window,
each code once, wrong codes counted toward the lockout; the MFA_SETUP session chain;
remembered devices standing in for TOTP. Codes come from pyotp at the manual clock's
time."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from authflow.conformance.srp_client import SrpClient
from authflow.errors import (
    CodeMismatchException,
    EnableSoftwareTokenMFAException,
    ExpiredCodeException,
    InvalidParameterException,
    NotAuthorizedException,
    SoftwareTokenMFANotFoundException,
)
from tests.helpers import without_lockout
from tests.signin import (
    NEW,
    PHONE,
    TEMP,
    Env,
    answer_device_challenges,
    assert_tokens,
    confirm_new_device,
    enrol_totp,
    mfa_config,
    mfa_fields,
    next_step_code,
    refused,
    sms_code,
    totp_code,
    tracking,
    unchecked,
)

WRONG_CODE = "Invalid code received for user."
USED = "Your software token has already been used once."
LOCKED = "Password attempts exceeded"
INVALID_SESSION = "Invalid session for the user."
USED_SESSION = "Invalid session for the user, session can only be used once."
EXPIRED_SESSION = "Invalid session for the user, session is expired."
NO_TOKEN = "Software Token MFA does not exist for the user."
WRONG_SETUP_CODE = "Code mismatch and fail enable Software Token MFA"


def unchanged(env: Env, exception, message: str, call, *args, **kwargs):
    before = env.snapshot()
    err = refused(exception, message, call, *args, **kwargs)
    assert env.snapshot() == before
    return err


def wrong_code(secret: str, env: Env) -> str:
    """Six digits no step within the skew window shows."""
    near = {totp_code(secret, env.clock.now(), s) for s in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


class Pair:
    """One of the operation pairs: InitiateAuth / RespondToAuthChallenge, or the Admin* twins."""

    def __init__(self, env: Env, pool: str, app: str, admin: bool) -> None:
        self.env, self.pool, self.app, self.admin = env, pool, app, admin

    def initiate(self, username: str = "alice", password: str = NEW) -> dict:
        if self.admin:
            return self.env.admin_initiate(self.pool, self.app, username, password)
        return self.env.initiate(self.app, username, password)

    def respond(self, started: dict, name: str, responses: dict) -> dict:
        responses = {"USERNAME": "alice", **responses}
        if self.admin:
            return self.env.admin_respond(self.pool, self.app, started["Session"], responses, name=name)
        return self.env.respond(self.app, started["Session"], responses, name=name)

    def totp(self, started: dict, code: str) -> dict:
        return self.respond(started, "SOFTWARE_TOKEN_MFA", {"SOFTWARE_TOKEN_MFA_CODE": code})


class Enrolled:
    """A pool offering TOTP (and SMS with `sms`) under `mode`, and alice (password NEW,
    phone number with `phone`), whose verified authenticator is on and preferred unless
    `enrol=False` (verified but off with `prefer=False`); the clock stays in the
    verification's step."""

    def __init__(self, mode: str = "OPTIONAL", *, sms: bool = False, phone: bool = False, enrol: bool = True,
                 prefer: bool = True, admin: bool = False, **pool_config) -> None:
        self.env = env = Env()
        self.client = env.client
        self.pool = env.pool(**pool_config)
        self.app = env.app_id(self.pool)
        env.user(self.pool, attributes=[{"Name": "phone_number", "Value": PHONE}] if phone else [])
        self.tokens = env.confirm(self.pool, self.app)["AuthenticationResult"]
        mfa_config(env, self.pool, mode, sms=sms)
        self.secret = enrol_totp(env, self.tokens["AccessToken"], name="phone", prefer=prefer) if enrol else None
        self.pair = Pair(env, self.pool, self.app, admin)

    def code(self, steps: int = 0) -> str:
        return totp_code(self.secret, self.env.clock.now(), steps)

    def fresh(self) -> str:
        return next_step_code(self.env, self.secret)


# -- SOFTWARE_TOKEN_MFA ---------------------------------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True], ids=["public", "admin"])
def test_software_token_mfa_through_both_pairs(admin):
    user = Enrolled(admin=admin)
    started = user.pair.initiate()
    assert started["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert started["ChallengeParameters"] == {"FRIENDLY_DEVICE_NAME": "phone", "USER_ID_FOR_SRP": "alice"}
    assert_tokens(user.pair.totp(started, user.fresh()))


def test_the_session_is_used_up_by_the_answer():
    user = Enrolled()
    started = user.pair.initiate()
    user.pair.totp(started, user.fresh())
    unchanged(user.env, NotAuthorizedException, USED_SESSION, user.pair.totp, started, user.fresh())


def test_software_token_mfa_after_new_password_required():
    user = Enrolled()
    user.client.admin_set_user_password(UserPoolId=user.pool, Username="alice", Password=TEMP, Permanent=False)
    started = user.pair.initiate(password=TEMP)
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    asked = user.pair.respond(started, "NEW_PASSWORD_REQUIRED", {"NEW_PASSWORD": "Another1!x"})
    assert asked["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert_tokens(user.pair.totp(asked, user.fresh()))
    assert user.env.status(user.pool) == "CONFIRMED"


def test_software_token_mfa_after_user_srp_auth():
    user = Enrolled()
    srp = SrpClient(user.pool, 0xA11CE)
    started = user.client.initiate_auth(ClientId=user.app, AuthFlow="USER_SRP_AUTH",
                                        AuthParameters={"USERNAME": "alice", "SRP_A": srp.srp_a})
    asked = user.client.respond_to_auth_challenge(
        ClientId=user.app, ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=srp.answer(started["ChallengeParameters"], NEW, user.env.clock.now()))
    assert asked["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert_tokens(user.pair.totp(asked, user.fresh()))


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_codes_one_step_early_or_late_are_accepted_and_no_further(steps, accepted):
    user = Enrolled()
    user.env.clock.advance(timedelta(seconds=90))  # three steps past the verification's code
    started = user.pair.initiate()
    code = user.code(steps)
    if accepted:
        assert_tokens(user.pair.totp(started, code))
    else:
        before = without_lockout(user.env.snapshot())
        refused(CodeMismatchException, WRONG_CODE, user.pair.totp, started, code)
        assert without_lockout(user.env.snapshot()) == before  # only the failure is counted
        assert_tokens(user.pair.totp(started, user.code()))  # the session is still usable


def test_a_code_is_accepted_once():
    user = Enrolled()
    code = user.fresh()
    assert_tokens(user.pair.totp(user.pair.initiate(), code))
    refused(ExpiredCodeException, USED, user.pair.totp, user.pair.initiate(), code)


def test_a_code_of_an_earlier_step_than_one_accepted_is_used_too():
    user = Enrolled()
    user.fresh()
    assert_tokens(user.pair.totp(user.pair.initiate(), user.code(1)))  # the next step's, early
    started = user.pair.initiate()
    refused(ExpiredCodeException, USED, user.pair.totp, started, user.code())
    refused(ExpiredCodeException, USED, user.pair.totp, started, user.code(-1))
    user.env.clock.advance(timedelta(seconds=60))
    assert_tokens(user.pair.totp(started, user.code()))


def test_the_code_verify_software_token_took_is_used():
    env = Env()
    pool = env.pool()
    app = env.app_id(pool)
    env.user(pool)
    tokens = env.confirm(pool, app)["AuthenticationResult"]
    mfa_config(env, pool)
    secret = env.client.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    env.clock.advance(timedelta(seconds=10))
    code = totp_code(secret, env.clock.now())
    env.client.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=code)
    env.client.set_user_mfa_preference(AccessToken=tokens["AccessToken"],
                                       SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    started = env.initiate(app, password=NEW)
    refused(ExpiredCodeException, USED, env.respond, app, started["Session"],
            {"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code}, name="SOFTWARE_TOKEN_MFA")


def test_wrong_codes_count_toward_the_lockout_like_wrong_passwords():
    user = Enrolled()
    user.fresh()
    started = user.pair.initiate()
    for _ in range(5):
        refused(CodeMismatchException, WRONG_CODE, user.pair.totp, started, wrong_code(user.secret, user.env))
    # Locked for a second after the fifth failure: the right code, and the password, too.
    refused(NotAuthorizedException, LOCKED, user.pair.totp, started, user.code())
    refused(NotAuthorizedException, LOCKED, user.pair.initiate)
    user.env.clock.advance(timedelta(seconds=1))
    assert_tokens(user.pair.totp(started, user.code()))
    # The right code reset the count: five more wrong answers are let through again.
    started = user.pair.initiate()
    for _ in range(5):
        refused(CodeMismatchException, WRONG_CODE, user.pair.totp, started, wrong_code(user.secret, user.env))


def test_used_codes_count_toward_the_lockout():
    user = Enrolled()
    code = user.fresh()
    assert_tokens(user.pair.totp(user.pair.initiate(), code))
    started = user.pair.initiate()
    for _ in range(5):
        refused(ExpiredCodeException, USED, user.pair.totp, started, code)
    refused(NotAuthorizedException, LOCKED, user.pair.totp, started, user.code(1))


def test_failures_of_passwords_and_codes_add_up():
    user = Enrolled()
    user.fresh()
    for _ in range(3):
        refused(NotAuthorizedException, "Incorrect username or password.", user.pair.initiate, password="Wrong1!xx")
    started = user.pair.initiate()  # a right password resets the count
    for _ in range(5):
        refused(CodeMismatchException, WRONG_CODE, user.pair.totp, started, wrong_code(user.secret, user.env))
    refused(NotAuthorizedException, LOCKED, user.pair.totp, started, user.code())


def test_a_token_deleted_during_the_sign_in_is_missing_at_the_answer():
    user = Enrolled()
    started = user.pair.initiate()
    unchecked(user.env).admin_delete_software_token(UserPoolId=user.pool, Username="alice")
    unchanged(user.env, SoftwareTokenMFANotFoundException, NO_TOKEN, user.pair.totp, started, user.fresh())


def test_an_expired_session_takes_no_code():
    user = Enrolled()
    started = user.pair.initiate()
    user.env.clock.advance(timedelta(minutes=3))
    refused(NotAuthorizedException, EXPIRED_SESSION, user.pair.totp, started, user.code())


def test_a_pool_that_no_longer_asks_for_mfa_skips_the_step():
    user = Enrolled()
    user.client.set_user_pool_mfa_config(UserPoolId=user.pool, MfaConfiguration="OFF")
    assert_tokens(user.pair.initiate())


def test_an_optional_pool_signs_in_a_user_without_a_factor():
    user = Enrolled(enrol=False)
    assert_tokens(user.pair.initiate())


def test_a_verified_but_not_enabled_token_is_not_asked():
    user = Enrolled(prefer=False)
    assert_tokens(user.pair.initiate())


# -- MFA_SETUP ------------------------------------------------------------------------------------------


class Setup:
    """A pool with TOTP (and SMS with `sms`) under MFA ON, and alice with no factor, who
    has to replace her temporary password first."""

    def __init__(self, *, sms: bool = False, phone: bool = False, admin: bool = False) -> None:
        self.env = env = Env()
        self.client = env.client
        self.pool = env.pool()
        mfa_config(env, self.pool, "ON", sms=sms)
        self.app = env.app_id(self.pool)
        env.user(self.pool, attributes=[{"Name": "phone_number", "Value": PHONE}] if phone else [])
        self.pair = Pair(env, self.pool, self.app, admin)

    def challenge(self) -> dict:
        started = self.pair.initiate(password=TEMP)
        return self.pair.respond(started, "NEW_PASSWORD_REQUIRED", {"NEW_PASSWORD": NEW})

    def chain(self, challenge: dict, *, name: str | None = None) -> tuple[str, dict]:
        """AssociateSoftwareToken and VerifySoftwareToken by Session: the secret and the
        verification's answer."""
        associated = self.client.associate_software_token(Session=challenge["Session"])
        request = {"Session": associated["Session"], "UserCode": totp_code(associated["SecretCode"],
                                                                            self.env.clock.now())}
        if name is not None:
            request["FriendlyDeviceName"] = name
        return associated["SecretCode"], self.client.verify_software_token(**request)


@pytest.mark.parametrize("admin", [False, True], ids=["public", "admin"])
def test_mfa_setup_chain_signs_in_and_the_next_sign_in_asks_for_the_token(admin):
    setup = Setup(admin=admin)
    challenge = setup.challenge()
    assert challenge["ChallengeName"] == "MFA_SETUP"
    assert json.loads(challenge["ChallengeParameters"]["MFAS_CAN_SETUP"]) == ["SOFTWARE_TOKEN_MFA"]
    associated = setup.client.associate_software_token(Session=challenge["Session"])
    assert set(associated) - {"ResponseMetadata"} == {"SecretCode", "Session"}
    assert associated["Session"] != challenge["Session"]
    verified = setup.client.verify_software_token(
        Session=associated["Session"], UserCode=totp_code(associated["SecretCode"], setup.env.clock.now()),
        FriendlyDeviceName="work phone")
    assert verified["Status"] == "SUCCESS" and verified["Session"] not in (associated["Session"],
                                                                           challenge["Session"])
    assert_tokens(setup.pair.respond(verified, "MFA_SETUP", {}))
    assert mfa_fields(setup.client.admin_get_user(UserPoolId=setup.pool, Username="alice")) == {
        "UserMFASettingList": ["SOFTWARE_TOKEN_MFA"], "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}
    again = setup.pair.initiate()
    assert again["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert again["ChallengeParameters"]["FRIENDLY_DEVICE_NAME"] == "work phone"
    assert_tokens(setup.pair.totp(again, next_step_code(setup.env, associated["SecretCode"])))


def test_mfa_setup_for_a_confirmed_user_right_after_the_password():
    env = Env()
    pool = env.pool()
    app = env.app_id(pool)
    env.user(pool)
    env.confirm(pool, app)
    mfa_config(env, pool, "ON")
    challenge = env.initiate(app, password=NEW)
    assert challenge["ChallengeName"] == "MFA_SETUP"
    assert challenge["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"


def test_mfa_setup_answered_with_an_unverified_session_is_refused_and_the_chain_goes_on():
    setup = Setup()
    challenge = setup.challenge()
    unchanged(setup.env, NotAuthorizedException, INVALID_SESSION, setup.pair.respond, challenge, "MFA_SETUP", {})
    associated = setup.client.associate_software_token(Session=challenge["Session"])
    unchanged(setup.env, NotAuthorizedException, INVALID_SESSION, setup.pair.respond, associated, "MFA_SETUP", {})
    verified = setup.client.verify_software_token(Session=associated["Session"], UserCode=totp_code(
        associated["SecretCode"], setup.env.clock.now()))
    assert_tokens(setup.pair.respond(verified, "MFA_SETUP", {}))


def test_each_setup_session_is_used_once():
    setup = Setup()
    challenge = setup.challenge()
    associated = setup.client.associate_software_token(Session=challenge["Session"])
    unchanged(setup.env, NotAuthorizedException, USED_SESSION, setup.client.associate_software_token,
              Session=challenge["Session"])
    code = totp_code(associated["SecretCode"], setup.env.clock.now())
    verified = setup.client.verify_software_token(Session=associated["Session"], UserCode=code)
    unchanged(setup.env, NotAuthorizedException, USED_SESSION, setup.client.verify_software_token,
              Session=associated["Session"], UserCode=code)
    assert_tokens(setup.pair.respond(verified, "MFA_SETUP", {}))
    unchanged(setup.env, NotAuthorizedException, USED_SESSION, setup.pair.respond, verified, "MFA_SETUP", {})


def test_a_wrong_setup_code_is_refused_and_the_session_takes_the_right_one():
    setup = Setup()
    challenge = setup.challenge()
    associated = setup.client.associate_software_token(Session=challenge["Session"])
    unchanged(setup.env, EnableSoftwareTokenMFAException, WRONG_SETUP_CODE, setup.client.verify_software_token,
              Session=associated["Session"], UserCode=wrong_code(associated["SecretCode"], setup.env))
    verified = setup.client.verify_software_token(Session=associated["Session"], UserCode=totp_code(
        associated["SecretCode"], setup.env.clock.now()))
    assert_tokens(setup.pair.respond(verified, "MFA_SETUP", {}))


def test_verify_with_the_challenge_session_instead_of_the_associate_one_is_refused():
    setup = Setup()
    challenge = setup.challenge()
    unchanged(setup.env, SoftwareTokenMFANotFoundException,
              "Software Token MFA has not been associated for the user.", setup.client.verify_software_token,
              Session=challenge["Session"], UserCode="123456")


def test_setup_sessions_are_not_access_tokens_and_other_sessions_are_not_setup_sessions():
    setup = Setup()
    challenge = setup.challenge()
    unchanged(setup.env, NotAuthorizedException, "Invalid Access Token", setup.client.associate_software_token,
              AccessToken=challenge["Session"])
    sms_pool = Enrolled()
    started = sms_pool.pair.initiate()  # a SOFTWARE_TOKEN_MFA session
    unchanged(sms_pool.env, NotAuthorizedException, INVALID_SESSION, sms_pool.client.associate_software_token,
              Session=started["Session"])


def test_a_setup_session_expires():
    setup = Setup()
    challenge = setup.challenge()
    associated = setup.client.associate_software_token(Session=challenge["Session"])
    setup.env.clock.advance(timedelta(minutes=3))
    refused(NotAuthorizedException, EXPIRED_SESSION, setup.client.verify_software_token,
            Session=associated["Session"], UserCode=totp_code(associated["SecretCode"], setup.env.clock.now()))


def test_the_setup_code_is_used_for_the_next_sign_in():
    setup = Setup()
    challenge = setup.challenge()
    associated = setup.client.associate_software_token(Session=challenge["Session"])
    code = totp_code(associated["SecretCode"], setup.env.clock.now())
    verified = setup.client.verify_software_token(Session=associated["Session"], UserCode=code)
    setup.pair.respond(verified, "MFA_SETUP", {})
    refused(ExpiredCodeException, USED, setup.pair.totp, setup.pair.initiate(), code)


def test_mfa_setup_lists_every_factor_the_pool_offers():
    setup = Setup(sms=True)
    challenge = setup.challenge()
    assert challenge["ChallengeName"] == "MFA_SETUP"
    assert json.loads(challenge["ChallengeParameters"]["MFAS_CAN_SETUP"]) == ["SMS_MFA", "SOFTWARE_TOKEN_MFA"]


def test_an_on_pool_with_sms_asks_a_user_with_a_phone_for_sms_instead():
    setup = Setup(sms=True, phone=True)
    challenge = setup.challenge()
    assert challenge["ChallengeName"] == "SMS_MFA"
    assert_tokens(setup.pair.respond(challenge, "SMS_MFA", {"SMS_MFA_CODE": sms_code(setup.env)}))


# -- SELECT_MFA_TYPE -------------------------------------------------------------------------------------


def both_factors(*, prefer: str | None = None, admin: bool = False) -> Enrolled:
    user = Enrolled(sms=True, phone=True, prefer=False, admin=admin)
    user.client.set_user_mfa_preference(AccessToken=user.tokens["AccessToken"],
                                        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
                                        SMSMfaSettings={"Enabled": True, "PreferredMfa": prefer == "SMS_MFA"})
    if prefer == "SOFTWARE_TOKEN_MFA":
        user.client.set_user_mfa_preference(AccessToken=user.tokens["AccessToken"],
                                            SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return user


@pytest.mark.parametrize("admin", [False, True], ids=["public", "admin"])
def test_select_mfa_type_answered_with_the_software_token(admin):
    user = both_factors(admin=admin)
    started = user.pair.initiate()
    assert started["ChallengeName"] == "SELECT_MFA_TYPE"
    assert json.loads(started["ChallengeParameters"]["MFAS_CAN_CHOOSE"]) == ["SMS_MFA", "SOFTWARE_TOKEN_MFA"]
    sent = len(user.env.outbox.messages)
    chosen = user.pair.respond(started, "SELECT_MFA_TYPE", {"ANSWER": "SOFTWARE_TOKEN_MFA"})
    assert chosen["ChallengeName"] == "SOFTWARE_TOKEN_MFA" and chosen["Session"] != started["Session"]
    assert chosen["ChallengeParameters"]["FRIENDLY_DEVICE_NAME"] == "phone"
    assert len(user.env.outbox.messages) == sent  # no text for an authenticator
    assert_tokens(user.pair.totp(chosen, user.fresh()))


@pytest.mark.parametrize("admin", [False, True], ids=["public", "admin"])
def test_select_mfa_type_answered_with_sms_sends_the_code_then(admin):
    user = both_factors(admin=admin)
    started = user.pair.initiate()
    sent = len(user.env.outbox.messages)
    chosen = user.pair.respond(started, "SELECT_MFA_TYPE", {"ANSWER": "SMS_MFA"})
    assert chosen["ChallengeName"] == "SMS_MFA"
    assert chosen["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "SMS"
    assert len(user.env.outbox.messages) == sent + 1
    assert_tokens(user.pair.respond(chosen, "SMS_MFA", {"SMS_MFA_CODE": sms_code(user.env)}))


@pytest.mark.parametrize("answer", [None, "EMAIL_OTP", "EMAIL_MFA", "sms_mfa", "MFA_SETUP"])
def test_a_bad_answer_to_select_mfa_type_is_refused_and_the_session_goes_on(answer):
    user = both_factors()
    started = user.pair.initiate()
    responses = {} if answer is None else {"ANSWER": answer}
    unchanged(user.env, InvalidParameterException, "Invalid ANSWER: must be one of SMS_MFA, SOFTWARE_TOKEN_MFA.",
              user.pair.respond, started, "SELECT_MFA_TYPE", responses)
    assert user.pair.respond(started, "SELECT_MFA_TYPE", {"ANSWER": "SOFTWARE_TOKEN_MFA"})["ChallengeName"] == (
        "SOFTWARE_TOKEN_MFA")


@pytest.mark.parametrize("prefer", ["SMS_MFA", "SOFTWARE_TOKEN_MFA"])
def test_a_preference_skips_select_mfa_type(prefer):
    user = both_factors(prefer=prefer)
    assert user.pair.initiate()["ChallengeName"] == prefer


def test_select_mfa_type_after_new_password_required():
    user = both_factors()
    user.client.admin_set_user_password(UserPoolId=user.pool, Username="alice", Password=TEMP, Permanent=False)
    started = user.pair.initiate(password=TEMP)
    asked = user.pair.respond(started, "NEW_PASSWORD_REQUIRED", {"NEW_PASSWORD": "Another1!x"})
    assert asked["ChallengeName"] == "SELECT_MFA_TYPE"


# -- remembered devices ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stands_in", [True, False])
def test_a_remembered_device_stands_in_for_totp_only_when_the_pool_says_so(stands_in):
    user = Enrolled(DeviceConfiguration=tracking(challenge_required=stands_in))
    started = user.pair.initiate()
    first = user.pair.totp(started, user.fresh())["AuthenticationResult"]
    device = confirm_new_device(user.env, first)
    started = user.env.initiate(user.app, password=NEW, DEVICE_KEY=device.key)
    if stands_in:
        assert started["ChallengeName"] == "DEVICE_SRP_AUTH"
    else:
        assert started["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        started = user.env.respond(user.app, started["Session"], {
            "USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": user.fresh(), "DEVICE_KEY": device.key},
            name="SOFTWARE_TOKEN_MFA")
    done = answer_device_challenges(user.env, user.app, started, device)
    assert_tokens(done)
    assert "NewDeviceMetadata" not in done["AuthenticationResult"]


def test_a_new_device_still_answers_totp():
    user = Enrolled(DeviceConfiguration=tracking(challenge_required=True))
    started = user.pair.initiate()
    assert started["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    result = user.pair.totp(started, user.fresh())["AuthenticationResult"]
    assert "NewDeviceMetadata" in result


def test_a_remembered_device_stands_in_for_mfa_setup():
    env = Env()
    pool = env.pool(DeviceConfiguration=tracking(challenge_required=True))
    app = env.app_id(pool)
    env.user(pool)
    device = confirm_new_device(env, env.confirm(pool, app)["AuthenticationResult"])
    mfa_config(env, pool, "ON")
    assert env.initiate(app, password=NEW)["ChallengeName"] == "MFA_SETUP"
    started = env.initiate(app, password=NEW, DEVICE_KEY=device.key)
    assert started["ChallengeName"] == "DEVICE_SRP_AUTH"
    assert_tokens(answer_device_challenges(env, app, started, device))
