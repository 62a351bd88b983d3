"""Crashes in the middle of a stream of writes (issue 6, "Races and crashes").

A writer process runs a fixed, seeded stream of operations against a durable store:
AdminCreateUser with aliases (email, phone number, preferred_username; mostly with
ForceAliasCreation, so verified aliases move between users), sign-ins (the temporary
password, then the NEW_PASSWORD_REQUIRED answer; later the new password) and
AdminUpdateUserAttributes. After each operation has returned, it appends a line
`[index, outcome]` to an ack file and fsyncs it: an acknowledged operation is one the
engine answered (a refusal such as AliasExistsException is acknowledged too, once the
store is seen to work; an InternalErrorException, or any error while the store does not
work, stops the writer without an ack).

- SQLite: the parent kills the writer with SIGKILL at a random moment, over and over
  (a new writer continues the stream from the first unacknowledged operation).
- PostgreSQL: the parent stops a private throwaway cluster with `pg_ctl stop -m
  immediate` (a server crash) at a random moment, kills the writer, and starts the
  cluster again.

After each crash the store is reopened and checked:

1. The files are sound: SQLite's `PRAGMA integrity_check` / `foreign_key_check`;
   PostgreSQL's amcheck `bt_index_check` on every index of the schema (when the
   amcheck extension is installed).
2. Every acknowledged operation is present and nothing is half-applied: the users
   (attributes but the random sub, status, enabled, aliases, whether the password is
   temporary) are exactly those of an in-memory engine that ran the same acknowledged
   operations, each with the same outcome, or of that engine after one more operation
   (the one in flight may have committed before its ack was written). Every password
   hash verifies the password the stream gave that user.
3. The engine's invariants hold: usernames and subs are unique, every record's aliases
   are those its attributes give (`aliases_of`), a verified alias has exactly one holder
   and is found by the port under its key, every ListUsers index entry matches the
   user's values, and the alias and index tables hold no row that no user's record
   accounts for; and the state invariants of `authflow.invariants` (when it is there).

The writer re-runs the operation in flight when it starts again; operations are written
so that a re-run of one that had committed is recognisable (UsernameExistsException for
a create, a normal sign-in for a completed password change, the same values for an
update).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

import authflow
from authflow.adapters import MemoryStore, SqliteStore
from authflow.core.identity import alias_key, aliases_of
from authflow.core.listing import SEARCHABLE_ATTRIBUTES, index_values
from authflow.crypto.sealing import Keyring
from authflow.errors import CognitoError
from tests.conftest import TEST_CONFIG
from tests.external import need

CONFIG = replace(TEST_CONFIG, kek=Keyring(b"c" * 32))
SEED = 20260601
TEMPORARY = "Temp-pass-1"
ALL = 10**9
POOL = {
    "PoolName": "crash",
    "AliasAttributes": ["email", "phone_number", "preferred_username"],
    "UsernameConfiguration": {"CaseSensitive": False},
}
APP = {"ClientName": "app", "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}
#: The outcome that means the store (or the server) failed: the writer stops without an
#: ack. Any other error is acknowledged like a success once the store is seen to work
#: (with one writer there is no contention: the in-memory engine must give it too).
FAILURE = "InternalErrorException"
#: What re-running an operation that had committed (but was not acknowledged) answers.
REDONE = {"create": "UsernameExistsException", "sign_in": "signed_in", "update": "updated"}
SUCCESSES = ("created", "updated", "changed", "signed_in")


def new_password(username: str) -> str:
    return f"New-pass-{username}!"


# -- the stream ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    index: int
    kind: str  # "create" | "sign_in" | "update"
    username: str
    attributes: tuple[tuple[str, str], ...] = ()
    force: bool = False


def plan(seed: int, n: int) -> list[Op]:
    """A stream of `n` operations. Values come from small sets, so verified emails and
    phone numbers are claimed again and again (ForceAliasCreation moves them; without
    it, or for preferred_username, the claim is refused), and usernames from earlier
    creations are signed in and updated."""
    rng = random.Random(seed)
    ops: list[Op] = []
    created: list[str] = []
    for k in range(n):
        roll = rng.random()
        if roll < 0.5 or not created:
            r = rng.randrange(6)
            email = f"mail{r}@example.com" if rng.random() < 0.8 else f"MAIL{r}@Example.com"
            attributes = [("email", email), ("email_verified", "true" if rng.random() < 0.75 else "false")]
            if rng.random() < 0.3:
                attributes += [("phone_number", f"+1555010{rng.randrange(4):04d}"), ("phone_number_verified", "true")]
            if rng.random() < 0.2:
                attributes.append(("preferred_username", f"pref{rng.randrange(6)}"))
            username = f"user{k:05d}"
            ops.append(Op(k, "create", username, tuple(attributes), force=rng.random() < 0.85))
            created.append(username)
        elif roll < 0.75:
            ops.append(Op(k, "sign_in", rng.choice(created)))
        else:
            target = rng.choice(created)
            attributes = rng.choice((
                (("email", f"mail{rng.randrange(6)}@example.com"), ("email_verified", "true")),
                (("preferred_username", f"pref{rng.randrange(6)}"),),
                (("name", f"Name {k}"),),
                (("phone_number", f"+1555010{rng.randrange(4):04d}"), ("phone_number_verified", "true")),
            ))
            ops.append(Op(k, "update", target, attributes))
    return ops


PLAN = plan(SEED, 20_000)


def run_op(client, pool_id: str, app_id: str, op: Op) -> str:
    """Run one operation of the stream; its outcome, as a word. The same code runs in the
    writer (durable store) and in the parent's model (in-memory store)."""
    try:
        if op.kind == "create":
            client.admin_create_user(
                UserPoolId=pool_id, Username=op.username, TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS",
                UserAttributes=[{"Name": n, "Value": v} for n, v in op.attributes], ForceAliasCreation=op.force,
            )
            return "created"
        if op.kind == "update":
            client.admin_update_user_attributes(
                UserPoolId=pool_id, Username=op.username,
                UserAttributes=[{"Name": n, "Value": v} for n, v in op.attributes],
            )
            return "updated"
        status = client.admin_get_user(UserPoolId=pool_id, Username=op.username)["UserStatus"]
        password = TEMPORARY if status == "FORCE_CHANGE_PASSWORD" else new_password(op.username)
        started = client.admin_initiate_auth(
            UserPoolId=pool_id, ClientId=app_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": op.username, "PASSWORD": password},
        )
        if status != "FORCE_CHANGE_PASSWORD":
            assert "AuthenticationResult" in started, started
            return "signed_in"
        assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED", started
        answered = client.admin_respond_to_auth_challenge(
            UserPoolId=pool_id, ClientId=app_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
            ChallengeResponses={"USERNAME": op.username, "NEW_PASSWORD": new_password(op.username)},
        )
        assert "AuthenticationResult" in answered, answered
        return "changed"
    except CognitoError as err:
        return type(err).__name__


