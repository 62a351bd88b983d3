"""A stored hash made with other KDF parameters is upgraded at the next correct sign-in."""

from __future__ import annotations

from dataclasses import replace

import pytest

import authflow
from authflow.adapters import ManualClock, MemoryStore
from authflow.crypto.passwords import KdfParams, needs_rehash
from tests.conftest import START, TEST_CONFIG, CheckedClient, make_client

STRONGER = KdfParams(memory_kib=16, iterations=2, lanes=1)  # still cheap: this is a test


def stored_hash(client, pool):
    with client.store.transaction() as tx:
        return tx.get_user(pool, "alice").credential.password_hash


@pytest.mark.parametrize("password,upgraded", [("Temp1234!", True), ("Wrong1234!", False)])
def test_sign_in_upgrades_the_hash_only_with_the_right_password(password, upgraded):
    store, clock = MemoryStore(), ManualClock(START)
    old = make_client(store=store, clock=clock)
    pool = old.create_user_pool(PoolName="p")["UserPool"]["Id"]
    app = old.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    old.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword="Temp1234!", MessageAction="SUPPRESS")
    before = stored_hash(old, pool)

    new = CheckedClient(authflow.Client(store=store, clock=clock, config=replace(TEST_CONFIG, kdf=STRONGER)))
    try:
        response = new.initiate_auth(
            ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": password}
        )
    except new.exceptions.NotAuthorizedException:
        response = None
    after = stored_hash(new, pool)
    assert (after != before) is upgraded
    assert not needs_rehash(after, STRONGER) if upgraded else after == before
    if upgraded:
        assert response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        # The upgraded hash still holds the same temporary password.
        again = new.initiate_auth(
            ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": password}
        )
        assert again["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
