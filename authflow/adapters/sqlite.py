"""SqliteStore: the durable store in one SQLite file (for `authflow serve` and embedding).

Theory of operation
-------------------
Transactions. Every `transaction()` is one SQLite transaction opened with
`BEGIN IMMEDIATE`: it takes the database's write lock at once, so transactions
are serialised across threads and processes alike, and a transaction never fails
half-way because another writer committed first (the `SQLITE_BUSY_SNAPSHOT`
failure of deferred read-then-write transactions). A writer that finds the lock
taken waits up to the busy timeout. The port does not tell reads from writes, so
read-only transactions take the lock too: simple and correct, at the price of
readers queueing behind writers. The block's end commits; any exception rolls
back, so storage is exactly as before. A port call that writes several rows (a
user and its aliases and index entries) runs inside a savepoint, so a refused
write changes nothing even within its transaction. When SQLite itself rolled a
transaction back (an I/O error, a full disk), every later call in it is refused
rather than run outside any transaction.

Connections. Each transaction borrows a connection from a small pool of idle ones
and gives it back at the end, so a connection is used by one thread at a time
(the guarantee `check_same_thread` stands for; it is off only so that a
connection may be handed to whichever thread asks next). Every connection is set
up alike: busy timeout, `journal_mode=WAL` (readers and the writer do not block
each other; persistent in the file), `synchronous=FULL` (a commit survives power
loss, not only a process crash: a lost "password changed" or "token revoked"
would be a security regression), `foreign_keys=ON`. After `fork()` the child
drops the connections it inherited and opens its own. WAL needs shared memory:
the file must be on a local filesystem, shared only by processes of one host.

Schema. Each record is one row: the columns a query or constraint needs, plus a
JSON document for the rest (`authflow.adapters.codec`). Uniqueness is enforced
by the database: primary keys and unique indexes on (pool, username key),
(pool, sub), (pool, alias kind, alias key), session ids, refresh-token hashes and
(pool, origin_jti). A violated constraint becomes the `UniqueViolation` the
in-memory store raises, with the same constraint name and alias kind. Everything
of a pool references the pool with `ON DELETE CASCADE`, so deleting a pool is one
statement; a device also references its owner, (pool, sub) of `users`, so deleting a
user takes its devices (and a device of no user is refused as a `KeyError`); a
membership references its group and its user, so deleting either takes it (and a
membership of a missing group or user is refused as a `KeyError`). A pool resource is
keyed by (pool, kind, name); a partial unique index on (kind, name) of the kinds unique
across pools (domains) makes a second pool's domain of a taken name a
`UniqueViolation("domain", kind)`. The outbox references no pool: its entries outlive
the pool they came from. ListUsers reads
`user_index`, one row per (user, searchable attribute)
with the value `authflow.core.listing.index_values` computes; its primary key
(pool, index name, value, username key) makes `=`, `^=` (a range: value >= p AND
value < the least string above every string starting with p) and keyset
pagination range scans of one B-tree.

Migrations. `MIGRATIONS[n - 1]` takes the schema from version n - 1 to n; the
version lives in `PRAGMA user_version`. Opening a file applies the missing
migrations in one transaction; a file newer than this code is refused.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from authflow.adapters import codec
from authflow.adapters.sql_reads import SqlReads, statements
from authflow.core.listing import index_values
from authflow.core.records import (
    AppClient,
    AuthSession,
    Device,
    FailedSignIns,
    Group,
    OutboxEntry,
    PoolResource,
    RefreshToken,
    SigningKey,
    User,
    UserPool,
)
from authflow.ports import StoreError, TransientConflict, UniqueViolation, VersionConflict

__all__ = ["MIGRATIONS", "SchemaTooNew", "SqliteStore"]

#: `PRAGMA application_id` of an authflow store ("afl1"), so another file is refused.
APPLICATION_ID = 0x61666C31

#: The schema, as migrations: `MIGRATIONS[n - 1]` takes version n - 1 to version n.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE pools (
            id      TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            doc     TEXT NOT NULL
        )""",
        """CREATE TABLE clients (
            id      TEXT PRIMARY KEY,
            pool_id TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            doc     TEXT NOT NULL
        )""",
        "CREATE INDEX clients_by_pool ON clients (pool_id, id)",
        """CREATE TABLE users (
            pool_id      TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            username_key TEXT NOT NULL,
            sub          TEXT NOT NULL,
            version      INTEGER NOT NULL,
            doc          TEXT NOT NULL,
            PRIMARY KEY (pool_id, username_key)
        )""",
        "CREATE UNIQUE INDEX users_by_sub ON users (pool_id, sub)",
        # Verified aliases only (what `User.aliases` holds): one holder per (pool, kind, key).
        """CREATE TABLE aliases (
            pool_id      TEXT NOT NULL,
            kind         TEXT NOT NULL,
            key          TEXT NOT NULL,
            username_key TEXT NOT NULL,
            PRIMARY KEY (pool_id, kind, key),
            FOREIGN KEY (pool_id, username_key)
                REFERENCES users (pool_id, username_key) ON DELETE CASCADE
        ) WITHOUT ROWID""",
        "CREATE INDEX aliases_by_user ON aliases (pool_id, username_key)",
        """CREATE TABLE user_index (
            pool_id      TEXT NOT NULL,
            name         TEXT NOT NULL,
            value        TEXT NOT NULL,
            username_key TEXT NOT NULL,
            PRIMARY KEY (pool_id, name, value, username_key),
            FOREIGN KEY (pool_id, username_key)
                REFERENCES users (pool_id, username_key) ON DELETE CASCADE
        ) WITHOUT ROWID""",
        "CREATE INDEX user_index_by_user ON user_index (pool_id, username_key)",
        """CREATE TABLE signing_keys (
            pool_id    TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            kid        TEXT NOT NULL,
            created_us INTEGER NOT NULL,
            version    INTEGER NOT NULL,
            doc        TEXT NOT NULL,
            PRIMARY KEY (pool_id, kid)
        )""",
        "CREATE INDEX signing_keys_by_age ON signing_keys (pool_id, created_us, kid)",
        """CREATE TABLE sessions (
            id         TEXT PRIMARY KEY,
            pool_id    TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            expires_us INTEGER NOT NULL,
            version    INTEGER NOT NULL,
            doc        TEXT NOT NULL
        )""",
        "CREATE INDEX sessions_by_pool ON sessions (pool_id)",
        "CREATE INDEX sessions_by_expiry ON sessions (expires_us)",
        """CREATE TABLE refresh_tokens (
            token_hash TEXT PRIMARY KEY,
            pool_id    TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            origin_jti TEXT NOT NULL,
            expires_us INTEGER NOT NULL,
            version    INTEGER NOT NULL,
            doc        TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX refresh_tokens_by_origin ON refresh_tokens (pool_id, origin_jti)",
        "CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_us)",
        """CREATE TABLE failed_sign_ins (
            pool_id         TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            key             TEXT NOT NULL,
            last_attempt_us INTEGER NOT NULL,
            version         INTEGER NOT NULL,
            doc             TEXT NOT NULL,
            PRIMARY KEY (pool_id, key)
        )""",
        "CREATE INDEX failed_sign_ins_by_age ON failed_sign_ins (last_attempt_us)",
    ),
    (
        # Device tracking. A device belongs to one user (by sub) and goes with it, and with
        # the pool. ListDevices reads one owner's range of `devices_by_owner`, confirmed
        # devices only (`listed`); purging reads `devices_by_expiry`, which holds only the
        # unconfirmed devices (a confirmed one has no expiry).
        """CREATE TABLE devices (
            pool_id    TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            device_key TEXT NOT NULL,
            sub        TEXT NOT NULL,
            listed     INTEGER NOT NULL,
            expires_us INTEGER,
            version    INTEGER NOT NULL,
            doc        TEXT NOT NULL,
            PRIMARY KEY (pool_id, device_key),
            FOREIGN KEY (pool_id, sub) REFERENCES users (pool_id, sub) ON DELETE CASCADE
        )""",
        "CREATE INDEX devices_by_owner ON devices (pool_id, sub, listed, device_key)",
        "CREATE INDEX devices_by_expiry ON devices (expires_us) WHERE expires_us IS NOT NULL",
    ),
    (
        # Groups, and memberships as (group, user) pairs owned by both sides: deleting the
        # group, the user or the pool deletes them, and a membership of a missing group or
        # user is refused by the foreign keys. ListUsersInGroup reads the primary key's
        # range of one group; a user's groups (tokens, AdminListGroupsForUser) and deleting
        # a user read `memberships_by_user`.
        """CREATE TABLE groups (
            pool_id TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            name    TEXT NOT NULL,
            version INTEGER NOT NULL,
            doc     TEXT NOT NULL,
            PRIMARY KEY (pool_id, name)
        )""",
        """CREATE TABLE memberships (
            pool_id      TEXT NOT NULL,
            group_name   TEXT NOT NULL,
            username_key TEXT NOT NULL,
            PRIMARY KEY (pool_id, group_name, username_key),
            FOREIGN KEY (pool_id, group_name) REFERENCES groups (pool_id, name) ON DELETE CASCADE,
            FOREIGN KEY (pool_id, username_key) REFERENCES users (pool_id, username_key) ON DELETE CASCADE
        ) WITHOUT ROWID""",
        "CREATE INDEX memberships_by_user ON memberships (pool_id, username_key, group_name)",
    ),
    (
        # Pool resources (domains, resource servers, identity providers, identity links):
        # named documents of a pool, listed by (kind, name) through the primary key and
        # deleted with the pool. A domain's name is unique across every pool: the partial
        # index holds the kinds of `GLOBAL_RESOURCE_KINDS` (written out, as a migration
        # never changes: a new global kind is a new migration).
        """CREATE TABLE resources (
            pool_id TEXT NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
            kind    TEXT NOT NULL,
            name    TEXT NOT NULL,
            version INTEGER NOT NULL,
            doc     TEXT NOT NULL,
            PRIMARY KEY (pool_id, kind, name)
        ) WITHOUT ROWID""",
        "CREATE UNIQUE INDEX resources_global_name ON resources (kind, name) WHERE kind = 'domain'",
        # The outbox: messages written with the change that caused them. No foreign key:
        # an entry outlives its pool (the console still lists what was sent). The sender
        # reads `outbox_due` (PENDING entries by next attempt); the console lists newest
        # first, of every pool, of one pool or to one destination.
        """CREATE TABLE outbox (
            id              TEXT PRIMARY KEY,
            pool_id         TEXT NOT NULL,
            destination     TEXT NOT NULL,
            state           TEXT NOT NULL,
            created_us      INTEGER NOT NULL,
            next_attempt_us INTEGER NOT NULL,
            version         INTEGER NOT NULL,
            doc             TEXT NOT NULL
        )""",
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_us, id)",
        "CREATE INDEX outbox_by_age ON outbox (created_us DESC, id DESC)",
        "CREATE INDEX outbox_by_pool ON outbox (pool_id, created_us DESC, id DESC)",
        "CREATE INDEX outbox_by_destination ON outbox (destination, created_us DESC, id DESC)",
    ),
)

#: The tables of the schema, for tools that read every row (tests, backups).
TABLES = (
    "pools", "clients", "users", "aliases", "user_index",
    "signing_keys", "sessions", "refresh_tokens", "failed_sign_ins", "devices", "groups", "memberships",
    "resources", "outbox",
)

# SQLite names a violated unique constraint by its columns; these are the port's names.
_UNIQUE_CONSTRAINTS = {
    "pools.id": "pool",
    "clients.id": "client",
    "users.pool_id, users.username_key": "username",
    "users.pool_id, users.sub": "sub",
    "aliases.pool_id, aliases.kind, aliases.key": "alias",
    "sessions.id": "session",
    "refresh_tokens.token_hash": "refresh_token",
    "refresh_tokens.pool_id, refresh_tokens.origin_jti": "origin_jti",
    "devices.pool_id, devices.device_key": "device",
    "resources.kind, resources.name": "domain",
    "outbox.id": "outbox",
}
_UNIQUE_FAILED = "UNIQUE constraint failed: "
_FOREIGN_KEY_FAILED = "FOREIGN KEY constraint failed"

# -- SQL --------------------------------------------------------------------------------

_ANY_SCHEMA_OBJECT = "SELECT 1 FROM sqlite_master LIMIT 1"
_POOL_EXISTS = "SELECT 1 FROM pools WHERE id = ?"

_GET_POOL = "SELECT id, version, doc FROM pools WHERE id = ?"
_LIST_POOLS = "SELECT id, version, doc FROM pools WHERE id > ? ORDER BY id LIMIT ?"
_LIST_POOLS_FIRST = "SELECT id, version, doc FROM pools ORDER BY id LIMIT ?"
_INSERT_POOL = "INSERT INTO pools (id, version, doc) VALUES (:id, :version, :doc)"
_UPDATE_POOL = "UPDATE pools SET version = :version, doc = :doc WHERE id = :id"
_DELETE_POOL = "DELETE FROM pools WHERE id = ?"

_GET_CLIENT = "SELECT id, pool_id, version, doc FROM clients WHERE id = ?"
_LIST_CLIENTS = (
    "SELECT id, pool_id, version, doc FROM clients WHERE pool_id = ? AND id > ? ORDER BY id LIMIT ?"
)
_LIST_CLIENTS_FIRST = "SELECT id, pool_id, version, doc FROM clients WHERE pool_id = ? ORDER BY id LIMIT ?"
_INSERT_CLIENT = "INSERT INTO clients (id, pool_id, version, doc) VALUES (:id, :pool_id, :version, :doc)"
_UPDATE_CLIENT = "UPDATE clients SET version = :version, doc = :doc WHERE id = :id"
_DELETE_CLIENT = "DELETE FROM clients WHERE id = ?"

_USER_COLUMNS = "u.pool_id, u.username_key, u.sub, u.version, u.doc"
_GET_USER = f"SELECT {_USER_COLUMNS} FROM users AS u WHERE u.pool_id = ? AND u.username_key = ?"
_GET_USER_BY_SUB = f"SELECT {_USER_COLUMNS} FROM users AS u WHERE u.pool_id = ? AND u.sub = ?"
_GET_USER_BY_ALIAS = f"""SELECT {_USER_COLUMNS}
    FROM aliases AS a
    CROSS JOIN users AS u ON u.pool_id = a.pool_id AND u.username_key = a.username_key
    WHERE a.pool_id = ? AND a.kind = ? AND a.key = ?"""
_USER_VERSION = "SELECT version FROM users WHERE pool_id = ? AND username_key = ?"
_INSERT_USER = """INSERT INTO users (pool_id, username_key, sub, version, doc)
    VALUES (:pool_id, :username_key, :sub, :version, :doc)"""
_UPDATE_USER = """UPDATE users SET sub = :sub, version = :version, doc = :doc
    WHERE pool_id = :pool_id AND username_key = :username_key"""
_DELETE_USER = "DELETE FROM users WHERE pool_id = ? AND username_key = ?"
_COUNT_USERS = "SELECT count(*) AS n FROM users WHERE pool_id = ?"

_USER_ALIASES = "SELECT kind, key FROM aliases WHERE pool_id = ? AND username_key = ?"
_INSERT_ALIAS = "INSERT INTO aliases (pool_id, kind, key, username_key) VALUES (?, ?, ?, ?)"
_DELETE_ALIAS = "DELETE FROM aliases WHERE pool_id = ? AND kind = ? AND key = ?"

_USER_INDEX_ROWS = "SELECT name, value FROM user_index WHERE pool_id = ? AND username_key = ?"
_INSERT_INDEX_ROW = "INSERT INTO user_index (pool_id, name, value, username_key) VALUES (?, ?, ?, ?)"
_DELETE_INDEX_ROW = (
    "DELETE FROM user_index WHERE pool_id = ? AND name = ? AND value = ? AND username_key = ?"
)

# ListUsers: one index range in keyset order. `{conditions}` is filled only from the
# `_SCAN_*` fragments below, never from input. CROSS JOIN fixes the join order (the index
# range outside, users looked up by key inside): with statistics of a one-pool database
# the planner would otherwise scan the users and sort them.
_SCAN_USERS = f"""SELECT i.value AS position, {_USER_COLUMNS}
    FROM user_index AS i
    CROSS JOIN users AS u ON u.pool_id = i.pool_id AND u.username_key = i.username_key
    WHERE i.pool_id = :pool_id AND i.name = :name{{conditions}}
    ORDER BY i.value, i.username_key
    LIMIT :limit"""
_SCAN_EXACT = " AND i.value = :exact"
_SCAN_EXACT_AFTER = " AND i.username_key > :after_key"
_SCAN_FROM = " AND i.value >= :low"
_SCAN_BELOW = " AND i.value < :high"
_SCAN_AFTER = " AND (i.value, i.username_key) > (:after_value, :after_key)"

_LIST_SIGNING_KEYS = """SELECT pool_id, kid, created_us, version, doc FROM signing_keys
    WHERE pool_id = ? ORDER BY created_us, kid"""
_SIGNING_KEY_VERSION = "SELECT version FROM signing_keys WHERE pool_id = ? AND kid = ?"
_INSERT_SIGNING_KEY = """INSERT INTO signing_keys (pool_id, kid, created_us, version, doc)
    VALUES (:pool_id, :kid, :created_us, :version, :doc)"""
_UPDATE_SIGNING_KEY = """UPDATE signing_keys SET created_us = :created_us, version = :version, doc = :doc
    WHERE pool_id = :pool_id AND kid = :kid"""
_DELETE_SIGNING_KEY = "DELETE FROM signing_keys WHERE pool_id = ? AND kid = ?"

_GET_SESSION = "SELECT id, pool_id, expires_us, version, doc FROM sessions WHERE id = ?"
_INSERT_SESSION = """INSERT INTO sessions (id, pool_id, expires_us, version, doc)
    VALUES (:id, :pool_id, :expires_us, :version, :doc)"""
_UPDATE_SESSION = "UPDATE sessions SET expires_us = :expires_us, version = :version, doc = :doc WHERE id = :id"
_DELETE_SESSION = "DELETE FROM sessions WHERE id = ?"

_TOKEN_COLUMNS = "token_hash, pool_id, origin_jti, expires_us, version, doc"
_GET_REFRESH_TOKEN = f"SELECT {_TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = ?"
_GET_REFRESH_TOKEN_BY_ORIGIN = f"SELECT {_TOKEN_COLUMNS} FROM refresh_tokens WHERE pool_id = ? AND origin_jti = ?"
_INSERT_REFRESH_TOKEN = f"""INSERT INTO refresh_tokens ({_TOKEN_COLUMNS})
    VALUES (:token_hash, :pool_id, :origin_jti, :expires_us, :version, :doc)"""
_UPDATE_REFRESH_TOKEN = """UPDATE refresh_tokens
    SET origin_jti = :origin_jti, expires_us = :expires_us, version = :version, doc = :doc
    WHERE token_hash = :token_hash"""
_DELETE_REFRESH_TOKEN = "DELETE FROM refresh_tokens WHERE token_hash = ?"

_GET_FAILED_SIGN_INS = """SELECT pool_id, key, last_attempt_us, version, doc FROM failed_sign_ins
    WHERE pool_id = ? AND key = ?"""
_INSERT_FAILED_SIGN_INS = """INSERT INTO failed_sign_ins (pool_id, key, last_attempt_us, version, doc)
    VALUES (:pool_id, :key, :last_attempt_us, :version, :doc)"""
_UPDATE_FAILED_SIGN_INS = """UPDATE failed_sign_ins
    SET last_attempt_us = :last_attempt_us, version = :version, doc = :doc
    WHERE pool_id = :pool_id AND key = :key"""
_DELETE_FAILED_SIGN_INS = "DELETE FROM failed_sign_ins WHERE pool_id = ? AND key = ?"

_DEVICE_COLUMNS = "pool_id, device_key, sub, listed, expires_us, version, doc"
_GET_DEVICE = f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE pool_id = ? AND device_key = ?"
_DEVICE_OWNER = "SELECT sub, version FROM devices WHERE pool_id = ? AND device_key = ?"
_USER_SUB_EXISTS = "SELECT 1 FROM users WHERE pool_id = ? AND sub = ?"
_LIST_DEVICES = f"""SELECT {_DEVICE_COLUMNS} FROM devices
    WHERE pool_id = ? AND sub = ? AND listed = 1 AND device_key > ? ORDER BY device_key LIMIT ?"""
_LIST_DEVICES_FIRST = f"""SELECT {_DEVICE_COLUMNS} FROM devices
    WHERE pool_id = ? AND sub = ? AND listed = 1 ORDER BY device_key LIMIT ?"""
_INSERT_DEVICE = f"""INSERT INTO devices ({_DEVICE_COLUMNS})
    VALUES (:pool_id, :device_key, :sub, :listed, :expires_us, :version, :doc)"""
_UPDATE_DEVICE = """UPDATE devices SET listed = :listed, expires_us = :expires_us, version = :version, doc = :doc
    WHERE pool_id = :pool_id AND device_key = :device_key"""
_DELETE_DEVICE = "DELETE FROM devices WHERE pool_id = ? AND device_key = ?"

_GROUP_COLUMNS = "pool_id, name, version, doc"
_GET_GROUP = f"SELECT {_GROUP_COLUMNS} FROM groups WHERE pool_id = ? AND name = ?"
_GROUP_VERSION = "SELECT version FROM groups WHERE pool_id = ? AND name = ?"
_LIST_GROUPS = f"SELECT {_GROUP_COLUMNS} FROM groups WHERE pool_id = ? AND name > ? ORDER BY name LIMIT ?"
_LIST_GROUPS_FIRST = f"SELECT {_GROUP_COLUMNS} FROM groups WHERE pool_id = ? ORDER BY name LIMIT ?"
_COUNT_GROUPS = "SELECT count(*) AS n FROM groups WHERE pool_id = ?"
_INSERT_GROUP = f"INSERT INTO groups ({_GROUP_COLUMNS}) VALUES (:pool_id, :name, :version, :doc)"
_UPDATE_GROUP = "UPDATE groups SET version = :version, doc = :doc WHERE pool_id = :pool_id AND name = :name"
_DELETE_GROUP = "DELETE FROM groups WHERE pool_id = ? AND name = ?"  # cascades to its memberships

# An existing membership is left as it is (adding is idempotent); a missing group or user
# fails the foreign keys.
_ADD_MEMBER = """INSERT INTO memberships (pool_id, group_name, username_key) VALUES (?, ?, ?)
    ON CONFLICT DO NOTHING"""
_REMOVE_MEMBER = "DELETE FROM memberships WHERE pool_id = ? AND group_name = ? AND username_key = ?"
_GROUPS_OF = "SELECT group_name FROM memberships WHERE pool_id = ? AND username_key = ? ORDER BY group_name"
_MEMBERS = """SELECT username_key FROM memberships
    WHERE pool_id = ? AND group_name = ? AND username_key > ? ORDER BY username_key LIMIT ?"""
_MEMBERS_FIRST = """SELECT username_key FROM memberships
    WHERE pool_id = ? AND group_name = ? ORDER BY username_key LIMIT ?"""

_RESOURCE_COLUMNS = "pool_id, kind, name, version, doc"
_GET_RESOURCE = f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE pool_id = ? AND kind = ? AND name = ?"
_RESOURCE_VERSION = "SELECT version FROM resources WHERE pool_id = ? AND kind = ? AND name = ?"
# The literal kind lets the planner read the partial index (the global kinds are its condition).
_FIND_RESOURCE = f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE kind = ? AND name = ? AND kind = 'domain'"
_LIST_RESOURCES = f"""SELECT {_RESOURCE_COLUMNS} FROM resources
    WHERE pool_id = ? AND kind = ? AND name > ? ORDER BY name LIMIT ?"""
_LIST_RESOURCES_FIRST = f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE pool_id = ? AND kind = ? ORDER BY name LIMIT ?"
_INSERT_RESOURCE = f"INSERT INTO resources ({_RESOURCE_COLUMNS}) VALUES (:pool_id, :kind, :name, :version, :doc)"
_UPDATE_RESOURCE = """UPDATE resources SET version = :version, doc = :doc
    WHERE pool_id = :pool_id AND kind = :kind AND name = :name"""
_DELETE_RESOURCE = "DELETE FROM resources WHERE pool_id = ? AND kind = ? AND name = ?"

_OUTBOX_COLUMNS = "id, pool_id, destination, state, created_us, next_attempt_us, version, doc"
_GET_OUTBOX = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?"
_OUTBOX_VERSION = "SELECT version FROM outbox WHERE id = ?"
_INSERT_OUTBOX = f"""INSERT INTO outbox ({_OUTBOX_COLUMNS})
    VALUES (:id, :pool_id, :destination, :state, :created_us, :next_attempt_us, :version, :doc)"""
_UPDATE_OUTBOX = """UPDATE outbox SET pool_id = :pool_id, destination = :destination, state = :state,
    created_us = :created_us, next_attempt_us = :next_attempt_us, version = :version, doc = :doc
    WHERE id = :id"""
_DUE_OUTBOX = f"""SELECT {_OUTBOX_COLUMNS} FROM outbox
    WHERE state = 'PENDING' AND next_attempt_us <= ? ORDER BY next_attempt_us, id LIMIT ?"""
# `{conditions}`: the fragments below joined with AND (see SqlReads.list_outbox).
_LIST_OUTBOX = f"""SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {{conditions}}
    ORDER BY created_us DESC, id DESC LIMIT :limit"""
_OUTBOX_OF_POOL = "pool_id = :pool_id"
_OUTBOX_TO = "destination = :destination"
_OUTBOX_BEFORE = "(created_us, id) < (:before_us, :before_id)"

_PURGE_SESSIONS = """DELETE FROM sessions WHERE id IN
    (SELECT id FROM sessions WHERE expires_us <= ? LIMIT ?)"""
_PURGE_REFRESH_TOKENS = """DELETE FROM refresh_tokens WHERE token_hash IN
    (SELECT token_hash FROM refresh_tokens WHERE expires_us <= ? LIMIT ?)"""
_PURGE_FAILED_SIGN_INS = """DELETE FROM failed_sign_ins WHERE rowid IN
    (SELECT rowid FROM failed_sign_ins WHERE last_attempt_us <= ? LIMIT ?)"""
_PURGE_DEVICES = """DELETE FROM devices WHERE rowid IN
    (SELECT rowid FROM devices WHERE expires_us <= ? LIMIT ?)"""

_MAX_IDLE_CONNECTIONS = 8


class SchemaTooNew(StoreError):
    """The file was written by a newer authflow: its schema is one this code does not know."""

    def __init__(self, path: str, found: int, known: int) -> None:
        super().__init__(
            f"{path} has schema version {found}, newer than version {known}, the newest this "
            f"authflow knows; open it with the authflow that wrote it or a newer one"
        )
        self.found = found
        self.known = known


class SqliteStore:
    """A `Store` in one SQLite file, shared safely by threads and by processes of one host.

    `busy_timeout_s` is how long a transaction waits for another one's write lock
    before `sqlite3.OperationalError: database is locked`. Close the store (or use it
    as a context manager) to close its idle connections.
    """

    #: The data outlives the process: an engine must seal secrets with a configured KEK.
    durable = True

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 5.0) -> None:
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            raise ValueError("SqliteStore needs a file path; use MemoryStore for an in-memory store")
        self.busy_timeout_s = busy_timeout_s
        _create_private(self.path)
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        self._in_transaction = threading.local()
        conn = self._connect()
        try:
            _migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self._idle.append(conn)

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections; a transaction still running closes its own at its end."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            forked = os.getpid() != self._pid
        if not forked:
            for conn in idle:
                conn.close()

    @contextmanager
    def transaction(self) -> Iterator[_SqliteTransaction]:
        if getattr(self._in_transaction, "active", False):
            # A second connection would wait for this thread's own write lock.
            raise RuntimeError("SqliteStore transactions do not nest: this thread already has one open")
        conn = self._acquire()
        reusable = True
        self._in_transaction.active = True
        try:
            _begin(conn, self.busy_timeout_s)
            tx = _SqliteTransaction(conn)
            try:
                yield tx
                conn.execute("COMMIT")
            except BaseException:
                reusable = _rollback(conn)
                raise
            finally:
                tx.closed = True
        finally:
            self._in_transaction.active = False
            self._release(conn, reusable)

    # -- connections ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the module opens no transactions of its own; we issue
        # BEGIN IMMEDIATE / COMMIT / ROLLBACK. timeout= sets PRAGMA busy_timeout, first,
        # because switching to WAL may itself have to wait for a lock.
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            conn.row_factory = sqlite3.Row
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: SQLite refused WAL mode (journal_mode is {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise StoreError(f"{self!r} is closed")
            if os.getpid() != self._pid:
                # A forked child must not use (or close) its parent's connections.
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn: sqlite3.Connection, reusable: bool) -> None:
        with self._lock:
            if reusable and not self._closed and len(self._idle) < _MAX_IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()


def _create_private(path: str) -> None:
    """Create a new database file readable by its owner only (it holds password hashes);
    SQLite gives the -wal and -shm files the same permissions."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _begin(conn: sqlite3.Connection, timeout_s: float) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "busy" in str(err):
            # Other writers held the lock for the whole busy timeout: nothing was done,
            # so the engine may run the operation again.
            raise TransientConflict(f"database is locked (waited {timeout_s} s)") from err
        raise


