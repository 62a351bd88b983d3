"""The store contract for groups and memberships: a part of `StoreContract`.

Theory of operation
-------------------
A group is a record of its pool, keyed by its name (case-sensitive, any string), with
optimistic versions like every record: a new group is version 1, and an insert over a
name that exists is a `VersionConflict`, never a second group. A membership is a
(group name, username key) pair of one pool, kept apart from both records: adding one
and removing one are idempotent, adding needs the group and the user (a `KeyError`
otherwise, as a foreign key would answer), and it goes with either side: deleting the
group, the user or the pool deletes it, in the same transaction, and a rollback brings
it back. Listings are in code point order: `list_groups` keyset-paged by name,
`members` by username key, `groups_of` whole.

Three races are run with threads, each writer re-run on a `TransientConflict` as the
engine's `call()` re-runs an operation: members added while their group is deleted
(no membership of a deleted group survives, and a group made again under the name
starts empty); two CreateGroup-style inserts of one name (exactly one group is
written; the other writer finds it, or is refused as stale, never a `UniqueViolation`
the engine would not expect); and a member added while the user is deleted (no
membership of a deleted user survives, and a user made again under the key is in no
group).

`GroupContract` is mixed into `StoreContract`; its tests use that class's fixtures
(`store`, `two_pools`) and `state`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from authflow.core.records import Group
from authflow.ports import Store, TransientConflict, VersionConflict
from authflow.testing.device_contract import RACE_ROUNDS, RETRIES, race
from authflow.testing.models import ALL, Abort
from authflow.testing.records import (
    NO_POOL,
    NOW,
    P1,
    P2,
    group_record,
    pool_record,
    shape,
    user_record,
)

__all__ = ["GroupContract"]

#: Names no store may mangle or reorder: NUL and U+0001 (PostgreSQL's escape), a
#: character beyond the BMP, combining and case-folding ones, spaces.
AWKWARD_NAMES = ("g\x00", "g\x01", "g\x01\x02", "Ünïcode grüße", "G", "g", "g ", "\U0010ffff", "ǅ-e\u0301")


def _names(groups: list[Group]) -> list[str]:
    return [g.name for g in groups]


def _retrying(store: Store, work: Callable[[Any], str]) -> str:
    """`work(tx)` in a transaction, re-run on conflicts as the engine's `call()` re-runs."""
    for _ in range(RETRIES):
        try:
            with store.transaction() as tx:
                return work(tx)
        except VersionConflict:
            raise
        except TransientConflict:
            continue
    return "gave up"


