"""The Store contract, for the MemoryStore (the SQL stores join with the storage issue).

Written against the `Store` port only, as a function of a factory, so the same
tests can run against every adapter."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from authflow.adapters import MemoryStore
from authflow.core.records import (
    AuthSession,
    FailedSignIns,
    RefreshToken,
    SigningKey,
    User,
    UserPool,
)
from authflow.ports import StoreError, UniqueViolation, VersionConflict
from tests.helpers import store_contents

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
FACTORIES = {"memory": MemoryStore}


@pytest.fixture(params=sorted(FACTORIES))
def store(request):
    return FACTORIES[request.param]()


def pool(pool_id="us-east-1_AAAAAAAAA"):
    return UserPool(id=pool_id, arn="arn", config={"Name": "p"}, created=NOW, modified=NOW, secret=b"s" * 32)


def user(name, sub=None, aliases=(), attributes=None, version=1):
    return User(
        pool_id="us-east-1_AAAAAAAAA",
        username=name,
        username_key=name,
        sub=sub or f"sub-{name}",
        attributes=attributes or {"sub": sub or f"sub-{name}"},
        status="FORCE_CHANGE_PASSWORD",
        created=NOW,
        modified=NOW,
        aliases=tuple(aliases),
        version=version,
    )


@pytest.fixture
def seeded(store):
    with store.transaction() as tx:
        tx.put_pool(pool())
        tx.put_user(user("alice", aliases=[("email", "a@example.com")], attributes={"sub": "sub-alice", "email": "a@example.com"}))
    return store


def test_failed_transaction_rolls_back_every_write(seeded):
    before = store_contents(seeded)
    with pytest.raises(RuntimeError):
        with seeded.transaction() as tx:
            tx.put_user(user("bob"))
            alice = tx.get_user("us-east-1_AAAAAAAAA", "alice")
            tx.put_user(replace(alice, aliases=(), version=2))
            tx.delete_user("us-east-1_AAAAAAAAA", "bob")
            tx.put_pool(replace(pool(), config={"Name": "renamed"}, version=2))
            tx.delete_pool("us-east-1_AAAAAAAAA")
            raise RuntimeError("crash in the middle")
    assert store_contents(seeded) == before


def test_reads_see_own_writes(seeded):
    with seeded.transaction() as tx:
        tx.put_user(user("bob", aliases=[("email", "b@example.com")], attributes={"sub": "sub-bob", "email": "b@example.com"}))
        assert tx.get_user("us-east-1_AAAAAAAAA", "bob").username == "bob"
        assert tx.get_user_by_alias("us-east-1_AAAAAAAAA", "email", "b@example.com").username == "bob"
        assert tx.get_user_by_sub("us-east-1_AAAAAAAAA", "sub-bob").username == "bob"
        assert tx.count_users("us-east-1_AAAAAAAAA") == 2
        rows = tx.scan_users("us-east-1_AAAAAAAAA", index="email", prefix="b", limit=10)
        assert [u.username for _, u in rows] == ["bob"]


def test_unique_alias(seeded):
    before = store_contents(seeded)
    with pytest.raises(UniqueViolation) as err:
        with seeded.transaction() as tx:
            tx.put_user(user("bob", aliases=[("email", "a@example.com")]))
    assert err.value.constraint == "alias" and err.value.kind == "email"
    assert store_contents(seeded) == before


def test_unique_sub(seeded):
    with pytest.raises(UniqueViolation) as err:
        with seeded.transaction() as tx:
            tx.put_user(user("bob", sub="sub-alice"))
    assert err.value.constraint == "sub"


def test_stale_version_is_refused(seeded):
    with seeded.transaction() as tx:
        alice = tx.get_user("us-east-1_AAAAAAAAA", "alice")
    with seeded.transaction() as tx:
        tx.put_user(replace(alice, status="CONFIRMED", version=2))
    with pytest.raises(VersionConflict):
        with seeded.transaction() as tx:
            tx.put_user(replace(alice, enabled=False, version=2))
    with pytest.raises(VersionConflict):
        with seeded.transaction() as tx:
            tx.put_user(user("carol", version=3))


def test_alias_can_move_within_one_transaction(seeded):
    with seeded.transaction() as tx:
        alice = tx.get_user("us-east-1_AAAAAAAAA", "alice")
        tx.put_user(replace(alice, aliases=(), version=2))
        tx.put_user(user("bob", aliases=[("email", "a@example.com")]))
    with seeded.transaction() as tx:
        assert tx.get_user_by_alias("us-east-1_AAAAAAAAA", "email", "a@example.com").username == "bob"


def test_concurrent_creates_of_one_username_have_one_winner(store):
    with store.transaction() as tx:
        tx.put_pool(pool())
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            with store.transaction() as tx:
                if tx.get_user("us-east-1_AAAAAAAAA", "same") is None:
                    tx.put_user(user("same", sub=f"sub-{i}"))
                    results.append("won")
                else:
                    results.append("exists")
        except (UniqueViolation, VersionConflict):
            results.append("conflict")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("won") == 1
    with store.transaction() as tx:
        assert tx.count_users("us-east-1_AAAAAAAAA") == 1


def test_scan_keyset_order(seeded):
    with seeded.transaction() as tx:
        for name in ("dave", "bob", "carol"):
            tx.put_user(user(name))
    with seeded.transaction() as tx:
        first = tx.scan_users("us-east-1_AAAAAAAAA", index=None, limit=2)
        assert [u.username for _, u in first] == ["alice", "bob"]
        rest = tx.scan_users("us-east-1_AAAAAAAAA", index=None, after=first[-1][0], limit=10)
        assert [u.username for _, u in rest] == ["carol", "dave"]


# -- sign-in records: signing keys, challenge sessions, refresh tokens, lockout counters --

P1 = "us-east-1_AAAAAAAAA"
P2 = "us-east-1_BBBBBBBBB"


def signing_key(kid, pool_id=P1, created=NOW, version=1, retired=None):
    return SigningKey(
        pool_id=pool_id,
        kid=kid,
        use="id",
        private_key=b"der",
        public_jwk={"alg": "RS256", "e": "AQAB", "kid": kid, "kty": "RSA", "n": "n", "use": "sig"},
        created=created,
        retired=retired,
        version=version,
    )


def session(session_id, pool_id=P1, version=1, challenge="SMS_MFA", used=False):
    return AuthSession(
        pool_id=pool_id,
        id=session_id,
        client_id="client",
        username_key="alice",
        sub="sub-alice",
        challenge=challenge,
        typed_username="alice",
        created=NOW,
        expires=NOW + timedelta(minutes=3),
        used=used,
        version=version,
    )


def refresh_token(token_hash, origin_jti="origin-1", pool_id=P1, version=1, revoked=False):
    return RefreshToken(
        pool_id=pool_id,
        token_hash=token_hash,
        origin_jti=origin_jti,
        client_id="client",
        sub="sub-alice",
        auth_time=NOW,
        created=NOW,
        expires=NOW + timedelta(days=30),
        revoked=revoked,
        version=version,
    )


def failed_sign_ins(key, pool_id=P1, count=1, version=1):
    return FailedSignIns(pool_id=pool_id, key=key, count=count, locked_until=None, last_attempt=NOW, version=version)


class Kind(NamedTuple):
    """How the tests below build, write, read, delete and change one kind of record."""

    make: Callable[[str, str, int], Any]  # (id, pool id, version) -> record
    put: Callable[[Any, Any], None]
    get: Callable[[Any, str, str], Any]  # (tx, pool id, id) -> record | None
    delete: Callable[[Any, str, str], None]
    change: Callable[[Any], Any]  # record -> its next version
    per_pool: bool  # keyed by (pool, id); otherwise by id across pools


KINDS = {
    "signing_key": Kind(
        make=lambda i, pool_id, version: signing_key(i, pool_id=pool_id, version=version),
        put=lambda tx, r: tx.put_signing_key(r),
        get=lambda tx, pool_id, i: next((k for k in tx.list_signing_keys(pool_id) if k.kid == i), None),
        delete=lambda tx, pool_id, i: tx.delete_signing_key(pool_id, i),
        change=lambda r: replace(r, retired=NOW, version=r.version + 1),
        per_pool=True,
    ),
    "session": Kind(
        make=lambda i, pool_id, version: session(i, pool_id=pool_id, version=version),
        put=lambda tx, r: tx.put_session(r),
        get=lambda tx, pool_id, i: tx.get_session(i),
        delete=lambda tx, pool_id, i: tx.delete_session(i),
        change=lambda r: replace(r, used=True, version=r.version + 1),
        per_pool=False,
    ),
    "refresh_token": Kind(
        make=lambda i, pool_id, version: refresh_token(i, origin_jti=f"origin-{i}", pool_id=pool_id, version=version),
        put=lambda tx, r: tx.put_refresh_token(r),
        get=lambda tx, pool_id, i: tx.get_refresh_token(i),
        delete=lambda tx, pool_id, i: tx.delete_refresh_token(i),
        change=lambda r: replace(r, revoked=True, version=r.version + 1),
        per_pool=False,
    ),
    "failed_sign_ins": Kind(
        make=lambda i, pool_id, version: failed_sign_ins(i, pool_id=pool_id, version=version),
        put=lambda tx, r: tx.put_failed_sign_ins(r),
        get=lambda tx, pool_id, i: tx.get_failed_sign_ins(pool_id, i),
        delete=lambda tx, pool_id, i: tx.delete_failed_sign_ins(pool_id, i),
        change=lambda r: replace(r, count=r.count + 1, version=r.version + 1),
        per_pool=True,
    ),
}


def sign_in_records(store, ids=("x", "y", "z"), pools=(P1, P2)):
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


def own_id(kind, pool_id):
    """The id of a pool's record in `with_sign_in_records` (ids keyed across pools differ)."""
    return "x" if KINDS[kind].per_pool or pool_id == P1 else "y"


