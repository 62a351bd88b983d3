"""Groups and TOTP MFA over HTTP: boto3 against `authflow serve` (issue 19).

Groups: CreateGroup / GetGroup / UpdateGroup / DeleteGroup, ListGroups, ListUsersInGroup and
AdminListGroupsForUser paged by hand and by boto3's own paginators, membership changes, and
`cognito:groups` / `cognito:roles` / `cognito:preferred_role` in tokens checked with pyjwt
against the JWKS the server publishes (not with authflow's verifier). TOTP:
SetUserPoolMfaConfig, AssociateSoftwareToken -> VerifySoftwareToken -> SetUserMFAPreference ->
a sign-in answered with SOFTWARE_TOKEN_MFA through both operation pairs, and the MFA_SETUP
chain (Session -> AssociateSoftwareToken -> VerifySoftwareToken -> RespondToAuthChallenge).
Bad input gets Cognito's errors and changes nothing: the store is compared whole, and the
Get*/List* calls a client would make show the same.

Codes come from pyotp, never from authflow's TOTP code. The test server's clock is a manual
clock started at the real time (tests/http.py), so a code is pyotp's code for the server's
`now`, and "the next 30-second step" is reached by moving that clock, not by waiting: a code
is accepted once, so the verify code and the sign-in code must come from different steps.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import httpx
import jwt
import pyotp
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from tests.helpers import store_contents
from tests.http import KEY_ID, REGION, SECRET, serving

PASSWORD = "A-good-pass-1"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
ADMINS_ROLE = "arn:aws:iam::123456789012:role/admins"
EDITORS_ROLE = "arn:aws:iam::123456789012:role/editors"
STEP = 30
TARGET = "AWSCognitoIdentityProviderService."

USED_ONCE = "Your software token has already been used once."
WRONG_CODE = "Invalid code received for user."
NOT_ASSOCIATED = "Software Token MFA has not been associated for the user."
NO_TOTP_DELIVERY = "User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA"
INVALID_SESSION = "Invalid session for the user."
USED_SESSION = "Invalid session for the user, session can only be used once."


# -- helpers --------------------------------------------------------------------------------------


def lax(server):
    """A signed boto3 client without boto3's own parameter validation, so that input boto3
    would refuse client-side (a negative precedence, a 5-digit code) reaches the server."""
    return boto3.session.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=REGION).client(
        "cognito-idp", endpoint_url=server.url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False))


def validation(member: str, value, constraint: str) -> str:
    shown = "" if value is None else f" '{value}'"  # sensitive members (UserCode) are not echoed
    return f"1 validation error detected: Value{shown} at '{member}' failed to satisfy constraint: Member must {constraint}"


def refused(server, call, code: str, message: str) -> None:
    """`call` is answered 400 with `code` and exactly `message`, and the store (groups,
    memberships, users and their MFA state included) is exactly as it was."""
    before = store_contents(server.client.store)
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (code, message)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert store_contents(server.client.store) == before


def strip(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def code_now(server, secret: str, steps: int = 0) -> str:
    """What the authenticator app shows at the server's `now` (pyotp, RFC 6238)."""
    return pyotp.TOTP(secret).at(int(server.clock.now().timestamp()) + STEP * steps)


def next_step(server, secret: str) -> str:
    """Moves the server's clock to the start of the next 30-second step; that step's code."""
    now = int(server.clock.now().timestamp())
    server.clock.advance(timedelta(seconds=STEP - now % STEP))
    return code_now(server, secret)