class GroupContract:
    """The group tests of `StoreContract` (see the module docstring)."""

    state: Callable[[Store], Any]

    @pytest.fixture
    def people(self, two_pools):
        """alice and bob in P1, alice and carol in P2; no group yet."""
        with two_pools.transaction() as tx:
            tx.put_user(user_record("alice"))
            tx.put_user(user_record("bob"))
            tx.put_user(user_record("alice", pool_id=P2))
            tx.put_user(user_record("carol", pool_id=P2))
        return two_pools

    @pytest.fixture
    def grouped(self, people):
        """`people`, with groups admins (alice, bob) and staff (alice) in P1, and admins
        (carol) in P2."""
        with people.transaction() as tx:
            for pool_id in (P1, P2):
                tx.put_group(group_record("admins", pool_id=pool_id, precedence=1))
            tx.put_group(group_record("staff"))
            tx.add_member(P1, "admins", "alice")
            tx.add_member(P1, "admins", "bob")
            tx.add_member(P1, "staff", "alice")
            tx.add_member(P2, "admins", "carol")
        return people

    # -- records -------------------------------------------------------------------------------

    def test_group_round_trip_keeps_every_field(self, people):
        full = group_record("g\x00é\U0010ffff", description="Ada's \x00 \U0001f600 team",
                            role_arn="arn:aws:iam::123456789012:role/Ada", precedence=0,
                            modified=NOW.replace(microsecond=123456))
        bare = group_record("bare")  # every optional member None
        top = group_record("top", precedence=2**31 - 1)
        with people.transaction() as tx:
            for group in (full, bare, top):
                tx.put_group(group)
            assert tx.get_group(P1, full.name) == full  # reads see the transaction's own writes
        with people.transaction() as tx:
            for group in (full, bare, top):
                back = tx.get_group(P1, group.name)
                assert (back, shape(back)) == (group, shape(group))
            changed = replace(full, description=None, role_arn="arn:aws:iam::123456789012:role/Other",
                              precedence=2**31 - 1, modified=NOW + timedelta(seconds=1), version=2)
            tx.put_group(changed)
        with people.transaction() as tx:
            back = tx.get_group(P1, full.name)
            assert (back, shape(back)) == (changed, shape(changed))
            assert tx.get_group(P1, "g\x00é") is None and tx.get_group(P1, "G\x00é\U0010ffff") is None
            assert tx.get_group(P2, full.name) is None
            assert tx.get_group(NO_POOL, full.name) is None

    def test_group_versions_are_checked(self, people):
        for version in (0, 2):  # a new group is version 1
            with pytest.raises(VersionConflict), people.transaction() as tx:
                tx.put_group(group_record("g", version=version))
        first = group_record("g", description="first")
        with people.transaction() as tx:
            tx.put_group(first)
        before = self.state(people)
        second = group_record("g", description="second", version=2)
        # a second CreateGroup of the name, and stale or skipping updates
        for stale in (group_record("g", description="again"), replace(second, version=1), replace(second, version=3)):
            with pytest.raises(VersionConflict), people.transaction() as tx:
                tx.put_group(stale)
        assert self.state(people) == before
        with people.transaction() as tx:
            with pytest.raises(VersionConflict):  # refused inside a transaction that goes on
                tx.put_group(group_record("g", description="again"))
            assert tx.get_group(P1, "g") == first
            tx.put_group(second)
            tx.put_group(replace(second, precedence=3, version=3))
        with people.transaction() as tx:
            assert tx.get_group(P1, "g") == replace(second, precedence=3, version=3)
            assert tx.count_groups(P1) == 1

    def test_groups_and_memberships_need_an_existing_pool(self, people):
        before = self.state(people)
        for write in (
            lambda tx: tx.put_group(group_record("g", pool_id=NO_POOL)),
            lambda tx: tx.delete_group(NO_POOL, "g"),
            lambda tx: tx.add_member(NO_POOL, "g", "alice"),
            lambda tx: tx.remove_member(NO_POOL, "g", "alice"),
        ):
            with pytest.raises(KeyError), people.transaction() as tx:
                write(tx)
        assert self.state(people) == before
        with people.transaction() as tx:
            assert tx.list_groups(NO_POOL, after=None, limit=ALL) == []
            assert tx.count_groups(NO_POOL) == 0
            assert tx.groups_of(NO_POOL, "alice") == []
            assert tx.members(NO_POOL, "g", after=None, limit=ALL) == []

    # -- ListGroups ----------------------------------------------------------------------------

    def test_groups_are_listed_by_name_in_code_point_order_in_pages(self, people):
        names = [*AWKWARD_NAMES, "a", "B", "é", "ab", "a\x00"]
        with people.transaction() as tx:
            for i, name in enumerate(names):
                tx.put_group(group_record(name, precedence=i))
            tx.put_group(group_record("other-pool", pool_id=P2))
            assert _names(tx.list_groups(P1, after=None, limit=ALL)) == sorted(names)  # before the commit too
        listed = sorted(names)
        with people.transaction() as tx:
            assert _names(tx.list_groups(P1, after=None, limit=ALL)) == listed
            assert tx.list_groups(P1, after=None, limit=ALL)[listed.index("a")] == group_record(
                "a", precedence=names.index("a"))
            assert (tx.count_groups(P1), tx.count_groups(P2)) == (len(names), 1)
            for page in (1, 2, 3, len(names)):
                seen, after = [], None
                while True:
                    groups = tx.list_groups(P1, after=after, limit=page)
                    assert len(groups) <= page
                    if not groups:
                        break
                    seen += _names(groups)
                    after = groups[-1].name
                assert seen == listed, page
            # positions held by no group: before all, between two, beyond all
            assert _names(tx.list_groups(P1, after="", limit=ALL)) == listed
            assert _names(tx.list_groups(P1, after="a\x00\x00", limit=ALL)) == [n for n in listed if n > "a\x00\x00"]
            assert _names(tx.list_groups(P1, after="g\x00", limit=1)) == ["g\x01"]
            assert tx.list_groups(P1, after="\U0010ffff", limit=ALL) == []
            assert tx.list_groups(P1, after=None, limit=0) == []
            assert _names(tx.list_groups(P2, after=None, limit=ALL)) == ["other-pool"]
            tx.delete_group(P1, "a")
            assert tx.count_groups(P1) == len(names) - 1
            assert "a" not in _names(tx.list_groups(P1, after=None, limit=ALL))

    # -- memberships ---------------------------------------------------------------------------

    def test_adding_and_removing_members_is_idempotent(self, grouped):
        with grouped.transaction() as tx:
            admins = tx.get_group(P1, "admins")
            tx.add_member(P1, "admins", "alice")  # a member already: nothing happens
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["alice", "bob"]
        with grouped.transaction() as tx:
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["alice", "bob"]
            assert tx.get_group(P1, "admins") == admins  # a membership never rewrites the group
            tx.remove_member(P1, "admins", "alice")
            tx.remove_member(P1, "admins", "alice")  # not a member any more: nothing happens
            tx.remove_member(P1, "staff", "bob")  # never a member
            tx.remove_member(P1, "no-such-group", "bob")
            tx.remove_member(P1, "admins", "nobody")
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["bob"]
            assert tx.groups_of(P1, "alice") == ["staff"]
        with grouped.transaction() as tx:
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["bob"]
            assert (tx.groups_of(P1, "alice"), tx.groups_of(P1, "bob")) == (["staff"], ["admins"])
            tx.add_member(P1, "admins", "alice")
            tx.add_member(P1, "admins", "alice")
        with grouped.transaction() as tx:
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["alice", "bob"]
            assert tx.groups_of(P1, "alice") == ["admins", "staff"]
            assert tx.get_group(P1, "admins") == admins

    def test_a_member_needs_an_existing_group_and_user(self, grouped):
        with grouped.transaction() as tx:
            tx.put_group(group_record("p2-only", pool_id=P2))
        before = self.state(grouped)
        for name, key in (("no-such-group", "alice"), ("admins", "nobody"), ("admins", "carol"),  # carol is in P2
                          ("p2-only", "alice"), ("Admins", "alice"), ("admins", "ALICE")):
            with pytest.raises(KeyError), grouped.transaction() as tx:
                tx.add_member(P1, name, key)
        assert self.state(grouped) == before
        with grouped.transaction() as tx:  # a refused add changes nothing; the transaction goes on
            with pytest.raises(KeyError):
                tx.add_member(P1, "staff", "nobody")
            assert tx.members(P1, "staff", after=None, limit=ALL) == ["alice"]
            tx.add_member(P1, "staff", "bob")
        with grouped.transaction() as tx:
            assert tx.members(P1, "staff", after=None, limit=ALL) == ["alice", "bob"]

    def test_members_and_groups_of_are_per_pool_in_code_point_order(self, grouped):
        keys = ["b\x00", "Bob", "bob2", "é", "b", "\x00", "b\x01"]
        with grouped.transaction() as tx:
            for key in keys:
                tx.put_user(user_record(key, sub=f"sub-{key!r}"))
                tx.add_member(P1, "staff", key)
            for name in reversed(AWKWARD_NAMES):
                tx.put_group(group_record(name))
                tx.add_member(P1, name, "bob")
        members = sorted(["alice", *keys])
        with grouped.transaction() as tx:
            assert tx.members(P1, "staff", after=None, limit=ALL) == members
            for page in (1, 2, 3):
                seen, after = [], None
                while batch := tx.members(P1, "staff", after=after, limit=page):
                    assert len(batch) <= page
                    seen += batch
                    after = batch[-1]
                assert seen == members, page
            assert tx.members(P1, "staff", after="b\x00\x00", limit=ALL) == [k for k in members if k > "b\x00\x00"]
            assert tx.members(P1, "staff", after="\U0010ffff", limit=ALL) == []
            assert tx.members(P1, "staff", after=None, limit=0) == []
            assert tx.groups_of(P1, "bob") == sorted(["admins", *AWKWARD_NAMES])
            # the same group name and username in the other pool are others
            assert tx.members(P2, "admins", after=None, limit=ALL) == ["carol"]
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["alice", "bob"]
            assert (tx.groups_of(P2, "alice"), tx.groups_of(P2, "carol")) == ([], ["admins"])
            assert tx.members(P2, "staff", after=None, limit=ALL) == []
            assert tx.members(P1, "nobody's", after=None, limit=ALL) == []
            assert tx.groups_of(P1, "nobody") == []
            tx.add_member(P2, "admins", "alice")
            assert tx.groups_of(P1, "alice") == ["admins", "staff"]
        with grouped.transaction() as tx:
            assert tx.members(P2, "admins", after=None, limit=ALL) == ["alice", "carol"]
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["alice", "bob"]

    # -- deletes -------------------------------------------------------------------------------

    def test_deleting_a_group_deletes_its_memberships(self, grouped):
        before = self.state(grouped)
        with pytest.raises(Abort), grouped.transaction() as tx:  # rolled back: every membership is back
            tx.delete_group(P1, "admins")
            assert tx.get_group(P1, "admins") is None
            assert tx.members(P1, "admins", after=None, limit=ALL) == []
            assert (tx.groups_of(P1, "alice"), tx.groups_of(P1, "bob")) == (["staff"], [])
            raise Abort
        assert self.state(grouped) == before
        for missing in ((P1, "no-such-group"), (P1, "Admins"), (NO_POOL, "admins")):
            with pytest.raises(KeyError), grouped.transaction() as tx:
                tx.delete_group(*missing)
        assert self.state(grouped) == before
        with grouped.transaction() as tx:
            tx.delete_group(P1, "admins")
            with pytest.raises(KeyError):
                tx.delete_group(P1, "admins")
        with grouped.transaction() as tx:
            assert tx.get_group(P1, "admins") is None and tx.count_groups(P1) == 1
            assert (tx.groups_of(P1, "alice"), tx.groups_of(P1, "bob")) == (["staff"], [])
            assert tx.members(P2, "admins", after=None, limit=ALL) == ["carol"]  # the other pool's namesake
            with pytest.raises(KeyError):
                tx.add_member(P1, "admins", "alice")
            tx.put_group(group_record("admins"))  # the name is free again, and the new group is empty
            assert tx.members(P1, "admins", after=None, limit=ALL) == []
            tx.add_member(P1, "admins", "bob")
        with grouped.transaction() as tx:
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["bob"]
            assert tx.groups_of(P1, "alice") == ["staff"]

    def test_deleting_a_user_deletes_its_memberships(self, grouped):
        before = self.state(grouped)
        with pytest.raises(Abort), grouped.transaction() as tx:
            tx.delete_user(P1, "alice")
            assert tx.groups_of(P1, "alice") == []
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["bob"]
            raise Abort
        assert self.state(grouped) == before
        with grouped.transaction() as tx:
            assert tx.members(P1, "staff", after=None, limit=ALL) == ["alice"]
            tx.delete_user(P1, "alice")
        with grouped.transaction() as tx:
            assert tx.members(P1, "admins", after=None, limit=ALL) == ["bob"]
            assert tx.members(P1, "staff", after=None, limit=ALL) == []
            assert tx.get_group(P1, "staff") == group_record("staff")  # the groups stay
            assert tx.groups_of(P1, "alice") == []
            with pytest.raises(KeyError):
                tx.add_member(P1, "staff", "alice")
            tx.put_user(user_record("alice"))  # a new user of the same key is in no group
            assert tx.groups_of(P1, "alice") == []
            tx.add_member(P1, "staff", "alice")
        with grouped.transaction() as tx:
            assert tx.groups_of(P1, "alice") == ["staff"]
            assert tx.groups_of(P2, "alice") == [] and tx.members(P2, "admins", after=None, limit=ALL) == ["carol"]

    def test_deleting_a_pool_deletes_its_groups_and_memberships(self, grouped):
        before = self.state(grouped)
        with pytest.raises(Abort), grouped.transaction() as tx:
            tx.delete_pool(P1)
            assert tx.list_groups(P1, after=None, limit=ALL) == [] and tx.count_groups(P1) == 0
            raise Abort
        assert self.state(grouped) == before
        with grouped.transaction() as tx:
            tx.delete_pool(P1)
        with grouped.transaction() as tx:
            assert tx.get_group(P1, "admins") is None and tx.count_groups(P1) == 0
            assert tx.groups_of(P1, "alice") == [] and tx.members(P1, "admins", after=None, limit=ALL) == []
            assert tx.members(P2, "admins", after=None, limit=ALL) == ["carol"]
            tx.put_pool(pool_record(P1))  # the same pool id again starts empty
            tx.put_user(user_record("alice"))
            assert tx.list_groups(P1, after=None, limit=ALL) == []
            assert tx.groups_of(P1, "alice") == []
            tx.put_group(group_record("admins"))
            assert tx.members(P1, "admins", after=None, limit=ALL) == []

    # -- transactions --------------------------------------------------------------------------

    def test_a_failed_transaction_leaves_groups_and_memberships_unchanged(self, grouped):
        before = self.state(grouped)
        with pytest.raises(Abort), grouped.transaction() as tx:
            tx.put_group(group_record("new"))
            tx.add_member(P1, "new", "bob")
            tx.put_group(group_record("admins", precedence=9, version=2))
            tx.remove_member(P1, "admins", "bob")
            tx.delete_group(P1, "staff")
            tx.put_group(group_record("staff", description="made again"))  # its name reused
            tx.add_member(P1, "staff", "bob")
            tx.delete_user(P1, "alice")
            tx.put_user(user_record("alice"))
            tx.add_member(P1, "new", "alice")
            tx.delete_group(P1, "new")
            tx.add_member(P2, "admins", "alice")
            raise Abort
        assert self.state(grouped) == before
        with grouped.transaction() as tx:
            assert _names(tx.list_groups(P1, after=None, limit=ALL)) == ["admins", "staff"]
            assert tx.get_group(P1, "admins") == group_record("admins", precedence=1)
            assert tx.groups_of(P1, "alice") == ["admins", "staff"] and tx.groups_of(P1, "bob") == ["admins"]
            assert tx.members(P2, "admins", after=None, limit=ALL) == ["carol"]

    # -- races ---------------------------------------------------------------------------------

    @pytest.mark.parametrize("read", ["inside", "blind"])
    def test_members_added_while_their_group_is_deleted_do_not_outlive_it(self, people, read):
        """AdminAddUserToGroup for alice and bob (reading the group inside the
        transaction as the service does, or adding blind) races DeleteGroup: each add
        lands before the delete or finds no group; at the end no membership of the
        group is left, and the name made again is an empty group."""
        for round_ in range(RACE_ROUNDS):
            _add_while_deleting_group(people, f"race-{round_}", read)

    @pytest.mark.parametrize("read", ["inside", "blind"])
    def test_two_creates_of_one_group_name_have_one_winner(self, people, read):
        """Two CreateGroup-style writers of one name (reading the name first as the
        service does, or inserting blind): exactly one group is written, the winner's;
        the other finds it when re-run, or is refused as stale."""
        for round_ in range(RACE_ROUNDS):
            _create_twice(people, f"race-{round_}", read)

    def test_a_member_added_while_the_user_is_deleted_does_not_outlive_it(self, people):
        """AdminAddUserToGroup races AdminDeleteUser: the add lands before the delete or
        finds no user; at the end the user is in no group, and a user made again under
        the key is in none either."""
        with people.transaction() as tx:
            tx.put_group(group_record("g"))
        for round_ in range(RACE_ROUNDS):
            _add_while_deleting_user(people, f"user-{round_}")


