"""Device tracking: the device operations (ConfirmDevice, GetDevice, ListDevices,
ForgetDevice, UpdateDeviceStatus and their Admin* twins) and the two steps every sign-in
of a tracking pool takes (which device the attempt carries; which device its tokens are
bound to).

Theory of operation: the decisions are `authflow.core.devices`; this module loads, asks,
writes. A device verifier is sealed under the KEK bound to its pool, key and salt, as a
user's SRP verifier is: a store dump alone must not let anyone test device passwords.
The user operations authorise by access token; the Admin* ones name the user. Every
refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from authflow.core import devices as core
from authflow.core import listing
from authflow.core import users as core_users
from authflow.core.device_srp import pending_id
from authflow.core.records import AppClient, Device, User, UserPool
from authflow.errors import InvalidUserPoolConfigurationException, NotAuthorizedException
from authflow.service import context
from authflow.service.engine import Engine
from authflow.service.registry import operation
from authflow.service.tokens import authenticate

NOT_TRACKING = "Device tracking is not enabled for this user pool."


def verifier_context(pool_id: str, device_key: str, salt: str) -> str:
    return f"device-verifier:{pool_id}:{device_key}:{salt}"


def open_verifier(engine: Engine, device: Device) -> int:
    """The device's verifier v, unsealed (only to answer its DEVICE_SRP_AUTH step)."""
    return int.from_bytes(engine.unseal(device.verifier, verifier_context(device.pool_id, device.key, device.salt)),
                          "big")


# -- sign-in ---------------------------------------------------------------------------------


def device_key_of(values: Mapping[str, Any] | None) -> str | None:
    """DEVICE_KEY of AuthParameters or ChallengeResponses (an empty one counts as absent)."""
    key = (values or {}).get("DEVICE_KEY")
    return key or None


def attempt_device(tx, pool: UserPool, user: User | None, given: str | None, carried: str | None = None) -> Device | None:
    """The user's device whose DEVICE_KEY the attempt carries (given now, or carried by its
    session), in a pool that tracks devices; None when there is none. A key of the wrong
    shape, or another user's, is `Invalid device key given.`; an unknown or forgotten key
    is `Device does not exist.` (the error amazon-cognito-identity-js retries without it)."""
    key = given or carried
    if core.tracking(pool) is None or user is None or not key:
        return None
    return core.owned(tx.get_device(pool.id, core.check_key(key)), user)


def bind_tokens(
    engine: Engine, tx, pool: UserPool, user: User, device: Device | None, *, proved: bool, expires: datetime,
    now: datetime,
) -> tuple[str | None, dict[str, str] | None]:
    """The device new tokens are bound to, and NewDeviceMetadata when it is issued now
    (no device carried). Unconfirmed, an issued device lives as long as its refresh token
    (`expires`). Outside device tracking: (None, None)."""
    if core.tracking(pool) is None:
        return None, None
    if device is None:
        issued = core.issue(
            pool, user, key=core.new_key(engine.region, engine.entropy),
            group=core.group_key(engine.pool_secret(pool), user.sub), now=now, expires=expires,
        )
        tx.put_device(issued)
        return issued.key, core.new_device_metadata(issued)
    # Read again where it is written: forgotten since the attempt began, it binds nothing.
    current = core.owned(tx.get_device(pool.id, device.key), user)
    tx.put_device(core.signed_in(current, proved=proved, ip=context.client_address(), now=now))
    return current.key, None


# -- the operations -----------------------------------------------------------------------------


def _tracking(pool: UserPool) -> None:
    if core.tracking(pool) is None:
        raise InvalidUserPoolConfigurationException(NOT_TRACKING)


def _access(engine: Engine, tx, request: Mapping[str, Any], now: datetime) -> tuple[UserPool, AppClient, User]:
    token = request.get("AccessToken")
    if not token:  # optional in the model for GetDevice and ForgetDevice; required here
        raise NotAuthorizedException("Missing access token.")
    pool, client, user, _ = authenticate(engine, tx, token, now)
    return pool, client, user


def _admin(engine: Engine, tx, request: Mapping[str, Any]) -> tuple[UserPool, User]:
    pool = engine.require_pool(tx, request["UserPoolId"])
    return pool, core_users.require_user(tx, pool, request["Username"])


