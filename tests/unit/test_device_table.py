"""The exhaustive table test of a device's life (`specs/device.yaml`): for every (state,
trigger) pair and both values of the pool's DeviceOnlyRememberedOnUserPrompt, driving
the engine through the public Client ends in the state the spec names, or is refused
with a CognitoError that changes nothing when the spec has no such transition.

Three triggers come from operations that never name a device key: a sign-in without
DEVICE_KEY (`issue`), `purge_expired` (`expire`) and AdminDeleteUser (`owner_deleted`).
Where the spec has no transition for them, the operation succeeds about other records and
must leave this device's record exactly as it was (UNTOUCHED)."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from authflow.conformance.srp_client import SrpClient, device_registration
from authflow.core.lifecycle import IllegalTransition, device_lifecycle
from authflow.errors import CognitoError
from tests.signin import (
    DEVICE_PASSWORD,
    DEVICE_SALT,
    Env,
    answer_device_challenges,
    confirm_new_device,
    devices_of,
    tracking,
)

MACHINE = device_lifecycle()
FACTS = [{"remembered_on_user_prompt": prompt} for prompt in (False, True)]
#: Triggers an operation of the user API and an Admin* one both fire: driven both ways.
BOTH_WAYS = {"remember", "not_remember", "forget"}
#: Triggers whose operation names no device (see the module docstring).
BULK = {"issue", "expire", "owner_deleted"}
#: `dev:device_remembered_status` of the confirmed states; the others are not shown.
SHOWN = {"REMEMBERED": "remembered", "NOT_REMEMBERED": "not_remembered"}
#: The key of the ABSENT device: well formed, never issued.
ABSENT_KEY = "us-east-1_0badc0de-0000-4000-8000-000000000000"


class Refused(Exception):
    """The driven operation raised a CognitoError and changed nothing."""


class Device:
    """One device of alice's in a pool that tracks devices, with her latest tokens."""

    def __init__(self, facts) -> None:
        self.env = env = Env()
        self.pool = env.pool(DeviceConfiguration=tracking(on_prompt=facts["remembered_on_user_prompt"]))
        self.app = env.app_id(self.pool)
        env.user(self.pool)
        env.place(self.pool, "alice", status="CONFIRMED")
        self.key = ABSENT_KEY
        self.issued = False
        self.credentials = None
        # An access token and the user's group key (this sign-in issues a device of its own).
        self.tokens = self.sign_in()
        self.group = self.tokens["NewDeviceMetadata"]["DeviceGroupKey"]

    def sign_in(self) -> dict:
        """A sign-in without DEVICE_KEY: its AuthenticationResult."""
        return self.env.initiate(self.app)["AuthenticationResult"]

    def reach(self, state: str) -> None:
        if state == "ABSENT":
            return
        issued = self.sign_in()
        self.key, self.issued, self.tokens = issued["NewDeviceMetadata"]["DeviceKey"], True, issued
        if state == "NEW":
            return
        self.credentials = confirm_new_device(self.env, issued)
        status = "not_remembered" if state == "NOT_REMEMBERED" else "remembered"
        self.env.client.admin_update_device_status(UserPoolId=self.pool, Username="alice", DeviceKey=self.key,
                                                   DeviceRememberedStatus=status)
        if state == "FORGOTTEN":
            self.env.client.admin_forget_device(UserPoolId=self.pool, Username="alice", DeviceKey=self.key)

    def record(self):
        return devices_of(self.env, self.pool).get(self.key)

    def state(self) -> str:
        """The device's state: its record's, FORGOTTEN once an issued key has none. What
        AdminGetDevice shows must agree."""
        record = self.record()
        state = record.status if record else "FORGOTTEN" if self.issued else "ABSENT"
        try:
            shown = self.env.client.admin_get_device(UserPoolId=self.pool, Username="alice", DeviceKey=self.key)
        except (self.env.client.exceptions.ResourceNotFoundException,
                self.env.client.exceptions.UserNotFoundException):
            assert state not in SHOWN
        else:
            attributes = {a["Name"]: a["Value"] for a in shown["Device"]["DeviceAttributes"]}
            assert attributes["dev:device_remembered_status"] == SHOWN[state]
        return state

    def refusable(self, call, *args, **kwargs):
        """`call`'s response; `Refused` when it raises a CognitoError, which must have
        changed nothing."""
        before = self.env.snapshot()
        try:
            return call(*args, **kwargs)
        except CognitoError:
            assert self.env.snapshot() == before
            raise Refused from None


