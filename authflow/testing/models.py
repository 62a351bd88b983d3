"""The dict models the store contract's stateful tests run beside a store.

Theory of operation: each model is a few plain dicts keyed as the port keys its
records, with brute-force answers to every question (who holds this sub or alias,
which users a ListUsers scan returns, in which order). For each write it also says
which errors the store may refuse it with (`refusals`; empty means it must
succeed). The machines drive a store and a model with the same single writes and
batches (committed, aborted, or meeting a refused write that either ends the
transaction or is caught while the transaction goes on), and check after every
step that the store shows what the model holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, NamedTuple

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from authflow.core.listing import index_values
from authflow.core.records import User
from authflow.ports import Store, StoreError, UniqueViolation, VersionConflict
from authflow.testing.records import (
    NOW,
    P1,
    P2,
    failed_sign_ins_record,
    pool_record,
    refresh_token_record,
    session_record,
    signing_key_record,
    user_record,
)

ALL = 10_000  # a page size larger than anything the contract stores
_opt = st.none().__or__


def close_store(store: Any) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()


class Abort(Exception):
    """Raised inside a transaction to roll it back on purpose."""


Refusal = tuple[type, str | None, str | None]  # (error type, constraint, alias kind)


def _check_refusal(refusals: list[Refusal], error: BaseException) -> None:
    """`error` must be one of the refusals the model allows."""
    assert any(
        isinstance(error, kind)
        and (constraint is None or error.constraint == constraint)
        and (alias_kind is None or error.kind == alias_kind)
        for kind, constraint, alias_kind in refusals
    ), f"{error!r} is none of {refusals}"


# -- sign-in records: signing keys, challenge sessions, refresh tokens, lockout counters ------


class Kind(NamedTuple):
    """How the contract builds, writes, reads, deletes and changes one kind of record."""

    make: Callable[[str, str, int], Any]  # (id, pool id, version) -> record
    put: Callable[[Any, Any], None]
    get: Callable[[Any, str, str], Any]  # (tx, pool id, id) -> record | None
    delete: Callable[[Any, str, str], None]
    change: Callable[[Any], Any]  # record -> its next version
    per_pool: bool  # keyed by (pool, id); otherwise by id across pools


KINDS = {
    "signing_key": Kind(
        make=lambda i, pool_id, version: signing_key_record(i, pool_id=pool_id, version=version),
        put=lambda tx, r: tx.put_signing_key(r),
        get=lambda tx, pool_id, i: next((k for k in tx.list_signing_keys(pool_id) if k.kid == i), None),
        delete=lambda tx, pool_id, i: tx.delete_signing_key(pool_id, i),
        change=lambda r: replace(r, retired=NOW, version=r.version + 1),
        per_pool=True,
    ),
    "session": Kind(
        make=lambda i, pool_id, version: session_record(i, pool_id=pool_id, version=version),
        put=lambda tx, r: tx.put_session(r),
        get=lambda tx, pool_id, i: tx.get_session(i),
        delete=lambda tx, pool_id, i: tx.delete_session(i),
        change=lambda r: replace(r, used=True, version=r.version + 1),
        per_pool=False,
    ),
    "refresh_token": Kind(
        make=lambda i, pool_id, version: refresh_token_record(
            i, origin_jti=f"origin-{i}", pool_id=pool_id, version=version),
        put=lambda tx, r: tx.put_refresh_token(r),
        get=lambda tx, pool_id, i: tx.get_refresh_token(i),
        delete=lambda tx, pool_id, i: tx.delete_refresh_token(i),
        change=lambda r: replace(r, revoked=True, version=r.version + 1),
        per_pool=False,
    ),
    "failed_sign_ins": Kind(
        make=lambda i, pool_id, version: failed_sign_ins_record(i, pool_id=pool_id, version=version),
        put=lambda tx, r: tx.put_failed_sign_ins(r),
        get=lambda tx, pool_id, i: tx.get_failed_sign_ins(pool_id, i),
        delete=lambda tx, pool_id, i: tx.delete_failed_sign_ins(pool_id, i),
        change=lambda r: replace(r, count=r.count + 1, version=r.version + 1),
        per_pool=True,
    ),
}


def sign_in_records(store: Store, ids=("x", "y", "z"), pools=(P1, P2)) -> dict[str, Any]:
    """What the port shows of the sign-in records with these ids in these pools."""
    seen: dict[str, Any] = {}
    with store.transaction() as tx:
        for name, kind in KINDS.items():
            if kind.per_pool:
                seen[name] = {(p, i): kind.get(tx, p, i) for p in pools for i in ids}
            else:
                seen[name] = {i: kind.get(tx, P1, i) for i in ids}
        seen["key_order"] = {p: tx.list_signing_keys(p) for p in pools}
        seen["origins"] = {(p, i): tx.get_refresh_token_by_origin(p, f"origin-{i}") for p in pools for i in ids}
    return seen


def own_id(kind: str, pool_id: str) -> str:
    """The id of a pool's record in the `with_sign_in_records` fixture (ids keyed across
    pools differ)."""
    return "x" if KINDS[kind].per_pool or pool_id == P1 else "y"


MODEL_KINDS = ("signing_key", "session", "refresh_token", "failed_sign_ins")
_SMALL = st.integers(0, 2)  # few ids, families and creation times, so that they collide
_STALE = st.sampled_from((0, 0, 0, 0, -1, 1))  # a version off by this much is stale
sign_in_ops = st.tuples(
    st.sampled_from(MODEL_KINDS),
    st.sampled_from(("put", "put", "delete")),
    st.sampled_from((P1, P2)),
    _SMALL,  # which record
    _SMALL,  # a payload: creation minute, challenge, origin_jti family, count
    _STALE,
)


class SignInRecordsModel:
    """The obviously-correct model: one dict per kind, as the port's keys say."""

    def __init__(self) -> None:
        self.pools = {P1, P2}
        self.records: dict[str, dict[Any, Any]] = {kind: {} for kind in MODEL_KINDS}

    def copy(self) -> SignInRecordsModel:
        other = SignInRecordsModel()
        other.pools = set(self.pools)
        other.records = {kind: dict(records) for kind, records in self.records.items()}
        return other

    @staticmethod
    def key(kind, pool_id, i):
        ident = {"signing_key": "kid", "session": "s", "refresh_token": "h", "failed_sign_ins": "k"}[kind] + str(i)
        return (pool_id, ident) if KINDS[kind].per_pool else ident

    def record(self, op):
        """The record a put of `op` writes."""
        kind, _, pool_id, i, n, delta = op
        key = self.key(kind, pool_id, i)
        old = self.records[kind].get(key)
        version = (old.version + 1 if old else 1) + delta
        ident = key[1] if KINDS[kind].per_pool else key
        if kind == "signing_key":
            return signing_key_record(ident, pool_id=pool_id, created=NOW + timedelta(minutes=n), version=version)
        if kind == "session":
            return session_record(ident, pool_id=pool_id, challenge=f"C{n}", version=version)
        if kind == "refresh_token":
            return refresh_token_record(ident, origin_jti=f"o{n}", pool_id=pool_id, version=version)
        return failed_sign_ins_record(ident, pool_id=pool_id, count=n, version=version)

    def refusals(self, op) -> list[Refusal]:
        """The errors the store may answer `op` with (empty: it must succeed)."""
        kind, action, pool_id, i, _, delta = op
        key = self.key(kind, pool_id, i)
        old = self.records[kind].get(key)
        if action == "delete":
            missing = old is None or (KINDS[kind].per_pool and pool_id not in self.pools)
            return [(KeyError, None, None)] if missing else []
        errors: list[Refusal] = []
        if pool_id not in self.pools:
            errors.append((KeyError, None, None))
        if old is not None and old.pool_id != pool_id:  # an id keyed across pools, reused
            errors.append((UniqueViolation, kind, None))
        if delta:
            errors.append((VersionConflict, None, None))
        if kind == "refresh_token":
            new = self.record(op)
            if any(
                t.pool_id == pool_id and t.origin_jti == new.origin_jti and t.token_hash != new.token_hash
                for t in self.records[kind].values()
            ):
                errors.append((UniqueViolation, "origin_jti", None))
        return errors

    def apply(self, op) -> None:
        kind, action, pool_id, i, _, _ = op
        key = self.key(kind, pool_id, i)
        if action == "delete":
            del self.records[kind][key]
        else:
            self.records[kind][key] = self.record(op)

    def delete_pool(self, pool_id) -> None:
        self.pools.discard(pool_id)
        for records in self.records.values():
            for key in [k for k, r in records.items() if r.pool_id == pool_id]:
                del records[key]

    def run(self, tx, op) -> None:
        kind, action, pool_id, i, _, _ = op
        key = self.key(kind, pool_id, i)
        k = KINDS[kind]
        if action == "delete":
            k.delete(tx, pool_id, key[1] if k.per_pool else key)
        else:
            k.put(tx, self.record(op))

    def check(self, tx) -> None:
        records = self.records
        for pool_id in (P1, P2):
            keys = [r for r in records["signing_key"].values() if r.pool_id == pool_id]
            assert tx.list_signing_keys(pool_id) == sorted(keys, key=lambda r: (r.created, r.kid))
            for i in range(3):
                key = self.key("failed_sign_ins", pool_id, i)
                assert tx.get_failed_sign_ins(*key) == records["failed_sign_ins"].get(key)
                origin = f"o{i}"
                holders = [t for t in records["refresh_token"].values() if (t.pool_id, t.origin_jti) == (pool_id, origin)]
                assert len(holders) <= 1
                assert tx.get_refresh_token_by_origin(pool_id, origin) == (holders[0] if holders else None)
        for i in range(3):
            assert tx.get_session(f"s{i}") == records["session"].get(f"s{i}")
            assert tx.get_refresh_token(f"h{i}") == records["refresh_token"].get(f"h{i}")


