"""Challenges through the public Client: NEW_PASSWORD_REQUIRED (parameters, answers,
refusals), authentication sessions (single use, expiry, binding) and SMS_MFA (code
delivery through the outbox, wrong codes, OPTIONAL MFA).

Every refusal is checked for its exception class and its exact message; refused
answers must leave the session usable for a corrected answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.conftest import HARDENED_CONFIG, make_client
from tests.helpers import without_lockout
from tests.signin import ALL_FLOWS, NEW, TEMP, Env, assert_tokens, refused, secret_hash

EMAIL = "alice@example.com"
PHONE = "+12065554567"
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}

NAME_REQUIRED = [{"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True}]

INCORRECT = "Incorrect username or password."
INVALID_SESSION = "Invalid session for the user."
SESSION_EXPIRED = "Invalid session for the user, session is expired."
SESSION_USED = "Invalid session for the user, session can only be used once."
UNAUTHORIZED_WRITE = "A client attempted to write unauthorized attribute"
CODE_MISMATCH = "Invalid code received for user"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def req(env):
    """A pool with `name` required and email as an alias; alice has a verified email, no name."""
    pool = env.pool(AliasAttributes=["email"], Schema=NAME_REQUIRED)
    client_id = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}])
    return env, pool, client_id


# -- NEW_PASSWORD_REQUIRED: the challenge ---------------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True])
def test_new_password_required_parameters(req, admin):
    env, pool, client_id = req
    response = env.admin_initiate(pool, client_id) if admin else env.initiate(client_id)
    assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in response
    assert isinstance(response["Session"], str) and 20 <= len(response["Session"]) <= 4096
    parameters = response["ChallengeParameters"]
    assert set(parameters) == {"USER_ID_FOR_SRP", "requiredAttributes", "userAttributes"}
    assert all(isinstance(value, str) for value in parameters.values())
    assert parameters["USER_ID_FOR_SRP"] == "alice"
    assert json.loads(parameters["requiredAttributes"]) == ["userAttributes.name"]
    assert json.loads(parameters["userAttributes"]) == {"email": EMAIL, "email_verified": "true"}


def test_new_password_required_parameters_when_nothing_is_missing(env):
    pool = env.pool()
    client_id = env.app_id(pool)
    created = env.user(pool, attributes=[{"Name": "nickname", "Value": "al"}])
    assert any(a["Name"] == "sub" for a in created["Attributes"])
    parameters = env.initiate(client_id)["ChallengeParameters"]
    assert parameters["requiredAttributes"] == "[]"
    shown = json.loads(parameters["userAttributes"])
    assert shown == {"nickname": "al"}
    assert "sub" not in shown
    assert all(isinstance(value, str) for value in shown.values())


def test_new_password_required_lists_every_missing_required_attribute(env):
    pool = env.pool(Schema=[
        {"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True},
        {"Name": "family_name", "AttributeDataType": "String", "Required": True, "Mutable": True},
    ])
    client_id = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "family_name", "Value": "Smith"}])
    parameters = env.initiate(client_id)["ChallengeParameters"]
    assert json.loads(parameters["requiredAttributes"]) == ["userAttributes.name"]
    assert json.loads(parameters["userAttributes"]) == {"family_name": "Smith"}


def test_user_id_for_srp_is_the_uuid_in_an_email_username_pool(env):
    pool = env.pool(UsernameAttributes=["email"])
    client_id = env.app_id(pool)
    canonical = env.user(pool, EMAIL)["Username"]
    parameters = env.initiate(client_id, EMAIL)["ChallengeParameters"]
    assert parameters["USER_ID_FOR_SRP"] == canonical
    assert "sub" not in json.loads(parameters["userAttributes"])
    done = env.respond(client_id, env.initiate(client_id, EMAIL)["Session"], {"USERNAME": EMAIL, "NEW_PASSWORD": NEW})
    assert_tokens(done)


# -- NEW_PASSWORD_REQUIRED: answers -------------------------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True])
def test_answer_with_the_missing_attribute_confirms_the_user(req, admin):
    env, pool, client_id = req
    started = env.admin_initiate(pool, client_id) if admin else env.initiate(client_id)
    answer = {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice Liddell"}
    if admin:
        done = env.admin_respond(pool, client_id, started["Session"], answer)
    else:
        done = env.respond(client_id, started["Session"], answer)
    assert_tokens(done)
    assert env.status(pool) == "CONFIRMED"
    assert env.attributes(pool)["name"] == "Alice Liddell"
    # the temporary password is gone; the new one signs in without a challenge
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, env.initiate, client_id, "alice", TEMP)
    assert_tokens(env.initiate(client_id, "alice", NEW))
    assert_tokens(env.admin_initiate(pool, client_id, EMAIL, NEW))


@pytest.mark.parametrize("answered_as", ["alice", EMAIL])
def test_answer_username_may_be_canonical_or_the_alias_typed(req, answered_as):
    env, pool, client_id = req
    started = env.initiate(client_id, EMAIL)
    assert started["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
    done = env.respond(client_id, started["Session"],
                       {"USERNAME": answered_as, "NEW_PASSWORD": NEW, "userAttributes.name": "Alice"})
    assert_tokens(done)
    assert env.status(pool) == "CONFIRMED"


def test_answer_ignores_extra_keys(env):
    """pycognito re-sends its whole PASSWORD_VERIFIER answer alongside NEW_PASSWORD."""
    pool = env.pool()
    client_id = env.app_id(pool)
    env.user(pool)
    started = env.initiate(client_id)
    done = env.respond(client_id, started["Session"], {
        "USERNAME": "alice",
        "NEW_PASSWORD": NEW,
        "PASSWORD_CLAIM_SIGNATURE": "c2lnbmF0dXJl",
        "PASSWORD_CLAIM_SECRET_BLOCK": "c2VjcmV0",
        "TIMESTAMP": "Thu Jan 1 12:00:00 UTC 2026",
        "SOMETHING_ELSE": "ignored",
    })
    assert_tokens(done)
    assert env.status(pool) == "CONFIRMED"


def test_missing_required_attribute(req):
    env, pool, client_id = req
    session = env.initiate(client_id)["Session"]
    before = env.snapshot()
    refused(env.client.exceptions.InvalidParameterException, "Invalid attributes given, name is missing",
            env.respond, client_id, session, {"USERNAME": "alice", "NEW_PASSWORD": NEW})
    # an empty value is refused by the schema check [U]
    refused(env.client.exceptions.InvalidParameterException,
            "Attributes did not conform to the schema: name: The attribute is required\n",
            env.respond, client_id, session, {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": ""})
    # the JSON form the challenge parameters use is not an answer
    refused(env.client.exceptions.InvalidParameterException, "Invalid attributes given, name is missing",
            env.respond, client_id, session,
            {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes": json.dumps({"name": "Alice"})})
    assert env.snapshot() == before
    assert env.status(pool) == "FORCE_CHANGE_PASSWORD"
    # the same session still takes the corrected answer
    done = env.respond(client_id, session, {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice"})
    assert_tokens(done)
    assert env.attributes(pool)["name"] == "Alice"


def test_cannot_modify_an_already_provided_required_attribute(env):
    pool = env.pool(Schema=NAME_REQUIRED)
    client_id = env.app_id(pool)
    env.user(pool, attributes=[{"Name": "name", "Value": "Alice"}])
    started = env.initiate(client_id)
    assert started["ChallengeParameters"]["requiredAttributes"] == "[]"
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "Cannot modify an already provided name",
            env.respond, client_id, started["Session"],
            {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Mallory"})
    assert env.snapshot() == before
    # re-sending the current value is not a modification; other writable attributes may be set
    done = env.respond(client_id, started["Session"], {
        "USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice", "userAttributes.nickname": "al",
    })
    assert_tokens(done)
    attributes = env.attributes(pool)
    assert attributes["name"] == "Alice"
    assert attributes["nickname"] == "al"


@pytest.mark.parametrize("flag", ["email_verified", "phone_number_verified"])
def test_verified_flags_cannot_be_written(req, flag):
    env, pool, client_id = req
    session = env.initiate(client_id)["Session"]
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, UNAUTHORIZED_WRITE, env.respond, client_id, session, {
        "USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice", f"userAttributes.{flag}": "true",
    })
    assert env.snapshot() == before
    assert_tokens(env.respond(client_id, session,
                              {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice"}))


def test_attribute_outside_the_clients_write_attributes(env):
    pool = env.pool(Schema=NAME_REQUIRED)
    client_id = env.app_id(pool, WriteAttributes=["name"])
    env.user(pool)
    session = env.initiate(client_id)["Session"]
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, UNAUTHORIZED_WRITE, env.respond, client_id, session, {
        "USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice", "userAttributes.nickname": "al",
    })
    assert env.snapshot() == before
    assert_tokens(env.respond(client_id, session,
                              {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice"}))
    assert "nickname" not in env.attributes(pool)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1!", "Password not long enough"),
        ("newpass1!x", "Password must have uppercase characters"),
        ("NEWPASS1!X", "Password must have lowercase characters"),
        ("NewPass!!x", "Password must have numeric characters"),
        ("NewPass11x", "Password must have symbol characters"),
    ],
)
@pytest.mark.parametrize("admin", [False, True])
def test_new_password_must_meet_the_policy(env, password, reason, admin):
    pool = env.pool()
    client_id = env.app_id(pool)
    env.user(pool)
    session = env.initiate(client_id)["Session"]
    before = env.snapshot()
    answer = {"USERNAME": "alice", "NEW_PASSWORD": password}
    call = (lambda: env.admin_respond(pool, client_id, session, answer)) if admin else (
        lambda: env.respond(client_id, session, answer))
    refused(env.client.exceptions.InvalidPasswordException, f"Password did not conform with policy: {reason}", call)
    assert env.snapshot() == before
    assert_tokens(env.respond(client_id, session, {"USERNAME": "alice", "NEW_PASSWORD": NEW}))


def test_new_password_equal_to_the_temporary_one_is_accepted_as_on_aws(env):
    # moto's aws_verified test_scope_in_access_token answers with the temporary password.
    pool = env.pool()
    client_id = env.app_id(pool)
    env.user(pool)
    session = env.initiate(client_id)["Session"]
    assert_tokens(env.respond(client_id, session, {"USERNAME": "alice", "NEW_PASSWORD": TEMP}))
    assert env.status(pool) == "CONFIRMED"


def test_new_password_equal_to_the_temporary_one_refused_when_hardened():
    env = Env()
    env.client = make_client(1, clock=env.clock, messenger=env.outbox, config=HARDENED_CONFIG)
    pool = env.pool()
    client_id = env.app_id(pool)
    env.user(pool)
    session = env.initiate(client_id)["Session"]
    before = env.snapshot()
    refused(env.client.exceptions.InvalidPasswordException,
            "Password did not conform with policy: New password must be different from the temporary password",
            env.respond, client_id, session, {"USERNAME": "alice", "NEW_PASSWORD": TEMP})
    assert env.snapshot() == before
    assert env.status(pool) == "FORCE_CHANGE_PASSWORD"
    assert_tokens(env.respond(client_id, session, {"USERNAME": "alice", "NEW_PASSWORD": NEW}))


def test_missing_answer_keys(req):
    env, _, client_id = req
    session = env.initiate(client_id)["Session"]
    refused(env.client.exceptions.InvalidParameterException, "Missing required parameter NEW_PASSWORD",
            env.respond, client_id, session, {"USERNAME": "alice", "userAttributes.name": "Alice"})
    refused(env.client.exceptions.InvalidParameterException, "Missing required parameter USERNAME",
            env.respond, client_id, session, {"NEW_PASSWORD": NEW, "userAttributes.name": "Alice"})
    refused(env.client.exceptions.InvalidParameterException, "Missing required parameter USERNAME",
            env.client.respond_to_auth_challenge, ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=session)
    assert_tokens(env.respond(client_id, session,
                              {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice"}))


def test_one_session_survives_every_kind_of_refused_answer(req):
    env, pool, client_id = req
    session = env.initiate(client_id)["Session"]
    good = {"USERNAME": "alice", "NEW_PASSWORD": NEW, "userAttributes.name": "Alice"}
    attempts = [
        ({"USERNAME": "alice", "NEW_PASSWORD": NEW}, env.client.exceptions.InvalidParameterException,
         "Invalid attributes given, name is missing"),
        ({**good, "userAttributes.name": ""}, env.client.exceptions.InvalidParameterException,
         "Attributes did not conform to the schema: name: The attribute is required\n"),
        ({**good, "userAttributes.email_verified": "false"}, env.client.exceptions.NotAuthorizedException,
         UNAUTHORIZED_WRITE),
        ({**good, "NEW_PASSWORD": "short"}, env.client.exceptions.InvalidPasswordException,
         "Password did not conform with policy: Password not long enough"),
        ({**good, "USERNAME": "bob"}, env.client.exceptions.NotAuthorizedException, INVALID_SESSION),
    ]
    before = env.snapshot()
    for answer, exception, message in attempts:
        refused(exception, message, env.respond, client_id, session, answer)
        assert env.snapshot() == before
    assert_tokens(env.respond(client_id, session, good))
    assert env.status(pool) == "CONFIRMED"


# -- sessions -----------------------------------------------------------------------------------------------------


@pytest.fixture
def plain(env):
    pool = env.pool()
    client_id = env.app_id(pool)
    env.user(pool)
    return env, pool, client_id


ANSWER = {"USERNAME": "alice", "NEW_PASSWORD": NEW}


def test_session_is_single_use(plain):
    env, pool, client_id = plain
    session = env.initiate(client_id)["Session"]
    assert_tokens(env.respond(client_id, session, ANSWER))
    refused(env.client.exceptions.NotAuthorizedException, SESSION_USED, env.respond, client_id, session, ANSWER)
    refused(env.client.exceptions.NotAuthorizedException, SESSION_USED,
            env.admin_respond, pool, client_id, session, ANSWER)


def test_each_sign_in_gets_a_fresh_session(plain):
    env, _, client_id = plain
    first = env.initiate(client_id)["Session"]
    second = env.initiate(client_id)["Session"]
    assert first != second
    assert_tokens(env.respond(client_id, first, ANSWER))
    # the other session was for the temporary password, which is gone now
    refused(env.client.exceptions.NotAuthorizedException, INVALID_SESSION, env.respond, client_id, second,
            {"USERNAME": "alice", "NEW_PASSWORD": "Another1!x"})


@pytest.mark.parametrize(("validity", "minutes"), [(None, 3), (10, 10)])
def test_session_expires_after_auth_session_validity(env, validity, minutes):
    pool = env.pool()
    kwargs = {} if validity is None else {"AuthSessionValidity": validity}
    client_id = env.app_id(pool, **kwargs)
    env.user(pool)
    session = env.initiate(client_id)["Session"]
    env.clock.advance(timedelta(minutes=minutes))
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, SESSION_EXPIRED, env.respond, client_id, session, ANSWER)
    refused(env.client.exceptions.NotAuthorizedException, SESSION_EXPIRED,
            env.admin_respond, pool, client_id, session, ANSWER)
    assert env.snapshot() == before
    assert env.status(pool) == "FORCE_CHANGE_PASSWORD"
    # just inside the window a fresh session works
    fresh = env.initiate(client_id)["Session"]
    env.clock.advance(timedelta(minutes=minutes) - timedelta(seconds=1))
    assert_tokens(env.respond(client_id, fresh, ANSWER))


def test_garbage_session(plain):
    env, pool, client_id = plain
    env.initiate(client_id)
    before = env.snapshot()
    for garbage in ("x" * 20, "AYABeAbcdefghijklmnopqrstuvwxyz0123456789", "A" * 4096):
        refused(env.client.exceptions.NotAuthorizedException, INVALID_SESSION,
                env.respond, client_id, garbage, ANSWER)
        refused(env.client.exceptions.NotAuthorizedException, INVALID_SESSION,
                env.admin_respond, pool, client_id, garbage, ANSWER)
    assert env.snapshot() == before


def test_session_is_bound_to_its_app_client(plain):
    env, pool, client_id = plain
    other = env.app_id(pool)
    session = env.initiate(client_id)["Session"]
    refused(env.client.exceptions.NotAuthorizedException, INVALID_SESSION, env.respond, other, session, ANSWER)
    refused(env.client.exceptions.NotAuthorizedException, INVALID_SESSION,
            env.admin_respond, pool, other, session, ANSWER)
    assert_tokens(env.respond(client_id, session, ANSWER))


def test_session_is_bound_to_its_user(plain):
    env, pool, client_id = plain
    env.user(pool, "bob")
    session = env.initiate(client_id)["Session"]
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, INVALID_SESSION, env.respond, client_id, session,
            {"USERNAME": "bob", "NEW_PASSWORD": NEW})
    refused(env.client.exceptions.NotAuthorizedException, INVALID_SESSION, env.respond, client_id, session,
            {"USERNAME": "nobody", "NEW_PASSWORD": NEW})
    assert env.snapshot() == before
    assert env.status(pool, "bob") == "FORCE_CHANGE_PASSWORD"
    assert_tokens(env.respond(client_id, session, ANSWER))


def test_wrong_challenge_name(plain):
    env, _, client_id = plain
    session = env.initiate(client_id)["Session"]
    refused(env.client.exceptions.InvalidParameterException,
            "Invalid challenge name SMS_MFA: the session expects an answer to NEW_PASSWORD_REQUIRED",
            env.respond, client_id, session, {"USERNAME": "alice", "SMS_MFA_CODE": "123456"}, name="SMS_MFA")
    refused(env.client.exceptions.InvalidParameterException,
            "Invalid challenge name CUSTOM_CHALLENGE: the session expects an answer to NEW_PASSWORD_REQUIRED",
            env.respond, client_id, session, {"USERNAME": "alice", "ANSWER": "x"}, name="CUSTOM_CHALLENGE")
    assert_tokens(env.respond(client_id, session, ANSWER))


@pytest.mark.parametrize("admin", [False, True])
def test_missing_session(plain, admin):
    env, pool, client_id = plain
    env.initiate(client_id)
    if admin:
        call = lambda: env.client.admin_respond_to_auth_challenge(  # noqa: E731
            UserPoolId=pool, ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", ChallengeResponses=ANSWER)
    else:
        call = lambda: env.client.respond_to_auth_challenge(  # noqa: E731
            ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", ChallengeResponses=ANSWER)
    refused(env.client.exceptions.InvalidParameterException, "Missing required parameter Session", call)
    assert env.status(pool) == "FORCE_CHANGE_PASSWORD"


def test_unknown_client_and_foreign_pool_when_answering(plain):
    env, pool, client_id = plain
    session = env.initiate(client_id)["Session"]
    ghost = "b" * 26
    refused(env.client.exceptions.ResourceNotFoundException, f"User pool client {ghost} does not exist.",
            env.respond, ghost, session, ANSWER)
    other_pool = env.pool()
    refused(env.client.exceptions.ResourceNotFoundException, f"User pool client {client_id} does not exist.",
            env.admin_respond, other_pool, client_id, session, ANSWER)
    assert_tokens(env.respond(client_id, session, ANSWER))


def test_session_of_a_user_disabled_meanwhile(plain):
    env, pool, client_id = plain
    session = env.initiate(client_id)["Session"]
    env.client.admin_disable_user(UserPoolId=pool, Username="alice")
    refused(env.client.exceptions.NotAuthorizedException, "User is disabled.", env.respond, client_id, session, ANSWER)


# -- SMS_MFA ------------------------------------------------------------------------------------------------------

CODE_BODY = re.compile(r"Your authentication code is (\d{6})\. ")


def mfa_env(env: Env, mode: str = "ON", **pool_kwargs) -> tuple[str, str]:
    pool = env.pool(MfaConfiguration=mode, SmsConfiguration=SMS_CONFIG, **pool_kwargs)
    return pool, env.app_id(pool)


def confirmed(env: Env, pool: str, client_id: str, username: str = "alice", phone: str | None = PHONE) -> None:
    """A CONFIRMED user, placed in the store (the first sign-in is not what these tests are about)."""
    attributes = [{"Name": "phone_number", "Value": phone}] if phone else []
    env.user(pool, username, password=NEW, attributes=attributes)
    with env.client.store.transaction() as tx:
        user = tx.get_user(pool, username)
        tx.put_user(replace(user, status="CONFIRMED", version=user.version + 1))


def code_from(message) -> str:
    match = CODE_BODY.fullmatch(message.body)
    assert match, "unexpected SMS body"
    return match.group(1)


@pytest.mark.parametrize("admin", [False, True])
def test_sms_mfa_after_the_password(env, admin):
    pool, client_id = mfa_env(env)
    confirmed(env, pool, client_id)
    sent_before = len(env.outbox.messages)
    started = env.admin_initiate(pool, client_id, "alice", NEW) if admin else env.initiate(client_id, "alice", NEW)
    assert started["ChallengeName"] == "SMS_MFA"
    assert "AuthenticationResult" not in started
    assert started["ChallengeParameters"] == {
        "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
        "CODE_DELIVERY_DESTINATION": "+*******4567",
        "USER_ID_FOR_SRP": "alice",
    }
    new = env.outbox.messages[sent_before:]
    assert len(new) == 1
    assert new[0].medium == "SMS"
    assert new[0].destination == PHONE
    code = code_from(new[0])
    answer = {"USERNAME": "alice", "SMS_MFA_CODE": code}
    done = (env.admin_respond(pool, client_id, started["Session"], answer, name="SMS_MFA") if admin
            else env.respond(client_id, started["Session"], answer, name="SMS_MFA"))
    assert_tokens(done)
    refused(env.client.exceptions.NotAuthorizedException, SESSION_USED,
            env.respond, client_id, started["Session"], answer, name="SMS_MFA")


@pytest.mark.parametrize(("phone", "masked"), [("+12065554567", "+*******4567"), ("+4915112345678", "+*********5678")])
def test_sms_destination_is_masked(env, phone, masked):
    pool, client_id = mfa_env(env)
    confirmed(env, pool, client_id, phone=phone)
    parameters = env.initiate(client_id, "alice", NEW)["ChallengeParameters"]
    assert parameters["CODE_DELIVERY_DESTINATION"] == masked
    assert env.outbox.last().destination == phone


def test_custom_sms_authentication_message(env):
    pool, client_id = mfa_env(env, SmsAuthenticationMessage="Code for ACME: {####}")
    confirmed(env, pool, client_id)
    started = env.initiate(client_id, "alice", NEW)
    body = env.outbox.last().body
    match = re.fullmatch(r"Code for ACME: (\d{6})", body)
    assert match
    assert_tokens(env.respond(client_id, started["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": match.group(1)},
                              name="SMS_MFA"))


def test_wrong_sms_code_then_the_right_one_on_the_same_session(env):
    pool, client_id = mfa_env(env)
    confirmed(env, pool, client_id)
    started = env.initiate(client_id, "alice", NEW)
    code = code_from(env.outbox.last())
    wrong = "000000" if code != "000000" else "111111"
    before = env.snapshot()
    refused(env.client.exceptions.CodeMismatchException, CODE_MISMATCH, env.respond, client_id, started["Session"],
            {"USERNAME": "alice", "SMS_MFA_CODE": wrong}, name="SMS_MFA")
    refused(env.client.exceptions.CodeMismatchException, CODE_MISMATCH, env.admin_respond, pool, client_id,
            started["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": wrong}, name="SMS_MFA")
    assert len([m for m in env.outbox.messages if m.kind == "mfa_code"]) == 1  # no new code was sent
    assert without_lockout(env.snapshot()) == without_lockout(before)  # the session is untouched
    assert_tokens(env.respond(client_id, started["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": code},
                              name="SMS_MFA"))


def test_sms_code_of_another_sign_in_is_refused(env):
    pool, client_id = mfa_env(env)
    confirmed(env, pool, client_id)
    first = env.initiate(client_id, "alice", NEW)
    first_code = code_from(env.outbox.last())
    second = env.initiate(client_id, "alice", NEW)
    second_code = code_from(env.outbox.last())
    assert first_code != second_code  # seeded entropy: deterministic
    refused(env.client.exceptions.CodeMismatchException, CODE_MISMATCH, env.respond, client_id,
            second["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": first_code}, name="SMS_MFA")
    assert_tokens(env.respond(client_id, first["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": first_code},
                              name="SMS_MFA"))
    assert_tokens(env.respond(client_id, second["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": second_code},
                              name="SMS_MFA"))


def test_missing_sms_code(env):
    pool, client_id = mfa_env(env)
    confirmed(env, pool, client_id)
    started = env.initiate(client_id, "alice", NEW)
    refused(env.client.exceptions.InvalidParameterException, "Missing required parameter SMS_MFA_CODE",
            env.respond, client_id, started["Session"], {"USERNAME": "alice"}, name="SMS_MFA")
    assert_tokens(env.respond(client_id, started["Session"],
                              {"USERNAME": "alice", "SMS_MFA_CODE": code_from(env.outbox.last())}, name="SMS_MFA"))


@pytest.mark.parametrize(("validity", "minutes"), [(None, 3), (10, 10)])
def test_sms_session_expires(env, validity, minutes):
    pool = env.pool(MfaConfiguration="ON", SmsConfiguration=SMS_CONFIG)
    client_id = env.app_id(pool, **({} if validity is None else {"AuthSessionValidity": validity}))
    confirmed(env, pool, client_id)
    started = env.initiate(client_id, "alice", NEW)
    code = code_from(env.outbox.last())
    env.clock.advance(timedelta(minutes=minutes))
    refused(env.client.exceptions.NotAuthorizedException, SESSION_EXPIRED, env.respond, client_id,
            started["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": code}, name="SMS_MFA")


def test_new_password_required_then_sms_mfa(env):
    pool, client_id = mfa_env(env)
    env.user(pool, attributes=[{"Name": "phone_number", "Value": PHONE}])
    sent_before = len(env.outbox.messages)
    started = env.initiate(client_id)
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert len(env.outbox.messages) == sent_before  # no code before the new password is set
    mfa = env.respond(client_id, started["Session"], ANSWER)
    assert mfa["ChallengeName"] == "SMS_MFA"
    assert mfa["Session"] != started["Session"]
    assert mfa["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******4567"
    assert env.status(pool) == "CONFIRMED"
    new = env.outbox.messages[sent_before:]
    assert len(new) == 1 and new[0].destination == PHONE
    done = env.respond(client_id, mfa["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": code_from(new[0])},
                       name="SMS_MFA")
    assert_tokens(done)
    refused(env.client.exceptions.NotAuthorizedException, SESSION_USED, env.respond, client_id, started["Session"],
            ANSWER)


def test_optional_mfa_only_after_the_user_enables_sms(env):
    pool, client_id = mfa_env(env, "OPTIONAL")
    confirmed(env, pool, client_id)
    confirmed(env, pool, client_id, "bob", phone=None)
    assert_tokens(env.initiate(client_id, "alice", NEW))
    assert [m for m in env.outbox.messages if m.kind == "mfa_code"] == []
    assert "UserMFASettingList" not in env.client.admin_get_user(UserPoolId=pool, Username="alice")

    before = env.snapshot()
    refused(env.client.exceptions.InvalidParameterException,
            "User does not have delivery config set to turn on SMS_MFA",
            env.client.admin_set_user_mfa_preference, UserPoolId=pool, Username="bob",
            SMSMfaSettings={"Enabled": True})
    assert env.snapshot() == before

    env.client.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice", SMSMfaSettings={"Enabled": True})
    assert env.client.admin_get_user(UserPoolId=pool, Username="alice")["UserMFASettingList"] == ["SMS_MFA"]
    started = env.initiate(client_id, "alice", NEW)
    assert started["ChallengeName"] == "SMS_MFA"
    assert_tokens(env.respond(client_id, started["Session"],
                              {"USERNAME": "alice", "SMS_MFA_CODE": code_from(env.outbox.last())}, name="SMS_MFA"))
    # bob still signs in without MFA
    assert_tokens(env.initiate(client_id, "bob", NEW))
    # and switching it off again removes the challenge
    env.client.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice", SMSMfaSettings={"Enabled": False})
    assert_tokens(env.initiate(client_id, "alice", NEW))


def test_sms_mfa_after_signing_in_with_an_alias(env):
    pool, client_id = mfa_env(env, AliasAttributes=["email"])
    env.user(pool, password=NEW, attributes=[
        {"Name": "phone_number", "Value": PHONE},
        {"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"},
    ])
    with env.client.store.transaction() as tx:
        user = tx.get_user(pool, "alice")
        tx.put_user(replace(user, status="CONFIRMED", version=user.version + 1))
    started = env.initiate(client_id, EMAIL, NEW)
    assert started["ChallengeName"] == "SMS_MFA"
    assert started["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
    assert_tokens(env.respond(client_id, started["Session"],
                              {"USERNAME": EMAIL, "SMS_MFA_CODE": code_from(env.outbox.last())}, name="SMS_MFA"))


def test_sms_mfa_answer_needs_the_secret_hash(env):
    pool = env.pool(MfaConfiguration="ON", SmsConfiguration=SMS_CONFIG)
    app = env.client.create_user_pool_client(
        UserPoolId=pool, ClientName="secret", ExplicitAuthFlows=ALL_FLOWS, GenerateSecret=True
    )["UserPoolClient"]
    cid, secret = app["ClientId"], app["ClientSecret"]
    confirmed(env, pool, cid)
    started = env.client.initiate_auth(
        ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": NEW, "SECRET_HASH": secret_hash(secret, "alice", cid)},
    )
    code = code_from(env.outbox.last())
    refused(env.client.exceptions.NotAuthorizedException,
            f"Client {cid} is configured for secret but secret was not received",
            env.respond, cid, started["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": code}, name="SMS_MFA")
    refused(env.client.exceptions.NotAuthorizedException, f"Unable to verify secret hash for client {cid}",
            env.respond, cid, started["Session"],
            {"USERNAME": "alice", "SMS_MFA_CODE": code, "SECRET_HASH": secret_hash(secret, "bob", cid)},
            name="SMS_MFA")
    assert_tokens(env.respond(cid, started["Session"], {
        "USERNAME": "alice", "SMS_MFA_CODE": code, "SECRET_HASH": secret_hash(secret, "alice", cid),
    }, name="SMS_MFA"))


def test_mfa_on_user_without_phone_finishes_by_giving_one_with_the_new_password():
    """The way out of the SMS_MFA dead end: the NEW_PASSWORD_REQUIRED answer may
    carry the phone number that SMS_MFA then uses."""
    client = make_client()
    pool = client.create_user_pool(
        PoolName="mfa", MfaConfiguration="ON",
        SmsConfiguration={"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"},
    )["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool, Username="u", TemporaryPassword="Temp1234!", MessageAction="SUPPRESS")
    started = client.initiate_auth(
        ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "u", "PASSWORD": "Temp1234!"}
    )
    with pytest.raises(client.exceptions.InvalidParameterException, match="delivery config"):
        client.respond_to_auth_challenge(
            ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
            ChallengeResponses={"USERNAME": "u", "NEW_PASSWORD": "NewPass1!x"},
        )
    mfa = client.respond_to_auth_challenge(
        ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": "u", "NEW_PASSWORD": "NewPass1!x", "userAttributes.phone_number": "+14325551212"},
    )
    assert mfa["ChallengeName"] == "SMS_MFA"
    assert mfa["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******1212"
