"""The Store contract, for the MemoryStore (the SQL stores join with the storage issue).

Written against the `Store` port only, as a function of a factory, so the same
tests can run against every adapter."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from authflow.adapters import MemoryStore
from authflow.core.records import User, UserPool
from authflow.ports import UniqueViolation, VersionConflict
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
