"""PostgresStore: the store for many server processes on one or more machines (psycopg 3).

Theory of operation
-------------------
Transactions. Every `transaction()` is one PostgreSQL transaction on one pooled
connection (`psycopg_pool.ConnectionPool`), opened with `BEGIN ISOLATION LEVEL
SERIALIZABLE`: the transactions that commit are equivalent to running them one at
a time, which is what the in-memory store's global lock gives. The block's end
commits; any exception rolls back, so storage is exactly as before. The isolation
level is part of the BEGIN statement itself (connections are in autocommit mode
between transactions), never a session setting a driver could shadow.

Conflicts. Where the in-memory store would have made one transaction wait,
PostgreSQL lets both run and fails one of them: a serialization failure (SQLSTATE
40001, at any statement or at COMMIT), a deadlock (40P01), or a lock wait longer
than `lock_timeout_s` (55P03). Each becomes `TransientConflict`: nothing was
written, and running the whole operation again may succeed. The store never
re-runs anything itself (a context-manager block cannot be re-run from inside);
the engine's `call()` re-runs the operation a bounded number of times, with
jittered exponential pauses.

Versions. A put checks the stored version in the statement that writes: version 1
is an `INSERT` (the primary key refuses a second one), version n > 1 is `UPDATE ...
WHERE <key> AND version = n - 1`. Under SERIALIZABLE a concurrent writer of the same
row makes that statement or the COMMIT fail with 40001, so a read-compute-write of
a counter (failed sign-ins) can never lose an update: the compare-and-set is
atomic in SQL, and the loser re-runs. Counting users is `count(*)` over the users'
primary key (an index-only range); a per-pool counter row would make every sign-up
in a pool conflict with every other one.

Refusals. Every put runs inside a savepoint, because any error aborts a whole
PostgreSQL transaction: a refused put rolls back to its savepoint, so it changes
nothing and the transaction goes on, as the port requires. Then the store reports
what the in-memory store would have, in the same order: a missing pool (`KeyError`),
an id held by another pool (`UniqueViolation("client" | "session" |
"refresh_token")`), a stale version (`VersionConflict`), and only then the
violated constraint, named by `err.diag.constraint_name` (`_UNIQUE_CONSTRAINTS`):
(pool, username key), (pool, sub), (pool, alias kind, alias key) and (pool,
origin_jti) are unique in the database itself, so two racing writers can never
both win. Reads and deletes run without a savepoint; an error there leaves the
transaction unusable, and the store refuses to commit it.

Schema. The tables live in their own PostgreSQL schema (`schema=`, default
"authflow"); each connection's `search_path` names it. Each record is one row: the
columns a query or constraint needs plus a JSON document for the rest
(`authflow.adapters.codec`, shared with SqliteStore). Every text key column is
`COLLATE "C"`: PostgreSQL then compares UTF-8 bytes, which is code point order,
the order of Python's `str` that the in-memory store and SQLite use, whatever the
database's default collation. PostgreSQL text cannot hold U+0000, so key text is
stored with an order-preserving escape (`_escape`: U+0001 -> U+0001 U+0002, U+0000
-> U+0001 U+0001; every other string is stored as it is). Everything of a pool
references the pool with `ON DELETE CASCADE`; a device also references its owner,
(pool, sub) of `users`, so deleting a user takes its devices, and a put for a missing
owner is refused as a `KeyError` (after the missing pool, before the other checks, as
the in-memory store orders them). A membership references its group and its user, so
deleting either takes it, and a membership of a missing group or user is a `KeyError`;
a membership of a group or user deleted by a concurrent transaction fails the foreign
key's check under SERIALIZABLE (a `TransientConflict`), so none outlives its group. A
pool resource is keyed by (pool, kind, name); the partial unique index
`resources_global_name` on (kind, name) of the kinds unique across pools (domains)
refuses a second pool's domain of a taken name, also one a concurrent transaction
committed (`UniqueViolation("domain", kind)`, or a `TransientConflict` when this
transaction read the name first). The outbox references no pool (its entries outlive
their pool); an insert of an id that exists is `UniqueViolation("outbox")`.

ListUsers reads `user_index`, one row per (user, searchable attribute) with the
value `authflow.core.listing.index_values` computes, through the B-tree
`user_index_scan` on (pool, index name, value, username key): `=`, `^=` (value >= p
AND value < the least string above every string starting with p) and keyset
positions (a row comparison) are one range of it, read in order, `LIMIT` rows at a
time. B-tree entries are limited to about 2.7 kB while attribute values may be 2048
characters of up to 4 UTF-8 bytes, so that index is partial: it holds the values of
at most `HEAD_CHARS` characters (all but contrived ones), and `user_index_scan_long`
holds the longer ones under their first `HEAD_CHARS` characters, their head.
Truncation keeps order (a <= b implies head(a) <= head(b)), so a filter or position
is a head range of that index, refined by the whole value and sorted by value
within one head. A page merges the two ranges. For the same reason verified
aliases are unique on (pool, kind, SHA-256 of the key).

Migrations. `MIGRATIONS[n - 1]` takes the schema from version n - 1 to n; the
version lives in `schema_info`. Opening a store applies the missing migrations in
one transaction under a transaction-level advisory lock on the schema's name, so
processes opening at once take turns; a schema newer than this code is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from authflow.adapters import codec
from authflow.adapters.sql_reads import SqlReads, statements
from authflow.adapters.sqlite import SchemaTooNew
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

if TYPE_CHECKING:
    import psycopg

__all__ = ["HEAD_CHARS", "MIGRATIONS", "TABLES", "PostgresStore", "SchemaTooNew"]

#: `schema_info.application` of an authflow schema, so another application's is refused.
APPLICATION = "authflow"

#: Index values of at most this many characters are in the ListUsers B-tree whole; longer
#: ones are in another one under their first HEAD_CHARS characters (see the module docs).
HEAD_CHARS = 256

#: The schema, as migrations: `MIGRATIONS[n - 1]` takes version n - 1 to version n. Unique
#: indexes are made after their table's primary key, so that PostgreSQL checks the key
#: first (it checks indexes in creation order), as the in-memory store checks versions
#: before uniqueness.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE pools (
            id      text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            doc     text NOT NULL,
            CONSTRAINT pools_pkey PRIMARY KEY (id)
        )""",
        """CREATE TABLE clients (
            id      text COLLATE "C" NOT NULL,
            pool_id text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            doc     text NOT NULL,
            CONSTRAINT clients_pkey PRIMARY KEY (id),
            CONSTRAINT clients_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE
        )""",
        "CREATE INDEX clients_by_pool ON clients (pool_id, id)",
        """CREATE TABLE users (
            pool_id      text COLLATE "C" NOT NULL,
            username_key text COLLATE "C" NOT NULL,
            sub          text COLLATE "C" NOT NULL,
            version      bigint NOT NULL,
            doc          text NOT NULL,
            CONSTRAINT users_pkey PRIMARY KEY (pool_id, username_key),
            CONSTRAINT users_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE
        )""",
        "ALTER TABLE users ADD CONSTRAINT users_sub_key UNIQUE (pool_id, sub)",
        # Verified aliases only (what `User.aliases` holds): one holder per (pool, kind, key).
        # The key's SHA-256 keeps the B-tree entry small whatever the key's length.
        """CREATE TABLE aliases (
            pool_id      text COLLATE "C" NOT NULL,
            kind         text COLLATE "C" NOT NULL,
            key_sha256   bytea NOT NULL,
            key          text COLLATE "C" NOT NULL,
            username_key text COLLATE "C" NOT NULL,
            CONSTRAINT aliases_pkey PRIMARY KEY (pool_id, kind, key_sha256),
            CONSTRAINT aliases_user_fkey FOREIGN KEY (pool_id, username_key)
                REFERENCES users (pool_id, username_key) ON DELETE CASCADE
        )""",
        "CREATE INDEX aliases_by_user ON aliases (pool_id, username_key)",
        # One row per (user, searchable attribute): a user has one value per index.
        """CREATE TABLE user_index (
            pool_id      text COLLATE "C" NOT NULL,
            username_key text COLLATE "C" NOT NULL,
            name         text COLLATE "C" NOT NULL,
            value        text COLLATE "C" NOT NULL,
            CONSTRAINT user_index_pkey PRIMARY KEY (pool_id, username_key, name),
            CONSTRAINT user_index_user_fkey FOREIGN KEY (pool_id, username_key)
                REFERENCES users (pool_id, username_key) ON DELETE CASCADE
        )""",
        f"""CREATE INDEX user_index_scan ON user_index (pool_id, name, value, username_key)
            WHERE length(value) <= {HEAD_CHARS}""",
        f"""CREATE INDEX user_index_scan_long ON user_index (pool_id, name, left(value, {HEAD_CHARS}), username_key)
            WHERE length(value) > {HEAD_CHARS}""",
        """CREATE TABLE signing_keys (
            pool_id    text COLLATE "C" NOT NULL,
            kid        text COLLATE "C" NOT NULL,
            created_us bigint NOT NULL,
            version    bigint NOT NULL,
            doc        text NOT NULL,
            CONSTRAINT signing_keys_pkey PRIMARY KEY (pool_id, kid),
            CONSTRAINT signing_keys_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE
        )""",
        "CREATE INDEX signing_keys_by_age ON signing_keys (pool_id, created_us, kid)",
        """CREATE TABLE sessions (
            id         text COLLATE "C" NOT NULL,
            pool_id    text COLLATE "C" NOT NULL,
            expires_us bigint NOT NULL,
            version    bigint NOT NULL,
            doc        text NOT NULL,
            CONSTRAINT sessions_pkey PRIMARY KEY (id),
            CONSTRAINT sessions_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE
        )""",
        "CREATE INDEX sessions_by_pool ON sessions (pool_id)",
        "CREATE INDEX sessions_by_expiry ON sessions (expires_us)",
        """CREATE TABLE refresh_tokens (
            token_hash text COLLATE "C" NOT NULL,
            pool_id    text COLLATE "C" NOT NULL,
            origin_jti text COLLATE "C" NOT NULL,
            expires_us bigint NOT NULL,
            version    bigint NOT NULL,
            doc        text NOT NULL,
            CONSTRAINT refresh_tokens_pkey PRIMARY KEY (token_hash),
            CONSTRAINT refresh_tokens_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE
        )""",
        "ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_origin_key UNIQUE (pool_id, origin_jti)",
        "CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_us)",
        """CREATE TABLE failed_sign_ins (
            pool_id         text COLLATE "C" NOT NULL,
            key             text COLLATE "C" NOT NULL,
            last_attempt_us bigint NOT NULL,
            version         bigint NOT NULL,
            doc             text NOT NULL,
            CONSTRAINT failed_sign_ins_pkey PRIMARY KEY (pool_id, key),
            CONSTRAINT failed_sign_ins_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE
        )""",
        "CREATE INDEX failed_sign_ins_by_age ON failed_sign_ins (last_attempt_us)",
    ),
    (
        # Device tracking. A device belongs to one user (by sub) and goes with it, and with
        # the pool. ListDevices reads one owner's range of `devices_by_owner`, confirmed
        # devices only (`listed`); purging reads `devices_by_expiry`, which holds only the
        # unconfirmed devices (a confirmed one has no expiry).
        """CREATE TABLE devices (
            pool_id    text COLLATE "C" NOT NULL,
            device_key text COLLATE "C" NOT NULL,
            sub        text COLLATE "C" NOT NULL,
            listed     smallint NOT NULL,
            expires_us bigint,
            version    bigint NOT NULL,
            doc        text NOT NULL,
            CONSTRAINT devices_pkey PRIMARY KEY (pool_id, device_key),
            CONSTRAINT devices_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE,
            CONSTRAINT devices_user_fkey FOREIGN KEY (pool_id, sub)
                REFERENCES users (pool_id, sub) ON DELETE CASCADE
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
            pool_id text COLLATE "C" NOT NULL,
            name    text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            doc     text NOT NULL,
            CONSTRAINT groups_pkey PRIMARY KEY (pool_id, name),
            CONSTRAINT groups_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE
        )""",
        """CREATE TABLE memberships (
            pool_id      text COLLATE "C" NOT NULL,
            group_name   text COLLATE "C" NOT NULL,
            username_key text COLLATE "C" NOT NULL,
            CONSTRAINT memberships_pkey PRIMARY KEY (pool_id, group_name, username_key),
            CONSTRAINT memberships_group_fkey FOREIGN KEY (pool_id, group_name)
                REFERENCES groups (pool_id, name) ON DELETE CASCADE,
            CONSTRAINT memberships_user_fkey FOREIGN KEY (pool_id, username_key)
                REFERENCES users (pool_id, username_key) ON DELETE CASCADE
        )""",
        "CREATE INDEX memberships_by_user ON memberships (pool_id, username_key, group_name)",
    ),
    (
        # Pool resources (domains, resource servers, identity providers, identity links):
        # named documents of a pool, listed by (kind, name) through the primary key and
        # deleted with the pool. A domain's name is unique across every pool: the partial
        # unique index holds the kinds of `GLOBAL_RESOURCE_KINDS` (written out, as a
        # migration never changes: a new global kind is a new migration), made after the
        # primary key so that a stale version is reported before a taken name.
        """CREATE TABLE resources (
            pool_id text COLLATE "C" NOT NULL,
            kind    text COLLATE "C" NOT NULL,
            name    text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            doc     text NOT NULL,
            CONSTRAINT resources_pkey PRIMARY KEY (pool_id, kind, name),
            CONSTRAINT resources_pool_fkey FOREIGN KEY (pool_id) REFERENCES pools (id) ON DELETE CASCADE
        )""",
        "CREATE UNIQUE INDEX resources_global_name ON resources (kind, name) WHERE kind = 'domain'",
        # The outbox: messages written with the change that caused them. No foreign key:
        # an entry outlives its pool (the console still lists what was sent). The sender
        # reads `outbox_due` (PENDING entries by next attempt); the console lists newest
        # first, of every pool, of one pool or to one destination. A destination may be a
        # long attribute value, so its index holds the first HEAD_CHARS characters, and a
        # lookup names both the head and the whole value.
        """CREATE TABLE outbox (
            id              text COLLATE "C" NOT NULL,
            pool_id         text COLLATE "C" NOT NULL,
            destination     text COLLATE "C" NOT NULL,
            state           text COLLATE "C" NOT NULL,
            created_us      bigint NOT NULL,
            next_attempt_us bigint NOT NULL,
            version         bigint NOT NULL,
            doc             text NOT NULL,
            CONSTRAINT outbox_pkey PRIMARY KEY (id)
        )""",
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_us, id)",
        "CREATE INDEX outbox_by_age ON outbox (created_us DESC, id DESC)",
        "CREATE INDEX outbox_by_pool ON outbox (pool_id, created_us DESC, id DESC)",
        f"""CREATE INDEX outbox_by_destination
            ON outbox (left(destination, {HEAD_CHARS}), created_us DESC, id DESC)""",
    ),
)

