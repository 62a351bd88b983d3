"""The hosted sign-in pages over plain HTTP (httpx against `authflow serve`'s app, no
browser): /oauth2/authorize's redirects and refusals, the login form and its steps,
the hosted session cookie, /logout, sign-up and forgot-password, CSRF, security headers,
escaping. The browser walks are in tests/browser/test_hosted_*.py."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pyotp
import pytest

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy
from authflow.adapters.triggers import CallableTriggers
from authflow.service import hosted_sign_in
from authflow.web.security import derived_key, open_value
from tests.conftest import TEST_CONFIG
from tests.helpers import store_contents
from tests.http import REGION, now, serving
from tests.signin import SMS_CONFIG

DOMAIN = "hostedpages"
CALLBACK = "https://app.example.com/cb"
LOGOUT = "https://app.example.com/bye"
PASSWORD = "Passw0rd!long"
NEW_PASSWORD = "An0ther!password"


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert found, f"no field {name} in the page"
    return unescape(found.group(1))


class Site:
    """A pool with a domain, a public SPA client and a confidential web client (both
    without ExplicitAuthFlows: the pages need none), a confirmed user; an httpx client
    that keeps cookies and never follows redirects."""

    def __init__(self, server, **pool):
        self.server = server
        c = self.client = server.client
        self.pool = c.create_user_pool(PoolName="Hosted", **pool)["UserPool"]["Id"]
        c.create_user_pool_domain(Domain=DOMAIN, UserPoolId=self.pool)
        oauth = dict(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code", "implicit"],
                     AllowedOAuthScopes=["openid", "email", "profile"], CallbackURLs=[CALLBACK], LogoutURLs=[LOGOUT])
        self.spa = c.create_user_pool_client(UserPoolId=self.pool, ClientName="spa", **oauth)["UserPoolClient"]
        self.web = c.create_user_pool_client(UserPoolId=self.pool, ClientName="web", GenerateSecret=True,
                                             **oauth)["UserPoolClient"]
        self.user("alice")
        self.base = f"{server.url}/domains/{DOMAIN}"
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def user(self, name: str, *, permanent: bool = True, attributes=()) -> None:
        self.client.admin_create_user(UserPoolId=self.pool, Username=name, MessageAction="SUPPRESS",
                                      TemporaryPassword=PASSWORD, UserAttributes=list(attributes))
        if permanent:
            self.client.admin_set_user_password(UserPoolId=self.pool, Username=name, Password=PASSWORD,
                                                Permanent=True)

    def authorize_url(self, app=None, **params) -> str:
        query = {"client_id": (app or self.spa)["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
                 "scope": "openid email", "state": "st-1", **params}
        return f"{self.base}/oauth2/authorize?{urlencode({k: v for k, v in query.items() if v is not None})}"

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def login_page(self, **params) -> httpx.Response:
        first = self.get(self.authorize_url(**params))
        assert first.status_code == 302, first.text
        assert first.headers["location"].startswith(f"{self.base}/login?")
        page = self.get(first.headers["location"])
        assert page.status_code == 200
        return page

    def post(self, url: str, data: dict, *, csrf: bool = True) -> httpx.Response:
        if csrf:
            data = {"_csrf": self.http.cookies.get("authflow-csrf"), **data}
        return self.http.post(url, data=data)

    def sign_in(self, username="alice", password=PASSWORD, **params) -> httpx.Response:
        page = self.login_page(**params)
        action = unescape(re.search(r'<form name="cognitoSignInForm" method="post" action="([^"]+)"', page.text).group(1))
        return self.post(action, {"username": username, "password": password})

    def step(self, page: httpx.Response, path: str, **answers) -> httpx.Response:
        action = unescape(re.search(rf'action="([^"]*/{path}\?[^"]*)"', page.text).group(1))
        hidden = {n: field(page.text, n) for n in ("challenge", "session", "username")}
        extra = {m.group(1): unescape(m.group(2)) for m in
                 re.finditer(r'name="((?:param\.|secret)[^"]*)" value="([^"]*)"', page.text)}
        return self.post(action, {**hidden, **extra, **answers})

    def state(self):
        return store_contents(self.client.store)

    def families(self) -> int:
        return len(self.client.store.snapshot().refresh_tokens)


@pytest.fixture
def site():
    with serving(issuer_style="local") as server:
        s = Site(server)
        try:
            yield s
        finally:
            s.http.close()


def callback_of(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text[:2000]
    location = response.headers["location"]
    assert location.startswith(CALLBACK), location
    return parse_qs(urlparse(location).query)


# -- /oauth2/authorize ------------------------------------------------------------------------


def test_authorize_sends_the_browser_to_login_with_the_same_query(site):
    answer = site.get(site.authorize_url(nonce="n-1"))
    assert answer.status_code == 302
    login = urlparse(answer.headers["location"])
    assert login.path == f"/domains/{DOMAIN}/login"
    assert parse_qs(login.query)["nonce"] == ["n-1"]
    assert parse_qs(login.query)["redirect_uri"] == [CALLBACK]


def test_an_unregistered_redirect_uri_goes_to_the_error_page_never_to_the_uri(site):
    evil = "https://evil.example.com/cb"
    answer = site.get(site.authorize_url(redirect_uri=evil))
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"{site.base}/error?error=redirect_mismatch")
    page = site.get(answer.headers["location"])
    assert page.status_code == 400
    assert "An error was encountered with the requested page." in page.text
    assert "evil.example.com" not in page.text
    # The login page of such a request refuses the same way (no form to fill).
    login = site.get(f"{site.base}/login?" + urlparse(site.authorize_url(redirect_uri=evil)).query)
    assert login.status_code == 302 and "/error?error=redirect_mismatch" in login.headers["location"]


def test_an_unknown_client_and_an_unknown_domain_go_to_the_error_page(site):
    answer = site.get(site.authorize_url(app={"ClientId": "nosuchclient"}))
    assert "/error?error=redirect_mismatch" in answer.headers["location"]
    other = site.get(f"{site.server.url}/domains/nosuchdomain/oauth2/authorize?client_id=x")
    assert other.status_code == 302 and "/domains/nosuchdomain/error?" in other.headers["location"]


def test_refusals_with_a_trusted_uri_go_back_to_it_with_error_and_state(site):
    plain = site.get(site.authorize_url(code_challenge="x" * 43, code_challenge_method="plain"))
    assert callback_of(plain)["error"] == ["invalid_request"]
    assert callback_of(plain)["state"] == ["st-1"]
    assert callback_of(site.get(site.authorize_url(scope="openid nosuch")))["error"] == ["invalid_scope"]


def add_oidc_provider(site, name: str = "Corp") -> None:
    # An issuer nobody answers for: the redirect upstream fails at its discovery.
    site.client.create_identity_provider(UserPoolId=site.pool, ProviderName=name, ProviderType="OIDC",
                                         ProviderDetails={"client_id": "c", "client_secret": "s",
                                                          "authorize_scopes": "openid email",
                                                          "oidc_issuer": "https://idp.invalid",
                                                          "attributes_request_method": "GET"})


def test_a_federated_identity_provider_skips_the_login_form(site):
    """The request goes to federation (authflow.web.federation), not to /login: here the
    provider's discovery cannot be reached, so the app gets the error."""
    add_oidc_provider(site)
    fed = site.client.create_user_pool_client(
        UserPoolId=site.pool, ClientName="fed", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK], SupportedIdentityProviders=["COGNITO", "Corp"],
    )["UserPoolClient"]
    answer = site.get(site.authorize_url(app=fed, identity_provider="Corp", scope="openid"))
    query = callback_of(answer)
    assert query["error"] == ["invalid_request"]
    assert "IdP discovery endpoint" in query["error_description"][0]