def drive(device: Device, trigger: str, admin: bool) -> None:
    """The public operation behind each trigger; `Refused` when it is refused."""
    client, env = device.env.client, device.env
    admin_kwargs = {"UserPoolId": device.pool, "Username": "alice", "DeviceKey": device.key}
    user_kwargs = {"AccessToken": device.tokens["AccessToken"], "DeviceKey": device.key}
    if trigger == "issue":
        issued = device.sign_in()["NewDeviceMetadata"]["DeviceKey"]
        if device.state() == "ABSENT":  # the pseudo-state stands for any key not yet issued
            device.key, device.issued = issued, True
        else:
            assert issued != device.key  # a key is never issued twice
    elif trigger == "confirm":
        verifier = device_registration(device.group, device.key, DEVICE_PASSWORD, DEVICE_SALT)
        device.refusable(client.confirm_device, **user_kwargs, DeviceSecretVerifierConfig=verifier, DeviceName="d")
    elif trigger in ("remember", "not_remember"):
        status = "remembered" if trigger == "remember" else "not_remembered"
        if admin:
            device.refusable(client.admin_update_device_status, **admin_kwargs, DeviceRememberedStatus=status)
        else:
            device.refusable(client.update_device_status, **user_kwargs, DeviceRememberedStatus=status)
    elif trigger == "forget":
        if admin:
            device.refusable(client.admin_forget_device, **admin_kwargs)
        else:
            device.refusable(client.forget_device, **user_kwargs)
    elif trigger in ("tokens_bound", "device_authenticated"):
        # A sign-in carrying the key; a remembered device is asked for its proof.
        response = device.refusable(env.initiate, device.app, DEVICE_KEY=device.key)
        proof_asked = response.get("ChallengeName") == "DEVICE_SRP_AUTH"
        if proof_asked:
            response = answer_device_challenges(env, device.app, response, device.credentials)
        result = response["AuthenticationResult"]
        assert "NewDeviceMetadata" not in result
        assert jwt.decode(result["AccessToken"], options={"verify_signature": False})["device_key"] == device.key
        if trigger == "device_authenticated" and not proof_asked:
            # Tokens without the device's proof: a DEVICE_SRP_AUTH answer for the key now
            # (without Session, as pycognito sends it) has no sign-in to continue.
            responses = {"USERNAME": "alice", "DEVICE_KEY": device.key, "SRP_A": SrpClient(device.pool, 0xD1CE).srp_a}
            device.refusable(client.respond_to_auth_challenge, ClientId=device.app, ChallengeName="DEVICE_SRP_AUTH",
                             ChallengeResponses=responses)
    elif trigger == "expire":
        env.clock.advance(timedelta(days=30, seconds=1))  # the refresh token's validity
        client.purge_expired()
    elif trigger == "owner_deleted":
        client.admin_delete_user(UserPoolId=device.pool, Username="alice")
        assert devices_of(env, device.pool) == {}
    else:
        raise AssertionError(f"no public operation drives {trigger}")


CASES = [
    pytest.param(state, trigger, facts, admin,
                 id=f"{state}-{trigger}-{'prompt' if facts['remembered_on_user_prompt'] else 'always'}"
                    + ("-admin" if admin else ""))
    for state in MACHINE.states
    for trigger in MACHINE.triggers
    for facts in FACTS
    for admin in ((False, True) if trigger in BOTH_WAYS else (False,))
]


@pytest.mark.parametrize(("state", "trigger", "facts", "admin"), CASES)
def test_every_state_trigger_and_fact_combination(state, trigger, facts, admin):
    device = Device(facts)
    device.reach(state)
    assert device.state() == state
    try:
        expected = MACHINE.next_state(state, trigger, facts)
    except IllegalTransition:
        expected = "UNTOUCHED" if trigger in BULK else "REFUSED"
    before = device.record()
    try:
        drive(device, trigger, admin)
    except Refused:
        outcome = "REFUSED"
    else:
        outcome = device.state()
        if trigger in BULK and outcome == state and device.record() == before:
            outcome = "UNTOUCHED"
    assert outcome == expected


def test_the_table_reaches_every_state():
    assert set(MACHINE.states) == {"ABSENT", "NEW", "REMEMBERED", "NOT_REMEMBERED", "FORGOTTEN"}
    for state in MACHINE.states:
        device = Device(FACTS[1])
        device.reach(state)
        assert device.state() == state
