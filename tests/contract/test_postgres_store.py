"""The store contract (`authflow.testing.contract`) run against PostgresStore, plus what
only PostgreSQL has: isolation, migrations, constraint names and collations, query
plans, what the database holds, several stores on one schema, and real conflicts
between concurrent transactions (serialization failures, lock timeouts, lost updates).

Every store gets a PostgreSQL schema of its own: here a fresh one, dropped at the end
of its test; in the contract run the emptied schema of a store already closed, or a
fresh one (the stateful tests make a store per example, and on a busy machine making
and dropping a schema costs a few hundred milliseconds). The server is the `pg_dsn`
fixture's: `AUTHFLOW_TEST_PG_DSN`, or a throwaway cluster (tests/pg.py).
"""

from __future__ import annotations

import base64
import itertools
import json
import multiprocessing
import os
import re
import threading
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy
from authflow.adapters import postgres as postgres_module
from authflow.adapters.postgres import HEAD_CHARS, MIGRATIONS, TABLES, PostgresStore, SchemaTooNew
from authflow.core.listing import SEARCHABLE_ATTRIBUTES
from authflow.crypto.sealing import Keyring
from authflow.errors import CognitoError
from authflow.ports import StoreError, TransientConflict, UniqueViolation
from authflow.testing.contract import (
    NOW,
    P1,
    P2,
    StoreContract,
    client_record,
    device_record,
    failed_sign_ins_record,
    pool_record,
    refresh_token_record,
    session_record,
    user_record,
)
from authflow.testing.records import group_record, outbox_record, resource_record
from tests.conftest import START, TEST_CONFIG
from tests.external import need

try:
    import psycopg
except ImportError:  # the tests then skip (locally) or fail (in CI) through `need`
    psycopg = None

KEK = Keyring(b"k" * 32)
PG_CONFIG = replace(TEST_CONFIG, kek=KEK)
_numbers = itertools.count()


def new_schema() -> str:
    return f"t_{os.getpid()}_{next(_numbers)}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def dsn(pg_dsn):
    need(psycopg is not None, "psycopg is not installed: pip install 'authflow[postgres]'")
    return pg_dsn


@pytest.fixture
def schemas(dsn):
    """Names of fresh schemas; each one handed out is dropped at the end of the test."""
    made: list[str] = []

    def make() -> str:
        made.append(new_schema())
        return made[-1]

    yield make
    for schema in made:
        PostgresStore.drop_schema(dsn, schema)


def dump(store: PostgresStore, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple]]:
    """Every row of every table (derived rows included), as stored, in a stable order."""
    with store.transaction() as tx:
        return {
            table: sorted(tuple(row) for row in tx.connection.execute(f"SELECT * FROM {table}"))
            for table in tables
        }


@pytest.fixture(scope="class")
def idle_schemas(pg_dsn):
    """Schemas of a test class's closed stores, for its next stores to reuse (emptying a
    schema is much cheaper than making one), and every schema it made, dropped when the
    class is done."""
    need(psycopg is not None, "psycopg is not installed: pip install 'authflow[postgres]'")
    idle: list[str] = []
    every: list[str] = []
    yield idle, every
    for schema in every:
        PostgresStore.drop_schema(pg_dsn, schema)


class TestPostgresStore(StoreContract):
    # A quarter of the profile's examples for the two model-based tests (each example makes
    # and empties a schema: they were 150 s of a 16-minute CI run); memory and SQLite run them
    # in full, and test_stores_agree drives PostgreSQL beside both.
    stateful_examples_divisor = 4

    @pytest.fixture(autouse=True)
    def _server(self, dsn, idle_schemas):
        self.dsn = dsn
        self.idle, self.every = idle_schemas
        self.made: list[PostgresStore] = []
        yield
        for store in self.made:
            store.close()
            self.idle.append(store.schema)

    def make_store(self) -> PostgresStore:
        """A store on a schema of its own: the schema of a store closed already, emptied,
        or else a new one (the stateful tests make a store per example)."""
        closed = [store for store in self.made if store.closed]
        if closed:
            self.made.remove(closed[0])
            self.idle.append(closed[0].schema)
        if self.idle:
            store = PostgresStore(self.dsn, schema=self.idle.pop())
            with store.transaction() as tx:
                tx.connection.execute("DELETE FROM pools")  # everything else hangs off the pools...
                tx.connection.execute("DELETE FROM outbox")  # ...but the outbox, which outlives them
                assert all(tx.connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0 for t in TABLES)
        else:
            self.every.append(new_schema())
            store = PostgresStore(self.dsn, schema=self.every[-1])
        self.made.append(store)
        return store

    def contents(self, store):
        return dump(store)



@pytest.fixture
def store(dsn, schemas):
    with PostgresStore(dsn, schema=schemas()) as store:
        yield store


# -- transactions ----------------------------------------------------------------------------


def test_transactions_are_serializable_and_do_not_nest(store):
    with store.transaction() as tx:
        assert tx.connection.execute("SHOW transaction_isolation").fetchone()[0] == "serializable"
        assert tx.connection.execute("SHOW search_path").fetchone()[0] == store.schema
        with pytest.raises(RuntimeError, match="do not nest"):
            with store.transaction():
                pass
        tx.put_pool(pool_record())  # the refused inner one did not disturb the outer one
    with store.transaction() as tx:
        assert tx.get_pool(P1) == pool_record()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        with store.transaction():
            pass


def test_a_failed_statement_outside_a_put_makes_the_transaction_refuse_to_commit(store):
    """PostgreSQL answers COMMIT of a failed transaction with a silent ROLLBACK: the
    store must not report such a block as committed."""
    with store.transaction() as tx:
        tx.put_pool(pool_record())
    with pytest.raises(StoreError, match="earlier statement"):
        with store.transaction() as tx:
            tx.put_pool(pool_record(P2))
            with pytest.raises(psycopg.Error):
                tx._execute("SELECT no_such_column FROM pools")
            with pytest.raises(StoreError):
                tx.get_pool(P1)
    with store.transaction() as tx:
        assert tx.get_pool(P2) is None