def wrong_code(server, secret: str) -> str:
    """Six digits that are no code of the steps the server accepts now."""
    accepted = {code_now(server, secret, s) for s in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


def verified(server, pool_id: str, client_id: str, token: str, use: str) -> dict:
    """The token's claims, its signature checked with pyjwt against the pool's JWKS as
    served over HTTP. The leeway covers how far the test has moved the server's clock ahead
    of the real time (pyjwt refuses an `iat` in its future)."""
    key = jwt.PyJWKClient(f"{server.url}/{pool_id}/.well-known/jwks.json").get_signing_key_from_jwt(token).key
    ahead = max(0.0, (server.clock.now() - datetime.now(timezone.utc)).total_seconds())
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    if use == "id":
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=client_id, issuer=issuer, leeway=ahead + 5)
    else:
        claims = jwt.decode(token, key, algorithms=["RS256"], issuer=issuer, leeway=ahead + 5,
                            options={"verify_aud": False})
        assert claims["client_id"] == client_id
    assert claims["token_use"] == use
    return claims


class Pool:
    """A pool, an app client (no secret) and CONFIRMED users, made over HTTP with boto3."""

    def __init__(self, server, users=("alice",), **pool_kwargs) -> None:
        self.server = server
        self.api = server.boto3()
        self.id = self.api.create_user_pool(PoolName="pool", **pool_kwargs)["UserPool"]["Id"]
        self.client_id = self.api.create_user_pool_client(
            UserPoolId=self.id, ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
        for name in users:
            self.user(name)

    def user(self, name: str, **kwargs) -> None:
        self.api.admin_create_user(UserPoolId=self.id, Username=name, MessageAction="SUPPRESS", **kwargs)
        self.api.admin_set_user_password(UserPoolId=self.id, Username=name, Password=PASSWORD, Permanent=True)

    def sign_in(self, name: str = "alice") -> dict:
        return self.api.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})

    def admin_sign_in(self, name: str = "alice") -> dict:
        return self.api.admin_initiate_auth(UserPoolId=self.id, ClientId=self.client_id,
                                            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})

    def tokens(self, name: str = "alice") -> dict:
        return self.sign_in(name)["AuthenticationResult"]

    def answer_totp(self, started: dict, code: str, name: str = "alice") -> dict:
        return self.api.respond_to_auth_challenge(
            ClientId=self.client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=started["Session"],
            ChallengeResponses={"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": code})

    def claims(self, result: dict) -> tuple[dict, dict]:
        return (verified(self.server, self.id, self.client_id, result["IdToken"], "id"),
                verified(self.server, self.id, self.client_id, result["AccessToken"], "access"))

    def refresh(self, result: dict) -> dict:
        return self.api.initiate_auth(ClientId=self.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                      AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})["AuthenticationResult"]

    def mfa(self, name: str = "alice") -> dict:
        """The MFA members of AdminGetUser (absent ones left out)."""
        user = self.api.admin_get_user(UserPoolId=self.id, Username=name)
        return {k: user[k] for k in ("UserMFASettingList", "PreferredMfaSetting") if k in user}


def group_names(groups: list[dict]) -> list[str]:
    return [g["GroupName"] for g in groups]


# -- groups ---------------------------------------------------------------------------------------


