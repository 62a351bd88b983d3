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

Each operation gets warm-up calls first (not timed). For each it prints operations per
second (over the wall time of the timed loop, boto3's own cost included), p50 and p99
latency in ms, and the ratio authflow/moto of req/s (above 1: authflow is faster).

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

Usage: `python benchmarks/http.py [--calls 5000] [--flows 500] [--only authflow|moto]
[--json FILE]`. Needs `pip install -e '.[server]' boto3 'moto[server]'` (moto optional).
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


@dataclass
class Result:
    operation: str
    server: str
    count: int
    per_s: float
    p50_ms: float
    p99_ms: float
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
                  parser["default"]["aws_secret_access_key"])


def start_moto(stack: ExitStack, tmp: Path) -> Target:
    port = free_port()
    log = tmp / "moto.log"
    proc = stack.enter_context(running([sys.executable, "-m", "moto.server", "-p", str(port)], log))
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, f"{url}/moto-api/", log, lambda: True)
    return Target("moto", url, "testing", "testing")


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


def timed(operation: str, server: str, fn: Callable[[int], dict[str, float] | None],
          count: int, warmup: int) -> Result:
    """Call fn(i) `warmup` times untimed, then `count` times; fn may return its steps' seconds."""
    for i in range(warmup):
        fn(-1 - i)
    samples: list[float] = []
    steps: dict[str, list[float]] = {}
    loop_start = time.perf_counter()
    for i in range(count):
        start = time.perf_counter()
        parts = fn(i)
        samples.append(time.perf_counter() - start)
        for name, seconds in (parts or {}).items():
            steps.setdefault(name, []).append(seconds)
    elapsed = time.perf_counter() - loop_start
    return Result(operation, server, count, count / elapsed, percentile_ms(samples, 0.50),
                  percentile_ms(samples, 0.99),
                  {name: round(percentile_ms(s, 0.50), 3) for name, s in steps.items()})


def measure(target: Target, calls: int, flows: int) -> list[Result]:
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

    warm = max(5, min(50, calls // 20))
    warm_flows = max(3, min(10, flows // 20))
    return [
        timed("AdminGetUser", target.name, get_user, calls, warm),
        timed("admin sign-in flow, new user (3 calls)", target.name, full_flow, flows, warm_flows),
        timed("ADMIN_USER_PASSWORD_AUTH, CONFIRMED user", target.name, sign_in, flows, warm_flows),
    ]


# -- the report --------------------------------------------------------------------


def print_table(results: list[Result]) -> None:
    by_key = {(r.operation, r.server): r for r in results}
    print("| operation | server | req/s | p50 ms | p99 ms | authflow/moto (req/s) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        ratio = ""
        other = by_key.get((r.operation, "moto"))
        if r.server == "authflow" and other is not None:
            ratio = f"{r.per_s / other.per_s:.2f}"
        print(f"| {r.operation} | {r.server} | {r.per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {ratio} |")
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
        for target in targets:
            print(f"measuring {target.name} at {target.url} ...", file=sys.stderr, flush=True)
            results.extend(measure(target, args.calls, args.flows))
    # Group the rows by operation, authflow first.
    order = {r.operation: i for i, r in enumerate(results)}
    results.sort(key=lambda r: (order[r.operation], SERVERS.index(r.server)))
    print_table(results)

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
            "results": [asdict(r) for r in results],
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
