"""The OAuth 2.0 back channel over HTTP (`authflow serve`'s app): /oauth2/token with authlib
(code + PKCE, refresh, client_credentials), ID tokens checked against the JWKS the way
authlib's OIDC client checks them, userInfo by scope, revoke, discovery, and every refusal
of the issue with its status and body. Codes come from `service.oauth.authorize` +
`complete` (the sign-in pages are another family's)."""

from __future__ import annotations

import base64
import hashlib
import threading
import warnings
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():  # authlib.jose is deprecated in favour of joserfc, still what its OIDC client uses
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

import authflow
from authflow.adapters import SeededEntropy, SqliteStore
from authflow.crypto.sealing import Keyring
from authflow.service import oauth
from tests.conftest import TEST_CONFIG
from tests.http import serving

DOMAIN = "myprefix"
CALLBACK = "https://app.example.com/cb"
PASSWORD = "Passw0rd!long"
RESOURCE = "https://api.example.com"


def put_domain(client, pool_id: str, name: str = DOMAIN) -> None:
    client.create_user_pool_domain(Domain=name, UserPoolId=pool_id)


def put_resource_server(client, pool_id: str, scopes=("read", "write")) -> None:
    listed = [{"ScopeName": s, "ScopeDescription": s} for s in scopes]
    try:
        client.describe_resource_server(UserPoolId=pool_id, Identifier=RESOURCE)
    except client.exceptions.ResourceNotFoundException:
        client.create_resource_server(UserPoolId=pool_id, Identifier=RESOURCE, Name="api", Scopes=listed)
    else:
        client.update_resource_server(UserPoolId=pool_id, Identifier=RESOURCE, Name="api", Scopes=listed)


