"""The AWS CLI (v1, from this Python's packages) against the served app: signed admin
calls succeed and print JSON with the members Cognito returns; an error exits non-zero
with the exception name and Cognito's message on stderr."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.external import need
from tests.http import KEY_ID, SECRET, serving

TEMP = "Temp1234!"


@pytest.fixture
def aws(tmp_path):
    """Run `aws --endpoint-url URL --output json cognito-idp ...` with the test key."""
    need(importlib.util.find_spec("awscli") is not None, "the AWS CLI (pip install awscli) is not installed")
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("", encoding="utf-8")
    credentials.write_text("", encoding="utf-8")
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
    }

    def run(url: str, *args: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "awscli", "--endpoint-url", url, "--output", "json", "cognito-idp", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)

    return run


def ok(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_aws_cli_admin_calls_print_cognitos_json(aws):
    """create-user-pool, admin-create-user (temporary password, SUPPRESS), admin-get-user
    and list-users print parseable JSON with the expected members, equal to the engine's."""
    with serving() as server:
        created = ok(aws(server.url, "create-user-pool", "--pool-name", "p"))
        pool = created["UserPool"]
        assert pool["Name"] == "p"
        assert pool["Id"].startswith("us-east-1_")
        assert pool["Arn"].endswith(f":userpool/{pool['Id']}")
        local_pool = server.client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
        assert local_pool["Name"] == "p"
        # CLI v1 prints dates as they came over the wire: epoch seconds (a JSON number).
        assert pool["CreationDate"] == local_pool["CreationDate"].timestamp()

        user = ok(aws(server.url, "admin-create-user", "--user-pool-id", pool["Id"], "--username", "alice",
                      "--temporary-password", TEMP, "--message-action", "SUPPRESS",
                      "--user-attributes", "Name=email,Value=alice@example.com"))["User"]
        assert user["Username"] == "alice"
        assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
        assert user["Enabled"] is True
        assert {a["Name"]: a["Value"] for a in user["Attributes"]}["email"] == "alice@example.com"
        assert server.outbox.messages == []  # SUPPRESS

        got = ok(aws(server.url, "admin-get-user", "--user-pool-id", pool["Id"], "--username", "alice"))
        local = server.client.admin_get_user(UserPoolId=pool["Id"], Username="alice")
        assert got["Username"] == "alice" and got["UserStatus"] == "FORCE_CHANGE_PASSWORD"
        assert got["UserAttributes"] == local["UserAttributes"]
        assert got["UserCreateDate"] == local["UserCreateDate"].timestamp()

        listed = ok(aws(server.url, "list-users", "--user-pool-id", pool["Id"]))
        assert [u["Username"] for u in listed["Users"]] == ["alice"]
        assert listed["Users"][0]["Attributes"] == local["UserAttributes"]


def test_aws_cli_error_exits_non_zero_with_cognitos_message(aws):
    """admin-get-user for a missing user: non-zero exit, UserNotFoundException and
    'User does not exist.' on stderr, nothing on stdout."""
    with serving() as server:
        pool = server.client.create_user_pool(PoolName="p")["UserPool"]["Id"]
        done = aws(server.url, "admin-get-user", "--user-pool-id", pool, "--username", "nobody")
        assert done.returncode != 0
        assert "UserNotFoundException" in done.stderr
        assert "User does not exist." in done.stderr
        assert done.stdout.strip() == ""


def test_aws_cli_with_a_wrong_secret_is_refused(aws):
    """The CLI's signature is what the server checks: a server that accepts another
    secret for the same key refuses the CLI with InvalidSignatureException."""
    with serving(secrets={KEY_ID: "some-other-secret-0000000000000000000000"}) as server:
        done = aws(server.url, "list-user-pools", "--max-results", "10")
        assert done.returncode != 0
        assert "InvalidSignatureException" in done.stderr
