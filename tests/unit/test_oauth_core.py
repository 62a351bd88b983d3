"""The OAuth decisions of `authflow.core.oauth`, pure: authorize validation and its order,
scopes, PKCE, client authentication, code redemption, at_hash, userInfo claims."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest

from authflow.core import oauth
from authflow.core.lifecycle import IllegalTransition
from authflow.core.oauth import AuthorizeRequest, CodeBindings, OAuthError, Refused
from authflow.core.records import AppClient, User
from tests.conftest import START

POOL = "us-east-1_Pool00001"
CALLBACK = "https://app.example.com/cb"
VERIFIER = "v" * 43 + "-._~0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")


def client(**config) -> AppClient:
    base = {
        "AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthFlows": ["code", "implicit"],
        "AllowedOAuthScopes": ["openid", "email", "profile", "api.example/read"], "CallbackURLs": [CALLBACK],
    }
    return AppClient(pool_id=POOL, id="client1", config={**base, **config}, created=START, modified=START)


def check(params, *, the_client=None, inactive=()):
    the_client = client() if the_client is None else the_client
    return oauth.authorize({"client_id": "client1", **params}, pool_id=POOL, domain="d", client=the_client,
                           inactive_scopes=inactive, query="")


VALID = {"redirect_uri": CALLBACK, "response_type": "code", "state": "st"}


def test_a_valid_request_names_everything_it_was_given():
    got = check({**VALID, "nonce": "n", "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
    assert isinstance(got, AuthorizeRequest)
    assert (got.redirect_uri, got.state, got.nonce, got.code_challenge) == (CALLBACK, "st", "n", CHALLENGE)
    assert got.scopes == ("openid", "email", "profile", "api.example/read")  # omitted: all the client's


@pytest.mark.parametrize("uri", [CALLBACK + "/", "https://app.example.com:443/cb", "HTTPS://app.example.com/cb",
                                 "https://evil.example.com/cb", ""])
def test_an_unregistered_redirect_uri_goes_to_the_error_page(uri):
    got = check({**VALID, "redirect_uri": uri})
    assert got == Refused(error="redirect_mismatch", client_id="client1")
    assert got.redirect_uri is None


def test_the_default_redirect_uri_stands_in_when_none_is_given():
    got = check({"response_type": "code"}, the_client=client(DefaultRedirectURI=CALLBACK))
    assert isinstance(got, AuthorizeRequest) and got.redirect_uri == CALLBACK


@pytest.mark.parametrize("the_client", [
    None, client(AllowedOAuthFlowsUserPoolClient=False), client(AllowedOAuthFlows=["client_credentials"]),
    replace(client(), pool_id="us-east-1_Other0001"),
])
def test_an_unusable_client_goes_to_the_error_page_even_with_bad_parameters(the_client):
    params = {**VALID, "response_type": "nonsense", "code_challenge_method": "plain"}
    got = oauth.authorize({"client_id": "client1", **params}, pool_id=POOL, domain="d", client=the_client,
                          inactive_scopes=(), query="")
    assert got.error == "redirect_mismatch" and got.redirect_uri is None


@pytest.mark.parametrize(("params", "error"), [
    ({"response_type": ""}, "invalid_request"),
    ({"response_type": "id_token"}, "unsupported_response_type"),
    ({"code_challenge_method": "plain", "code_challenge": CHALLENGE}, "invalid_request"),
    ({"code_challenge": CHALLENGE}, "invalid_request"),
    ({"code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge_method": "S256", "code_challenge": "short"}, "invalid_request"),
    ({"scope": "openid admin"}, "invalid_scope"),
    ({"scope": "email"}, "invalid_scope"),  # email without openid
    ({"identity_provider": "Google"}, "invalid_request"),
    ({"prompt": "sometimes"}, "invalid_request"),
])
def test_a_malformed_request_of_a_trusted_client_is_refused_on_its_redirect_uri(params, error):
    got = check({**VALID, **params})
    assert isinstance(got, Refused)
    assert (got.error, got.redirect_uri, got.state) == (error, CALLBACK, "st")


def test_the_checks_come_in_cognitos_order():
    # response_type before the flow before the scopes before PKCE
    assert check({**VALID, "response_type": "", "scope": "bad"}).error == "invalid_request"
    only_implicit = client(AllowedOAuthFlows=["implicit"])
    assert check({**VALID, "scope": "bad"}, the_client=only_implicit).error == "unauthorized_client"
    assert check({**VALID, "scope": "bad", "code_challenge_method": "plain"}).error == "invalid_scope"


def test_implicit_refusals_go_in_the_fragment():
    got = check({**VALID, "response_type": "token", "scope": "bad"})
    assert got.fragment and got.error == "invalid_scope"
    assert check({**VALID, "response_type": "token"}, the_client=client(AllowedOAuthFlows=["code"])).fragment


def test_scopes_deleted_from_their_resource_server_are_dropped_silently():
    got = check({**VALID, "scope": "openid api.example/read"}, inactive={"api.example/read"})
    assert got.scopes == ("openid",)
    assert check({**VALID, "scope": "api.example/read"}, inactive={"api.example/read"}).error == "invalid_scope"


def test_inactive_scopes_are_the_ones_their_server_does_not_list():
    servers = {"https://api.example.com": {"Scopes": [{"ScopeName": "read", "ScopeDescription": "r"}]},
               "gone": None}
    scopes = ["openid", "https://api.example.com/read", "https://api.example.com/write", "gone/x"]
    assert oauth.inactive_scopes(scopes, servers) == {"https://api.example.com/write", "gone/x"}
    assert oauth.resource_server_of("https://api.example.com/read") == ("https://api.example.com", "read")


def test_pkce_s256_only_matches_its_verifier():
    assert oauth.pkce_matches(CHALLENGE, VERIFIER)
    assert not oauth.pkce_matches(CHALLENGE, VERIFIER[:-1])
    assert not oauth.pkce_matches(CHALLENGE, None)
    assert not oauth.pkce_matches(CHALLENGE, "short")


def test_at_hash_is_the_left_half_of_the_sha256():
    digest = hashlib.sha256(b"token").digest()[:16]
    assert oauth.at_hash("token") == base64.urlsafe_b64encode(digest).decode().rstrip("=")


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_client_credentials_by_basic_or_body():
    assert oauth.client_credentials({}, basic("id1:s%2B1")) == oauth.ClientCredentials("id1", "s+1", True)
    assert oauth.client_credentials({"client_id": "id1", "client_secret": "s"}, None) == \
        oauth.ClientCredentials("id1", "s", False)
    assert oauth.client_credentials({"client_id": "id1"}, None) == oauth.ClientCredentials("id1", None, False)


@pytest.mark.parametrize(("form", "header", "error"), [
    ({}, None, "invalid_client"),
    ({}, "Bearer x", "invalid_client"),
    ({}, "Basic !!!", "invalid_client"),
    ({}, basic("no-colon"), "invalid_client"),
    ({"client_id": "other"}, basic("id1:s"), "invalid_client"),
    ({"client_secret": "s"}, basic("id1:s"), "invalid_request"),
])
def test_malformed_client_authentication(form, header, error):
    with pytest.raises(OAuthError) as caught:
        oauth.client_credentials(form, header)
    assert caught.value.error == error


def test_a_client_with_a_secret_must_send_it_and_a_public_client_sends_none():
    secret_client, public = client(), client()
    ok = oauth.ClientCredentials("client1", "s3cret", True)
    assert oauth.check_client_secret(secret_client, "s3cret", ok, pool_id=POOL) is secret_client
    for given in (oauth.ClientCredentials("client1", None, False), oauth.ClientCredentials("client1", "x", True)):
        with pytest.raises(OAuthError, match="invalid_client"):
            oauth.check_client_secret(secret_client, "s3cret", given, pool_id=POOL)
    assert oauth.check_client_secret(public, None, oauth.ClientCredentials("client1", None, False), pool_id=POOL)
    with pytest.raises(OAuthError) as caught:
        oauth.check_client_secret(public, None, ok, pool_id=POOL, status=401)
    assert (caught.value.error, caught.value.status) == ("invalid_client", 401)
    with pytest.raises(OAuthError):
        oauth.check_client_secret(secret_client, "s3cret", ok, pool_id="us-east-1_Other0001")


def test_grant_types():
    assert oauth.check_grant_type({"grant_type": "refresh_token"}) == "refresh_token"
    for form, error in (({}, "invalid_request"), ({"grant_type": "password"}, "unsupported_grant_type")):
        with pytest.raises(OAuthError) as caught:
            oauth.check_grant_type(form)
        assert caught.value.error == error


def test_machine_scopes_are_the_clients_resource_server_scopes():
    machine = client(AllowedOAuthScopes=["api.example/read", "api.example/write"])
    assert oauth.machine_scopes(None, machine, ()) == ("api.example/read", "api.example/write")
    assert oauth.machine_scopes("api.example/write", machine, ()) == ("api.example/write",)
    for requested in ("openid", "api.example/delete"):
        with pytest.raises(OAuthError, match="invalid_scope"):
            oauth.machine_scopes(requested, machine, ())


# -- a code's redemption -----------------------------------------------------------------------

USER = User(pool_id=POOL, username="alice", username_key="alice", sub="sub-1", attributes={"sub": "sub-1"},
            status="CONFIRMED", created=START, modified=START)
BINDINGS = CodeBindings(redirect_uri=CALLBACK, scopes=("openid",), nonce="n", code_challenge=CHALLENGE,
                        auth_time=START, generation=0)


def issued():
    request = check({**VALID, "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
    return oauth.new_code_record(request, USER, code="the-code", progress="sealed", now=START)


def redeem(record, *, client_id="client1", redirect_uri=CALLBACK, verifier=VERIFIER, now=START):
    return oauth.redemption(record, BINDINGS, client_id=client_id, redirect_uri=redirect_uri, verifier=verifier,
                            now=now)


def test_a_code_record_cannot_be_named_by_a_session_string():
    record = issued()
    assert record.id == oauth.code_id("the-code") and record.id.startswith("oauth-code:")
    assert record.challenge == "ISSUED" and record.expires == START + timedelta(minutes=5)


def test_redemption_triggers():
    record = issued()
    assert redeem(record) == "redeem"
    assert redeem(record, redirect_uri=CALLBACK + "/") == "refuse"
    assert redeem(record, verifier="w" * 43) == "refuse"
    assert redeem(record, verifier=None) == "refuse"


@pytest.mark.parametrize("change", [
    {"now": START + timedelta(minutes=5)}, {"client_id": "client2"},
])
def test_redemptions_that_change_nothing_raise_invalid_grant(change):
    with pytest.raises(OAuthError, match="invalid_grant"):
        redeem(issued(), **change)


def test_a_redeemed_code_never_redeems_again():
    spent = replace(issued(), challenge="REDEEMED")
    with pytest.raises(OAuthError, match="invalid_grant"):
        redeem(spent)
    with pytest.raises(OAuthError, match="invalid_grant"):
        redeem(None)
    with pytest.raises(IllegalTransition):
        oauth.oauth_code().next_state("REDEEMED", "redeem")


def test_userinfo_claims_by_scope():
    user = replace(USER, attributes={"sub": "sub-1", "email": "a@example.com", "email_verified": "True",
                                     "name": "Alice", "phone_number": "+15555550100", "custom:team": "x"})
    readable = {"email", "email_verified", "name", "phone_number", "custom:team"}
    everything = oauth.userinfo_claims(user, ["openid"], readable)
    assert everything == {"sub": "sub-1", "email": "a@example.com", "email_verified": "true", "name": "Alice",
                          "phone_number": "+15555550100", "custom:team": "x", "username": "alice"}
    assert oauth.userinfo_claims(user, ["openid", "email"], readable) == {
        "sub": "sub-1", "email": "a@example.com", "email_verified": "true", "username": "alice"}
    assert "email" not in oauth.userinfo_claims(user, ["openid"], readable - {"email"})
