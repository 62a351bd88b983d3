"""Lambda triggers through CallableTriggers: each source's event shape, the PreSignUp
answers, and a failing function leaving the store unchanged (issue 8)."""

from __future__ import annotations

import re

import pytest

from authflow.adapters import CallableTriggers, ManualClock, MemoryOutbox
from authflow.core import trigger_events as te
from authflow.errors import (
    CognitoError,
    InvalidLambdaResponseException,
    NotAuthorizedException,
    UserLambdaValidationException,
)
from tests.conftest import START, make_client
from tests.signin import NEW, TEMP, Env, assert_tokens, refused

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
EMAIL = "alice@example.com"


class Recorder:
    """A Lambda handler that records its events and fills in `answer`, or raises."""

    def __init__(self, answer: dict | None = None, fail: str | None = None) -> None:
        self.events: list[dict] = []
        self.answer = answer or {}
        self.fail = fail

    def __call__(self, event: dict) -> dict:
        self.events.append(event)
        if self.fail:
            raise RuntimeError(self.fail)
        event["response"].update(self.answer)
        return event


class TriggerEnv(Env):
    def __init__(self, **functions: Recorder) -> None:
        self.clock = ManualClock(START)
        self.outbox = MemoryOutbox()
        self.functions = functions
        triggers = CallableTriggers({ARN.format(name): f for name, f in functions.items()})
        self.client = make_client(1, clock=self.clock, messenger=self.outbox, triggers=triggers)

    def pool(self, **kwargs) -> str:
        kwargs.setdefault("LambdaConfig", {name: ARN.format(name) for name in self.functions})
        return super().pool(**kwargs)


def assert_common(event: dict, source: str, pool: str, username: str, client_id: str) -> None:
    assert event["version"] == "1"
    assert event["triggerSource"] == source
    assert event["region"] == "us-east-1"
    assert event["userPoolId"] == pool
    assert event["userName"] == username
    assert event["callerContext"] == {"awsSdkVersion": "authflow", "clientId": client_id}


def code_of(env: Env) -> str:
    return re.search(r"\d{6}", env.outbox.last().body).group()


# -- the adapter and the pure module ------------------------------------------------------------


def test_callable_triggers_passes_a_copy_and_takes_in_place_answers():
    seen = []

    def in_place(event):
        seen.append(event)
        event["response"]["autoConfirmUser"] = True  # returns None, as some handlers do

    triggers = CallableTriggers({"a": in_place})
    original = te.event("PreSignUp_SignUp", region="r", pool_id="p", username="u", client_id="c", request={})
    answer = triggers.invoke("a", original)
    assert answer["response"]["autoConfirmUser"] is True
    assert original["response"]["autoConfirmUser"] is False
    with pytest.raises(LookupError):
        triggers.invoke("unknown", original)


def test_malformed_answers_are_refused():
    with pytest.raises(InvalidLambdaResponseException):
        te.read_pre_sign_up({"autoConfirmUser": "yes"})
    assert te.read_pre_sign_up({"autoConfirmUser": None}) == te.PreSignUpAnswer()
    with pytest.raises(InvalidLambdaResponseException):
        te.read_custom_message({"smsMessage": "no code here"}, placeholders=("{####}",))
    answer = te.read_custom_message({"smsMessage": "code {####}"}, placeholders=("{####}",))
    assert answer.sms_message == "code {####}" and answer.email_message is None

    class Bad:
        def invoke(self, arn, event):
            return "not an event"

    event = te.event("PostConfirmation_ConfirmSignUp", region="r", pool_id="p", username="u",
                     client_id=None, request={})
    assert event["callerContext"]["clientId"] == "CLIENT_ID_NOT_APPLICABLE"
    with pytest.raises(InvalidLambdaResponseException, match="Unrecognizable lambda output"):
        te.invoke(Bad(), "a", event)


# -- PreSignUp_SignUp ---------------------------------------------------------------------------


def sign_up(env: Env, app: str, **kw) -> dict:
    return env.client.sign_up(ClientId=app, Username="alice", Password=NEW,
                              UserAttributes=[{"Name": "email", "Value": EMAIL}], **kw)