def _rollback(conn: sqlite3.Connection) -> bool:
    """Roll back the open transaction; False when the connection is no longer fit for use."""
    try:
        if conn.in_transaction:  # some errors (I/O, full disk) have rolled back already
            conn.execute("ROLLBACK")
        return True
    except sqlite3.Error:
        return False


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the file's schema to `len(MIGRATIONS)` in one transaction, or refuse it."""
    known = len(MIGRATIONS)
    conn.execute("BEGIN IMMEDIATE")
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if application_id not in (0, APPLICATION_ID):
            raise StoreError(f"{path} is not an authflow store (application_id {application_id:#x})")
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > known:
            raise SchemaTooNew(path, found, known)
        if found == 0 and conn.execute(_ANY_SCHEMA_OBJECT).fetchone() is not None:
            raise StoreError(f"{path} is not an authflow store (it has tables, but no authflow schema)")
        for migration in MIGRATIONS[found:]:
            for statement in migration:
                conn.execute(statement)
        if found != known:
            conn.execute(f"PRAGMA user_version = {known:d}")
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


@contextmanager
def _constraints(pool_id: str, kind: str | None = None, missing: str | None = None) -> Iterator[None]:
    """Turn a violated constraint into the error the in-memory store raises. A foreign
    key names a missing pool, or `missing` (what else the row references). `kind` is the
    violation's kind where the port gives one: the alias kind, the resource kind."""
    try:
        yield
    except sqlite3.IntegrityError as error:
        message = str(error)
        if message == _FOREIGN_KEY_FAILED:
            raise KeyError(missing or f"no pool {pool_id}") from error
        if message.startswith(_UNIQUE_FAILED):
            constraint = _UNIQUE_CONSTRAINTS.get(message[len(_UNIQUE_FAILED):])
            if constraint is not None:
                raise UniqueViolation(constraint, kind if constraint in ("alias", "domain") else None) from error
        raise


