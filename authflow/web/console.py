"""The admin console at `/console/`: pools, users and messages, for whoever holds the
server's admin credential.

Theory of operation:

* Thin, like the JSON API: every page reads through `ctx.client`'s boto3-named methods
  and every action is one such call (`console_actions`), so the console goes through the
  same service function as the API and cannot disagree with it. A refused call is shown
  on the page as Cognito's error type and message; the service guarantees that nothing
  of a refused call was applied. Only the messages page reads the store directly
  (`tx.list_outbox`): the outbox has no API operation.
* Access: every page but the sign-in form needs the session cookie (`console_auth`);
  without it a GET is redirected to the sign-in form and comes back afterwards. Every
  POST also needs the CSRF field matching its cookie (`security.csrf_ok`), checked
  before anything else is done. With `--insecure-no-auth` there is no credential, and
  every console URL answers 403 saying so: the console never opens to anyone.
* Long lists are paged as the API pages them (ListUsers' PaginationToken, NextToken,
  the outbox's (created, id) position) with counts shown, so no page loads a whole pool.
* Pages are GETs; actions are POSTs answered by a redirect (POST-redirect-GET) with a
  `done` word the page turns into its notice. Refusals re-render the page (status 400)
  with the form as it was sent, the password fields excepted.
* Anything unexpected is logged with a request id and shown as a plain 500 page with that
  id: never a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authflow import errors
from authflow.core.lifecycle import user_lifecycle
from authflow.core.listing import SEARCHABLE_ATTRIBUTES, UserFilter, render_filter
from authflow.web import lifecycle_svg
from authflow.web.console_auth import (
    COOKIE_PATH,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Lockout,
    Sessions,
    check_secret,
)
from authflow.web.security import clear_cookie, csrf_ok, read_form, set_cookie
from authflow.web.templating import page

log = logging.getLogger("authflow.console")

ROOT = "/console"
CSS_PATH = f"{ROOT}/console.css"
PAGE_SIZES = (10, 25, 60)  # 60 is the most ListUsers returns at once
MESSAGES_PER_PAGE = 50
#: What a redirect's `done` word says on the page it lands on (a fixed table: the query
#: string never puts text of its own on a page).
DONE = {
    "created": "User created.", "reset-password": "Password reset: the user must set a new one.",
    "set-password": "Password set.", "enable": "User enabled.", "disable": "User disabled.",
    "add-to-group": "Added to the group.", "remove-from-group": "Removed from the group.",
    "sign-out": "Signed out everywhere: the user's refresh tokens are revoked.",
    "delete": "User deleted.", "signed-in": "Signed in.",
}


class Urls:
    """Where the console's pages are (path segments quoted, so any username works)."""

    root = f"{ROOT}/"
    sign_in = f"{ROOT}/sign-in"
    sign_out = f"{ROOT}/sign-out"
    css = CSS_PATH

    @staticmethod
    def _q(query: Mapping[str, Any]) -> str:
        kept = {k: v for k, v in query.items() if v not in (None, "")}
        return f"?{urlencode(kept)}" if kept else ""

    def pools(self, **query: Any) -> str:
        return self.root + self._q(query)

    def pool(self, pool_id: str, **query: Any) -> str:
        return f"{ROOT}/pools/{quote(pool_id, safe='')}" + self._q(query)

    def users(self, pool_id: str, **query: Any) -> str:
        return f"{ROOT}/pools/{quote(pool_id, safe='')}/users" + self._q(query)

    def user(self, pool_id: str, username: str, **query: Any) -> str:
        return f"{ROOT}/pools/{quote(pool_id, safe='')}/users/{quote(username, safe='')}" + self._q(query)

    def action(self, pool_id: str, action: str) -> str:
        return f"{ROOT}/pools/{quote(pool_id, safe='')}/actions/{action}"

    def confirm_delete(self, pool_id: str, username: str) -> str:
        return f"{ROOT}/pools/{quote(pool_id, safe='')}/delete-user" + self._q({"username": username})

    def messages(self, **query: Any) -> str:
        return f"{ROOT}/messages" + self._q(query)


URLS = Urls()


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(value, datetime) else "—"


def shown_error(err: errors.CognitoError) -> dict[str, str]:
    return {"type": err.code, "message": err.message}


