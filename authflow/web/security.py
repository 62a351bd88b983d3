"""What every page shares for safety: headers, cookies, CSRF tokens, signed values.

Theory of operation:

* Headers: `SECURITY_HEADERS` on every page (no inline script or style is ever served, so
  the policy allows only this origin's stylesheet; frames are refused; nothing is cached).
  `form-action` is left out on purpose: the sign-in form's answer is a redirect to the
  app's registered callback, which a `form-action 'self'` policy would block.
  The two pages that use passkeys (the login page of a pool that allows WEB_AUTHN, and
  /passkeys/add) are the one exception: `SCRIPT_CSP` lets them load scripts from this
  origin and call back to it (`script-src 'self'; connect-src 'self'`); still no inline
  script, no eval, no other origin.
* CSRF: the double-submit pattern. A random token lives in the `authflow-csrf` cookie
  (HttpOnly, SameSite=Lax) and in a hidden `_csrf` field of every form; a POST is accepted
  only when both are present and equal (compared in constant time). Another site can make
  the browser send the cookie but can neither read it nor set the field.
* Signed values (session cookies): `payload.mac`, the payload base64url JSON with its
  expiry (`exp`, epoch seconds), the MAC HMAC-SHA256 under a key derived from the
  server's key-encryption key for one purpose (`derived_key`), so a value signed for the
  hosted pages of one pool is worthless for another pool or for the console.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

CSRF_COOKIE = "authflow-csrf"
CSRF_FIELD = "_csrf"
#: The most a page's form may send; a sign-in form is a few hundred bytes.
MAX_FORM_BYTES = 64 * 1024

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
#: The policy of the pages that run this origin's own script (WebAuthn needs the browser's
#: JavaScript API): everything above, plus scripts and fetches to this origin only.
SCRIPT_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def secure_request(request: Request) -> bool:
    """Whether the browser reached us over https (cookies are then `Secure`)."""
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, *, path: str = "/",
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="lax",
                        secure=secure_request(request))


def clear_cookie(response: Response, request: Request, name: str, *, path: str = "/") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="lax", secure=secure_request(request))


def csrf_token(request: Request) -> tuple[str, bool]:
    """The browser's CSRF token, and whether it is new (then the response must set the
    cookie: `remember_csrf`)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if 32 <= len(current) <= 64 and current.isascii() and current.replace("-", "").replace("_", "").isalnum():
        return current, False
    return secrets.token_urlsafe(32), True


def remember_csrf(response: Response, request: Request, token: str) -> None:
    set_cookie(response, request, CSRF_COOKIE, token)


def csrf_ok(request: Request, form: Mapping[str, str]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    field = form.get(CSRF_FIELD, "")
    return bool(cookie) and bool(field) and hmac.compare_digest(cookie.encode(), field.encode())


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form body as a dict (the first value of a repeated field), or None when
    it is too large or not a form. Read without python-multipart: pages post only
    `application/x-www-form-urlencoded`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", ""):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        return None
    form: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        form.setdefault(key, value)
    return form


def derived_key(kek: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose (e.g. `hosted-session:<poolId>`, `console-session`),
    derived from the server's key-encryption key with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"authflow-web:{purpose}".encode()).derive(kek)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_value(key: bytes, payload: Mapping[str, Any], *, expires: datetime) -> str:
    body = _b64(json.dumps({**payload, "exp": int(expires.timestamp())}, separators=(",", ":")).encode())
    mac = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def open_value(key: bytes, value: str | None, *, now: datetime) -> dict[str, Any] | None:
    """The payload of a value `sign_value` made with `key`, or None when it is absent,
    forged, damaged or expired."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        return None
    if payload["exp"] <= now.timestamp():
        return None
    return payload