#: The tables of the schema (besides `schema_info`), for tools that read every row.
TABLES = (
    "pools", "clients", "users", "aliases", "user_index",
    "signing_keys", "sessions", "refresh_tokens", "failed_sign_ins", "devices", "groups", "memberships",
    "resources", "outbox",
)

#: The port's name for each unique constraint of the schema.
_UNIQUE_CONSTRAINTS = {
    "pools_pkey": "pool",
    "clients_pkey": "client",
    "users_pkey": "username",
    "users_sub_key": "sub",
    "aliases_pkey": "alias",
    "sessions_pkey": "session",
    "refresh_tokens_pkey": "refresh_token",
    "refresh_tokens_origin_key": "origin_jti",
    "devices_pkey": "device",
    "resources_global_name": "domain",
    "outbox_pkey": "outbox",
}

_SERIALIZATION_FAILURE = "40001"
_DEADLOCK_DETECTED = "40P01"
_LOCK_NOT_AVAILABLE = "55P03"
_TRANSIENT = {
    _SERIALIZATION_FAILURE: "serialization failure",
    _DEADLOCK_DETECTED: "deadlock",
    _LOCK_NOT_AVAILABLE: "lock wait timed out",
}
_UNIQUE_VIOLATION = "23505"
_FOREIGN_KEY_VIOLATION = "23503"

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# -- SQL --------------------------------------------------------------------------------
# Placeholders are psycopg's (%s, %(name)s). Every str parameter is escaped and every str
# column unescaped by the transaction (`_escape`, `_unescape`), so none of this SQL sees
# a raw U+0000.

