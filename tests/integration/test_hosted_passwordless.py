"""Passwordless sign-in on the hosted pages over plain HTTP (httpx against `authflow
serve`'s app, no browser; the browser walks are tests/browser/test_passkey_browser.py):
"Email me a code" / "Text me a code" without JavaScript, a factor the user cannot use, a
wrong code, /passkeys/add with the software authenticator (and its way through /login
without a hosted session), the passkey sign-in's JSON options and its form answer, a
deleted passkey, a spent session, and the refusals: a POST without the CSRF token (JSON
endpoint included) is a 403 with nothing done; the CSP allows scripts only on the pages
that need them."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest

from tests.helpers import store_contents
from tests.http import serving
from tests.integration.test_hosted_pages import callback_of
from tests.signin import SMS_CONFIG
from tests.webauthn_authenticator import SoftAuthenticator

DOMAIN = "passwordless"
CALLBACK = "https://app.example.com/cb"
PASSWORD = "Passw0rd!long"
ORIGIN = "http://localhost:8443"  # an origin of the relying party "localhost"
SES = {"EmailSendingAccount": "DEVELOPER", "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
       "From": "no-reply@example.com"}
FACTORS = ["PASSWORD", "WEB_AUTHN", "EMAIL_OTP", "SMS_OTP"]
USED_SESSION = "Invalid session for the user, session can only be used once."


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert found, f"no field {name} in the page"
    return unescape(found.group(1))


def attribute(html: str, name: str) -> str:
    found = re.search(rf'{re.escape(name)}="([^"]*)"', html)
    assert found, f"no attribute {name} in the page"
    return unescape(found.group(1))


class Site:
    """A pool whose sign-in policy allows passkeys and codes (RP ID localhost), a domain, a
    public client, alice (verified email and phone) and bob (email not verified); an httpx
    client that keeps cookies and never follows redirects."""

    def __init__(self, server, factors=FACTORS) -> None:
        self.server = server
        c = self.client = server.client
        self.pool = c.create_user_pool(PoolName="Passwordless", EmailConfiguration=SES, SmsConfiguration=SMS_CONFIG,
                                       Policies={"SignInPolicy": {"AllowedFirstAuthFactors": list(factors)}},
                                       )["UserPool"]["Id"]
        c.set_user_pool_mfa_config(UserPoolId=self.pool, MfaConfiguration="OFF",
                                   WebAuthnConfiguration={"RelyingPartyId": "localhost"})
        c.create_user_pool_domain(Domain=DOMAIN, UserPoolId=self.pool)
        self.app = c.create_user_pool_client(
            UserPoolId=self.pool, ClientName="spa", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email"], CallbackURLs=[CALLBACK],
            ExplicitAuthFlows=["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
        self.user("alice", email="alice@example.com", phone="+12065554567")
        self.user("bob", email="bob@example.com", verified=False)
        self.base = f"{server.url}/domains/{DOMAIN}"
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def user(self, name: str, *, email: str, phone: str | None = None, verified: bool = True) -> None:
        attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": str(verified).lower()}]
        if phone:
            attributes += [{"Name": "phone_number", "Value": phone}, {"Name": "phone_number_verified", "Value": "true"}]
        self.client.admin_create_user(UserPoolId=self.pool, Username=name, MessageAction="SUPPRESS",
                                      TemporaryPassword=PASSWORD, UserAttributes=attributes)
        self.client.admin_set_user_password(UserPoolId=self.pool, Username=name, Password=PASSWORD, Permanent=True)

    @property
    def query(self) -> str:
        return urlencode({"client_id": self.app["ClientId"], "redirect_uri": CALLBACK, "response_type": "code",
                          "scope": "openid email", "state": "st-1"})

    def login_page(self) -> httpx.Response:
        page = self.http.get(f"{self.base}/login?{self.query}")
        assert page.status_code == 200, page.text
        return page

    def post(self, url: str, data: dict, *, csrf: bool = True) -> httpx.Response:
        if csrf:
            data = {"_csrf": self.http.cookies.get("authflow-csrf"), **data}
        return self.http.post(url, data=data)

    def sign_in(self, username: str = "alice") -> httpx.Response:
        self.login_page()
        return self.post(f"{self.base}/login?{self.query}", {"username": username, "password": PASSWORD})

    def ask_code(self, factor: str, username: str = "alice") -> httpx.Response:
        self.login_page()
        return self.post(f"{self.base}/login?{self.query}", {"username": username, "password": "", "factor": factor})

    def answer_code(self, page: httpx.Response, code: str) -> httpx.Response:
        hidden = {n: field(page.text, n) for n in ("challenge", "session", "username")}
        return self.post(f"{self.base}/mfa?{self.query}", {**hidden, "code": code})

    def add_url(self, **params) -> str:
        query = {"client_id": self.app["ClientId"], "redirect_uri": CALLBACK, **params}
        return f"{self.base}/passkeys/add?{urlencode({k: v for k, v in query.items() if v is not None})}"

    def register(self, authenticator: SoftAuthenticator) -> httpx.Response:
        """Sign in with the password, open /passkeys/add, answer its options."""
        assert self.sign_in().status_code == 302
        page = self.http.get(self.add_url())
        assert page.status_code == 200, page.text
        options = json.loads(attribute(page.text, "data-creation-options"))
        return self.post(self.add_url(), {"credential": json.dumps(authenticator.create(options, ORIGIN))})

    def passkey_options(self, username: str = "alice", *, csrf: bool = True) -> httpx.Response:
        self.login_page()
        return self.post(f"{self.base}/login/passkey/options?{self.query}", {"username": username}, csrf=csrf)

    def passkey_answer(self, options: dict, assertion: dict) -> httpx.Response:
        return self.post(f"{self.base}/login/passkey?{self.query}", {
            "session": options["session"], "username": options["username"], "credential": json.dumps(assertion)})

    def logout(self) -> None:
        self.http.cookies.delete("authflow-hosted-session", path=f"/domains/{DOMAIN}")
        assert "authflow-hosted-session" not in self.http.cookies

    def code(self) -> str:
        return re.search(r"\b(\d{6,8})\b", self.server.outbox.last().body).group(1)

    def state(self):
        return store_contents(self.client.store)


@pytest.fixture
def site():
    with serving(issuer_style="local") as server:
        s = Site(server)
        try:
            yield s
        finally:
            s.http.close()


def redeem(site: Site, code: str) -> dict:
    answer = httpx.post(f"{site.base}/oauth2/token", data={
        "grant_type": "authorization_code", "client_id": site.app["ClientId"], "code": code,
        "redirect_uri": CALLBACK}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- the login page ----------------------------------------------------------------------------


def test_the_login_page_offers_the_pools_passwordless_factors_and_only_it_runs_a_script(site):
    page = site.login_page()
    assert "Email me a code" in page.text and "Text me a code" in page.text and "Sign in with a passkey" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "<script>" not in page.text
    script = attribute(page.text, "script src")
    served = site.http.get(script if script.startswith("http") else site.server.url + script)
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/javascript")
    assert "navigator.credentials.get" in served.text
    # Pages without passkeys keep the no-script policy.
    signup = site.http.get(f"{site.base}/signup?{site.query}")
    assert "script-src" not in signup.headers["content-security-policy"]


def test_a_pool_without_passwordless_factors_shows_only_the_password_form():
    with serving(issuer_style="local") as server:
        s = Site(server, factors=["PASSWORD"])
        page = s.login_page()
        assert "Email me a code" not in page.text and "passkey" not in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        refused = s.ask_code("EMAIL_OTP")
        assert refused.status_code == 400 and "not offered" in refused.text
        assert server.outbox.messages == []


# -- codes -------------------------------------------------------------------------------------


def test_email_me_a_code_signs_in_without_javascript(site):
    page = site.ask_code("EMAIL_OTP")
    assert page.status_code == 200, page.text
    assert field(page.text, "challenge") == "EMAIL_OTP" and "a***@e***" in page.text
    message = site.server.outbox.last()
    assert message.username == "alice"
    params = callback_of(site.answer_code(page, site.code()))
    assert params["state"] == ["st-1"]
    tokens = redeem(site, params["code"][0])
    assert {"id_token", "access_token", "refresh_token"} <= set(tokens)


def test_text_me_a_code_signs_in(site):
    page = site.ask_code("SMS_OTP")
    assert page.status_code == 200 and field(page.text, "challenge") == "SMS_OTP"
    assert site.server.outbox.last().medium == "SMS"
    callback_of(site.answer_code(page, site.code()))


def test_a_wrong_code_shows_cognitos_message_and_the_step_again(site):
    page = site.ask_code("EMAIL_OTP")
    wrong = site.answer_code(page, "000000" if site.code() != "000000" else "111111")
    assert wrong.status_code == 400
    assert "Invalid code received for user" in unescape(wrong.text)
    assert field(wrong.text, "challenge") == "EMAIL_OTP"
    callback_of(site.answer_code(wrong, site.code()))


def test_a_factor_the_user_cannot_use_is_named_with_what_they_can(site):
    before = len(site.server.outbox.messages)
    page = site.ask_code("EMAIL_OTP", "bob")  # bob's email is not verified
    assert page.status_code == 400
    text = unescape(page.text)
    assert "You cannot sign in with a code by email. You can sign in with: your password." in text
    assert len(site.server.outbox.messages) == before
    empty = site.ask_code("EMAIL_OTP", "")
    assert empty.status_code == 400 and "Enter your username." in empty.text


def test_a_spent_code_session_starts_over_at_the_login_page(site):
    page = site.ask_code("EMAIL_OTP")
    code = site.code()
    callback_of(site.answer_code(page, code))
    again = site.answer_code(page, code)
    assert again.status_code == 400 and 'name="cognitoSignInForm"' in again.text
    assert USED_SESSION in unescape(again.text)


# -- passkeys ------------------------------------------------------------------------------------


def test_add_a_passkey_then_sign_in_with_it(site):
    authenticator = SoftAuthenticator()
    added = site.register(authenticator)
    assert added.status_code == 302 and added.headers["location"] == CALLBACK
    listed = site.client.admin_get_user_auth_factors(UserPoolId=site.pool, Username="alice")
    assert "WEB_AUTHN" in listed["ConfiguredUserAuthFactors"]

    site.logout()
    options = site.passkey_options()
    assert options.status_code == 200, options.text
    body = options.json()
    assert body["username"] == "alice" and body["options"]["rpId"] == "localhost"
    assert [c["id"] for c in body["options"]["allowCredentials"]] == [authenticator.id]
    params = callback_of(site.passkey_answer(body, authenticator.get(body["options"], ORIGIN)))
    assert "access_token" in redeem(site, params["code"][0])
    assert "authflow-hosted-session" in site.http.cookies


def test_passkeys_add_without_a_session_signs_in_first_then_comes_back(site):
    first = site.http.get(site.add_url())
    assert first.status_code == 302
    login = first.headers["location"]
    assert urlparse(login).path == f"/domains/{DOMAIN}/login"
    assert parse_qs(urlparse(login).query)["authflow_next"] == ["passkeys/add"]
    site.http.get(login)
    back = site.post(login, {"username": "alice", "password": PASSWORD})
    assert back.status_code == 302
    assert back.headers["location"] == site.add_url(), back.headers["location"]
    page = site.http.get(back.headers["location"])
    assert page.status_code == 200 and "data-creation-options" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_passkeys_add_refuses_an_unregistered_redirect_uri_and_an_unknown_client(site):
    site.sign_in()
    for url in (site.add_url(redirect_uri="https://evil.example.com/cb"), site.add_url(client_id="nosuchclient")):
        answer = site.http.get(url)
        assert answer.status_code == 302 and "/error?" in answer.headers["location"], answer.headers
        assert "evil" not in answer.headers["location"]


def test_passkeys_add_without_redirect_uri_says_passkey_added(site):
    authenticator = SoftAuthenticator()
    site.sign_in()
    url = site.add_url(redirect_uri=None)
    site.client.update_user_pool_client(UserPoolId=site.pool, ClientId=site.app["ClientId"],
                                        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                                        AllowedOAuthScopes=["openid", "email"], CallbackURLs=[CALLBACK],
                                        DefaultRedirectURI=CALLBACK)
    page = site.http.get(url)
    options = json.loads(attribute(page.text, "data-creation-options"))
    done = site.post(url, {"credential": json.dumps(authenticator.create(options, ORIGIN))})
    assert done.status_code == 200 and "Passkey added." in done.text


def test_a_refused_registration_is_shown_with_a_new_try(site):
    site.sign_in()
    page = site.http.get(site.add_url())
    options = json.loads(attribute(page.text, "data-creation-options"))
    wrong = SoftAuthenticator().create(options, "https://evil.example.com")
    answer = site.post(site.add_url(), {"credential": json.dumps(wrong)})
    assert answer.status_code == 400
    assert "The origin https://evil.example.com is not allowed for relying party localhost." in unescape(answer.text)
    fresh = json.loads(attribute(answer.text, "data-creation-options"))
    assert fresh["challenge"] != options["challenge"]
    assert site.client.admin_get_user_auth_factors(UserPoolId=site.pool, Username="alice")[
        "ConfiguredUserAuthFactors"].count("WEB_AUTHN") == 0


def test_a_deleted_passkey_no_longer_signs_in(site):
    authenticator = SoftAuthenticator()
    site.register(authenticator)
    site.logout()
    body = site.passkey_options().json()  # the options are out before the passkey goes
    token = site.client.admin_initiate_auth(
        UserPoolId=site.pool, ClientId=site.app["ClientId"], AuthFlow="USER_AUTH",
        AuthParameters={"USERNAME": "alice", "PREFERRED_CHALLENGE": "PASSWORD", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    site.client.delete_web_authn_credential(AccessToken=token, CredentialId=authenticator.id)
    refused = site.passkey_answer(body, authenticator.get(body["options"], ORIGIN))
    assert refused.status_code == 400 and "Incorrect username or passkey." in refused.text
    assert "authflow-hosted-session" not in site.http.cookies
    later = site.passkey_options()
    assert later.status_code == 400
    assert later.json()["error"] == ("You cannot sign in with a passkey. You can sign in with: your password, "
                                     "a code by email, a code by text message.")


def test_a_spent_passkey_session_is_refused(site):
    authenticator = SoftAuthenticator()
    site.register(authenticator)
    site.logout()
    body = site.passkey_options().json()
    assertion = authenticator.get(body["options"], ORIGIN)
    callback_of(site.passkey_answer(body, assertion))
    site.logout()
    again = site.passkey_answer(body, assertion)
    assert again.status_code == 400 and 'name="cognitoSignInForm"' in again.text
    assert USED_SESSION in unescape(again.text)
    assert "authflow-hosted-session" not in site.http.cookies


# -- CSRF --------------------------------------------------------------------------------------


def test_posts_without_the_csrf_token_are_refused_and_nothing_is_done(site):
    authenticator = SoftAuthenticator()
    site.sign_in()
    page = site.http.get(site.add_url())
    options = json.loads(attribute(page.text, "data-creation-options"))
    credential = json.dumps(authenticator.create(options, ORIGIN))
    before, sent = site.state(), len(site.server.outbox.messages)
    requests = [
        (site.add_url(), {"credential": credential}),
        (f"{site.base}/login/passkey/options?{site.query}", {"username": "alice"}),
        (f"{site.base}/login?{site.query}", {"username": "alice", "factor": "EMAIL_OTP"}),
        (f"{site.base}/login/passkey?{site.query}", {"session": "x", "username": "alice", "credential": "{}"}),
    ]
    for url, data in requests:
        for token in (None, "x" * 43):
            form = data if token is None else {**data, "_csrf": token}
            answer = site.post(url, form, csrf=False)
            assert answer.status_code == 403 and "Nothing was done" in answer.text, url
    assert site.state() == before and len(site.server.outbox.messages) == sent
    # The same registration answer with the token is still good: nothing was spent.
    assert site.post(site.add_url(), {"credential": credential}).status_code == 302


def test_markup_in_a_username_is_text_in_the_json_and_the_page(site):
    page = site.ask_code("EMAIL_OTP", '<script>alert(1)</script>')
    assert "<script>alert(1)</script>" not in page.text
    answer = site.passkey_options('<img src=x onerror=alert(1)>')
    assert answer.headers["content-type"].startswith("application/json")


def test_passkeys_add_is_served_at_the_domains_own_host(site):
    host = f"{DOMAIN}.auth.localhost:{urlparse(site.server.url).port}"
    query = urlencode({"client_id": site.app["ClientId"], "redirect_uri": CALLBACK})
    answer = site.http.get(f"{site.server.url}/passkeys/add?{query}", headers={"Host": host})
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"http://{host}/login?"), answer.headers["location"]
    script = site.http.get(f"{site.server.url}/login/passkey.js", headers={"Host": host})
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


def test_an_expired_code_session_starts_over_at_the_login_page(site):
    page = site.ask_code("EMAIL_OTP")
    code = site.code()
    site.server.clock.advance(timedelta(minutes=16))
    late = site.answer_code(page, code)
    assert late.status_code == 400 and 'name="cognitoSignInForm"' in late.text
    assert "Invalid session for the user, session is expired." in unescape(late.text)
    assert "authflow-hosted-session" not in site.http.cookies


def test_a_registration_answer_after_the_session_ended_is_refused_and_nothing_is_stored(site):
    authenticator = SoftAuthenticator()
    site.sign_in()
    page = site.http.get(site.add_url())
    options = json.loads(attribute(page.text, "data-creation-options"))
    site.logout()
    before = site.state()
    answer = site.post(site.add_url(), {"credential": json.dumps(authenticator.create(options, ORIGIN))})
    assert answer.status_code == 403 and "Sign in again to add a passkey." in answer.text
    assert site.state() == before


def test_the_options_endpoint_of_an_invalid_request_answers_json(site):
    site.login_page()
    answer = site.post(f"{site.base}/login/passkey/options?client_id=nosuchclient", {"username": "alice"})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/json")
    assert "no longer valid" in answer.json()["error"]
