"""The hosted sign-in pages in a real browser: Playwright for Python driving Debian's
chromium against `authflow serve`'s app (`tests/http.py`'s `serving(issuer_style="local")`).

The walks: authorization code + PKCE with authlib as the client (the callback caught in
the browser context, the code redeemed at the token endpoint, the ID token checked with
the JWKS, nonce included) and with oidc-client-ts in a page of a test app on another
origin (which needs CORS at the token endpoint); the first sign-in of an admin-created
user (NEW_PASSWORD_REQUIRED on the page); TOTP MFA on the page and MFA_SETUP when the
pool requires MFA; logout; and the security cases: an unregistered redirect_uri never
navigated to, a form without its CSRF token refused with nothing changed, markup in a
username and an attribute shown as text (no dialog, no script element), the security
headers. Screenshots of every page: hosted-login, hosted-new-password, hosted-mfa-code,
hosted-mfa-setup, hosted-error, hosted-logout, hosted-csrf-refused, hosted-escaped,
hosted-signup, hosted-oidc-client-ts (`tests/browser/conftest.py` prints where they go).
"""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pyotp
import pytest
from authlib.integrations.requests_client import OAuth2Session

from tests.browser.apps import oidc_client_app, recording_app
from tests.browser.conftest import screenshot
from tests.helpers import store_contents
from tests.http import serving

with warnings.catch_warnings():  # authlib.jose is deprecated in favour of joserfc; its OIDC client still uses it
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

DOMAIN = "browserpages"
PASSWORD = "Passw0rd!long"
TEMPORARY = "Temp0rary!pass"
NEW_PASSWORD = "An0ther!password"


class Pool:
    """A pool with a domain, a confidential client (for authlib) and a public one, a
    confirmed user alice."""

    def __init__(self, server, app) -> None:
        self.server = server
        self.app = app
        self.callback = f"{app.base}/callback"
        self.logout = f"{app.base}/signed-out"
        c = self.client = server.client
        self.pool = c.create_user_pool(PoolName="Browser pool")["UserPool"]["Id"]
        c.create_user_pool_domain(Domain=DOMAIN, UserPoolId=self.pool)
        self.oauth = dict(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                          AllowedOAuthScopes=["openid", "email", "profile"], CallbackURLs=[self.callback],
                          LogoutURLs=[self.logout])
        self.web = c.create_user_pool_client(UserPoolId=self.pool, ClientName="web", GenerateSecret=True,
                                             **self.oauth)["UserPoolClient"]
        self.add_user("alice", attributes=[{"Name": "email", "Value": "alice@example.com"},
                                           {"Name": "email_verified", "Value": "true"}])
        self.base = f"{server.url}/domains/{DOMAIN}"
        self.discovery = httpx.get(f"{server.url}/{self.pool}/.well-known/openid-configuration", timeout=10).json()

    def add_user(self, name: str, *, permanent: bool = True, attributes=()) -> None:
        self.client.admin_create_user(UserPoolId=self.pool, Username=name, MessageAction="SUPPRESS",
                                      TemporaryPassword=TEMPORARY, UserAttributes=list(attributes))
        if permanent:
            self.client.admin_set_user_password(UserPoolId=self.pool, Username=name, Password=PASSWORD,
                                                Permanent=True)

    def authlib(self) -> OAuth2Session:
        return OAuth2Session(self.web["ClientId"], self.web["ClientSecret"], scope="openid email",
                             redirect_uri=self.callback, code_challenge_method="S256")

    def authorize_url(self, **extra) -> str:
        query = {"client_id": self.web["ClientId"], "redirect_uri": self.callback,
                 "response_type": "code", "scope": "openid", "state": "st", **extra}
        return f"{self.base}/oauth2/authorize?{urlencode(query)}"

    def jwks(self):
        return httpx.get(self.discovery["jwks_uri"], timeout=10).json()


@pytest.fixture
def pool():
    with serving(issuer_style="local") as server, recording_app() as app:
        yield Pool(server, app)


def at_app(page, pool) -> dict[str, list[str]]:
    """Wait until the browser is back at the app's callback; its query."""
    page.wait_for_url(pool.callback + "**")
    return pool.app.query()


def fill_login(page, username: str, password: str) -> None:
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click('[name="signInSubmitButton"]')


# -- a. authlib ---------------------------------------------------------------------------------


