"""The console's actions: each a POST form that makes one call of the boto3-named client,
so it runs the same service function as the JSON API.

Theory of operation: a form is turned into the call's parameters here and nowhere
else (`create_user_params`, `ACTIONS`); anything the form cannot say is refused as the
API would refuse it (`InvalidParameterException`) before any call. A call that succeeds
answers with a redirect to the page that shows its effect (POST-redirect-GET); one that
is refused re-renders the page it came from with the Cognito error (status 400) and,
for the create form, the values that were sent except the password. The service
guarantees a refused call changed nothing; the console adds no step of its own that
could half-apply.

Deleting a user takes two steps: the user page links to a confirmation page, whose
form carries `confirm=yes`; a delete post without it only shows that page again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from authflow import errors

#: The console's actions on one user: the client method, and the form fields it needs
#: besides the username (name in the form -> the call's parameter).
ACTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "reset-password": ("admin_reset_user_password", {}),
    "set-password": ("admin_set_user_password", {"password": "Password"}),
    "enable": ("admin_enable_user", {}),
    "disable": ("admin_disable_user", {}),
    "add-to-group": ("admin_add_user_to_group", {"group": "GroupName"}),
    "remove-from-group": ("admin_remove_user_from_group", {"group": "GroupName"}),
    "sign-out": ("admin_user_global_sign_out", {}),
    "delete": ("admin_delete_user", {}),
}
MESSAGE_ACTIONS = ("", "SUPPRESS", "RESEND")


def create_user_params(pool_id: str, form: Mapping[str, str]) -> dict[str, Any]:
    """AdminCreateUser's parameters from the create form: Username, the email and phone
    fields, extra attributes one `name=value` a line, an optional temporary password,
    the delivery mediums and the message action."""
    attributes = []
    for name in ("email", "phone_number"):
        value = form.get(name, "").strip()
        if value:
            attributes.append({"Name": name, "Value": value})
    for number, line in enumerate(form.get("attributes", "").splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise errors.InvalidParameterException(
                f"Line {number} of the attributes is not name=value: {line.strip()[:80]}")
        attributes.append({"Name": name.strip(), "Value": value.strip()})
    params: dict[str, Any] = {"UserPoolId": pool_id, "Username": form.get("username", "").strip()}
    if attributes:
        params["UserAttributes"] = attributes
    if form.get("temporary_password"):
        params["TemporaryPassword"] = form["temporary_password"]
    mediums = [m for m in ("EMAIL", "SMS") if form.get(f"medium_{m}")]
    if mediums:
        params["DesiredDeliveryMediums"] = mediums
    action = form.get("message_action", "")
    if action not in MESSAGE_ACTIONS:
        raise errors.InvalidParameterException(f"MessageAction must be one of SUPPRESS, RESEND (got {action[:20]!r}).")
    if action:
        params["MessageAction"] = action
    return params


def create_user(console) -> Callable[[Request, Mapping[str, str]], Response]:
    def view(request: Request, form: Mapping[str, str]) -> Response:
        pool_id = request.path_params["pool_id"]
        kept = {k: v for k, v in form.items() if k not in ("temporary_password", "_csrf")}
        try:
            params = create_user_params(pool_id, form)
            answer = console.client.admin_create_user(**params)
        except errors.CognitoError as err:
            return console.users(request, kept, error={"type": err.code, "message": err.message}, status=400)
        username = answer["User"]["Username"]
        return RedirectResponse(console.urls.user(pool_id, username, done="created"), status_code=303)

    return view


def user_action(console) -> Callable[[Request, Mapping[str, str]], Response]:
    def view(request: Request, form: Mapping[str, str]) -> Response:
        pool_id, action = request.path_params["pool_id"], request.path_params["action"]
        username = form.get("username", "")
        if action not in ACTIONS:
            return console.refusal(request, 404, "No such action", f"The console has no action {action[:40]!r}.")
        if action == "delete" and form.get("confirm") != "yes":
            return RedirectResponse(console.urls.confirm_delete(pool_id, username), status_code=303)
        method, fields = ACTIONS[action]
        params: dict[str, Any] = {"UserPoolId": pool_id, "Username": username}
        params.update({param: form.get(field, "") for field, param in fields.items()})
        if action == "set-password":
            params["Permanent"] = form.get("permanent") == "yes"
        try:
            getattr(console.client, method)(**params)
        except errors.CognitoError as err:
            return console.user(request, username=username, error={"type": err.code, "message": err.message},
                                status=400)
        if action == "delete":
            return RedirectResponse(console.urls.users(pool_id, done="delete"), status_code=303)
        return RedirectResponse(console.urls.user(pool_id, username, done=action), status_code=303)

    return view