def test_groups_end_to_end_with_claims_checked_against_the_jwks():
    with serving() as server:
        pool = Pool(server, users=("alice", "bob", "carol"))
        api = pool.api
        created = strip(api.create_group(UserPoolId=pool.id, GroupName="admins", Description="Admins",
                                         RoleArn=ADMINS_ROLE, Precedence=1))["Group"]
        assert set(created) == {"GroupName", "UserPoolId", "Description", "RoleArn", "Precedence",
                                "LastModifiedDate", "CreationDate"}
        assert isinstance(created["CreationDate"], datetime)  # epoch seconds on the wire, parsed by boto3
        assert created["CreationDate"] == created["LastModifiedDate"] == server.clock.now()
        api.create_group(UserPoolId=pool.id, GroupName="editors", RoleArn=EDITORS_ROLE, Precedence=5)
        bare = api.create_group(UserPoolId=pool.id, GroupName="readers", RoleArn=EDITORS_ROLE)["Group"]
        assert "Precedence" not in bare and "Description" not in bare  # unset members are omitted
        api.create_group(UserPoolId=pool.id, GroupName="viewers", Description="Viewers", Precedence=5)
        assert api.get_group(UserPoolId=pool.id, GroupName="admins")["Group"] == created

        # ListGroups: by name, in pages by hand and by boto3's paginator.
        first = api.list_groups(UserPoolId=pool.id, Limit=3)
        assert group_names(first["Groups"]) == ["admins", "editors", "readers"]
        rest = api.list_groups(UserPoolId=pool.id, Limit=3, NextToken=first["NextToken"])
        assert group_names(rest["Groups"]) == ["viewers"] and "NextToken" not in rest
        pages = list(api.get_paginator("list_groups").paginate(UserPoolId=pool.id, PaginationConfig={"PageSize": 1}))
        assert [group_names(p["Groups"]) for p in pages] == [["admins"], ["editors"], ["readers"], ["viewers"]]

        for group in ("admins", "editors", "readers", "viewers"):
            api.admin_add_user_to_group(UserPoolId=pool.id, Username="alice", GroupName=group)
        api.admin_add_user_to_group(UserPoolId=pool.id, Username="alice", GroupName="admins")  # again: no change
        for name in ("carol", "bob"):
            api.admin_add_user_to_group(UserPoolId=pool.id, Username=name, GroupName="readers")

        members = api.list_users_in_group(UserPoolId=pool.id, GroupName="readers", Limit=2)
        assert [u["Username"] for u in members["Users"]] == ["alice", "bob"]
        assert members["Users"][0]["UserStatus"] == "CONFIRMED" and members["Users"][0]["Enabled"] is True
        more = api.list_users_in_group(UserPoolId=pool.id, GroupName="readers", Limit=2,
                                       NextToken=members["NextToken"])
        assert [u["Username"] for u in more["Users"]] == ["carol"] and "NextToken" not in more
        paged = api.get_paginator("list_users_in_group").paginate(UserPoolId=pool.id, GroupName="readers",
                                                                  PaginationConfig={"PageSize": 2})
        assert [u["Username"] for p in paged for u in p["Users"]] == ["alice", "bob", "carol"]

        # AdminListGroupsForUser: claim order (precedence, ties by name, no precedence last).
        claim_order = ["admins", "editors", "viewers", "readers"]
        mine = api.admin_list_groups_for_user(UserPoolId=pool.id, Username="alice", Limit=3)
        assert group_names(mine["Groups"]) == claim_order[:3]
        tail = api.admin_list_groups_for_user(UserPoolId=pool.id, Username="alice", Limit=3,
                                              NextToken=mine["NextToken"])
        assert group_names(tail["Groups"]) == claim_order[3:] and "NextToken" not in tail
        paged = api.get_paginator("admin_list_groups_for_user").paginate(
            UserPoolId=pool.id, Username="alice", PaginationConfig={"PageSize": 1})
        assert [g["GroupName"] for p in paged for g in p["Groups"]] == claim_order

        signed_in = pool.tokens()
        id_claims, access = pool.claims(signed_in)
        assert id_claims["cognito:groups"] == access["cognito:groups"] == claim_order
        assert id_claims["cognito:roles"] == [ADMINS_ROLE, EDITORS_ROLE]
        assert id_claims["cognito:preferred_role"] == ADMINS_ROLE
        assert "cognito:roles" not in access and "cognito:preferred_role" not in access
        bob_id, bob_access = pool.claims(pool.tokens("bob"))
        assert bob_id["cognito:groups"] == bob_access["cognito:groups"] == ["readers"]
        assert bob_id["cognito:roles"] == [EDITORS_ROLE] and bob_id["cognito:preferred_role"] == EDITORS_ROLE

        # Membership is read when a token is minted: a refresh shows today's groups.
        api.admin_remove_user_from_group(UserPoolId=pool.id, Username="alice", GroupName="admins")
        api.admin_remove_user_from_group(UserPoolId=pool.id, Username="alice", GroupName="admins")  # not a member
        id_claims, access = pool.claims(pool.refresh(signed_in))
        assert id_claims["cognito:groups"] == access["cognito:groups"] == ["editors", "viewers", "readers"]
        assert id_claims["cognito:roles"] == [EDITORS_ROLE] and id_claims["cognito:preferred_role"] == EDITORS_ROLE

        # UpdateGroup keeps what it omits and moves LastModifiedDate; the claim order follows.
        server.clock.advance(timedelta(seconds=2))
        updated = api.update_group(UserPoolId=pool.id, GroupName="viewers", Precedence=0)["Group"]
        assert (updated["Precedence"], updated["Description"]) == (0, "Viewers")
        assert updated["LastModifiedDate"] == server.clock.now() > updated["CreationDate"]
        assert pool.claims(pool.refresh(signed_in))[1]["cognito:groups"] == ["viewers", "editors", "readers"]

        # DeleteGroup with members: gone from every listing and from the next tokens.
        api.delete_group(UserPoolId=pool.id, GroupName="editors")
        with pytest.raises(api.exceptions.ResourceNotFoundException):
            api.get_group(UserPoolId=pool.id, GroupName="editors")
        assert group_names(api.list_groups(UserPoolId=pool.id)["Groups"]) == ["admins", "readers", "viewers"]
        assert group_names(api.admin_list_groups_for_user(UserPoolId=pool.id, Username="alice")["Groups"]) == [
            "viewers", "readers"]
        id_claims, access = pool.claims(pool.refresh(signed_in))
        assert id_claims["cognito:groups"] == access["cognito:groups"] == ["viewers", "readers"]
        assert id_claims["cognito:roles"] == [EDITORS_ROLE]  # readers' role; it ranks last but is the only one
        assert id_claims["cognito:preferred_role"] == EDITORS_ROLE

        # A deleted user leaves every group; a user in none has no group claims.
        api.admin_delete_user(UserPoolId=pool.id, Username="bob")
        assert [u["Username"] for u in api.list_users_in_group(UserPoolId=pool.id, GroupName="readers")["Users"]] == [
            "alice", "carol"]
        api.admin_remove_user_from_group(UserPoolId=pool.id, Username="carol", GroupName="readers")
        carol_id, carol_access = pool.claims(pool.tokens("carol"))
        assert not {"cognito:groups", "cognito:roles", "cognito:preferred_role"} & (set(carol_id) | set(carol_access))


