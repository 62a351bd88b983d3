"""CustomMessage: every message the engine sends goes through the pool's function
(issue 8). One table drives each trigger source through the public Client; the
function's text is rendered with the real code, which then works."""

from __future__ import annotations

import re

import pytest

from authflow.errors import InvalidLambdaResponseException, UserLambdaValidationException
from tests.signin import NEW, TEMP, refused
from tests.unit.test_triggers import EMAIL, Recorder, TriggerEnv, assert_common

PHONE = "+12065554567"
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
NA = "CLIENT_ID_NOT_APPLICABLE"
WORDED = {
    "smsMessage": "SMS says {####}!",
    "emailMessage": "<p>Mail says {####}.</p>",
    "emailSubject": "Custom subject",
}


def env_with(answer: dict | None = None, fail: str | None = None, **pool_kwargs) -> tuple[TriggerEnv, str, str]:
    env = TriggerEnv(CustomMessage=Recorder(answer=answer, fail=fail))
    pool_kwargs.setdefault("AutoVerifiedAttributes", ["email"])
    pool = env.pool(**pool_kwargs)
    return env, pool, env.app_id(pool)


def confirmed(env: TriggerEnv, pool: str, *, email: bool = True, phone: bool = False) -> None:
    attributes = []
    if email:
        attributes += [{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}]
    if phone:
        attributes += [{"Name": "phone_number", "Value": PHONE}, {"Name": "phone_number_verified", "Value": "true"}]
    env.user(pool, attributes=attributes, password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)


def token(env: TriggerEnv, app: str) -> str:
    return env.initiate(app, "alice", NEW)["AuthenticationResult"]["AccessToken"]


def code_in(body: str) -> str:
    return re.search(r"\d{6}", body).group()


# Each row: set the user up, then the call that sends one message, its trigger source,
# the client id the event names, and how the code it carries is used.


def sign_up(env, pool, app):
    env.client.sign_up(ClientId=app, Username="alice", Password=NEW,
                       UserAttributes=[{"Name": "email", "Value": EMAIL}], ClientMetadata={"k": "v"})


def resend(env, pool, app):
    env.client.sign_up(ClientId=app, Username="alice", Password=NEW,
                       UserAttributes=[{"Name": "email", "Value": EMAIL}])
    env.functions["CustomMessage"].events.clear()
    env.client.resend_confirmation_code(ClientId=app, Username="alice", ClientMetadata={"k": "v"})


def use_confirmation(env, pool, app, code):
    env.client.confirm_sign_up(ClientId=app, Username="alice", ConfirmationCode=code)
    assert env.status(pool) == "CONFIRMED"


def forgot(env, pool, app):
    confirmed(env, pool)
    env.client.forgot_password(ClientId=app, Username="alice", ClientMetadata={"k": "v"})


def admin_reset(env, pool, app):
    confirmed(env, pool)
    env.client.admin_reset_user_password(UserPoolId=pool, Username="alice", ClientMetadata={"k": "v"})


def use_reset(env, pool, app, code):
    env.client.confirm_forgot_password(ClientId=app, Username="alice", ConfirmationCode=code, Password="Other1!xx")
    assert env.initiate(app, "alice", "Other1!xx")["AuthenticationResult"]


def update_own(env, pool, app):
    confirmed(env, pool)
    env.client.update_user_attributes(AccessToken=token(env, app), ClientMetadata={"k": "v"},
                                      UserAttributes=[{"Name": "email", "Value": "new@example.com"}])


def admin_update(env, pool, app):
    confirmed(env, pool)
    env.client.admin_update_user_attributes(UserPoolId=pool, Username="alice", ClientMetadata={"k": "v"},
                                            UserAttributes=[{"Name": "email", "Value": "new@example.com"}])