def test_pre_sign_up_event_shape_and_no_answer_keeps_the_usual_path():
    env = TriggerEnv(PreSignUp=Recorder())
    pool = env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    response = sign_up(env, app, ValidationData=[{"Name": "k", "Value": "v"}], ClientMetadata={"m": "1"})
    assert response["UserConfirmed"] is False and "CodeDeliveryDetails" in response
    (event,) = env.functions["PreSignUp"].events
    assert_common(event, "PreSignUp_SignUp", pool, "alice", app)
    assert event["request"] == {
        "userAttributes": {"email": EMAIL}, "validationData": {"k": "v"}, "clientMetadata": {"m": "1"},
    }
    assert event["response"] == {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}


def test_pre_sign_up_auto_confirm_and_verify():
    env = TriggerEnv(PreSignUp=Recorder({"autoConfirmUser": True, "autoVerifyEmail": True}))
    pool = env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    response = sign_up(env, app)
    assert response["UserConfirmed"] is True and "CodeDeliveryDetails" not in response
    assert env.outbox.messages == []
    user = env.client.admin_get_user(UserPoolId=pool, Username=EMAIL)  # the alias is claimed
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]
    assert_tokens(env.initiate(app, EMAIL, NEW))


def test_pre_sign_up_auto_verify_moves_the_alias_from_its_earlier_holder():
    env = TriggerEnv(PreSignUp=Recorder({"autoConfirmUser": True, "autoVerifyEmail": True}))
    pool = env.pool(AliasAttributes=["email"])
    app = env.app_id(pool)
    env.functions["PreSignUp"].answer = {}
    env.client.admin_create_user(
        UserPoolId=pool, Username="bob", MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}],
    )
    env.functions["PreSignUp"].answer = {"autoConfirmUser": True, "autoVerifyEmail": True}
    sign_up(env, app)
    bob = env.client.admin_get_user(UserPoolId=pool, Username="bob")
    assert {"Name": "email_verified", "Value": "false"} in bob["UserAttributes"]
    assert env.client.admin_get_user(UserPoolId=pool, Username=EMAIL)["Username"] == "alice"


def test_pre_sign_up_auto_verify_without_the_attribute_is_refused_and_nothing_is_written():
    env = TriggerEnv(PreSignUp=Recorder({"autoVerifyPhone": True}))
    pool = env.pool()
    app = env.app_id(pool)
    before = env.snapshot()
    refused(InvalidLambdaResponseException, "Unrecognizable lambda output", sign_up, env, app)
    assert env.snapshot() == before


def test_pre_sign_up_failure_leaves_the_store_unchanged():
    env = TriggerEnv(PreSignUp=Recorder(fail="not invited"))
    pool = env.pool()
    app = env.app_id(pool)
    before = env.snapshot()
    refused(UserLambdaValidationException, "PreSignUp failed with error not invited.", sign_up, env, app)
    assert env.snapshot() == before and env.outbox.messages == []


# -- PostConfirmation ---------------------------------------------------------------------------


def test_post_confirmation_after_confirm_sign_up():
    env = TriggerEnv(PostConfirmation=Recorder())
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    sign_up(env, app)
    env.client.confirm_sign_up(ClientId=app, Username="alice", ConfirmationCode=code_of(env),
                               ClientMetadata={"m": "1"})
    (event,) = env.functions["PostConfirmation"].events
    assert_common(event, "PostConfirmation_ConfirmSignUp", pool, "alice", app)
    attributes = event["request"]["userAttributes"]
    assert attributes["email_verified"] == "true" and attributes["cognito:user_status"] == "CONFIRMED"
    assert "sub" in attributes
    assert event["request"]["clientMetadata"] == {"m": "1"}
    assert event["response"] == {}


def test_post_confirmation_failure_is_reported_but_the_confirmation_stands():
    env = TriggerEnv(PostConfirmation=Recorder(fail="boom"))
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    sign_up(env, app)
    refused(UserLambdaValidationException, "PostConfirmation failed with error boom.",
            env.client.confirm_sign_up, ClientId=app, Username="alice", ConfirmationCode=code_of(env))
    assert env.status(pool) == "CONFIRMED"


def test_post_confirmation_after_admin_confirm_sign_up():
    env = TriggerEnv(PostConfirmation=Recorder())
    pool = env.pool()
    app = env.app_id(pool)
    sign_up(env, app)
    env.client.admin_confirm_sign_up(UserPoolId=pool, Username="alice")
    (event,) = env.functions["PostConfirmation"].events
    assert_common(event, "PostConfirmation_ConfirmSignUp", pool, "alice", "CLIENT_ID_NOT_APPLICABLE")


