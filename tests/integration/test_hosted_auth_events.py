"""Sign-ins on the hosted pages are auth events too: a pool with threat protection records
the page's password step (a wrong password as Fail, a right one as Pass) exactly as it
records AdminInitiateAuth, and a step answered on the page continues the same event."""

from __future__ import annotations

import pyotp

from tests.http import serving
from tests.integration.test_hosted_pages import Site, callback_of, enable_totp, field

PROTECTED = {"UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}, "UserPoolTier": "PLUS"}


def events(site: Site) -> list[dict]:
    return site.client.admin_list_user_auth_events(UserPoolId=site.pool, Username="alice")["AuthEvents"]


def test_the_pages_password_step_is_recorded():
    with serving(issuer_style="local") as server:
        site = Site(server, **PROTECTED)
        try:
            wrong = site.sign_in(password="Wr0ng!password")
            assert wrong.status_code == 400
            assert "code" in callback_of(site.sign_in())
            latest, first = events(site)[:2]
            assert (first["EventType"], first["EventResponse"]) == ("SignIn", "Fail")
            assert first["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Failure"}]
            assert (latest["EventType"], latest["EventResponse"]) == ("SignIn", "Pass")
            assert latest["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
        finally:
            site.http.close()


def test_an_mfa_step_on_the_page_continues_the_sign_in_event():
    with serving(issuer_style="local") as server:
        site = Site(server, **PROTECTED)
        try:
            secret = enable_totp(site)
            before = len(events(site))
            page = site.sign_in()
            assert field(page.text, "challenge") == "SOFTWARE_TOKEN_MFA"
            assert events(site)[0]["EventResponse"] == "InProgress"
            done = site.step(page, "mfa", code=pyotp.TOTP(secret).at(server.clock.now()))
            assert "code" in callback_of(done)
            listed = events(site)
            assert len(listed) == before + 1  # one event for the whole sign-in
            assert listed[0]["EventResponse"] == "Pass"
            assert {"ChallengeName": "Mfa", "ChallengeResponse": "Success"} in listed[0]["ChallengeResponses"]
        finally:
            site.http.close()
