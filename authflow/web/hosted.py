"""The hosted sign-in pages of a pool's domain (the front channel): /oauth2/authorize,
/login and its steps, /signup, /confirmUser, /forgotPassword, /confirmforgotPassword,
/logout and /error, at `/domains/<domain>/...` (or at the domain's own host through
`authflow.web.app.DomainHosts`); and the UI customization every page of a customized
client links (SetUICustomization's stylesheet and logo, `/login/branding/<client|ALL>/...`).

Theory of operation:

* Every page belongs to an authorize request. /oauth2/authorize validates it
  (`authflow.service.oauth.authorize`) and sends the browser to `/login?<query>`; every
  later page and form carries that same query in its URL and validates it again before
  doing anything, so an app client or callback URL changed meanwhile is noticed, and a
  redirect URI the client has not registered is never navigated to: the browser is shown
  the domain's /error page instead (status 400, no link to the URI).
* Passwordless sign-in (a passkey, a code by email or text message) and /passkeys/add are
  `hosted_passwordless` (mixed into `Hosted`).
* Signing in goes through the same service functions as the JSON API, in their hosted
  mode (`authflow.service.hosted_sign_in`): each challenge the sign-in returns becomes a
  page (new password, a code, a factor to choose, an authenticator to set up) whose form
  carries the step's Session in a hidden field. When the sign-in is complete the page
  asks `oauth.complete` where the browser goes (the callback with a code, or implicit
  tokens in the fragment) and sets the hosted session cookie.
* The hosted session: a value signed (`security.sign_value`) under a key derived for this
  pool, valid one hour, Path = the domain's base path, naming the user's `sub`, token
  generation and time of authentication. /oauth2/authorize answers from it without the
  form (unless `prompt=login`); `prompt=none` without one is `error=login_required`.
  /logout clears it; a global sign-out (a new token generation), a disabled or deleted
  user ends it too.
* Safety, as every page family: security headers on every page (`templating.page`), a
  CSRF token on every form, checked on every POST before anything else (a refusal is a
  403 page and nothing is done), autoescaped templates, Cognito's error messages shown on
  the page, and anything unexpected logged with a request id and shown as a plain 500
  page, never a trace. The pages need no JavaScript; only the passkey pages serve one
  script of this origin (`hosted_passwordless`, with `security.SCRIPT_CSP`).
* Where things are: this module has the authorize route, the hosted session and the
  sign-in steps; `hosted_self_service` the sign-up and forgot-password pages (mixed into
  `Hosted`); `hosted_forms` the domain a request reached and the step forms' fields.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authflow import errors
from authflow.core import branding as branding_core
from authflow.core.oauth import OAuthError
from authflow.service import branding, oauth
from authflow.service import hosted_sign_in as signin
from authflow.web.app import base_of
from authflow.web.hosted_forms import (
    CODE_ANSWERS,
    CREDENTIAL_FIELD_MAX,
    FACTOR_NAMES,
    Refusal,
    Site,
    json_list,
    new_password_fields,
    step_answer,
    step_parameters,
    username_label,
)
from authflow.web.hosted_passwordless import PASSKEYS_ADD, SCRIPT_PATH, Passwordless, script
from authflow.web.hosted_self_service import SelfService
from authflow.web.security import (
    SCRIPT_CSP,
    clear_cookie,
    csrf_ok,
    derived_key,
    open_value,
    read_form,
    set_cookie,
    sign_value,
)
from authflow.web.templating import page

log = logging.getLogger("authflow.hosted")

SESSION_COOKIE = "authflow-hosted-session"
SESSION_LIFETIME = timedelta(hours=1)
#: The longest value a page accepts in a field (Cognito's own limits are lower: a
#: username is at most 128 characters, a password 256); longer is refused, not cut.
MAX_FIELD = 2048
#: The fields that carry a WebAuthn answer (JSON of a few kB) may be longer.
LONG_FIELDS = {"credential": CREDENTIAL_FIELD_MAX}
#: What the /error page says for each error (a fixed table: no text of the query string
#: is ever shown on the page beyond a known error code).
ERROR_DETAILS = {
    "redirect_mismatch": "The app asked to return to an address that is not registered for it, "
                         "or the app itself is not known here.",
    "invalid_request": "The request was missing a parameter or held one that is not valid.",
    "unauthorized_client": "This app may not sign users in this way.",
    "invalid_scope": "The app asked for a permission it does not have.",
    "logout": "Required String parameter 'redirect_uri' is not present: a logout needs a logout_uri "
              "registered for the app (or a redirect_uri with a response_type).",
}
_LANG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?")
_ERROR_CODE = re.compile(r"[a-z_]{1,40}")


def redirect(location: str) -> Response:
    # 302, as Cognito answers; a browser follows it with a GET, also after a POST.
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


class Hosted(SelfService, Passwordless):
    """The pages of every domain of one app."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.engine = ctx.engine
        self._keys: dict[str, bytes] = {}

    # -- shared --------------------------------------------------------------------------

    def render(self, request: Request, site: Site, template: str, *, status: int = 200,
               req: oauth.AuthorizeRequest | None = None, headers: Mapping[str, str] | None = None,
               **context: Any) -> Response:
        lang = req.lang if req is not None and req.lang and _LANG.fullmatch(req.lang) else "en"
        query = req.query if req is not None else ""
        links = {name: site.url(name, query) for name in
                 ("login", "signup", "confirmUser", "forgotPassword", "confirmforgotPassword", "mfa",
                  "newPassword")}
        base = {"lang": lang, "links": links, "error": None, "notice": None,
                "branding": customization_links(self.engine, site, req)}
        return page(request, f"hosted/{template}", {**base, **context}, status=status, headers=headers)

    def refused(self, request: Request, site: Site, status: int, heading: str, message: str) -> Response:
        return self.render(request, site, "refused.html", status=status, heading=heading, message=message)

    def guarded(self, view: Callable[..., Response], *, post: bool = False):
        """The endpoint for `view(request, site, form)`: the form read and its CSRF token
        checked first for a POST, the view run in a worker thread (the engine blocks),
        and every unexpected exception turned into the 500 page."""

        async def endpoint(request: Request) -> Response:
            domain = request.path_params["domain"]
            site = Site(domain=domain, base=base_of(request, domain, self.ctx.public_url).rstrip("/"))
            try:
                form = None
                if post:
                    form = await read_form(request)
                    if form is None:
                        return self.refused(request, site, 400, "Form refused",
                                            "The form was too large or not an ordinary form post.")
                    if not csrf_ok(request, form):
                        return self.refused(
                            request, site, 403, "Form refused",
                            "This form did not carry the page's security token (it came from another "
                            "site, or the page is old). Nothing was done. Go back, reload the page and "
                            "try again.")
                    if any(len(v) > LONG_FIELDS.get(k, MAX_FIELD) for k, v in form.items()):
                        return self.refused(request, site, 400, "Form refused", "A field of the form is too long.")
                return await run_in_threadpool(view, request, site, form)
            except Refusal as refusal:
                return self.refused(request, site, refusal.status, refusal.heading, refusal.message)
            except errors.CognitoError as err:
                # A refusal no page placed itself: still Cognito's words, never a 500.
                status = err.http_status if err.http_status < 500 else 500
                return self.refused(request, site, status, "Refused", err.message)
            except Exception:
                request_id = self.engine.request_id()
                log.exception("hosted page %s %s failed (request %s)", request.method, request.url.path, request_id)
                return self.refused(request, site, 500, "Something went wrong",
                                    f"The page could not be shown. It was logged as request {request_id}.")

        return endpoint

    def flow(self, request: Request, site: Site) -> oauth.AuthorizeRequest | Response:
        """The authorize request this page belongs to (its query), checked again; or the
        redirect its refusal names."""
        params = {k: v for k, v in request.query_params.items()}
        checked = oauth.authorize(self.engine, site.domain, params, base=site.base)
        if isinstance(checked, oauth.AuthorizeRefusal):
            return redirect(checked.location)
        return checked

    # -- the hosted session ----------------------------------------------------------------

    def key(self, pool_id: str) -> bytes:
        if pool_id not in self._keys:
            self._keys[pool_id] = derived_key(self.engine.keyring.current, f"hosted-session:{pool_id}")
        return self._keys[pool_id]

    def session_of(self, request: Request, req: oauth.AuthorizeRequest) -> tuple[str, datetime] | None:
        """The signed-in user (`sub`) of the browser's hosted session, and when they
        authenticated; None without a live session."""
        payload = open_value(self.key(req.pool_id), request.cookies.get(SESSION_COOKIE), now=self.engine.now())
        if payload is None or not isinstance(payload.get("sub"), str) or not isinstance(payload.get("gen"), int) \
                or not isinstance(payload.get("at"), int):
            return None
        if not signin.session_holds(self.engine, req.pool_id, payload["sub"], payload["gen"]):
            return None
        return payload["sub"], datetime.fromtimestamp(payload["at"], timezone.utc)

    def finish(self, request: Request, site: Site, req: oauth.AuthorizeRequest, sub: str,
               auth_time: datetime, *, new_session: bool) -> Response:
        """The user is signed in: to the callback (with the hosted session cookie set), or
        back to /passkeys/add when the sign-in began there."""
        location = self.after_sign_in(site, req)
        try:
            location = location or oauth.complete(self.engine, req, sub=sub, auth_time=auth_time)
        except OAuthError as err:  # the callback URL was unregistered meanwhile: never go there
            return redirect(oauth.error_page(site.base, err.error, req.client_id))
        response = redirect(location)
        if new_session:
            generation = signin.token_generation(self.engine, req.pool_id, sub)
            value = sign_value(self.key(req.pool_id), {"sub": sub, "gen": generation, "at": int(auth_time.timestamp())},
                               expires=self.engine.now() + SESSION_LIFETIME)
            set_cookie(response, request, SESSION_COOKIE, value, path=site.path,
                       max_age=int(SESSION_LIFETIME.total_seconds()))
        return response

    # -- /oauth2/authorize -------------------------------------------------------------------

    def authorize(self, request: Request, site: Site, form: None) -> Response:
        req = self.flow(request, site)
        if isinstance(req, Response):
            return req
        federated = start_federation(self, request, site, req)
        if federated is not None:
            return federated
        providers = signin.identity_providers(self.engine, req.client_id)
        if "COGNITO" not in providers and len(providers) == 1:
            # The client's one provider stands in for the login form, as on Cognito.
            return start_federation(self, request, site, replace(req, identity_provider=providers[0]))
        prompts = set((req.prompt or "").split())
        live = None if "login" in prompts else self.session_of(request, req)
        if live is not None:
            return self.finish(request, site, req, *live, new_session=False)
        if "none" in prompts:
            return redirect(oauth.refuse(req, "login_required"))
        return redirect(site.url("login", req.query))

    # -- /login and its steps ------------------------------------------------------------------

    def login(self, request: Request, site: Site, form: Mapping[str, str] | None) -> Response:
        req = self.flow(request, site)
        if isinstance(req, Response):
            return req
        if "COGNITO" not in signin.identity_providers(self.engine, req.client_id):
            raise Refusal(400, "Sign-in with a password is not offered",
                          "This app signs its users in through another identity provider, not with a "
                          "username and password here.")
        if form is None:
            return self.login_page(request, site, req, username=req.login_hint or "")
        username, password = form.get("username", "").strip(), form.get("password", "")
        if form.get("factor"):  # "Email me a code" / "Text me a code"
            return self.code_sign_in(request, site, req, username, form["factor"])
        if not username or not password:
            return self.login_page(request, site, req, username=username, status=400,
                                   error="Enter your username and password.")
        try:
            outcome = signin.start(self.engine, req.pool_id, req.client_id, username, password)
        except errors.CognitoError as err:
            return self.login_page(request, site, req, username=username, status=400, error=err.message)
        return self.next_step(request, site, req, outcome)

    def login_page(self, request: Request, site: Site, req: oauth.AuthorizeRequest, *, username: str,
                   status: int = 200, error: str | None = None, notice: str | None = None) -> Response:
        facts = signin.pool_facts(self.engine, req.pool_id)
        extras = self.login_extras(site, req)
        csp = {"Content-Security-Policy": SCRIPT_CSP} if "WEB_AUTHN" in extras["passwordless"] else None
        return self.render(request, site, "login.html", status=status, req=req, username=username,
                           error=error, notice=notice, self_sign_up=facts.self_sign_up,
                           username_label=username_label(facts), headers=csp, **extras)

    def next_step(self, request: Request, site: Site, req: oauth.AuthorizeRequest,
                  outcome: signin.Step | signin.Authenticated, *, error: str | None = None,
                  status: int = 200) -> Response:
        if isinstance(outcome, signin.Authenticated):
            return self.finish(request, site, req, outcome.sub, outcome.auth_time, new_session=True)
        step = outcome
        common = {"req": req, "session": step.session, "username": step.username, "challenge": step.challenge,
                  "error": error, "status": status}
        if step.challenge == "NEW_PASSWORD_REQUIRED":
            return self.render(request, site, "new_password.html", **common,
                               required=new_password_fields(step.parameters),
                               required_param=step.parameters.get("requiredAttributes", "[]"))
        if step.challenge in CODE_ANSWERS:
            return self.render(request, site, "mfa_code.html", **common,
                               destination=step.parameters.get("CODE_DELIVERY_DESTINATION", ""),
                               medium=step.parameters.get("CODE_DELIVERY_DELIVERY_MEDIUM", ""))
        if step.challenge == "SELECT_MFA_TYPE":
            factors = json_list(step.parameters.get("MFAS_CAN_CHOOSE"))
            return self.render(request, site, "select_mfa.html", **common,
                               factors=[(f, FACTOR_NAMES.get(f, f)) for f in factors],
                               choices_param=step.parameters.get("MFAS_CAN_CHOOSE", "[]"))
        if step.challenge == "MFA_SETUP":
            return self.setup_page(request, site, req, step, error=error, status=status)
        raise Refusal(400, "Sign-in cannot continue here",
                      f"The sign-in asks for {step.challenge}, which these pages cannot answer.")

    def setup_page(self, request: Request, site: Site, req: oauth.AuthorizeRequest, step: signin.Step, *,
                   secret: str | None = None, error: str | None = None, status: int = 200) -> Response:
        """MFA_SETUP: a new authenticator (its secret as text and as an otpauth:// URI),
        unless this is the same setup shown again after a wrong code (`secret` given)."""
        if "SOFTWARE_TOKEN_MFA" not in json_list(step.parameters.get("MFAS_CAN_SETUP", '["SOFTWARE_TOKEN_MFA"]')):
            raise Refusal(400, "Sign-in cannot continue here",
                          "Your account must set up multi-factor authentication in a way these pages do not offer.")
        session = step.session
        if secret is None:
            secret, session = signin.associate_token(self.engine, step.session)
        issuer = signin.pool_facts(self.engine, req.pool_id).name or site.domain
        uri = "otpauth://totp/" + quote(f"{issuer}:{step.username}", safe="") + "?" + \
            urlencode({"secret": secret, "issuer": issuer})
        return self.render(request, site, "mfa_setup.html", status=status, req=req, session=session,
                           username=step.username, challenge="MFA_SETUP", secret=secret, otpauth=uri,
                           grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)), error=error)

    def step(self, request: Request, site: Site, form: Mapping[str, str]) -> Response:
        """An answer to a step (/newPassword, /mfa): the next step, or the callback."""
        req = self.flow(request, site)
        if isinstance(req, Response):
            return req
        challenge, session = form.get("challenge", ""), form.get("session", "")
        username = form.get("username", "")
        again = signin.Step(challenge=challenge, session=session, username=username,
                            parameters=step_parameters(form))
        if challenge == "NEW_PASSWORD_REQUIRED":  # shown again with what was typed
            typed = {k.removeprefix("attr."): v for k, v in form.items() if k.startswith("attr.")}
            again = replace(again, parameters={**again.parameters, "userAttributes": json.dumps(typed)})
        try:
            if challenge == "MFA_SETUP":
                code = form.get("code", "").strip()
                if not code:
                    return self.setup_page(request, site, req, again, secret=form.get("secret", ""), status=400,
                                           error="Enter the code your authenticator app shows.")
                try:
                    session = signin.verify_token(self.engine, session, code)
                except (errors.CodeMismatchException, errors.EnableSoftwareTokenMFAException) as err:
                    return self.setup_page(request, site, req, again, secret=form.get("secret", ""), status=400,
                                           error=err.message)
                outcome = signin.answer(self.engine, req.pool_id, req.client_id, challenge, session, username, {})
            else:
                responses, problem = step_answer(challenge, form)
                if problem:
                    return self.next_step(request, site, req, again, error=problem, status=400)
                outcome = signin.answer(self.engine, req.pool_id, req.client_id, challenge, session, username,
                                        responses)
        except errors.NotAuthorizedException as err:
            # The step's session is spent or expired, or the user locked out: start over.
            return self.login_page(request, site, req, username=username, status=400, error=err.message)
        except errors.CognitoError as err:
            # A wrong code or a password the policy refuses: the same step again, the
            # session still good.
            return self.next_step(request, site, req, again, error=err.message, status=400)
        return self.next_step(request, site, req, outcome)

    # -- /logout, /error ---------------------------------------------------------------------

    def logout(self, request: Request, site: Site, form: None) -> Response:
        """§5.7: `logout_uri` exactly one of the client's LogoutURLs → there; `redirect_uri`
        with `response_type` → the sign-in form again; anything else → the /error page.
        The hosted session ends in every case."""
        params = request.query_params
        client_id = params.get("client_id") or ""
        target = self.logout_target(site, params)
        response = redirect(target or oauth.error_page(site.base, "logout", client_id or None))
        clear_cookie(response, request, SESSION_COOKIE, path=site.path)
        return response

    def logout_target(self, site: Site, params: Mapping[str, str]) -> str | None:
        pool_id = oauth.resolve_domain(self.engine, site.domain)
        client_id = params.get("client_id") or ""
        if pool_id is None or not client_id:
            return None
        with self.engine.store.transaction() as tx:
            client = tx.get_client(client_id)
        if client is None or client.pool_id != pool_id:
            return None
        logout_uri = params.get("logout_uri")
        if logout_uri:
            return logout_uri if logout_uri in (client.config.get("LogoutURLs") or ()) else None
        if params.get("redirect_uri") and params.get("response_type"):
            again = {k: params[k] for k in ("client_id", "redirect_uri", "response_type", "scope", "state")
                     if params.get(k)}
            return site.url("login", again)  # /login checks the rest (a registered callback, ...)
        return None

    def error(self, request: Request, site: Site, form: None) -> Response:
        code = request.query_params.get("error", "")
        code = code if _ERROR_CODE.fullmatch(code) else ""
        return self.render(request, site, "error.html", status=400, code=code, detail=ERROR_DETAILS.get(code))


