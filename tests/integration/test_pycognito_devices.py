"""pycognito (PyPI, unmodified) tracks a device against `authflow serve`, over HTTP.

pycognito's own device code does the work: `AWSSRP(...).authenticate_user()` signs in by SRP
and gets NewDeviceMetadata; `generate_hash_device(device_group_key, device_key)` draws the
device password and its verifier; ConfirmDevice goes through boto3 (pycognito's own
`confirm_device` posts to the AWS URL it builds from the pool id; one test below redirects
exactly that URL to the server and changes nothing else); then
`AWSSRP(..., device_key=, device_group_key=, device_password=)` answers DEVICE_SRP_AUTH and
DEVICE_PASSWORD_VERIFIER as pycognito answers them: without Session, with the typed user
name and the SRP_A of its first step, without SECRET_HASH on DEVICE_SRP_AUTH. pycognito's
`Cognito.verify_token` checks the access tokens against the served JWKS
(`--issuer-style local`, so the issuer is the server's URL, as pycognito expects of an
endpoint_url). The server records every request it answers (`seen`), so the tests also see
what pycognito sent.

Also: a wrong device password is refused; a forgotten device's key is "Device does not
exist."; in an MFA pool with ChallengeRequiredOnNewDevice the remembered device stands in
for SMS_MFA, a not-remembered one does not, and with the flag false SMS_MFA comes first and
the device steps after it (the SMS code is read from the served engine's outbox).
"""

from __future__ import annotations

import re
from unittest import mock

import pycognito  # a test dependency (pyproject's `test` extra): missing, the tests must fail
import pytest
import requests
from pycognito.aws_srp import AWSSRP, generate_hash_device, long_to_hex
from pycognito.exceptions import SMSMFAChallengeException

from tests.http import KEY_ID, SECRET, serving
from tests.integration.test_js_clients import calls, seen  # noqa: F401  (the request recorder)

