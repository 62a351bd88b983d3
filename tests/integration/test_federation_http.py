"""Federation over HTTP without a browser: two pools on one `authflow serve` app. Pool U
(upstream) has a domain, a confidential client whose callback is D's
`/oauth2/idpresponse`, and the user bob; pool D (downstream) has an OIDC identity provider
whose issuer is U's, and an app client supporting it.

The browser's part is played by hand: the app's authorize request at D goes through
`oauth.authorize` + `federation.start` (what the hosted authorize route does), the sign-in
at U through U's `oauth.authorize` + `oauth.complete`; everything after that is real HTTP:
D's `/oauth2/idpresponse` calls U's discovery, token, JWKS and userInfo endpoints, and the
app redeems its code at D's `/oauth2/token`."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

from authflow.service import federation, oauth
from tests.http import free_socket, serving

CALLBACK = "https://app.example.com/cb"
PASSWORD = "Passw0rd!long"
PROVIDER = "Upstream"


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def attributes_of(user) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


class Federation:
    def __init__(self, server):
        self.server = server
        c = self.client = server.client
        self.engine = c.engine
        self.u_base = f"{server.url}/domains/upstream"
        self.d_base = f"{server.url}/domains/downstream"
        # U: the identity provider.
        self.u_pool = c.create_user_pool(PoolName="upstream")["UserPool"]["Id"]
        c.create_user_pool_domain(Domain="upstream", UserPoolId=self.u_pool)
        self.u_app = c.create_user_pool_client(
            UserPoolId=self.u_pool, ClientName="downstream", GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[f"{self.d_base}/oauth2/idpresponse"],
        )["UserPoolClient"]
        c.admin_create_user(UserPoolId=self.u_pool, Username="bob", MessageAction="SUPPRESS", UserAttributes=[
            {"Name": "email", "Value": "bob@example.com"}, {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": "Bob"}])
        c.admin_set_user_password(UserPoolId=self.u_pool, Username="bob", Password=PASSWORD, Permanent=True)
        self.bob = attributes_of(c.admin_get_user(UserPoolId=self.u_pool, Username="bob"))["sub"]
        # D: the app's pool, federating with U.
        self.d_pool = c.create_user_pool(PoolName="downstream")["UserPool"]["Id"]
        c.create_user_pool_domain(Domain="downstream", UserPoolId=self.d_pool)
        self.details = {
            "client_id": self.u_app["ClientId"], "client_secret": self.u_app["ClientSecret"],
            "authorize_scopes": "openid email profile", "oidc_issuer": self.engine.issuer(self.u_pool),
            "attributes_request_method": "GET",
        }
        c.create_identity_provider(UserPoolId=self.d_pool, ProviderName=PROVIDER, ProviderType="OIDC",
                                   ProviderDetails=self.details,
                                   AttributeMapping={"email": "email", "name": "name"})
        self.app = self.d_client()

    def d_client(self, callback: str = CALLBACK, **extra):
        return self.client.create_user_pool_client(
            UserPoolId=self.d_pool, ClientName="app", GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "email", "profile"], CallbackURLs=[callback],
            SupportedIdentityProviders=["COGNITO", PROVIDER], ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
            **extra,
        )["UserPoolClient"]

    def begin(self, app=None, **params) -> str:
        """The app's authorize request at D naming the provider: the Location upstream."""
        app = app or self.app
        request = oauth.authorize(self.engine, "downstream", {
            "client_id": app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
            "identity_provider": PROVIDER, "scope": "openid email profile", **params}, base=self.d_base)
        assert isinstance(request, oauth.AuthorizeRequest), request
        return federation.start(self.engine, request, PROVIDER, base=self.d_base)

    def upstream(self, location: str) -> str:
        """bob signs in at U: the Location back to D's idpresponse."""
        assert location.startswith(f"{self.u_base}/oauth2/authorize?"), location
        request = oauth.authorize(self.engine, "upstream", query_of(location), base=self.u_base)
        assert isinstance(request, oauth.AuthorizeRequest), request
        return oauth.complete(self.engine, request, sub=self.bob, auth_time=self.engine.now())

    def back(self, url: str) -> str:
        answer = httpx.get(url, follow_redirects=False, timeout=15)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def sign_in(self, app=None, **params) -> str:
        """The whole round: the app's callback Location."""
        return self.back(self.upstream(self.begin(app, **params)))

    def tokens(self, location: str, app=None, callback: str = CALLBACK) -> dict:
        app = app or self.app
        assert location.startswith(callback + "?"), location
        raw = f"{app['ClientId']}:{app['ClientSecret']}".encode()
        answer = httpx.post(f"{self.d_base}/oauth2/token", data={
            "grant_type": "authorization_code", "code": query_of(location)["code"], "redirect_uri": callback},
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()}, timeout=15)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def id_claims(self, tokens: dict, app=None) -> dict:
        jwks = httpx.get(f"{self.server.url}/{self.d_pool}/.well-known/jwks.json", timeout=15).json()
        kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
        key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == kid)
        return jwt.decode(tokens["id_token"], key.key, algorithms=["RS256"], audience=(app or self.app)["ClientId"],
                          issuer=self.engine.issuer(self.d_pool), options={"verify_exp": False, "verify_iat": False})

    def d_users(self) -> list[dict]:
        return self.client.list_users(UserPoolId=self.d_pool)["Users"]

    def federated(self) -> dict:
        return self.client.admin_get_user(UserPoolId=self.d_pool, Username=f"{PROVIDER}_{self.bob}")


