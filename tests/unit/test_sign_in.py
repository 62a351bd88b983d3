"""Sign-in through the public Client: InitiateAuth / AdminInitiateAuth with the
password flows, app-client flow settings, SECRET_HASH, aliases, status rules,
PreventUserExistenceErrors and temporary-password expiry.

Every refusal is checked for its exception class and its exact message, and for
leaving storage unchanged (except the lockout counter a password check writes).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from authflow.adapters import MemoryOutbox
from tests.conftest import START
from tests.helpers import without_lockout
from tests.signin import NEW, TEMP, Env, assert_tokens, refused, secret_hash

EMAIL = "alice@example.com"
PHONE = "+12065554567"


INCORRECT = "Incorrect username or password."
EXPIRED_TEMP = "Temporary password has expired and must be reset by an administrator."
NOT_SUPPORTED = "Initiate Auth method not supported."


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def pool(env) -> str:
    return env.pool()


@pytest.fixture
def app(env, pool) -> dict:
    return env.app(pool)


# -- the happy paths --------------------------------------------------------------------------------


def test_user_password_auth_for_a_confirmed_user_returns_tokens(env, pool, app):
    env.user(pool)
    env.confirm(pool, app["ClientId"])
    assert env.status(pool) == "CONFIRMED"
    assert_tokens(env.initiate(app["ClientId"], "alice", NEW))


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])
def test_admin_flows_for_a_confirmed_user_return_tokens(env, pool, app, flow):
    env.user(pool)
    env.confirm(pool, app["ClientId"])
    assert_tokens(env.admin_initiate(pool, app["ClientId"], "alice", NEW, flow=flow))


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])
def test_temporary_password_yields_new_password_required_on_every_password_flow(env, pool, app, flow):
    env.user(pool)
    for response in (env.initiate(app["ClientId"], "alice", TEMP),
                     env.admin_initiate(pool, app["ClientId"], "alice", TEMP, flow=flow)):
        assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        assert "AuthenticationResult" not in response
        assert response["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
        assert 20 <= len(response["Session"]) <= 4096


# -- flows per operation, flows per app client ----------------------------------------------------------


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])
def test_admin_flows_are_not_accepted_by_initiate_auth(env, pool, app, flow):
    env.user(pool)
    before = env.snapshot()
    refused(env.client.exceptions.InvalidParameterException, NOT_SUPPORTED, env.client.initiate_auth,
            ClientId=app["ClientId"], AuthFlow=flow, AuthParameters={"USERNAME": "alice", "PASSWORD": TEMP})
    assert env.snapshot() == before


def test_user_password_auth_is_not_accepted_by_admin_initiate_auth(env, pool, app):
    env.user(pool)
    before = env.snapshot()
    refused(env.client.exceptions.InvalidParameterException, NOT_SUPPORTED,
            env.admin_initiate, pool, app["ClientId"], "alice", TEMP, flow="USER_PASSWORD_AUTH")
    assert env.snapshot() == before


def test_user_password_auth_not_enabled_on_the_client(env, pool):
    app = env.app(pool, ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    env.user(pool)
    before = env.snapshot()
    refused(env.client.exceptions.InvalidParameterException, "USER_PASSWORD_AUTH flow not enabled for this client",
            env.initiate, app["ClientId"], "alice", TEMP)
    assert env.snapshot() == before


def test_default_client_flows_do_not_include_password_auth(env, pool):
    app = env.client.create_user_pool_client(UserPoolId=pool, ClientName="defaults")["UserPoolClient"]
    env.user(pool)
    refused(env.client.exceptions.InvalidParameterException, "USER_PASSWORD_AUTH flow not enabled for this client",
            env.initiate, app["ClientId"], "alice", TEMP)
    refused(env.client.exceptions.InvalidParameterException, "Auth flow not enabled for this client",
            env.admin_initiate, pool, app["ClientId"], "alice", TEMP)


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])
def test_admin_flow_not_enabled_on_the_client(env, pool, flow):
    app = env.app(pool, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    env.user(pool)
    before = env.snapshot()
    refused(env.client.exceptions.InvalidParameterException, "Auth flow not enabled for this client",
            env.admin_initiate, pool, app["ClientId"], "alice", TEMP, flow=flow)
    assert env.snapshot() == before


@pytest.mark.parametrize("flow", ["USER_SRP_AUTH"])
def test_other_flows_not_enabled_on_the_client_name_the_flow(env, pool, flow):
    app = env.app(pool, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    env.user(pool)
    refused(env.client.exceptions.InvalidParameterException, f"{flow} flow not enabled for this client",
            env.client.initiate_auth, ClientId=app["ClientId"], AuthFlow=flow,
            AuthParameters={"USERNAME": "alice", "SRP_A": "abcd"})


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])
def test_legacy_admin_no_srp_auth_setting_enables_the_admin_flow(env, pool, flow):
    app = env.app(pool, ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH"])
    env.user(pool)
    response = env.admin_initiate(pool, app["ClientId"], "alice", TEMP, flow=flow)
    assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    refused(env.client.exceptions.InvalidParameterException, "USER_PASSWORD_AUTH flow not enabled for this client",
            env.initiate, app["ClientId"], "alice", TEMP)


def test_legacy_user_password_auth_setting_enables_user_password_auth(env, pool):
    app = env.app(pool, ExplicitAuthFlows=["USER_PASSWORD_AUTH"])
    env.user(pool)
    assert env.initiate(app["ClientId"], "alice", TEMP)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    refused(env.client.exceptions.InvalidParameterException, "Auth flow not enabled for this client",
            env.admin_initiate, pool, app["ClientId"], "alice", TEMP)


# -- missing parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "missing"),
    [
        (None, "USERNAME"),
        ({}, "USERNAME"),
        ({"PASSWORD": TEMP}, "USERNAME"),
        ({"USERNAME": "alice"}, "PASSWORD"),
        ({"USERNAME": "alice", "SECRET_HASH": "x"}, "PASSWORD"),
    ],
)
@pytest.mark.parametrize("admin", [False, True])
def test_missing_auth_parameters(env, pool, app, params, missing, admin):
    env.user(pool)
    before = env.snapshot()
    kwargs = {"ClientId": app["ClientId"]}
    if params is not None:
        kwargs["AuthParameters"] = params
    if admin:
        call = env.client.admin_initiate_auth
        kwargs.update(UserPoolId=pool, AuthFlow="ADMIN_USER_PASSWORD_AUTH")
    else:
        call = env.client.initiate_auth
        kwargs.update(AuthFlow="USER_PASSWORD_AUTH")
    refused(env.client.exceptions.InvalidParameterException, f"Missing required parameter {missing}", call, **kwargs)
    assert env.snapshot() == before


# -- unknown clients and pools ------------------------------------------------------------------------------


def test_unknown_client_id(env, pool):
    env.user(pool)
    ghost = "a" * 26
    refused(env.client.exceptions.ResourceNotFoundException, f"User pool client {ghost} does not exist.",
            env.initiate, ghost, "alice", TEMP)
    refused(env.client.exceptions.ResourceNotFoundException, f"User pool client {ghost} does not exist.",
            env.admin_initiate, pool, ghost, "alice", TEMP)


def test_admin_initiate_with_a_client_of_another_pool(env, pool):
    other_pool = env.pool()
    other_app = env.app(other_pool)
    env.user(pool)
    env.user(other_pool)
    before = env.snapshot()
    refused(env.client.exceptions.ResourceNotFoundException,
            f"User pool client {other_app['ClientId']} does not exist.",
            env.admin_initiate, pool, other_app["ClientId"], "alice", TEMP)
    assert env.snapshot() == before


def test_admin_initiate_with_an_unknown_pool(env, pool, app):
    ghost = "us-east-1_nothere00"
    refused(env.client.exceptions.ResourceNotFoundException, f"User pool {ghost} does not exist.",
            env.admin_initiate, ghost, app["ClientId"], "alice", TEMP)


# -- SECRET_HASH ----------------------------------------------------------------------------------------------


@pytest.fixture
def secret_env(env):
    pool = env.pool(AliasAttributes=["email"])
    app = env.app(pool, GenerateSecret=True)
    assert app["ClientSecret"]
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}])
    return env, pool, app


@pytest.mark.parametrize("admin", [False, True])
def test_secret_hash_missing(secret_env, admin):
    env, pool, app = secret_env
    before = env.snapshot()
    message = f"Client {app['ClientId']} is configured for secret but secret was not received"
    call = (lambda: env.admin_initiate(pool, app["ClientId"], "alice", TEMP)) if admin else (
        lambda: env.initiate(app["ClientId"], "alice", TEMP))
    refused(env.client.exceptions.NotAuthorizedException, message, call)
    assert env.snapshot() == before  # not even a counted failure


@pytest.mark.parametrize("admin", [False, True])
def test_secret_hash_wrong(secret_env, admin):
    env, pool, app = secret_env
    before = env.snapshot()
    wrong = secret_hash(app["ClientSecret"], "bob", app["ClientId"])
    message = f"Unable to verify secret hash for client {app['ClientId']}"
    call = (lambda: env.admin_initiate(pool, app["ClientId"], "alice", TEMP, SECRET_HASH=wrong)) if admin else (
        lambda: env.initiate(app["ClientId"], "alice", TEMP, SECRET_HASH=wrong))
    refused(env.client.exceptions.NotAuthorizedException, message, call)
    # a hash made with the wrong secret is wrong too
    other = secret_hash("x" * 51, "alice", app["ClientId"])
    refused(env.client.exceptions.NotAuthorizedException, message,
            env.initiate, app["ClientId"], "alice", TEMP, SECRET_HASH=other)
    assert env.snapshot() == before


def test_secret_hash_checked_for_an_unknown_user_too(secret_env):
    env, _, app = secret_env
    refused(env.client.exceptions.NotAuthorizedException,
            f"Client {app['ClientId']} is configured for secret but secret was not received",
            env.initiate, app["ClientId"], "nobody", TEMP)
    refused(env.client.exceptions.NotAuthorizedException,
            f"Unable to verify secret hash for client {app['ClientId']}",
            env.initiate, app["ClientId"], "nobody", TEMP, SECRET_HASH=secret_hash("x" * 51, "nobody", app["ClientId"]))


@pytest.mark.parametrize("typed", ["alice", EMAIL])
@pytest.mark.parametrize("hashed", ["typed", "canonical"])
def test_secret_hash_over_typed_name_or_canonical_username(secret_env, typed, hashed):
    env, pool, app = secret_env
    name = typed if hashed == "typed" else "alice"
    good = secret_hash(app["ClientSecret"], name, app["ClientId"])
    response = env.initiate(app["ClientId"], typed, TEMP, SECRET_HASH=good)
    assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    response = env.admin_initiate(pool, app["ClientId"], typed, TEMP, SECRET_HASH=good)
    assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_secret_hash_in_the_challenge_answer(secret_env):
    env, pool, app = secret_env
    cid, secret = app["ClientId"], app["ClientSecret"]
    started = env.initiate(cid, EMAIL, TEMP, SECRET_HASH=secret_hash(secret, EMAIL, cid))
    session = started["Session"]

    def answer(**extra):
        return env.client.respond_to_auth_challenge(
            ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
            ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW, **extra},
        )

    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException,
            f"Client {cid} is configured for secret but secret was not received", answer)
    refused(env.client.exceptions.NotAuthorizedException,
            f"Unable to verify secret hash for client {cid}", answer, SECRET_HASH=secret_hash(secret, "bob", cid))
    assert env.snapshot() == before
    done = answer(SECRET_HASH=secret_hash(secret, "alice", cid))  # the canonical name, as pycognito sends it
    assert_tokens(done)
    assert env.status(pool) == "CONFIRMED"


def test_secret_hash_in_the_challenge_answer_over_the_typed_alias(secret_env):
    env, pool, app = secret_env
    cid, secret = app["ClientId"], app["ClientSecret"]
    started = env.admin_initiate(pool, cid, EMAIL, TEMP, SECRET_HASH=secret_hash(secret, EMAIL, cid))
    done = env.client.admin_respond_to_auth_challenge(
        UserPoolId=pool, ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": EMAIL, "NEW_PASSWORD": NEW, "SECRET_HASH": secret_hash(secret, EMAIL, cid)},
    )
    assert_tokens(done)


def test_a_secret_hash_sent_to_a_client_without_secret_is_ignored(env, pool, app):
    env.user(pool)
    response = env.initiate(app["ClientId"], "alice", TEMP, SECRET_HASH="bm90LWEtaGFzaA==")
    assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_a_confirmed_user_with_a_secret_client(secret_env):
    env, pool, app = secret_env
    cid, secret = app["ClientId"], app["ClientSecret"]
    started = env.initiate(cid, "alice", TEMP, SECRET_HASH=secret_hash(secret, "alice", cid))
    env.client.respond_to_auth_challenge(
        ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW, "SECRET_HASH": secret_hash(secret, "alice", cid)},
    )
    assert_tokens(env.initiate(cid, EMAIL, NEW, SECRET_HASH=secret_hash(secret, EMAIL, cid)))
    refused(env.client.exceptions.NotAuthorizedException, f"Unable to verify secret hash for client {cid}",
            env.initiate, cid, EMAIL, NEW, SECRET_HASH=secret_hash(secret, "bob", cid))


# -- aliases and username attributes --------------------------------------------------------------------------


def test_sign_in_with_a_verified_email_alias(env):
    pool = env.pool(AliasAttributes=["email"])
    app = env.app(pool)
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}])
    for response in (env.initiate(app["ClientId"], EMAIL, TEMP), env.admin_initiate(pool, app["ClientId"], EMAIL, TEMP)):
        assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        assert response["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
    env.confirm(pool, app["ClientId"], username=EMAIL)
    assert_tokens(env.initiate(app["ClientId"], EMAIL, NEW))
    assert_tokens(env.initiate(app["ClientId"], "alice", NEW))


def test_an_unverified_email_alias_does_not_sign_in(env):
    pool = env.pool(AliasAttributes=["email"])
    app = env.app(pool)
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}])
    before = env.snapshot()
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.initiate, app["ClientId"], EMAIL, TEMP)
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.admin_initiate, pool, app["ClientId"], EMAIL, TEMP)
    assert env.snapshot() == before
    # the username itself still works
    assert env.initiate(app["ClientId"], "alice", TEMP)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_an_unverified_email_alias_under_prevent_user_existence_errors(env):
    pool = env.pool(AliasAttributes=["email"])
    app = env.app(pool, PreventUserExistenceErrors="ENABLED")
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}])
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, env.initiate, app["ClientId"], EMAIL, TEMP)


def test_sign_in_with_email_in_an_email_username_pool(env):
    pool = env.pool(UsernameAttributes=["email"])
    app = env.app(pool)
    created = env.user(pool, EMAIL)
    canonical = created["Username"]
    assert canonical != EMAIL
    for response in (env.initiate(app["ClientId"], EMAIL, TEMP), env.admin_initiate(pool, app["ClientId"], EMAIL, TEMP)):
        assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        assert response["ChallengeParameters"]["USER_ID_FOR_SRP"] == canonical
    env.confirm(pool, app["ClientId"], username=EMAIL)
    assert env.status(pool, EMAIL) == "CONFIRMED"
    assert_tokens(env.initiate(app["ClientId"], EMAIL, NEW))


def test_user_id_for_srp_is_canonical_in_a_case_insensitive_pool(env):
    pool = env.pool(UsernameConfiguration={"CaseSensitive": False})
    app = env.app(pool)
    env.user(pool, "Alice")
    response = env.initiate(app["ClientId"], "ALICE", TEMP)
    assert response["ChallengeParameters"]["USER_ID_FOR_SRP"] == "Alice"


# -- status rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prevent", ["LEGACY", "ENABLED"])
def test_unconfirmed_user_with_the_right_password(env, pool, prevent):
    app = env.app(pool, PreventUserExistenceErrors=prevent)
    env.user(pool)
    env.place(pool, "alice", status="UNCONFIRMED")
    before = env.snapshot()
    for call in (lambda: env.initiate(app["ClientId"], "alice", TEMP),
                 lambda: env.admin_initiate(pool, app["ClientId"], "alice", TEMP)):
        refused(env.client.exceptions.UserNotConfirmedException, "User is not confirmed.", call)
    assert env.snapshot() == before


def test_unconfirmed_user_with_a_wrong_password(env, pool, app):
    env.user(pool)
    env.place(pool, "alice", status="UNCONFIRMED")
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, env.initiate, app["ClientId"], "alice", "Wrong123!")
    assert without_lockout(env.snapshot()) == without_lockout(before)


def test_reset_required_user_legacy(env, pool, app):
    env.user(pool)
    env.place(pool, "alice", status="RESET_REQUIRED")
    before = env.snapshot()
    refused(env.client.exceptions.PasswordResetRequiredException, "Password reset required for the user",
            env.initiate, app["ClientId"], "alice", TEMP)
    refused(env.client.exceptions.PasswordResetRequiredException, "Password reset required for the user",
            env.admin_initiate, pool, app["ClientId"], "alice", TEMP)
    assert env.snapshot() == before
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, env.initiate, app["ClientId"], "alice", "Wrong123!")


def test_reset_required_user_with_prevent_user_existence_errors(env, pool):
    app = env.app(pool, PreventUserExistenceErrors="ENABLED")
    env.user(pool)
    env.place(pool, "alice", status="RESET_REQUIRED")
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, env.initiate, app["ClientId"], "alice", TEMP)
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT,
            env.admin_initiate, pool, app["ClientId"], "alice", TEMP)
    assert env.snapshot() == before


def test_disabled_user(env, pool, app):
    env.user(pool)
    env.confirm(pool, app["ClientId"])
    env.client.admin_disable_user(UserPoolId=pool, Username="alice")
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "User is disabled.",
            env.initiate, app["ClientId"], "alice", NEW)
    refused(env.client.exceptions.NotAuthorizedException, "User is disabled.",
            env.admin_initiate, pool, app["ClientId"], "alice", NEW)
    assert env.snapshot() == before
    env.client.admin_enable_user(UserPoolId=pool, Username="alice")
    assert_tokens(env.initiate(app["ClientId"], "alice", NEW))


def test_disabled_user_with_a_temporary_password_gets_no_challenge(env, pool, app):
    env.user(pool)
    env.client.admin_disable_user(UserPoolId=pool, Username="alice")
    refused(env.client.exceptions.NotAuthorizedException, "User is disabled.",
            env.initiate, app["ClientId"], "alice", TEMP)


@pytest.mark.parametrize("admin", [False, True])
def test_unknown_user_legacy(env, pool, app, admin):
    env.user(pool)
    before = env.snapshot()
    call = (lambda: env.admin_initiate(pool, app["ClientId"], "nobody", TEMP)) if admin else (
        lambda: env.initiate(app["ClientId"], "nobody", TEMP))
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.", call)
    assert env.snapshot() == before


@pytest.mark.parametrize("admin", [False, True])
def test_unknown_user_is_indistinguishable_from_a_wrong_password_when_enabled(env, pool, admin):
    app = env.app(pool, PreventUserExistenceErrors="ENABLED")
    env.user(pool)
    env.confirm(pool, app["ClientId"])

    def attempt(username):
        if admin:
            return env.admin_initiate(pool, app["ClientId"], username, "Wrong123!")
        return env.initiate(app["ClientId"], username, "Wrong123!")

    unknown = refused(env.client.exceptions.NotAuthorizedException, INCORRECT, attempt, "nobody")
    wrong = refused(env.client.exceptions.NotAuthorizedException, INCORRECT, attempt, "alice")
    assert type(unknown) is type(wrong)
    assert unknown.response["Error"] == wrong.response["Error"]
    assert unknown.message == wrong.message


def test_wrong_password_for_a_confirmed_user(env, pool, app):
    env.user(pool)
    env.confirm(pool, app["ClientId"])
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, env.initiate, app["ClientId"], "alice", TEMP)
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT,
            env.admin_initiate, pool, app["ClientId"], "alice", "Wrong123!")
    assert without_lockout(env.snapshot()) == without_lockout(before)


@pytest.mark.parametrize("admin", [False, True])
def test_a_wrong_temporary_password_never_yields_a_challenge(env, pool, app, admin):
    env.user(pool)
    before = env.snapshot()
    call = (lambda: env.admin_initiate(pool, app["ClientId"], "alice", "Temp1234?")) if admin else (
        lambda: env.initiate(app["ClientId"], "alice", "Temp1234?"))
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, call)
    after = env.snapshot()
    assert without_lockout(after) == without_lockout(before)
    assert after["sessions"] == before["sessions"]  # no challenge session was created
    assert env.status(pool) == "FORCE_CHANGE_PASSWORD"


def test_lockout_after_five_failures(env, pool, app):
    env.user(pool)
    env.confirm(pool, app["ClientId"])
    for _ in range(5):
        refused(env.client.exceptions.NotAuthorizedException, INCORRECT,
                env.initiate, app["ClientId"], "alice", "Wrong123!")
    # locked for 1 s: even the right password is refused
    refused(env.client.exceptions.NotAuthorizedException, "Password attempts exceeded",
            env.initiate, app["ClientId"], "alice", NEW)
    env.clock.advance(timedelta(seconds=1))
    assert_tokens(env.initiate(app["ClientId"], "alice", NEW))


# -- temporary-password expiry -------------------------------------------------------------------------------------


def _expiry_case(env, pool, app, days: int) -> None:
    env.user(pool)
    env.clock.set(START + timedelta(days=days) - timedelta(seconds=1))
    assert env.initiate(app["ClientId"], "alice", TEMP)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    env.clock.set(START + timedelta(days=days))
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, EXPIRED_TEMP, env.initiate, app["ClientId"], "alice", TEMP)
    refused(env.client.exceptions.NotAuthorizedException, EXPIRED_TEMP,
            env.admin_initiate, pool, app["ClientId"], "alice", TEMP)
    assert env.snapshot() == before
    env.clock.advance(timedelta(days=30))
    refused(env.client.exceptions.NotAuthorizedException, EXPIRED_TEMP, env.initiate, app["ClientId"], "alice", TEMP)
    # a wrong password after expiry still gets the generic message
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT,
            env.initiate, app["ClientId"], "alice", "Temp1234?")
    assert env.status(pool) == "FORCE_CHANGE_PASSWORD"


def test_temporary_password_expires_after_seven_days_by_default(env, pool, app):
    _expiry_case(env, pool, app, 7)


def test_temporary_password_validity_days_from_the_password_policy(env):
    pool = env.pool(Policies={"PasswordPolicy": {
        "MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
        "RequireSymbols": True, "TemporaryPasswordValidityDays": 1,
    }})
    _expiry_case(env, pool, env.app(pool), 1)


def test_legacy_unused_account_validity_days(env):
    pool = env.pool(AdminCreateUserConfig={"UnusedAccountValidityDays": 2})
    _expiry_case(env, pool, env.app(pool), 2)


def test_a_session_opened_inside_the_window_stays_answerable(env, pool, app):
    """The window is checked when the password is proved; the session then lives its own life [U]."""
    env.user(pool)
    env.clock.set(START + timedelta(days=7) - timedelta(seconds=30))
    started = env.initiate(app["ClientId"], "alice", TEMP)
    env.clock.advance(timedelta(seconds=60))
    done = env.client.respond_to_auth_challenge(
        ClientId=app["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW},
    )
    assert_tokens(done)


def _invitation_password(outbox: MemoryOutbox) -> str:
    match = re.fullmatch(r"Your username is alice and temporary password is (.+)\. ", outbox.last().body)
    assert match
    return match.group(1)


def test_resend_with_a_generated_password_makes_sign_in_possible_again(env):
    pool = env.pool(AliasAttributes=["email"])
    app = env.app(pool)
    env.user(pool, password=None, MessageAction=None, DesiredDeliveryMediums=["EMAIL"],
             attributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}])
    first = _invitation_password(env.outbox)
    env.clock.advance(timedelta(days=8))
    refused(env.client.exceptions.NotAuthorizedException, EXPIRED_TEMP, env.initiate, app["ClientId"], "alice", first)
    env.client.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="RESEND",
                                 DesiredDeliveryMediums=["EMAIL"])
    assert len(env.outbox.messages) == 2
    assert env.outbox.last().destination == EMAIL
    second = _invitation_password(env.outbox)
    assert second != first
    # the old temporary password is gone, the new one works for a fresh window
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, env.initiate, app["ClientId"], "alice", first)
    env.clock.advance(timedelta(days=7) - timedelta(seconds=1))
    response = env.initiate(app["ClientId"], "alice", second)
    assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_resend_with_a_given_password_makes_sign_in_possible_again(env, pool, app):
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}])
    env.clock.advance(timedelta(days=7))
    refused(env.client.exceptions.NotAuthorizedException, EXPIRED_TEMP, env.initiate, app["ClientId"], "alice", TEMP)
    env.client.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="RESEND",
                                 TemporaryPassword="Again123!", DesiredDeliveryMediums=["EMAIL"])
    started = env.initiate(app["ClientId"], "alice", "Again123!")
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    done = env.client.respond_to_auth_challenge(
        ClientId=app["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW},
    )
    assert_tokens(done)
    assert env.status(pool) == "CONFIRMED"


def test_a_confirmed_user_never_expires(env, pool, app):
    env.user(pool)
    env.confirm(pool, app["ClientId"])
    env.clock.advance(timedelta(days=400))
    assert_tokens(env.initiate(app["ClientId"], "alice", NEW))
