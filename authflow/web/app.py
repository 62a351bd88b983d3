"""How the pages join `authflow serve`'s app: the routes of each page family, and where a
pool's domain is reached.

A domain (CreateUserPoolDomain) is reached two ways:

* by path, on any host: `<public_url>/domains/<domain>/oauth2/authorize`, `.../login`, ...
  (`domain_base`). This is what the discovery document lists, so OIDC clients need nothing
  but the server's URL.
* by host, as Cognito serves it: a request whose `Host` is the custom domain itself, or
  `<prefix>.auth.<region>.amazoncognito.com`, or `<prefix>.auth.localhost` (browsers
  resolve `*.localhost` to the loopback address), is served at the domain's own paths
  (`/oauth2/authorize`, `/login`, ...). `DomainHosts` rewrites such a request to the path
  form and records the base its links must use in `scope["authflow.base"]`.

Each page family exposes `routes(ctx) -> list[BaseRoute]`: `oauth_endpoints` (the OAuth 2.0
endpoints), `hosted` (the sign-in pages), `console` (the admin console).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Route

from authflow.web.templating import STYLESHEET_PATH, stylesheet

if TYPE_CHECKING:
    from authflow.client import Client
    from authflow.wire.protocol import Signing

#: The paths a domain serves (the first segment), as Cognito's domains do.
DOMAIN_PATHS = ("oauth2", "login", "logout", "signup", "confirmUser", "forgotPassword",
                "confirmforgotPassword", "error", "mfa", "newPassword", "saml2", "passkeys")
DOMAINS_PREFIX = "/domains"


@dataclass(frozen=True)
class WebContext:
    """What the page families need: the client (and its engine), where the server is
    reached, the request signing of the API (the console's credential), and the outbox
    of test services (None otherwise)."""

    client: Client
    public_url: str
    signing: Signing
    outbox: Any = None

    @property
    def engine(self):
        return self.client.engine


def domain_base(public_url: str, domain: str) -> str:
    """The path-form base URL of a domain's endpoints and pages."""
    return f"{public_url.rstrip('/')}{DOMAINS_PREFIX}/{domain}"


def base_of(request, domain: str, public_url: str) -> str:
    """The base URL the request reached the domain at (links and redirects use it)."""
    return request.scope.get("authflow.base") or domain_base(public_url, domain)


def routes(ctx: WebContext) -> list[BaseRoute]:
    from authflow.web import console, federation, hosted, oauth_endpoints, user_import

    return [
        Route(STYLESHEET_PATH, stylesheet, methods=["GET"]),
        *oauth_endpoints.routes(ctx),
        *hosted.routes(ctx),
        *federation.routes(ctx),
        *console.routes(ctx),
        *user_import.routes(ctx),
    ]


def domain_for_host(engine, host: str) -> str | None:
    """The domain a Host header names, if one of the pools holds it."""
    name = host.rsplit(":", 1)[0].strip().lower() if not host.startswith("[") else ""
    if not name:
        return None
    candidates = [name]
    for suffix in (f".auth.{engine.region}.amazoncognito.com", ".auth.localhost"):
        if name.endswith(suffix):
            candidates.insert(0, name[: -len(suffix)])
    with engine.store.transaction() as tx:
        for candidate in candidates:
            if candidate and tx.find_resource("domain", candidate) is not None:
                return candidate
    return None


class DomainHosts:
    """ASGI middleware: serve a domain's paths when the request's Host names the domain."""

    def __init__(self, app, engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            first = path.lstrip("/").split("/", 1)[0]
            if first in DOMAIN_PATHS:
                host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
                from starlette.concurrency import run_in_threadpool

                domain = await run_in_threadpool(domain_for_host, self.engine, host)
                if domain is not None:
                    scheme = scope.get("scheme", "http")
                    scope = dict(scope)
                    scope["authflow.base"] = f"{scheme}://{host}"
                    scope["path"] = f"{DOMAINS_PREFIX}/{domain}{path}"
                    scope["raw_path"] = scope["path"].encode("latin-1")
        await self.app(scope, receive, send)
