"""Starting servers as subprocesses, for benchmarks and the conformance table: a free
loopback port, a process whose output goes to a log file and that is stopped on exit,
and waiting until it answers."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                pass
        except urllib.error.HTTPError:
            pass  # it answers; a 404 is fine
        except OSError:
            time.sleep(0.05)
            continue
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args} did not answer at {url} within 30 s:\n{log.read_text()[-2000:]}")


@contextmanager
def running(cmd: list[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None):
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
