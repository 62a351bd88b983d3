"""Device tracking over HTTP: boto3 against `authflow serve`, every device operation end to end.

The device verifier and the device SRP answers come from the reference-only client
(`authflow.conformance.srp_client`), not from authflow's own crypto. What only the wire can
show is checked here: boto3 parses DeviceCreateDate and the other dates as datetimes (they go
out as epoch seconds); `last_ip_used` is the TCP peer's address (127.0.0.1), recorded by
ConfirmDevice and by a sign-in over HTTP and never in process; a JSON `null` DEVICE_KEY
(sent with a raw POST: boto3 refuses None) counts as an absent key, as
amazon-cognito-identity-js needs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from authflow.conformance.srp_client import DeviceSrpClient, device_registration
from tests.http import REGION, serving

PASSWORD = "A-better-pass-2"
TEMP = "Temp-pass-1"
DEVICE_PASSWORD = "device-password-as-a-client-draws-it"
SALT = bytes([0xC3]) + bytes(range(1, 16))  # top bit set: padHex gives it a leading 00
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
TARGET = "AWSCognitoIdentityProviderService."
DEVICE_KEY = re.compile(r"us-east-1_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def error_of(err) -> dict:
    return err.value.response["Error"]


class Pool:
    """A tracking pool, an app client and a CONFIRMED user, made over HTTP with boto3."""

    def __init__(self, server, *, on_prompt: bool = True, challenge_required: bool = False,
                 tracking: bool = True, password: str | None = PASSWORD) -> None:
        self.server = server
        self.api = server.boto3()
        kwargs = {}
        if tracking:
            kwargs["DeviceConfiguration"] = {"ChallengeRequiredOnNewDevice": challenge_required,
                                             "DeviceOnlyRememberedOnUserPrompt": on_prompt}
        self.id = self.api.create_user_pool(PoolName="devices", **kwargs)["UserPool"]["Id"]
        self.client_id = self.api.create_user_pool_client(UserPoolId=self.id, ClientName="app",
                                                          ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
        self.api.admin_create_user(UserPoolId=self.id, Username="alice", MessageAction="SUPPRESS",
                                   **({} if password else {"TemporaryPassword": TEMP}))
        if password:
            self.api.admin_set_user_password(UserPoolId=self.id, Username="alice", Password=password, Permanent=True)

    def sign_in(self, device_key: str | None = None) -> dict:
        params = {"USERNAME": "alice", "PASSWORD": PASSWORD}
        if device_key:
            params["DEVICE_KEY"] = device_key
        return self.api.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)

    def confirm(self, result: dict, *, name: str | None = "laptop") -> tuple[str, str, dict]:
        metadata = result["NewDeviceMetadata"]
        key, group = metadata["DeviceKey"], metadata["DeviceGroupKey"]
        request = {"AccessToken": result["AccessToken"], "DeviceKey": key,
                   "DeviceSecretVerifierConfig": device_registration(group, key, DEVICE_PASSWORD, SALT)}
        if name:
            request["DeviceName"] = name
        return key, group, self.api.confirm_device(**request)

    def device_sign_in(self, key: str, group: str, *, session: bool = True) -> dict:
        """USER_PASSWORD_AUTH with the key, then DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER."""
        started = self.sign_in(key)
        assert started["ChallengeName"] == "DEVICE_SRP_AUTH", started
        srp = DeviceSrpClient(group, key, DEVICE_PASSWORD, 0xD1CE)

        def respond(name: str, responses: dict, last: dict) -> dict:
            extra = {"Session": last["Session"]} if session else {}
            return self.api.respond_to_auth_challenge(ClientId=self.client_id, ChallengeName=name,
                                                      ChallengeResponses=responses, **extra)

        challenge = respond("DEVICE_SRP_AUTH", {"USERNAME": "alice", "DEVICE_KEY": key, "SRP_A": srp.srp_a}, started)
        assert challenge["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER", challenge
        answer = srp.answer(challenge["ChallengeParameters"], "alice", self.server.clock.now())
        return respond("DEVICE_PASSWORD_VERIFIER", answer, challenge)

    def admin_device(self, key: str) -> dict:
        return self.api.admin_get_device(UserPoolId=self.id, Username="alice", DeviceKey=key)["Device"]


def attributes(device: dict) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in device["DeviceAttributes"]}


def raw(server, operation: str, body: dict) -> httpx.Response:
    """One unsigned POST of a JSON body, as a browser client sends it."""
    return httpx.post(f"{server.url}/", content=json.dumps(body),
                      headers={"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"})


def test_device_operations_end_to_end():
    with serving() as server:
        pool = Pool(server, on_prompt=True)
        api = pool.api
        started = server.clock.now()
        first = pool.sign_in()["AuthenticationResult"]
        assert DEVICE_KEY.fullmatch(first["NewDeviceMetadata"]["DeviceKey"])
        issued = first["NewDeviceMetadata"]["DeviceKey"]

        # An issued, unconfirmed key is not a device the operations show.
        with pytest.raises(api.exceptions.ResourceNotFoundException) as err:
            api.get_device(AccessToken=first["AccessToken"], DeviceKey=issued)
        assert error_of(err) == {"Code": "ResourceNotFoundException", "Message": "Device does not exist."}
        assert api.list_devices(AccessToken=first["AccessToken"])["Devices"] == []

        key, group, confirmed = pool.confirm(first)
        assert key == issued and confirmed["UserConfirmationNecessary"] is True
        with pytest.raises(api.exceptions.DeviceKeyExistsException):
            pool.confirm(first)

        device = api.get_device(AccessToken=first["AccessToken"], DeviceKey=key)["Device"]
        assert attributes(device) == {"device_status": "valid", "device_name": "laptop", "last_ip_used": "127.0.0.1"}
        for stamp in ("DeviceCreateDate", "DeviceLastModifiedDate"):
            assert isinstance(device[stamp], datetime) and device[stamp].tzinfo is not None, stamp
            assert abs(device[stamp] - started) < timedelta(seconds=2), stamp
        admin = attributes(pool.admin_device(key))
        assert admin["dev:device_remembered_status"] == "not_remembered"
        assert admin["dev:device_owner"] == f"alice.{pool.id}"
        assert re.fullmatch(rf"arn:aws:cognito-idp:{REGION}:\d{{12}}:owner/alice\.{pool.id}/device/{key}",
                            admin["dev:device_arn"])
        assert admin["dev:device_sdk"] == "aws-sdk"
        assert api.admin_list_devices(UserPoolId=pool.id, Username="alice")["Devices"][0]["DeviceKey"] == key

        # Not remembered: the key is taken, no device SRP, no new key.
        plain = pool.sign_in(key)["AuthenticationResult"]
        assert "NewDeviceMetadata" not in plain

        api.update_device_status(AccessToken=plain["AccessToken"], DeviceKey=key, DeviceRememberedStatus="remembered")
        assert attributes(pool.admin_device(key))["dev:device_remembered_status"] == "remembered"

        # Remembered: device SRP, with and without Session; the sign-in moves DeviceLastAuthenticatedDate.
        server.clock.advance(timedelta(seconds=90))  # well inside SigV4's 15 minutes
        result = pool.device_sign_in(key, group)["AuthenticationResult"]
        assert "NewDeviceMetadata" not in result
        again = pool.device_sign_in(key, group, session=False)["AuthenticationResult"]
        device = api.get_device(AccessToken=again["AccessToken"], DeviceKey=key)["Device"]
        assert isinstance(device["DeviceLastAuthenticatedDate"], datetime)
        assert device["DeviceLastAuthenticatedDate"] - device["DeviceCreateDate"] >= timedelta(seconds=90)
        assert device["DeviceLastModifiedDate"] >= device["DeviceCreateDate"]

        # Refresh: the family of a device sign-in needs its key.
        refreshed = api.initiate_auth(ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                      AuthParameters={"REFRESH_TOKEN": result["RefreshToken"], "DEVICE_KEY": key})
        assert refreshed["AuthenticationResult"]["AccessToken"]
        with pytest.raises(api.exceptions.NotAuthorizedException):
            api.initiate_auth(ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                              AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})

        # The admin twins, then forget: the key signs in no more.
        api.admin_update_device_status(UserPoolId=pool.id, Username="alice", DeviceKey=key,
                                       DeviceRememberedStatus="not_remembered")
        assert "NewDeviceMetadata" not in pool.sign_in(key)["AuthenticationResult"]  # no device SRP again
        api.admin_forget_device(UserPoolId=pool.id, Username="alice", DeviceKey=key)
        with pytest.raises(api.exceptions.ResourceNotFoundException) as err:
            pool.sign_in(key)
        assert error_of(err)["Message"] == "Device does not exist."
        with pytest.raises(api.exceptions.ResourceNotFoundException):
            api.admin_get_device(UserPoolId=pool.id, Username="alice", DeviceKey=key)
        with pytest.raises(api.exceptions.NotAuthorizedException):
            api.initiate_auth(ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                              AuthParameters={"REFRESH_TOKEN": result["RefreshToken"], "DEVICE_KEY": key})

        # ForgetDevice by access token, for another device of the same user.
        other = pool.sign_in()["AuthenticationResult"]
        other_key, _, _ = pool.confirm(other, name=None)
        assert "device_name" not in attributes(api.get_device(AccessToken=other["AccessToken"], DeviceKey=other_key)
                                               ["Device"])
        api.forget_device(AccessToken=other["AccessToken"], DeviceKey=other_key)
        assert api.list_devices(AccessToken=other["AccessToken"])["Devices"] == []


def test_list_devices_pages_by_pagination_token():
    with serving() as server:
        pool = Pool(server, on_prompt=False)
        keys = []
        for _ in range(5):
            result = pool.sign_in()["AuthenticationResult"]
            key, _, confirmed = pool.confirm(result)
            assert confirmed["UserConfirmationNecessary"] is False
            keys.append(key)
        access = result["AccessToken"]
        pool.sign_in()  # an issued, unconfirmed key is never listed

        seen, token, pages = [], None, 0
        while True:
            page = pool.api.list_devices(AccessToken=access, Limit=2, **({"PaginationToken": token} if token else {}))
            assert len(page["Devices"]) <= 2
            seen += [d["DeviceKey"] for d in page["Devices"]]
            pages += 1
            token = page.get("PaginationToken")
            if not token:
                break
        assert pages == 3 and sorted(seen) == sorted(keys) and len(set(seen)) == 5
        assert [d["DeviceKey"] for d in pool.api.list_devices(AccessToken=access)["Devices"]] == seen  # default 60
        admin = pool.api.admin_list_devices(UserPoolId=pool.id, Username="alice", Limit=3)
        assert len(admin["Devices"]) == 3 and admin["PaginationToken"]


def test_last_ip_is_the_http_peer_and_only_that():
    """Confirmed in process (no address) a device has no last_ip_used; one sign-in over HTTP
    records 127.0.0.1. A forwarded-for header is the caller's word and is not taken."""
    with serving() as server:
        pool = Pool(server, on_prompt=False)
        local = server.client
        first = local.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]
        key, group = first["NewDeviceMetadata"]["DeviceKey"], first["NewDeviceMetadata"]["DeviceGroupKey"]
        local.confirm_device(AccessToken=first["AccessToken"], DeviceKey=key, DeviceName="in-process",
                             DeviceSecretVerifierConfig=device_registration(group, key, DEVICE_PASSWORD, SALT))
        assert "last_ip_used" not in attributes(pool.admin_device(key))

        answer = raw(server, "InitiateAuth", {
            "ClientId": pool.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "alice", "PASSWORD": PASSWORD, "DEVICE_KEY": key},
        })
        assert answer.status_code == 200 and answer.json()["ChallengeName"] == "DEVICE_SRP_AUTH"
        pool.device_sign_in(key, group)
        assert attributes(pool.admin_device(key))["last_ip_used"] == "127.0.0.1"

        # Over HTTP, ConfirmDevice records it too, whatever X-Forwarded-For says.
        second = pool.sign_in()["AuthenticationResult"]
        other = second["NewDeviceMetadata"]["DeviceKey"]
        response = httpx.post(f"{server.url}/", headers={
            "X-Amz-Target": TARGET + "ConfirmDevice", "Content-Type": "application/x-amz-json-1.1",
            "X-Forwarded-For": "203.0.113.7",
        }, content=json.dumps({"AccessToken": second["AccessToken"], "DeviceKey": other,
                               "DeviceSecretVerifierConfig": device_registration(group, other, DEVICE_PASSWORD, SALT)}))
        assert response.status_code == 200, response.text
        assert attributes(pool.admin_device(other))["last_ip_used"] == "127.0.0.1"


