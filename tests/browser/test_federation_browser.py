"""Federation in a real browser: Playwright for Python driving Debian's chromium through
two pools' hosted pages on one `authflow serve` app (the set-up of
`tests/integration/test_federation_http.py`: pool U the identity provider, pool D the app's
pool federating with U over OIDC).

The walk: the app's /oauth2/authorize at D; D's sign-in page, where the user picks the
provider (or, if that page offers no button for it, the app names it with
`identity_provider=`); U's sign-in page, where bob types his password; back through D's
/oauth2/idpresponse to the app's callback with a code, which the app redeems for tokens
whose ID token carries `identities`. Screenshots: federation-downstream-login,
federation-upstream-login, federation-upstream-filled, federation-app-callback.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from tests.browser.conftest import screenshot
from tests.external import need
from tests.http import serving
from tests.integration.test_federation_http import (
        PASSWORD,
    PROVIDER,
    Federation,
    query_of,
)


def _hosted_pages(fed: Federation) -> bool:
    answer = httpx.get(f"{fed.d_base}/oauth2/authorize", params={"client_id": fed.app["ClientId"]},
                       follow_redirects=False, timeout=15)
    return answer.status_code != 404


def test_federated_sign_in_through_a_second_pool(context):
    with serving(issuer_style="local") as server:
        fed = Federation(server)
        need(_hosted_pages(fed), "the hosted sign-in pages (authflow/web/hosted.py) are not built yet")
        # The app's callback: a path of the same server (it answers 404; the code is in the URL).
        callback = f"{server.url}/app/callback"
        app = fed.d_client(callback)
        page = context.new_page()
        authorize = f"{fed.d_base}/oauth2/authorize?" + urlencode({
            "client_id": app["ClientId"], "redirect_uri": callback, "response_type": "code",
            "scope": "openid email profile", "state": "browser-state"})
        page.goto(authorize)
        screenshot(page, "federation-downstream-login")
        button = page.get_by_role("link", name=PROVIDER).or_(page.get_by_role("button", name=PROVIDER))
        if button.count():
            button.first.click()
        else:  # no button for the provider on D's page (yet): the app names it itself
            page.goto(authorize + "&" + urlencode({"identity_provider": PROVIDER}))
        page.wait_for_url(f"{fed.u_base}/**")
        screenshot(page, "federation-upstream-login")
        page.fill('input[name="username"]', "bob")
        page.fill('input[name="password"]', PASSWORD)
        screenshot(page, "federation-upstream-filled")
        with page.expect_navigation(url=callback + "**"):
            page.locator('[name="signInSubmitButton"], button[type="submit"], input[type="submit"]').first.click()
        screenshot(page, "federation-app-callback")
        location = page.url
        assert query_of(location)["state"] == "browser-state"
        claims = fed.id_claims(fed.tokens(location, app, callback), app)
        assert claims["cognito:username"] == f"{PROVIDER}_{fed.bob}"
        assert claims["identities"][0]["providerName"] == PROVIDER
        assert fed.federated()["UserStatus"] == "EXTERNAL_PROVIDER"
