"""The self-service half of the alphabet (`self_service=True`), for each universe user:
SignUp, ConfirmSignUp and ResendConfirmationCode, AdminConfirmSignUp, ForgotPassword and
ConfirmForgotPassword, the password administration, ChangePassword, the email's
verification and deletion, and DeleteUser, with the code the caller was sent or a wrong
one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authflow.explore.actions import Action, const, with_tokens
from authflow.explore.caller import Caller
from authflow.explore.universe import Universe


def self_service_actions(
    u: Universe, pool_id: str, client_id: str, base: Callable[[int], list[dict[str, str]]],
    with_email: Callable[[int, str, bool], list[dict[str, str]]],
) -> list[Action]:
    """The self-service half of the alphabet (`self_service=True`)."""
    actions: list[Action] = []
    for i in range(len(u.names)):
        actions.extend(_self_service_of(u, i, pool_id, client_id, base(i), [
            (email, with_email(i, email, False)) for email in u.emails
        ]))
    return actions


def _self_service_of(
    u: Universe, i: int, pool_id: str, client_id: str, own: list[dict[str, str]],
    shared: list[tuple[str, list[dict[str, str]]]],
) -> list[Action]:
    """User i's self-service requests (a function of its own, so that every request
    builder binds this user's values)."""
    name = u.names[i]
    by_client = {"ClientId": client_id, "Username": u.logins[i]}
    who = {"UserPoolId": pool_id, "Username": u.logins[i]}
    sign_up = {**by_client, "Password": u.new}
    actions = [Action(f"sign {name} up", const("sign_up", {**sign_up, "UserAttributes": own}))]
    for email, attributes in shared:  # the alias is claimed at confirmation, where it may clash
        actions.append(Action(f"sign {name} up with {email}", const("sign_up", {**sign_up, "UserAttributes": attributes})))
    for good in (True, False):
        actions.append(Action(
            f"confirm {name}'s sign-up" + ("" if good else " with a wrong code"),
            _with_code(i, "confirm_sign_up", good, lambda code: (
                "confirm_sign_up", {**by_client, "ConfirmationCode": code})),
        ))
    actions += [
        Action(f"resend {name}'s confirmation code", const("resend_confirmation_code", by_client)),
        Action(f"confirm {name} as an administrator", const("admin_confirm_sign_up", who)),
        Action(f"{name} forgot the password", const("forgot_password", by_client)),
    ]
    for good in (True, False):
        actions.append(Action(
            f"reset {name}'s password with {'the' if good else 'a wrong'} code",
            _with_code(i, "reset_password", good, lambda code: ("confirm_forgot_password", {
                **by_client, "ConfirmationCode": code, "Password": u.new,
            })),
        ))
    actions += [
        Action(f"reset {name}'s password as an administrator", const("admin_reset_user_password", who)),
        Action(f"set {name}'s password for good", const(
            "admin_set_user_password", {**who, "Password": u.new, "Permanent": True})),
        Action(f"give {name} a temporary password", const(
            "admin_set_user_password", {**who, "Password": u.temporary, "Permanent": False})),
        # ChangePassword keeps the password (the universe has no other good one): what it
        # changes is the credential, the lockout counter and any pending reset code.
        Action(f"{name} changes the password", with_tokens(i, lambda t: ("change_password", {
            "AccessToken": t.access, "PreviousPassword": u.new, "ProposedPassword": u.new,
        }))),
    ]
    if u.logins[i] == u.names[i]:  # email is an attribute, not the username
        actions.append(Action(f"{name} asks for an email code", with_tokens(i, lambda t: (
            "get_user_attribute_verification_code", {"AccessToken": t.access, "AttributeName": "email"}))))
        for good in (True, False):
            actions.append(Action(
                f"{name} verifies the email with {'the' if good else 'a wrong'} code",
                _with_code(i, "verify_email", good, lambda code: with_tokens(i, lambda t: (
                    "verify_user_attribute", {"AccessToken": t.access, "AttributeName": "email", "Code": code},
                ))),
            ))
        actions.append(Action(f"{name} deletes the email", with_tokens(i, lambda t: (
            "delete_user_attributes", {"AccessToken": t.access, "UserAttributeNames": ["email"]}))))
    actions.append(Action(f"{name} deletes the account", with_tokens(
        i, lambda t: ("delete_user", {"AccessToken": t.access}))))
    return actions


def _with_code(
    i: int, purpose: str, good: bool, make: Callable[[str], Any]
) -> Callable[[Caller], tuple[str, dict] | None]:
    """A request carrying user i's latest code of `purpose`, or a wrong one (a code that
    differs from it); None while the caller holds no such code. `make` may itself need
    more from the caller (an access token): it then returns a builder."""

    def build(caller: Caller) -> tuple[str, dict] | None:
        held = caller.code(i, purpose)
        if held is None:
            return None
        code = held.code if good else ("000000" if held.code != "000000" else "111111")
        made = make(code)
        return made(caller) if callable(made) else made

    return build