_BEGIN = "BEGIN ISOLATION LEVEL SERIALIZABLE"
_SAVEPOINT = "SAVEPOINT port_call"
_RELEASE = "RELEASE SAVEPOINT port_call"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT port_call; RELEASE SAVEPOINT port_call"

_POOL_EXISTS = "SELECT 1 FROM pools WHERE id = %s"

_GET_POOL = "SELECT id, version, doc FROM pools WHERE id = %s"
_LIST_POOLS = "SELECT id, version, doc FROM pools WHERE id > %s ORDER BY id LIMIT %s"
_LIST_POOLS_FIRST = "SELECT id, version, doc FROM pools ORDER BY id LIMIT %s"
_INSERT_POOL = "INSERT INTO pools (id, version, doc) VALUES (%(id)s, %(version)s, %(doc)s)"
_UPDATE_POOL = """UPDATE pools SET version = %(version)s, doc = %(doc)s
    WHERE id = %(id)s AND version = %(old_version)s"""
_POOL_VERSION = "SELECT id AS pool_id, version FROM pools WHERE id = %(id)s"
_DELETE_POOL = "DELETE FROM pools WHERE id = %s"

_GET_CLIENT = "SELECT id, pool_id, version, doc FROM clients WHERE id = %s"
_LIST_CLIENTS = """SELECT id, pool_id, version, doc FROM clients
    WHERE pool_id = %s AND id > %s ORDER BY id LIMIT %s"""
_LIST_CLIENTS_FIRST = "SELECT id, pool_id, version, doc FROM clients WHERE pool_id = %s ORDER BY id LIMIT %s"
_INSERT_CLIENT = """INSERT INTO clients (id, pool_id, version, doc)
    VALUES (%(id)s, %(pool_id)s, %(version)s, %(doc)s)"""
_UPDATE_CLIENT = """UPDATE clients SET version = %(version)s, doc = %(doc)s
    WHERE id = %(id)s AND pool_id = %(pool_id)s AND version = %(old_version)s"""
_CLIENT_VERSION = "SELECT pool_id, version FROM clients WHERE id = %(id)s"
_DELETE_CLIENT = "DELETE FROM clients WHERE id = %s"

_USER_COLUMNS = "u.pool_id, u.username_key, u.sub, u.version, u.doc"
_GET_USER = f"SELECT {_USER_COLUMNS} FROM users AS u WHERE u.pool_id = %s AND u.username_key = %s"
_GET_USER_BY_SUB = f"SELECT {_USER_COLUMNS} FROM users AS u WHERE u.pool_id = %s AND u.sub = %s"
_GET_USER_BY_ALIAS = f"""SELECT {_USER_COLUMNS}
    FROM aliases AS a
    JOIN users AS u ON u.pool_id = a.pool_id AND u.username_key = a.username_key
    WHERE a.pool_id = %s AND a.kind = %s AND a.key_sha256 = %s AND a.key = %s"""
_INSERT_USER = """INSERT INTO users (pool_id, username_key, sub, version, doc)
    VALUES (%(pool_id)s, %(username_key)s, %(sub)s, %(version)s, %(doc)s)"""
_UPDATE_USER = """UPDATE users SET sub = %(sub)s, version = %(version)s, doc = %(doc)s
    WHERE pool_id = %(pool_id)s AND username_key = %(username_key)s AND version = %(old_version)s"""
_USER_VERSION = """SELECT pool_id, version FROM users
    WHERE pool_id = %(pool_id)s AND username_key = %(username_key)s"""
_DELETE_USER = "DELETE FROM users WHERE pool_id = %s AND username_key = %s"
_COUNT_USERS = "SELECT count(*) AS n FROM users WHERE pool_id = %s"

# What a user holds besides its row: its aliases and its ListUsers index entries.
_USER_HELD = """SELECT 'alias' AS what, kind AS name, key AS value, key_sha256 FROM aliases
        WHERE pool_id = %(pool_id)s AND username_key = %(username_key)s
    UNION ALL
    SELECT 'index', name, value, NULL FROM user_index
        WHERE pool_id = %(pool_id)s AND username_key = %(username_key)s"""
_INSERT_ALIAS = "INSERT INTO aliases (pool_id, kind, key_sha256, key, username_key) VALUES (%s, %s, %s, %s, %s)"
_DELETE_ALIASES = """DELETE FROM aliases WHERE pool_id = %s AND username_key = %s
    AND (kind, key_sha256) IN (SELECT * FROM unnest(%s::text[], %s::bytea[]))"""
_INSERT_INDEX_ROWS = """INSERT INTO user_index (pool_id, username_key, name, value)
    SELECT %s, %s, n, v FROM unnest(%s::text[], %s::text[]) AS t (n, v)"""
_DELETE_INDEX_ROWS = "DELETE FROM user_index WHERE pool_id = %s AND username_key = %s AND name = ANY(%s::text[])"

# ListUsers: one page of index entries in keyset order, then their users by primary key.
# The entries come from a range of `user_index_scan` (values of at most HEAD_CHARS
# characters, in (value, username key) order) and, merged with it, a range of
# `user_index_scan_long` (longer values, in (head, username key) order, sorted by value
# within a head). `{short}` / `{long}` are the branches that can match, filled only from
# the fragments below, never from input.
_SCAN_USERS = f"""SELECT i.position, {_USER_COLUMNS}
    FROM ({{branches}}) AS i
    JOIN users AS u ON u.pool_id = %(pool_id)s AND u.username_key = i.username_key
    ORDER BY i.position, i.username_key
    LIMIT %(limit)s"""
_SCAN_SHORT = f"""(SELECT i.value AS position, i.username_key FROM user_index AS i
        WHERE i.pool_id = %(pool_id)s AND i.name = %(name)s AND length(i.value) <= {HEAD_CHARS}{{conditions}}
        ORDER BY i.value, i.username_key
        LIMIT %(limit)s)"""
_SCAN_LONG = f"""(SELECT i.value AS position, i.username_key FROM user_index AS i
        WHERE i.pool_id = %(pool_id)s AND i.name = %(name)s AND length(i.value) > {HEAD_CHARS}{{conditions}}
        ORDER BY left(i.value, {HEAD_CHARS}), i.value, i.username_key
        LIMIT %(limit)s)"""