def test_the_schema_name_is_checked(dsn):
    for bad in ("", "Upper", "x-y", 'a"b', "x" * 64, "1x"):
        with pytest.raises(ValueError, match="schema"):
            PostgresStore(dsn, schema=bad)


def test_repr_and_messages_never_show_the_dsn(dsn, schemas):
    secret_dsn = dsn + " password=hunter2-secret"
    with PostgresStore(secret_dsn, schema=schemas()) as store:
        assert "hunter2" not in repr(store)


# -- migrations ----------------------------------------------------------------------------


def _schema_version(dsn: str, schema: str) -> tuple[str, int]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT application, version FROM {schema}.schema_info").fetchone()


def _tables(dsn: str, schema: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}


def test_a_new_schema_gets_every_table(dsn, schemas):
    schema = schemas()
    PostgresStore(dsn, schema=schema).close()
    assert _schema_version(dsn, schema) == ("authflow", len(MIGRATIONS))
    assert _tables(dsn, schema) == {*TABLES, "schema_info"}


def test_every_text_key_column_compares_by_code_point(dsn, schemas):
    """COLLATE "C" on every text column but the documents: byte order of UTF-8, which is
    code point order, whatever the database's default collation."""
    schema = schemas()
    PostgresStore(dsn, schema=schema).close()
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            """SELECT table_name, column_name, collation_name FROM information_schema.columns
               WHERE table_schema = %s AND data_type = 'text' AND table_name <> 'schema_info'""",
            (schema,),
        ).fetchall()
    assert len(columns) > 20
    assert [c for c in columns if c[1] != "doc" and c[2] != "C"] == []


def test_missing_migrations_are_applied_on_open_and_keep_the_data(dsn, schemas, monkeypatch):
    schema = schemas()
    with PostgresStore(dsn, schema=schema) as store:
        with store.transaction() as tx:
            tx.put_pool(pool_record())
        before = dump(store)
    newer = (*MIGRATIONS, ("CREATE TABLE later (x text)", "CREATE INDEX later_x ON later (x)"))
    monkeypatch.setattr(postgres_module, "MIGRATIONS", newer)
    with PostgresStore(dsn, schema=schema) as store:
        with store.transaction() as tx:
            assert tx.get_pool(P1) == pool_record()
            assert tx.connection.execute("SELECT count(*) FROM later").fetchone()[0] == 0
        assert dump(store) == before
    assert _schema_version(dsn, schema) == ("authflow", len(newer))
    PostgresStore(dsn, schema=schema).close()  # opening an up-to-date schema again changes nothing


