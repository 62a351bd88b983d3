"""The store contract for devices (device tracking): a part of `StoreContract`.

Theory of operation
-------------------
A device belongs to one user of one pool (its `sub`) and goes with it: deleting the
user or the pool deletes its devices, and a put for a user that does not exist is a
`KeyError`, as a foreign key would answer. Versions are optimistic as for every
record; a device key held by another user of the pool is `UniqueViolation("device")`.
ListDevices sees confirmed devices only (every status but NEW), in device-key order
(code point order), keyset-paged by key. Purging deletes the devices whose `expires`
(set only while NEW) has passed. Two races are run with threads, as the engine runs
them: two confirmations of one device (both read it NEW at version 1; exactly one
write of version 2 wins, the other is refused as a conflict), and a device forgotten
while it signs in (the sign-in's update lands before the forget or is refused: a
forgotten device never comes back).

`DeviceContract` is mixed into `StoreContract`; its tests use that class's fixtures
(`store`, `two_pools`) and `state`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from authflow.core.records import Device
from authflow.ports import Store, TransientConflict, UniqueViolation, VersionConflict
from authflow.testing.models import ALL, Abort
from authflow.testing.records import (
    NO_POOL,
    NOW,
    P1,
    P2,
    device_record,
    pool_record,
    shape,
    user_record,
)

__all__ = ["DeviceContract"]

#: Rounds of each race (each one a fresh device), so that some rounds really overlap.
RACE_ROUNDS = 5
#: How often a writer re-runs after a `TransientConflict`, as the engine's `call()` does.
RETRIES = 50


def _keys(devices: list[Device]) -> list[str]:
    return [d.key for d in devices]


def race(*workers: Callable[[], str]) -> list[str]:
    """Run the workers in threads let go at once; their answers, in order."""
    barrier = threading.Barrier(len(workers))
    answers: list[Any] = [None] * len(workers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = workers[i]()
        except BaseException as error:  # noqa: BLE001 -- reported by the assertion below
            answers[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(isinstance(a, str) for a in answers), answers
    return answers


class DeviceContract:
    """The device tests of `StoreContract` (see the module docstring)."""

    state: Callable[[Store], Any]

    @pytest.fixture
    def owners(self, two_pools):
        """alice and bob in P1, alice (the same sub) and carol in P2; no device yet."""
        with two_pools.transaction() as tx:
            tx.put_user(user_record("alice"))
            tx.put_user(user_record("bob"))
            tx.put_user(user_record("alice", pool_id=P2))
            tx.put_user(user_record("carol", pool_id=P2))
        return two_pools

    # -- records -------------------------------------------------------------------------------

    def test_device_round_trip_keeps_every_field(self, owners):
        issued = replace(device_record("us-east-1_d\x00é\U0010ffff", status="NEW"), last_ip="2001:db8::1",
                         expires=NOW.replace(microsecond=123456))
        with owners.transaction() as tx:
            tx.put_device(issued)
            assert tx.get_device(P1, issued.key) == issued  # reads see the transaction's own writes
        with owners.transaction() as tx:
            back = tx.get_device(P1, issued.key)
            assert (back, shape(back)) == (issued, shape(issued))
            confirmed = replace(issued, status="NOT_REMEMBERED", name="Lovelace's phone", salt="00ff10",
                                verifier=b"\x00sealed\xff", last_ip=None, modified=NOW + timedelta(seconds=1),
                                last_authenticated=NOW + timedelta(microseconds=7), expires=None, version=2)
            tx.put_device(confirmed)
        with owners.transaction() as tx:
            back = tx.get_device(P1, issued.key)
            assert (back, shape(back)) == (confirmed, shape(confirmed))
            assert tx.list_devices(P1, "sub-alice", after=None, limit=ALL) == [confirmed]
            assert tx.get_device(P1, "other") is None
            assert tx.get_device(P2, issued.key) is None
            assert tx.get_device(NO_POOL, issued.key) is None

    def test_device_versions_are_checked(self, owners):
        for version in (0, 2):  # a new device is version 1
            with pytest.raises(VersionConflict), owners.transaction() as tx:
                tx.put_device(device_record("d1", version=version))
        first = device_record("d1", status="NEW")
        with owners.transaction() as tx:
            tx.put_device(first)
        before = self.state(owners)
        confirmed = device_record("d1", version=2)
        for stale in (first, replace(confirmed, version=1), replace(confirmed, version=3)):
            with pytest.raises(VersionConflict), owners.transaction() as tx:
                tx.put_device(stale)
        assert self.state(owners) == before
        with owners.transaction() as tx:
            tx.put_device(confirmed)
            tx.put_device(replace(confirmed, status="NOT_REMEMBERED", version=3))
        with owners.transaction() as tx:
            assert tx.get_device(P1, "d1").version == 3

    def test_a_device_key_of_another_user_is_refused(self, owners):
        with owners.transaction() as tx:
            tx.put_device(device_record("d1"))
        before = self.state(owners)
        for version in (1, 2):
            with pytest.raises(UniqueViolation) as err, owners.transaction() as tx:
                tx.put_device(device_record("d1", sub="sub-bob", version=version))
            assert err.value.constraint == "device" and err.value.kind is None
        assert self.state(owners) == before

    def test_a_device_needs_an_existing_owner_and_pool(self, owners):
        before = self.state(owners)
        for device in (device_record("d1", sub="sub-nobody"),
                       device_record("d1", sub="sub-carol"),  # a user of the other pool only
                       device_record("d1", pool_id=NO_POOL)):
            with pytest.raises(KeyError), owners.transaction() as tx:
                tx.put_device(device)
        assert self.state(owners) == before
        with owners.transaction() as tx:  # a refused put changes nothing; the transaction goes on
            with pytest.raises(KeyError):
                tx.put_device(device_record("d1", sub="sub-nobody"))
            assert tx.get_device(P1, "d1") is None
            tx.put_device(device_record("d1"))
        with owners.transaction() as tx:
            assert tx.get_device(P1, "d1") == device_record("d1")

    def test_the_same_key_in_two_pools_is_two_devices(self, owners):
        ours, theirs = device_record("d1"), device_record("d1", pool_id=P2, status="NOT_REMEMBERED")
        with owners.transaction() as tx:
            tx.put_device(ours)
            tx.put_device(theirs)
        with owners.transaction() as tx:
            assert (tx.get_device(P1, "d1"), tx.get_device(P2, "d1")) == (ours, theirs)
            tx.delete_device(P2, "d1")
        with owners.transaction() as tx:
            assert (tx.get_device(P1, "d1"), tx.get_device(P2, "d1")) == (ours, None)

    # -- ListDevices ---------------------------------------------------------------------------

    def test_only_confirmed_devices_are_listed_by_key_in_pages(self, owners):
        alice = {"d-c": "REMEMBERED", "d-a": "NOT_REMEMBERED", "d-b": "NEW", "d-e": "REMEMBERED",
                 "D-z": "REMEMBERED", "d-é": "NOT_REMEMBERED", "d-\x00": "NEW"}
        with owners.transaction() as tx:
            for key, status in alice.items():
                tx.put_device(device_record(key, status=status))
            tx.put_device(device_record("d-f", sub="sub-bob"))
            tx.put_device(device_record("d-g", pool_id=P2))
            tx.put_device(device_record("d-h", pool_id=P2, sub="sub-carol", status="NEW"))
        listed = ["D-z", "d-a", "d-c", "d-e", "d-é"]  # code point order, NEW devices left out
        with owners.transaction() as tx:
            assert _keys(tx.list_devices(P1, "sub-alice", after=None, limit=ALL)) == listed
            assert tx.list_devices(P1, "sub-alice", after=None, limit=ALL)[1] == device_record("d-a",
                                                                                                status="NOT_REMEMBERED")
            for page in (1, 2, 3):
                seen, after = [], None
                while True:
                    devices = tx.list_devices(P1, "sub-alice", after=after, limit=page)
                    assert len(devices) <= page
                    if not devices:
                        break
                    seen += _keys(devices)
                    after = devices[-1].key
                assert seen == listed, page
            # positions held by no listed device: a NEW one's key, keys before and beyond all
            assert _keys(tx.list_devices(P1, "sub-alice", after="d-b", limit=ALL)) == ["d-c", "d-e", "d-é"]
            assert _keys(tx.list_devices(P1, "sub-alice", after="", limit=ALL)) == listed
            assert _keys(tx.list_devices(P1, "sub-alice", after="d-\x00", limit=ALL)) == listed[1:]
            assert tx.list_devices(P1, "sub-alice", after="\U0010ffff", limit=ALL) == []
            assert tx.list_devices(P1, "sub-alice", after=None, limit=0) == []
            # per user and per pool
            assert _keys(tx.list_devices(P1, "sub-bob", after=None, limit=ALL)) == ["d-f"]
            assert _keys(tx.list_devices(P2, "sub-alice", after=None, limit=ALL)) == ["d-g"]
            assert tx.list_devices(P2, "sub-carol", after=None, limit=ALL) == []
            assert tx.list_devices(P1, "sub-nobody", after=None, limit=ALL) == []
            assert tx.list_devices(NO_POOL, "sub-alice", after=None, limit=ALL) == []
            # a NEW device is readable by key all the same, and listed once confirmed
            assert tx.get_device(P1, "d-b") == device_record("d-b", status="NEW")
            tx.put_device(device_record("d-b", version=2))
            assert _keys(tx.list_devices(P1, "sub-alice", after="d-a", limit=2)) == ["d-b", "d-c"]
        with owners.transaction() as tx:
            assert _keys(tx.list_devices(P1, "sub-alice", after=None, limit=ALL)) == sorted([*listed, "d-b"])

    # -- deletes -------------------------------------------------------------------------------

    def test_deleting_a_device(self, owners):
        with owners.transaction() as tx:
            tx.put_device(device_record("d1"))
            tx.put_device(device_record("d2"))
        for missing in ((P1, "d9"), (P2, "d1"), (NO_POOL, "d1")):
            with pytest.raises(KeyError), owners.transaction() as tx:
                tx.delete_device(*missing)
        with owners.transaction() as tx:
            tx.delete_device(P1, "d1")
            assert tx.get_device(P1, "d1") is None
            assert _keys(tx.list_devices(P1, "sub-alice", after=None, limit=ALL)) == ["d2"]
            with pytest.raises(KeyError):
                tx.delete_device(P1, "d1")
        with owners.transaction() as tx:
            assert tx.get_device(P1, "d1") is None
            tx.put_device(device_record("d1", sub="sub-bob"))  # the key is free again, even for another user
        with owners.transaction() as tx:
            assert tx.get_device(P1, "d1") == device_record("d1", sub="sub-bob")

    def test_deleting_a_user_deletes_its_devices(self, owners):
        with owners.transaction() as tx:
            tx.put_device(device_record("d1"))
            tx.put_device(device_record("d2", status="NEW"))
            tx.put_device(device_record("d3", sub="sub-bob"))
            tx.put_device(device_record("d4", pool_id=P2))  # alice's namesake in the other pool
        before = self.state(owners)
        with pytest.raises(Abort), owners.transaction() as tx:  # rolled back: every device is back
            tx.delete_user(P1, "alice")
            assert tx.get_device(P1, "d1") is None and tx.get_device(P1, "d2") is None
            raise Abort
        assert self.state(owners) == before
        with pytest.raises(UniqueViolation), owners.transaction() as tx:  # d1 is alice's still
            tx.put_device(device_record("d1", sub="sub-bob"))
        with owners.transaction() as tx:
            tx.delete_user(P1, "alice")
        with owners.transaction() as tx:
            assert tx.get_device(P1, "d1") is None and tx.get_device(P1, "d2") is None
            assert tx.list_devices(P1, "sub-alice", after=None, limit=ALL) == []
            assert tx.get_device(P1, "d3") == device_record("d3", sub="sub-bob")
            assert tx.get_device(P2, "d4") == device_record("d4", pool_id=P2)
            with pytest.raises(KeyError):
                tx.put_device(device_record("d1"))  # no owner any more
            tx.put_user(user_record("alice"))  # a new user of the same sub has no devices
            assert tx.list_devices(P1, "sub-alice", after=None, limit=ALL) == []
            tx.put_device(device_record("d1"))  # and may hold the old keys anew

    def test_deleting_a_pool_deletes_its_devices(self, owners):
        with owners.transaction() as tx:
            tx.put_device(device_record("d1"))
            tx.put_device(device_record("d2", status="NEW"))
            tx.put_device(device_record("d1", pool_id=P2))
        before = self.state(owners)
        with pytest.raises(Abort), owners.transaction() as tx:
            tx.delete_pool(P1)
            raise Abort
        assert self.state(owners) == before
        with owners.transaction() as tx:
            tx.delete_pool(P1)
        with owners.transaction() as tx:
            assert tx.get_device(P1, "d1") is None and tx.get_device(P1, "d2") is None
            assert tx.list_devices(P1, "sub-alice", after=None, limit=ALL) == []
            assert tx.get_device(P2, "d1") == device_record("d1", pool_id=P2)
            tx.put_pool(pool_record(P1))  # the same pool id again starts empty
            tx.put_user(user_record("alice"))
            assert tx.get_device(P1, "d1") is None
            tx.put_device(device_record("d1"))

    # -- transactions --------------------------------------------------------------------------

    def test_a_failed_transaction_leaves_devices_unchanged(self, owners):
        with owners.transaction() as tx:
            tx.put_device(device_record("d1", status="NEW"))
            tx.put_device(device_record("d2"))
        before = self.state(owners)
        with pytest.raises(Abort), owners.transaction() as tx:
            tx.put_device(device_record("d1", version=2))  # confirmed
            tx.put_device(device_record("d3", sub="sub-bob"))  # a new one
            tx.delete_device(P1, "d2")  # forgotten
            tx.put_device(device_record("d2", sub="sub-bob"))  # its key reused
            tx.put_device(device_record("d3", sub="sub-bob", status="NOT_REMEMBERED", version=2))
            tx.delete_device(P1, "d3")
            raise Abort
        assert self.state(owners) == before
        with owners.transaction() as tx:
            assert tx.get_device(P1, "d1") == device_record("d1", status="NEW")
            assert tx.get_device(P1, "d2") == device_record("d2")
            assert tx.get_device(P1, "d3") is None

    # -- housekeeping --------------------------------------------------------------------------

    def test_purge_deletes_only_unconfirmed_devices_past_their_expiry(self, owners):
        later = NOW + timedelta(hours=1)
        with owners.transaction() as tx:
            tx.put_device(device_record("new-expired", status="NEW", expires=NOW))
            tx.put_device(device_record("new-earlier", status="NEW", expires=NOW - timedelta(days=1)))
            tx.put_device(device_record("new-live", status="NEW", expires=later))
            tx.put_device(device_record("new-other-pool", pool_id=P2, status="NEW", expires=NOW))
            tx.put_device(device_record("remembered"))
            tx.put_device(device_record("not-remembered", sub="sub-bob", status="NOT_REMEMBERED"))
        everything = {"sessions_before": NOW, "refresh_tokens_before": NOW, "failures_before": NOW, "limit": 10}
        with owners.transaction() as tx:  # no `devices_before`: no device goes
            assert tx.purge_expired(**everything)["devices"] == 0
        with pytest.raises(Abort), owners.transaction() as tx:  # rolled back with its transaction
            assert tx.purge_expired(**everything, devices_before=later)["devices"] == 4
            raise Abort
        with owners.transaction() as tx:
            purged = tx.purge_expired(**everything, devices_before=NOW)
        assert purged == {"sessions": 0, "refresh_tokens": 0, "failed_sign_ins": 0, "devices": 3}
        with owners.transaction() as tx:
            left = {key for key in ("new-expired", "new-earlier", "new-live", "remembered", "not-remembered")
                    if tx.get_device(P1, key) is not None}
            assert left == {"new-live", "remembered", "not-remembered"}
            assert tx.get_device(P2, "new-other-pool") is None

    # -- races ---------------------------------------------------------------------------------

    @pytest.mark.parametrize("read", ["before", "inside"])
    def test_two_confirmations_of_one_device_have_one_winner(self, owners, read):
        """Both read the device NEW at version 1 (before their transactions, or inside
        them as ConfirmDevice does) and write version 2: one write wins, the other is
        refused as a conflict (or, reading inside, finds the device confirmed)."""
        for round_ in range(RACE_ROUNDS):
            _confirm_twice(owners, f"race-{round_}", read)

    @pytest.mark.parametrize("read", ["before", "inside"])
    def test_a_device_forgotten_while_it_signs_in_stays_forgotten(self, owners, read):
        """ForgetDevice (re-run on conflicts, as the engine does) races a sign-in that
        records `last_authenticated` on the device it read (before its transaction, or
        inside it): the update lands before the delete or is refused; the device is
        gone at the end either way, never written back."""
        for round_ in range(RACE_ROUNDS):
            _forget_while_signing_in(owners, f"race-{round_}", read)


def _confirm_twice(store: Store, key: str, read: str) -> None:
    with store.transaction() as tx:
        tx.put_device(device_record(key, status="NEW"))
        issued = tx.get_device(P1, key)
    written: dict[int, Device] = {}

    def confirm(i: int) -> Callable[[], str]:
        def run() -> str:
            try:
                with store.transaction() as tx:
                    current = issued if read == "before" else tx.get_device(P1, key)
                    if current.status != "NEW":
                        return "already confirmed"
                    written[i] = replace(current, status="REMEMBERED", name=f"phone {i}", salt=f"0{i}",
                                         verifier=bytes([i]) * 8, expires=None, version=current.version + 1)
                    tx.put_device(written[i])
                return "won"
            except TransientConflict:  # VersionConflict is one
                return "conflict"

        return run

    answers = race(confirm(0), confirm(1))
    assert sorted(answers) in (["conflict", "won"], ["already confirmed", "won"]), answers
    winner = written[answers.index("won")]
    with store.transaction() as tx:
        assert tx.get_device(P1, key) == winner and winner.version == 2


def _forget_while_signing_in(store: Store, key: str, read: str) -> None:
    with store.transaction() as tx:
        tx.put_device(device_record(key))
        seen = tx.get_device(P1, key)

    def forget() -> str:
        for _ in range(RETRIES):
            try:
                with store.transaction() as tx:
                    if tx.get_device(P1, key) is None:
                        return "already gone"
                    tx.delete_device(P1, key)
                return "forgot"
            except TransientConflict:
                continue
        return "gave up"

    def sign_in() -> str:
        try:
            with store.transaction() as tx:
                device = seen if read == "before" else tx.get_device(P1, key)
                if device is None:
                    return "gone"
                tx.put_device(replace(device, last_authenticated=NOW + timedelta(seconds=1),
                                      version=device.version + 1))
            return "updated"
        except TransientConflict:  # VersionConflict is one
            return "conflict"

    forgot, signed_in = race(forget, sign_in)
    assert forgot == "forgot"
    assert signed_in in ({"updated", "conflict"} if read == "before" else {"updated", "conflict", "gone"})
    with store.transaction() as tx:
        assert tx.get_device(P1, key) is None
        assert key not in _keys(tx.list_devices(P1, "sub-alice", after=None, limit=ALL))
    with pytest.raises(VersionConflict), store.transaction() as tx:  # a late write is refused too
        tx.put_device(replace(seen, version=seen.version + 1))
