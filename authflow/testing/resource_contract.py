"""The store contract for pool resources: a part of `StoreContract`.

Theory of operation
-------------------
A pool resource (a domain, a resource server, an identity provider, an identity link)
is a record of its pool keyed by (kind, name), with optimistic versions like every
record: a new one is version 1, and an insert over a (kind, name) the pool holds is a
`VersionConflict`. Its body is JSON data and comes back exactly as it went in. It needs
its pool (a `KeyError` otherwise, as a foreign key would answer) and goes with it.
Listings are per pool and kind, keyset-paged by name in code point order.

A kind of `GLOBAL_RESOURCE_KINDS` (today only "domain") has names unique across every
pool: a second pool's insert of a taken name is `UniqueViolation("domain", kind)` and
changes nothing; the holder may rewrite its own; `find_resource` finds the holder from
the name alone; deleting the resource or its pool frees the name. Other kinds may share
a name between pools, and `find_resource` never answers for them.

One race is run with threads, each writer re-run on a `TransientConflict` as the
engine's `call()` re-runs an operation: two pools create one domain name at once
(reading the name first as the service does, or inserting blind): exactly one wins, the
other finds the name taken.

`ResourceContract` is mixed into `StoreContract`; its tests use that class's fixtures
(`store`, `two_pools`) and `state`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from authflow.core.records import GLOBAL_RESOURCE_KINDS, PoolResource
from authflow.ports import Store, TransientConflict, UniqueViolation, VersionConflict
from authflow.testing.device_contract import RACE_ROUNDS, RETRIES, race
from authflow.testing.models import ALL, Abort
from authflow.testing.records import (
    NO_POOL,
    NOW,
    P1,
    P2,
    RESOURCE_KINDS,
    pool_record,
    resource_record,
    shape,
)

__all__ = ["ResourceContract"]

#: Names no store may mangle or reorder (as for groups), and ones that only differ in case.
AWKWARD_NAMES = ("d\x00", "d\x01", "d\x01\x02", "Ünïcode", "D", "d", "d ", "\U0010ffff", "ǅ-e\u0301")

#: A body with every JSON shape: nesting, null, numbers, Unicode, NUL.
BODY = {"Domain": "auth", "CustomDomainConfig": {"CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c"},
        "Scopes": [{"ScopeName": "read", "ScopeDescription": "Read \x00 é \U0001f600"}], "Version": None,
        "Count": 3, "Ratio": 0.5, "Enabled": True}


def _names(resources: list[PoolResource]) -> list[str]:
    return [r.name for r in resources]


class ResourceContract:
    """The pool-resource tests of `StoreContract` (see the module docstring)."""

    state: Callable[[Store], Any]

    @pytest.fixture
    def with_domains(self, two_pools):
        """P1 holds the domain "auth" and a resource server "api"; P2 the domain "login"
        and a resource server also named "api"."""
        with two_pools.transaction() as tx:
            tx.put_resource(resource_record("auth"))
            tx.put_resource(resource_record("api", kind="resource_server"))
            tx.put_resource(resource_record("login", pool_id=P2))
            tx.put_resource(resource_record("api", kind="resource_server", pool_id=P2))
        return two_pools

    def test_only_domains_are_global(self):
        """The SQL stores' partial unique indexes name the global kinds; a new global kind
        needs a new migration, and this test to change with it."""
        assert GLOBAL_RESOURCE_KINDS == frozenset({"domain"})

    # -- records -------------------------------------------------------------------------------

    def test_resource_round_trip_keeps_every_field(self, two_pools):
        full = resource_record("d\x00é\U0010ffff", body=BODY, modified=NOW.replace(microsecond=123456))
        empty = resource_record("empty", kind="identity_link", body={})
        odd_kind = resource_record("x", kind="Kind \x00 é", body={"a": [1, [2, {"b": None}]]})
        with two_pools.transaction() as tx:
            for resource in (full, empty, odd_kind):
                tx.put_resource(resource)
            assert tx.get_resource(P1, full.kind, full.name) == full  # reads see the transaction's own writes
        with two_pools.transaction() as tx:
            for resource in (full, empty, odd_kind):
                back = tx.get_resource(P1, resource.kind, resource.name)
                assert (back, shape(back)) == (resource, shape(resource))
            changed = replace(full, body={"Domain": "other"}, modified=NOW + timedelta(seconds=1), version=2)
            tx.put_resource(changed)
        with two_pools.transaction() as tx:
            back = tx.get_resource(P1, full.kind, full.name)
            assert (back, shape(back)) == (changed, shape(changed))
            assert tx.find_resource("domain", full.name) == changed
            # the key is (pool, kind, name), each part exact
            assert tx.get_resource(P1, "domain", "d\x00é") is None
            assert tx.get_resource(P1, "resource_server", full.name) is None
            assert tx.get_resource(P1, "Domain", full.name) is None
            assert tx.get_resource(P2, full.kind, full.name) is None
            assert tx.get_resource(NO_POOL, full.kind, full.name) is None

    def test_resource_versions_are_checked(self, two_pools):
        for version in (0, 2):  # a new resource is version 1
            with pytest.raises(VersionConflict), two_pools.transaction() as tx:
                tx.put_resource(resource_record("r", kind="resource_server", version=version))
        first = resource_record("r", kind="resource_server", body={"n": 1})
        with two_pools.transaction() as tx:
            tx.put_resource(first)
            tx.put_resource(resource_record("auth"))
        before = self.state(two_pools)
        second = replace(first, body={"n": 2}, version=2)
        for stale in (replace(first, body={"n": "again"}), replace(second, version=1), replace(second, version=3),
                      resource_record("auth")):  # a second create of the pool's own domain is stale too
            with pytest.raises(VersionConflict), two_pools.transaction() as tx:
                tx.put_resource(stale)
        assert self.state(two_pools) == before
        with two_pools.transaction() as tx:
            with pytest.raises(VersionConflict):  # refused inside a transaction that goes on
                tx.put_resource(replace(first, body={"n": "again"}))
            assert tx.get_resource(P1, "resource_server", "r") == first
            tx.put_resource(second)
            tx.put_resource(replace(second, body={"n": 3}, version=3))
        with two_pools.transaction() as tx:
            assert tx.get_resource(P1, "resource_server", "r") == replace(second, body={"n": 3}, version=3)

    def test_resources_need_an_existing_pool(self, two_pools):
        before = self.state(two_pools)
        for write in (
            lambda tx: tx.put_resource(resource_record("auth", pool_id=NO_POOL)),
            lambda tx: tx.put_resource(resource_record("api", kind="resource_server", pool_id=NO_POOL)),
            lambda tx: tx.put_resource(resource_record("auth", pool_id=NO_POOL, version=2)),
            lambda tx: tx.delete_resource(NO_POOL, "domain", "auth"),
        ):
            with pytest.raises(KeyError), two_pools.transaction() as tx:
                write(tx)
        assert self.state(two_pools) == before
        with two_pools.transaction() as tx:
            assert tx.list_resources(NO_POOL, "domain", after=None, limit=ALL) == []
            assert tx.find_resource("domain", "auth") is None

    # -- listings ------------------------------------------------------------------------------

    def test_resources_are_listed_per_pool_and_kind_by_name_in_pages(self, two_pools):
        names = [*AWKWARD_NAMES, "a", "B", "é", "ab", "a\x00"]
        with two_pools.transaction() as tx:
            for i, name in enumerate(names):
                tx.put_resource(resource_record(name, kind="resource_server", body={"i": i}))
            tx.put_resource(resource_record("a-domain"))  # another kind of the pool
            tx.put_resource(resource_record("other-pool", kind="resource_server", pool_id=P2))
            assert _names(tx.list_resources(P1, "resource_server", after=None, limit=ALL)) == sorted(names)
        listed = sorted(names)
        with two_pools.transaction() as tx:
            everything = tx.list_resources(P1, "resource_server", after=None, limit=ALL)
            assert _names(everything) == listed
            assert everything[listed.index("a")] == resource_record("a", kind="resource_server",
                                                                     body={"i": names.index("a")})
            for page in (1, 2, 3, len(names)):
                seen, after = [], None
                while batch := tx.list_resources(P1, "resource_server", after=after, limit=page):
                    assert len(batch) <= page
                    seen += _names(batch)
                    after = batch[-1].name
                assert seen == listed, page
            # positions held by no resource: before all, between two, beyond all
            assert _names(tx.list_resources(P1, "resource_server", after="", limit=ALL)) == listed
            assert _names(tx.list_resources(P1, "resource_server", after="a\x00\x00", limit=ALL)) == [
                n for n in listed if n > "a\x00\x00"]
            assert _names(tx.list_resources(P1, "resource_server", after="d\x00", limit=1)) == ["d\x01"]
            assert tx.list_resources(P1, "resource_server", after="\U0010ffff", limit=ALL) == []
            assert tx.list_resources(P1, "resource_server", after=None, limit=0) == []
            assert _names(tx.list_resources(P1, "domain", after=None, limit=ALL)) == ["a-domain"]
            assert tx.list_resources(P1, "identity_provider", after=None, limit=ALL) == []
            assert _names(tx.list_resources(P2, "resource_server", after=None, limit=ALL)) == ["other-pool"]
            tx.delete_resource(P1, "resource_server", "a")
            assert "a" not in _names(tx.list_resources(P1, "resource_server", after=None, limit=ALL))

    # -- names unique across pools -------------------------------------------------------------

    def test_a_domain_name_is_unique_across_pools(self, with_domains):
        before = self.state(with_domains)
        for taken in (resource_record("auth", pool_id=P2), resource_record("auth", pool_id=P2, body={"other": 1})):
            with pytest.raises(UniqueViolation) as err, with_domains.transaction() as tx:
                tx.put_resource(taken)
            assert (err.value.constraint, err.value.kind) == ("domain", "domain")
        assert self.state(with_domains) == before
        with with_domains.transaction() as tx:
            with pytest.raises(UniqueViolation):  # refused inside a transaction that goes on
                tx.put_resource(resource_record("login"))
            assert tx.get_resource(P1, "domain", "login") is None
            # the holder may rewrite its own domain
            tx.put_resource(resource_record("auth", body={"Status": "UPDATING"}, version=2))
            # names of other kinds may be in several pools; exact names only
            tx.put_resource(resource_record("auth", kind="resource_server", pool_id=P2))
            tx.put_resource(resource_record("Auth", pool_id=P2))
            tx.put_resource(resource_record("auth ", pool_id=P2))
        with with_domains.transaction() as tx:
            assert tx.find_resource("domain", "auth") == resource_record("auth", body={"Status": "UPDATING"},
                                                                         version=2)
            assert tx.find_resource("domain", "login") == resource_record("login", pool_id=P2)
            assert tx.find_resource("domain", "Auth").pool_id == P2
            assert tx.find_resource("domain", "nowhere") is None
            # find_resource answers only for the global kinds
            assert tx.find_resource("resource_server", "api") is None
            assert tx.find_resource("resource_server", "auth") is None
            assert tx.get_resource(P2, "resource_server", "auth") is not None

    def test_a_freed_domain_name_may_be_taken_by_another_pool(self, with_domains):
        with with_domains.transaction() as tx:
            tx.delete_resource(P1, "domain", "auth")
            assert tx.find_resource("domain", "auth") is None
            tx.put_resource(resource_record("auth", pool_id=P2))  # free within the same transaction
        with with_domains.transaction() as tx:
            assert tx.find_resource("domain", "auth") == resource_record("auth", pool_id=P2)
            with pytest.raises(UniqueViolation):
                tx.put_resource(resource_record("auth"))
            tx.delete_pool(P2)  # deleting the pool frees its names too
            assert tx.find_resource("domain", "auth") is None and tx.find_resource("domain", "login") is None
            tx.put_resource(resource_record("login"))
        with with_domains.transaction() as tx:
            assert tx.find_resource("domain", "login") == resource_record("login")

    # -- deletes -------------------------------------------------------------------------------

    def test_deleting_a_missing_resource_is_a_key_error(self, with_domains):
        before = self.state(with_domains)
        for missing in ((P1, "domain", "login"), (P1, "domain", "Auth"), (P1, "resource_server", "auth"),
                        (P2, "domain", "auth"), (NO_POOL, "domain", "auth")):
            with pytest.raises(KeyError), with_domains.transaction() as tx:
                tx.delete_resource(*missing)
        assert self.state(with_domains) == before
        with with_domains.transaction() as tx:
            tx.delete_resource(P1, "resource_server", "api")
            with pytest.raises(KeyError):
                tx.delete_resource(P1, "resource_server", "api")
        with with_domains.transaction() as tx:
            assert tx.get_resource(P1, "resource_server", "api") is None
            assert tx.get_resource(P2, "resource_server", "api") is not None  # the other pool's namesake

    def test_deleting_a_pool_deletes_its_resources(self, with_domains):
        before = self.state(with_domains)
        with pytest.raises(Abort), with_domains.transaction() as tx:  # rolled back: everything is back
            tx.delete_pool(P1)
            assert tx.list_resources(P1, "domain", after=None, limit=ALL) == []
            assert tx.find_resource("domain", "auth") is None
            raise Abort
        assert self.state(with_domains) == before
        with with_domains.transaction() as tx:
            assert tx.find_resource("domain", "auth") == resource_record("auth")
            tx.delete_pool(P1)
        with with_domains.transaction() as tx:
            for kind in RESOURCE_KINDS:
                assert tx.list_resources(P1, kind, after=None, limit=ALL) == []
            assert tx.get_resource(P1, "domain", "auth") is None and tx.find_resource("domain", "auth") is None
            assert tx.find_resource("domain", "login") == resource_record("login", pool_id=P2)
            assert tx.get_resource(P2, "resource_server", "api") is not None
            tx.put_pool(pool_record(P1))  # the same pool id again starts empty
            assert tx.list_resources(P1, "resource_server", after=None, limit=ALL) == []
            tx.put_resource(resource_record("auth"))  # and a new version 1 of the old names
        with with_domains.transaction() as tx:
            assert tx.find_resource("domain", "auth") == resource_record("auth")

    # -- transactions --------------------------------------------------------------------------

    def test_a_failed_transaction_leaves_resources_unchanged(self, with_domains):
        before = self.state(with_domains)
        with pytest.raises(Abort), with_domains.transaction() as tx:
            tx.put_resource(resource_record("new"))
            tx.put_resource(resource_record("auth", body={"changed": True}, version=2))
            tx.delete_resource(P2, "domain", "login")
            tx.put_resource(resource_record("login"))  # the freed name, taken by P1
            tx.delete_resource(P1, "resource_server", "api")
            tx.put_resource(resource_record("api", kind="resource_server", body={"again": 1}))
            tx.put_resource(resource_record("Google:1", kind="identity_link", pool_id=P2))
            raise Abort
        assert self.state(with_domains) == before
        with with_domains.transaction() as tx:
            assert tx.find_resource("domain", "login") == resource_record("login", pool_id=P2)
            assert tx.find_resource("domain", "new") is None
            assert tx.get_resource(P1, "domain", "auth") == resource_record("auth")
            assert tx.get_resource(P1, "resource_server", "api") == resource_record("api", kind="resource_server")
            assert tx.list_resources(P2, "identity_link", after=None, limit=ALL) == []

    # -- races ---------------------------------------------------------------------------------

    @pytest.mark.parametrize("read", ["inside", "blind"])
    def test_two_pools_creating_one_domain_have_one_winner(self, two_pools, read):
        """CreateUserPoolDomain of one name in two pools at once (looking the name up first
        as the service does, or inserting blind): exactly one domain is written, the
        winner's; the other finds the name taken, when re-run or by the refusal."""
        for round_ in range(RACE_ROUNDS):
            _create_domain_twice(two_pools, f"race-{round_}", read)


def _create_domain_twice(store: Store, name: str, read: str) -> None:
    written: dict[str, PoolResource] = {}

    def create(pool_id: str) -> Callable[[], str]:
        def work(tx) -> str:
            if read == "inside" and tx.find_resource("domain", name) is not None:
                return "taken"
            written[pool_id] = resource_record(name, pool_id=pool_id, body={"Domain": name, "by": pool_id})
            try:
                tx.put_resource(written[pool_id])
            except UniqueViolation:
                return "taken"
            return "won"

        def run() -> str:
            for _ in range(RETRIES):
                try:
                    with store.transaction() as tx:
                        return work(tx)
                except VersionConflict:
                    raise
                except TransientConflict:
                    continue
            return "gave up"

        return run

    answers = race(create(P1), create(P2))
    assert sorted(answers) == ["taken", "won"], answers
    winner = (P1, P2)[answers.index("won")]
    with store.transaction() as tx:
        assert tx.find_resource("domain", name) == written[winner]
        loser = P2 if winner == P1 else P1
        assert tx.get_resource(loser, "domain", name) is None
        tx.delete_resource(winner, "domain", name)
