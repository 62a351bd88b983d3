"""The MFA answers beyond SMS: RespondToAuthChallenge / AdminRespondToAuthChallenge for
SOFTWARE_TOKEN_MFA (a code of the user's authenticator), SELECT_MFA_TYPE (the factor the
user picks) and MFA_SETUP (the Session of a successful VerifySoftwareToken).

Theory of operation: each answer is checked and written in one transaction, as the
SMS_MFA answer is (`authflow.service.auth.answer_code_mfa`): a wrong TOTP code counts
against the lockout schedule like a wrong password and leaves the session usable until
it expires; the time step of a right code is stored with the token, so no code signs in
twice. The next step is the auth-session machine's answer, through the shared
`after_step` (tokens, a device's SRP, or the chosen factor's challenge).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import auth, lockout
from authflow.core import mfa as core
from authflow.errors import CognitoError, NotAuthorizedException, SoftwareTokenMFANotFoundException
from authflow.service import devices
from authflow.service.auth import after_step, conclude, open_session
from authflow.service.engine import Engine
from authflow.service.mfa import open_secret, setup_progress


def answer_software_token(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool = False) -> dict[str, Any]:
    now = engine.now()
    error: CognitoError | None = None
    response: dict[str, Any] = {}
    messages = ()
    with engine.store.transaction() as tx:
        pool, client, record, user, responses = open_session(engine, tx, request, admin, now, hosted=hosted)
        auth.check_sign_in_still_holds(user, record)
        code = auth.require_param(responses, "SOFTWARE_TOKEN_MFA_CODE")
        device = devices.attempt_device(tx, pool, user, devices.device_key_of(responses), record.device_key)
        if user.software_token is None:
            raise SoftwareTokenMFANotFoundException(core.NO_TOKEN)
        attempt = lockout.begin_attempt(tx.get_failed_sign_ins(pool.id, user.sub), pool_id=pool.id, key=user.sub,
                                        now=now)
        try:
            if attempt.refused:
                raise NotAuthorizedException(lockout.LOCKED_MESSAGE)
            step = core.accepted_step(open_secret(engine, pool, user, user.software_token.secret), code, now=now,
                                      last_step=user.software_token.last_step, setup=False)
        except CognitoError as err:
            # Wrong (or used) codes count like wrong passwords; the session stays usable.
            auth.next_challenge(core.SOFTWARE_TOKEN, "answer_rejected", pool, user)
            tx.put_failed_sign_ins(attempt.record)
            error = err
        else:
            if tx.get_failed_sign_ins(pool.id, user.sub) is not None:
                tx.delete_failed_sign_ins(pool.id, user.sub)
            current = core.used_step(user, step)
            engine.write(tx, puts=(current, auth.used(record)))
            state = auth.next_challenge(core.SOFTWARE_TOKEN, "mfa_code_verified", pool, current, device)
            response, messages = after_step(engine, tx, pool, client, current, state, record.typed_username, now,
                                            device=device, hosted=hosted)
    return conclude(engine, pool, client, user, error=error, response=response, messages=messages,
                    metadata=request.get("ClientMetadata") or {}, step="software token code")


def answer_select_mfa_type(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool = False) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, record, user, responses = open_session(engine, tx, request, admin, now, hosted=hosted)
        auth.check_sign_in_still_holds(user, record)
        answer = responses.get("ANSWER")
        chosen = core.check_selection(user, {"EMAIL_MFA": "EMAIL_OTP"}.get(answer, answer))
        device = devices.attempt_device(tx, pool, user, devices.device_key_of(responses), record.device_key)
        state = auth.next_challenge(core.SELECT, "mfa_type_selected", pool, user, device, chosen=chosen)
        auth.check_challenge_possible(state, user)
        tx.put_session(auth.used(record))
        response, messages = after_step(engine, tx, pool, client, user, state, record.typed_username, now,
                                        device=device, hosted=hosted)
    return conclude(engine, pool, client, user, error=None, response=response, messages=messages,
                    metadata=request.get("ClientMetadata") or {}, step="MFA type selected")


def answer_mfa_setup(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool = False) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, record, user, responses = open_session(engine, tx, request, admin, now, hosted=hosted)
        auth.check_sign_in_still_holds(user, record)
        if not setup_progress(engine, record).get("verified"):
            # The challenge's own Session, or the Associate one: only a verified token completes it.
            auth.next_challenge(core.SETUP, "answer_rejected", pool, user)
            raise NotAuthorizedException(auth.INVALID_SESSION)
        device = devices.attempt_device(tx, pool, user, devices.device_key_of(responses), record.device_key)
        state = auth.next_challenge(core.SETUP, "mfa_setup_completed", pool, user, device)
        tx.put_session(auth.used(record))
        response, messages = after_step(engine, tx, pool, client, user, state, record.typed_username, now,
                                        device=device, hosted=hosted)
    return conclude(engine, pool, client, user, error=None, response=response, messages=messages,
                    metadata=request.get("ClientMetadata") or {}, step="MFA set up")