def attributes_of(items: list[Mapping[str, str]] | None) -> dict[str, str]:
    return {a["Name"]: a.get("Value", "") for a in items or []}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a console path (never another site)."""
    if target and target.startswith(f"{ROOT}/") and not target.startswith("//") and "\\" not in target:
        return target
    return URLS.root


class Console:
    """The console's pages for one app: its sessions, lockout counters and client."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.urls = URLS
        self.sessions = Sessions.for_kek(ctx.engine.keyring.current)
        self.lockout = Lockout()

    # -- shared -------------------------------------------------------------------------

    def now(self) -> datetime:
        # The clock signatures are checked against: real time even when the engine's
        # clock travels for tests (--test-hooks).
        return (self.ctx.signing.clock or self.ctx.engine.clock).now()

    def render(self, request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
        done = request.query_params.get("done", "")
        base = {"url": URLS, "when": when, "error": None, "notice": DONE.get(done),
                "key_id": request.scope.get("authflow.console_key")}
        return page(request, f"console/{template}", {**base, **context}, status=status)

    def refusal(self, request: Request, status: int, heading: str, message: str) -> Response:
        return self.render(request, "refused.html", status=status, heading=heading, message=message)

    def failure(self, request: Request) -> Response:
        request_id = self.ctx.engine.request_id()
        log.exception("console page %s %s failed (request %s)", request.method, request.url.path, request_id)
        return self.render(request, "refused.html", status=500, heading="Something went wrong",
                           message=f"The console could not show this page. It was logged as request {request_id}.")

    def guarded(self, view: Callable[..., Response], *, post: bool = False):
        """The endpoint for `view(request, form)`: closed without a credential, signed
        in, CSRF-checked for a POST, run in a worker thread (the engine blocks), and
        with every unexpected exception turned into the 500 page."""

        async def endpoint(request: Request) -> Response:
            try:
                known = self.ctx.signing.secrets
                if known is None:
                    return self.closed(request)
                session = self.sessions.open(request.cookies.get(SESSION_COOKIE), known, self.now())
                if session is None:
                    back = request.url.path + (f"?{request.url.query}" if request.url.query and not post else "")
                    return RedirectResponse(URLS.sign_in + Urls._q({"next": back}), status_code=303)
                request.scope["authflow.console_key"] = session["k"]
                request.scope["authflow.console_session"] = session
                form = None
                if post:
                    form = await read_form(request)
                    if form is None:
                        return self.refusal(request, 400, "Form refused",
                                            "The form was too large or not an ordinary form post.")
                    if not csrf_ok(request, form):
                        return self.csrf_refused(request)
                return await run_in_threadpool(view, request, form)
            except errors.CognitoError as err:
                # A refusal a page did not place itself (a stale NextToken in a link, a
                # pool deleted meanwhile): still Cognito's words, never a 500.
                return self.render(request, "refused.html", status=err.http_status if err.http_status < 500 else 500,
                                   heading="Refused", message=f"{err.code}: {err.message}")
            except Exception:
                return self.failure(request)

        return endpoint

    def closed(self, request: Request) -> Response:
        return self.refusal(
            request, 403, "The console is closed",
            "This server runs with --insecure-no-auth, so it has no admin credential to sign in "
            "with, and the console will not open to anyone without one. Start authflow serve "
            "with a credentials file to use the console.")

    def csrf_refused(self, request: Request) -> Response:
        return self.refusal(
            request, 403, "Form refused",
            "This form did not carry the console's CSRF token (it came from another page or "
            "the token expired). Nothing was changed. Reload the page and try again.")

    # -- signing in ---------------------------------------------------------------------

    async def sign_in(self, request: Request) -> Response:
        try:
            known = self.ctx.signing.secrets
            if known is None:
                return self.closed(request)
            target = safe_next(request.query_params.get("next"))
            if request.method == "GET":
                return self.render(request, "sign_in.html", next=target, key_id_value="")
            form = await read_form(request)
            if form is None:
                return self.refusal(request, 400, "Form refused", "The form was too large or not an ordinary form post.")
            if not csrf_ok(request, form):
                return self.csrf_refused(request)
            return self.check_sign_in(request, form, known, safe_next(form.get("next")))
        except Exception:
            return self.failure(request)

    def check_sign_in(self, request: Request, form: Mapping[str, str], known: Mapping[str, str],
                      target: str) -> Response:
        key_id, secret = form.get("access_key_id", "").strip(), form.get("secret", "")
        ip = request.client.host if request.client else "unknown"
        names = Lockout.keys(ip, key_id)
        now = self.now()
        context = {"next": target, "key_id_value": key_id}
        until = self.lockout.locked_until(now, *names)
        if until is not None:
            minutes = max(1, round((until - now).total_seconds() / 60))
            return self.render(request, "sign_in.html", status=429, **context, error={
                "type": "NotAuthorizedException",
                "message": f"Password attempts exceeded. Try again in {minutes} minute{'s' * (minutes != 1)}."})
        if not key_id or not check_secret(known, key_id, secret):
            self.lockout.fail(now, *names)
            return self.render(request, "sign_in.html", status=401, **context, error={
                "type": "NotAuthorizedException", "message": "Incorrect access key id or secret access key."})
        self.lockout.succeed(*names)
        response = RedirectResponse(target, status_code=303)
        set_cookie(response, request, SESSION_COOKIE, self.sessions.start(key_id, known[key_id], now),
                   path=COOKIE_PATH, max_age=int(SESSION_LIFETIME.total_seconds()))
        return response

    def sign_out(self, request: Request, form: Mapping[str, str]) -> Response:
        self.sessions.end(request.scope["authflow.console_session"], self.now())
        response = RedirectResponse(URLS.sign_in, status_code=303)
        clear_cookie(response, request, SESSION_COOKIE, path=COOKIE_PATH)
        return response

    # -- pages --------------------------------------------------------------------------

    def pools(self, request: Request, form: None) -> Response:
        token = request.query_params.get("token") or None
        start = _int(request.query_params.get("start"), 0)
        error = None
        try:
            answer = self.client.list_user_pools(MaxResults=20, **({"NextToken": token} if token else {}))
        except errors.CognitoError as err:
            answer, error = self.client.list_user_pools(MaxResults=20), shown_error(err)
            start = 0
        rows = []
        for pool in answer.get("UserPools", []):
            users = self.client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"].get("EstimatedNumberOfUsers", 0)
            rows.append({**pool, "users": users})
        return self.render(request, "pools.html", pools=rows, start=start, next_token=answer.get("NextToken"),
                           error=error)

    def pool(self, request: Request, form: None) -> Response:
        pool_id = request.path_params["pool_id"]
        try:
            pool = self.client.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        except errors.CognitoError as err:
            return self.render(request, "refused.html", status=404 if err.code == "ResourceNotFoundException" else 400,
                               heading="No such pool", message=f"{err.code}: {err.message}")
        q = request.query_params
        clients = self.client.list_user_pool_clients(
            UserPoolId=pool_id, MaxResults=60, **({"NextToken": q["clients"]} if q.get("clients") else {}))
        groups = self.client.list_groups(
            UserPoolId=pool_id, Limit=60, **({"NextToken": q["groups"]} if q.get("groups") else {}))
        domains = []
        for name in (pool.get("Domain"), pool.get("CustomDomain")):
            if name:
                domains.append(self.client.describe_user_pool_domain(Domain=name).get("DomainDescription", {}))
        settings = {k: pool.get(k) for k in (
            "Name", "Id", "Arn", "CreationDate", "LastModifiedDate", "EstimatedNumberOfUsers", "UserPoolTier",
            "UsernameAttributes", "AliasAttributes", "AutoVerifiedAttributes", "MfaConfiguration",
            "DeletionProtection") if k in pool}
        return self.render(
            request, "pool.html", pool=pool, settings=settings, password_policy=pool.get("Policies", {}).get("PasswordPolicy", {}),
            case_sensitive=pool.get("UsernameConfiguration", {}).get("CaseSensitive"),
            all_settings=json.dumps(pool, indent=2, sort_keys=True, default=str),
            clients=clients.get("UserPoolClients", []), clients_next=clients.get("NextToken"),
            groups=groups.get("Groups", []), groups_next=groups.get("NextToken"), domains=domains)

    def users(self, request: Request, form: Mapping[str, str] | None = None, *, error=None,
              status: int = 200) -> Response:
        pool_id = request.path_params["pool_id"]
        try:
            pool = self.client.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        except errors.CognitoError as err:
            return self.render(request, "refused.html", status=404 if err.code == "ResourceNotFoundException" else 400,
                               heading="No such pool", message=f"{err.code}: {err.message}")
        search = search_of(request.query_params)
        kwargs: dict[str, Any] = {"UserPoolId": pool_id, "Limit": search["limit"]}
        if search["filter"]:
            kwargs["Filter"] = search["filter"]
        if search["token"]:
            kwargs["PaginationToken"] = search["token"]
        try:
            answer = self.client.list_users(**kwargs)
        except errors.CognitoError as err:
            # A refused search (bad filter, stale token) shows why, above the first page of all users.
            error = error or shown_error(err)
            answer = self.client.list_users(UserPoolId=pool_id, Limit=search["limit"])
            search = {**search, "start": 0, "token": None, "failed": True}
        users = [{**u, "attrs": attributes_of(u.get("Attributes"))} for u in answer.get("Users", [])]
        return self.render(
            request, "users.html", status=status, pool=pool, users=users, search=search,
            total=pool.get("EstimatedNumberOfUsers", 0), next_token=answer.get("PaginationToken"),
            attributes=SEARCHABLE_ATTRIBUTES, page_sizes=PAGE_SIZES, error=error,
            created=form or {})

    def user(self, request: Request, form: Mapping[str, str] | None = None, *, username: str | None = None,
             error=None, status: int = 200) -> Response:
        pool_id = request.path_params["pool_id"]
        username = username if username is not None else request.path_params["username"]
        try:
            pool = self.client.describe_user_pool(UserPoolId=pool_id)["UserPool"]
            user = self.client.admin_get_user(UserPoolId=pool_id, Username=username)
        except errors.CognitoError as err:
            return self.render(request, "refused.html", status=404 if err.code.endswith("NotFoundException") else 400,
                               heading="No such user", message=f"{err.code}: {err.message}",
                               back=URLS.users(pool_id))
        name = user["Username"]
        groups = self.client.admin_list_groups_for_user(UserPoolId=pool_id, Username=name, Limit=60)
        devices = self.client.admin_list_devices(UserPoolId=pool_id, Username=name, Limit=60)
        pool_groups = self.client.list_groups(UserPoolId=pool_id, Limit=60).get("Groups", [])
        machine = user_lifecycle()
        moves, stays = lifecycle_svg.steps_from(machine, user["UserStatus"])
        attrs = attributes_of(user.get("UserAttributes"))
        return self.render(
            request, "user.html", status=status, pool=pool, user=user, attrs=attrs, error=error,
            groups=groups.get("Groups", []), more_groups=bool(groups.get("NextToken")),
            devices=[{**d, "attrs": attributes_of(d.get("DeviceAttributes"))} for d in devices.get("Devices", [])],
            pool_groups=pool_groups, diagram=lifecycle_svg.render(machine, user["UserStatus"]),
            moves=moves, stays=stays,
            recipients=[v for k, v in attrs.items() if k in ("email", "phone_number") and v])

    def confirm_delete(self, request: Request, form: None) -> Response:
        pool_id = request.path_params["pool_id"]
        username = request.query_params.get("username", "")
        try:
            user = self.client.admin_get_user(UserPoolId=pool_id, Username=username)
        except errors.CognitoError as err:
            return self.render(request, "refused.html", status=404 if err.code.endswith("NotFoundException") else 400,
                               heading="No such user", message=f"{err.code}: {err.message}",
                               back=URLS.users(pool_id))
        return self.render(request, "confirm_delete.html", pool_id=pool_id, user=user)

    def messages(self, request: Request, form: None) -> Response:
        from authflow.web.console_messages import messages_page

        return messages_page(self, request)


def search_of(query: Mapping[str, str]) -> dict[str, Any]:
    """The users page's search as the form sent it, and the ListUsers filter it means
    (built by the core's own renderer, so a value with quotes or backslashes stays a
    value)."""
    attribute = query.get("attr") or "username"
    operator = "=" if query.get("op") == "=" else "^="
    value = query.get("value", "")
    limit = _int(query.get("limit"), 25)
    if limit not in PAGE_SIZES:
        limit = 25
    text = render_filter(UserFilter(attribute=attribute, operator=operator, value=value)) if value else ""
    return {"attr": attribute, "op": operator, "value": value, "filter": text, "limit": limit,
            "token": query.get("token") or None, "start": max(0, _int(query.get("start"), 0)), "failed": False}


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None and text.isascii() and text.isdigit() else default
    except ValueError:
        return default


def stylesheet(request: Request) -> Response:
    css = files("authflow.web").joinpath("static/console.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600",
                                                         "X-Content-Type-Options": "nosniff"})


