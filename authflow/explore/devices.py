"""The device flow family (`flows` "devices"): the pool tracks devices, and for each
universe user the caller may sign in with a password carrying a device key (its own
device's, or another user's), answer DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER
(rightly or with a wrong device password), confirm the device it was issued, remember
it or not, forget it, and refresh with the device key.

The caller plays a client as amazon-cognito-identity-js does: it keeps the latest
NewDeviceMetadata of each user (`HeldDevice`), registers it with ConfirmDevice through
the reference client (`authflow.conformance.srp_client.device_registration`, a fixed
device password and salt per user), and answers the device challenges with
`DeviceSrpClient` (a fixed secret exponent per user; B, drawn by the engine, makes
every attempt differ). Neither uses the engine's own SRP code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from authflow.conformance.srp_client import DeviceSrpClient, device_registration
from authflow.explore.actions import Action
from authflow.explore.caller import Caller, HeldDevice
from authflow.explore.universe import Universe

#: The tracking pool's DeviceConfiguration when the caller's pool request names none: a
#: confirmed device is remembered at once, and a remembered device stands in for MFA.
DEVICE_CONFIGURATION = {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False}
#: The MFA of the tracking pool when no pool request is given: SMS MFA a user may turn on.
SMS_CONFIGURATION = {"SnsCallerArn": "arn:aws:iam::000000000000:role/explore-sns", "ExternalId": "explore"}
WRONG_DEVICE_PASSWORD = "not-the-device-password"


def device_password(i: int) -> str:
    """User i's device password (a client draws 40 random bytes; fixed here, so that a
    state is a function of its path)."""
    return f"explore-device-password-{i}"


def _salt(i: int) -> bytes:
    # The top bit set: padHex gives the salt a leading 00 (the case clients differ on).
    return b"\x80" + hashlib.sha256(f"explore-device-salt-{i}".encode()).digest()[:15]


def _secret(i: int) -> int:
    return int.from_bytes(hashlib.sha256(f"explore-device-a-{i}".encode()).digest(), "big")


@lru_cache(maxsize=256)
def registration(group: str, key: str, i: int) -> dict[str, str]:
    """DeviceSecretVerifierConfig of user i's device `key` (one exponentiation: cached)."""
    return device_registration(group, key, device_password(i), _salt(i))


@lru_cache(maxsize=256)
def _device_client(group: str, key: str, password: str, i: int) -> DeviceSrpClient:
    return DeviceSrpClient(group, key, password, _secret(i))


def device_actions(u: Universe, client_id: str, clock: Callable[[], datetime]) -> list[Action]:
    """The device half of the alphabet."""
    actions: list[Action] = []
    owners = u.names[:u.family_users]
    for login in u.logins:
        for j, owner in enumerate(owners):
            for password in (u.temporary, u.new):
                actions.append(Action(
                    f"sign in as {login} with the {u.password_name(password)} password and {owner}'s device",
                    _sign_in(client_id, login, password, j),
                ))
    for i, name in enumerate(u.names):  # anyone's sign-in may carry an owner's device
        actions.append(Action(f"answer {name}'s device challenge", _device_answer(client_id, i, clock, good=True)))
        actions.append(Action(f"answer {name}'s device challenge wrongly",
                              _device_answer(client_id, i, clock, good=False)))
    for i, name in enumerate(owners):
        actions.append(Action(f"confirm {name}'s device", _with_device(i, lambda t, d: ("confirm_device", {
            "AccessToken": t.access, "DeviceKey": d.key, "DeviceName": "explore",
            "DeviceSecretVerifierConfig": registration(d.group, d.key, d.slot),
        }))))
        for status, label in (("remembered", "remember"), ("not_remembered", "stop remembering")):
            actions.append(Action(f"{label} {name}'s device", _with_device(
                i, lambda t, d, status=status: ("update_device_status", {
                    "AccessToken": t.access, "DeviceKey": d.key, "DeviceRememberedStatus": status,
                }))))
        actions.append(Action(f"forget {name}'s device", _with_device(i, lambda t, d: ("forget_device", {
            "AccessToken": t.access, "DeviceKey": d.key}))))
        actions.append(Action(f"refresh {name}'s tokens with the device key", _with_device(
            i, lambda t, d: ("initiate_auth", {
                "ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                "AuthParameters": {"REFRESH_TOKEN": t.refresh, "DEVICE_KEY": d.key},
            }))))
    return actions


def _sign_in(client_id: str, login: str, password: str, j: int) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        device = caller.devices[j] if caller.devices else None
        if device is None:
            return None
        return "initiate_auth", {
            "ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": login, "PASSWORD": password, "DEVICE_KEY": device.key},
        }

    return build


def _with_device(i: int, make: Callable[[Any, HeldDevice], tuple[str, dict]]) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        tokens, device = caller.tokens[i], caller.devices[i] if caller.devices else None
        return make(tokens, device) if tokens is not None and device is not None else None

    return build


def _device_answer(
    client_id: str, i: int, clock: Callable[[], datetime], *, good: bool,
) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge = caller.challenges[i]
        if challenge is None or challenge.device is None:
            return None
        device = challenge.device
        password = device_password(device.slot) if good else WRONG_DEVICE_PASSWORD
        srp = _device_client(device.group, device.key, password, device.slot)
        if challenge.name == "DEVICE_SRP_AUTH":
            if not good:
                return None  # nothing to get wrong yet: SRP_A proves nothing
            responses = {"USERNAME": challenge.username, "DEVICE_KEY": device.key, "SRP_A": srp.srp_a}
        elif challenge.name == "DEVICE_PASSWORD_VERIFIER":
            responses = srp.answer(dict(challenge.parameters), challenge.username, clock())
        else:
            return None
        return "respond_to_auth_challenge", {
            "ClientId": client_id, "ChallengeName": challenge.name, "Session": challenge.session,
            "ChallengeResponses": responses,
        }

    return build
