"""The laws of MFA beyond SMS and of software tokens (TOTP): no tokens without the factor
the pool asks; each TOTP code (time step) is accepted at most once per user and secret;
TOTP secrets are never stored in the clear.

How a step is read: whose authenticator a request is about comes from its AccessToken, or
from the session its Session names (an MFA_SETUP or SOFTWARE_TOKEN_MFA session); which
secrets exist comes from what the caller was handed (`History.totp_secrets`: the
SecretCode of every AssociateSoftwareToken answer) and which one is verified from the
code the caller's VerifySoftwareToken was accepted with (`History.totp_verified`). Codes
are judged with `rfc6238`, written from the RFC, never with the engine's TOTP, and with
the skew Cognito documents (one 30-second step either way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import pool_config as pc
from authflow.core.records import User
from authflow.invariants import rfc6238
from authflow.invariants.devices import DEVICE_CHALLENGES, attempt_user, is_refresh
from authflow.invariants.passwordless import passwordless_first_factor
from authflow.invariants.reading import (
    INITIATE,
    RESPOND,
    access_owner,
    challenge_responses,
    pool_config_of,
    stored_in,
    strings_in,
    written,
)
from authflow.invariants.step import Step

#: The MFA challenges whose right answer completes a sign-in, and the factor each proves.
FACTOR_ANSWERS = frozenset({"SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "MFA_SETUP"})
_SKEW = 1
_TOTP_OPERATIONS = frozenset({"AssociateSoftwareToken", "VerifySoftwareToken"})


def enabled_factors(user: User) -> set[str]:
    """The user's factors a sign-in can ask: SMS and e-mail once on, TOTP once on and verified."""
    factors = {f for f in user.mfa_settings if f in ("SMS_MFA", "EMAIL_OTP")}
    if "SOFTWARE_TOKEN_MFA" in user.mfa_settings and user.software_token is not None:
        factors.add("SOFTWARE_TOKEN_MFA")
    return factors


def totp_subject(step: Step) -> tuple[str, str] | None:
    """(pool id, sub) whose authenticator a TOTP request or a SOFTWARE_TOKEN_MFA answer is about."""
    request = step.request
    if step.operation in _TOTP_OPERATIONS and request.get("AccessToken"):
        return access_owner(request)
    session = request.get("Session")
    is_answer = step.operation in RESPOND and request.get("ChallengeName") == "SOFTWARE_TOKEN_MFA"
    if isinstance(session, str) and (step.operation in _TOTP_OPERATIONS or is_answer):
        record = step.before.session(session)
        return (record.pool_id, record.sub) if record is not None else None
    return None


def given_code(step: Step) -> str | None:
    if step.operation == "VerifySoftwareToken":
        code = step.request.get("UserCode")
    elif step.operation in RESPOND and step.request.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
        code = challenge_responses(step).get("SOFTWARE_TOKEN_MFA_CODE")
    else:
        return None
    return code if isinstance(code, str) else None


def _now_step(step: Step) -> int:
    return rfc6238.time_step(step.now.timestamp())


def accepted_code(step: Step) -> tuple[str, str, str, int] | None:
    """(pool id, sub, secret, time step) of the code a successful VerifySoftwareToken or
    SOFTWARE_TOKEN_MFA answer was accepted with: the earliest matching step of the
    verified secret (for an answer), else of the latest-matching secret handed out."""
    code = given_code(step) if step.ok else None
    subject = totp_subject(step) if code else None
    if subject is None:
        return None
    verified = step.history.verified_secret(*subject)
    candidates = [verified] if step.operation in RESPOND and verified else step.history.secrets_of(*subject)
    for secret in candidates:
        steps = rfc6238.steps_of(secret, code, _now_step(step), _SKEW)
        if steps:
            return (*subject, secret, steps[0])
    return None


def handed_secrets(step: Step) -> set[tuple[str, str, str]]:
    """(pool id, sub, SecretCode) an AssociateSoftwareToken answer handed out."""
    secret = (step.response or {}).get("SecretCode") if step.ok and step.operation == "AssociateSoftwareToken" else None
    subject = totp_subject(step) if isinstance(secret, str) else None
    return {(*subject, secret)} if subject else set()


# -- the laws --------------------------------------------------------------------------------------


