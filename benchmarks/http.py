"""`authflow serve` over HTTP, side by side with moto_server (a benchmark, never a test).

Starts the real servers as subprocesses, each on its own free loopback port, exactly as
a user would: `python -m authflow serve --db <tmpdir>/authflow.db` (signed admin calls,
with the access key it writes to `<tmpdir>/authflow.credentials`) and, when `moto[server]`
is installed, `python -m moto.server -p PORT` (dummy credentials; moto does not check
signatures). Then, through boto3 (one client per server, retries off, keep-alive, one
request at a time) it times:

* AdminGetUser of one CONFIRMED user, `--calls` times;
* the full admin sign-in of a fresh user, `--flows` times, each a distinct user:
  AdminCreateUser (TemporaryPassword, SUPPRESS) -> AdminInitiateAuth
  ADMIN_USER_PASSWORD_AUTH -> NEW_PASSWORD_REQUIRED -> AdminRespondToAuthChallenge -> tokens;
* AdminInitiateAuth ADMIN_USER_PASSWORD_AUTH of an already-CONFIRMED user -> tokens,
  `--flows` times.

Each operation gets warm-up calls first (not timed), then its calls in `--rounds` rounds
that alternate between the servers (authflow, moto, moto, authflow, ...), so that load from
elsewhere on a shared machine falls on both alike and the ratio within one run stays fair.
For each it prints operations per second (over the wall time of the timed loops, boto3's
own cost included), p50 and p99 latency in ms, the server's CPU time per call (user +
system, all its threads and child processes, from /proc: steadier than wall time on a
loaded machine), and
the ratio authflow/moto of req/s (above 1: authflow is faster).

Mind the ratio for sign-ins: `authflow serve` uses the production Argon2id cost
(m=19456 KiB, t=2, p=1), deliberately expensive, while moto stores passwords in plain
text and compares strings. The full flow runs Argon2id four times (a hash in
AdminCreateUser, a check in AdminInitiateAuth, then in AdminRespondToAuthChallenge a check
that the new password differs from the temporary one and a hash); a sign-in runs it once.
The sign-in rows compare a real password store with none. Both servers run with their default
logging (one access-log line per request), written to files in the temporary directory.
The client keeps connections alive, and authflow (uvicorn) reuses one; moto_server
(Werkzeug) closes the connection after each response, so every moto call opens a new one.
`authflow serve` keeps its data in the SQLite file `--db` names (its default store).

Usage: `python benchmarks/http.py [--calls 5000] [--flows 500] [--rounds 10]
[--only authflow|moto] [--json FILE]`. Needs `pip install -e '.[server]' boto3 'moto[server]'` (moto optional).
"""

from __future__ import annotations

import os
import sys

# This file is named http.py: run as a script, its directory comes first on sys.path and
# would shadow the standard library's `http` package (which urllib and botocore import).
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse
import configparser
import importlib.util
import json
import math
import platform
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import boto3
from botocore.config import Config

from authflow.testing.processes import free_port, running, wait_until_up

REGION = "us-east-1"
TEMP_PASSWORD = "Temp-pass-1"
PASSWORD = "Bench-pass-1"
SERVERS = ("authflow", "moto")


@dataclass
class Target:
    name: str
    url: str
    key_id: str
    secret: str
    pid: int


@dataclass
class Result:
    operation: str
    server: str
    count: int
    per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # the server's CPU time (user + system, its child processes too) per call
    steps_p50_ms: dict[str, float] = field(default_factory=dict)


# -- the servers -------------------------------------------------------------------


def start_authflow(stack: ExitStack, tmp: Path) -> Target:
    port = free_port()
    db = tmp / "authflow.db"
    creds = tmp / "authflow.credentials"
    log = tmp / "authflow.log"
    proc = stack.enter_context(running(
        [sys.executable, "-m", "authflow", "serve", "--port", str(port), "--db", str(db)], log))
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, f"{url}/health", log, creds.exists)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(creds, encoding="utf-8")
    return Target("authflow", url, parser["default"]["aws_access_key_id"],
                  parser["default"]["aws_secret_access_key"], proc.pid)


def start_moto(stack: ExitStack, tmp: Path) -> Target:
    port = free_port()
    log = tmp / "moto.log"
    proc = stack.enter_context(running([sys.executable, "-m", "moto.server", "-p", str(port)], log))
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, f"{url}/moto-api/", log, lambda: True)
    return Target("moto", url, "testing", "testing", proc.pid)