def test_bad_group_input_over_http_gets_cognitos_errors_and_changes_nothing():
    with serving() as server:
        pool = Pool(server)
        api, loose = pool.api, lax(server)
        api.create_group(UserPoolId=pool.id, GroupName="admins", Precedence=3, Description="Admins")
        api.admin_add_user_to_group(UserPoolId=pool.id, Username="alice", GroupName="admins")
        shown = api.get_group(UserPoolId=pool.id, GroupName="admins")["Group"]

        # boto3 itself refuses a negative precedence before sending anything ...
        with pytest.raises(ParamValidationError):
            api.create_group(UserPoolId=pool.id, GroupName="g", Precedence=-1)
        # ... so the server's own validation is reached without boto3's.
        refused(server, lambda: loose.create_group(UserPoolId=pool.id, GroupName="a" * 129), "InvalidParameterException",
                validation("groupName", "a" * 129, "have length less than or equal to 128"))
        refused(server, lambda: loose.create_group(UserPoolId=pool.id, GroupName="two words"),
                "InvalidParameterException",
                validation("groupName", "two words", r"satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}]+"))
        refused(server, lambda: loose.create_group(UserPoolId=pool.id, GroupName="g", Precedence=-1),
                "InvalidParameterException", validation("precedence", -1, "have value greater than or equal to 0"))
        refused(server, lambda: loose.create_group(UserPoolId=pool.id, GroupName="g", Precedence=2**31),
                "InvalidParameterException",
                validation("precedence", 2**31, "have value less than or equal to 2147483647"))
        refused(server, lambda: loose.update_group(UserPoolId=pool.id, GroupName="admins", Precedence=2**31,
                                                   Description="changed"),
                "InvalidParameterException",
                validation("precedence", 2**31, "have value less than or equal to 2147483647"))
        refused(server, lambda: api.create_group(UserPoolId=pool.id, GroupName="admins"), "GroupExistsException",
                "A group with the name already exists.")
        refused(server, lambda: api.admin_add_user_to_group(UserPoolId=pool.id, Username="alice", GroupName="nope"),
                "ResourceNotFoundException", "Group not found.")
        refused(server, lambda: api.admin_add_user_to_group(UserPoolId=pool.id, Username="nobody", GroupName="admins"),
                "UserNotFoundException", "User does not exist.")
        refused(server, lambda: api.update_group(UserPoolId=pool.id, GroupName="Admins", Precedence=1),
                "ResourceNotFoundException", "Group not found.")  # names are case-sensitive
        refused(server, lambda: loose.list_groups(UserPoolId=pool.id, Limit=61), "InvalidParameterException",
                validation("limit", 61, "have value less than or equal to 60"))
        refused(server, lambda: api.list_groups(UserPoolId=pool.id, NextToken="not-a-token"),
                "InvalidParameterException", "Invalid pagination token.")

        # What a client sees agrees: one group, as it was, with its one member.
        assert api.list_groups(UserPoolId=pool.id)["Groups"] == [shown]
        assert api.get_group(UserPoolId=pool.id, GroupName="admins")["Group"] == shown
        assert [u["Username"] for u in api.list_users_in_group(UserPoolId=pool.id, GroupName="admins")["Users"]] == [
            "alice"]
        assert group_names(api.admin_list_groups_for_user(UserPoolId=pool.id, Username="alice")["Groups"]) == [
            "admins"]


