"""What the SQL stores do alike: every read, delete and purge of the Store port.

Theory of operation: SQLite and PostgreSQL differ in how they write (upserts, unique
constraints, savepoints, error mapping), so each keeps its own `put_*` methods. Their
reads, deletes and purges are the same once the statements are given, so they are
written once here, over a dialect's statements: a transaction class mixes `SqlReads`
in and provides `SQL` (statement name -> that dialect's SQL), `_one`, `_all`,
`_delete`, `_execute` (for row counts), and its `_scan_query` (the ListUsers range).
Every statement names its columns as the record codecs (`authflow.adapters.codec`)
expect them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from authflow.adapters import codec
from authflow.core.records import (
    GLOBAL_RESOURCE_KINDS,
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

#: The ListUsers index every user has an entry in (ordered by username).
PRIMARY_INDEX = "username"

#: The statements the shared methods run; a dialect module defines each as a constant
#: named `_<NAME>` (`_GET_POOL`, `_PURGE_SESSIONS`, ...).
STATEMENTS = (
    "get_pool", "list_pools_first", "list_pools", "delete_pool",
    "get_client", "list_clients_first", "list_clients", "delete_client",
    "get_user", "get_user_by_alias", "get_user_by_sub", "delete_user", "count_users",
    "list_signing_keys", "delete_signing_key",
    "get_session", "delete_session",
    "get_refresh_token", "get_refresh_token_by_origin", "delete_refresh_token",
    "get_failed_sign_ins", "delete_failed_sign_ins",
    "get_device", "list_devices_first", "list_devices", "delete_device",
    "pool_exists", "get_group", "list_groups_first", "list_groups", "count_groups", "delete_group",
    "remove_member", "groups_of", "members_first", "members",
    "get_resource", "find_resource", "list_resources_first", "list_resources", "delete_resource",
    "get_outbox", "due_outbox", "list_outbox", "outbox_of_pool", "outbox_to", "outbox_before",
    "purge_sessions", "purge_refresh_tokens", "purge_failed_sign_ins", "purge_devices",
)


def statements(namespace: Mapping[str, Any]) -> dict[str, str]:
    """A dialect module's `SQL`: each of STATEMENTS from its `_<NAME>` constant."""
    return {name: namespace[f"_{name.upper()}"] for name in STATEMENTS}


