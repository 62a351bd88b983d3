"""AdminCreateUser through the public Client: every parameter of the seed."""

from __future__ import annotations

import re
import string
import uuid
from datetime import timedelta

import pytest

import authflow
from authflow.core.policy import SYMBOLS
from tests.conftest import make_client
from tests.helpers import store_contents

EMAIL = [{"Name": "email", "Value": "alice@example.com"}]
VERIFIED_EMAIL = EMAIL + [{"Name": "email_verified", "Value": "true"}]


def attrs(user: dict, key: str = "Attributes") -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user[key]}


def test_creates_force_change_password_user_with_sub(client, pool_id, outbox):
    user = client.admin_create_user(
        UserPoolId=pool_id, Username="alice", UserAttributes=EMAIL, DesiredDeliveryMediums=["EMAIL"]
    )["User"]
    assert user["Username"] == "alice"
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert user["Enabled"] is True
    assert user["UserCreateDate"] == user["UserLastModifiedDate"]
    assert user["UserCreateDate"].tzinfo is not None
    values = attrs(user)
    assert uuid.UUID(values["sub"]).version == 4
    assert values["email"] == "alice@example.com"
    assert user["Attributes"][0]["Name"] == "sub"
    got = client.admin_get_user(UserPoolId=pool_id, Username="alice")
    assert got["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert attrs(got, "UserAttributes") == values


def test_generated_temporary_password_is_policy_compliant_and_in_invitation(client, pool_id, outbox):
    client.admin_create_user(UserPoolId=pool_id, Username="alice", UserAttributes=EMAIL, DesiredDeliveryMediums=["EMAIL"])
    (message,) = outbox.messages
    assert message.medium == "EMAIL"
    assert message.destination == "alice@example.com"
    assert message.subject == "Your temporary password"
    assert message.kind == "invitation"
    assert message.username == "alice"
    match = re.fullmatch(r"Your username is alice and temporary password is (\S+)\. ", message.body)
    assert match, message.body
    password = match.group(1)
    assert len(password) >= 12
    assert any(c in string.ascii_uppercase for c in password)
    assert any(c in string.ascii_lowercase for c in password)
    assert any(c in string.digits for c in password)
    assert any(c in SYMBOLS for c in password)


def test_generated_passwords_differ_between_users(client, pool_id, outbox):
    for name in ("a1", "a2", "a3"):
        client.admin_create_user(UserPoolId=pool_id, Username=name, UserAttributes=EMAIL, DesiredDeliveryMediums=["EMAIL"])
    bodies = {m.body.split("password is ")[1] for m in outbox.messages}
    assert len(bodies) == 3


def test_given_temporary_password_is_delivered_and_never_stored_in_clear(client, pool_id, outbox, store):
    client.admin_create_user(
        UserPoolId=pool_id,
        Username="alice",
        TemporaryPassword="Tempor4ry!Pass",
        UserAttributes=EMAIL,
        DesiredDeliveryMediums=["EMAIL"],
    )
    assert "Tempor4ry!Pass" in outbox.messages[0].body
    with store.transaction() as tx:
        record = tx.get_user(pool_id, "alice")
    assert record.credential.temporary is True
    assert "Tempor4ry!Pass" not in repr(record)
    assert record.credential.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!", "Password not long enough"),
        ("lowercase1!", "Password must have uppercase characters"),
        ("UPPERCASE1!", "Password must have lowercase characters"),
        ("NoNumbers!!", "Password must have numeric characters"),
        ("NoSymbols11", "Password must have symbol characters"),
    ],
)
def test_temporary_password_checked_against_policy(client, pool_id, password, reason):
    with pytest.raises(client.exceptions.InvalidPasswordException) as err:
        client.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword=password, MessageAction="SUPPRESS")
    assert err.value.message == f"Password did not conform with password policy: {reason}"
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=pool_id, Username="alice")


def test_custom_policy_minimum_length_drives_generated_password(client, outbox):
    pool = client.create_user_pool(
        PoolName="long",
        Policies={"PasswordPolicy": {"MinimumLength": 20, "RequireSymbols": False}},
    )["UserPool"]
    client.admin_create_user(UserPoolId=pool["Id"], Username="bob", UserAttributes=EMAIL, DesiredDeliveryMediums=["EMAIL"])
    password = outbox.messages[-1].body.split("password is ")[1][:-2]
    assert len(password) == 20


def test_existing_username_is_refused(client, pool_id):
    client.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    with pytest.raises(client.exceptions.UsernameExistsException) as err:
        client.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    assert err.value.message == "User account already exists"


