"""The OAuth 2.0 back channel of a pool's domain: `POST /oauth2/token`, `GET|POST
/oauth2/userInfo`, `POST /oauth2/revoke` (at `/domains/<domain>/...`, or at the domain's own
host through `authflow.web.app.DomainHosts`).

Theory of operation: thin. Each route reads the form body with `read_form`'s size limit,
hands it to `authflow.service.oauth` in a worker thread (the engine is synchronous), and
turns the answer or the `OAuthError` into JSON with the status of the reference (§5.3,
§5.5, §5.6). The token endpoint answers `Access-Control-Allow-Origin: *` (and an OPTIONS
preflight), as Cognito's does, so that browser PKCE clients can call it; nothing it
answers is cached. An unknown domain is a 404.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from authflow.core.oauth import OAuthError
from authflow.service import oauth
from authflow.service.tokens import USERINFO_REFUSED
from authflow.web.security import read_form

log = logging.getLogger("authflow.oauth")

JSON_TYPE = "application/json;charset=UTF-8"
CORS = {"Access-Control-Allow-Origin": "*"}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
USERINFO_CACHE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "3600",
}


def _json(body, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers, media_type=JSON_TYPE)


def _error(err: OAuthError, headers: dict[str, str]) -> Response:
    return _json(err.body(), err.status, headers)


def _unknown_domain(headers: dict[str, str]) -> Response:
    return _json({"error": "invalid_request", "error_description": "no such domain"}, 404, headers)


async def _call(fn, *args):
    """Run a service call in a thread; anything unexpected becomes server_error (logged)."""
    try:
        return await run_in_threadpool(fn, *args)
    except OAuthError:
        raise
    except Exception:
        log.exception("internal error at an OAuth endpoint")
        raise OAuthError("server_error", status=500) from None


def routes(ctx) -> list[BaseRoute]:
    engine = ctx.engine

    async def known(domain: str) -> bool:
        return await run_in_threadpool(oauth.resolve_domain, engine, domain) is not None

    async def form_call(request: Request, grant, headers: dict):
        """What the token and revoke endpoints share: the domain must exist, the body must be a
        form, and `grant(engine, domain, form, authorization)` answers; a refusal is the OAuth
        error response (with `headers`), a success whatever `grant` returned."""
        domain = request.path_params["domain"]
        if not await known(domain):
            return _unknown_domain(headers)
        form = await read_form(request)
        if form is None:
            return _error(OAuthError("invalid_request", "the body must be an urlencoded form"), headers)
        try:
            return await _call(grant, engine, domain, form, request.headers.get("authorization"))
        except OAuthError as err:
            return _error(err, headers)

    async def token(request: Request) -> Response:
        headers = {**CORS, **NO_STORE}
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT)
        answer = await form_call(request, oauth.token, headers)
        return answer if isinstance(answer, Response) else _json(answer, 200, headers)

    async def userinfo(request: Request) -> Response:
        headers = dict(USERINFO_CACHE)
        domain = request.path_params["domain"]
        if not await known(domain):
            return _unknown_domain(headers)
        scheme, _, access_token = (request.headers.get("authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not access_token.strip():
            headers["WWW-Authenticate"] = 'error="invalid_request", error_description="Bad OAuth2 request at UserInfo Endpoint"'
            return _json({"error": "invalid_request"}, 400, headers)
        try:
            claims = await _call(oauth.userinfo, engine, domain, access_token.strip())
        except OAuthError as err:
            if err.status == 401:
                headers["WWW-Authenticate"] = f'error="invalid_token", error_description="{USERINFO_REFUSED}"'
            return _json({"error": err.error, "error_description": USERINFO_REFUSED if err.status == 401
                          else (err.description or err.error)}, err.status, headers)
        return _json(claims, 200, headers)

    async def revoke(request: Request) -> Response:
        headers = dict(NO_STORE)
        answer = await form_call(request, oauth.revoke, headers)
        return answer if isinstance(answer, Response) else Response(status_code=200, headers=headers)

    return [
        Route("/domains/{domain}/oauth2/token", token, methods=["POST", "OPTIONS"]),
        Route("/domains/{domain}/oauth2/userInfo", userinfo, methods=["GET", "POST"]),
        Route("/domains/{domain}/oauth2/revoke", revoke, methods=["POST"]),
    ]
