"""`authflow serve` as a real process: what it prints, the credentials file it writes
and reads, the options that change how it authenticates, the options it refuses, and
a clean stop on Ctrl-C. Every server runs on a free loopback port in tmp_path and is
killed in a finally."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

import authflow
from tests.external import need
from tests.http import free_socket

TEMP = "Temp-pass-1"
NEW = "A-better-pass-2"
AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
           "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")


def console_script() -> str | None:
    """The `authflow` script installed beside this interpreter, if any."""
    return shutil.which("authflow", path=str(Path(sys.executable).parent))


def module_command() -> list[str]:
    return [sys.executable, "-m", "authflow"]


def free_port() -> int:
    with free_socket() as sock:
        return sock.getsockname()[1]


@dataclass
class Running:
    proc: subprocess.Popen
    port: int
    out: Path
    err: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def banner(self) -> str:
        return self.out.read_text(encoding="utf-8")

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT, and the exit code (the process must be gone within 10 s)."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=10)


@contextmanager
def serve(tmp_path: Path, *options: str, command: list[str] | None = None, db: bool = True):
    """Start the server, wait for /health, yield it; kill it whatever happens."""
    port = free_port()
    argv = [*(command or module_command()), "serve", "--port", str(port)]
    if db:
        argv += ["--db", str(tmp_path / "authflow.db")]
    argv += list(options)
    n = len(list(tmp_path.glob("stdout-*")))
    out, err = tmp_path / f"stdout-{n}.txt", tmp_path / f"stderr-{n}.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(argv, cwd=tmp_path, stdout=stdout, stderr=stderr, env=clean_env(), text=True)
    running = Running(proc, port, out, err)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{running.url}/health", timeout=1) as response:
                    assert response.status == 200
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"authflow serve did not start:\n{out.read_text()}\n{err.read_text()}") from None
                time.sleep(0.05)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in AWS_ENV}
    env.update(extra)
    return env


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=30, env=clean_env())


def boto3_client(url: str, *, credentials_file: Path | None = None, monkeypatch=None, signed: bool = True,
                 key_id: str | None = None, secret: str | None = None):
    """A boto3 client configured as the banner says: by AWS_SHARED_CREDENTIALS_FILE, or by keys."""
    if credentials_file is not None:
        for name in AWS_ENV:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(credentials_file.parent / "no-such-config"))
        session = boto3.session.Session(region_name="us-east-1")
    else:
        session = boto3.session.Session(aws_access_key_id=key_id or "unused",
                                        aws_secret_access_key=secret or "unused", region_name="us-east-1")
    config = Config(retries={"total_max_attempts": 1}, signature_version=None if signed else UNSIGNED)
    return session.client("cognito-idp", endpoint_url=url, config=config)


def read_credentials(path: Path) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(path.read_text(encoding="utf-8"))
    return {section: dict(parser[section]) for section in parser.sections()}


def seed_flow(cognito, url: str) -> None:
    """CreateUserPool, AdminCreateUser and the first sign-in, with tokens checked
    against the JWKS the server publishes (issuer style local, the default)."""
    pool = cognito.create_user_pool(PoolName="demo", AliasAttributes=["email"])["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    user = cognito.admin_create_user(
        UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"}],
    )["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    challenge = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": "alice@example.com", "PASSWORD": TEMP})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    tokens = cognito.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "alice@example.com", "NEW_PASSWORD": NEW},
    )["AuthenticationResult"]
    with urllib.request.urlopen(f"{url}/{pool}/.well-known/jwks.json") as response:
        jwks = json.load(response)
    claims = authflow.tokens.verify(tokens["IdToken"], jwks, issuer=f"{url}/{pool}", client_id=client_id,
                                    token_use="id", now=datetime.now(timezone.utc), leeway=60)
    assert claims["cognito:username"] == "alice" and claims["email"] == "alice@example.com"
    assert cognito.admin_get_user(UserPoolId=pool, Username="alice")["UserStatus"] == "CONFIRMED"


# -- tests ------------------------------------------------------------------------------------


def test_first_start_writes_credentials_prints_banner_serves_boto3_and_stops_on_ctrl_c(tmp_path, monkeypatch):
    """First start: the banner names the endpoint, the SQLite store, the key-encryption
    key and the credentials file it created (both 0600; the key shown once) and how to
    connect; boto3 using that file runs the seed flow; SIGINT exits 0."""
    with serve(tmp_path) as server:
        banner = server.banner()
        creds = tmp_path / "authflow.credentials"
        assert creds.is_file()
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        profiles = read_credentials(creds)
        assert list(profiles) == ["default"]
        key_id = profiles["default"]["aws_access_key_id"]
        secret = profiles["default"]["aws_secret_access_key"]
        assert re.fullmatch(r"AKIA[A-Z0-9]{16}", key_id)
        assert len(secret) == 40

        assert f"{server.url}/" in banner.splitlines()[0]
        assert f"SQLite {tmp_path / 'authflow.db'}" in banner
        kek = tmp_path / "authflow.kek"
        assert f"created {kek}" in banner
        assert stat.S_IMODE(kek.stat().st_mode) == 0o600
        assert len(bytes.fromhex(kek.read_text().strip())) == 32
        assert kek.read_text().strip() not in banner  # the KEK is never printed
        assert stat.S_IMODE((tmp_path / "authflow.db").stat().st_mode) == 0o600
        assert f"created {creds}" in banner
        assert key_id in banner and secret in banner
        assert f"AWS_SHARED_CREDENTIALS_FILE={creds}" in banner
        assert "AWS_DEFAULT_REGION=us-east-1" in banner
        assert f'endpoint_url="{server.url}"' in banner and "boto3" in banner
        assert f"aws --endpoint-url {server.url} cognito-idp" in banner
        assert f"{server.url}/<poolId>/.well-known/jwks.json" in banner
        assert "Ctrl-C" in banner

        cognito = boto3_client(server.url, credentials_file=creds, monkeypatch=monkeypatch)
        seed_flow(cognito, server.url)
        # Unsigned, the same admin call is refused.
        with pytest.raises(ClientError) as refused:
            boto3_client(server.url, signed=False).list_user_pools(MaxResults=10)
        assert refused.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"

        assert server.interrupt() == 0
    assert secret not in server.err.read_text()  # the secret is in the banner only


def test_second_start_reuses_the_files_and_keeps_the_data(tmp_path, monkeypatch):
    """A restart reads the existing credentials and KEK files (unchanged, secret not
    printed again); the same key still signs; the pools, users and signing keys of the
    first run are all there: a token issued before the restart still verifies."""
    with serve(tmp_path) as first:
        creds = tmp_path / "authflow.credentials"
        original = creds.read_bytes()
        kek = (tmp_path / "authflow.kek").read_bytes()
        cognito = boto3_client(first.url, credentials_file=creds, monkeypatch=monkeypatch)
        pool = cognito.create_user_pool(PoolName="kept")["UserPool"]["Id"]
        app = cognito.create_user_pool_client(
            UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
        cognito.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS")
        challenge = cognito.admin_initiate_auth(
            UserPoolId=pool, ClientId=app["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": TEMP})
        tokens = cognito.admin_respond_to_auth_challenge(
            UserPoolId=pool, ClientId=app["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": "A-better-pass-2"})["AuthenticationResult"]
        assert first.interrupt() == 0

    with serve(tmp_path) as second:
        banner = second.banner()
        assert creds.read_bytes() == original
        secret = read_credentials(creds)["default"]["aws_secret_access_key"]
        assert secret not in banner
        assert "created" not in banner
        assert f"credentials: {creds}" in banner
        assert f"AWS_SHARED_CREDENTIALS_FILE={creds}" in banner
        assert (tmp_path / "authflow.kek").read_bytes() == kek
        assert "created" not in banner
        cognito = boto3_client(second.url, credentials_file=creds, monkeypatch=monkeypatch)
        assert [p["Id"] for p in cognito.list_user_pools(MaxResults=10)["UserPools"]] == [pool]
        assert cognito.admin_get_user(UserPoolId=pool, Username="alice")["UserStatus"] == "CONFIRMED"
        jwks = json.loads(urllib.request.urlopen(f"{second.url}/{pool}/.well-known/jwks.json").read())
        claims = authflow.tokens.verify(tokens["IdToken"], jwks, issuer=f"{first.url}/{pool}",
                                        client_id=app["ClientId"], token_use="id",
                                        now=datetime.now(timezone.utc))
        assert claims["cognito:username"] == "alice"
        again = cognito.admin_initiate_auth(
            UserPoolId=pool, ClientId=app["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": "A-better-pass-2"})
        assert "AuthenticationResult" in again
        assert second.interrupt() == 0


def test_credentials_option_accepts_its_keys_and_no_other(tmp_path):
    """--credentials FILE: every profile's key in the file signs; a key not in it is
    UnrecognizedClientException; no credentials file of serve's own is written."""
    handwritten = tmp_path / "keys.ini"
    handwritten.write_text(
        "[default]\naws_access_key_id = AKIAHANDWRITTEN00001\naws_secret_access_key = first-secret-0000000000000\n"
        "[ci]\naws_access_key_id = AKIAHANDWRITTEN00002\naws_secret_access_key = second-secret-000000000000\n"
        "region = eu-west-1\n",
        encoding="utf-8",
    )
    with serve(tmp_path, "--credentials", str(handwritten)) as server:
        banner = server.banner()
        assert str(handwritten) in banner
        assert "2 access key(s)" in banner
        assert "first-secret" not in banner and "second-secret" not in banner
        assert f"AWS_SHARED_CREDENTIALS_FILE={handwritten}" in banner
        assert not (tmp_path / "authflow.credentials").exists()

        first = boto3_client(server.url, key_id="AKIAHANDWRITTEN00001", secret="first-secret-0000000000000")
        pool = first.create_user_pool(PoolName="p")["UserPool"]["Id"]
        second = boto3_client(server.url, key_id="AKIAHANDWRITTEN00002", secret="second-secret-000000000000")
        assert second.describe_user_pool(UserPoolId=pool)["UserPool"]["Id"] == pool

        stranger = boto3_client(server.url, key_id="AKIANOTINTHEFILE0003", secret="first-secret-0000000000000")
        with pytest.raises(ClientError) as refused:
            stranger.list_users(UserPoolId=pool)
        assert refused.value.response["Error"] == {
            "Code": "UnrecognizedClientException", "Message": "The security token included in the request is invalid."}
        wrong = boto3_client(server.url, key_id="AKIAHANDWRITTEN00001", secret="second-secret-000000000000")
        with pytest.raises(ClientError) as refused:
            wrong.list_users(UserPoolId=pool)
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert server.interrupt() == 0


