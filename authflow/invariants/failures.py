"""The laws of failing requests: a refused request changes nothing (but the failed-sign-in
counters, a counted wrong code guess, and the custom-flow attempt a refused answer ends),
and no request ends in an internal error."""

from __future__ import annotations

import dataclasses

from authflow.core.auth import session_id
from authflow.errors import CodeDeliveryFailureException, CodeMismatchException
from authflow.invariants.codes import CODE_CONFIRMING
from authflow.invariants.reading import RESPOND, challenge_responses, claim_block_id
from authflow.invariants.records import Records
from authflow.invariants.rotation import reuse_revokes
from authflow.invariants.step import Step


def _ended_by_answer(step: Step) -> str | None:
    """The id of the session a custom-flow answer may end when refused: the answered
    CUSTOM_CHALLENGE session, or the used record of the PASSWORD_VERIFIER block."""
    if step.operation not in RESPOND:
        return None
    name = step.request.get("ChallengeName")
    if name == "CUSTOM_CHALLENGE" and isinstance(step.request.get("Session"), str):
        return session_id(step.request["Session"])
    block = claim_block_id(challenge_responses(step).get("PASSWORD_CLAIM_SECRET_BLOCK"))
    if name == "PASSWORD_VERIFIER" and block:
        return block
    return None


def refusal_changes_nothing(step: Step) -> str | None:
    """A refused operation changes nothing: after a CognitoError the store holds what
    it held before (records and indexes), failed-sign-in counters excepted, and the
    wrong guess a refused code-confirming request counts on the pending code.

    CodeDeliveryFailureException is reported after the commit (the message could not
    be delivered; the operation stands), as on Cognito. A refused answer to a custom
    challenge may end the attempt it answered: the CUSTOM_CHALLENGE session, or the
    SECRET_BLOCK of a custom flow's right SRP proof, is then marked used (Define
    failed the attempt, or the user's status refused the sign-in at its end), so that
    the same round cannot be answered again. A reuse of a rotated-out refresh token past
    its grace period (RefreshTokenReuseException) may revoke that token's family, and
    nothing else.
    """
    if step.error is None or isinstance(step.error, CodeDeliveryFailureException):
        return None
    before, after = step.before.without_lockout(), step.after.without_lockout()
    if step.operation in CODE_CONFIRMING and isinstance(step.error, CodeMismatchException):
        # How much may be counted is codes_within_limits' concern.
        before, after = before.without_code_attempts(), after.without_code_attempts()
    ended = _ended_by_answer(step)
    if ended is not None:
        kept = after.session_by_id(ended)
        if kept is not None and kept != before.session_by_id(ended):
            if not kept.used:
                return f"{step.operation} was refused ({step.error.code}) but left its session changed and usable"
            before, after = before.without_session(ended), after.without_session(ended)
    family = reuse_revokes(step)
    if family is not None:
        before, after = _family_unrevoked(before, family), _family_unrevoked(after, family)
    if before == after:
        return None
    changed = [f.name for f in dataclasses.fields(Records) if getattr(before, f.name) != getattr(after, f.name)]
    return f"{step.operation} was refused ({step.error.code}) but changed the store's {', '.join(changed)}"


def _family_unrevoked(records: Records, origin: str) -> Records:
    """`records` with the family `origin` not revoked (and its version erased)."""
    tokens = tuple(dataclasses.replace(t, revoked=False, version=0) if t.origin_jti == origin else t
                   for t in records.refresh_tokens)
    return dataclasses.replace(records, refresh_tokens=tokens)


def no_internal_error(step: Step) -> str | None:
    """No request ends in InternalErrorException: every failure is a Cognito error the
    caller can act on."""
    if step.error is not None and step.error.code in ("InternalErrorException", "InternalServerException"):
        return f"{step.operation} failed with {step.error.code}: {step.error.message}"
    return None
