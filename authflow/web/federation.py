"""The return from a federated identity provider: `GET /oauth2/idpresponse` of a pool's
domain (at `/domains/<domain>/oauth2/idpresponse`, or at the domain's own host).

Theory of operation: thin. The query (`code`, `state`, or the provider's `error`) goes to
`authflow.service.federation.finish` in a worker thread (it calls the provider over HTTP
and the engine is synchronous); its answer is where the browser goes next, sent as a 302
that nothing caches. The redirect upstream is made by the hosted authorize route
(`authflow.web.hosted`) through `redirect_upstream`, which also gives the browser a
binding cookie (HttpOnly, SameSite=Lax so that the provider's top-level redirect back
carries it, Path the domain's base): a return from any other browser is refused.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authflow.core import federation as core
from authflow.core.oauth import AuthorizeRequest
from authflow.service import federation, oauth
from authflow.web.app import base_of
from authflow.web.security import clear_cookie, set_cookie

log = logging.getLogger("authflow.federation")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: The browser binding of a federated sign-in in progress (its SHA-256 waits with the request).
BINDING_COOKIE = "authflow-idp-binding"


def _path_of(base: str) -> str:
    return urlparse(base).path or "/"


def _redirect(location: str) -> Response:
    return RedirectResponse(location, status_code=302, headers=NO_STORE)


def redirect_upstream(ctx, request: Request, authorize: AuthorizeRequest, provider: str | None, *,
                      base: str | None = None) -> Response:
    """The response of /oauth2/authorize for a request naming a federated provider
    (`provider`: the identity_provider, or None to choose by `idp_identifier`). It blocks
    (it may fetch the provider's discovery document): call it off the event loop, as the
    hosted pages run their views."""
    base = base or base_of(request, authorize.domain, ctx.public_url)
    binding = base64.urlsafe_b64encode(ctx.engine.entropy.random_bytes(32)).rstrip(b"=").decode("ascii")
    location = federation.start(ctx.engine, authorize, provider, base=base, binding=binding)
    response = _redirect(location)
    set_cookie(response, request, BINDING_COOKIE, binding, path=_path_of(base),
               max_age=int(core.PENDING_LIFETIME.total_seconds()))
    return response


def routes(ctx) -> list[BaseRoute]:
    async def idpresponse(request: Request) -> Response:
        domain = request.path_params["domain"]
        base = base_of(request, domain, ctx.public_url)
        params = dict(request.query_params)
        binding = request.cookies.get(BINDING_COOKIE)
        try:
            location = await run_in_threadpool(federation.finish, ctx.engine, domain, params, base=base,
                                               binding=binding)
        except Exception:  # finish turns failures into redirects; this is the last guard
            log.exception("internal error at /oauth2/idpresponse")
            location = oauth.error_page(base, "server_error", None)
        response = _redirect(location)
        if binding is not None:
            clear_cookie(response, request, BINDING_COOKIE, path=_path_of(base))
        return response

    return [Route("/domains/{domain}/oauth2/idpresponse", idpresponse, methods=["GET"])]