def test_unknown_pool(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException) as err:
        client.admin_create_user(UserPoolId="us-east-1_nothere00", Username="alice")
    assert err.value.message == "User pool us-east-1_nothere00 does not exist."


# -- MessageAction ------------------------------------------------------------------------------


def test_suppress_sends_nothing(client, pool_id, outbox):
    user = client.admin_create_user(UserPoolId=pool_id, Username="alice", UserAttributes=EMAIL, MessageAction="SUPPRESS")
    assert user["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert outbox.messages == []


def test_resend_issues_new_password_and_restarts_window(client, pool_id, outbox, clock, store):
    client.admin_create_user(UserPoolId=pool_id, Username="alice", UserAttributes=EMAIL, DesiredDeliveryMediums=["EMAIL"])
    with store.transaction() as tx:
        first = tx.get_user(pool_id, "alice").credential
    clock.advance(timedelta(days=3))
    user = client.admin_create_user(
        UserPoolId=pool_id, Username="alice", MessageAction="RESEND", DesiredDeliveryMediums=["EMAIL"]
    )["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert len(outbox.messages) == 2
    assert outbox.messages[0].body != outbox.messages[1].body
    with store.transaction() as tx:
        second = tx.get_user(pool_id, "alice").credential
    assert second.issued_at == first.issued_at + timedelta(days=3)
    assert second.password_hash != first.password_hash
    assert user["UserLastModifiedDate"] > user["UserCreateDate"]


def test_resend_with_given_password(client, pool_id, outbox):
    client.admin_create_user(UserPoolId=pool_id, Username="alice", UserAttributes=EMAIL, MessageAction="SUPPRESS")
    client.admin_create_user(
        UserPoolId=pool_id, Username="alice", MessageAction="RESEND", TemporaryPassword="N3w!Temporary", DesiredDeliveryMediums=["EMAIL"]
    )
    assert "N3w!Temporary" in outbox.messages[-1].body


def test_resend_for_unknown_user(client, pool_id):
    with pytest.raises(client.exceptions.UserNotFoundException) as err:
        client.admin_create_user(UserPoolId=pool_id, Username="ghost", MessageAction="RESEND")
    assert err.value.message == "User does not exist."


def test_resend_only_in_force_change_password(client, pool_id, store):
    from dataclasses import replace

    client.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    with store.transaction() as tx:  # a confirmed user (sign-in lands with a later issue)
        user = tx.get_user(pool_id, "alice")
        tx.put_user(replace(user, status="CONFIRMED", version=user.version + 1))
    with pytest.raises(client.exceptions.UnsupportedUserStateException) as err:
        client.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="RESEND")
    assert err.value.message == "Resend not possible. alice status is not FORCE_CHANGE_PASSWORD"


# -- DesiredDeliveryMediums and templates -------------------------------------------------------------


def test_default_medium_is_sms(client, pool_id, outbox):
    client.admin_create_user(
        UserPoolId=pool_id, Username="alice", UserAttributes=[{"Name": "phone_number", "Value": "+14325551212"}] + EMAIL
    )
    (message,) = outbox.messages
    assert message.medium == "SMS"
    assert message.destination == "+14325551212"
    assert message.subject is None


def test_both_mediums(client, pool_id, outbox):
    client.admin_create_user(
        UserPoolId=pool_id,
        Username="alice",
        UserAttributes=[{"Name": "phone_number", "Value": "+14325551212"}] + EMAIL,
        DesiredDeliveryMediums=["SMS", "EMAIL"],
    )
    assert sorted(m.medium for m in outbox.messages) == ["EMAIL", "SMS"]
    assert outbox.messages[0].body.split("password is ")[1] == outbox.messages[1].body.split("password is ")[1]


def test_user_without_email_or_phone_is_created_and_sent_nothing(client, pool_id, outbox, store):
    # AWS creates it (moto 5.2.5's aws_verified tests do exactly this): no medium, no message.
    user = client.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword="Passw0rd!xyz")["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert client.admin_get_user(UserPoolId=pool_id, Username="alice")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert outbox.messages == []


def test_default_sms_without_phone_creates_the_user_and_sends_nothing(client, pool_id, outbox):
    # The default medium is SMS; a user with only an email gets no message (not an email instead).
    client.admin_create_user(UserPoolId=pool_id, Username="alice", UserAttributes=EMAIL)
    assert client.admin_get_user(UserPoolId=pool_id, Username="alice")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert outbox.messages == []


def test_resend_without_a_reachable_default_medium_sends_nothing(client, pool_id, outbox):
    client.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword="Passw0rd!xyz")
    client.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="RESEND", TemporaryPassword="N3w!Temporary")
    assert outbox.messages == []


