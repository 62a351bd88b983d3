"""The exhaustive table test of the user lifecycle: for every (status, trigger) pair,
driving the engine through the public Client either moves the user to the status
the spec names or raises a CognitoError and changes nothing."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from authflow.adapters import MemoryOutbox
from authflow.core.lifecycle import IllegalTransition, user_lifecycle
from authflow.errors import CognitoError
from tests.conftest import make_client

MACHINE = user_lifecycle()
PASSWORD = "Temp1234!"
NEW_PASSWORD = "NewPass1!x"
#: The guards hold in this test's set-up: a fresh temporary password, a good new
#: password, no required attributes missing.
FACTS = {"temporary_password_valid": True, "password_meets_policy": True, "required_attributes_present": True}


def _outbox(client) -> MemoryOutbox:
    """The client's outbox (tests/unit/test_invariants.py drives through a stand-in that
    keeps the real client on its Checker)."""
    outbox = vars(client).get("messenger") or vars(client)["_checker"].client.messenger
    assert isinstance(outbox, MemoryOutbox)
    return outbox


def drive(client, pool, trigger, client_id, refresh_token, access_token="not-an-access-token"):
    """The public operation behind each trigger (the tokens: the user's, from a sign-in)."""
    if trigger == "sign_in":
        return client.admin_initiate_auth(
            UserPoolId=pool, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "u", "PASSWORD": PASSWORD},
        )
    if trigger == "complete_new_password":
        started = client.admin_initiate_auth(
            UserPoolId=pool, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "u", "PASSWORD": PASSWORD},
        )
        return client.admin_respond_to_auth_challenge(
            UserPoolId=pool, ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=started.get("Session", "no-session-was-issued-x"),
            ChallengeResponses={"USERNAME": "u", "NEW_PASSWORD": NEW_PASSWORD},
        )
    if trigger == "refresh_tokens":
        return client.admin_initiate_auth(
            UserPoolId=pool, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
    if trigger == "sign_out":
        return client.admin_user_global_sign_out(UserPoolId=pool, Username="u")
    if trigger == "set_mfa_preference":
        return client.admin_set_user_mfa_preference(UserPoolId=pool, Username="u", SMSMfaSettings={"Enabled": False})
    if trigger == "admin_create":
        return client.admin_create_user(UserPoolId=pool, Username="u", MessageAction="SUPPRESS")
    if trigger == "resend_invitation":
        return client.admin_create_user(UserPoolId=pool, Username="u", MessageAction="RESEND", DesiredDeliveryMediums=["EMAIL"])
    if trigger == "disable":
        return client.admin_disable_user(UserPoolId=pool, Username="u")
    if trigger == "enable":
        return client.admin_enable_user(UserPoolId=pool, Username="u")
    if trigger == "update_attributes":
        return client.admin_update_user_attributes(
            UserPoolId=pool, Username="u", UserAttributes=[{"Name": "nickname", "Value": "n"}]
        )
    if trigger == "lose_alias":  # another user takes the verified email with ForceAliasCreation
        return client.admin_create_user(
            UserPoolId=pool,
            Username="other",
            UserAttributes=[{"Name": "email", "Value": "u@example.com"}, {"Name": "email_verified", "Value": "true"}],
            ForceAliasCreation=True,
            MessageAction="SUPPRESS",
        )
    if trigger == "delete":
        return client.admin_delete_user(UserPoolId=pool, Username="u")
    if trigger in ("set_password", "set_temporary_password"):
        return client.admin_set_user_password(
            UserPoolId=pool, Username="u", Password=NEW_PASSWORD, Permanent=trigger == "set_password"
        )
    if trigger == "reset_password":
        return client.admin_reset_user_password(UserPoolId=pool, Username="u")
    if trigger == "forgot_password":
        return client.forgot_password(ClientId=client_id, Username="u")
    if trigger == "confirm_forgot_password":  # a code first, where the user may have one
        try:
            client.forgot_password(ClientId=client_id, Username="u")
            code = re.search(r"\d{6}", _outbox(client).last().body).group()
        except CognitoError:
            code = "000000"
        return client.confirm_forgot_password(
            ClientId=client_id, Username="u", ConfirmationCode=code, Password=NEW_PASSWORD
        )
    if trigger == "sign_up":
        return client.sign_up(
            ClientId=client_id, Username="u", Password=NEW_PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "u@example.com"}],
        )
    if trigger == "resend_confirmation":
        return client.resend_confirmation_code(ClientId=client_id, Username="u")
    if trigger == "confirm_sign_up":  # a code first, where the user may have one
        try:
            client.resend_confirmation_code(ClientId=client_id, Username="u")
            code = re.search(r"\d{6}", _outbox(client).last().body).group()
        except CognitoError:
            code = "000000"
        return client.confirm_sign_up(ClientId=client_id, Username="u", ConfirmationCode=code)
    if trigger == "admin_confirm":
        return client.admin_confirm_sign_up(UserPoolId=pool, Username="u")
    if trigger == "change_password":
        return client.change_password(
            AccessToken=access_token, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD
        )
    if trigger == "request_attribute_code":
        return client.get_user_attribute_verification_code(AccessToken=access_token, AttributeName="email")
    if trigger == "verify_attribute":  # a code first, where the user may have one
        try:
            client.get_user_attribute_verification_code(AccessToken=access_token, AttributeName="email")
            code = re.search(r"\d{6}", _outbox(client).last().body).group()
        except CognitoError:
            code = "000000"
        return client.verify_user_attribute(AccessToken=access_token, AttributeName="email", Code=code)
    raise AssertionError(f"no public operation drives {trigger}")


