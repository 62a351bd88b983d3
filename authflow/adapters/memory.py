"""MemoryStore: the in-process store (default for embedding, tests and `explore`).

Theory of operation: one re-entrant lock serialises transactions, so a transaction
sees a stable state and its own writes. Writes are applied at once and each write
pushes an undo step; a transaction that ends with an exception runs its undo steps
in reverse, so storage is exactly as it was. Uniqueness (username key, sub,
verified alias) is checked on every write under the same lock, so two racing
writers cannot both win even when the core's own checks were bypassed.

ListUsers reads ordered indexes (`SortedIndex`) kept per pool and per searchable
attribute: `=` and `^=` filters cost O(log n + page), never a pool scan.

Sign-in records: signing keys and lockout counters live per pool (`_PoolAuth`).
Challenge sessions and refresh tokens are keyed globally (by session id, by token
hash); each pool keeps the ids of its own (session ids, and the origin_jti ->
token hash index that also enforces one token per family), so deleting a pool
removes them without scanning other pools.

`snapshot()` / `restore()` copy the whole state cheaply (records are immutable),
for the model checker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from authflow.adapters.sorted_index import SortedIndex
from authflow.core.listing import index_values
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
from authflow.ports import UniqueViolation, VersionConflict

_PRIMARY = "username"

_Versioned = (UserPool | AppClient | User | SigningKey | AuthSession | RefreshToken | FailedSignIns | Device
              | Group | PoolResource | OutboxEntry)
_R = TypeVar("_R", SigningKey, FailedSignIns)


class _PoolUsers:
    __slots__ = ("by_key", "by_sub", "by_alias", "indexes", "devices", "devices_of", "groups", "members",
                 "groups_of")

    def __init__(self) -> None:
        self.by_key: dict[str, User] = {}
        self.by_sub: dict[str, str] = {}
        self.by_alias: dict[tuple[str, str], str] = {}
        self.indexes: dict[str, SortedIndex] = {}
        # Devices live with their users: a pool's or a user's deletion takes them along.
        self.devices: dict[str, Device] = {}
        self.devices_of: dict[str, frozenset[str]] = {}  # sub -> device keys
        # Groups and memberships, both ways (group name -> member keys, user key -> names).
        self.groups: dict[str, Group] = {}
        self.members: dict[str, frozenset[str]] = {}
        self.groups_of: dict[str, frozenset[str]] = {}

    def copy(self) -> _PoolUsers:
        other = _PoolUsers()
        other.by_key = dict(self.by_key)
        other.by_sub = dict(self.by_sub)
        other.by_alias = dict(self.by_alias)
        other.indexes = {k: v.copy() for k, v in self.indexes.items()}
        other.devices = dict(self.devices)
        other.devices_of = dict(self.devices_of)
        other.groups = dict(self.groups)
        other.members = dict(self.members)
        other.groups_of = dict(self.groups_of)
        return other

    def link_member(self, name: str, username_key: str) -> None:
        self.members[name] = self.members.get(name, frozenset()) | {username_key}
        self.groups_of[username_key] = self.groups_of.get(username_key, frozenset()) | {name}

    def unlink_member(self, name: str, username_key: str) -> None:
        for index, key, value in ((self.members, name, username_key), (self.groups_of, username_key, name)):
            rest = index[key] - {value}
            if rest:
                index[key] = rest
            else:
                del index[key]

    def link_device(self, device: Device) -> None:
        self.devices[device.key] = device
        self.devices_of[device.sub] = self.devices_of.get(device.sub, frozenset()) | {device.key}

    def unlink_device(self, device: Device) -> None:
        del self.devices[device.key]
        keys = self.devices_of[device.sub] - {device.key}
        if keys:
            self.devices_of[device.sub] = keys
        else:
            del self.devices_of[device.sub]

    def index(self, name: str) -> SortedIndex:
        idx = self.indexes.get(name)
        if idx is None:
            idx = self.indexes[name] = SortedIndex()
        return idx

    def unlink(self, user: User) -> None:
        del self.by_key[user.username_key]
        del self.by_sub[user.sub]
        for alias in user.aliases:
            del self.by_alias[alias]
        for name, value in _index_values(user).items():
            self.indexes[name].remove(value, user.username_key)

    def link(self, user: User) -> None:
        self.by_key[user.username_key] = user
        self.by_sub[user.sub] = user.username_key
        for alias in user.aliases:
            self.by_alias[alias] = user.username_key
        for name, value in _index_values(user).items():
            self.index(name).add(value, user.username_key)


def _index_values(user: User) -> dict[str, str]:
    return index_values(user.username_key, user.attributes, user.status, user.enabled)


class _PoolAuth:
    """A pool's sign-in records, and the ids of its globally keyed ones."""

    __slots__ = ("signing_keys", "failed_sign_ins", "session_ids", "refresh_by_origin", "resources")

    def __init__(self) -> None:
        self.signing_keys: dict[str, SigningKey] = {}
        self.failed_sign_ins: dict[str, FailedSignIns] = {}
        self.session_ids: set[str] = set()
        self.refresh_by_origin: dict[str, str] = {}  # origin_jti -> token hash
        self.resources: dict[tuple[str, str], PoolResource] = {}  # (kind, name) -> resource

    def copy(self) -> _PoolAuth:
        other = _PoolAuth()
        other.resources = dict(self.resources)
        other.signing_keys = dict(self.signing_keys)
        other.failed_sign_ins = dict(self.failed_sign_ins)
        other.session_ids = set(self.session_ids)
        other.refresh_by_origin = dict(self.refresh_by_origin)
        return other


