"""Frozen records: what the store keeps.

Theory of operation: every record is an immutable value. A decision builds new
records with `dataclasses.replace`, and the service hands them to the store inside
one transaction. Configuration is kept in Cognito's own wire spelling (dicts keyed
by Cognito's member names) so that what is stored, what the specs name and what
goes over the wire are the same strings; the typed accessors in `pool_config` and
`client_config` are the only readers of those dicts.

Derived fields (`username_key`, `aliases`) are computed by the core when a user
record is built, so that every store can index them without knowing pool rules.
`version` supports optimistic concurrency: a store accepts a write only when the
stored version is exactly one less (or absent, for version 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class UserPool:
    id: str
    arn: str
    config: Mapping[str, Any]
    created: datetime
    modified: datetime
    # Server-side secret of this pool (pagination tokens, later simulated SRP salts).
    # Never leaves the engine.
    secret: bytes = field(repr=False)
    version: int = 1

    @property
    def name(self) -> str:
        return str(self.config.get("Name", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class AppClient:
    pool_id: str
    id: str
    config: Mapping[str, Any]
    created: datetime
    modified: datetime
    secret: str | None = field(default=None, repr=False)
    version: int = 1

    @property
    def name(self) -> str:
        return str(self.config.get("ClientName", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """A password as the engine keeps it: never the password itself."""

    password_hash: str = field(repr=False)  # PHC string, Argon2id
    temporary: bool
    issued_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    pool_id: str
    username: str
    # The uniqueness key of the username: the username itself in case-sensitive
    # pools, its casefold in case-insensitive ones.
    username_key: str
    sub: str
    # Attribute name -> value, in the order Cognito reports them (`sub` first).
    attributes: Mapping[str, str]
    status: str
    enabled: bool = True
    credential: Credential | None = None
    created: datetime
    modified: datetime
    # (alias kind, alias key) pairs this user currently holds: the verified email /
    # phone_number and the preferred_username, as sign-in aliases or as
    # username attributes. At most one holder per pool (a store constraint).
    aliases: tuple[tuple[str, str], ...] = ()
    version: int = 1