@pytest.fixture
def fed():
    with serving(issuer_style="local") as server:
        yield Federation(server)


def test_the_upstream_request_names_the_idpresponse_callback_pkce_and_a_nonce(fed):
    location = fed.begin(state="app-state")
    query = query_of(location)
    assert query["response_type"] == "code" and query["client_id"] == fed.u_app["ClientId"]
    assert query["redirect_uri"] == f"{fed.d_base}/oauth2/idpresponse"
    assert query["scope"] == "openid email profile"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["nonce"] and query["state"] and query["state"] != "app-state"


def test_first_sign_in_creates_the_external_provider_user_with_identities_and_mapped_attributes(fed):
    location = fed.sign_in(state="s1")
    assert query_of(location)["state"] == "s1"
    user = fed.federated()
    assert user["UserStatus"] == "EXTERNAL_PROVIDER" and user["Enabled"] is True
    attributes = attributes_of(user)
    assert attributes["email"] == "bob@example.com" and attributes["name"] == "Bob"
    identities = json.loads(attributes["identities"])
    assert identities == [{"userId": fed.bob, "providerName": PROVIDER, "providerType": "OIDC", "issuer": None,
                           "primary": True, "dateCreated": identities[0]["dateCreated"]}]
    assert isinstance(identities[0]["dateCreated"], int)
    assert attributes["identities"].startswith('[{"userId":')  # compact, as Cognito stores it
    claims = fed.id_claims(fed.tokens(location))
    assert claims["sub"] == attributes["sub"] != fed.bob
    assert claims["cognito:username"] == f"{PROVIDER}_{fed.bob}"
    assert claims["identities"] == [{"userId": fed.bob, "providerName": PROVIDER, "providerType": "OIDC",
                                     "issuer": None, "primary": "true",
                                     "dateCreated": str(identities[0]["dateCreated"])}]
    # No nonce from the app: the generated one is still in the ID token [D].
    assert claims["nonce"]


def test_the_apps_nonce_reaches_its_id_token(fed):
    claims = fed.id_claims(fed.tokens(fed.sign_in(nonce="app-nonce-1")))
    assert claims["nonce"] == "app-nonce-1"


def test_a_second_sign_in_reuses_the_user_and_refreshes_its_attributes(fed):
    first = fed.id_claims(fed.tokens(fed.sign_in()))
    dated = json.loads(attributes_of(fed.federated())["identities"])[0]["dateCreated"]
    fed.client.admin_update_user_attributes(UserPoolId=fed.u_pool, Username="bob",
                                            UserAttributes=[{"Name": "name", "Value": "Robert"}])
    second = fed.id_claims(fed.tokens(fed.sign_in()))
    assert second["sub"] == first["sub"] and second["name"] == "Robert"
    assert len(fed.d_users()) == 1
    attributes = attributes_of(fed.federated())
    assert attributes["name"] == "Robert"
    assert json.loads(attributes["identities"])[0]["dateCreated"] == dated


