"""The endpoint steps: a pool's OAuth 2.0 endpoints reached as a client reaches them.

Theory of operation: no hook and no knowledge of where a target keeps its domains. The
runner asks the target where the pool's OpenID discovery document is (`discovery_url`:
`<issuer host>/<poolId>/.well-known/openid-configuration`), reads the endpoint it needs
from it (`token_endpoint`, `userinfo_endpoint`, `revocation_endpoint`,
`authorization_endpoint`) and sends the request a client would: a form POST with HTTP
Basic or body client authentication, a Bearer token, a browser's GET of the authorize
URL (`authflow.conformance.browser`). A document that names the endpoint is kept for the
rest of the scenario; one without (the pool had no domain yet) is asked again next time.

`perform` gives the answer as an `Exchange`: the status, the headers by lower-case name,
and the mapping a scenario's `expect:` and `capture:` read, the JSON body for the JSON
endpoints, or the redirect (`browser.redirect_view`: status, location, to, query,
fragment) for `authorize` and `browser_sign_in`. Whether that is what the scenario
expected is the runner's to judge.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit

from authflow.conformance import browser
from authflow.conformance.scenarios import ScenarioError

#: The status each step expects unless it says `status:`.
DEFAULT_STATUS = {"discovery": 200, "oauth_token": 200, "userinfo": 200, "revoke": 200,
                  "authorize": 302, "browser_sign_in": 302}
#: The discovery member naming each step's endpoint.
ENDPOINT_MEMBER = {"oauth_token": "token_endpoint", "userinfo": "userinfo_endpoint",
                   "revoke": "revocation_endpoint", "authorize": "authorization_endpoint",
                   "browser_sign_in": "authorization_endpoint"}
AUTHORIZE_PATH = "/oauth2/authorize"


class EndpointProblem(Exception):
    """The target did not let the step reach its endpoint (no document, no such member)."""

    def __init__(self, problem: str, seen: str = "") -> None:
        super().__init__(problem)
        self.problem, self.seen = problem, seen


@dataclass(frozen=True)
class Exchange:
    status: int
    headers: dict[str, str]
    view: dict[str, Any] | None  # None: the body was not a JSON object
    shown: str  # the answer, for a report


@dataclass
class Endpoints:
    """One scenario's view of the target's endpoints (the discovery documents it read)."""

    target: Any
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def perform(self, kind: str, spec: dict[str, Any]) -> Exchange:
        pool = str(spec.get("pool") or "")
        if not pool:
            raise ScenarioError(f"{kind} needs the pool: pool: \"${{pool_id}}\"")
        if kind == "discovery":
            url = self.target.discovery_url(pool)
            return _json_exchange(url, self.target.web("GET", url, {"Accept": "application/json"}, None))
        url = self.endpoint(pool, ENDPOINT_MEMBER[kind])
        if kind in ("oauth_token", "revoke"):
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
            headers.update(_authorization(spec, basic=True))
            body = urlencode({k: _text(v) for k, v in (spec.get("form") or {}).items()}).encode()
            return _json_exchange(url, self.target.web("POST", url, headers, body))
        if kind == "userinfo":
            method = str(spec.get("method") or "GET").upper()
            headers = {"Accept": "application/json", **_authorization(spec, basic=False)}
            return _json_exchange(url, self.target.web(method, url, headers, b"" if method == "POST" else None))
        authorize_url = f"{url}?{urlencode({k: _text(v) for k, v in (spec.get('query') or {}).items()})}"
        if kind == "authorize":
            answer = self.target.web("GET", authorize_url, {"Accept": "text/html"}, None)
        else:
            for name in ("username", "password"):
                if name not in spec:
                    raise ScenarioError(f"browser_sign_in needs {name}")
            answer = browser.sign_in(self.target.web, domain_base(url), authorize_url,
                                     _text(spec["username"]), _text(spec["password"]))
        view = browser.redirect_view(answer, authorize_url)
        return Exchange(answer.status, answer.header_map(), view, _show({**view, "body": _excerpt(answer)}))

    def document(self, pool: str) -> dict[str, Any]:
        if pool in self.documents:
            return self.documents[pool]
        url = self.target.discovery_url(pool)
        answer = self.target.web("GET", url, {"Accept": "application/json"}, None)
        document = _json_body(answer)
        if answer.status != 200 or document is None:
            raise EndpointProblem(f"the discovery document {url} answered HTTP {answer.status}", _excerpt(answer))
        if document.get("token_endpoint"):  # else the pool has no domain yet: ask again later
            self.documents[pool] = document
        return document

    def endpoint(self, pool: str, member: str) -> str:
        value = self.document(pool).get(member)
        if not isinstance(value, str) or not value:
            raise EndpointProblem(f"the discovery document of {pool} names no {member} (has the pool a domain?)",
                                  _show(self.document(pool)))
        return value


def domain_base(authorization_endpoint: str) -> str:
    """The domain's base URL: the authorization endpoint without /oauth2/authorize (or
    its origin, for a document that puts the endpoint elsewhere)."""
    if authorization_endpoint.endswith(AUTHORIZE_PATH):
        return authorization_endpoint[: -len(AUTHORIZE_PATH)]
    parts = urlsplit(authorization_endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def basic_credentials(client_id: str, secret: str) -> str:
    """`Authorization: Basic` of RFC 6749 §2.3.1: both parts form-urlencoded, then joined."""
    joined = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(joined.encode()).decode()


def _authorization(spec: dict[str, Any], *, basic: bool) -> dict[str, str]:
    if "authorization" in spec:  # sent as written: a malformed header, another scheme
        return {"Authorization": _text(spec["authorization"])}
    if basic and spec.get("basic") is not None:
        pair = spec["basic"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise ScenarioError("basic is [CLIENT_ID, CLIENT_SECRET]")
        return {"Authorization": basic_credentials(_text(pair[0]), _text(pair[1]))}
    if not basic and spec.get("token") is not None:
        return {"Authorization": f"Bearer {_text(spec['token'])}"}
    return {}


def _json_body(answer: browser.WebAnswer) -> dict[str, Any] | None:
    try:
        body = json.loads(answer.body) if answer.body.strip() else {}
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _json_exchange(url: str, answer: browser.WebAnswer) -> Exchange:
    view = _json_body(answer)
    shown = {"status": answer.status, "body": view if view is not None else _excerpt(answer)}
    return Exchange(answer.status, answer.header_map(), view, _show(shown))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _excerpt(answer: browser.WebAnswer) -> str:
    text = " ".join(answer.text().split())
    return text if len(text) <= 300 else text[:297] + "..."


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 800 else text[:797] + "..."
