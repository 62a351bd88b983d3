"""What a store holds, as the invariants read it: `Records`, a plain, comparable copy of a
MemoryStore or of one of its snapshots, with the look-ups the invariants and the model
checker share (a pool's users, a user by sub or by the name a request types, a session, a
refresh token, a pool resource)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from authflow.core import identity
from authflow.core.auth import session_id
from authflow.core.records import (
    AppClient,
    AuthSession,
    Device,
    FailedSignIns,
    Group,
    PoolResource,
    RefreshToken,
    SigningKey,
    User,
    UserPool,
)
from authflow.core.tokens import token_hash


@dataclass(frozen=True, slots=True)
class Records:
    """Everything a store holds, as sorted tuples of its frozen records (comparable
    with `==`). `indexes` holds the store's derived structures (the memory store's
    alias and sub maps and ListUsers indexes), so that a rollback that forgets one
    is seen too."""

    pools: tuple[UserPool, ...] = ()
    clients: tuple[AppClient, ...] = ()
    users: tuple[User, ...] = ()
    sessions: tuple[AuthSession, ...] = ()
    refresh_tokens: tuple[RefreshToken, ...] = ()
    devices: tuple[Device, ...] = ()  # by (pool, key)
    groups: tuple[Group, ...] = ()  # by (pool, name)
    #: (pool id, group name, username key) of every membership.
    memberships: tuple[tuple[str, str, str], ...] = ()
    failed_sign_ins: tuple[FailedSignIns, ...] = ()
    signing_keys: tuple[SigningKey, ...] = ()
    #: Every pool's generic records (PoolResource: domains, resource servers, the tokens
    #: rotated out of their refresh-token families and the families' lineages), by pool, kind, name.
    resources: tuple[PoolResource, ...] = ()
    indexes: tuple[Any, ...] = ()

    @classmethod
    def of(cls, source: Any) -> Records:
        """The records of a `MemoryStore`, or of one of its `snapshot()`s."""
        state = source.snapshot() if hasattr(source, "snapshot") else source
        users, indexes, failed, keys, devices, groups, members = [], [], [], [], [], [], []
        resources: list[PoolResource] = []
        for pool_id in sorted(state.users):
            pool_users = state.users[pool_id]
            users.extend(pool_users.by_key[k] for k in sorted(pool_users.by_key))
            devices.extend(pool_users.devices[k] for k in sorted(pool_users.devices))
            groups.extend(pool_users.groups[k] for k in sorted(pool_users.groups))
            members.extend((pool_id, name, key) for name in sorted(pool_users.members)
                           for key in sorted(pool_users.members[name]))
            indexes.append((
                pool_id,
                tuple(sorted(pool_users.by_alias.items())),
                tuple(sorted(pool_users.by_sub.items())),
                tuple(
                    (name, tuple(index.scan(limit=len(index) + 1)))
                    for name, index in sorted(pool_users.indexes.items()) if len(index)
                ),
                tuple(sorted(pool_users.devices_of.items())),
                tuple(sorted((k, tuple(sorted(v))) for k, v in pool_users.groups_of.items() if v)),
            ))
        for pool_id in sorted(state.auth):
            auth = state.auth[pool_id]
            failed.extend(auth.failed_sign_ins[k] for k in sorted(auth.failed_sign_ins))
            keys.extend(auth.signing_keys[k] for k in sorted(auth.signing_keys))
            resources.extend(auth.resources[k] for k in sorted(auth.resources))
            indexes.append((pool_id, tuple(sorted(auth.session_ids)), tuple(sorted(auth.refresh_by_origin.items()))))
        return cls(
            pools=tuple(state.pools[k] for k in sorted(state.pools)),
            clients=tuple(state.clients[k] for k in sorted(state.clients)),
            users=tuple(users),
            sessions=tuple(state.sessions[k] for k in sorted(state.sessions)),
            refresh_tokens=tuple(state.refresh_tokens[k] for k in sorted(state.refresh_tokens)),
            devices=tuple(devices),
            groups=tuple(groups),
            memberships=tuple(members),
            failed_sign_ins=tuple(failed),
            signing_keys=tuple(keys),
            resources=tuple(resources),
            indexes=tuple(indexes),
        )

    def without_code_attempts(self) -> Records:
        """These records with every pending code's wrong-guess count erased (and the user
        versions that counting bumps): what a refused code may write."""
        users = tuple(
            dataclasses.replace(
                u, version=0, codes={p: dataclasses.replace(c, attempts=0) for p, c in u.codes.items()}
            )
            for u in self.users
        )
        return dataclasses.replace(self, users=users)

    def without_session(self, wanted: str) -> Records:
        """These records without the session `wanted` (an id), in the records and in the
        store's session index."""
        indexes = tuple(
            (entry[0], tuple(i for i in entry[1] if i != wanted), *entry[2:])
            if len(entry) == 3 and isinstance(entry[1], tuple) and all(isinstance(i, str) for i in entry[1])
            else entry
            for entry in self.indexes
        )
        return dataclasses.replace(
            self, sessions=tuple(s for s in self.sessions if s.id != wanted), indexes=indexes,
        )

    def without_lockout(self) -> Records:
        """These records minus the failed-sign-in counters: the one thing a refused
        password or MFA code may write."""
        return dataclasses.replace(self, failed_sign_ins=())

    def pool(self, pool_id: str) -> UserPool | None:
        return next((p for p in self.pools if p.id == pool_id), None)

    def users_of(self, pool_id: str) -> tuple[User, ...]:
        return tuple(u for u in self.users if u.pool_id == pool_id)

    def user_by_sub(self, pool_id: str, sub: str) -> User | None:
        return next((u for u in self.users if u.pool_id == pool_id and u.sub == sub), None)

    def user_named(self, pool_id: str, name: str) -> User | None:
        """The user a Username parameter names: by username, else by a sign-in alias."""
        pool = self.pool(pool_id)
        if pool is None:
            return None
        key = identity.username_key(pool.config, name)
        users = self.users_of(pool_id)
        for user in users:
            if user.username_key == key:
                return user
        for kind in identity.sign_in_kinds(pool.config):
            wanted = (kind, identity.alias_key(pool.config, kind, name))
            for user in users:
                if wanted in user.aliases:
                    return user
        return None

    def session(self, session: str) -> AuthSession | None:
        return self.session_by_id(session_id(session))

    def session_by_id(self, wanted: str) -> AuthSession | None:
        return next((s for s in self.sessions if s.id == wanted), None)

    def refresh_token(self, token: str) -> RefreshToken | None:
        wanted = token_hash(token)
        return next((t for t in self.refresh_tokens if t.token_hash == wanted), None)

    def resource(self, pool_id: str, kind: str, name: str) -> PoolResource | None:
        return next((r for r in self.resources if (r.pool_id, r.kind, r.name) == (pool_id, kind, name)), None)

    def client(self, client_id: Any) -> AppClient | None:
        return next((c for c in self.clients if c.id == client_id), None)

    def family_by_origin(self, pool_id: str, origin: str) -> RefreshToken | None:
        """The refresh-token family (its record) whose `origin_jti` is `origin`."""
        return next((t for t in self.refresh_tokens if t.pool_id == pool_id and t.origin_jti == origin), None)

    def device(self, pool_id: str, key: str | None) -> Device | None:
        if not key:
            return None
        return next((d for d in self.devices if d.pool_id == pool_id and d.key == key), None)

    def group(self, pool_id: str, name: str) -> Group | None:
        return next((g for g in self.groups if g.pool_id == pool_id and g.name == name), None)

    def groups_of(self, pool_id: str, username_key: str) -> tuple[Group, ...]:
        """The groups a user (by username key) is a member of, by name."""
        names = {name for p, name, key in self.memberships if (p, key) == (pool_id, username_key)}
        return tuple(g for g in self.groups if g.pool_id == pool_id and g.name in names)

    def devices_of(self, pool_id: str, sub: str) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.pool_id == pool_id and d.sub == sub)
