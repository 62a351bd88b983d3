"""The laws of device tracking: a forgotten device never signs in nor refreshes; a device
belongs to exactly one user and goes with it; MFA is skipped only on a remembered device
of a pool that lets it stand in for MFA; tokens carry the device their sign-in was bound
to; NewDeviceMetadata only when the attempt carried no known device.

How a step is read: the attempt's device is the DEVICE_KEY the request carries
(AuthParameters or ChallengeResponses; empty or null counts as absent), else the one the
session it answers carried (`AuthSession.device_key`); the device tokens are bound to is
their access token's `device_key` claim. Who a device belongs to comes from what the
caller saw (`History.device_owners`: the user whose tokens came with its
NewDeviceMetadata) and from the records; which devices are gone from what the caller did
(`History.forgotten_devices`), never from the engine's word that it deleted them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import pool_config as pc
from authflow.core.records import Device, User
from authflow.invariants.passwordless import passwordless_first_factor
from authflow.invariants.reading import (
    INITIATE,
    RESPOND,
    challenge_responses,
    claims_of,
    pool_config_of,
    pool_of_request,
    token_owner,
)
from authflow.invariants.records import Records
from authflow.invariants.step import Step

#: A remembered device's own steps.
DEVICE_CHALLENGES = frozenset({"DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"})
#: Answers that are MFA (or lead to it): what follows them has been through MFA.
MFA_ANSWERS = frozenset({"SMS_MFA", "SOFTWARE_TOKEN_MFA", "SELECT_MFA_TYPE", "MFA_SETUP", "EMAIL_OTP"})
_REFRESH_FLOWS = frozenset({"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"})
_FORGET = frozenset({"ForgetDevice", "AdminForgetDevice"})


def tracks_devices(records: Records, pool_id: str | None) -> bool:
    return pool_id is not None and pc.device_configuration(pool_config_of(records, pool_id)) is not None


def is_refresh(step: Step) -> bool:
    return step.operation in INITIATE and step.request.get("AuthFlow") in _REFRESH_FLOWS


def _parameters(step: Step) -> Mapping[str, Any]:
    if step.operation in INITIATE:
        given = step.request.get("AuthParameters")
        return given if isinstance(given, Mapping) else {}
    return challenge_responses(step)


def carried_key(step: Step) -> str | None:
    """The DEVICE_KEY the attempt carries: given by this request, else carried by the
    session it answers."""
    key = _parameters(step).get("DEVICE_KEY")
    if isinstance(key, str) and key:
        return key
    session = step.request.get("Session")
    if step.operation in RESPOND and isinstance(session, str):
        record = step.before.session(session)
        if record is not None and record.device_key:
            return record.device_key
    return None


def bound_key(result: Mapping[str, Any]) -> str | None:
    """The `device_key` claim of an AuthenticationResult's access token."""
    key = claims_of(result.get("AccessToken")).get("device_key")
    return key if isinstance(key, str) else None


def _result(step: Step) -> Mapping[str, Any] | None:
    result = (step.response or {}).get("AuthenticationResult") if step.ok else None
    return result or None


def _goes_on(step: Step) -> bool:
    """A successful sign-in step that went on: tokens, or a next challenge."""
    response = step.response or {}
    return step.ok and ("AuthenticationResult" in response or "ChallengeName" in response)


def attempt_user(step: Step, records: Records) -> User | None:
    """The user a sign-in step is about: the owner of the tokens it returned, the user its
    challenge names, the USERNAME it sent, or the user of the session it answers."""
    pool_id = pool_of_request(step)
    if pool_id is None:
        return None
    response = step.response or {}
    result = response.get("AuthenticationResult")
    if result:
        owner = token_owner(result)
        return records.user_by_sub(*owner) if owner else None
    parameters = response.get("ChallengeParameters") or {}
    for name in (parameters.get("USER_ID_FOR_SRP"), parameters.get("USERNAME"), _parameters(step).get("USERNAME")):
        if isinstance(name, str) and name:
            user = records.user_named(pool_id, name)
            if user is not None:
                return user
    session = step.request.get("Session")
    record = records.session(session) if isinstance(session, str) else None
    return records.user_by_sub(pool_id, record.sub) if record is not None and record.sub else None


def owner_of(step: Step, pool_id: str, key: str) -> str | None:
    """The sub a device belongs to: as the caller saw it issued, else as stored."""
    seen = step.history.device_owner(pool_id, key)
    if seen is not None:
        return seen
    for records in (step.before, step.after):
        device = records.device(pool_id, key)
        if device is not None:
            return device.sub
    return None


