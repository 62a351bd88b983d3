"""UpdateUserAttributes, GetUserAttributeVerificationCode, VerifyUserAttribute, and the
verification code AdminUpdateUserAttributes sends, through the public Client.

Each refusal is checked for its exception class, its exact message, and for leaving
storage unchanged (a wrong code excepted: it is counted on the pending code). Codes
are never stored: only their HMAC under the pool secret.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.signin import NEW, Env, refused

EMAIL = "alice@example.com"
NEW_EMAIL = "alice@new.example.com"
PHONE = "+12065554567"
MISMATCH = "Invalid verification code provided, please try again."
EXPIRED = "Invalid code provided, please request a code again."
TOO_MANY = "Attempt limit exceeded, please try after some time."
INVALID_NAME = "Invalid attribute name. Only phone_number and email can be verified."
UNAUTHORIZED = "A client attempted to write unauthorized attribute"
NEW_EMAIL_DELIVERY = {"Destination": "a***@n***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
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


def signed_in(env: Env, pool: str, app: str, username: str = "alice", email: str = EMAIL, **attributes) -> str:
    """A CONFIRMED user with a verified email; returns its access token."""
    given = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    given += [{"Name": k, "Value": v} for k, v in attributes.items()]
    env.user(pool, username, attributes=given)
    return env.confirm(pool, app, username)["AuthenticationResult"]["AccessToken"]


def fresh_token(env: Env, app: str, username: str = "alice") -> str:
    """A new access token (the first one lives an hour)."""
    return env.initiate(app, username, NEW)["AuthenticationResult"]["AccessToken"]


def update(env: Env, token: str, **attributes) -> dict:
    response = env.client.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()]
    )
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def send_code(env: Env, token: str, attribute: str = "email") -> dict:
    response = env.client.get_user_attribute_verification_code(AccessToken=token, AttributeName=attribute)
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def verify(env: Env, token: str, code: str, attribute: str = "email") -> dict:
    response = env.client.verify_user_attribute(AccessToken=token, AttributeName=attribute, Code=code)
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def last_code(env: Env) -> str:
    return re.search(r"\d{6}", env.outbox.last().body).group()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def pending(env: Env, pool: str, purpose: str = "verify_email", username: str = "alice"):
    with env.client.store.transaction() as tx:
        return tx.get_user(pool, username).codes.get(purpose)


# -- UpdateUserAttributes -------------------------------------------------------------------------


def test_changed_email_becomes_unverified_and_gets_a_code(env, pool, app):
    token = signed_in(env, pool, app)
    assert update(env, token, email=NEW_EMAIL, nickname="al") == {"CodeDeliveryDetailsList": [NEW_EMAIL_DELIVERY]}
    message = env.outbox.last()
    assert (message.medium, message.destination, message.kind) == ("EMAIL", NEW_EMAIL, "verification_code")
    assert message.body == f"Your verification code is {last_code(env)}. "
    attributes = env.attributes(pool)
    assert attributes["email"] == NEW_EMAIL and attributes["email_verified"] == "false"
    assert attributes["nickname"] == "al"
    # Neither the old nor the unverified new email is an alias any more.
    for name in (EMAIL, NEW_EMAIL):
        refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
                env.client.admin_get_user, UserPoolId=pool, Username=name)
    assert verify(env, token, last_code(env)) == {}
    assert env.attributes(pool)["email_verified"] == "true"
    assert env.client.admin_get_user(UserPoolId=pool, Username=NEW_EMAIL)["Username"] == "alice"
    assert pending(env, pool) is None  # used up
    refused(env.client.exceptions.ExpiredCodeException, EXPIRED, verify, env, token, last_code(env))


def test_nothing_sent_without_auto_verification_or_change(env):
    pool = env.pool(AliasAttributes=["email"])
    app = env.app_id(pool)
    token = signed_in(env, pool, app)
    sent = len(env.outbox.messages)
    assert update(env, token, nickname="al") == {"CodeDeliveryDetailsList": []}
    assert update(env, token, email=EMAIL) == {"CodeDeliveryDetailsList": []}  # unchanged: stays verified
    assert env.attributes(pool)["email_verified"] == "true"
    assert update(env, token, email=NEW_EMAIL) == {"CodeDeliveryDetailsList": []}
    assert env.attributes(pool)["email_verified"] == "false" and len(env.outbox.messages) == sent
    # A code can still be asked for.
    assert send_code(env, token) == {"CodeDeliveryDetails": NEW_EMAIL_DELIVERY}
    verify(env, token, last_code(env))
    assert env.attributes(pool)["email_verified"] == "true"


def test_both_changed_both_get_codes(env):
    pool = env.pool(AutoVerifiedAttributes=["email", "phone_number"])
    app = env.app_id(pool)
    token = signed_in(env, pool, app)
    response = update(env, token, email=NEW_EMAIL, phone_number=PHONE)
    assert response == {"CodeDeliveryDetailsList": [SMS_DELIVERY, NEW_EMAIL_DELIVERY]}
    sms, email = env.outbox.messages[-2:]
    assert (sms.destination, email.destination) == (PHONE, NEW_EMAIL)
    code = re.search(r"\d{6}", sms.body).group()
    verify(env, token, code, "phone_number")
    attributes = env.attributes(pool)
    assert attributes["phone_number_verified"] == "true" and attributes["email_verified"] == "false"


def test_update_refusals_change_nothing(env, pool, app):
    token = signed_in(env, pool, app)
    narrow = env.app_id(pool, WriteAttributes=["nickname"])
    narrow_token = fresh_token(env, narrow)
    before, sent = env.snapshot(), len(env.outbox.messages)
    errors = env.client.exceptions
    refused(errors.NotAuthorizedException, UNAUTHORIZED, update, env, token, email_verified="true")
    refused(errors.NotAuthorizedException, UNAUTHORIZED, update, env, narrow_token, email=NEW_EMAIL)
    refused(errors.InvalidParameterException, "Invalid email address format.", update, env, token, email="nope")
    refused(errors.NotAuthorizedException, UNAUTHORIZED, update, env, token, sub="x")  # never writable
    refused(errors.InvalidParameterException,
            "Attributes did not conform to the schema: Type for attribute {custom:x} could not be determined",
            update, env, token, **{"custom:x": "1"})
    refused(errors.NotAuthorizedException, "Invalid Access Token", update, env, "not-a-token", nickname="x")
    assert env.snapshot() == before and len(env.outbox.messages) == sent
    assert update(env, narrow_token, nickname="al") == {"CodeDeliveryDetailsList": []}


def test_preferred_username_alias_conflict(env):
    pool = env.pool(AliasAttributes=["email", "preferred_username"])
    app = env.app_id(pool)
    signed_in(env, pool, app, "bob", "bob@example.com", preferred_username="taken")
    token = signed_in(env, pool, app)
    before = env.snapshot()
    refused(env.client.exceptions.AliasExistsException, "An account with the preferred_username already exists.",
            update, env, token, preferred_username="taken")
    assert env.snapshot() == before


def test_a_change_voids_the_pending_code(env, pool, app):
    token = signed_in(env, pool, app)
    update(env, token, email=NEW_EMAIL)
    old = last_code(env)
    env.client.admin_update_user_attributes(
        UserPoolId=pool, Username="alice",
        UserAttributes=[{"Name": "email", "Value": "third@example.com"}, {"Name": "email_verified", "Value": "false"}],
    )
    assert env.outbox.last().destination == "third@example.com"
    refused(env.client.exceptions.CodeMismatchException, MISMATCH, verify, env, token, old)


# -- GetUserAttributeVerificationCode ----------------------------------------------------------------


def test_send_code_to_a_verified_email(env, pool, app):
    token = signed_in(env, pool, app)
    delivery = {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    assert send_code(env, token) == {"CodeDeliveryDetails": delivery}
    first = last_code(env)
    send_code(env, token)
    refused(env.client.exceptions.CodeMismatchException, MISMATCH, verify, env, token, wrong(last_code(env)))
    if first != last_code(env):  # a new code replaces the old one
        refused(env.client.exceptions.CodeMismatchException, MISMATCH, verify, env, token, first)
    assert verify(env, token, last_code(env)) == {}


def test_send_code_errors(env, pool, app):
    token = signed_in(env, pool, app)
    before, sent = env.snapshot(), len(env.outbox.messages)
    errors = env.client.exceptions
    refused(errors.InvalidParameterException, INVALID_NAME, send_code, env, token, "nickname")
    refused(errors.InvalidParameterException, "User does not have a valid registered phone number",
            send_code, env, token, "phone_number")
    refused(errors.NotAuthorizedException, "Invalid Access Token", send_code, env, "not-a-token")
    assert env.snapshot() == before and len(env.outbox.messages) == sent


# -- VerifyUserAttribute ------------------------------------------------------------------------------


def test_verify_errors(env, pool, app):
    token = signed_in(env, pool, app)
    errors = env.client.exceptions
    before = env.snapshot()
    refused(errors.InvalidParameterException, INVALID_NAME, verify, env, token, "123456", "nickname")
    refused(errors.InvalidParameterException, "Unable to verify attribute: phone_number no value set to verify",
            verify, env, token, "123456", "phone_number")
    refused(errors.ExpiredCodeException, EXPIRED, verify, env, token, "123456")  # no code was sent
    assert env.snapshot() == before
    update(env, token, email=NEW_EMAIL)
    code = last_code(env)
    refused(errors.CodeMismatchException, MISMATCH, verify, env, token, wrong(code))
    assert pending(env, pool).attempts == 1  # the only write
    assert env.attributes(pool)["email_verified"] == "false"
    env.clock.advance(timedelta(hours=24))
    token = fresh_token(env, app)
    before = env.snapshot()
    refused(errors.ExpiredCodeException, EXPIRED, verify, env, token, code)
    assert env.snapshot() == before


def test_code_lifetime_is_24_hours(env, pool, app):
    token = signed_in(env, pool, app)
    update(env, token, email=NEW_EMAIL)
    env.clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert verify(env, fresh_token(env, app), last_code(env)) == {}


def test_attempts_are_bounded(env, pool, app):
    token = signed_in(env, pool, app)
    update(env, token, email=NEW_EMAIL)
    code = last_code(env)
    for _ in range(5):
        refused(env.client.exceptions.CodeMismatchException, MISMATCH, verify, env, token, wrong(code))
    refused(env.client.exceptions.LimitExceededException, TOO_MANY, verify, env, token, code)
    send_code(env, token)
    assert verify(env, token, last_code(env)) == {}


def test_verifying_a_taken_alias(env, pool, app):
    signed_in(env, pool, app, "bob", NEW_EMAIL)
    token = signed_in(env, pool, app)
    update(env, token, email=NEW_EMAIL)  # an unverified duplicate is allowed
    before = env.snapshot()
    refused(env.client.exceptions.AliasExistsException, "An account with the email already exists.",
            verify, env, token, last_code(env))
    assert env.snapshot() == before
    assert env.client.admin_get_user(UserPoolId=pool, Username=NEW_EMAIL)["Username"] == "bob"


def test_codes_are_never_stored(env, pool, app):
    token = signed_in(env, pool, app)
    update(env, token, email=NEW_EMAIL)
    code = last_code(env)
    stored = pending(env, pool)
    assert code not in stored.code_hash and stored.attribute == "email"
    assert code not in repr(env.snapshot())


# -- AdminUpdateUserAttributes ---------------------------------------------------------------------


def test_admin_update_sends_a_code_unless_it_verifies(env, pool, app):
    signed_in(env, pool, app)
    sent = len(env.outbox.messages)
    response = env.client.admin_update_user_attributes(
        UserPoolId=pool, Username="alice", UserAttributes=[{"Name": "email", "Value": NEW_EMAIL}]
    )
    assert {k: v for k, v in response.items() if k != "ResponseMetadata"} == {}
    assert len(env.outbox.messages) == sent + 1 and env.outbox.last().destination == NEW_EMAIL
    assert pending(env, pool) is not None
    env.client.admin_update_user_attributes(
        UserPoolId=pool, Username="alice",
        UserAttributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}],
    )
    assert len(env.outbox.messages) == sent + 1
    assert pending(env, pool) is None  # the code for the previous value is void
    assert env.attributes(pool)["email_verified"] == "true"


# -- AttributesRequireVerificationBeforeUpdate ---------------------------------------------------

HELD = {"AttributesRequireVerificationBeforeUpdate": ["email"]}


@pytest.fixture
def held_pool(env) -> str:
    return env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"], UserAttributeUpdateSettings=HELD)


@pytest.mark.parametrize("admin", [False, True])
def test_a_held_email_stays_in_force_until_the_new_one_is_verified(env, held_pool, admin):
    app = env.app_id(held_pool)
    token = signed_in(env, held_pool, app)
    if admin:
        env.client.admin_update_user_attributes(UserPoolId=held_pool, Username="alice",
                                                UserAttributes=[{"Name": "email", "Value": NEW_EMAIL}])
    else:
        assert update(env, token, email=NEW_EMAIL) == {"CodeDeliveryDetailsList": [NEW_EMAIL_DELIVERY]}
    assert env.outbox.last().destination == NEW_EMAIL
    # The verified old value is still the user's, and still signs in as an alias.
    assert env.attributes(held_pool)["email"] == EMAIL
    assert env.attributes(held_pool)["email_verified"] == "true"
    assert env.initiate(app, EMAIL, NEW)["AuthenticationResult"]
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.", env.initiate, app, NEW_EMAIL, NEW)
    code = last_code(env)
    assert verify(env, token, code) == {}
    assert env.attributes(held_pool)["email"] == NEW_EMAIL
    assert env.attributes(held_pool)["email_verified"] == "true"
    assert env.initiate(app, NEW_EMAIL, NEW)["AuthenticationResult"]


def test_a_held_value_is_not_applied_by_a_wrong_or_expired_code(env, held_pool):
    app = env.app_id(held_pool)
    token = signed_in(env, held_pool, app)
    update(env, token, email=NEW_EMAIL)
    code = last_code(env)
    refused(env.client.exceptions.CodeMismatchException, MISMATCH, verify, env, token, wrong(code))
    env.clock.advance(timedelta(hours=24, seconds=1))
    token = fresh_token(env, app)
    refused(env.client.exceptions.ExpiredCodeException, EXPIRED, verify, env, token, code)
    assert env.attributes(held_pool)["email"] == EMAIL


def test_unverified_values_and_admin_verified_writes_are_not_held(env, held_pool):
    app = env.app_id(held_pool)
    token = signed_in(env, held_pool, app)
    # The request marks the new value verified itself: applied at once, no code.
    sent = len(env.outbox.messages)
    env.client.admin_update_user_attributes(
        UserPoolId=held_pool, Username="alice",
        UserAttributes=[{"Name": "email", "Value": NEW_EMAIL}, {"Name": "email_verified", "Value": "true"}],
    )
    assert env.attributes(held_pool)["email"] == NEW_EMAIL and len(env.outbox.messages) == sent
    # An unverified current value has nothing to keep in force: replaced at once, unverified.
    env.client.admin_update_user_attributes(
        UserPoolId=held_pool, Username="alice", UserAttributes=[{"Name": "email_verified", "Value": "false"}],
    )
    update(env, fresh_token(env, app), email="third@example.com")
    assert env.attributes(held_pool)["email"] == "third@example.com"
    assert env.attributes(held_pool)["email_verified"] == "false"
    assert token


def test_a_held_value_another_user_verified_meanwhile_is_refused(env, held_pool):
    app = env.app_id(held_pool)
    token = signed_in(env, held_pool, app)
    update(env, token, email=NEW_EMAIL)
    code = last_code(env)
    signed_in(env, held_pool, app, "bob", email=NEW_EMAIL)
    before = env.snapshot()
    refused(env.client.exceptions.AliasExistsException, "An account with the email already exists.",
            verify, env, token, code)
    assert env.snapshot() == before
    assert env.attributes(held_pool)["email"] == EMAIL


def test_held_attributes_must_be_auto_verified(env):
    refused(env.client.exceptions.InvalidParameterException,
            "Attributes in AttributesRequireVerificationBeforeUpdate must also be in AutoVerifiedAttributes.",
            env.pool, UserAttributeUpdateSettings=HELD)
