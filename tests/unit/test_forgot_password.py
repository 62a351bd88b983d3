"""ForgotPassword, ConfirmForgotPassword and AdminResetUserPassword's reset code,
through the public Client.

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
from tests.signin import NEW, Env, assert_tokens, refused

EMAIL = "alice@example.com"
PHONE = "+12065554567"
VERIFIED_EMAIL = [{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}]
VERIFIED_PHONE = [{"Name": "phone_number", "Value": PHONE}, {"Name": "phone_number_verified", "Value": "true"}]
OTHER = "Other1!pass"
MISMATCH = "Invalid verification code provided, please try again."
EXPIRED = "Invalid code provided, please request a code again."
TOO_MANY = "Attempt limit exceeded, please try after some time."
CANNOT_RESET = "User password cannot be reset in the current state."
NO_CONTACT = "Cannot reset password for the user as there is no registered/verified email or phone_number"
NOT_FOUND = "Username/client id combination not found."
EMAIL_DELIVERY = {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def pool(env) -> str:
    return env.pool(AliasAttributes=["email"])


@pytest.fixture
def app(env, pool) -> str:
    return env.app_id(pool)


def confirmed(env: Env, pool: str, app: str, attributes=VERIFIED_EMAIL) -> None:
    """A CONFIRMED user `alice` with password NEW."""
    env.user(pool, attributes=attributes)
    env.confirm(pool, app)


def last_code(env: Env) -> str:
    return re.search(r"\d{6}", env.outbox.last().body).group()


def forgot(env: Env, app: str, username: str = "alice", **kwargs) -> dict:
    return env.client.forgot_password(ClientId=app, Username=username, **kwargs)


def confirm(env: Env, app: str, code: str, password: str = OTHER, username: str = "alice", **kwargs) -> dict:
    return env.client.confirm_forgot_password(
        ClientId=app, Username=username, ConfirmationCode=code, Password=password, **kwargs
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# -- ForgotPassword ----------------------------------------------------------------------------------


def test_forgot_password_sends_a_code_and_confirming_it_sets_the_password(env, pool, app):
    confirmed(env, pool, app)
    response = forgot(env, app)
    assert response["CodeDeliveryDetails"] == EMAIL_DELIVERY
    message = env.outbox.last()
    assert (message.medium, message.destination, message.subject) == ("EMAIL", EMAIL, "Your verification code")
    code = last_code(env)
    assert message.body == f"Your verification code is {code}. "
    assert env.status(pool) == "CONFIRMED"  # ForgotPassword alone changes no status
    assert_tokens(env.initiate(app, "alice", NEW))  # nor the password
    assert confirm(env, app, code).keys() <= {"ResponseMetadata"}
    assert env.status(pool) == "CONFIRMED"
    assert_tokens(env.initiate(app, "alice", OTHER))
    refused(env.client.exceptions.NotAuthorizedException, "Incorrect username or password.",
            env.initiate, app, "alice", NEW)


def test_a_code_works_once(env, pool, app):
    confirmed(env, pool, app)
    forgot(env, app)
    code = last_code(env)
    confirm(env, app, code)
    before = env.snapshot()
    refused(env.client.exceptions.ExpiredCodeException, EXPIRED, confirm, env, app, code, "Third1!pass")
    assert env.snapshot() == before


def test_alias_and_sms_and_pool_templates(env):
    pool = env.pool(
        AliasAttributes=["email"],
        VerificationMessageTemplate={"SmsMessage": "SMS code {####}", "EmailMessage": "Mail code {####}!",
                                     "EmailSubject": "Reset"},
    )
    app = env.app_id(pool)
    confirmed(env, pool, app, attributes=VERIFIED_EMAIL + VERIFIED_PHONE)
    # Legacy recovery order: the verified phone first.
    assert forgot(env, app, EMAIL)["CodeDeliveryDetails"] == {
        "Destination": "+*******4567", "DeliveryMedium": "SMS", "AttributeName": "phone_number"}
    assert env.outbox.last().body == f"SMS code {last_code(env)}"
    assert env.outbox.last().destination == PHONE
    other = env.pool(AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
                     EmailVerificationMessage="Legacy {####} text", EmailVerificationSubject="Legacy")
    other_app = env.app_id(other)
    confirmed(env, other, other_app, attributes=VERIFIED_EMAIL + VERIFIED_PHONE)
    assert forgot(env, other_app)["CodeDeliveryDetails"] == EMAIL_DELIVERY
    message = env.outbox.last()
    assert (message.subject, message.body) == ("Legacy", f"Legacy {last_code(env)} text")


def test_a_new_code_replaces_the_old_one(env, pool, app):
    confirmed(env, pool, app)
    forgot(env, app)
    first = last_code(env)
    forgot(env, app)
    second = last_code(env)
    if first != second:
        refused(env.client.exceptions.CodeMismatchException, MISMATCH, confirm, env, app, first)
    confirm(env, app, second)
    assert_tokens(env.initiate(app, "alice", OTHER))


@pytest.mark.parametrize("prevent", ["LEGACY", "ENABLED"])
def test_forgot_password_errors(env, pool, prevent):
    app = env.app_id(pool, PreventUserExistenceErrors=prevent)
    env.user(pool, attributes=VERIFIED_EMAIL)  # FORCE_CHANGE_PASSWORD
    env.user(pool, "bob", attributes=[{"Name": "email", "Value": "bob@example.com"}])  # unverified
    env.place(pool, "bob", status="CONFIRMED")
    env.user(pool, "carol", attributes=[{"Name": "email", "Value": "carol@example.com"},
                                        {"Name": "email_verified", "Value": "true"}])
    env.place(pool, "carol", status="CONFIRMED", enabled=False)
    before, sent = env.snapshot(), len(env.outbox.messages)
    refused(env.client.exceptions.NotAuthorizedException, CANNOT_RESET, forgot, env, app)
    if prevent == "LEGACY":
        refused(env.client.exceptions.UserNotFoundException, NOT_FOUND, forgot, env, app, "ghost")
        refused(env.client.exceptions.InvalidParameterException, NO_CONTACT, forgot, env, app, "bob")
        refused(env.client.exceptions.NotAuthorizedException, "User is disabled.", forgot, env, app, "carol")
    else:  # simulated deliveries: nothing sent, nothing stored, the same on every call
        ghost = forgot(env, app, "ghost")["CodeDeliveryDetails"]
        assert ghost == forgot(env, app, "ghost")["CodeDeliveryDetails"]
        assert ghost["DeliveryMedium"] == "SMS" and ghost["AttributeName"] == "phone_number"
        assert forgot(env, app, "ghost@example.com")["CodeDeliveryDetails"] == {
            "Destination": "g***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
        assert forgot(env, app, "bob")["CodeDeliveryDetails"]["DeliveryMedium"] in ("EMAIL", "SMS")
        assert forgot(env, app, "carol")["CodeDeliveryDetails"]["DeliveryMedium"] in ("EMAIL", "SMS")
    assert env.snapshot() == before
    assert len(env.outbox.messages) == sent


def test_forgot_password_for_an_unconfirmed_user(env, pool, app):
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}])
    env.place(pool, "alice", status="UNCONFIRMED")
    before = env.snapshot()
    refused(env.client.exceptions.InvalidParameterException, NO_CONTACT, forgot, env, app)
    assert env.snapshot() == before


def test_secret_hash(env, pool):
    import base64
    import hashlib
    import hmac

    client = env.app(pool, GenerateSecret=True)
    app, secret = client["ClientId"], client["ClientSecret"]
    confirmed(env, pool, env.app_id(pool))
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException,
            f"Client {app} is configured for secret but secret was not received", forgot, env, app)
    refused(env.client.exceptions.NotAuthorizedException,
            f"Unable to verify secret hash for client {app}", forgot, env, app, SecretHash="bm90LXJpZ2h0")
    assert env.snapshot() == before

    def secret_hash(name):
        return base64.b64encode(hmac.new(secret.encode(), (name + app).encode(), hashlib.sha256).digest()).decode()

    forgot(env, app, SecretHash=secret_hash("alice"))
    code = last_code(env)
    refused(env.client.exceptions.NotAuthorizedException,
            f"Client {app} is configured for secret but secret was not received", confirm, env, app, code)
    confirm(env, app, code, SecretHash=secret_hash("alice"))
    assert env.status(pool) == "CONFIRMED"


# -- ConfirmForgotPassword ------------------------------------------------------------------------------


def test_wrong_codes_are_counted_and_void_the_code(env, pool, app):
    confirmed(env, pool, app)
    forgot(env, app)
    code = last_code(env)
    for _ in range(5):
        refused(env.client.exceptions.CodeMismatchException, MISMATCH, confirm, env, app, wrong(code))
    before = env.snapshot()
    refused(env.client.exceptions.LimitExceededException, TOO_MANY, confirm, env, app, code)
    refused(env.client.exceptions.LimitExceededException, TOO_MANY, confirm, env, app, wrong(code))
    assert env.snapshot() == before
    forgot(env, app)  # a new code starts afresh
    confirm(env, app, last_code(env))
    assert_tokens(env.initiate(app, "alice", OTHER))


def test_expired_code(env, pool, app):
    confirmed(env, pool, app)
    forgot(env, app)
    code = last_code(env)
    env.clock.advance(timedelta(hours=1))
    before = env.snapshot()
    refused(env.client.exceptions.ExpiredCodeException, EXPIRED, confirm, env, app, code)
    assert env.snapshot() == before


def test_code_works_until_its_hour_is_up(env, pool, app):
    confirmed(env, pool, app)
    forgot(env, app)
    env.clock.advance(timedelta(minutes=59, seconds=59))
    confirm(env, app, last_code(env))
    assert_tokens(env.initiate(app, "alice", OTHER))


def test_no_code_requested(env, pool, app):
    confirmed(env, pool, app)
    before = env.snapshot()
    refused(env.client.exceptions.ExpiredCodeException, EXPIRED, confirm, env, app, "123456")
    assert env.snapshot() == before


def test_policy_is_checked_before_the_code(env, pool, app):
    confirmed(env, pool, app)
    forgot(env, app)
    before = env.snapshot()
    with pytest.raises(env.client.exceptions.InvalidPasswordException):
        confirm(env, app, wrong(last_code(env)), password="short")
    assert env.snapshot() == before  # not counted


@pytest.mark.parametrize("prevent", ["LEGACY", "ENABLED"])
def test_confirm_unknown_and_disabled_users(env, pool, prevent):
    app = env.app_id(pool, PreventUserExistenceErrors=prevent)
    confirmed(env, pool, app)
    forgot(env, app)
    code = last_code(env)
    env.client.admin_disable_user(UserPoolId=pool, Username="alice")
    before = env.snapshot()
    if prevent == "LEGACY":
        refused(env.client.exceptions.UserNotFoundException, NOT_FOUND, confirm, env, app, code, username="ghost")
        refused(env.client.exceptions.NotAuthorizedException, "User is disabled.", confirm, env, app, code)
    else:  # the same answer as a wrong code
        refused(env.client.exceptions.CodeMismatchException, MISMATCH, confirm, env, app, code, username="ghost")
        refused(env.client.exceptions.CodeMismatchException, MISMATCH, confirm, env, app, code)
    assert env.snapshot() == before


def test_other_new_passwords_void_a_pending_code(env, pool, app):
    confirmed(env, pool, app)
    forgot(env, app)
    code = last_code(env)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    refused(env.client.exceptions.ExpiredCodeException, EXPIRED, confirm, env, app, code)


# -- AdminResetUserPassword ----------------------------------------------------------------------------


def test_admin_reset_sends_a_code_that_confirms_the_user(env, pool, app):
    confirmed(env, pool, app)
    assert env.client.admin_reset_user_password(UserPoolId=pool, Username="alice").keys() <= {"ResponseMetadata"}
    assert env.status(pool) == "RESET_REQUIRED"
    message = env.outbox.last()
    assert (message.medium, message.destination, message.kind) == ("EMAIL", EMAIL, "reset_code")
    code = last_code(env)
    refused(env.client.exceptions.PasswordResetRequiredException, "Password reset required for the user",
            env.initiate, app, "alice", NEW)
    forgot(env, app)  # RESET_REQUIRED users may ask again; the new code replaces this one
    code = last_code(env)
    confirm(env, app, code)
    assert env.status(pool) == "CONFIRMED"
    assert_tokens(env.initiate(app, "alice", OTHER))


def test_the_code_is_never_stored(env, pool, app):
    confirmed(env, pool, app)
    env.client.admin_reset_user_password(UserPoolId=pool, Username="alice")
    code = last_code(env)
    stored = repr(env.snapshot())
    assert code not in stored
    with env.client.store.transaction() as tx:
        pending = tx.get_user(pool, "alice").codes["reset_password"]
    assert code not in pending.code_hash and pending.expires - pending.issued == timedelta(hours=1)


# -- across the SQL codec ------------------------------------------------------------------------------


def test_the_flow_across_a_sqlite_store(tmp_path):
    outbox = MemoryOutbox()
    clock = ManualClock(START)
    config = authflow.EngineConfig(kek=Keyring(b"k" * 32), kdf=FAST_INSECURE, signing_keys=TEST_KEYS)
    client = CheckedClient(authflow.Client(
        config=config, store=SqliteStore(tmp_path / "x.db"), clock=clock, messenger=outbox,
        entropy=SeededEntropy(3),
    ))
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="a",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool, Username="alice", UserAttributes=VERIFIED_EMAIL,
                             MessageAction="SUPPRESS")
    client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)
    client.forgot_password(ClientId=app, Username="alice")
    code = re.search(r"\d{6}", outbox.last().body).group()
    with pytest.raises(client.exceptions.CodeMismatchException):
        client.confirm_forgot_password(ClientId=app, Username="alice", ConfirmationCode=wrong(code), Password=OTHER)
    with client.store.transaction() as tx:
        pending = tx.get_user(pool, "alice").codes["reset_password"]
    assert pending.attempts == 1 and pending.attribute == "email"
    client.confirm_forgot_password(ClientId=app, Username="alice", ConfirmationCode=code, Password=OTHER)
    with client.store.transaction() as tx:
        assert tx.get_user(pool, "alice").codes == {}
    result = client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "alice", "PASSWORD": OTHER})
    assert_tokens(result)