# (condition on the value, the head range that condition implies for long values)
_HEAD = f"left(i.value, {HEAD_CHARS})"
_SCAN_EXACT = (" AND i.value = %(exact)s", f" AND {_HEAD} = left(%(exact)s, {HEAD_CHARS})")
_SCAN_EXACT_AFTER = (" AND i.username_key > %(after_key)s", "")
_SCAN_FROM = (" AND i.value >= %(low)s", f" AND {_HEAD} >= left(%(low)s, {HEAD_CHARS})")
_SCAN_BELOW = (" AND i.value < %(high)s", f" AND {_HEAD} <= left(%(high)s, {HEAD_CHARS})")
_SCAN_AFTER = (
    " AND (i.value, i.username_key) > (%(after_value)s, %(after_key)s)",
    f" AND {_HEAD} >= left(%(after_value)s, {HEAD_CHARS})",
)

_LIST_SIGNING_KEYS = """SELECT pool_id, kid, created_us, version, doc FROM signing_keys
    WHERE pool_id = %s ORDER BY created_us, kid"""
_INSERT_SIGNING_KEY = """INSERT INTO signing_keys (pool_id, kid, created_us, version, doc)
    VALUES (%(pool_id)s, %(kid)s, %(created_us)s, %(version)s, %(doc)s)"""
_UPDATE_SIGNING_KEY = """UPDATE signing_keys SET created_us = %(created_us)s, version = %(version)s, doc = %(doc)s
    WHERE pool_id = %(pool_id)s AND kid = %(kid)s AND version = %(old_version)s"""
_SIGNING_KEY_VERSION = "SELECT pool_id, version FROM signing_keys WHERE pool_id = %(pool_id)s AND kid = %(kid)s"
_DELETE_SIGNING_KEY = "DELETE FROM signing_keys WHERE pool_id = %s AND kid = %s"

_GET_SESSION = "SELECT id, pool_id, expires_us, version, doc FROM sessions WHERE id = %s"
_INSERT_SESSION = """INSERT INTO sessions (id, pool_id, expires_us, version, doc)
    VALUES (%(id)s, %(pool_id)s, %(expires_us)s, %(version)s, %(doc)s)"""
_UPDATE_SESSION = """UPDATE sessions SET expires_us = %(expires_us)s, version = %(version)s, doc = %(doc)s
    WHERE id = %(id)s AND pool_id = %(pool_id)s AND version = %(old_version)s"""
_SESSION_VERSION = "SELECT pool_id, version FROM sessions WHERE id = %(id)s"
_DELETE_SESSION = "DELETE FROM sessions WHERE id = %s"

_TOKEN_COLUMNS = "token_hash, pool_id, origin_jti, expires_us, version, doc"
_GET_REFRESH_TOKEN = f"SELECT {_TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = %s"
_GET_REFRESH_TOKEN_BY_ORIGIN = f"SELECT {_TOKEN_COLUMNS} FROM refresh_tokens WHERE pool_id = %s AND origin_jti = %s"
_INSERT_REFRESH_TOKEN = f"""INSERT INTO refresh_tokens ({_TOKEN_COLUMNS})
    VALUES (%(token_hash)s, %(pool_id)s, %(origin_jti)s, %(expires_us)s, %(version)s, %(doc)s)"""
_UPDATE_REFRESH_TOKEN = """UPDATE refresh_tokens
    SET origin_jti = %(origin_jti)s, expires_us = %(expires_us)s, version = %(version)s, doc = %(doc)s
    WHERE token_hash = %(token_hash)s AND pool_id = %(pool_id)s AND version = %(old_version)s"""
_REFRESH_TOKEN_VERSION = "SELECT pool_id, version FROM refresh_tokens WHERE token_hash = %(token_hash)s"
_DELETE_REFRESH_TOKEN = "DELETE FROM refresh_tokens WHERE token_hash = %s"

_GET_FAILED_SIGN_INS = """SELECT pool_id, key, last_attempt_us, version, doc FROM failed_sign_ins
    WHERE pool_id = %s AND key = %s"""
_INSERT_FAILED_SIGN_INS = """INSERT INTO failed_sign_ins (pool_id, key, last_attempt_us, version, doc)
    VALUES (%(pool_id)s, %(key)s, %(last_attempt_us)s, %(version)s, %(doc)s)"""
_UPDATE_FAILED_SIGN_INS = """UPDATE failed_sign_ins
    SET last_attempt_us = %(last_attempt_us)s, version = %(version)s, doc = %(doc)s
    WHERE pool_id = %(pool_id)s AND key = %(key)s AND version = %(old_version)s"""
_FAILED_SIGN_INS_VERSION = "SELECT pool_id, version FROM failed_sign_ins WHERE pool_id = %(pool_id)s AND key = %(key)s"
_DELETE_FAILED_SIGN_INS = "DELETE FROM failed_sign_ins WHERE pool_id = %s AND key = %s"

_DEVICE_COLUMNS = "pool_id, device_key, sub, listed, expires_us, version, doc"
_GET_DEVICE = f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE pool_id = %s AND device_key = %s"
_DEVICE_OWNER = "SELECT sub, version FROM devices WHERE pool_id = %(pool_id)s AND device_key = %(device_key)s"
_USER_SUB_EXISTS = "SELECT 1 FROM users WHERE pool_id = %(pool_id)s AND sub = %(sub)s"
_LIST_DEVICES = f"""SELECT {_DEVICE_COLUMNS} FROM devices
    WHERE pool_id = %s AND sub = %s AND listed = 1 AND device_key > %s ORDER BY device_key LIMIT %s"""
_LIST_DEVICES_FIRST = f"""SELECT {_DEVICE_COLUMNS} FROM devices
    WHERE pool_id = %s AND sub = %s AND listed = 1 ORDER BY device_key LIMIT %s"""
_INSERT_DEVICE = f"""INSERT INTO devices ({_DEVICE_COLUMNS})
    VALUES (%(pool_id)s, %(device_key)s, %(sub)s, %(listed)s, %(expires_us)s, %(version)s, %(doc)s)"""
# The owner is part of the key an update matches: a device never changes hands.
_UPDATE_DEVICE = """UPDATE devices
    SET listed = %(listed)s, expires_us = %(expires_us)s, version = %(version)s, doc = %(doc)s
    WHERE pool_id = %(pool_id)s AND device_key = %(device_key)s AND sub = %(sub)s
        AND version = %(old_version)s"""
_DELETE_DEVICE = "DELETE FROM devices WHERE pool_id = %s AND device_key = %s"

_GROUP_COLUMNS = "pool_id, name, version, doc"
_GET_GROUP = f"SELECT {_GROUP_COLUMNS} FROM groups WHERE pool_id = %s AND name = %s"
_GROUP_VERSION = "SELECT pool_id, version FROM groups WHERE pool_id = %(pool_id)s AND name = %(name)s"
_LIST_GROUPS = f"SELECT {_GROUP_COLUMNS} FROM groups WHERE pool_id = %s AND name > %s ORDER BY name LIMIT %s"
_LIST_GROUPS_FIRST = f"SELECT {_GROUP_COLUMNS} FROM groups WHERE pool_id = %s ORDER BY name LIMIT %s"
_COUNT_GROUPS = "SELECT count(*) AS n FROM groups WHERE pool_id = %s"
_INSERT_GROUP = f"INSERT INTO groups ({_GROUP_COLUMNS}) VALUES (%(pool_id)s, %(name)s, %(version)s, %(doc)s)"
_UPDATE_GROUP = """UPDATE groups SET version = %(version)s, doc = %(doc)s
    WHERE pool_id = %(pool_id)s AND name = %(name)s AND version = %(old_version)s"""
_DELETE_GROUP = "DELETE FROM groups WHERE pool_id = %s AND name = %s"  # cascades to its memberships

# An existing membership is left as it is (adding is idempotent); a missing group or user
# fails the foreign keys. Under SERIALIZABLE a membership of a group or user that a
# concurrent transaction deleted fails (40001) rather than being written.
_ADD_MEMBER = """INSERT INTO memberships (pool_id, group_name, username_key) VALUES (%s, %s, %s)
    ON CONFLICT DO NOTHING"""
