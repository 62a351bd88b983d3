"""Decisions of the password side of the user lifecycle that need no verification
code: AdminSetUserPassword, AdminResetUserPassword, AdminConfirmSignUp and
ChangePassword; and the access-token checks of DeleteUserAttributes.

Theory of operation: as in `authflow.core.users`, each operation checks what it can
against the pool alone first (`check_*`, cheap, before the service hashes anything),
then `decide_*` asks the lifecycle machine where the user goes and returns the
records to write. Password hashes and comparisons are slow and happen in the
service, outside any transaction; the decisions take their results as arguments.
A refused request raises a `CognitoError` before anything is written.

Tokens: none of these operations revokes the user's tokens (Cognito does not
either; callers that want it sign the user out). Where the new status forbids
refreshing (FORCE_CHANGE_PASSWORD, RESET_REQUIRED) the refresh flow already refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import client_config as cc
from authflow.core import identity
from authflow.core import pool_config as pc
from authflow.core.effects import Decision
from authflow.core.lifecycle import IllegalTransition, user_lifecycle
from authflow.core.policy import check_password, policy_violation
from authflow.core.records import AppClient, Credential, User, UserPool
from authflow.errors import (
    InvalidParameterException,
    NotAuthorizedException,
    PasswordResetRequiredException,
    UserNotConfirmedException,
)

CANNOT_RESET = "User password cannot be reset in the current state."
CANNOT_CHANGE = "User password cannot be changed in the current state."
NO_RECOVERY_CONTACT = "Cannot reset password for the user as there is no registered/verified email or phone_number"
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
        user,
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
        if attribute and user.attributes.get(attribute) and user.attributes.get(f"{attribute}_verified") == "true":
            return attribute
    return None


def decide_reset_password(pool: UserPool, user: User, *, now: datetime) -> Decision:
    """RESET_REQUIRED: the password no longer signs in. (The code that lets the user
    choose a new one is not sent yet: see issue 8.)"""
    try:
        status = user_lifecycle().next_status(user.status, "reset_password")
    except IllegalTransition:
        raise NotAuthorizedException(CANNOT_RESET) from None
    if recovery_attribute(pool, user) is None:
        raise InvalidParameterException(NO_RECOVERY_CONTACT)
    updated = replace(user, status=status, modified=now, version=user.version + 1)
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