def _add_while_deleting_group(store: Store, name: str, read: str) -> None:
    with store.transaction() as tx:
        tx.put_group(group_record(name))

    def add(username_key: str) -> Callable[[], str]:
        def work(tx) -> str:
            if read == "inside" and tx.get_group(P1, name) is None:
                return "no group"
            try:
                tx.add_member(P1, name, username_key)
            except KeyError:
                return "no group"
            return "added"

        return lambda: _retrying(store, work)

    def delete() -> str:
        def work(tx) -> str:
            tx.delete_group(P1, name)
            return "deleted"

        return _retrying(store, work)

    added_alice, deleted, added_bob = race(add("alice"), delete, add("bob"))
    assert deleted == "deleted"
    assert {added_alice, added_bob} <= {"added", "no group"}, (added_alice, added_bob)
    with store.transaction() as tx:
        assert tx.get_group(P1, name) is None
        assert tx.members(P1, name, after=None, limit=ALL) == []
        assert name not in tx.groups_of(P1, "alice") and name not in tx.groups_of(P1, "bob")
        tx.put_group(group_record(name))
        assert tx.members(P1, name, after=None, limit=ALL) == []
        tx.delete_group(P1, name)


def _create_twice(store: Store, name: str, read: str) -> None:
    written: dict[int, Group] = {}

    def create(i: int) -> Callable[[], str]:
        def work(tx) -> str:
            if read == "inside" and tx.get_group(P1, name) is not None:
                return "exists"
            written[i] = group_record(name, description=f"writer {i}", precedence=i)
            tx.put_group(written[i])
            return "won"

        def run() -> str:
            try:
                return _retrying(store, work)
            except VersionConflict:  # the other's group, seen by the put itself
                return "refused"

        return run

    answers = race(create(0), create(1))
    assert sorted(answers) == (["exists", "won"] if read == "inside" else ["refused", "won"]), answers
    with store.transaction() as tx:
        assert tx.get_group(P1, name) == written[answers.index("won")]
        assert [g for g in tx.list_groups(P1, after=None, limit=ALL) if g.name == name] == [tx.get_group(P1, name)]


def _add_while_deleting_user(store: Store, username_key: str) -> None:
    with store.transaction() as tx:
        tx.put_user(user_record(username_key))

    def add() -> str:
        def work(tx) -> str:
            if tx.get_user(P1, username_key) is None:
                return "no user"
            tx.add_member(P1, "g", username_key)
            return "added"

        return _retrying(store, work)

    def delete() -> str:
        def work(tx) -> str:
            tx.delete_user(P1, username_key)
            return "deleted"

        return _retrying(store, work)

    added, deleted = race(add, delete)
    assert (added in {"added", "no user"}, deleted) == (True, "deleted"), (added, deleted)
    with store.transaction() as tx:
        assert tx.get_user(P1, username_key) is None
        assert username_key not in tx.members(P1, "g", after=None, limit=ALL)
        assert tx.groups_of(P1, username_key) == []
        tx.put_user(user_record(username_key))
        assert tx.groups_of(P1, username_key) == []
        tx.delete_user(P1, username_key)