_REMOVE_MEMBER = "DELETE FROM memberships WHERE pool_id = %s AND group_name = %s AND username_key = %s"
_GROUPS_OF = "SELECT group_name FROM memberships WHERE pool_id = %s AND username_key = %s ORDER BY group_name"
_MEMBERS = """SELECT username_key FROM memberships
    WHERE pool_id = %s AND group_name = %s AND username_key > %s ORDER BY username_key LIMIT %s"""
_MEMBERS_FIRST = """SELECT username_key FROM memberships
    WHERE pool_id = %s AND group_name = %s ORDER BY username_key LIMIT %s"""

_RESOURCE_COLUMNS = "pool_id, kind, name, version, doc"
_GET_RESOURCE = f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE pool_id = %s AND kind = %s AND name = %s"
_RESOURCE_VERSION = """SELECT pool_id, version FROM resources
    WHERE pool_id = %(pool_id)s AND kind = %(kind)s AND name = %(name)s"""
# The literal kind lets the planner read the partial index (the global kinds are its condition).
_FIND_RESOURCE = f"SELECT {_RESOURCE_COLUMNS} FROM resources WHERE kind = %s AND name = %s AND kind = 'domain'"
_LIST_RESOURCES = f"""SELECT {_RESOURCE_COLUMNS} FROM resources
    WHERE pool_id = %s AND kind = %s AND name > %s ORDER BY name LIMIT %s"""
_LIST_RESOURCES_FIRST = f"""SELECT {_RESOURCE_COLUMNS} FROM resources
    WHERE pool_id = %s AND kind = %s ORDER BY name LIMIT %s"""
_INSERT_RESOURCE = f"""INSERT INTO resources ({_RESOURCE_COLUMNS})
    VALUES (%(pool_id)s, %(kind)s, %(name)s, %(version)s, %(doc)s)"""
_UPDATE_RESOURCE = """UPDATE resources SET version = %(version)s, doc = %(doc)s
    WHERE pool_id = %(pool_id)s AND kind = %(kind)s AND name = %(name)s AND version = %(old_version)s"""
_DELETE_RESOURCE = "DELETE FROM resources WHERE pool_id = %s AND kind = %s AND name = %s"

_OUTBOX_COLUMNS = "id, pool_id, destination, state, created_us, next_attempt_us, version, doc"
_GET_OUTBOX = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = %s"
_OUTBOX_VERSION = "SELECT version FROM outbox WHERE id = %(id)s"
_INSERT_OUTBOX = f"""INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES (%(id)s, %(pool_id)s, %(destination)s,
    %(state)s, %(created_us)s, %(next_attempt_us)s, %(version)s, %(doc)s)"""
_UPDATE_OUTBOX = """UPDATE outbox SET pool_id = %(pool_id)s, destination = %(destination)s, state = %(state)s,
    created_us = %(created_us)s, next_attempt_us = %(next_attempt_us)s, version = %(version)s, doc = %(doc)s
    WHERE id = %(id)s AND version = %(old_version)s"""
_DUE_OUTBOX = f"""SELECT {_OUTBOX_COLUMNS} FROM outbox
    WHERE state = 'PENDING' AND next_attempt_us <= %s ORDER BY next_attempt_us, id LIMIT %s"""
# `{conditions}`: the fragments below joined with AND (see SqlReads.list_outbox).
_LIST_OUTBOX = f"""SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {{conditions}}
    ORDER BY created_us DESC, id DESC LIMIT %(limit)s"""
_OUTBOX_OF_POOL = "pool_id = %(pool_id)s"
_OUTBOX_TO = f"left(destination, {HEAD_CHARS}) = left(%(destination)s, {HEAD_CHARS}) AND destination = %(destination)s"
_OUTBOX_BEFORE = "(created_us, id) < (%(before_us)s, %(before_id)s)"

_PURGE_SESSIONS = """DELETE FROM sessions WHERE id IN
    (SELECT id FROM sessions WHERE expires_us <= %s LIMIT %s)"""
_PURGE_REFRESH_TOKENS = """DELETE FROM refresh_tokens WHERE token_hash IN
    (SELECT token_hash FROM refresh_tokens WHERE expires_us <= %s LIMIT %s)"""
_PURGE_FAILED_SIGN_INS = """DELETE FROM failed_sign_ins WHERE (pool_id, key) IN
    (SELECT pool_id, key FROM failed_sign_ins WHERE last_attempt_us <= %s LIMIT %s)"""
_PURGE_DEVICES = """DELETE FROM devices WHERE (pool_id, device_key) IN
    (SELECT pool_id, device_key FROM devices WHERE expires_us <= %s LIMIT %s)"""



class _Kind(NamedTuple):
    """How one kind of record is written, and how a refused write is explained."""

    insert: str
    update: str
    current: str  # (pool_id, version) of the stored record with the row's key
    pool_first: bool  # the in-memory store checks that the pool exists before anything
    cross_pool: str | None  # the UniqueViolation when the key belongs to another pool


_POOLS = _Kind(_INSERT_POOL, _UPDATE_POOL, _POOL_VERSION, False, None)
_CLIENTS = _Kind(_INSERT_CLIENT, _UPDATE_CLIENT, _CLIENT_VERSION, False, "client")
_USERS = _Kind(_INSERT_USER, _UPDATE_USER, _USER_VERSION, True, None)
_SIGNING_KEYS = _Kind(_INSERT_SIGNING_KEY, _UPDATE_SIGNING_KEY, _SIGNING_KEY_VERSION, True, None)
_SESSIONS = _Kind(_INSERT_SESSION, _UPDATE_SESSION, _SESSION_VERSION, True, "session")
_REFRESH_TOKENS = _Kind(_INSERT_REFRESH_TOKEN, _UPDATE_REFRESH_TOKEN, _REFRESH_TOKEN_VERSION, True, "refresh_token")
_FAILED_SIGN_INS = _Kind(
    _INSERT_FAILED_SIGN_INS, _UPDATE_FAILED_SIGN_INS, _FAILED_SIGN_INS_VERSION, True, None
)
# `groups_pkey` is not a port constraint: an insert over an existing name is stale
# (`VersionConflict`) when this transaction sees the holder, else a concurrent writer's
# (`TransientConflict`), so a racing CreateGroup re-runs and finds the group.
_GROUPS = _Kind(_INSERT_GROUP, _UPDATE_GROUP, _GROUP_VERSION, True, None)
# A taken domain is `resources_global_name` (a UniqueViolation("domain", kind)); an insert
# over this pool's own resource is stale, as for groups.
_RESOURCES = _Kind(_INSERT_RESOURCE, _UPDATE_RESOURCE, _RESOURCE_VERSION, True, None)


# -- psycopg, imported when a store is made ----------------------------------------------

_pg: Any = None  # the psycopg module, once loaded


def _psycopg() -> tuple[Any, Any]:
    """psycopg and psycopg_pool, or an ImportError that says how to install them."""
    global _pg
    try:
        import psycopg
        import psycopg_pool
    except ImportError as error:
        raise ImportError(
            "PostgresStore needs psycopg 3 and psycopg-pool: pip install 'authflow[postgres]'"
        ) from error
    _pg = psycopg
    return psycopg, psycopg_pool


# -- key text: an order-preserving escape of U+0000 ----------------------------------------

_ESCAPES = str.maketrans({"\x01": "\x01\x02", "\x00": "\x01\x01"})
_ESCAPED = re.compile("\x01([\x01\x02])")


