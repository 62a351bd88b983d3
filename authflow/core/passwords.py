"""Decisions of the password side of the user lifecycle: AdminSetUserPassword,
AdminResetUserPassword, ForgotPassword, ConfirmForgotPassword, AdminConfirmSignUp and
ChangePassword; and the access-token checks of DeleteUserAttributes.

Theory of operation: as in `authflow.core.users`, each operation checks what it can
against the pool alone first (`check_*`, cheap, before the service hashes anything),
then `decide_*` asks the lifecycle machine where the user goes and returns the
records to write. Password hashes and comparisons are slow and happen in the
service, outside any transaction; the decisions take their results as arguments.
A refused request raises a `CognitoError` before anything is written.

Reset codes (`authflow.core.codes`, purpose "reset_password") are issued by
AdminResetUserPassword and ForgotPassword, sent to the verified contact the pool's
AccountRecoverySetting picks, and used by ConfirmForgotPassword. Any new password
(also AdminSetUserPassword and ChangePassword) voids a pending reset code.
PreventUserExistenceErrors=ENABLED makes ForgotPassword answer for an unknown,
disabled or unrecoverable user with a simulated CodeDeliveryDetails (nothing sent,
nothing stored), and ConfirmForgotPassword with the wrong-code error.

Tokens: none of these operations revokes the user's tokens (Cognito does not
either; callers that want it sign the user out). Where the new status forbids
refreshing (FORCE_CHANGE_PASSWORD, RESET_REQUIRED) the refresh flow already refuses.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import auth, codes, identity
from authflow.core import client_config as cc
from authflow.core import pool_config as pc
from authflow.core.attributes import is_true
from authflow.core.effects import Decision
from authflow.core.lifecycle import IllegalTransition, user_lifecycle
from authflow.core.policy import check_password, policy_violation
from authflow.core.records import AppClient, Credential, User, UserPool
from authflow.errors import (
    CodeMismatchException,
    InvalidParameterException,
    LimitExceededException,
    NotAuthorizedException,
    PasswordResetRequiredException,
    UserNotConfirmedException,
    UserNotFoundException,
)

CANNOT_RESET = "User password cannot be reset in the current state."
CANNOT_CHANGE = "User password cannot be changed in the current state."
NO_RECOVERY_CONTACT = "Cannot reset password for the user as there is no registered/verified email or phone_number"
UNKNOWN_FOR_CLIENT = "Username/client id combination not found."
RESET = "reset_password"  # the purpose of reset codes
UNAUTHORIZED_ATTRIBUTE = "A client attempted to write unauthorized attribute"

#: AccountRecoverySetting mechanisms and the attribute each recovers through.
RECOVERY_ATTRIBUTES = {"verified_phone_number": "phone_number", "verified_email": "email"}
#: Without an AccountRecoverySetting Cognito's legacy order applies: phone, then email.
LEGACY_RECOVERY = ("verified_phone_number", "verified_email")


def _meets_policy(pool: UserPool, password: str) -> bool:
    return policy_violation(password, pc.password_policy(pool.config)) is None


def _with_password(
    pool: UserPool, user: User, status: str, *, password_hash: str, temporary: bool, now: datetime
) -> User:
    return replace(
        codes.consume(user, RESET),  # a new password voids (or uses up) a pending reset code
        status=status,
        credential=Credential(password_hash=password_hash, temporary=temporary, issued_at=now),
        # Which aliases a user holds depends on the status (preferred_username only once
        # CONFIRMED), so they follow it.
        aliases=identity.aliases_of(pool.config, user.attributes, status),
        modified=now,
        version=user.version + 1,
    )


# -- AdminSetUserPassword -----------------------------------------------------------------------


def check_admin_password(pool: UserPool, password: str) -> None:
    """The policy check of AdminSetUserPassword, in the admin wording."""
    check_password(password, pc.password_policy(pool.config), admin=True)


def decide_set_password(
    pool: UserPool, user: User, *, password: str, permanent: bool, password_hash: str, now: datetime
) -> Decision:
    """Permanent: CONFIRMED with this password. Otherwise FORCE_CHANGE_PASSWORD with it as
    the temporary password, whose validity window starts now."""
    check_admin_password(pool, password)
    trigger = "set_password" if permanent else "set_temporary_password"
    try:
        status = user_lifecycle().next_status(
            user.status, trigger, {"password_meets_policy": _meets_policy(pool, password)}
        )
    except IllegalTransition:
        raise NotAuthorizedException(CANNOT_RESET) from None
    updated = _with_password(pool, user, status, password_hash=password_hash, temporary=not permanent, now=now)
    return Decision(puts=(updated,))


# -- AdminResetUserPassword ---------------------------------------------------------------------


def recovery_attribute(pool: UserPool, user: User) -> str | None:
    """The verified attribute a reset code would go to (`email` / `phone_number`), by the
    pool's AccountRecoverySetting priority (`admin_only` offers none), or None."""
    setting = pool.config.get("AccountRecoverySetting") or {}
    mechanisms = setting.get("RecoveryMechanisms")
    if mechanisms:
        names = [m.get("Name") for m in sorted(mechanisms, key=lambda m: m.get("Priority", 0))]
    else:
        names = list(LEGACY_RECOVERY)
    for name in names:
        attribute = RECOVERY_ATTRIBUTES.get(name)
        if attribute and user.attributes.get(attribute) and is_true(user.attributes.get(f"{attribute}_verified")):
            return attribute
    return None


