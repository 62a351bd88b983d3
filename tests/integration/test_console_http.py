"""The admin console over HTTP: httpx against `authflow serve`'s app (issue 21).

Signing in with the server's credential (and not with a wrong one), the lockout, the
session cookie and sign-out, CSRF refusals, every action through its form, the Cognito
error of bad input shown on the page with the store compared whole before and after,
searching and paging users, the messages page, the closed console under
`--insecure-no-auth`, and the 500 page. Page content is read by the classes and ids the
templates give it, not by layout.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authflow.core.effects import Message
from tests.helpers import store_contents
from tests.http import KEY_ID, SECRET, serving

PASSWORD = "A-good-pass-1"
FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


# -- helpers --------------------------------------------------------------------------------------


def csrf_of(html: str) -> str:
    return re.search(r'name="_csrf" value="([^"]+)"', html).group(1)


def error_on(html: str) -> tuple[str, str] | None:
    found = re.search(r'class="error-type">([^<]*)</strong>: <span class="error-message">([^<]*)<', html)
    return (unescape(found.group(1)), unescape(found.group(2))) if found else None


def browser(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=10)


def sign_in(http: httpx.Client, key_id: str = KEY_ID, secret: str = SECRET, next_: str = "/console/"):
    form = http.get("/console/sign-in")
    return http.post("/console/sign-in", data={"_csrf": csrf_of(form.text), "access_key_id": key_id,
                                               "secret": secret, "next": next_})


class Console:
    """A signed-in console session."""

    def __init__(self, server) -> None:
        self.server = server
        self.http = browser(server)
        answer = sign_in(self.http)
        assert answer.status_code == 303, answer.text
        self.csrf = csrf_of(self.http.get("/console/").text)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict, *, csrf: bool = True) -> httpx.Response:
        return self.http.post(path, data={**data, **({"_csrf": self.csrf} if csrf else {})})

    def act(self, pool: str, action: str, username: str, **fields) -> httpx.Response:
        return self.post(f"/console/pools/{pool}/actions/{action}", {"username": username, **fields})


@pytest.fixture
def server():
    with serving() as running:
        yield running


@pytest.fixture
def pool(server) -> str:
    return server.client.create_user_pool(PoolName="console-test")["UserPool"]["Id"]


@pytest.fixture
def console(server) -> Console:
    return Console(server)


def make_user(server, pool: str, username: str, *, email: str | None = None, verified: bool = True, **kwargs):
    attributes = []
    if email:
        attributes = [{"Name": "email", "Value": email},
                      {"Name": "email_verified", "Value": "true" if verified else "false"}]
    server.client.admin_create_user(UserPoolId=pool, Username=username, UserAttributes=attributes,
                                    MessageAction="SUPPRESS", TemporaryPassword="Temp-pass-1", **kwargs)


def status_of(server, pool: str, username: str) -> str:
    return server.client.admin_get_user(UserPoolId=pool, Username=username)["UserStatus"]


# -- signing in -----------------------------------------------------------------------------------


def test_pages_need_sign_in_and_come_back_after_it(server, pool):
    http = browser(server)
    first = http.get(f"/console/pools/{pool}/users?limit=10")
    assert first.status_code == 303
    target = parse_qs(urlsplit(first.headers["location"]).query)["next"][0]
    assert target == f"/console/pools/{pool}/users?limit=10"
    answer = sign_in(http, next_=target)
    assert answer.status_code == 303 and answer.headers["location"] == target
    assert http.get(target).status_code == 200


def test_sign_in_sets_a_console_only_http_only_session_cookie(server):
    answer = sign_in(browser(server))
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "authflow-console=" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console/" in cookie
    assert "Max-Age=28800" in cookie


def test_sign_in_refuses_a_wrong_secret_and_an_unknown_key(server):
    http = browser(server)
    for key_id, secret in ((KEY_ID, SECRET + "x"), ("AKIANOSUCHKEY0000000", SECRET), (KEY_ID, "")):
        answer = sign_in(http, key_id, secret)
        assert answer.status_code == 401
        assert error_on(answer.text) == ("NotAuthorizedException", "Incorrect access key id or secret access key.")
        assert "authflow-console=" not in answer.headers.get("set-cookie", "")
    assert http.get("/console/").status_code == 303


def test_sign_in_refuses_a_form_without_its_csrf_token(server):
    http = browser(server)
    http.get("/console/sign-in")
    answer = http.post("/console/sign-in", data={"access_key_id": KEY_ID, "secret": SECRET})
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert "authflow-console=" not in answer.headers.get("set-cookie", "")


def test_five_wrong_secrets_lock_out_even_the_right_one_for_fifteen_minutes(server):
    http = browser(server)
    for _ in range(5):
        assert sign_in(http, KEY_ID, "wrong").status_code == 401
    locked = sign_in(http)
    assert locked.status_code == 429
    assert error_on(locked.text)[0] == "NotAuthorizedException"
    assert "Password attempts exceeded" in error_on(locked.text)[1]
    server.clock.advance(timedelta(minutes=14, seconds=59))
    assert sign_in(http).status_code == 429
    server.clock.advance(timedelta(seconds=1))
    assert sign_in(http).status_code == 303


def test_lockout_counts_per_source_so_other_key_ids_do_not_help(server):
    http = browser(server)
    for n in range(5):
        assert sign_in(http, f"AKIAGUESS{n:011d}", "wrong").status_code == 401
    assert sign_in(http).status_code == 429


def test_lockout_counts_per_key_id_whatever_the_source():
    from datetime import datetime, timezone

    from authflow.web.console_auth import Lockout

    lockout, now = Lockout(), datetime(2026, 1, 1, tzinfo=timezone.utc)
    for n in range(5):
        lockout.fail(now, *Lockout.keys(f"10.0.0.{n}", KEY_ID))
    assert lockout.locked_until(now, *Lockout.keys("10.9.9.9", KEY_ID)) == now + timedelta(minutes=15)
    assert lockout.locked_until(now, *Lockout.keys("10.9.9.9", "AKIAOTHER")) is None
    # failures older than the window do not add up
    spaced = Lockout()
    for n in range(5):
        spaced.fail(now + n * timedelta(minutes=4), *Lockout.keys("10.0.0.1", KEY_ID))
    assert spaced.locked_until(now + timedelta(minutes=16), *Lockout.keys("10.0.0.1", KEY_ID)) is None


def test_sign_out_ends_the_session_even_for_a_copied_cookie(server, console):
    copied = console.http.cookies.get("authflow-console")
    answer = console.post("/console/sign-out", {})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    replay = browser(server)
    replay.cookies.set("authflow-console", copied, path="/console/")
    assert replay.get("/console/").status_code == 303


def test_a_session_lasts_eight_hours(server, console):
    server.clock.advance(timedelta(hours=7, minutes=59))
    assert console.get("/console/").status_code == 200
    server.clock.advance(timedelta(minutes=1))
    assert console.get("/console/").status_code == 303


def test_a_forged_session_cookie_is_refused(server):
    http = browser(server)
    http.cookies.set("authflow-console", "eyJrIjoiQUtJQSJ9.AAAA", path="/console/")
    assert http.get("/console/").status_code == 303


def test_without_a_credential_the_console_stays_closed():
    with serving(secrets=None) as open_server:
        http = browser(open_server)
        for path in ("/console/", "/console/sign-in", "/console/messages"):
            answer = http.get(path)
            assert answer.status_code == 403
            assert "--insecure-no-auth" in answer.text
        assert http.post("/console/sign-in", data={"access_key_id": "x", "secret": "y"}).status_code == 403


def test_console_pages_carry_the_security_headers(console):
    answer = console.get("/console/")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert "<script" not in answer.text


# -- CSRF -----------------------------------------------------------------------------------------


def test_an_action_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(server, pool, console):
    make_user(server, pool, "dora")
    before = store_contents(server.client.store)
    missing = console.http.post(f"/console/pools/{pool}/actions/disable", data={"username": "dora"})
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = console.http.post(f"/console/pools/{pool}/actions/disable",
                              data={"username": "dora", "_csrf": "x" * 43})
    assert wrong.status_code == 403
    assert store_contents(server.client.store) == before
    assert server.client.admin_get_user(UserPoolId=pool, Username="dora")["Enabled"] is True


# -- pages ----------------------------------------------------------------------------------------


def test_pools_page_lists_pools_with_user_counts(server, pool, console):
    make_user(server, pool, "ann")
    page = console.get("/console/").text
    assert "console-test" in page and pool in page
    assert re.search(rf'href="/console/pools/{pool}/users">1</a>', page)


def test_pools_are_paged(server, console):
    for n in range(22):
        server.client.create_user_pool(PoolName=f"pool-{n:02d}")
    first = console.get("/console/").text
    assert "Pools 1–20" in first
    following = re.search(r'<a href="([^"]+)" rel="next">', first).group(1)
    second = console.get(unescape(following)).text
    assert "Pools 21–22 (the last page)" in second
    names = re.findall(r">(pool-\d\d)</a>", first) + re.findall(r">(pool-\d\d)</a>", second)
    assert sorted(names) == [f"pool-{n:02d}" for n in range(22)]


def test_pool_page_shows_settings_clients_groups_and_domains(server, pool, console):
    server.client.create_user_pool_client(UserPoolId=pool, ClientName="web-app")
    server.client.create_group(UserPoolId=pool, GroupName="staff", Precedence=3)
    server.client.create_user_pool_domain(UserPoolId=pool, Domain="console-test-domain")
    page = console.get(f"/console/pools/{pool}").text
    for text in ("web-app", "staff", "console-test-domain", "MfaConfiguration", "MinimumLength"):
        assert text in page
    stale = console.get(f"/console/pools/{pool}", params={"clients": "not-a-token"})
    assert stale.status_code == 400 and "InvalidParameterException" in stale.text
    missing = console.get("/console/pools/us-east-1_nosuchpool")
    assert missing.status_code == 404 and "ResourceNotFoundException" in missing.text


def test_user_page_shows_the_user_and_their_place_in_the_lifecycle(server, pool, console):
    make_user(server, pool, "eve", email="eve@example.com")
    server.client.create_group(UserPoolId=pool, GroupName="staff")
    server.client.admin_add_user_to_group(UserPoolId=pool, Username="eve", GroupName="staff")
    page = console.get(f"/console/pools/{pool}/users/eve").text
    assert 'id="user-status">FORCE_CHANGE_PASSWORD<' in page
    assert "eve@example.com" in page and "staff" in page
    svg = re.search(r"<svg[^>]*class=\"lifecycle\".*?</svg>", page, re.S).group(0)
    assert "<title" in svg
    current = re.findall(r'<g class="state current"><title>([^<]*)</title>', svg)
    assert current == ["FORCE_CHANGE_PASSWORD (current)"]
    assert "state <strong>FORCE_CHANGE_PASSWORD</strong>" in page
    assert "complete_new_password → CONFIRMED" in page


def test_an_attribute_holding_markup_is_shown_as_text(server, pool, console):
    server.client.admin_create_user(UserPoolId=pool, Username="mallory", MessageAction="SUPPRESS",
                                    UserAttributes=[{"Name": "name", "Value": '<script>alert("x")</script>'}])
    for path in (f"/console/pools/{pool}/users/mallory", f"/console/pools/{pool}/users"):
        page = console.get(path).text
        assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in console.get(f"/console/pools/{pool}/users/mallory").text


def test_a_username_with_slashes_and_url_characters_has_its_page(server, pool, console):
    make_user(server, pool, "a/b?c#%")
    listing = console.get(f"/console/pools/{pool}/users").text
    link = re.search(r'href="(/console/pools/[^"]*/users/a[^"]*)"', listing).group(1)
    assert link.endswith("/users/a%2Fb%3Fc%23%25")
    assert 'id="user-status">FORCE_CHANGE_PASSWORD<' in console.get(link).text


def test_unknown_user_page_says_so(pool, console):
    answer = console.get(f"/console/pools/{pool}/users/nobody")
    assert answer.status_code == 404 and "UserNotFoundException" in answer.text


# -- searching and paging -------------------------------------------------------------------------


def usernames_on(html: str) -> list[str]:
    return [unescape(u) for u in re.findall(r'<td><a href="/console/pools/[^"]+/users/[^"]+">([^<]+)</a></td>', html)]


def test_users_are_paged_with_counts_and_every_user_is_listed_once(server, pool, console):
    for n in range(23):
        make_user(server, pool, f"user{n:02d}")
    page = console.get(f"/console/pools/{pool}/users?limit=10")
    seen, pages = [], 0
    while True:
        pages += 1
        seen += usernames_on(page.text)
        assert "23 users in the pool" in page.text
        assert re.search(rf"Users {len(seen) - len(usernames_on(page.text)) + 1}–{len(seen)}\b", page.text)
        following = re.search(r'<a rel="next" href="([^"]+)"', page.text)
        if not following:
            break
        page = console.get(unescape(following.group(1)))
    assert pages == 3 and sorted(seen) == [f"user{n:02d}" for n in range(23)]


def test_search_builds_a_list_users_filter(server, pool, console):
    make_user(server, pool, "ab1", email="abc@example.com")
    make_user(server, pool, "ab2", email="abd@example.com")
    make_user(server, pool, "zz", email="zz@example.com")
    starts = console.get(f"/console/pools/{pool}/users", params={"attr": "email", "op": "^=", "value": "ab"})
    assert sorted(usernames_on(starts.text)) == ["ab1", "ab2"]
    assert "email ^= &#34;ab&#34;" in starts.text
    exact = console.get(f"/console/pools/{pool}/users", params={"attr": "email", "op": "=", "value": "zz@example.com"})
    assert usernames_on(exact.text) == ["zz"]
    quoted = console.get(f"/console/pools/{pool}/users", params={"attr": "username", "value": 'a"b\\'})
    assert quoted.status_code == 200 and usernames_on(quoted.text) == [] and error_on(quoted.text) is None


def test_a_refused_search_shows_the_cognito_error(server, pool, console):
    make_user(server, pool, "ann")
    answer = console.get(f"/console/pools/{pool}/users", params={"attr": "custom:team", "value": "x"})
    assert error_on(answer.text)[0] == "InvalidParameterException"
    assert usernames_on(answer.text) == ["ann"]
    stale = console.get(f"/console/pools/{pool}/users", params={"token": "not-a-token"})
    assert error_on(stale.text)[0] == "InvalidParameterException"


# -- actions --------------------------------------------------------------------------------------


def test_create_user_through_the_form(server, pool, console):
    answer = console.post(f"/console/pools/{pool}/users", {
        "username": "newbie", "email": "newbie@example.com", "attributes": "given_name=New\nfamily_name=Bie",
        "temporary_password": "Temp-pass-1", "medium_EMAIL": "yes", "message_action": "SUPPRESS"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/pools/{pool}/users/newbie?done=created"
    user = server.client.admin_get_user(UserPoolId=pool, Username="newbie")
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attrs["given_name"] == "New" and attrs["family_name"] == "Bie" and attrs["email"] == "newbie@example.com"
    assert "User created." in console.get(answer.headers["location"]).text


@pytest.mark.parametrize(("form", "error"), [
    ({"username": ""}, "InvalidParameterException"),
    ({"username": "x", "attributes": "no equals sign"}, "InvalidParameterException"),
    ({"username": "x", "attributes": "custom:undeclared=1"}, "InvalidParameterException"),
    ({"username": "x", "temporary_password": "short"}, "InvalidPasswordException"),
    ({"username": "x", "message_action": "RESEND"}, "UserNotFoundException"),
    ({"username": "x", "message_action": "SHOUT"}, "InvalidParameterException"),
    ({"username": "taken"}, "UsernameExistsException"),
])
def test_bad_create_input_shows_the_error_keeps_the_form_and_changes_nothing(server, pool, console, form, error):
    make_user(server, pool, "taken")
    before = store_contents(server.client.store)
    answer = console.post(f"/console/pools/{pool}/users",
                          {"email": "kept@example.com", "message_action": "SUPPRESS", **form})
    assert answer.status_code == 400
    assert error_on(answer.text)[0] == error
    assert 'value="kept@example.com"' in answer.text
    assert store_contents(server.client.store) == before


def test_set_password_permanent_and_temporary(server, pool, console):
    make_user(server, pool, "sam")
    assert console.act(pool, "set-password", "sam", password=PASSWORD, permanent="yes").status_code == 303
    assert status_of(server, pool, "sam") == "CONFIRMED"
    assert console.act(pool, "set-password", "sam", password=PASSWORD + "x").status_code == 303
    assert status_of(server, pool, "sam") == "FORCE_CHANGE_PASSWORD"


def test_reset_password(server, pool, console):
    make_user(server, pool, "rita", email="rita@example.com")
    server.client.admin_set_user_password(UserPoolId=pool, Username="rita", Password=PASSWORD, Permanent=True)
    answer = console.act(pool, "reset-password", "rita")
    assert answer.status_code == 303 and answer.headers["location"].endswith("?done=reset-password")
    assert status_of(server, pool, "rita") == "RESET_REQUIRED"


def test_enable_and_disable(server, pool, console):
    make_user(server, pool, "dan")
    assert console.act(pool, "disable", "dan").status_code == 303
    assert server.client.admin_get_user(UserPoolId=pool, Username="dan")["Enabled"] is False
    assert "Enable user" in console.get(f"/console/pools/{pool}/users/dan").text
    assert console.act(pool, "enable", "dan").status_code == 303
    assert server.client.admin_get_user(UserPoolId=pool, Username="dan")["Enabled"] is True


def test_add_to_and_remove_from_group(server, pool, console):
    make_user(server, pool, "gus")
    server.client.create_group(UserPoolId=pool, GroupName="staff")
    groups = lambda: [g["GroupName"] for g in server.client.admin_list_groups_for_user(  # noqa: E731
        UserPoolId=pool, Username="gus")["Groups"]]
    assert console.act(pool, "add-to-group", "gus", group="staff").status_code == 303
    assert groups() == ["staff"]
    assert console.act(pool, "remove-from-group", "gus", group="staff").status_code == 303
    assert groups() == []


def test_sign_out_everywhere_revokes_refresh_tokens(server, pool, console):
    client_id = server.client.create_user_pool_client(
        UserPoolId=pool, ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    make_user(server, pool, "sue")
    server.client.admin_set_user_password(UserPoolId=pool, Username="sue", Password=PASSWORD, Permanent=True)
    tokens = server.client.admin_initiate_auth(
        UserPoolId=pool, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "sue", "PASSWORD": PASSWORD})["AuthenticationResult"]
    assert console.act(pool, "sign-out", "sue").status_code == 303
    with pytest.raises(server.client.exceptions.NotAuthorizedException):
        server.client.admin_initiate_auth(UserPoolId=pool, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                          AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})


def test_delete_takes_a_confirmation_step(server, pool, console):
    make_user(server, pool, "del")
    first = console.act(pool, "delete", "del")
    assert first.status_code == 303 and "/delete-user?username=del" in first.headers["location"]
    assert status_of(server, pool, "del")
    confirm = console.get(first.headers["location"]).text
    assert 'name="confirm" value="yes"' in confirm
    second = console.act(pool, "delete", "del", confirm="yes")
    assert second.status_code == 303 and second.headers["location"] == f"/console/pools/{pool}/users?done=delete"
    with pytest.raises(server.client.exceptions.UserNotFoundException):
        status_of(server, pool, "del")


@pytest.mark.parametrize(("action", "fields", "error"), [
    ("set-password", {"password": "short", "permanent": "yes"}, "InvalidPasswordException"),
    ("add-to-group", {"group": "no-such-group"}, "ResourceNotFoundException"),
    ("reset-password", {}, "NotAuthorizedException"),  # FORCE_CHANGE_PASSWORD: nothing to reset
])
def test_a_refused_action_shows_the_error_on_the_user_page_and_changes_nothing(
        server, pool, console, action, fields, error):
    make_user(server, pool, "bea")
    before = store_contents(server.client.store)
    answer = console.act(pool, action, "bea", **fields)
    assert answer.status_code == 400
    assert error_on(answer.text)[0] == error
    assert 'id="user-status">FORCE_CHANGE_PASSWORD<' in answer.text
    assert store_contents(server.client.store) == before


def test_an_action_on_a_missing_user_or_an_unknown_action(pool, console):
    missing = console.act(pool, "disable", "ghost")
    assert missing.status_code == 404 and "UserNotFoundException" in missing.text
    assert console.act(pool, "explode", "ghost").status_code == 404


# -- messages -------------------------------------------------------------------------------------


def put_messages(server, pool: str, count: int, *, destination: str = "to@example.com") -> None:
    engine = server.client.engine
    with engine.store.transaction() as tx:
        entries = engine.enqueue(tx, [
            Message(medium="EMAIL", destination=destination, subject="Your code", kind="verification",
                    username="u", pool_id=pool, body=f"Your code is {n:06d}", code=f"{n:06d}")
            for n in range(count)])
    for entry in entries:
        engine.mark(entry, error=None)


def test_messages_page_shows_opened_bodies_newest_first_with_delivery_state(server, pool, console):
    put_messages(server, pool, 2)
    server.clock.advance(timedelta(seconds=5))
    put_messages(server, pool, 1, destination="other@example.com")
    page = console.get("/console/messages").text
    bodies = re.findall(r'<pre class="body">([^<]*)</pre>', page)
    assert bodies[0] == "Your code is 000000" and len(bodies) == 3
    assert page.count('class="state state-sent">SENT<') == 3
    only = console.get("/console/messages", params={"to": "other@example.com"}).text
    assert re.findall(r'class="destination">([^<]*)<', only) == ["other@example.com"]
    none = console.get("/console/messages", params={"pool": "us-east-1_elsewhere"}).text
    assert "No messages" in none


def test_messages_are_paged_by_position(server, pool, console):
    put_messages(server, pool, 60)
    first = console.get("/console/messages").text
    assert "Messages 1–50" in first
    older = re.search(r'<a rel="next" href="([^"]+)"', first).group(1)
    second = console.get(unescape(older)).text
    assert "Messages 51–60" in second and not re.search(r'rel="next"', second)
    shown = re.findall(r'<pre class="body">([^<]*)</pre>', first) + re.findall(r'<pre class="body">([^<]*)</pre>', second)
    assert len(set(shown)) == 60
    bad = console.get("/console/messages", params={"before": "yesterday"})
    assert bad.status_code == 200 and error_on(bad.text)[0] == "InvalidParameterException"


def test_an_invitation_sent_by_create_user_is_on_the_messages_page(server, pool, console):
    answer = console.post(f"/console/pools/{pool}/users", {
        "username": "invitee", "email": "invitee@example.com", "medium_EMAIL": "yes",
        "temporary_password": "Temp-pass-1"})
    assert answer.status_code == 303
    page = console.get("/console/messages", params={"to": "invitee@example.com"}).text
    assert re.findall(r'class="kind">([^<]*)<', page) == ["invitation"]
    assert "Temp-pass-1" in page


def test_messages_are_not_served_without_sign_in(server, pool):
    put_messages(server, pool, 1)
    http = browser(server)
    assert http.get("/console/messages").status_code == 303
    assert http.get("/_authflow/outbox").status_code == 404


# -- failures -------------------------------------------------------------------------------------


def test_an_unexpected_failure_is_a_500_page_without_a_trace(server, console, caplog):
    def boom(**kwargs):
        raise RuntimeError("secret internals")

    server.client.list_user_pools = boom
    answer = console.get("/console/")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text and "request" in answer.text
    assert "secret internals" not in answer.text and "Traceback" not in answer.text
    assert any("secret internals" in (r.exc_text or "") or "console page" in r.getMessage() for r in caplog.records)


def test_a_form_too_large_is_refused(pool, console):
    answer = console.post(f"/console/pools/{pool}/users", {"username": "x", "attributes": "a=" + "b" * 70_000})
    assert answer.status_code == 400