def moto_missing() -> str | None:
    for module in ("moto", "flask", "flask_cors"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not importable"
    return None


# -- the measurements --------------------------------------------------------------


def cognito(target: Target):
    config = Config(retries={"max_attempts": 1, "mode": "standard"})  # one call, one request
    return boto3.session.Session(
        aws_access_key_id=target.key_id, aws_secret_access_key=target.secret, region_name=REGION,
    ).client("cognito-idp", endpoint_url=target.url, config=config)


def percentile_ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def cpu_seconds(pid: int) -> float:
    """The CPU time so far of a process and every process below it (authflow serve hashes
    passwords in child processes), all threads, user + system (Linux /proc)."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
    parents = {child: int(fields[1]) for child, fields in stats.items()}

    def below(child: int) -> bool:
        while child not in (0, 1) and child in parents:
            if child == pid:
                return True
            child = parents[child]
        return False

    ticks = sum(int(fields[11]) + int(fields[12]) for child, fields in stats.items() if below(child))
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Series:
    """One operation on one server, gathered over interleaved rounds."""

    samples: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    elapsed: float = 0.0
    cpu: float = 0.0


def run_round(series: Series, fn: Callable[[int], dict[str, float] | None], first: int, count: int, pid: int) -> None:
    cpu_start = cpu_seconds(pid)
    loop_start = time.perf_counter()
    for i in range(first, first + count):
        start = time.perf_counter()
        parts = fn(i)
        series.samples.append(time.perf_counter() - start)
        for name, seconds in (parts or {}).items():
            series.steps.setdefault(name, []).append(seconds)
    series.elapsed += time.perf_counter() - loop_start
    series.cpu += cpu_seconds(pid) - cpu_start


def timed(operation: str, benches: list[Bench], count: int, warmup: int, rounds: int) -> list[Result]:
    """Call each server's fn `warmup` times untimed, then `count` times in `rounds` rounds
    that alternate between the servers (ABBA...), so that load from elsewhere on the
    machine falls on both alike; fn may return its steps' seconds."""
    for bench in benches:
        for i in range(warmup):
            bench.operations[operation](-1 - i)
    series = {bench.target.name: Series() for bench in benches}
    rounds = max(1, min(rounds, count))
    done = 0
    for r in range(rounds):
        size = count * (r + 1) // rounds - done
        for bench in benches if r % 2 == 0 else reversed(benches):
            run_round(series[bench.target.name], bench.operations[operation], done, size, bench.target.pid)
        done += size
    return [
        Result(operation, name, count, count / s.elapsed, percentile_ms(s.samples, 0.50),
               percentile_ms(s.samples, 0.99), s.cpu / count * 1000,
               {step: round(percentile_ms(v, 0.50), 3) for step, v in s.steps.items()})
        for name, s in series.items()
    ]


@dataclass
class Bench:
    target: Target
    operations: dict[str, Callable[[int], dict[str, float] | None]]


GET_USER = "AdminGetUser"
FLOW = "admin sign-in flow, new user (3 calls)"
SIGN_IN = "ADMIN_USER_PASSWORD_AUTH, CONFIRMED user"


def prepare(target: Target) -> Bench:
    idp = cognito(target)
    pool = idp.create_user_pool(PoolName=f"bench-{target.name}")["UserPool"]["Id"]
    app = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="bench",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]

    def full_flow(i: int) -> dict[str, float]:
        name = f"flow{i}" if i >= 0 else f"warm{-i}"
        t0 = time.perf_counter()
        idp.admin_create_user(UserPoolId=pool, Username=name, TemporaryPassword=TEMP_PASSWORD,
                              MessageAction="SUPPRESS")
        t1 = time.perf_counter()
        started = idp.admin_initiate_auth(
            UserPoolId=pool, ClientId=app, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": TEMP_PASSWORD})
        t2 = time.perf_counter()
        if started.get("ChallengeName") != "NEW_PASSWORD_REQUIRED":
            raise RuntimeError(f"{target.name}: expected NEW_PASSWORD_REQUIRED, got {started}")
        done = idp.admin_respond_to_auth_challenge(
            UserPoolId=pool, ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=started["Session"],
            ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": PASSWORD})
        t3 = time.perf_counter()
        tokens = done.get("AuthenticationResult", {})
        if not {"AccessToken", "IdToken", "RefreshToken"} <= tokens.keys():
            raise RuntimeError(f"{target.name}: no tokens after the challenge: {done}")
        return {"AdminCreateUser": t1 - t0, "AdminInitiateAuth": t2 - t1,
                "AdminRespondToAuthChallenge": t3 - t2}

    # The user that AdminGetUser reads and that signs in again and again: CONFIRMED.
    full_flow(-1000)
    confirmed = "warm1000"

    def get_user(i: int) -> None:
        answer = idp.admin_get_user(UserPoolId=pool, Username=confirmed)
        if answer.get("UserStatus") != "CONFIRMED":
            raise RuntimeError(f"{target.name}: AdminGetUser answered {answer}")

    def sign_in(i: int) -> None:
        answer = idp.admin_initiate_auth(
            UserPoolId=pool, ClientId=app, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": confirmed, "PASSWORD": PASSWORD})
        if "AccessToken" not in answer.get("AuthenticationResult", {}):
            raise RuntimeError(f"{target.name}: sign-in answered {answer}")

    return Bench(target, {GET_USER: get_user, FLOW: full_flow, SIGN_IN: sign_in})


def measure(benches: list[Bench], calls: int, flows: int, rounds: int) -> list[Result]:
    warm = max(5, min(50, calls // 20))
    warm_flows = max(3, min(10, flows // 20))
    return [
        *timed(GET_USER, benches, calls, warm, rounds),
        *timed(FLOW, benches, flows, warm_flows, rounds),
        *timed(SIGN_IN, benches, flows, warm_flows, rounds),
    ]


# -- the report --------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    by_key = {(r.operation, r.server): r for r in results}
    print("| operation | server | req/s | p50 ms | p99 ms | server CPU ms/call | authflow/moto (req/s) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        ratio = ""
        other = by_key.get((r.operation, "moto"))
        if r.server == "authflow" and other is not None:
            ratio = f"{r.per_s / other.per_s:.2f}"
        print(f"| {r.operation} | {r.server} | {r.per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
              f"{r.server_cpu_ms:.3f} | {ratio} |")
    flows = [r for r in results if r.steps_p50_ms]
    if flows:
        names = list(flows[0].steps_p50_ms)
        print(f"\np50 ms of each call in the sign-in flow:\n\n| server | {' | '.join(names)} |")
        print("|---|" + "---:|" * len(names))
        for r in flows:
            print(f"| {r.server} | {' | '.join(f'{r.steps_p50_ms[n]:.2f}' for n in names)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000, help="AdminGetUser calls per server (default 5000)")
    parser.add_argument("--flows", type=int, default=500,
                        help="sign-in flows (new users) and sign-ins (CONFIRMED user) per server (default 500)")
    parser.add_argument("--rounds", type=int, default=10,
                        help="rounds per operation, alternating between the servers (default 10)")
    parser.add_argument("--only", choices=SERVERS, help="measure one server only")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()

    servers = [args.only] if args.only else list(SERVERS)
    missing = moto_missing() if "moto" in servers else None
    if missing:
        print(f"moto[server] is not installed ({missing}): measuring authflow only. "
              "Install it with: pip install 'moto[server]'", file=sys.stderr)
        if args.only == "moto":
            sys.exit(1)
        servers = ["authflow"]

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="authflow-bench-") as tmpdir, ExitStack() as stack:
        tmp = Path(tmpdir)
        targets = [(start_authflow if name == "authflow" else start_moto)(stack, tmp) for name in servers]
        print(f"measuring {', '.join(f'{t.name} at {t.url}' for t in targets)}, {args.rounds} rounds each "
              f"(load average before: {os.getloadavg()[0]:.1f}) ...", file=sys.stderr, flush=True)
        results = measure([prepare(t) for t in targets], args.calls, args.flows, args.rounds)
        load_after = os.getloadavg()[0]
    print_table(results)
    print(f"\nload average (1 min) at the end: {load_after:.1f}; {os.cpu_count()} CPUs")

    if args.json:
        moto_version = None
        if "moto" in servers:
            from importlib.metadata import version

            moto_version = version("moto")
        report = {
            "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "boto3": boto3.__version__,
            "moto": moto_version,
            "calls": args.calls,
            "flows": args.flows,
            "rounds": args.rounds,
            "load_average_end": load_after,
            "results": [asdict(r) for r in results],
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