class _State:
    __slots__ = ("pools", "clients", "users", "auth", "sessions", "refresh_tokens", "global_names", "outbox")

    def __init__(self) -> None:
        # (kind, name) -> pool id, for the resource kinds unique across pools (domains).
        self.global_names: dict[tuple[str, str], str] = {}
        self.outbox: dict[str, OutboxEntry] = {}
        self.pools: dict[str, UserPool] = {}
        self.clients: dict[str, AppClient] = {}
        self.users: dict[str, _PoolUsers] = {}
        self.auth: dict[str, _PoolAuth] = {}
        self.sessions: dict[str, AuthSession] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}

    def copy(self) -> _State:
        other = _State()
        other.pools = dict(self.pools)
        other.clients = dict(self.clients)
        other.users = {k: v.copy() for k, v in self.users.items()}
        other.auth = {k: v.copy() for k, v in self.auth.items()}
        other.sessions = dict(self.sessions)
        other.refresh_tokens = dict(self.refresh_tokens)
        other.global_names = dict(self.global_names)
        other.outbox = dict(self.outbox)
        return other


class MemoryStore:
    """An in-memory `Store`. Single process; thread-safe."""

    #: Nothing outlives the process, so an engine may seal secrets with a throwaway KEK.
    durable = False

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = _State()

    @contextmanager
    def transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            tx = _MemoryTransaction(self._state)
            try:
                yield tx
            except BaseException:
                tx.rollback()
                raise
            finally:
                tx.closed = True

    def snapshot(self) -> _State:
        with self._lock:
            return self._state.copy()

    def restore(self, snapshot: _State) -> None:
        with self._lock:
            self._state = snapshot.copy()


