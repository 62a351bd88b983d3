"""Branding over HTTP: boto3 against `authflow serve` (SigV4, the JSON protocol: ImageFile and
asset Bytes travel as base64 and come back as bytes), Cognito's errors with HTTP 400 and the
store unchanged; and the hosted pages carrying the customization: the login page links the
client's stylesheet and logo, both served from the domain's own origin under the same
strict CSP, the stylesheet re-written from the validated rules."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx

from authflow.web.security import SECURITY_HEADERS
from tests.http import serving
from tests.oauth_resources import refused_over_http as refused

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(48))
CSS = ".submitButton-customizable { background-color: #ff6600; }\n.label-customizable { font-weight: 700; }"
CALLBACK = "https://app.example.com/cb"


def test_branding_operations_over_http():
    with serving() as server:
        cognito = server.boto3()
        pool = cognito.create_user_pool(PoolName="http-branding")["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"]["ClientId"]

        refused(server, cognito.set_ui_customization, "InvalidParameterException",
                "There has to be an existing domain associated with this user pool", UserPoolId=pool, CSS=CSS)
        cognito.create_user_pool_domain(UserPoolId=pool, Domain="http-brand")
        got = cognito.set_ui_customization(UserPoolId=pool, ClientId=client_id, CSS=CSS, ImageFile=PNG)
        ui = got["UICustomization"]
        assert ui["ClientId"] == client_id and ui["CSS"] == CSS and ui["ImageUrl"].endswith("/image.png")
        assert cognito.get_ui_customization(UserPoolId=pool, ClientId=client_id)["UICustomization"] == ui
        assert cognito.get_ui_customization(UserPoolId=pool)["UICustomization"] == {"UserPoolId": pool,
                                                                                      "ClientId": "ALL"}
        refused(server, cognito.set_ui_customization, "InvalidParameterException",
                "The CSS is not valid: at-rules (@import, @media, @supports, @page, @font-face, ...) are not allowed.",
                UserPoolId=pool, CSS="@import url(https://evil.example/a.css);")
        refused(server, cognito.set_ui_customization, "InvalidParameterException",
                "The image file must be a PNG or JPEG image.", UserPoolId=pool, ImageFile=b"GIF89a....")
        refused(server, cognito.get_ui_customization, "ResourceNotFoundException",
                "User pool client nosuch does not exist.", UserPoolId=pool, ClientId="nosuch")

        asset = {"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": PNG}
        created = cognito.create_managed_login_branding(UserPoolId=pool, ClientId=client_id,
                                                        Settings={"categories": {"form": {"displayGraphics": True}}},
                                                        Assets=[asset])["ManagedLoginBranding"]
        assert created["Assets"] == [asset]  # the bytes came back as bytes, through base64
        branding_id = created["ManagedLoginBrandingId"]
        refused(server, cognito.create_managed_login_branding, "ManagedLoginBrandingExistsException",
                f"Managed login branding already exists for client {client_id}: {branding_id}.",
                UserPoolId=pool, ClientId=client_id, UseCognitoProvidedValues=True)
        updated = cognito.update_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding_id,
                                                        Settings={"categories": {"form": {"x": 1}}})
        assert updated["ManagedLoginBranding"]["Settings"] == {"categories": {"form": {"displayGraphics": True,
                                                                                       "x": 1}}}
        assert cognito.describe_managed_login_branding_by_client(
            UserPoolId=pool, ClientId=client_id)["ManagedLoginBranding"] == updated["ManagedLoginBranding"]
        cognito.delete_managed_login_branding(UserPoolId=pool, ManagedLoginBrandingId=branding_id)
        refused(server, cognito.describe_managed_login_branding, "ResourceNotFoundException",
                f"Managed login branding {branding_id} does not exist.",
                UserPoolId=pool, ManagedLoginBrandingId=branding_id)


def test_the_login_page_carries_the_customization():
    with serving() as server:
        c = server.client
        pool = c.create_user_pool(PoolName="pages")["UserPool"]["Id"]
        c.create_user_pool_domain(UserPoolId=pool, Domain="brandpages")
        client_id = c.create_user_pool_client(
            UserPoolId=pool, ClientName="spa", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK])["UserPoolClient"]["ClientId"]
        base = f"{server.url}/domains/brandpages"
        login = f"{base}/login?" + urlencode({"client_id": client_id, "redirect_uri": CALLBACK,
                                               "response_type": "code", "scope": "openid"})
        plain = httpx.get(login, timeout=10).text
        assert 'class="submitButton-customizable"' in plain and "login/branding" not in plain

        c.set_ui_customization(UserPoolId=pool, CSS=CSS, ImageFile=PNG)
        page = httpx.get(login, timeout=10)
        assert page.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
        sheet = re.search(r'<link rel="stylesheet" href="([^"]+/login/branding/ALL/style\.css\?v=\d+)">', page.text)
        logo = re.search(r'<img class="logo-customizable" id="logo" src="([^"]+/login/branding/ALL/logo\?v=\d+)"',
                         page.text)
        assert sheet and logo and sheet.group(1).startswith(base) and logo.group(1).startswith(base)
        css = httpx.get(sheet.group(1), timeout=10)
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert "html .submitButton-customizable { background-color: #ff6600; }" in css.text
        image = httpx.get(logo.group(1), timeout=10)
        assert (image.status_code, image.headers["content-type"], image.content) == (200, "image/png", PNG)
        assert image.headers["x-content-type-options"] == "nosniff"

        # a client of its own overrides the pool's; what it lacks (a logo) is not shown
        c.set_ui_customization(UserPoolId=pool, ClientId=client_id, CSS=".label-customizable{font-weight:100}")
        page = httpx.get(login, timeout=10).text
        assert f"/login/branding/{client_id}/style.css" in page and "logo-customizable" not in page
        assert httpx.get(f"{base}/login/branding/{client_id}/logo", timeout=10).status_code == 404
        assert httpx.get(f"{base}/login/branding/nosuch/style.css", timeout=10).status_code == 404
        assert httpx.get(f"{server.url}/domains/nodomain/login/branding/ALL/style.css", timeout=10).status_code == 404
