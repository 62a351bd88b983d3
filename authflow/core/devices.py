"""Decisions of device tracking: issuing device keys, ConfirmDevice, remembered status,
forgetting, and what a device looks like on the wire.

Theory of operation: a pool tracks devices when its DeviceConfiguration sets any member.
Every sign-in of such a pool that ends in tokens is bound to a device: the one whose
DEVICE_KEY the attempt carried (it must be the user's own), or a NEW one issued right
then and returned as NewDeviceMetadata. A device's life is `specs/device.yaml`; every
change here asks that machine, so an illegal change (confirming twice, forgetting an
unconfirmed key) is refused with the error its operation uses. The device SRP steps are
in `authflow.core.device_srp`.

The DeviceGroupKey is derived from the pool secret and the user's sub, so it is one stable
value per user (as the reference observed on Cognito) without being stored; it only ever
serves the clients as the SRP "pool name" of the device verifier. Pure: time and
randomness are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from authflow.core import pool_config as pc
from authflow.core.lifecycle import IllegalTransition, device_lifecycle
from authflow.core.policy import EntropySource
from authflow.core.records import Device, User, UserPool
from authflow.crypto import srp
from authflow.errors import (
    DeviceKeyExistsException,
    InvalidParameterException,
    ResourceNotFoundException,
)

DEVICE_NOT_FOUND = "Device does not exist."
INVALID_KEY = "Invalid device key given."
INVALID_VERIFIER = "Invalid device secret verifier config: PasswordVerifier and Salt must be base64."
MISSING_VERIFIER = "DeviceSecretVerifierConfig with PasswordVerifier and Salt is required."
KEY_EXISTS = "Device key already exists."
MISSING_STATUS = "DeviceRememberedStatus is required."

#: DeviceKeyType: 1..55 characters, `[\w-]+_[0-9a-f-]+` (Java's \w: ASCII only).
_KEY = re.compile(r"[A-Za-z0-9_-]+_[0-9a-f-]+")
MAX_KEY_LENGTH = 55
#: ListDevices / AdminListDevices: Limit 0..60; 60 when absent (the model's maximum).
DEFAULT_LIMIT = 60
_GROUP_ALPHABET = string.ascii_letters + string.digits
_GROUP_LENGTH = 8
#: Salt bytes a client may send: the clients send 16 (17 with padHex's leading zero).
_MAX_SALT_BYTES = 64
#: DeviceRememberedStatus on the wire -> the device machine's trigger.
STATUS_TRIGGERS = {"remembered": "remember", "not_remembered": "not_remember"}
#: The machine's states as `dev:device_remembered_status` shows them.
_REMEMBERED_STATUS = {"REMEMBERED": "remembered", "NOT_REMEMBERED": "not_remembered"}


# -- the pool's settings ---------------------------------------------------------------------


def tracking(pool: UserPool) -> dict | None:
    """The pool's DeviceConfiguration when it tracks devices, else None."""
    return pc.device_configuration(pool.config)


def remembered(pool: UserPool, device: Device | None) -> bool:
    """The attempt's device may prove itself (device SRP)."""
    return tracking(pool) is not None and device is not None and device.status == "REMEMBERED"


def skips_mfa(pool: UserPool, device: Device | None) -> bool:
    """The device's proof stands in for MFA (ChallengeRequiredOnNewDevice true)."""
    config = tracking(pool) or {}
    return remembered(pool, device) and bool(config.get("ChallengeRequiredOnNewDevice"))


# -- keys ------------------------------------------------------------------------------------


def new_key(region: str, entropy: EntropySource) -> str:
    """`<region>_<uuid4>`, as Cognito's keys look (`us-west-2_b2ed4f4b-dd34-...`)."""
    return f"{region}_{uuid.UUID(bytes=entropy.random_bytes(16), version=4)}"


