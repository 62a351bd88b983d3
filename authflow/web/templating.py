"""Rendering pages: one Jinja2 environment (autoescape on for every template), and the
response every page is sent in (security headers, the CSRF cookie when it is new)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from authflow.web.security import SECURITY_HEADERS, csrf_token, remember_csrf

#: Where the shared stylesheet is served (same origin, so the CSP's `style-src 'self'` allows it).
STYLESHEET_PATH = "/_authflow/style.css"


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("authflow.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(request: Request, template: str, context: Mapping[str, Any], *, status: int = 200,
         headers: Mapping[str, str] | None = None) -> Response:
    """The rendered page. Templates get `csrf` (the token for their forms' `_csrf` field)
    and `stylesheet`, besides `context`."""
    token, new = csrf_token(request)
    html = environment().get_template(template).render(
        {"csrf": token, "stylesheet": STYLESHEET_PATH, **context}
    )
    response = HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
    if new:
        remember_csrf(response, request, token)
    return response


def stylesheet(request: Request) -> Response:
    from importlib.resources import files

    css = files("authflow.web").joinpath("static/style.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600",
                                                         "X-Content-Type-Options": "nosniff"})
