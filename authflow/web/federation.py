"""The return from a federated identity provider: `GET /oauth2/idpresponse` of a pool's
domain (at `/domains/<domain>/oauth2/idpresponse`, or at the domain's own host).

Theory of operation: thin. The query (`code`, `state`, or the provider's `error`) goes to
`authflow.service.federation.finish` in a worker thread (it calls the provider over HTTP
and the engine is synchronous); its answer is where the browser goes next, sent as a 302
that nothing caches. The redirect upstream is made by the hosted authorize route
(`authflow.web.hosted`) through `redirect_upstream`.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authflow.core.oauth import AuthorizeRequest
from authflow.service import federation, oauth
from authflow.web.app import base_of

log = logging.getLogger("authflow.federation")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _redirect(location: str) -> Response:
    return RedirectResponse(location, status_code=302, headers=NO_STORE)


async def redirect_upstream(ctx, request: Request, authorize: AuthorizeRequest, provider: str | None) -> Response:
    """The response of /oauth2/authorize for a request naming a federated provider
    (`provider`: the identity_provider, or None to choose by `idp_identifier`)."""
    base = base_of(request, authorize.domain, ctx.public_url)
    location = await run_in_threadpool(federation.start, ctx.engine, authorize, provider, base=base)
    return _redirect(location)


def routes(ctx) -> list[BaseRoute]:
    async def idpresponse(request: Request) -> Response:
        domain = request.path_params["domain"]
        base = base_of(request, domain, ctx.public_url)
        params = dict(request.query_params)
        try:
            location = await run_in_threadpool(federation.finish, ctx.engine, domain, params, base=base)
        except Exception:  # finish turns failures into redirects; this is the last guard
            log.exception("internal error at /oauth2/idpresponse")
            location = oauth.error_page(base, "server_error", None)
        return _redirect(location)

    return [Route("/domains/{domain}/oauth2/idpresponse", idpresponse, methods=["GET"])]
