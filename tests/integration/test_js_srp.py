"""amazon-cognito-identity-js in its default mode (USER_SRP_AUTH) against `authflow serve`:
newPasswordRequired -> completeNewPasswordChallenge -> onSuccess, then a plain SRP sign-in,
then a wrong password; aws-jwt-verify's CognitoJwtVerifier checks the tokens.

The script is tests/js/srp_flow.js (packages pinned in tests/js/package-lock.json). The
server records every API request it answers (the `seen` fixture of test_js_clients.py), so
the test also sees what the JS client sent: its own SRP_A, the SECRET_BLOCK echoed, a
TIMESTAMP in Cognito's form, and no Session on the PASSWORD_VERIFIER step.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.http import REGION, serving
from tests.integration.test_js_clients import JS, NODE, calls, fetch_jwks, js_clients, seen  # noqa: F401

SCRIPT = JS / "srp_flow.js"
TEMP = "Temp-pass-1"
NEW = "A-better-pass-2"
WRONG = "Not-the-pass-3"
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
TIMESTAMP = re.compile(r"(Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [1-9][0-9]? \d\d:\d\d:\d\d UTC \d{4}")


def run_script(server, pool_id: str, client_id: str, username: str) -> dict:
    document = {
        "endpoint": f"{server.url}/", "region": REGION, "userPoolId": pool_id, "clientId": client_id,
        "username": username, "temporaryPassword": TEMP, "newPassword": NEW, "wrongPassword": WRONG,
        "jwks": fetch_jwks(server.url, pool_id),
    }
    env = {**os.environ, "AUTHFLOW_JS_INPUT": json.dumps(document)}
    done = subprocess.run([NODE, str(SCRIPT)], cwd=JS, env=env, capture_output=True, text=True, timeout=60)
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"no JSON from the script (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    assert done.returncode == 0 and report["ok"], json.dumps(report.get("error"), indent=2)
    return report


@pytest.mark.parametrize("pool_kwargs", [{}, {"UsernameAttributes": ["email"]}], ids=["username", "email"])
def test_srp_first_sign_in_then_sign_in_then_wrong_password(seen, pool_kwargs):  # noqa: F811
    with serving() as server:
        client = server.client
        pool_id = client.create_user_pool(PoolName="srp", **pool_kwargs)["UserPool"]["Id"]
        client_id = client.create_user_pool_client(
            UserPoolId=pool_id, ClientName="spa", ExplicitAuthFlows=FLOWS,
        )["UserPoolClient"]["ClientId"]
        typed = "alice@example.com" if pool_kwargs else "alice"
        created = client.admin_create_user(
            UserPoolId=pool_id, Username=typed, TemporaryPassword=TEMP, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": "alice@example.com"}],
        )["User"]
        canonical = created["Username"]
        sub = {a["Name"]: a["Value"] for a in created["Attributes"]}["sub"]
        seen.clear()

        report = run_script(server, pool_id, client_id, typed)

        status = client.admin_get_user(UserPoolId=pool_id, Username=canonical)["UserStatus"]

    assert status == "CONFIRMED"
    steps = report["steps"]
    assert steps["flow"] == "USER_SRP_AUTH"
    assert steps["firstSignIn"]["outcome"] == "newPasswordRequired"
    assert steps["completeNewPassword"]["outcome"] == steps["secondSignIn"]["outcome"] == "onSuccess"
    assert steps["wrongPassword"]["code"] == "NotAuthorizedException"
    assert steps["wrongPassword"]["message"] == "Incorrect username or password."
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    for name, verified in report["verified"].items():
        assert verified["id"]["cognito:username"] == canonical and verified["id"]["sub"] == sub, name
        assert verified["id"]["aud"] == client_id and verified["access"]["client_id"] == client_id, name
        assert verified["id"]["iss"] == verified["access"]["iss"] == issuer, name
    assert report["jwksFetches"] == []

    initiates = calls(seen, "InitiateAuth")
    assert [r["body"]["AuthFlow"] for r in initiates] == ["USER_SRP_AUTH"] * 3
    assert all(r["status"] == 200 and r["answer"]["ChallengeName"] == "PASSWORD_VERIFIER" for r in initiates)
    for request in initiates:
        assert request["body"]["AuthParameters"]["USERNAME"] == typed
        assert re.fullmatch(r"[0-9a-f]+", request["body"]["AuthParameters"]["SRP_A"])
        assert request["answer"]["ChallengeParameters"]["USER_ID_FOR_SRP"] == canonical
        assert "Session" not in request["answer"]
    verifiers = [r for r in calls(seen, "RespondToAuthChallenge") if r["body"]["ChallengeName"] == "PASSWORD_VERIFIER"]
    assert [r["status"] for r in verifiers] == [200, 200, 400]
    for request, start in zip(verifiers, initiates, strict=True):
        responses = request["body"]["ChallengeResponses"]
        assert set(responses) == {"USERNAME", "PASSWORD_CLAIM_SECRET_BLOCK", "TIMESTAMP", "PASSWORD_CLAIM_SIGNATURE"}
        assert responses["USERNAME"] == canonical  # JS answers with USER_ID_FOR_SRP
        assert responses["PASSWORD_CLAIM_SECRET_BLOCK"] == start["answer"]["ChallengeParameters"]["SECRET_BLOCK"]
        assert TIMESTAMP.fullmatch(responses["TIMESTAMP"])
        assert "Session" not in request["body"]
    assert verifiers[0]["answer"]["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert verifiers[2]["answer"] == {"__type": "NotAuthorizedException", "message": "Incorrect username or password."}