def ask_code(env, pool, app):
    confirmed(env, pool)
    env.client.admin_update_user_attributes(
        UserPoolId=pool, Username="alice",
        UserAttributes=[{"Name": "email", "Value": "new@example.com"}, {"Name": "email_verified", "Value": "false"}],
    )
    access = token(env, app)
    env.functions["CustomMessage"].events.clear()
    env.client.get_user_attribute_verification_code(AccessToken=access, AttributeName="email",
                                                    ClientMetadata={"k": "v"})


def use_attribute_code(env, pool, app, code):
    env.client.verify_user_attribute(AccessToken=token(env, app), AttributeName="email", Code=code)
    assert env.attributes(pool)["email_verified"] == "true"


CASES = {
    "SignUp": (sign_up, "CustomMessage_SignUp", True, use_confirmation),
    "ResendCode": (resend, "CustomMessage_ResendCode", True, use_confirmation),
    "ForgotPassword": (forgot, "CustomMessage_ForgotPassword", True, use_reset),
    "AdminResetUserPassword": (admin_reset, "CustomMessage_ForgotPassword", False, use_reset),
    "UpdateUserAttributes": (update_own, "CustomMessage_UpdateUserAttribute", True, use_attribute_code),
    "AdminUpdateUserAttributes": (admin_update, "CustomMessage_UpdateUserAttribute", False, use_attribute_code),
    "GetUserAttributeVerificationCode": (ask_code, "CustomMessage_VerifyUserAttribute", True, use_attribute_code),
}


@pytest.mark.parametrize("case", CASES)
def test_each_code_message_is_worded_by_the_function_and_its_code_works(case):
    act, source, from_client, use = CASES[case]
    env, pool, app = env_with(WORDED)
    act(env, pool, app)
    (event,) = env.functions["CustomMessage"].events
    assert_common(event, source, pool, "alice", app if from_client else NA)
    request = event["request"]
    assert request["codeParameter"] == "{####}" and request["usernameParameter"] is None
    assert request["linkParameter"] == "{##Click Here##}"
    assert request["clientMetadata"] == {"k": "v"}
    assert request["userAttributes"]["sub"] and "cognito:user_status" in request["userAttributes"]
    message = env.outbox.last()
    assert message.medium == "EMAIL" and message.subject == "Custom subject"
    assert re.fullmatch(r"<p>Mail says \d{6}\.</p>", message.body)
    use(env, pool, app, code_in(message.body))


def test_a_null_answer_keeps_the_pools_template():
    env, pool, app = env_with({}, EmailVerificationMessage="Template {####}", EmailVerificationSubject="T")
    sign_up(env, pool, app)
    assert len(env.functions["CustomMessage"].events) == 1
    message = env.outbox.last()
    assert re.fullmatch(r"Template \d{6}", message.body) and message.subject == "T"


def test_invitations_carry_the_temporary_password_and_the_username_once_per_password():
    env, pool, app = env_with({
        "smsMessage": "{username}: {####}",
        "emailMessage": "Welcome {username}, your password is {####}",
        "emailSubject": "Welcome",
    })
    env.client.admin_create_user(
        UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, DesiredDeliveryMediums=["SMS", "EMAIL"],
        UserAttributes=[{"Name": "email", "Value": EMAIL}, {"Name": "phone_number", "Value": PHONE}],
        ClientMetadata={"k": "v"},
    )
    (event,) = env.functions["CustomMessage"].events  # one password, one event for both mediums
    assert_common(event, "CustomMessage_AdminCreateUser", pool, "alice", NA)
    assert event["request"]["usernameParameter"] == "{username}"
    assert event["request"]["userAttributes"]["cognito:user_status"] == "FORCE_CHANGE_PASSWORD"
    sms, email = env.outbox.messages
    assert (sms.medium, sms.body) == ("SMS", f"alice: {TEMP}")
    assert (email.subject, email.body) == ("Welcome", f"Welcome alice, your password is {TEMP}")
    assert env.initiate(app, "alice", TEMP)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_suppressed_invitations_call_no_function():
    env, pool, _ = env_with(WORDED)
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}])  # MessageAction SUPPRESS
    assert env.functions["CustomMessage"].events == []


