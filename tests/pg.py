"""A throwaway PostgreSQL cluster on a Unix socket, for the tests.

`.ci/run` starts one before pytest (`python -m tests.pg start DIR`, which prints the DSN)
and exports it as `AUTHFLOW_TEST_PG_DSN`; it stops it afterwards (`python -m tests.pg stop
DIR`). Locally, the `pg_dsn` fixture in tests/conftest.py uses that variable when set,
otherwise starts a cluster of its own for the session with `start()`, and skips the
PostgreSQL tests (fails them in CI) when no server can be started.

PostgreSQL refuses to run as root: when we are root, the cluster belongs to an
unprivileged system user (`nobody`) and its directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

DB_NAME = "authflow_test"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def available() -> bool:
    return all(_binary(n) for n in ("initdb", "pg_ctl", "postgres"))


def _as_owner(argv: list[str], owner: str | None) -> list[str]:
    if owner is None:
        return argv
    return ["runuser", "-u", owner, "--", *argv]


def _owner() -> str | None:
    return "nobody" if os.geteuid() == 0 else None


def start(directory: Path) -> str:
    """Create and start a cluster under `directory`; return its DSN."""
    directory = directory.resolve()
    data, sockets = directory / "data", directory / "sockets"
    owner = _owner()
    data.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        user = pwd.getpwnam(owner)
        for path in (directory, data, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        # every parent must be traversable by the owner
        for parent in directory.parents:
            if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
                os.chmod(parent, os.stat(parent).st_mode | 0o001)
    run = {"check": True, "capture_output": True, "text": True}
    if not (data / "PG_VERSION").exists():
        subprocess.run(_as_owner([_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                                  "--no-sync", "-E", "UTF8", "--locale", "C"], owner), **run)
    options = f"-k {sockets} -c listen_addresses='' -c fsync=on -c max_connections=200"
    subprocess.run(_as_owner([_binary("pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"),
                              "-o", options, "-w", "start"], owner), **run)
    dsn = f"host={sockets} user=postgres dbname=postgres"
    subprocess.run(_as_owner(["psql", dsn, "-q", "-c", f"CREATE DATABASE {DB_NAME}"], owner),
                   check=False, capture_output=True)
    return f"host={sockets} user=postgres dbname={DB_NAME}"


def stop(directory: Path, mode: str = "fast") -> None:
    data = directory.resolve() / "data"
    subprocess.run(_as_owner([_binary("pg_ctl"), "-D", str(data), "-m", mode, "-w", "stop"], _owner()),
                   check=False, capture_output=True)


def restart(directory: Path) -> None:
    """Start a cluster again after `stop` (e.g. after an immediate stop: a crash)."""
    start(directory)


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "start":
        print(start(where))
    elif command == "stop":
        stop(where)
    else:
        raise SystemExit(f"usage: python -m tests.pg start|stop DIR (got {command!r})")
