"""Software tokens (TOTP) outside the sign-in steps, through the Client:
AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference /
AdminSetUserMFAPreference, the MFA members of GetUser / AdminGetUser,
AdminDeleteSoftwareToken and the legacy SetUserSettings / AdminSetUserSettings
(docs/semantics.md, "MFA beyond SMS"). Codes come from pyotp, at the manual clock's
time. Every refusal is checked to leave the store unchanged, and the secrets are checked
never to be stored in clear."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest

from authflow.adapters import codec
from authflow.errors import (
    CodeMismatchException,
    EnableSoftwareTokenMFAException,
    ExpiredCodeException,
    InvalidParameterException,
    NotAuthorizedException,
    SoftwareTokenMFANotFoundException,
    UserNotFoundException,
)
from tests.conftest import START
from tests.signin import (
    NEW,
    PHONE,
    TEMP,
    Env,
    enrol_totp,
    mfa_config,
    mfa_fields,
    next_step_code,
    refused,
    sms_code,
    totp_code,
    unchecked,
)

ONE_OF = "Exactly one of AccessToken and Session must be given."
NOT_IN_POOL = "Software Token MFA has not been enabled by the userPool."
NOT_ASSOCIATED = "Software Token MFA has not been associated for the user."
WRONG_SETUP_CODE = "Code mismatch and fail enable Software Token MFA"
WRONG_CODE = "Invalid code received for user."
USED = "Your software token has already been used once."
NO_TOTP = "User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA"
NO_PHONE = "User does not have delivery config set to turn on SMS_MFA"
LAST_FACTOR = "Cannot turn off all MFA methods when MFA is required for the user pool."
ON_TOTP = {"Enabled": True, "PreferredMfa": True}


def unchanged(env: Env, exception, message: str, call, **kwargs):
    before = env.snapshot()
    err = refused(exception, message, call, **kwargs)
    assert env.snapshot() == before
    return err


class Users:
    """A pool whose users (password NEW) signed in before its MFA configuration was set
    (`mode`, TOTP offered unless `totp=False`, SMS with `sms`): `tokens[name]` holds each
    one's AuthenticationResult."""

    def __init__(self, mode: str = "OPTIONAL", *, totp: bool = True, sms: bool = False, users=("alice",),
                 phone: bool = False) -> None:
        self.env = env = Env()
        self.client = env.client
        self.pool = env.pool()
        self.app = env.app_id(self.pool)
        self.tokens = {}
        for name in users:
            env.user(self.pool, name, attributes=[{"Name": "phone_number", "Value": PHONE}] if phone else [])
            self.tokens[name] = env.confirm(self.pool, self.app, name)["AuthenticationResult"]
        if totp or sms:
            mfa_config(env, self.pool, mode, totp=totp, sms=sms)

    def access(self, name: str = "alice") -> str:
        return self.tokens[name]["AccessToken"]

    def fields(self, name: str = "alice") -> dict:
        shown = mfa_fields(self.client.admin_get_user(UserPoolId=self.pool, Username=name))
        assert mfa_fields(self.client.get_user(AccessToken=self.access(name))) == shown
        return shown

    def sign_in(self, name: str = "alice") -> dict:
        return self.env.initiate(self.app, name, NEW)

    def answer_totp(self, started: dict, code: str, name: str = "alice") -> dict:
        return self.env.respond(self.app, started["Session"], {"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": code},
                                name="SOFTWARE_TOKEN_MFA")


# -- AssociateSoftwareToken -----------------------------------------------------------------------------


def test_associate_by_access_token_hands_out_a_fresh_base32_secret_and_no_session():
    users = Users()
    first = users.client.associate_software_token(AccessToken=users.access())
    second = users.client.associate_software_token(AccessToken=users.access())
    assert set(first) - {"ResponseMetadata"} == {"SecretCode"}
    for secret in (first["SecretCode"], second["SecretCode"]):
        assert re.fullmatch(r"[A-Z2-7]{52}", secret)
        assert len(base64.b32decode(secret + "====")) == 32
    assert first["SecretCode"] != second["SecretCode"]