def _version(row: sqlite3.Row | None) -> int | None:
    return None if row is None else row["version"]


def _check_version(old_version: int | None, new_version: int) -> None:
    expected = 1 if old_version is None else old_version + 1
    if new_version != expected:
        raise VersionConflict(f"expected version {expected}, got {new_version}")


def _prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix` (code point order,
    which is SQLite's byte order of UTF-8), or None when no string is."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            following = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1  # skip surrogates
            return "".join(chars) + chr(following)
    return None


def _scan_query(
    exact: str | None, prefix: str | None, after: tuple[str, str] | None
) -> tuple[str, dict[str, Any]] | None:
    """The ListUsers query for one index range, as one range of the index's B-tree: the
    lower bound is the later of the filter's start and the keyset position. None when
    the range is empty."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if exact is not None:
        if after is not None and after[0] > exact:
            return None
        conditions.append(_SCAN_EXACT)
        params["exact"] = exact
        if after is not None and after[0] == exact:
            conditions.append(_SCAN_EXACT_AFTER)
            params["after_key"] = after[1]
    else:
        if after is not None and (not prefix or after[0] >= prefix):
            conditions.append(_SCAN_AFTER)
            params["after_value"], params["after_key"] = after
        elif prefix:  # the empty prefix matches every entry
            conditions.append(_SCAN_FROM)
            params["low"] = prefix
        high = _prefix_end(prefix) if prefix else None
        if high is not None:
            conditions.append(_SCAN_BELOW)
            params["high"] = high
    return _SCAN_USERS.format(conditions="".join(conditions)), params


class _SqliteTransaction(SqlReads):
    """One open SQLite transaction, behind the port's `Transaction` methods.

    `connection` is its sqlite3 connection, for diagnostics (`EXPLAIN QUERY PLAN`,
    PRAGMAs); committing or rolling back through it is the store's job alone.
    """

    SQL = statements(globals())  # what SqlReads runs, in this dialect

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.connection = conn
        self.closed = False

    # -- helpers -------------------------------------------------------------------------

    def _scan_query(self, exact: str | None, prefix: str | None,
                    after: tuple[str, str] | None) -> tuple[str, dict[str, Any]] | None:
        return _scan_query(exact, prefix, after)  # this dialect's ListUsers range

    def _execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if self.closed:
            raise RuntimeError("transaction already ended")
        if not self.connection.in_transaction:
            # SQLite rolled the whole transaction back (an I/O error, a full disk): going
            # on would run each statement in a transaction of its own.
            raise StoreError("the transaction was rolled back by SQLite after an error")
        return self.connection.execute(sql, params)

    def _one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        return self._execute(sql, params).fetchone()

    def _all(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return self._execute(sql, params).fetchall()

    def _require_pool(self, pool_id: str) -> None:
        if self._one(_POOL_EXISTS, (pool_id,)) is None:
            raise KeyError(f"no pool {pool_id}")

    def _delete(self, sql: str, *key: str) -> None:
        if self._execute(sql, key).rowcount == 0:
            raise KeyError(key if len(key) > 1 else key[0])

    def _upsert(self, insert: str, update: str, old_version: int | None, row: Mapping[str, Any],
                pool_id: str, missing: str | None = None) -> None:
        _check_version(old_version, row["version"])
        with _constraints(pool_id, missing=missing):
            self._execute(insert if old_version is None else update, row)

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        """Make one port call that writes several rows all-or-nothing."""
        self._execute("SAVEPOINT port_call")
        try:
            yield
        except BaseException:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK TO port_call")
                self.connection.execute("RELEASE port_call")
            raise
        self.connection.execute("RELEASE port_call")

    # -- pools ---------------------------------------------------------------------------

    def put_pool(self, pool: UserPool) -> None:
        old = self._one(_GET_POOL, (pool.id,))
        self._upsert(_INSERT_POOL, _UPDATE_POOL, _version(old), codec.pool_to_row(pool), pool.id)

    # -- app clients ---------------------------------------------------------------------

    def put_client(self, client: AppClient) -> None:
        old = self._one(_GET_CLIENT, (client.id,))
        if old is not None and old["pool_id"] != client.pool_id:
            raise UniqueViolation("client")
        row = codec.client_to_row(client)
        self._upsert(_INSERT_CLIENT, _UPDATE_CLIENT, _version(old), row, client.pool_id)

    # -- users ---------------------------------------------------------------------------

    def put_user(self, user: User) -> None:
        # The same checks, in the same order, as MemoryStore: pool, version, sub, aliases.
        pool_id, key = user.pool_id, user.username_key
        self._require_pool(pool_id)
        old = self._one(_USER_VERSION, (pool_id, key))
        _check_version(_version(old), user.version)
        with self._savepoint():
            with _constraints(pool_id):
                self._execute(_INSERT_USER if old is None else _UPDATE_USER, codec.user_to_row(user))
            self._sync_aliases(user)
            self._sync_index(user)

    def _sync_aliases(self, user: User) -> None:
        pool_id, key = user.pool_id, user.username_key
        held = {(row["kind"], row["key"]) for row in self._execute(_USER_ALIASES, (pool_id, key))}
        wanted = dict.fromkeys(user.aliases)  # the record's order: the first clash is reported
        for kind, alias_key in held - wanted.keys():
            self._execute(_DELETE_ALIAS, (pool_id, kind, alias_key))
        for kind, alias_key in wanted:
            if (kind, alias_key) not in held:
                with _constraints(pool_id, kind=kind):
                    self._execute(_INSERT_ALIAS, (pool_id, kind, alias_key, key))

    def _sync_index(self, user: User) -> None:
        pool_id, key = user.pool_id, user.username_key
        held = {(row["name"], row["value"]) for row in self._execute(_USER_INDEX_ROWS, (pool_id, key))}
        wanted = set(index_values(key, user.attributes, user.status, user.enabled).items())
        for name, value in held - wanted:
            self._execute(_DELETE_INDEX_ROW, (pool_id, name, value, key))
        for name, value in wanted - held:
            self._execute(_INSERT_INDEX_ROW, (pool_id, name, value, key))

    # -- signing keys --------------------------------------------------------------------

    def put_signing_key(self, key: SigningKey) -> None:
        self._require_pool(key.pool_id)
        old = self._one(_SIGNING_KEY_VERSION, (key.pool_id, key.kid))
        row = codec.signing_key_to_row(key)
        self._upsert(_INSERT_SIGNING_KEY, _UPDATE_SIGNING_KEY, _version(old), row, key.pool_id)

    # -- challenge sessions --------------------------------------------------------------

    def put_session(self, session: AuthSession) -> None:
        self._require_pool(session.pool_id)
        old = self._one(_GET_SESSION, (session.id,))
        if old is not None and old["pool_id"] != session.pool_id:
            raise UniqueViolation("session")
        row = codec.session_to_row(session)
        self._upsert(_INSERT_SESSION, _UPDATE_SESSION, _version(old), row, session.pool_id)

    # -- refresh tokens ------------------------------------------------------------------

    def put_refresh_token(self, token: RefreshToken) -> None:
        self._require_pool(token.pool_id)
        old = self._one(_GET_REFRESH_TOKEN, (token.token_hash,))
        if old is not None and old["pool_id"] != token.pool_id:
            raise UniqueViolation("refresh_token")
        row = codec.refresh_token_to_row(token)
        self._upsert(_INSERT_REFRESH_TOKEN, _UPDATE_REFRESH_TOKEN, _version(old), row, token.pool_id)

    # -- lockout counters ----------------------------------------------------------------

    def put_failed_sign_ins(self, record: FailedSignIns) -> None:
        self._require_pool(record.pool_id)
        old = self._one(_GET_FAILED_SIGN_INS, (record.pool_id, record.key))
        row = codec.failed_sign_ins_to_row(record)
        self._upsert(
            _INSERT_FAILED_SIGN_INS, _UPDATE_FAILED_SIGN_INS, _version(old), row, record.pool_id
        )

    # -- devices -------------------------------------------------------------------------

    def put_device(self, device: Device) -> None:
        # The same checks, in the same order, as MemoryStore: pool, owner, key, version.
        # (The write lock is held: nothing changes between these reads and the write.)
        pool_id, key = device.pool_id, device.key
        self._require_pool(pool_id)
        if self._one(_USER_SUB_EXISTS, (pool_id, device.sub)) is None:
            raise KeyError(f"no user {device.sub}")
        old = self._one(_DEVICE_OWNER, (pool_id, key))
        if old is not None and old["sub"] != device.sub:
            raise UniqueViolation("device")
        row = codec.device_to_row(device)
        self._upsert(_INSERT_DEVICE, _UPDATE_DEVICE, _version(old), row, pool_id,
                     missing=f"no pool {pool_id} or no user {device.sub}")

    # -- groups and memberships ----------------------------------------------------------

    def put_group(self, group: Group) -> None:
        # As MemoryStore: pool, then version (an insert over an existing name is stale).
        self._require_pool(group.pool_id)
        old = self._one(_GROUP_VERSION, (group.pool_id, group.name))
        self._upsert(_INSERT_GROUP, _UPDATE_GROUP, _version(old), codec.group_to_row(group), group.pool_id)

    # -- pool resources ------------------------------------------------------------------

    def put_resource(self, resource: PoolResource) -> None:
        # As MemoryStore: pool, version, then a global name another pool holds.
        self._require_pool(resource.pool_id)
        old = self._one(_RESOURCE_VERSION, (resource.pool_id, resource.kind, resource.name))
        _check_version(_version(old), resource.version)
        with _constraints(resource.pool_id, kind=resource.kind):
            self._execute(_INSERT_RESOURCE if old is None else _UPDATE_RESOURCE, codec.resource_to_row(resource))

    # -- the outbox ----------------------------------------------------------------------

    def put_outbox(self, entry: OutboxEntry) -> None:
        old = self._one(_OUTBOX_VERSION, (entry.id,))
        if old is not None and entry.version == 1:
            raise UniqueViolation("outbox")
        _check_version(_version(old), entry.version)
        with _constraints(entry.message.pool_id):
            self._execute(_INSERT_OUTBOX if old is None else _UPDATE_OUTBOX, codec.outbox_to_row(entry))

    def add_member(self, pool_id: str, name: str, username_key: str) -> None:
        self._require_pool(pool_id)
        with _constraints(pool_id, missing=f"no group {name} or no user {username_key}"):
            self._execute(_ADD_MEMBER, (pool_id, name, username_key))