def test_an_invitation_without_the_username_placeholder_is_refused():
    env, pool, _ = env_with({"emailMessage": "Your password is {####}"})
    before = env.snapshot()
    refused(InvalidLambdaResponseException, "Unrecognizable lambda output", env.client.admin_create_user,
            UserPoolId=pool, Username="alice", DesiredDeliveryMediums=["EMAIL"],
            UserAttributes=[{"Name": "email", "Value": EMAIL}])
    assert env.snapshot() == before and env.outbox.messages == []


def test_sms_mfa_codes_are_worded_by_the_function():
    env, pool, app = env_with(WORDED, MfaConfiguration="ON", SmsConfiguration=SMS_CONFIG)
    confirmed(env, pool, email=False, phone=True)
    env.functions["CustomMessage"].events.clear()
    challenge = env.client.initiate_auth(
        ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": NEW},
        ClientMetadata={"k": "v"},
    )
    assert challenge["ChallengeName"] == "SMS_MFA"
    (event,) = env.functions["CustomMessage"].events
    assert_common(event, "CustomMessage_Authentication", pool, "alice", app)
    assert event["request"]["clientMetadata"] == {}  # InitiateAuth's metadata does not reach it
    message = env.outbox.last()
    assert message.medium == "SMS" and re.fullmatch(r"SMS says \d{6}!", message.body)
    result = env.client.respond_to_auth_challenge(
        ClientId=app, ChallengeName="SMS_MFA", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": code_in(message.body)},
    )
    assert result["AuthenticationResult"]["AccessToken"]


def signed_up(env, pool, app):
    env.client.sign_up(ClientId=app, Username="alice", Password=NEW,
                       UserAttributes=[{"Name": "email", "Value": EMAIL}])


def signed_in(env, pool, app):
    confirmed(env, pool)
    return token(env, app)


# Each row: the set-up (with the function answering), then the one call that sends a message.
FAILING = {
    "SignUp": (lambda env, pool, app: None, lambda env, pool, app, _: signed_up(env, pool, app)),
    "ResendCode": (signed_up, lambda env, pool, app, _: env.client.resend_confirmation_code(
        ClientId=app, Username="alice")),
    "ForgotPassword": (confirmed_with_app := lambda env, pool, app: confirmed(env, pool),
                       lambda env, pool, app, _: env.client.forgot_password(ClientId=app, Username="alice")),
    "AdminResetUserPassword": (confirmed_with_app, lambda env, pool, app, _: env.client.admin_reset_user_password(
        UserPoolId=pool, Username="alice")),
    "UpdateUserAttributes": (signed_in, lambda env, pool, app, access: env.client.update_user_attributes(
        AccessToken=access, UserAttributes=[{"Name": "email", "Value": "new@example.com"}])),
    "AdminUpdateUserAttributes": (confirmed_with_app, lambda env, pool, app, _: env.client.admin_update_user_attributes(
        UserPoolId=pool, Username="alice", UserAttributes=[{"Name": "email", "Value": "new@example.com"}])),
    "GetUserAttributeVerificationCode": (signed_in, lambda env, pool, app, access: (
        env.client.get_user_attribute_verification_code(AccessToken=access, AttributeName="email"))),
}


@pytest.mark.parametrize("case", FAILING)
def test_a_failing_function_fails_the_operation_and_writes_nothing(case):
    setup, call = FAILING[case]
    env, pool, app = env_with(WORDED)
    context = setup(env, pool, app)
    env.functions["CustomMessage"].fail = "no sender"
    before, sent = env.snapshot(), len(env.outbox.messages)
    refused(UserLambdaValidationException, "CustomMessage failed with error no sender.", call, env, pool, app, context)
    assert env.snapshot() == before and len(env.outbox.messages) == sent
