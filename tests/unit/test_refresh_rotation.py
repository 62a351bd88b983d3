"""GetTokensFromRefreshToken and refresh-token rotation through `authflow.Client`, with the
manual clock moved across RetryGracePeriodSeconds.

References: AWS API reference GetTokensFromRefreshToken ("issues a new refresh token and
invalidates the original refresh token after an optional grace period when refresh token
rotation is enabled. If refresh token rotation is disabled, issues new ID and access tokens
only"), RefreshTokenRotationType (RetryGracePeriodSeconds 0-60; "must be completed with
GetTokensFromRefreshToken"), RefreshTokenReuseException; developer guide "Refresh tokens"
("You can't authenticate with REFRESH_TOKEN_AUTH in app clients with refresh token rotation
enabled"); security.md §3.5 / row 36 (family revoked on reuse: our decision).
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from authflow.core import refresh_rotation
from authflow.service import oauth
from tests.signin import NEW, Env, refused, secret_hash, token_claims

REUSED = "Refresh Token has been rotated and can no longer be used"
REVOKED = "Refresh Token has been revoked"
INVALID = "Invalid Refresh Token"
REVOKED_ACCESS = "Access Token has been revoked"


class World:
    def __init__(self, rotation: dict | None = None, **app_kwargs) -> None:
        self.env = Env()
        self.c = self.env.client
        self.clock = self.env.clock
        self.pool = self.env.pool()
        if rotation is not None:
            app_kwargs["RefreshTokenRotation"] = rotation
        self.app = self.env.app(self.pool, **app_kwargs)
        self.app_id = self.app["ClientId"]
        self.env.user(self.pool, "alice")
        self.c.admin_set_user_password(UserPoolId=self.pool, Username="alice", Password=NEW, Permanent=True)

    def sign_in(self) -> dict:
        return self.c.initiate_auth(ClientId=self.app_id, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "alice", "PASSWORD": NEW})["AuthenticationResult"]

    def refresh(self, token: str, **kwargs) -> dict:
        return self.c.get_tokens_from_refresh_token(RefreshToken=token, ClientId=self.app_id, **kwargs)[
            "AuthenticationResult"]

    def later(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    def snapshot(self) -> dict:
        return self.env.snapshot()


def rotating(grace: int = 0, **kwargs) -> World:
    return World({"Feature": "ENABLED", "RetryGracePeriodSeconds": grace}, **kwargs)


# -- configuration ----------------------------------------------------------------------------------


def test_rotation_is_shown_by_describe_and_changed_by_update():
    w = rotating(30)
    described = w.c.describe_user_pool_client(UserPoolId=w.pool, ClientId=w.app_id)["UserPoolClient"]
    assert described["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 30}
    w.c.update_user_pool_client(UserPoolId=w.pool, ClientId=w.app_id,
                                RefreshTokenRotation={"Feature": "DISABLED"})
    described = w.c.describe_user_pool_client(UserPoolId=w.pool, ClientId=w.app_id)["UserPoolClient"]
    assert described["RefreshTokenRotation"] == {"Feature": "DISABLED"}


@pytest.mark.parametrize("rotation", [{"Feature": "ENABLED", "RetryGracePeriodSeconds": 61},
                                      {"Feature": "ON"}, {"RetryGracePeriodSeconds": 5}])
def test_bad_rotation_settings_are_refused(rotation):
    env = Env()
    pool = env.pool()
    before = env.snapshot()
    with pytest.raises(env.client.exceptions.InvalidParameterException):
        env.app(pool, RefreshTokenRotation=rotation)
    assert env.snapshot() == before


# -- without rotation -------------------------------------------------------------------------------


def test_without_rotation_the_same_token_keeps_refreshing_and_no_new_one_is_given():
    w = World()
    tokens = w.sign_in()
    for _ in range(3):
        w.later(10)
        result = w.refresh(tokens["RefreshToken"])
        assert "RefreshToken" not in result and {"AccessToken", "IdToken", "ExpiresIn", "TokenType"} <= set(result)
        assert token_claims(result["AccessToken"])["origin_jti"] == token_claims(tokens["AccessToken"])["origin_jti"]
    # REFRESH_TOKEN_AUTH still works on a client without rotation
    again = w.c.initiate_auth(ClientId=w.app_id, AuthFlow="REFRESH_TOKEN_AUTH",
                              AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert "AccessToken" in again["AuthenticationResult"]


def test_unknown_and_foreign_tokens_are_invalid():
    w = World()
    tokens = w.sign_in()
    refused(w.c.exceptions.NotAuthorizedException, INVALID, w.refresh, "not-a-token")
    other = w.env.app(w.pool)["ClientId"]
    refused(w.c.exceptions.NotAuthorizedException, INVALID,
            w.c.get_tokens_from_refresh_token, RefreshToken=tokens["RefreshToken"], ClientId=other)
    with pytest.raises(w.c.exceptions.ResourceNotFoundException):
        w.c.get_tokens_from_refresh_token(RefreshToken=tokens["RefreshToken"], ClientId="b" * 26)


def test_expired_revoked_and_signed_out_families_are_refused():
    w = World()
    tokens = w.sign_in()
    w.c.admin_user_global_sign_out(UserPoolId=w.pool, Username="alice")
    refused(w.c.exceptions.NotAuthorizedException, REVOKED, w.refresh, tokens["RefreshToken"])
    tokens = w.sign_in()
    w.later(30 * 24 * 3600)
    refused(w.c.exceptions.NotAuthorizedException, "Refresh Token has expired", w.refresh, tokens["RefreshToken"])


# -- with rotation ----------------------------------------------------------------------------------


def test_rotation_gives_a_new_refresh_token_of_the_same_family_and_the_old_one_dies_at_once():
    w = rotating(0)
    tokens = w.sign_in()
    result = w.refresh(tokens["RefreshToken"])
    new = result["RefreshToken"]
    assert new != tokens["RefreshToken"]
    assert token_claims(result["AccessToken"])["origin_jti"] == token_claims(tokens["AccessToken"])["origin_jti"]
    assert "RefreshToken" in w.refresh(new)  # the new one works (and rotates in turn)


def test_a_replay_after_the_grace_period_is_refused_and_revokes_the_family():
    w = rotating(10)
    tokens = w.sign_in()
    newest = w.refresh(tokens["RefreshToken"])
    w.later(10)  # the grace period is over at exactly RetryGracePeriodSeconds
    before_access = newest["AccessToken"]
    refused(w.c.exceptions.RefreshTokenReuseException, REUSED, w.refresh, tokens["RefreshToken"])
    # the family is revoked: the newest refresh token and the access tokens of the family
    refused(w.c.exceptions.NotAuthorizedException, REVOKED, w.refresh, newest["RefreshToken"])
    refused(w.c.exceptions.NotAuthorizedException, REVOKED_ACCESS, w.c.get_user, AccessToken=before_access)
    # a second replay is still a reuse, and writes nothing more
    snapshot = w.snapshot()
    refused(w.c.exceptions.RefreshTokenReuseException, REUSED, w.refresh, tokens["RefreshToken"])
    assert w.snapshot() == snapshot
    # a new sign-in is not affected
    assert "RefreshToken" in w.refresh(w.sign_in()["RefreshToken"])


def test_within_the_grace_period_the_old_token_refreshes_again():
    w = rotating(10)
    tokens = w.sign_in()
    first = w.refresh(tokens["RefreshToken"])["RefreshToken"]
    w.later(9.999)
    retry = w.refresh(tokens["RefreshToken"])["RefreshToken"]  # a client retrying a lost answer
    assert retry not in (first, tokens["RefreshToken"])
    # the token the first refresh gave is now rotated out in turn, with its own grace period
    w.later(5)
    assert "RefreshToken" in w.refresh(first)
    refused(w.c.exceptions.RefreshTokenReuseException, REUSED, w.refresh, tokens["RefreshToken"])


def test_two_refreshes_inside_the_grace_period_both_succeed():
    w = rotating(60)
    tokens = w.sign_in()
    a = w.refresh(tokens["RefreshToken"])
    b = w.refresh(tokens["RefreshToken"])
    assert a["RefreshToken"] != b["RefreshToken"]
    assert "AccessToken" in w.refresh(b["RefreshToken"])


def test_rotation_keeps_the_absolute_expiry():
    w = rotating(0)
    token = w.sign_in()["RefreshToken"]
    for _ in range(2):
        w.later(10 * 24 * 3600)
        token = w.refresh(token)["RefreshToken"]
    w.later(10 * 24 * 3600)  # 30 days after the sign-in: the client's default RefreshTokenValidity
    refused(w.c.exceptions.NotAuthorizedException, "Refresh Token has expired", w.refresh, token)


def test_refresh_token_auth_is_refused_on_a_rotating_client_and_changes_nothing():
    w = rotating(0)
    tokens = w.sign_in()
    before = w.snapshot()
    message = (f"REFRESH_TOKEN_AUTH is not allowed for client {w.app_id}: refresh token rotation is enabled, "
               "so refresh with GetTokensFromRefreshToken.")
    refused(w.c.exceptions.InvalidParameterException, message, w.c.initiate_auth, ClientId=w.app_id,
            AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert w.snapshot() == before


def test_revoking_the_newest_or_a_remembered_old_token_revokes_the_family():
    w = rotating(30)
    tokens = w.sign_in()
    newest = w.refresh(tokens["RefreshToken"])["RefreshToken"]
    w.c.revoke_token(Token=newest, ClientId=w.app_id)
    refused(w.c.exceptions.NotAuthorizedException, REVOKED, w.refresh, tokens["RefreshToken"])  # within grace
    tokens = w.sign_in()
    newest = w.refresh(tokens["RefreshToken"])["RefreshToken"]
    w.c.revoke_token(Token=tokens["RefreshToken"], ClientId=w.app_id)  # the rotated-out one
    refused(w.c.exceptions.NotAuthorizedException, REVOKED, w.refresh, newest)


def test_a_refused_refresh_of_a_rotating_client_changes_nothing():
    w = rotating(0)
    tokens = w.sign_in()
    w.c.admin_disable_user(UserPoolId=w.pool, Username="alice")
    before = w.snapshot()
    with pytest.raises(w.c.exceptions.NotAuthorizedException):
        w.refresh(tokens["RefreshToken"])
    assert w.snapshot() == before


def test_a_family_remembers_a_bounded_number_of_rotated_tokens():
    w = rotating(0)
    first = token = w.sign_in()["RefreshToken"]
    for _ in range(refresh_rotation.MAX_REMEMBERED + 1):
        token = w.refresh(token)["RefreshToken"]
    with w.c.store.transaction() as tx:
        rotated = tx.list_resources(w.pool, refresh_rotation.ROTATED, after=None, limit=100)
    assert len(rotated) == refresh_rotation.MAX_REMEMBERED
    # the oldest is forgotten: it now answers as an unknown token, not as a reuse
    refused(w.c.exceptions.NotAuthorizedException, INVALID, w.refresh, first)
    assert "RefreshToken" in w.refresh(token)


def test_a_secret_client_rotates_too():
    w = rotating(0, GenerateSecret=True)
    secret = w.app["ClientSecret"]
    tokens = w.c.initiate_auth(ClientId=w.app_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "alice", "PASSWORD": NEW, "SECRET_HASH": secret_hash(secret, "alice", w.app_id)})
    result = w.refresh(tokens["AuthenticationResult"]["RefreshToken"], ClientSecret=secret)
    assert "RefreshToken" in result


# -- the token endpoint ------------------------------------------------------------------------------


def _token_world(grace: int) -> World:
    w = rotating(grace, GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                 AllowedOAuthScopes=["openid"], CallbackURLs=["https://app.example.com/cb"])
    w.c.create_user_pool_domain(Domain="rotating", UserPoolId=w.pool)
    return w


def _api_refresh_token(w: World) -> str:
    secret = w.app["ClientSecret"]
    return w.c.initiate_auth(ClientId=w.app_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "alice", "PASSWORD": NEW, "SECRET_HASH": secret_hash(secret, "alice", w.app_id),
    })["AuthenticationResult"]["RefreshToken"]


def _post(w: World, refresh: str) -> dict:
    basic = "Basic " + base64.b64encode(f"{w.app_id}:{w.app['ClientSecret']}".encode()).decode()
    return oauth.token(w.c.engine, "rotating", {"grant_type": "refresh_token", "refresh_token": refresh}, basic)


def test_token_endpoint_refresh_rotates_and_refuses_a_replay_after_grace():
    w = _token_world(5)
    old = _api_refresh_token(w)
    answer = _post(w, old)
    new = answer["refresh_token"]
    assert new != old and "access_token" in answer
    w.later(4)
    assert "refresh_token" in _post(w, old)  # within grace: refreshes again
    w.later(10)
    with pytest.raises(oauth.OAuthError) as caught:
        _post(w, old)
    assert caught.value.error == "invalid_grant"
    with pytest.raises(oauth.OAuthError) as caught:  # the family was revoked
        _post(w, new)
    assert caught.value.error == "invalid_grant"


def test_token_endpoint_without_rotation_gives_no_refresh_token():
    w = World(GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
              AllowedOAuthScopes=["openid"], CallbackURLs=["https://app.example.com/cb"])
    w.c.create_user_pool_domain(Domain="rotating", UserPoolId=w.pool)
    old = _api_refresh_token(w)
    assert "refresh_token" not in _post(w, old) and "access_token" in _post(w, old)