@pytest.fixture
def two_pools(store):
    with store.transaction() as tx:
        tx.put_pool(pool(P1))
        tx.put_pool(pool(P2))
    return store


@pytest.fixture
def with_sign_in_records(two_pools):
    """Both pools hold one record of every kind (see `own_id`)."""
    with two_pools.transaction() as tx:
        for pool_id in (P1, P2):
            for name, kind in KINDS.items():
                kind.put(tx, kind.make(own_id(name, pool_id), pool_id, 1))
    return two_pools


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sign_in_record_round_trip(two_pools, kind):
    k = KINDS[kind]
    first = k.make("x", P1, 1)
    with two_pools.transaction() as tx:
        k.put(tx, first)
        assert k.get(tx, P1, "x") == first  # reads see the transaction's own writes
    with two_pools.transaction() as tx:
        assert k.get(tx, P1, "x") == first
        assert k.get(tx, P1, "y") is None
        updated = k.change(first)
        k.put(tx, updated)
    with two_pools.transaction() as tx:
        assert k.get(tx, P1, "x") == updated
        k.delete(tx, P1, "x")
        assert k.get(tx, P1, "x") is None
    with two_pools.transaction() as tx:
        assert k.get(tx, P1, "x") is None


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sign_in_record_versions_are_checked(two_pools, kind):
    k = KINDS[kind]
    for version in (0, 2):  # a new record must be version 1
        with pytest.raises(VersionConflict):
            with two_pools.transaction() as tx:
                k.put(tx, k.make("x", P1, version))
    first = k.make("x", P1, 1)
    with two_pools.transaction() as tx:
        k.put(tx, first)
    before = sign_in_records(two_pools)
    for stale in (first, replace(k.change(first), version=1), replace(k.change(first), version=3)):
        with pytest.raises(VersionConflict):
            with two_pools.transaction() as tx:
                k.put(tx, stale)
    assert sign_in_records(two_pools) == before
    with two_pools.transaction() as tx:
        k.put(tx, k.change(first))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sign_in_record_needs_an_existing_pool(two_pools, kind):
    k = KINDS[kind]
    before = sign_in_records(two_pools, pools=(P1, P2, "us-east-1_NOPOOLXXX"))
    with pytest.raises(KeyError):
        with two_pools.transaction() as tx:
            k.put(tx, k.make("x", "us-east-1_NOPOOLXXX", 1))
    assert sign_in_records(two_pools, pools=(P1, P2, "us-east-1_NOPOOLXXX")) == before


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_deleting_a_missing_sign_in_record_raises_key_error(two_pools, kind):
    k = KINDS[kind]
    with two_pools.transaction() as tx:
        k.put(tx, k.make("x", P1, 1))
    with pytest.raises(KeyError):
        with two_pools.transaction() as tx:
            k.delete(tx, P1, "y")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_failed_transaction_rolls_back_sign_in_records(with_sign_in_records, kind):
    store, k = with_sign_in_records, KINDS[kind]
    before, raw_before = sign_in_records(store), store_contents(store)
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            k.put(tx, k.make("z", P1, 1))  # a new record
            k.put(tx, k.change(k.get(tx, P1, "x")))  # an update
            k.delete(tx, P1, "z")  # a delete of a record made in this transaction
            k.put(tx, k.make("z", P1, 1))
            k.delete(tx, P1, "x")  # a delete of a record that was there before
            raise RuntimeError("crash in the middle")
    assert sign_in_records(store) == before
    assert store_contents(store) == raw_before


