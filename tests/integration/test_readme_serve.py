"""The README's server quick start works as written: `authflow serve`, then the shell
lines and the boto3 example, run against a real server process (on a free port instead
of 9229)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.external import need
from tests.http import free_socket
from tests.unit.test_readme import README, python_blocks


def start_server(tmp_path: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "authflow", "serve", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"authflow serve did not start:\n{proc.communicate()[0]}") from None
            time.sleep(0.1)


@pytest.fixture
def server(tmp_path):
    with free_socket() as sock:
        port = sock.getsockname()[1]
    proc = start_server(tmp_path, port)
    try:
        yield tmp_path, port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith(("export ", "aws "))]


def test_readme_server_examples_run(server, monkeypatch, capsys):
    directory, port = server
    lines = shell_lines()
    exports = [line for line in lines if line.startswith("export ")]
    assert len(exports) == 1, "the README should export the credentials file once"
    for assignment in shlex.split(exports[0])[1:]:
        name, _, value = assignment.partition("=")
        monkeypatch.setenv(name, value.replace("$PWD", str(directory)))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(directory / "no-config"))
    assert Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).is_file(), "serve did not write the credentials file"

    (block,) = python_blocks(server=True)
    exec(compile(block.replace(":9229", f":{port}"), str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "NEW_PASSWORD_REQUIRED" in out
    assert "alice alice@example.com" in out

    need(subprocess.run([sys.executable, "-c", "import awscli"], capture_output=True).returncode == 0,
         "the AWS CLI (pip install awscli) is needed for the README's shell example")
    for line in (line for line in lines if line.startswith("aws ")):
        argv = [sys.executable, "-m", "awscli", *shlex.split(line.replace(":9229", f":{port}"))[1:]]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        assert done.stdout.strip().startswith("{"), done.stdout
