"""amazon-cognito-identity-js tracks a device against `authflow serve`: its default SRP sign-in
gets NewDeviceMetadata and the library confirms the device itself (ConfirmDevice with its own
verifier), `setDeviceStatusRemembered`, a second `authenticateUser` that answers DEVICE_SRP_AUTH
and DEVICE_PASSWORD_VERIFIER from the device it stored, `getDevice` / `listDevices`,
`refreshSession` with the stored DEVICE_KEY, a changed device password refused,
`forgetDevice` (after which the device's refresh token is refused and a sign-in is a new
device's), and a stale stored key: the server's "Device does not exist." makes the library
retry the same PASSWORD_VERIFIER request with `"DEVICE_KEY": null`, which must succeed.
aws-jwt-verify's CognitoJwtVerifier checks the tokens.

The script is tests/js/device_flow.js (packages pinned in tests/js/package-lock.json). The
server records every API request it answers (the `seen` fixture of test_js_clients.py), so
the test also sees what the JS client sent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.http import REGION, serving
from tests.integration.test_js_clients import JS, NODE, calls, fetch_jwks, js_clients, seen  # noqa: F401

SCRIPT = JS / "device_flow.js"
PASSWORD = "A-better-pass-2"
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
DEVICE_KEY = re.compile(r"us-east-1_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
GROUP_KEY = re.compile(r"-[0-9A-Za-z]{8}")


def run_script(server, pool_id: str, client_id: str, username: str) -> dict:
    document = {
        "endpoint": f"{server.url}/", "region": REGION, "userPoolId": pool_id, "clientId": client_id,
        "username": username, "password": PASSWORD, "jwks": fetch_jwks(server.url, pool_id),
    }
    env = {**os.environ, "AUTHFLOW_JS_INPUT": json.dumps(document)}
    done = subprocess.run([NODE, str(SCRIPT)], cwd=JS, env=env, capture_output=True, text=True, timeout=90)
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"no JSON from the script (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    assert done.returncode == 0 and report["ok"], json.dumps(report.get("error"), indent=2)
    return report


def attributes(device: dict) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in device["DeviceAttributes"]}


def user_agent_name(name: str) -> bool:
    """The DeviceName the library sends: 'nodejs', or navigator.userAgent where node has one."""
    return name == "nodejs" or name.startswith("Node.js/")


@pytest.mark.parametrize("on_prompt", [True, False], ids=["opt-in", "always"])
@pytest.mark.parametrize("email", [False, True], ids=["username", "email"])
def test_js_client_remembers_signs_in_with_and_forgets_a_device(seen, on_prompt, email):  # noqa: F811
    with serving() as server:
        client = server.client
        pool_kwargs = {"UsernameAttributes": ["email"]} if email else {}
        pool_id = client.create_user_pool(
            PoolName="devices", DeviceConfiguration={"ChallengeRequiredOnNewDevice": False,
                                                     "DeviceOnlyRememberedOnUserPrompt": on_prompt},
            **pool_kwargs,
        )["UserPool"]["Id"]
        client_id = client.create_user_pool_client(UserPoolId=pool_id, ClientName="spa",
                                                   ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
        typed = "alice@example.com" if email else "alice"
        created = client.admin_create_user(UserPoolId=pool_id, Username=typed, MessageAction="SUPPRESS",
                                           UserAttributes=[{"Name": "email", "Value": "alice@example.com"}])["User"]
        canonical = created["Username"]
        client.admin_set_user_password(UserPoolId=pool_id, Username=canonical, Password=PASSWORD, Permanent=True)
        seen.clear()

        report = run_script(server, pool_id, client_id, typed)

        left = client.admin_list_devices(UserPoolId=pool_id, Username=canonical)["Devices"]

    steps, verified = report["steps"], report["verified"]
    assert steps["flow"] == "USER_SRP_AUTH"
    first = steps["firstSignIn"]
    assert first["username"] == canonical
    assert first["userConfirmationNecessary"] is on_prompt
    key, group = first["stored"]["deviceKey"], first["stored"]["deviceGroupKey"]
    assert DEVICE_KEY.fullmatch(key) and GROUP_KEY.fullmatch(group) and first["stored"]["hasDevicePassword"]

    # (1) The sign-in that issued the key, and the library's own ConfirmDevice with it.
    confirms = calls(seen, "ConfirmDevice")
    assert [r["status"] for r in confirms] == [200, 200, 200]
    assert confirms[0]["body"]["DeviceKey"] == key
    assert confirms[0]["answer"] == {"UserConfirmationNecessary": on_prompt}
    for request in confirms:
        assert set(request["body"]["DeviceSecretVerifierConfig"]) == {"PasswordVerifier", "Salt"}
        assert user_agent_name(request["body"]["DeviceName"])
    updates = calls(seen, "UpdateDeviceStatus")
    assert [(r["status"], r["body"]["DeviceKey"], r["body"]["DeviceRememberedStatus"]) for r in updates] == [
        (200, key, "remembered")]

    # (3) The device sign-in: PASSWORD_VERIFIER carries the stored key, then the device's own SRP.
    answers = calls(seen, "RespondToAuthChallenge")
    device_steps = [i for i, r in enumerate(answers) if r["body"]["ChallengeName"] == "DEVICE_SRP_AUTH"]
    assert len(device_steps) == 2  # (3), and (6) which fails at its proof
    at = device_steps[0]
    password_step, srp_auth, proof = answers[at - 1], answers[at], answers[at + 1]
    assert password_step["body"]["ChallengeResponses"]["DEVICE_KEY"] == key
    assert password_step["answer"]["ChallengeName"] == "DEVICE_SRP_AUTH"
    assert password_step["answer"]["ChallengeParameters"] == {}
    assert srp_auth["body"]["Session"] == password_step["answer"]["Session"]
    assert srp_auth["body"]["ChallengeResponses"]["USERNAME"] == canonical
    assert srp_auth["body"]["ChallengeResponses"]["DEVICE_KEY"] == key
    initiates = calls(seen, "InitiateAuth")
    assert srp_auth["body"]["ChallengeResponses"]["SRP_A"] not in {
        r["body"]["AuthParameters"].get("SRP_A") for r in initiates}  # JS draws a fresh A for the device
    assert srp_auth["answer"]["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
    assert proof["body"]["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER" and proof["status"] == 200
    assert proof["body"]["Session"] == srp_auth["answer"]["Session"]
    assert "NewDeviceMetadata" not in proof["answer"]["AuthenticationResult"]
    assert verified["deviceSignIn"]["access"]["device_key"] == key
    assert steps["deviceSignIn"]["stored"]["deviceKey"] == key

    # (4) GetDevice / ListDevices as the library calls them.
    device = steps["getDevice"]["Device"]
    assert device["DeviceKey"] == key
    shown = attributes(device)
    assert shown["device_status"] == "valid" and user_agent_name(shown["device_name"])
    assert shown["last_ip_used"] == "127.0.0.1"
    for stamp in ("DeviceCreateDate", "DeviceLastModifiedDate", "DeviceLastAuthenticatedDate"):
        assert isinstance(device[stamp], (int, float)), stamp
    assert [d["DeviceKey"] for d in steps["listDevices"]["Devices"]] == [key]
    assert "PaginationToken" not in steps["listDevices"]

    # (5) refreshSession sends the stored key; the new access token is the same device's.
    refreshes = [r for r in initiates if r["body"]["AuthFlow"] == "REFRESH_TOKEN_AUTH"]
    assert (refreshes[0]["status"], refreshes[0]["body"]["AuthParameters"]["DEVICE_KEY"]) == (200, key)
    assert verified["refresh"]["access"]["device_key"] == key
    assert verified["refresh"]["access"]["origin_jti"] == verified["deviceSignIn"]["access"]["origin_jti"]

    # (6) The changed device password: refused at the device proof, as a wrong password is.
    assert steps["wrongDevicePassword"]["code"] == "NotAuthorizedException"
    assert steps["wrongDevicePassword"]["message"] == "Incorrect username or password."
    wrong_proof = answers[device_steps[1] + 1]
    assert wrong_proof["body"]["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER" and wrong_proof["status"] == 400

    # (7) forgetDevice: the library drops its copy; the forgotten device's refresh token stops.
    assert [(r["status"], r["body"]["DeviceKey"]) for r in calls(seen, "ForgetDevice")][0] == (200, key)
    assert steps["forgetDevice"]["stored"]["deviceKey"] is None
    assert steps["refreshAfterForget"]["outcome"] == "error"
    assert steps["refreshAfterForget"]["code"] == "NotAuthorizedException"
    # The stored key is gone, so the library sends DEVICE_KEY null (and, as it does for any
    # error of a refresh, retries with backoff): each attempt is refused.
    stopped = refreshes[1:]
    assert stopped and all(r["status"] == 400 and r["body"]["AuthParameters"]["DEVICE_KEY"] is None for r in stopped)
    assert {r["answer"]["__type"] for r in stopped} == {"NotAuthorizedException"}
    assert {r["answer"]["message"] for r in stopped} == {steps["refreshAfterForget"]["message"]}

    # (8) After forgetting: a new device (a new key, the user's one group key), confirmed by the library.
    after = steps["afterForget"]
    second_key = after["stored"]["deviceKey"]
    assert DEVICE_KEY.fullmatch(second_key) and second_key != key
    assert after["stored"]["deviceGroupKey"] == group
    assert after["userConfirmationNecessary"] is on_prompt
    assert verified["afterForget"]["access"]["device_key"] == second_key

    # (9) A stale stored key: "Device does not exist.", then the same request with DEVICE_KEY null.
    stale = steps["staleKey"]
    assert stale["forgotten"] == second_key
    refused = [r for r in answers if r["status"] == 400 and r["answer"]["__type"] == "ResourceNotFoundException"]
    assert len(refused) == 1
    assert refused[0]["answer"]["message"] == "Device does not exist."
    assert refused[0]["body"]["ChallengeResponses"]["DEVICE_KEY"] == second_key
    retry = answers[answers.index(refused[0]) + 1]
    assert retry["body"]["ChallengeResponses"]["DEVICE_KEY"] is None  # JSON null, sent as such
    again = {**refused[0]["body"], "ChallengeResponses": {**refused[0]["body"]["ChallengeResponses"], "DEVICE_KEY": None}}
    assert retry["body"] == again  # the same request (same proof, same TIMESTAMP), the key nulled
    assert retry["status"] == 200
    third_key = retry["answer"]["AuthenticationResult"]["NewDeviceMetadata"]["DeviceKey"]
    assert third_key not in (key, second_key) and stale["stored"]["deviceKey"] == third_key
    assert verified["staleKey"]["access"]["device_key"] == third_key

    # Tokens: every one verified for this pool and client, each access token bound to its device.
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    for name, tokens in verified.items():
        assert tokens["id"]["cognito:username"] == canonical and tokens["id"]["aud"] == client_id, name
        assert tokens["access"]["client_id"] == client_id and tokens["access"]["iss"] == issuer, name
        assert "device_key" not in tokens["id"], name
    assert verified["firstSignIn"]["access"]["device_key"] == key
    assert report["jwksFetches"] == []

    # What the server holds at the end: only the last device (the first two were forgotten).
    assert [d["DeviceKey"] for d in left] == [third_key]
