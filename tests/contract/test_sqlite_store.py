"""The store contract (`authflow.testing.contract`) run against SqliteStore, plus what
only SQLite has: connection settings, migrations, query plans, the bytes of the file,
and several store objects and processes on one file."""

from __future__ import annotations

import base64
import itertools
import multiprocessing
import re
import sqlite3
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy, SqliteStore
from authflow.adapters import sqlite as sqlite_module
from authflow.adapters.sqlite import MIGRATIONS, TABLES, SchemaTooNew
from authflow.core.listing import SEARCHABLE_ATTRIBUTES
from authflow.crypto.sealing import Keyring
from authflow.errors import CognitoError
from authflow.ports import StoreError, TransientConflict, UniqueViolation
from authflow.testing.contract import StoreContract
from authflow.testing.records import (
    NOW,
    P1,
    P2,
    device_record,
    failed_sign_ins_record,
    group_record,
    outbox_record,
    pool_record,
    refresh_token_record,
    resource_record,
    session_record,
    user_record,
)
from tests.conftest import START, TEST_CONFIG

KEK = Keyring(b"k" * 32)
SQLITE_CONFIG = replace(TEST_CONFIG, kek=KEK)


def dump(path: str | Path) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order (derived rows included)."""
    return dump_tables(path, TABLES)


def dump_tables(path: str | Path, tables) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    try:
        return {table: sorted(tuple(row) for row in conn.execute(f"SELECT * FROM {table}")) for table in tables}
    finally:
        conn.close()


class TestSqliteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path):
        self.directory = tmp_path
        self.numbers = itertools.count()

    def make_store(self) -> SqliteStore:
        return SqliteStore(self.directory / f"store-{next(self.numbers)}.db")

    def contents(self, store):
        return dump(store.path)


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "authflow.db"


@pytest.fixture
def store(path):
    with SqliteStore(path) as store:
        yield store


def plans(conn: sqlite3.Connection, statements: list[str]) -> list[str]:
    """The query-plan lines of every SELECT among `statements` (as traced: values inlined)."""
    lines = []
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT"):
            lines += [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    return lines


def traced(tx, call) -> list[str]:
    statements: list[str] = []
    tx.connection.set_trace_callback(statements.append)
    try:
        call()
    finally:
        tx.connection.set_trace_callback(None)
    return statements


# -- connection settings -----------------------------------------------------------------


def test_every_connection_is_set_up_for_durability(path):
    """The settings hold on the first connection and on one opened later, while the
    first is busy in another thread."""
    seen: dict[int, dict[str, object]] = {}
    busy, done = threading.Event(), threading.Event()

    def look(tx) -> None:
        names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        seen[id(tx.connection)] = {n: tx.connection.execute(f"PRAGMA {n}").fetchone()[0] for n in names}

    def hold(store) -> None:
        with store.transaction() as tx:
            look(tx)
            busy.set()
            done.wait(timeout=5)

    with SqliteStore(path, busy_timeout_s=2.5) as store:
        holder = threading.Thread(target=hold, args=(store,))
        holder.start()
        busy.wait(timeout=5)
        threading.Timer(0.2, done.set).start()
        with store.transaction() as tx:  # a second connection: the first one is taken
            look(tx)
        holder.join()
    assert len(seen) == 2
    assert list(seen.values()) == [{"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 2500}] * 2


def test_in_memory_paths_are_refused():
    for path in (":memory:", "", "file::memory:?cache=shared"):
        with pytest.raises(ValueError, match="MemoryStore"):
            SqliteStore(path)


def test_transactions_do_not_nest_and_a_closed_store_is_closed(store):
    with store.transaction():
        with pytest.raises(RuntimeError, match="do not nest"):
            with store.transaction():
                pass
    with store.transaction() as tx:  # the refused inner one did not disturb the outer one
        tx.put_pool(pool_record())
    store.close()
    with pytest.raises(StoreError, match="closed"):
        with store.transaction():
            pass


# -- migrations ----------------------------------------------------------------------------


def test_a_new_file_gets_the_whole_schema(path):
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == sqlite_module.APPLICATION_ID
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == set(TABLES)
    conn.close()


def test_missing_migrations_are_applied_on_open_and_keep_the_data(path, monkeypatch):
    with SqliteStore(path) as store, store.transaction() as tx:
        tx.put_pool(pool_record())
    before = dump(path)
    newer = (*MIGRATIONS, ("CREATE TABLE later (x TEXT)", "CREATE INDEX later_x ON later (x)"))
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", newer)
    with SqliteStore(path) as store, store.transaction() as tx:
        assert tx.get_pool(P1) == pool_record()
        assert tx.connection.execute("PRAGMA user_version").fetchone()[0] == len(newer)
        assert tx.connection.execute("SELECT count(*) FROM later").fetchone()[0] == 0
    assert dump(path) == before
    SqliteStore(path).close()  # opening an up-to-date file again changes nothing


def test_a_version_1_file_gains_devices_and_keeps_its_rows(path, monkeypatch):
    """Schema version 2 adds `devices`: a file of version 1 with sessions and refresh
    tokens written before devices existed (no `device_key` in their documents) opens at
    version 2 with every row, and its users can hold devices."""
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", MIGRATIONS[:1])
    with SqliteStore(path) as store, store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_user(user_record("alice"))
        tx.put_session(session_record("s1"))
        tx.put_refresh_token(refresh_token_record("h1"))
        for table in ("sessions", "refresh_tokens"):
            tx.connection.execute(f"UPDATE {table} SET doc = json_remove(doc, '$.device_key')")
    version_1 = [t for t in TABLES if t not in ("devices", *VERSION_3_TABLES, *VERSION_4_TABLES)]
    before = dump_tables(path, version_1)
    assert '"device_key"' not in repr(before)
    monkeypatch.undo()
    with SqliteStore(path) as store:
        with store.transaction() as tx:
            assert tx.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
            assert tx.get_session("s1") == session_record("s1")
            assert tx.get_refresh_token("h1") == refresh_token_record("h1")
            tx.put_device(device_record("d1"))
        assert dump_tables(path, version_1) == before
        with store.transaction() as tx:
            assert tx.list_devices(P1, "sub-alice", after=None, limit=5) == [device_record("d1")]
            tx.delete_user(P1, "alice")
            assert tx.get_device(P1, "d1") is None
    conn = sqlite3.connect(path)
    assert {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == set(TABLES)
    conn.close()


VERSION_3_TABLES = ("groups", "memberships")
VERSION_4_TABLES = ("resources", "outbox")


def test_a_version_2_file_gains_groups_and_keeps_its_rows(path, monkeypatch):
    """Schema version 3 adds `groups` and `memberships`: a file of version 2 opens at
    version 3 with every row as it was, and its users can join groups, whose memberships
    go with the user as its devices do."""
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", MIGRATIONS[:2])
    with SqliteStore(path) as store, store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_user(user_record("alice"))
        tx.put_user(user_record("bob"))
        tx.put_device(device_record("d1"))
        tx.put_session(session_record("s1"))
        tx.put_refresh_token(refresh_token_record("h1"))
    version_2 = [t for t in TABLES if t not in (*VERSION_3_TABLES, *VERSION_4_TABLES)]
    before = dump_tables(path, version_2)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert not {"groups", "memberships"} & {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    monkeypatch.undo()
    with SqliteStore(path) as store:
        with store.transaction() as tx:
            assert tx.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
            assert tx.get_device(P1, "d1") == device_record("d1")
            assert tx.list_groups(P1, after=None, limit=5) == [] and tx.groups_of(P1, "alice") == []
        assert dump_tables(path, version_2) == before
        with store.transaction() as tx:
            tx.put_group(group_record("admins"))
            tx.add_member(P1, "admins", "alice")
            tx.add_member(P1, "admins", "bob")
        with store.transaction() as tx:
            assert tx.members(P1, "admins", after=None, limit=5) == ["alice", "bob"]
            tx.delete_user(P1, "alice")
            assert tx.members(P1, "admins", after=None, limit=5) == ["bob"]
            assert tx.get_device(P1, "d1") is None
    conn = sqlite3.connect(path)
    assert {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == set(TABLES)
    conn.close()


def test_a_version_3_file_gains_resources_and_the_outbox_and_keeps_its_rows(path, monkeypatch):
    """Schema version 4 adds `resources` and `outbox`: a file of version 3 (with refresh
    tokens written before `scope` existed) opens at version 4 with every row as it was;
    its pools can hold domains, unique across pools and deleted with the pool, and
    messages go to an outbox that outlives the pool."""
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", MIGRATIONS[:3])
    with SqliteStore(path) as store, store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_pool(pool_record(P2))
        tx.put_user(user_record("alice"))
        tx.put_group(group_record("admins"))
        tx.add_member(P1, "admins", "alice")
        tx.put_refresh_token(refresh_token_record("h1"))
        tx.connection.execute("UPDATE refresh_tokens SET doc = json_remove(doc, '$.scope')")
    version_3 = [t for t in TABLES if t not in VERSION_4_TABLES]
    before = dump_tables(path, version_3)
    assert '"scope"' not in repr(before)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    assert not set(VERSION_4_TABLES) & {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    monkeypatch.undo()
    with SqliteStore(path) as store:
        with store.transaction() as tx:
            assert tx.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 4
            assert tx.get_refresh_token("h1") == refresh_token_record("h1")
            assert tx.members(P1, "admins", after=None, limit=5) == ["alice"]
            assert tx.find_resource("domain", "auth") is None and tx.list_outbox(limit=5) == []
        assert dump_tables(path, version_3) == before
        with store.transaction() as tx:
            tx.put_resource(resource_record("auth"))
            tx.put_outbox(outbox_record("m1"))
        with store.transaction() as tx:
            with pytest.raises(UniqueViolation) as err:
                tx.put_resource(resource_record("auth", pool_id=P2))
            assert (err.value.constraint, err.value.kind) == ("domain", "domain")
            tx.delete_pool(P1)
            assert tx.find_resource("domain", "auth") is None
        with store.transaction() as tx:
            assert tx.get_outbox("m1") == outbox_record("m1")
            assert tx.due_outbox(NOW, limit=5) == [outbox_record("m1")]
    conn = sqlite3.connect(path)
    assert {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == set(TABLES)
    conn.close()


def test_a_failed_migration_changes_nothing(path, monkeypatch):
    SqliteStore(path).close()
    broken = (*MIGRATIONS, ("CREATE TABLE later (x TEXT)", "CREATE INDEX oops ON no_such_table (x)"))
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        SqliteStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'later'").fetchone()[0] == 0
    conn.close()


def test_a_newer_schema_is_refused_with_both_versions_named(path):
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaTooNew) as err:
        SqliteStore(path)
    assert isinstance(err.value, StoreError)
    assert (err.value.found, err.value.known) == (99, len(MIGRATIONS))
    message = str(err.value)
    assert "schema version 99" in message and f"version {len(MIGRATIONS)}" in message and str(path) in message


@pytest.mark.parametrize("application_id", [42, 0])
def test_another_applications_database_is_refused_and_left_alone(path, application_id):
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {application_id}")
    conn.execute("CREATE TABLE notes (x)")
    conn.close()
    with pytest.raises(StoreError, match="not an authflow store"):
        SqliteStore(path)
    conn = sqlite3.connect(path)
    assert [row[0] for row in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
    conn.close()


# -- the database enforces the rules itself --------------------------------------------------


def test_uniqueness_is_enforced_by_the_database_and_named_as_the_port_names_it(store, path):
    """Rows written behind the store's back meet the same constraints, and every unique
    constraint's SQLite message is one the store translates."""
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_pool(pool_record(P2))
        tx.put_user(user_record("alice", aliases=[("email", "a@example.com")]))
        tx.put_refresh_token(refresh_token_record("h1", origin_jti="o"))
        tx.put_device(device_record("d1"))
        tx.put_resource(resource_record("auth"))
        tx.put_outbox(outbox_record("m1"))
    conn = sqlite3.connect(path)
    attempts = {
        "username": f"INSERT INTO users VALUES ('{P1}', 'alice', 'other', 1, '{{}}')",
        "sub": f"INSERT INTO users VALUES ('{P1}', 'bob', 'sub-alice', 1, '{{}}')",
        "alias": f"INSERT INTO aliases VALUES ('{P1}', 'email', 'a@example.com', 'alice')",
        "pool": f"INSERT INTO pools VALUES ('{P1}', 1, '{{}}')",
        "refresh_token": f"INSERT INTO refresh_tokens VALUES ('h1', '{P2}', 'o2', 0, 1, '{{}}')",
        "origin_jti": f"INSERT INTO refresh_tokens VALUES ('h2', '{P1}', 'o', 0, 1, '{{}}')",
        "device": f"INSERT INTO devices VALUES ('{P1}', 'd1', 'sub-alice', 1, NULL, 1, '{{}}')",
        "domain": f"INSERT INTO resources VALUES ('{P2}', 'domain', 'auth', 1, '{{}}')",
        "outbox": f"INSERT INTO outbox VALUES ('m1', '{P2}', 'b@example.com', 'PENDING', 0, 0, 1, '{{}}')",
    }
    for constraint, sql in attempts.items():
        with pytest.raises(sqlite3.IntegrityError) as err:
            conn.execute(sql)
        suffix = str(err.value).removeprefix("UNIQUE constraint failed: ")
        assert sqlite_module._UNIQUE_CONSTRAINTS[suffix] == constraint
    conn.execute(f"INSERT INTO clients VALUES ('c1', '{P1}', 1, '{{}}')")
    conn.execute(f"INSERT INTO sessions VALUES ('s1', '{P1}', 0, 1, '{{}}')")
    for sql, constraint in ((f"INSERT INTO clients VALUES ('c1', '{P2}', 1, '{{}}')", "client"),
                            (f"INSERT INTO sessions VALUES ('s1', '{P2}', 0, 1, '{{}}')", "session")):
        with pytest.raises(sqlite3.IntegrityError) as err:
            conn.execute(sql)
        assert sqlite_module._UNIQUE_CONSTRAINTS[str(err.value).removeprefix("UNIQUE constraint failed: ")] == constraint
    # other kinds than the global ones may share a name between pools
    conn.execute(f"INSERT INTO resources VALUES ('{P1}', 'resource_server', 'api', 1, '{{}}')")
    conn.execute(f"INSERT INTO resources VALUES ('{P2}', 'resource_server', 'api', 1, '{{}}')")
    assert set(sqlite_module._UNIQUE_CONSTRAINTS.values()) == {*attempts, "client", "session"}
    conn.rollback()
    conn.close()