class _MemoryTransaction:
    def __init__(self, state: _State) -> None:
        self._s = state
        self._undo: list[Callable[[], None]] = []
        self.closed = False

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("transaction already ended")

    # -- pools -------------------------------------------------------------------------

    def get_pool(self, pool_id: str) -> UserPool | None:
        return self._s.pools.get(pool_id)

    def list_pools(self, *, after: str | None, limit: int) -> list[UserPool]:
        ids = sorted(i for i in self._s.pools if after is None or i > after)
        return [self._s.pools[i] for i in ids[:limit]]

    def put_pool(self, pool: UserPool) -> None:
        self._check_open()
        old = self._s.pools.get(pool.id)
        _check_version(old, pool)
        self._s.pools[pool.id] = pool
        if old is None:
            created_users = pool.id not in self._s.users
            if created_users:
                self._s.users[pool.id] = _PoolUsers()
            created_auth = pool.id not in self._s.auth
            if created_auth:
                self._s.auth[pool.id] = _PoolAuth()

            def undo() -> None:
                del self._s.pools[pool.id]
                if created_users:
                    del self._s.users[pool.id]
                if created_auth:
                    del self._s.auth[pool.id]

            self._undo.append(undo)
        else:
            self._undo.append(lambda: self._s.pools.__setitem__(pool.id, old))

    def delete_pool(self, pool_id: str) -> None:
        self._check_open()
        pool = self._s.pools.pop(pool_id)
        users = self._s.users.pop(pool_id, _PoolUsers())
        clients = {k: c for k, c in self._s.clients.items() if c.pool_id == pool_id}
        for k in clients:
            del self._s.clients[k]
        auth = self._s.auth.pop(pool_id, _PoolAuth())
        sessions = {i: self._s.sessions.pop(i) for i in auth.session_ids}
        tokens = {h: self._s.refresh_tokens.pop(h) for h in auth.refresh_by_origin.values()}
        names = {(r.kind, r.name) for r in auth.resources.values() if r.kind in GLOBAL_RESOURCE_KINDS}
        for name in names:
            del self._s.global_names[name]

        def undo() -> None:
            for name in names:
                self._s.global_names[name] = pool_id
            self._s.pools[pool_id] = pool
            self._s.users[pool_id] = users
            self._s.clients.update(clients)
            self._s.auth[pool_id] = auth
            self._s.sessions.update(sessions)
            self._s.refresh_tokens.update(tokens)

        self._undo.append(undo)

    # -- clients -----------------------------------------------------------------------

    def get_client(self, client_id: str) -> AppClient | None:
        return self._s.clients.get(client_id)

    def list_clients(self, pool_id: str, *, after: str | None, limit: int) -> list[AppClient]:
        ids = sorted(
            k for k, c in self._s.clients.items() if c.pool_id == pool_id and (after is None or k > after)
        )
        return [self._s.clients[k] for k in ids[:limit]]

    def put_client(self, client: AppClient) -> None:
        self._check_open()
        old = self._s.clients.get(client.id)
        if old is not None and old.pool_id != client.pool_id:
            raise UniqueViolation("client")
        _check_version(old, client)
        self._s.clients[client.id] = client
        if old is None:
            self._undo.append(lambda: self._s.clients.__delitem__(client.id))
        else:
            self._undo.append(lambda: self._s.clients.__setitem__(client.id, old))

    def delete_client(self, client_id: str) -> None:
        self._check_open()
        old = self._s.clients.pop(client_id)
        self._undo.append(lambda: self._s.clients.__setitem__(client_id, old))

    # -- users -------------------------------------------------------------------------

    def _pool_users(self, pool_id: str) -> _PoolUsers:
        users = self._s.users.get(pool_id)
        if users is None:
            raise KeyError(f"no pool {pool_id}")
        return users

    def get_user(self, pool_id: str, username_key: str) -> User | None:
        users = self._s.users.get(pool_id)
        return users.by_key.get(username_key) if users else None

    def get_user_by_alias(self, pool_id: str, kind: str, key: str) -> User | None:
        users = self._s.users.get(pool_id)
        if not users:
            return None
        holder = users.by_alias.get((kind, key))
        return users.by_key[holder] if holder is not None else None

    def get_user_by_sub(self, pool_id: str, sub: str) -> User | None:
        users = self._s.users.get(pool_id)
        if not users:
            return None
        holder = users.by_sub.get(sub)
        return users.by_key[holder] if holder is not None else None

    def put_user(self, user: User) -> None:
        self._check_open()
        users = self._pool_users(user.pool_id)
        key = user.username_key
        old = users.by_key.get(key)
        _check_version(old, user)
        if users.by_sub.get(user.sub, key) != key:
            raise UniqueViolation("sub")
        for alias in user.aliases:
            if users.by_alias.get(alias, key) != key:
                raise UniqueViolation("alias", alias[0])
        if old is not None:
            users.unlink(old)
        users.link(user)

        def undo() -> None:
            users.unlink(user)
            if old is not None:
                users.link(old)

        self._undo.append(undo)

    def delete_user(self, pool_id: str, username_key: str) -> None:
        self._check_open()
        users = self._pool_users(pool_id)
        old = users.by_key[username_key]
        devices = [users.devices[k] for k in users.devices_of.get(old.sub, ())]
        for device in devices:
            users.unlink_device(device)
        groups = sorted(users.groups_of.get(username_key, ()))
        for name in groups:
            users.unlink_member(name, username_key)
        users.unlink(old)

        def undo() -> None:
            users.link(old)
            for device in devices:
                users.link_device(device)
            for name in groups:
                users.link_member(name, username_key)

        self._undo.append(undo)

    def count_users(self, pool_id: str) -> int:
        users = self._s.users.get(pool_id)
        return len(users.by_key) if users else 0

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
        users = self._s.users.get(pool_id)
        if not users:
            return []
        idx = users.indexes.get(index or _PRIMARY)
        if idx is None:
            return []
        entries = idx.scan(exact=exact, prefix=prefix, after=after, limit=limit)
        return [((value, key), users.by_key[key]) for value, key in entries]

    # -- devices -----------------------------------------------------------------------

    def get_device(self, pool_id: str, device_key: str) -> Device | None:
        users = self._s.users.get(pool_id)
        return users.devices.get(device_key) if users else None

    def list_devices(self, pool_id: str, sub: str, *, after: str | None, limit: int) -> list[Device]:
        users = self._s.users.get(pool_id)
        if not users:
            return []
        keys = sorted(k for k in users.devices_of.get(sub, ()) if after is None or k > after)
        listed = (users.devices[k] for k in keys)
        return [d for d in listed if d.status != "NEW"][:limit]

    def put_device(self, device: Device) -> None:
        self._check_open()
        users = self._pool_users(device.pool_id)
        if device.sub not in users.by_sub:
            raise KeyError(f"no user {device.sub}")  # as the SQL stores' foreign key
        old = users.devices.get(device.key)
        if old is not None and old.sub != device.sub:
            raise UniqueViolation("device")
        _check_version(old, device)
        if old is not None:
            users.unlink_device(old)
        users.link_device(device)

        def undo() -> None:
            users.unlink_device(device)
            if old is not None:
                users.link_device(old)

        self._undo.append(undo)

    def delete_device(self, pool_id: str, device_key: str) -> None:
        self._check_open()
        users = self._pool_users(pool_id)
        old = users.devices[device_key]
        users.unlink_device(old)
        self._undo.append(lambda: users.link_device(old))

    # -- groups ------------------------------------------------------------------------

    def get_group(self, pool_id: str, name: str) -> Group | None:
        users = self._s.users.get(pool_id)
        return users.groups.get(name) if users else None

    def list_groups(self, pool_id: str, *, after: str | None, limit: int) -> list[Group]:
        users = self._s.users.get(pool_id)
        if not users:
            return []
        names = sorted(n for n in users.groups if after is None or n > after)
        return [users.groups[n] for n in names[:limit]]

    def count_groups(self, pool_id: str) -> int:
        users = self._s.users.get(pool_id)
        return len(users.groups) if users else 0

    def put_group(self, group: Group) -> None:
        self._check_open()
        groups = self._pool_users(group.pool_id).groups
        old = groups.get(group.name)
        _check_version(old, group)
        groups[group.name] = group
        self._undo.append(_restore_item(groups, group.name, old))

    def delete_group(self, pool_id: str, name: str) -> None:
        self._check_open()
        users = self._pool_users(pool_id)
        old = users.groups.pop(name)
        members = sorted(users.members.get(name, ()))
        for key in members:
            users.unlink_member(name, key)

        def undo() -> None:
            users.groups[name] = old
            for key in members:
                users.link_member(name, key)

        self._undo.append(undo)

    def add_member(self, pool_id: str, name: str, username_key: str) -> None:
        self._check_open()
        users = self._pool_users(pool_id)
        if name not in users.groups or username_key not in users.by_key:
            raise KeyError(f"no group {name} or no user {username_key}")  # as the SQL stores' foreign keys
        if username_key in users.members.get(name, ()):
            return
        users.link_member(name, username_key)
        self._undo.append(lambda: users.unlink_member(name, username_key))

    def remove_member(self, pool_id: str, name: str, username_key: str) -> None:
        self._check_open()
        users = self._pool_users(pool_id)
        if username_key not in users.members.get(name, ()):
            return
        users.unlink_member(name, username_key)
        self._undo.append(lambda: users.link_member(name, username_key))

    def groups_of(self, pool_id: str, username_key: str) -> list[str]:
        users = self._s.users.get(pool_id)
        return sorted(users.groups_of.get(username_key, ())) if users else []

    def members(self, pool_id: str, name: str, *, after: str | None, limit: int) -> list[str]:
        users = self._s.users.get(pool_id)
        if not users:
            return []
        return sorted(k for k in users.members.get(name, ()) if after is None or k > after)[:limit]

    # -- sign-in records (signing keys, sessions, refresh tokens, lockout counters) ----

    def _pool_auth(self, pool_id: str) -> _PoolAuth:
        auth = self._s.auth.get(pool_id)
        if auth is None:
            raise KeyError(f"no pool {pool_id}")
        return auth

    def list_signing_keys(self, pool_id: str) -> list[SigningKey]:
        auth = self._s.auth.get(pool_id)
        if not auth:
            return []
        return sorted(auth.signing_keys.values(), key=lambda k: (k.created, k.kid))

    def put_signing_key(self, key: SigningKey) -> None:
        self._check_open()
        keys = self._pool_auth(key.pool_id).signing_keys
        old = keys.get(key.kid)
        _check_version(old, key)
        keys[key.kid] = key
        self._undo.append(_restore_item(keys, key.kid, old))

    def delete_signing_key(self, pool_id: str, kid: str) -> None:
        self._check_open()
        keys = self._pool_auth(pool_id).signing_keys
        old = keys.pop(kid)
        self._undo.append(lambda: keys.__setitem__(kid, old))

    # -- pool resources ----------------------------------------------------------------

    def get_resource(self, pool_id: str, kind: str, name: str) -> PoolResource | None:
        auth = self._s.auth.get(pool_id)
        return auth.resources.get((kind, name)) if auth else None

    def find_resource(self, kind: str, name: str) -> PoolResource | None:
        pool_id = self._s.global_names.get((kind, name))
        return self._s.auth[pool_id].resources[(kind, name)] if pool_id is not None else None

    def list_resources(self, pool_id: str, kind: str, *, after: str | None, limit: int) -> list[PoolResource]:
        auth = self._s.auth.get(pool_id)
        if not auth:
            return []
        names = sorted(n for k, n in auth.resources if k == kind and (after is None or n > after))
        return [auth.resources[(kind, n)] for n in names[:limit]]

    def put_resource(self, resource: PoolResource) -> None:
        self._check_open()
        resources = self._pool_auth(resource.pool_id).resources
        key = (resource.kind, resource.name)
        old = resources.get(key)
        _check_version(old, resource)
        is_global = resource.kind in GLOBAL_RESOURCE_KINDS
        if is_global and self._s.global_names.get(key, resource.pool_id) != resource.pool_id:
            raise UniqueViolation("domain", resource.kind)
        resources[key] = resource
        if is_global:
            self._s.global_names[key] = resource.pool_id

        def undo() -> None:
            if old is None:
                del resources[key]
                if is_global:
                    del self._s.global_names[key]
            else:
                resources[key] = old

        self._undo.append(undo)

    def delete_resource(self, pool_id: str, kind: str, name: str) -> None:
        self._check_open()
        resources = self._pool_auth(pool_id).resources
        key = (kind, name)
        old = resources.pop(key)
        if kind in GLOBAL_RESOURCE_KINDS:
            del self._s.global_names[key]

        def undo() -> None:
            resources[key] = old
            if kind in GLOBAL_RESOURCE_KINDS:
                self._s.global_names[key] = pool_id

        self._undo.append(undo)

    # -- the outbox ----------------------------------------------------------------------

    def put_outbox(self, entry: OutboxEntry) -> None:
        self._check_open()
        old = self._s.outbox.get(entry.id)
        if old is not None and entry.version == 1:
            raise UniqueViolation("outbox")
        _check_version(old, entry)
        self._s.outbox[entry.id] = entry
        self._undo.append(_restore_item(self._s.outbox, entry.id, old))

    def get_outbox(self, entry_id: str) -> OutboxEntry | None:
        return self._s.outbox.get(entry_id)

    def due_outbox(self, now: datetime, *, limit: int) -> list[OutboxEntry]:
        due = [e for e in self._s.outbox.values() if e.state == "PENDING" and e.next_attempt <= now]
        due.sort(key=lambda e: (e.next_attempt, e.id))
        return due[:limit]

    def list_outbox(
        self, *, pool_id: str | None = None, destination: str | None = None,
        before: tuple[datetime, str] | None = None, limit: int,
    ) -> list[OutboxEntry]:
        chosen = [
            e for e in self._s.outbox.values()
            if (pool_id is None or e.message.pool_id == pool_id)
            and (destination is None or e.message.destination == destination)
            and (before is None or (e.created, e.id) < before)
        ]
        chosen.sort(key=lambda e: (e.created, e.id), reverse=True)
        return chosen[:limit]

    def get_session(self, session_id: str) -> AuthSession | None:
        return self._s.sessions.get(session_id)

    def put_session(self, session: AuthSession) -> None:
        self._check_open()
        auth = self._pool_auth(session.pool_id)
        old = self._s.sessions.get(session.id)
        if old is not None and old.pool_id != session.pool_id:
            raise UniqueViolation("session")
        _check_version(old, session)
        self._s.sessions[session.id] = session
        if old is None:
            auth.session_ids.add(session.id)

            def undo() -> None:
                del self._s.sessions[session.id]
                auth.session_ids.remove(session.id)

            self._undo.append(undo)
        else:
            self._undo.append(lambda: self._s.sessions.__setitem__(session.id, old))

    def delete_session(self, session_id: str) -> None:
        self._check_open()
        old = self._s.sessions.pop(session_id)
        auth = self._s.auth[old.pool_id]
        auth.session_ids.remove(session_id)

        def undo() -> None:
            self._s.sessions[session_id] = old
            auth.session_ids.add(session_id)

        self._undo.append(undo)

    def get_refresh_token(self, token_hash: str) -> RefreshToken | None:
        return self._s.refresh_tokens.get(token_hash)

    def get_refresh_token_by_origin(self, pool_id: str, origin_jti: str) -> RefreshToken | None:
        auth = self._s.auth.get(pool_id)
        if not auth:
            return None
        token_hash = auth.refresh_by_origin.get(origin_jti)
        return self._s.refresh_tokens[token_hash] if token_hash is not None else None

    def put_refresh_token(self, token: RefreshToken) -> None:
        self._check_open()
        auth = self._pool_auth(token.pool_id)
        old = self._s.refresh_tokens.get(token.token_hash)
        if old is not None and old.pool_id != token.pool_id:
            raise UniqueViolation("refresh_token")
        _check_version(old, token)
        if auth.refresh_by_origin.get(token.origin_jti, token.token_hash) != token.token_hash:
            raise UniqueViolation("origin_jti")
        if old is not None:
            self._unlink_refresh(auth, old)
        self._link_refresh(auth, token)

        def undo() -> None:
            self._unlink_refresh(auth, token)
            if old is not None:
                self._link_refresh(auth, old)

        self._undo.append(undo)

    def delete_refresh_token(self, token_hash: str) -> None:
        self._check_open()
        old = self._s.refresh_tokens[token_hash]
        auth = self._s.auth[old.pool_id]
        self._unlink_refresh(auth, old)
        self._undo.append(lambda: self._link_refresh(auth, old))

    def _link_refresh(self, auth: _PoolAuth, token: RefreshToken) -> None:
        self._s.refresh_tokens[token.token_hash] = token
        auth.refresh_by_origin[token.origin_jti] = token.token_hash

    def _unlink_refresh(self, auth: _PoolAuth, token: RefreshToken) -> None:
        del self._s.refresh_tokens[token.token_hash]
        del auth.refresh_by_origin[token.origin_jti]

    def get_failed_sign_ins(self, pool_id: str, key: str) -> FailedSignIns | None:
        auth = self._s.auth.get(pool_id)
        return auth.failed_sign_ins.get(key) if auth else None

    def put_failed_sign_ins(self, record: FailedSignIns) -> None:
        self._check_open()
        counters = self._pool_auth(record.pool_id).failed_sign_ins
        old = counters.get(record.key)
        _check_version(old, record)
        counters[record.key] = record
        self._undo.append(_restore_item(counters, record.key, old))

    def delete_failed_sign_ins(self, pool_id: str, key: str) -> None:
        self._check_open()
        counters = self._pool_auth(pool_id).failed_sign_ins
        old = counters.pop(key)
        self._undo.append(lambda: counters.__setitem__(key, old))

    def purge_expired(
        self,
        *,
        sessions_before: datetime,
        refresh_tokens_before: datetime,
        failures_before: datetime,
        limit: int,
        devices_before: datetime | None = None,
    ) -> dict[str, int]:
        # A scan: purging is a periodic job, and the memory store is for embedding and tests.
        self._check_open()
        devices = [
            (pool_id, key)
            for pool_id, users in self._s.users.items()
            for key, d in users.devices.items()
            if devices_before is not None and d.expires is not None and d.expires <= devices_before
        ][:limit]
        for pool_id, key in devices:
            self.delete_device(pool_id, key)
        sessions = [k for k, r in self._s.sessions.items() if r.expires <= sessions_before][:limit]
        for key in sessions:
            self.delete_session(key)
        tokens = [k for k, r in self._s.refresh_tokens.items() if r.expires <= refresh_tokens_before][:limit]
        for key in tokens:
            self.delete_refresh_token(key)
        failures = [
            (pool_id, key)
            for pool_id, auth in self._s.auth.items()
            for key, r in auth.failed_sign_ins.items()
            if r.last_attempt <= failures_before
        ][:limit]
        for pool_id, key in failures:
            self.delete_failed_sign_ins(pool_id, key)
        return {
            "sessions": len(sessions), "refresh_tokens": len(tokens), "failed_sign_ins": len(failures),
            "devices": len(devices),
        }


def _restore_item(mapping: dict[str, _R], key: str, old: _R | None) -> Callable[[], None]:
    """The undo step of `mapping[key] = new`: put `old` back, or remove the key."""
    if old is None:
        return lambda: mapping.__delitem__(key)
    return lambda: mapping.__setitem__(key, old)


def _check_version(old: _Versioned | None, new: _Versioned) -> None:
    expected = 1 if old is None else old.version + 1
    if new.version != expected:
        raise VersionConflict(f"expected version {expected}, got {new.version}")