def test_refresh_works_for_a_federated_user(fed):
    tokens = fed.tokens(fed.sign_in())
    raw = f"{fed.app['ClientId']}:{fed.app['ClientSecret']}".encode()
    answer = httpx.post(f"{fed.d_base}/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()}, timeout=15)
    assert answer.status_code == 200, answer.text


def test_a_linked_identity_signs_in_as_the_local_user(fed):
    c = fed.client
    c.admin_create_user(UserPoolId=fed.d_pool, Username="carol", MessageAction="SUPPRESS",
                        UserAttributes=[{"Name": "email", "Value": "carol@example.com"}])
    carol = attributes_of(c.admin_get_user(UserPoolId=fed.d_pool, Username="carol"))["sub"]
    c.admin_link_provider_for_user(
        UserPoolId=fed.d_pool,
        DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "carol"},
        SourceUser={"ProviderName": PROVIDER, "ProviderAttributeName": "Cognito_Subject",
                    "ProviderAttributeValue": fed.bob},
    )
    c.admin_set_user_password(UserPoolId=fed.d_pool, Username="carol", Password=PASSWORD, Permanent=True)
    claims = fed.id_claims(fed.tokens(fed.sign_in()))
    assert claims["sub"] == carol and claims["cognito:username"] == "carol"
    assert [u["Username"] for u in fed.d_users()] == ["carol"]
    user = c.admin_get_user(UserPoolId=fed.d_pool, Username="carol")
    attributes = attributes_of(user)
    assert user["UserStatus"] == "CONFIRMED" and attributes["email"] == "carol@example.com"
    assert [(i["providerName"], i["userId"], i["primary"]) for i in json.loads(attributes["identities"])] == \
        [(PROVIDER, fed.bob, False)]
    assert claims["identities"][0]["primary"] == "false"
    # Once more: still carol, identities not repeated.
    fed.tokens(fed.sign_in())
    assert len(json.loads(attributes_of(c.admin_get_user(UserPoolId=fed.d_pool, Username="carol"))["identities"])) == 1


def test_a_forged_state_is_refused_on_the_error_page(fed):
    back = fed.upstream(fed.begin())
    query = query_of(back)
    forged = f"{fed.d_base}/oauth2/idpresponse?code={query['code']}&state=forged-{query['state']}"
    location = fed.back(forged)
    assert location.startswith(f"{fed.d_base}/error?") and query_of(location)["error"] == "invalid_request"
    assert not location.startswith(CALLBACK)
    assert fed.d_users() == []
    assert fed.back(f"{fed.d_base}/oauth2/idpresponse?code=x").startswith(f"{fed.d_base}/error?")


def test_a_replayed_state_is_refused(fed):
    back = fed.upstream(fed.begin())
    assert fed.back(back).startswith(CALLBACK + "?code=")
    again = fed.back(back)
    assert again.startswith(f"{fed.d_base}/error?")
    assert len(fed.d_users()) == 1


def test_a_state_of_another_domain_is_refused(fed):
    back = fed.upstream(fed.begin())
    elsewhere = back.replace("/domains/downstream/", "/domains/upstream/")
    assert fed.back(elsewhere).startswith(f"{fed.u_base}/error?")
    assert fed.d_users() == []


def test_an_unreachable_token_endpoint_gives_the_error_redirect(fed):
    sock = free_socket()  # bound, never listening: connections are refused
    dead = f"http://127.0.0.1:{sock.getsockname()[1]}/token"
    try:
        fed.client.update_identity_provider(UserPoolId=fed.d_pool, ProviderName=PROVIDER,
                                            ProviderDetails={**fed.details, "token_url": dead})
        location = fed.sign_in(state="st")
    finally:
        sock.close()
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert query == {"error": "invalid_request", "error_description": "Connection error in calling IdP token endpoint",
                     "state": "st"}
    assert fed.d_users() == []


def test_a_token_endpoint_refusal_gives_the_error_redirect(fed):
    fed.client.update_identity_provider(UserPoolId=fed.d_pool, ProviderName=PROVIDER,
                                        ProviderDetails={**fed.details, "client_secret": "wrong"})
    query = query_of(fed.sign_in(state="st"))
    assert query["error"] == "invalid_request" and query["state"] == "st"
    assert query["error_description"] == f"{PROVIDER} Error - 400 error getting token invalid_client"
    assert fed.d_users() == []


