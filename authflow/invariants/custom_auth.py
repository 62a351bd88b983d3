"""The laws of CUSTOM_AUTH and of the simulated challenges of names no user has: what a
custom session remembers between rounds is stored only sealed, no ANSWER is ever stored,
and a name no user has never signs in."""

from __future__ import annotations

import base64
import binascii
import json

from authflow.core.records import AuthSession
from authflow.invariants.reading import (
    INITIATE,
    RESPOND,
    SUBSTRING_MIN,
    challenge_responses,
    is_srp_answer,
    pool_of_request,
    srp_user,
    stored_in,
    written,
)
from authflow.invariants.step import Step

#: Flows that give a name no user has a simulated challenge (PreventUserExistenceErrors=ENABLED).
SIMULATING_FLOWS = frozenset({"CUSTOM_AUTH", "USER_SRP_AUTH"})


def _readable(progress: str) -> bool:
    """Whether a stored `progress` can be read without the key: JSON as it is, or JSON
    (or anything naming `private`) behind base64. AES-GCM output is neither."""
    candidates: list[bytes] = [progress.encode()]
    try:
        candidates.append(base64.b64decode(progress, validate=True))
    except (binascii.Error, ValueError):
        pass
    for raw in candidates:
        if b'"private"' in raw:
            return True
        try:
            if isinstance(json.loads(raw), dict | list):
                return True
        except ValueError:
            continue
    return False


#: What a USER_AUTH session keeps in the clear (authflow.core.user_auth): the factors offered,
#: whether it is a first factor, the WebAuthn challenge the caller was sent, a stage. Nothing
#: secret, so not what this law seals; anything more in it is still judged.
_USER_AUTH_KEYS = frozenset({"flow", "offered", "first", "webauthn", "stage"})


def _public_user_auth(progress: str) -> bool:
    try:
        doc = json.loads(progress)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("flow") == "USER_AUTH" and set(doc) <= _USER_AUTH_KEYS


def custom_answers(step: Step) -> set[str]:
    """The ANSWER a request sends to a CUSTOM_CHALLENGE, if it is one."""
    if step.operation in RESPOND and step.request.get("ChallengeName") == "CUSTOM_CHALLENGE":
        answer = challenge_responses(step).get("ANSWER")
        if isinstance(answer, str) and answer:
            return {answer}
    return set()


def custom_challenge_secrets_sealed(step: Step) -> str | None:
    """What a CUSTOM_CHALLENGE session remembers between rounds (the rounds, the private
    challenge parameters, which are the answers, and the challenge metadata) is stored
    only sealed: a session's `progress` is never readable JSON, in the clear or behind
    base64; and no ANSWER the caller ever sent to a custom challenge is stored anywhere
    (values of 8 characters or more are searched as substrings, shorter ones must not
    be a whole stored string)."""
    for record in written(step):
        if isinstance(record, AuthSession) and record.progress is not None and _readable(record.progress) \
                and not _public_user_auth(record.progress):
            return f"a {record.challenge} session stores its progress (private challenge parameters) readably"
    answers = set(step.history.custom_answers) | custom_answers(step)
    if not answers:
        return None
    long = [a for a in answers if len(a) >= SUBSTRING_MIN]
    short = {a for a in answers if len(a) < SUBSTRING_MIN}
    record = stored_in(written(step), short, long)
    if record is not None:
        return f"an ANSWER to a custom challenge is stored in a {type(record).__name__} record"
    return None


def unknown_users_never_sign_in(step: Step) -> str | None:
    """A name no user has never signs in: under PreventUserExistenceErrors=ENABLED,
    CUSTOM_AUTH and USER_SRP_AUTH give it simulated challenges (CUSTOM_CHALLENGE,
    PASSWORD_VERIFIER) and nothing else; a simulated custom session (one that names no
    user) only ever leads to another CUSTOM_CHALLENGE; and a PASSWORD_VERIFIER answer
    for a name no user has never succeeds, whatever the custom functions say."""
    if not step.ok:
        return None
    response = step.response or {}
    pool_id = pool_of_request(step)
    if step.operation in INITIATE and step.request.get("AuthFlow") in SIMULATING_FLOWS and pool_id:
        name = str((step.request.get("AuthParameters") or {}).get("USERNAME", ""))
        if step.before.user_named(pool_id, name) is None:
            got = "tokens" if response.get("AuthenticationResult") else response.get("ChallengeName")
            if got not in ("CUSTOM_CHALLENGE", "PASSWORD_VERIFIER"):
                return f"{step.request['AuthFlow']} for {name!r}, whom no user has, gave {got}"
        return None
    if step.operation not in RESPOND:
        return None
    if is_srp_answer(step):
        if srp_user(step, step.before) is None:
            return f"a PASSWORD_VERIFIER answer for {challenge_responses(step).get('USERNAME')!r}, whom no user has, succeeded"
        return None
    record = step.before.session(step.request["Session"]) if isinstance(step.request.get("Session"), str) else None
    if record is not None and record.challenge == "CUSTOM_CHALLENGE" and not record.sub:
        got = "tokens" if response.get("AuthenticationResult") else response.get("ChallengeName")
        if got != "CUSTOM_CHALLENGE":
            return f"a simulated custom session of {record.typed_username!r}, whom no user has, led to {got}"
    return None