def test_authlib_code_and_pkce_through_the_login_page(pool, context):
    session = pool.authlib()
    verifier = "v" * 20 + "erifier-of-this-test-which-is-long-enough"
    url, state = session.create_authorization_url(pool.discovery["authorization_endpoint"], code_verifier=verifier,
                                                  nonce="nonce-of-authlib")
    page = context.new_page()
    page.goto(url)
    assert urlparse(page.url).path == f"/domains/{DOMAIN}/login"
    assert page.get_by_label("Username").is_visible() and page.get_by_label("Password").is_visible()
    screenshot(page, "hosted-login")
    fill_login(page, "alice", PASSWORD)
    at_app(page, pool)
    callback = pool.app.urls[-1]
    assert parse_qs(urlparse(callback).query)["state"] == [state]
    token = session.fetch_token(pool.discovery["token_endpoint"], authorization_response=callback,
                                code_verifier=verifier)
    claims = jwt.decode(
        token["id_token"], JsonWebKey.import_key_set(pool.jwks()), claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": pool.discovery["issuer"]}},
        claims_params={"nonce": "nonce-of-authlib", "client_id": pool.web["ClientId"],
                       "access_token": token["access_token"]},
    )
    claims.validate(leeway=120)
    assert claims["cognito:username"] == "alice" and claims["email"] == "alice@example.com"
    assert token["refresh_token"]
    # The hosted session: the next authorize in this browser needs no form.
    again = pool.authlib()
    url, _ = again.create_authorization_url(pool.discovery["authorization_endpoint"], code_verifier=verifier)
    page.goto(url)
    assert "code" in at_app(page, pool) and len(pool.app.urls) == 2


# -- b. oidc-client-ts ----------------------------------------------------------------------------


def test_oidc_client_ts_signs_in_from_a_single_page_app(pool, context):
    def settings(app: str) -> dict:
        spa = pool.client.create_user_pool_client(
            UserPoolId=pool.pool, ClientName="spa", **{**pool.oauth, "CallbackURLs": [f"{app}/callback.html"]},
        )["UserPoolClient"]
        # The metadata is given (fetched here): the discovery document is on the API's
        # origin and carries no CORS header; the token endpoint's CORS is what is tested.
        return {"authority": pool.discovery["issuer"], "client_id": spa["ClientId"],
                "redirect_uri": f"{app}/callback.html", "response_type": "code", "scope": "openid email",
                "metadata": pool.discovery, "loadUserInfo": False}

    with oidc_client_app(settings) as app:
        page = context.new_page()
        page.goto(f"{app}/index.html")
        page.wait_for_selector("body[data-state=ready]")
        page.click("#sign-in")
        page.wait_for_url(f"{pool.base}/login?**")
        assert "code_challenge_method=S256" in page.url
        fill_login(page, "alice", PASSWORD)
        page.wait_for_selector("body[data-state=signed-in], body[data-state=error]")
        shown = page.text_content("#profile")
        screenshot(page, "hosted-oidc-client-ts")
        assert not shown.startswith("ERROR"), shown
        answer = json.loads(shown)
        assert answer["profile"]["cognito:username"] == "alice" and answer["profile"]["email"] == "alice@example.com"
        assert answer["has_refresh_token"] is True


# -- c. NEW_PASSWORD_REQUIRED ----------------------------------------------------------------------


def test_first_sign_in_of_an_admin_created_user_sets_a_new_password_on_the_page(pool, context):
    pool.add_user("bob", permanent=False)
    page = context.new_page()
    page.goto(pool.authorize_url())
    fill_login(page, "bob", TEMPORARY)
    page.wait_for_selector("text=Change your password")
    screenshot(page, "hosted-new-password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Enter the new password again").fill("not-the-same-1A!")
    page.click("button[type=submit]")
    assert page.text_content("#error-message") == "The passwords differ."
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Enter the new password again").fill(NEW_PASSWORD)
    page.click("button[type=submit]")
    assert "code" in at_app(page, pool)
    assert pool.client.admin_get_user(UserPoolId=pool.pool, Username="bob")["UserStatus"] == "CONFIRMED"


# -- d. MFA ------------------------------------------------------------------------------------------


