"""The laws of verification and reset codes: never stored in the clear, kept within their
lifetime and their number of wrong guesses, accepted only as the latest code of their
purpose sent to the user. Also what the caller's bookkeeping and the refusal law share
about codes: how a delivered message carries one (`codes_in`), and which operations
confirm one (`CODE_CONFIRMING`)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from authflow.core.attributes import is_true
from authflow.core.codes import LIFETIMES, MAX_ATTEMPTS
from authflow.core.records import User
from authflow.errors import CodeMismatchException
from authflow.invariants.reading import (
    access_owner,
    pool_of_request,
    stored_in,
    strings_in,
    written,
)
from authflow.invariants.records import Records
from authflow.invariants.step import Step

#: Operations that act on a pending code: operation -> (the code's purpose, or None when
#: the request names it as AttributeName; the request member carrying the code).
CODE_CONFIRMING = {
    "ConfirmSignUp": ("confirm_sign_up", "ConfirmationCode"),
    "ConfirmForgotPassword": ("reset_password", "ConfirmationCode"),
    "VerifyUserAttribute": (None, "Code"),
}
#: A code as a message carries it: six digits standing alone.
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
#: Attributes a code can verify.
_VERIFIABLE = ("email", "phone_number")


def codes_in(message: Any) -> list[str]:
    """The codes a delivered message carries, read from its text as its reader would."""
    return _CODE.findall(str(getattr(message, "body", "") or ""))


def _code_subject(step: Step, records: Records) -> tuple[str, str, User | None] | None:
    """(purpose, code presented, the user in `records` it is about) of a code-confirming
    request; None for any other request."""
    known = CODE_CONFIRMING.get(step.operation)
    if known is None:
        return None
    purpose, member = known
    code = str(step.request.get(member, ""))
    if purpose is None:  # VerifyUserAttribute: the caller is the access token's user
        owner = access_owner(step.request)
        return f"verify_{step.request.get('AttributeName')}", code, records.user_by_sub(*owner) if owner else None
    pool_id = pool_of_request(step)
    return purpose, code, records.user_named(pool_id, str(step.request.get("Username", ""))) if pool_id else None


def codes_never_stored(step: Step) -> str | None:
    """Codes are never stored in the clear: no stored string is a code the caller was
    sent (verification, reset or MFA) nor its unkeyed SHA-256, and no pending code or
    session keeps six bare digits where the code's keyed hash belongs."""
    for user in step.after.users:
        for purpose, pending in user.codes.items():
            if _CODE.fullmatch(pending.code_hash or ""):
                return f"{user.username!r}'s pending {purpose} code is stored as six bare digits"
    for session in step.after.sessions:
        if session.code_hash and _CODE.fullmatch(session.code_hash):
            return f"a {session.challenge} session stores its code as six bare digits"
    sent = {code for message in step.messages for code in codes_in(message)}
    sent |= {entry[3] for entry in step.history.sent_codes}
    if not sent:
        return None
    unkeyed = {hashlib.sha256(code.encode()).hexdigest() for code in sent}
    record = stored_in(written(step), sent | unkeyed)
    if record is not None:
        how = "in the clear" if not sent.isdisjoint(strings_in(record)) else "as its unkeyed SHA-256"
        return f"a code sent to the caller is stored {how} in a {type(record).__name__} record"
    return None


def codes_within_limits(step: Step) -> str | None:
    """Pending codes keep their limits: a code lives at most its purpose's lifetime and
    takes at most MAX_ATTEMPTS wrong guesses; a request counts at most one wrong guess,
    and only a code-confirming request refused for a wrong code counts one; a code is
    accepted only while live (pending, unexpired, with guesses left) and its acceptance
    uses it up."""
    for user in step.after.users:
        for purpose, pending in user.codes.items():
            if not 0 <= pending.attempts <= MAX_ATTEMPTS:
                return f"{user.username!r}'s {purpose} code has taken {pending.attempts} wrong guesses"
            lifetime = LIFETIMES.get(purpose)
            if pending.expires <= pending.issued or (lifetime is not None and pending.expires - pending.issued > lifetime):
                return f"{user.username!r}'s {purpose} code lives {pending.expires - pending.issued}"
    before = {(u.pool_id, u.sub): u for u in step.before.users}
    guesses = 0
    for user in step.after.users:
        old = before.get((user.pool_id, user.sub))
        for purpose, pending in user.codes.items():
            prior = old.codes.get(purpose) if old is not None else None
            if prior is None or (prior.code_hash, prior.issued) != (pending.code_hash, pending.issued):
                continue  # a new code
            if pending.attempts < prior.attempts:
                return f"{step.operation} forgot wrong guesses of {user.username!r}'s {purpose} code"
            guesses += pending.attempts - prior.attempts
    if guesses > 1:
        return f"one {step.operation} counted {guesses} wrong code guesses"
    if guesses and not (step.operation in CODE_CONFIRMING and isinstance(step.error, CodeMismatchException)):
        return f"{step.operation} counted a wrong code guess without refusing a code"
    subject = _code_subject(step, step.before) if step.ok else None
    if subject is None:
        return None
    purpose, _, user = subject
    if user is None:
        return f"{step.operation} succeeded for a user that does not exist"
    pending = user.codes.get(purpose)
    if pending is None:
        return f"{step.operation} accepted a {purpose} code of {user.username!r}, who had none pending"
    if step.now >= pending.expires:
        return f"{step.operation} accepted {user.username!r}'s {purpose} code after it expired"
    if pending.attempts >= MAX_ATTEMPTS:
        return f"{step.operation} accepted {user.username!r}'s {purpose} code after {pending.attempts} wrong guesses"
    after = step.after.user_by_sub(user.pool_id, user.sub)
    if after is not None and after.codes.get(purpose) == pending:
        return f"{step.operation} accepted {user.username!r}'s {purpose} code and left it pending"
    return None


def code_must_match(step: Step) -> str | None:
    """ConfirmSignUp, ConfirmForgotPassword and VerifyUserAttribute succeed only with the
    latest code of their purpose sent to that user, and an attribute such a request
    marks verified holds the value that code was sent to.

    Judged where the caller saw the code go out (its History): without the pool secret
    the store cannot tell a right code from a wrong one."""
    subject = _code_subject(step, step.before) if step.ok else None
    if subject is None or subject[2] is None:
        return None
    purpose, code, user = subject
    latest = step.history.latest_code(user.pool_id, user.sub, purpose)
    if latest is None:
        return None
    sent, destination = latest
    if code != sent:
        return f"{step.operation} accepted a code for {user.username!r} that is not the latest {purpose} code sent"
    after = step.after.user_by_sub(user.pool_id, user.sub)
    for attribute in _VERIFIABLE if after is not None else ():
        flag = f"{attribute}_verified"
        newly = is_true(after.attributes.get(flag)) and not is_true(user.attributes.get(flag))
        if newly and after.attributes.get(attribute) != destination:
            return (
                f"{step.operation} verified {user.username!r}'s {attribute} {after.attributes.get(attribute)!r} "
                f"with a code sent to {destination!r}"
            )
    return None
