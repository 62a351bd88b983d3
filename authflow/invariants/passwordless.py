"""The laws of passwordless sign-in (USER_AUTH with EMAIL_OTP, SMS_OTP or WEB_AUTHN as the
first factor) and of the passkeys it signs in with: a deleted or never-registered passkey
never signs in; a one-time code is accepted at most once, only the one sent for its session,
and only within the session's life (the app client's AuthSessionValidity, 3 minutes by
default); a passkey's stored sign count only grows, and a sign-in with it moves it to the
assertion's counter (unless authenticator and store both keep none); tokens after a
passwordless first factor come without an MFA step, whatever MFA the user has.

What the caller saw is `History.passkeys_registered` / `passkeys_deleted` (a
CompleteWebAuthnRegistration or DeleteWebAuthnCredential that succeeded, a deleted user's
passkeys) and `History.otp_sent` / `otp_accepted` (the codes of first-factor sessions as the
delivered message carried them, when, and which the caller saw accepted); the records
(PoolResources of kind "webauthn_credential", named `<sub>:<CredentialId>`, body
`SignCount`) are read too, so that either side's slip is seen. The counter is read from the
assertion's authenticator data (WebAuthn §6.1), not from the engine.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from datetime import datetime, timedelta
from typing import Any

from authflow.core.auth import session_id
from authflow.invariants.reading import INITIATE, RESPOND, access_owner, challenge_responses
from authflow.invariants.records import Records
from authflow.invariants.step import History, Step

#: The PoolResource kind of a passkey (named again: the laws do not import the engine's rules).
CREDENTIAL = "webauthn_credential"
OTP_ANSWERS = {"EMAIL_OTP": "EMAIL_OTP_CODE", "SMS_OTP": "SMS_OTP_CODE"}
MFA_CHALLENGES = frozenset({"SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "SELECT_MFA_TYPE", "MFA_SETUP"})
_CODE = re.compile(r"\b\d{6,8}\b")
_DEFAULT_SESSION_MINUTES = 3


def _b64(text: Any) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(str(text) + "=" * (-len(str(text)) % 4))
    except (binascii.Error, ValueError):
        return None


def presented_credential(step: Step) -> dict[str, Any] | None:
    """The AuthenticationResponseJSON a WEB_AUTHN answer carries (CREDENTIAL), if readable."""
    if step.operation not in RESPOND or step.request.get("ChallengeName") != "WEB_AUTHN":
        return None
    given = challenge_responses(step).get("CREDENTIAL")
    try:
        credential = json.loads(given) if isinstance(given, str) else given
    except ValueError:
        return None
    return credential if isinstance(credential, dict) else None


def assertion_counter(credential: dict[str, Any]) -> int | None:
    """The signCount of the assertion's authenticator data (bytes 33-36, big-endian)."""
    data = _b64((credential.get("response") or {}).get("authenticatorData", ""))
    return int.from_bytes(data[33:37], "big") if data is not None and len(data) >= 37 else None


def passkey_record(records: Records, pool_id: str, sub: str, credential_id: str):
    return records.resource(pool_id, CREDENTIAL, f"{sub}:{credential_id}")


def _session_owner(step: Step) -> tuple[str, str] | None:
    session = step.request.get("Session")
    record = step.before.session(session) if isinstance(session, str) else None
    return (record.pool_id, record.sub) if record is not None and record.sub else None


def _accepted(step: Step) -> bool:
    return step.ok and step.operation in RESPOND


def deleted_passkey_never_signs_in(step: Step) -> str | None:
    """A WEB_AUTHN answer succeeds only with a passkey the caller saw registered for the
    session's user, that the store holds for that user, and that the caller has not seen
    deleted (DeleteWebAuthnCredential, or its user deleted)."""
    credential = presented_credential(step) if _accepted(step) else None
    owner = _session_owner(step) if credential is not None else None
    if owner is None:
        return None
    cid = str(credential.get("id") or credential.get("rawId") or "")
    pool_id, sub = owner
    if (pool_id, cid) in step.history.passkeys_deleted:
        return f"the passkey {cid[:12]}..., which the caller deleted, signed in"
    if passkey_record(step.before, pool_id, sub, cid) is None:
        return f"the passkey {cid[:12]}..., which the store does not hold for the user, signed in"
    if (pool_id, sub, cid) not in step.history.passkeys_registered:
        return f"the passkey {cid[:12]}..., never registered for the user, signed in"
    return None


def _validity(records: Records, client_id: Any) -> timedelta:
    client = records.client(client_id)
    minutes = (client.config.get("AuthSessionValidity") if client is not None else None) or _DEFAULT_SESSION_MINUTES
    return timedelta(minutes=int(minutes))


def otp_accepted_once_within_its_session_life(step: Step) -> str | None:
    """An EMAIL_OTP or SMS_OTP answer to a first-factor (USER_AUTH) session succeeds only with
    the code sent for that session, only once, and only before AuthSessionValidity (of the
    app client, 3 minutes by default) has passed since the code was sent."""
    name = step.request.get("ChallengeName")
    session = step.request.get("Session")
    if not _accepted(step) or name not in OTP_ANSWERS or not isinstance(session, str):
        return None
    sid = session_id(session)
    sent = [(code, at) for s, code, at in step.history.otp_sent if s == sid]
    if not sent:
        return None  # not a first-factor session the caller began (e-mail MFA is codes_* and sign_in's)
    code, at = sent[0]
    if sid in step.history.otp_accepted:
        return f"a {name} code was accepted a second time in its session"
    if challenge_responses(step).get(OTP_ANSWERS[name]) != code:
        return f"a {name} answer that is not the code sent for its session was accepted"
    life = _validity(step.before, step.request.get("ClientId"))
    if step.now >= at + life:
        late = (step.now - at).total_seconds()
        return f"a {name} code was accepted {late:g} s after it was sent (AuthSessionValidity {life.seconds // 60} min)"
    return None


