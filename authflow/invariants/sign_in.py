"""The laws of signing in and refreshing: tokens only to users who may have them, no
temporary password past its window, the password (or SRP claim) the stored credential
verifies, a challenge session or SRP block that succeeds once, and no tokens from a revoked
refresh token."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from authflow.core import pool_config as pc
from authflow.core.auth import session_id
from authflow.core.tokens import token_hash
from authflow.crypto.passwords import verify_password
from authflow.invariants.reading import (
    INITIATE,
    RESPOND,
    access_owner,
    challenge_responses,
    claim_block_id,
    is_password_sign_in,
    is_srp_answer,
    pool_config_of,
    signed_in_user,
    srp_user,
    token_owner,
)
from authflow.invariants.step import Step

REFRESH_FLOWS = frozenset({"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"})
#: Statuses that must never receive tokens (FORCE_CHANGE_PASSWORD only by completing
#: NEW_PASSWORD_REQUIRED, which leaves it).
NO_TOKENS = frozenset({"UNCONFIRMED", "RESET_REQUIRED", "FORCE_CHANGE_PASSWORD"})


def _temporary_window(config: Mapping[str, Any]) -> timedelta:
    return timedelta(days=pc.password_policy(config).temporary_password_validity_days)


def tokens_only_to_signed_in_users(step: Step) -> str | None:
    """No tokens are ever issued to a user who is disabled, UNCONFIRMED,
    RESET_REQUIRED, or FORCE_CHANGE_PASSWORD without completing NEW_PASSWORD_REQUIRED
    (nor to a user who does not exist)."""
    result = (step.response or {}).get("AuthenticationResult") if step.ok else None
    if not result:
        return None
    owner = token_owner(result)
    if owner is None:
        return "tokens were issued that name no user (no readable sub / iss)"
    before, after = step.before.user_by_sub(*owner), step.after.user_by_sub(*owner)
    if before is None or after is None:
        return f"tokens were issued for sub {owner[1]}, which is no user of pool {owner[0]}"
    if not before.enabled or not after.enabled:
        return f"tokens were issued to disabled user {after.username!r}"
    if before.status in ("UNCONFIRMED", "RESET_REQUIRED"):
        return f"tokens were issued to {before.status} user {before.username!r}"
    if after.status in NO_TOKENS:
        return f"tokens were issued to user {after.username!r}, who is still {after.status}"
    if before.status == "FORCE_CHANGE_PASSWORD":
        completing = step.operation in RESPOND and step.request.get("ChallengeName") == "NEW_PASSWORD_REQUIRED"
        if not completing:
            return f"tokens were issued by {step.operation} to FORCE_CHANGE_PASSWORD user {before.username!r}"
    return None


def temporary_password_expires(step: Step) -> str | None:
    """A temporary password never signs in after its validity window
    (TemporaryPasswordValidityDays from the moment it was issued), neither sent as a
    password nor proved by SRP (PASSWORD_VERIFIER)."""
    if step.ok and is_password_sign_in(step):
        user = signed_in_user(step, step.before)
    elif step.ok and is_srp_answer(step):
        user = srp_user(step, step.before)
    else:
        return None
    if user is None or user.credential is None or not user.credential.temporary:
        return None
    ends = user.credential.issued_at + _temporary_window(pool_config_of(step.before, user.pool_id))
    if step.now >= ends:
        return (
            f"the temporary password of {user.username!r} signed in at {step.now.isoformat()}, "
            f"after its window ended at {ends.isoformat()}"
        )
    return None


def password_must_match(step: Step) -> str | None:
    """A password sign-in that goes on (a challenge or tokens), and a ChangePassword
    that succeeds, presented the password the user's stored credential verifies; a
    PASSWORD_VERIFIER answer that goes on carried an SRP claim signed with it.

    An SRP claim is judged by the password the caller says it signed with
    (`History.signed`); claims it said nothing about are not judged."""
    if step.ok and step.operation == "ChangePassword":
        owner = access_owner(step.request)
        user = step.before.user_by_sub(*owner) if owner else None
        if user is None:
            return None  # a token of nobody: deleted_users_stay_out's concern
        previous = str(step.request.get("PreviousPassword", ""))
        if user.credential is None or not verify_password(previous, user.credential.password_hash):
            return f"ChangePassword succeeded for {user.username!r} with a previous password the stored credential rejects"
        return None
    if step.ok and is_srp_answer(step):
        password = step.history.claim_password(str(challenge_responses(step).get("PASSWORD_CLAIM_SIGNATURE", "")))
        if password is None:
            return None  # the caller did not say which password it signed with
        user = srp_user(step, step.before)
        if user is None:
            return None  # a proof for nobody: unknown_users_never_sign_in's concern
        if user.credential is None or not verify_password(password, user.credential.password_hash):
            return (
                f"a PASSWORD_VERIFIER answer for {user.username!r} went on with a claim signed with a "
                "password the stored credential rejects"
            )
        return None
    if not (step.ok and is_password_sign_in(step)):
        return None
    user = signed_in_user(step, step.before)
    if user is None:
        return f"{step.operation} succeeded for a user that does not exist"
    password = (step.request.get("AuthParameters") or {}).get("PASSWORD", "")
    if user.credential is None or not verify_password(password, user.credential.password_hash):
        return f"{step.operation} succeeded for {user.username!r} with a password the stored credential rejects"
    return None


def session_single_use(step: Step) -> str | None:
    """A challenge session never succeeds twice, nor does an SRP
    PASSWORD_CLAIM_SECRET_BLOCK (the caller saw it succeed, or the store records it used).

    Custom challenges included: CUSTOM_CHALLENGE sessions, and the blocks of a custom
    flow begun with SRP_A."""
    if not (step.ok and step.operation in RESPOND):
        return None
    session = step.request.get("Session")
    if isinstance(session, str):
        if session_id(session) in step.history.succeeded_sessions:
            return f"a {step.request.get('ChallengeName')} session that had already succeeded succeeded again"
        record = step.before.session(session)
        if record is not None and record.used:
            return f"a {record.challenge} session the store marks used succeeded"
    if step.request.get("ChallengeName") == "PASSWORD_VERIFIER":
        block = claim_block_id(challenge_responses(step).get("PASSWORD_CLAIM_SECRET_BLOCK"))
        if block in step.history.succeeded_secret_blocks:
            return "a PASSWORD_CLAIM_SECRET_BLOCK that had already succeeded succeeded again"
        record = step.before.session_by_id(block) if block else None
        if record is not None and record.used:
            return "a PASSWORD_CLAIM_SECRET_BLOCK the store records as used succeeded"
    return None


def revoked_refresh_token_yields_nothing(step: Step) -> str | None:
    """A revoked refresh token never yields tokens: not after RevokeToken, a global
    sign-out, disabling or deleting its user, nor once it has expired."""
    if not (step.ok and step.operation in INITIATE and step.request.get("AuthFlow") in REFRESH_FLOWS):
        return None
    token = (step.request.get("AuthParameters") or {}).get("REFRESH_TOKEN", "")
    if token_hash(token) in step.history.revoked_tokens:
        return "a refresh token the caller had revoked (or lost to a sign-out, disable or delete) yielded tokens"
    family = step.before.refresh_token(token)
    if family is None:
        return "a refresh token the store does not know yielded tokens"
    if family.revoked:
        return "a refresh token the store marks revoked yielded tokens"
    user = step.before.user_by_sub(family.pool_id, family.sub)
    if user is None:
        return "a refresh token of a deleted user yielded tokens"
    if family.generation < user.token_generation:
        return f"a refresh token issued before {user.username!r} signed out yielded tokens"
    if step.now >= family.expires:
        return "an expired refresh token yielded tokens"
    return None