def test_a_version_1_schema_gains_devices_and_keeps_its_rows(dsn, schemas, monkeypatch):
    """Schema version 2 adds `devices`: a schema of version 1 with sessions and refresh
    tokens written before devices existed (no `device_key` in their documents) opens at
    version 2 with every row, and its users can hold devices."""
    schema = schemas()
    monkeypatch.setattr(postgres_module, "MIGRATIONS", MIGRATIONS[:1])
    with PostgresStore(dsn, schema=schema) as store, store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_user(user_record("alice"))
        tx.put_session(session_record("s1"))
        tx.put_refresh_token(refresh_token_record("h1"))
        for table in ("sessions", "refresh_tokens"):
            tx.connection.execute(f"UPDATE {table} SET doc = (doc::jsonb - 'device_key')::text")
        assert "devices" not in {r[0] for r in tx.connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
    assert _schema_version(dsn, schema) == ("authflow", 1)
    monkeypatch.undo()
    with PostgresStore(dsn, schema=schema) as store:
        with store.transaction() as tx:
            assert tx.get_session("s1") == session_record("s1")
            assert tx.get_refresh_token("h1") == refresh_token_record("h1")
            assert tx.get_user(P1, "alice") == user_record("alice")
            tx.put_device(device_record("d1"))
        with store.transaction() as tx:
            assert tx.list_devices(P1, "sub-alice", after=None, limit=5) == [device_record("d1")]
            tx.delete_user(P1, "alice")
            assert tx.get_device(P1, "d1") is None
    assert _schema_version(dsn, schema) == ("authflow", len(MIGRATIONS))
    assert _tables(dsn, schema) == {*TABLES, "schema_info"}


VERSION_4_TABLES = ("resources", "outbox")
VERSION_2_TABLES = tuple(t for t in TABLES if t not in ("groups", "memberships", *VERSION_4_TABLES))


def test_a_version_2_schema_gains_groups_and_keeps_its_rows(dsn, schemas, monkeypatch):
    """Schema version 3 adds `groups` and `memberships`: a schema of version 2 opens at
    version 3 with every row as it was, and its users can join groups, whose memberships
    go with the user as its devices do."""
    schema = schemas()
    monkeypatch.setattr(postgres_module, "MIGRATIONS", MIGRATIONS[:2])
    with PostgresStore(dsn, schema=schema) as store:
        with store.transaction() as tx:
            tx.put_pool(pool_record())
            tx.put_user(user_record("alice"))
            tx.put_user(user_record("bob"))
            tx.put_device(device_record("d1"))
            tx.put_session(session_record("s1"))
        before = dump(store, VERSION_2_TABLES)
    assert _schema_version(dsn, schema) == ("authflow", 2)
    assert not {"groups", "memberships"} & _tables(dsn, schema)
    monkeypatch.undo()
    with PostgresStore(dsn, schema=schema) as store:
        assert dump(store, VERSION_2_TABLES) == before
        with store.transaction() as tx:
            assert tx.list_groups(P1, after=None, limit=5) == [] and tx.groups_of(P1, "alice") == []
            tx.put_group(group_record("admins"))
            tx.add_member(P1, "admins", "alice")
            tx.add_member(P1, "admins", "bob")
        with store.transaction() as tx:
            assert tx.members(P1, "admins", after=None, limit=5) == ["alice", "bob"]
            tx.delete_user(P1, "alice")
            assert tx.members(P1, "admins", after=None, limit=5) == ["bob"]
            assert tx.get_device(P1, "d1") is None
    assert _schema_version(dsn, schema) == ("authflow", len(MIGRATIONS))
    assert _tables(dsn, schema) == {*TABLES, "schema_info"}


def test_a_version_3_schema_gains_resources_and_the_outbox_and_keeps_its_rows(dsn, schemas, monkeypatch):
    """Schema version 4 adds `resources` and `outbox`: a schema of version 3 (with refresh
    tokens written before `scope` existed) opens at version 4 with every row as it was;
    its pools can hold domains, unique across pools and deleted with the pool, and
    messages go to an outbox that outlives the pool."""
    schema = schemas()
    version_3 = tuple(t for t in TABLES if t not in VERSION_4_TABLES)
    monkeypatch.setattr(postgres_module, "MIGRATIONS", MIGRATIONS[:3])
    with PostgresStore(dsn, schema=schema) as store:
        with store.transaction() as tx:
            tx.put_pool(pool_record())
            tx.put_pool(pool_record(P2))
            tx.put_user(user_record("alice"))
            tx.put_group(group_record("admins"))
            tx.add_member(P1, "admins", "alice")
            tx.put_refresh_token(refresh_token_record("h1"))
            tx.connection.execute("UPDATE refresh_tokens SET doc = (doc::jsonb - 'scope')::text")
        before = dump(store, version_3)
    assert '"scope"' not in repr(before)
    assert _schema_version(dsn, schema) == ("authflow", 3)
    assert not set(VERSION_4_TABLES) & _tables(dsn, schema)
    monkeypatch.undo()
    with PostgresStore(dsn, schema=schema) as store:
        assert dump(store, version_3) == before
        with store.transaction() as tx:
            assert tx.get_refresh_token("h1") == refresh_token_record("h1")
            assert tx.members(P1, "admins", after=None, limit=5) == ["alice"]
            assert tx.find_resource("domain", "auth") is None and tx.list_outbox(limit=5) == []
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
    assert _schema_version(dsn, schema) == ("authflow", len(MIGRATIONS)) == ("authflow", 4)
    assert _tables(dsn, schema) == {*TABLES, "schema_info"}


def test_a_failed_migration_changes_nothing(dsn, schemas, monkeypatch):
    schema = schemas()
    PostgresStore(dsn, schema=schema).close()
    broken = (*MIGRATIONS, ("CREATE TABLE later (x text)", "CREATE INDEX oops ON no_such_table (x)"))
    monkeypatch.setattr(postgres_module, "MIGRATIONS", broken)
    with pytest.raises(psycopg.errors.UndefinedTable):
        PostgresStore(dsn, schema=schema)
    assert _schema_version(dsn, schema) == ("authflow", len(MIGRATIONS))
    assert "later" not in _tables(dsn, schema)


def test_a_newer_schema_is_refused_with_both_versions_named(dsn, schemas):
    schema = schemas()
    PostgresStore(dsn, schema=schema).close()
    with psycopg.connect(dsn) as conn:
        conn.execute(f"UPDATE {schema}.schema_info SET version = 99")
    with pytest.raises(SchemaTooNew) as err:
        PostgresStore(dsn, schema=schema)
    assert isinstance(err.value, StoreError)
    assert (err.value.found, err.value.known) == (99, len(MIGRATIONS))
    message = str(err.value)
    assert "schema version 99" in message and f"version {len(MIGRATIONS)}" in message and schema in message


def test_another_applications_schema_is_refused(dsn, schemas):
    schema = schemas()
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.pools (x text)")
    with pytest.raises(StoreError, match="not an authflow store"):
        PostgresStore(dsn, schema=schema)


def test_stores_opened_at_once_migrate_the_schema_once(dsn, schemas):
    schema = schemas()
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            PostgresStore(dsn, schema=schema).close()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _schema_version(dsn, schema) == ("authflow", len(MIGRATIONS))


# -- the database enforces the rules itself --------------------------------------------------


def test_uniqueness_is_enforced_by_the_database_and_named_as_the_port_names_it(store, dsn):
    """Rows written behind the store's back meet the same constraints, and every unique
    constraint's name is one the store translates."""
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_pool(pool_record(P2))
        tx.put_user(user_record("alice", aliases=[("email", "a@example.com")]))
        tx.put_refresh_token(refresh_token_record("h1", origin_jti="o"))
        tx.put_client(client_record("c1"))
        tx.put_session(session_record("s1"))
        tx.put_device(device_record("d1"))
        tx.put_resource(resource_record("auth"))
        tx.put_outbox(outbox_record("m1"))
        digest = tx.connection.execute("SELECT key_sha256 FROM aliases").fetchone()[0]
    attempts = {
        "username": (f"INSERT INTO users VALUES ('{P1}', 'alice', 'other', 1, '{{}}')", ()),
        "sub": (f"INSERT INTO users VALUES ('{P1}', 'bob', 'sub-alice', 1, '{{}}')", ()),
        "alias": (f"INSERT INTO aliases VALUES ('{P1}', 'email', %s, 'a@example.com', 'alice')", (digest,)),
        "pool": (f"INSERT INTO pools VALUES ('{P1}', 1, '{{}}')", ()),
        "client": (f"INSERT INTO clients VALUES ('c1', '{P2}', 1, '{{}}')", ()),
        "session": (f"INSERT INTO sessions VALUES ('s1', '{P2}', 0, 1, '{{}}')", ()),
        "refresh_token": (f"INSERT INTO refresh_tokens VALUES ('h1', '{P2}', 'o2', 0, 1, '{{}}')", ()),
        "origin_jti": (f"INSERT INTO refresh_tokens VALUES ('h2', '{P1}', 'o', 0, 1, '{{}}')", ()),
        "device": (f"INSERT INTO devices VALUES ('{P1}', 'd1', 'sub-alice', 1, NULL, 1, '{{}}')", ()),
        "domain": (f"INSERT INTO resources VALUES ('{P2}', 'domain', 'auth', 1, '{{}}')", ()),
        "outbox": ("INSERT INTO outbox VALUES ('m1', %s, 'b@example.com', 'PENDING', 0, 0, 1, '{}')", (P2,)),
    }
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {store.schema}")
        for constraint, (sql, params) in attempts.items():
            with pytest.raises(psycopg.errors.UniqueViolation) as err:
                conn.execute(sql, params)
            assert postgres_module._UNIQUE_CONSTRAINTS[err.value.diag.constraint_name] == constraint
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(f"INSERT INTO aliases VALUES ('{P1}', 'email', '\\x00', 'x', 'nobody')")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # a device of no user
            conn.execute(f"INSERT INTO devices VALUES ('{P1}', 'd2', 'sub-nobody', 1, NULL, 1, '{{}}')")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # a resource of no pool
            conn.execute("INSERT INTO resources VALUES ('us-east-1_NOPOOLXXX', 'domain', 'x', 1, '{}')")
        # other kinds than the global ones may share a name between pools
        conn.execute(f"INSERT INTO resources VALUES ('{P1}', 'resource_server', 'api', 1, '{{}}')")
        conn.execute(f"INSERT INTO resources VALUES ('{P2}', 'resource_server', 'api', 1, '{{}}')")
    assert set(postgres_module._UNIQUE_CONSTRAINTS.values()) == set(attempts)


def test_memberships_are_keyed_and_owned_by_the_database(store, dsn):
    """Rows written behind the store's back: one group per (pool, name) and one
    membership per (pool, group, user), none of a missing group or user, and deleting
    either side's row takes its memberships. `groups_pkey` is no port constraint: a
    second group of a name is a stale insert (`VersionConflict`), not a uniqueness error."""
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_user(user_record("alice"))
        tx.put_user(user_record("bob"))
        for name in ("g1", "g2"):
            tx.put_group(group_record(name))
            tx.add_member(P1, name, "alice")
            tx.add_member(P1, name, "bob")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {store.schema}")
        for sql, error, constraint in (
            (f"INSERT INTO groups VALUES ('{P1}', 'g1', 1, '{{}}')", psycopg.errors.UniqueViolation, "groups_pkey"),
            (f"INSERT INTO memberships VALUES ('{P1}', 'g1', 'alice')", psycopg.errors.UniqueViolation,
             "memberships_pkey"),
            (f"INSERT INTO memberships VALUES ('{P1}', 'g9', 'alice')", psycopg.errors.ForeignKeyViolation,
             "memberships_group_fkey"),
            (f"INSERT INTO memberships VALUES ('{P1}', 'g1', 'nobody')", psycopg.errors.ForeignKeyViolation,
             "memberships_user_fkey"),
        ):
            with pytest.raises(error) as err:
                conn.execute(sql)
            assert err.value.diag.constraint_name == constraint
            assert constraint not in postgres_module._UNIQUE_CONSTRAINTS
        with conn.transaction():
            conn.execute(f"DELETE FROM groups WHERE pool_id = '{P1}' AND name = 'g1'")
            conn.execute(f"DELETE FROM users WHERE pool_id = '{P1}' AND username_key = 'alice'")
            assert conn.execute("SELECT * FROM memberships").fetchall() == [(P1, "g2", "bob")]
            raise psycopg.Rollback


def test_deleting_a_pool_cascades_in_the_database(store):
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_user(user_record("alice", aliases=[("email", "a@example.com")]))
        tx.put_failed_sign_ins(failed_sign_ins_record("k"))
        tx.put_device(device_record("d1"))
        tx.put_device(device_record("d2", status="NEW"))
        tx.put_group(group_record("g"))
        tx.add_member(P1, "g", "alice")
    assert dump(store)["memberships"] == [(P1, "g", "alice")]
    with store.transaction() as tx:
        tx.delete_pool(P1)
    assert all(rows == [] for rows in dump(store).values())


def test_a_unique_violation_from_the_store_is_the_error_the_engine_maps(store):
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_user(user_record("alice", aliases=[("phone_number", "+1")]))
    with pytest.raises(UniqueViolation) as err, store.transaction() as tx:
        tx.put_user(user_record("bob", aliases=[("phone_number", "+1")]))
    assert (err.value.constraint, err.value.kind) == ("alias", "phone_number")


def test_key_text_with_nul_and_u0001_is_stored_and_ordered_exactly(store):
    names = ["a", "a\x00", "a\x00\x00", "a\x01", "a\x01\x02", "a\x02", "\x00", "\x01", "\x01\x01", "", "b"]
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        for i, name in enumerate(names):
            tx.put_user(user_record(f"u{i:02}", attributes={"sub": f"sub-{i}", "name": name},
                                    aliases=[("preferred_username", name)]))
    with store.transaction() as tx:
        rows = tx.scan_users(P1, index="name", limit=100)
        assert [p for p, _ in rows] == sorted((n, f"u{i:02}") for i, n in enumerate(names))
        for i, name in enumerate(names):
            assert tx.get_user_by_alias(P1, "preferred_username", name).username == f"u{i:02}"
            assert [u.username for _, u in tx.scan_users(P1, index="name", exact=name, limit=5)] == [f"u{i:02}"]
            expected = sorted(f"u{j:02}" for j, n in enumerate(names) if n.startswith(name))
            got = [u.username for _, u in tx.scan_users(P1, index="name", prefix=name, limit=100)]
            assert sorted(got) == expected, name


# -- values longer than the index holds --------------------------------------------------------


def _long_users():
    """Users whose attribute values are longer than the ListUsers B-tree holds (and than
    a B-tree entry may be: 2000 four-byte characters), many sharing their first
    HEAD_CHARS characters, some only a prefix of others."""
    emoji, base = "\U0001f600", "\U0001f600" * HEAD_CHARS
    values = [base, base + "a", base + "b", base + "a" + emoji * 1800, base + "\x00", base + "\U0010ffff",
              emoji * 2000, "short", base[:-1], base[:-1] + "\U0010ffff", "a" * 2048, "a" * 2047 + "b"]
    users = []
    for i, value in enumerate(values):
        users.append(user_record(f"u{i:02}", attributes={"sub": f"sub-{i}", "email": value, "name": value},
                                 aliases=[("email", value)]))
    users.append(user_record("u99", attributes={"sub": "sub-99", "name": base + "a"}))  # a shared value
    return users, values


def test_long_values_are_indexed_and_scanned_exactly_as_in_memory(store):
    users, values = _long_users()
    memory = MemoryStore()
    for s in (store, memory):
        with s.transaction() as tx:
            tx.put_pool(pool_record())
            for user in users:
                tx.put_user(user)
    emoji = "\U0001f600"
    filters = [(None, None), *((v, None) for v in values), *((None, v) for v in values),
               (None, emoji * (HEAD_CHARS - 1)), (None, emoji * (HEAD_CHARS + 1)), (None, "a" * 2047),
               (None, emoji * HEAD_CHARS + "a")]
    with store.transaction() as tx, memory.transaction() as mx:
        for name in ("name", "email", None):
            for exact, prefix in filters:
                everything = mx.scan_users(P1, index=name, exact=exact, prefix=prefix, limit=1000)
                assert tx.scan_users(P1, index=name, exact=exact, prefix=prefix, limit=1000) == everything
                for page in (1, 3):  # keyset pages, from every position
                    for position, _ in [((v, ""), None) for v in values[:4]] + everything:
                        assert (tx.scan_users(P1, index=name, exact=exact, prefix=prefix, after=position, limit=page)
                                == mx.scan_users(P1, index=name, exact=exact, prefix=prefix, after=position,
                                                 limit=page)), (name, exact, prefix, position)
        for i, value in enumerate(values):
            assert tx.get_user_by_alias(P1, "email", value).username == f"u{i:02}"
        with pytest.raises(UniqueViolation):
            tx.put_user(user_record("dup", aliases=[("email", values[3])]))


# -- code point order whatever the database's collation ------------------------------------------


def test_order_is_code_point_order_in_a_database_with_a_language_collation(dsn):
    """In a database whose default collation is ICU's (where "a" < "B" and "é" sorts next to
    "e"), the store still orders as Python does."""
    conninfo = psycopg.conninfo.conninfo_to_dict(dsn)
    name = f"authflow_icu_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu "
                         "ICU_LOCALE 'en' LOCALE 'C.UTF-8'")
    except psycopg.Error as error:
        pytest.skip(f"cannot create an ICU database here: {error}")
    icu_dsn = psycopg.conninfo.make_conninfo(**{**conninfo, "dbname": name})
    try:
        with psycopg.connect(icu_dsn) as conn:  # the database does order by language
            assert [r[0] for r in conn.execute("SELECT x FROM unnest(ARRAY['b', 'B', 'a', 'é', 'f']) x ORDER BY x")] \
                == ["a", "b", "B", "é", "f"]
        values = ["b", "B", "a", "é", "e", "f", "Z", "\U0010ffff", "\uffff", "ab", "a b", "a-b", "A"]
        with PostgresStore(icu_dsn, schema="authflow") as store:
            with store.transaction() as tx:
                tx.put_pool(pool_record())
                for i, value in enumerate(values):
                    tx.put_user(user_record(value, sub=f"s{i}", attributes={"sub": f"s{i}", "name": value}))
                    tx.put_pool(pool_record(f"p-{value}"))
            with store.transaction() as tx:
                assert [p for p, _ in tx.scan_users(P1, index="name", limit=100)] == sorted((v, v) for v in values)
                assert [p for p, _ in tx.scan_users(P1, index=None, limit=100)] == sorted((v, v) for v in values)
                assert [p.id for p in tx.list_pools(after=None, limit=100)] == sorted([P1, *(f"p-{v}" for v in values)])
                assert [u.username for _, u in tx.scan_users(P1, index="name", prefix="a", limit=100)] == \
                    ["a", "a b", "a-b", "ab"]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# -- query plans -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def populated(pg_dsn):
    """3000 users (about 15000 index entries and 3000 aliases), 1000 refresh tokens, 1000
    groups (30 of them with 100 members each), a small second pool, and fresh statistics. Shared by the tests that only read."""
    need(psycopg is not None, "psycopg is not installed: pip install 'authflow[postgres]'")
    schema = new_schema()
    store = PostgresStore(pg_dsn, schema=schema)
    try:
        with store.transaction() as tx:
            tx.put_pool(pool_record())
            tx.put_pool(pool_record(P2))
            tx.put_user(user_record("other", pool_id=P2))
        for chunk in range(3):
            with store.transaction() as tx:
                for i in range(chunk * 1000, chunk * 1000 + 1000):
                    tx.put_user(user_record(
                        f"user{i:04}", aliases=[("email", f"u{i}@example.com")],
                        attributes={"sub": f"sub-user{i:04}", "email": f"u{i}@example.com", "name": f"N{i % 7}"},
                    ))
                    if i % 3 == 0:
                        tx.put_refresh_token(refresh_token_record(f"h{i}", origin_jti=f"o{i}"))
        with store.transaction() as tx:
            for g in range(1000):  # enough that reading one by key is cheaper than reading all
                tx.put_group(group_record(f"g{g:02}"))
            for i in range(3000):
                tx.add_member(P1, f"g{i % 30:02}", f"user{i:04}")
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {schema}")
            for table in TABLES:
                conn.execute(f"ANALYZE {table}")
        yield store
    finally:
        store.close()
        PostgresStore.drop_schema(pg_dsn, schema)


