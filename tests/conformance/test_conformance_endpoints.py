"""The endpoint steps of the conformance runner (discovery, oauth_token, userinfo, revoke,
authorize, browser_sign_in) and what they stand on: `$pkce`, the browser's form reading and
cookies, the targets' `web`. Each test can fail: a wrong status, a missing member, a sign-in
form without its CSRF token, a redirect the runner must not follow."""

from __future__ import annotations

import base64
import hashlib
import re
import textwrap
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from authflow.conformance import (
    FAILED,
    PASSED,
    InProcessTarget,
    ScenarioError,
    load_suite,
    run_suite,
)
from authflow.conformance.browser import (
    BrowserProblem,
    CookieJar,
    WebAnswer,
    forms,
    redirect_view,
    sign_in,
)
from authflow.conformance.endpoints import basic_credentials, domain_base
from authflow.conformance.scenarios import scenarios_dir
from authflow.conformance.values import render
from tests.conftest import TEST_CONFIG

FIXTURES = (scenarios_dir() / "_fixtures.yaml").read_text(encoding="utf-8")

#: A pool with a domain and a confidential client_credentials client: pool_id, machine_id, machine_secret.
SETUP = """\
      - use: pool
      - call: CreateUserPoolDomain
        request: {UserPoolId: "${pool_id}", Domain: "cf-m-${run}"}
      - call: CreateResourceServer
        request: {UserPoolId: "${pool_id}", Identifier: api, Name: api, Scopes: [{ScopeName: read, ScopeDescription: r}]}
      - call: CreateUserPoolClient
        request:
          UserPoolId: "${pool_id}"
          ClientName: m
          GenerateSecret: true
          AllowedOAuthFlowsUserPoolClient: true
          AllowedOAuthFlows: [client_credentials]
          AllowedOAuthScopes: [api/read]
        capture: {machine_id: UserPoolClient.ClientId, machine_secret: UserPoolClient.ClientSecret}
"""


def suite_of(tmp_path: Path, steps: str, *, extra: str = ""):
    (tmp_path / "_fixtures.yaml").write_text(FIXTURES, encoding="utf-8")
    body = "area: area\n" + extra + "scenarios:\n  - name: one\n    doc: d\n    evidence: D\n    steps:\n" + \
        textwrap.indent(textwrap.dedent(steps), "      ")
    (tmp_path / "area.yaml").write_text(body, encoding="utf-8")
    return load_suite(tmp_path)


def run_steps(tmp_path: Path, steps: str, target=None):
    suite = suite_of(tmp_path, steps)
    target = target or InProcessTarget(TEST_CONFIG)
    [result] = run_suite(suite, suite.scenarios, target)
    return result, target


TOKEN = """\
- oauth_token:
    pool: "${pool_id}"
    form: {grant_type: client_credentials}
    basic: ["${machine_id}", "${machine_secret}"]
"""


def test_a_token_step_passes_and_its_pool_goes_with_its_domain(tmp_path):
    result, target = run_steps(tmp_path, textwrap.dedent(SETUP) + TOKEN + """\
  headers: {access-control-allow-origin: "*"}
  expect: {token_type: Bearer, access_token: {jwt: {scope: api/read}}}
  capture: {token: access_token}
""")
    assert result.status == PASSED, result
    # The pool had a domain, which keeps DeleteUserPool from working: the runner removed both.
    assert target.client.list_user_pools(MaxResults=60)["UserPools"] == []


@pytest.mark.parametrize(("outcome", "problem"), [
    ("status: 400", "status: expected 400, got 200"),
    ("expect: {refresh_token: {present: true}}", "refresh_token: expected to be present, but it is absent"),
    ("expect: {access_token: {jwt: {scope: api/write}}}", "access_token: claim scope: expected 'api/write', got 'api/read'"),
    ("headers: {Access-Control-Allow-Origin: https://app.example.com}",
     "header access-control-allow-origin: expected 'https://app.example.com', got '*'"),
    ("headers: {X-Not-There: {present: true}}", "header x-not-there: expected to be present, but it is absent"),
    ("capture: {x: no_such_member}", "capture x: no_such_member is absent"),
])
def test_a_token_answer_that_differs_fails_the_step_and_says_how(tmp_path, outcome, problem):
    result, target = run_steps(tmp_path, textwrap.dedent(SETUP) + TOKEN + f"  {outcome}\n")
    assert result.status == FAILED
    assert result.problems == [problem]
    assert result.step.endswith(" oauth_token")
    assert target.client.list_user_pools(MaxResults=60)["UserPools"] == []  # cleaned up all the same