# -- where the store lives ------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    kind: str  # "sqlite" | "postgres"
    location: str  # file path | DSN
    schema: str = "crash"

    def open(self):
        if self.kind == "sqlite":
            return SqliteStore(self.location, busy_timeout_s=10)
        from authflow.adapters.postgres import PostgresStore

        return PostgresStore(self.location, schema=self.schema, max_size=2, pool_timeout_s=10)


def _writer(backend: Backend, pool_id: str, app_id: str, start: int, ack_path: str) -> None:
    """The writer process: the stream from `start` on, one fsync'd ack line per operation."""
    fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    with backend.open() as store:
        client = authflow.Client(store=store, config=CONFIG)
        for op in PLAN[start:]:
            outcome = run_op(client, pool_id, app_id, op)
            if outcome not in SUCCESSES and (outcome == FAILURE or not _works(store, pool_id)):
                # The store failed (a server that went away may look like a conflict): no ack.
                Path(ack_path + ".failed").write_text(f"{op}: {outcome}")
                os._exit(3)
            os.write(fd, (json.dumps([op.index, outcome]) + "\n").encode())
            os.fsync(fd)
    os._exit(4)  # the stream ran out: the parent's timing is wrong


def _works(store, pool_id: str) -> bool:
    try:
        with store.transaction() as tx:
            return tx.get_pool(pool_id) is not None
    except Exception:  # noqa: BLE001 -- whatever it is, the store does not work
        return False