def test_refresh_token_origin_is_unique_per_pool(two_pools):
    with two_pools.transaction() as tx:
        tx.put_refresh_token(refresh_token("h1", origin_jti="o"))
        tx.put_refresh_token(refresh_token("h2", origin_jti="o", pool_id=P2))  # another pool: fine
    before = store_contents(two_pools)
    with pytest.raises(UniqueViolation) as err:
        with two_pools.transaction() as tx:
            tx.put_refresh_token(refresh_token("h3", origin_jti="o"))
    assert err.value.constraint == "origin_jti"
    assert store_contents(two_pools) == before
    with two_pools.transaction() as tx:
        assert tx.get_refresh_token_by_origin(P1, "o").token_hash == "h1"
        assert tx.get_refresh_token_by_origin(P2, "o").token_hash == "h2"
        assert tx.get_refresh_token_by_origin(P1, "other") is None
        assert tx.get_refresh_token("h3") is None
        # the holder may be rewritten, and may even move to another family, freeing "o"
        tx.put_refresh_token(refresh_token("h1", origin_jti="o", revoked=True, version=2))
        tx.put_refresh_token(refresh_token("h1", origin_jti="o2", version=3))
        assert tx.get_refresh_token_by_origin(P1, "o") is None
        tx.put_refresh_token(refresh_token("h3", origin_jti="o"))
    with two_pools.transaction() as tx:
        assert tx.get_refresh_token_by_origin(P1, "o").token_hash == "h3"
        assert tx.get_refresh_token_by_origin(P1, "o2").token_hash == "h1"
        tx.delete_refresh_token("h3")  # deleting frees the family
        assert tx.get_refresh_token_by_origin(P1, "o") is None
        tx.put_refresh_token(refresh_token("h4", origin_jti="o"))
    with two_pools.transaction() as tx:
        assert tx.get_refresh_token_by_origin(P1, "o").token_hash == "h4"


