"""Passkeys and one-time codes on the hosted pages in a real browser: Playwright driving
Debian's chromium, with a CDP virtual authenticator (ctap2, internal, resident keys, user
verification) standing in for the device.

The walks: sign in with a password, add a passkey at /passkeys/add, sign out at /logout,
sign in with "Sign in with a passkey" on /login and land at the app's callback with a code
that authlib redeems for tokens; the virtual authenticator holds the credential and its
sign count moved. A passkey deleted with boto3 (DeleteWebAuthnCredential) no longer signs
in: the page says so. And "Email me a code" with the code read from a real SMTP server
(aiosmtpd), signed in at the callback.

The server is reached at http://localhost:<port> (a secure context for WebAuthn) and the
pool's WebAuthnConfiguration.RelyingPartyId is "localhost". Screenshots: passkey-login,
passkey-add, passkey-refused, email-otp-code.
"""

from __future__ import annotations

import warnings
from urllib.parse import urlencode

import httpx
import pytest
from authlib.integrations.requests_client import OAuth2Session

from tests.browser.apps import recording_app
from tests.browser.conftest import screenshot
from tests.passwordless_serving import code_in, sending_by_smtp, serving_localhost
from tests.smtp_sink import running_sink

with warnings.catch_warnings():  # authlib.jose is deprecated in favour of joserfc; its OIDC client still uses it
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt

DOMAIN = "passkeypages"
PASSWORD = "Passw0rd!long"
EMAIL = "alice@example.com"
SES = {"EmailSendingAccount": "DEVELOPER", "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
       "From": "no-reply@example.com"}
AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
                 "isUserVerified": True}


