"""The store contract (`authflow.testing.contract`) run against MemoryStore, plus what
only MemoryStore has: snapshot/restore for the model checker."""

from __future__ import annotations

from authflow.adapters import MemoryStore
from authflow.testing.contract import StoreContract
from authflow.testing.models import KINDS, own_id, sign_in_records
from authflow.testing.records import P1, P2
from tests.helpers import store_contents


class TestMemoryStore(StoreContract):
    def make_store(self) -> MemoryStore:
        return MemoryStore()

    def contents(self, store):
        return store_contents(store)

    def test_snapshot_and_restore_include_sign_in_records(self, with_sign_in_records):
        """snapshot/restore serve the model checker; they are not the port."""
        store = with_sign_in_records
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