def test_foreign_keys_are_on_and_cascade(store, path):
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_user(user_record("alice", aliases=[("email", "a@example.com")]))
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            tx.connection.execute("INSERT INTO aliases VALUES (?, 'email', 'x', 'nobody')", (P1,))
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):  # a device of no user
            tx.connection.execute("INSERT INTO devices VALUES (?, 'd1', 'sub-nobody', 1, NULL, 1, '{}')", (P1,))
        tx.put_device(device_record("d1", sub="sub-alice"))
        tx.put_device(device_record("d2", sub="sub-alice", status="NEW"))
        tx.put_group(group_record("g"))
        tx.add_member(P1, "g", "alice")
        assert tx.connection.execute("SELECT count(*) FROM memberships").fetchone()[0] == 1
    with store.transaction() as tx:
        tx.delete_pool(P1)
    assert all(rows == [] for rows in dump(path).values())


def test_memberships_are_keyed_and_owned_by_the_database(store, path):
    """Rows written behind the store's back: one membership per (pool, group, user), none
    of a missing group or user, and deleting either side's row takes its memberships."""
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_user(user_record("alice"))
        tx.put_user(user_record("bob"))
        for name in ("g1", "g2"):
            tx.put_group(group_record(name))
            tx.add_member(P1, name, "alice")
            tx.add_member(P1, name, "bob")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    for sql, message in (
        (f"INSERT INTO groups VALUES ('{P1}', 'g1', 1, '{{}}')", "UNIQUE constraint failed: groups.pool_id, groups.name"),
        (f"INSERT INTO memberships VALUES ('{P1}', 'g1', 'alice')", "UNIQUE constraint failed: memberships."),
        (f"INSERT INTO memberships VALUES ('{P1}', 'g9', 'alice')", "FOREIGN KEY"),
        (f"INSERT INTO memberships VALUES ('{P1}', 'g1', 'nobody')", "FOREIGN KEY"),
        (f"INSERT INTO memberships VALUES ('{P2}', 'g1', 'alice')", "FOREIGN KEY"),
    ):
        with pytest.raises(sqlite3.IntegrityError, match=re.escape(message)):
            conn.execute(sql)
    conn.execute(f"DELETE FROM groups WHERE pool_id = '{P1}' AND name = 'g1'")
    conn.execute(f"DELETE FROM users WHERE pool_id = '{P1}' AND username_key = 'alice'")
    assert conn.execute("SELECT * FROM memberships").fetchall() == [(P1, "g2", "bob")]
    conn.rollback()
    conn.close()