@operation("ConfirmDevice")
def confirm_device(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, _, user = _access(engine, tx, request, now)
        _tracking(pool)
        key = core.check_key(request["DeviceKey"])
        config = core.parse_verifier_config(request.get("DeviceSecretVerifierConfig"))
        device = core.confirmable(tx.get_device(pool.id, key), user)
        sealed = engine.seal(config.verifier.to_bytes(384, "big"), verifier_context(pool.id, key, config.salt))
        confirmed = core.confirm(pool, device, salt=config.salt, sealed_verifier=sealed,
                                 name=request.get("DeviceName"), ip=context.client_address(), now=now)
        tx.put_device(confirmed)
    return {"UserConfirmationNecessary": confirmed.status == "NOT_REMEMBERED"}


def _get(engine: Engine, tx, pool: UserPool, user: User, request: Mapping[str, Any], *, admin: bool) -> dict[str, Any]:
    device = core.visible(tx.get_device(pool.id, core.check_key(request["DeviceKey"])), user)
    return {"Device": core.device_type(device, pool=pool, username=user.username, admin=admin)}


@operation("GetDevice")
def get_device(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool, _, user = _access(engine, tx, request, engine.now())
        return _get(engine, tx, pool, user, request, admin=False)


@operation("AdminGetDevice")
def admin_get_device(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool, user = _admin(engine, tx, request)
        return _get(engine, tx, pool, user, request, admin=True)


def _list(engine: Engine, tx, pool: UserPool, user: User, request: Mapping[str, Any], now: datetime, *,
          admin: bool) -> dict[str, Any]:
    """One page of the user's confirmed devices, by device key (PaginationToken as
    ListUsers makes them: authenticated, bound to this user's list, expiring)."""
    limit = request.get("Limit")
    limit = core.DEFAULT_LIMIT if limit is None or limit == 0 else limit
    secret = engine.pool_secret(pool)
    fingerprint = core.page_fingerprint(pool, user)
    after = None
    if request.get("PaginationToken"):
        after = listing.decode_page_token(secret, request["PaginationToken"], fingerprint=fingerprint, now=now)[1]
    page = tx.list_devices(pool.id, user.sub, after=after, limit=limit + 1)
    response: dict[str, Any] = {
        "Devices": [core.device_type(d, pool=pool, username=user.username, admin=admin) for d in page[:limit]],
    }
    if len(page) > limit:
        response["PaginationToken"] = listing.encode_page_token(
            secret, fingerprint=fingerprint, after=(user.sub, page[limit - 1].key), issued_at=now
        )
    return response


@operation("ListDevices")
def list_devices(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, _, user = _access(engine, tx, request, now)
        return _list(engine, tx, pool, user, request, now, admin=False)


@operation("AdminListDevices")
def admin_list_devices(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, user = _admin(engine, tx, request)
        return _list(engine, tx, pool, user, request, now, admin=True)


def _forget(tx, pool: UserPool, user: User, request: Mapping[str, Any]) -> dict[str, Any]:
    """The record goes; its key is refused from then on, and so are the refresh tokens
    bound to it (refresh checks that their device still exists)."""
    device = core.visible(tx.get_device(pool.id, core.check_key(request["DeviceKey"])), user)
    core.forget(device)
    tx.delete_device(pool.id, device.key)
    pending = tx.get_session(pending_id(pool.id, device.key))
    if pending is not None:
        tx.delete_session(pending.id)  # a device sign-in under way cannot finish
    return {}


@operation("ForgetDevice")
def forget_device(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool, _, user = _access(engine, tx, request, engine.now())
        return _forget(tx, pool, user, request)


@operation("AdminForgetDevice")
def admin_forget_device(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool, user = _admin(engine, tx, request)
        return _forget(tx, pool, user, request)


def _update_status(tx, pool: UserPool, user: User, request: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    _tracking(pool)
    device = core.visible(tx.get_device(pool.id, core.check_key(request["DeviceKey"])), user)
    tx.put_device(core.set_remembered(device, request.get("DeviceRememberedStatus"), now))
    return {}


@operation("UpdateDeviceStatus")
def update_device_status(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, _, user = _access(engine, tx, request, now)
        return _update_status(tx, pool, user, request, now)


@operation("AdminUpdateDeviceStatus")
def admin_update_device_status(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, user = _admin(engine, tx, request)
        return _update_status(tx, pool, user, request, now)