def place(client, pool, status):
    """Put the user in `status` directly in the store (the state under test)."""
    with client.store.transaction() as tx:
        user = tx.get_user(pool, "u")
        tx.put_user(replace(user, status=status, version=user.version + 1))


def status_of(client, pool):
    try:
        return client.admin_get_user(UserPoolId=pool, Username="u")["UserStatus"]
    except client.exceptions.UserNotFoundException:
        return "ABSENT"


# An absent user holds no alias, so "lose_alias" cannot be driven for it: the
# operation that would take the alias acts on another user only.
# A federated sign-in names its user <Provider>_<subject> and needs an identity provider
# answering over HTTP: tests/unit/test_federation.py holds its table.
PAIRS = [(s, t) for s in MACHINE.states for t in MACHINE.triggers
         if (s, t) != ("ABSENT", "lose_alias") and t != "federated_sign_in"]


@pytest.mark.parametrize(("status", "trigger"), PAIRS)
def test_every_status_and_trigger(status, trigger):
    client = make_client()
    # AutoVerifiedAttributes: so that confirmation codes exist (confirm_sign_up, resend_confirmation).
    pool = client.create_user_pool(PoolName="t", AliasAttributes=["email"], AutoVerifiedAttributes=["email"])[
        "UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    refresh_token, access_token = "not-a-refresh-token", "not-an-access-token"
    if status != "ABSENT":
        client.admin_create_user(
            UserPoolId=pool,
            Username="u",
            TemporaryPassword=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "u@example.com"}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
        if trigger in ("refresh_tokens", "change_password", "request_attribute_code", "verify_attribute"):
            # tokens from a completed sign-in
            place(client, pool, "CONFIRMED")
            tokens = drive(client, pool, "sign_in", client_id, None)["AuthenticationResult"]
            refresh_token, access_token = tokens["RefreshToken"], tokens["AccessToken"]
        place(client, pool, status)
    before = client.store.snapshot()
    try:
        expected = MACHINE.next_status(status, trigger, FACTS)
    except IllegalTransition:
        expected = None
    try:
        drive(client, pool, trigger, client_id, refresh_token, access_token)
    except CognitoError:
        assert expected is None, f"{trigger} from {status} should move to {expected}"
        after = client.store.snapshot()
        assert after.users[pool].by_key == before.users[pool].by_key
        return
    assert expected is not None, f"{trigger} from {status} is not in the spec but succeeded"
    assert status_of(client, pool) == expected