# -- users, their aliases and their ListUsers indexes --------------------------------------

USERNAMES = ("a", "b", "ab", "B", "é", "a\x00")
SUBS = ("s0", "s1", "s2", "s3", "s4", "s5")
EMAILS = ("x@e", "xy@e", "y@e")
PREFERRED = ("p", "q")
# Values that test the order: NUL, non-ASCII, the last code point, the empty string.
NAMES = ("Zoë", "z", "z\U0010ffff", "z\U0010ffffa", "zz", "", "é")
FILTER_VALUES = ("", "x", "x@", "xy@e", "z", "z\U0010ffff", "a", "a\x00", "B", "CONFIRMED", "Enabled", "s1", "é")
SCANNED = (None, "username", "email", "name", "preferred_username", "sub", "status", "cognito:user_status")


class UserOp(NamedTuple):
    action: str  # "put" | "delete"
    pool_id: str
    name: str
    sub: str
    email: str | None
    email_verified: bool  # a verified email is an alias
    preferred: str | None  # preferred_username is always an alias
    display_name: str | None
    status: str
    enabled: bool
    stale: int  # a version off by this much is stale


user_ops = st.builds(
    UserOp,
    action=st.sampled_from(("put", "put", "put", "delete")),
    pool_id=st.sampled_from((P1, P2)),
    name=st.sampled_from(USERNAMES),
    sub=st.sampled_from(SUBS),
    email=st.sampled_from((None, *EMAILS, *EMAILS)),
    email_verified=st.booleans(),
    preferred=_opt(st.sampled_from(PREFERRED)),
    display_name=_opt(st.sampled_from(NAMES)),
    status=st.sampled_from(("CONFIRMED", "FORCE_CHANGE_PASSWORD")),
    enabled=st.booleans(),
    stale=_STALE,
)