# -- federation ------------------------------------------------------------------------------


def start_federation(pages: Hosted, request: Request, site: Site, req: oauth.AuthorizeRequest) -> Response | None:
    """The hook for federated sign-in: where the browser goes when the request names an
    identity provider other than the pool's own users (`identity_provider` other than
    COGNITO, or `idp_identifier`); None to sign in on these pages. The browser goes to
    the provider (`authflow.web.federation`), or back to the app with the error."""
    if req.idp_identifier is None and req.identity_provider in (None, "COGNITO"):
        return None
    from authflow.web import federation

    provider = req.identity_provider if req.identity_provider not in (None, "COGNITO") else None
    return federation.redirect_upstream(pages.ctx, request, req, provider, base=site.base)


# -- the UI customization (SetUICustomization) the pages carry -------------------------------

#: Where a domain's customization stylesheet and logo are served, under `/login` so that
#: a domain's own host (`DomainHosts`) serves them too, from the pages' origin: the CSP's
#: `style-src 'self'` and `img-src 'self'` allow them without any inline style.
BRANDING_PATH = "login/branding"


def customization_links(engine, site: Site, req: oauth.AuthorizeRequest | None) -> dict[str, str | None] | None:
    """The URLs of the stylesheet and logo the client's pages show, if it has a customization."""
    if req is None:
        return None
    record = branding.page_customization(engine, req.pool_id, req.client_id)
    if record is None:
        return None
    version = quote(record.body["CSSVersion"], safe="")
    prefix = f"{site.base}/{BRANDING_PATH}/{quote(record.name, safe='')}"
    links: dict[str, str | None] = {"css": f"{prefix}/style.css?v={version}", "logo": None}
    if record.body.get("Image"):
        links["logo"] = f"{prefix}/logo?v={version}"
    return links


