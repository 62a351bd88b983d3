"""Racing admin requests through one Client from many threads (MemoryStore).

The memory store is single-process by construction; its transactions serialise
under one lock, so racing writers see each other's commits. (The SQL stores get
multi-process versions of these tests with the storage issue.)"""

from __future__ import annotations

import threading

from authflow.errors import CognitoError
from tests.conftest import make_client


def race(n: int, fn) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except CognitoError as err:
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_winner_for_one_username():
    client = make_client()
    pool = client.create_user_pool(PoolName="race", UsernameConfiguration={"CaseSensitive": False})["UserPool"]["Id"]
    results = race(8, lambda i: client.admin_create_user(
        UserPoolId=pool, Username="alice" if i % 2 else "Alice", MessageAction="SUPPRESS"
    ))
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, client.exceptions.UsernameExistsException)]
    assert len(winners) == 1 and len(losers) == 7
    assert len(client.list_users(UserPoolId=pool)["Users"]) == 1


def test_verified_email_has_one_holder_after_racing_force_alias_creation():
    client = make_client()
    pool = client.create_user_pool(PoolName="race", AliasAttributes=["email"])["UserPool"]["Id"]
    verified = [{"Name": "email", "Value": "shared@example.com"}, {"Name": "email_verified", "Value": "true"}]
    for round_ in range(3):
        results = race(8, lambda i, round_=round_: client.admin_create_user(
            UserPoolId=pool, Username=f"user{i}-{round_}", UserAttributes=verified,
            ForceAliasCreation=True, MessageAction="SUPPRESS",
        ))
        assert all(isinstance(r, dict) for r in results)
        users = client.list_users(UserPoolId=pool, Filter='email = "shared@example.com"')["Users"]
        holders = [u for u in users if {"Name": "email_verified", "Value": "true"} in u["Attributes"]]
        assert len(holders) == 1
        assert client.admin_get_user(UserPoolId=pool, Username="shared@example.com")["Username"] == holders[0]["Username"]
