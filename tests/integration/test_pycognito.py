"""pycognito (PyPI, unmodified) signs in by SRP: `AWSSRP` in process against `authflow.Client`,
and `Cognito(...).authenticate` over HTTP against `authflow serve`: the first sign-in with
the new-password challenge (`set_new_password_challenge` / `new_password_challenge`), a
plain sign-in, a wrong password; with and without a client secret."""

from __future__ import annotations

from datetime import datetime, timezone

import pycognito  # a test dependency (pyproject's `test` extra): missing, the tests must fail
import pytest
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import ForceChangePasswordException

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy
from tests.conftest import TEST_CONFIG
from tests.http import KEY_ID, REGION, SECRET, serving

TEMP = "Temp-pass-1"
NEW = "A-better-pass-2"
WRONG = "Not-the-pass-3"
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def setup(client, *, secret: bool, username: str = "alice", **pool_kwargs) -> tuple[str, str, str | None]:
    pool_id = client.create_user_pool(PoolName="py", **pool_kwargs)["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool_id, ClientName="py", ExplicitAuthFlows=FLOWS,
                                         GenerateSecret=secret)["UserPoolClient"]
    client.admin_create_user(UserPoolId=pool_id, Username=username, TemporaryPassword=TEMP,
                             MessageAction="SUPPRESS",
                             UserAttributes=[{"Name": "email", "Value": "alice@example.com"}])
    return pool_id, app["ClientId"], app.get("ClientSecret")


def in_process_client() -> authflow.Client:
    # pycognito stamps its TIMESTAMP with the real clock: the engine's clock must be near it.
    return authflow.Client(clock=ManualClock(datetime.now(timezone.utc)), entropy=SeededEntropy(5),
                           messenger=MemoryOutbox(), region=REGION, config=TEST_CONFIG)


@pytest.mark.parametrize("secret", [False, True])
def test_awssrp_in_process(secret):
    client = in_process_client()
    pool_id, client_id, client_secret = setup(client, secret=secret)

    def srp(password: str) -> AWSSRP:
        return AWSSRP(username="alice", password=password, pool_id=pool_id, client_id=client_id,
                      client=client, client_secret=client_secret)

    with pytest.raises(ForceChangePasswordException):
        srp(TEMP).authenticate_user()
    tokens = srp(TEMP).set_new_password_challenge(NEW)
    result = tokens["AuthenticationResult"]
    assert result["TokenType"] == "Bearer" and result["IdToken"] and result["RefreshToken"]
    assert client.admin_get_user(UserPoolId=pool_id, Username="alice")["UserStatus"] == "CONFIRMED"

    again = srp(NEW).authenticate_user()["AuthenticationResult"]
    user = client.get_user(AccessToken=again["AccessToken"])
    assert user["Username"] == "alice"

    with pytest.raises(client.exceptions.NotAuthorizedException) as err:
        srp(WRONG).authenticate_user()
    assert err.value.message == "Incorrect username or password."
    with pytest.raises(client.exceptions.NotAuthorizedException):
        srp(TEMP).authenticate_user()  # the temporary password is gone


def test_awssrp_in_process_email_as_username():
    client = in_process_client()
    pool_id, client_id, _ = setup(client, secret=False, username="alice@example.com", UsernameAttributes=["email"])
    srp = AWSSRP(username="alice@example.com", password=TEMP, pool_id=pool_id, client_id=client_id, client=client)
    tokens = srp.set_new_password_challenge(NEW)
    signed_in = AWSSRP(username="alice@example.com", password=NEW, pool_id=pool_id, client_id=client_id,
                       client=client).authenticate_user()
    assert tokens["AuthenticationResult"]["IdToken"] and signed_in["AuthenticationResult"]["IdToken"]


@pytest.mark.parametrize("secret", [False, True])
def test_cognito_authenticate_against_serve(secret):
    with serving(issuer_style="local") as server:
        pool_id, client_id, client_secret = setup(server.client, secret=secret)

        def cognito() -> pycognito.Cognito:
            return pycognito.Cognito(
                pool_id, client_id, username="alice", client_secret=client_secret,
                access_key=KEY_ID, secret_key=SECRET,
                boto3_client_kwargs={"endpoint_url": server.url},
            )

        # The server's engine clock is a manual one started at the real time; pycognito's
        # TIMESTAMP is the real time, so both stay within the window for this test.
        first = cognito()
        with pytest.raises(ForceChangePasswordException):
            first.authenticate(TEMP)
        first.new_password_challenge(TEMP, NEW)  # verifies both tokens against the served JWKS
        assert first.token_type == "Bearer" and first.refresh_token

        second = cognito()
        second.authenticate(NEW)
        assert second.token_type == "Bearer"
        assert second.client.get_user(AccessToken=second.access_token)["Username"] == "alice"

        third = cognito()
        with pytest.raises(third.client.exceptions.NotAuthorizedException) as err:
            third.authenticate(WRONG)
        assert err.value.response["Error"] == {"Code": "NotAuthorizedException",
                                               "Message": "Incorrect username or password."}