@pytest.mark.parametrize("mediums", [["EMAIL"], ["SMS"], ["SMS", "EMAIL"]])
def test_named_medium_without_its_attribute_is_refused(client, pool_id, outbox, store, mediums):
    # The API reference: email (phone_number) must be given "if you set EMAIL (SMS) in the
    # DesiredDeliveryMediums parameter", so every medium the request names must be reachable.
    attributes = EMAIL if mediums != ["EMAIL"] else [{"Name": "phone_number", "Value": "+14325551212"}]
    before = store_contents(store)
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.admin_create_user(
            UserPoolId=pool_id, Username="alice", UserAttributes=attributes, DesiredDeliveryMediums=mediums
        )
    assert err.value.message == "User has no attribute matching desired delivery mediums"
    assert store_contents(store) == before
    assert outbox.messages == []


def test_custom_invite_template_placeholders(client, outbox):
    pool = client.create_user_pool(
        PoolName="templated",
        EmailConfiguration={"EmailSendingAccount": "DEVELOPER", "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/x@example.com"},
        AdminCreateUserConfig={
            "InviteMessageTemplate": {
                "SMSMessage": "Hi {username}, code {####}",
                "EmailMessage": "Welcome {username}! Your password: {####}",
                "EmailSubject": "Welcome aboard",
            }
        },
    )["UserPool"]
    client.admin_create_user(
        UserPoolId=pool["Id"], Username="carol", TemporaryPassword="Passw0rd!xyz", UserAttributes=EMAIL, DesiredDeliveryMediums=["EMAIL"]
    )
    (message,) = outbox.messages
    assert message.subject == "Welcome aboard"
    assert message.body == "Welcome carol! Your password: Passw0rd!xyz"


def test_template_without_password_placeholder_is_not_delivered(client, outbox):
    pool = client.create_user_pool(
        PoolName="silent",
        AdminCreateUserConfig={"InviteMessageTemplate": {"SMSMessage": "Hello {username}, welcome"}},
    )["UserPool"]
    user = client.admin_create_user(
        UserPoolId=pool["Id"], Username="dan", UserAttributes=[{"Name": "phone_number", "Value": "+14325551212"}]
    )["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert outbox.messages == []


# -- attributes ----------------------------------------------------------------------------------


def test_verified_flag_needs_its_value(client, pool_id):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.admin_create_user(
            UserPoolId=pool_id, Username="alice", UserAttributes=[{"Name": "email_verified", "Value": "true"}], MessageAction="SUPPRESS"
        )
    assert "email" in err.value.message


def test_unknown_custom_attribute(client, pool_id):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.admin_create_user(
            UserPoolId=pool_id, Username="alice", UserAttributes=[{"Name": "custom:nope", "Value": "x"}], MessageAction="SUPPRESS"
        )
    assert err.value.message == (
        "Attributes did not conform to the schema: Type for attribute {custom:nope} could not be determined"
    )


def test_bad_email_format(client, pool_id):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.admin_create_user(
            UserPoolId=pool_id, Username="alice", UserAttributes=[{"Name": "email", "Value": "not-an-email"}], MessageAction="SUPPRESS"
        )
    assert err.value.message == "Invalid email address format."


def test_required_attributes_may_be_left_for_first_sign_in(client):
    pool = client.create_user_pool(
        PoolName="req",
        Schema=[{"Name": "family_name", "AttributeDataType": "String", "Required": True, "Mutable": True}],
    )["UserPool"]
    user = client.admin_create_user(UserPoolId=pool["Id"], Username="erin", MessageAction="SUPPRESS")["User"]
    assert "family_name" not in attrs(user)


def test_custom_attribute_is_stored(client):
    pool = client.create_user_pool(
        PoolName="custom",
        Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]
    user = client.admin_create_user(
        UserPoolId=pool["Id"], Username="erin", UserAttributes=[{"Name": "custom:tier", "Value": "gold"}], MessageAction="SUPPRESS"
    )["User"]
    assert attrs(user)["custom:tier"] == "gold"


# -- aliases and ForceAliasCreation --------------------------------------------------------------------


@pytest.fixture
def alias_pool(client) -> str:
    return client.create_user_pool(PoolName="aliases", AliasAttributes=["email", "phone_number", "preferred_username"])[
        "UserPool"
    ]["Id"]


def test_verified_email_alias_collision(client, alias_pool):
    client.admin_create_user(UserPoolId=alias_pool, Username="alice", UserAttributes=VERIFIED_EMAIL, MessageAction="SUPPRESS")
    with pytest.raises(client.exceptions.AliasExistsException) as err:
        client.admin_create_user(UserPoolId=alias_pool, Username="bob", UserAttributes=VERIFIED_EMAIL, MessageAction="SUPPRESS")
    assert err.value.message == "An account with the email already exists."
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=alias_pool, Username="bob")


