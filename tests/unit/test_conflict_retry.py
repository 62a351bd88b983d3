"""A store conflict (another writer won a race) re-runs the whole operation, a few times."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from authflow.adapters import MemoryStore
from authflow.ports import TransientConflict
from tests.conftest import make_client
from tests.helpers import store_contents


class ConflictingStore(MemoryStore):
    """Fails the commit of the next `conflicts` write transactions, after undoing them."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 0
        self.failed = 0

    @contextmanager
    def transaction(self):
        with super().transaction() as tx:
            yield tx
            if self.conflicts and self._wrote(tx):
                self.conflicts -= 1
                self.failed += 1
                raise TransientConflict("serialization failure (simulated)")

    @staticmethod
    def _wrote(tx) -> bool:
        return bool(getattr(tx, "_undo", None))


def test_conflicts_rerun_the_operation():
    store = ConflictingStore()
    client = make_client(store=store)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    store.conflicts = 2
    client.admin_create_user(UserPoolId=pool, Username="amy", TemporaryPassword="Temp-pass-1",
                             UserAttributes=[{"Name": "email", "Value": "amy@example.com"}],
                             DesiredDeliveryMediums=["EMAIL"])
    assert store.failed == 2
    assert len(client.messenger.messages) == 1  # the failed attempts sent nothing
    users = client.list_users(UserPoolId=pool)["Users"]
    assert [u["Username"] for u in users] == ["amy"]


def test_too_many_conflicts_give_too_many_requests_and_change_nothing():
    store = ConflictingStore()
    client = make_client(store=store)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    before = store_contents(store)
    store.conflicts = 100
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.admin_create_user(UserPoolId=pool, Username="amy", TemporaryPassword="Temp-pass-1",
                                 UserAttributes=[{"Name": "email", "Value": "amy@example.com"}],
                                 DesiredDeliveryMediums=["EMAIL"])
    assert store.failed == 5
    store.conflicts = 0
    assert store_contents(store) == before
    assert client.messenger.messages == []  # no invitation for a user who was never stored
