"""EMAIL_OTP as a first factor with the code read from a real SMTP server (aiosmtpd,
tests/smtp_sink.py): boto3 against `authflow serve`'s app, InitiateAuth USER_AUTH with
PREFERRED_CHALLENGE=EMAIL_OTP, the code taken from the message that arrived, the answer,
tokens; and the same through the hosted page's "Email me a code" over HTTP. (The Chromium
walk is tests/browser/test_passkey_browser.py.)"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest

from tests.http import serving
from tests.passwordless_serving import code_in, sending_by_smtp
from tests.smtp_sink import running_sink

EMAIL = "alice@example.com"
PASSWORD = "Passw0rd!long"
CALLBACK = "https://app.example.com/cb"
SES = {"EmailSendingAccount": "DEVELOPER", "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
       "From": "no-reply@example.com"}


@pytest.fixture
def sink():
    with running_sink() as sink:
        yield sink


def passwordless_pool(cognito) -> tuple[str, str]:
    pool = cognito.create_user_pool(
        PoolName="otp", EmailConfiguration=SES,
        Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}})["UserPool"]["Id"]
    app = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "email"],
        CallbackURLs=[CALLBACK])["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS", UserAttributes=[
        {"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}])
    cognito.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
    return pool, app


def test_email_otp_with_boto3_and_the_code_from_the_smtp_server(sink):
    with sending_by_smtp(sink.url) as client, serving(client=client) as server:
        cognito = server.boto3()
        _pool, app = passwordless_pool(cognito)
        started = cognito.initiate_auth(ClientId=app, AuthFlow="USER_AUTH",
                                        AuthParameters={"USERNAME": "alice", "PREFERRED_CHALLENGE": "EMAIL_OTP"})
        assert started["ChallengeName"] == "EMAIL_OTP"
        assert started["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
        [received] = sink.wait_for(1)
        assert received.message["To"] == EMAIL
        code = code_in(received.message)
        answered = cognito.respond_to_auth_challenge(
            ClientId=app, ChallengeName="EMAIL_OTP", Session=started["Session"],
            ChallengeResponses={"USERNAME": "alice", "EMAIL_OTP_CODE": code})
        tokens = answered["AuthenticationResult"]
        assert {"IdToken", "AccessToken", "RefreshToken"} <= set(tokens)
        assert cognito.get_user(AccessToken=tokens["AccessToken"])["Username"] == "alice"


def test_email_me_a_code_on_the_hosted_page_with_the_code_from_the_smtp_server(sink):
    with sending_by_smtp(sink.url) as client, serving(client=client) as server, \
            httpx.Client(follow_redirects=False, timeout=10) as http:
        cognito = server.boto3()
        pool, app = passwordless_pool(cognito)
        cognito.create_user_pool_domain(Domain="otpmail", UserPoolId=pool)
        query = urlencode({"client_id": app, "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid"})
        login = f"{server.url}/domains/otpmail/login?{query}"
        assert http.get(login).status_code == 200
        page = http.post(login, data={"_csrf": http.cookies["authflow-csrf"], "username": "alice",
                                      "factor": "EMAIL_OTP"})
        assert page.status_code == 200, page.text
        [received] = sink.wait_for(1)
        hidden = {n: unescape(re.search(rf'name="{n}" value="([^"]*)"', page.text).group(1))
                  for n in ("challenge", "session", "username")}
        done = http.post(f"{server.url}/domains/otpmail/mfa?{query}", data={
            "_csrf": http.cookies["authflow-csrf"], **hidden, "code": code_in(received.message)})
        assert done.status_code == 302 and done.headers["location"].startswith(CALLBACK), done.text[:500]
        code = parse_qs(urlparse(done.headers["location"]).query)["code"][0]
        tokens = http.post(f"{server.url}/domains/otpmail/oauth2/token", data={
            "grant_type": "authorization_code", "client_id": app, "code": code, "redirect_uri": CALLBACK})
        assert tokens.status_code == 200 and "access_token" in tokens.json()
