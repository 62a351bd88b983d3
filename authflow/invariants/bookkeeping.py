"""The caller's bookkeeping: `observe(history, step)` is the `History` after a step, what
the caller learned from it (sessions that succeeded, tokens it holds and tokens it lost,
the ValidationData and ANSWERs it sent, codes that reached it, users deleted, devices
issued to it and devices it forgot or lost with their owner, the group memberships it
ended, the TOTP secrets it was handed, verified and whose codes were accepted, the
refresh-token families it holds, saw rotated, replayed or revoked), read from
the request and the delivered messages rather than the engine's records wherever the
request says enough."""

from __future__ import annotations

import dataclasses

from authflow.core.auth import session_id
from authflow.core.tokens import token_hash
from authflow.invariants.codes import codes_in
from authflow.invariants.custom_auth import custom_answers
from authflow.invariants.devices import devices_gone_with, forgotten_by, issued_device
from authflow.invariants.groups import departures
from authflow.invariants.passwordless import learned as passwordless_learned
from authflow.invariants.reading import RESPOND, access_owner, claim_block_id, token_owner
from authflow.invariants.rotation import learned, lost_families
from authflow.invariants.step import History, Step
from authflow.invariants.totp import accepted_code, handed_secrets
from authflow.invariants.users import validation_values


def _sent_codes(step: Step) -> list[tuple[str, str, str, str, str]]:
    """(pool id, sub, purpose, code, destination) of each code this step delivered that a
    pending code of the same step stands for: the one (re)issued to the message's
    destination. MFA codes live on sessions, not users, and are left out."""
    out = []
    for message in step.messages:
        found = codes_in(message)
        pool_id, username = str(getattr(message, "pool_id", "")), str(getattr(message, "username", ""))
        user = step.after.user_named(pool_id, username) if found else None
        if user is None:
            continue
        old = step.before.user_by_sub(user.pool_id, user.sub)
        destination = getattr(message, "destination", None)
        for purpose, pending in sorted(user.codes.items()):
            if old is not None and old.codes.get(purpose) == pending:
                continue  # not issued by this step
            # A code goes to the attribute's value, or to a new value held back until verified.
            if pending.attribute and destination in (user.attributes.get(pending.attribute), pending.value):
                out.append((user.pool_id, user.sub, purpose, found[0], str(destination)))
                break
    return out


def observe(history: History, step: Step) -> History:
    """`history` after `step`: what the caller learned (sessions that succeeded,
    tokens it holds and tokens it can no longer use, ValidationData and custom
    ANSWERs it sent, codes that reached it, users deleted, devices issued and forgotten)."""
    values = validation_values(step.request)
    if values:
        history = dataclasses.replace(history, validation_values=history.validation_values | values)
    answers = custom_answers(step)
    if answers:
        history = dataclasses.replace(history, custom_answers=history.custom_answers | answers)
    for entry in _sent_codes(step):  # delivered: the operation stood (even a CodeDeliveryFailure)
        kept = {e for e in history.sent_codes if e[:3] != entry[:3]}
        history = dataclasses.replace(history, sent_codes=frozenset(kept | {entry}))
    history = learned(history, step)  # refresh-token families: also what a refused reuse taught
    history = passwordless_learned(history, step)  # OTP codes sent and accepted, passkeys registered and deleted
    if not step.ok:
        return history
    request, response = step.request, step.response or {}
    if step.operation in RESPOND and isinstance(request.get("Session"), str):
        history = dataclasses.replace(
            history, succeeded_sessions=history.succeeded_sessions | {session_id(request["Session"])}
        )
    block = claim_block_id((request.get("ChallengeResponses") or {}).get("PASSWORD_CLAIM_SECRET_BLOCK"))
    if step.operation in RESPOND and request.get("ChallengeName") == "PASSWORD_VERIFIER" and block:
        history = dataclasses.replace(history, succeeded_secret_blocks=history.succeeded_secret_blocks | {block})
    result = response.get("AuthenticationResult") or {}
    owner = token_owner(result) if result else None
    if owner and result.get("RefreshToken"):
        entry = (token_hash(result["RefreshToken"]), *owner)
        history = dataclasses.replace(history, refresh_tokens=history.refresh_tokens | {entry})
    issued = issued_device(step)
    if issued is not None:
        history = dataclasses.replace(history, device_owners=history.device_owners | {issued})
    forgotten = forgotten_by(step)
    if forgotten is not None:
        history = dataclasses.replace(history, forgotten_devices=history.forgotten_devices | {forgotten})
    history = _groups_and_totp(history, step)
    if step.operation == "RevokeToken" and isinstance(request.get("Token"), str):
        history = dataclasses.replace(history, revoked_tokens=history.revoked_tokens | {token_hash(request["Token"])})
    lost: tuple[str, str] | None = None
    if step.operation in ("GlobalSignOut", "DeleteUser"):
        lost = access_owner(request)
    elif step.operation in ("AdminUserGlobalSignOut", "AdminDisableUser", "AdminDeleteUser"):
        user = step.before.user_named(str(request.get("UserPoolId")), str(request.get("Username")))
        if user is not None:
            lost = (user.pool_id, user.sub)
    if lost is not None and step.operation in ("DeleteUser", "AdminDeleteUser"):
        history = dataclasses.replace(
            history, deleted_users=history.deleted_users | {lost},
            forgotten_devices=history.forgotten_devices | devices_gone_with(step, *lost),  # they go with it
        )
    if lost is not None:
        gone = {h for h, pool_id, sub in history.refresh_tokens if (pool_id, sub) == lost}
        history = lost_families(dataclasses.replace(history, revoked_tokens=history.revoked_tokens | gone), gone)
    return history


def _groups_and_totp(history: History, step: Step) -> History:
    """What a successful step taught about groups and software tokens."""
    ended, renewed = departures(step)
    if ended or renewed:
        history = dataclasses.replace(history, group_departures=(history.group_departures | ended) - renewed)
    handed = handed_secrets(step)
    if handed:
        history = dataclasses.replace(history, totp_secrets=history.totp_secrets | handed)
    accepted = accepted_code(step)
    if accepted is not None:
        history = dataclasses.replace(history, totp_accepted=history.totp_accepted | {accepted})
        if step.operation == "VerifySoftwareToken":  # the new authenticator replaces the old
            pool_id, sub, secret, _ = accepted
            kept = {e for e in history.totp_verified if e[:2] != (pool_id, sub)}
            history = dataclasses.replace(history, totp_verified=frozenset(kept | {(pool_id, sub, secret)}))
    if step.operation == "AdminDeleteSoftwareToken":
        user = step.before.user_named(str(step.request.get("UserPoolId")), str(step.request.get("Username")))
        if user is not None:
            history = dataclasses.replace(history, totp_verified=frozenset(
                e for e in history.totp_verified if e[:2] != (user.pool_id, user.sub)))
    return history
