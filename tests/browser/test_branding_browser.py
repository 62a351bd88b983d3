"""The UI customization in a real browser (Playwright driving Debian's chromium against
`authflow serve`'s app): after SetUICustomization the login page's submit button, labels and
card take the customization's colours and weights (computed styles), the logo image loads
(decoded, its natural size), the forgot-password page carries the same, nothing is blocked
by the pages' Content-Security-Policy, and a client's own customization replaces the pool's.
Screenshots: hosted-branding-login, hosted-branding-client."""

from __future__ import annotations

import struct
import zlib
from urllib.parse import urlencode

import pytest

from tests.browser.conftest import screenshot
from tests.http import serving

DOMAIN = "brandbrowser"
CALLBACK = "https://app.example.com/cb"
CSS = """
.background-customizable { background-color: #fff7e6; }
.banner-customizable { padding: 10px 0px 10px 0px; background-color: #1d2433; }
.submitButton-customizable { background-color: #ff6600; color: #000000; width: 100%; }
.submitButton-customizable:hover { background-color: #cc5200; }
.label-customizable { font-weight: 300; }
.inputField-customizable { background-color: #fffbe0; }
.logo-customizable { max-width: 60%; max-height: 30%; }
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG (the browser must decode it): one colour, 8-bit RGB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def site():
    with serving(issuer_style="local") as server:
        c = server.client
        pool = c.create_user_pool(PoolName="Branded")["UserPool"]["Id"]
        c.create_user_pool_domain(UserPoolId=pool, Domain=DOMAIN)
        client_id = c.create_user_pool_client(
            UserPoolId=pool, ClientName="web", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK])["UserPoolClient"]["ClientId"]
        query = urlencode({"client_id": client_id, "redirect_uri": CALLBACK, "response_type": "code",
                           "scope": "openid"})
        yield server, pool, client_id, f"{server.url}/domains/{DOMAIN}/login?{query}"


def style(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"e => getComputedStyle(e).getPropertyValue({prop!r})")


def watch_csp(page) -> list[str]:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    return blocked


def test_the_login_page_shows_the_pools_customization(site, context):
    server, pool, client_id, login = site
    logo = png(120, 40, (0, 160, 80))
    server.client.set_ui_customization(UserPoolId=pool, ClientId="ALL", CSS=CSS, ImageFile=logo)
    page = context.new_page()
    blocked = watch_csp(page)
    page.goto(login)
    submit = 'button[name="signInSubmitButton"]'
    assert style(page, submit, "background-color") == "rgb(255, 102, 0)"
    assert style(page, submit, "color") == "rgb(0, 0, 0)"
    assert style(page, 'label[for="signInFormUsername"]', "font-weight") == "300"
    assert style(page, "#signInFormUsername", "background-color") == "rgb(255, 251, 224)"
    assert style(page, "main", "background-color") == "rgb(255, 247, 230)"
    assert style(page, ".banner-customizable", "background-color") == "rgb(29, 36, 51)"
    page.wait_for_function("document.getElementById('logo').complete")
    assert page.eval_on_selector("#logo", "e => [e.naturalWidth, e.naturalHeight]") == [120, 40]
    assert style(page, ".banner-customizable", "text-align") == "center"  # the logo centred, as on Cognito
    page.hover(submit)
    page.wait_for_function(
        f"getComputedStyle(document.querySelector('{submit}')).backgroundColor === 'rgb(204, 82, 0)'")
    screenshot(page, "hosted-branding-login")

    page.click("text=Forgot your password?")
    page.wait_for_url("**/forgotPassword?**")
    assert style(page, 'button[type="submit"]', "background-color") == "rgb(255, 102, 0)"
    assert page.eval_on_selector("#logo", "e => e.naturalWidth") == 120
    assert blocked == []


def test_a_clients_own_customization_replaces_the_pools(site, context):
    server, pool, client_id, login = site
    server.client.set_ui_customization(UserPoolId=pool, CSS=CSS, ImageFile=png(50, 50, (255, 0, 0)))
    server.client.set_ui_customization(UserPoolId=pool, ClientId=client_id,
                                       CSS=".submitButton-customizable { background-color: rgb(0, 90, 200); }")
    page = context.new_page()
    blocked = watch_csp(page)
    page.goto(login)
    assert style(page, 'button[name="signInSubmitButton"]', "background-color") == "rgb(0, 90, 200)"
    assert page.query_selector("#logo") is None  # the client's customization has no logo
    assert style(page, 'label[for="signInFormUsername"]', "font-weight") != "300"
    screenshot(page, "hosted-branding-client")
    assert blocked == []
