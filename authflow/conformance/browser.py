"""What a browser without JavaScript does at a pool's domain, for the endpoint steps.

Theory of operation: the runner never follows a redirect blindly. A browser that opens
`/oauth2/authorize` is sent on within the domain (to `/login`, maybe to further pages) and
finally back to the app's redirect URI; the app is never called here, its Location is
the result. So `walk` follows a redirect only while it stays under the domain's base URL
(the authorization endpoint minus `/oauth2/authorize`), keeps the cookies the domain
sets (`CookieJar`, by path, as a browser does for one host), and stops at the first
response that leaves the domain or is not a redirect. A sign-in page is read as a
browser reads it (`forms`): the form holding a password field, its action resolved
against the page, its hidden fields (the CSRF token among them) and its named submit
button sent back with `username` and `password` filled in, as Cognito's classic hosted
UI names them (reference oauth2-hosted-login.md §5.2).

`redirect_view` turns a redirect into the mapping scenarios match: `status`,
`location`, `to` (the Location without query and fragment), `query` and `fragment`
(their parameters, decoded).

Everything here goes through one callable, `fetch(method, url, headers, body) ->
WebAnswer`, that each target supplies (HTTP for an endpoint, the ASGI app in process), so
this module knows nothing of where the service runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

#: Most redirects a walk follows within the domain before it calls the domain a loop.
MAX_HOPS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class WebAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]  # as sent, names in any case, repeated names kept
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def header_map(self) -> dict[str, str]:
        """The headers by lower-case name (repeated ones joined by ", ", Set-Cookie aside)."""
        out: dict[str, str] = {}
        for key, value in self.headers:
            name = key.lower()
            out[name] = f"{out[name]}, {value}" if name in out else value
        return out

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


Fetch = Callable[[str, str, dict[str, str], bytes | None], WebAnswer]


class BrowserProblem(Exception):
    """The domain did not behave as a browser needs it to (no form, no CSRF token, a
    redirect loop, ...): a divergence of the target, with what was seen."""

    def __init__(self, problem: str, seen: str = "") -> None:
        super().__init__(problem)
        self.problem, self.seen = problem, seen


# -- cookies -----------------------------------------------------------------------------------


@dataclass
class CookieJar:
    """The cookies of one host, by name and path (enough for one domain's pages)."""

    cookies: dict[tuple[str, str], str] = field(default_factory=dict)

    def take(self, answer: WebAnswer, url: str) -> None:
        default_path = urlsplit(url).path.rsplit("/", 1)[0] or "/"
        for key, value in answer.headers:
            if key.lower() != "set-cookie":
                continue
            parsed = SimpleCookie()
            try:
                parsed.load(value)
            except CookieError:
                continue
            for name, morsel in parsed.items():
                path = morsel["path"] or default_path
                expired = morsel["max-age"] not in ("", None) and str(morsel["max-age"]).lstrip("-").isdigit() \
                    and int(morsel["max-age"]) <= 0
                if expired:
                    self.cookies.pop((name, path), None)
                else:
                    self.cookies[(name, path)] = morsel.value

    def header(self, url: str) -> str | None:
        path = urlsplit(url).path or "/"
        sent = [f"{name}={value}" for (name, where), value in sorted(self.cookies.items(),
                                                                     key=lambda item: -len(item[0][1]))
                if path == where or path.startswith(where.rstrip("/") + "/")]
        return "; ".join(sent) or None


# -- forms -------------------------------------------------------------------------------------


@dataclass
class Form:
    action: str | None
    method: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, value)
    submits: list[tuple[str, str]] = field(default_factory=list)  # named submit buttons: (name, value)

    def has(self, kind: str) -> bool:
        return any(t == kind for t, _, _ in self.fields)

    def hidden(self) -> list[tuple[str, str]]:
        return [(name, value) for t, name, value in self.fields if t == "hidden"]


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._open = Form(action=a.get("action"), method=(a.get("method") or "GET").upper())
            self.forms.append(self._open)
        elif self._open is not None and tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "image"):
                self._open.submits.append((a["name"], a.get("value", "")))
            elif kind not in ("checkbox", "radio") or "checked" in a:
                self._open.fields.append((kind, a["name"], a.get("value", "")))
        elif self._open is not None and tag == "button" and a.get("name") and \
                (a.get("type") or "submit").lower() == "submit":
            self._open.submits.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def forms(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    parser.close()
    return parser.forms


def is_csrf_field(name: str) -> bool:
    return "csrf" in name.lower()


def sign_in_form(html: str) -> Form:
    """The page's sign-in form: the first that has a password field (the classic hosted UI
    renders the same form twice, for two screen sizes). It must carry a CSRF token."""
    found = [f for f in forms(html) if f.has("password")]
    if not found:
        raise BrowserProblem("the page has no sign-in form (no form with a password field)", _excerpt(html))
    form = found[0]
    if not any(is_csrf_field(name) for name, _ in form.hidden()):
        raise BrowserProblem("the sign-in form carries no CSRF token (no hidden field named like _csrf)",
                             _excerpt(html))
    if form.method != "POST":
        raise BrowserProblem(f"the sign-in form is sent by {form.method}, not POST: a password in a URL",
                             _excerpt(html))
    return form


def filled(form: Form, values: dict[str, str]) -> bytes:
    """The urlencoded body a browser sends for `form` with `values` typed in: its fields
    in document order, then its first named submit button."""
    pairs = [(name, values.get(name, value)) for _, name, value in form.fields]
    missing = [name for name in values if name not in {n for _, n, _ in form.fields}]
    if missing:
        raise BrowserProblem(f"the sign-in form has no field named {', '.join(missing)}")
    pairs.extend(form.submits[:1])
    return urlencode(pairs).encode()


# -- walking -----------------------------------------------------------------------------------


def under(url: str, base: str) -> bool:
    """Whether `url` is one of the domain's pages (below `base`, same scheme and host)."""
    u, b = urlsplit(url), urlsplit(base)
    return (u.scheme, u.netloc.lower()) == (b.scheme, b.netloc.lower()) and \
        (u.path == b.path or u.path.startswith(b.path.rstrip("/") + "/"))


def walk(fetch: Fetch, jar: CookieJar, base: str, method: str, url: str,
         body: bytes | None = None) -> tuple[str, WebAnswer]:
    """Send the request, then follow redirects while they stay under `base`: the last URL
    asked and its answer (a redirect away from the domain, or a page)."""
    for _ in range(MAX_HOPS):
        headers = {"Accept": "text/html"}
        cookie = jar.header(url)
        if cookie:
            headers["Cookie"] = cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        answer = fetch(method, url, headers, body)
        jar.take(answer, url)
        location = answer.header("location")
        if answer.status not in REDIRECTS or not location:
            return url, answer
        target = urljoin(url, location)
        if not under(target, base):
            return url, answer
        # A browser turns a POST into a GET on 301-303 and keeps it on 307/308.
        if answer.status in (301, 302, 303):
            method, body = "GET", None
        url = target
    raise BrowserProblem(f"more than {MAX_HOPS} redirects within the domain", url)


def sign_in(fetch: Fetch, base: str, authorize_url: str, username: str, password: str) -> WebAnswer:
    """Open the authorize URL, fill in the sign-in page, submit it: the answer that sends
    the browser away from the domain (back to the app)."""
    jar = CookieJar()
    url, answer = walk(fetch, jar, base, "GET", authorize_url)
    if answer.status in REDIRECTS:
        return answer  # refused, or a live session: straight back to the app
    if answer.status != 200:
        raise BrowserProblem(f"the authorize URL led to HTTP {answer.status}, not a sign-in page", _excerpt(answer.text()))
    form = sign_in_form(answer.text())
    action = urljoin(url, form.action) if form.action else url
    if not under(action, base):
        raise BrowserProblem(f"the sign-in form posts away from the domain, to {action}")
    url, answer = walk(fetch, jar, base, "POST", action, filled(form, {"username": username, "password": password}))
    if answer.status not in REDIRECTS:
        raise BrowserProblem(f"signing in did not send the browser back to the app (HTTP {answer.status} at {url})",
                             _excerpt(answer.text()))
    return answer


def redirect_view(answer: WebAnswer, url: str) -> dict[str, Any]:
    """A response as scenarios match it: status, location, to, query, fragment."""
    location = answer.header("location")
    view: dict[str, Any] = {"status": answer.status}
    if location:
        full = urljoin(url, location)
        parts = urlsplit(full)
        view.update(location=full, to=f"{parts.scheme}://{parts.netloc}{parts.path}",
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    fragment=dict(parse_qsl(parts.fragment, keep_blank_values=True)))
    return view


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."