@pytest.mark.parametrize("request_", [{}, {"AccessToken": "both", "Session": "s" * 40}])
def test_associate_needs_exactly_one_of_access_token_and_session(request_):
    users = Users()
    if "AccessToken" in request_:
        request_ = {**request_, "AccessToken": users.access()}
    unchanged(users.env, InvalidParameterException, ONE_OF, users.client.associate_software_token, **request_)
    unchanged(users.env, InvalidParameterException, ONE_OF, users.client.verify_software_token, UserCode="123456",
              **request_)


@pytest.mark.parametrize("config", [{"totp": False, "sms": True}, {"totp": False, "sms": False}])
def test_a_pool_without_totp_refuses_associate_and_verify(config):
    users = Users(**config, phone=True)
    unchanged(users.env, SoftwareTokenMFANotFoundException, NOT_IN_POOL, users.client.associate_software_token,
              AccessToken=users.access())
    unchanged(users.env, SoftwareTokenMFANotFoundException, NOT_IN_POOL, users.client.verify_software_token,
              AccessToken=users.access(), UserCode="123456")


def test_a_token_verified_before_the_pool_dropped_totp_is_still_asked():
    users = Users(sms=True, phone=True)
    secret = enrol_totp(users.env, users.access())
    mfa_config(users.env, users.pool, totp=False, sms=True)
    started = users.sign_in()
    assert started["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" in users.answer_totp(started, next_step_code(users.env, secret))
    unchanged(users.env, SoftwareTokenMFANotFoundException, NOT_IN_POOL, users.client.associate_software_token,
              AccessToken=users.access())


def test_an_invalid_or_revoked_access_token_is_refused():
    users = Users()
    unchanged(users.env, NotAuthorizedException, "Invalid Access Token", users.client.associate_software_token,
              AccessToken="not-a-token")
    users.client.global_sign_out(AccessToken=users.access())
    unchanged(users.env, NotAuthorizedException, "Access Token has been revoked",
              users.client.associate_software_token, AccessToken=users.access())


# -- VerifySoftwareToken ----------------------------------------------------------------------------------


def test_verify_with_the_current_code_succeeds_without_turning_totp_mfa_on():
    users = Users()
    secret = users.client.associate_software_token(AccessToken=users.access())["SecretCode"]
    verified = users.client.verify_software_token(AccessToken=users.access(), UserCode=totp_code(secret, START),
                                                  FriendlyDeviceName="phone")
    assert {k: v for k, v in verified.items() if k != "ResponseMetadata"} == {"Status": "SUCCESS"}
    assert users.fields() == {}
    assert "AuthenticationResult" in users.sign_in()  # still no MFA until the preference says so


def test_a_wrong_code_is_refused_and_the_secret_still_waits():
    users = Users()
    secret = users.client.associate_software_token(AccessToken=users.access())["SecretCode"]
    wrong = next(c for c in ("000000", "111111", "222222")
                 if c not in {totp_code(secret, START, s) for s in (-1, 0, 1)})
    unchanged(users.env, EnableSoftwareTokenMFAException, WRONG_SETUP_CODE, users.client.verify_software_token,
              AccessToken=users.access(), UserCode=wrong)
    assert users.client.verify_software_token(AccessToken=users.access(),
                                              UserCode=totp_code(secret, START))["Status"] == "SUCCESS"


def test_a_code_of_another_secret_is_refused():
    users = Users(users=("alice", "bob"))
    alice = users.client.associate_software_token(AccessToken=users.access("alice"))["SecretCode"]
    users.client.associate_software_token(AccessToken=users.access("bob"))
    unchanged(users.env, EnableSoftwareTokenMFAException, WRONG_SETUP_CODE, users.client.verify_software_token,
              AccessToken=users.access("bob"), UserCode=totp_code(alice, START))


def test_verify_without_associating_is_refused():
    users = Users()
    unchanged(users.env, SoftwareTokenMFANotFoundException, NOT_ASSOCIATED, users.client.verify_software_token,
              AccessToken=users.access(), UserCode="123456")


@pytest.mark.parametrize(("code", "constraint"), [
    ("12345", "have length greater than or equal to 6"),
    ("1234567", "have length less than or equal to 6"),
    ("12345a", "satisfy regular expression pattern: [0-9]+"),
])
def test_a_code_of_the_wrong_form_is_refused_by_validation(code, constraint):
    users = Users()
    users.client.associate_software_token(AccessToken=users.access())
    message = f"1 validation error detected: Value at 'userCode' failed to satisfy constraint: Member must {constraint}"
    unchanged(users.env, InvalidParameterException, message, users.client.verify_software_token,
              AccessToken=users.access(), UserCode=code)


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_verify_accepts_one_step_early_or_late_and_no_more(steps, accepted):
    users = Users()
    secret = users.client.associate_software_token(AccessToken=users.access())["SecretCode"]
    users.env.clock.advance(timedelta(seconds=45))  # mid-step: the skew is counted in steps, not seconds
    code = totp_code(secret, users.env.clock.now(), steps)
    if accepted:
        assert users.client.verify_software_token(AccessToken=users.access(), UserCode=code)["Status"] == "SUCCESS"
    else:
        unchanged(users.env, EnableSoftwareTokenMFAException, WRONG_SETUP_CODE, users.client.verify_software_token,
                  AccessToken=users.access(), UserCode=code)


# -- SetUserMFAPreference, GetUser -----------------------------------------------------------------------


def test_totp_cannot_be_turned_on_before_a_token_is_verified():
    users = Users()
    for settings in (ON_TOTP, {"Enabled": True}):
        unchanged(users.env, InvalidParameterException, NO_TOTP, users.client.set_user_mfa_preference,
                  AccessToken=users.access(), SoftwareTokenMfaSettings=settings)
    users.client.associate_software_token(AccessToken=users.access())  # associated is not verified
    unchanged(users.env, InvalidParameterException, NO_TOTP, users.client.admin_set_user_mfa_preference,
              UserPoolId=users.pool, Username="alice", SoftwareTokenMfaSettings=ON_TOTP)


def test_turning_totp_on_shows_in_get_user_and_asks_for_it_at_sign_in():
    users = Users()
    secret = enrol_totp(users.env, users.access(), name="my phone")
    assert users.fields() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"],
                              "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}
    started = users.sign_in()
    assert started["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert started["ChallengeParameters"] == {"FRIENDLY_DEVICE_NAME": "my phone", "USER_ID_FOR_SRP": "alice"}
    assert "AuthenticationResult" in users.answer_totp(started, next_step_code(users.env, secret))


def test_enabled_without_preference_is_used_alone():
    users = Users()
    secret = enrol_totp(users.env, users.access(), prefer=False)
    users.client.set_user_mfa_preference(AccessToken=users.access(), SoftwareTokenMfaSettings={"Enabled": True})
    assert users.fields() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"]}
    started = users.sign_in()
    assert started["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert started["ChallengeParameters"]["FRIENDLY_DEVICE_NAME"] == ""
    assert "AuthenticationResult" in users.answer_totp(started, next_step_code(users.env, secret))


def test_preferred_needs_enabled():
    users = Users(sms=True, phone=True)
    enrol_totp(users.env, users.access(), prefer=False)
    for settings, factor in (({"SoftwareTokenMfaSettings": {"Enabled": False, "PreferredMfa": True}},
                              "SOFTWARE_TOKEN_MFA"),
                             ({"SoftwareTokenMfaSettings": {"PreferredMfa": True}}, "SOFTWARE_TOKEN_MFA"),
                             ({"SMSMfaSettings": {"PreferredMfa": True}}, "SMS_MFA")):
        unchanged(users.env, InvalidParameterException, f"{factor} must be enabled to be the preferred MFA method.",
                  users.client.set_user_mfa_preference, AccessToken=users.access(), **settings)


def test_settings_left_out_are_unchanged_and_turning_off_the_preferred_factor_clears_the_preference():
    users = Users(sms=True, phone=True)
    enrol_totp(users.env, users.access())
    users.client.set_user_mfa_preference(AccessToken=users.access(), SMSMfaSettings={"Enabled": True})
    assert users.fields() == {"UserMFASettingList": ["SMS_MFA", "SOFTWARE_TOKEN_MFA"],
                              "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}
    users.client.set_user_mfa_preference(AccessToken=users.access(),
                                         SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    assert users.fields()["PreferredMfaSetting"] == "SMS_MFA"
    users.client.set_user_mfa_preference(AccessToken=users.access(), SMSMfaSettings={"Enabled": False})
    assert users.fields() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"]}
    users.client.set_user_mfa_preference(AccessToken=users.access(), SoftwareTokenMfaSettings={"Enabled": False})
    assert users.fields() == {}
    assert "AuthenticationResult" in users.sign_in()


def test_an_empty_preference_request_changes_nothing():
    users = Users()
    enrol_totp(users.env, users.access())
    before = users.env.snapshot()
    users.client.set_user_mfa_preference(AccessToken=users.access())
    assert users.env.snapshot() == before


def test_sms_needs_a_phone_number():
    users = Users(sms=True)
    unchanged(users.env, InvalidParameterException, NO_PHONE, users.client.set_user_mfa_preference,
              AccessToken=users.access(), SMSMfaSettings={"Enabled": True})


def test_under_mfa_on_the_last_factor_cannot_be_turned_off_but_the_preference_can_move():
    users = Users("ON", sms=True, phone=True)
    enrol_totp(users.env, users.access())
    unchanged(users.env, InvalidParameterException, LAST_FACTOR, users.client.set_user_mfa_preference,
              AccessToken=users.access(), SoftwareTokenMfaSettings={"Enabled": False})
    users.client.admin_set_user_mfa_preference(UserPoolId=users.pool, Username="alice",
                                               SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    users.client.set_user_mfa_preference(AccessToken=users.access(), SoftwareTokenMfaSettings={"Enabled": False})
    assert users.fields() == {"UserMFASettingList": ["SMS_MFA"], "PreferredMfaSetting": "SMS_MFA"}
    unchanged(users.env, InvalidParameterException, LAST_FACTOR, users.client.admin_set_user_mfa_preference,
              UserPoolId=users.pool, Username="alice", SMSMfaSettings={"Enabled": False})


def test_admin_set_user_mfa_preference_for_a_user_that_does_not_exist():
    users = Users()
    unchanged(users.env, UserNotFoundException, "User does not exist.", users.client.admin_set_user_mfa_preference,
              UserPoolId=users.pool, Username="bob", SoftwareTokenMfaSettings={"Enabled": False})


def test_the_admin_preference_works_as_the_users_own():
    users = Users()
    enrol_totp(users.env, users.access(), prefer=False)
    users.client.admin_set_user_mfa_preference(UserPoolId=users.pool, Username="alice",
                                               SoftwareTokenMfaSettings=ON_TOTP)
    assert users.fields() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"],
                              "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}
    assert users.sign_in()["ChallengeName"] == "SOFTWARE_TOKEN_MFA"


def test_a_user_an_on_pool_asks_for_sms_lists_sms_mfa():
    # reference §4.17: UserMFASettingList shows the effective state.
    env = Env()
    pool = env.pool(MfaConfiguration="ON", SmsConfiguration={"SnsCallerArn": "arn:aws:iam::123456789012:role/s",
                                                             "ExternalId": "x"})
    app = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "phone_number", "Value": PHONE}])
    assert env.confirm(pool, app)["ChallengeName"] == "SMS_MFA"
    assert mfa_fields(env.client.admin_get_user(UserPoolId=pool, Username="alice")).get("UserMFASettingList") == [
        "SMS_MFA"]


# -- re-associating, AdminDeleteSoftwareToken --------------------------------------------------------------


def test_a_new_secret_replaces_the_old_one_only_once_verified():
    users = Users()
    old = enrol_totp(users.env, users.access())
    new = users.client.associate_software_token(AccessToken=users.access())["SecretCode"]
    assert users.fields()["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    # Pending: the old authenticator still signs in, the new one does not.
    started = users.sign_in()
    code = next_step_code(users.env, old)
    assert code != totp_code(new, users.env.clock.now())
    refused(CodeMismatchException, WRONG_CODE, users.answer_totp, started, totp_code(new, users.env.clock.now()))
    assert "AuthenticationResult" in users.answer_totp(started, code)
    # A wrong code for the new secret keeps the old one.
    unchanged(users.env, EnableSoftwareTokenMFAException, WRONG_SETUP_CODE, users.client.verify_software_token,
              AccessToken=users.access(), UserCode=totp_code(old, users.env.clock.now(), 5))
    users.env.clock.advance(timedelta(seconds=30))
    users.client.verify_software_token(AccessToken=users.access(), UserCode=totp_code(new, users.env.clock.now()))
    assert users.fields() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"],
                              "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}
    started = users.sign_in()
    code = next_step_code(users.env, new)
    assert totp_code(old, users.env.clock.now()) != code
    refused(CodeMismatchException, WRONG_CODE, users.answer_totp, started, totp_code(old, users.env.clock.now()))
    assert "AuthenticationResult" in users.answer_totp(started, code)


def test_admin_delete_software_token_removes_the_factor():
    users = Users()
    enrol_totp(users.env, users.access())
    users.client.associate_software_token(AccessToken=users.access())  # and a pending one
    admin = unchecked(users.env)
    assert admin.admin_delete_software_token(UserPoolId=users.pool, Username="alice").keys() <= {"ResponseMetadata"}
    assert users.fields() == {}
    assert "AuthenticationResult" in users.sign_in()
    unchanged(users.env, SoftwareTokenMFANotFoundException, NOT_ASSOCIATED, users.client.verify_software_token,
              AccessToken=users.access(), UserCode="123456")
    unchanged(users.env, InvalidParameterException, NO_TOTP, users.client.set_user_mfa_preference,
              AccessToken=users.access(), SoftwareTokenMfaSettings={"Enabled": True})
    secret = enrol_totp(users.env, users.access())  # a new one can be registered
    started = users.sign_in()
    assert "AuthenticationResult" in users.answer_totp(started, next_step_code(users.env, secret))


def test_admin_delete_software_token_keeps_sms_and_its_preference():
    users = Users(sms=True, phone=True)
    enrol_totp(users.env, users.access(), prefer=False)
    users.client.set_user_mfa_preference(AccessToken=users.access(), SoftwareTokenMfaSettings={"Enabled": True},
                                         SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    unchecked(users.env).admin_delete_software_token(UserPoolId=users.pool, Username="alice")
    assert users.fields() == {"UserMFASettingList": ["SMS_MFA"], "PreferredMfaSetting": "SMS_MFA"}


def test_admin_delete_software_token_for_a_user_that_does_not_exist():
    users = Users()
    unchanged(users.env, UserNotFoundException, "User does not exist.",
              unchecked(users.env).admin_delete_software_token, UserPoolId=users.pool, Username="bob")


def test_a_verified_code_is_used_for_sign_in_too():
    users = Users()
    secret = users.client.associate_software_token(AccessToken=users.access())["SecretCode"]
    code = totp_code(secret, START)
    users.client.verify_software_token(AccessToken=users.access(), UserCode=code)
    users.client.set_user_mfa_preference(AccessToken=users.access(), SoftwareTokenMfaSettings=ON_TOTP)
    started = users.sign_in()
    refused(ExpiredCodeException, USED, users.answer_totp, started, code)
    assert "AuthenticationResult" in users.answer_totp(started, next_step_code(users.env, secret))


# -- the legacy MFA settings -----------------------------------------------------------------------------


def test_set_user_settings_turns_sms_mfa_on_and_off():
    users = Users(sms=True, phone=True)
    sms = [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]
    users.client.set_user_settings(AccessToken=users.access(), MFAOptions=sms)
    assert users.fields() == {"UserMFASettingList": ["SMS_MFA"]}
    assert users.sign_in()["ChallengeName"] == "SMS_MFA"
    users.client.set_user_settings(AccessToken=users.access(), MFAOptions=[])
    assert users.fields() == {}
    assert "AuthenticationResult" in users.sign_in()
    users.client.admin_set_user_settings(UserPoolId=users.pool, Username="alice", MFAOptions=sms)
    started = users.sign_in()
    assert started["ChallengeName"] == "SMS_MFA"
    done = users.env.respond(users.app, started["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": sms_code(users.env)},
                             name="SMS_MFA")
    assert "AuthenticationResult" in done


@pytest.mark.parametrize("option", [{"DeliveryMedium": "EMAIL", "AttributeName": "email"},
                                    {"DeliveryMedium": "SMS", "AttributeName": "email"}])
def test_set_user_settings_takes_only_sms_to_the_phone_number(option):
    users = Users(sms=True, phone=True)
    message = "Only phone_number via SMS can be set for MFAOptions."
    unchanged(users.env, InvalidParameterException, message, users.client.set_user_settings,
              AccessToken=users.access(), MFAOptions=[option])
    unchanged(users.env, InvalidParameterException, message, users.client.admin_set_user_settings,
              UserPoolId=users.pool, Username="alice", MFAOptions=[option])


def test_set_user_settings_needs_a_phone_number_and_leaves_totp_alone():
    users = Users(sms=True)
    unchanged(users.env, InvalidParameterException, NO_PHONE, users.client.set_user_settings,
              AccessToken=users.access(), MFAOptions=[{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}])
    enrol_totp(users.env, users.access())
    before = users.env.snapshot()
    users.client.set_user_settings(AccessToken=users.access(), MFAOptions=[])  # SMS was off: nothing to do
    assert users.env.snapshot() == before


# -- secrets at rest ----------------------------------------------------------------------------------------


def forms(secret: str) -> list[bytes]:
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return [secret.encode(), secret.lower().encode(), raw, raw.hex().encode(), base64.b64encode(raw)[:24],
            base64.urlsafe_b64encode(raw)[:24]]


def stored(env: Env) -> bytes:
    """Everything the store holds, as text: the records' reprs and their codec rows."""
    contents = env.snapshot()
    rows = [codec.user_to_row(user) for users in contents["users"].values() for user in users["by_key"].values()]
    rows += [codec.session_to_row(session) for session in contents["sessions"].values()]
    return (repr(contents) + repr(rows)).encode()


def test_secrets_are_never_stored_in_clear():
    users = Users()
    pending = users.client.associate_software_token(AccessToken=users.access())["SecretCode"]
    for form in forms(pending):
        assert form not in stored(users.env)
    users.client.verify_software_token(AccessToken=users.access(), UserCode=totp_code(pending, START))
    for form in forms(pending):
        assert form not in stored(users.env)


def test_a_setup_sessions_secret_is_not_stored_in_clear():
    env = Env()
    pool = env.pool()
    mfa_config(env, pool, "ON")
    app = env.app_id(pool)
    env.user(pool)
    started = env.initiate(app, password=TEMP)
    started = env.respond(app, started["Session"], {"USERNAME": "alice", "NEW_PASSWORD": NEW})
    assert started["ChallengeName"] == "MFA_SETUP"
    associated = env.client.associate_software_token(Session=started["Session"])
    for form in forms(associated["SecretCode"]):
        assert form not in stored(env)
    env.client.verify_software_token(Session=associated["Session"],
                                     UserCode=totp_code(associated["SecretCode"], env.clock.now()))
    for form in forms(associated["SecretCode"]):
        assert form not in stored(env)


def test_a_sqlite_file_holds_no_secret_in_clear(tmp_path):
    from authflow import Client, EngineConfig
    from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy
    from authflow.adapters.sqlite import SqliteStore
    from authflow.crypto.sealing import Keyring
    from tests.conftest import TEST_CONFIG

    config = EngineConfig(kdf=TEST_CONFIG.kdf, signing_keys=TEST_CONFIG.signing_keys, kek=Keyring(b"k" * 32))
    client = Client(store=SqliteStore(tmp_path / "authflow.db"), clock=ManualClock(START), entropy=SeededEntropy(3),
                    messenger=MemoryOutbox(), config=config)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    client.set_user_pool_mfa_config(UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                                    MfaConfiguration="OPTIONAL")
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="a",
                                         ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    client.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS")
    client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    tokens = client.admin_initiate_auth(UserPoolId=pool, ClientId=app["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                        AuthParameters={"USERNAME": "alice", "PASSWORD": NEW})["AuthenticationResult"]
    verified = client.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    client.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=totp_code(verified, START))
    pending = client.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    client.engine.store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"alice" in data  # the row is there
    for secret in (verified, pending):
        for form in forms(secret):
            assert form not in data


def test_only_one_factor_can_be_preferred():
    users = Users(sms=True, phone=True)
    enrol_totp(users.env, users.access(), prefer=False)
    both = {"Enabled": True, "PreferredMfa": True}
    unchanged(users.env, InvalidParameterException, "Only one MFA method can be preferred.",
              users.client.set_user_mfa_preference, AccessToken=users.access(), SMSMfaSettings=both,
              SoftwareTokenMfaSettings=both)
    users.client.set_user_mfa_preference(AccessToken=users.access(), SMSMfaSettings={"Enabled": True},
                                         SoftwareTokenMfaSettings=both)
    assert users.fields()["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
