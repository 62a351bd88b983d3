"""Verification codes kept on the user: issuing, checking, consuming, rendering.

Theory of operation: a code is six digits from the entropy port (`new_code`), sent
once and never stored. The user record keeps, per purpose ("reset_password" now;
"confirm_sign_up", "verify_email", "verify_phone_number" later), a `PendingCode`:
the code's HMAC under the pool secret, bound to the purpose, the user's `sub` and the
issue instant (so a stored hash says nothing about any other code), its expiry, and
the wrong guesses it has taken. Issuing replaces any earlier code of that purpose.

`check` answers a guess with the error Cognito uses, in this order: no code, or an
expired one: ExpiredCodeException; a code that took `MAX_ATTEMPTS` wrong guesses:
LimitExceededException, even for the right code, until a new one is requested; a
wrong code: CodeMismatchException, and the record to write with the guess counted
(the only write a wrong guess leaves). A right code is consumed by the decision that
acts on it. Everything here is pure: time, randomness and the secret are arguments.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from authflow.core import pool_config as pc
from authflow.core.attributes import is_true
from authflow.core.auth import mask_email, mask_phone, new_code
from authflow.core.effects import Message
from authflow.core.records import CodeRequests, PendingCode, User
from authflow.errors import (
    CodeMismatchException,
    CognitoError,
    ExpiredCodeException,
    LimitExceededException,
)

__all__ = [
    "EXPIRED",
    "LIFETIMES",
    "VERIFIABLE",
    "MAX_ATTEMPTS",
    "MISMATCH",
    "TOO_MANY",
    "CodeCheck",
    "check",
    "code_hash",
    "consume",
    "counted_request",
    "delivery_details",
    "follow_attribute_changes",
    "held_updates",
    "issue",
    "issue_attribute_code",
    "mask_destination",
    "mask_email",
    "new_code",
    "verification_message",
    "verify_purpose",
]

MISMATCH = "Invalid verification code provided, please try again."
EXPIRED = "Invalid code provided, please request a code again."
TOO_MANY = "Attempt limit exceeded, please try after some time."

#: How long a code of each purpose works (Cognito's documented quotas: 1 hour for
#: ForgotPassword / AdminResetUserPassword codes, 24 hours for sign-up and attribute
#: verification codes).
LIFETIMES: dict[str, timedelta] = {
    "reset_password": timedelta(hours=1),
    "confirm_sign_up": timedelta(hours=24),
    "verify_email": timedelta(hours=24),
    "verify_phone_number": timedelta(hours=24),
}

#: Wrong guesses one code takes before it stops working (Cognito's per-user hourly
#: quota for ConfirmForgotPassword starts at 5).
MAX_ATTEMPTS = 5
#: Codes of one purpose a user may ask for per hour (ForgotPassword,
#: ResendConfirmationCode, GetUserAttributeVerificationCode: Cognito's per-user
#: hourly quota of 5). Every code brings MAX_ATTEMPTS fresh guesses, so this bounds
#: the guesses at a six-digit code to 25 an hour.
REQUEST_LIMIT = 5
REQUEST_WINDOW = timedelta(hours=1)

_MEDIUM = {"email": "EMAIL", "phone_number": "SMS"}


def code_hash(pool_secret: bytes, purpose: str, user: User, issued: datetime, code: str) -> str:
    """Keyed with the pool secret: six digits hashed without a key fall to a million guesses."""
    message = f"{purpose}:{user.sub}:{issued.isoformat()}:{code}".encode()
    return hmac.new(pool_secret, message, hashlib.sha256).hexdigest()


def issue(
    user: User, purpose: str, code: str, *, pool_secret: bytes, now: datetime, attribute: str | None = None,
    value: str | None = None, limited: bool = False,
) -> User:
    """The user holding a fresh code of `purpose` (replacing any earlier one); `value`
    is a held-back new value of `attribute` the code will verify. Requests are counted
    per hour, whatever became of the codes they brought; `limited` (the user's own
    requests, not an administrator's) refuses the one past REQUEST_LIMIT with
    LimitExceededException."""
    counted = counted_request(user, purpose, now)
    if limited and counted.count > REQUEST_LIMIT:
        raise LimitExceededException(TOO_MANY)
    pending = PendingCode(
        code_hash=code_hash(pool_secret, purpose, user, now, code),
        issued=now,
        expires=now + LIFETIMES[purpose],
        attribute=attribute,
        value=value,
    )
    return replace(user, codes={**user.codes, purpose: pending},
                   code_requests={**user.code_requests, purpose: counted})


def counted_request(user: User, purpose: str, now: datetime) -> CodeRequests:
    """The user's requests for codes of `purpose` in the current hour, this one included."""
    previous = user.code_requests.get(purpose)
    if previous is not None and now < previous.window_start + REQUEST_WINDOW:
        return replace(previous, count=previous.count + 1)
    return CodeRequests(window_start=now)


def consume(user: User, purpose: str) -> User:
    """The user without a code of `purpose` (used, or voided by a new password)."""
    if purpose not in user.codes:
        return user
    return replace(user, codes={k: v for k, v in user.codes.items() if k != purpose})


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeCheck:
    """The answer to one guess: `error` None means the code is right; otherwise
    `counted` is the user to write (the wrong guess counted) or None."""

    error: CognitoError | None = None
    counted: User | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def check(user: User, purpose: str, code: str, *, pool_secret: bytes, now: datetime) -> CodeCheck:
    """Is `code` the user's pending code of `purpose`? See the module notes for the order."""
    pending = user.codes.get(purpose)
    if pending is None or now >= pending.expires:
        return CodeCheck(error=ExpiredCodeException(EXPIRED))
    if pending.attempts >= MAX_ATTEMPTS:
        return CodeCheck(error=LimitExceededException(TOO_MANY))
    expected = code_hash(pool_secret, purpose, user, pending.issued, code)
    if hmac.compare_digest(expected.encode(), pending.code_hash.encode()):
        return CodeCheck()
    counted = replace(pending, attempts=pending.attempts + 1)
    return CodeCheck(
        error=CodeMismatchException(MISMATCH),
        counted=replace(user, codes={**user.codes, purpose: counted}, version=user.version + 1),
    )


# -- delivery ------------------------------------------------------------------------------------


def mask_destination(attribute: str, value: str) -> str:
    return mask_email(value) if attribute == "email" else mask_phone(value)


def delivery_details(attribute: str, value: str) -> dict[str, str]:
    """`CodeDeliveryDetails` as Cognito returns it."""
    return {
        "Destination": mask_destination(attribute, value),
        "DeliveryMedium": _MEDIUM[attribute],
        "AttributeName": attribute,
    }


def verification_message(
    config: Mapping, *, attribute: str, destination: str, code: str, kind: str, username: str, pool_id: str
) -> Message:
    """The pool's verification template (`VerificationMessageTemplate`, mirrored by the
    legacy `SmsVerificationMessage` / `EmailVerificationMessage` / `EmailVerificationSubject`)
    with `{####}` replaced by the code."""
    template = pc.verification_template(config)
    email = attribute == "email"
    text = template["EmailMessage"] if email else template["SmsMessage"]
    return Message(
        medium=_MEDIUM[attribute],
        destination=destination,
        subject=template["EmailSubject"] if email else None,
        body=text.replace("{####}", code),
        kind=kind,
        username=username,
        pool_id=pool_id,
        code=code,
    )


# -- attribute verification ----------------------------------------------------------------------

#: The attributes a code can verify, in the order codes go out when both change.
VERIFIABLE = ("phone_number", "email")


def verify_purpose(attribute: str) -> str:
    """The purpose of a code that verifies `attribute` ("verify_email", "verify_phone_number")."""
    return f"verify_{attribute}"


def issue_attribute_code(
    config: Mapping, pool_id: str, user: User, attribute: str, *, code: str, pool_secret: bytes, now: datetime,
    held: str | None = None, limited: bool = False,
) -> tuple[User, Message, dict[str, str]]:
    """The user holding a fresh verification code for its current `attribute` value,
    or for the `held` new value (AttributesRequireVerificationBeforeUpdate), replacing
    any earlier one; the message carrying it, and its CodeDeliveryDetails."""
    destination = held or user.attributes[attribute]
    issued = issue(
        user, verify_purpose(attribute), code, pool_secret=pool_secret, now=now, attribute=attribute, value=held,
        limited=limited,
    )
    message = verification_message(
        config, attribute=attribute, destination=destination, code=code,
        kind="verification_code", username=user.username, pool_id=pool_id,
    )
    return issued, message, delivery_details(attribute, destination)


def follow_attribute_changes(
    config: Mapping, pool_id: str, before: User, after: User, *, entropy: Any, pool_secret: bytes | None,
    now: datetime, limited: bool = False,
) -> tuple[User, tuple[Message, ...], list[dict[str, str]]]:
    """Pending verification codes follow the values they were sent to: a changed or
    removed email / phone number voids its pending code (it vouched for the old value);
    a changed value the pool auto-verifies and the update left unverified gets a new
    code (`limited`: counted against the user's hourly requests, as asking for it
    would be). Without `entropy` (or `pool_secret`) nothing is sent, codes are only
    voided. Returns the user, the messages to send after the commit and the deliveries."""
    auto = pc.auto_verified_attributes(config)
    user = after
    messages: list[Message] = []
    details: list[dict[str, str]] = []
    for attribute in VERIFIABLE:
        value = after.attributes.get(attribute)
        if before.attributes.get(attribute) == value:
            continue
        user = consume(user, verify_purpose(attribute))
        user = _unbound(user, attribute)
        if (
            value and attribute in auto and entropy is not None and pool_secret is not None
            and not is_true(after.attributes.get(f"{attribute}_verified"))
        ):
            user, message, delivery = issue_attribute_code(
                config, pool_id, user, attribute, code=new_code(entropy), pool_secret=pool_secret, now=now,
                limited=limited,
            )
            messages.append(message)
            details.append(delivery)
    return user, tuple(messages), details


def _unbound(user: User, attribute: str) -> User:
    """Codes of other purposes (a sign-up code) that went to `attribute`'s old value no
    longer vouch for it: they still do their work (confirming the user) but verify
    nothing, so a code sent to one address can never verify another."""
    codes = {
        purpose: replace(pending, attribute=None) if pending.attribute == attribute else pending
        for purpose, pending in user.codes.items()
    }
    return replace(user, codes=codes) if codes != user.codes else user


def held_updates(config: Mapping, user: User, writes: Mapping[str, str]) -> dict[str, str]:
    """The writes AttributesRequireVerificationBeforeUpdate holds back: a new, non-empty
    value of a listed attribute whose current value is verified, in a request that does
    not itself mark the new value verified. The verified value stays in force (and
    keeps its alias) until a code sent to the new one comes back."""
    held = {}
    for attribute in pc.attributes_require_verification_before_update(config):
        value = writes.get(attribute)
        if (
            value and value != user.attributes.get(attribute)
            and is_true(user.attributes.get(f"{attribute}_verified"))
            and not is_true(writes.get(f"{attribute}_verified"))
        ):
            held[attribute] = value
    return held
