"""What the sign-in tests share: a client with a manual clock and an outbox, and
short ways to create pools, app clients and users and to start and answer sign-ins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import jwt
import pyotp
import pytest

from authflow.adapters import ManualClock, MemoryOutbox
from authflow.conformance.srp_client import DeviceSrpClient, device_registration
from tests.conftest import START, make_client
from tests.helpers import store_contents

TEMP = "Temp1234!"
NEW = "NewPass1!x"
ALL_FLOWS = [
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_CUSTOM_AUTH",
]


class Env:
    """A client with a manual clock and an outbox, as the suite's conftest builds them."""

    def __init__(self, seed: int = 1) -> None:
        self.clock = ManualClock(START)
        self.outbox = MemoryOutbox()
        self.client = make_client(seed, clock=self.clock, messenger=self.outbox)

    def pool(self, **kwargs) -> str:
        return self.client.create_user_pool(PoolName="pool", **kwargs)["UserPool"]["Id"]

    def app(self, pool: str, **kwargs) -> dict:
        kwargs.setdefault("ExplicitAuthFlows", ALL_FLOWS)
        return self.client.create_user_pool_client(UserPoolId=pool, ClientName="app", **kwargs)["UserPoolClient"]

    def app_id(self, pool: str, **kwargs) -> str:
        return self.app(pool, **kwargs)["ClientId"]

    def user(self, pool: str, username: str = "alice", *, password: str | None = TEMP, attributes=(), **kwargs) -> dict:
        if password is not None:
            kwargs["TemporaryPassword"] = password
        kwargs.setdefault("MessageAction", "SUPPRESS")
        return self.client.admin_create_user(
            UserPoolId=pool, Username=username, UserAttributes=list(attributes), **kwargs
        )["User"]

    def initiate(self, client_id: str, username: str = "alice", password: str = TEMP, **extra) -> dict:
        params = {"USERNAME": username, "PASSWORD": password, **extra}
        return self.client.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)

    def admin_initiate(self, pool: str, client_id: str, username: str = "alice", password: str = TEMP,
                       flow: str = "ADMIN_USER_PASSWORD_AUTH", **extra) -> dict:
        params = {"USERNAME": username, "PASSWORD": password, **extra}
        return self.client.admin_initiate_auth(UserPoolId=pool, ClientId=client_id, AuthFlow=flow, AuthParameters=params)

    def respond(self, client_id: str, session: str, responses: dict, name: str = "NEW_PASSWORD_REQUIRED") -> dict:
        return self.client.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName=name, Session=session, ChallengeResponses=responses
        )

    def admin_respond(self, pool: str, client_id: str, session: str, responses: dict,
                      name: str = "NEW_PASSWORD_REQUIRED") -> dict:
        return self.client.admin_respond_to_auth_challenge(
            UserPoolId=pool, ClientId=client_id, ChallengeName=name, Session=session, ChallengeResponses=responses
        )

    def confirm(self, pool: str, client_id: str, username: str = "alice", temp: str = TEMP, new: str = NEW) -> dict:
        """Complete the first sign-in (NEW_PASSWORD_REQUIRED) so the user is CONFIRMED."""
        started = self.admin_initiate(pool, client_id, username, temp)
        assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        return self.admin_respond(
            pool, client_id, started["Session"],
            {"USERNAME": started["ChallengeParameters"]["USER_ID_FOR_SRP"], "NEW_PASSWORD": new},
        )

    def place(self, pool: str, username_key: str, **changes) -> None:
        """Put a user in a state directly in the store (as tests/unit/test_lifecycle_table.py does)."""
        with self.client.store.transaction() as tx:
            user = tx.get_user(pool, username_key)
            tx.put_user(replace(user, **changes, version=user.version + 1))

    def attributes(self, pool: str, username: str = "alice") -> dict[str, str]:
        user = self.client.admin_get_user(UserPoolId=pool, Username=username)
        return {a["Name"]: a["Value"] for a in user["UserAttributes"]}

    def status(self, pool: str, username: str = "alice") -> str:
        return self.client.admin_get_user(UserPoolId=pool, Username=username)["UserStatus"]

    def snapshot(self) -> dict:
        return store_contents(self.client.store)