# -- TOTP -----------------------------------------------------------------------------------------


def totp_pool(server, mode: str = "OPTIONAL", **kwargs) -> Pool:
    pool = Pool(server, **kwargs)
    answer = strip(pool.api.set_user_pool_mfa_config(UserPoolId=pool.id, MfaConfiguration=mode,
                                                     SoftwareTokenMfaConfiguration={"Enabled": True}))
    assert answer == {"SoftwareTokenMfaConfiguration": {"Enabled": True}, "MfaConfiguration": mode}
    assert strip(pool.api.get_user_pool_mfa_config(UserPoolId=pool.id)) == answer
    assert pool.api.describe_user_pool(UserPoolId=pool.id)["UserPool"]["MfaConfiguration"] == mode
    return pool


def test_totp_associate_verify_prefer_then_sign_in_with_software_token_mfa():
    with serving() as server:
        pool = totp_pool(server, users=("alice", "bob"))
        api = pool.api
        signed_in = pool.tokens()  # OPTIONAL and no factor yet: tokens at once
        access_token = signed_in["AccessToken"]

        associated = strip(api.associate_software_token(AccessToken=access_token))
        secret = associated["SecretCode"]
        assert set(associated) == {"SecretCode"}  # no Session when called with an access token
        assert len(secret) == 52 and pyotp.TOTP(secret).byte_secret()  # base32 of 32 bytes, unpadded
        verify_code = code_now(server, secret)
        answer = strip(api.verify_software_token(AccessToken=access_token, UserCode=verify_code,
                                                 FriendlyDeviceName="phone"))
        assert answer == {"Status": "SUCCESS"}
        # Verified, but not turned on: the user still signs in without MFA.
        assert pool.mfa() == {}
        assert "AuthenticationResult" in pool.sign_in()

        assert strip(api.set_user_mfa_preference(
            AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})) == {}
        assert pool.mfa() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"], "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}
        user = api.get_user(AccessToken=access_token)
        assert (user["UserMFASettingList"], user["PreferredMfaSetting"]) == (["SOFTWARE_TOKEN_MFA"], "SOFTWARE_TOKEN_MFA")

        started = pool.sign_in()
        assert started["ChallengeName"] == "SOFTWARE_TOKEN_MFA" and "AuthenticationResult" not in started
        assert started["ChallengeParameters"] == {"FRIENDLY_DEVICE_NAME": "phone", "USER_ID_FOR_SRP": "alice"}
        # The code VerifySoftwareToken took is used; a wrong one is a mismatch; the session survives both.
        with pytest.raises(api.exceptions.ExpiredCodeException) as err:
            pool.answer_totp(started, verify_code)
        assert err.value.response["Error"]["Message"] == USED_ONCE
        with pytest.raises(api.exceptions.CodeMismatchException) as err:
            pool.answer_totp(started, wrong_code(server, secret))
        assert err.value.response["Error"]["Message"] == WRONG_CODE
        sign_in_code = next_step(server, secret)
        done = pool.answer_totp(started, sign_in_code)
        id_claims, access = pool.claims(done["AuthenticationResult"])
        assert id_claims["cognito:username"] == access["username"] == "alice"
        assert done["ChallengeParameters"] == {}

        # That code signed in once; the next sign-in in the same step is refused with it.
        again = pool.sign_in()
        with pytest.raises(api.exceptions.ExpiredCodeException):
            pool.answer_totp(again, sign_in_code)
        # The admin pair: AdminInitiateAuth -> SOFTWARE_TOKEN_MFA -> AdminRespondToAuthChallenge.
        admin_started = pool.admin_sign_in()
        assert admin_started["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        admin_done = api.admin_respond_to_auth_challenge(
            UserPoolId=pool.id, ClientId=pool.client_id, ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=admin_started["Session"],
            ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": next_step(server, secret)})
        assert pool.claims(admin_done["AuthenticationResult"])[0]["sub"] == id_claims["sub"]

        # AdminSetUserMFAPreference turns it off again; AdminDeleteSoftwareToken is not in every
        # botocore, so bob shows the admin pair the other way: no token, no TOTP.
        api.admin_set_user_mfa_preference(UserPoolId=pool.id, Username="alice",
                                          SoftwareTokenMfaSettings={"Enabled": False})
        assert pool.mfa() == {}
        assert "AuthenticationResult" in pool.sign_in()
        with pytest.raises(api.exceptions.InvalidParameterException) as err:
            api.admin_set_user_mfa_preference(UserPoolId=pool.id, Username="bob",
                                              SoftwareTokenMfaSettings={"Enabled": True})
        assert err.value.response["Error"]["Message"] == NO_TOTP_DELIVERY


def test_the_mfa_setup_chain_over_http():
    """MFA ON with TOTP only: a user without a factor gets MFA_SETUP; the Session goes
    through AssociateSoftwareToken and VerifySoftwareToken, and the last one answers
    MFA_SETUP; TOTP is then on and preferred, and the next sign-in asks for a code."""
    with serving() as server:
        pool = totp_pool(server, mode="ON")
        api = pool.api
        started = pool.sign_in()
        assert started["ChallengeName"] == "MFA_SETUP"
        assert started["ChallengeParameters"] == {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]', "USER_ID_FOR_SRP": "alice"}
        # Not both of AccessToken and Session.
        refused(server, lambda: api.associate_software_token(Session=started["Session"], AccessToken="x" * 20),
                "InvalidParameterException", "Exactly one of AccessToken and Session must be given.")
        # The challenge's own Session does not answer MFA_SETUP: nothing was set up.
        with pytest.raises(api.exceptions.NotAuthorizedException) as err:
            api.respond_to_auth_challenge(ClientId=pool.client_id, ChallengeName="MFA_SETUP",
                                          Session=started["Session"], ChallengeResponses={"USERNAME": "alice"})
        assert err.value.response["Error"]["Message"] == INVALID_SESSION

        associated = strip(api.associate_software_token(Session=started["Session"]))
        assert set(associated) == {"SecretCode", "Session"} and associated["Session"] != started["Session"]
        secret = associated["SecretCode"]
        # The Associate Session is not a verified one either; and the challenge's is used up.
        with pytest.raises(api.exceptions.NotAuthorizedException) as err:
            api.respond_to_auth_challenge(ClientId=pool.client_id, ChallengeName="MFA_SETUP",
                                          Session=associated["Session"], ChallengeResponses={"USERNAME": "alice"})
        assert err.value.response["Error"]["Message"] == INVALID_SESSION
        refused(server, lambda: api.associate_software_token(Session=started["Session"]),
                "NotAuthorizedException", USED_SESSION)
        # A wrong code does not set anything up.
        refused(server, lambda: api.verify_software_token(Session=associated["Session"],
                                                          UserCode=wrong_code(server, secret)),
                "EnableSoftwareTokenMFAException", "Code mismatch and fail enable Software Token MFA")
        assert pool.mfa() == {}

        answer = strip(api.verify_software_token(Session=associated["Session"], UserCode=code_now(server, secret),
                                                 FriendlyDeviceName="phone"))
        assert answer["Status"] == "SUCCESS" and answer["Session"] not in (started["Session"], associated["Session"])
        done = api.respond_to_auth_challenge(ClientId=pool.client_id, ChallengeName="MFA_SETUP",
                                             Session=answer["Session"], ChallengeResponses={"USERNAME": "alice"})
        id_claims, access = pool.claims(done["AuthenticationResult"])
        assert id_claims["cognito:username"] == "alice"
        assert pool.mfa() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"], "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}
        # The verify Session answered once.
        with pytest.raises(api.exceptions.NotAuthorizedException) as err:
            api.respond_to_auth_challenge(ClientId=pool.client_id, ChallengeName="MFA_SETUP",
                                          Session=answer["Session"], ChallengeResponses={"USERNAME": "alice"})
        assert err.value.response["Error"]["Message"] == USED_SESSION

        again = pool.sign_in()
        assert again["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        assert again["ChallengeParameters"]["FRIENDLY_DEVICE_NAME"] == "phone"
        finished = pool.answer_totp(again, next_step(server, secret))
        assert pool.claims(finished["AuthenticationResult"])[1]["sub"] == access["sub"]
        # Under MFA ON the last factor cannot be turned off.
        access_token = finished["AuthenticationResult"]["AccessToken"]
        refused(server, lambda: api.set_user_mfa_preference(AccessToken=access_token,
                                                            SoftwareTokenMfaSettings={"Enabled": False}),
                "InvalidParameterException", "Cannot turn off all MFA methods when MFA is required for the user pool.")
        assert pool.mfa() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"], "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}


