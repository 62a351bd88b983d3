"""SignUp, ConfirmSignUp and ResendConfirmationCode, through the public Client.

Each refusal is checked for its exception class, its exact message, and for leaving
storage unchanged (a wrong code excepted: it is counted on the pending code). The
code itself is never stored: only its HMAC under the pool secret.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy, SqliteStore
from authflow.crypto.keys import TEST_KEYS
from authflow.crypto.passwords import FAST_INSECURE
from authflow.crypto.sealing import Keyring
from tests.conftest import START, CheckedClient
from tests.signin import NEW, Env, assert_tokens, refused, secret_hash

EMAIL = "alice@example.com"
PHONE = "+12065554567"
WITH_EMAIL = [{"Name": "email", "Value": EMAIL}]
WITH_BOTH = WITH_EMAIL + [{"Name": "phone_number", "Value": PHONE}]
MISMATCH = "Invalid verification code provided, please try again."
EXPIRED = "Invalid code provided, please request a code again."
TOO_MANY = "Attempt limit exceeded, please try after some time."
NOT_FOUND = "Username/client id combination not found."
EMAIL_DELIVERY = {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
SMS_DELIVERY = {"Destination": "+*******4567", "DeliveryMedium": "SMS", "AttributeName": "phone_number"}


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def pool(env) -> str:
    return env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])


@pytest.fixture
def app(env, pool) -> str:
    return env.app_id(pool)


def sign_up(env: Env, app: str, username: str = "alice", password: str = NEW, attributes=WITH_EMAIL, **kw) -> dict:
    return env.client.sign_up(ClientId=app, Username=username, Password=password,
                              UserAttributes=list(attributes), **kw)


def confirm(env: Env, app: str, code: str, username: str = "alice", **kw) -> dict:
    return env.client.confirm_sign_up(ClientId=app, Username=username, ConfirmationCode=code, **kw)


def resend(env: Env, app: str, username: str = "alice", **kw) -> dict:
    return env.client.resend_confirmation_code(ClientId=app, Username=username, **kw)


def last_code(env: Env) -> str:
    return re.search(r"\d{6}", env.outbox.last().body).group()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def without_metadata(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# -- SignUp ---------------------------------------------------------------------------------------


def test_sign_up_confirm_and_sign_in(env, pool, app):
    response = without_metadata(sign_up(env, app))
    sub = response.pop("UserSub")
    assert response == {"UserConfirmed": False, "CodeDeliveryDetails": EMAIL_DELIVERY}
    message = env.outbox.last()
    assert (message.medium, message.destination, message.kind) == ("EMAIL", EMAIL, "sign_up_code")
    assert message.body == f"Your verification code is {last_code(env)}. "
    assert env.status(pool) == "UNCONFIRMED"
    assert env.attributes(pool) == {"sub": sub, "email": EMAIL}
    refused(env.client.exceptions.UserNotConfirmedException, "User is not confirmed.", env.initiate, app, "alice", NEW)
    # An unverified email is no alias: it names nobody yet.
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.admin_get_user, UserPoolId=pool, Username=EMAIL)
    assert without_metadata(confirm(env, app, last_code(env))) == {}
    assert env.status(pool) == "CONFIRMED"
    assert env.attributes(pool) == {"sub": sub, "email": EMAIL, "email_verified": "true"}
    assert_tokens(env.initiate(app, "alice", NEW))
    assert_tokens(env.initiate(app, EMAIL, NEW))  # now an alias


def test_phone_first_when_both_are_auto_verified(env):
    pool = env.pool(AutoVerifiedAttributes=["email", "phone_number"])
    app = env.app_id(pool)
    assert sign_up(env, app, attributes=WITH_BOTH)["CodeDeliveryDetails"] == SMS_DELIVERY
    assert (env.outbox.last().medium, env.outbox.last().destination) == ("SMS", PHONE)
    assert len(env.outbox.messages) == 1
    confirm(env, app, last_code(env))
    attributes = env.attributes(pool)
    assert attributes["phone_number_verified"] == "true" and "email_verified" not in attributes
    # Only the auto-verified attribute the user gave counts.
    sign_up(env, app, "bob", attributes=[{"Name": "email", "Value": "bob@example.com"}])
    assert env.outbox.last().destination == "bob@example.com"


def test_no_auto_verification_sends_nothing(env):
    pool = env.pool()
    app = env.app_id(pool)
    response = without_metadata(sign_up(env, app))
    assert response.keys() == {"UserConfirmed", "UserSub"} and response["UserConfirmed"] is False
    assert env.outbox.messages == [] and env.status(pool) == "UNCONFIRMED"
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "Cannot resend codes. Auto verification not turned on.",
            resend, env, app)
    refused(env.client.exceptions.ExpiredCodeException, EXPIRED, confirm, env, app, "123456")
    assert env.snapshot() == before
    env.client.admin_confirm_sign_up(UserPoolId=pool, Username="alice")
    assert_tokens(env.initiate(app, "alice", NEW))


def test_pool_templates(env):
    pool = env.pool(AutoVerifiedAttributes=["email"], EmailVerificationMessage="Hi {####}!",
                    EmailVerificationSubject="Welcome")
    sign_up(env, env.app_id(pool))
    message = env.outbox.last()
    assert (message.subject, message.body) == ("Welcome", f"Hi {last_code(env)}!")


def test_admin_create_user_only(env):
    pool = env.pool(AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    app = env.app_id(pool)
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "SignUp is not permitted for this user pool",
            sign_up, env, app)
    assert env.snapshot() == before


def test_sign_up_errors(env, pool, app):
    sign_up(env, app)
    before, sent = env.snapshot(), len(env.outbox.messages)
    errors = env.client.exceptions
    refused(errors.UsernameExistsException, "User already exists", sign_up, env, app)
    refused(errors.InvalidPasswordException, "Password did not conform with policy: Password must have numeric characters",
            sign_up, env, app, "bob", "NoNumbers!x")
    refused(errors.InvalidParameterException,
            "Username cannot be of email format, since user pool is configured for email alias.",
            sign_up, env, app, "bob@example.com")
    refused(errors.InvalidParameterException, "Invalid email address format.",
            sign_up, env, app, "bob", attributes=[{"Name": "email", "Value": "not-an-email"}])
    refused(errors.NotAuthorizedException, "A client attempted to write unauthorized attribute",
            sign_up, env, app, "bob", attributes=WITH_EMAIL + [{"Name": "email_verified", "Value": "true"}])
    refused(errors.InvalidParameterException,
            "Attributes did not conform to the schema: Type for attribute {custom:x} could not be determined",
            sign_up, env, app, "bob", attributes=[{"Name": "custom:x", "Value": "1"}])
    # The same unverified email on a second account is allowed (checked below), a taken username is not.
    assert env.snapshot() == before and len(env.outbox.messages) == sent


def test_client_write_permissions_and_required_attributes(env):
    pool = env.pool(Schema=[{"Name": "name", "Required": True, "AttributeDataType": "String", "Mutable": True}])
    app = env.app_id(pool)
    narrow = env.app_id(pool, WriteAttributes=["email", "name"])
    before = env.snapshot()
    refused(env.client.exceptions.InvalidParameterException,
            "Attributes did not conform to the schema: name: The attribute is required\n", sign_up, env, app)
    refused(env.client.exceptions.NotAuthorizedException, "A client attempted to write unauthorized attribute",
            sign_up, env, narrow, attributes=WITH_EMAIL + [{"Name": "nickname", "Value": "al"}])
    assert env.snapshot() == before
    sign_up(env, narrow, attributes=WITH_EMAIL + [{"Name": "name", "Value": "Alice"}])
    assert env.attributes(pool)["name"] == "Alice"


def test_username_attribute_pools(env):
    pool = env.pool(UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    sub = sign_up(env, app, EMAIL, attributes=())["UserSub"]
    user = env.client.admin_get_user(UserPoolId=pool, Username=EMAIL)
    assert user["Username"] == sub and user["UserStatus"] == "UNCONFIRMED"
    before = env.snapshot()
    refused(env.client.exceptions.UsernameExistsException, "An account with the given email already exists.",
            sign_up, env, app, EMAIL, attributes=())
    refused(env.client.exceptions.InvalidParameterException, "Username should be an email.",
            sign_up, env, app, "alice", attributes=())
    assert env.snapshot() == before
    confirm(env, app, last_code(env), EMAIL)
    assert_tokens(env.initiate(app, EMAIL, NEW))


def test_validation_data_is_never_stored(env, pool, app):
    sign_up(env, app, ValidationData=[{"Name": "captcha", "Value": "v-secret-validation-token"}])
    assert "v-secret-validation-token" not in repr(env.snapshot())


def test_pre_sign_up_sees_the_request_and_may_refuse():
    from tests.conftest import make_client
    from tests.helpers import store_contents
    from tests.unit.test_admin_create_user import ARN, RecordingTriggers

    triggers = RecordingTriggers()
    client = make_client(triggers=triggers)
    pool = client.create_user_pool(PoolName="t", LambdaConfig={"PreSignUp": ARN})["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="a")["UserPoolClient"]["ClientId"]
    client.sign_up(ClientId=app, Username="alice", Password=NEW, UserAttributes=WITH_EMAIL,
                   ValidationData=[{"Name": "captcha", "Value": "v-secret"}], ClientMetadata={"source": "test"})
    (event,) = triggers.events
    assert event["triggerSource"] == "PreSignUp_SignUp"
    assert (event["userPoolId"], event["userName"]) == (pool, "alice")
    assert event["callerContext"]["clientId"] == app
    assert event["request"] == {"userAttributes": {"email": EMAIL}, "validationData": {"captcha": "v-secret"},
                                "clientMetadata": {"source": "test"}}
    triggers.fail = "not on the list"
    before = store_contents(client.store)
    with pytest.raises(client.exceptions.UserLambdaValidationException) as err:
        client.sign_up(ClientId=app, Username="bob", Password=NEW, UserAttributes=WITH_EMAIL)
    assert err.value.message == "PreSignUp failed with error not on the list."
    assert store_contents(client.store) == before


def test_secret_hash(env, pool):
    client = env.app(pool, GenerateSecret=True)
    app, secret = client["ClientId"], client["ClientSecret"]
    errors = env.client.exceptions
    before = env.snapshot()
    refused(errors.NotAuthorizedException, f"Client {app} is configured for secret but secret was not received",
            sign_up, env, app)
    refused(errors.NotAuthorizedException, f"Unable to verify secret hash for client {app}",
            sign_up, env, app, SecretHash="bm90LXJpZ2h0")
    assert env.snapshot() == before
    good = secret_hash(secret, "alice", app)
    sign_up(env, app, SecretHash=good)
    refused(errors.NotAuthorizedException, f"Client {app} is configured for secret but secret was not received",
            resend, env, app)
    resend(env, app, SecretHash=good)
    code = last_code(env)
    refused(errors.NotAuthorizedException, f"Unable to verify secret hash for client {app}",
            confirm, env, app, code, SecretHash="bm90LXJpZ2h0")
    confirm(env, app, code, SecretHash=good)
    assert env.status(pool) == "CONFIRMED"


# -- ConfirmSignUp -------------------------------------------------------------------------------


def test_confirm_errors(env, pool, app):
    sign_up(env, app)
    code = last_code(env)
    errors = env.client.exceptions
    before = env.snapshot()
    refused(errors.UserNotFoundException, NOT_FOUND, confirm, env, app, code, "nobody")
    assert env.snapshot() == before
    refused(errors.CodeMismatchException, MISMATCH, confirm, env, app, wrong(code))
    with env.client.store.transaction() as tx:
        assert tx.get_user(pool, "alice").codes["confirm_sign_up"].attempts == 1  # the only write
    confirm(env, app, code)
    before = env.snapshot()
    refused(errors.NotAuthorizedException, "User cannot be confirmed. Current status is CONFIRMED",
            confirm, env, app, code)
    assert env.snapshot() == before


def test_code_lifetime_is_24_hours(env, pool, app):
    sign_up(env, app)
    code = last_code(env)
    env.clock.advance(timedelta(hours=24))
    before = env.snapshot()
    refused(env.client.exceptions.ExpiredCodeException, EXPIRED, confirm, env, app, code)
    assert env.snapshot() == before
    resend(env, app)
    env.clock.advance(timedelta(hours=23, minutes=59))
    confirm(env, app, last_code(env))
    assert env.status(pool) == "CONFIRMED"


def test_attempts_are_bounded(env, pool, app):
    sign_up(env, app)
    code = last_code(env)
    for _ in range(5):
        refused(env.client.exceptions.CodeMismatchException, MISMATCH, confirm, env, app, wrong(code))
    refused(env.client.exceptions.LimitExceededException, TOO_MANY, confirm, env, app, code)
    resend(env, app)
    confirm(env, app, last_code(env))
    assert env.status(pool) == "CONFIRMED"


def test_unknown_user_with_prevent_user_existence_errors(env, pool):
    app = env.app_id(pool, PreventUserExistenceErrors="ENABLED")
    before = env.snapshot()
    refused(env.client.exceptions.CodeMismatchException, MISMATCH, confirm, env, app, "123456", "nobody")
    assert without_metadata(resend(env, app, "nobody@example.com")) == {"CodeDeliveryDetails": {
        "Destination": "n***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}}
    assert env.snapshot() == before and env.outbox.messages == []


def test_alias_collision_on_confirmation(env, pool, app):
    # bob holds the verified email alias; alice signs up with the same address.
    env.user(pool, "bob", attributes=WITH_EMAIL + [{"Name": "email_verified", "Value": "true"}])
    sign_up(env, app)  # allowed: alice's email is unverified, so no alias yet
    code = last_code(env)
    before = env.snapshot()
    refused(env.client.exceptions.AliasExistsException, "An account with the email already exists.",
            confirm, env, app, code)
    assert env.snapshot() == before and env.status(pool) == "UNCONFIRMED"
    confirm(env, app, code, ForceAliasCreation=True)
    assert env.status(pool) == "CONFIRMED"
    assert env.attributes(pool)["email_verified"] == "true"
    assert env.attributes(pool, "bob")["email_verified"] == "false"
    assert env.client.admin_get_user(UserPoolId=pool, Username=EMAIL)["Username"] == "alice"


# -- ResendConfirmationCode ------------------------------------------------------------------------


def test_resend_replaces_the_code(env, pool, app):
    sign_up(env, app)
    first = last_code(env)
    assert without_metadata(resend(env, app)) == {"CodeDeliveryDetails": EMAIL_DELIVERY}
    assert env.outbox.last().kind == "resend_code"
    second = last_code(env)
    if first != second:
        refused(env.client.exceptions.CodeMismatchException, MISMATCH, confirm, env, app, first)
    confirm(env, app, second)
    assert env.status(pool) == "CONFIRMED"


@pytest.mark.parametrize("prevent", ["LEGACY", "ENABLED"])
def test_resend_errors(env, pool, prevent):
    app = env.app_id(pool, PreventUserExistenceErrors=prevent)
    sign_up(env, app)
    confirm(env, app, last_code(env))
    sign_up(env, app, "carol", attributes=[{"Name": "email", "Value": "carol@example.com"}])
    env.client.admin_disable_user(UserPoolId=pool, Username="carol")
    before, sent = env.snapshot(), len(env.outbox.messages)
    errors = env.client.exceptions
    refused(errors.InvalidParameterException, "User is already confirmed.", resend, env, app)
    if prevent == "LEGACY":
        refused(errors.UserNotFoundException, NOT_FOUND, resend, env, app, "nobody")
        refused(errors.NotAuthorizedException, "User is disabled.", resend, env, app, "carol")
    else:
        assert resend(env, app, "nobody")["CodeDeliveryDetails"]["DeliveryMedium"] in ("EMAIL", "SMS")
        assert resend(env, app, "carol")["CodeDeliveryDetails"]["DeliveryMedium"] in ("EMAIL", "SMS")
    assert env.snapshot() == before and len(env.outbox.messages) == sent


def test_the_code_is_never_stored(env, pool, app):
    sign_up(env, app)
    code = last_code(env)
    assert code not in repr(env.snapshot())
    with env.client.store.transaction() as tx:
        pending = tx.get_user(pool, "alice").codes["confirm_sign_up"]
    assert code not in pending.code_hash and pending.attribute == "email"
    assert pending.expires - pending.issued == timedelta(hours=24)
    assert NEW not in repr(env.snapshot())  # nor the password


# -- across the SQL codec ------------------------------------------------------------------------------


def test_the_flow_across_a_sqlite_store(tmp_path):
    outbox = MemoryOutbox()
    clock = ManualClock(START)
    config = authflow.EngineConfig(kek=Keyring(b"k" * 32), kdf=FAST_INSECURE, signing_keys=TEST_KEYS)
    client = CheckedClient(authflow.Client(
        config=config, store=SqliteStore(tmp_path / "x.db"), clock=clock, messenger=outbox,
        entropy=SeededEntropy(3),
    ))
    pool = client.create_user_pool(PoolName="p", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="a",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    client.sign_up(ClientId=app, Username="alice", Password=NEW, UserAttributes=WITH_EMAIL)
    code = re.search(r"\d{6}", outbox.last().body).group()
    with pytest.raises(client.exceptions.CodeMismatchException):
        client.confirm_sign_up(ClientId=app, Username="alice", ConfirmationCode=wrong(code))
    with client.store.transaction() as tx:
        pending = tx.get_user(pool, "alice").codes["confirm_sign_up"]
    assert pending.attempts == 1 and pending.attribute == "email"
    client.confirm_sign_up(ClientId=app, Username="alice", ConfirmationCode=code)
    with client.store.transaction() as tx:
        user = tx.get_user(pool, "alice")
    assert user.codes == {} and user.status == "CONFIRMED" and user.attributes["email_verified"] == "true"
    result = client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "alice", "PASSWORD": NEW})
    assert_tokens(result)