def test_an_error_answer_is_matched_by_status_and_body(tmp_path):
    wrong = TOKEN.replace('"${machine_secret}"', "wrong")
    result, _ = run_steps(tmp_path, textwrap.dedent(SETUP) + wrong + "  status: 400\n  expect: {error: invalid_client}\n")
    assert result.status == PASSED, result
    result, _ = run_steps(tmp_path, textwrap.dedent(SETUP) + wrong)  # 200 expected by default
    assert result.status == FAILED and result.problems == ["status: expected 200, got 400"]
    assert '"error": "invalid_client"' in result.actual


def test_without_a_domain_the_discovery_document_names_no_endpoint_and_the_step_says_so(tmp_path):
    result, _ = run_steps(tmp_path, """\
- use: pool
- userinfo: {pool: "${pool_id}", token: x}
""")
    assert result.status == FAILED
    assert result.problems == [f"the discovery document of {result_pool(result)} names no userinfo_endpoint "
                               "(has the pool a domain?)"]


def result_pool(result) -> str:
    return re.search(r"us-east-1_\w+", result.problems[0]).group(0)


def test_discovery_of_an_unknown_pool_is_a_404_the_step_can_expect(tmp_path):
    result, _ = run_steps(tmp_path, """\
- discovery: {pool: us-east-1_nothere}
  status: 404
""")
    assert result.status == PASSED, result
    result, _ = run_steps(tmp_path, "- discovery: {pool: us-east-1_nothere}\n")
    assert result.status == FAILED and result.problems == ["status: expected 200, got 404"]


def test_userinfo_sends_the_bearer_token_and_authorization_overrides_it(tmp_path):
    result, _ = run_steps(tmp_path, textwrap.dedent(SETUP) + TOKEN + """\
  capture: {token: access_token}
- userinfo: {pool: "${pool_id}", token: "${token}", method: POST}
  status: 401
  headers: {www-authenticate: {pattern: '.*invalid_token.*'}}
- userinfo: {pool: "${pool_id}", authorization: "Basic eDp5"}
  status: 400
  headers: {www-authenticate: {pattern: '.*invalid_request.*'}}
""")
    assert result.status == PASSED, result


