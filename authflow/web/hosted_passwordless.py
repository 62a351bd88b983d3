"""The hosted pages' passwordless sign-in and passkey registration (mixed into
`authflow.web.hosted.Hosted`): the login page's "Sign in with a passkey", "Email me a
code" and "Text me a code", and /passkeys/add.

Theory of operation:

* The code buttons need no JavaScript: they submit the login form with `factor`
  EMAIL_OTP or SMS_OTP, which starts USER_AUTH with that PREFERRED_CHALLENGE
  (`hosted_sign_in.start_passwordless`); the code step is the same page as an MFA code
  (mfa_code.html) and is answered at /mfa like every step.
* The passkey button is `static/passkey.js` (served from the domain, `/login/passkey.js`):
  it posts the username and the page's CSRF token to `/login/passkey/options` (a JSON
  answer: the WEB_AUTHN step's Session and its PublicKeyCredentialRequestOptionsJSON),
  asks the browser for an assertion (`navigator.credentials.get`), and submits it with the
  Session and the CSRF token as an ordinary form to `/login/passkey`, which answers
  WEB_AUTHN in hosted mode and finishes as the password path does.
* A factor the user cannot use gives the API's SELECT_CHALLENGE; the page says so and
  names the AvailableChallenges, which is what the API tells any caller, no more (under
  PreventUserExistenceErrors an unknown name gets the pool's whole list there too).
* /passkeys/add (managed login's registration page, `?client_id=...&redirect_uri=...`)
  needs the hosted session; without one the browser signs in at /login first and comes
  back (`NEXT_PARAM`, a fixed value, never a URL). The page carries the
  CredentialCreationOptions of a fresh registration (`hosted_sign_in.passkey_registration`)
  in a data attribute; the script's RegistrationResponseJSON is posted back with the CSRF
  token; success goes to `redirect_uri` (a registered callback of the client, checked as
  every page checks it) or says "Passkey added"; a refusal is shown with a new
  registration to try again.
* Only these pages carry `security.SCRIPT_CSP` (scripts and fetches from this origin);
  every other page keeps the no-script policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.resources import files
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authflow import errors
from authflow.core.oauth import RESPONSE_TYPES
from authflow.service import hosted_sign_in as signin
from authflow.service import oauth
from authflow.web.hosted_forms import Refusal, Site, unavailable_message
from authflow.web.security import SCRIPT_CSP

#: The login query's marker that sends the browser back to /passkeys/add after signing in.
NEXT_PARAM = "authflow_next"
PASSKEYS_ADD = "passkeys/add"
SCRIPT_PATH = "login/passkey.js"
CODE_FACTORS = ("EMAIL_OTP", "SMS_OTP")


def script(request: Request) -> Response:
    body = files("authflow.web").joinpath("static/passkey.js").read_text(encoding="utf-8")
    return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-cache",
                                                                  "X-Content-Type-Options": "nosniff"})


def _json(body: Mapping[str, object], status: int = 200) -> Response:
    return JSONResponse(dict(body), status_code=status, headers={"Cache-Control": "no-store",
                                                                 "X-Content-Type-Options": "nosniff"})


class Passwordless:
    """The passwordless views of `Hosted` (which provides render, flow, finish, ...)."""

    def login_extras(self, site: Site, req: oauth.AuthorizeRequest) -> dict[str, object]:
        """What login.html needs for the passwordless buttons (and whether it runs a script)."""
        factors = signin.passwordless_factors(self.engine, req.pool_id)
        return {"passwordless": sorted(factors), "passkey_options_url": site.url("login/passkey/options", req.query),
                "passkey_url": site.url("login/passkey", req.query), "script": site.url(SCRIPT_PATH)}

    def code_sign_in(self, request: Request, site: Site, req: oauth.AuthorizeRequest, username: str,
                     factor: str) -> Response:
        """The login form's "Email me a code" / "Text me a code" (no JavaScript)."""
        if factor not in CODE_FACTORS or factor not in signin.passwordless_factors(self.engine, req.pool_id):
            return self.login_page(request, site, req, username=username, status=400,
                                   error="This way of signing in is not offered here.")
        if not username:
            return self.login_page(request, site, req, username=username, status=400, error="Enter your username.")
        try:
            outcome = signin.start_passwordless(self.engine, req.pool_id, req.client_id, username, factor)
        except errors.CognitoError as err:
            return self.login_page(request, site, req, username=username, status=400, error=err.message)
        if isinstance(outcome, signin.Step) and outcome.challenge == "SELECT_CHALLENGE":
            return self.login_page(request, site, req, username=username, status=400,
                                   error=unavailable_message(factor, outcome.available))
        return self.next_step(request, site, req, outcome)

    # -- the passkey sign-in -------------------------------------------------------------------

    def passkey_options(self, request: Request, site: Site, form: Mapping[str, str]) -> Response:
        """POST /login/passkey/options (JSON): the WEB_AUTHN step for the typed username."""
        req = self.flow(request, site)
        if isinstance(req, Response):
            return _json({"error": "This sign-in request is no longer valid. Start again from the app."}, 400)
        username = form.get("username", "").strip()
        if not username:
            return _json({"error": "Enter your username."}, 400)
        if "WEB_AUTHN" not in signin.passwordless_factors(self.engine, req.pool_id):
            return _json({"error": "Sign-in with a passkey is not offered here."}, 400)
        try:
            outcome = signin.start_passwordless(self.engine, req.pool_id, req.client_id, username, "WEB_AUTHN")
        except errors.CognitoError as err:
            return _json({"error": err.message}, 400)
        if not isinstance(outcome, signin.Step) or outcome.challenge != "WEB_AUTHN":
            available = outcome.available if isinstance(outcome, signin.Step) else ()
            return _json({"error": unavailable_message("WEB_AUTHN", available)}, 400)
        options = json.loads(outcome.parameters["CREDENTIAL_REQUEST_OPTIONS"])
        return _json({"session": outcome.session, "username": outcome.username, "options": options})

    def passkey_answer(self, request: Request, site: Site, form: Mapping[str, str] | None) -> Response:
        """POST /login/passkey: the browser's assertion answers WEB_AUTHN; then the callback."""
        from authflow.web.hosted import redirect

        if form is None:
            return redirect(site.url("login", request.url.query))
        req = self.flow(request, site)
        if isinstance(req, Response):
            return req
        session, username = form.get("session", ""), form.get("username", "")
        credential = form.get("credential", "")
        if not session or not username or not credential:
            return self.login_page(request, site, req, username=username, status=400,
                                   error="The passkey's answer did not arrive. Try again.")
        try:
            outcome = signin.answer(self.engine, req.pool_id, req.client_id, "WEB_AUTHN", session, username,
                                    {"CREDENTIAL": credential})
        except errors.CognitoError as err:
            return self.login_page(request, site, req, username=username, status=400, error=err.message)
        return self.next_step(request, site, req, outcome)

    # -- /passkeys/add ---------------------------------------------------------------------------

    def registration_request(self, request: Request, site: Site) -> oauth.AuthorizeRequest | Response:
        """/passkeys/add's client and redirect_uri, checked as an authorize request of that
        client is (the /error page for an unknown client or an unregistered URI)."""
        params = {k: request.query_params[k] for k in ("client_id", "redirect_uri") if request.query_params.get(k)}
        with self.engine.store.transaction() as tx:
            client = tx.get_client(params.get("client_id", "")) if params.get("client_id") else None
        flows = set(client.config.get("AllowedOAuthFlows") or ()) if client is not None else set()
        params["response_type"] = next((t for t, f in RESPONSE_TYPES.items() if f in flows), "code")
        checked = oauth.authorize(self.engine, site.domain, params, base=site.base)
        if isinstance(checked, oauth.AuthorizeRefusal):
            from authflow.web.hosted import redirect

            return redirect(checked.location if checked.to_error_page else
                            oauth.error_page(site.base, "invalid_request", params.get("client_id")))
        return checked

    def passkeys_add(self, request: Request, site: Site, form: Mapping[str, str] | None) -> Response:
        from authflow.web.hosted import redirect

        req = self.registration_request(request, site)
        if isinstance(req, Response):
            return req
        back = {k: request.query_params[k] for k in ("client_id", "redirect_uri") if request.query_params.get(k)}
        live = self.session_of(request, req)
        if live is None:
            if form is not None:  # the session ended between the page and its answer: nothing done
                raise Refusal(403, "Sign in first", "Your sign-in has ended. Sign in again to add a passkey.")
            login = dict(parse_qsl(req.query)) | {NEXT_PARAM: PASSKEYS_ADD}
            return redirect(site.url("login", urlencode(login)))
        sub = live[0]
        if form is None:
            return self.registration_page(request, site, req, sub, back)
        try:
            signin.add_passkey(self.engine, req.pool_id, req.client_id, sub, form.get("credential", ""))
        except errors.CognitoError as err:
            return self.registration_page(request, site, req, sub, back, error=err.message, status=400)
        if request.query_params.get("redirect_uri"):
            return redirect(req.redirect_uri)
        return self.render(request, site, "passkey_add.html", req=req, options=None, added=True,
                           notice="Passkey added.", action=site.url(PASSKEYS_ADD, back), script=site.url(SCRIPT_PATH),
                           headers={"Content-Security-Policy": SCRIPT_CSP})

    def registration_page(self, request: Request, site: Site, req: oauth.AuthorizeRequest, sub: str,
                          back: Mapping[str, str], *, error: str | None = None, status: int = 200) -> Response:
        try:
            options = json.dumps(signin.passkey_registration(self.engine, req.pool_id, req.client_id, sub),
                                 separators=(",", ":"))
        except errors.CognitoError as err:  # not enabled, no relying party, too many passkeys
            options, error, status = None, err.message, 400
        return self.render(request, site, "passkey_add.html", status=status, req=req, options=options, added=False,
                           error=error, action=site.url(PASSKEYS_ADD, back), script=site.url(SCRIPT_PATH),
                           headers={"Content-Security-Policy": SCRIPT_CSP})

    def after_sign_in(self, site: Site, req: oauth.AuthorizeRequest) -> str | None:
        """Where the browser goes after signing in instead of the callback: /passkeys/add
        when the sign-in began there; None otherwise."""
        params = dict(parse_qsl(req.query))
        if params.get(NEXT_PARAM) != PASSKEYS_ADD:
            return None
        return site.url(PASSKEYS_ADD, {k: params[k] for k in ("client_id", "redirect_uri") if params.get(k)})