def test_an_upstream_error_is_passed_on(fed):
    query = query_of(fed.begin(state="st"))
    location = fed.back(f"{fed.d_base}/oauth2/idpresponse?error=access_denied&state={query['state']}")
    assert query_of(location) == {"error": "access_denied", "error_description": f"{PROVIDER} Error - access_denied",
                                  "state": "st"}


def test_a_mapped_attribute_the_client_may_not_write_fails_the_sign_in(fed):
    app = fed.d_client(WriteAttributes=["name"])
    query = query_of(fed.sign_in(app, state="st"))
    assert query["error"] == "invalid_request"
    assert query["error_description"] == "Invalid user attributes: email: Attribute cannot be written by this app client."
    assert fed.d_users() == []


def test_a_client_not_supporting_the_provider_cannot_start(fed):
    app = fed.client.create_user_pool_client(
        UserPoolId=fed.d_pool, ClientName="plain", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK], SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]
    request = oauth.authorize(fed.engine, "downstream", {
        "client_id": app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
        "idp_identifier": "nothing", "state": "st"}, base=fed.d_base)
    assert isinstance(request, oauth.AuthorizeRequest)
    query = query_of(federation.start(fed.engine, request, None, base=fed.d_base))
    assert query["error"] == "invalid_request" and query["state"] == "st"


def test_an_unreachable_discovery_document_refuses_at_the_start(fed):
    sock = free_socket()
    try:
        fed.client.update_identity_provider(UserPoolId=fed.d_pool, ProviderName=PROVIDER, ProviderDetails={
            **fed.details, "oidc_issuer": f"http://127.0.0.1:{sock.getsockname()[1]}/issuer"})
        location = fed.begin(state="st")
    finally:
        sock.close()
    assert query_of(location) == {"error": "invalid_request", "state": "st",
                                  "error_description": "Connection error in calling IdP discovery endpoint"}
    assert location.startswith(CALLBACK + "?")


def explicit(fed, **over) -> dict:
    """ProviderDetails naming U's endpoints explicitly (no discovery)."""
    return {**fed.details, "authorize_url": f"{fed.u_base}/oauth2/authorize", "token_url": f"{fed.u_base}/oauth2/token",
            "jwks_uri": f"{fed.server.url}/{fed.u_pool}/.well-known/jwks.json",
            "attributes_url": f"{fed.u_base}/oauth2/userInfo", **over}


def test_explicit_endpoints_work_without_discovery(fed):
    fed.client.update_identity_provider(UserPoolId=fed.d_pool, ProviderName=PROVIDER, ProviderDetails=explicit(fed))
    assert fed.id_claims(fed.tokens(fed.sign_in()))["cognito:username"] == f"{PROVIDER}_{fed.bob}"


def test_an_id_token_not_signed_by_the_providers_keys_is_refused(fed):
    # The JWKS of another pool: U's ID token's kid is not among its keys.
    fed.client.update_identity_provider(UserPoolId=fed.d_pool, ProviderName=PROVIDER, ProviderDetails=explicit(
        fed, jwks_uri=f"{fed.server.url}/{fed.d_pool}/.well-known/jwks.json"))
    query = query_of(fed.sign_in(state="st"))
    assert query["error"] == "invalid_request"
    assert query["error_description"] == f"{PROVIDER} Error - the ID token is not signed by a key of the provider"
    assert fed.d_users() == []


def test_an_id_token_of_another_issuer_is_refused(fed):
    fed.client.update_identity_provider(UserPoolId=fed.d_pool, ProviderName=PROVIDER, ProviderDetails=explicit(
        fed, oidc_issuer="https://issuer.example.com"))
    query = query_of(fed.sign_in(state="st"))
    assert query["error_description"] == f"{PROVIDER} Error - the ID token was issued by another issuer"
    assert fed.d_users() == []


def test_a_return_without_the_browser_binding_is_refused(fed):
    request = oauth.authorize(fed.engine, "downstream", {
        "client_id": fed.app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
        "identity_provider": PROVIDER}, base=fed.d_base)
    back = fed.upstream(federation.start(fed.engine, request, PROVIDER, base=fed.d_base, binding="browser-1"))
    elsewhere = httpx.get(back, follow_redirects=False, timeout=15, cookies={"authflow-idp-binding": "browser-2"})
    assert elsewhere.headers["location"].startswith(f"{fed.d_base}/error?")
    assert fed.d_users() == []
    # The state is spent by that attempt: even the right browser cannot use it afterwards.
    assert httpx.get(back, follow_redirects=False, timeout=15, cookies={"authflow-idp-binding": "browser-1"}
                     ).headers["location"].startswith(f"{fed.d_base}/error?")
    back = fed.upstream(federation.start(fed.engine, request, PROVIDER, base=fed.d_base, binding="browser-1"))
    answer = httpx.get(back, follow_redirects=False, timeout=15, cookies={"authflow-idp-binding": "browser-1"})
    assert answer.headers["location"].startswith(CALLBACK + "?code=")
    assert 'authflow-idp-binding=""' in answer.headers["set-cookie"]  # cleared