def test_a_credentials_file_without_keys_is_refused_at_start(tmp_path):
    """--credentials naming a file with no complete profile: exit non-zero, saying why."""
    empty = tmp_path / "empty.ini"
    empty.write_text("[default]\nregion = us-east-1\n", encoding="utf-8")
    done = run([*module_command(), "serve", "--port", str(free_port()), "--credentials", str(empty)], tmp_path)
    assert done.returncode != 0
    assert "aws_access_key_id" in done.stderr and str(empty) in done.stderr


def test_insecure_no_auth_accepts_unsigned_admin_calls(tmp_path):
    """--insecure-no-auth: unsigned admin calls are served, the banner says signing is
    off, and no credentials file is written."""
    with serve(tmp_path, "--insecure-no-auth") as server:
        banner = server.banner()
        assert "signing:     OFF" in banner
        assert "AWS_SHARED_CREDENTIALS_FILE" not in banner
        assert not (tmp_path / "authflow.credentials").exists()
        unsigned = boto3_client(server.url, signed=False)
        pool = unsigned.create_user_pool(PoolName="open")["UserPool"]["Id"]
        unsigned.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS")
        assert unsigned.admin_get_user(UserPoolId=pool, Username="alice")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
        assert server.interrupt() == 0


@pytest.mark.parametrize("options, message", [
    (["--store", "postgresql://admin:hunter2@db.example/authflow"], "needs a key-encryption key: set AUTHFLOW_KEK"),
    (["--store", "mysql://admin:hunter2@db.example/authflow"], "--store must be memory, sqlite:PATH or postgresql://"),
    (["--store", "memory", "--workers", "2"], "--workers above 1 needs a store shared between processes"),
    (["--workers", "0"], "--workers must be at least 1"),
], ids=["postgres-without-kek", "unknown-store", "memory-workers-2", "workers-0"])
def test_unavailable_options_exit_non_zero_with_a_clear_message(tmp_path, options, message):
    """Options this version cannot honour stop the command before it listens, with a
    message (and never echo a password from a store URL)."""
    port = free_port()
    done = run([*module_command(), "serve", "--port", str(port), *options], tmp_path)
    assert done.returncode != 0
    assert message in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert not (tmp_path / "authflow.credentials").exists()


