"""The self-service pages of a domain: /signup and /confirmUser (SignUp, ConfirmSignUp),
/forgotPassword and /confirmforgotPassword (ForgotPassword, ConfirmForgotPassword).

Theory of operation: like the sign-in steps, these pages belong to an authorize request
(its query travels in every URL) and call the same operations as the JSON API, here
through `ctx.client` with the API's own shapes, so every rule and message is the API's.
The server is the caller: for a client with a secret it computes the SECRET_HASH itself.
After a confirmation or a new password the login form comes back with a notice. The
sign-up page links the app client's terms of use and privacy policy in the request's
`lang` (`authflow.service.terms.sign_up_terms`), as managed login does.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from authflow import errors
from authflow.service import hosted_sign_in as signin
from authflow.service import oauth
from authflow.service.terms import sign_up_terms
from authflow.web.hosted_forms import Refusal, Site, attribute_fields, username_label


class SelfService:
    """The self-service pages, mixed into `authflow.web.hosted.Hosted` (which gives
    `flow`, `render`, `login_page`, `ctx` and `engine`)."""

    # -- /signup, /confirmUser ---------------------------------------------------------------

    def signup(self, request: Request, site: Site, form: Mapping[str, str] | None) -> Response:
        req = self.flow(request, site)
        if isinstance(req, Response):
            return req
        facts = signin.pool_facts(self.engine, req.pool_id)
        if not facts.self_sign_up:
            raise Refusal(403, "Sign-up is not open", "Accounts of this app are created by its administrators.")
        values = {n: (form or {}).get(f"attr.{n}", "").strip() for n in facts.sign_up_attributes}
        username = (form or {}).get("username", "").strip()
        context = {"req": req, "username": username, "fields": attribute_fields(facts, values),
                   "username_label": username_label(facts),
                   "terms": sign_up_terms(self.engine, req.pool_id, req.client_id, req.lang)}
        if form is None:
            return self.render(request, site, "signup.html", **context)
        password = form.get("password", "")
        if not username or not password:
            return self.render(request, site, "signup.html", status=400, **context,
                               error="Enter a username and a password.")
        if password != form.get("confirm_password", ""):
            return self.render(request, site, "signup.html", status=400, **context, error="The passwords differ.")
        try:
            answer = self.ctx.client.sign_up(
                ClientId=req.client_id, Username=username, Password=password,
                UserAttributes=[{"Name": n, "Value": v} for n, v in values.items() if v],
                **self.secret_hash(req, username))
        except errors.CognitoError as err:
            return self.render(request, site, "signup.html", status=400, **context, error=err.message)
        if answer.get("UserConfirmed"):
            return self.login_page(request, site, req, username=username, notice="Your account is ready. Sign in.")
        return self.confirm_page(request, site, req, username=username,
                                 destination=(answer.get("CodeDeliveryDetails") or {}).get("Destination", ""))

    def confirm_page(self, request: Request, site: Site, req, *, username: str, destination: str = "",
                     error: str | None = None, status: int = 200) -> Response:
        return self.render(request, site, "confirm_user.html", status=status, req=req, username=username,
                           destination=destination, error=error)

    def confirm_user(self, request: Request, site: Site, form: Mapping[str, str] | None) -> Response:
        req = self.flow(request, site)
        if isinstance(req, Response):
            return req
        if form is None:
            return self.confirm_page(request, site, req, username="")
        username, code = form.get("username", "").strip(), form.get("code", "").strip()
        if not username or not code:
            return self.confirm_page(request, site, req, username=username, status=400,
                                     error="Enter your username and the code you were sent.")
        try:
            self.ctx.client.confirm_sign_up(ClientId=req.client_id, Username=username, ConfirmationCode=code,
                                            **self.secret_hash(req, username))
        except errors.CognitoError as err:
            return self.confirm_page(request, site, req, username=username, status=400, error=err.message)
        return self.login_page(request, site, req, username=username, notice="Your account is confirmed. Sign in.")

    # -- /forgotPassword, /confirmforgotPassword -----------------------------------------------

    def forgot(self, request: Request, site: Site, form: Mapping[str, str] | None) -> Response:
        req = self.flow(request, site)
        if isinstance(req, Response):
            return req
        username = (form or {}).get("username", "").strip()
        if form is None or not username:
            return self.render(request, site, "forgot_password.html", status=200 if form is None else 400, req=req,
                               username=username, error=None if form is None else "Enter your username.")
        try:
            answer = self.ctx.client.forgot_password(ClientId=req.client_id, Username=username,
                                                     **self.secret_hash(req, username))
        except errors.CognitoError as err:
            return self.render(request, site, "forgot_password.html", status=400, req=req, username=username,
                               error=err.message)
        return self.reset_page(request, site, req, username=username,
                               destination=(answer.get("CodeDeliveryDetails") or {}).get("Destination", ""))

    def reset_page(self, request: Request, site: Site, req, *, username: str, destination: str = "",
                   error: str | None = None, status: int = 200) -> Response:
        return self.render(request, site, "confirm_forgot_password.html", status=status, req=req, username=username,
                           destination=destination, error=error)

    def confirm_forgot(self, request: Request, site: Site, form: Mapping[str, str] | None) -> Response:
        req = self.flow(request, site)
        if isinstance(req, Response):
            return req
        if form is None:
            return self.reset_page(request, site, req, username="")
        username, code = form.get("username", "").strip(), form.get("code", "").strip()
        password = form.get("password", "")
        if not username or not code or not password:
            return self.reset_page(request, site, req, username=username, status=400,
                                   error="Enter your username, the code you were sent and a new password.")
        if password != form.get("confirm_password", ""):
            return self.reset_page(request, site, req, username=username, status=400, error="The passwords differ.")
        try:
            self.ctx.client.confirm_forgot_password(ClientId=req.client_id, Username=username, ConfirmationCode=code,
                                                    Password=password, **self.secret_hash(req, username))
        except errors.CognitoError as err:
            return self.reset_page(request, site, req, username=username, status=400, error=err.message)
        return self.login_page(request, site, req, username=username,
                               notice="Your password is changed. Sign in with the new one.")

    def secret_hash(self, req: oauth.AuthorizeRequest, username: str) -> dict[str, str]:
        value = signin.secret_hash(self.engine, req.client_id, username)
        return {"SecretHash": value} if value else {}
