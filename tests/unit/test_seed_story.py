"""The seed's story end to end, through the public Client: an administrator creates a
user with a temporary password, the user signs in, is challenged, sets a new password,
receives tokens that verify against the pool's JWKS with pyjwt, refreshes them and
signs out."""

from __future__ import annotations

import json

import jwt
import pytest

from tests.conftest import make_client

TEMPORARY = "Temp1234!"
NEW = "NewPass1!x"


def setup_pool(client):
    pool = client.create_user_pool(PoolName="seed", AliasAttributes=["email"])["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool,
        ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    client.admin_create_user(
        UserPoolId=pool,
        Username="erin",
        TemporaryPassword=TEMPORARY,
        UserAttributes=[{"Name": "email", "Value": "erin@example.com"}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    return pool, client_id


def verify(client, pool, client_id, token, token_use):
    keys = {k["kid"]: jwt.PyJWK(k) for k in client.get_jwks(UserPoolId=pool)["keys"]}
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(
        token,
        keys[kid],
        algorithms=["RS256"],
        issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{pool}",
        audience=client_id if token_use == "id" else None,
        options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_exp": False, "verify_iat": False},
    )
    assert claims["token_use"] == token_use
    return claims


@pytest.mark.parametrize("admin", [False, True], ids=["user-api", "admin-api"])
def test_admin_created_user_signs_in_changes_password_refreshes_and_signs_out(admin):
    client = make_client()
    pool, client_id = setup_pool(client)
    scope = {"UserPoolId": pool} if admin else {}
    initiate = client.admin_initiate_auth if admin else client.initiate_auth
    respond = client.admin_respond_to_auth_challenge if admin else client.respond_to_auth_challenge
    flow = "ADMIN_USER_PASSWORD_AUTH" if admin else "USER_PASSWORD_AUTH"

    # The user types the verified email alias and the temporary password.
    started = initiate(
        **scope, ClientId=client_id, AuthFlow=flow,
        AuthParameters={"USERNAME": "erin@example.com", "PASSWORD": TEMPORARY},
    )
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in started
    parameters = started["ChallengeParameters"]
    assert parameters["USER_ID_FOR_SRP"] == "erin"
    assert json.loads(parameters["requiredAttributes"]) == []
    assert json.loads(parameters["userAttributes"]) == {"email": "erin@example.com", "email_verified": "true"}

    done = respond(
        **scope, ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": "erin@example.com", "NEW_PASSWORD": NEW},
    )
    result = done["AuthenticationResult"]
    assert result["TokenType"] == "Bearer" and result["ExpiresIn"] == 3600
    assert client.admin_get_user(UserPoolId=pool, Username="erin")["UserStatus"] == "CONFIRMED"

    id_claims = verify(client, pool, client_id, result["IdToken"], "id")
    access_claims = verify(client, pool, client_id, result["AccessToken"], "access")
    assert id_claims["cognito:username"] == "erin" and id_claims["email_verified"] is True
    assert access_claims["client_id"] == client_id and access_claims["username"] == "erin"
    assert id_claims["sub"] == access_claims["sub"]
    assert client.get_user(AccessToken=result["AccessToken"])["Username"] == "erin"

    # The temporary password is gone; the new one signs in without a challenge.
    with pytest.raises(client.exceptions.NotAuthorizedException, match="Incorrect username or password."):
        initiate(**scope, ClientId=client_id, AuthFlow=flow, AuthParameters={"USERNAME": "erin", "PASSWORD": TEMPORARY})
    again = initiate(**scope, ClientId=client_id, AuthFlow=flow, AuthParameters={"USERNAME": "erin", "PASSWORD": NEW})
    assert "ChallengeName" not in again and "AccessToken" in again["AuthenticationResult"]

    refreshed = initiate(
        **scope, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
    )["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    new_claims = verify(client, pool, client_id, refreshed["IdToken"], "id")
    assert new_claims["auth_time"] == id_claims["auth_time"]
    assert new_claims["origin_jti"] == id_claims["origin_jti"]

    client.global_sign_out(AccessToken=refreshed["AccessToken"])
    with pytest.raises(client.exceptions.NotAuthorizedException, match="^Access Token has been revoked$"):
        client.get_user(AccessToken=result["AccessToken"])
    with pytest.raises(client.exceptions.NotAuthorizedException, match="^Refresh Token has been revoked$"):
        initiate(
            **scope, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
        )


def test_a_wrong_temporary_password_never_yields_a_challenge():
    client = make_client()
    pool, client_id = setup_pool(client)
    with pytest.raises(client.exceptions.NotAuthorizedException, match=r"^Incorrect username or password\.$"):
        client.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "erin", "PASSWORD": "Wrong1234!"},
        )
    assert client.admin_get_user(UserPoolId=pool, Username="erin")["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_purge_expired_keeps_live_records_and_drops_dead_ones():
    from datetime import timedelta

    client = make_client()
    pool, client_id = setup_pool(client)
    started = client.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "erin", "PASSWORD": TEMPORARY}
    )
    assert client.purge_expired() == {"sessions": 0, "refresh_tokens": 0, "failed_sign_ins": 0, "devices": 0,
                                     "rotated_refresh_tokens": 0}
    client.engine.clock.advance(timedelta(minutes=4))
    with pytest.raises(client.exceptions.NotAuthorizedException, match="session is expired"):
        client.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
            ChallengeResponses={"USERNAME": "erin", "NEW_PASSWORD": NEW},
        )
    client.engine.clock.advance(timedelta(hours=1))
    assert client.purge_expired()["sessions"] == 1
    with pytest.raises(client.exceptions.NotAuthorizedException, match=r"^Invalid session for the user\.$"):
        client.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
            ChallengeResponses={"USERNAME": "erin", "NEW_PASSWORD": NEW},
        )