def test_rolled_back_refresh_token_writes_restore_the_origin_index(two_pools):
    with two_pools.transaction() as tx:
        tx.put_refresh_token(refresh_token("h1", origin_jti="o"))
    with pytest.raises(RuntimeError):
        with two_pools.transaction() as tx:
            tx.put_refresh_token(refresh_token("h1", origin_jti="o2", version=2))
            tx.put_refresh_token(refresh_token("h2", origin_jti="o"))
            tx.delete_refresh_token("h2")
            raise RuntimeError("crash")
    with two_pools.transaction() as tx:
        assert tx.get_refresh_token_by_origin(P1, "o") == refresh_token("h1", origin_jti="o")
        assert tx.get_refresh_token_by_origin(P1, "o2") is None
        assert tx.get_refresh_token("h2") is None
    with pytest.raises(UniqueViolation):  # "o" is still held
        with two_pools.transaction() as tx:
            tx.put_refresh_token(refresh_token("h2", origin_jti="o"))


def test_signing_keys_are_listed_oldest_first_then_by_kid(two_pools):
    later = NOW + timedelta(days=1)
    with two_pools.transaction() as tx:
        tx.put_signing_key(signing_key("k-c", created=later))
        tx.put_signing_key(signing_key("k-b", created=NOW))
        tx.put_signing_key(signing_key("k-z", created=NOW - timedelta(days=1)))
        tx.put_signing_key(signing_key("k-a", created=later))
        tx.put_signing_key(signing_key("k-other", pool_id=P2))
        assert [k.kid for k in tx.list_signing_keys(P1)] == ["k-z", "k-b", "k-a", "k-c"]
    with two_pools.transaction() as tx:
        assert [k.kid for k in tx.list_signing_keys(P1)] == ["k-z", "k-b", "k-a", "k-c"]
        assert [k.kid for k in tx.list_signing_keys(P2)] == ["k-other"]
        assert tx.list_signing_keys("us-east-1_NOPOOLXXX") == []