def test_unverified_duplicates_are_allowed(client, alias_pool):
    client.admin_create_user(UserPoolId=alias_pool, Username="alice", UserAttributes=VERIFIED_EMAIL, MessageAction="SUPPRESS")
    client.admin_create_user(UserPoolId=alias_pool, Username="bob", UserAttributes=EMAIL, MessageAction="SUPPRESS")
    assert client.admin_get_user(UserPoolId=alias_pool, Username="alice@example.com")["Username"] == "alice"


def test_force_alias_creation_moves_the_alias(client, alias_pool):
    client.admin_create_user(UserPoolId=alias_pool, Username="alice", UserAttributes=VERIFIED_EMAIL, MessageAction="SUPPRESS")
    client.admin_create_user(
        UserPoolId=alias_pool, Username="bob", UserAttributes=VERIFIED_EMAIL, ForceAliasCreation=True, MessageAction="SUPPRESS"
    )
    assert client.admin_get_user(UserPoolId=alias_pool, Username="alice@example.com")["Username"] == "bob"
    alice = attrs(client.admin_get_user(UserPoolId=alias_pool, Username="alice"), "UserAttributes")
    assert alice["email"] == "alice@example.com"
    assert alice["email_verified"] == "false"


def test_force_alias_creation_without_verification_changes_nothing(client, alias_pool):
    client.admin_create_user(UserPoolId=alias_pool, Username="alice", UserAttributes=VERIFIED_EMAIL, MessageAction="SUPPRESS")
    client.admin_create_user(
        UserPoolId=alias_pool, Username="bob", UserAttributes=EMAIL, ForceAliasCreation=True, MessageAction="SUPPRESS"
    )
    assert client.admin_get_user(UserPoolId=alias_pool, Username="alice@example.com")["Username"] == "alice"


def test_preferred_username_alias_is_unique(client, alias_pool):
    pu = [{"Name": "preferred_username", "Value": "ace"}]
    client.admin_create_user(UserPoolId=alias_pool, Username="alice", UserAttributes=pu, MessageAction="SUPPRESS")
    assert client.admin_get_user(UserPoolId=alias_pool, Username="ace")["Username"] == "alice"
    with pytest.raises(client.exceptions.AliasExistsException):
        client.admin_create_user(
            UserPoolId=alias_pool, Username="bob", UserAttributes=pu, ForceAliasCreation=True, MessageAction="SUPPRESS"
        )


def test_email_shaped_username_refused_in_email_alias_pool(client, alias_pool):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.admin_create_user(UserPoolId=alias_pool, Username="alice@example.com", MessageAction="SUPPRESS")
    assert err.value.message == "Username cannot be of email format, since user pool is configured for email alias."


# -- username attributes -------------------------------------------------------------------------------


@pytest.fixture
def email_username_pool(client) -> str:
    return client.create_user_pool(PoolName="emails", UsernameAttributes=["email"])["UserPool"]["Id"]


def test_email_as_username_generates_uuid_username(client, email_username_pool, outbox):
    user = client.admin_create_user(
        UserPoolId=email_username_pool, Username="alice@example.com", DesiredDeliveryMediums=["EMAIL"]
    )["User"]
    values = attrs(user)
    assert user["Username"] == values["sub"]
    assert values["email"] == "alice@example.com"
    assert client.admin_get_user(UserPoolId=email_username_pool, Username="alice@example.com")["Username"] == user["Username"]
    assert "alice@example.com" in outbox.messages[0].body


def test_email_as_username_is_unique_even_unverified(client, email_username_pool):
    client.admin_create_user(UserPoolId=email_username_pool, Username="alice@example.com", MessageAction="SUPPRESS")
    with pytest.raises(client.exceptions.UsernameExistsException) as err:
        client.admin_create_user(UserPoolId=email_username_pool, Username="alice@example.com", MessageAction="SUPPRESS")
    assert err.value.message == "An account with the given email already exists."


def test_non_email_username_refused_in_email_username_pool(client, email_username_pool):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.admin_create_user(UserPoolId=email_username_pool, Username="alice", MessageAction="SUPPRESS")
    assert err.value.message == "Username should be an email."