def group_key(pool_secret: bytes, sub: str) -> str:
    """The user's DeviceGroupKey: `-` and 8 letters or digits, like Cognito's (`-nNwnPidS`)."""
    n = int.from_bytes(hmac.new(pool_secret, f"device-group-key:{sub}".encode(), hashlib.sha256).digest(), "big")
    chars = []
    for _ in range(_GROUP_LENGTH):
        n, i = divmod(n, len(_GROUP_ALPHABET))
        chars.append(_GROUP_ALPHABET[i])
    return "-" + "".join(chars)


def check_key(text: Any) -> str:
    """A DEVICE_KEY of the right shape; anything else is Cognito's `Invalid device key given.`"""
    if not isinstance(text, str) or len(text) > MAX_KEY_LENGTH or not _KEY.fullmatch(text):
        raise InvalidParameterException(INVALID_KEY)
    return text


def owned(device: Device | None, user: User) -> Device:
    """The user's own device (any status), for sign-in: an unknown or forgotten key is
    `Device does not exist.` (the answer amazon-cognito-identity-js retries without the
    key), another user's key `Invalid device key given.` (reference §4.5)."""
    if device is None:
        raise ResourceNotFoundException(DEVICE_NOT_FOUND)
    if device.sub != user.sub:
        raise InvalidParameterException(INVALID_KEY)
    return device


def confirmable(device: Device | None, user: User) -> Device:
    """The device ConfirmDevice may confirm: a key issued to this user. Any other key is
    `Invalid device key given.`, the answer observed from ConfirmDevice."""
    if device is None or device.sub != user.sub:
        raise InvalidParameterException(INVALID_KEY)
    return device


def visible(device: Device | None, user: User) -> Device:
    """A device the device operations show: the user's, and confirmed (an unconfirmed key
    is known only to ConfirmDevice and to sign-in). Any other key, another user's
    included, is `Device does not exist.`"""
    if device is None or device.sub != user.sub or device.status == "NEW":
        raise ResourceNotFoundException(DEVICE_NOT_FOUND)
    return device


# -- the device's life -------------------------------------------------------------------------


def issue(pool: UserPool, user: User, *, key: str, group: str, now: datetime, expires: datetime) -> Device:
    """A NEW device for NewDeviceMetadata; unconfirmed, it is purged at `expires`."""
    status = device_lifecycle().next_state("ABSENT", "issue")
    return Device(pool_id=pool.id, key=key, sub=user.sub, group_key=group, status=status,
                  created=now, modified=now, expires=expires)


@dataclass(frozen=True, slots=True)
class VerifierConfig:
    """DeviceSecretVerifierConfig, decoded: the salt as the hex of its bytes (what SALT
    gives back) and the verifier."""

    salt: str
    verifier: int


