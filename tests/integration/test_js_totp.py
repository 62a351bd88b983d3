"""amazon-cognito-identity-js sets up an authenticator app (TOTP) against `authflow serve` and
signs in with it (issue 19): `associateSoftwareToken` -> `verifySoftwareToken` ->
`setUserMfaPreference` -> a sign-in that reaches `totpRequired` -> `sendMFACode(...,
'SOFTWARE_TOKEN_MFA')`; and an MFA_SETUP sign-in (pool MFA ON, TOTP only): `mfaSetup` ->
`associateSoftwareToken` -> `verifySoftwareToken`, which answers MFA_SETUP itself.
aws-jwt-verify's CognitoJwtVerifier checks the tokens.

The script is tests/js/totp_flow.js (packages pinned in tests/js/package-lock.json). This test
plays the user's authenticator app: when the script needs a code it asks on stdout, and the
answer is pyotp's code for the SecretCode the library received, at the test server's (manual)
clock. A code is accepted once, so before the sign-in code the clock moves to the next 30-second
step, as the real time would while the user signs in again. The server records every API
request it answers (the `seen` fixture of test_js_clients.py), so the test also sees what the
library sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from datetime import timedelta

import pyotp
import pytest

from tests.http import REGION, serving
from tests.integration.test_js_clients import JS, NODE, calls, fetch_jwks, js_clients, seen  # noqa: F401

SCRIPT = JS / "totp_flow.js"
PASSWORD = "A-better-pass-2"
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
STEP = 30
SOFTWARE_TOKEN_ON = {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"], "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA"}


class Authenticator:
    """The user's authenticator app: pyotp's RFC 6238 codes on the server's clock."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.asked: list[dict] = []
        self.given: dict[str, str] = {}
        self.step_of: dict[str, int] = {}  # the 30-second step each code was read at

    def code(self, secret: str, steps: int = 0) -> str:
        return pyotp.TOTP(secret).at(int(self.clock.now().timestamp()) + STEP * steps)

    def __call__(self, ask: dict) -> str:
        self.asked.append(ask)
        purpose, secret = ask["for"], ask["secret"]
        if purpose == "verify":
            code = self.code(secret)
        elif purpose == "replay":
            code = self.given["verify"]
        elif purpose == "wrong":
            accepted = {self.code(secret, s) for s in (-1, 0, 1)}
            code = next(c for c in ("000000", "111111", "222222") if c not in accepted)
        elif purpose == "signIn":
            now = int(self.clock.now().timestamp())
            self.clock.advance(timedelta(seconds=STEP - now % STEP))  # the start of the next step
            code = self.code(secret)
        else:
            raise AssertionError(f"the script asked for an unknown code: {ask}")
        self.given[purpose] = code
        self.step_of[purpose] = int(self.clock.now().timestamp()) // STEP
        return code


def run_script(server, mode: str, pool_id: str, client_id: str, username: str) -> tuple[dict, Authenticator]:
    """Runs totp_flow.js, answering its asks for codes; its report and the authenticator."""
    document = {
        "mode": mode, "endpoint": f"{server.url}/", "region": REGION, "userPoolId": pool_id,
        "clientId": client_id, "username": username, "password": PASSWORD, "jwks": fetch_jwks(server.url, pool_id),
    }
    authenticator = Authenticator(server.clock)
    env = {**os.environ, "AUTHFLOW_JS_INPUT": json.dumps(document)}
    with tempfile.TemporaryFile(mode="w+") as stderr:
        script = subprocess.Popen([NODE, str(SCRIPT)], cwd=JS, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=stderr, text=True)
        watchdog = threading.Timer(90, script.kill)
        watchdog.start()
        report, output = None, []
        try:
            for line in script.stdout:
                output.append(line)
                message = json.loads(line)
                if "ask" not in message:
                    report = message
                    break
                script.stdin.write(json.dumps({"code": authenticator(message["ask"])}) + "\n")
                script.stdin.flush()
            script.stdin.close()
            script.wait(timeout=30)
        finally:
            watchdog.cancel()
            if script.poll() is None:
                script.kill()
        stderr.seek(0)
        if report is None:
            pytest.fail(f"no JSON report from the script (exit {script.returncode}):\n{''.join(output)}\n{stderr.read()}")
    assert script.returncode == 0 and report["ok"], json.dumps(report.get("error"), indent=2)
    return report, authenticator