def read_acks(path: Path) -> list[tuple[int, str]]:
    """The acknowledged operations; a torn last line (killed while writing it) is cut off."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    whole = raw[: raw.rfind(b"\n") + 1]
    if len(whole) != len(raw):
        with open(path, "r+b") as f:
            f.truncate(len(whole))
    acks = [tuple(json.loads(line)) for line in whole.decode().splitlines()]
    assert [k for k, _ in acks] == list(range(len(acks))), "acks out of order"
    return acks


# -- what the stream should have left -------------------------------------------------------------------


def user_view(users) -> dict[str, tuple]:
    """What the stream decides about each user, and nothing random (subs, hashes, times)."""
    return {
        u.username: (
            tuple(sorted((k, v) for k, v in u.attributes.items() if k != "sub")),
            u.status, u.enabled, tuple(sorted(u.aliases)), u.credential.temporary,
        )
        for u in users
    }


def all_users(store, pool_id: str) -> list:
    with store.transaction() as tx:
        return [u for _, u in tx.scan_users(pool_id, index=None, limit=ALL)]


class Model:
    """The acknowledged operations, run one at a time on the in-memory engine."""

    def __init__(self) -> None:
        self.client = authflow.Client(store=MemoryStore(), config=CONFIG)
        self.pool_id = self.client.create_user_pool(**POOL)["UserPool"]["Id"]
        self.app_id = self.client.create_user_pool_client(UserPoolId=self.pool_id, **APP)["UserPoolClient"]["ClientId"]
        self.applied = 0  # PLAN[:applied] have run here
        self.outcomes: dict[int, str] = {}
        self.in_flight: set[int] = set()  # found committed without an ack

    def apply_next(self) -> str:
        op = PLAN[self.applied]
        outcome = self.outcomes[op.index] = run_op(self.client, self.pool_id, self.app_id, op)
        self.applied += 1
        return outcome

    def catch_up(self, acks: list[tuple[int, str]]) -> None:
        while self.applied < len(acks):
            self.apply_next()
        for index, outcome in acks:
            expected = self.outcomes[index]
            if index in self.in_flight and outcome == REDONE[PLAN[index].kind]:
                continue  # the writer re-ran an operation that had committed before its ack
            assert outcome == expected, f"operation {PLAN[index]}: the durable store answered {outcome}, " \
                                        f"the in-memory engine {expected}"

    def view(self) -> dict[str, tuple]:
        return user_view(all_users(self.client.store, self.pool_id))


# -- checks after a crash ------------------------------------------------------------------------------


def check_against_model(model: Model, acks: list[tuple[int, str]], users: list) -> None:
    """Every acknowledged operation is there, nothing else but possibly the one in flight,
    and no operation is half there."""
    model.catch_up(acks)
    durable = user_view(users)
    if durable != model.view() and model.applied == len(acks):
        # The operation in flight may have committed before the writer could ack it.
        model.apply_next()
        model.in_flight.add(model.applied - 1)
    expected = model.view()
    if durable != expected:
        missing = sorted(set(expected) - set(durable))
        extra = sorted(set(durable) - set(expected))
        differ = {n: (durable[n], expected[n]) for n in set(durable) & set(expected) if durable[n] != expected[n]}
        pytest.fail(f"after {len(acks)} acknowledged operations (model at {model.applied}): missing users "
                    f"{missing}, unexpected users {extra}, differing users (durable, expected) {differ}")


def check_invariants(store, pool_id: str, users: list, engine) -> None:
    """The engine's invariants, through the port."""
    with store.transaction() as tx:
        pool = tx.get_pool(pool_id)
        assert tx.count_users(pool_id) == len(users)
        assert len({u.username_key for u in users}) == len(users)
        assert len({u.sub for u in users}) == len(users)
        holders = Counter()
        for u in users:
            assert u.attributes["sub"] == u.sub
            assert tx.get_user_by_sub(pool_id, u.sub).username == u.username
            assert u.aliases == aliases_of(pool.config, u.attributes, u.status), u
            holders.update(u.aliases)
            for pair in u.aliases:
                assert tx.get_user_by_alias(pool_id, *pair).username == u.username, pair
            password = TEMPORARY if u.credential.temporary else new_password(u.username)
            assert engine.check_password(password, u.credential.password_hash), u.username
        assert all(n == 1 for n in holders.values()), [p for p, n in holders.items() if n > 1]
        # A verified email / phone number belongs to one user, whatever the alias rows say.
        for kind, flag in (("email", "email_verified"), ("phone_number", "phone_number_verified")):
            verified = Counter(alias_key(pool.config, kind, u.attributes[kind]) for u in users
                               if u.attributes.get(flag) == "true" and u.attributes.get(kind))
            assert all(n == 1 for n in verified.values()), (kind, verified)
        for name in SEARCHABLE_ATTRIBUTES:
            found = {(position, key) for (position, key), _ in tx.scan_users(pool_id, index=name, limit=ALL)}
            wanted = {(v, u.username_key) for u in users
                      for n, v in index_values(u.username_key, u.attributes, u.status, u.enabled).items() if n == name}
            assert found == wanted, name


