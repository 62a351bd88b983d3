"""MemoryStore: the in-process store (default for embedding, tests and `explore`).

Theory of operation: one re-entrant lock serialises transactions, so a transaction
sees a stable state and its own writes. Writes are applied at once and each write
pushes an undo step; a transaction that ends with an exception runs its undo steps
in reverse, so storage is exactly as it was. Uniqueness (username key, sub,
verified alias) is checked on every write under the same lock, so two racing
writers cannot both win even when the core's own checks were bypassed.

ListUsers reads ordered indexes (`SortedIndex`) kept per pool and per searchable
attribute: `=` and `^=` filters cost O(log n + page), never a pool scan.

`snapshot()` / `restore()` copy the whole state cheaply (records are immutable),
for the model checker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from authflow.adapters.sorted_index import SortedIndex
from authflow.core.listing import index_values
from authflow.core.records import AppClient, User, UserPool
from authflow.ports import UniqueViolation, VersionConflict

_PRIMARY = "username"


class _PoolUsers:
    __slots__ = ("by_key", "by_sub", "by_alias", "indexes")

    def __init__(self) -> None:
        self.by_key: dict[str, User] = {}
        self.by_sub: dict[str, str] = {}
        self.by_alias: dict[tuple[str, str], str] = {}
        self.indexes: dict[str, SortedIndex] = {}

    def copy(self) -> _PoolUsers:
        other = _PoolUsers()
        other.by_key = dict(self.by_key)
        other.by_sub = dict(self.by_sub)
        other.by_alias = dict(self.by_alias)
        other.indexes = {k: v.copy() for k, v in self.indexes.items()}
        return other

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


class _State:
    __slots__ = ("pools", "clients", "users")

    def __init__(self) -> None:
        self.pools: dict[str, UserPool] = {}
        self.clients: dict[str, AppClient] = {}
        self.users: dict[str, _PoolUsers] = {}

    def copy(self) -> _State:
        other = _State()
        other.pools = dict(self.pools)
        other.clients = dict(self.clients)
        other.users = {k: v.copy() for k, v in self.users.items()}
        return other


class MemoryStore:
    """An in-memory `Store`. Single process; thread-safe."""

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

            def undo() -> None:
                del self._s.pools[pool.id]
                if created_users:
                    del self._s.users[pool.id]

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

        def undo() -> None:
            self._s.pools[pool_id] = pool
            self._s.users[pool_id] = users
            self._s.clients.update(clients)

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
        users.unlink(old)
        self._undo.append(lambda: users.link(old))

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


def _check_version(old: UserPool | AppClient | User | None, new: UserPool | AppClient | User) -> None:
    expected = 1 if old is None else old.version + 1
    if new.version != expected:
        raise VersionConflict(f"expected version {expected}, got {new.version}")