def routes(ctx) -> list[BaseRoute]:
    from authflow.web import console_actions

    console = Console(ctx)
    get, post = console.guarded, (lambda view: console.guarded(view, post=True))

    async def to_root(request: Request) -> Response:
        return RedirectResponse(URLS.root, status_code=307)

    return [
        Route(CSS_PATH, stylesheet, methods=["GET"]),
        Route(ROOT, to_root, methods=["GET"]),
        Route(URLS.sign_in, console.sign_in, methods=["GET", "POST"]),
        Route(URLS.sign_out, post(console.sign_out), methods=["POST"]),
        Route(f"{ROOT}/", get(console.pools), methods=["GET"]),
        Route(f"{ROOT}/messages", get(console.messages), methods=["GET"]),
        Route(f"{ROOT}/pools/{{pool_id}}", get(console.pool), methods=["GET"]),
        Route(f"{ROOT}/pools/{{pool_id}}/users", get(console.users), methods=["GET"]),
        Route(f"{ROOT}/pools/{{pool_id}}/users", post(console_actions.create_user(console)), methods=["POST"]),
        Route(f"{ROOT}/pools/{{pool_id}}/users/{{username:path}}", get(console.user), methods=["GET"]),
        Route(f"{ROOT}/pools/{{pool_id}}/delete-user", get(console.confirm_delete), methods=["GET"]),
        Route(f"{ROOT}/pools/{{pool_id}}/actions/{{action}}", post(console_actions.user_action(console)),
              methods=["POST"]),
    ]