@pytest.mark.parametrize(("step", "message"), [
    ("- oauth_token: {form: {grant_type: client_credentials}}", "oauth_token needs pool"),
    ("- oauth_token: {pool: p, body: {}}", "unknown key(s) body"),
    ("- oauth_token: {pool: p, basic: [only-one]}", "basic is [CLIENT_ID, CLIENT_SECRET]"),
    ("- oauth_token: {pool: p, form: [a]}", "oauth_token's form must be a mapping"),
    ("- revoke: {pool: p}\n  status: ok", "status is an HTTP status code"),
    ("- userinfo: {pool: p}\n  headers: [a]", "headers must be a mapping"),
    ("- userinfo: {pool: p}\n  error: {code: x}", "unknown key(s) error"),
    ("- browser_sign_in: {pool: p, query: {}, username: alice}", "browser_sign_in needs username and password"),
    ("- authorize: {pool: p, query: x}", "authorize's query must be a mapping"),
])
def test_malformed_endpoint_steps_are_refused_on_loading(tmp_path, step, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        suite_of(tmp_path, step + "\n")


def test_an_area_may_hold_fixtures_but_not_redefine_another_files(tmp_path):
    mine = "fixtures:\n  mine:\n    doc: d\n    steps:\n      - use: pool\n"
    suite = suite_of(tmp_path, "- use: mine\n- discovery: {pool: \"${pool_id}\"}\n", extra=mine)
    assert "mine" in suite.fixtures
    [result] = run_suite(suite, suite.scenarios, InProcessTarget(TEST_CONFIG))
    assert result.status == PASSED, result
    clash = "fixtures:\n  pool:\n    doc: d\n    steps:\n      - clock: {advance: 1s}\n"
    with pytest.raises(ScenarioError, match="fixture 'pool' is defined in another file too"):
        suite_of(tmp_path, "- use: pool\n", extra=clash)


# -- values --------------------------------------------------------------------------------


def test_pkce_makes_a_fresh_rfc_7636_verifier_and_its_s256_challenge():
    variables: dict = {}
    challenge = render({"$pkce": "pkce"}, variables)
    verifier = variables["pkce"]["verifier"]
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    assert challenge == expected == variables["pkce"]["challenge"] == render("${pkce.challenge}", variables)
    assert render({"$pkce": "pkce"}, variables) != challenge  # a new one each time
    # RFC 7636 appendix B's example pair.
    from authflow.conformance.values import pkce_challenge

    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    with pytest.raises(ScenarioError):
        render({"$pkce": "not a name"}, {})


def test_basic_credentials_form_encode_both_parts():
    assert basic_credentials("id", "s3cret") == "Basic " + base64.b64encode(b"id:s3cret").decode()
    assert base64.b64decode(basic_credentials("a b", "x:y/z").split()[1]) == b"a+b:x%3Ay%2Fz"


# -- the browser ---------------------------------------------------------------------------

BASE = "https://auth.example.test/domains/d"
APP = "https://app.example.com/callback"
LOGIN_PAGE = """<!doctype html><html><body>
<form name="cognitoSignInForm" method="post" action="/domains/d/login?{query}">
  <input type="hidden" name="_csrf" value="{csrf}">
  <input type="hidden" name="client_id" value="c1">
  <input id="signInFormUsername" name="username" type="text">
  <input id="signInFormPassword" name="password" type="password">
  <input type="checkbox" name="remember">
  <input name="signInSubmitButton" type="submit" value="Sign in">
</form>
<form method="post" action="/domains/d/login?{query}"><input type="hidden" name="_csrf" value="{csrf}">
  <input name="username"><input name="password" type="password"></form>
</body></html>"""


class Domain:
    """A made-up domain as a browser sees it: /oauth2/authorize redirects to /login, the
    login page sets a cookie and renders a form with a CSRF token; a POST with the right
    token, cookie and password goes back to the app with a code."""

    def __init__(self, page: str = LOGIN_PAGE, password: str = "pw") -> None:
        self.page, self.password = page, password
        self.requests: list[tuple[str, str, dict, bytes | None]] = []

    def __call__(self, method, url, headers, body):
        self.requests.append((method, url, dict(headers), body))
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if parts.path.endswith("/oauth2/authorize"):
            if query.get("redirect_uri") != APP:
                return WebAnswer(302, (("Location", f"{BASE}/error?error=redirect_mismatch"),), b"")
            return WebAnswer(302, (("Location", f"/domains/d/login?{parts.query}"),), b"")
        if parts.path.endswith("/login") and method == "GET":
            return WebAnswer(200, (("Content-Type", "text/html"),
                                   ("Set-Cookie", "XSRF-TOKEN=t0k; Path=/domains/d; HttpOnly"),
                                   ("Set-Cookie", "other=1; Path=/elsewhere")),
                             self.page.format(query=parts.query, csrf="t0k").encode())
        if parts.path.endswith("/login") and method == "POST":
            form = dict(parse_qsl(body.decode()))
            if headers.get("Cookie") != "XSRF-TOKEN=t0k" or form.get("_csrf") != "t0k":
                return WebAnswer(403, (), b"CSRF token missing")
            if form.get("password") != self.password or form.get("signInSubmitButton") != "Sign in":
                return WebAnswer(200, (), b"<p>Incorrect username or password.</p>")
            return WebAnswer(302, (("Location", f"{APP}?{urlencode({'code': 'c0de', 'state': query['state']})}"),), b"")
        return WebAnswer(404, (), b"")


def authorize_url(**extra) -> str:
    return f"{BASE}/oauth2/authorize?" + urlencode({"redirect_uri": APP, "state": "s1", **extra})


def test_sign_in_follows_the_domain_fills_the_form_and_stops_at_the_app():
    domain = Domain()
    answer = sign_in(domain, BASE, authorize_url(), "alice", "pw")
    view = redirect_view(answer, BASE)
    assert view["to"] == APP and view["query"] == {"code": "c0de", "state": "s1"}
    post = domain.requests[-1]
    assert post[0] == "POST" and post[1].startswith(f"{BASE}/login?")
    assert post[2]["Cookie"] == "XSRF-TOKEN=t0k"  # the cookie of the domain's path only
    assert dict(parse_qsl(post[3].decode())) == {"_csrf": "t0k", "client_id": "c1", "username": "alice",
                                                  "password": "pw", "signInSubmitButton": "Sign in"}
    assert all(not r[1].startswith(APP) for r in domain.requests)  # the app is never called


def test_a_sign_in_form_without_a_csrf_token_is_a_divergence():
    page = LOGIN_PAGE.replace('name="_csrf"', 'name="token"')
    with pytest.raises(BrowserProblem, match="carries no CSRF token"):
        sign_in(Domain(page), BASE, authorize_url(), "alice", "pw")


@pytest.mark.parametrize(("page", "message"), [
    ("<html><body><p>Welcome</p></body></html>", "no sign-in form"),
    (LOGIN_PAGE.replace('method="post"', 'method="get"'), "sent by GET"),
    (LOGIN_PAGE.replace('action="/domains/d/login', 'action="https://evil.example/login'), "posts away from the domain"),
])
def test_a_sign_in_page_a_browser_cannot_use_is_a_divergence(page, message):
    with pytest.raises(BrowserProblem, match=message):
        sign_in(Domain(page), BASE, authorize_url(), "alice", "pw")


def test_a_wrong_password_page_is_reported_with_what_it_says():
    with pytest.raises(BrowserProblem, match="did not send the browser back to the app") as raised:
        sign_in(Domain(password="other"), BASE, authorize_url(), "alice", "pw")
    assert "Incorrect username or password." in raised.value.seen


def test_a_refusal_before_the_page_comes_back_as_the_redirect_and_loops_are_cut():
    # The /error page is on the domain, so a browser follows there; it is no sign-in page.
    with pytest.raises(BrowserProblem, match="the authorize URL led to HTTP 404, not a sign-in page"):
        sign_in(Domain(), BASE, authorize_url(redirect_uri="https://evil.example/cb"), "alice", "pw")

    def loop(method, url, headers, body):
        return WebAnswer(302, (("Location", f"{BASE}/login"),), b"")

    with pytest.raises(BrowserProblem, match="more than 10 redirects"):
        sign_in(loop, BASE, authorize_url(), "alice", "pw")

    def away(method, url, headers, body):
        return WebAnswer(302, (("Location", f"{APP}?error=invalid_scope&state=s1"),), b"")

    view = redirect_view(sign_in(away, BASE, authorize_url(), "alice", "pw"), BASE)
    assert view["query"] == {"error": "invalid_scope", "state": "s1"} and view["fragment"] == {}


def test_forms_read_hidden_fields_checked_boxes_and_buttons():
    [form] = forms('<form method=POST action="x"><input type=hidden name=a value="1&amp;2">'
                   '<input type=checkbox name=b checked value=on><input type=radio name=c value=z>'
                   '<button name=go value=yes>Go</button></form>')
    assert form.method == "POST" and form.hidden() == [("a", "1&2")]
    assert [n for _, n, _ in form.fields] == ["a", "b"] and form.submits == [("go", "yes")]


def test_the_cookie_jar_keeps_paths_and_forgets_expired_cookies():
    jar = CookieJar()
    jar.take(WebAnswer(200, (("Set-Cookie", "s=1; Path=/domains/d"), ("Set-Cookie", "t=2")), b""),
             "https://h/domains/d/login")
    assert jar.header("https://h/domains/d/oauth2/authorize") == "s=1; t=2"
    assert jar.header("https://h/domains/other/login") is None
    jar.take(WebAnswer(200, (("Set-Cookie", "s=; Path=/domains/d; Max-Age=0"),), b""), "https://h/domains/d/x")
    assert jar.header("https://h/domains/d/login") == "t=2"


def test_the_domain_base_is_the_authorization_endpoint_without_its_path():
    assert domain_base("https://x.auth.us-east-1.amazoncognito.com/oauth2/authorize") == \
        "https://x.auth.us-east-1.amazoncognito.com"
    assert domain_base("http://127.0.0.1:9/domains/d/oauth2/authorize") == "http://127.0.0.1:9/domains/d"
    assert domain_base("https://h/elsewhere") == "https://h"


# -- the targets' web ----------------------------------------------------------------------


def test_the_http_target_does_not_follow_redirects_and_returns_error_statuses():
    from authflow.conformance import HttpTarget
    from tests.http import serving

    with serving(secrets=None) as server:
        target = HttpTarget(server.url)
        assert target.discovery_url("us-east-1_x") == f"{server.url}/us-east-1_x/.well-known/openid-configuration"
        missing = target.web("GET", target.discovery_url("us-east-1_x"), {}, None)
        assert missing.status == 404 and b"ResourceNotFoundException" in missing.body
        pool = server.client.create_user_pool(PoolName="p")["UserPool"]["Id"]
        found = target.web("GET", target.discovery_url(pool), {}, None)
        assert found.status == 200 and found.header("content-type").startswith("application/json")
    with redirecting() as url:
        answer = target.web("GET", url + "/start", {}, None)
        assert answer.status == 302 and answer.header("location") == "https://app.example.com/cb?code=1"
        assert [v for k, v in answer.headers if k.lower() == "set-cookie"] == ["a=1", "b=2"]


@contextmanager
def redirecting():
    """A web server whose every answer is a redirect to an app (with two cookies)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- http.server's name
            self.send_response(302)
            self.send_header("Location", "https://app.example.com/cb?code=1")
            self.send_header("Set-Cookie", "a=1")
            self.send_header("Set-Cookie", "b=2")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
