"""Several secrets per app client (AddUserPoolClientSecret, ListUserPoolClientSecrets,
DeleteUserPoolClientSecret) through `authflow.Client`: the operations and their refusals
(each leaving the store as it was), and every valid secret (and no deleted one) accepted
for SECRET_HASH in password sign-in, SRP and sign-up, for the /oauth2/token client
authentication (HTTP Basic), for RevokeToken's ClientSecret and GetTokensFromRefreshToken's.

References: AWS API reference AddUserPoolClientSecret ("up to 2 active secrets",
ClientSecretValue "only returned when Amazon Cognito generates the secret"),
DeleteUserPoolClientSecret ("You cannot delete the last remaining secret"),
ClientSecretDescriptorType (id `<client-id>--<epoch-create-time>`).
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from authflow.core.records import AppClient
from authflow.service import oauth
from tests.signin import NEW, Env, refused, secret_hash
from tests.unit.test_srp import Srp

CUSTOM = "my_custom_secret_value_0123456789"


class World:
    def __init__(self, **app_kwargs) -> None:
        self.env = Env()
        self.c = self.env.client
        self.pool = self.env.pool()
        app_kwargs.setdefault("GenerateSecret", True)
        self.app = self.env.app(self.pool, **app_kwargs)
        self.app_id = self.app["ClientId"]
        self.first = self.app.get("ClientSecret")

    def add(self, **kwargs) -> dict:
        return self.c.add_user_pool_client_secret(UserPoolId=self.pool, ClientId=self.app_id, **kwargs)[
            "ClientSecretDescriptor"]

    def listed(self) -> list[dict]:
        return self.c.list_user_pool_client_secrets(UserPoolId=self.pool, ClientId=self.app_id)["ClientSecrets"]

    def delete(self, secret_id: str) -> None:
        self.c.delete_user_pool_client_secret(UserPoolId=self.pool, ClientId=self.app_id, ClientSecretId=secret_id)

    def confirmed_user(self, username: str = "alice") -> None:
        self.env.user(self.pool, username)
        self.c.admin_set_user_password(UserPoolId=self.pool, Username=username, Password=NEW, Permanent=True)

    def password_sign_in(self, secret: str | None, username: str = "alice") -> dict:
        params = {"USERNAME": username, "PASSWORD": NEW}
        if secret is not None:
            params["SECRET_HASH"] = secret_hash(secret, username, self.app_id)
        return self.c.initiate_auth(ClientId=self.app_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)

    def snapshot(self) -> dict:
        return self.env.snapshot()


# -- the operations ----------------------------------------------------------------------------------


def test_a_client_made_with_a_secret_lists_it_with_an_id_and_no_value():
    w = World()
    [only] = w.listed()
    assert set(only) == {"ClientSecretId", "ClientSecretCreateDate"}
    millis = int(w.app["CreationDate"].timestamp() * 1000)
    assert only["ClientSecretId"] == f"{w.app_id}--{millis}"
    assert only["ClientSecretCreateDate"] == w.app["CreationDate"]


def test_add_a_generated_secret_returns_its_value_once_and_both_are_listed():
    w = World()
    w.env.clock.advance(timedelta(seconds=5))
    added = w.add()
    assert set(added) == {"ClientSecretId", "ClientSecretValue", "ClientSecretCreateDate"}
    assert len(added["ClientSecretValue"]) >= 24 and added["ClientSecretValue"] != w.first
    assert added["ClientSecretCreateDate"] == w.env.clock.now()
    assert added["ClientSecretId"].startswith(w.app_id + "--")
    listed = w.listed()
    assert [s["ClientSecretId"] for s in listed][1] == added["ClientSecretId"]
    assert all("ClientSecretValue" not in s for s in listed)
    # DescribeUserPoolClient keeps showing the oldest secret
    described = w.c.describe_user_pool_client(UserPoolId=w.pool, ClientId=w.app_id)["UserPoolClient"]
    assert described["ClientSecret"] == w.first


def test_a_custom_secret_is_not_echoed():
    w = World()
    added = w.add(ClientSecret=CUSTOM)
    assert "ClientSecretValue" not in added
    assert len(w.listed()) == 2


def test_two_secrets_added_in_one_instant_get_distinct_ids():
    w = World()
    added = w.add()
    assert added["ClientSecretId"] != w.listed()[0]["ClientSecretId"]


def test_a_third_secret_is_refused_and_changes_nothing():
    w = World()
    w.add()
    before = w.snapshot()
    refused(w.c.exceptions.LimitExceededException,
            f"Client {w.app_id} already has 2 secrets; delete one before adding another.", w.add)
    assert w.snapshot() == before


def test_a_public_client_gets_no_secret_this_way():
    w = World(GenerateSecret=False)
    before = w.snapshot()
    refused(w.c.exceptions.InvalidParameterException,
            f"Client {w.app_id} has no client secret: a secret can be added only to a client created with one.",
            w.add)
    assert w.snapshot() == before
    assert w.listed() == []


def test_unknown_pool_client_and_secret_are_not_found():
    w = World()
    errors = w.c.exceptions
    with pytest.raises(errors.ResourceNotFoundException):
        w.c.add_user_pool_client_secret(UserPoolId="us-east-1_Nope00000", ClientId=w.app_id)
    with pytest.raises(errors.ResourceNotFoundException):
        w.c.list_user_pool_client_secrets(UserPoolId=w.pool, ClientId="a" * 26)
    other_pool = w.env.pool()
    with pytest.raises(errors.ResourceNotFoundException):  # the client is not that pool's
        w.c.list_user_pool_client_secrets(UserPoolId=other_pool, ClientId=w.app_id)
    before = w.snapshot()
    refused(errors.ResourceNotFoundException, f"Client secret {w.app_id}--1 does not exist.",
            w.delete, f"{w.app_id}--1")
    assert w.snapshot() == before


def test_the_last_secret_cannot_be_deleted():
    w = World()
    [only] = w.listed()
    before = w.snapshot()
    refused(w.c.exceptions.InvalidParameterException,
            f"Client secret {only['ClientSecretId']} is the only secret of client {w.app_id} and cannot be deleted.",
            w.delete, only["ClientSecretId"])
    assert w.snapshot() == before


def test_deleting_the_original_leaves_the_added_one_which_describe_then_shows():
    w = World()
    added = w.add()
    original = w.listed()[0]["ClientSecretId"]
    w.delete(original)
    assert [s["ClientSecretId"] for s in w.listed()] == [added["ClientSecretId"]]
    described = w.c.describe_user_pool_client(UserPoolId=w.pool, ClientId=w.app_id)["UserPoolClient"]
    assert described["ClientSecret"] == added["ClientSecretValue"]
    # and a new one may be added again
    assert len(w.listed()) == 1 and w.add()


def test_secrets_stay_sealed_in_the_store():
    w = World()
    w.add(ClientSecret=CUSTOM)
    with w.c.store.transaction() as tx:
        record: AppClient = tx.get_client(w.app_id)
    assert CUSTOM.encode() not in record.secret and w.first.encode() not in record.secret


def test_update_keeps_the_secrets():
    w = World()
    added = w.add()
    w.c.update_user_pool_client(UserPoolId=w.pool, ClientId=w.app_id, ClientName="renamed",
                                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    assert [s["ClientSecretId"] for s in w.listed()][1] == added["ClientSecretId"]


# -- every valid secret is accepted, a deleted one is refused at once ------------------------------


def test_password_sign_in_with_either_secret_and_not_with_a_deleted_one():
    w = World()
    w.confirmed_user()
    second = w.add()["ClientSecretValue"]
    for secret in (w.first, second):
        assert "AuthenticationResult" in w.password_sign_in(secret)
    refused(w.c.exceptions.NotAuthorizedException, f"Unable to verify secret hash for client {w.app_id}",
            w.password_sign_in, "x" * 40)
    w.delete(w.listed()[0]["ClientSecretId"])
    refused(w.c.exceptions.NotAuthorizedException, f"Unable to verify secret hash for client {w.app_id}",
            w.password_sign_in, w.first)
    assert "AuthenticationResult" in w.password_sign_in(second)
    refused(w.c.exceptions.NotAuthorizedException,
            f"Client {w.app_id} is configured for secret but secret was not received", w.password_sign_in, None)


def test_srp_sign_in_with_the_second_secret():
    s = Srp(app_kwargs={"GenerateSecret": True})
    s.confirmed()
    second = s.client.add_user_pool_client_secret(UserPoolId=s.pool, ClientId=s.app_id)[
        "ClientSecretDescriptor"]["ClientSecretValue"]
    s.secret = second
    assert "AuthenticationResult" in s.sign_in()
    original = s.client.list_user_pool_client_secrets(UserPoolId=s.pool, ClientId=s.app_id)["ClientSecrets"][0]
    s.client.delete_user_pool_client_secret(UserPoolId=s.pool, ClientId=s.app_id,
                                            ClientSecretId=original["ClientSecretId"])
    assert "AuthenticationResult" in s.sign_in()
    s.secret = s.app["ClientSecret"]
    with pytest.raises(s.errors.NotAuthorizedException, match="Unable to verify secret hash"):
        s.sign_in()


def test_sign_up_with_the_second_secret_and_not_a_deleted_one():
    w = World()
    second = w.add(ClientSecret=CUSTOM)
    assert "ClientSecretValue" not in second

    def sign_up(username: str, secret: str):
        return w.c.sign_up(ClientId=w.app_id, Username=username, Password=NEW,
                           SecretHash=secret_hash(secret, username, w.app_id))

    assert sign_up("bob", CUSTOM)["UserConfirmed"] is False
    assert sign_up("carol", w.first)["UserConfirmed"] is False
    w.delete(second["ClientSecretId"])
    with pytest.raises(w.c.exceptions.NotAuthorizedException, match="Unable to verify secret hash"):
        sign_up("dave", CUSTOM)


def test_revoke_token_with_the_second_secret():
    w = World()
    w.confirmed_user()
    second = w.add()["ClientSecretValue"]
    refresh = w.password_sign_in(second)["AuthenticationResult"]["RefreshToken"]
    with pytest.raises(w.c.exceptions.UnauthorizedException):
        w.c.revoke_token(Token=refresh, ClientId=w.app_id, ClientSecret="y" * 40)
    w.c.revoke_token(Token=refresh, ClientId=w.app_id, ClientSecret=second)
    with pytest.raises(w.c.exceptions.NotAuthorizedException, match="revoked"):
        w.c.get_tokens_from_refresh_token(RefreshToken=refresh, ClientId=w.app_id, ClientSecret=w.first)


def test_get_tokens_from_refresh_token_takes_either_secret():
    w = World()
    w.confirmed_user()
    second = w.add()["ClientSecretValue"]
    refresh = w.password_sign_in(w.first)["AuthenticationResult"]["RefreshToken"]
    for secret in (w.first, second):
        result = w.c.get_tokens_from_refresh_token(RefreshToken=refresh, ClientId=w.app_id, ClientSecret=secret)
        assert "AccessToken" in result["AuthenticationResult"]
    refused(w.c.exceptions.NotAuthorizedException, f"Unable to verify secret for client {w.app_id}",
            w.c.get_tokens_from_refresh_token, RefreshToken=refresh, ClientId=w.app_id, ClientSecret="z" * 40)
    refused(w.c.exceptions.NotAuthorizedException,
            f"Client {w.app_id} is configured for secret but secret was not received",
            w.c.get_tokens_from_refresh_token, RefreshToken=refresh, ClientId=w.app_id)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_token_endpoint_basic_auth_with_the_second_secret():
    w = World(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
              CallbackURLs=["https://app.example.com/cb"])
    w.c.create_user_pool_domain(Domain="secrets", UserPoolId=w.pool)
    w.confirmed_user()
    second = w.add()["ClientSecretValue"]
    refresh = w.password_sign_in(w.first)["AuthenticationResult"]["RefreshToken"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    answer = oauth.token(w.c.engine, "secrets", form, _basic(w.app_id, second))
    assert "access_token" in answer and "refresh_token" not in answer
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.token(w.c.engine, "secrets", form, _basic(w.app_id, "q" * 40))
    assert caught.value.error == "invalid_client"
    w.delete(w.listed()[1]["ClientSecretId"])
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.token(w.c.engine, "secrets", form, _basic(w.app_id, second))
    assert caught.value.error == "invalid_client"
    assert "access_token" in oauth.token(w.c.engine, "secrets", form, _basic(w.app_id, w.first))