def refused(exception, message: str, call=None, *args, **kwargs):
    """`call(*args, **kwargs)` must raise exactly `exception` (not a subclass) with
    exactly `message`; returns the error. Without `call`, a context manager that
    checks the same of its block."""
    if call is None:
        return _refused_block(exception, message)
    with _refused_block(exception, message) as caught:
        call(*args, **kwargs)
    return caught.value


@contextmanager
def _refused_block(exception, message: str):
    with pytest.raises(exception) as err:
        yield err
    assert type(err.value) is exception, repr(err.value)
    assert err.value.message == message
    assert err.value.response["Error"] == {"Code": exception.__name__, "Message": message}


def secret_hash(secret: str, username: str, client_id: str) -> str:
    """Computed here, independently of the engine's own implementation."""
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def assert_tokens(response: dict) -> None:
    assert response["ChallengeParameters"] == {}
    assert "ChallengeName" not in response and "Session" not in response
    result = response["AuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == 3600
    for key in ("AccessToken", "IdToken", "RefreshToken"):
        assert isinstance(result[key], str) and result[key]


# -- device tracking ----------------------------------------------------------------------

DEVICE_PASSWORD = "device-password-as-a-client-draws-it"
#: A device salt whose top bit is set: padHex gives it a leading 00, the case the clients
#: most easily get wrong.
DEVICE_SALT = bytes([0xC3]) + bytes(range(1, 16))


def tracking(*, challenge_required: bool = False, on_prompt: bool = False) -> dict:
    """A DeviceConfiguration: any member set turns device tracking on."""
    return {"ChallengeRequiredOnNewDevice": challenge_required, "DeviceOnlyRememberedOnUserPrompt": on_prompt}


@dataclass(frozen=True)
class DeviceCredentials:
    """What a client keeps of a device it confirmed: its key, the user's group key and
    the random device password the verifier was made from."""

    key: str
    group: str
    password: str = DEVICE_PASSWORD

    def srp(self, a: int = 0xD1CE) -> DeviceSrpClient:
        return DeviceSrpClient(self.group, self.key, self.password, a)


def confirm_new_device(env: Env, result: dict, *, name: str | None = "laptop", password: str = DEVICE_PASSWORD,
                       salt: bytes = DEVICE_SALT) -> DeviceCredentials:
    """ConfirmDevice for the NewDeviceMetadata of `result` (an AuthenticationResult), with
    a verifier made by the reference client, as amazon-cognito-identity-js and pycognito
    make it; the device's credentials."""
    metadata = result["NewDeviceMetadata"]
    device = DeviceCredentials(metadata["DeviceKey"], metadata["DeviceGroupKey"], password)
    request = {"AccessToken": result["AccessToken"], "DeviceKey": device.key,
               "DeviceSecretVerifierConfig": device_registration(device.group, device.key, password, salt)}
    if name is not None:
        request["DeviceName"] = name
    env.client.confirm_device(**request)
    return device


def answer_device_challenges(env: Env, client_id: str, response: dict, device: DeviceCredentials, *,
                             username: str = "alice", pool: str | None = None, session: bool = True,
                             a: int = 0xD1CE, extra: dict | None = None) -> dict:
    """Answer DEVICE_SRP_AUTH, then DEVICE_PASSWORD_VERIFIER, as a client does: with the
    Session of the step before (amazon-cognito-identity-js) or without (`session=False`,
    pycognito). `a`: the device step's secret exponent, a fresh one (the JS client) or
    the user SRP step's own (pycognito re-sends that A). `pool` given: the Admin*
    answers. `extra` goes into both answers (SECRET_HASH). The last response."""
    assert response["ChallengeName"] == "DEVICE_SRP_AUTH", response
    assert response["ChallengeParameters"] == {}
    srp = device.srp(a)
    extra = extra or {}
    started = _device_respond(env, client_id, pool, "DEVICE_SRP_AUTH", response["Session"] if session else None,
                              {"USERNAME": username, "DEVICE_KEY": device.key, "SRP_A": srp.srp_a, **extra})
    assert started["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER", started
    return _device_respond(env, client_id, pool, "DEVICE_PASSWORD_VERIFIER", started["Session"] if session else None,
                           {**srp.answer(started["ChallengeParameters"], username, env.clock.now()), **extra})


def _device_respond(env: Env, client_id: str, pool: str | None, name: str, session: str | None,
                    responses: dict) -> dict:
    request = {"ClientId": client_id, "ChallengeName": name, "ChallengeResponses": responses}
    if session is not None:
        request["Session"] = session
    if pool is None:
        return env.client.respond_to_auth_challenge(**request)
    return env.client.admin_respond_to_auth_challenge(UserPoolId=pool, **request)


def devices_of(env: Env, pool: str) -> dict:
    """The device records a pool holds, by key (the store's own view, which the device
    operations cannot show for unconfirmed keys)."""
    users = env.client.store.snapshot().users.get(pool)
    return dict(users.devices) if users else {}


# -- tokens, MFA beyond SMS ---------------------------------------------------------------

#: An SmsConfiguration (the SNS role Cognito would send texts with).
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
PHONE = "+12065554567"
TOTP_STEP = 30


def token_claims(token: str) -> dict:
    """The payload of an ID or access token, unverified (for reading claims; the signature
    is test_tokens.py's business)."""
    return jwt.decode(token, options={"verify_signature": False})


def totp_code(secret: str, when: datetime, steps: int = 0) -> str:
    """What an authenticator app shows at `when`, `steps` 30-second steps later (or earlier):
    pyotp's RFC 6238 code, never authflow's own."""
    return pyotp.TOTP(secret).at(int(when.timestamp()) + TOTP_STEP * steps)


def next_step_code(env: Env, secret: str) -> str:
    """Moves the clock to the start of the next time step and returns that step's code: a
    code no earlier answer can have used."""
    now = int(env.clock.now().timestamp())
    env.clock.advance(timedelta(seconds=TOTP_STEP - now % TOTP_STEP))
    return totp_code(secret, env.clock.now())


def mfa_config(env: Env, pool: str, mode: str = "OPTIONAL", *, totp: bool = True, sms: bool = False) -> dict:
    """SetUserPoolMfaConfig with the TOTP and/or SMS factor."""
    request: dict = {"UserPoolId": pool, "MfaConfiguration": mode}
    if totp:
        request["SoftwareTokenMfaConfiguration"] = {"Enabled": True}
    if sms:
        request["SmsMfaConfiguration"] = {"SmsAuthenticationMessage": "Your code is {####}",
                                          "SmsConfiguration": SMS_CONFIG}
    return env.client.set_user_pool_mfa_config(**request)


def enrol_totp(env: Env, access_token: str, *, name: str | None = None, prefer: bool = True) -> str:
    """AssociateSoftwareToken and VerifySoftwareToken by access token with the current code
    (which is then used), and, with `prefer`, SetUserMFAPreference turning TOTP on as the
    preferred factor; the SecretCode."""
    secret = env.client.associate_software_token(AccessToken=access_token)["SecretCode"]
    request = {"AccessToken": access_token, "UserCode": totp_code(secret, env.clock.now())}
    if name is not None:
        request["FriendlyDeviceName"] = name
    assert env.client.verify_software_token(**request)["Status"] == "SUCCESS"
    if prefer:
        env.client.set_user_mfa_preference(AccessToken=access_token,
                                           SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret


def sms_code(env: Env) -> str:
    """The six digits of the last message sent."""
    return re.search(r"\d{6}", env.outbox.last().body).group()


def mfa_fields(user: dict) -> dict:
    """The MFA members of a GetUser / AdminGetUser answer (absent ones left out)."""
    return {k: user[k] for k in ("MFAOptions", "UserMFASettingList", "PreferredMfaSetting") if k in user}


def unchecked(env: Env):
    """The Client without the suite's output-shape check, for the operations the installed
    botocore's model predates (AdminDeleteSoftwareToken: authflow's model is botocore
    1.44.18's, the test environment has an older botocore)."""
    return env.client._client