class Recorder:
    """Stands in for a transaction's cursor and notes every statement with its parameters."""

    def __init__(self, cursor) -> None:
        self.cursor, self.statements = cursor, []

    def execute(self, sql, params=None):
        self.statements.append((sql, params))
        return self.cursor.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self.cursor, name)


def plans(tx, call) -> list[dict]:
    """The JSON plan of every SELECT the store ran for `call()`, planned with its parameters."""
    recorder = Recorder(tx._cursor)
    tx._cursor = recorder
    try:
        call()
    finally:
        tx._cursor = recorder.cursor
    return [tx.connection.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]
            for sql, params in recorder.statements if sql.lstrip().upper().startswith("SELECT")]


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


def scans(plan: dict) -> list[tuple[str, str | None, str | None]]:
    """(node type, relation, index) of every node of a plan that reads a table."""
    return [(n["Node Type"], n["Relation Name"], n.get("Index Name")) for n in nodes(plan)
            if "Relation Name" in n]


def sorts_the_range(plan: dict, sorting: bool = False) -> bool:
    """Whether entries read from `user_index_scan` are sorted before a LIMIT cuts them
    (sorting a page after its LIMIT is fine: at most a page of rows)."""
    if plan["Node Type"] in ("Sort", "Incremental Sort"):
        sorting = True
    elif plan["Node Type"] == "Limit":
        sorting = False
    if plan.get("Index Name") == "user_index_scan" and sorting:
        return True
    return any(sorts_the_range(child, sorting) for child in plan.get("Plans", ()))