def test_redirect_upstream_sets_the_binding_cookie_the_return_needs(fed):
    from types import SimpleNamespace

    from starlette.applications import Starlette
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from authflow.web.federation import redirect_upstream

    ctx = SimpleNamespace(engine=fed.engine, public_url=fed.server.url)

    def authorize(request):  # what the hosted authorize route does for a provider (in a worker thread)
        validated = oauth.authorize(fed.engine, "downstream", dict(request.query_params), base=fed.d_base)
        return redirect_upstream(ctx, request, validated, PROVIDER)

    app = Starlette(routes=[Route("/domains/downstream/oauth2/authorize", authorize)])
    params = {"client_id": fed.app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
              "identity_provider": PROVIDER}
    with TestClient(app, base_url=fed.server.url) as browser:
        answer = browser.get("/domains/downstream/oauth2/authorize", follow_redirects=False, params=params)
        second = browser.get("/domains/downstream/oauth2/authorize", follow_redirects=False, params=params)
    assert answer.status_code == 302
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("authflow-idp-binding=") and "HttpOnly" in cookie and "Path=/domains/downstream" in cookie
    assert "samesite=lax" in cookie.lower() and "Max-Age=600" in cookie
    assert fed.back(fed.upstream(answer.headers["location"])).startswith(f"{fed.d_base}/error?")  # no cookie
    binding = second.cookies["authflow-idp-binding"]
    back = fed.upstream(second.headers["location"])
    location = httpx.get(back, follow_redirects=False, timeout=15, cookies={"authflow-idp-binding": binding}
                         ).headers["location"]
    assert location.startswith(CALLBACK + "?code=")


def test_the_hosted_authorize_route_sends_the_browser_upstream_with_its_binding(fed):
    from tests.external import need

    with httpx.Client(follow_redirects=False, timeout=15) as browser:
        answer = browser.get(f"{fed.d_base}/oauth2/authorize", params={
            "client_id": fed.app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
            "scope": "openid email", "identity_provider": PROVIDER, "state": "st"})
        need(answer.status_code != 404, "the hosted sign-in pages (authflow/web/hosted.py) are not built yet")
        assert answer.status_code == 302 and answer.headers["location"].startswith(f"{fed.u_base}/oauth2/authorize?")
        assert "authflow-idp-binding" in browser.cookies
        location = browser.get(fed.upstream(answer.headers["location"])).headers["location"]
    assert query_of(location)["state"] == "st"
    assert fed.id_claims(fed.tokens(location))["cognito:username"] == f"{PROVIDER}_{fed.bob}"


def test_a_disabled_federated_user_is_denied(fed):
    fed.tokens(fed.sign_in())
    fed.client.admin_disable_user(UserPoolId=fed.d_pool, Username=f"{PROVIDER}_{fed.bob}")
    assert query_of(fed.sign_in(state="st")) == {"error": "access_denied", "state": "st"}


def test_a_social_provider_is_refused_as_not_available(fed):
    fed.client.create_identity_provider(UserPoolId=fed.d_pool, ProviderName="Google", ProviderType="Google",
                                        ProviderDetails={"client_id": "g", "client_secret": "s",
                                                         "authorize_scopes": "openid email"})
    app = fed.client.create_user_pool_client(
        UserPoolId=fed.d_pool, ClientName="g", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK], SupportedIdentityProviders=["Google"],
    )["UserPoolClient"]
    request = oauth.authorize(fed.engine, "downstream", {
        "client_id": app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
        "identity_provider": "Google", "state": "st"}, base=fed.d_base)
    query = query_of(federation.start(fed.engine, request, "Google", base=fed.d_base))
    assert query["error"] == "invalid_request" and query["state"] == "st"
    assert query["error_description"].startswith("sign-in through Google identity providers is not available")