def devices_gone_with(step: Step, pool_id: str, sub: str) -> set[tuple[str, str]]:
    """The devices of a user who is being deleted (those the caller saw issued, and those stored)."""
    keys = {(p, k) for p, k, s in step.history.device_owners if (p, s) == (pool_id, sub)}
    return keys | {(d.pool_id, d.key) for d in step.before.devices_of(pool_id, sub)}


def forgotten_by(step: Step) -> tuple[str, str] | None:
    """(pool id, key) of the device a successful ForgetDevice / AdminForgetDevice forgot."""
    if not step.ok or step.operation not in _FORGET:
        return None
    key = step.request.get("DeviceKey")
    pool_id = step.request.get("UserPoolId")
    if not pool_id:
        owner = claims_of(step.request.get("AccessToken"))
        pool_id = owner.get("iss", "").rsplit("/", 1)[-1] if isinstance(owner.get("iss"), str) else None
    return (str(pool_id), key) if pool_id and isinstance(key, str) else None


def issued_device(step: Step) -> tuple[str, str, str] | None:
    """(pool id, key, sub) of the device a step issued as NewDeviceMetadata."""
    result = _result(step)
    metadata = result.get("NewDeviceMetadata") if result else None
    owner = token_owner(result) if metadata else None
    key = metadata.get("DeviceKey") if isinstance(metadata, Mapping) else None
    return (owner[0], key, owner[1]) if owner and isinstance(key, str) else None


# -- the laws --------------------------------------------------------------------------------------


def forgotten_device_never_signs_in(step: Step) -> str | None:
    """A forgotten device never signs in nor refreshes: once ForgetDevice or
    AdminForgetDevice succeeded for its key, or its owner was deleted, no sign-in step
    carrying its key goes on (a next challenge or tokens), no refresh carrying it or of a
    refresh token bound to it yields tokens, and no tokens are bound to it."""
    gone = step.history.forgotten_devices
    if not gone or not _goes_on(step) or step.operation not in INITIATE | RESPOND:
        return None
    pool_id = pool_of_request(step)
    key = carried_key(step)
    if key is not None and (pool_id, key) in gone:
        what = "tokens" if _result(step) else (step.response or {}).get("ChallengeName")
        return f"{step.operation} carrying the forgotten device {key!r} went on ({what})"
    result = _result(step)
    if result is None:
        return None
    bound = bound_key(result)
    if bound is not None and (pool_id, bound) in gone:
        return f"{step.operation} issued tokens bound to the forgotten device {bound!r}"
    if is_refresh(step):
        family = step.before.refresh_token(str((step.request.get("AuthParameters") or {}).get("REFRESH_TOKEN", "")))
        if family is not None and family.device_key and (family.pool_id, family.device_key) in gone:
            return f"a refresh token bound to the forgotten device {family.device_key!r} yielded tokens"
    return None


def device_single_owner(step: Step) -> str | None:
    """A device belongs to exactly one user, its sub, and goes with it: every stored
    device belongs to a user of its pool (deleting a user deletes its devices), the one it
    was issued to; a sign-in carrying another user's device never goes on; tokens are
    only ever bound to a device of their own user."""
    for device in step.after.devices:
        if step.after.user_by_sub(device.pool_id, device.sub) is None:
            return f"device {device.key!r} outlived its owner (sub {device.sub}, no user of pool {device.pool_id})"
        issued_to = step.history.device_owner(device.pool_id, device.key)
        if issued_to is not None and issued_to != device.sub:
            return f"device {device.key!r}, issued to sub {issued_to}, now belongs to sub {device.sub}"
    if not _goes_on(step) or step.operation not in INITIATE | RESPOND:
        return None
    pool_id = pool_of_request(step)
    user = attempt_user(step, step.before) or attempt_user(step, step.after)
    if pool_id is None or user is None:
        return None
    key = carried_key(step)
    owner = owner_of(step, pool_id, key) if key else None
    if owner is not None and owner != user.sub:
        return f"{step.operation} for {user.username!r} went on with device {key!r} of another user (sub {owner})"
    result = _result(step)
    bound = bound_key(result) if result else None
    if bound is not None:
        issued = issued_device(step)
        owner = issued[2] if issued and issued[1] == bound else owner_of(step, pool_id, bound)
        if owner is not None and owner != user.sub:
            return f"{step.operation} bound {user.username!r}'s tokens to device {bound!r} of another user (sub {owner})"
    return None


def _mfa_applies(config: Mapping[str, Any], user: User) -> bool:
    """Whether the pool asks this user for MFA: a pool that requires it, or an optional
    one where the user has a factor on (SMS, or a verified software token)."""
    mode = pc.mfa_configuration(config)
    if mode == "OFF":
        return False
    if mode == "ON":
        return True
    return "SMS_MFA" in user.mfa_settings or ("SOFTWARE_TOKEN_MFA" in user.mfa_settings and user.software_token is not None)


