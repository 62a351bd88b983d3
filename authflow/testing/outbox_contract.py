"""The store contract for the outbox: a part of `StoreContract`.

Theory of operation
-------------------
An outbox entry is a message on its way out, keyed by an id that is global (not per
pool), with optimistic versions: a new entry is version 1, an insert of an id that exists
is `UniqueViolation("outbox")` (two messages must never share an id: SMTP's Message-ID
derives from it), and an update is the stored version + 1, anything else a
`VersionConflict`. Every field of the entry and of its `Message` (the body and the code
included) comes back as it went in. An entry needs no pool and outlives its pool.

The sender reads `due_outbox(now)`: the PENDING entries whose next attempt is at or
before `now`, oldest next attempt first, then by id; SENT and FAILED entries are never
due. The console reads `list_outbox`: newest first by (created, id), of every pool, of
one pool and/or to one destination, keyset-paged strictly before a (created, id)
position.

One race is run with threads: two senders that read the same due entry mark it at once
(each writes the version it read + 1): exactly one mark is written, the other is a
`TransientConflict` (its `VersionConflict`, or a serialization failure), so a message is
never marked twice from one reading.

`OutboxContract` is mixed into `StoreContract`; its tests use that class's fixtures
(`store`, `two_pools`) and `state`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from datetime import timedelta
from typing import Any

import pytest

from authflow.core.effects import Message
from authflow.core.records import OutboxEntry
from authflow.ports import Store, TransientConflict, UniqueViolation, VersionConflict
from authflow.testing.device_contract import RACE_ROUNDS, race
from authflow.testing.models import ALL, Abort
from authflow.testing.records import NO_POOL, NOW, P1, P2, outbox_record, shape

__all__ = ["OutboxContract"]

SECOND = timedelta(seconds=1)


def _ids(entries: list[OutboxEntry]) -> list[str]:
    return [e.id for e in entries]


def _sent(entry: OutboxEntry, at=NOW) -> OutboxEntry:
    return replace(entry, state="SENT", attempts=entry.attempts + 1, sent=at, version=entry.version + 1)


class OutboxContract:
    """The outbox tests of `StoreContract` (see the module docstring)."""

    state: Callable[[Store], Any]

    @pytest.fixture
    def outbox(self, two_pools):
        """Six entries, made one second apart (m0 oldest), alternately of P1 and P2, to
        a@ (m0, m1, m4) and b@ (the others); m2 SENT, m5 FAILED, the rest PENDING."""
        with two_pools.transaction() as tx:
            for i in range(6):
                entry = outbox_record(f"m{i}", destination="a@example.com" if i in (0, 1, 4) else "b@example.com",
                                      pool_id=(P1, P2)[i % 2], created=NOW + i * SECOND)
                if i == 2:
                    entry = replace(entry, state="SENT", attempts=1, sent=NOW + 10 * SECOND)
                if i == 5:
                    entry = replace(entry, state="FAILED", attempts=3, last_error="550 no such mailbox")
                tx.put_outbox(entry)
        return two_pools

    # -- records -------------------------------------------------------------------------------

    def test_outbox_round_trip_keeps_every_field(self, two_pools):
        values = {f.name: f"{f.name} \x00 é \U0010ffff" for f in fields(Message)}
        message = Message(**{**values, "medium": "SMS", "pool_id": P1})
        full = OutboxEntry(id="m\x00é\U0010ffff", message=message, created=NOW.replace(microsecond=1),
                           state="FAILED", next_attempt=NOW + timedelta(days=1, microseconds=2), attempts=7,
                           sent=NOW.replace(microsecond=3), last_error="421 \x00 try later")
        bare = outbox_record("bare")
        elsewhere = outbox_record("elsewhere", pool_id=NO_POOL)  # an entry needs no pool
        no_pool_at_all = replace(outbox_record("none"), message=replace(bare.message, pool_id="", subject=None))
        entries = (full, bare, elsewhere, no_pool_at_all)
        with two_pools.transaction() as tx:
            for entry in entries:
                tx.put_outbox(entry)
            assert tx.get_outbox(full.id) == full  # reads see the transaction's own writes
        with two_pools.transaction() as tx:
            for entry in entries:
                back = tx.get_outbox(entry.id)
                assert (back, shape(back)) == (entry, shape(entry))
                assert back.message.body == entry.message.body and back.message.code == entry.message.code
            assert tx.get_outbox("m\x00é") is None and tx.get_outbox("Bare") is None
            changed = replace(full, state="PENDING", attempts=8, sent=None, last_error=None,
                              message=replace(message, destination="other"), version=2)
            tx.put_outbox(changed)
        with two_pools.transaction() as tx:
            back = tx.get_outbox(full.id)
            assert (back, shape(back)) == (changed, shape(changed))

    def test_outbox_versions_are_checked(self, two_pools):
        for version in (0, 2):  # a new entry is version 1
            with pytest.raises(VersionConflict), two_pools.transaction() as tx:
                tx.put_outbox(outbox_record("m", version=version))
        first = outbox_record("m")
        with two_pools.transaction() as tx:
            tx.put_outbox(first)
        before = self.state(two_pools)
        # an id that exists is never a second message
        for again in (first, outbox_record("m", destination="other@example.com", pool_id=P2)):
            with pytest.raises(UniqueViolation) as err, two_pools.transaction() as tx:
                tx.put_outbox(again)
            assert err.value.constraint == "outbox"
        for stale in (replace(_sent(first), version=3), replace(_sent(first), version=0)):
            with pytest.raises(VersionConflict), two_pools.transaction() as tx:
                tx.put_outbox(stale)
        assert self.state(two_pools) == before
        with two_pools.transaction() as tx:
            with pytest.raises(UniqueViolation):  # refused inside a transaction that goes on
                tx.put_outbox(outbox_record("m", destination="x"))
            assert tx.get_outbox("m") == first
            tx.put_outbox(_sent(first))
            tx.put_outbox(replace(_sent(first), last_error="none", version=3))
        with two_pools.transaction() as tx:
            assert tx.get_outbox("m") == replace(_sent(first), last_error="none", version=3)

    # -- the sender's reading ------------------------------------------------------------------

    def test_due_entries_are_pending_and_due_oldest_attempt_first(self, two_pools):
        with two_pools.transaction() as tx:
            tx.put_outbox(outbox_record("late", next_attempt=NOW + 5 * SECOND))
            tx.put_outbox(outbox_record("b", next_attempt=NOW))  # the same instant: by id
            tx.put_outbox(outbox_record("a", next_attempt=NOW, created=NOW + SECOND))
            tx.put_outbox(outbox_record("early", next_attempt=NOW - SECOND, created=NOW + 9 * SECOND))
            tx.put_outbox(outbox_record("sent", state="SENT", next_attempt=NOW - 9 * SECOND, sent=NOW))
            tx.put_outbox(outbox_record("failed", state="FAILED", next_attempt=NOW - 9 * SECOND))
            tx.put_outbox(outbox_record("other-pool", pool_id=P2, next_attempt=NOW + SECOND))
            tx.put_outbox(outbox_record("no-pool", pool_id=NO_POOL, next_attempt=NOW + 2 * SECOND))
            assert _ids(tx.due_outbox(NOW, limit=ALL)) == ["early", "a", "b"]  # before the commit too
        with two_pools.transaction() as tx:
            assert _ids(tx.due_outbox(NOW - 2 * SECOND, limit=ALL)) == []
            assert _ids(tx.due_outbox(NOW - SECOND, limit=ALL)) == ["early"]  # at `now` is due
            assert _ids(tx.due_outbox(NOW, limit=ALL)) == ["early", "a", "b"]
            assert _ids(tx.due_outbox(NOW, limit=2)) == ["early", "a"]
            assert tx.due_outbox(NOW, limit=0) == []
            assert _ids(tx.due_outbox(NOW + 10 * SECOND, limit=ALL)) == [
                "early", "a", "b", "other-pool", "no-pool", "late"]
            assert tx.due_outbox(NOW, limit=1) == [outbox_record("early", next_attempt=NOW - SECOND,
                                                                 created=NOW + 9 * SECOND)]
            # marked sent, failed or retried later: not due (now)
            tx.put_outbox(_sent(tx.get_outbox("early")))
            tx.put_outbox(replace(tx.get_outbox("a"), state="FAILED", version=2))
            tx.put_outbox(replace(tx.get_outbox("b"), attempts=1, next_attempt=NOW + 3 * SECOND, version=2))
            assert _ids(tx.due_outbox(NOW, limit=ALL)) == []
        with two_pools.transaction() as tx:
            assert _ids(tx.due_outbox(NOW + 3 * SECOND, limit=ALL)) == ["other-pool", "no-pool", "b"]
            tx.put_outbox(replace(tx.get_outbox("sent"), state="PENDING", version=2))  # a resend
            assert _ids(tx.due_outbox(NOW, limit=ALL)) == ["sent"]

    # -- the console's reading -----------------------------------------------------------------

    def test_entries_are_listed_newest_first_with_filters(self, outbox):
        with outbox.transaction() as tx:
            tx.put_outbox(outbox_record("m5b", pool_id=P1, destination="b@example.com", created=NOW + 5 * SECOND))
            tx.put_outbox(outbox_record("m9", pool_id=NO_POOL, destination="a@example.com", created=NOW - SECOND))
        with outbox.transaction() as tx:
            everything = ["m5b", "m5", "m4", "m3", "m2", "m1", "m0", "m9"]  # (created, id) descending
            assert _ids(tx.list_outbox(limit=ALL)) == everything
            assert _ids(tx.list_outbox(pool_id=P1, limit=ALL)) == ["m5b", "m4", "m2", "m0"]
            assert _ids(tx.list_outbox(pool_id=P2, limit=ALL)) == ["m5", "m3", "m1"]
            assert _ids(tx.list_outbox(pool_id=NO_POOL, limit=ALL)) == ["m9"]
            assert _ids(tx.list_outbox(destination="a@example.com", limit=ALL)) == ["m4", "m1", "m0", "m9"]
            assert _ids(tx.list_outbox(destination="b@example.com", limit=ALL)) == ["m5b", "m5", "m3", "m2"]
            assert _ids(tx.list_outbox(pool_id=P1, destination="a@example.com", limit=ALL)) == ["m4", "m0"]
            assert tx.list_outbox(pool_id=P2, destination="nobody@example.com", limit=ALL) == []
            assert tx.list_outbox(destination="A@example.com", limit=ALL) == []  # exact destinations
            assert _ids(tx.list_outbox(limit=3)) == everything[:3]
            assert tx.list_outbox(limit=0) == []
            assert tx.list_outbox(limit=ALL)[4] == replace(
                outbox_record("m2", destination="b@example.com", created=NOW + 2 * SECOND),
                state="SENT", attempts=1, sent=NOW + 10 * SECOND)

    def test_the_before_cursor_pages_the_listing(self, outbox):
        with outbox.transaction() as tx:
            tx.put_outbox(outbox_record("m3a", pool_id=P2, destination="b@example.com", created=NOW + 3 * SECOND))
        newest_first = ["m5", "m4", "m3a", "m3", "m2", "m1", "m0"]
        with outbox.transaction() as tx:
            for filters, expected in (({}, newest_first), ({"pool_id": P2}, ["m5", "m3a", "m3", "m1"]),
                                      ({"destination": "b@example.com"}, ["m5", "m3a", "m3", "m2"])):
                for page in (1, 2, 3):
                    seen, before = [], None
                    while batch := tx.list_outbox(**filters, before=before, limit=page):
                        assert len(batch) <= page
                        seen += _ids(batch)
                        before = (batch[-1].created, batch[-1].id)
                    assert seen == expected, (filters, page)
            # positions held by no entry: strictly before, by (created, id)
            at_3 = NOW + 3 * SECOND
            assert _ids(tx.list_outbox(before=(at_3, "m3b"), limit=ALL)) == ["m3a", "m3", "m2", "m1", "m0"]
            assert _ids(tx.list_outbox(before=(at_3, "m3a"), limit=ALL)) == ["m3", "m2", "m1", "m0"]
            assert _ids(tx.list_outbox(before=(at_3, ""), limit=ALL)) == ["m2", "m1", "m0"]
            assert _ids(tx.list_outbox(before=(at_3 + timedelta(microseconds=1), ""), limit=ALL)) == [
                "m3a", "m3", "m2", "m1", "m0"]
            assert tx.list_outbox(before=(NOW, "m0"), limit=ALL) == []
            assert _ids(tx.list_outbox(before=(NOW + timedelta(days=1), ""), limit=2)) == ["m5", "m4"]
            assert _ids(tx.list_outbox(pool_id=P1, destination="a@example.com", before=(at_3, ""),
                                       limit=ALL)) == ["m0"]

    # -- pools and transactions ----------------------------------------------------------------

    def test_entries_outlive_their_pool(self, outbox):
        with outbox.transaction() as tx:
            kept = tx.list_outbox(limit=ALL)
            tx.delete_pool(P1)
            assert tx.list_outbox(limit=ALL) == kept
        with outbox.transaction() as tx:
            assert tx.list_outbox(limit=ALL) == kept
            assert _ids(tx.list_outbox(pool_id=P1, limit=ALL)) == ["m4", "m2", "m0"]
            assert _ids(tx.due_outbox(NOW + 9 * SECOND, limit=ALL)) == ["m0", "m1", "m3", "m4"]
            tx.put_outbox(_sent(tx.get_outbox("m0")))  # a sender still marks an entry of a deleted pool
            tx.put_outbox(outbox_record("m6", created=NOW + 6 * SECOND))  # and one may be written for it
        with outbox.transaction() as tx:
            assert tx.get_outbox("m0").state == "SENT"
            assert _ids(tx.list_outbox(pool_id=P1, limit=ALL)) == ["m6", "m4", "m2", "m0"]

    def test_a_failed_transaction_leaves_the_outbox_unchanged(self, outbox):
        before = self.state(outbox)
        with pytest.raises(Abort), outbox.transaction() as tx:
            tx.put_outbox(outbox_record("new"))
            tx.put_outbox(_sent(tx.get_outbox("m0")))
            tx.put_outbox(replace(tx.get_outbox("m5"), state="PENDING", version=2))
            with pytest.raises(UniqueViolation):
                tx.put_outbox(outbox_record("m1"))
            tx.delete_pool(P2)
            assert _ids(tx.due_outbox(NOW + 9 * SECOND, limit=ALL)) == ["new", "m1", "m3", "m4", "m5"]
            raise Abort
        assert self.state(outbox) == before
        with outbox.transaction() as tx:
            assert tx.get_outbox("new") is None
            assert _ids(tx.due_outbox(NOW + 9 * SECOND, limit=ALL)) == ["m0", "m1", "m3", "m4"]

    # -- races ---------------------------------------------------------------------------------

    def test_two_senders_marking_one_entry_have_one_winner(self, two_pools):
        """Two senders read one due entry, then each marks it (SENT by one, a retry by
        the other) from what it read: exactly one mark is written, the other is a
        `TransientConflict`, and the entry is the winner's."""
        for round_ in range(RACE_ROUNDS):
            _mark_twice(two_pools, f"race-{round_}")


def _mark_twice(store: Store, entry_id: str) -> None:
    with store.transaction() as tx:
        tx.put_outbox(outbox_record(entry_id))
    with store.transaction() as tx:
        read = tx.due_outbox(NOW, limit=ALL)
    (entry,) = [e for e in read if e.id == entry_id]
    marks = {0: _sent(entry), 1: replace(entry, attempts=1, next_attempt=NOW + SECOND, last_error="421",
                                         version=2)}

    def mark(i: int) -> Callable[[], str]:
        def run() -> str:
            try:
                with store.transaction() as tx:
                    tx.put_outbox(marks[i])
            except TransientConflict:  # VersionConflict is one
                return "conflict"
            return "won"

        return run

    answers = race(mark(0), mark(1))
    assert sorted(answers) == ["conflict", "won"], answers
    with store.transaction() as tx:
        assert tx.get_outbox(entry_id) == marks[answers.index("won")]
        tx.put_outbox(replace(marks[answers.index("won")], state="FAILED", version=3))
