"""amazon-cognito-identity-js driving CUSTOM_AUTH against `authflow serve`: with a password
(the library starts with CHALLENGE_NAME=SRP_A and proves the password, then the questions)
and without one (initiateAuth), and a wrong answer. The pool's three challenge functions
are Python callables in the serving engine (tests/unit/test_custom_auth.py's Quiz)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import authflow
from authflow.adapters import CallableTriggers, ManualClock, MemoryOutbox, SeededEntropy
from tests.conftest import TEST_CONFIG
from tests.http import REGION, now, serving
from tests.integration.test_js_clients import JS, NODE, calls, js_clients, seen  # noqa: F401
from tests.unit.test_custom_auth import QUESTIONS, Quiz

SCRIPT = JS / "custom_flow.js"
PASSWORD = "A-good-pass-1"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def test_custom_auth_with_and_without_srp(seen):  # noqa: F811
    quiz = Quiz()
    seen_rounds: list[list[dict]] = []

    def define(event):
        # As Cognito's documented example: after SRP_A ask for the password proof, then questions.
        rounds = event["request"]["session"]
        seen_rounds.append([dict(r) for r in rounds])
        if rounds and rounds[-1]["challengeName"] == "SRP_A":
            event["response"]["challengeName"] = "PASSWORD_VERIFIER"
            return event
        questions = [r for r in rounds if r["challengeName"] == "CUSTOM_CHALLENGE"]
        event["request"]["session"] = questions
        quiz.define(event)
        event["request"]["session"] = rounds
        return event

    def create(event):
        rounds = event["request"]["session"]
        event["request"]["session"] = [r for r in rounds if r["challengeName"] == "CUSTOM_CHALLENGE"]
        quiz.create(event)
        event["request"]["session"] = rounds
        return event

    functions = {"DefineAuthChallenge": define, "CreateAuthChallenge": create,
                 "VerifyAuthChallengeResponse": quiz.verify}
    client = authflow.Client(
        clock=ManualClock(now()), entropy=SeededEntropy(1), messenger=MemoryOutbox(), region=REGION,
        config=TEST_CONFIG, triggers=CallableTriggers({ARN.format(k): f for k, f in functions.items()}),
    )
    with serving(client) as server:
        pool_id = client.create_user_pool(
            PoolName="quiz", LambdaConfig={k: ARN.format(k) for k in functions},
        )["UserPool"]["Id"]
        client_id = client.create_user_pool_client(
            UserPoolId=pool_id, ClientName="spa", ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        client.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=pool_id, Username="alice", Password=PASSWORD, Permanent=True)
        seen.clear()
        document = {"endpoint": f"{server.url}/", "userPoolId": pool_id, "clientId": client_id,
                    "username": "alice", "password": PASSWORD, "answers": [a for _, a in QUESTIONS],
                    "wrongAnswer": "no idea"}
        done = subprocess.run([NODE, str(SCRIPT)], cwd=JS, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "AUTHFLOW_JS_INPUT": json.dumps(document)})
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"no JSON from the script (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    assert done.returncode == 0 and report["ok"], json.dumps(report, indent=2)

    steps = report["steps"]
    asked = [{"question": q, "USERNAME": "alice"} for q, _ in QUESTIONS]
    assert steps["withPassword"]["outcome"] == "onSuccess" and steps["withPassword"]["questions"] == asked
    assert steps["withoutPassword"]["outcome"] == "onSuccess" and steps["withoutPassword"]["questions"] == asked
    assert steps["wrongAnswer"] == {"outcome": "onFailure", "questions": asked[:1],
                                    "code": "NotAuthorizedException", "message": "Incorrect username or password."}

    initiates = calls(seen, "InitiateAuth")
    assert [r["body"]["AuthFlow"] for r in initiates] == ["CUSTOM_AUTH"] * 3
    first = initiates[0]
    assert first["body"]["AuthParameters"]["CHALLENGE_NAME"] == "SRP_A"
    assert first["answer"]["ChallengeName"] == "PASSWORD_VERIFIER"
    answers = calls(seen, "RespondToAuthChallenge")
    assert answers[0]["body"]["ChallengeName"] == "PASSWORD_VERIFIER"
    assert answers[0]["answer"]["ChallengeName"] == "CUSTOM_CHALLENGE"
    # Define saw SRP_A, then the password proof, before the first question.
    assert seen_rounds[0] == [{"challengeName": "SRP_A", "challengeResult": True, "challengeMetadata": None}]
    assert seen_rounds[1] == seen_rounds[0] + [
        {"challengeName": "PASSWORD_VERIFIER", "challengeResult": True, "challengeMetadata": None}
    ]