def mfa_skipped_only_on_remembered_devices(step: Step) -> str | None:
    """MFA is skipped only on a remembered device of a pool with
    ChallengeRequiredOnNewDevice true: a sign-in step of a user the pool asks for MFA
    that ends in tokens or in DEVICE_SRP_AUTH without an MFA answer (a password, an SRP
    proof, a new password, a custom answer) carries a REMEMBERED device of that user's,
    in a pool whose DeviceConfiguration has ChallengeRequiredOnNewDevice true."""
    if not step.ok or is_refresh(step) or step.operation not in INITIATE | RESPOND:
        return None
    if step.operation in RESPOND and step.request.get("ChallengeName") in MFA_ANSWERS | DEVICE_CHALLENGES:
        return None
    if passwordless_first_factor(step):  # a whole sign-in: passwordless_sign_in_needs_no_mfa's concern
        return None
    response = step.response or {}
    if "AuthenticationResult" not in response and response.get("ChallengeName") != "DEVICE_SRP_AUTH":
        return None
    user = attempt_user(step, step.before)
    if user is None:
        return None
    config = pool_config_of(step.before, user.pool_id)
    if not _mfa_applies(config, user):
        return None
    key = carried_key(step)
    device: Device | None = step.before.device(user.pool_id, key)
    remembered = device is not None and device.sub == user.sub and device.status == "REMEMBERED"
    stands_in = bool((pc.device_configuration(config) or {}).get("ChallengeRequiredOnNewDevice"))
    if remembered and stands_in:
        return None
    where = ("a remembered device, but ChallengeRequiredOnNewDevice is not true" if remembered
             else f"device {key!r} ({device.status if device else 'unknown'})" if key else "no device")
    what = "tokens" if "AuthenticationResult" in response else "DEVICE_SRP_AUTH"
    return f"{step.operation} gave {user.username!r} {what} without the MFA the pool asks, on {where}"


def device_sign_in_tokens_carry_its_key(step: Step) -> str | None:
    """Tokens carry the device their sign-in is bound to: the access token's `device_key`
    is the device the attempt carried, or, when it carried none, the one issued with them
    (NewDeviceMetadata); a refresh's, the device its refresh token is bound to. A pool
    that tracks devices issues no token bound to no device; one that does not, none bound
    to a device."""
    result = _result(step)
    if result is None or step.operation not in INITIATE | RESPOND:
        return None
    pool_id = pool_of_request(step)
    bound = bound_key(result)
    if not tracks_devices(step.before, pool_id):
        return f"tokens of a pool that tracks no devices carry device_key {bound!r}" if bound else None
    if is_refresh(step):
        family = step.before.refresh_token(str((step.request.get("AuthParameters") or {}).get("REFRESH_TOKEN", "")))
        expected = family.device_key if family is not None else None
        source = "its refresh token is bound to"
    else:
        metadata = result.get("NewDeviceMetadata")
        issued = metadata.get("DeviceKey") if isinstance(metadata, Mapping) else None
        expected = carried_key(step) or issued
        source = "the sign-in carried" if carried_key(step) else "was issued with them"
        if expected is None:
            return f"{step.operation} issued tokens bound to no device: none carried, none issued (NewDeviceMetadata)"
    if bound != expected:
        return f"{step.operation} issued tokens with device_key {bound!r}, not {expected!r}, the device {source}"
    return None


def new_device_metadata_only_for_unknown_devices(step: Step) -> str | None:
    """NewDeviceMetadata only when the attempt carried no known device: only a sign-in of
    a pool that tracks devices (never a refresh) whose attempt carried no device of its
    user's returns it, and its DeviceKey is one no device had before."""
    result = _result(step)
    metadata = result.get("NewDeviceMetadata") if result else None
    if not metadata:
        return None
    pool_id = pool_of_request(step)
    if not tracks_devices(step.before, pool_id):
        return f"{step.operation} returned NewDeviceMetadata in a pool that tracks no devices"
    if is_refresh(step):
        return "a refresh returned NewDeviceMetadata"
    user = attempt_user(step, step.before)
    key = carried_key(step)
    known = step.before.device(pool_id, key) if key else None
    if known is not None and user is not None and known.sub == user.sub:
        return f"{step.operation} returned NewDeviceMetadata although the attempt carried {user.username!r}'s device {key!r}"
    issued = metadata.get("DeviceKey") if isinstance(metadata, Mapping) else None
    if not isinstance(issued, str) or not issued:
        return f"{step.operation} returned NewDeviceMetadata without a DeviceKey"
    if (step.before.device(pool_id, issued) is not None or step.history.device_owner(pool_id, issued) is not None
            or (pool_id, issued) in step.history.forgotten_devices):
        return f"{step.operation} returned NewDeviceMetadata with the key {issued!r} of a device issued before"
    return None
