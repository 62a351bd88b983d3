"""Real JavaScript Cognito clients against `authflow serve`: amazon-cognito-identity-js signs in
(USER_PASSWORD_AUTH, NEW_PASSWORD_REQUIRED with a required attribute, refresh, GetUser) and
aws-jwt-verify's CognitoJwtVerifier checks the tokens and refuses tampered and foreign ones.

The script is tests/js/new_password_flow.js; its packages are pinned in tests/js/package-lock.json
(`npm ci --prefix tests/js`). The pool and users are set up in process (`server.client`); the
server records every API request it answers, so the tests see what the JS client sent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from authflow.wire import protocol
from tests.external import need
from tests.http import REGION, serving

JS = Path(__file__).resolve().parent.parent / "js"
SCRIPT = JS / "new_password_flow.js"
MODULES = JS / "node_modules"
NODE = shutil.which("node")

TEMP = "Temp-pass-1"
NEW = "A-better-pass-2"
WRONG = "Not-the-pass-3"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
TARGET = "AWSCognitoIdentityProviderService."


@pytest.fixture(autouse=True)
def js_clients() -> None:
    need(
        bool(NODE)
        and (MODULES / "amazon-cognito-identity-js").is_dir()
        and (MODULES / "aws-jwt-verify").is_dir(),
        "node and tests/js/node_modules (npm ci --prefix tests/js) are needed",
    )


@pytest.fixture
def seen(monkeypatch) -> list[dict]:
    """Every API request the server answers: operation, JSON body, status, JSON answer."""
    requests: list[dict] = []
    original = protocol.handle

    def recording(engine, signing, *, method, path, query, headers, body, peer=None):
        answer = original(engine, signing, method=method, path=path, query=query,
                          headers=headers, body=body, peer=peer)
        target = dict((k.lower(), v) for k, v in headers).get("x-amz-target", "")
        requests.append({
            "operation": target.removeprefix(TARGET),
            "body": json.loads(body or b"{}"),
            "status": answer.status,
            "answer": json.loads(answer.body),
        })
        return answer

    monkeypatch.setattr(protocol, "handle", recording)  # server.py looks it up per request
    return requests


def fetch_jwks(url: str, pool_id: str) -> dict:
    with urllib.request.urlopen(f"{url}/{pool_id}/.well-known/jwks.json", timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def run_script(server, pool_id: str, client_id: str, username: str, *,
               attributes: dict[str, str], other_pool_id_token: str | None = None) -> dict:
    document = {
        "endpoint": f"{server.url}/",
        "region": REGION,
        "userPoolId": pool_id,
        "clientId": client_id,
        "username": username,
        "temporaryPassword": TEMP,
        "newPassword": NEW,
        "wrongPassword": WRONG,
        "attributes": attributes,
        "jwks": fetch_jwks(server.url, pool_id),
    }
    if other_pool_id_token:
        document["otherPoolIdToken"] = other_pool_id_token
    env = {**os.environ, "AUTHFLOW_JS_INPUT": json.dumps(document)}
    done = subprocess.run([NODE, str(SCRIPT)], cwd=JS, env=env, capture_output=True,
                          text=True, timeout=60)
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"no JSON from the script (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    assert done.returncode == 0 and report["ok"], json.dumps(report.get("error"), indent=2)
    return report


def other_pool_id_token(client) -> str:
    """An ID token from another pool of the same server (same region, same issuer shape)."""
    pool_id = client.create_user_pool(PoolName="other")["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="other", ExplicitAuthFlows=FLOWS,
    )["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword=TEMP,
                             MessageAction="SUPPRESS")
    started = client.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": "alice", "PASSWORD": TEMP})
    done = client.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW},
    )
    return done["AuthenticationResult"]["IdToken"]


def calls(seen: list[dict], operation: str) -> list[dict]:
    return [r for r in seen if r["operation"] == operation]


def check_tokens(report: dict, *, pool_id: str, client_id: str, username: str, sub: str) -> None:
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    assert set(report["verified"]) == {"completion", "signIn", "refresh"}
    for name, verified in report["verified"].items():
        id_claims, access = verified["id"], verified["access"]
        assert id_claims["token_use"] == "id", name
        assert id_claims["sub"] == sub and access["sub"] == sub, name
        assert id_claims["cognito:username"] == username, name
        assert id_claims["aud"] == client_id, name
        assert id_claims["iss"] == issuer and access["iss"] == issuer, name
        assert access["token_use"] == "access", name
        assert access["username"] == username, name
        assert access["client_id"] == client_id, name
        assert "aud" not in access, name
        assert access["scope"] == "aws.cognito.signin.user.admin", name
        assert id_claims["exp"] > id_claims["iat"] and access["exp"] > access["iat"], name
    # The refresh gave new ID and access tokens of the same sign-in (origin_jti).
    steps, verified = report["steps"], report["verified"]
    assert steps["refresh"]["idToken"] != steps["secondSignIn"]["idToken"]
    assert steps["refresh"]["accessToken"] != steps["secondSignIn"]["accessToken"]
    assert verified["refresh"]["access"]["origin_jti"] == verified["signIn"]["access"]["origin_jti"]
    assert verified["completion"]["access"]["origin_jti"] != verified["signIn"]["access"]["origin_jti"]
    assert report["jwksFetches"] == []  # the cached JWKS held every kid


def check_rejections(report: dict, *, other_pool: bool) -> None:
    expected = {
        "tamperedSignature": "JwtInvalidSignatureError",
        "tamperedPayload": "JwtInvalidSignatureError",
        "forgedWithOtherKey": "JwtInvalidSignatureError",
        "accessTokenAsId": "CognitoJwtInvalidTokenUseError",
        "idTokenAsAccess": "CognitoJwtInvalidTokenUseError",
        "otherClientId": "CognitoJwtInvalidClientIdError",
    }
    if other_pool:
        expected["otherPool"] = "ParameterValidationError"
    assert {k: (v["rejected"], v["name"]) for k, v in report["rejected"].items()} == {
        k: (True, v) for k, v in expected.items()
    }
    if other_pool:
        assert report["rejected"]["otherPool"]["message"].startswith("issuer not configured")


def test_first_sign_in_by_email_alias_with_a_required_attribute(seen):
    with serving() as server:
        client = server.client
        pool_id = client.create_user_pool(
            PoolName="web",
            AliasAttributes=["email"],
            Schema=[{"Name": "given_name", "AttributeDataType": "String", "Required": True,
                     "Mutable": True}],
        )["UserPool"]["Id"]
        assert re.fullmatch(r"us-east-1_[0-9A-Za-z]+", pool_id)
        app = client.create_user_pool_client(UserPoolId=pool_id, ClientName="spa",
                                             ExplicitAuthFlows=FLOWS)["UserPoolClient"]
        assert "ClientSecret" not in app
        client_id = app["ClientId"]
        client.admin_create_user(
            UserPoolId=pool_id, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": "alice@example.com"},
                            {"Name": "email_verified", "Value": "true"}],
        )
        foreign = other_pool_id_token(client)
        seen.clear()

        report = run_script(server, pool_id, client_id, "alice@example.com",
                            attributes={"given_name": "Alice"}, other_pool_id_token=foreign)

        user = client.admin_get_user(UserPoolId=pool_id, Username="alice")
        stored = {a["Name"]: a["Value"] for a in user["UserAttributes"]}

    assert user["UserStatus"] == "CONFIRMED"
    assert stored["given_name"] == "Alice"
    steps = report["steps"]
    first = steps["firstSignIn"]
    assert first["outcome"] == "newPasswordRequired"
    assert first["requiredAttributes"] == ["given_name"]
    assert first["userAttributes"] == {"email": "alice@example.com", "email_verified": "true"}
    for name in ("completeNewPassword", "secondSignIn", "refresh"):
        assert steps[name]["outcome"] == "onSuccess", name
        assert steps[name]["valid"] is True, name
        assert steps[name]["idPayload"]["cognito:username"] == "alice", name
        assert steps[name]["idPayload"]["given_name"] == "Alice", name
        assert steps[name]["idPayload"]["email"] == "alice@example.com", name
    assert steps["wrongPassword"] == {
        "outcome": "onFailure", "code": "NotAuthorizedException", "name": "NotAuthorizedException",
        "message": "Incorrect username or password.",
    }
    assert steps["getUserAttributes"]["attributes"] == stored
    check_tokens(report, pool_id=pool_id, client_id=client_id, username="alice", sub=stored["sub"])
    check_rejections(report, other_pool=True)

    # What the JS client sent, and what the server answered.
    assert [r["operation"] for r in seen] == [
        "InitiateAuth", "RespondToAuthChallenge", "InitiateAuth", "InitiateAuth", "InitiateAuth", "GetUser",
    ]
    assert [r["status"] for r in seen] == [200, 200, 200, 400, 200, 200]
    initiates = calls(seen, "InitiateAuth")
    for request in initiates[:3]:
        assert request["body"]["AuthFlow"] == "USER_PASSWORD_AUTH"
        assert request["body"]["AuthParameters"]["USERNAME"] == "alice@example.com"
    assert initiates[0]["answer"]["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert initiates[0]["answer"]["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
    assert initiates[2]["answer"] == {"__type": "NotAuthorizedException",
                                      "message": "Incorrect username or password."}
    assert initiates[3]["body"]["AuthFlow"] == "REFRESH_TOKEN_AUTH"
    assert initiates[3]["body"]["AuthParameters"]["REFRESH_TOKEN"] == steps["secondSignIn"]["refreshToken"]
    assert "RefreshToken" not in initiates[3]["answer"]["AuthenticationResult"]
    (answer,) = calls(seen, "RespondToAuthChallenge")
    assert answer["body"]["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert answer["body"]["ClientId"] == client_id
    assert answer["body"]["Session"] == initiates[0]["answer"]["Session"]
    # The typed alias comes back as USERNAME (not USER_ID_FOR_SRP), and the server accepted it.
    assert answer["body"]["ChallengeResponses"] == {
        "userAttributes.given_name": "Alice", "NEW_PASSWORD": NEW, "USERNAME": "alice@example.com",
    }
    assert set(answer["answer"]["AuthenticationResult"]) >= {"IdToken", "AccessToken", "RefreshToken"}


def test_first_sign_in_by_username_without_required_attributes(seen):
    with serving() as server:
        client = server.client
        pool_id = client.create_user_pool(PoolName="plain")["UserPool"]["Id"]
        client_id = client.create_user_pool_client(
            UserPoolId=pool_id, ClientName="spa", ExplicitAuthFlows=FLOWS,
        )["UserPoolClient"]["ClientId"]
        client.admin_create_user(
            UserPoolId=pool_id, Username="bob", TemporaryPassword=TEMP, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "name", "Value": "Bob"}],
        )
        seen.clear()

        report = run_script(server, pool_id, client_id, "bob", attributes={})

        user = client.admin_get_user(UserPoolId=pool_id, Username="bob")
        stored = {a["Name"]: a["Value"] for a in user["UserAttributes"]}

    assert user["UserStatus"] == "CONFIRMED"
    assert stored == {"sub": stored["sub"], "name": "Bob"}
    steps = report["steps"]
    assert steps["firstSignIn"]["outcome"] == "newPasswordRequired"
    assert steps["firstSignIn"]["requiredAttributes"] == []
    assert steps["firstSignIn"]["userAttributes"] == {"name": "Bob"}
    for name in ("completeNewPassword", "secondSignIn", "refresh"):
        assert steps[name]["outcome"] == "onSuccess", name
        assert steps[name]["idPayload"]["cognito:username"] == "bob", name
    assert steps["wrongPassword"]["code"] == "NotAuthorizedException"
    assert steps["wrongPassword"]["message"] == "Incorrect username or password."
    assert steps["getUserAttributes"]["attributes"] == stored
    check_tokens(report, pool_id=pool_id, client_id=client_id, username="bob", sub=stored["sub"])
    check_rejections(report, other_pool=False)
    (answer,) = calls(seen, "RespondToAuthChallenge")
    assert answer["status"] == 200
    assert answer["body"]["ChallengeResponses"] == {"NEW_PASSWORD": NEW, "USERNAME": "bob"}