def parse_verifier_config(config: Mapping[str, Any] | None) -> VerifierConfig:
    """Both members are required (the model leaves them optional; a device without a
    verifier could never sign in). Standard base64; the verifier must be a group element
    other than 0 and 1 (either would make every proof trivial)."""
    config = config or {}
    verifier, salt = config.get("PasswordVerifier"), config.get("Salt")
    if not verifier or not salt:
        raise InvalidParameterException(MISSING_VERIFIER)
    try:
        raw_verifier = base64.b64decode(verifier, validate=True)
        raw_salt = base64.b64decode(salt, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterException(INVALID_VERIFIER) from None
    v = int.from_bytes(raw_verifier, "big")
    if not raw_salt or len(raw_salt) > _MAX_SALT_BYTES or not 1 < v < srp.N:
        raise InvalidParameterException(INVALID_VERIFIER)
    return VerifierConfig(salt=raw_salt.hex(), verifier=v)


def confirm(
    pool: UserPool, device: Device, *, salt: str, sealed_verifier: bytes, name: str | None,
    ip: str | None, now: datetime,
) -> Device:
    """ConfirmDevice: REMEMBERED at once, or NOT_REMEMBERED when the pool waits for the
    user's word. A confirmed key cannot be confirmed again (DeviceKeyExistsException)."""
    facts = {"remembered_on_user_prompt": bool((tracking(pool) or {}).get("DeviceOnlyRememberedOnUserPrompt"))}
    try:
        status = device_lifecycle().next_state(device.status, "confirm", facts)
    except IllegalTransition:
        raise DeviceKeyExistsException(KEY_EXISTS) from None
    return replace(device, status=status, name=name, salt=salt, verifier=sealed_verifier,
                   last_ip=ip or device.last_ip, modified=now, expires=None, version=device.version + 1)


def set_remembered(device: Device, value: str | None, now: datetime) -> Device:
    """UpdateDeviceStatus: `remembered` or `not_remembered` (the key and its refresh
    tokens stay; only device authentication is turned on or off)."""
    trigger = STATUS_TRIGGERS.get(value or "")
    if trigger is None:
        raise InvalidParameterException(MISSING_STATUS)
    try:
        status = device_lifecycle().next_state(device.status, trigger)
    except IllegalTransition:
        raise ResourceNotFoundException(DEVICE_NOT_FOUND) from None
    return replace(device, status=status, modified=now, version=device.version + 1)


def forget(device: Device) -> None:
    """ForgetDevice: allowed for confirmed devices (the record is then deleted)."""
    try:
        device_lifecycle().next_state(device.status, "forget")
    except IllegalTransition:
        raise ResourceNotFoundException(DEVICE_NOT_FOUND) from None


def signed_in(device: Device, *, proved: bool, ip: str | None, now: datetime) -> Device:
    """A sign-in ended in tokens bound to `device`; `proved` when it passed device SRP."""
    device_lifecycle().next_state(device.status, "device_authenticated" if proved else "tokens_bound")
    return replace(device, last_authenticated=now, last_ip=ip or device.last_ip, version=device.version + 1)


# -- the wire ----------------------------------------------------------------------------------


def new_device_metadata(device: Device) -> dict[str, str]:
    return {"DeviceKey": device.key, "DeviceGroupKey": device.group_key}


def device_type(device: Device, *, pool: UserPool, username: str, admin: bool) -> dict[str, Any]:
    """DeviceType: the user API's attributes (`device_status`, `device_name`,
    `last_ip_used`), and for the admin API also the `dev:` ones its CLI examples show."""
    attributes = [{"Name": "device_status", "Value": "valid"}]
    if device.name:
        attributes.append({"Name": "device_name", "Value": device.name})
    if device.last_ip:
        attributes.append({"Name": "last_ip_used", "Value": device.last_ip})
    if admin:
        region, account = _region_and_account(pool)
        owner = f"{username}.{pool.id}"
        attributes += [
            {"Name": "dev:device_arn", "Value": f"arn:aws:cognito-idp:{region}:{account}:owner/{owner}/device/{device.key}"},
            {"Name": "dev:device_owner", "Value": owner},
            {"Name": "dev:device_remembered_status", "Value": _REMEMBERED_STATUS.get(device.status, "not_remembered")},
            {"Name": "dev:device_sdk", "Value": "aws-sdk"},
        ]
    shown: dict[str, Any] = {
        "DeviceKey": device.key,
        "DeviceAttributes": attributes,
        "DeviceCreateDate": device.created,
        "DeviceLastModifiedDate": device.modified,
    }
    if device.last_authenticated is not None:
        shown["DeviceLastAuthenticatedDate"] = device.last_authenticated
    return shown


def _region_and_account(pool: UserPool) -> tuple[str, str]:
    # arn:aws:cognito-idp:<region>:<account>:userpool/<id>
    parts = pool.arn.split(":")
    return (parts[3], parts[4]) if len(parts) > 5 else (pool.id.split("_", 1)[0], "")


def page_fingerprint(pool: UserPool, user: User) -> str:
    """What a ListDevices PaginationToken is bound to: this user's device list."""
    return f"devices:{pool.id}:{user.sub}"