def check_engine_invariants(store, pool_id: str, users: list) -> None:
    """The state invariants of `authflow.invariants` (those read from a state at rest)."""
    try:
        from authflow import invariants
    except ImportError:  # not there yet: check_invariants covers the same ground directly
        return
    with store.transaction() as tx:
        pool = tx.get_pool(pool_id)
    records = invariants.Records(pools=(pool,), users=tuple(sorted(users, key=lambda u: u.username_key)))
    step = invariants.Step.at_rest(records, datetime.now(timezone.utc))
    names = [n for n in ("status_declared", "verified_alias_single_holder", "unique_usernames_and_subs")
             if n in invariants.INVARIANTS]
    assert invariants.check(step, names) == []


def check_tables(users: list, alias_rows: set, index_rows: set) -> None:
    """The alias and index tables hold exactly what the user records account for."""
    assert alias_rows == {(kind, key, u.username_key) for u in users for kind, key in u.aliases}
    assert index_rows == {(name, value, u.username_key) for u in users
                          for name, value in index_values(u.username_key, u.attributes, u.status, u.enabled).items()}


@dataclass
class Crashes:
    """The crash loop's bookkeeping, for the final assertions and the report."""

    crashes: int = 0
    acked: int = 0
    in_flight_committed: int = 0
    seconds: float = 0.0


def crash_loop(tmp_path: Path, backend: Backend, pool_id: str, app_id: str, *, cycles: int, budget_s: float,
               min_cycles: int, crash, delays: tuple[float, float], inspect) -> Crashes:
    """Start a writer, crash it with `crash(process)` after a random delay, check, repeat."""
    ack_path = tmp_path / "acks.jsonl"
    rng = random.Random(SEED)
    model = Model()
    engine = authflow.Client(config=CONFIG).engine  # for password checks only
    context = multiprocessing.get_context("fork")
    stats = Crashes()
    began = time.monotonic()
    while stats.crashes < cycles and (stats.crashes < min_cycles or time.monotonic() - began < budget_s):
        acks = read_acks(ack_path)
        writer = context.Process(target=_writer, args=(backend, pool_id, app_id, len(acks), str(ack_path)))
        writer.start()
        time.sleep(rng.uniform(*delays))
        alive = writer.is_alive()
        crash(writer)
        writer.join(timeout=30)
        failed = Path(str(ack_path) + ".failed")
        why = failed.read_text() if failed.exists() else ""
        assert alive, f"the writer stopped on its own (exit code {writer.exitcode}) before the crash: {why}"
        failed.unlink(missing_ok=True)  # after a server crash, the writer's last call may have failed
        stats.crashes += 1
        acks = read_acks(ack_path)
        flights = len(model.in_flight)
        inspect(model, acks, engine)
        stats.in_flight_committed += len(model.in_flight) - flights
    stats.acked = len(read_acks(ack_path))
    stats.seconds = time.monotonic() - began
    return stats