# -- query plans -----------------------------------------------------------------------------


@pytest.fixture
def populated(store):
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        for i in range(200):
            tx.put_user(user_record(
                f"user{i:03}", aliases=[("email", f"u{i}@example.com")],
                attributes={"sub": f"sub-user{i:03}", "email": f"u{i}@example.com", "name": f"N{i % 7}"},
            ))
        tx.connection.execute("ANALYZE")
    return store


@pytest.mark.parametrize("index", [None, "email", "name", "username", "cognito:user_status"])
@pytest.mark.parametrize("operator", [None, "=", "^="])
@pytest.mark.parametrize("paged", [False, True])
def test_list_users_reads_one_index_range(populated, index, operator, paged):
    """`=`, `^=` and keyset pages are index range searches: no table or index is scanned,
    and the order comes from the index (no temporary B-tree for ORDER BY)."""
    exact = "u1@example.com" if operator == "=" else None
    prefix = "u1" if operator == "^=" else None
    after = ("u1", "user001") if paged else None
    with populated.transaction() as tx:
        statements = traced(tx, lambda: tx.scan_users(P1, index=index, exact=exact, prefix=prefix, after=after,
                                                      limit=10))
        lines = plans(tx.connection, statements)
    assert lines, statements
    assert all(line.startswith("SEARCH") for line in lines), lines
    assert not any("TEMP B-TREE" in line for line in lines), lines
    assert any("user_index USING PRIMARY KEY (pool_id=? AND name=?" in line.replace(" i ", " user_index ")
               for line in lines), lines