def customization_asset(engine, domain: str, key: str, part: str) -> Response:
    record = branding.served_customization(engine, domain, key)
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'"}
    if record is not None and part == "style.css":
        return Response(branding_core.stylesheet(record.body.get("CSS") or ""), media_type="text/css",
                        headers=headers)
    found = branding_core.logo(record) if record is not None and part == "logo" else None
    if found is not None:
        return Response(found[0], media_type=found[1], headers=headers)
    return Response("Not found", status_code=404, media_type="text/plain", headers=headers)


def routes(ctx) -> list[BaseRoute]:
    pages = Hosted(ctx)

    async def asset(request: Request) -> Response:
        params = request.path_params
        return await run_in_threadpool(customization_asset, pages.engine, params["domain"], params["key"],
                                       params["part"])
    root = "/domains/{domain}"
    both = ["GET", "POST"]

    def pair(view):
        get, post = pages.guarded(view), pages.guarded(view, post=True)

        async def endpoint(request: Request) -> Response:
            return await (post if request.method == "POST" else get)(request)

        return endpoint

    def step_only(request: Request, site: Site, form: Mapping[str, str] | None) -> Response:
        if form is None:  # a step is reached only by its form (the Session is not in a URL)
            return redirect(site.url("login", request.url.query))
        return pages.step(request, site, form)

    return [
        Route(f"{root}/oauth2/authorize", pages.guarded(pages.authorize), methods=["GET"]),
        Route(f"{root}/login", pair(pages.login), methods=both),
        Route(f"{root}/{SCRIPT_PATH}", script, methods=["GET"]),
        Route(f"{root}/login/passkey/options", pages.guarded(pages.passkey_options, post=True), methods=["POST"]),
        Route(f"{root}/login/passkey", pair(pages.passkey_answer), methods=both),
        Route(f"{root}/{PASSKEYS_ADD}", pair(pages.passkeys_add), methods=both),
        Route(f"{root}/newPassword", pair(step_only), methods=both),
        Route(f"{root}/mfa", pair(step_only), methods=both),
        Route(f"{root}/signup", pair(pages.signup), methods=both),
        Route(f"{root}/confirmUser", pair(pages.confirm_user), methods=both),
        Route(f"{root}/forgotPassword", pair(pages.forgot), methods=both),
        Route(f"{root}/confirmforgotPassword", pair(pages.confirm_forgot), methods=both),
        Route(f"{root}/logout", pages.guarded(pages.logout), methods=["GET"]),
        Route(f"{root}/error", pages.guarded(pages.error), methods=["GET"]),
        Route(f"{root}/{BRANDING_PATH}/{{key}}/{{part}}", asset, methods=["GET"]),
    ]