def tokens_only_after_the_configured_factor(step: Step) -> str | None:
    """No tokens without the configured factor: a sign-in of a user the pool asks for MFA
    (MFA ON, or OPTIONAL with a factor the user has on: SMS, e-mail, or a verified software
    token) ends in tokens only from the answer to an MFA challenge of the kind its session
    waits for (SMS_MFA, SOFTWARE_TOKEN_MFA, EMAIL_OTP, or MFA_SETUP once the new
    authenticator is verified), a factor the user has (TOTP: an authenticator, answered
    with a code of the secret the caller saw verified), or from a device's own proof
    (how a device attempt may begin without MFA is `mfa_skipped_only_on_remembered_devices`'s
    concern)."""
    response = step.response or {}
    if not step.ok or "AuthenticationResult" not in response or is_refresh(step):
        return None
    if step.operation not in INITIATE | RESPOND:
        return None
    user = attempt_user(step, step.before)
    if user is None:
        return None
    config: Mapping[str, Any] = pool_config_of(step.before, user.pool_id)
    mode, factors = pc.mfa_configuration(config), enabled_factors(user)
    if mode == "OFF" or (mode == "OPTIONAL" and not factors):
        return None
    answered = step.request.get("ChallengeName") if step.operation in RESPOND else None
    if answered in DEVICE_CHALLENGES or passwordless_first_factor(step):
        return None  # a passwordless first factor is a whole sign-in: passwordless_sign_in_needs_no_mfa
    who = repr(user.username)
    if answered not in FACTOR_ANSWERS:
        how = f"a {answered} answer" if answered else "a sign-in"
        return f"{how} gave {who} tokens without MFA (MfaConfiguration {mode}, factors {sorted(factors) or 'none'})"
    session = step.request.get("Session")
    record = step.before.session(session) if isinstance(session, str) else None
    if record is None or record.challenge != answered:
        return f"{answered} answered a {record.challenge if record else 'missing'} session and gave {who} tokens"
    if answered == "MFA_SETUP":
        after = step.after.user_by_sub(user.pool_id, user.sub)
        return None if after is not None and after.software_token is not None else (
            f"MFA_SETUP gave {who} tokens without a verified authenticator")
    if answered not in factors and not (mode == "ON" and answered == "SMS_MFA"):
        return f"{answered} gave {who} tokens, a factor {who} does not have (factors {sorted(factors) or 'none'})"
    if answered == "SOFTWARE_TOKEN_MFA":
        secret = step.history.verified_secret(user.pool_id, user.sub)
        code = given_code(step) or ""
        if secret is not None and not rfc6238.steps_of(secret, code, _now_step(step), _SKEW):
            return f"SOFTWARE_TOKEN_MFA accepted {code!r} for {who}, no code of the authenticator's near {step.now}"
    return None


def totp_code_accepted_once(step: Step) -> str | None:
    """A TOTP code (time step) is accepted at most once per user: once a code of some step
    of an authenticator's secret was accepted (VerifySoftwareToken, or a SOFTWARE_TOKEN_MFA
    answer), no code of that step or an earlier one of the same secret is accepted again."""
    accepted = accepted_code(step) if step.history.totp_accepted else None
    if accepted is None:
        return None
    pool_id, sub, secret, at = accepted
    code = given_code(step) or ""
    steps = rfc6238.steps_of(secret, code, _now_step(step), _SKEW)
    used = [s for p, u, k, s in step.history.totp_accepted if (p, u, k) == (pool_id, sub, secret)]
    if used and all(any(s >= m for s in used) for m in steps):
        return (f"{step.operation} accepted the code of time step {at} for sub {sub}, "
                f"though step {max(used)} of the same secret had been accepted")
    return None


def totp_secrets_never_stored(step: Step) -> str | None:
    """TOTP secrets are never stored in the clear: no record a step writes holds a
    SecretCode the caller was handed (nor the one this step hands out), in either case,
    nor its key bytes."""
    secrets = {s for _, _, s in step.history.totp_secrets} | {s for _, _, s in handed_secrets(step)}
    if not secrets:
        return None
    needles: list[tuple[str, str]] = []
    for secret in sorted(secrets):
        needles += [(secret, secret.upper()), (secret, secret.lower())]
        try:
            needles.append((secret, rfc6238.key_of(secret).decode("latin-1")))
        except ValueError:
            pass
    record = stored_in(written(step), within=[needle for _, needle in needles])
    if record is not None:
        text = "\0".join(strings_in(record))
        secret = next(secret for secret, needle in needles if needle in text)
        return f"{type(record).__name__} holds the TOTP secret {secret[:6]}… in the clear"
    return None


def mfa_names_only_verified_factors(step: Step) -> str | None:
    """MFA settings never name an unverified factor: a user whose settings enable or prefer
    SOFTWARE_TOKEN_MFA has a verified authenticator; a step that turns SMS_MFA on (enables
    or prefers it) leaves the user a phone_number; and a user's verified authenticator
    changes only by a successful VerifySoftwareToken for that user (associating a secret
    verifies nothing), or goes with AdminDeleteSoftwareToken or the user."""
    before = {(u.pool_id, u.sub): u for u in step.before.users} if step.before is not step.after else None
    for user in step.after.users:
        named = set(user.mfa_settings) | ({user.preferred_mfa} if user.preferred_mfa else set())
        if "SOFTWARE_TOKEN_MFA" in named and user.software_token is None:
            return f"{user.username!r}'s MFA settings name SOFTWARE_TOKEN_MFA without a verified authenticator"
        if before is None:
            continue
        old = before.get((user.pool_id, user.sub))
        if old is user:
            continue
        old_named = set(old.mfa_settings) | ({old.preferred_mfa} if old and old.preferred_mfa else set()) if old else set()
        if "SMS_MFA" in named - old_named and not user.attributes.get("phone_number"):
            return f"{step.operation} turned SMS_MFA on for {user.username!r}, who has no phone_number"
        token = user.software_token.secret if user.software_token else None
        was = old.software_token.secret if old and old.software_token else None
        if token is not None and token != was and not (
            step.ok and step.operation == "VerifySoftwareToken" and totp_subject(step) == (user.pool_id, user.sub)
        ):
            return f"{step.operation} gave {user.username!r} a verified authenticator without a VerifySoftwareToken"
    return None
