"""AdminSetUserPassword, AdminResetUserPassword, AdminConfirmSignUp, ChangePassword,
DeleteUser and DeleteUserAttributes through the public Client.

Each refusal is checked for its exception class, its exact message, and for leaving
storage unchanged (ChangePassword's wrong previous password excepted: it counts a
failure toward the lockout, as a wrong password at sign-in does).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import without_lockout
from tests.signin import NEW, TEMP, Env, assert_tokens, refused

EMAIL = "alice@example.com"
VERIFIED_EMAIL = [{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}]
OTHER = "Other1!pass"
INCORRECT = "Incorrect username or password."
CANNOT_RESET = "User password cannot be reset in the current state."
NO_CONTACT = "Cannot reset password for the user as there is no registered/verified email or phone_number"
UNAUTHORIZED_ATTRIBUTE = "A client attempted to write unauthorized attribute"
LOCKED = "Password attempts exceeded"


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def pool(env) -> str:
    return env.pool(AliasAttributes=["email"])


@pytest.fixture
def app(env, pool) -> str:
    return env.app_id(pool)


def signed_in(env: Env, pool: str, app: str, attributes=VERIFIED_EMAIL) -> dict:
    """A CONFIRMED user `alice` (password NEW) and the tokens of her first sign-in."""
    env.user(pool, attributes=attributes)
    return env.confirm(pool, app)["AuthenticationResult"]


def body(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def sign_in(env: Env, app: str, password: str) -> dict:
    return env.initiate(app, "alice", password)


# -- AdminSetUserPassword ------------------------------------------------------------------------


def test_set_permanent_password_confirms_a_new_user(env, pool, app):
    env.user(pool)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=OTHER, Permanent=True)
    assert env.status(pool) == "CONFIRMED"
    assert_tokens(sign_in(env, app, OTHER))
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, sign_in, env, app, TEMP)


@pytest.mark.parametrize("status", ["UNCONFIRMED", "RESET_REQUIRED", "EXTERNAL_PROVIDER", "CONFIRMED"])
def test_set_permanent_password_from_each_status(env, pool, app, status):
    env.user(pool)
    env.place(pool, "alice", status=status)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=OTHER, Permanent=True)
    assert env.status(pool) == "CONFIRMED"
    assert_tokens(sign_in(env, app, OTHER))


def test_set_temporary_password_forces_a_change_with_a_new_window(env, pool, app):
    signed_in(env, pool, app)
    env.clock.advance(timedelta(days=6))
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=OTHER)  # Permanent defaults false
    assert env.status(pool) == "FORCE_CHANGE_PASSWORD"
    env.clock.advance(timedelta(days=6, hours=23))  # 13 days after creation, inside the new 7-day window
    assert sign_in(env, app, OTHER)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    env.clock.advance(timedelta(hours=1))
    refused(env.client.exceptions.NotAuthorizedException,
            "Temporary password has expired and must be reset by an administrator.", sign_in, env, app, OTHER)


def test_set_temporary_password_makes_a_pending_new_password_session_stale(env, pool, app):
    env.user(pool)
    started = env.admin_initiate(pool, app)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=OTHER)
    refused(env.client.exceptions.NotAuthorizedException, "Invalid session for the user.",
            env.admin_respond, pool, app, started["Session"], {"USERNAME": "alice", "NEW_PASSWORD": NEW})


def test_set_password_keeps_the_users_tokens(env, pool, app):
    tokens = signed_in(env, pool, app)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=OTHER, Permanent=True)
    assert env.client.get_user(AccessToken=tokens["AccessToken"])["Username"] == "alice"
    refreshed = env.client.initiate_auth(
        ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]}
    )
    assert refreshed["AuthenticationResult"]["AccessToken"]


@pytest.mark.parametrize(("password", "reason"), [
    ("Sh0rt!", "Password not long enough"),
    ("nouppercase1!", "Password must have uppercase characters"),
    ("NOLOWERCASE1!", "Password must have lowercase characters"),
    ("NoNumbers!!", "Password must have numeric characters"),
    ("NoSymbols123", "Password must have symbol characters"),
])
def test_set_password_policy(env, pool, password, reason):
    env.user(pool)
    before = env.snapshot()
    refused(env.client.exceptions.InvalidPasswordException,
            f"Password did not conform with password policy: {reason}",
            env.client.admin_set_user_password, UserPoolId=pool, Username="alice", Password=password, Permanent=True)
    assert env.snapshot() == before


def test_set_password_errors(env, pool):
    env.user(pool)
    env.place(pool, "alice", status="COMPROMISED")
    before = env.snapshot()
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.admin_set_user_password, UserPoolId=pool, Username="ghost", Password=OTHER, Permanent=True)
    refused(env.client.exceptions.NotAuthorizedException, CANNOT_RESET,
            env.client.admin_set_user_password, UserPoolId=pool, Username="alice", Password=OTHER, Permanent=True)
    refused(env.client.exceptions.ResourceNotFoundException, "User pool us-east-1_nothere1 does not exist.",
            env.client.admin_set_user_password, UserPoolId="us-east-1_nothere1", Username="alice", Password=OTHER)
    assert env.snapshot() == before


# -- AdminResetUserPassword ------------------------------------------------------------------------


def test_reset_requires_a_reset_before_signing_in(env, pool, app):
    tokens = signed_in(env, pool, app)
    env.client.admin_reset_user_password(UserPoolId=pool, Username="alice")
    assert env.status(pool) == "RESET_REQUIRED"
    refused(env.client.exceptions.PasswordResetRequiredException, "Password reset required for the user",
            sign_in, env, app, NEW)
    refused(env.client.exceptions.PasswordResetRequiredException, "Password reset required for the user",
            env.client.initiate_auth, ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    env.client.admin_reset_user_password(UserPoolId=pool, Username="alice")  # again: stays
    assert env.status(pool) == "RESET_REQUIRED"
    # An administrator may also set the new password instead of the user (ConfirmForgotPassword).
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=OTHER, Permanent=True)
    assert_tokens(sign_in(env, app, OTHER))


@pytest.mark.parametrize(("attributes", "recovery", "ok"), [
    ([{"Name": "email", "Value": EMAIL}], None, False),  # not verified
    ([], None, False),
    ([{"Name": "phone_number", "Value": "+12065554567"}, {"Name": "phone_number_verified", "Value": "true"}],
     None, True),
    (VERIFIED_EMAIL, [{"Priority": 1, "Name": "admin_only"}], False),
    (VERIFIED_EMAIL, [{"Priority": 1, "Name": "verified_phone_number"}], False),
    (VERIFIED_EMAIL, [{"Priority": 1, "Name": "verified_phone_number"}, {"Priority": 2, "Name": "verified_email"}],
     True),
])
def test_reset_needs_a_verified_recovery_contact(env, attributes, recovery, ok):
    kwargs = {"AccountRecoverySetting": {"RecoveryMechanisms": recovery}} if recovery else {}
    pool = env.pool(**kwargs)
    app = env.app_id(pool)
    signed_in(env, pool, app, attributes=attributes)
    before = env.snapshot()
    if ok:
        env.client.admin_reset_user_password(UserPoolId=pool, Username="alice")
        assert env.status(pool) == "RESET_REQUIRED"
        return
    refused(env.client.exceptions.InvalidParameterException, NO_CONTACT,
            env.client.admin_reset_user_password, UserPoolId=pool, Username="alice")
    assert env.snapshot() == before


def test_reset_errors(env, pool):
    env.user(pool, attributes=VERIFIED_EMAIL)  # FORCE_CHANGE_PASSWORD
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, CANNOT_RESET,
            env.client.admin_reset_user_password, UserPoolId=pool, Username="alice")
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.admin_reset_user_password, UserPoolId=pool, Username="ghost")
    env.place(pool, "alice", status="UNCONFIRMED")
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, CANNOT_RESET,
            env.client.admin_reset_user_password, UserPoolId=pool, Username="alice")
    assert env.snapshot() == before


# -- AdminConfirmSignUp ------------------------------------------------------------------------------


def test_admin_confirm_sign_up(env, pool, app):
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}])
    env.place(pool, "alice", status="UNCONFIRMED")
    env.client.admin_confirm_sign_up(UserPoolId=pool, Username="alice")
    assert env.status(pool) == "CONFIRMED"
    assert "email_verified" not in env.attributes(pool)  # confirming verifies nothing


@pytest.mark.parametrize("status", ["CONFIRMED", "FORCE_CHANGE_PASSWORD", "RESET_REQUIRED"])
def test_admin_confirm_sign_up_refuses_other_statuses(env, pool, status):
    env.user(pool)
    env.place(pool, "alice", status=status)
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, f"User cannot be confirmed. Current status is {status}",
            env.client.admin_confirm_sign_up, UserPoolId=pool, Username="alice")
    assert env.snapshot() == before


def test_admin_confirm_sign_up_unknown_user(env, pool):
    before = env.snapshot()
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.admin_confirm_sign_up, UserPoolId=pool, Username="ghost")
    assert env.snapshot() == before


# -- ChangePassword --------------------------------------------------------------------------------------


def change(env: Env, tokens: dict, previous: str | None = NEW, proposed: str = OTHER) -> dict:
    kwargs = {"PreviousPassword": previous} if previous is not None else {}
    return env.client.change_password(AccessToken=tokens["AccessToken"], ProposedPassword=proposed, **kwargs)


def test_change_password(env, pool, app):
    tokens = signed_in(env, pool, app)
    assert body(change(env, tokens)) == {}
    assert env.status(pool) == "CONFIRMED"
    assert_tokens(sign_in(env, app, OTHER))
    refused(env.client.exceptions.NotAuthorizedException, INCORRECT, sign_in, env, app, NEW)
    assert env.client.get_user(AccessToken=tokens["AccessToken"])["Username"] == "alice"  # tokens stay


def test_change_password_wrong_previous_counts_toward_the_lockout(env, pool, app):
    tokens = signed_in(env, pool, app)
    before = env.snapshot()
    for _ in range(5):
        refused(env.client.exceptions.NotAuthorizedException, INCORRECT, change, env, tokens, "Wrong1!pass")
    assert without_lockout(env.snapshot()) == without_lockout(before)
    # The fifth failure locks the user for a second: sign-in and ChangePassword alike.
    refused(env.client.exceptions.NotAuthorizedException, LOCKED, change, env, tokens)
    refused(env.client.exceptions.NotAuthorizedException, LOCKED, sign_in, env, app, NEW)
    env.clock.advance(timedelta(seconds=1))
    change(env, tokens)
    assert_tokens(sign_in(env, app, OTHER))


def test_change_password_policy_changes_nothing(env, pool, app):
    tokens = signed_in(env, pool, app)
    before = env.snapshot()
    refused(env.client.exceptions.InvalidPasswordException,
            "Password did not conform with policy: Password must have numeric characters",
            change, env, tokens, NEW, "NoNumbers!!")
    refused(env.client.exceptions.InvalidParameterException, "Missing required parameter PreviousPassword",
            change, env, tokens, None)
    assert env.snapshot() == before  # nothing counted either: the previous password was never compared


def test_change_password_token_errors(env, pool, app):
    tokens = signed_in(env, pool, app)
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "Invalid Access Token",
            change, env, {"AccessToken": "not.a.token"})
    refused(env.client.exceptions.NotAuthorizedException, "Invalid Access Token",
            change, env, {"AccessToken": tokens["IdToken"]})
    assert env.snapshot() == before
    env.client.global_sign_out(AccessToken=tokens["AccessToken"])
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "Access Token has been revoked", change, env, tokens)
    assert env.snapshot() == before


@pytest.mark.parametrize(("status", "error", "message"), [
    ("RESET_REQUIRED", "PasswordResetRequiredException", "Password reset required for the user"),
    ("UNCONFIRMED", "UserNotConfirmedException", "User is not confirmed."),
    ("FORCE_CHANGE_PASSWORD", "NotAuthorizedException", "User password cannot be changed in the current state."),
])
def test_change_password_status_errors(env, pool, app, status, error, message):
    tokens = signed_in(env, pool, app)
    env.place(pool, "alice", status=status)
    before = env.snapshot()
    refused(getattr(env.client.exceptions, error), message, change, env, tokens)
    assert env.snapshot() == before


# -- DeleteUser ------------------------------------------------------------------------------------------


def test_delete_user(env, pool, app):
    tokens = signed_in(env, pool, app)
    assert body(env.client.delete_user(AccessToken=tokens["AccessToken"])) == {}
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.admin_get_user, UserPoolId=pool, Username="alice")
    refresh = {"REFRESH_TOKEN": tokens["RefreshToken"]}
    refused(env.client.exceptions.NotAuthorizedException, "Invalid Refresh Token",
            env.client.initiate_auth, ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=refresh)
    # A new user with the same name and email does not inherit the old refresh tokens.
    signed_in(env, pool, app)
    refused(env.client.exceptions.NotAuthorizedException, "Invalid Refresh Token",
            env.client.initiate_auth, ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=refresh)
    with pytest.raises((env.client.exceptions.UserNotFoundException, env.client.exceptions.NotAuthorizedException)):
        env.client.get_user(AccessToken=tokens["AccessToken"])


def test_change_password_with_the_token_of_a_deleted_user_is_an_invalid_token(env, pool, app):
    # Reference §3.18 [O]: ChangePassword says "Invalid Access Token"; GetUser keeps UserNotFound.
    tokens = signed_in(env, pool, app)
    env.client.admin_delete_user(UserPoolId=pool, Username="alice")
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "Invalid Access Token",
            env.client.change_password, AccessToken=tokens["AccessToken"],
            PreviousPassword=NEW, ProposedPassword="Another-pass-7")
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.get_user, AccessToken=tokens["AccessToken"])
    assert env.snapshot() == before


def test_delete_user_refused_changes_nothing(env, pool, app):
    tokens = signed_in(env, pool, app)
    env.client.global_sign_out(AccessToken=tokens["AccessToken"])
    before = env.snapshot()
    refused(env.client.exceptions.NotAuthorizedException, "Access Token has been revoked",
            env.client.delete_user, AccessToken=tokens["AccessToken"])
    refused(env.client.exceptions.NotAuthorizedException, "Invalid Access Token",
            env.client.delete_user, AccessToken="not.a.token")
    assert env.snapshot() == before
    assert env.status(pool) == "CONFIRMED"


# -- DeleteUserAttributes ----------------------------------------------------------------------------------


def test_delete_user_attributes(env, pool, app):
    tokens = signed_in(env, pool, app, attributes=[*VERIFIED_EMAIL, {"Name": "nickname", "Value": "al"}])
    env.client.delete_user_attributes(AccessToken=tokens["AccessToken"], UserAttributeNames=["nickname", "email"])
    left = env.attributes(pool)
    assert "nickname" not in left and "email" not in left and "email_verified" not in left
    refused(env.client.exceptions.UserNotFoundException, "User does not exist.",
            env.client.admin_get_user, UserPoolId=pool, Username=EMAIL)  # the alias went with it


def test_delete_user_attributes_errors(env):
    pool = env.pool(Schema=[{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True}])
    app = env.app_id(pool, WriteAttributes=["email", "nickname"])
    tokens = signed_in(env, pool, app, attributes=[*VERIFIED_EMAIL, {"Name": "name", "Value": "Alice"}])
    before = env.snapshot()

    def delete(*names):
        return env.client.delete_user_attributes(AccessToken=tokens["AccessToken"], UserAttributeNames=list(names))

    refused(env.client.exceptions.InvalidParameterException,
            "Attributes did not conform to the schema: email: The attribute is required\n", delete, "email")
    refused(env.client.exceptions.NotAuthorizedException, UNAUTHORIZED_ATTRIBUTE, delete, "name")  # not writable
    refused(env.client.exceptions.NotAuthorizedException, UNAUTHORIZED_ATTRIBUTE, delete, "email_verified")
    refused(env.client.exceptions.NotAuthorizedException, UNAUTHORIZED_ATTRIBUTE, delete, "sub")
    refused(env.client.exceptions.InvalidParameterException,
            "Attributes did not conform to the schema: Type for attribute {custom:nope} could not be determined",
            delete, "custom:nope")
    refused(env.client.exceptions.NotAuthorizedException, "Invalid Access Token",
            env.client.delete_user_attributes, AccessToken="not.a.token", UserAttributeNames=["nickname"])
    assert env.snapshot() == before