def _send_reset_code(
    pool: UserPool, user: User, attribute: str, *, code: str, pool_secret: bytes, now: datetime,
    limited: bool = False,
) -> tuple[User, Decision]:
    """The user holding a new reset code, and the message that carries it (`limited`:
    the user asked, so the hourly request limit applies)."""
    issued = codes.issue(user, RESET, code, pool_secret=pool_secret, now=now, attribute=attribute, limited=limited)
    destination = user.attributes[attribute]
    message = codes.verification_message(
        pool.config, attribute=attribute, destination=destination, code=code,
        kind="reset_code", username=user.username, pool_id=pool.id,
    )
    response = {"CodeDeliveryDetails": codes.delivery_details(attribute, destination)}
    return issued, Decision(messages=(message,), response=response)


def decide_reset_password(pool: UserPool, user: User, *, code: str, pool_secret: bytes, now: datetime) -> Decision:
    """RESET_REQUIRED: the password no longer signs in, and a reset code goes to the
    verified recovery contact (AdminResetUserPassword has no MessageAction: Cognito
    always sends it)."""
    try:
        status = user_lifecycle().next_status(user.status, "reset_password")
    except IllegalTransition:
        raise NotAuthorizedException(CANNOT_RESET) from None
    attribute = recovery_attribute(pool, user)
    if attribute is None:
        raise InvalidParameterException(NO_RECOVERY_CONTACT)
    issued, sent = _send_reset_code(pool, user, attribute, code=code, pool_secret=pool_secret, now=now)
    updated = replace(issued, status=status, modified=now, version=user.version + 1)
    return Decision(puts=(updated,), messages=sent.messages)


# -- ForgotPassword ------------------------------------------------------------------------------