class Pool:
    """A pool allowing PASSWORD, WEB_AUTHN and EMAIL_OTP (RP ID localhost), a domain, a
    confidential client for authlib, and alice (verified e-mail)."""

    def __init__(self, server, app) -> None:
        self.server, self.app = server, app
        self.callback, self.signed_out = f"{app.base}/callback", f"{app.base}/signed-out"
        c = self.cognito = server.boto3()
        self.pool = c.create_user_pool(
            PoolName="Passkeys", EmailConfiguration=SES,
            Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN", "EMAIL_OTP"]}},
        )["UserPool"]["Id"]
        c.set_user_pool_mfa_config(UserPoolId=self.pool, MfaConfiguration="OFF",
                                   WebAuthnConfiguration={"RelyingPartyId": "localhost"})
        c.create_user_pool_domain(Domain=DOMAIN, UserPoolId=self.pool)
        self.web = c.create_user_pool_client(
            UserPoolId=self.pool, ClientName="web", GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "email"], CallbackURLs=[self.callback],
            LogoutURLs=[self.signed_out], ExplicitAuthFlows=["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]
        c.admin_create_user(UserPoolId=self.pool, Username="alice", MessageAction="SUPPRESS", UserAttributes=[
            {"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}])
        c.admin_set_user_password(UserPoolId=self.pool, Username="alice", Password=PASSWORD, Permanent=True)
        self.base = f"{server.url}/domains/{DOMAIN}"
        self.discovery = httpx.get(f"{server.url}/{self.pool}/.well-known/openid-configuration", timeout=10).json()

    def authlib(self) -> OAuth2Session:
        return OAuth2Session(self.web["ClientId"], self.web["ClientSecret"], scope="openid email",
                             redirect_uri=self.callback)

    def authorize_url(self) -> str:
        return f"{self.base}/oauth2/authorize?" + urlencode({
            "client_id": self.web["ClientId"], "redirect_uri": self.callback, "response_type": "code",
            "scope": "openid email", "state": "st"})

    def add_url(self) -> str:
        return f"{self.base}/passkeys/add?" + urlencode({"client_id": self.web["ClientId"],
                                                         "redirect_uri": self.callback})

    def logout_url(self) -> str:
        return f"{self.base}/logout?" + urlencode({"client_id": self.web["ClientId"], "logout_uri": self.signed_out})

    def access_token(self) -> str:
        return self.cognito.initiate_auth(ClientId=self.web["ClientId"], AuthFlow="USER_AUTH", AuthParameters={
            "USERNAME": "alice", "PREFERRED_CHALLENGE": "PASSWORD", "PASSWORD": PASSWORD,
            "SECRET_HASH": secret_hash(self.web, "alice")})["AuthenticationResult"]["AccessToken"]


def secret_hash(client: dict, username: str) -> str:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(client["ClientSecret"].encode(), (username + client["ClientId"]).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def at(page, url: str) -> None:
    page.wait_for_url(url + "**")


def virtual_authenticator(context, page):
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})["authenticatorId"]
    return cdp, authenticator


def credentials(cdp, authenticator) -> list[dict]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]


@pytest.fixture
def pool():
    with serving_localhost() as server, recording_app() as app:
        yield Pool(server, app)


def add_passkey_after_password(pool, context):
    """Sign in with the password (the hosted session the registration page needs), then add
    a passkey on /passkeys/add with a fresh virtual authenticator: the page, the CDP session,
    the authenticator's id and the credential it made."""
    page = context.new_page()
    cdp, authenticator = virtual_authenticator(context, page)
    page.goto(pool.authorize_url())
    page.fill('input[name="username"]', "alice")
    page.fill('input[name="password"]', PASSWORD)
    page.click('[name="signInSubmitButton"]')
    at(page, pool.callback)
    page.goto(pool.add_url())
    page.wait_for_selector("body[data-passkeys=ready]")
    screenshot(page, "passkey-add")
    page.click("#passkey-add-button")
    at(page, pool.callback)
    [made] = credentials(cdp, authenticator)
    return page, cdp, authenticator, made


def test_add_a_passkey_sign_out_and_sign_in_with_it(pool, context):
    page, cdp, authenticator, made = add_passkey_after_password(pool, context)
    assert made["rpId"] == "localhost" and made["isResidentCredential"]
    listed = pool.cognito.list_web_authn_credentials(AccessToken=pool.access_token())["Credentials"]
    assert len(listed) == 1 and listed[0]["RelyingPartyId"] == "localhost"

    page.goto(pool.logout_url())
    at(page, pool.signed_out)

    session = pool.authlib()
    url, state = session.create_authorization_url(pool.discovery["authorization_endpoint"], state="st-passkey")
    page.goto(url)
    page.wait_for_selector("body[data-passkeys=ready]")
    page.fill('input[name="username"]', "alice")
    screenshot(page, "passkey-login")
    page.click("#passkey-button")
    at(page, pool.callback)
    callback = pool.app.urls[-1]
    token = session.fetch_token(pool.discovery["token_endpoint"], authorization_response=callback, state=state)
    claims = jwt.decode(token["id_token"], JsonWebKey.import_key_set(httpx.get(pool.discovery["jwks_uri"]).json()))
    claims.validate()
    assert claims["cognito:username"] == "alice" and claims["iss"] == pool.discovery["issuer"]
    [used] = credentials(cdp, authenticator)
    assert used["credentialId"] == made["credentialId"] and used["signCount"] > made["signCount"]


def test_a_deleted_passkey_no_longer_signs_in_on_the_page(pool, context):
    page, cdp, authenticator, made = add_passkey_after_password(pool, context)

    token = pool.access_token()
    [listed] = pool.cognito.list_web_authn_credentials(AccessToken=token)["Credentials"]
    pool.cognito.delete_web_authn_credential(AccessToken=token, CredentialId=listed["CredentialId"])
    page.goto(pool.logout_url())
    at(page, pool.signed_out)

    before = len(pool.app.urls)
    page.goto(pool.authorize_url())
    page.wait_for_selector("body[data-passkeys=ready]")
    page.fill('input[name="username"]', "alice")
    page.click("#passkey-button")
    error = page.locator("#passkey-error")
    error.wait_for(state="visible")
    assert "You cannot sign in with a passkey." in error.text_content()
    screenshot(page, "passkey-refused")
    assert "/login" in page.url and len(pool.app.urls) == before
    assert credentials(cdp, authenticator)[0]["signCount"] == made["signCount"]  # never asked


@pytest.fixture
def sink():
    with running_sink() as sink:
        yield sink


def test_email_me_a_code_with_the_code_from_the_smtp_server(sink, context):
    with sending_by_smtp(sink.url) as client, serving_localhost(client) as server, recording_app() as app:
        pool = Pool(server, app)
        page = context.new_page()
        page.goto(pool.authorize_url())
        page.fill('input[name="username"]', "alice")
        page.click("text=Email me a code")
        page.wait_for_selector('input[name="code"]')
        [received] = sink.wait_for(1)
        assert received.message["To"] == EMAIL
        screenshot(page, "email-otp-code")
        page.fill('input[name="code"]', code_in(received.message))
        page.click('button[type="submit"]')
        at(page, pool.callback)
        assert pool.app.query()["state"] == ["st"]
        code = pool.app.query()["code"][0]
        tokens = httpx.post(pool.discovery["token_endpoint"], auth=(pool.web["ClientId"], pool.web["ClientSecret"]),
                            data={"grant_type": "authorization_code", "code": code, "redirect_uri": pool.callback,
                                  "client_id": pool.web["ClientId"]}, timeout=10)
        assert tokens.status_code == 200 and "access_token" in tokens.json()
        assert len(sink.received) == 1