def test_bad_mfa_input_over_http_gets_cognitos_errors_and_changes_nothing():
    with serving() as server:
        pool = totp_pool(server)
        api, loose = pool.api, lax(server)
        access_token = pool.tokens()["AccessToken"]
        mfa_config = strip(api.get_user_pool_mfa_config(UserPoolId=pool.id))

        # Verifying before associating.
        refused(server, lambda: api.verify_software_token(AccessToken=access_token, UserCode="123456"),
                "SoftwareTokenMFANotFoundException", NOT_ASSOCIATED)
        # A preference for a factor the user has not verified (nothing associated yet) ...
        refused(server, lambda: api.set_user_mfa_preference(
            AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}),
            "InvalidParameterException", NO_TOTP_DELIVERY)
        refused(server, lambda: api.set_user_mfa_preference(AccessToken=access_token,
                                                            SMSMfaSettings={"Enabled": True}),
                "InvalidParameterException", "User does not have delivery config set to turn on SMS_MFA")

        secret = api.associate_software_token(AccessToken=access_token)["SecretCode"]
        # ... or associated but not verified.
        refused(server, lambda: api.set_user_mfa_preference(
            AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}),
            "InvalidParameterException", NO_TOTP_DELIVERY)
        refused(server, lambda: api.admin_set_user_mfa_preference(
            UserPoolId=pool.id, Username="alice", SoftwareTokenMfaSettings={"Enabled": True}),
            "InvalidParameterException", NO_TOTP_DELIVERY)
        # Codes of the wrong length or form (boto3 checks only the minimum length itself).
        with pytest.raises(ParamValidationError):
            api.verify_software_token(AccessToken=access_token, UserCode="12345")
        right = code_now(server, secret)
        for bad, constraint in ((right[:5], "have length greater than or equal to 6"),
                                (right + "0", "have length less than or equal to 6"),
                                ("12a456", "satisfy regular expression pattern: [0-9]+")):
            refused(server, lambda bad=bad: loose.verify_software_token(AccessToken=access_token, UserCode=bad),
                    "InvalidParameterException", validation("userCode", None, constraint))
        refused(server, lambda: api.verify_software_token(AccessToken=access_token, UserCode=wrong_code(server, secret)),
                "EnableSoftwareTokenMFAException", "Code mismatch and fail enable Software Token MFA")
        # PreferredMfa with Enabled false; an MFA configuration that turns every factor off.
        refused(server, lambda: api.set_user_mfa_preference(
            AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": True}),
            "InvalidParameterException", "SOFTWARE_TOKEN_MFA must be enabled to be the preferred MFA method.")
        refused(server, lambda: api.set_user_pool_mfa_config(UserPoolId=pool.id, MfaConfiguration="ON"),
                "InvalidParameterException",
                "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.")
        refused(server, lambda: api.set_user_pool_mfa_config(UserPoolId=pool.id, MfaConfiguration="OFF",
                                                             SoftwareTokenMfaConfiguration={"Enabled": True}),
                "InvalidParameterException",
                "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.")

        # What a client sees agrees: no factor, no MFA at sign-in, the pool's configuration as it was.
        assert pool.mfa() == {}
        assert "UserMFASettingList" not in api.get_user(AccessToken=access_token)
        assert "AuthenticationResult" in pool.sign_in()
        assert strip(api.get_user_pool_mfa_config(UserPoolId=pool.id)) == mfa_config
        # The pending secret is still the one to verify (the refusals did not replace it).
        assert api.verify_software_token(AccessToken=access_token, UserCode=code_now(server, secret))["Status"] == "SUCCESS"

        # A pool that does not offer TOTP.
        plain = Pool(server, users=("dave",))
        other_token = plain.tokens("dave")["AccessToken"]
        refused(server, lambda: api.associate_software_token(AccessToken=other_token),
                "SoftwareTokenMFANotFoundException", "Software Token MFA has not been enabled by the userPool.")


def test_a_json_null_settings_object_is_left_unchanged():
    """amazon-cognito-identity-js's setUserMfaPreference(null, {...}) sends `SMSMfaSettings:
    null` (boto3 cannot send None): it means "leave SMS as it is"."""
    with serving() as server:
        pool = totp_pool(server)
        access_token = pool.tokens()["AccessToken"]
        secret = pool.api.associate_software_token(AccessToken=access_token)["SecretCode"]
        pool.api.verify_software_token(AccessToken=access_token, UserCode=code_now(server, secret))
        body = {"AccessToken": access_token, "SMSMfaSettings": None,
                "SoftwareTokenMfaSettings": {"PreferredMfa": True, "Enabled": True}}
        answer = httpx.post(f"{server.url}/", content=json.dumps(body),
                            headers={"X-Amz-Target": TARGET + "SetUserMFAPreference",
                                     "Content-Type": "application/x-amz-json-1.1"})
        assert (answer.status_code, answer.json()) == (200, {})
        assert pool.mfa() == {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"], "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}
