"""Unit tests for authflow.core.pool_config: CreateUserPool/UpdateUserPool decisions, rendering,
and the typed accessors."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

import authflow
from authflow.core import pool_config as pc
from authflow.core.schema import STANDARD_ATTRIBUTES, build_schema
from authflow.errors import InvalidParameterException
from tests.conftest import TEST_CONFIG
from tests.shapes import assert_shape

CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MODIFIED = datetime(2024, 5, 2, 8, 30, tzinfo=timezone.utc)
POOL_ID = "us-east-1_EXAMPLE1"
ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_EXAMPLE1"
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"}
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"
LAMBDA2 = "arn:aws:lambda:us-east-1:123456789012:function:g"

DEFAULT_CONFIG = {
    "Name": "pool",
    "Policies": {
        "PasswordPolicy": {
            "MinimumLength": 8,
            "RequireUppercase": True,
            "RequireLowercase": True,
            "RequireNumbers": True,
            "RequireSymbols": True,
            "TemporaryPasswordValidityDays": 7,
        },
        "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]},
    },
    "DeletionProtection": "INACTIVE",
    "LambdaConfig": {},
    "SmsVerificationMessage": "Your verification code is {####}. ",
    "EmailVerificationMessage": "Your verification code is {####}. ",
    "EmailVerificationSubject": "Your verification code",
    "VerificationMessageTemplate": {
        "SmsMessage": "Your verification code is {####}. ",
        "EmailMessage": "Your verification code is {####}. ",
        "EmailSubject": "Your verification code",
        "DefaultEmailOption": "CONFIRM_WITH_CODE",
    },
    "SmsAuthenticationMessage": "Your authentication code is {####}. ",
    "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": []},
    "MfaConfiguration": "OFF",
    "EmailConfiguration": {"EmailSendingAccount": "COGNITO_DEFAULT"},
    "UserPoolTags": {},
    "AdminCreateUserConfig": {
        "AllowAdminCreateUserOnly": False,
        "UnusedAccountValidityDays": 7,
        "InviteMessageTemplate": {
            "SMSMessage": "Your username is {username} and temporary password is {####}. ",
            "EmailMessage": "Your username is {username} and temporary password is {####}. ",
            "EmailSubject": "Your temporary password",
        },
    },
    "UserPoolTier": "ESSENTIALS",
    "SchemaAttributes": list(STANDARD_ATTRIBUTES),
}

FULL_REQUEST = {
    "PoolName": "full",
    "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True,
                                    "PasswordHistorySize": 5,
                                    "TemporaryPasswordValidityDays": 3}},
    "DeletionProtection": "ACTIVE",
    "LambdaConfig": {"PreSignUp": LAMBDA,
                     "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": LAMBDA2},
                     "KMSKeyID": "arn:aws:kms:us-east-1:123456789012:key/abc"},
    "AutoVerifiedAttributes": ["email"],
    "AliasAttributes": ["email", "preferred_username"],
    "VerificationMessageTemplate": {"SmsMessage": "Code {####}", "EmailMessage": "Code {####}",
                                    "EmailSubject": "Verify"},
    "SmsAuthenticationMessage": "Auth {####}",
    "MfaConfiguration": "OPTIONAL",
    "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
    "DeviceConfiguration": {"ChallengeRequiredOnNewDevice": True,
                            "DeviceOnlyRememberedOnUserPrompt": False},
    "EmailConfiguration": {"SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/a@b.c",
                           "EmailSendingAccount": "DEVELOPER"},
    "SmsConfiguration": SMS,
    "UserPoolTags": {"team": "auth"},
    "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True,
                              "InviteMessageTemplate": {"EmailSubject": "Welcome"}},
    "Schema": [{"Name": "email", "Required": True},
               {"Name": "tier", "AttributeDataType": "String"}],
    "UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"},
    "UsernameConfiguration": {"CaseSensitive": False},
    "AccountRecoverySetting": {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
    "UserPoolTier": "PLUS",
}


def _new(**request):
    request.setdefault("PoolName", "pool")
    before = copy.deepcopy(request)
    config = pc.new_pool_config(request)
    assert request == before, "new_pool_config mutated its request"
    return config


def _new_error(**request) -> InvalidParameterException:
    request.setdefault("PoolName", "pool")
    before = copy.deepcopy(request)
    with pytest.raises(InvalidParameterException) as raised:
        pc.new_pool_config(request)
    assert request == before
    return raised.value


def _update(current, **request):
    request.setdefault("UserPoolId", POOL_ID)
    before = (copy.deepcopy(current), copy.deepcopy(request))
    config = pc.updated_pool_config(current, request)
    assert (current, request) == before, "updated_pool_config mutated its inputs"
    return config


def _render(config, users=0):
    return pc.render_user_pool(config, pool_id=POOL_ID, arn=ARN, created=CREATED,
                               modified=MODIFIED, estimated_users=users)


# -- CreateUserPool defaults -----------------------------------------------------------------


def test_a_bare_request_gets_every_cognito_default():
    assert _new() == DEFAULT_CONFIG


def test_members_without_a_default_are_absent_until_set():
    config = _new()
    for member in ("AutoVerifiedAttributes", "AliasAttributes", "UsernameAttributes",
                   "DeviceConfiguration", "SmsConfiguration", "UserPoolAddOns",
                   "UsernameConfiguration", "AccountRecoverySetting", "Status"):
        assert member not in config


def test_a_full_request_is_stored_with_defaults_filled_in():
    config = _new(**copy.deepcopy(FULL_REQUEST))
    assert config["Name"] == "full"
    assert config["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": False,
        "RequireNumbers": False, "RequireSymbols": False, "PasswordHistorySize": 5,
        "TemporaryPasswordValidityDays": 3}
    assert config["DeletionProtection"] == "ACTIVE"
    assert config["LambdaConfig"] == FULL_REQUEST["LambdaConfig"]
    assert config["AutoVerifiedAttributes"] == ["email"]
    assert config["AliasAttributes"] == ["email", "preferred_username"]
    assert config["SmsAuthenticationMessage"] == "Auth {####}"
    assert config["MfaConfiguration"] == "OPTIONAL"
    assert config["UserAttributeUpdateSettings"] == {
        "AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert config["DeviceConfiguration"] == FULL_REQUEST["DeviceConfiguration"]
    assert config["EmailConfiguration"] == FULL_REQUEST["EmailConfiguration"]
    assert config["SmsConfiguration"] == SMS
    assert config["UserPoolTags"] == {"team": "auth"}
    assert config["AdminCreateUserConfig"] == {
        "AllowAdminCreateUserOnly": True,
        "UnusedAccountValidityDays": 3,
        "InviteMessageTemplate": {
            "SMSMessage": "Your username is {username} and temporary password is {####}. ",
            "EmailMessage": "Your username is {username} and temporary password is {####}. ",
            "EmailSubject": "Welcome"}}
    assert config["UserPoolAddOns"] == {"AdvancedSecurityMode": "AUDIT"}
    assert config["UsernameConfiguration"] == {"CaseSensitive": False}
    assert config["AccountRecoverySetting"] == FULL_REQUEST["AccountRecoverySetting"]
    assert config["UserPoolTier"] == "PLUS"
    assert config["SchemaAttributes"] == build_schema(FULL_REQUEST["Schema"])
    assert "Schema" not in config and "PoolName" not in config


def test_config_shares_nothing_with_the_request():
    request = copy.deepcopy(FULL_REQUEST)
    config = pc.new_pool_config(request)
    config["LambdaConfig"]["CustomSMSSender"]["LambdaArn"] = "changed"
    config["UserPoolTags"]["team"] = "changed"
    config["AccountRecoverySetting"]["RecoveryMechanisms"].append({})
    assert request == FULL_REQUEST


def test_unknown_members_are_stored_and_echoed_but_output_members_are_not():
    config = _new(DcrConfiguration={"EnableStatus": "Enabled"},
                  KeyConfiguration={"KeyType": "AWS_OWNED_KEY"},
                  Id="forged", Arn="forged", EstimatedNumberOfUsers=99, Domain="forged")
    assert config["DcrConfiguration"] == {"EnableStatus": "Enabled"}
    assert config["KeyConfiguration"] == {"KeyType": "AWS_OWNED_KEY"}
    for member in ("Id", "Arn", "EstimatedNumberOfUsers", "Domain"):
        assert member not in config


# -- password policy and temporary-password validity -----------------------------------------


def test_a_partial_password_policy_turns_omitted_requirements_off():
    config = _new(Policies={"PasswordPolicy": {"MinimumLength": 10}})
    assert config["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 10, "RequireUppercase": False, "RequireLowercase": False,
        "RequireNumbers": False, "RequireSymbols": False, "TemporaryPasswordValidityDays": 7}


def test_policies_without_password_policy_keeps_the_default_policy():
    config = _new(Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD",
                                                                         "EMAIL_OTP"]}})
    assert config["Policies"] == {
        "PasswordPolicy": DEFAULT_CONFIG["Policies"]["PasswordPolicy"],
        "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}}


def test_password_history_size_is_echoed_only_when_given():
    assert "PasswordHistorySize" not in _new()["Policies"]["PasswordPolicy"]
    config = _new(Policies={"PasswordPolicy": {"PasswordHistorySize": 0}})
    assert config["Policies"]["PasswordPolicy"]["PasswordHistorySize"] == 0


def test_temporary_password_validity_zero_means_the_default():
    config = _new(Policies={"PasswordPolicy": {"TemporaryPasswordValidityDays": 0}})
    assert config["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 7
    assert config["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 7


def test_the_new_validity_is_mirrored_into_the_legacy_member():
    config = _new(Policies={"PasswordPolicy": {"TemporaryPasswordValidityDays": 30}})
    assert config["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 30


def test_the_legacy_validity_alone_still_sets_the_validity():
    config = _new(AdminCreateUserConfig={"UnusedAccountValidityDays": 90})
    assert config["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 90
    assert config["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 90
    assert pc.password_policy(config).temporary_password_validity_days == 90


@pytest.mark.parametrize("legacy", [7, 3])
def test_both_validity_members_are_refused(legacy):
    error = _new_error(Policies={"PasswordPolicy": {"TemporaryPasswordValidityDays": 7}},
                       AdminCreateUserConfig={"UnusedAccountValidityDays": legacy})
    assert error.message == ("Please use TemporaryPasswordValidityDays in PasswordPolicy instead "
                             "of UnusedAccountValidityDays")


def test_a_zero_legacy_validity_beside_the_new_member_is_ignored():
    config = _new(Policies={"PasswordPolicy": {"TemporaryPasswordValidityDays": 2}},
                  AdminCreateUserConfig={"UnusedAccountValidityDays": 0})
    assert config["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 2


# -- sign-in attributes and MFA --------------------------------------------------------------


def test_alias_and_username_attributes_are_mutually_exclusive():
    error = _new_error(AliasAttributes=["email"], UsernameAttributes=["phone_number"])
    assert error.message == (
        "Only one of aliasAttributes or usernameAttributes can be set in a user pool.")
    # An empty list is no setting at all.
    assert _new(AliasAttributes=[], UsernameAttributes=["email"])["UsernameAttributes"] == [
        "email"]


def test_preferred_username_cannot_be_both_alias_and_required():
    error = _new_error(AliasAttributes=["preferred_username"],
                       Schema=[{"Name": "preferred_username", "Required": True}])
    assert error.message == (
        "preferred_username can not be both an alias and a required attribute.")
    assert _new(AliasAttributes=["preferred_username"])["AliasAttributes"] == [
        "preferred_username"]
    assert _new(Schema=[{"Name": "preferred_username", "Required": True}])


@pytest.mark.parametrize("mfa", ["ON", "OPTIONAL"])
def test_mfa_at_creation_needs_an_sms_configuration(mfa):
    error = _new_error(MfaConfiguration=mfa)
    assert error.message == ("SMS configuration and Auto verification for phone_number are "
                             "required when MFA is required/optional")
    assert _new(MfaConfiguration=mfa, SmsConfiguration=SMS)["MfaConfiguration"] == mfa


def test_schema_errors_surface_from_create():
    error = _new_error(Schema=[{"Name": "x", "AttributeDataType": "String", "Required": True}])
    assert error.message == "Required custom attributes are not supported currently."


# -- messages ---------------------------------------------------------------------------------


def test_legacy_verification_members_fill_the_template():
    config = _new(SmsVerificationMessage="SMS {####}", EmailVerificationMessage="Mail {####}",
                  EmailVerificationSubject="Subject")
    assert config["VerificationMessageTemplate"] == {
        "SmsMessage": "SMS {####}", "EmailMessage": "Mail {####}", "EmailSubject": "Subject",
        "DefaultEmailOption": "CONFIRM_WITH_CODE"}
    assert (config["SmsVerificationMessage"], config["EmailVerificationMessage"],
            config["EmailVerificationSubject"]) == ("SMS {####}", "Mail {####}", "Subject")


def test_the_template_fills_and_wins_over_the_legacy_members():
    config = _new(VerificationMessageTemplate={"SmsMessage": "T {####}"},
                  SmsVerificationMessage="L {####}", EmailVerificationSubject="Legacy subject")
    assert config["SmsVerificationMessage"] == "T {####}"
    assert config["VerificationMessageTemplate"]["SmsMessage"] == "T {####}"
    assert config["VerificationMessageTemplate"]["EmailSubject"] == "Legacy subject"
    assert config["EmailVerificationSubject"] == "Legacy subject"


def test_confirm_with_link_gets_link_defaults():
    config = _new(VerificationMessageTemplate={"DefaultEmailOption": "CONFIRM_WITH_LINK"})
    assert config["VerificationMessageTemplate"] == {
        "SmsMessage": "Your verification code is {####}. ",
        "EmailMessage": "Your verification code is {####}. ",
        "EmailSubject": "Your verification code",
        "EmailMessageByLink": ("Please click the link below to verify your email address. "
                               "{##Verify Email##} "),
        "EmailSubjectByLink": "Your verification link",
        "DefaultEmailOption": "CONFIRM_WITH_LINK"}
    given = _new(VerificationMessageTemplate={"DefaultEmailOption": "CONFIRM_WITH_LINK",
                                              "EmailMessageByLink": "Go {##here##}",
                                              "EmailSubjectByLink": "Link"})
    assert given["VerificationMessageTemplate"]["EmailMessageByLink"] == "Go {##here##}"
    assert given["VerificationMessageTemplate"]["EmailSubjectByLink"] == "Link"


def test_link_text_given_with_confirm_with_code_is_kept():
    config = _new(VerificationMessageTemplate={"EmailMessageByLink": "Go {##here##}"})
    template = config["VerificationMessageTemplate"]
    assert template["EmailMessageByLink"] == "Go {##here##}"
    assert "EmailSubjectByLink" not in template
    assert template["DefaultEmailOption"] == "CONFIRM_WITH_CODE"


def test_invite_template_merges_over_the_defaults():
    config = _new(AdminCreateUserConfig={"InviteMessageTemplate": {
        "SMSMessage": "Hi {username}, password {####}"}})
    assert config["AdminCreateUserConfig"]["InviteMessageTemplate"] == {
        "SMSMessage": "Hi {username}, password {####}",
        "EmailMessage": "Your username is {username} and temporary password is {####}. ",
        "EmailSubject": "Your temporary password"}


@pytest.mark.parametrize("member", ["SMSMessage", "EmailMessage"])
def test_invite_messages_need_the_username_placeholder(member):
    error = _new_error(AdminCreateUserConfig={"InviteMessageTemplate": {member: "Pw {####}"}})
    assert error.message == f"The invitation {member} must contain the {{username}} placeholder."


def test_invite_messages_may_omit_the_password_placeholder():
    config = _new(AdminCreateUserConfig={"InviteMessageTemplate": {
        "EmailMessage": "Welcome {username}"}})
    assert pc.invite_template(config)["EmailMessage"] == "Welcome {username}"


def test_email_configuration_always_names_a_sending_account():
    config = _new(EmailConfiguration={"ReplyToEmailAddress": "a@b.c"})
    assert config["EmailConfiguration"] == {"ReplyToEmailAddress": "a@b.c",
                                            "EmailSendingAccount": "COGNITO_DEFAULT"}


# -- Lambda configuration --------------------------------------------------------------------


def test_pre_token_generation_is_mirrored_into_its_versioned_form():
    config = _new(LambdaConfig={"PreTokenGeneration": LAMBDA})
    assert config["LambdaConfig"] == {
        "PreTokenGeneration": LAMBDA,
        "PreTokenGenerationConfig": {"LambdaVersion": "V1_0", "LambdaArn": LAMBDA}}


def test_versioned_pre_token_generation_is_mirrored_into_the_legacy_member():
    versioned = {"LambdaVersion": "V2_0", "LambdaArn": LAMBDA}
    config = _new(LambdaConfig={"PreTokenGenerationConfig": versioned})
    assert config["LambdaConfig"] == {"PreTokenGenerationConfig": versioned,
                                      "PreTokenGeneration": LAMBDA}


def test_the_two_pre_token_generation_members_must_agree():
    error = _new_error(LambdaConfig={
        "PreTokenGeneration": LAMBDA,
        "PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": LAMBDA2}})
    assert error.message == (
        "PreTokenGeneration and PreTokenGenerationConfig.LambdaArn must be identical.")


# -- UpdateUserPool ---------------------------------------------------------------------------


def test_update_is_a_full_replacement():
    current = _new(**copy.deepcopy(FULL_REQUEST))
    updated = _update(current)
    expected = {**DEFAULT_CONFIG,
                "Name": "full",
                "UserPoolTier": "PLUS",
                "AliasAttributes": current["AliasAttributes"],
                "UsernameConfiguration": current["UsernameConfiguration"],
                "SchemaAttributes": current["SchemaAttributes"]}
    assert updated == expected


def test_update_sets_what_it_is_given():
    current = _new()
    updated = _update(current, PoolName="renamed", MfaConfiguration="OPTIONAL",
                      DeletionProtection="ACTIVE", AutoVerifiedAttributes=["phone_number"],
                      UserPoolTags={"a": "b"}, UserPoolTier="LITE",
                      LambdaConfig={"PreSignUp": LAMBDA})
    assert updated["Name"] == "renamed"
    # OPTIONAL needs no SMS configuration on update: software-token MFA may back it.
    assert updated["MfaConfiguration"] == "OPTIONAL"
    assert updated["DeletionProtection"] == "ACTIVE"
    assert updated["AutoVerifiedAttributes"] == ["phone_number"]
    assert updated["UserPoolTags"] == {"a": "b"}
    assert updated["UserPoolTier"] == "LITE"
    assert updated["LambdaConfig"] == {"PreSignUp": LAMBDA}


def test_update_keeps_the_members_it_cannot_change():
    current = _new(UsernameAttributes=["email"], UsernameConfiguration={"CaseSensitive": False},
                   Schema=[{"Name": "tier", "AttributeDataType": "Number"}])
    # A stray member of that kind in the request changes nothing.
    updated = _update(current, UsernameAttributes=["phone_number"],
                      Schema=[{"Name": "other", "AttributeDataType": "String"}])
    assert updated["UsernameAttributes"] == ["email"]
    assert updated["UsernameConfiguration"] == {"CaseSensitive": False}
    assert updated["SchemaAttributes"] == current["SchemaAttributes"]
    assert "Schema" not in updated and "UserPoolId" not in updated


def test_update_keeps_the_tier_when_omitted():
    current = _new(UserPoolTier="LITE")
    assert _update(current)["UserPoolTier"] == "LITE"


def test_update_cannot_turn_required_mfa_on():
    current = _new(MfaConfiguration="OPTIONAL", SmsConfiguration=SMS)
    with pytest.raises(InvalidParameterException) as raised:
        _update(current, MfaConfiguration="ON", SmsConfiguration=SMS)
    assert raised.value.message == (
        "Cannot turn MFA functionality ON, once the user pool has been created.")
    already_on = _new(MfaConfiguration="ON", SmsConfiguration=SMS)
    assert _update(already_on, MfaConfiguration="ON")["MfaConfiguration"] == "ON"
    assert _update(already_on)["MfaConfiguration"] == "OFF"


def test_update_applies_the_validity_rules():
    current = _new()
    with pytest.raises(InvalidParameterException) as raised:
        _update(current, Policies={"PasswordPolicy": {"TemporaryPasswordValidityDays": 7}},
                AdminCreateUserConfig={"UnusedAccountValidityDays": 7})
    assert "instead of UnusedAccountValidityDays" in raised.value.message
    updated = _update(current, AdminCreateUserConfig={"UnusedAccountValidityDays": 14})
    assert pc.password_policy(updated).temporary_password_validity_days == 14


def test_describe_then_update_round_trip_must_drop_the_legacy_validity():
    # As on AWS: feeding DescribeUserPool output back into UpdateUserPool fails until the
    # legacy member is removed.
    current = _new()
    described = _render(current)
    request = {key: described[key] for key in ("Policies", "AdminCreateUserConfig",
                                               "LambdaConfig", "VerificationMessageTemplate")}
    with pytest.raises(InvalidParameterException):
        _update(current, **copy.deepcopy(request))
    del request["AdminCreateUserConfig"]["UnusedAccountValidityDays"]
    assert _update(current, **copy.deepcopy(request)) == current


# -- rendering --------------------------------------------------------------------------------


def test_render_user_pool_is_a_botocore_user_pool_type_in_aws_order():
    config = _new(**copy.deepcopy(FULL_REQUEST))
    rendered = _render(config, users=3)
    assert_shape(rendered, "UserPoolType")
    assert list(rendered)[:5] == ["Id", "Name", "Policies", "DeletionProtection", "LambdaConfig"]
    assert rendered["Id"] == POOL_ID and rendered["Arn"] == ARN
    assert rendered["CreationDate"] == CREATED and rendered["LastModifiedDate"] == MODIFIED
    assert rendered["EstimatedNumberOfUsers"] == 3
    assert "Status" not in rendered
    assert {k: v for k, v in rendered.items()
            if k not in ("Id", "Arn", "CreationDate", "LastModifiedDate",
                         "EstimatedNumberOfUsers")} == config


def test_render_of_defaults_is_a_botocore_user_pool_type():
    assert_shape(_render(_new()), "UserPoolType")


def test_render_appends_members_newer_than_the_known_order():
    rendered = _render(_new(FutureMember={"x": 1}))
    assert list(rendered)[-1] == "FutureMember"


def test_render_shares_nothing_with_the_config():
    config = _new(**copy.deepcopy(FULL_REQUEST))
    before = copy.deepcopy(config)
    rendered = _render(config)
    rendered["Policies"]["PasswordPolicy"]["MinimumLength"] = 99
    rendered["SchemaAttributes"][0]["Required"] = False
    rendered["AdminCreateUserConfig"]["InviteMessageTemplate"]["SMSMessage"] = "x"
    assert config == before


def test_render_pool_description():
    config = _new(LambdaConfig={"PreSignUp": LAMBDA})
    before = copy.deepcopy(config)
    description = pc.render_pool_description(config, pool_id=POOL_ID, created=CREATED,
                                             modified=MODIFIED)
    assert description == {"Id": POOL_ID, "Name": "pool", "LambdaConfig": {"PreSignUp": LAMBDA},
                           "LastModifiedDate": MODIFIED, "CreationDate": CREATED}
    assert_shape(description, "UserPoolDescriptionType")
    description["LambdaConfig"]["PreSignUp"] = "changed"
    assert config == before


# -- accessors --------------------------------------------------------------------------------


def test_password_policy_accessor():
    assert pc.password_policy(_new()) == pc.PasswordPolicy(
        minimum_length=8, require_uppercase=True, require_lowercase=True, require_numbers=True,
        require_symbols=True, temporary_password_validity_days=7, password_history_size=0)
    config = _new(Policies={"PasswordPolicy": {"MinimumLength": 20, "RequireSymbols": True,
                                               "PasswordHistorySize": 4,
                                               "TemporaryPasswordValidityDays": 1}})
    assert pc.password_policy(config) == pc.PasswordPolicy(
        minimum_length=20, require_uppercase=False, require_lowercase=False,
        require_numbers=False, require_symbols=True, temporary_password_validity_days=1,
        password_history_size=4)


def test_sign_in_accessors():
    config = _new(AliasAttributes=["email", "preferred_username"],
                  AutoVerifiedAttributes=["email"])
    assert pc.alias_attributes(config) == frozenset({"email", "preferred_username"})
    assert pc.username_attributes(config) == frozenset()
    assert pc.auto_verified_attributes(config) == frozenset({"email"})
    assert pc.username_attributes(_new(UsernameAttributes=["email", "phone_number"])) == (
        frozenset({"email", "phone_number"}))
    assert pc.alias_attributes(_new()) == frozenset()
    assert pc.auto_verified_attributes(_new()) == frozenset()


def test_case_sensitive_accessor():
    assert pc.case_sensitive(_new()) is True
    assert pc.case_sensitive(_new(UsernameConfiguration={"CaseSensitive": True})) is True
    assert pc.case_sensitive(_new(UsernameConfiguration={"CaseSensitive": False})) is False


def test_invite_template_accessor_always_fills_defaults():
    assert pc.invite_template({}) == DEFAULT_CONFIG["AdminCreateUserConfig"][
        "InviteMessageTemplate"]
    template = pc.invite_template(_new(AdminCreateUserConfig={"InviteMessageTemplate": {
        "EmailSubject": "Hello"}}))
    assert template["EmailSubject"] == "Hello"
    template["EmailSubject"] = "mutated"
    assert pc.invite_template({})["EmailSubject"] == "Your temporary password"


def test_message_accessors():
    config = _new(VerificationMessageTemplate={"SmsMessage": "S {####}"},
                  SmsAuthenticationMessage="A {####}")
    assert pc.verification_template(config)["SmsMessage"] == "S {####}"
    assert pc.verification_template({})["DefaultEmailOption"] == "CONFIRM_WITH_CODE"
    assert pc.sms_authentication_message(config) == "A {####}"
    assert pc.sms_authentication_message({}) == "Your authentication code is {####}. "


def test_flag_accessors():
    assert pc.allow_admin_create_user_only(_new()) is False
    assert pc.allow_admin_create_user_only(
        _new(AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})) is True
    assert pc.deletion_protection(_new()) is False
    assert pc.deletion_protection(_new(DeletionProtection="ACTIVE")) is True
    assert pc.mfa_configuration(_new()) == "OFF"
    assert pc.attributes_require_verification_before_update(_new()) == frozenset()
    assert pc.attributes_require_verification_before_update(_new(
        AutoVerifiedAttributes=["email"],
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]})
    ) == frozenset({"email"})
    # A held-back value needs the code that verifies it.
    with pytest.raises(InvalidParameterException, match="must also be in AutoVerifiedAttributes"):
        _new(UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]})


def test_lambda_arn_accessor():
    config = _new(LambdaConfig={
        "PreSignUp": LAMBDA,
        "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": LAMBDA2},
        "PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": LAMBDA2}})
    assert pc.lambda_arn(config, "PreSignUp") == LAMBDA
    assert pc.lambda_arn(config, "CustomEmailSender") == LAMBDA2
    assert pc.lambda_arn(config, "PreTokenGeneration") == LAMBDA2
    assert pc.lambda_arn(config, "PostConfirmation") is None
    assert pc.lambda_arn({}, "PreSignUp") is None
    assert pc.lambda_arn({"LambdaConfig": {"PreTokenGenerationConfig": {
        "LambdaVersion": "V2_0", "LambdaArn": LAMBDA}}}, "PreTokenGeneration") == LAMBDA


def test_schema_accessor():
    definitions = pc.schema(_new(Schema=[{"Name": "tier", "AttributeDataType": "String"}]))
    assert "custom:tier" in definitions and "email" in definitions
    assert definitions["sub"].required is True


def test_accessors_do_not_mutate_the_config():
    config = _new(**copy.deepcopy(FULL_REQUEST))
    before = copy.deepcopy(config)
    for accessor in (pc.password_policy, pc.alias_attributes, pc.username_attributes,
                     pc.case_sensitive, pc.auto_verified_attributes, pc.invite_template,
                     pc.allow_admin_create_user_only, pc.schema, pc.deletion_protection,
                     pc.verification_template, pc.mfa_configuration,
                     pc.sms_authentication_message,
                     pc.attributes_require_verification_before_update):
        accessor(config)
    pc.lambda_arn(config, "CustomSMSSender")
    assert config == before


@pytest.mark.parametrize("tier", [None, "LITE", "ESSENTIALS"])
@pytest.mark.parametrize("add_ons", [{"AdvancedSecurityMode": "AUDIT"}, {"AdvancedSecurityMode": "ENFORCED"},
                                     {"AdvancedSecurityMode": "OFF",
                                      "AdvancedSecurityAdditionalFlows": {"CustomAuthMode": "AUDIT"}}])
def test_threat_protection_needs_the_plus_plan(tier, add_ons):
    """"To activate this setting, your user pool must be on the Plus tier" (UserPoolAddOns)."""
    client = authflow.Client(config=TEST_CONFIG)
    plan = {"UserPoolTier": tier} if tier else {}
    with pytest.raises(client.exceptions.FeatureUnavailableInTierException, match="feature plan PLUS"):
        client.create_user_pool(PoolName="p", UserPoolAddOns=add_ons, **plan)
    assert client.list_user_pools(MaxResults=10)["UserPools"] == []
    pool = client.create_user_pool(PoolName="p", **plan)["UserPool"]["Id"]
    before = client.describe_user_pool(UserPoolId=pool)["UserPool"]
    with pytest.raises(client.exceptions.FeatureUnavailableInTierException):
        client.update_user_pool(UserPoolId=pool, UserPoolAddOns=add_ons)
    assert client.describe_user_pool(UserPoolId=pool)["UserPool"] == before
    client.update_user_pool(UserPoolId=pool, UserPoolAddOns=add_ons, UserPoolTier="PLUS")
    assert client.describe_user_pool(UserPoolId=pool)["UserPool"]["UserPoolAddOns"] == add_ons