def _kill(process) -> None:
    try:
        os.kill(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # it had exited already
        pass


# -- SQLite: kill -9 ------------------------------------------------------------------------------------


def _sqlite_tables(path: Path, pool_id: str) -> tuple[set, set]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        aliases = set(conn.execute("SELECT kind, key, username_key FROM aliases WHERE pool_id = ?", (pool_id,)))
        index = set(conn.execute("SELECT name, value, username_key FROM user_index WHERE pool_id = ?", (pool_id,)))
    finally:
        conn.close()
    return aliases, index


def test_sqlite_survives_kill_9_at_random_moments(tmp_path, record_property):
    path = tmp_path / "crash.db"
    backend = Backend("sqlite", str(path))
    with backend.open() as store:
        client = authflow.Client(store=store, config=CONFIG)
        pool_id = client.create_user_pool(**POOL)["UserPool"]["Id"]
        app_id = client.create_user_pool_client(UserPoolId=pool_id, **APP)["UserPoolClient"]["ClientId"]

    def inspect(model: Model, acks, engine) -> None:
        aliases, index = _sqlite_tables(path, pool_id)  # the raw tables, as the crash left them
        with backend.open() as store:
            users = all_users(store, pool_id)
            check_against_model(model, acks, users)
            check_invariants(store, pool_id, users, engine)
            check_engine_invariants(store, pool_id, users)
        check_tables(users, aliases, index)

    stats = crash_loop(tmp_path, backend, pool_id, app_id, cycles=60, budget_s=25, min_cycles=25,
                       crash=_kill, delays=(0.02, 0.5), inspect=inspect)
    record_property("crashes", stats)
    print(f"\nSQLite: {stats}")
    assert stats.crashes >= 25
    assert stats.acked >= 200, stats  # the kills interrupted a stream that got somewhere


# -- PostgreSQL: pg_ctl stop -m immediate -----------------------------------------------------------------


def _psycopg_installed() -> bool:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return False
    return True


def _pg_tables(dsn: str, schema: str, pool_id: str, amcheck: bool) -> tuple[set, set]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        if amcheck:
            indexes = conn.execute(
                "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam "
                "WHERE n.nspname = %s AND a.amname = 'btree'", (schema,)).fetchall()
            assert indexes
            for (index,) in indexes:
                conn.execute("SELECT public.bt_index_check(%s::regclass, true)", (index,))
        aliases = set(conn.execute(f"SELECT kind, key, username_key FROM {schema}.aliases WHERE pool_id = %s",
                                   (pool_id,)).fetchall())
        index = set(conn.execute(f"SELECT name, value, username_key FROM {schema}.user_index WHERE pool_id = %s",
                                 (pool_id,)).fetchall())
        digests = conn.execute(f"SELECT count(*) FROM {schema}.aliases WHERE key_sha256 <> sha256(convert_to(key, "
                               "'UTF8'))").fetchone()[0]
        assert digests == 0
    return aliases, index


def _has_amcheck(dsn: str) -> bool:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA public")
        except psycopg.Error:
            return False
    return True


@pytest.fixture
def private_cluster(tmp_path):
    """A PostgreSQL cluster of this test's own, which it may crash."""
    from tests import pg

    need(pg.available(), "PostgreSQL (initdb, pg_ctl, postgres) is not installed")
    need(_psycopg_installed(), "psycopg 3 and psycopg-pool are not installed (pip install 'authflow[postgres]')")
    directory = tmp_path / "cluster"
    try:
        dsn = pg.start(directory)
    except Exception as err:  # noqa: BLE001 -- any failure means "no server here"
        need(False, f"could not start a throwaway PostgreSQL cluster: {err}")
    try:
        yield directory, dsn
    finally:
        pg.stop(directory, "immediate")


def test_postgres_survives_immediate_shutdowns_at_random_moments(tmp_path, private_cluster, record_property):
    from tests import pg

    directory, dsn = private_cluster
    backend = Backend("postgres", dsn)
    with backend.open() as store:
        client = authflow.Client(store=store, config=CONFIG)
        pool_id = client.create_user_pool(**POOL)["UserPool"]["Id"]
        app_id = client.create_user_pool_client(UserPoolId=pool_id, **APP)["UserPoolClient"]["ClientId"]
    amcheck = _has_amcheck(dsn)

    def crash(writer) -> None:
        pg.stop(directory, "immediate")  # the server dies mid-stream: no checkpoint, no goodbye
        if writer.is_alive():
            _kill(writer)  # it may be waiting for a connection that never comes back
        pg.restart(directory)  # crash recovery replays the WAL

    def inspect(model: Model, acks, engine) -> None:
        aliases, index = _pg_tables(dsn, backend.schema, pool_id, amcheck)
        with backend.open() as store:
            users = all_users(store, pool_id)
            check_against_model(model, acks, users)
            check_invariants(store, pool_id, users, engine)
            check_engine_invariants(store, pool_id, users)
        check_tables(users, aliases, index)

    stats = crash_loop(tmp_path, backend, pool_id, app_id, cycles=25, budget_s=60, min_cycles=10,
                       crash=crash, delays=(0.05, 0.5), inspect=inspect)
    record_property("crashes", stats)
    record_property("amcheck", amcheck)
    print(f"\nPostgreSQL: {stats}, amcheck: {amcheck}")
    assert stats.crashes >= 10
    assert stats.acked >= 100, stats
