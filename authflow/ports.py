"""The ports: what the engine needs from the outside world, as small Protocols.

The service layer talks to storage, time, randomness, message delivery and
triggers only through these. Adapters in `authflow.adapters` implement them; users
embedding authflow may bring their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from authflow.core.effects import Message
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


class StoreError(Exception):
    """Base of the store's own failures (never leaves the service layer)."""


class UniqueViolation(StoreError):
    """A write would break a uniqueness rule the store enforces.

    `constraint` is one of "username", "sub", "alias", "pool", "client", "session",
    "refresh_token", "origin_jti", "device", "domain" (a `PoolResource` of a kind in
    `GLOBAL_RESOURCE_KINDS` whose name another pool holds: `kind` is the resource kind),
    "outbox"; for aliases `kind` names the alias kind (email,
    phone_number, preferred_username). (A second group of a name is a `VersionConflict`,
    as `put_group` says, never a `UniqueViolation`.)
    """

    def __init__(self, constraint: str, kind: str | None = None) -> None:
        super().__init__(f"unique constraint {constraint}{'/' + kind if kind else ''} violated")
        self.constraint = constraint
        self.kind = kind


class TransientConflict(StoreError):
    """Another writer got in the way (a serialization failure, a deadlock, a busy
    database, a record changed since it was read). Nothing was written; running the
    whole operation again may succeed. The facades retry it a few times."""


class VersionConflict(TransientConflict):
    """The record changed since it was read (optimistic concurrency)."""