@pytest.mark.parametrize("index", [None, "email", "name", "username", "status", "cognito:user_status"])
@pytest.mark.parametrize("operator", [None, "=", "^="])
@pytest.mark.parametrize("paged", [False, True])
def test_list_users_reads_one_index_range(populated, index, operator, paged):
    """`=`, `^=` and keyset pages are range scans of `user_index_scan` read in index order
    up to the LIMIT, with users fetched by primary key: no sequential scan, and no sort
    of more than a page."""
    value = {None: "user0", "email": "u1", "name": "N3", "username": "user0", "status": "Enabled",
             "cognito:user_status": "FORCE_CHANGE_PASSWORD"}[index]
    exact = value if operator == "=" else None
    prefix = value[:-1] if operator == "^=" else None
    after = (value, "user0100") if paged else None
    with populated.transaction() as tx:
        found = plans(tx, lambda: tx.scan_users(P1, index=index, exact=exact, prefix=prefix, after=after, limit=10))
    assert len(found) == 1
    used = scans(found[0])
    assert any(index == "user_index_scan" and kind in ("Index Scan", "Index Only Scan")
               for kind, _, index in used), used
    assert all(kind in ("Index Scan", "Index Only Scan") for kind, _, _ in used), used
    assert {relation for _, relation, _ in used} == {"user_index", "users"}, used
    assert not sorts_the_range(found[0]), json.dumps(found[0], indent=1)