def test_delete_pool_cascades_to_sign_in_records(with_sign_in_records):
    store = with_sign_in_records
    before = sign_in_records(store)
    with store.transaction() as tx:
        tx.delete_pool(P1)
    after = sign_in_records(store)
    for name, kind in KINDS.items():
        for key, record in before[name].items():
            gone = (key[0] if kind.per_pool else record and record.pool_id) == P1
            assert after[name][key] == (None if gone else record), f"{name} {key}"
    assert after["key_order"] == {P1: [], P2: before["key_order"][P2]}
    assert after["origins"] == {k: (None if k[0] == P1 else v) for k, v in before["origins"].items()}
    with store.transaction() as tx:  # a new pool of the same id starts empty...
        tx.put_pool(pool(P1))
    assert sign_in_records(store) == after
    with store.transaction() as tx:  # ...and may reuse the ids and families of the old one
        for name, kind in KINDS.items():
            kind.put(tx, kind.make(own_id(name, P1), P1, 1))
    assert sign_in_records(store) == before


def test_rolled_back_delete_pool_restores_sign_in_records(with_sign_in_records):
    store = with_sign_in_records
    before, raw_before = sign_in_records(store), store_contents(store)
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.delete_pool(P1)
            raise RuntimeError("crash")
    assert sign_in_records(store) == before
    assert store_contents(store) == raw_before
    with pytest.raises(UniqueViolation):  # the restored family still holds its origin_jti
        with store.transaction() as tx:
            tx.put_refresh_token(refresh_token("new", origin_jti="origin-x"))


def test_memory_snapshot_and_restore_include_sign_in_records(with_sign_in_records):
    """MemoryStore only: snapshot/restore serve the model checker; they are not the port."""
    store = with_sign_in_records
    if not isinstance(store, MemoryStore):
        pytest.skip("snapshot/restore is a MemoryStore feature")
    before, raw_before = sign_in_records(store), store_contents(store)
    snap = store.snapshot()
    with store.transaction() as tx:  # change every kind, every way, after the snapshot
        for name, kind in KINDS.items():
            kind.put(tx, kind.change(kind.get(tx, P1, "x")))
            kind.put(tx, kind.make("z", P1, 1))
            kind.delete(tx, P2, own_id(name, P2))
    assert sign_in_records(store) != before
    store.restore(snap)
    assert sign_in_records(store) == before
    assert store_contents(store) == raw_before
    with store.transaction() as tx:  # writes after a restore do not reach the snapshot
        tx.delete_pool(P1)
        tx.delete_failed_sign_ins(P2, "x")
    store.restore(snap)
    assert store_contents(store) == raw_before


# -- the sign-in records beside a plain-dict model ----------------------------------------