def test_totp_mfa_on_the_page(pool, context):
    c = pool.client
    c.set_user_pool_mfa_config(UserPoolId=pool.pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                               MfaConfiguration="OPTIONAL")
    api = c.create_user_pool_client(UserPoolId=pool.pool, ClientName="api",
                                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    access = c.initiate_auth(ClientId=api["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]
    totp = pyotp.TOTP(c.associate_software_token(AccessToken=access)["SecretCode"])
    clock = pool.server.clock
    c.verify_software_token(AccessToken=access, UserCode=totp.at(clock.now()))
    c.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    clock.advance(timedelta(seconds=30))  # a new time step: the enrolment's code is spent

    page = context.new_page()
    page.goto(pool.authorize_url())
    fill_login(page, "alice", PASSWORD)
    page.wait_for_selector("text=Enter your code")
    screenshot(page, "hosted-mfa-code")
    wrong = "000000" if totp.at(clock.now()) != "000000" else "111111"
    page.get_by_label("Code").fill(wrong)
    page.click("button[type=submit]")
    assert page.text_content("#error-message").startswith("Invalid code received for user")
    page.get_by_label("Code").fill(totp.at(clock.now()))
    page.click("button[type=submit]")
    assert "code" in at_app(page, pool)


def test_mfa_setup_on_the_page_when_the_pool_requires_mfa(pool, context):
    pool.client.set_user_pool_mfa_config(UserPoolId=pool.pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                                         MfaConfiguration="ON")
    page = context.new_page()
    page.goto(pool.authorize_url())
    fill_login(page, "alice", PASSWORD)
    page.wait_for_selector("text=Set up your authenticator app")
    screenshot(page, "hosted-mfa-setup")
    secret = page.get_attribute("#secret-code", "data-secret")
    uri = page.get_attribute("#otpauth-uri", "href")
    assert parse_qs(urlparse(uri).query)["secret"] == [secret]
    assert page.text_content("#secret-code").replace(" ", "") == secret
    page.get_by_label("Code from the app").fill(pyotp.parse_uri(uri).at(pool.server.clock.now()))
    page.click("button[type=submit]")
    assert "code" in at_app(page, pool)
    user = pool.client.admin_get_user(UserPoolId=pool.pool, Username="alice")
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"


# -- e. logout ---------------------------------------------------------------------------------------


def test_logout_ends_the_session_and_an_unregistered_logout_uri_is_the_error_page(pool, context):
    page = context.new_page()
    page.goto(pool.authorize_url())
    fill_login(page, "alice", PASSWORD)
    at_app(page, pool)
    assert any(c["name"] == "authflow-hosted-session" for c in context.cookies())
    page.goto(f"{pool.base}/logout?" + urlencode({"client_id": pool.web["ClientId"], "logout_uri": pool.logout}))
    assert page.url == pool.logout and pool.app.urls[-1] == pool.logout
    assert not any(c["name"] == "authflow-hosted-session" for c in context.cookies())
    page.goto(pool.authorize_url())  # the form again
    assert urlparse(page.url).path == f"/domains/{DOMAIN}/login"
    screenshot(page, "hosted-logout")
    answer = page.goto(f"{pool.base}/logout?" + urlencode({"client_id": pool.web["ClientId"],
                                                            "logout_uri": f"{pool.app.base}/elsewhere"}))
    assert answer.status == 400 and urlparse(page.url).path == f"/domains/{DOMAIN}/error"
    assert "redirect_uri" in page.text_content("main")


# -- f. security ----------------------------------------------------------------------------------------


def test_an_unregistered_redirect_uri_is_never_navigated_to(pool, context):
    page = context.new_page()
    answer = page.goto(pool.authorize_url(redirect_uri=f"{pool.app.base}/evil"))
    assert answer.status == 400
    assert urlparse(page.url).path == f"/domains/{DOMAIN}/error"
    assert page.text_content("h1") == "An error was encountered with the requested page."
    assert page.locator("a[href*='evil']").count() == 0
    screenshot(page, "hosted-error")
    assert pool.app.urls == []  # the app's server never saw the browser


def test_a_form_without_its_csrf_token_is_refused_and_nothing_changes(pool, context):
    pool.add_user("bob", permanent=False)
    page = context.new_page()
    page.goto(pool.authorize_url())
    fill_login(page, "bob", TEMPORARY)
    page.wait_for_selector("text=Change your password")
    before = store_contents(pool.client.store)
    page.evaluate("document.querySelector('input[name=_csrf]').remove()")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Enter the new password again").fill(NEW_PASSWORD)
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    assert navigation.value.status == 403
    assert "Nothing was done" in page.text_content("#error-message")
    screenshot(page, "hosted-csrf-refused")
    assert store_contents(pool.client.store) == before
    assert pool.client.admin_get_user(UserPoolId=pool.pool, Username="bob")["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_markup_in_a_username_and_an_attribute_is_text(pool, context):
    evil = "<script>alert(1)</script>"
    pool.add_user(evil, permanent=False)
    dialogs: list[str] = []
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(pool.authorize_url(login_hint="<img src=x onerror=alert(3)>"))
    assert page.input_value('input[name="username"]') == "<img src=x onerror=alert(3)>"
    fill_login(page, evil, TEMPORARY)
    page.wait_for_selector("text=Change your password")
    assert page.text_content(".username") == evil
    screenshot(page, "hosted-escaped")
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    assert page.goto(pool.authorize_url(prompt="login")).status == 200
    fill_login(page, evil, "wrong-password")
    assert page.input_value('input[name="username"]') == evil
    assert page.locator("script").count() == 0
    # An attribute: the sign-up page shows what was typed again after a refusal.
    pool.client.update_user_pool(UserPoolId=pool.pool, AutoVerifiedAttributes=["email"])
    page.click("text=Sign up")
    marked = '"><script>alert(4)</script><img src=x onerror=alert(5)>@example.com'
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Email").fill(marked)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Enter the password again").fill(PASSWORD + "x")
    page.click("button[type=submit]")
    assert page.text_content("#error-message") == "The passwords differ."
    assert page.input_value("#attr-email") == marked
    screenshot(page, "hosted-signup")
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    assert dialogs == []


def test_the_pages_send_the_security_headers(pool, context):
    page = context.new_page()
    answer = page.goto(pool.authorize_url())
    headers = answer.all_headers()
    assert headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer" and headers["x-content-type-options"] == "nosniff"
    csrf = next(c for c in context.cookies() if c["name"] == "authflow-csrf")
    assert csrf["httpOnly"] and csrf["sameSite"] == "Lax"