class UsersModel:
    """The obviously-correct model: per pool, a dict of users by username key. Sub and
    alias holders, and the ListUsers indexes, are computed from it by brute force."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, User]] = {P1: {}, P2: {}}

    def copy(self) -> UsersModel:
        other = UsersModel()
        other.users = {pool_id: dict(users) for pool_id, users in self.users.items()}
        return other

    def record(self, op: UserOp) -> User:
        old = self.users.get(op.pool_id, {}).get(op.name)
        attributes = {"sub": op.sub}
        aliases = []
        if op.email is not None:
            attributes["email"] = op.email
            if op.email_verified:
                aliases.append(("email", op.email))
        if op.preferred is not None:
            attributes["preferred_username"] = op.preferred
            aliases.append(("preferred_username", op.preferred))
        if op.display_name is not None:
            attributes["name"] = op.display_name
        return user_record(op.name, sub=op.sub, aliases=aliases, attributes=attributes, pool_id=op.pool_id,
                           status=op.status, enabled=op.enabled, version=(old.version + 1 if old else 1) + op.stale)

    def refusals(self, op: UserOp) -> list[Refusal]:
        users = self.users.get(op.pool_id)
        if users is None:
            return [(KeyError, None, None)]
        if op.action == "delete":
            return [] if op.name in users else [(KeyError, None, None)]
        errors: list[Refusal] = []
        if op.stale:
            errors.append((VersionConflict, None, None))
        new = self.record(op)
        others = [u for k, u in users.items() if k != op.name]
        if any(u.sub == new.sub for u in others):
            errors.append((UniqueViolation, "sub", None))
        for alias in new.aliases:
            if any(alias in u.aliases for u in others):
                errors.append((UniqueViolation, "alias", alias[0]))
        return errors

    def apply(self, op: UserOp) -> None:
        if op.action == "delete":
            del self.users[op.pool_id][op.name]
        else:
            self.users[op.pool_id][op.name] = self.record(op)

    @staticmethod
    def run(tx, op: UserOp, record: User) -> None:
        if op.action == "delete":
            tx.delete_user(op.pool_id, op.name)
        else:
            tx.put_user(record)

    def scan(self, pool_id, index, exact=None, prefix=None) -> list[tuple[tuple[str, str], User]]:
        """The whole answer of a scan, in keyset order."""
        entries = []
        for user in self.users.get(pool_id, {}).values():
            value = index_values(user.username_key, user.attributes, user.status, user.enabled).get(index or "username")
            if value is None or (exact is not None and value != exact):
                continue
            if prefix is not None and not value.startswith(prefix):
                continue
            entries.append(((value, user.username_key), user))
        return sorted(entries, key=lambda e: e[0])

    def check(self, tx) -> None:
        for pool_id in (P1, P2):
            users = self.users.get(pool_id, {})
            assert tx.count_users(pool_id) == len(users)
            assert tx.scan_users(pool_id, index=None, limit=ALL) == self.scan(pool_id, None)
            for name in USERNAMES:
                assert tx.get_user(pool_id, name) == users.get(name)
            for sub in SUBS:
                holders = [u for u in users.values() if u.sub == sub]
                assert len(holders) <= 1
                assert tx.get_user_by_sub(pool_id, sub) == (holders[0] if holders else None)
            for alias in [("email", e) for e in EMAILS] + [("preferred_username", p) for p in PREFERRED]:
                holders = [u for u in users.values() if alias in u.aliases]
                assert len(holders) <= 1
                assert tx.get_user_by_alias(pool_id, *alias) == (holders[0] if holders else None)


def all_pages(tx, pool_id, index, exact, prefix, page, expected) -> list[tuple[tuple[str, str], User]]:
    """Every page of a scan, each strictly after the last position of the one before (at
    most as many pages as `expected` entries need, plus one: a store that repeats
    itself fails instead of looping)."""
    seen: list[tuple[tuple[str, str], User]] = []
    after = None
    for _ in range(expected // page + 2):
        rows = tx.scan_users(pool_id, index=index, exact=exact, prefix=prefix, after=after, limit=page)
        assert len(rows) <= page
        seen.extend(rows)
        if len(rows) < page:
            return seen
        after = rows[-1][0]
    raise AssertionError(f"more than {expected} entries in pages of {page}: {seen[:expected + page]}")


# -- the stateful tests ----------------------------------------------------------------------


# Most deleted pools come back at once, so that most writes meet an existing pool.
_STAY_DELETED = st.sampled_from((False, False, False, True))


class _ModelMachine(RuleBasedStateMachine):
    """A store beside a model: single writes, batches that commit, abort, or meet a
    refused write (which either ends the transaction or is caught and the transaction
    goes on), and pools deleted and made again. Subclasses bring the model and rules."""

    model: Any

    def __init__(self, factory: Callable[[], Store]) -> None:
        super().__init__()
        self.store = factory()
        with self.store.transaction() as tx:
            for pool_id in (P1, P2):
                tx.put_pool(pool_record(pool_id))

    def teardown(self) -> None:
        close_store(self.store)

    def _run(self, tx, model, op) -> None:
        model.run(tx, op)

    def _write(self, op) -> None:
        refusals = self.model.refusals(op)
        try:
            with self.store.transaction() as tx:
                self._run(tx, self.model, op)
        except (KeyError, StoreError) as error:
            _check_refusal(refusals, error)
        else:
            assert not refusals, f"{op} succeeded, expected one of {refusals}"
            self.model.apply(op)

    def _batch(self, batch, commit: bool, go_on: bool) -> None:
        working = self.model.copy()
        try:
            with self.store.transaction() as tx:
                for op in batch:
                    refusals = working.refusals(op)
                    if not refusals:
                        try:
                            self._run(tx, working, op)
                        except (KeyError, StoreError) as error:  # not to be taken for a planned refusal
                            raise AssertionError(f"{op} was refused with {error!r}") from error
                        working.apply(op)
                        continue
                    try:
                        self._run(tx, working, op)
                    except (KeyError, StoreError) as error:
                        _check_refusal(refusals, error)
                        if not go_on:  # the refused write ends the transaction: all is undone
                            raise
                    else:
                        raise AssertionError(f"{op} succeeded, expected one of {refusals}")
                working.check(tx)  # reads see the transaction's own writes, and no refused one
                if not commit:
                    raise Abort
        except (Abort, KeyError, StoreError):
            return
        self.model = working

    def _delete_pool(self, pool_id: str, commit: bool) -> bool:
        if pool_id not in self._pools():
            return False
        try:
            with self.store.transaction() as tx:
                tx.delete_pool(pool_id)
                if not commit:
                    raise Abort
        except Abort:
            return False
        return True

    def _create_pool(self, pool_id: str) -> bool:
        if pool_id in self._pools():
            return False
        with self.store.transaction() as tx:
            tx.put_pool(pool_record(pool_id))
        return True

    def _pools(self) -> set[str]:
        raise NotImplementedError

    @invariant()
    def store_agrees_with_model(self):
        with self.store.transaction() as tx:
            self.model.check(tx)


class SignInRecordsMachine(_ModelMachine):
    """The sign-in records beside `SignInRecordsModel`."""

    def __init__(self, factory: Callable[[], Store]) -> None:
        super().__init__(factory)
        self.model = SignInRecordsModel()

    def _pools(self) -> set[str]:
        return self.model.pools

    @rule(op=sign_in_ops)
    def write(self, op):
        self._write(op)

    @rule(batch=st.lists(sign_in_ops, min_size=1, max_size=6), commit=st.booleans(), go_on=st.booleans())
    def transaction(self, batch, commit, go_on):
        self._batch(batch, commit, go_on)

    @rule(pool_id=st.sampled_from((P1, P2)), commit=st.booleans(), stay_deleted=_STAY_DELETED)
    def delete_pool(self, pool_id, commit, stay_deleted):
        if self._delete_pool(pool_id, commit):
            self.model.delete_pool(pool_id)
            if not stay_deleted:
                self.create_pool(pool_id)

    @rule(pool_id=st.sampled_from((P1, P2)))
    def create_pool(self, pool_id):
        if self._create_pool(pool_id):
            self.model.pools.add(pool_id)


class UsersMachine(_ModelMachine):
    """Users beside `UsersModel`, with ListUsers scans (filters and keyset pages of every
    size) compared with the model's brute-force answers."""

    def __init__(self, factory: Callable[[], Store]) -> None:
        super().__init__(factory)
        self.model = UsersModel()

    def _pools(self) -> set[str]:
        return set(self.model.users)

    def _run(self, tx, model, op) -> None:
        model.run(tx, op, model.record(op))

    @rule(op=user_ops)
    def write(self, op):
        self._write(op)

    @rule(batch=st.lists(user_ops, min_size=1, max_size=5), commit=st.booleans(), go_on=st.booleans())
    def transaction(self, batch, commit, go_on):
        self._batch(batch, commit, go_on)

    @rule(pool_id=st.sampled_from((P1, P2)), commit=st.booleans(), stay_deleted=_STAY_DELETED)
    def delete_pool(self, pool_id, commit, stay_deleted):
        if self._delete_pool(pool_id, commit):
            del self.model.users[pool_id]
            if not stay_deleted:
                self.create_pool(pool_id)

    @rule(pool_id=st.sampled_from((P1, P2)))
    def create_pool(self, pool_id):
        if self._create_pool(pool_id):
            self.model.users[pool_id] = {}

    @rule(
        pool_id=st.sampled_from((P1, P2)),
        index=st.sampled_from(SCANNED),
        operator=st.sampled_from((None, "=", "^=")),
        value=st.sampled_from(FILTER_VALUES),
        page=st.integers(1, 4),
        start=st.integers(0, 6) | st.tuples(st.sampled_from(FILTER_VALUES + NAMES), st.sampled_from(USERNAMES)),
    )
    def scan(self, pool_id, index, operator, value, page, start):
        exact = value if operator == "=" else None
        prefix = value if operator == "^=" else None
        expected = self.model.scan(pool_id, index, exact=exact, prefix=prefix)
        with self.store.transaction() as tx:
            seen = all_pages(tx, pool_id, index, exact, prefix, page, len(expected))
            assert seen == expected
            # One page from another position: one a user holds, just past one, or any at all.
            if isinstance(start, tuple):
                position = start
            elif expected:
                position = expected[min(start, len(expected) - 1)][0]
                position = (position[0], position[1] + "\x00") if start % 2 else position
            else:
                return
            rows = tx.scan_users(pool_id, index=index, exact=exact, prefix=prefix, after=position, limit=page)
            assert rows == [e for e in expected if e[0] > position][:page]