class Transaction(Protocol):
    """One atomic, isolated unit of work. Reads see the transaction's own writes."""

    # pools
    def get_pool(self, pool_id: str) -> UserPool | None: ...
    def list_pools(self, *, after: str | None, limit: int) -> list[UserPool]: ...
    def put_pool(self, pool: UserPool) -> None: ...
    def delete_pool(self, pool_id: str) -> None: ...

    # app clients (client ids are unique across pools)
    def get_client(self, client_id: str) -> AppClient | None: ...
    def list_clients(self, pool_id: str, *, after: str | None, limit: int) -> list[AppClient]: ...
    def put_client(self, client: AppClient) -> None: ...
    def delete_client(self, client_id: str) -> None: ...

    # users
    def get_user(self, pool_id: str, username_key: str) -> User | None: ...
    def get_user_by_alias(self, pool_id: str, kind: str, key: str) -> User | None: ...
    def get_user_by_sub(self, pool_id: str, sub: str) -> User | None: ...
    def put_user(self, user: User) -> None: ...
    def delete_user(self, pool_id: str, username_key: str) -> None: ...
    def count_users(self, pool_id: str) -> int: ...
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
        """Users in keyset order, strictly after `after`, each with its position.

        `index` None orders by username key; otherwise by (index value, username
        key) among the users that have a value in that index (see
        `authflow.core.listing.index_values`). Answered from an index, never a scan.
        """
        ...

    # devices (per pool and device key; deleted with their user and with the pool)
    def get_device(self, pool_id: str, device_key: str) -> Device | None: ...
    def list_devices(self, pool_id: str, sub: str, *, after: str | None, limit: int) -> list[Device]:
        """The user's confirmed devices (every status but NEW), by device key, strictly
        after `after`. Unconfirmed (NEW) devices are never listed."""
        ...

    def put_device(self, device: Device) -> None:
        """Insert or update (optimistic version). The owner (`sub`) must be a user of the
        pool (`KeyError` otherwise, as a foreign key); a key held by another user is a
        `UniqueViolation("device")`."""
        ...

    def delete_device(self, pool_id: str, device_key: str) -> None: ...

    # groups and memberships (per pool; a group's memberships go with it, a user's with the user)
    def get_group(self, pool_id: str, name: str) -> Group | None: ...
    def list_groups(self, pool_id: str, *, after: str | None, limit: int) -> list[Group]:
        """The pool's groups by name (code point order), strictly after `after`."""
        ...

    def count_groups(self, pool_id: str) -> int: ...
    def put_group(self, group: Group) -> None:
        """Insert or update (optimistic version); a new group whose name exists is a
        `VersionConflict` like any insert over an existing record."""
        ...

    def delete_group(self, pool_id: str, name: str) -> None:
        """Delete the group and every membership in it (`KeyError` if absent)."""
        ...

    def add_member(self, pool_id: str, name: str, username_key: str) -> None:
        """Make the user a member (nothing happens if it already is). The group and the user
        must exist (`KeyError` otherwise, as foreign keys)."""
        ...

    def remove_member(self, pool_id: str, name: str, username_key: str) -> None:
        """Nothing happens if the user is not a member."""
        ...

    def groups_of(self, pool_id: str, username_key: str) -> list[str]:
        """The names of the user's groups, by name."""
        ...

    def members(self, pool_id: str, name: str, *, after: str | None, limit: int) -> list[str]:
        """Username keys of the group's members, in key order, strictly after `after`."""
        ...

    # pool resources (domains, resource servers, identity providers, identity links;
    # per pool, kind and name; deleted with the pool)
    def get_resource(self, pool_id: str, kind: str, name: str) -> PoolResource | None: ...
    def find_resource(self, kind: str, name: str) -> PoolResource | None:
        """The resource of a kind in `GLOBAL_RESOURCE_KINDS` (unique across pools) of that
        name, in whichever pool holds it."""
        ...

    def list_resources(self, pool_id: str, kind: str, *, after: str | None, limit: int) -> list[PoolResource]:
        """The pool's resources of a kind by name (code point order), strictly after `after`."""
        ...

    def put_resource(self, resource: PoolResource) -> None:
        """Insert or update (optimistic version; an insert over an existing record is a
        `VersionConflict`). The pool must exist (`KeyError` otherwise, as a foreign key). A
        name of a `GLOBAL_RESOURCE_KINDS` kind that another pool holds is a
        `UniqueViolation("domain", kind)`."""
        ...

    def delete_resource(self, pool_id: str, kind: str, name: str) -> None:
        """`KeyError` if absent."""
        ...

    # the outbox (messages on their way out; global, kept after delivery and after the pool)
    def put_outbox(self, entry: OutboxEntry) -> None:
        """Insert or update (optimistic version; a new id that exists is a
        `UniqueViolation("outbox")`)."""
        ...

    def get_outbox(self, entry_id: str) -> OutboxEntry | None: ...
    def due_outbox(self, now: datetime, *, limit: int) -> list[OutboxEntry]:
        """PENDING entries whose `next_attempt` is at or before `now`, oldest
        `next_attempt` first (then by id)."""
        ...

    def list_outbox(
        self, *, pool_id: str | None = None, destination: str | None = None,
        before: tuple[datetime, str] | None = None, limit: int,
    ) -> list[OutboxEntry]:
        """Entries newest first (by `created`, then id, both descending), optionally of one
        pool and/or one destination, strictly before the position `before` = (created, id)."""
        ...

    # signing keys (per pool; deleted with the pool)
    def list_signing_keys(self, pool_id: str) -> list[SigningKey]:
        """The pool's keys, oldest first (by `created`, then `kid`)."""
        ...

    def put_signing_key(self, key: SigningKey) -> None: ...
    def delete_signing_key(self, pool_id: str, kid: str) -> None: ...

    # challenge sessions (ids are SHA-256 digests, unique across pools)
    def get_session(self, session_id: str) -> AuthSession | None: ...
    def put_session(self, session: AuthSession) -> None: ...
    def delete_session(self, session_id: str) -> None: ...

    # refresh tokens (hashes are unique across pools; origin_jti unique per pool)
    def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...
    def get_refresh_token_by_origin(self, pool_id: str, origin_jti: str) -> RefreshToken | None: ...
    def put_refresh_token(self, token: RefreshToken) -> None: ...
    def delete_refresh_token(self, token_hash: str) -> None: ...

    # lockout counters (per pool and subject key)
    def get_failed_sign_ins(self, pool_id: str, key: str) -> FailedSignIns | None: ...
    def put_failed_sign_ins(self, record: FailedSignIns) -> None: ...
    def delete_failed_sign_ins(self, pool_id: str, key: str) -> None: ...

    # housekeeping
    def purge_expired(
        self,
        *,
        sessions_before: datetime,
        refresh_tokens_before: datetime,
        failures_before: datetime,
        limit: int,
        devices_before: datetime | None = None,
    ) -> dict[str, int]:
        """Delete up to `limit` records of each kind: sessions that expired at or before
        `sessions_before`, refresh tokens that expired at or before
        `refresh_tokens_before`, lockout counters whose last attempt was at or before
        `failures_before`, unconfirmed devices whose `expires` is at or before
        `devices_before` (none when it is None). Returns how many of each kind went
        (keys "sessions", "refresh_tokens", "failed_sign_ins", "devices")."""
        ...


@runtime_checkable
class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]:
        """Commit when the block ends normally; roll everything back otherwise."""
        ...


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


@runtime_checkable
class Entropy(Protocol):
    def random_bytes(self, n: int) -> bytes:
        """`n` bytes from a cryptographically secure source (or a seeded one in tests)."""
        ...


@runtime_checkable
class Messenger(Protocol):
    def send(self, message: Message) -> None: ...


@runtime_checkable
class Triggers(Protocol):
    def invoke(self, arn: str, event: Mapping[str, Any]) -> Mapping[str, Any]:
        """Call the function behind `arn` with a Cognito trigger event; return its event.

        Raise any exception to fail the operation (it becomes
        `UserLambdaValidationException` with the exception's message).
        """
        ...