def test_a_client_without_cognito_has_no_password_form(site):
    """SupportedIdentityProviders without COGNITO: its one provider stands in for the form
    at authorize, and /login refuses a password (nothing is signed in or counted)."""
    add_oidc_provider(site)
    only = site.client.create_user_pool_client(
        UserPoolId=site.pool, ClientName="only-corp", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK], SupportedIdentityProviders=["Corp"],
    )["UserPoolClient"]
    query = callback_of(site.get(site.authorize_url(app=only, scope="openid")))
    assert "IdP discovery endpoint" in query["error_description"][0]
    login_url = f"{site.base}/login?" + urlparse(site.authorize_url(app=only, scope="openid")).query
    assert site.get(login_url).status_code == 400
    site.login_page()  # a CSRF cookie
    before = site.state()
    refused = site.post(login_url, {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 400 and "another identity provider" in refused.text
    assert site.state() == before


def test_prompt_none_without_a_session_is_login_required(site):
    query = callback_of(site.get(site.authorize_url(prompt="none")))
    assert query["error"] == ["login_required"] and query["state"] == ["st-1"]


# -- /login ------------------------------------------------------------------------------------


def test_sign_in_returns_a_code_and_sets_the_hosted_session(site):
    answer = site.sign_in()
    query = callback_of(answer)
    assert re.fullmatch(r"[0-9a-f-]{36}", query["code"][0]) and query["state"] == ["st-1"]
    cookie = answer.headers["set-cookie"]
    assert "authflow-hosted-session=" in cookie
    assert f"Path=/domains/{DOMAIN}" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Max-Age=3600" in cookie
    # The session answers the next authorize without a form, with a new code.
    again = callback_of(site.get(site.authorize_url(state="st-2")))
    assert again["code"] != query["code"] and again["state"] == ["st-2"]
    # prompt=login shows the form anyway.
    forced = site.get(site.authorize_url(prompt="login"))
    assert forced.headers["location"].startswith(f"{site.base}/login?")


def test_the_code_redeems_at_the_token_endpoint_and_no_api_tokens_were_minted(site):
    before = site.families()
    query = callback_of(site.sign_in())
    assert site.families() == before  # signing in minted no refresh family: the code will
    tokens = httpx.post(f"{site.base}/oauth2/token", data={
        "grant_type": "authorization_code", "client_id": site.spa["ClientId"], "code": query["code"][0],
        "redirect_uri": CALLBACK}).json()
    assert {"id_token", "access_token", "refresh_token"} <= set(tokens)


def test_a_confidential_client_signs_in_without_secret_hash_or_explicit_flows(site):
    assert not site.web.get("ExplicitAuthFlows") or "ALLOW_USER_PASSWORD_AUTH" not in site.web["ExplicitAuthFlows"]
    assert "code" in callback_of(site.sign_in(app=site.web))


def test_implicit_tokens_arrive_in_the_fragment(site):
    answer = site.sign_in(response_type="token", nonce="n-2")
    location = answer.headers["location"]
    assert location.startswith(CALLBACK + "#")
    fragment = parse_qs(urlparse(location).fragment)
    assert fragment["token_type"] == ["Bearer"] and "id_token" in fragment and fragment["state"] == ["st-1"]


def test_a_wrong_password_shows_the_form_again_with_cognitos_message(site):
    before = site.families()
    answer = site.sign_in(password="wrong-password")
    assert answer.status_code == 400
    assert "Incorrect username or password." in answer.text
    assert field(answer.text, "username") == "alice"
    assert 'name="password" value' not in answer.text  # the password is never sent back
    assert "authflow-hosted-session" not in answer.headers.get("set-cookie", "")
    assert site.families() == before


def test_lockout_applies_to_the_pages(site):
    for _ in range(5):
        site.sign_in(password="wrong-password")
    answer = site.sign_in()
    assert answer.status_code == 400 and "Password attempts exceeded" in answer.text


def test_pre_and_post_authentication_run_for_the_pages():
    calls: list[str] = []

    def pre(event):
        calls.append(event["triggerSource"])
        if event["userName"] == "bob":
            raise RuntimeError("not bob")
        return event

    def post(event):
        calls.append(event["triggerSource"])
        assert event["request"]["newDeviceUsed"] is False
        return event

    arn = "arn:aws:lambda:us-east-1:000000000000:function:{}"
    client = authflow.Client(clock=ManualClock(now()), entropy=SeededEntropy(2), messenger=MemoryOutbox(),
                             region=REGION, config=TEST_CONFIG,
                             triggers=CallableTriggers({arn.format("pre"): pre, arn.format("post"): post}))
    with serving(client=client) as server:
        s = Site(server, LambdaConfig={"PreAuthentication": arn.format("pre"),
                                       "PostAuthentication": arn.format("post")})
        s.user("bob")
        assert "code" in callback_of(s.sign_in())
        assert calls == ["PreAuthentication_Authentication", "PostAuthentication_Authentication"]
        refused = s.sign_in("bob", prompt="login")
        assert refused.status_code == 400 and "PreAuthentication failed with error not bob." in refused.text
        s.http.close()


def test_a_disabled_user_is_refused(site):
    site.client.admin_disable_user(UserPoolId=site.pool, Username="alice")
    answer = site.sign_in()
    assert answer.status_code == 400 and "User is disabled." in answer.text


# -- steps ---------------------------------------------------------------------------------------


def test_new_password_required_on_the_page(site):
    site.user("bob", permanent=False)
    page = site.sign_in("bob")
    assert page.status_code == 200 and "Change your password" in page.text
    assert field(page.text, "challenge") == "NEW_PASSWORD_REQUIRED"
    differ = site.step(page, "newPassword", new_password=NEW_PASSWORD, confirm_password="other")
    assert differ.status_code == 400 and "The passwords differ." in differ.text
    weak = site.step(differ, "newPassword", new_password="short", confirm_password="short")
    assert weak.status_code == 400 and "Password did not conform with policy" in weak.text
    done = site.step(weak, "newPassword", new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert "code" in callback_of(done)
    assert site.client.admin_get_user(UserPoolId=site.pool, Username="bob")["UserStatus"] == "CONFIRMED"


def enable_totp(site, username="alice", *, prefer: bool = True) -> str:
    """Enrol TOTP through the API (an access token) and make it the user's MFA."""
    site.client.set_user_pool_mfa_config(UserPoolId=site.pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                                         MfaConfiguration="OPTIONAL")
    app = site.client.create_user_pool_client(UserPoolId=site.pool, ClientName="api",
                                              ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    tokens = site.client.initiate_auth(ClientId=app["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
    access = tokens["AuthenticationResult"]["AccessToken"]
    secret = site.client.associate_software_token(AccessToken=access)["SecretCode"]
    site.client.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).at(site.server.clock.now()))
    site.client.set_user_mfa_preference(AccessToken=access,
                                        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": prefer})
    site.server.clock.advance(timedelta(seconds=60))  # the next code is a new time step
    return secret


def test_totp_mfa_on_the_page(site):
    secret = enable_totp(site)
    page = site.sign_in()
    assert field(page.text, "challenge") == "SOFTWARE_TOKEN_MFA"
    wrong = site.step(page, "mfa", code="000000" if pyotp.TOTP(secret).at(site.server.clock.now()) != "000000" else "111111")
    assert wrong.status_code == 400 and "Invalid code received for user" in wrong.text
    done = site.step(wrong, "mfa", code=pyotp.TOTP(secret).at(site.server.clock.now()))
    assert "code" in callback_of(done)


def test_select_mfa_type_then_an_sms_code_on_the_pages(site):
    """Both factors on: the page offers the choice; SMS sends a code (the outbox) that the
    next page takes."""
    site.client.admin_update_user_attributes(UserPoolId=site.pool, Username="alice", UserAttributes=[
        {"Name": "phone_number", "Value": "+15555550100"}, {"Name": "phone_number_verified", "Value": "true"}])
    enable_totp(site, prefer=False)
    site.client.set_user_pool_mfa_config(
        UserPoolId=site.pool, MfaConfiguration="OPTIONAL", SoftwareTokenMfaConfiguration={"Enabled": True},
        SmsMfaConfiguration={"SmsAuthenticationMessage": "Your code is {####}", "SmsConfiguration": SMS_CONFIG})
    site.client.admin_set_user_mfa_preference(UserPoolId=site.pool, Username="alice",
                                              SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
                                              SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False})
    page = site.sign_in()
    assert field(page.text, "challenge") == "SELECT_MFA_TYPE"
    assert 'value="SMS_MFA"' in page.text and 'value="SOFTWARE_TOKEN_MFA"' in page.text
    sms = site.step(page, "mfa", answer="SMS_MFA")
    assert field(sms.text, "challenge") == "SMS_MFA" and "We sent a code to" in sms.text
    code = re.search(r"\d{6}", site.server.outbox.messages[-1].body).group()
    wrong = site.step(sms, "mfa", code="000000" if code != "000000" else "111111")
    assert wrong.status_code == 400 and "Invalid code received for user" in wrong.text
    assert "We sent a code to" in wrong.text  # the destination carried through the refusal
    assert "code" in callback_of(site.step(wrong, "mfa", code=code))


def test_a_pool_tracking_devices_gets_no_device_from_the_pages(site):
    site.client.update_user_pool(UserPoolId=site.pool, DeviceConfiguration={
        "ChallengeRequiredOnNewDevice": False, "DeviceOnlyRememberedOnUserPrompt": False})
    assert "code" in callback_of(site.sign_in())
    assert site.client.admin_list_devices(UserPoolId=site.pool, Username="alice")["Devices"] == []


def test_mfa_setup_on_the_page_when_the_pool_requires_mfa(site):
    site.client.set_user_pool_mfa_config(UserPoolId=site.pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                                         MfaConfiguration="ON")
    page = site.sign_in()
    assert field(page.text, "challenge") == "MFA_SETUP"
    secret = field(page.text, "secret")
    uri = unescape(re.search(r'id="otpauth-uri" href="([^"]+)"', page.text).group(1))
    assert uri.startswith("otpauth://totp/") and parse_qs(urlparse(uri).query)["secret"] == [secret]
    wrong = site.step(page, "mfa", code="000000" if pyotp.TOTP(secret).at(site.server.clock.now()) != "000000" else "111111")
    assert wrong.status_code == 400 and field(wrong.text, "secret") == secret
    done = site.step(wrong, "mfa", code=pyotp.TOTP(secret).at(site.server.clock.now()))
    assert "code" in callback_of(done)
    user = site.client.admin_get_user(UserPoolId=site.pool, Username="alice")
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"


def test_a_step_session_is_single_use(site):
    site.user("bob", permanent=False)
    page = site.sign_in("bob")
    assert "code" in callback_of(site.step(page, "newPassword", new_password=NEW_PASSWORD,
                                           confirm_password=NEW_PASSWORD))
    replay = site.step(page, "newPassword", new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert replay.status_code == 400 and "Invalid session for the user" in replay.text
    assert 'name="cognitoSignInForm"' in replay.text  # back to the start


def test_a_step_reached_by_get_goes_back_to_login(site):
    query = urlparse(site.authorize_url()).query
    answer = site.get(f"{site.base}/mfa?{query}")
    assert answer.status_code == 302 and answer.headers["location"].startswith(f"{site.base}/login?")


# -- the hosted session ----------------------------------------------------------------------


def test_global_sign_out_ends_the_hosted_session(site):
    callback_of(site.sign_in())
    site.client.admin_user_global_sign_out(UserPoolId=site.pool, Username="alice")
    answer = site.get(site.authorize_url())
    assert answer.headers["location"].startswith(f"{site.base}/login?")


def test_a_session_value_is_worthless_at_another_pools_domain(site):
    callback_of(site.sign_in())
    value = site.http.cookies.get("authflow-hosted-session")
    c = site.client
    other = c.create_user_pool(PoolName="other")["UserPool"]["Id"]
    c.create_user_pool_domain(Domain="otherpages", UserPoolId=other)
    app = c.create_user_pool_client(UserPoolId=other, ClientName="o", AllowedOAuthFlowsUserPoolClient=True,
                                    AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"],
                                    CallbackURLs=[CALLBACK])["UserPoolClient"]
    base = f"{site.server.url}/domains/otherpages"
    query = urlencode({"client_id": app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code"})
    answer = httpx.get(f"{base}/oauth2/authorize?{query}", cookies={"authflow-hosted-session": value})
    assert answer.status_code == 302 and answer.headers["location"].startswith(f"{base}/login?")
    kek = c.engine.keyring.current  # the value opens only under its own pool's key
    assert open_value(derived_key(kek, f"hosted-session:{other}"), value, now=c.engine.now()) is None
    assert open_value(derived_key(kek, f"hosted-session:{site.pool}"), value, now=c.engine.now())


def test_the_hosted_session_expires_after_an_hour(site):
    callback_of(site.sign_in())
    site.server.clock.advance(timedelta(seconds=3601))
    assert site.get(site.authorize_url()).headers["location"].startswith(f"{site.base}/login?")


# -- /logout -----------------------------------------------------------------------------------


def test_logout_clears_the_session_and_goes_to_the_registered_uri(site):
    callback_of(site.sign_in())
    answer = site.get(f"{site.base}/logout?" + urlencode({"client_id": site.spa["ClientId"], "logout_uri": LOGOUT,
                                                            "state": "s"}))
    assert answer.status_code == 302 and answer.headers["location"] == LOGOUT
    assert 'authflow-hosted-session=""' in answer.headers["set-cookie"] or "Max-Age=0" in answer.headers["set-cookie"]
    assert site.get(site.authorize_url()).headers["location"].startswith(f"{site.base}/login?")


def test_logout_with_redirect_uri_goes_to_login(site):
    answer = site.get(f"{site.base}/logout?" + urlencode({"client_id": site.spa["ClientId"], "redirect_uri": CALLBACK,
                                                            "response_type": "code", "state": "s"}))
    location = urlparse(answer.headers["location"])
    assert location.path == f"/domains/{DOMAIN}/login" and parse_qs(location.query)["state"] == ["s"]
    assert site.get(answer.headers["location"]).status_code == 200


@pytest.mark.parametrize("params", [
    {"logout_uri": "https://evil.example.com/"},
    {},
    {"post_logout_redirect_uri": LOGOUT},
])
def test_logout_to_anything_else_is_the_error_page(site, params):
    callback_of(site.sign_in())
    answer = site.get(f"{site.base}/logout?" + urlencode({"client_id": site.spa["ClientId"], **params}))
    assert answer.status_code == 302 and answer.headers["location"].startswith(f"{site.base}/error?")
    assert "evil" not in answer.headers["location"]
    page = site.get(answer.headers["location"])
    assert page.status_code == 400 and "redirect_uri" in page.text
    assert site.get(site.authorize_url()).headers["location"].startswith(f"{site.base}/login?")  # still ended


# -- sign-up, forgot password --------------------------------------------------------------------


def test_sign_up_and_confirm_on_the_pages(site):
    site.client.update_user_pool(UserPoolId=site.pool, AutoVerifiedAttributes=["email"])
    login = site.login_page()
    assert "/signup?" in login.text
    query = urlparse(site.authorize_url()).query
    form = site.get(f"{site.base}/signup?{query}")
    assert 'name="attr.email"' in form.text
    page = site.post(f"{site.base}/signup?{query}", {"username": "carol", "password": PASSWORD,
                                                    "confirm_password": PASSWORD, "attr.email": "carol@example.com"})
    assert page.status_code == 200 and "Confirm your account" in page.text
    code = re.search(r"\b(\d{6})\b", site.server.outbox.messages[-1].body).group(1)
    done = site.post(f"{site.base}/confirmUser?{query}", {"username": "carol", "code": code})
    assert "Your account is confirmed" in done.text
    assert site.client.admin_get_user(UserPoolId=site.pool, Username="carol")["UserStatus"] == "CONFIRMED"


def test_no_sign_up_when_only_admins_create_users(site):
    site.client.update_user_pool(UserPoolId=site.pool, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    assert "/signup?" not in site.login_page().text
    answer = site.get(f"{site.base}/signup?" + urlparse(site.authorize_url()).query)
    assert answer.status_code == 403


def test_forgot_password_on_the_pages(site):
    site.client.admin_update_user_attributes(UserPoolId=site.pool, Username="alice", UserAttributes=[
        {"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"}])
    query = urlparse(site.authorize_url(app=site.web)).query
    site.login_page(app=site.web)
    page = site.post(f"{site.base}/forgotPassword?{query}", {"username": "alice"})
    assert page.status_code == 200 and "Reset your password" in page.text
    code = re.search(r"\b(\d{6})\b", site.server.outbox.messages[-1].body).group(1)
    done = site.post(f"{site.base}/confirmforgotPassword?{query}", {
        "username": "alice", "code": code, "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert "Your password is changed" in done.text
    assert "code" in callback_of(site.sign_in(password=NEW_PASSWORD, app=site.web))


# -- safety ----------------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused_and_nothing_changes(site):
    site.user("bob", permanent=False)
    page = site.sign_in("bob")
    before = site.state()
    action = unescape(re.search(r'action="([^"]*/newPassword\?[^"]*)"', page.text).group(1))
    hidden = {n: field(page.text, n) for n in ("challenge", "session", "username")}
    answer = site.post(action, {**hidden, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}, csrf=False)
    assert answer.status_code == 403 and "Nothing was done" in answer.text
    wrong = site.post(action, {**hidden, "_csrf": "x" * 43, "new_password": NEW_PASSWORD,
                               "confirm_password": NEW_PASSWORD}, csrf=False)
    assert wrong.status_code == 403
    assert site.state() == before
    login = site.post(f"{site.base}/login?" + urlparse(site.authorize_url()).query,
                      {"username": "alice", "password": PASSWORD}, csrf=False)
    assert login.status_code == 403 and "authflow-hosted-session" not in login.headers.get("set-cookie", "")


def test_every_page_sends_the_security_headers(site):
    query = urlparse(site.authorize_url()).query
    for path in ("login", "signup", "forgotPassword", "confirmUser", "confirmforgotPassword", "error"):
        answer = site.get(f"{site.base}/{path}?{query}")
        assert answer.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path
        assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none': no script
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "<script" not in answer.text


def test_markup_in_a_username_and_an_attribute_is_shown_as_text(site):
    evil = "<script>alert(1)</script>"
    site.user(evil, permanent=False)
    page = site.sign_in(evil)
    assert field(page.text, "challenge") == "NEW_PASSWORD_REQUIRED"
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    wrong = site.sign_in(evil, password="wrong", prompt="login")
    assert wrong.status_code == 400 and "<script>alert" not in wrong.text
    # An attribute value shown again by the sign-up page (refused: an invalid email).
    site.client.update_user_pool(UserPoolId=site.pool, AutoVerifiedAttributes=["email"])
    query = urlparse(site.authorize_url()).query
    marked = '"><img src=x onerror=alert(1)>'
    again = site.post(f"{site.base}/signup?{query}", {"username": "carol", "password": PASSWORD,
                                                     "confirm_password": PASSWORD, "attr.email": marked})
    assert again.status_code == 400 and "Invalid email address format." in again.text
    assert "<img" not in again.text and field(again.text, "attr.email") == marked


def test_a_login_hint_prefills_the_username_escaped(site):
    page = site.login_page(login_hint='a"><b>x')
    assert 'value="a&#34;&gt;&lt;b&gt;x"' in page.text


def test_an_unexpected_failure_is_a_500_page_without_a_trace(site, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(hosted_sign_in, "start", boom)
    answer = site.sign_in()
    assert answer.status_code == 500
    assert "secret internals" not in answer.text and "Traceback" not in answer.text
    assert "logged as request" in answer.text


def test_the_pages_are_reached_at_the_domains_own_host(site):
    host = f"{DOMAIN}.auth.localhost"
    query = urlparse(site.authorize_url()).query
    answer = site.http.get(f"{site.server.url}/oauth2/authorize?{query}", headers={"Host": host})
    assert answer.status_code == 302 and answer.headers["location"].startswith(f"http://{host}/login?")


def test_the_api_still_requires_its_flows_of_the_same_client(site):
    """The hosted mode is the pages' alone: InitiateAuth of the same client still needs
    the flow in ExplicitAuthFlows."""
    with pytest.raises(site.client.exceptions.InvalidParameterException):
        site.client.initiate_auth(ClientId=site.spa["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})