def make_pool(server, *, mode: str, email: bool) -> tuple[str, str, str, str]:
    """A pool with TOTP (MfaConfiguration `mode`), an app client without a secret and a
    CONFIRMED user; (pool id, client id, what the user types, canonical username)."""
    client = server.client
    pool_id = client.create_user_pool(PoolName="totp", **({"UsernameAttributes": ["email"]} if email else {}))[
        "UserPool"]["Id"]
    client.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration=mode,
                                    SoftwareTokenMfaConfiguration={"Enabled": True})
    client_id = client.create_user_pool_client(UserPoolId=pool_id, ClientName="spa",
                                               ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    typed = "alice@example.com" if email else "alice"
    created = client.admin_create_user(UserPoolId=pool_id, Username=typed, MessageAction="SUPPRESS",
                                       UserAttributes=[{"Name": "email", "Value": "alice@example.com"}])["User"]
    client.admin_set_user_password(UserPoolId=pool_id, Username=created["Username"], Password=PASSWORD,
                                   Permanent=True)
    return pool_id, client_id, typed, created["Username"]


def mfa_of(client, pool_id: str, username: str) -> dict:
    user = client.admin_get_user(UserPoolId=pool_id, Username=username)
    return {k: user[k] for k in ("UserMFASettingList", "PreferredMfaSetting") if k in user}


def software_token_answers(requests: list[dict]) -> list[dict]:
    return [r for r in calls(requests, "RespondToAuthChallenge") if r["body"]["ChallengeName"] == "SOFTWARE_TOKEN_MFA"]


def check_tokens(report: dict, *, pool_id: str, client_id: str, username: str) -> None:
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    for name, verified in report["verified"].items():
        assert verified["id"]["cognito:username"] == username and verified["access"]["username"] == username, name
        assert verified["id"]["aud"] == client_id and verified["access"]["client_id"] == client_id, name
        assert verified["id"]["iss"] == verified["access"]["iss"] == issuer, name
    assert report["jwksFetches"] == []


@pytest.mark.parametrize("email", [False, True], ids=["username", "email"])
def test_js_client_enrols_an_authenticator_and_signs_in_with_totp(seen, email):  # noqa: F811
    with serving() as server:
        pool_id, client_id, typed, canonical = make_pool(server, mode="OPTIONAL", email=email)
        seen.clear()

        report, authenticator = run_script(server, "enrol", pool_id, client_id, typed)

        settings = mfa_of(server.client, pool_id, canonical)

    steps = report["steps"]
    assert steps["flow"] == "USER_SRP_AUTH"
    assert steps["signIn"]["outcome"] == "onSuccess" and steps["signIn"]["username"] == canonical
    secret = steps["associate"]["secretCode"]
    assert len(secret) == 52 and pyotp.TOTP(secret).byte_secret()
    assert [a["for"] for a in authenticator.asked] == ["verify", "wrong", "replay", "signIn"]
    assert authenticator.step_of["signIn"] == authenticator.step_of["verify"] + 1
    assert {a["secret"] for a in authenticator.asked} == {secret}

    # (2)-(3) Associate and verify by access token: no Session either way.
    associates = calls(seen, "AssociateSoftwareToken")
    assert [(r["status"], set(r["body"])) for r in associates] == [(200, {"AccessToken"})]
    assert set(associates[0]["answer"]) == {"SecretCode"}
    verifies = calls(seen, "VerifySoftwareToken")
    assert [r["status"] for r in verifies] == [200]
    assert verifies[0]["body"] == {"AccessToken": associates[0]["body"]["AccessToken"],
                                   "UserCode": authenticator.given["verify"], "FriendlyDeviceName": "phone"}
    assert steps["verify"]["result"] == {"Status": "SUCCESS"}

    # (4)-(5) The preference as the library sends it (SMS null: left as it is), and GetUser after it.
    preferences = calls(seen, "SetUserMFAPreference")
    assert [r["status"] for r in preferences] == [200]
    assert preferences[0]["body"]["SMSMfaSettings"] is None
    assert preferences[0]["body"]["SoftwareTokenMfaSettings"] == {"PreferredMfa": True, "Enabled": True}
    assert steps["prefer"]["outcome"] == "SUCCESS"
    assert steps["userData"] == SOFTWARE_TOKEN_ON
    assert settings == SOFTWARE_TOKEN_ON

    # (6) The next sign-in reaches totpRequired; a wrong and a replayed code fail; the right one signs in.
    sign_in = steps["totpSignIn"]
    assert sign_in["challenge"]["callback"] == "totpRequired"
    assert sign_in["challenge"]["challengeName"] == "SOFTWARE_TOKEN_MFA"
    assert sign_in["challenge"]["challengeParameters"] == {"FRIENDLY_DEVICE_NAME": "phone", "USER_ID_FOR_SRP": canonical}
    assert sign_in["wrongCode"]["code"] == "CodeMismatchException"
    assert sign_in["wrongCode"]["message"] == "Invalid code received for user."
    assert sign_in["replayedCode"]["code"] == "ExpiredCodeException"
    assert sign_in["replayedCode"]["message"] == "Your software token has already been used once."
    assert sign_in["outcome"] == "onSuccess"
    answers = software_token_answers(seen)
    codes = [authenticator.given[k] for k in ("wrong", "replay", "signIn")]
    assert [(r["status"], r["body"]["ChallengeResponses"]["SOFTWARE_TOKEN_MFA_CODE"]) for r in answers] == list(
        zip([400, 400, 200], codes, strict=True))
    verifier_answer = [r for r in calls(seen, "RespondToAuthChallenge")
                       if r["body"]["ChallengeName"] == "PASSWORD_VERIFIER"][-1]
    for request in answers:
        responses = request["body"]["ChallengeResponses"]
        assert responses["USERNAME"] == canonical  # the library answers with USER_ID_FOR_SRP
        assert responses["SMS_MFA_CODE"] == responses["SOFTWARE_TOKEN_MFA_CODE"]  # the library sends both
        assert request["body"]["Session"] == verifier_answer["answer"]["Session"]  # kept across the failures

    check_tokens(report, pool_id=pool_id, client_id=client_id, username=canonical)
    assert set(report["verified"]) == {"signIn", "totpSignIn"}
    assert report["verified"]["signIn"]["id"]["sub"] == report["verified"]["totpSignIn"]["id"]["sub"]


def test_js_client_sets_up_totp_through_the_mfa_setup_challenge(seen):  # noqa: F811
    with serving() as server:
        pool_id, client_id, typed, canonical = make_pool(server, mode="ON", email=False)
        seen.clear()

        report, authenticator = run_script(server, "setup", pool_id, client_id, typed)

        settings = mfa_of(server.client, pool_id, canonical)

    steps = report["steps"]
    assert steps["setupSignIn"]["outcome"] == "mfaSetup"
    assert steps["setupSignIn"]["challengeName"] == "MFA_SETUP"
    assert steps["setupSignIn"]["challengeParameters"] == {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]',
                                                           "USER_ID_FOR_SRP": canonical}
    secret = steps["associate"]["secretCode"]
    assert [a["for"] for a in authenticator.asked] == ["verify", "signIn"]

    # The Session chain: challenge -> AssociateSoftwareToken -> VerifySoftwareToken -> MFA_SETUP.
    challenge = [r for r in calls(seen, "RespondToAuthChallenge")
                 if r["body"]["ChallengeName"] == "PASSWORD_VERIFIER"][0]
    assert challenge["answer"]["ChallengeName"] == "MFA_SETUP"
    associates = calls(seen, "AssociateSoftwareToken")
    assert [(r["status"], r["body"]) for r in associates] == [(200, {"Session": challenge["answer"]["Session"]})]
    assert associates[0]["answer"]["SecretCode"] == secret
    verifies = calls(seen, "VerifySoftwareToken")
    assert [(r["status"], r["body"]) for r in verifies] == [
        (200, {"Session": associates[0]["answer"]["Session"], "UserCode": authenticator.given["verify"],
               "FriendlyDeviceName": "phone"})]
    assert verifies[0]["answer"]["Status"] == "SUCCESS"
    setups = [r for r in calls(seen, "RespondToAuthChallenge") if r["body"]["ChallengeName"] == "MFA_SETUP"]
    assert [r["status"] for r in setups] == [200]
    assert setups[0]["body"]["Session"] == verifies[0]["answer"]["Session"]
    assert setups[0]["body"]["ChallengeResponses"] == {"USERNAME": canonical}
    assert "AuthenticationResult" in setups[0]["answer"]
    assert steps["verify"]["outcome"] == "onSuccess"

    # Completing MFA_SETUP turned TOTP on as the preferred factor: the next sign-in asks for a code.
    assert settings == SOFTWARE_TOKEN_ON
    sign_in = steps["totpSignIn"]
    assert sign_in["challenge"]["callback"] == "totpRequired"
    assert sign_in["challenge"]["challengeParameters"] == {"FRIENDLY_DEVICE_NAME": "phone", "USER_ID_FOR_SRP": canonical}
    assert sign_in["outcome"] == "onSuccess"
    answers = software_token_answers(seen)
    assert [(r["status"], r["body"]["ChallengeResponses"]["SOFTWARE_TOKEN_MFA_CODE"]) for r in answers] == [
        (200, authenticator.given["signIn"])]
    assert authenticator.step_of["signIn"] == authenticator.step_of["verify"] + 1

    check_tokens(report, pool_id=pool_id, client_id=client_id, username=canonical)
    assert set(report["verified"]) == {"verify", "totpSignIn"}