def decide_forgot_password(
    pool: UserPool, client: AppClient, user: User | None, *, typed: str, code: str, pool_secret: bytes, now: datetime
) -> Decision:
    """A reset code to the user's verified recovery contact; the status stays. Under
    PreventUserExistenceErrors=ENABLED an unknown, disabled or unrecoverable user gets
    a simulated delivery instead of an error."""
    hide = cc.prevent_user_existence_errors(client.config)
    if user is None:
        if hide:
            return simulated_delivery(pool, typed, pool_secret)
        raise UserNotFoundException(UNKNOWN_FOR_CLIENT)
    if not user.enabled:
        if hide:
            return simulated_delivery(pool, typed, pool_secret)
        raise NotAuthorizedException(auth.DISABLED)
    attribute = recovery_attribute(pool, user)
    try:
        user_lifecycle().next_status(user.status, "forgot_password")
    except IllegalTransition:
        # An UNCONFIRMED user has verified nothing: Cognito answers with the missing contact.
        if user.status != "UNCONFIRMED":
            raise NotAuthorizedException(CANNOT_RESET) from None
        attribute = None
    if attribute is None:
        if hide:
            return simulated_delivery(pool, typed, pool_secret)
        raise InvalidParameterException(NO_RECOVERY_CONTACT)
    try:
        issued, sent = _send_reset_code(pool, user, attribute, code=code, pool_secret=pool_secret, now=now,
                                        limited=True)
    except LimitExceededException:
        if not hide:
            raise
        return quiet_delivery(user, attribute)
    return Decision(
        puts=(replace(issued, version=user.version + 1),), messages=sent.messages, response=sent.response
    )


def quiet_delivery(user: User, attribute: str) -> Decision:
    """Under PreventUserExistenceErrors=ENABLED, a request past the hourly code limit:
    an unknown name is never refused (nothing counts its requests), so a real user is
    not either. The answer is the delivery's own; nothing is sent or written."""
    return Decision(response={"CodeDeliveryDetails": codes.delivery_details(attribute, user.attributes[attribute])})


def simulated_delivery(pool: UserPool, typed: str, pool_secret: bytes) -> Decision:
    """A CodeDeliveryDetails that looks like a real one and is the same on every call
    for the same name: the typed email or phone number itself when it is one, else a
    destination derived from the name under the pool secret, by the pool's recovery
    order. Nothing is written and nothing is sent. The name as the pool keys it: in
    case-insensitive pools 'bob' and 'BOB' are one name, as they are one user."""
    typed = identity.username_key(pool.config, typed)
    if "@" in typed:
        return Decision(response={"CodeDeliveryDetails": codes.delivery_details("email", typed)})
    if typed.startswith("+") and typed[1:].isdigit():
        return Decision(response={"CodeDeliveryDetails": codes.delivery_details("phone_number", typed)})
    digest = hmac.new(pool_secret, f"simulated-delivery:{typed}".encode(), hashlib.sha256).digest()
    setting = pool.config.get("AccountRecoverySetting") or {}
    mechanisms = sorted(setting.get("RecoveryMechanisms") or [], key=lambda m: m.get("Priority", 0))
    names = [m.get("Name") for m in mechanisms] or list(LEGACY_RECOVERY)
    attribute = next((RECOVERY_ATTRIBUTES[n] for n in names if n in RECOVERY_ATTRIBUTES), "email")
    if attribute == "email":
        letters = "abcdefghijklmnopqrstuvwxyz"
        value = f"{letters[digest[0] % 26]}@{letters[digest[1] % 26]}"
    else:
        value = "+1" + "".join(str(b % 10) for b in digest[:10])
    return Decision(response={"CodeDeliveryDetails": codes.delivery_details(attribute, value)})


# -- ConfirmForgotPassword -----------------------------------------------------------------------


def check_confirm_forgot_password(
    pool: UserPool, client: AppClient, user: User | None, request: Mapping[str, Any], *,
    pool_secret: bytes, now: datetime,
) -> codes.CodeCheck:
    """Everything ConfirmForgotPassword checks before the new password is hashed: the
    new password's policy (first, so that it says nothing about the code), the user,
    and the code. Raises for what writes nothing; a wrong code comes back as a
    `CodeCheck` whose `counted` user the service writes before raising its error."""
    check_password(request["Password"], pc.password_policy(pool.config))
    hide = cc.prevent_user_existence_errors(client.config)
    if user is None:
        if hide:
            raise CodeMismatchException(codes.MISMATCH)
        raise UserNotFoundException(UNKNOWN_FOR_CLIENT)
    if not user.enabled:
        if hide:
            raise CodeMismatchException(codes.MISMATCH)
        raise NotAuthorizedException(auth.DISABLED)
    return codes.check(user, RESET, request["ConfirmationCode"], pool_secret=pool_secret, now=now)