MODEL_KINDS = ("signing_key", "session", "refresh_token", "failed_sign_ins")
SMALL = st.integers(0, 2)  # few ids, families and creation times, so that they collide
ops = st.tuples(
    st.sampled_from(MODEL_KINDS),
    st.sampled_from(("put", "put", "delete")),
    st.sampled_from((P1, P2)),
    SMALL,  # which record
    SMALL,  # a payload: creation minute, challenge, origin_jti family, count
    st.sampled_from((0, 0, 0, 0, -1, 1)),  # a version off by this much is stale
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
            return signing_key(ident, pool_id=pool_id, created=NOW + timedelta(minutes=n), version=version)
        if kind == "session":
            return session(ident, pool_id=pool_id, challenge=f"C{n}", version=version)
        if kind == "refresh_token":
            return refresh_token(ident, origin_jti=f"o{n}", pool_id=pool_id, version=version)
        return failed_sign_ins(ident, pool_id=pool_id, count=n, version=version)

    def refusals(self, op) -> list[tuple[type, str | None]]:
        """The errors the store may answer `op` with (empty: it must succeed)."""
        kind, action, pool_id, i, _, delta = op
        key = self.key(kind, pool_id, i)
        old = self.records[kind].get(key)
        if action == "delete":
            missing = old is None or (KINDS[kind].per_pool and pool_id not in self.pools)
            return [(KeyError, None)] if missing else []
        errors: list[tuple[type, str | None]] = []
        if pool_id not in self.pools:
            errors.append((KeyError, None))
        if old is not None and old.pool_id != pool_id:  # an id keyed across pools, reused
            errors.append((UniqueViolation, None))
        if delta:
            errors.append((VersionConflict, None))
        if kind == "refresh_token":
            new = self.record(op)
            if any(
                t.pool_id == pool_id and t.origin_jti == new.origin_jti and t.token_hash != new.token_hash
                for t in self.records[kind].values()
            ):
                errors.append((UniqueViolation, "origin_jti"))
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


def run_op(tx, op, model) -> None:
    kind, action, pool_id, i, _, _ = op
    key = model.key(kind, pool_id, i)
    k = KINDS[kind]
    if action == "delete":
        k.delete(tx, pool_id, key[1] if k.per_pool else key)
    else:
        k.put(tx, model.record(op))


def check_agreement(tx, model) -> None:
    records = model.records
    for pool_id in (P1, P2):
        keys = [r for r in records["signing_key"].values() if r.pool_id == pool_id]
        assert tx.list_signing_keys(pool_id) == sorted(keys, key=lambda r: (r.created, r.kid))
        for i in range(3):
            key = model.key("failed_sign_ins", pool_id, i)
            assert tx.get_failed_sign_ins(*key) == records["failed_sign_ins"].get(key)
            origin = f"o{i}"
            holders = [t for t in records["refresh_token"].values() if (t.pool_id, t.origin_jti) == (pool_id, origin)]
            assert len(holders) <= 1
            assert tx.get_refresh_token_by_origin(pool_id, origin) == (holders[0] if holders else None)
    for i in range(3):
        assert tx.get_session(f"s{i}") == records["session"].get(f"s{i}")
        assert tx.get_refresh_token(f"h{i}") == records["refresh_token"].get(f"h{i}")


class Abort(Exception):
    pass


class SignInRecordsMachine(RuleBasedStateMachine):
    """The store beside `SignInRecordsModel`: single writes, batches that commit, abort or
    fail half-way, and pools deleted and created again."""

    def __init__(self, factory) -> None:
        super().__init__()
        self.store = factory()
        self.model = SignInRecordsModel()
        with self.store.transaction() as tx:
            for pool_id in self.model.pools:
                tx.put_pool(pool(pool_id))

    def _expect_refusal(self, refusals, error: BaseException) -> None:
        assert any(
            isinstance(error, kind) and (constraint is None or error.constraint == constraint)
            for kind, constraint in refusals
        ), f"{error!r} is none of {refusals}"

    @rule(op=ops)
    def write(self, op):
        refusals = self.model.refusals(op)
        try:
            with self.store.transaction() as tx:
                run_op(tx, op, self.model)
        except (KeyError, StoreError) as error:
            self._expect_refusal(refusals, error)
        else:
            assert not refusals, f"{op} succeeded, expected one of {refusals}"
            self.model.apply(op)

    @rule(batch=st.lists(ops, min_size=1, max_size=6), commit=st.booleans())
    def transaction(self, batch, commit):
        """Valid writes in one transaction, then a commit, an abort, or a refused write."""
        working = self.model.copy()
        try:
            with self.store.transaction() as tx:
                for op in batch:
                    refusals = working.refusals(op)
                    if refusals:  # the refused write ends the transaction: all is undone
                        try:
                            run_op(tx, op, working)
                        except (KeyError, StoreError) as error:
                            self._expect_refusal(refusals, error)
                            raise
                        raise AssertionError(f"{op} succeeded, expected one of {refusals}")
                    run_op(tx, op, working)
                    working.apply(op)
                check_agreement(tx, working)  # reads see the transaction's own writes
                if not commit:
                    raise Abort
        except (Abort, KeyError, StoreError):
            return
        self.model = working

    @rule(pool_id=st.sampled_from((P1, P2)), commit=st.booleans())
    def delete_pool(self, pool_id, commit):
        if pool_id not in self.model.pools:
            return
        try:
            with self.store.transaction() as tx:
                tx.delete_pool(pool_id)
                if not commit:
                    raise Abort
        except Abort:
            return
        self.model.delete_pool(pool_id)

    @rule(pool_id=st.sampled_from((P1, P2)))
    def create_pool(self, pool_id):
        if pool_id in self.model.pools:
            return
        with self.store.transaction() as tx:
            tx.put_pool(pool(pool_id))
        self.model.pools.add(pool_id)

    @invariant()
    def store_agrees_with_model(self):
        with self.store.transaction() as tx:
            check_agreement(tx, self.model)


@pytest.mark.parametrize("factory", sorted(FACTORIES))
def test_sign_in_records_agree_with_a_dict_model(factory):
    run_state_machine_as_test(lambda: SignInRecordsMachine(FACTORIES[factory]))


def test_purge_expired_removes_only_what_is_past_its_cutoff(store):
    from datetime import timedelta

    from authflow.core.records import AuthSession, FailedSignIns, RefreshToken

    later = NOW + timedelta(hours=2)
    with store.transaction() as tx:
        tx.put_pool(pool())
        for i, expires in enumerate((NOW, later)):
            tx.put_session(AuthSession(
                pool_id="us-east-1_AAAAAAAAA", id=f"s{i}", client_id="c", username_key="u", sub="s",
                challenge="SMS_MFA", typed_username="u", created=NOW, expires=expires,
            ))
            tx.put_refresh_token(RefreshToken(
                pool_id="us-east-1_AAAAAAAAA", token_hash=f"h{i}", origin_jti=f"o{i}", client_id="c", sub="s",
                auth_time=NOW, created=NOW, expires=expires,
            ))
            tx.put_failed_sign_ins(FailedSignIns(
                pool_id="us-east-1_AAAAAAAAA", key=f"k{i}", count=1, locked_until=None, last_attempt=expires,
            ))
    with store.transaction() as tx:
        purged = tx.purge_expired(sessions_before=NOW, refresh_tokens_before=NOW, failures_before=NOW, limit=10)
    assert purged == {"sessions": 1, "refresh_tokens": 1, "failed_sign_ins": 1}
    with store.transaction() as tx:
        assert tx.get_session("s0") is None and tx.get_session("s1") is not None
        assert tx.get_refresh_token("h0") is None and tx.get_refresh_token_by_origin("us-east-1_AAAAAAAAA", "o0") is None
        assert tx.get_refresh_token("h1") is not None
        assert tx.get_failed_sign_ins("us-east-1_AAAAAAAAA", "k0") is None
        assert tx.get_failed_sign_ins("us-east-1_AAAAAAAAA", "k1") is not None
    # Rolled back with its transaction, like every write.
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.purge_expired(sessions_before=later, refresh_tokens_before=later, failures_before=later, limit=10)
        raise RuntimeError
    with store.transaction() as tx:
        assert tx.get_session("s1") is not None and tx.get_refresh_token("h1") is not None