def test_lookups_by_alias_sub_and_key_use_indexes(populated):
    with populated.transaction() as tx:
        statements = traced(tx, lambda: (
            tx.get_user_by_alias(P1, "email", "u7@example.com"),
            tx.get_user_by_sub(P1, "sub-user007"),
            tx.get_user(P1, "user007"),
            tx.get_refresh_token_by_origin(P1, "o"),
        ))
        lines = plans(tx.connection, statements)
    assert len(statements) == 4
    assert lines and all(line.startswith("SEARCH") for line in lines), lines
    assert any("users_by_sub" in line for line in lines), lines
    assert any("refresh_tokens_by_origin" in line for line in lines), lines


def test_device_listing_deletes_and_purges_use_indexes(populated):
    """ListDevices is a range of `devices_by_owner` read in key order; deleting a user
    finds its devices by that index too; purging reads `devices_by_expiry`."""
    with populated.transaction() as tx:
        for i in range(50):
            tx.put_device(device_record(f"d{i:02}", sub=f"sub-user{i % 5:03}", status="NEW" if i % 2 else "REMEMBERED",
                                        expires=NOW if i % 2 else None))
        statements = traced(tx, lambda: (
            tx.list_devices(P1, "sub-user001", after=None, limit=10),
            tx.list_devices(P1, "sub-user001", after="d10", limit=10),
            tx.get_device(P1, "d07"),
        ))
        lines = plans(tx.connection, statements)
        assert lines and all(line.startswith("SEARCH") for line in lines), lines
        assert not any("TEMP B-TREE" in line for line in lines), lines
        assert sum("devices_by_owner" in line for line in lines) == 2, lines
        purge = [row[3] for row in tx.connection.execute(
            "EXPLAIN QUERY PLAN " + sqlite_module._PURGE_DEVICES, (0, 10))]
        assert any("devices_by_expiry" in line for line in purge), purge
        cascade = [row[3] for row in tx.connection.execute(
            "EXPLAIN QUERY PLAN DELETE FROM devices WHERE pool_id = ? AND sub = ?", (P1, "sub-user001"))]
        assert any("devices_by_owner" in line for line in cascade), cascade


