"""Secrets never reach the logs; sign-in attempts always do (security.md item 40)."""

from __future__ import annotations

import logging

from authflow.adapters import LogMessenger
from tests.conftest import make_client

TEMPORARY = "Temp1234!"
NEW = "NewPass1!x"
WRONG = "Wrong1234!"


def test_a_whole_sign_in_story_logs_events_but_no_secret(caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(messenger=LogMessenger())
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    client.admin_create_user(
        UserPoolId=pool, Username="alice", TemporaryPassword=TEMPORARY,
        UserAttributes=[{"Name": "email", "Value": "a@example.com"}], DesiredDeliveryMediums=["EMAIL"],
    )
    secrets = [TEMPORARY, NEW, WRONG]
    try:
        client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": WRONG})
    except client.exceptions.NotAuthorizedException:
        pass
    started = client.initiate_auth(
        ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": TEMPORARY}
    )
    result = client.respond_to_auth_challenge(
        ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW},
    )["AuthenticationResult"]
    client.initiate_auth(ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})
    secrets += [started["Session"], result["RefreshToken"], result["AccessToken"], result["IdToken"]]
    secrets += [part for token in (result["AccessToken"], result["IdToken"]) for part in token.split(".")]

    text = caplog.text
    assert not [s for s in secrets if s in text]
    assert "sign-in wrong password" in text
    assert "sign-in password accepted, next NEW_PASSWORD_REQUIRED" in text
    assert "invitation EMAIL to a@example.com" in text
