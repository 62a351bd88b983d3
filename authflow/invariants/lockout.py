"""The lockout law: failed-attempt counters follow Cognito's schedule (five free failures,
then 2^(n-5) seconds, at most 15 minutes), a step counts at most one failure, and while a
subject is locked its guesses are neither counted nor accepted."""

from __future__ import annotations

from datetime import datetime, timedelta

from authflow.core.lockout import FREE_FAILURES, IDLE_RESET, LOCKED_MESSAGE, MAX_LOCK
from authflow.core.records import FailedSignIns
from authflow.invariants.reading import (
    RESPOND,
    is_password_sign_in,
    is_srp_answer,
    signed_in_user,
    srp_user,
)
from authflow.invariants.step import Step

#: Challenges whose answer is a guessable secret, so the lockout applies to them. A
#: NEW_PASSWORD_REQUIRED answer is not one: its session already proved the password.
SECRET_ANSWERS = frozenset({"SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "PASSWORD_VERIFIER", "DEVICE_PASSWORD_VERIFIER"})


def _live_count(record: FailedSignIns | None, now: datetime) -> int:
    if record is None or now - record.last_attempt >= IDLE_RESET:
        return 0
    return record.count


def _locked(record: FailedSignIns | None, now: datetime) -> bool:
    return (
        record is not None
        and now - record.last_attempt < IDLE_RESET
        and record.locked_until is not None
        and now < record.locked_until
    )


def _schedule(count: int) -> timedelta:
    """Cognito's lock after the `count`-th failure, restated: 5 free, then 2^(n-5) s, at most 15 min."""
    if count < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(count - FREE_FAILURES, 30)), MAX_LOCK)


def lockout_within_schedule(step: Step) -> str | None:
    """Failed-attempt counters stay within the lockout schedule: a lock never outlasts
    2^(n-5) seconds (at most 15 minutes) after the n-th failure, there is no lock
    before the fifth failure, a step counts at most one failure, and while a subject
    is locked nothing is counted and no password or code (SECRET_ANSWERS) is accepted.

    Answering NEW_PASSWORD_REQUIRED while locked is no guess (the session already
    proved the password), so this law does not forbid it.
    """
    for record in step.after.failed_sign_ins:
        if record.count < 1:
            return f"counter {record.key} holds {record.count} failures"
        if (record.locked_until is None) != (record.count < FREE_FAILURES):
            return f"counter {record.key} has {record.count} failures but locked_until={record.locked_until}"
        if record.locked_until is not None and record.locked_until > record.last_attempt + _schedule(record.count):
            return f"counter {record.key} is locked longer than the schedule allows after {record.count} failures"
    before = {(r.pool_id, r.key): r for r in step.before.failed_sign_ins}
    for record in step.after.failed_sign_ins:
        old = before.get((record.pool_id, record.key))
        if record == old:
            continue
        if record.count > _live_count(old, step.now) + 1:
            return f"one {step.operation} counted {record.count - _live_count(old, step.now)} failures for {record.key}"
        if _locked(old, step.now) and record.count != old.count:
            return f"{step.operation} counted a failure for {record.key} while it was locked"
    guessing = is_password_sign_in(step) or (
        step.operation in RESPOND and step.request.get("ChallengeName") in SECRET_ANSWERS
    )
    if step.ok and guessing:
        user = signed_in_user(step, step.before)
        if user is None and is_srp_answer(step):
            user = srp_user(step, step.before)  # e.g. a custom flow's proof, answered with CUSTOM_CHALLENGE
        if user is None and step.operation in RESPOND:
            session = step.before.session(str(step.request.get("Session", "")))
            user = step.before.user_by_sub(session.pool_id, session.sub) if session else None
        if user is not None and _locked(before.get((user.pool_id, user.sub)), step.now):
            return f"{step.operation} succeeded for {user.username!r} while the user was locked out"
    if step.error is not None and step.error.message == LOCKED_MESSAGE:
        changed = [r for r in step.after.failed_sign_ins if before.get((r.pool_id, r.key), r).count != r.count]
        if changed:
            return "an attempt refused for a lockout was counted"
    return None