def test_group_listings_and_cascades_use_indexes(populated):
    """ListGroups is a range of the groups' primary key, ListUsersInGroup of the
    memberships' primary key, a user's groups a range of `memberships_by_user`, all read
    in order; deleting a group or a user finds its memberships by those indexes too."""
    with populated.transaction() as tx:
        for i in range(20):
            tx.put_group(group_record(f"g{i:02}"))
        for i in range(200):
            tx.add_member(P1, f"g{i % 20:02}", f"user{i:03}")
            tx.add_member(P1, f"g{(i + 1) % 20:02}", f"user{i:03}")
        tx.connection.execute("ANALYZE")
        statements = traced(tx, lambda: (
            tx.list_groups(P1, after=None, limit=10),
            tx.list_groups(P1, after="g05", limit=10),
            tx.count_groups(P1),
            tx.get_group(P1, "g07"),
            tx.groups_of(P1, "user007"),
            tx.members(P1, "g03", after=None, limit=10),
            tx.members(P1, "g03", after="user100", limit=10),
        ))
        lines = plans(tx.connection, statements)
        assert lines and all(line.startswith("SEARCH") for line in lines), lines
        assert not any("TEMP B-TREE" in line for line in lines), lines
        assert sum("memberships_by_user" in line for line in lines) == 1, lines
        for sql, index in (("DELETE FROM memberships WHERE pool_id = ? AND username_key = ?", "memberships_by_user"),
                           ("DELETE FROM memberships WHERE pool_id = ? AND group_name = ?", "PRIMARY KEY")):
            cascade = [row[3] for row in tx.connection.execute("EXPLAIN QUERY PLAN " + sql, (P1, "x"))]
            assert any(index in line for line in cascade), cascade


