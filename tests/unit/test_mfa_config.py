"""The pool's MFA configuration through the Client: SetUserPoolMfaConfig and
GetUserPoolMfaConfig (docs/semantics.md, "MFA beyond SMS"). The settings are replaced as
a whole; the SMS block is the pool's SMS configuration; the factor blocks outlive
UpdateUserPool and are never part of DescribeUserPool; e-mail MFA needs a feature plan
and SES. Every refusal leaves the store unchanged."""

from __future__ import annotations

import pytest

from authflow.errors import (
    FeatureUnavailableInTierException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from tests.signin import NEW, PHONE, SMS_CONFIG, Env, refused

ALL_OFF = "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration."
OFF_WITH_FACTOR = "Invalid MFA configuration given, can't turn off MFA and configure an MFA together."
NEEDS_SES = "Email MFA requires an EmailConfiguration with EmailSendingAccount DEVELOPER (Amazon SES)."
NEEDS_TIER = "Email MFA requires the user pool feature plan ESSENTIALS or PLUS."
TOTP = {"Enabled": True}
SMS = {"SmsAuthenticationMessage": "Your code is {####}", "SmsConfiguration": SMS_CONFIG}
EMAIL = {"Message": "Your code is {####}", "Subject": "Sign-in code"}
SES = {"EmailSendingAccount": "DEVELOPER", "From": "no-reply@example.com",
       "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/no-reply@example.com"}
FACTOR_BLOCKS = ("SmsMfaConfiguration", "SoftwareTokenMfaConfiguration", "EmailMfaConfiguration",
                 "WebAuthnConfiguration")


def unchanged(env: Env, exception, message: str, call, **kwargs):
    before = env.snapshot()
    err = refused(exception, message, call, **kwargs)
    assert env.snapshot() == before
    return err


def body(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


class Pool:
    def __init__(self, **config) -> None:
        self.env = Env()
        self.client = self.env.client
        self.id = self.env.pool(**config)

    def set(self, **request) -> dict:
        return body(self.client.set_user_pool_mfa_config(UserPoolId=self.id, **request))

    def get(self) -> dict:
        return body(self.client.get_user_pool_mfa_config(UserPoolId=self.id))

    def described(self) -> dict:
        return self.client.describe_user_pool(UserPoolId=self.id)["UserPool"]

    def refuse(self, exception, message: str, **request) -> None:
        unchanged(self.env, exception, message, self.client.set_user_pool_mfa_config, UserPoolId=self.id,
                  **request)


def test_a_new_pool_has_mfa_off_and_no_factor():
    assert Pool().get() == {"MfaConfiguration": "OFF"}


def test_set_answers_what_get_then_shows():
    pool = Pool()
    answer = pool.set(SoftwareTokenMfaConfiguration=TOTP, SmsMfaConfiguration=SMS, MfaConfiguration="OPTIONAL")
    assert answer == {"SmsMfaConfiguration": SMS, "SoftwareTokenMfaConfiguration": TOTP,
                      "MfaConfiguration": "OPTIONAL"}
    assert pool.get() == answer
    assert pool.described()["MfaConfiguration"] == "OPTIONAL"


def test_the_settings_are_replaced_as_a_whole():
    pool = Pool()
    pool.set(SoftwareTokenMfaConfiguration=TOTP, SmsMfaConfiguration=SMS, MfaConfiguration="OPTIONAL")
    assert pool.set(SoftwareTokenMfaConfiguration=TOTP, MfaConfiguration="ON") == {
        "SoftwareTokenMfaConfiguration": TOTP, "MfaConfiguration": "ON"}
    assert pool.get() == {"SoftwareTokenMfaConfiguration": TOTP, "MfaConfiguration": "ON"}


def test_a_mode_alone_on_a_configured_pool_turns_every_factor_off_and_is_refused():
    pool = Pool()
    pool.set(SmsMfaConfiguration=SMS, MfaConfiguration="OPTIONAL")
    pool.refuse(InvalidParameterException, ALL_OFF, MfaConfiguration="OPTIONAL")
    pool.refuse(InvalidParameterException, ALL_OFF, MfaConfiguration="ON")
    assert pool.get()["SmsMfaConfiguration"] == SMS


@pytest.mark.parametrize("mode", ["ON", "OPTIONAL"])
def test_on_or_optional_without_an_enabled_factor_is_refused(mode):
    pool = Pool()
    pool.refuse(InvalidParameterException, ALL_OFF, MfaConfiguration=mode)
    pool.refuse(InvalidParameterException, ALL_OFF, MfaConfiguration=mode,
                SoftwareTokenMfaConfiguration={"Enabled": False})
    assert pool.get() == {"MfaConfiguration": "OFF"}


@pytest.mark.parametrize("factor", [
    {"SoftwareTokenMfaConfiguration": TOTP}, {"SmsMfaConfiguration": SMS},
])
def test_off_with_a_factor_is_refused(factor):
    pool = Pool()
    pool.set(SoftwareTokenMfaConfiguration=TOTP, MfaConfiguration="OPTIONAL")
    pool.refuse(InvalidParameterException, OFF_WITH_FACTOR, MfaConfiguration="OFF", **factor)
    assert pool.get() == {"SoftwareTokenMfaConfiguration": TOTP, "MfaConfiguration": "OPTIONAL"}


def test_off_alone_is_accepted_and_clears_the_factors():
    pool = Pool()
    pool.set(SoftwareTokenMfaConfiguration=TOTP, MfaConfiguration="ON")
    assert pool.set(MfaConfiguration="OFF") == {"MfaConfiguration": "OFF"}
    assert pool.get() == {"MfaConfiguration": "OFF"}
    assert pool.described()["MfaConfiguration"] == "OFF"


def test_without_a_mode_the_current_mode_is_kept():
    pool = Pool()
    pool.set(SoftwareTokenMfaConfiguration=TOTP, MfaConfiguration="ON")
    assert pool.set(SoftwareTokenMfaConfiguration=TOTP, SmsMfaConfiguration=SMS)["MfaConfiguration"] == "ON"


def test_the_sms_block_is_the_pools_sms_configuration():
    pool = Pool()
    pool.set(SmsMfaConfiguration=SMS, MfaConfiguration="OPTIONAL")
    described = pool.described()
    assert described["SmsConfiguration"] == SMS_CONFIG
    assert described["SmsAuthenticationMessage"] == "Your code is {####}"
    # ... which is what the SMS_MFA step then sends.
    env = pool.env
    app = env.app_id(pool.id)
    env.user(pool.id, attributes=[{"Name": "phone_number", "Value": PHONE}])
    env.confirm(pool.id, app)
    env.client.admin_set_user_mfa_preference(UserPoolId=pool.id, Username="alice",
                                             SMSMfaSettings={"Enabled": True})
    assert env.initiate(app, password=NEW)["ChallengeName"] == "SMS_MFA"
    assert env.outbox.last().body.startswith("Your code is ")


def test_the_sms_block_needs_an_sms_configuration_unless_the_pool_has_one():
    pool = Pool()
    pool.refuse(InvalidParameterException, "SmsMfaConfiguration needs an SmsConfiguration.",
                SmsMfaConfiguration={"SmsAuthenticationMessage": "Code {####}"}, MfaConfiguration="OPTIONAL")
    configured = Pool(SmsConfiguration=SMS_CONFIG)
    answer = configured.set(SmsMfaConfiguration={"SmsAuthenticationMessage": "Code: {####}"},
                            MfaConfiguration="OPTIONAL")
    assert answer["SmsMfaConfiguration"] == {"SmsAuthenticationMessage": "Code: {####}",
                                             "SmsConfiguration": SMS_CONFIG}


@pytest.mark.parametrize(("block", "member"), [
    ({"SmsMfaConfiguration": {"SmsAuthenticationMessage": "no code", "SmsConfiguration": SMS_CONFIG}},
     "smsMfaConfiguration.smsAuthenticationMessage"),
    ({"EmailMfaConfiguration": {"Message": "no code here", "Subject": "s"}}, "emailMfaConfiguration.message"),
])
def test_a_message_without_the_code_placeholder_is_refused_by_validation(block, member):
    pool = Pool(EmailConfiguration=SES)
    before = pool.env.snapshot()
    with pytest.raises(InvalidParameterException, match=f"at '{member}' failed to satisfy constraint"):
        pool.set(MfaConfiguration="OPTIONAL", **block)
    assert pool.env.snapshot() == before


def test_the_factor_blocks_outlive_update_user_pool():
    pool = Pool()
    pool.set(SoftwareTokenMfaConfiguration=TOTP, SmsMfaConfiguration=SMS, MfaConfiguration="OPTIONAL")
    pool.client.update_user_pool(UserPoolId=pool.id, MfaConfiguration="OPTIONAL", SmsConfiguration=SMS_CONFIG,
                                 SmsAuthenticationMessage="New text {####}", AutoVerifiedAttributes=["email"])
    assert pool.get() == {"SmsMfaConfiguration": {"SmsAuthenticationMessage": "New text {####}",
                                                  "SmsConfiguration": SMS_CONFIG},
                          "SoftwareTokenMfaConfiguration": TOTP, "MfaConfiguration": "OPTIONAL"}


def test_update_user_pool_cannot_turn_mfa_on():
    pool = Pool()
    pool.set(SoftwareTokenMfaConfiguration=TOTP, MfaConfiguration="OPTIONAL")
    unchanged(pool.env, InvalidParameterException,
              "Cannot turn MFA functionality ON, once the user pool has been created.",
              pool.client.update_user_pool, UserPoolId=pool.id, MfaConfiguration="ON")
    assert pool.get()["MfaConfiguration"] == "OPTIONAL"


def test_the_factor_blocks_are_not_part_of_describe_user_pool():
    pool = Pool(EmailConfiguration=SES)
    pool.set(SoftwareTokenMfaConfiguration=TOTP, SmsMfaConfiguration=SMS, EmailMfaConfiguration=EMAIL,
             MfaConfiguration="OPTIONAL")
    described = pool.described()
    assert not set(FACTOR_BLOCKS) & set(described)
    listed = pool.client.list_user_pools(MaxResults=10)["UserPools"]
    assert not any(set(FACTOR_BLOCKS) & set(p) for p in listed)


def test_email_mfa_with_ses_and_the_essentials_plan():
    pool = Pool(EmailConfiguration=SES)
    assert pool.described()["UserPoolTier"] == "ESSENTIALS"
    assert pool.set(EmailMfaConfiguration=EMAIL, MfaConfiguration="OPTIONAL") == {
        "EmailMfaConfiguration": EMAIL, "MfaConfiguration": "OPTIONAL"}
    assert pool.get()["EmailMfaConfiguration"] == EMAIL


def test_email_mfa_needs_ses():
    pool = Pool()
    pool.refuse(InvalidParameterException, NEEDS_SES, EmailMfaConfiguration=EMAIL, MfaConfiguration="OPTIONAL")
    cognito_mail = Pool(EmailConfiguration={"EmailSendingAccount": "COGNITO_DEFAULT"})
    cognito_mail.refuse(InvalidParameterException, NEEDS_SES, EmailMfaConfiguration=EMAIL,
                        MfaConfiguration="OPTIONAL")


@pytest.mark.parametrize("ses", [True, False])
def test_email_mfa_needs_a_feature_plan_above_lite(ses):
    pool = Pool(UserPoolTier="LITE", **({"EmailConfiguration": SES} if ses else {}))
    pool.refuse(FeatureUnavailableInTierException, NEEDS_TIER, EmailMfaConfiguration=EMAIL,
                MfaConfiguration="OPTIONAL")
    assert pool.get() == {"MfaConfiguration": "OFF"}


def test_a_pool_that_does_not_exist():
    env = Env()
    missing = "us-east-1_doesnotexist"
    for call, request in ((env.client.set_user_pool_mfa_config, {"MfaConfiguration": "OFF"}),
                          (env.client.get_user_pool_mfa_config, {})):
        unchanged(env, ResourceNotFoundException, f"User pool {missing} does not exist.", call,
                  UserPoolId=missing, **request)


def test_a_pool_configured_only_by_create_user_pool_offers_sms():
    pool = Pool(MfaConfiguration="OPTIONAL", SmsConfiguration=SMS_CONFIG)
    assert pool.get() == {"SmsMfaConfiguration": {"SmsAuthenticationMessage": pool.described()[
        "SmsAuthenticationMessage"], "SmsConfiguration": SMS_CONFIG}, "MfaConfiguration": "OPTIONAL"}
