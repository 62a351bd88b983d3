"""Client secrets and refresh-token rotation over HTTP: boto3 against the served app (the
JSON protocol with SigV4 for the admin operations, unsigned GetTokensFromRefreshToken), the
token endpoint's HTTP Basic authentication with the added secret, and the grace period
crossed by moving the server's manual clock. The in-process tests are
tests/unit/test_client_secrets.py and tests/unit/test_refresh_rotation.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
import requests
from botocore.exceptions import ClientError

from tests.http import serving
from tests.oauth_resources import contents

PASSWORD = "Passw0rd!long"


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def refused(server, call, code: str, **kwargs) -> dict:
    before = contents(server.client)
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    assert error["Code"] == code, error
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert contents(server.client) == before
    return error


def test_client_secrets_and_rotation_over_http():
    with serving() as server:
        admin = server.boto3()
        public = server.boto3(signed=False)
        pool = admin.create_user_pool(PoolName="http-secrets")["UserPool"]["Id"]
        admin.create_user_pool_domain(UserPoolId=pool, Domain="http-secrets")
        app = admin.create_user_pool_client(
            UserPoolId=pool, ClientName="web", GenerateSecret=True,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
            CallbackURLs=["https://app.example.com/cb"],
            RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 10},
        )["UserPoolClient"]
        client_id, first = app["ClientId"], app["ClientSecret"]
        assert app["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 10}
        admin.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
        admin.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)

        # the secrets: add (value once), list (no values), the limit, the last one kept
        added = admin.add_user_pool_client_secret(UserPoolId=pool, ClientId=client_id)["ClientSecretDescriptor"]
        second = added["ClientSecretValue"]
        listed = admin.list_user_pool_client_secrets(UserPoolId=pool, ClientId=client_id)["ClientSecrets"]
        assert [s["ClientSecretId"] for s in listed][1] == added["ClientSecretId"]
        assert all(set(s) == {"ClientSecretId", "ClientSecretCreateDate"} for s in listed)
        refused(server, admin.add_user_pool_client_secret, "LimitExceededException", UserPoolId=pool,
                ClientId=client_id)

        def sign_in(secret: str) -> dict:
            return public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
                "USERNAME": "alice", "PASSWORD": PASSWORD,
                "SECRET_HASH": secret_hash(secret, "alice", client_id)})["AuthenticationResult"]

        tokens = sign_in(second)
        assert "RefreshToken" in sign_in(first)

        # rotation: a new refresh token, REFRESH_TOKEN_AUTH refused, the grace period, the replay
        rotated = public.get_tokens_from_refresh_token(
            ClientId=client_id, ClientSecret=second, RefreshToken=tokens["RefreshToken"])["AuthenticationResult"]
        assert rotated["RefreshToken"] != tokens["RefreshToken"]
        refused(server, public.initiate_auth, "InvalidParameterException", ClientId=client_id,
                AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={
                    "REFRESH_TOKEN": rotated["RefreshToken"], "SECRET_HASH": secret_hash(first, "alice", client_id)})
        server.clock.advance(timedelta(seconds=5))
        retried = public.get_tokens_from_refresh_token(
            ClientId=client_id, ClientSecret=first, RefreshToken=tokens["RefreshToken"])["AuthenticationResult"]
        server.clock.advance(timedelta(seconds=6))
        with pytest.raises(public.exceptions.RefreshTokenReuseException):
            public.get_tokens_from_refresh_token(ClientId=client_id, ClientSecret=first,
                                                 RefreshToken=tokens["RefreshToken"])
        with pytest.raises(public.exceptions.NotAuthorizedException, match="revoked"):
            public.get_tokens_from_refresh_token(ClientId=client_id, ClientSecret=first,
                                                 RefreshToken=retried["RefreshToken"])

        # the token endpoint: HTTP Basic with the added secret; the refresh grant rotates
        token_url = f"{server.url}/domains/http-secrets/oauth2/token"

        def post(secret: str, refresh: str) -> requests.Response:
            basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            return requests.post(token_url, data={"grant_type": "refresh_token", "refresh_token": refresh},
                                 headers={"Authorization": f"Basic {basic}"}, timeout=10)

        fresh = sign_in(first)["RefreshToken"]
        answer = post(second, fresh)
        assert answer.status_code == 200, answer.text
        assert answer.json()["refresh_token"] != fresh
        assert post("w" * 40, answer.json()["refresh_token"]).json() == {"error": "invalid_client"}

        # deleting a secret refuses it at once, everywhere
        admin.delete_user_pool_client_secret(UserPoolId=pool, ClientId=client_id,
                                             ClientSecretId=added["ClientSecretId"])
        assert post(second, answer.json()["refresh_token"]).json() == {"error": "invalid_client"}
        with pytest.raises(public.exceptions.NotAuthorizedException, match="Unable to verify secret hash"):
            sign_in(second)
        original = admin.list_user_pool_client_secrets(UserPoolId=pool, ClientId=client_id)["ClientSecrets"]
        error = refused(server, admin.delete_user_pool_client_secret, "InvalidParameterException",
                        UserPoolId=pool, ClientId=client_id, ClientSecretId=original[0]["ClientSecretId"])
        assert "only secret" in error["Message"]
        admin.delete_user_pool_domain(UserPoolId=pool, Domain="http-secrets")


def test_secrets_and_rotation_survive_a_durable_store_reopened(reopenable_store):
    """Both secrets and a rotated family (its record replaced under the same origin_jti, the
    rotated-out token remembered as a pool resource) read back from SQLite and PostgreSQL."""
    import dataclasses

    from authflow.crypto.sealing import Keyring
    from tests.conftest import TEST_CONFIG, make_client

    open_store = reopenable_store
    config = dataclasses.replace(TEST_CONFIG, kek=Keyring(b"k" * 32))
    c = make_client(store=open_store(), config=config)
    pool = c.create_user_pool(PoolName="p")["UserPool"]["Id"]
    app = c.create_user_pool_client(UserPoolId=pool, ClientName="c", GenerateSecret=True,
                                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                                    RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0},
                                    )["UserPoolClient"]
    client_id = app["ClientId"]
    second = c.add_user_pool_client_secret(UserPoolId=pool, ClientId=client_id)["ClientSecretDescriptor"]
    c.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    c.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
    old = c.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "alice", "PASSWORD": PASSWORD,
        "SECRET_HASH": secret_hash(second["ClientSecretValue"], "alice", client_id)})["AuthenticationResult"]
    new = c.get_tokens_from_refresh_token(ClientId=client_id, ClientSecret=app["ClientSecret"],
                                          RefreshToken=old["RefreshToken"])["AuthenticationResult"]
    c.store.close()

    again = make_client(store=open_store(), config=config)
    listed = again.list_user_pool_client_secrets(UserPoolId=pool, ClientId=client_id)["ClientSecrets"]
    assert [s["ClientSecretId"] for s in listed][1] == second["ClientSecretId"]
    newer = again.get_tokens_from_refresh_token(ClientId=client_id, ClientSecret=second["ClientSecretValue"],
                                                RefreshToken=new["RefreshToken"])["AuthenticationResult"]
    with pytest.raises(again.exceptions.RefreshTokenReuseException):
        again.get_tokens_from_refresh_token(ClientId=client_id, ClientSecret=app["ClientSecret"],
                                            RefreshToken=old["RefreshToken"])
    with pytest.raises(again.exceptions.NotAuthorizedException, match="revoked"):
        again.get_tokens_from_refresh_token(ClientId=client_id, ClientSecret=app["ClientSecret"],
                                            RefreshToken=newer["RefreshToken"])
    again.delete_user_pool(UserPoolId=pool)
    again.store.close()


def test_two_engines_rotating_one_token_on_sqlite_both_succeed_within_the_grace_period(tmp_path):
    """Two processes' worth of engines over one SQLite file refresh the same token at once: the
    store serialises them, the second finds the token rotated out within its grace period and
    rotates again; the family stays one family, and both answers' tokens work."""
    import dataclasses
    import threading

    import authflow
    from authflow.adapters import SeededEntropy, SqliteStore
    from authflow.crypto.sealing import Keyring
    from tests.conftest import TEST_CONFIG

    config = dataclasses.replace(TEST_CONFIG, kek=Keyring(b"k" * 32))
    engines = [authflow.Client(store=SqliteStore(tmp_path / "race.db"), entropy=SeededEntropy(i), config=config)
               for i in (1, 2)]
    first = engines[0]
    pool = first.create_user_pool(PoolName="p")["UserPool"]["Id"]
    client_id = first.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 60})["UserPoolClient"]["ClientId"]
    first.admin_create_user(UserPoolId=pool, Username="bob", MessageAction="SUPPRESS")
    first.admin_set_user_password(UserPoolId=pool, Username="bob", Password=PASSWORD, Permanent=True)
    for _ in range(3):
        refresh = first.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "bob", "PASSWORD": PASSWORD})["AuthenticationResult"]["RefreshToken"]
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def run(i, refresh=refresh, barrier=barrier, results=results):
            barrier.wait()
            try:
                results[i] = engines[i].get_tokens_from_refresh_token(
                    ClientId=client_id, RefreshToken=refresh)["AuthenticationResult"]["RefreshToken"]
            except Exception as err:  # noqa: BLE001 -- reported by the assertion
                results[i] = err

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert all(isinstance(r, str) for r in results), results
        assert results[0] != results[1]
        # both are the family's: the current token, and one rotated out but inside its grace period
        for token in results:
            assert "AccessToken" in first.get_tokens_from_refresh_token(
                ClientId=client_id, RefreshToken=token)["AuthenticationResult"]
    for engine in engines:
        engine.store.close()