def test_email_or_phone_username_pool(client):
    pool = client.create_user_pool(PoolName="either", UsernameAttributes=["email", "phone_number"])["UserPool"]["Id"]
    user = client.admin_create_user(UserPoolId=pool, Username="+14325551212", MessageAction="SUPPRESS")["User"]
    assert attrs(user)["phone_number"] == "+14325551212"
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    assert err.value.message == "Username should be either an email or a phone number."


# -- case sensitivity --------------------------------------------------------------------------------------


def test_case_insensitive_pool(client):
    pool = client.create_user_pool(PoolName="ci", UsernameConfiguration={"CaseSensitive": False})["UserPool"]["Id"]
    client.admin_create_user(UserPoolId=pool, Username="Alice", MessageAction="SUPPRESS")
    with pytest.raises(client.exceptions.UsernameExistsException):
        client.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    got = client.admin_get_user(UserPoolId=pool, Username="ALICE")
    assert got["Username"] == "Alice"  # stored as given


def test_case_sensitive_pool_by_default(client, pool_id):
    client.admin_create_user(UserPoolId=pool_id, Username="Alice", MessageAction="SUPPRESS")
    client.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=pool_id, Username="ALICE")


# -- PreSignUp trigger and ValidationData ----------------------------------------------------------------------


class RecordingTriggers:
    def __init__(self, fail: str | None = None) -> None:
        self.events: list[dict] = []
        self.fail = fail

    def invoke(self, arn, event):
        self.events.append(event)
        if self.fail:
            raise RuntimeError(self.fail)
        return event


ARN = "arn:aws:lambda:us-east-1:123456789012:function:pre-sign-up"


def test_validation_data_reaches_pre_sign_up_and_is_never_stored(store):
    triggers = RecordingTriggers()
    client = make_client(store=store, triggers=triggers)
    pool = client.create_user_pool(PoolName="t", LambdaConfig={"PreSignUp": ARN})["UserPool"]["Id"]
    client.admin_create_user(
        UserPoolId=pool,
        Username="alice",
        UserAttributes=EMAIL,
        ValidationData=[{"Name": "captcha", "Value": "s3cr3t-validation-value"}],
        ClientMetadata={"source": "test"},
        MessageAction="SUPPRESS",
    )
    (event,) = triggers.events
    assert event["triggerSource"] == "PreSignUp_AdminCreateUser"
    assert event["userPoolId"] == pool
    assert event["userName"] == "alice"
    assert event["request"]["validationData"] == {"captcha": "s3cr3t-validation-value"}
    assert event["request"]["userAttributes"] == {"email": "alice@example.com"}
    assert event["request"]["clientMetadata"] == {"source": "test"}
    assert "s3cr3t-validation-value" not in repr(store.snapshot().users[pool].by_key)


def test_pre_sign_up_refusal_writes_nothing(store, outbox):
    client = make_client(store=store, messenger=outbox, triggers=RecordingTriggers(fail="not on the list"))
    pool = client.create_user_pool(PoolName="t", LambdaConfig={"PreSignUp": ARN})["UserPool"]["Id"]
    with pytest.raises(client.exceptions.UserLambdaValidationException) as err:
        client.admin_create_user(UserPoolId=pool, Username="alice", UserAttributes=EMAIL, DesiredDeliveryMediums=["EMAIL"])
    assert err.value.message == "PreSignUp failed with error not on the list."
    assert client.list_users(UserPoolId=pool)["Users"] == []
    assert outbox.messages == []


def test_configured_trigger_without_a_function_fails_clearly(client):
    pool = client.create_user_pool(PoolName="t", LambdaConfig={"PreSignUp": ARN})["UserPool"]["Id"]
    with pytest.raises(client.exceptions.UserLambdaValidationException) as err:
        client.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    assert ARN in err.value.message


def test_error_response_is_botocore_like(client):
    with pytest.raises(authflow.errors.CognitoError) as err:
        client.admin_get_user(UserPoolId="us-east-1_nothere00", Username="x")
    assert err.value.response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "User pool us-east-1_nothere00 does not exist.",
    }
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


class BrokenMessenger:
    def send(self, message):
        raise ConnectionError("SMTP down")


def test_delivery_failure_keeps_the_user(store):
    client = make_client(store=store, messenger=BrokenMessenger())
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    with pytest.raises(client.exceptions.CodeDeliveryFailureException) as err:
        client.admin_create_user(UserPoolId=pool, Username="alice", UserAttributes=EMAIL, DesiredDeliveryMediums=["EMAIL"])
    assert err.value.message == "Unable to deliver code to user"
    assert client.admin_get_user(UserPoolId=pool, Username="alice")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
