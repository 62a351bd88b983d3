"""`authflow serve --triggers FILE` as a real process: a hooks module and a triggers file
in tmp_path, a pool whose LambdaConfig names the ARN, and boto3 showing the function
really runs (its answer auto-confirms, its exception refuses, the event it records is
Cognito's); the same with `--workers 2` and AUTHFLOW_TRIGGERS; a bad file stops the
start with one line naming the file and the entry (issue 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_serve_command import boto3_client, free_port, module_command, run, serve

ARN = "arn:aws:lambda:us-east-1:123456789012:function:pre-sign-up"
PASSWORD = "A-good-pass-1"

HOOKS = '''
"""PreSignUp for the serve tests: records each event, refuses mallory, auto-confirms auto-*."""
import json
from pathlib import Path

EVENTS = Path(__file__).with_name("events.jsonl")


def pre_sign_up(event):
    with EVENTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(event) + "\\n")
    if event["userName"] == "mallory":
        raise ValueError("mallory may not sign up")
    event["response"]["autoConfirmUser"] = event["userName"].startswith("auto")
    return event
'''


def write_hooks(tmp_path: Path, *, json_file: bool = False) -> Path:
    """hooks/serve_hooks.py and a triggers file beside the hooks directory (path = ["hooks"])."""
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "serve_hooks.py").write_text(HOOKS, encoding="utf-8")
    if json_file:
        config = tmp_path / "triggers.json"
        config.write_text(json.dumps({"path": ["hooks"], "functions": {ARN: "serve_hooks:pre_sign_up"}}))
    else:
        config = tmp_path / "authflow-triggers.toml"
        config.write_text(f'path = ["hooks"]\n\n[functions]\n"{ARN}" = "serve_hooks:pre_sign_up"\n',
                          encoding="utf-8")
    return config


def events(tmp_path: Path) -> list[dict]:
    lines = (tmp_path / "hooks" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def pool_with_trigger(cognito) -> tuple[str, str]:
    pool = cognito.create_user_pool(PoolName="hooked", LambdaConfig={"PreSignUp": ARN})["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(UserPoolId=pool, ClientName="web")["UserPoolClient"]["ClientId"]
    return pool, client_id


def test_the_function_named_in_the_file_answers_pre_sign_up(tmp_path, monkeypatch):
    """The banner lists ARN -> module:function; SignUp calls the function with Cognito's
    event; its autoConfirmUser confirms; its exception is UserLambdaValidationException
    with its message, and no user is written."""
    config = write_hooks(tmp_path)
    with serve(tmp_path, "--store", "memory", "--triggers", str(config), db=False) as server:
        banner = server.banner()
        assert f"triggers:    {config}: 1 function(s)" in banner
        assert f"{ARN} -> serve_hooks:pre_sign_up" in banner
        cognito = boto3_client(server.url, credentials_file=tmp_path / "authflow.credentials", monkeypatch=monkeypatch)
        pool, client_id = pool_with_trigger(cognito)

        auto = cognito.sign_up(ClientId=client_id, Username="auto-alice", Password=PASSWORD,
                               ValidationData=[{"Name": "invite", "Value": "42"}])
        assert auto["UserConfirmed"] is True
        assert cognito.admin_get_user(UserPoolId=pool, Username="auto-alice")["UserStatus"] == "CONFIRMED"
        plain = cognito.sign_up(ClientId=client_id, Username="bob", Password=PASSWORD)
        assert plain["UserConfirmed"] is False

        with pytest.raises(ClientError) as refused:
            cognito.sign_up(ClientId=client_id, Username="mallory", Password=PASSWORD)
        assert refused.value.response["Error"] == {
            "Code": "UserLambdaValidationException", "Message": "PreSignUp failed with error mallory may not sign up."}
        with pytest.raises(ClientError) as absent:
            cognito.admin_get_user(UserPoolId=pool, Username="mallory")
        assert absent.value.response["Error"]["Code"] == "UserNotFoundException"

        first, second, third = events(tmp_path)
        assert first["triggerSource"] == "PreSignUp_SignUp"
        assert first["userPoolId"] == pool and first["userName"] == "auto-alice"
        assert first["region"] == "us-east-1"
        assert first["callerContext"] == {"awsSdkVersion": "authflow", "clientId": client_id}
        assert first["request"]["validationData"] == {"invite": "42"}
        assert first["response"] == {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}
        assert [second["userName"], third["userName"]] == ["bob", "mallory"]
        assert server.interrupt() == 0


def test_two_workers_each_load_the_file_named_by_the_environment(tmp_path, monkeypatch):
    """AUTHFLOW_TRIGGERS instead of the flag (a JSON file), with --workers 2: every
    sign-up, whichever process serves it, is answered by the function."""
    config = write_hooks(tmp_path, json_file=True)
    monkeypatch.setenv("AUTHFLOW_TRIGGERS", str(config))
    with serve(tmp_path, "--workers", "2") as server:
        assert f"triggers:    {config} (from AUTHFLOW_TRIGGERS): 1 function(s)" in server.banner()
        creds = tmp_path / "authflow.credentials"
        pool, client_id = pool_with_trigger(boto3_client(server.url, credentials_file=creds, monkeypatch=monkeypatch))
        names = [f"auto-{i}" for i in range(6)]
        for name in names:  # a fresh connection each time, so the requests spread over both processes
            fresh = boto3_client(server.url, credentials_file=creds, monkeypatch=monkeypatch)
            assert fresh.sign_up(ClientId=client_id, Username=name, Password=PASSWORD)["UserConfirmed"] is True
        assert [e["userName"] for e in events(tmp_path)] == names
        assert server.interrupt() == 0


@pytest.mark.parametrize("entry, message", [
    (f'"{ARN}" = "serve_hooks:missing"', f"{ARN} = 'serve_hooks:missing': serve_hooks has no attribute 'missing'"),
    (f'"{ARN}" = "no_such_hooks:pre"', f"{ARN} = 'no_such_hooks:pre': no module named 'no_such_hooks'"),
    ('"arn:aws:sqs:us-east-1:123456789012:q" = "serve_hooks:pre_sign_up"', "is not a Lambda function ARN"),
    ('"unterminated = "serve_hooks:pre_sign_up"', "not valid TOML"),
], ids=["missing-attribute", "unknown-module", "not-lambda-arn", "toml-syntax"])
def test_a_bad_triggers_file_stops_the_start(tmp_path, entry, message):
    """Exit non-zero before listening, one line naming the file and the entry, no
    traceback, and no first-start file written."""
    write_hooks(tmp_path)
    config = tmp_path / "authflow-triggers.toml"
    config.write_text(f'path = ["hooks"]\n[functions]\n{entry}\n', encoding="utf-8")
    done = run([*module_command(), "serve", "--port", str(free_port()), "--triggers", str(config)], tmp_path)
    assert done.returncode != 0
    error = done.stderr.splitlines()[-1]
    assert error.startswith(f"authflow: error: triggers: {config}: ")
    assert message in error
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "authflow.credentials").exists() and not (tmp_path / "authflow.kek").exists()
    assert not (tmp_path / "authflow.db").exists()


def test_help_lists_the_triggers_option(tmp_path):
    done = run([*module_command(), "serve", "--help"], tmp_path)
    assert done.returncode == 0
    assert "--triggers FILE" in done.stdout and "AUTHFLOW_TRIGGERS" in done.stdout