def _escape(text: str) -> str:
    """`text` as PostgreSQL can store it. Each character maps to a code word (U+0000 ->
    U+0001 U+0001, U+0001 -> U+0001 U+0002, any other to itself); the code words are
    ordered as their characters and none is a prefix of another, so escaping keeps code
    point order, equality and prefixes."""
    return text.translate(_ESCAPES) if "\x00" in text or "\x01" in text else text


def _unescape(text: str) -> str:
    if "\x01" not in text:
        return text
    return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "\x01" else "\x01", text)


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def _params(params: Any) -> Any:
    if isinstance(params, Mapping):
        return {k: _escaped(v) for k, v in params.items()}
    return tuple(_escaped(v) for v in params)


def _rows(cursor: Any) -> Callable[[Any], dict[str, Any]]:
    """psycopg row factory: a dict per row, text unescaped (documents hold no U+0001:
    their JSON escapes every control character)."""
    names = [column.name for column in cursor.description or ()]

    def make(values: Any) -> dict[str, Any]:
        return {n: _unescape(v) if isinstance(v, str) else v for n, v in zip(names, values, strict=True)}

    return make


def _alias_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix` (code point order),
    or None when no string is."""
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
    """The ListUsers query for one index range: the lower bound is the later of the
    filter's start and the keyset position. None when the range is empty."""
    conditions: list[tuple[str, str]] = []
    params: dict[str, Any] = {}
    short = long = True
    if exact is not None:
        conditions.append(_SCAN_EXACT)
        params["exact"] = exact
        if after is not None and after[0] > exact:
            return None
        if after is not None and after[0] == exact:
            conditions.append(_SCAN_EXACT_AFTER)
            params["after_key"] = after[1]
        # Only one of the indexes can hold the value (lengths count the stored text).
        short = len(_escape(exact)) <= HEAD_CHARS
        long = not short
    else:
        if after is not None and (not prefix or after[0] >= prefix):
            conditions.append(_SCAN_AFTER)
            params["after_value"], params["after_key"] = after
        elif prefix:  # the empty prefix matches every entry
            conditions.append(_SCAN_FROM)
            params["low"] = prefix
        high = _prefix_end(prefix) if prefix else None
        if high is not None:  # escaping keeps order: the bound holds for the stored text too
            conditions.append(_SCAN_BELOW)
            params["high"] = high
    branches = []
    if short:
        branches.append(_SCAN_SHORT.format(conditions="".join(value for value, _ in conditions)))
    if long:
        branches.append(_SCAN_LONG.format(conditions="".join(value + head for value, head in conditions)))
    return _SCAN_USERS.format(branches=" UNION ALL ".join(branches)), params


# -- errors ---------------------------------------------------------------------------------


def _sqlstate(error: BaseException) -> str | None:
    return getattr(error, "sqlstate", None)


def _transient(error: BaseException) -> TransientConflict | None:
    what = _TRANSIENT.get(_sqlstate(error) or "")
    if what is None:
        return None
    return TransientConflict(f"{what} (SQLSTATE {_sqlstate(error)}); nothing was written, try again")


def _constraint(error: BaseException) -> str | None:
    diag = getattr(error, "diag", None)
    return getattr(diag, "constraint_name", None)


class _NoRow(Exception):
    """An UPDATE that checks the version found no row to change."""


class PostgresStore:
    """A `Store` in a PostgreSQL schema, shared safely by threads, processes and machines.

    `dsn` is a libpq connection string or URI. `min_size` / `max_size` bound the pool of
    connections (each transaction holds one; a thread waits up to `pool_timeout_s` for
    one). `schema` is the PostgreSQL schema that holds the tables; it is created on
    first use. `lock_timeout_s` bounds a wait for another transaction's row lock (it
    then fails as a `TransientConflict`). Close the store (or use it as a context
    manager) to close its connections.
    """

    #: The data outlives the process: an engine must seal secrets with a configured KEK.
    durable = True

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        schema: str = "authflow",
        lock_timeout_s: float = 5.0,
        pool_timeout_s: float = 30.0,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema {schema!r}: use lower-case letters, digits and _ (at most 63)")
        psycopg, self._pool_module = _psycopg()
        self.schema = schema
        self._dsn = dsn
        self._min_size, self._max_size = min_size, max_size
        self._lock_timeout_ms = max(0, round(lock_timeout_s * 1000))
        self._pool_timeout_s = pool_timeout_s
        self._in_transaction = threading.local()
        self._lock = threading.Lock()
        self._closed = False
        info = psycopg.conninfo.conninfo_to_dict(dsn)  # for messages: never the password
        self._where = f'PostgreSQL schema "{schema}" of database "{info.get("dbname", "")}"'
        with psycopg.connect(dsn, autocommit=True) as conn:
            self._configure(conn)
            _migrate(conn, schema, self._where)
        self._pid = os.getpid()
        self._pool = self._open_pool()

    def __repr__(self) -> str:
        return f"PostgresStore(<{self._where}>)"

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the pool's connections; a transaction still running ends first."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            forked = os.getpid() != self._pid
        if not forked:  # a forked child must not close its parent's connections
            self._pool.close()

    @classmethod
    def drop_schema(cls, dsn: str, schema: str = "authflow") -> None:
        """Drop `schema` and everything in it (for tests and tear-downs)."""
        psycopg, _ = _psycopg()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(schema)))

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[_PostgresTransaction]:
        if getattr(self._in_transaction, "active", False):
            # A second connection would wait for this thread's own row locks.
            raise RuntimeError("PostgresStore transactions do not nest: this thread already has one open")
        self._in_transaction.active = True
        try:
            pool, conn = self._begin()
            try:
                tx = _PostgresTransaction(conn)
                try:
                    yield tx
                except BaseException:
                    tx.end()
                    _rollback(conn)
                    raise
                tx.end()
                tx.commit()
            finally:
                pool.putconn(conn)  # rolled back by the pool if still open
        finally:
            self._in_transaction.active = False

    def _begin(self) -> tuple[Any, psycopg.Connection]:
        """A pooled connection in a new SERIALIZABLE transaction. A connection that died
        while idle in the pool (a server restart) is replaced: nothing was sent yet."""
        for attempt in range(3):
            pool = self._current_pool()
            conn = pool.getconn(timeout=self._pool_timeout_s)
            try:
                conn.execute(_BEGIN)
                return pool, conn
            except _pg.OperationalError as error:
                pool.putconn(conn)  # the pool replaces a broken connection
                if not conn.broken or attempt == 2:
                    transient = _transient(error)
                    if transient is not None:
                        raise transient from error
                    raise
            except BaseException:
                pool.putconn(conn)
                raise
        raise AssertionError("unreachable")

    # -- connections ---------------------------------------------------------------------

    def _current_pool(self) -> Any:
        with self._lock:
            if self._closed:
                raise StoreError(f"{self!r} is closed")
            if os.getpid() != self._pid:
                # A forked child must not use (or close) its parent's connections: it
                # opens its own, and leaves the inherited pool alone.
                self._pool, self._pid = self._open_pool(), os.getpid()
            return self._pool

    def _open_pool(self) -> Any:
        pool = self._pool_module.ConnectionPool(
            self._dsn,
            kwargs={"autocommit": True},
            min_size=self._min_size,
            max_size=self._max_size,
            configure=self._configure,
            timeout=self._pool_timeout_s,
            name=f"authflow-{self.schema}",
            open=False,
        )
        pool.open(wait=True, timeout=self._pool_timeout_s)
        return pool

    def _configure(self, conn: psycopg.Connection) -> None:
        sql = _pg.sql
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(self._lock_timeout_ms)))


def _rollback(conn: psycopg.Connection) -> None:
    """Roll back the open transaction; a connection that cannot is closed (the pool
    then replaces it)."""
    try:
        if conn.info.transaction_status != _pg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except _pg.Error:
        conn.close()


def _migrate(conn: psycopg.Connection, schema: str, where: str) -> None:
    """Bring the schema to `len(MIGRATIONS)` in one transaction, or refuse it. The
    advisory lock makes stores opened at once, in any process, take turns."""
    sql = _pg.sql
    known = len(MIGRATIONS)
    lock = int.from_bytes(hashlib.sha256(f"authflow schema {schema}".encode()).digest()[:8], "big", signed=True)
    conn.execute("BEGIN")
    try:
        conn.execute("SET LOCAL lock_timeout = 0")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        has_info = conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'schema_info'", (schema,)
        ).fetchone()
        if has_info is None:
            others = conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                  "WHERE n.nspname = %s", (schema,)).fetchone()[0]
            if others:
                raise StoreError(f"{where} is not an authflow store (it holds objects but no schema_info)")
            conn.execute("""CREATE TABLE schema_info (
                singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                application text NOT NULL,
                version     integer NOT NULL
            )""")
            conn.execute("INSERT INTO schema_info (application, version) VALUES (%s, 0)", (APPLICATION,))
        application, found = conn.execute("SELECT application, version FROM schema_info").fetchone()
        if application != APPLICATION:
            raise StoreError(f"{where} is not an authflow store (application {application!r})")
        if found > known:
            raise SchemaTooNew(where, found, known)
        for migration in MIGRATIONS[found:]:
            for statement in migration:
                conn.execute(statement)
        if found != known:
            conn.execute("UPDATE schema_info SET version = %s", (known,))
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


class _PostgresTransaction(SqlReads):
    """One open PostgreSQL transaction, behind the port's `Transaction` methods.

    `connection` is its psycopg connection, for diagnostics (`EXPLAIN`, `SHOW`);
    committing or rolling back through it is the store's job alone.
    """

    SQL = statements(globals())  # what SqlReads runs, in this dialect

    def __init__(self, conn: psycopg.Connection) -> None:
        self.connection = conn
        self.closed = False
        self._cursor = conn.cursor(row_factory=_rows)
        self._in_savepoint = False
        self._failed: BaseException | None = None  # why the transaction cannot commit

    # -- helpers -------------------------------------------------------------------------

    def _scan_query(self, exact: str | None, prefix: str | None,
                    after: tuple[str, str] | None) -> tuple[str, dict[str, Any]] | None:
        return _scan_query(exact, prefix, after)  # this dialect's ListUsers range

    def _alias_key(self, key: str) -> tuple[Any, ...]:
        # Aliases are found by the key's digest (a B-tree entry must stay short), then the key.
        return (_alias_digest(key), key)

    def _execute(self, sql: str, params: Any = None) -> Any:
        if self.closed:
            raise RuntimeError("transaction already ended")
        if self._failed is not None:
            raise self._unusable()
        try:
            return self._cursor.execute(sql, None if params is None else _params(params))
        except _pg.Error as error:
            if self._in_savepoint:
                raise  # `_write` rolls back to the savepoint and explains
            transient = _transient(error)
            self._failed = transient or error
            if transient is not None:
                raise transient from error
            raise

    def _unusable(self) -> StoreError:
        message = f"an earlier statement of this transaction failed ({self._failed}); nothing will be written"
        return TransientConflict(message) if isinstance(self._failed, TransientConflict) else StoreError(message)

    def _one(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        return self._execute(sql, params).fetchone()

    def _all(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        return self._execute(sql, params).fetchall()

    def _delete(self, sql: str, *key: str) -> None:
        if self._execute(sql, key).rowcount == 0:
            raise KeyError(key if len(key) > 1 else key[0])

    def end(self) -> None:
        """No more port calls: the store commits or rolls back next."""
        self.closed = True
        self._cursor.close()

    def commit(self) -> None:
        conn = self.connection
        if self._failed is not None or conn.info.transaction_status != _pg.pq.TransactionStatus.INTRANS:
            # PostgreSQL would answer COMMIT of a failed transaction with a silent ROLLBACK.
            error = self._unusable() if self._failed is not None else StoreError("the transaction failed")
            _rollback(conn)
            raise error
        try:
            conn.execute("COMMIT")
        except _pg.Error as error:  # the server rolled back (or the connection is gone)
            _rollback(conn)
            transient = _transient(error)
            if transient is not None:
                raise transient from error
            raise

    def _write(self, body: Callable[[], None], refusal: Callable[[BaseException | None], BaseException]) -> None:
        """Run one port call's statements all-or-nothing. When they fail, roll back to
        the savepoint (the transaction goes on) and raise what `refusal` makes of the
        error (None: an UPDATE found no row of the expected version)."""
        self._execute(_SAVEPOINT)
        self._in_savepoint = True
        try:
            body()
        except (_NoRow, _pg.Error) as error:
            self._in_savepoint = False
            self._rollback_to_savepoint()
            if isinstance(error, _NoRow):
                raise refusal(None) from None
            refused = refusal(error)
            if refused is error:
                raise
            raise refused from error
        except BaseException:
            self._in_savepoint = False
            self._rollback_to_savepoint()
            raise
        self._in_savepoint = False
        self._execute(_RELEASE)

    def _rollback_to_savepoint(self) -> None:
        try:
            self._cursor.execute(_ROLLBACK_TO)
        except _pg.Error as error:  # the connection is gone, or worse
            self._failed = error

    def _put(self, kind: _Kind, row: Mapping[str, Any], pool_id: str) -> None:
        params = {**row, "old_version": row["version"] - 1}
        statement = kind.insert if row["version"] == 1 else kind.update

        def body() -> None:
            if self._cursor.execute(statement, _params(params)).rowcount != 1:
                raise _NoRow

        self._write(body, lambda error: self._refusal(kind, row, pool_id, error))

    def _refusal(self, kind: _Kind, row: Mapping[str, Any], pool_id: str, error: BaseException | None,
                 constraint_kind: str | None = None) -> BaseException:
        """What the in-memory store would have said of a refused put, in its order:
        missing pool, key of another pool, stale version, then the violated constraint."""
        if error is not None:
            transient = _transient(error)
            if transient is not None:
                return transient
            if _sqlstate(error) not in (_UNIQUE_VIOLATION, _FOREIGN_KEY_VIOLATION):
                return error
        if self._failed is not None:
            return self._unusable()
        foreign_key = error is not None and _sqlstate(error) == _FOREIGN_KEY_VIOLATION
        if (kind.pool_first or foreign_key) and self._one(_POOL_EXISTS, (pool_id,)) is None:
            return KeyError(f"no pool {pool_id}")
        old = self._one(kind.current, row)
        if old is not None and kind.cross_pool is not None and old["pool_id"] != pool_id:
            return UniqueViolation(kind.cross_pool)
        expected = 1 if old is None else old["version"] + 1
        if row["version"] != expected:
            return VersionConflict(f"expected version {expected}, got {row['version']}")
        constraint = _UNIQUE_CONSTRAINTS.get(_constraint(error) or "") if error is not None else None
        if constraint is not None and _sqlstate(error) == _UNIQUE_VIOLATION:
            return UniqueViolation(constraint, constraint_kind if constraint in ("alias", "domain") else None)
        # What was in the way is not visible to this transaction: a concurrent writer's.
        return TransientConflict("a concurrent transaction changed this record; nothing was written, try again")

    # -- pools ---------------------------------------------------------------------------

    def put_pool(self, pool: UserPool) -> None:
        self._put(_POOLS, codec.pool_to_row(pool), pool.id)

    # -- app clients ---------------------------------------------------------------------

    def put_client(self, client: AppClient) -> None:
        self._put(_CLIENTS, codec.client_to_row(client), client.pool_id)

    # -- users ---------------------------------------------------------------------------

    def put_user(self, user: User) -> None:
        # The same checks, in the same order, as MemoryStore: pool, version, sub, aliases.
        row = codec.user_to_row(user)
        pool_id, key = user.pool_id, user.username_key
        params = _params({**row, "old_version": user.version - 1})
        adding: list[str | None] = [None]  # the kind of the alias being inserted

        def body() -> None:
            cursor = self._cursor
            held_aliases: dict[tuple[str, str], bytes] = {}
            held_index: dict[str, str] = {}
            if user.version == 1:
                cursor.execute(_INSERT_USER, params)  # a new user holds nothing yet
            else:
                if cursor.execute(_UPDATE_USER, params).rowcount != 1:
                    raise _NoRow
                for held in cursor.execute(_USER_HELD, params).fetchall():
                    if held["what"] == "alias":
                        held_aliases[(held["name"], held["value"])] = held["key_sha256"]
                    else:
                        held_index[held["name"]] = held["value"]
            # Aliases: let go of the old ones first, then take the new ones one at a time,
            # in the record's order, so that the first clash is the one reported.
            wanted = dict.fromkeys(user.aliases)
            gone = [(alias[0], digest) for alias, digest in held_aliases.items() if alias not in wanted]
            if gone:
                cursor.execute(_DELETE_ALIASES, _params((pool_id, key, [k for k, _ in gone], [d for _, d in gone])))
            for kind, alias_key in wanted:
                if (kind, alias_key) not in held_aliases:
                    adding[0] = kind
                    cursor.execute(_INSERT_ALIAS, _params((pool_id, kind, _alias_digest(alias_key), alias_key, key)))
            adding[0] = None
            # ListUsers index entries: one per searchable attribute the user has a value for.
            values = index_values(key, user.attributes, user.status, user.enabled)
            stale = [name for name, value in held_index.items() if values.get(name) != value]
            if stale:
                cursor.execute(_DELETE_INDEX_ROWS, _params((pool_id, key, stale)))
            new = [(name, value) for name, value in values.items() if held_index.get(name) != value]
            if new:
                cursor.execute(_INSERT_INDEX_ROWS, _params((pool_id, key, [n for n, _ in new], [v for _, v in new])))

        self._write(body, lambda error: self._refusal(_USERS, row, pool_id, error, constraint_kind=adding[0]))

    # -- signing keys --------------------------------------------------------------------

    def put_signing_key(self, key: SigningKey) -> None:
        self._put(_SIGNING_KEYS, codec.signing_key_to_row(key), key.pool_id)

    # -- challenge sessions --------------------------------------------------------------

    def put_session(self, session: AuthSession) -> None:
        self._put(_SESSIONS, codec.session_to_row(session), session.pool_id)

    # -- refresh tokens ------------------------------------------------------------------

    def put_refresh_token(self, token: RefreshToken) -> None:
        self._put(_REFRESH_TOKENS, codec.refresh_token_to_row(token), token.pool_id)

    # -- lockout counters ----------------------------------------------------------------

    def put_failed_sign_ins(self, record: FailedSignIns) -> None:
        self._put(_FAILED_SIGN_INS, codec.failed_sign_ins_to_row(record), record.pool_id)

    # -- devices -------------------------------------------------------------------------

    def put_device(self, device: Device) -> None:
        row = codec.device_to_row(device)
        params = {**row, "old_version": device.version - 1}
        statement = _INSERT_DEVICE if device.version == 1 else _UPDATE_DEVICE

        def body() -> None:
            if self._cursor.execute(statement, _params(params)).rowcount != 1:
                raise _NoRow

        self._write(body, lambda error: self._device_refusal(row, error))

    def _device_refusal(self, row: Mapping[str, Any], error: BaseException | None) -> BaseException:
        """What the in-memory store would have said of a refused device put, in its order:
        missing pool, missing owner, a key of another owner, stale version."""
        if error is not None:
            transient = _transient(error)
            if transient is not None:
                return transient
            if _sqlstate(error) not in (_UNIQUE_VIOLATION, _FOREIGN_KEY_VIOLATION):
                return error
        if self._failed is not None:
            return self._unusable()
        pool_id = row["pool_id"]
        if self._one(_POOL_EXISTS, (pool_id,)) is None:
            return KeyError(f"no pool {pool_id}")
        if self._one(_USER_SUB_EXISTS, row) is None:
            return KeyError(f"no user {row['sub']}")
        old = self._one(_DEVICE_OWNER, row)
        if old is not None and old["sub"] != row["sub"]:
            return UniqueViolation("device")
        expected = 1 if old is None else old["version"] + 1
        if row["version"] != expected:
            return VersionConflict(f"expected version {expected}, got {row['version']}")
        # What was in the way is not visible to this transaction: a concurrent writer's.
        return TransientConflict("a concurrent transaction changed this record; nothing was written, try again")

    # -- groups and memberships ----------------------------------------------------------

    def put_group(self, group: Group) -> None:
        self._put(_GROUPS, codec.group_to_row(group), group.pool_id)

    # -- pool resources ------------------------------------------------------------------

    def put_resource(self, resource: PoolResource) -> None:
        row = codec.resource_to_row(resource)
        params = {**row, "old_version": resource.version - 1}
        statement = _INSERT_RESOURCE if resource.version == 1 else _UPDATE_RESOURCE

        def body() -> None:
            if self._cursor.execute(statement, _params(params)).rowcount != 1:
                raise _NoRow

        self._write(body, lambda error: self._refusal(_RESOURCES, row, resource.pool_id, error,
                                                      constraint_kind=resource.kind))

    # -- the outbox ----------------------------------------------------------------------

    def put_outbox(self, entry: OutboxEntry) -> None:
        row = codec.outbox_to_row(entry)
        params = {**row, "old_version": entry.version - 1}
        statement = _INSERT_OUTBOX if entry.version == 1 else _UPDATE_OUTBOX

        def body() -> None:
            if self._cursor.execute(statement, _params(params)).rowcount != 1:
                raise _NoRow

        self._write(body, lambda error: self._outbox_refusal(row, error))

    def _outbox_refusal(self, row: Mapping[str, Any], error: BaseException | None) -> BaseException:
        """As MemoryStore says it: an insert of an id that exists is a
        `UniqueViolation("outbox")`, any other wrong version a `VersionConflict`."""
        if error is not None:
            transient = _transient(error)
            if transient is not None:
                return transient
            if _sqlstate(error) != _UNIQUE_VIOLATION:
                return error
        if self._failed is not None:
            return self._unusable()
        old = self._one(_OUTBOX_VERSION, row)
        if row["version"] == 1 and (old is not None or error is not None):
            # held by a visible entry, or by one a concurrent transaction committed
            return UniqueViolation("outbox")
        expected = 1 if old is None else old["version"] + 1
        if row["version"] != expected:
            return VersionConflict(f"expected version {expected}, got {row['version']}")
        return TransientConflict("a concurrent transaction changed this record; nothing was written, try again")

    def add_member(self, pool_id: str, name: str, username_key: str) -> None:
        def body() -> None:
            self._cursor.execute(_ADD_MEMBER, _params((pool_id, name, username_key)))

        self._write(body, lambda error: self._member_refusal(pool_id, name, username_key, error))

    def _member_refusal(self, pool_id: str, name: str, username_key: str, error: BaseException | None
                        ) -> BaseException:
        """A refused membership: a conflict with a concurrent writer, or (as the in-memory
        store says it) a missing pool, group or user."""
        assert error is not None  # the insert checks no version
        if _sqlstate(error) != _FOREIGN_KEY_VIOLATION:
            return _transient(error) or error
        if self._failed is not None:
            return self._unusable()
        if self._one(_POOL_EXISTS, (pool_id,)) is None:
            return KeyError(f"no pool {pool_id}")
        return KeyError(f"no group {name} or no user {username_key}")