class SqlReads:
    """The shared methods. The class using it provides `SQL`, `_one(sql, params)`,
    `_all(sql, params)`, `_delete(sql, *key)` (KeyError when nothing matched),
    `_execute(sql, params)` (a cursor with `rowcount`) and `_scan_query(exact, prefix,
    after)` (the SQL and parameters of a ListUsers range, or None for an empty one)."""

    SQL: Mapping[str, str]

    def _alias_key(self, key: str) -> tuple[Any, ...]:
        """The parameters an alias key is looked up by (PostgreSQL adds its digest)."""
        return (key,)

    # -- pools ---------------------------------------------------------------------------

    def get_pool(self, pool_id: str) -> UserPool | None:
        row = self._one(self.SQL["get_pool"], (pool_id,))
        return None if row is None else codec.pool_from_row(row)

    def list_pools(self, *, after: str | None, limit: int) -> list[UserPool]:
        if after is None:
            rows = self._all(self.SQL["list_pools_first"], (limit,))
        else:
            rows = self._all(self.SQL["list_pools"], (after, limit))
        return [codec.pool_from_row(row) for row in rows]

    def delete_pool(self, pool_id: str) -> None:
        self._delete(self.SQL["delete_pool"], pool_id)  # cascades to everything of the pool

    # -- app clients ---------------------------------------------------------------------

    def get_client(self, client_id: str) -> AppClient | None:
        row = self._one(self.SQL["get_client"], (client_id,))
        return None if row is None else codec.client_from_row(row)

    def list_clients(self, pool_id: str, *, after: str | None, limit: int) -> list[AppClient]:
        if after is None:
            rows = self._all(self.SQL["list_clients_first"], (pool_id, limit))
        else:
            rows = self._all(self.SQL["list_clients"], (pool_id, after, limit))
        return [codec.client_from_row(row) for row in rows]

    def delete_client(self, client_id: str) -> None:
        self._delete(self.SQL["delete_client"], client_id)

    # -- users ---------------------------------------------------------------------------

    def _user(self, sql: str, params: tuple[Any, ...]) -> User | None:
        row = self._one(sql, params)
        return None if row is None else codec.user_from_row(row)

    def get_user(self, pool_id: str, username_key: str) -> User | None:
        return self._user(self.SQL["get_user"], (pool_id, username_key))

    def get_user_by_alias(self, pool_id: str, kind: str, key: str) -> User | None:
        return self._user(self.SQL["get_user_by_alias"], (pool_id, kind, *self._alias_key(key)))

    def get_user_by_sub(self, pool_id: str, sub: str) -> User | None:
        return self._user(self.SQL["get_user_by_sub"], (pool_id, sub))

    def delete_user(self, pool_id: str, username_key: str) -> None:
        # cascades to aliases, index rows, devices, memberships
        self._delete(self.SQL["delete_user"], pool_id, username_key)

    def count_users(self, pool_id: str) -> int:
        return self._one(self.SQL["count_users"], (pool_id,))["n"]

    def scan_users(
        self,
        pool_id: str,
        *,
        index: str | None,
        exact: str | None = None,
        prefix: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int,
    ) -> list[tuple[tuple[str, str], User]]:
        if exact is not None and prefix is not None:
            raise ValueError("scan takes at most one of exact and prefix")
        if limit < 0:
            raise ValueError("limit must not be negative")
        query = self._scan_query(exact, prefix, after)
        if query is None or limit == 0:
            return []
        sql, params = query
        params.update(pool_id=pool_id, name=index or PRIMARY_INDEX, limit=limit)
        return [((row["position"], row["username_key"]), codec.user_from_row(row)) for row in self._all(sql, params)]

    # -- signing keys --------------------------------------------------------------------

    def list_signing_keys(self, pool_id: str) -> list[SigningKey]:
        return [codec.signing_key_from_row(row) for row in self._all(self.SQL["list_signing_keys"], (pool_id,))]

    def delete_signing_key(self, pool_id: str, kid: str) -> None:
        self._delete(self.SQL["delete_signing_key"], pool_id, kid)

    # -- challenge sessions --------------------------------------------------------------

    def get_session(self, session_id: str) -> AuthSession | None:
        row = self._one(self.SQL["get_session"], (session_id,))
        return None if row is None else codec.session_from_row(row)

    def delete_session(self, session_id: str) -> None:
        self._delete(self.SQL["delete_session"], session_id)

    # -- refresh tokens ------------------------------------------------------------------

    def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        row = self._one(self.SQL["get_refresh_token"], (token_hash,))
        return None if row is None else codec.refresh_token_from_row(row)

    def get_refresh_token_by_origin(self, pool_id: str, origin_jti: str) -> RefreshToken | None:
        row = self._one(self.SQL["get_refresh_token_by_origin"], (pool_id, origin_jti))
        return None if row is None else codec.refresh_token_from_row(row)

    def delete_refresh_token(self, token_hash: str) -> None:
        self._delete(self.SQL["delete_refresh_token"], token_hash)

    # -- lockout counters ----------------------------------------------------------------

    def get_failed_sign_ins(self, pool_id: str, key: str) -> FailedSignIns | None:
        row = self._one(self.SQL["get_failed_sign_ins"], (pool_id, key))
        return None if row is None else codec.failed_sign_ins_from_row(row)

    def delete_failed_sign_ins(self, pool_id: str, key: str) -> None:
        self._delete(self.SQL["delete_failed_sign_ins"], pool_id, key)

    # -- devices -------------------------------------------------------------------------

    def get_device(self, pool_id: str, device_key: str) -> Device | None:
        row = self._one(self.SQL["get_device"], (pool_id, device_key))
        return None if row is None else codec.device_from_row(row)

    def list_devices(self, pool_id: str, sub: str, *, after: str | None, limit: int) -> list[Device]:
        # The owner's range of the listing index, confirmed devices only (`listed`).
        if after is None:
            rows = self._all(self.SQL["list_devices_first"], (pool_id, sub, limit))
        else:
            rows = self._all(self.SQL["list_devices"], (pool_id, sub, after, limit))
        return [codec.device_from_row(row) for row in rows]

    def delete_device(self, pool_id: str, device_key: str) -> None:
        self._delete(self.SQL["delete_device"], pool_id, device_key)

    # -- groups and memberships ----------------------------------------------------------

    def get_group(self, pool_id: str, name: str) -> Group | None:
        row = self._one(self.SQL["get_group"], (pool_id, name))
        return None if row is None else codec.group_from_row(row)

    def list_groups(self, pool_id: str, *, after: str | None, limit: int) -> list[Group]:
        if after is None:
            rows = self._all(self.SQL["list_groups_first"], (pool_id, limit))
        else:
            rows = self._all(self.SQL["list_groups"], (pool_id, after, limit))
        return [codec.group_from_row(row) for row in rows]

    def count_groups(self, pool_id: str) -> int:
        return self._one(self.SQL["count_groups"], (pool_id,))["n"]

    def delete_group(self, pool_id: str, name: str) -> None:
        self._delete(self.SQL["delete_group"], pool_id, name)  # cascades to its memberships

    def remove_member(self, pool_id: str, name: str, username_key: str) -> None:
        # Not a member: nothing happens. A missing pool is a KeyError, as for every write.
        removed = self._execute(self.SQL["remove_member"], (pool_id, name, username_key)).rowcount
        if not removed and self._one(self.SQL["pool_exists"], (pool_id,)) is None:
            raise KeyError(f"no pool {pool_id}")

    def groups_of(self, pool_id: str, username_key: str) -> list[str]:
        return [row["group_name"] for row in self._all(self.SQL["groups_of"], (pool_id, username_key))]

    def members(self, pool_id: str, name: str, *, after: str | None, limit: int) -> list[str]:
        if after is None:
            rows = self._all(self.SQL["members_first"], (pool_id, name, limit))
        else:
            rows = self._all(self.SQL["members"], (pool_id, name, after, limit))
        return [row["username_key"] for row in rows]

    # -- pool resources ------------------------------------------------------------------

    def get_resource(self, pool_id: str, kind: str, name: str) -> PoolResource | None:
        row = self._one(self.SQL["get_resource"], (pool_id, kind, name))
        return None if row is None else codec.resource_from_row(row)

    def find_resource(self, kind: str, name: str) -> PoolResource | None:
        # Only the global kinds are unique across pools; another kind's name may be in many.
        if kind not in GLOBAL_RESOURCE_KINDS:
            return None
        row = self._one(self.SQL["find_resource"], (kind, name))
        return None if row is None else codec.resource_from_row(row)

    def list_resources(self, pool_id: str, kind: str, *, after: str | None, limit: int) -> list[PoolResource]:
        if after is None:
            rows = self._all(self.SQL["list_resources_first"], (pool_id, kind, limit))
        else:
            rows = self._all(self.SQL["list_resources"], (pool_id, kind, after, limit))
        return [codec.resource_from_row(row) for row in rows]

    def delete_resource(self, pool_id: str, kind: str, name: str) -> None:
        self._delete(self.SQL["delete_resource"], pool_id, kind, name)

    # -- the outbox ----------------------------------------------------------------------

    def get_outbox(self, entry_id: str) -> OutboxEntry | None:
        row = self._one(self.SQL["get_outbox"], (entry_id,))
        return None if row is None else codec.outbox_from_row(row)

    def due_outbox(self, now: datetime, *, limit: int) -> list[OutboxEntry]:
        return [codec.outbox_from_row(row) for row in self._all(self.SQL["due_outbox"], (codec.micros(now), limit))]

    def list_outbox(
        self, *, pool_id: str | None = None, destination: str | None = None,
        before: tuple[datetime, str] | None = None, limit: int,
    ) -> list[OutboxEntry]:
        # One range of the index the filters name (by pool, by destination, or by age),
        # newest first. `conditions` is made only of the dialect's fragments, never of input.
        conditions: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if pool_id is not None:
            conditions.append(self.SQL["outbox_of_pool"])
            params["pool_id"] = pool_id
        if destination is not None:
            conditions.append(self.SQL["outbox_to"])
            params["destination"] = destination
        if before is not None:
            conditions.append(self.SQL["outbox_before"])
            params["before_us"], params["before_id"] = codec.micros(before[0]), before[1]
        sql = self.SQL["list_outbox"].format(conditions=" AND ".join(conditions) or "1 = 1")
        return [codec.outbox_from_row(row) for row in self._all(sql, params)]

    # -- housekeeping --------------------------------------------------------------------

    def purge_expired(
        self,
        *,
        sessions_before: datetime,
        refresh_tokens_before: datetime,
        failures_before: datetime,
        limit: int,
        devices_before: datetime | None = None,
    ) -> dict[str, int]:
        def purge(name: str, before: datetime | None) -> int:
            if before is None:
                return 0
            return self._execute(self.SQL[name], (codec.micros(before), limit)).rowcount

        return {
            "sessions": purge("purge_sessions", sessions_before),
            "refresh_tokens": purge("purge_refresh_tokens", refresh_tokens_before),
            "failed_sign_ins": purge("purge_failed_sign_ins", failures_before),
            # unconfirmed devices: only they have an expiry (NULL once confirmed)
            "devices": purge("purge_devices", devices_before),
        }