def test_post_confirmation_after_confirm_forgot_password():
    env = TriggerEnv(PostConfirmation=Recorder())
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}],
             password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    env.client.forgot_password(ClientId=app, Username="alice")
    env.client.confirm_forgot_password(ClientId=app, Username="alice", ConfirmationCode=code_of(env),
                                       Password="Another1!x")
    (event,) = env.functions["PostConfirmation"].events
    assert_common(event, "PostConfirmation_ConfirmForgotPassword", pool, "alice", app)
    assert event["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"


# -- Pre / PostAuthentication -------------------------------------------------------------------


def confirmed_user(env: TriggerEnv) -> tuple[str, str]:
    pool = env.pool()
    app = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}])
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    return pool, app


def test_pre_and_post_authentication_events():
    env = TriggerEnv(PreAuthentication=Recorder(), PostAuthentication=Recorder())
    pool, app = confirmed_user(env)
    result = env.client.initiate_auth(
        ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": NEW},
        ClientMetadata={"m": "1"},
    )
    assert_tokens(result)
    (pre,) = env.functions["PreAuthentication"].events
    assert_common(pre, "PreAuthentication_Authentication", pool, "alice", app)
    assert pre["request"]["validationData"] == {"m": "1"} and pre["request"]["userNotFound"] is False
    assert pre["request"]["userAttributes"]["email"] == EMAIL
    (post,) = env.functions["PostAuthentication"].events
    assert_common(post, "PostAuthentication_Authentication", pool, "alice", app)
    assert post["request"]["newDeviceUsed"] is False
    assert post["request"]["clientMetadata"] == {}  # ClientMetadata of InitiateAuth does not reach it


def test_post_authentication_says_when_the_sign_in_issued_a_new_device():
    env = TriggerEnv(PostAuthentication=Recorder())
    pool = env.pool(DeviceConfiguration={"ChallengeRequiredOnNewDevice": False})
    app = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}])
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    params = {"USERNAME": "alice", "PASSWORD": NEW}
    first = env.client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)
    key = first["AuthenticationResult"]["NewDeviceMetadata"]["DeviceKey"]
    again = env.client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={**params, "DEVICE_KEY": key})
    assert "NewDeviceMetadata" not in again["AuthenticationResult"]
    assert [e["request"]["newDeviceUsed"] for e in env.functions["PostAuthentication"].events] == [True, False]


def test_pre_authentication_refusal_writes_nothing_even_for_a_wrong_password():
    env = TriggerEnv(PreAuthentication=Recorder(fail="not today"), PostAuthentication=Recorder())
    pool, app = confirmed_user(env)
    before = env.snapshot()
    for password in (NEW, "Wrong1!xx"):
        refused(UserLambdaValidationException, "PreAuthentication failed with error not today.",
                env.initiate, app, "alice", password)
    assert env.snapshot() == before
    assert env.functions["PostAuthentication"].events == []


def test_post_authentication_not_called_for_a_challenge_and_unknown_users_skip_pre():
    env = TriggerEnv(PreAuthentication=Recorder(), PostAuthentication=Recorder())
    pool = env.pool()
    app = env.app_id(pool)
    env.user(pool)  # FORCE_CHANGE_PASSWORD
    assert env.initiate(app, "alice", TEMP)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert env.functions["PostAuthentication"].events == []
    refused(NotAuthorizedException, "Incorrect username or password.", env.initiate, app, "alice", "Wrong1!xx")
    assert len(env.functions["PreAuthentication"].events) == 2
    with pytest.raises(CognitoError):
        env.initiate(app, "nobody", TEMP)
    assert len(env.functions["PreAuthentication"].events) == 2


def test_post_authentication_after_new_password_challenge():
    env = TriggerEnv(PostAuthentication=Recorder())
    pool = env.pool()
    app = env.app_id(pool)
    env.user(pool)
    env.confirm(pool, app)
    (event,) = env.functions["PostAuthentication"].events
    assert_common(event, "PostAuthentication_Authentication", pool, "alice", app)
    assert event["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"


def test_post_authentication_failure_is_the_callers_answer():
    env = TriggerEnv(PostAuthentication=Recorder(fail="audit down"))
    _, app = confirmed_user(env)
    refused(UserLambdaValidationException, "PostAuthentication failed with error audit down.",
            env.initiate, app, "alice", NEW)