PASSWORD = "A-better-pass-2"
WRONG_DEVICE_PASSWORD = "bm90IHRoZSBkZXZpY2UgcGFzc3dvcmQgYnV0IGl0cyBsZW5ndGggaXMgcmlnaHQ="
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "authflow-tests"}
PHONE = "+15555550100"
CODE = re.compile(r"Your authentication code is (\d{6})\. ")
DEVICE_KEY = re.compile(r"us-east-1_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class Device:
    """What pycognito leaves a caller to keep of a confirmed device."""

    def __init__(self, metadata: dict, password: str) -> None:
        self.key = metadata["DeviceKey"]
        self.group = metadata["DeviceGroupKey"]
        self.password = password


class Pool:
    """A pool, app client and CONFIRMED user made over HTTP with boto3, and pycognito's
    `Cognito` for it (its boto3 client is the one every AWSSRP here uses)."""

    def __init__(self, server, *, secret: bool = False, email: bool = False, mfa: str | None = None,
                 challenge_required: bool = False, on_prompt: bool = False) -> None:
        self.server = server
        admin = self.admin = server.boto3()
        pool_kwargs: dict = {"DeviceConfiguration": {"ChallengeRequiredOnNewDevice": challenge_required,
                                                     "DeviceOnlyRememberedOnUserPrompt": on_prompt}}
        if email:
            pool_kwargs["UsernameAttributes"] = ["email"]
        if mfa:
            pool_kwargs.update(MfaConfiguration=mfa, SmsConfiguration=SMS)
        self.id = admin.create_user_pool(PoolName="devices", **pool_kwargs)["UserPool"]["Id"]
        app = admin.create_user_pool_client(UserPoolId=self.id, ClientName="py", ExplicitAuthFlows=FLOWS,
                                            GenerateSecret=secret)["UserPoolClient"]
        self.client_id, self.client_secret = app["ClientId"], app.get("ClientSecret")
        self.typed = "alice@example.com" if email else "alice"
        attributes = [{"Name": "email", "Value": "alice@example.com"}]
        if mfa:
            attributes.append({"Name": "phone_number", "Value": PHONE})
        self.username = admin.admin_create_user(UserPoolId=self.id, Username=self.typed, MessageAction="SUPPRESS",
                                                UserAttributes=attributes)["User"]["Username"]
        admin.admin_set_user_password(UserPoolId=self.id, Username=self.username, Password=PASSWORD, Permanent=True)
        self.cognito = pycognito.Cognito(self.id, self.client_id, username=self.typed,
                                         client_secret=self.client_secret, access_key=KEY_ID, secret_key=SECRET,
                                         boto3_client_kwargs={"endpoint_url": server.url})

    def srp(self, device: Device | None = None, *, password: str = PASSWORD,
            device_password: str | None = None) -> AWSSRP:
        kwargs = {}
        if device is not None:
            kwargs = {"device_key": device.key, "device_group_key": device.group,
                      "device_password": device_password or device.password}
        return AWSSRP(username=self.typed, password=password, pool_id=self.id, client_id=self.client_id,
                      client=self.cognito.client, client_secret=self.client_secret, **kwargs)

    def access_claims(self, result: dict) -> dict:
        """The access token's claims, as pycognito verifies it (signature, issuer, expiry)."""
        return self.cognito.verify_token(result["AccessToken"], "access_token", "access")

    def confirm(self, result: dict, name: str = "pycognito-box") -> tuple[Device, dict]:
        """pycognito's verifier for the NewDeviceMetadata of `result`, confirmed through boto3."""
        metadata = result["NewDeviceMetadata"]
        password, config = generate_hash_device(metadata["DeviceGroupKey"], metadata["DeviceKey"])
        answer = self.cognito.client.confirm_device(AccessToken=result["AccessToken"],
                                                    DeviceKey=metadata["DeviceKey"],
                                                    DeviceSecretVerifierConfig=config, DeviceName=name)
        return Device(metadata, password), answer

    def sms_code(self) -> str:
        message = self.server.outbox.last()
        assert message.kind == "mfa_code" and message.destination == PHONE
        match = CODE.fullmatch(message.body)
        assert match, message.body
        return match.group(1)

    def secret_hash(self, username: str) -> dict:
        if self.client_secret is None:
            return {}
        return {"SECRET_HASH": AWSSRP.get_secret_hash(username, self.client_id, self.client_secret)}

    def answer_sms(self, challenge: dict) -> dict:
        """SMS_MFA answered as pycognito's `Cognito.respond_to_sms_mfa_challenge` answers it."""
        responses = {"USERNAME": self.typed, "SMS_MFA_CODE": self.sms_code(), **self.secret_hash(self.typed)}
        return self.cognito.client.respond_to_auth_challenge(ClientId=self.client_id, Session=challenge["Session"],
                                                             ChallengeName="SMS_MFA", ChallengeResponses=responses)


def mfa_codes(server) -> int:
    return len([m for m in server.outbox.messages if m.kind == "mfa_code"])


def device_answers(seen: list[dict]) -> list[dict]:  # noqa: F811
    return [r for r in calls(seen, "RespondToAuthChallenge")
            if r["body"]["ChallengeName"] in ("DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER")]


CASES = [{}, {"secret": True}, {"email": True}]


@pytest.mark.parametrize("case", CASES, ids=["plain", "secret", "email"])
def test_pycognito_signs_in_through_device_srp(seen, case):  # noqa: F811
    with serving(issuer_style="local") as server:
        pool = Pool(server, **case)
        first = pool.srp().authenticate_user()["AuthenticationResult"]
        metadata = first["NewDeviceMetadata"]
        assert DEVICE_KEY.fullmatch(metadata["DeviceKey"])
        assert re.fullmatch(r"-[0-9A-Za-z]{8}", metadata["DeviceGroupKey"])
        assert pool.access_claims(first)["device_key"] == metadata["DeviceKey"]

        device, confirmed = pool.confirm(first)
        assert confirmed["UserConfirmationNecessary"] is False
        seen.clear()

        signed_in = pool.srp(device).authenticate_user()
        result = signed_in["AuthenticationResult"]
        assert "NewDeviceMetadata" not in result and result["RefreshToken"]
        claims = pool.access_claims(result)
        assert claims["device_key"] == device.key and claims["username"] == pool.username
        assert pool.cognito.client.get_user(AccessToken=result["AccessToken"])["Username"] == pool.username

        listed = pool.cognito.client.list_devices(AccessToken=result["AccessToken"])["Devices"]
        assert [d["DeviceKey"] for d in listed] == [device.key]
        assert {"Name": "device_name", "Value": "pycognito-box"} in listed[0]["DeviceAttributes"]

        # A second sign-in on the same device: the first device proof is not single-use for the device.
        again = pool.srp(device).authenticate_user()["AuthenticationResult"]
        assert pool.access_claims(again)["device_key"] == device.key

    steps = [(r["body"]["ChallengeName"], r["status"], r["answer"].get("ChallengeName"))
             for r in calls(seen, "RespondToAuthChallenge")][:3]
    assert steps == [("PASSWORD_VERIFIER", 200, "DEVICE_SRP_AUTH"),
                     ("DEVICE_SRP_AUTH", 200, "DEVICE_PASSWORD_VERIFIER"),
                     ("DEVICE_PASSWORD_VERIFIER", 200, None)]
    first_start = calls(seen, "InitiateAuth")[0]["body"]["AuthParameters"]
    assert first_start["DEVICE_KEY"] == device.key
    srp_auth, verifier = device_answers(seen)[:2]
    # What pycognito sends, and the server must take: no Session on either step, its first
    # step's SRP_A again, the typed name; no SECRET_HASH on DEVICE_SRP_AUTH even for a secret client.
    assert "Session" not in srp_auth["body"] and "Session" not in verifier["body"]
    assert srp_auth["body"]["ChallengeResponses"] == {"USERNAME": pool.typed, "DEVICE_KEY": device.key,
                                                      "SRP_A": first_start["SRP_A"]}
    parameters = srp_auth["answer"]["ChallengeParameters"]
    assert set(parameters) >= {"SRP_B", "SALT", "SECRET_BLOCK", "USERNAME"}
    assert verifier["body"]["ChallengeResponses"]["USERNAME"] == parameters["USERNAME"]
    assert ("SECRET_HASH" in verifier["body"]["ChallengeResponses"]) == bool(case.get("secret"))


def test_a_wrong_device_password_is_refused(seen):  # noqa: F811
    with serving(issuer_style="local") as server:
        pool = Pool(server)
        device, _ = pool.confirm(pool.srp().authenticate_user()["AuthenticationResult"])
        seen.clear()

        with pytest.raises(pool.cognito.client.exceptions.NotAuthorizedException) as err:
            pool.srp(device, device_password=WRONG_DEVICE_PASSWORD).authenticate_user()
        assert err.value.response["Error"] == {"Code": "NotAuthorizedException",
                                               "Message": "Incorrect username or password."}
        assert [r["status"] for r in device_answers(seen)] == [200, 400]  # refused at the device proof

        # The right device password still signs in: a refused proof leaves the device as it was.
        result = pool.srp(device).authenticate_user()["AuthenticationResult"]
        assert pool.access_claims(result)["device_key"] == device.key
        # The user's own wrong password is still refused before any device step.
        seen.clear()
        with pytest.raises(pool.cognito.client.exceptions.NotAuthorizedException):
            pool.srp(device, password="Not-the-pass-3").authenticate_user()
        assert device_answers(seen) == []


def test_a_forgotten_device_no_longer_signs_in(seen):  # noqa: F811
    with serving(issuer_style="local") as server:
        pool = Pool(server)
        first = pool.srp().authenticate_user()["AuthenticationResult"]
        device, _ = pool.confirm(first)
        signed_in = pool.srp(device).authenticate_user()["AuthenticationResult"]
        pool.cognito.client.forget_device(AccessToken=signed_in["AccessToken"], DeviceKey=device.key)
        seen.clear()

        with pytest.raises(pool.cognito.client.exceptions.ResourceNotFoundException) as err:
            pool.srp(device).authenticate_user()
        assert err.value.response["Error"] == {"Code": "ResourceNotFoundException",
                                               "Message": "Device does not exist."}
        verifiers = calls(seen, "RespondToAuthChallenge")
        assert [(r["body"]["ChallengeName"], r["status"]) for r in verifiers] == [("PASSWORD_VERIFIER", 400)]

        # Without the forgotten key pycognito signs in as on a new device, and gets a new key.
        fresh = pool.srp().authenticate_user()["AuthenticationResult"]
        assert fresh["NewDeviceMetadata"]["DeviceKey"] != device.key
        assert fresh["NewDeviceMetadata"]["DeviceGroupKey"] == device.group  # one group key per user
        with pytest.raises(pool.cognito.client.exceptions.ResourceNotFoundException):
            pool.cognito.client.get_device(AccessToken=fresh["AccessToken"], DeviceKey=device.key)


def test_pycognitos_own_device_requests(seen):  # noqa: F811
    """pycognito's `confirm_device`, `update_device_status` and `forget_device` post raw JSON
    with `Authorization: Bearer <access token>` and no SigV4 to the AWS URL they build;
    here only that URL is changed to the server's."""
    with serving(issuer_style="local") as server:
        pool = Pool(server, on_prompt=True)
        aws = pool.srp()
        tokens = aws.authenticate_user()
        access = tokens["AuthenticationResult"]["AccessToken"]
        posted: list[str] = []
        real_post = requests.post

        def to_server(url, **kwargs):
            posted.append(url)
            return real_post(f"{server.url}/", **kwargs)

        with mock.patch("pycognito.aws_srp.requests.post", to_server):
            response, device_password = aws.confirm_device(tokens, device_name="pycognito-own")
            assert response.status_code == 200, response.text
            assert response.json() == {"UserConfirmationNecessary": True}  # DeviceOnlyRememberedOnUserPrompt
            device = Device(tokens["AuthenticationResult"]["NewDeviceMetadata"], device_password)

            # Not remembered yet: the device key is taken, but no device SRP is asked.
            seen.clear()
            result = pool.srp(device).authenticate_user()["AuthenticationResult"]
            assert device_answers(seen) == [] and "NewDeviceMetadata" not in result
            assert pool.access_claims(result)["device_key"] == device.key

            aws.update_device_status(True, access, device.key)
            assert [r["status"] for r in calls(seen, "UpdateDeviceStatus")] == [200]
            seen.clear()
            result = pool.srp(device).authenticate_user()["AuthenticationResult"]
            assert [r["status"] for r in device_answers(seen)] == [200, 200]
            assert pool.access_claims(result)["device_key"] == device.key
            remembered = pool.admin.admin_get_device(UserPoolId=pool.id, Username=pool.username,
                                                     DeviceKey=device.key)["Device"]["DeviceAttributes"]
            assert {"Name": "dev:device_remembered_status", "Value": "remembered"} in remembered
            assert {"Name": "device_name", "Value": "pycognito-own"} in remembered

            aws.forget_device(access, device.key)
        assert posted == ["https://cognito-idp.us-east-1.amazonaws.com/"] * 3
        assert [r["status"] for r in calls(seen, "ForgetDevice")] == [200]
        with pytest.raises(pool.cognito.client.exceptions.ResourceNotFoundException):
            pool.srp(device).authenticate_user()


def test_a_remembered_device_stands_in_for_sms_mfa(seen):  # noqa: F811
    """MFA ON, ChallengeRequiredOnNewDevice true: a new device answers SMS_MFA; the same
    device, confirmed and remembered, signs in through device SRP with no code sent; set
    back to not_remembered it needs the code again."""
    with serving(issuer_style="local") as server:
        pool = Pool(server, mfa="ON", challenge_required=True)
        with pytest.raises(SMSMFAChallengeException) as challenge:
            pool.srp().authenticate_user()
        first = pool.answer_sms(challenge.value.get_tokens())["AuthenticationResult"]
        device, _ = pool.confirm(first)
        assert pool.access_claims(first)["device_key"] == device.key

        codes = mfa_codes(server)
        seen.clear()
        result = pool.srp(device).authenticate_user()["AuthenticationResult"]  # no SMSMFAChallengeException
        assert pool.access_claims(result)["device_key"] == device.key
        assert mfa_codes(server) == codes  # no code was sent
        assert [r["answer"].get("ChallengeName") for r in calls(seen, "RespondToAuthChallenge")] == [
            "DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER", None]

        pool.cognito.client.update_device_status(AccessToken=result["AccessToken"], DeviceKey=device.key,
                                                 DeviceRememberedStatus="not_remembered")
        seen.clear()
        with pytest.raises(SMSMFAChallengeException) as challenge:
            pool.srp(device).authenticate_user()
        assert mfa_codes(server) == codes + 1
        again = pool.answer_sms(challenge.value.get_tokens())["AuthenticationResult"]
        assert "NewDeviceMetadata" not in again  # the device it carried, not a new one
        assert pool.access_claims(again)["device_key"] == device.key
        assert device_answers(seen) == []

        # Without the device key it is a new device again: SMS_MFA.
        with pytest.raises(SMSMFAChallengeException):
            pool.srp().authenticate_user()


def test_sms_mfa_first_then_the_device_when_new_devices_need_no_challenge(seen):  # noqa: F811
    """MFA ON, ChallengeRequiredOnNewDevice false: a remembered device does not skip SMS_MFA;
    the code's answer leads to DEVICE_SRP_AUTH, which pycognito's own device code answers
    (its `authenticate_user` stops at SMS_MFA, so the steps after it are driven here with
    its `process_device_challenge`, as it drives them)."""
    with serving(issuer_style="local") as server:
        pool = Pool(server, mfa="ON", challenge_required=False)
        with pytest.raises(SMSMFAChallengeException) as challenge:
            pool.srp().authenticate_user()
        device, _ = pool.confirm(pool.answer_sms(challenge.value.get_tokens())["AuthenticationResult"])

        aws = pool.srp(device)
        with pytest.raises(SMSMFAChallengeException) as challenge:
            aws.authenticate_user()
        after_code = pool.answer_sms(challenge.value.get_tokens())
        assert after_code["ChallengeName"] == "DEVICE_SRP_AUTH"
        client = pool.cognito.client
        started = client.respond_to_auth_challenge(
            ClientId=pool.client_id, ChallengeName="DEVICE_SRP_AUTH",
            ChallengeResponses={"USERNAME": pool.typed, "DEVICE_KEY": device.key,
                                "SRP_A": long_to_hex(aws.large_a_value)},
        )
        assert started["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
        done = client.respond_to_auth_challenge(
            ClientId=pool.client_id, ChallengeName="DEVICE_PASSWORD_VERIFIER",
            ChallengeResponses=aws.process_device_challenge(started["ChallengeParameters"]),
        )
        result = done["AuthenticationResult"]
        assert "NewDeviceMetadata" not in result
        assert pool.access_claims(result)["device_key"] == device.key