def passkey_sign_count_only_grows(step: Step) -> str | None:
    """No step lowers a passkey's stored sign count; a WEB_AUTHN sign-in moves it to the
    assertion's counter, which must exceed the stored one, unless both are zero (an
    authenticator that keeps no counter)."""
    after = {(r.pool_id, r.name): r for r in step.after.resources if r.kind == CREDENTIAL}
    for r in step.before.resources:
        later = after.get((r.pool_id, r.name)) if r.kind == CREDENTIAL else None
        if later is not None and int(later.body.get("SignCount", 0)) < int(r.body.get("SignCount", 0)):
            return f"a passkey's sign count went back from {r.body.get('SignCount')} to {later.body.get('SignCount')}"
    credential = presented_credential(step) if _accepted(step) else None
    owner = _session_owner(step) if credential is not None else None
    counter = assertion_counter(credential) if owner is not None else None
    if counter is None:
        return None
    cid = str(credential.get("id") or credential.get("rawId") or "")
    before, later = passkey_record(step.before, *owner, cid), passkey_record(step.after, *owner, cid)
    if before is None or later is None:
        return None  # deleted_passkey_never_signs_in's concern
    stored, now_stored = int(before.body.get("SignCount", 0)), int(later.body.get("SignCount", 0))
    if counter == 0 and stored == 0:
        return None
    if counter <= stored:
        return f"an assertion with counter {counter} signed in although the stored count was {stored}"
    if now_stored != counter:
        return f"a sign-in with counter {counter} left the stored count at {now_stored}"
    return None


def passwordless_first_factor(step: Step) -> bool:
    """Whether a step answers a passwordless first factor: WEB_AUTHN, or the code of an
    EMAIL_OTP / SMS_OTP session the caller began with USER_AUTH (not e-mail MFA)."""
    if step.operation not in RESPOND:
        return False
    name, session = step.request.get("ChallengeName"), step.request.get("Session")
    return name == "WEB_AUTHN" or (name in OTP_ANSWERS and isinstance(session, str)
                                   and any(s == session_id(session) for s, _, _ in step.history.otp_sent))


def passwordless_sign_in_needs_no_mfa(step: Step) -> str | None:
    """A passwordless first factor that succeeds (a WEB_AUTHN answer, or the code of a
    first-factor EMAIL_OTP / SMS_OTP session) is a whole sign-in: tokens (or a device
    challenge), never an MFA challenge, whatever MFA the user has."""
    if not _accepted(step) or not passwordless_first_factor(step):
        return None
    asked = (step.response or {}).get("ChallengeName")
    if asked in MFA_CHALLENGES:
        return f"a {step.request.get('ChallengeName')} first factor was followed by the MFA challenge {asked}"
    return None


# -- what the caller learns --------------------------------------------------------------------------


def _sent_code(step: Step) -> str | None:
    for message in step.messages:
        found = _CODE.search(str(getattr(message, "body", "")))
        if found:
            return found.group()
    return None


def learned(history: History, step: Step) -> History:
    """What a step taught the caller about passwordless sign-in: the code each first-factor
    session was sent (and when), the sessions whose code it saw accepted, the passkeys it
    registered and deleted (a deleted user's too)."""
    if not step.ok:
        return history
    request, response = step.request, step.response or {}
    if (step.operation in INITIATE and request.get("AuthFlow") == "USER_AUTH"
            and response.get("ChallengeName") in OTP_ANSWERS and response.get("Session")):
        code = _sent_code(step)
        if code is not None:
            entry = (session_id(response["Session"]), code, step.now)
            history = dataclasses.replace(history, otp_sent=history.otp_sent | {entry})
    elif step.operation in RESPOND and request.get("ChallengeName") in OTP_ANSWERS:
        session = request.get("Session")
        if isinstance(session, str) and any(s == session_id(session) for s, _, _ in history.otp_sent):
            history = dataclasses.replace(history, otp_accepted=history.otp_accepted | {session_id(session)})
    elif step.operation == "CompleteWebAuthnRegistration":
        owner, credential = access_owner(request), request.get("Credential")
        if isinstance(credential, str):
            credential = json.loads(credential)
        if owner and isinstance(credential, dict) and credential.get("id"):
            cid = str(credential["id"])
            history = dataclasses.replace(
                history, passkeys_registered=history.passkeys_registered | {(*owner, cid)},
                passkeys_deleted=history.passkeys_deleted - {(owner[0], cid)})
    elif step.operation == "DeleteWebAuthnCredential":
        owner = access_owner(request)
        if owner:
            history = dataclasses.replace(
                history, passkeys_deleted=history.passkeys_deleted | {(owner[0], str(request.get("CredentialId")))})
    elif step.operation in ("AdminDeleteUser", "DeleteUser"):
        if step.operation == "DeleteUser":
            owner = access_owner(request)
        else:
            user = step.before.user_named(str(request.get("UserPoolId")), str(request.get("Username")))
            owner = (user.pool_id, user.sub) if user is not None else None
        gone = {(p, cid) for p, sub, cid in history.passkeys_registered if (p, sub) == owner}
        if gone:
            history = dataclasses.replace(history, passkeys_deleted=history.passkeys_deleted | gone)
    return history


def sent_at(history: History, session: str) -> datetime | None:
    """When the caller was sent the code of the first-factor session `session`."""
    sid = session_id(session)
    return next((at for s, _, at in history.otp_sent if s == sid), None)