def test_lookups_by_alias_sub_and_key_use_indexes(populated):
    with populated.transaction() as tx:
        found = plans(tx, lambda: (
            tx.get_user_by_alias(P1, "email", "u7@example.com"),
            tx.get_user_by_sub(P1, "sub-user0007"),
            tx.get_user(P1, "user0007"),
            tx.get_refresh_token_by_origin(P1, "o300"),
            tx.count_users(P2),  # counting a whole pool is a scan of that pool's keys
        ))
    used = [scans(plan) for plan in found]
    assert len(used) == 5
    assert all(kind in ("Index Scan", "Index Only Scan") for plan in used for kind, _, _ in plan), used
    names = {index for plan in used for _, _, index in plan}
    assert {"aliases_pkey", "users_sub_key", "users_pkey", "refresh_tokens_origin_key"} <= names, names


def test_group_listings_use_indexes_in_order(populated):
    """ListGroups and ListUsersInGroup are ranges of the primary keys, a user's groups a
    range of `memberships_by_user`, each read in index order: no sequential scan, no sort."""
    with populated.transaction() as tx:
        found = plans(tx, lambda: (
            tx.list_groups(P1, after=None, limit=10),
            tx.list_groups(P1, after="g05", limit=10),
            tx.get_group(P1, "g07"),
            tx.groups_of(P1, "user0007"),
            tx.members(P1, "g03", after=None, limit=10),
            tx.members(P1, "g03", after="user1000", limit=10),
        ))
        assert tx.members(P1, "g03", after="user1000", limit=2) == ["user1023", "user1053"]
    used = [scans(plan) for plan in found]
    assert len(used) == 6
    assert all(kind in ("Index Scan", "Index Only Scan") for plan in used for kind, _, _ in plan), used
    assert [{index for _, _, index in plan} for plan in used] == [
        {"groups_pkey"}, {"groups_pkey"}, {"groups_pkey"},
        {"memberships_by_user"}, {"memberships_pkey"}, {"memberships_pkey"}]
    assert not any(n["Node Type"] in ("Sort", "Incremental Sort") for plan in found for n in nodes(plan)), found


def test_list_users_results_do_not_depend_on_the_plan(populated):
    with populated.transaction() as tx:
        rows = tx.scan_users(P1, index="name", exact="N3", limit=1000)
        assert [u.username for _, u in rows] == [f"user{i:04}" for i in range(3000) if i % 7 == 3]
        page = tx.scan_users(P1, index="status", exact="Enabled", after=("Enabled", "user0100"), limit=3)
        assert [u.username for _, u in page] == ["user0101", "user0102", "user0103"]
        for name in SEARCHABLE_ATTRIBUTES:
            assert tx.scan_users(P1, index=name, prefix="\U0010ffff", limit=5) == []


# -- no secret in the database -------------------------------------------------------------------


SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}


def everything_stored(dsn: str, store: PostgresStore) -> bytes:
    """Every row of every table of the store's schema, as PostgreSQL's COPY writes it."""
    raw = b""
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                             (store.schema,))]
        for table in tables:
            with conn.cursor().copy(f'COPY "{store.schema}"."{table}" TO STDOUT') as copy:
                raw += b"".join(bytes(chunk) for chunk in copy)
    return raw


def test_the_database_holds_no_secret_after_a_full_sign_in(store, dsn):
    """Passwords, temporary passwords, Session strings, SMS codes, refresh tokens, client
    secrets and signing keys are nowhere in the database, in any encoding the store
    could use (text, base64, hex)."""
    outbox = MemoryOutbox()
    client = authflow.Client(store=store, clock=ManualClock(START), entropy=SeededEntropy(7), messenger=outbox,
                             config=PG_CONFIG)
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

    raw = everything_stored(dsn, store)
    assert len(raw) > 5_000 and b"alice" in raw and b"+12065554567" in raw  # the dump holds the data
    for secret in secrets:
        for encoded in (secret.encode(), base64.b64encode(secret.encode()), secret.encode().hex().encode()):
            assert encoded not in raw, f"a secret is in the database: {secret[:12]}..."
    assert not re.search(rb"(?<![0-9])" + code.encode() + rb"(?![0-9])", raw), "the SMS code is in the database"
    for blob in (*keys, pool_secret):
        assert blob not in raw and base64.b64encode(blob) not in raw and blob.hex().encode() not in raw


# -- several stores, threads and processes on one schema ---------------------------------------------