def decide_confirm_forgot_password(
    pool: UserPool, user: User, *, password: str, password_hash: str, now: datetime
) -> Decision:
    """The new password for good, the code used up, the user CONFIRMED (from
    RESET_REQUIRED too). Called only after `check_confirm_forgot_password` passed."""
    try:
        status = user_lifecycle().next_status(
            user.status, "confirm_forgot_password", {"password_meets_policy": _meets_policy(pool, password)}
        )
    except IllegalTransition:
        if user.status == "UNCONFIRMED":
            raise UserNotConfirmedException("User is not confirmed.") from None
        raise NotAuthorizedException(CANNOT_RESET) from None
    updated = _with_password(pool, user, status, password_hash=password_hash, temporary=False, now=now)
    return Decision(puts=(updated,))


# -- AdminConfirmSignUp ------------------------------------------------------------------------------


def decide_admin_confirm(pool: UserPool, user: User, *, now: datetime) -> Decision:
    """UNCONFIRMED -> CONFIRMED; no attribute becomes verified."""
    try:
        status = user_lifecycle().next_status(user.status, "admin_confirm")
    except IllegalTransition:
        raise NotAuthorizedException(f"User cannot be confirmed. Current status is {user.status}") from None
    updated = replace(
        user,
        status=status,
        aliases=identity.aliases_of(pool.config, user.attributes, status),
        modified=now,
        version=user.version + 1,
    )
    return Decision(puts=(updated,))


# -- ChangePassword ----------------------------------------------------------------------------------


def check_change_password(pool: UserPool, user: User, request: Mapping[str, Any]) -> str:
    """Everything ChangePassword can refuse before the previous password is compared
    (so none of it counts toward the lockout): the status, the previous password's
    presence, the proposed password's policy. Returns the previous password."""
    try:
        user_lifecycle().next_status(user.status, "change_password", {"password_meets_policy": True})
    except IllegalTransition:
        if user.status == "UNCONFIRMED":
            raise UserNotConfirmedException("User is not confirmed.") from None
        if user.status == "RESET_REQUIRED":
            raise PasswordResetRequiredException("Password reset required for the user") from None
        raise NotAuthorizedException(CANNOT_CHANGE) from None
    previous = request.get("PreviousPassword")
    if not previous:
        raise InvalidParameterException("Missing required parameter PreviousPassword")
    check_password(request["ProposedPassword"], pc.password_policy(pool.config))
    return previous


def decide_change_password(
    pool: UserPool, user: User, *, proposed: str, password_hash: str, now: datetime
) -> User:
    """The user with the proposed password, for good (the previous one was right)."""
    status = user_lifecycle().next_status(
        user.status, "change_password", {"password_meets_policy": _meets_policy(pool, proposed)}
    )
    return _with_password(pool, user, status, password_hash=password_hash, temporary=False, now=now)


# -- DeleteUserAttributes ------------------------------------------------------------------------------


def check_client_may_delete(pool: UserPool, client: AppClient, names: Sequence[str]) -> None:
    """A client deletes only attributes it may write (the rest of the rules are
    AdminDeleteUserAttributes', `authflow.core.users.decide_delete_attributes`)."""
    writable = cc.writable_attributes(client.config, pool.config)
    schema = pc.schema(pool.config)
    # Names outside the schema get the schema's own error from the shared decision.
    if any(name in schema and name not in writable for name in names):
        raise NotAuthorizedException(UNAUTHORIZED_ATTRIBUTE)
