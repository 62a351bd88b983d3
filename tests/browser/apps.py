"""Test apps the browser tests sign in from: a tiny static web server on its own loopback
port (another origin than `authflow serve`'s, so the token endpoint's CORS is exercised),
and the single-page app that uses oidc-client-ts (npm, `tests/js/node_modules`) to do the
authorization code flow with PKCE against the hosted pages.

The app page loads the library's browser bundle and `app.js` (no inline script, so it
would pass a strict CSP too); `settings.js` holds the UserManager settings, written per
test. `index.html` has a "Sign in" button (`signinRedirect`); `callback.html` runs
`signinRedirectCallback` and shows the profile as JSON in `#profile`, then sets
`body[data-state]` to `signed-in` (or `error`, with the message).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.external import need

OIDC_BUNDLE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "oidc-client-ts" / "dist" / "browser" / \
    "oidc-client-ts.min.js"

APP_JS = """
"use strict";
const manager = new oidc.UserManager(window.AUTHFLOW_SETTINGS);
function show(state, text) {
  document.getElementById("profile").textContent = text;
  document.body.dataset.state = state;
}
if (location.pathname.endsWith("/callback.html")) {
  manager.signinRedirectCallback().then(
    (user) => show("signed-in", JSON.stringify({profile: user.profile, scope: user.scope,
                                                  has_refresh_token: Boolean(user.refresh_token)})),
    (err) => show("error", "ERROR " + err.message));
} else {
  document.getElementById("sign-in").addEventListener("click", () => manager.signinRedirect());
  document.body.dataset.state = "ready";
}
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script src="/oidc-client-ts.min.js"></script><script src="/settings.js"></script><script src="/app.js" defer></script>
</head><body><h1>{title}</h1><button id="sign-in" type="button">Sign in</button><pre id="profile"></pre></body></html>
"""


class _Files(BaseHTTPRequestHandler):
    files: Mapping[str, tuple[bytes, str]] = {}

    def do_GET(self):  # noqa: N802 -- http.server's name
        found = self.files.get(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(404)
            return
        body, kind = found
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@contextmanager
def static_site(files: Mapping[str, tuple[bytes, str]]) -> Iterator[str]:
    """Serve `files` ({path: (body, content type)}) on a free loopback port; yields the base URL."""
    handler = type("Files", (_Files,), {"files": files})  # the same dict: files added later are served
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def oidc_client_app(settings_for) -> Iterator[str]:
    """The oidc-client-ts app; `settings_for(app_base)` gives its UserManager settings
    (the redirect URI is on the app's own origin, known once the port is). Yields the base URL."""
    need(OIDC_BUNDLE.exists(), f"oidc-client-ts is not installed ({OIDC_BUNDLE}; npm ci --prefix tests/js)")
    files: dict[str, tuple[bytes, str]] = {
        "/oidc-client-ts.min.js": (OIDC_BUNDLE.read_bytes(), "text/javascript"),
        "/app.js": (APP_JS.encode(), "text/javascript"),
        "/index.html": (PAGE.format(title="Test app").encode(), "text/html; charset=utf-8"),
        "/callback.html": (PAGE.format(title="Test app callback").encode(), "text/html; charset=utf-8"),
    }
    with static_site(files) as base:
        settings = settings_for(base)
        files["/settings.js"] = (f"window.AUTHFLOW_SETTINGS = {json.dumps(settings)};".encode(), "text/javascript")
        yield base


class Recorder:
    """What reached an app's callback: every URL, in order (path and query)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.urls: list[str] = []

    def query(self) -> dict[str, list[str]]:
        from urllib.parse import parse_qs, urlparse

        assert self.urls, "the browser never reached the app"
        return parse_qs(urlparse(self.urls[-1]).query)


@contextmanager
def recording_app() -> Iterator[Recorder]:
    """An app on a loopback port (an `http://127.0.0.1:<port>` callback, as Cognito allows
    for loopback) that answers every GET with a small page and records its URL. Real
    requests, not routes inside the browser: a redirect straight from /oauth2/authorize to
    the callback is then followed as any browser follows it."""
    holder: list[Recorder] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- http.server's name
            if self.path == "/favicon.ico":  # the browser's own request, not the sign-in's
                self.send_error(404)
                return
            holder[0].urls.append(holder[0].base + self.path)
            body = b"<!doctype html><title>app</title><p id=app>back in the app</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Recorder(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
