"""Small helpers shared by tests."""

from __future__ import annotations

from typing import Any

from authflow.adapters import MemoryStore


def store_contents(store: Any) -> dict[str, Any]:
    """Everything a store holds, as plain comparable data: a MemoryStore's records and
    indexes (pool resources with the names unique across pools, and the outbox,
    included), or every row of every table of a SqliteStore or PostgresStore."""
    if not isinstance(store, MemoryStore):
        return _sql_rows(store)
    state = store.snapshot()
    users = {}
    for pool_id, pool_users in state.users.items():
        users[pool_id] = {
            "by_key": dict(pool_users.by_key),
            "by_sub": dict(pool_users.by_sub),
            "by_alias": dict(pool_users.by_alias),
            "indexes": {
                name: index.scan(limit=len(index) + 1) for name, index in pool_users.indexes.items() if len(index)
            },
            "devices": dict(pool_users.devices),
            "devices_of": dict(pool_users.devices_of),
            "groups": dict(pool_users.groups),
            "members": dict(pool_users.members),
            "groups_of": dict(pool_users.groups_of),
        }
    auth = {
        pool_id: {
            "signing_keys": dict(pool_auth.signing_keys),
            "failed_sign_ins": dict(pool_auth.failed_sign_ins),
            "session_ids": set(pool_auth.session_ids),
            "refresh_by_origin": dict(pool_auth.refresh_by_origin),
            "resources": dict(pool_auth.resources),
        }
        for pool_id, pool_auth in state.auth.items()
    }
    return {
        "pools": dict(state.pools),
        "clients": dict(state.clients),
        "users": users,
        "auth": auth,
        "sessions": dict(state.sessions),
        "refresh_tokens": dict(state.refresh_tokens),
        "global_names": dict(state.global_names),
        "outbox": dict(state.outbox),
    }


def _sql_rows(store: Any) -> dict[str, Any]:
    """Every row of every table of a SQL store, in a stable order."""
    from authflow.adapters import SqliteStore

    if isinstance(store, SqliteStore):
        import sqlite3

        from authflow.adapters.sqlite import TABLES

        conn = sqlite3.connect(store.path)
        try:
            return {t: sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {t}")) for t in TABLES}
        finally:
            conn.close()
    from authflow.adapters.postgres import TABLES as PG_TABLES
    from authflow.adapters.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        raise TypeError(f"store_contents knows MemoryStore, SqliteStore and PostgresStore, not {store!r}")
    with store.transaction() as tx:
        return {t: sorted(tuple(r) for r in tx.connection.execute(f"SELECT * FROM {t}")) for t in PG_TABLES}


def without_lockout(contents: dict[str, Any]) -> dict[str, Any]:
    """`store_contents` minus the failed-sign-in counters: the one thing a refused
    password or MFA code may write."""
    contents = dict(contents)
    contents["auth"] = {
        pool: {k: v for k, v in auth.items() if k != "failed_sign_ins"} for pool, auth in contents["auth"].items()
    }
    return contents
