"""The device operations through the Client: ConfirmDevice, GetDevice / AdminGetDevice,
ListDevices / AdminListDevices, UpdateDeviceStatus / AdminUpdateDeviceStatus,
ForgetDevice / AdminForgetDevice, and what AdminDeleteUser does to a user's devices.
Every refusal is checked to leave the store, device records included, as it was."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from authflow.conformance.srp_client import N, device_registration
from authflow.errors import (
    DeviceKeyExistsException,
    InvalidParameterException,
    InvalidUserPoolConfigurationException,
    NotAuthorizedException,
    ResourceNotFoundException,
    UserNotFoundException,
)
from tests.conftest import START
from tests.signin import (
    DEVICE_PASSWORD,
    DEVICE_SALT,
    TEMP,
    Env,
    answer_device_challenges,
    confirm_new_device,
    devices_of,
    refused,
    tracking,
)

NOT_EXIST = "Device does not exist."
MISSING_VERIFIER = "DeviceSecretVerifierConfig with PasswordVerifier and Salt is required."
BAD_VERIFIER = "Invalid device secret verifier config: PasswordVerifier and Salt must be base64."
NOT_TRACKING = "Device tracking is not enabled for this user pool."
#: Well formed (`<region>_<uuid>`), never issued.
UNKNOWN_KEY = "us-east-1_0badc0de-0000-4000-8000-000000000000"


def unchanged(env: Env, exception, message: str, call, *args, **kwargs):
    """`call(*args, **kwargs)` is refused with exactly `exception` and `message`, and the store,
    device records included, is exactly as it was."""
    before = env.snapshot()
    err = refused(exception, message, call, *args, **kwargs)
    assert env.snapshot() == before
    return err


class Pool:
    """A pool that tracks devices (`tracking(...)` keywords), an app client and CONFIRMED
    users whose password is TEMP."""

    def __init__(self, *, users=("alice",), **config) -> None:
        self.env = Env()
        self.client = self.env.client
        self.id = self.env.pool(DeviceConfiguration=tracking(**config))
        self.app = self.env.app_id(self.id)
        for name in users:
            self.add_user(name)

    def add_user(self, name: str) -> None:
        self.env.user(self.id, name)
        self.env.place(self.id, name, status="CONFIRMED")

    def sign_in(self, username: str = "alice", device=None) -> dict:
        """A USER_PASSWORD_AUTH sign-in (carrying `device`'s key, answering its device
        steps when it is remembered): the AuthenticationResult."""
        extra = {"DEVICE_KEY": device.key} if device else {}
        response = self.env.initiate(self.app, username, TEMP, **extra)
        if response.get("ChallengeName") == "DEVICE_SRP_AUTH":
            response = answer_device_challenges(self.env, self.app, response, device, username=username)
        return response["AuthenticationResult"]

    def new_device(self, username: str = "alice", **kwargs):
        """A sign-in that issues a device, and ConfirmDevice of it: (device, tokens)."""
        tokens = self.sign_in(username)
        return confirm_new_device(self.env, tokens, **kwargs), tokens

    def admin(self, username: str = "alice", **kwargs) -> dict:
        return {"UserPoolId": self.id, "Username": username, **kwargs}

    def shown(self, key: str, username: str = "alice") -> dict[str, str]:
        device = self.client.admin_get_device(**self.admin(username, DeviceKey=key))["Device"]
        return {a["Name"]: a["Value"] for a in device["DeviceAttributes"]}

    def status(self, key: str, username: str = "alice") -> str:
        return self.shown(key, username)["dev:device_remembered_status"]


# -- ConfirmDevice -------------------------------------------------------------------------------


def test_confirm_device_remembers_at_once_unless_the_pool_waits_for_the_user():
    pool = Pool(on_prompt=False)
    tokens = pool.sign_in()
    key = tokens["NewDeviceMetadata"]["DeviceKey"]
    group = tokens["NewDeviceMetadata"]["DeviceGroupKey"]
    verifier = device_registration(group, key, DEVICE_PASSWORD, DEVICE_SALT)
    confirmed = pool.client.confirm_device(AccessToken=tokens["AccessToken"], DeviceKey=key, DeviceName="laptop",
                                           DeviceSecretVerifierConfig=verifier)
    assert confirmed["UserConfirmationNecessary"] is False
    assert pool.status(key) == "remembered"
    # The salt kept as the bytes sent (padHex's leading 00 included): SALT gives them back.
    assert base64.b64decode(verifier["Salt"])[0] == 0
    assert devices_of(pool.env, pool.id)[key].salt == base64.b64decode(verifier["Salt"]).hex()
    started = pool.env.initiate(pool.app, DEVICE_KEY=key)
    device_step = pool.env.respond(pool.app, started["Session"],
                                   {"USERNAME": "alice", "DEVICE_KEY": key, "SRP_A": format(pow(2, 12345, N), "x")},
                                   name="DEVICE_SRP_AUTH")
    assert device_step["ChallengeParameters"]["SALT"] == base64.b64decode(verifier["Salt"]).hex()


def test_confirm_device_on_user_prompt_leaves_the_device_not_remembered_until_updated():
    pool = Pool(on_prompt=True)
    tokens = pool.sign_in()
    key = tokens["NewDeviceMetadata"]["DeviceKey"]
    group = tokens["NewDeviceMetadata"]["DeviceGroupKey"]
    confirmed = pool.client.confirm_device(
        AccessToken=tokens["AccessToken"], DeviceKey=key,
        DeviceSecretVerifierConfig=device_registration(group, key, DEVICE_PASSWORD, DEVICE_SALT),
    )
    assert confirmed["UserConfirmationNecessary"] is True
    assert pool.status(key) == "not_remembered"
    # Not remembered: the sign-in with its key asks no device proof.
    assert "AuthenticationResult" in pool.env.initiate(pool.app, DEVICE_KEY=key)
    pool.client.update_device_status(AccessToken=tokens["AccessToken"], DeviceKey=key,
                                     DeviceRememberedStatus="remembered")
    assert pool.env.initiate(pool.app, DEVICE_KEY=key)["ChallengeName"] == "DEVICE_SRP_AUTH"


def test_confirming_a_device_twice_is_refused_and_changes_nothing():
    pool = Pool()
    device, tokens = pool.new_device(name="first")
    verifier = device_registration(device.group, device.key, "another password", bytes(16))
    unchanged(pool.env, DeviceKeyExistsException, "Device key already exists.", pool.client.confirm_device,
              AccessToken=tokens["AccessToken"], DeviceKey=device.key, DeviceSecretVerifierConfig=verifier,
              DeviceName="second")
    assert pool.shown(device.key)["device_name"] == "first"
    pool.sign_in(device=device)  # the first verifier still proves the device


@pytest.mark.parametrize("config", [
    None,
    {},
    {"Salt": base64.b64encode(DEVICE_SALT).decode()},
    {"PasswordVerifier": base64.b64encode(b"\x05" * 384).decode()},
    {"PasswordVerifier": "", "Salt": base64.b64encode(DEVICE_SALT).decode()},
    {"PasswordVerifier": base64.b64encode(b"\x05" * 384).decode(), "Salt": ""},
], ids=["absent", "empty", "no-verifier", "no-salt", "empty-verifier", "empty-salt"])
def test_confirm_device_without_its_verifier_config_is_refused(config):
    pool = Pool()
    tokens = pool.sign_in()
    request = {"AccessToken": tokens["AccessToken"], "DeviceKey": tokens["NewDeviceMetadata"]["DeviceKey"]}
    if config is not None:
        request["DeviceSecretVerifierConfig"] = config
    unchanged(pool.env, InvalidParameterException, MISSING_VERIFIER, pool.client.confirm_device, **request)
    assert devices_of(pool.env, pool.id)[request["DeviceKey"]].status == "NEW"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(("verifier", "salt"), [
    ("not base64!", _b64(DEVICE_SALT)),
    (_b64(b"\x05" * 384), "not base64!"),
    (_b64(b"\x00"), _b64(DEVICE_SALT)),
    (_b64(b"\x01"), _b64(DEVICE_SALT)),
    (_b64(N.to_bytes(384, "big")), _b64(DEVICE_SALT)),
    (_b64(b"\x05" * 384), _b64(b"\x01" * 65)),
], ids=["verifier-not-base64", "salt-not-base64", "verifier-0", "verifier-1", "verifier-N", "salt-too-long"])
def test_confirm_device_with_a_malformed_verifier_config_is_refused(verifier, salt):
    pool = Pool()
    tokens = pool.sign_in()
    unchanged(pool.env, InvalidParameterException, BAD_VERIFIER, pool.client.confirm_device,
              AccessToken=tokens["AccessToken"], DeviceKey=tokens["NewDeviceMetadata"]["DeviceKey"],
              DeviceSecretVerifierConfig={"PasswordVerifier": verifier, "Salt": salt})


def test_confirm_device_of_another_users_key_or_an_unknown_one_is_an_invalid_key():
    # The text observed from ConfirmDevice (reference §1.3).
    pool = Pool(users=("alice", "bob"))
    alices = pool.sign_in("alice")
    bobs = pool.sign_in("bob")
    key = alices["NewDeviceMetadata"]["DeviceKey"]
    verifier = device_registration(bobs["NewDeviceMetadata"]["DeviceGroupKey"], key, DEVICE_PASSWORD, DEVICE_SALT)
    for device_key in (key, UNKNOWN_KEY):
        unchanged(pool.env, InvalidParameterException, "Invalid device key given.", pool.client.confirm_device,
                  AccessToken=bobs["AccessToken"], DeviceKey=device_key, DeviceSecretVerifierConfig=verifier)
    confirm_new_device(pool.env, alices)  # still hers to confirm


@pytest.mark.parametrize("key", ["not-a-key", "us-east-1_NOTHEX", "us-east-1_" + "0" * 46, "dévice_0f"])
def test_confirm_device_with_a_wrong_shaped_key_is_refused(key):
    pool = Pool()
    tokens = pool.sign_in()
    verifier = device_registration("-group", key, DEVICE_PASSWORD, DEVICE_SALT)
    before = pool.env.snapshot()
    with pytest.raises(InvalidParameterException, match="deviceKey|Invalid device key given"):
        pool.client.confirm_device(AccessToken=tokens["AccessToken"], DeviceKey=key,
                                   DeviceSecretVerifierConfig=verifier)
    assert pool.env.snapshot() == before


def test_confirm_device_with_an_expired_or_revoked_access_token_is_refused():
    pool = Pool()
    tokens = pool.sign_in()
    key = tokens["NewDeviceMetadata"]["DeviceKey"]
    verifier = device_registration(tokens["NewDeviceMetadata"]["DeviceGroupKey"], key, DEVICE_PASSWORD, DEVICE_SALT)
    pool.env.clock.advance(timedelta(hours=1, seconds=1))
    unchanged(pool.env, NotAuthorizedException, "Access Token has expired", pool.client.confirm_device,
              AccessToken=tokens["AccessToken"], DeviceKey=key, DeviceSecretVerifierConfig=verifier)
    fresh = pool.sign_in()
    pool.client.global_sign_out(AccessToken=fresh["AccessToken"])
    unchanged(pool.env, NotAuthorizedException, "Access Token has been revoked", pool.client.confirm_device,
              AccessToken=fresh["AccessToken"], DeviceKey=key, DeviceSecretVerifierConfig=verifier)
    unchanged(pool.env, NotAuthorizedException, "Invalid Access Token", pool.client.confirm_device,
              AccessToken=tokens["IdToken"], DeviceKey=key, DeviceSecretVerifierConfig=verifier)


def test_confirm_device_with_an_access_token_of_an_earlier_sign_in_is_accepted():
    pool = Pool()
    earlier = pool.sign_in()
    later = pool.sign_in()
    confirm_new_device(pool.env, {**later, "AccessToken": earlier["AccessToken"]})
    assert pool.status(later["NewDeviceMetadata"]["DeviceKey"]) == "remembered"


def test_device_operations_in_a_pool_without_tracking():
    env = Env()
    pool = env.pool()
    app = env.app_id(pool)
    env.user(pool)
    env.place(pool, "alice", status="CONFIRMED")
    tokens = env.initiate(app)["AuthenticationResult"]
    assert "NewDeviceMetadata" not in tokens
    verifier = device_registration("-group", UNKNOWN_KEY, DEVICE_PASSWORD, DEVICE_SALT)
    unchanged(env, InvalidUserPoolConfigurationException, NOT_TRACKING, env.client.confirm_device,
              AccessToken=tokens["AccessToken"], DeviceKey=UNKNOWN_KEY, DeviceSecretVerifierConfig=verifier)
    for call, kwargs in (
        (env.client.update_device_status, {"AccessToken": tokens["AccessToken"]}),
        (env.client.admin_update_device_status, {"UserPoolId": pool, "Username": "alice"}),
    ):
        unchanged(env, InvalidUserPoolConfigurationException, NOT_TRACKING, call, **kwargs, DeviceKey=UNKNOWN_KEY,
                  DeviceRememberedStatus="remembered")
    assert env.client.list_devices(AccessToken=tokens["AccessToken"])["Devices"] == []
    unchanged(env, ResourceNotFoundException, NOT_EXIST, env.client.get_device,
              AccessToken=tokens["AccessToken"], DeviceKey=UNKNOWN_KEY)
    # A DEVICE_KEY is ignored where devices are not tracked.
    assert "AuthenticationResult" in env.initiate(app, DEVICE_KEY=UNKNOWN_KEY)


# -- GetDevice / AdminGetDevice --------------------------------------------------------------------


def test_get_device_shows_the_user_attributes_and_admin_get_device_the_dev_ones():
    pool = Pool()
    device, tokens = pool.new_device(name="alice's laptop")
    shown = pool.client.get_device(AccessToken=tokens["AccessToken"], DeviceKey=device.key)["Device"]
    assert shown["DeviceKey"] == device.key
    # In process there is no client address: no last_ip_used.
    assert shown["DeviceAttributes"] == [{"Name": "device_status", "Value": "valid"},
                                         {"Name": "device_name", "Value": "alice's laptop"}]
    admin = pool.client.admin_get_device(**pool.admin(DeviceKey=device.key))["Device"]
    owner = f"alice.{pool.id}"
    assert admin["DeviceAttributes"] == shown["DeviceAttributes"] + [
        {"Name": "dev:device_arn", "Value": f"arn:aws:cognito-idp:us-east-1:000000000000:owner/{owner}/device/{device.key}"},
        {"Name": "dev:device_owner", "Value": owner},
        {"Name": "dev:device_remembered_status", "Value": "remembered"},
        {"Name": "dev:device_sdk", "Value": "aws-sdk"},
    ]
    assert {k: v for k, v in admin.items() if k != "DeviceAttributes"} == \
        {k: v for k, v in shown.items() if k != "DeviceAttributes"}


def test_a_device_confirmed_without_a_name_has_no_device_name():
    pool = Pool()
    device, tokens = pool.new_device(name=None)
    shown = pool.client.get_device(AccessToken=tokens["AccessToken"], DeviceKey=device.key)["Device"]
    assert shown["DeviceAttributes"] == [{"Name": "device_status", "Value": "valid"}]


def test_device_dates_follow_issue_confirmation_sign_in_and_status_changes():
    pool = Pool()
    issued = pool.sign_in()  # START
    pool.env.clock.advance(timedelta(minutes=1))
    device = confirm_new_device(pool.env, issued)

    def dates():
        shown = pool.client.admin_get_device(**pool.admin(DeviceKey=device.key))["Device"]
        return (shown["DeviceCreateDate"], shown["DeviceLastModifiedDate"], shown.get("DeviceLastAuthenticatedDate"))

    assert dates() == (START, START + timedelta(minutes=1), None)
    pool.env.clock.advance(timedelta(minutes=1))
    pool.sign_in(device=device)
    assert dates() == (START, START + timedelta(minutes=1), START + timedelta(minutes=2))
    pool.env.clock.advance(timedelta(minutes=1))
    pool.client.admin_update_device_status(**pool.admin(DeviceKey=device.key), DeviceRememberedStatus="not_remembered")
    assert dates() == (START, START + timedelta(minutes=3), START + timedelta(minutes=2))
    pool.env.clock.advance(timedelta(minutes=1))
    pool.sign_in(device=device)  # not remembered: no device proof, the tokens still bound to it
    assert dates() == (START, START + timedelta(minutes=3), START + timedelta(minutes=4))


def test_get_device_of_an_unconfirmed_unknown_or_another_users_key_does_not_exist():
    pool = Pool(users=("alice", "bob"))
    alices, _ = pool.new_device("alice")
    unconfirmed = pool.sign_in("alice")
    bobs_tokens = pool.sign_in("bob")
    for key in (unconfirmed["NewDeviceMetadata"]["DeviceKey"], UNKNOWN_KEY):
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.get_device,
                  AccessToken=unconfirmed["AccessToken"], DeviceKey=key)
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.admin_get_device,
                  **pool.admin(DeviceKey=key))
    unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.get_device,
              AccessToken=bobs_tokens["AccessToken"], DeviceKey=alices.key)
    unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.admin_get_device,
              **pool.admin("bob", DeviceKey=alices.key))
    unchanged(pool.env, UserNotFoundException, "User does not exist.", pool.client.admin_get_device,
              **pool.admin("nobody", DeviceKey=alices.key))
    unchanged(pool.env, NotAuthorizedException, "Missing access token.", pool.client.get_device,
              DeviceKey=alices.key)


# -- ListDevices / AdminListDevices ------------------------------------------------------------------


def test_list_devices_shows_only_the_users_confirmed_devices_by_key():
    pool = Pool(users=("alice", "bob"))
    confirmed = [pool.new_device()[0].key for _ in range(3)]
    pool.client.admin_update_device_status(**pool.admin(DeviceKey=confirmed[1]), DeviceRememberedStatus="not_remembered")
    pool.new_device("bob")
    latest = pool.sign_in()  # issues one more, unconfirmed
    assert latest["NewDeviceMetadata"]["DeviceKey"] not in confirmed
    listed = pool.client.list_devices(AccessToken=latest["AccessToken"])
    assert [d["DeviceKey"] for d in listed["Devices"]] == sorted(confirmed)
    assert "PaginationToken" not in listed
    admin = pool.client.admin_list_devices(**pool.admin())
    assert [d["DeviceKey"] for d in admin["Devices"]] == sorted(confirmed)
    statuses = {d["DeviceKey"]: {a["Name"]: a["Value"] for a in d["DeviceAttributes"]}["dev:device_remembered_status"]
                for d in admin["Devices"]}
    assert statuses == {key: "not_remembered" if key == confirmed[1] else "remembered" for key in confirmed}
    # The user API's entries are GetDevice's.
    assert listed["Devices"][0] == pool.client.get_device(
        AccessToken=latest["AccessToken"], DeviceKey=listed["Devices"][0]["DeviceKey"])["Device"]


@pytest.mark.parametrize("admin", [False, True], ids=["user", "admin"])
def test_list_devices_pages_with_limit_and_pagination_token(admin):
    pool = Pool()
    keys = sorted(pool.new_device()[0].key for _ in range(5))
    tokens = pool.sign_in()
    auth = pool.admin() if admin else {"AccessToken": tokens["AccessToken"]}
    call = pool.client.admin_list_devices if admin else pool.client.list_devices
    pages, request = [], {"Limit": 2}
    while True:
        page = call(**auth, **request)
        pages.append([d["DeviceKey"] for d in page["Devices"]])
        if "PaginationToken" not in page:
            break
        request = {"Limit": 2, "PaginationToken": page["PaginationToken"]}
    assert pages == [keys[0:2], keys[2:4], keys[4:]]
    assert [d["DeviceKey"] for d in call(**auth, Limit=0)["Devices"]] == keys  # 0: the default


def test_list_devices_gives_sixty_by_default():
    pool = Pool()
    keys = sorted(pool.new_device()[0].key for _ in range(61))
    first = pool.client.admin_list_devices(**pool.admin())
    assert [d["DeviceKey"] for d in first["Devices"]] == keys[:60]
    rest = pool.client.admin_list_devices(**pool.admin(), PaginationToken=first["PaginationToken"])
    assert [d["DeviceKey"] for d in rest["Devices"]] == keys[60:] and "PaginationToken" not in rest


def test_a_tampered_or_foreign_pagination_token_is_refused():
    pool = Pool(users=("alice", "bob"))
    for _ in range(3):
        pool.new_device("alice")
        pool.new_device("bob")
    alice = pool.sign_in("alice")["AccessToken"]
    bob = pool.sign_in("bob")["AccessToken"]
    token = pool.client.list_devices(AccessToken=alice, Limit=1)["PaginationToken"]
    tampered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    for call, kwargs in (
        (pool.client.list_devices, {"AccessToken": alice, "PaginationToken": tampered}),
        (pool.client.admin_list_devices, {**pool.admin(), "PaginationToken": tampered}),
        (pool.client.list_devices, {"AccessToken": bob, "PaginationToken": token}),  # another user's list
        (pool.client.admin_list_devices, {**pool.admin("bob"), "PaginationToken": token}),
    ):
        unchanged(pool.env, InvalidParameterException, "Invalid pagination token.", call, Limit=1, **kwargs)
    assert pool.client.list_devices(AccessToken=alice, Limit=1, PaginationToken=token)["Devices"]


# -- UpdateDeviceStatus / AdminUpdateDeviceStatus ------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True], ids=["user", "admin"])
def test_update_device_status_both_ways(admin):
    pool = Pool()
    device, tokens = pool.new_device()

    def update(status):
        if admin:
            return pool.client.admin_update_device_status(**pool.admin(DeviceKey=device.key),
                                                          DeviceRememberedStatus=status)
        return pool.client.update_device_status(AccessToken=tokens["AccessToken"], DeviceKey=device.key,
                                                DeviceRememberedStatus=status)

    assert pool.env.initiate(pool.app, DEVICE_KEY=device.key)["ChallengeName"] == "DEVICE_SRP_AUTH"
    update("not_remembered")
    assert pool.status(device.key) == "not_remembered"
    not_remembered = pool.env.initiate(pool.app, DEVICE_KEY=device.key)
    assert "NewDeviceMetadata" not in not_remembered["AuthenticationResult"]  # the device is kept, its key bound
    update("not_remembered")  # again: stays
    assert pool.status(device.key) == "not_remembered"
    update("remembered")
    assert pool.status(device.key) == "remembered"
    pool.sign_in(device=device)  # its verifier survived: the device proves itself again


def test_update_device_status_without_a_status_or_of_an_unconfirmed_device_is_refused():
    pool = Pool()
    device, tokens = pool.new_device()
    unchanged(pool.env, InvalidParameterException, "DeviceRememberedStatus is required.",
              pool.client.update_device_status, AccessToken=tokens["AccessToken"], DeviceKey=device.key)
    unchanged(pool.env, InvalidParameterException, "DeviceRememberedStatus is required.",
              pool.client.admin_update_device_status, **pool.admin(DeviceKey=device.key))
    unconfirmed = pool.sign_in()["NewDeviceMetadata"]["DeviceKey"]
    for key in (unconfirmed, UNKNOWN_KEY):
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.update_device_status,
                  AccessToken=tokens["AccessToken"], DeviceKey=key, DeviceRememberedStatus="remembered")
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.admin_update_device_status,
                  **pool.admin(DeviceKey=key), DeviceRememberedStatus="remembered")
    assert pool.status(device.key) == "remembered"


# -- ForgetDevice / AdminForgetDevice ------------------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True], ids=["user", "admin"])
def test_a_forgotten_device_does_not_exist_any_more(admin):
    pool = Pool()
    device, tokens = pool.new_device()
    other, _ = pool.new_device()
    if admin:
        pool.client.admin_forget_device(**pool.admin(DeviceKey=device.key))
    else:
        pool.client.forget_device(AccessToken=tokens["AccessToken"], DeviceKey=device.key)
    assert device.key not in devices_of(pool.env, pool.id)
    for call, kwargs in (
        (pool.client.get_device, {"AccessToken": tokens["AccessToken"]}),
        (pool.client.admin_get_device, pool.admin()),
        (pool.client.forget_device, {"AccessToken": tokens["AccessToken"]}),
        (pool.client.admin_forget_device, pool.admin()),
    ):
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, call, **kwargs, DeviceKey=device.key)
    unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.env.initiate, pool.app, DEVICE_KEY=device.key)
    assert [d["DeviceKey"] for d in pool.client.admin_list_devices(**pool.admin())["Devices"]] == [other.key]
    pool.sign_in(device=other)  # the user's other device is untouched


def test_forget_device_of_an_unknown_unconfirmed_or_another_users_key_is_refused():
    pool = Pool(users=("alice", "bob"))
    alices, _ = pool.new_device("alice")
    bob = pool.sign_in("bob")
    for key in (UNKNOWN_KEY, bob["NewDeviceMetadata"]["DeviceKey"], alices.key):
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.forget_device,
                  AccessToken=bob["AccessToken"], DeviceKey=key)
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.admin_forget_device,
                  **pool.admin("bob", DeviceKey=key))
    pool.sign_in("alice", device=alices)


# -- AdminDeleteUser -------------------------------------------------------------------------------


def test_deleting_a_user_deletes_its_devices_and_a_new_user_of_the_same_name_has_none():
    pool = Pool(users=("alice", "bob"))
    device, _ = pool.new_device("alice")
    unconfirmed = pool.sign_in("alice")["NewDeviceMetadata"]["DeviceKey"]
    bobs, _ = pool.new_device("bob")
    pool.client.admin_delete_user(UserPoolId=pool.id, Username="alice")
    assert set(devices_of(pool.env, pool.id)) == {bobs.key}
    pool.add_user("alice")
    assert pool.client.admin_list_devices(**pool.admin())["Devices"] == []
    fresh = pool.sign_in("alice")
    assert pool.client.list_devices(AccessToken=fresh["AccessToken"])["Devices"] == []
    for key in (device.key, unconfirmed):
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.admin_get_device,
                  **pool.admin(DeviceKey=key))
        unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.env.initiate, pool.app, DEVICE_KEY=key)
    # A new user: a new group key.
    assert fresh["NewDeviceMetadata"]["DeviceGroupKey"] != device.group
    pool.sign_in("bob", device=bobs)

