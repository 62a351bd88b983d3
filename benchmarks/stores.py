"""The stores side by side: MemoryStore, SqliteStore and PostgresStore (a benchmark, never a test).

What, per store, through `authflow.Client` in process (no HTTP), one call at a time:

- AdminCreateUser/s: filling one pool with `--users` users (`user<i>`, email
  `user<i>@example.com`, TemporaryPassword, MessageAction SUPPRESS). The fill hashes
  with the FAST, INSECURE test Argon2id profile (m=8 KiB, t=1): at the production cost
  (about 20 ms a hash) 100k users would take over half an hour per store. A second row
  times AdminCreateUser at the production cost.
- AdminGetUser/s: a random user of the full pool each call.
- ListUsers/s: `Filter='email ^= "user1"'`, `Limit=60` (a full page of 60 users).
- sign-in/s: AdminInitiateAuth ADMIN_USER_PASSWORD_AUTH of a CONFIRMED user, returning
  tokens (a refresh-token row is written on every sign-in), at both costs: an engine with
  the production profile (m=19456 KiB, t=2, p=1) signs in a user whose password it hashed
  itself, an engine with the fast profile one of its own (neither rehashes). Both engines
  share the store.
- bytes per user at `--users` users: memory, the growth of the process's resident set
  (/proc/self/statm; `resource.getrusage` peak where there is no /proc) across the fill;
  SQLite, the growth of the database file plus its WAL across the fill, each measured
  after `PRAGMA wal_checkpoint(TRUNCATE)`; PostgreSQL, the growth of
  `pg_total_relation_size` (heap, indexes, TOAST) of the schema's tables, no VACUUM.

How: one process, stores in the order memory, SQLite, PostgreSQL, so that the resident
set is measured before anything else has grown it. Each rate runs its call for
`--seconds` seconds (at least a few calls) and reports calls per second and the median
call in ms. Engines use the system clock and entropy, fresh RSA-2048 signing keys and a
random key-encryption key. SQLite: a file in a temporary directory (WAL,
synchronous=FULL, as `SqliteStore` opens it). PostgreSQL: `--pg-dsn`, else
`$AUTHFLOW_TEST_PG_DSN`, else a throwaway cluster started with tests/pg.py (Unix socket,
fsync on) and stopped at the end; tables in the schema `authflow_bench`, dropped before
and after; `--no-postgres` leaves it out.

Usage: `python benchmarks/stores.py [--users 100000] [--quick] [--seconds 3] [--pg-dsn DSN]
[--no-postgres] [--json FILE]` (`--quick`: 5000 users, 1-second rates).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # run as a script: benchmarks/http.py would shadow the standard library's http

import authflow
from authflow.adapters import MemoryStore, SqliteStore
from authflow.crypto.passwords import FAST_INSECURE, PRODUCTION
from authflow.crypto.sealing import Keyring

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "authflow_bench"
TEMPORARY = "Passw0rd!tmp"
PASSWORD = "Bench-pass-1x"
FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
KEK = Keyring(os.urandom(32))


# -- measuring ------------------------------------------------------------------------------


def rate(fn: Callable[[int], Any], seconds: float, at_least: int = 5) -> dict[str, float]:
    """Call fn(i) for `seconds` (and at least `at_least` times): calls/s and median ms."""
    samples: list[float] = []
    start = time.perf_counter()
    i = 0
    while i < at_least or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t)
        i += 1
    elapsed = time.perf_counter() - start
    return {"per_s": i / elapsed, "median_ms": statistics.median(samples) * 1000, "calls": i}


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # no /proc: the peak, which only grows (kilobytes on Linux, bytes on macOS)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def settled_rss() -> int:
    gc.collect()
    return rss_bytes()


def sqlite_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            print(f"  (the WAL checkpoint of {path.name} was blocked; the size includes the WAL)", flush=True)
    finally:
        conn.close()
    return sum(p.stat().st_size for p in path.parent.iterdir() if p.name.startswith(path.name))


def postgres_bytes(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (SCHEMA,)).fetchone()
    return int(row[0])


# -- one store -----------------------------------------------------------------------------------


def measure(name: str, store: Any, users: int, seconds: float, size: Callable[[], int]) -> dict[str, Any]:
    """Fill one pool with `users` users through the engine, then time every call."""
    fast = authflow.Client(store=store, config=authflow.EngineConfig(kdf=FAST_INSECURE, kek=KEK))
    slow = authflow.Client(store=store, config=authflow.EngineConfig(kdf=PRODUCTION, kek=KEK))
    pool = fast.create_user_pool(PoolName=f"bench-{name}")["UserPool"]["Id"]
    app = fast.create_user_pool_client(UserPoolId=pool, ClientName="bench", ExplicitAuthFlows=FLOWS)[
        "UserPoolClient"]["ClientId"]

    def create(client: authflow.Client, username: str, email: str) -> None:
        client.admin_create_user(UserPoolId=pool, Username=username, TemporaryPassword=TEMPORARY,
                                 MessageAction="SUPPRESS", UserAttributes=[{"Name": "email", "Value": email}])

    create(fast, "warm-up", "warm-up@example.org")  # first-call costs (imports, key parsing) out of the fill
    before = size()
    print(f"{name}: filling {users:,} users ...", flush=True)
    start = time.perf_counter()
    progress: dict[int, float] = {}  # users so far -> seconds so far: does creating slow down?
    for i in range(users):
        create(fast, f"user{i}", f"user{i}@example.com")
        if (i + 1) % max(1, users // 5) == 0:
            progress[i + 1] = time.perf_counter() - start
            print(f"  {i + 1:,} users, {progress[i + 1]:.0f} s", flush=True)
    fill_s = time.perf_counter() - start
    per_user = (size() - before) / users
    result: dict[str, Any] = {
        "fill_s": fill_s,
        "fill_progress_s": progress,
        "admin_create_user": {"per_s": users / fill_s, "median_ms": None, "calls": users},
        "bytes_per_user": per_user,
    }
    print(f"  filled in {fill_s:.1f} s; {per_user:,.0f} bytes per user", flush=True)

    result["admin_create_user_production_kdf"] = rate(
        lambda i: create(slow, f"prod-create-{i}", f"prod-create-{i}@example.org"), seconds)
    rng = random.Random(0)

    def get_user(_: int) -> None:
        i = rng.randrange(users)
        assert fast.admin_get_user(UserPoolId=pool, Username=f"user{i}")["Username"] == f"user{i}"

    result["admin_get_user"] = rate(get_user, seconds)
    page = min(60, sum(1 for i in range(users) if str(i).startswith("1")))

    def list_users(_: int) -> None:
        found = fast.list_users(UserPoolId=pool, Filter='email ^= "user1"', Limit=60)["Users"]
        assert len(found) == page, len(found)

    result["list_users_prefix_60"] = rate(list_users, seconds)

    for label, client in (("fast", fast), ("production", slow)):
        username = f"signin-{label}"
        create(client, username, f"{username}@example.org")
        started = client.admin_initiate_auth(UserPoolId=pool, ClientId=app, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                             AuthParameters={"USERNAME": username, "PASSWORD": TEMPORARY})
        client.admin_respond_to_auth_challenge(
            UserPoolId=pool, ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD})
        assert client.admin_get_user(UserPoolId=pool, Username=username)["UserStatus"] == "CONFIRMED"

        def sign_in(_: int, client: authflow.Client = client, username: str = username) -> None:
            tokens = client.admin_initiate_auth(
                UserPoolId=pool, ClientId=app, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})["AuthenticationResult"]
            assert tokens["AccessToken"] and tokens["RefreshToken"]

        result[f"sign_in_{label}_kdf"] = rate(sign_in, seconds)
    return result


# -- PostgreSQL ------------------------------------------------------------------------------------


def postgres_dsn(args: argparse.Namespace, stack: ExitStack) -> tuple[str | None, str]:
    """A DSN and where it came from: --pg-dsn, $AUTHFLOW_TEST_PG_DSN, or a throwaway cluster."""
    if args.no_postgres:
        return None, "left out (--no-postgres)"
    if args.pg_dsn:
        return args.pg_dsn, "--pg-dsn"
    if os.environ.get("AUTHFLOW_TEST_PG_DSN"):
        return os.environ["AUTHFLOW_TEST_PG_DSN"], "$AUTHFLOW_TEST_PG_DSN"
    sys.path.insert(0, str(ROOT))
    from tests import pg

    if not pg.available():
        return None, "no --pg-dsn, no $AUTHFLOW_TEST_PG_DSN, and no initdb/pg_ctl/postgres to start one"
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="authflow-bench-pg-")))
    dsn = pg.start(directory)
    stack.callback(pg.stop, directory)
    return dsn, "a throwaway cluster (tests/pg.py: Unix socket, fsync on)"


def postgres_facts(dsn: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")}


# -- the whole run ------------------------------------------------------------------------------


ROWS = [
    ("AdminCreateUser/s (fast test KDF, the fill)", "admin_create_user"),
    ("AdminCreateUser/s (production KDF)", "admin_create_user_production_kdf"),
    ("AdminGetUser/s", "admin_get_user"),
    ('ListUsers/s (email ^= "user1", Limit 60)', "list_users_prefix_60"),
    ("sign-in/s (production KDF)", "sign_in_production_kdf"),
    ("sign-in/s (fast test KDF)", "sign_in_fast_kdf"),
]


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, key in ROWS:
        cells = []
        for name in names:
            r = results[name][key]
            median = f" ({r['median_ms']:.2f} ms)" if r["median_ms"] is not None else ""
            cells.append(f"{r['per_s']:,.0f}{median}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| bytes per user | " + " | ".join(f"{results[n]['bytes_per_user']:,.0f}" for n in names) + " |")
    lines.append("| fill time (s) | " + " | ".join(f"{results[n]['fill_s']:.1f}" for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000, help="users in the pool (default 100000)")
    parser.add_argument("--quick", action="store_true", help="a fast check: 5000 users, 1-second rates")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each rate is measured (default 3)")
    parser.add_argument("--pg-dsn", help="PostgreSQL to use (else $AUTHFLOW_TEST_PG_DSN, else a throwaway cluster)")
    parser.add_argument("--no-postgres", action="store_true", help="memory and SQLite only")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    if args.quick:
        args.users, args.seconds = 5_000, 1.0
    started = time.perf_counter()
    facts: dict[str, Any] = {"machine": machine(), "load_average_at_start": os.getloadavg(), "users": args.users, "seconds": args.seconds,
                             "kdf": {"fast": asdict(FAST_INSECURE), "production": asdict(PRODUCTION)}}
    results: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        store = MemoryStore()
        results["memory"] = measure("memory", store, args.users, args.seconds, settled_rss)
        del store
        gc.collect()

        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="authflow-bench-")))
        path = directory / "authflow.db"
        with SqliteStore(path) as store:
            results["sqlite"] = measure("sqlite", store, args.users, args.seconds, lambda: sqlite_bytes(path))

        dsn, source = postgres_dsn(args, stack)
        facts["postgres"] = {"source": source}
        if dsn is not None:
            from authflow.adapters.postgres import PostgresStore

            facts["postgres"].update(postgres_facts(dsn))
            PostgresStore.drop_schema(dsn, SCHEMA)
            stack.callback(PostgresStore.drop_schema, dsn, SCHEMA)
            with PostgresStore(dsn, schema=SCHEMA) as store:
                results["postgresql"] = measure("postgresql", store, args.users, args.seconds,
                                                lambda: postgres_bytes(dsn))
    facts["total_s"] = time.perf_counter() - started
    facts["load_average_at_end"] = os.getloadavg()

    m = facts["machine"]
    print(f"\n{args.users:,} users; {m['cpus']} CPUs ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}; "
          f"PostgreSQL: {facts['postgres'].get('server_version', '-')} ({facts['postgres']['source']}); "
          f"rates over {args.seconds:g} s each, median call in ms; total {facts['total_s']:.0f} s; load average "
          f"{facts['load_average_at_start'][0]:.1f} at the start, {facts['load_average_at_end'][0]:.1f} at the end\n")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps({"facts": facts, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