def test_list_users_results_do_not_depend_on_the_plan(populated):
    with populated.transaction() as tx:
        rows = tx.scan_users(P1, index="name", exact="N3", limit=100)
        assert [u.username for _, u in rows] == [f"user{i:03}" for i in range(200) if i % 7 == 3]
        for name in SEARCHABLE_ATTRIBUTES:
            assert tx.scan_users(P1, index=name, prefix="\U0010ffff", limit=5) == []


# -- no secret in the file -----------------------------------------------------------------


SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}


def test_the_file_holds_no_secret_after_a_full_sign_in(path):
    """Passwords, temporary passwords, Session strings, SMS codes, refresh tokens, client
    secrets and signing keys are nowhere in the database or its WAL, in any encoding the
    store could use."""
    outbox = MemoryOutbox()
    store = SqliteStore(path)
    client = authflow.Client(store=store, clock=ManualClock(START), entropy=SeededEntropy(7), messenger=outbox,
                             config=SQLITE_CONFIG)
    secrets: list[str] = []
    pool = client.create_user_pool(PoolName="p", MfaConfiguration="ON", SmsConfiguration=SMS)["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    secrets.append(client.create_user_pool_client(UserPoolId=pool, ClientName="s", GenerateSecret=True)
                   ["UserPoolClient"]["ClientSecret"])
    temporary, password = "Temp1234!tmp", "NewPass1!x-final"
    client.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword=temporary, UserAttributes=[
        {"Name": "phone_number", "Value": "+12065554567"}, {"Name": "phone_number_verified", "Value": "true"}])
    started = client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": "alice", "PASSWORD": temporary})
    mfa = client.respond_to_auth_challenge(ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
                                           ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": password})
    assert mfa["ChallengeName"] == "SMS_MFA"
    code = re.search(r"\d{6}", outbox.messages[-1].body).group(0)
    signed_in = client.respond_to_auth_challenge(ClientId=app, ChallengeName="SMS_MFA", Session=mfa["Session"],
                                                 ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": code})
    tokens = signed_in["AuthenticationResult"]
    refreshed = client.initiate_auth(ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH",
                                     AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert "AccessToken" in refreshed["AuthenticationResult"]
    secrets += [temporary, password, started["Session"], mfa["Session"], tokens["RefreshToken"],
                tokens["AccessToken"], tokens["IdToken"]]
    with store.transaction() as tx:
        keys = [client.engine.signing_key(k) for k in tx.list_signing_keys(pool)]
        pool_secret = client.engine.pool_secret(tx.get_pool(pool))

    raw = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    assert len(raw) > 10_000 and b"alice" in raw  # the files hold the data (the check can fail)
    for secret in secrets:
        for encoded in (secret.encode(), _b64(secret.encode())):
            assert encoded not in raw, f"a secret is in the database: {secret[:12]}..."
    assert not re.search(rb"(?<![0-9])" + code.encode() + rb"(?![0-9])", raw), "the SMS code is in the database"
    for blob in (*keys, pool_secret):
        assert blob not in raw and _b64(blob) not in raw
    store.close()


def _b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


# -- several stores, threads and processes on one file --------------------------------------------


def test_two_stores_on_one_file_see_each_others_commits_and_take_turns(path):
    first, second = SqliteStore(path), SqliteStore(path, busy_timeout_s=0.05)
    with first.transaction() as tx:
        tx.put_pool(pool_record())
    with second.transaction() as tx:
        assert tx.get_pool(P1) == pool_record()
        tx.put_user(user_record("bob"))
    with first.transaction() as tx:
        assert tx.get_user(P1, "bob") == user_record("bob")
        # while `first` holds the write lock, `second` waits for it, then gives up
        with pytest.raises(TransientConflict, match="locked"):
            with second.transaction():
                pass
        tx.put_user(user_record("carol"))
    with second.transaction() as tx:
        assert tx.count_users(P1) == 2
    first.close()
    second.close()


def _in_child(queue, work) -> None:
    try:
        queue.put(work())
    except BaseException as error:  # the parent waits for one answer per child
        queue.put(repr(error))


def _create_user(path: str, pool_id: str, i: int, queue) -> None:
    def work():
        with SqliteStore(path, busy_timeout_s=30) as store:
            client = authflow.Client(store=store, entropy=SeededEntropy(100 + i), config=SQLITE_CONFIG)
            try:
                client.admin_create_user(UserPoolId=pool_id, Username="alice" if i % 2 else "Alice",
                                         MessageAction="SUPPRESS")
                return "created"
            except CognitoError as err:
                return type(err).__name__

    _in_child(queue, work)


def _count_failures(path: str, n: int, queue) -> None:
    def work():
        errors = 0
        with SqliteStore(path, busy_timeout_s=30) as store:
            for _ in range(n):
                try:
                    with store.transaction() as tx:  # read-modify-write, as the lockout counter does
                        old = tx.get_failed_sign_ins(P1, "k")
                        tx.put_failed_sign_ins(replace(old, count=old.count + 1, version=old.version + 1))
                except sqlite3.OperationalError:
                    errors += 1
        return errors

    _in_child(queue, work)


def _write_in_child(store: SqliteStore, queue) -> None:
    def work():
        with store.transaction() as tx:
            tx.put_user(user_record("from-child"))
        return "done"

    _in_child(queue, work)


def _processes(target, args_list):
    """Run `target(*args, queue)` in a forked process per args; their answers, sorted."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=target, args=(*args, queue)) for args in args_list]
    for p in processes:
        p.start()
    results = [queue.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(timeout=60)
    return sorted(results, key=repr)


def test_processes_racing_to_create_one_username_have_one_winner(path):
    """Six processes, alice and Alice in a case-insensitive pool: one user."""
    with SqliteStore(path) as store:
        client = authflow.Client(store=store, config=SQLITE_CONFIG)
        pool_id = client.create_user_pool(PoolName="race", UsernameConfiguration={"CaseSensitive": False})[
            "UserPool"]["Id"]
    results = _processes(_create_user, [(str(path), pool_id, i) for i in range(6)])
    assert results == ["UsernameExistsException"] * 5 + ["created"]
    with SqliteStore(path) as store, store.transaction() as tx:
        assert tx.count_users(pool_id) == 1


def test_processes_doing_read_modify_write_never_see_database_is_locked(path):
    with SqliteStore(path) as store, store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_failed_sign_ins(failed_sign_ins_record("k", count=0))
    assert _processes(_count_failures, [(str(path), 25)] * 4) == [0] * 4
    with SqliteStore(path) as store, store.transaction() as tx:
        counter = tx.get_failed_sign_ins(P1, "k")
    assert (counter.count, counter.version) == (100, 101)


def test_a_forked_child_uses_connections_of_its_own(store):
    with store.transaction() as tx:  # the parent has a connection open and idle
        tx.put_pool(pool_record())
    assert _processes(_write_in_child, [(store,)]) == ["done"]
    with store.transaction() as tx:
        assert tx.get_user(P1, "from-child") == user_record("from-child")


def test_a_unique_violation_from_the_store_is_the_error_the_engine_maps(path):
    """Not a second check of the mapping: the store raises the port's own exception type."""
    with SqliteStore(path) as store:
        with store.transaction() as tx:
            tx.put_pool(pool_record())
            tx.put_user(user_record("alice", aliases=[("phone_number", "+1")]))
        with pytest.raises(UniqueViolation) as err, store.transaction() as tx:
            tx.put_user(user_record("bob", aliases=[("phone_number", "+1")]))
        assert (err.value.constraint, err.value.kind) == ("alias", "phone_number")


def test_instants_keep_microseconds_and_utc(store):
    moment = NOW.replace(microsecond=123456)
    with store.transaction() as tx:
        tx.put_pool(replace(pool_record(), created=moment))
    with store.transaction() as tx:
        created = tx.get_pool(P1).created
    assert created == moment and created.tzinfo is not None and created.utcoffset().total_seconds() == 0


def test_a_transaction_sqlite_rolled_back_refuses_further_work(store):
    with pytest.raises(StoreError, match="rolled back"), store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.connection.execute("ROLLBACK")  # what SQLite does itself after an I/O error or a full disk
        tx.put_pool(pool_record(P2))  # would otherwise commit on its own
    with store.transaction() as tx:
        assert tx.get_pool(P1) is None and tx.get_pool(P2) is None


def test_a_writer_that_cannot_get_the_lock_reports_a_transient_conflict(tmp_path):
    """Another process holding the write lock past the busy timeout is a transient
    conflict (the engine re-runs the operation), never an internal error."""
    import sqlite3

    path = tmp_path / "locked.db"
    store = SqliteStore(path, busy_timeout_s=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(TransientConflict, match="locked"):
            with store.transaction() as tx:
                tx.get_pool("us-east-1_x")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with store.transaction() as tx:
        assert tx.get_pool("us-east-1_x") is None
    store.close()


def _resources_and_outbox(tx, pools: int = 5, entries: int = 400) -> None:
    for p in range(pools):
        pool_id = f"us-east-1_POOL{p:05}"
        tx.put_pool(pool_record(pool_id))
        tx.put_resource(resource_record(f"domain-{p}", pool_id=pool_id))
        for i in range(20):
            tx.put_resource(resource_record(f"api-{i:02}", kind="resource_server", pool_id=pool_id))
    for i in range(entries):
        tx.put_outbox(outbox_record(f"m{i:04}", destination=f"u{i % 40}@example.com",
                                    pool_id=f"us-east-1_POOL{i % pools:05}", state="PENDING" if i % 3 else "SENT",
                                    created=NOW + i * timedelta(seconds=1)))
    tx.connection.execute("ANALYZE")


def test_resource_and_outbox_reads_use_indexes_in_order(populated):
    """A pool's resources are a range of the primary key, a domain by name a search of
    `resources_global_name`, due entries a range of `outbox_due`, and the console's
    listings ranges of `outbox_by_age`, `outbox_by_pool` or `outbox_by_destination`,
    all read in order (no temporary B-tree for ORDER BY)."""
    pool_id, before = "us-east-1_POOL00001", (NOW + timedelta(seconds=200), "m0200")
    with populated.transaction() as tx:
        _resources_and_outbox(tx)
        statements = traced(tx, lambda: (
            tx.get_resource(pool_id, "domain", "domain-1"),
            tx.find_resource("domain", "domain-1"),
            tx.list_resources(pool_id, "resource_server", after=None, limit=5),
            tx.list_resources(pool_id, "resource_server", after="api-03", limit=5),
            tx.get_outbox("m0007"),
            tx.due_outbox(NOW + timedelta(seconds=100), limit=10),
            tx.list_outbox(limit=10),
            tx.list_outbox(before=before, limit=10),
            tx.list_outbox(pool_id=pool_id, limit=10),
            tx.list_outbox(pool_id=pool_id, before=before, limit=10),
            tx.list_outbox(destination="u7@example.com", limit=10),
            tx.list_outbox(destination="u7@example.com", before=before, limit=10),
        ))
        assert [e.id for e in tx.list_outbox(pool_id=pool_id, before=before, limit=2)] == ["m0196", "m0191"]
        lines = plans(tx.connection, statements)
    assert len(statements) == 12
    assert not any("TEMP B-TREE" in line for line in lines), lines
    assert not any(line.startswith("SCAN outbox") and "USING" not in line for line in lines), lines
    for index in ("resources_global_name", "outbox_due", "outbox_by_age", "outbox_by_pool", "outbox_by_destination"):
        assert any(index in line for line in lines), (index, lines)