def test_a_json_null_device_key_counts_as_absent():
    with serving() as server:
        pool = Pool(server, on_prompt=False, password=None)  # the user must set a new password first
        start = raw(server, "InitiateAuth", {
            "ClientId": pool.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "alice", "PASSWORD": TEMP, "DEVICE_KEY": None},
        })
        assert start.status_code == 200, start.text
        assert start.json()["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        done = raw(server, "RespondToAuthChallenge", {
            "ClientId": pool.client_id, "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": start.json()["Session"],
            "ChallengeResponses": {"USERNAME": "alice", "NEW_PASSWORD": PASSWORD, "DEVICE_KEY": None},
        })
        assert done.status_code == 200, done.text
        result = done.json()["AuthenticationResult"]
        assert DEVICE_KEY.fullmatch(result["NewDeviceMetadata"]["DeviceKey"])  # issued as if none was sent

        # A plain sign-in with a null key: a new device again.
        again = raw(server, "InitiateAuth", {
            "ClientId": pool.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "alice", "PASSWORD": PASSWORD, "DEVICE_KEY": None},
        })
        assert again.status_code == 200 and "NewDeviceMetadata" in again.json()["AuthenticationResult"]

        # A confirmed, remembered device: its key leads to device SRP; null in the device step
        # is a missing DEVICE_KEY, refused as a missing parameter is.
        key, group, _ = pool.confirm(result)
        # The confirmed device's refresh token needs its key: a null one is no key.
        def refresh(device_key):
            return raw(server, "InitiateAuth", {
                "ClientId": pool.client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                "AuthParameters": {"REFRESH_TOKEN": result["RefreshToken"], "DEVICE_KEY": device_key},
            })
        refused = refresh(None)
        assert refused.status_code == 400 and refused.json()["__type"] == "NotAuthorizedException", refused.text
        assert refresh(key).status_code == 200

        started = pool.sign_in(key)
        assert started["ChallengeName"] == "DEVICE_SRP_AUTH"
        srp = DeviceSrpClient(group, key, DEVICE_PASSWORD, 0xD1CE)
        missing = raw(server, "RespondToAuthChallenge", {
            "ClientId": pool.client_id, "ChallengeName": "DEVICE_SRP_AUTH", "Session": started["Session"],
            "ChallengeResponses": {"USERNAME": "alice", "DEVICE_KEY": None, "SRP_A": srp.srp_a},
        })
        assert missing.status_code == 400 and missing.json()["__type"] == "InvalidParameterException", missing.text
        # ... and changed nothing: the same step, with the key, goes on.
        challenge = pool.api.respond_to_auth_challenge(
            ClientId=pool.client_id, ChallengeName="DEVICE_SRP_AUTH", Session=started["Session"],
            ChallengeResponses={"USERNAME": "alice", "DEVICE_KEY": key, "SRP_A": srp.srp_a})
        assert challenge["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"


def test_bad_device_input_over_http():
    with serving() as server:
        pool = Pool(server)
        api = pool.api
        result = pool.sign_in()["AuthenticationResult"]
        key = result["NewDeviceMetadata"]["DeviceKey"]

        with pytest.raises(api.exceptions.InvalidParameterException) as err:
            api.confirm_device(AccessToken=result["AccessToken"], DeviceKey="not a device key",
                               DeviceSecretVerifierConfig=device_registration("-g", key, DEVICE_PASSWORD, SALT))
        # ConfirmDevice's DeviceKey has the model's pattern: the wire refuses it before the engine.
        assert error_of(err)["Message"].startswith("1 validation error detected: Value 'not a device key' at 'deviceKey'")
        with pytest.raises(api.exceptions.InvalidParameterException):
            api.confirm_device(AccessToken=result["AccessToken"], DeviceKey=key,
                               DeviceSecretVerifierConfig={"PasswordVerifier": "AAAA"})  # no Salt
        with pytest.raises(api.exceptions.InvalidParameterException) as err:
            pool.sign_in("no-underscore")
        assert error_of(err) == {"Code": "InvalidParameterException", "Message": "Invalid device key given."}
        assert api.list_devices(AccessToken=result["AccessToken"])["Devices"] == []  # nothing was confirmed

        # Another user's device key is an invalid key to this one (reference §4.5, §1.3).
        api.admin_create_user(UserPoolId=pool.id, Username="bob", MessageAction="SUPPRESS")
        api.admin_set_user_password(UserPoolId=pool.id, Username="bob", Password=PASSWORD, Permanent=True)
        bob = api.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD})["AuthenticationResult"]
        with pytest.raises(api.exceptions.InvalidParameterException, match="Invalid device key given."):
            api.confirm_device(AccessToken=bob["AccessToken"], DeviceKey=key,
                               DeviceSecretVerifierConfig=device_registration("-g", key, DEVICE_PASSWORD, SALT))
        with pytest.raises(api.exceptions.InvalidParameterException, match="Invalid device key given."):
            api.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD, "DEVICE_KEY": key})

        # A pool that does not track devices.
        plain = Pool(server, tracking=False)
        signed_in = plain.sign_in()["AuthenticationResult"]
        assert "NewDeviceMetadata" not in signed_in
        with pytest.raises(api.exceptions.InvalidUserPoolConfigurationException):
            api.confirm_device(AccessToken=signed_in["AccessToken"], DeviceKey=key,
                               DeviceSecretVerifierConfig=device_registration("-g", key, DEVICE_PASSWORD, SALT))

        # An expired access token (the clock moved past its hour; the request is unsigned).
        server.clock.advance(timedelta(hours=1, seconds=1))
        unsigned = server.boto3(signed=False)
        with pytest.raises(unsigned.exceptions.NotAuthorizedException):
            unsigned.confirm_device(AccessToken=result["AccessToken"], DeviceKey=key,
                                    DeviceSecretVerifierConfig=device_registration("-g", key, DEVICE_PASSWORD, SALT))
        server.clock.set(datetime.now(timezone.utc))
        assert api.list_devices(AccessToken=pool.sign_in()["AuthenticationResult"]["AccessToken"])["Devices"] == []