def test_help_is_the_same_from_the_module_and_the_console_script(tmp_path):
    """`python -m authflow serve --help` lists the options; the `authflow` script prints
    the same and refuses the same bad option the same way."""
    by_module = run([*module_command(), "serve", "--help"], tmp_path)
    assert by_module.returncode == 0
    for option in ("--port", "--host", "--db", "--store", "--credentials", "--insecure-no-auth",
                   "--issuer-style", "--public-url", "--region", "--workers"):
        assert option in by_module.stdout

    script = console_script()
    need(script is not None, "the authflow console script is not installed beside this Python")
    by_script = run([script, "serve", "--help"], tmp_path)
    assert by_script.returncode == 0
    assert by_script.stdout == by_module.stdout

    bad_module = run([*module_command(), "serve", "--workers", "0"], tmp_path)
    bad_script = run([script, "serve", "--workers", "0"], tmp_path)
    assert bad_script.returncode == bad_module.returncode != 0
    assert bad_script.stderr == bad_module.stderr


def test_console_script_serves(tmp_path, monkeypatch):
    """The `authflow` script starts the same server: banner, credentials file, signed
    boto3 calls, clean Ctrl-C."""
    script = console_script()
    need(script is not None, "the authflow console script is not installed beside this Python")
    with serve(tmp_path, command=[script]) as server:
        creds = tmp_path / "authflow.credentials"
        assert f"created {creds}" in server.banner()
        cognito = boto3_client(server.url, credentials_file=creds, monkeypatch=monkeypatch)
        pool = cognito.create_user_pool(PoolName="p")["UserPool"]["Id"]
        assert [p["Id"] for p in cognito.list_user_pools(MaxResults=10)["UserPools"]] == [pool]
        assert server.interrupt() == 0


