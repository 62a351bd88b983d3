"""Terms documents over HTTP: boto3 against `authflow serve` (CreateTerms ... DeleteTerms,
Cognito's errors with HTTP 400 and the store unchanged, boto3's paginator over ListTerms),
and the hosted sign-up page (httpx, no browser) linking a client's terms of use and
privacy policy in the request's `lang`, falling back to `cognito:default`, and showing
nothing until both documents exist."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode

import httpx
import pytest

from tests.http import serving
from tests.oauth_resources import contents
from tests.oauth_resources import refused_over_http as refused

DOMAIN = "termspages"
CALLBACK = "https://app.example.com/cb"
TOU = "https://example.com/terms"
PRIVACY = "https://example.com/privacy"


def terms(cognito, pool: str, client: str, name: str, links: dict) -> dict:
    return cognito.create_terms(UserPoolId=pool, ClientId=client, TermsName=name, TermsSource="LINK",
                                Enforcement="NONE", Links=links)["Terms"]


def test_terms_over_http():
    with serving() as server:
        cognito = server.boto3()
        pool = cognito.create_user_pool(PoolName="http-terms")["UserPool"]["Id"]
        apps = [cognito.create_user_pool_client(UserPoolId=pool, ClientName=f"app-{i}")["UserPoolClient"]["ClientId"]
                for i in range(2)]

        created = terms(cognito, pool, apps[0], "terms-of-use", {"cognito:default": TOU})
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", created["TermsId"])
        assert (created["UserPoolId"], created["ClientId"], created["Links"]) == (pool, apps[0], {"cognito:default": TOU})
        assert created["CreationDate"] == created["LastModifiedDate"]  # dates arrive as datetimes
        described = cognito.describe_terms(UserPoolId=pool, TermsId=created["TermsId"])["Terms"]
        assert described == created
        by_client = cognito.describe_terms_by_client(UserPoolId=pool, ClientId=apps[0], TermsName="terms-of-use")
        assert by_client["Terms"] == created

        refused(server, cognito.create_terms, "TermsExistsException",
                f"Terms terms-of-use already exist for app client {apps[0]}.", UserPoolId=pool, ClientId=apps[0],
                TermsName="terms-of-use", TermsSource="LINK", Enforcement="NONE", Links={"cognito:default": TOU})
        refused(server, cognito.create_terms, "ResourceNotFoundException", "User pool client nosuchclient does not exist.",
                UserPoolId=pool, ClientId="nosuchclient", TermsName="terms-of-use", TermsSource="LINK",
                Enforcement="NONE", Links={"cognito:default": TOU})
        refused(server, cognito.create_terms, "InvalidParameterException",
                "The link for cognito:default must be an absolute http or https URL.", UserPoolId=pool,
                ClientId=apps[0], TermsName="privacy-policy", TermsSource="LINK", Enforcement="NONE",
                Links={"cognito:default": "javascript:alert(1)"})
        missing = "00000000-0000-4000-8000-000000000000"
        refused(server, cognito.describe_terms, "ResourceNotFoundException", f"Terms {missing} does not exist.",
                UserPoolId=pool, TermsId=missing)
        refused(server, cognito.delete_terms, "ResourceNotFoundException", f"Terms {missing} does not exist.",
                UserPoolId=pool, TermsId=missing)

        # three more, paged two at a time (botocore has no paginator for ListTerms)
        ids = {created["TermsId"]}
        ids.add(terms(cognito, pool, apps[0], "privacy-policy", {"cognito:default": PRIVACY})["TermsId"])
        ids.add(terms(cognito, pool, apps[1], "terms-of-use", {"cognito:default": TOU})["TermsId"])
        ids.add(terms(cognito, pool, apps[1], "privacy-policy", {"cognito:default": PRIVACY})["TermsId"])
        first = cognito.list_terms(UserPoolId=pool, MaxResults=2)
        second = cognito.list_terms(UserPoolId=pool, MaxResults=2, NextToken=first["NextToken"])
        assert (len(first["Terms"]), len(second["Terms"]), "NextToken" in second) == (2, 2, False)
        assert {t["TermsId"] for page in (first, second) for t in page["Terms"]} == ids

        updated = cognito.update_terms(UserPoolId=pool, TermsId=created["TermsId"],
                                       Links={"cognito:default": TOU, "cognito:french": TOU + "/fr"})["Terms"]
        assert updated["Links"] == {"cognito:default": TOU, "cognito:french": TOU + "/fr"}
        assert updated["TermsName"] == "terms-of-use"
        refused(server, cognito.update_terms, "TermsExistsException",
                f"Terms privacy-policy already exist for app client {apps[0]}.", UserPoolId=pool,
                TermsId=created["TermsId"], TermsName="privacy-policy")

        cognito.delete_terms(UserPoolId=pool, TermsId=created["TermsId"])
        refused(server, cognito.describe_terms_by_client, "ResourceNotFoundException",
                f"Terms terms-of-use does not exist for app client {apps[0]}.", UserPoolId=pool, ClientId=apps[0],
                TermsName="terms-of-use")
        assert len(cognito.list_terms(UserPoolId=pool)["Terms"]) == 3

        cognito.delete_user_pool(UserPoolId=pool)  # and its terms with it
        assert all(not resources for resources in contents(server.client)["resources"].values())


# -- the hosted sign-up page ---------------------------------------------------------------------


class SignUpSite:
    """A pool with a domain and an OAuth app client, served; the sign-up page fetched with httpx."""

    def __init__(self, server) -> None:
        self.server = server
        c = self.client = server.client
        self.pool = c.create_user_pool(PoolName="Terms")["UserPool"]["Id"]
        c.create_user_pool_domain(Domain=DOMAIN, UserPoolId=self.pool)
        self.app = c.create_user_pool_client(
            UserPoolId=self.pool, ClientName="spa", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK])["UserPoolClient"]["ClientId"]
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def terms(self, name: str, links: dict) -> str:
        return self.client.create_terms(UserPoolId=self.pool, ClientId=self.app, TermsName=name, TermsSource="LINK",
                                        Enforcement="NONE", Links=links)["Terms"]["TermsId"]

    def signup(self, **params) -> str:
        query = urlencode({"client_id": self.app, "redirect_uri": CALLBACK, "response_type": "code",
                           "scope": "openid", **params})
        page = self.http.get(f"{self.server.url}/domains/{DOMAIN}/signup?{query}")
        assert page.status_code == 200, page.text[:2000]
        return page.text

    def links(self, **params) -> dict[str, str]:
        """The terms links of the sign-up page: {id: href}."""
        return {m.group(2): unescape(m.group(1)) for m in
                re.finditer(r'<a href="([^"]*)" id="terms-([a-z-]+)"', self.signup(**params))}


@pytest.fixture
def site():
    with serving(issuer_style="local") as server:
        s = SignUpSite(server)
        try:
            yield s
        finally:
            s.http.close()


def test_no_terms_no_links(site):
    page = site.signup()
    assert "Sign up" in page and 'class="terms"' not in page


def test_one_document_alone_is_not_shown(site):
    site.terms("terms-of-use", {"cognito:default": TOU})
    assert site.links() == {}


def test_both_documents_are_linked_with_their_default_links(site):
    site.terms("terms-of-use", {"cognito:default": TOU})
    site.terms("privacy-policy", {"cognito:default": PRIVACY})
    assert site.links() == {"terms-of-use": TOU, "privacy-policy": PRIVACY}
    page = site.signup()
    assert ">Terms of use</a>" in page and ">Privacy policy</a>" in page
    assert 'rel="noopener noreferrer"' in page


def test_the_lang_parameter_picks_the_language_with_fallback_to_default(site):
    site.terms("terms-of-use", {"cognito:default": TOU, "cognito:french": TOU + "/fr",
                                "cognito:portuguese-brazil": TOU + "/pt"})
    site.terms("privacy-policy", {"cognito:default": PRIVACY})
    assert site.links(lang="fr") == {"terms-of-use": TOU + "/fr", "privacy-policy": PRIVACY}
    assert site.links(lang="pt-BR") == {"terms-of-use": TOU + "/pt", "privacy-policy": PRIVACY}
    assert site.links(lang="fr-CA") == {"terms-of-use": TOU + "/fr", "privacy-policy": PRIVACY}
    assert site.links(lang="ko") == {"terms-of-use": TOU, "privacy-policy": PRIVACY}
    assert site.links() == {"terms-of-use": TOU, "privacy-policy": PRIVACY}


def test_a_language_only_document_shows_in_that_language_only(site):
    site.terms("terms-of-use", {"cognito:spanish": TOU + "/es"})
    site.terms("privacy-policy", {"cognito:spanish": PRIVACY + "/es", "cognito:default": PRIVACY})
    assert site.links(lang="es") == {"terms-of-use": TOU + "/es", "privacy-policy": PRIVACY + "/es"}
    assert site.links(lang="de") == {}


def test_without_lang_the_page_is_english(site):
    site.terms("terms-of-use", {"cognito:default": TOU, "cognito:english": TOU + "/en"})
    site.terms("privacy-policy", {"cognito:default": PRIVACY})
    assert site.links() == {"terms-of-use": TOU + "/en", "privacy-policy": PRIVACY}


def test_a_link_is_escaped_in_the_page(site):
    odd = 'https://example.com/t?a=1&b="2"'
    site.terms("terms-of-use", {"cognito:default": odd})
    site.terms("privacy-policy", {"cognito:default": PRIVACY})
    page = site.signup()
    assert 'href="https://example.com/t?a=1&amp;b=&#34;2&#34;"' in page
    assert site.links()["terms-of-use"] == odd


def test_deleting_a_document_takes_the_links_off_the_page(site):
    site.terms("terms-of-use", {"cognito:default": TOU})
    privacy = site.terms("privacy-policy", {"cognito:default": PRIVACY})
    assert len(site.links()) == 2
    site.client.delete_terms(UserPoolId=site.pool, TermsId=privacy)
    assert site.links() == {}


def test_another_clients_terms_are_not_shown(site):
    other = site.client.create_user_pool_client(UserPoolId=site.pool, ClientName="other")["UserPoolClient"]["ClientId"]
    for name, url in (("terms-of-use", TOU), ("privacy-policy", PRIVACY)):
        site.client.create_terms(UserPoolId=site.pool, ClientId=other, TermsName=name, TermsSource="LINK",
                                 Enforcement="NONE", Links={"cognito:default": url})
    assert site.links() == {}


def test_a_refused_sign_up_shows_the_links_again(site):
    site.terms("terms-of-use", {"cognito:default": TOU})
    site.terms("privacy-policy", {"cognito:default": PRIVACY})
    site.signup(lang="fr")  # sets the CSRF cookie
    query = urlencode({"client_id": site.app, "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid",
                       "lang": "fr"})
    page = site.http.post(f"{site.server.url}/domains/{DOMAIN}/signup?{query}",
                          data={"_csrf": site.http.cookies.get("authflow-csrf"), "username": "carol",
                                "password": "Passw0rd!long", "confirm_password": "different"})
    assert page.status_code == 400 and "The passwords differ." in page.text
    assert f'href="{TOU}" id="terms-terms-of-use"' in page.text
    assert site.client.list_users(UserPoolId=site.pool)["Users"] == []
