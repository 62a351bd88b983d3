"""App-client OAuth settings through the Client, validated against the pool's resources
(reference oauth2-hosted-login.md §2, §10.1): AllowedOAuthScopes (standard or a resource
server's), SupportedIdentityProviders (COGNITO or the pool's providers), CallbackURLs and
LogoutURLs (absolute, no fragment, HTTPS except the loopback hosts; custom schemes), on
create and on update. Every refusal leaves the store exactly as it was."""

from __future__ import annotations

import pytest

from authflow.errors import InvalidParameterException, ScopeDoesNotExistException
from tests.oauth_resources import Pool

API = "com.example.photos"
CALLBACK = "https://app.example.com/cb"


def oauth(**overrides) -> dict:
    settings = {"AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthFlows": ["code"],
                "AllowedOAuthScopes": ["openid"], "CallbackURLs": [CALLBACK]}
    return {**settings, **overrides}


def with_server(**config) -> Pool:
    pool = Pool(**config)
    pool.client.create_resource_server(UserPoolId=pool.id, Identifier=API, Name="photos",
                                       Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
    return pool


def create(pool: Pool, **settings):
    return pool.client.create_user_pool_client(UserPoolId=pool.id, ClientName="web", **settings)


def test_standard_and_resource_server_scopes_are_accepted():
    pool = with_server()
    scopes = ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin", f"{API}/read"]
    made = create(pool, **oauth(AllowedOAuthScopes=scopes))["UserPoolClient"]
    assert made["AllowedOAuthScopes"] == scopes


@pytest.mark.parametrize("scope", ["Cognito", f"{API}/write", "other.api/read", "OpenID"])
def test_unknown_scopes_are_refused(scope):
    pool = with_server()
    pool.unchanged(ScopeDoesNotExistException, f"Invalid scope requested: {scope}",
                   create, pool, **oauth(AllowedOAuthScopes=["openid", scope]))


def test_update_checks_scopes_too():
    pool = with_server()
    client_id = create(pool, **oauth())["UserPoolClient"]["ClientId"]
    pool.unchanged(ScopeDoesNotExistException, "Invalid scope requested: nope/read",
                   pool.client.update_user_pool_client, UserPoolId=pool.id, ClientId=client_id,
                   **oauth(AllowedOAuthScopes=["nope/read"]))
    updated = pool.client.update_user_pool_client(UserPoolId=pool.id, ClientId=client_id,
                                                  **oauth(AllowedOAuthScopes=[f"{API}/read"]))
    assert updated["UserPoolClient"]["AllowedOAuthScopes"] == [f"{API}/read"]


def test_a_scope_of_another_pools_server_is_unknown_here():
    other = with_server()
    pool = Pool(other.env)
    pool.unchanged(ScopeDoesNotExistException, f"Invalid scope requested: {API}/read",
                   create, pool, **oauth(AllowedOAuthScopes=[f"{API}/read"]))


def test_supported_identity_providers_must_exist_in_the_pool():
    pool = Pool()
    pool.unchanged(InvalidParameterException, f"The provider Google does not exist for User Pool {pool.id}",
                   create, pool, SupportedIdentityProviders=["COGNITO", "Google"])
    pool.client.create_identity_provider(
        UserPoolId=pool.id, ProviderName="Google", ProviderType="Google",
        ProviderDetails={"client_id": "a", "client_secret": "b", "authorize_scopes": "openid"})
    made = create(pool, SupportedIdentityProviders=["COGNITO", "Google"])["UserPoolClient"]
    assert made["SupportedIdentityProviders"] == ["COGNITO", "Google"]


@pytest.mark.parametrize("url", [
    "https://app.example.com/cb", "https://app.example.com:8443/cb?x=1", "http://localhost/cb",
    "http://localhost:3000/callback", "http://127.0.0.1:8080/", "http://[::1]:9000/cb", "myapp://callback",
    "com.example.app:/oauth2redirect",
])
def test_acceptable_redirect_urls(url):
    pool = Pool()
    made = create(pool, **oauth(CallbackURLs=[url], LogoutURLs=[url]))["UserPoolClient"]
    assert made["CallbackURLs"] == [url] and made["LogoutURLs"] == [url]


@pytest.mark.parametrize(("url", "problem"), [
    ("http://app.example.com/cb", "must use HTTPS unless the host is localhost, 127.0.0.1 or [::1]"),
    ("http://localhost.example.com/cb", "must use HTTPS unless the host is localhost, 127.0.0.1 or [::1]"),
    ("https://app.example.com/cb#frag", "must not contain a fragment"),
    ("myapp://cb#x", "must not contain a fragment"),
    ("/relative/cb", "must be absolute URLs (with a scheme)"),
    ("app.example.com/cb", "must be absolute URLs (with a scheme)"),
    ("https:///cb", "must name a host"),
])
@pytest.mark.parametrize("member", ["CallbackURLs", "LogoutURLs"])
def test_refused_redirect_urls(url, problem, member):
    pool = Pool()
    settings = oauth(**{member: [url]}) if member == "CallbackURLs" else oauth(LogoutURLs=[url])
    pool.unchanged(InvalidParameterException, f"{member} {problem}: {url}", create, pool, **settings)


def test_existing_rules_still_hold():
    pool = Pool()
    pool.unchanged(InvalidParameterException, "DefaultRedirectURI must be one of the CallbackURLs.",
                   create, pool, **oauth(DefaultRedirectURI="https://elsewhere.example.com/cb"))