def test_two_workers_share_one_database(tmp_path, monkeypatch):
    """--workers 2: two server processes on one SQLite file; every write made through
    either is seen by the next request, whichever process answers it."""
    with serve(tmp_path, "--workers", "2") as server:
        assert "workers:     2 processes" in server.banner()
        creds = tmp_path / "authflow.credentials"
        cognito = boto3_client(server.url, credentials_file=creds, monkeypatch=monkeypatch)
        pool = cognito.create_user_pool(PoolName="shared")["UserPool"]["Id"]
        for i in range(12):
            # a fresh connection each time, so the requests spread over both processes
            fresh = boto3_client(server.url, credentials_file=creds, monkeypatch=monkeypatch)
            fresh.admin_create_user(UserPoolId=pool, Username=f"user{i}", TemporaryPassword=TEMP,
                                    MessageAction="SUPPRESS")
            assert len(fresh.list_users(UserPoolId=pool)["Users"]) == i + 1
        with pytest.raises(ClientError) as taken:
            cognito.admin_create_user(UserPoolId=pool, Username="user3", MessageAction="SUPPRESS")
        assert taken.value.response["Error"]["Code"] == "UsernameExistsException"
        assert server.interrupt() == 0


def test_memory_store_warns_that_nothing_persists(tmp_path, monkeypatch):
    """--store memory: the banner warns; no database or KEK file is written."""
    with serve(tmp_path, "--store", "memory", db=False) as server:
        banner = server.banner()
        assert "in memory" in banner and "nothing persists" in banner
        assert not (tmp_path / "authflow.db").exists() and not (tmp_path / "authflow.kek").exists()
        cognito = boto3_client(server.url, credentials_file=tmp_path / "authflow.credentials", monkeypatch=monkeypatch)
        assert cognito.create_user_pool(PoolName="p")["UserPool"]["Id"]
        assert server.interrupt() == 0