def test_two_stores_on_one_schema_see_each_others_commits(dsn, schemas):
    schema = schemas()
    with PostgresStore(dsn, schema=schema) as first, PostgresStore(dsn, schema=schema) as second:
        with first.transaction() as tx:
            tx.put_pool(pool_record())
        with second.transaction() as tx:
            assert tx.get_pool(P1) == pool_record()
            tx.put_user(user_record("bob"))
        with first.transaction() as tx:
            assert tx.get_user(P1, "bob") == user_record("bob")
            tx.put_user(user_record("carol"))
        with second.transaction() as tx:
            assert tx.count_users(P1) == 2
        with pytest.raises(RuntimeError), second.transaction() as tx:  # uncommitted: invisible
            tx.put_user(user_record("dave"))
            with first.transaction() as other:
                assert other.get_user(P1, "dave") is None
            raise RuntimeError


def _overlapping(store, work_a, work_b):
    """Run two transactions that both read before either writes; what each ended with."""
    read = threading.Barrier(2, timeout=10)
    results: dict[str, object] = {}

    def run(name, work):
        try:
            with store.transaction() as tx:
                work(tx, read)
            results[name] = "committed"
        except BaseException as error:  # reported to the test
            results[name] = error

    threads = [threading.Thread(target=run, args=("a", work_a)), threading.Thread(target=run, args=("b", work_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_read_modify_write_race_on_one_counter_is_a_transient_conflict(store):
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_failed_sign_ins(failed_sign_ins_record("k", count=0))

    def increment(tx, read):
        old = tx.get_failed_sign_ins(P1, "k")
        read.wait()  # both have read count 0 and version 1
        tx.put_failed_sign_ins(replace(old, count=old.count + 1, version=old.version + 1))

    results = _overlapping(store, increment, increment)
    assert sorted(r if r == "committed" else type(r).__name__ for r in results.values()) == [
        "TransientConflict", "committed"], results
    with store.transaction() as tx:
        counter = tx.get_failed_sign_ins(P1, "k")
    assert (counter.count, counter.version) == (1, 2)  # one increment, none lost, none doubled


def test_write_skew_is_refused_at_commit(store):
    """Each transaction reads both counters and writes a different one: no row conflict,
    but no serial order explains both; the second to commit fails at COMMIT."""
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_failed_sign_ins(failed_sign_ins_record("x", count=0))
        tx.put_failed_sign_ins(failed_sign_ins_record("y", count=0))

    def skew(mine, theirs):
        def work(tx, read):
            both = tx.get_failed_sign_ins(P1, "x").count + tx.get_failed_sign_ins(P1, "y").count
            read.wait()
            record = tx.get_failed_sign_ins(P1, mine)
            tx.put_failed_sign_ins(replace(record, count=both + 1, version=record.version + 1))
            read.wait()  # both have written: now both commit
        return work

    results = _overlapping(store, skew("x", "y"), skew("y", "x"))
    assert sorted(type(r).__name__ if r != "committed" else r for r in results.values()) == [
        "TransientConflict", "committed"], results
    error = next(r for r in results.values() if r != "committed")
    assert isinstance(error.__cause__, psycopg.errors.SerializationFailure)
    with store.transaction() as tx:
        assert sorted(tx.get_failed_sign_ins(P1, k).count for k in "xy") == [0, 1]


def test_a_lock_wait_beyond_the_timeout_is_a_transient_conflict(dsn, schemas):
    schema = schemas()
    with PostgresStore(dsn, schema=schema, lock_timeout_s=0.2) as store:
        with store.transaction() as tx:
            tx.put_pool(pool_record())
            tx.put_failed_sign_ins(failed_sign_ins_record("k", count=0))
        holding, done = threading.Event(), threading.Event()

        def hold():
            with store.transaction() as tx:
                record = tx.get_failed_sign_ins(P1, "k")
                tx.put_failed_sign_ins(replace(record, count=1, version=2))
                holding.set()
                done.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        holding.wait(10)
        try:
            with pytest.raises(TransientConflict) as err, store.transaction() as tx:
                tx.delete_failed_sign_ins(P1, "k")  # waits for the holder's row lock
            assert err.value.__cause__.sqlstate == "55P03"
        finally:
            done.set()
            holder.join()


def test_a_deadlock_is_a_transient_conflict(store):
    """Two transactions take two row locks in opposite orders: PostgreSQL's deadlock
    detector (after `deadlock_timeout`, 1 s by default) fails one of them."""
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        tx.put_failed_sign_ins(failed_sign_ins_record("x", count=0))
        tx.put_failed_sign_ins(failed_sign_ins_record("y", count=0))

    def lock(first, second):
        def work(tx, read):
            for i, key in enumerate((first, second)):
                record = tx.get_failed_sign_ins(P1, key)
                tx.put_failed_sign_ins(replace(record, count=1, version=2))
                if i == 0:
                    read.wait()  # each holds its first row: the second put waits for the other
        return work

    results = _overlapping(store, lock("x", "y"), lock("y", "x"))
    assert sorted(r if r == "committed" else type(r).__name__ for r in results.values()) == [
        "TransientConflict", "committed"], results
    error = next(r for r in results.values() if r != "committed")
    assert error.__cause__.sqlstate == "40P01", error.__cause__  # deadlock_detected


def test_threads_racing_to_create_one_username_have_one_winner(store):
    """Eight threads, alice and Alice in a case-insensitive pool: one user; the engine
    re-runs the losers' serialization failures, which then see the winner."""
    client = authflow.Client(store=store, config=PG_CONFIG)
    pool_id = client.create_user_pool(PoolName="race", UsernameConfiguration={"CaseSensitive": False})[
        "UserPool"]["Id"]
    barrier = threading.Barrier(8)
    results: list[str] = []

    def create(i: int) -> None:
        barrier.wait()
        try:
            client.admin_create_user(UserPoolId=pool_id, Username="alice" if i % 2 else "Alice",
                                     MessageAction="SUPPRESS")
            results.append("created")
        except CognitoError as err:
            results.append(type(err).__name__)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["UsernameExistsException"] * 7 + ["created"]
    with store.transaction() as tx:
        assert tx.count_users(pool_id) == 1


def test_parallel_wrong_passwords_are_all_counted_exactly(store):
    """Twenty threads sign in with a wrong password at one instant. Cognito's schedule:
    five failures are free, the fifth locks the user for one second, attempts while
    locked are refused and not counted. With every attempt serialised on the counter,
    exactly five are counted and checked and fifteen refused; the record was written
    twenty times (a refused attempt restarts the idle clock): no update was lost."""
    clock = ManualClock(START)
    client = authflow.Client(store=store, clock=clock, config=PG_CONFIG)
    pool_id = client.create_user_pool(PoolName="lockout")["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool_id, ClientName="app",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword="Temp1234!tmp",
                             MessageAction="SUPPRESS")
    first = client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": "alice", "PASSWORD": "Temp1234!tmp"})
    client.respond_to_auth_challenge(ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=first["Session"],
                                     ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": "NewPass1!x-final"})
    barrier = threading.Barrier(20)
    answers: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": "alice", "PASSWORD": "Wr0ng!Passw0rd"})
            answers.append("signed in")
        except CognitoError as err:
            answers.append(f"{type(err).__name__}: {err.message}")

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == sorted(
        ["NotAuthorizedException: Incorrect username or password."] * 5
        + ["NotAuthorizedException: Password attempts exceeded"] * 15
    ), answers
    with store.transaction() as tx:
        sub = tx.get_user(pool_id, "alice").sub
        counter = tx.get_failed_sign_ins(pool_id, sub)
    assert (counter.count, counter.version) == (5, 20)


def _write_in_child(store: PostgresStore, queue) -> None:
    try:
        with store.transaction() as tx:
            tx.put_user(user_record("from-child"))
        queue.put("done")
    except BaseException as error:  # the parent waits for one answer
        queue.put(repr(error))


def test_a_forked_child_uses_connections_of_its_own(store):
    with store.transaction() as tx:  # the parent has a connection open and idle
        tx.put_pool(pool_record())
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_write_in_child, args=(store, queue))
    child.start()
    assert queue.get(timeout=60) == "done"
    child.join(timeout=60)
    with store.transaction() as tx:  # the parent's connections still work
        assert tx.get_user(P1, "from-child") == user_record("from-child")


def test_instants_keep_microseconds_and_utc(store):
    moment = NOW.replace(microsecond=123456)
    with store.transaction() as tx:
        tx.put_pool(replace(pool_record(), created=moment))
    with store.transaction() as tx:
        created = tx.get_pool(P1).created
    assert created == moment and created.tzinfo is not None and created.utcoffset().total_seconds() == 0


def test_documents_are_json_text(store):
    with store.transaction() as tx:
        tx.put_pool(pool_record())
        doc = tx.connection.execute("SELECT doc FROM pools").fetchone()[0]
    assert json.loads(doc)["config"] == {"Name": "p"}


def test_resource_and_outbox_reads_use_indexes_in_order(populated, pg_dsn):
    """A pool's resources are a range of the primary key, a domain by name a search of
    `resources_global_name`, due entries a range of `outbox_due`, and the console's
    listings ranges of `outbox_by_age`, `outbox_by_pool` or `outbox_by_destination`: no
    sequential scan, and no sort but of one destination's entries (the planner may read
    that range as a bitmap when it expects few rows)."""
    pools = [f"us-east-1_POOL{p:05}" for p in range(50)]
    with populated.transaction() as tx:
        if tx.get_pool(pools[0]) is None:
            for pool_id in pools:
                tx.put_pool(pool_record(pool_id))
                tx.put_resource(resource_record(f"domain-{pool_id}", pool_id=pool_id))
                for i in range(20):
                    tx.put_resource(resource_record(f"api-{i:03}", kind="resource_server", pool_id=pool_id))
            for i in range(5000):  # 100 entries per pool, 500 per destination
                tx.put_outbox(outbox_record(f"m{i:04}", destination=f"u{i % 10}@example.com",
                                            pool_id=pools[i % len(pools)], state="PENDING" if i % 50 == 0 else "SENT",
                                            created=NOW + i * timedelta(seconds=1)))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"ANALYZE {populated.schema}.resources")
        conn.execute(f"ANALYZE {populated.schema}.outbox")
    pool_id, before = pools[1], (NOW + timedelta(seconds=2000), "m2000")
    with populated.transaction() as tx:
        found = plans(tx, lambda: (
            tx.get_resource(pool_id, "domain", f"domain-{pool_id}"),
            tx.find_resource("domain", f"domain-{pool_id}"),
            tx.list_resources(pool_id, "resource_server", after=None, limit=5),
            tx.list_resources(pool_id, "resource_server", after="api-003", limit=5),
            tx.get_outbox("m0007"),
            tx.due_outbox(NOW + timedelta(seconds=1000), limit=10),
            tx.list_outbox(limit=10),
            tx.list_outbox(before=before, limit=10),
            tx.list_outbox(pool_id=pool_id, limit=10),
            tx.list_outbox(pool_id=pool_id, before=before, limit=10),
            tx.list_outbox(destination="u7@example.com", limit=10),
            tx.list_outbox(destination="u7@example.com", before=before, limit=10),
        ))
        assert [e.id for e in tx.list_outbox(pool_id=pool_id, before=before, limit=2)] == ["m1951", "m1901"]
    indexes = [{n["Index Name"] for n in nodes(plan) if "Index Name" in n} for plan in found]
    assert not any(n["Node Type"] == "Seq Scan" for plan in found for n in nodes(plan)), found
    assert indexes[:6] == [{"resources_pkey"}, {"resources_global_name"}, {"resources_pkey"}, {"resources_pkey"},
                           {"outbox_pkey"}, {"outbox_due"}], indexes
    assert indexes[6:8] == [{"outbox_by_age"}, {"outbox_by_age"}], indexes
    # a pool's or a destination's entries: its own index, or the newest-first one read in
    # order while filtering, whichever the planner finds cheaper for the data at hand
    assert all(found_ <= {"outbox_by_pool", "outbox_by_age"} for found_ in indexes[8:10]), indexes
    assert all(found_ <= {"outbox_by_destination", "outbox_by_age"} for found_ in indexes[10:]), indexes
    # only one destination's entries may be sorted (a bitmap read of its index range)
    assert not any(n["Node Type"] in ("Sort", "Incremental Sort") for plan in found[:10] for n in nodes(plan)), found