class Setup:
    """A pool with a domain, a confidential web client, a public SPA client, a machine
    client, and a confirmed user."""

    def __init__(self, server):
        self.server = server
        c = self.client = server.client
        self.pool = c.create_user_pool(PoolName="p")["UserPool"]["Id"]
        put_domain(c, self.pool)
        put_resource_server(c, self.pool)
        web = dict(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code", "implicit"],
                   AllowedOAuthScopes=["openid", "email", "profile", "aws.cognito.signin.user.admin"],
                   CallbackURLs=[CALLBACK], ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
        self.web = c.create_user_pool_client(UserPoolId=self.pool, ClientName="web", GenerateSecret=True,
                                             **web)["UserPoolClient"]
        self.spa = c.create_user_pool_client(UserPoolId=self.pool, ClientName="spa", **web)["UserPoolClient"]
        self.machine = c.create_user_pool_client(
            UserPoolId=self.pool, ClientName="m2m", GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=[f"{RESOURCE}/read", f"{RESOURCE}/write"],
        )["UserPoolClient"]
        c.admin_create_user(UserPoolId=self.pool, Username="alice", MessageAction="SUPPRESS", UserAttributes=[
            {"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": "Alice"}])
        c.admin_set_user_password(UserPoolId=self.pool, Username="alice", Password=PASSWORD, Permanent=True)
        user = c.admin_get_user(UserPoolId=self.pool, Username="alice")
        self.sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
        self.base = f"{server.url}/domains/{DOMAIN}"
        self.token_url = f"{self.base}/oauth2/token"

    @property
    def engine(self):
        return self.client.engine

    def location(self, params) -> str:
        request = oauth.authorize(self.engine, DOMAIN, params, base=self.base)
        assert isinstance(request, oauth.AuthorizeRequest), request
        return oauth.complete(self.engine, request, sub=self.sub, auth_time=self.engine.now())

    def code(self, app=None, **params) -> str:
        app = app or self.web
        location = self.location({"client_id": app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
                                  **params})
        return parse_qs(urlparse(location).query)["code"][0]

    def basic(self, app=None, secret=None) -> dict[str, str]:
        app = app or self.web
        raw = f"{app['ClientId']}:{secret or app['ClientSecret']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def post(self, form, headers=None, path="token") -> requests.Response:
        return requests.post(f"{self.base}/oauth2/{path}", data=form, headers=headers or {}, timeout=10)

    def jwks(self):
        return requests.get(f"{self.server.url}/{self.pool}/.well-known/jwks.json", timeout=10).json()

    def stored(self):
        state = self.client.store.snapshot()
        return dict(state.sessions), dict(state.refresh_tokens)


@pytest.fixture
def setup():
    with serving(issuer_style="local") as server:
        yield Setup(server)


def session_for(setup, **kwargs) -> OAuth2Session:
    return OAuth2Session(setup.web["ClientId"], setup.web["ClientSecret"], redirect_uri=CALLBACK,
                         code_challenge_method="S256", **kwargs)


def test_authlib_code_with_pkce_tokens_verify_against_the_jwks(setup):
    session = session_for(setup, scope="openid email profile")
    verifier = "x" * 48
    url, state = session.create_authorization_url(f"{setup.base}/oauth2/authorize", code_verifier=verifier,
                                                  nonce="nonce-123")
    params = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    location = setup.location(params)
    assert parse_qs(urlparse(location).query)["state"] == [state]
    token = session.fetch_token(setup.token_url, authorization_response=location, code_verifier=verifier)
    assert set(token) >= {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}
    assert token["token_type"] == "Bearer"

    discovery = requests.get(f"{setup.server.url}/{setup.pool}/.well-known/openid-configuration", timeout=10).json()
    claims = jwt.decode(
        token["id_token"], JsonWebKey.import_key_set(setup.jwks()), claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": discovery["issuer"]}},
        claims_params={"nonce": "nonce-123", "client_id": setup.web["ClientId"],
                       "access_token": token["access_token"]},
    )
    claims.validate(leeway=120)  # aud, nonce, at_hash, auth_time, iat, exp
    assert claims["aud"] == setup.web["ClientId"] and "azp" not in claims
    assert isinstance(claims["auth_time"], int) and claims["email"] == "alice@example.com"
    access = jwt.decode(token["access_token"], JsonWebKey.import_key_set(setup.jwks()))
    assert access["scope"] == "openid email profile" and access["version"] == 2
    assert access["username"] == "alice" and access["client_id"] == setup.web["ClientId"]

    info = session.get(f"{setup.base}/oauth2/userInfo")
    assert info.status_code == 200
    assert info.json() == {"sub": setup.sub, "name": "Alice", "email": "alice@example.com",
                           "email_verified": "true", "username": "alice"}
    assert "no-store" in info.headers["Cache-Control"]


def test_authlib_refresh_keeps_the_scopes_and_gives_no_refresh_token(setup):
    session = session_for(setup, scope="openid email")
    code = setup.code(scope="openid email")
    token = session.fetch_token(setup.token_url, code=code)
    refreshed = requests.post(setup.token_url, data={"grant_type": "refresh_token",
                                                     "refresh_token": token["refresh_token"]},
                              headers=setup.basic(), timeout=10)
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert set(body) == {"access_token", "id_token", "expires_in", "token_type"}
    access = jwt.decode(body["access_token"], JsonWebKey.import_key_set(setup.jwks()))
    assert access["scope"] == "openid email"
    again = session.refresh_token(setup.token_url, refresh_token=token["refresh_token"])
    assert again["access_token"] != token["access_token"]
    # a refresh token of the web client is no good to the SPA client
    other = setup.post({"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                        "client_id": setup.spa["ClientId"]})
    assert (other.status_code, other.json()) == (400, {"error": "invalid_grant"})


def test_a_public_client_redeems_with_only_its_client_id(setup):
    verifier = "p" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    code = setup.code(setup.spa, scope="openid", code_challenge=challenge, code_challenge_method="S256")
    answer = setup.post({"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                         "client_id": setup.spa["ClientId"], "code_verifier": verifier},
                        headers={"Origin": "https://app.example.com"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Cache-Control"] == "no-store"
    access = jwt.decode(answer.json()["access_token"], JsonWebKey.import_key_set(setup.jwks()))
    assert access["scope"] == "openid"
    # the user-pool API refuses a token without aws.cognito.signin.user.admin
    with pytest.raises(setup.client.exceptions.NotAuthorizedException, match="required scopes"):
        setup.client.get_user(AccessToken=answer.json()["access_token"])


def test_client_credentials_gives_an_access_token_with_the_resource_server_scopes(setup):
    session = OAuth2Session(setup.machine["ClientId"], setup.machine["ClientSecret"])
    token = session.fetch_token(setup.token_url, grant_type="client_credentials")
    assert set(token) >= {"access_token", "expires_in", "token_type"} and "id_token" not in token
    assert "refresh_token" not in token
    claims = jwt.decode(token["access_token"], JsonWebKey.import_key_set(setup.jwks()))
    assert claims["scope"] == f"{RESOURCE}/read {RESOURCE}/write"
    assert claims["sub"] == claims["client_id"] == setup.machine["ClientId"]
    assert "username" not in claims and "cognito:groups" not in claims and "aud" not in claims
    narrow = session.fetch_token(setup.token_url, grant_type="client_credentials", scope=f"{RESOURCE}/write")
    assert jwt.decode(narrow["access_token"], JsonWebKey.import_key_set(setup.jwks()))["scope"] == f"{RESOURCE}/write"
    # a scope deleted from its resource server is dropped
    put_resource_server(setup.client, setup.pool, scopes=("read",))
    fewer = session.fetch_token(setup.token_url, grant_type="client_credentials")
    assert jwt.decode(fewer["access_token"], JsonWebKey.import_key_set(setup.jwks()))["scope"] == f"{RESOURCE}/read"
    with pytest.raises(setup.client.exceptions.NotAuthorizedException):
        setup.client.get_user(AccessToken=token["access_token"])
    userinfo = requests.get(f"{setup.base}/oauth2/userInfo",
                            headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)
    assert userinfo.status_code == 401


def redeem_form(code, **extra):
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **extra}


def test_a_replayed_code_is_refused(setup):
    code = setup.code(scope="openid")
    assert setup.post(redeem_form(code), setup.basic()).status_code == 200
    before = setup.stored()
    again = setup.post(redeem_form(code), setup.basic())
    assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})
    assert setup.stored() == before


def test_a_wrong_verifier_is_refused_and_spends_the_code(setup):
    verifier = "v" * 50
    session = session_for(setup, scope="openid")
    url, _ = session.create_authorization_url(f"{setup.base}/oauth2/authorize", code_verifier=verifier)
    params = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    code = parse_qs(urlparse(setup.location(params)).query)["code"][0]
    wrong = setup.post(redeem_form(code, code_verifier="w" * 50), setup.basic())
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_grant"})
    missing = setup.post(redeem_form(code), setup.basic())
    assert missing.json() == {"error": "invalid_grant"}
    right = setup.post(redeem_form(code, code_verifier=verifier), setup.basic())
    assert right.json() == {"error": "invalid_grant"}  # spent by the first refusal


def test_a_wrong_redirect_uri_is_refused(setup):
    code = setup.code(scope="openid")
    wrong = setup.post(redeem_form(code, redirect_uri=CALLBACK + "/"), setup.basic())
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_grant"})


def test_a_code_of_another_client_is_refused_and_stays_usable_by_its_own(setup):
    code = setup.code(scope="openid")
    before = setup.stored()
    other = setup.post(redeem_form(code, client_id=setup.spa["ClientId"]))
    assert (other.status_code, other.json()) == (400, {"error": "invalid_grant"})
    assert setup.stored() == before
    assert setup.post(redeem_form(code), setup.basic()).status_code == 200


def test_a_bad_secret_then_a_retry_by_body_still_redeems(setup):
    code = setup.code(scope="openid")
    before = setup.stored()
    bad = setup.post(redeem_form(code), setup.basic(secret="wrong"))
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_client")
    no_secret = setup.post(redeem_form(code, client_id=setup.web["ClientId"]))
    assert no_secret.json()["error"] == "invalid_client"
    assert setup.stored() == before
    ok = setup.post(redeem_form(code, client_id=setup.web["ClientId"], client_secret=setup.web["ClientSecret"]))
    assert ok.status_code == 200 and "refresh_token" in ok.json()


@pytest.mark.parametrize(("form", "error"), [
    ({"grant_type": "password", "username": "alice"}, "unsupported_grant_type"),
    ({}, "invalid_request"),
    ({"grant_type": "authorization_code", "redirect_uri": CALLBACK}, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "x"}, "invalid_request"),
    ({"grant_type": "refresh_token"}, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "no-such-code", "redirect_uri": CALLBACK}, "invalid_grant"),
    ({"grant_type": "refresh_token", "refresh_token": "no-such-token"}, "invalid_grant"),
    ({"grant_type": "client_credentials"}, "invalid_grant"),  # not a machine client [P live]
])
def test_bad_token_requests(setup, form, error):
    before = setup.stored()
    answer = setup.post(form, setup.basic())
    assert (answer.status_code, answer.json()["error"]) == (400, error)
    assert answer.headers["Content-Type"].startswith("application/json")
    assert setup.stored() == before


def test_bad_client_credentials_scope(setup):
    answer = setup.post({"grant_type": "client_credentials", "scope": "openid"}, setup.basic(setup.machine))
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_scope")
    answer = setup.post({"grant_type": "client_credentials", "scope": f"{RESOURCE}/delete"},
                        setup.basic(setup.machine))
    assert answer.json()["error"] == "invalid_scope"


def test_an_expired_code_is_refused(setup):
    code = setup.code(scope="openid")
    setup.server.clock.advance(timedelta(minutes=5))
    answer = setup.post(redeem_form(code), setup.basic())
    assert answer.json() == {"error": "invalid_grant"}


def test_cors_preflight_and_unknown_domain(setup):
    preflight = requests.options(setup.token_url, headers={"Origin": "https://app.example.com",
                                                           "Access-Control-Request-Method": "POST"}, timeout=10)
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    missing = requests.post(f"{setup.server.url}/domains/nope/oauth2/token", data={"grant_type": "x"}, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "invalid_request"


def test_userinfo_refusals(setup):
    url = f"{setup.base}/oauth2/userInfo"
    bare = requests.get(url, timeout=10)
    assert bare.status_code == 400 and 'error="invalid_request"' in bare.headers["WWW-Authenticate"]
    junk = requests.get(url, headers={"Authorization": "Bearer junk"}, timeout=10)
    assert junk.status_code == 401 and 'error="invalid_token"' in junk.headers["WWW-Authenticate"]
    # an API token (InitiateAuth) carries no openid: refused
    api = setup.client.admin_initiate_auth(UserPoolId=setup.pool, ClientId=setup.spa["ClientId"],
                                           AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                           AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})
    refused = requests.post(url, headers={"Authorization": f"Bearer {api['AuthenticationResult']['AccessToken']}"},
                            timeout=10)
    assert refused.status_code == 401


def test_global_sign_out_and_revoke_reach_oauth_tokens(setup):
    code = setup.code(scope="openid aws.cognito.signin.user.admin")
    tokens = setup.post(redeem_form(code), setup.basic()).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(f"{setup.base}/oauth2/userInfo", headers=bearer, timeout=10).status_code == 200
    assert setup.client.get_user(AccessToken=tokens["access_token"])["Username"] == "alice"
    # revoke: a JWT is not revocable; the refresh token is, and then its access tokens stop
    jwt_answer = setup.post({"token": tokens["access_token"]}, setup.basic(), path="revoke")
    assert (jwt_answer.status_code, jwt_answer.json()["error"]) == (400, "unsupported_token_type")
    bad_client = setup.post({"token": tokens["refresh_token"]}, setup.basic(secret="nope"), path="revoke")
    assert (bad_client.status_code, bad_client.json()["error"]) == (401, "invalid_client")
    assert setup.post({}, setup.basic(), path="revoke").json()["error"] == "invalid_request"
    revoked = setup.post({"token": tokens["refresh_token"]}, setup.basic(), path="revoke")
    assert (revoked.status_code, revoked.content) == (200, b"")
    assert setup.post({"token": tokens["refresh_token"]}, setup.basic(), path="revoke").status_code == 200
    assert requests.get(f"{setup.base}/oauth2/userInfo", headers=bearer, timeout=10).status_code == 401
    refresh = setup.post({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, setup.basic())
    assert refresh.json() == {"error": "invalid_grant"}
    # global sign-out ends a second family
    tokens = setup.post(redeem_form(setup.code(scope="openid aws.cognito.signin.user.admin")), setup.basic()).json()
    setup.client.global_sign_out(AccessToken=tokens["access_token"])
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(f"{setup.base}/oauth2/userInfo", headers=bearer, timeout=10).status_code == 401


def test_implicit_tokens_in_the_fragment(setup):
    location = setup.location({"client_id": setup.web["ClientId"], "redirect_uri": CALLBACK,
                               "response_type": "token", "scope": "openid", "state": "s", "nonce": "n"})
    fragment = parse_qs(urlparse(location).fragment)
    assert set(fragment) == {"id_token", "access_token", "token_type", "expires_in", "state"}
    claims = jwt.decode(fragment["id_token"][0], JsonWebKey.import_key_set(setup.jwks()))
    assert claims["nonce"] == "n" and claims["at_hash"]


def test_discovery_lists_the_domain_endpoints(setup):
    document = requests.get(f"{setup.server.url}/{setup.pool}/.well-known/openid-configuration", timeout=10).json()
    assert document["token_endpoint"] == f"{setup.base}/oauth2/token"
    assert document["authorization_endpoint"] == f"{setup.base}/oauth2/authorize"
    assert document["userinfo_endpoint"] == f"{setup.base}/oauth2/userInfo"
    assert document["revocation_endpoint"] == f"{setup.base}/oauth2/revoke"
    assert document["end_session_endpoint"] == f"{setup.base}/logout"
    assert document["response_types_supported"] == ["code", "token"]
    assert document["issuer"] == f"{setup.server.url}/{setup.pool}"
    bare = setup.client.create_user_pool(PoolName="bare")["UserPool"]["Id"]
    plain = requests.get(f"{setup.server.url}/{bare}/.well-known/openid-configuration", timeout=10).json()
    assert plain["token_endpoint"] == plain["authorization_endpoint"] == plain["userinfo_endpoint"] == ""


# -- concurrent redemption ----------------------------------------------------------------------


def race_two(redeem) -> list:
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(i):
        barrier.wait()
        try:
            results[i] = redeem(i)
        except oauth.OAuthError as err:
            results[i] = err.error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_threads_redeeming_one_code_in_memory(setup):
    for _ in range(5):
        code = setup.code(scope="openid")
        form = redeem_form(code, client_id=setup.web["ClientId"], client_secret=setup.web["ClientSecret"])
        results = race_two(lambda i, form=form: oauth.token(setup.engine, DOMAIN, form, None))
        assert sorted(isinstance(r, dict) for r in results) == [False, True], results
        assert "invalid_grant" in results


def test_two_engines_redeeming_one_code_on_sqlite(tmp_path):
    path = tmp_path / "race.db"
    config = replace(TEST_CONFIG, kek=Keyring(b"k" * 32))
    engines = [authflow.Client(store=SqliteStore(path), entropy=SeededEntropy(i), config=config) for i in (1, 2)]
    first = engines[0]
    pool = first.create_user_pool(PoolName="p")["UserPool"]["Id"]
    put_domain(first, pool)
    app = first.create_user_pool_client(UserPoolId=pool, ClientName="web", GenerateSecret=True,
                                        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                                        AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK])["UserPoolClient"]
    first.admin_create_user(UserPoolId=pool, Username="bob", MessageAction="SUPPRESS")
    first.admin_set_user_password(UserPoolId=pool, Username="bob", Password=PASSWORD, Permanent=True)
    sub = next(a["Value"] for a in first.admin_get_user(UserPoolId=pool, Username="bob")["UserAttributes"]
               if a["Name"] == "sub")
    for _ in range(5):
        request = oauth.authorize(first.engine, DOMAIN, {"client_id": app["ClientId"], "redirect_uri": CALLBACK,
                                                         "response_type": "code"}, base="http://x")
        location = oauth.complete(first.engine, request, sub=sub, auth_time=first.engine.now())
        code = parse_qs(urlparse(location).query)["code"][0]
        form = redeem_form(code, client_id=app["ClientId"], client_secret=app["ClientSecret"])
        results = race_two(lambda i, form=form: oauth.token(engines[i].engine, DOMAIN, form, None))
        assert sorted(isinstance(r, dict) for r in results) == [False, True], results
        assert "invalid_grant" in results


def test_a_code_is_never_a_sign_in_session(setup):
    code = setup.code(scope="openid")
    for session in (code, f"oauth-code:{code}", hashlib.sha256(code.encode()).hexdigest()):
        with pytest.raises(setup.client.exceptions.NotAuthorizedException):
            setup.client.respond_to_auth_challenge(
                ClientId=setup.spa["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
                ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": PASSWORD + "x"})
    assert setup.post(redeem_form(code), setup.basic()).status_code == 200  # and the code still works
