"""Races between processes on one durable store (issue 6, "Races and crashes").

Eight processes, each with a store of its own on the same SQLite file or the same
PostgreSQL schema and an `authflow.Client` of its own (one shared KEK, the fast test
KDF), are lined up on a `multiprocessing.Barrier` and let go at once:

- all create the same username (`alice` / `ALICE` in a case-insensitive pool), for
  several rounds: exactly one is created each round, every other one gets
  UsernameExistsException;
- each creates a user of its own that claims one verified email with
  ForceAliasCreation, for several rounds: every creation succeeds, and at the end the
  email has one verified holder, every other claimant lost it the way the engine's
  migration does it (value kept, `email_verified` false, alias gone, version bumped
  exactly once): the same state as a one-at-a-time run of the same claims in the
  order that ends with the final holder;
- all confirm one new device (the store port's device records, as ConfirmDevice
  writes them): exactly one confirmation per device, every other process finds it
  confirmed; and half of them forget one device while the other half sign in with it
  (recording `last_authenticated`): one forget, and the device is gone at the end,
  never written back by a sign-in;
- one process deletes a group while the seven others add one user to it: each add lands
  before the delete or finds no group, and no membership of the deleted group is left;
- each process creates one domain name in a pool of its own (the store port's pool
  resources, looking the name up first as CreateUserPoolDomain does): exactly one domain
  per name, the others find it taken;
- all senders mark one due outbox entry from what they read (SENT, or a retry later):
  exactly one mark is written per entry, every other sender is told it lost;
- 100 wrong-password sign-ins on one account from 8 processes x 3 threads: the
  lockout counter is exact. Each attempt either was counted (answered "Incorrect
  username or password.") or refused while locked (answered "Password attempts
  exceeded", not counted); both write the record once, so its final count must be
  the number of "Incorrect" answers and its version the number of attempts.

The processes are forked (the parent holds no open store while forking); each test
runs against SQLite and against PostgreSQL (`pg_dsn`, a schema per test).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import pytest

import authflow
from authflow.adapters import MemoryStore, SqliteStore
from authflow.core.identity import aliases_of
from authflow.crypto.sealing import Keyring
from authflow.errors import CognitoError, TooManyRequestsException
from authflow.ports import TransientConflict, UniqueViolation
from authflow.testing.records import NOW, device_record, outbox_record, resource_record, user_record
from tests.conftest import TEST_CONFIG
from tests.external import need

CONFIG = replace(TEST_CONFIG, kek=Keyring(b"r" * 32))
PROCESSES = 8
SHARED_EMAIL = "shared@example.com"
TEMPORARY = "Temp-pass-1"
PASSWORD = "Right-pass-1"
WRONG = "Wrong-pass-1"
INCORRECT = "Incorrect username or password."
LOCKED = "Password attempts exceeded"

_schemas = itertools.count()


@dataclass(frozen=True)
class Backend:
    """Where the store lives; every process opens a store of its own from it."""

    kind: str  # "sqlite" | "postgres"
    location: str  # file path | DSN
    schema: str = ""

    def open(self, connections: int = 4):
        if self.kind == "sqlite":
            return SqliteStore(self.location, busy_timeout_s=30)
        from authflow.adapters.postgres import PostgresStore

        return PostgresStore(self.location, schema=self.schema, max_size=connections)


def _psycopg_installed() -> bool:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path / "races.db"))
        return
    need(_psycopg_installed(), "psycopg 3 and psycopg-pool are not installed (pip install 'authflow[postgres]')")
    dsn = request.getfixturevalue("pg_dsn")
    from authflow.adapters.postgres import PostgresStore

    schema = f"races_{os.getpid()}_{next(_schemas)}"
    PostgresStore.drop_schema(dsn, schema)
    yield Backend("postgres", dsn, schema)
    PostgresStore.drop_schema(dsn, schema)


def _client(store) -> authflow.Client:
    return authflow.Client(store=store, config=CONFIG)


#: How often a process re-sends a request answered TooManyRequestsException, as the AWS
#: SDKs do (the engine's own conflict retries ran out; nothing was written).
SDK_RETRIES = 10


def _error_name(call) -> str:
    for _ in range(SDK_RETRIES):
        try:
            call()
        except TooManyRequestsException:
            time.sleep(0.02)
            continue
        except CognitoError as err:
            return type(err).__name__
        return "ok"
    return "TooManyRequestsException"


# -- running the same scenario in 8 processes at once -----------------------------------------


def _worker(backend: Backend, scenario, args: tuple, i: int, rounds: int, barrier, queue) -> None:
    try:
        with backend.open() as store:
            client = _client(store)
            results = []
            for round_ in range(rounds):
                barrier.wait(timeout=60)  # everyone has a store open: go
                results.append(scenario(client, *args, i=i, round_=round_))
        queue.put((i, results))
    except BaseException as error:  # the parent waits for one answer per process
        barrier.abort()
        queue.put((i, f"process {i} failed: {error!r}"))


def race(backend: Backend, scenario, *args: Any, rounds: int = 1) -> list[list[Any]]:
    """Run `scenario(client, *args, i=, round_=)` in PROCESSES forked processes,
    all starting each round at once; per round, the answers of every process (by index)."""
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(target=_worker, args=(backend, scenario, args, i, rounds, barrier, queue))
        for i in range(PROCESSES)
    ]
    for p in processes:
        p.start()
    try:
        answers = dict(queue.get(timeout=120) for _ in processes)
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    failures = [a for a in answers.values() if isinstance(a, str)]
    assert not failures, failures
    return [[answers[i][r] for i in range(PROCESSES)] for r in range(rounds)]


def _set_up(backend: Backend, set_up) -> Any:
    """Run `set_up(client)` in the parent on a store that is closed again before any fork."""
    with backend.open() as store:
        return set_up(_client(store))


# -- one username, many creators ------------------------------------------------------------------


def _create_same_username(client, pool_id: str, *, i: int, round_: int) -> str:
    username = f"alice-{round_}" if i % 2 else f"ALICE-{round_}"
    outcome = _error_name(lambda: client.admin_create_user(
        UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS"))
    return "created" if outcome == "ok" else outcome


def test_processes_creating_one_username_have_exactly_one_winner_per_round(backend):
    rounds = 4
    pool_id = _set_up(backend, lambda c: c.create_user_pool(
        PoolName="race", UsernameConfiguration={"CaseSensitive": False})["UserPool"]["Id"])

    outcomes = race(backend, _create_same_username, pool_id, rounds=rounds)

    for round_, answers in enumerate(outcomes):
        assert sorted(answers) == ["UsernameExistsException"] * (PROCESSES - 1) + ["created"], (round_, answers)
    with backend.open() as store:
        client = _client(store)
        users = client.list_users(UserPoolId=pool_id)["Users"]
        assert sorted(u["Username"].casefold() for u in users) == [f"alice-{r}" for r in range(rounds)]
        for round_, answers in enumerate(outcomes):
            winner = answers.index("created")
            expected = f"alice-{round_}" if winner % 2 else f"ALICE-{round_}"
            assert client.admin_get_user(UserPoolId=pool_id, Username=f"Alice-{round_}")["Username"] == expected
        with store.transaction() as tx:
            assert tx.count_users(pool_id) == rounds
            assert all(tx.get_user(pool_id, f"alice-{r}").version == 1 for r in range(rounds))


# -- one verified email, many claimants with ForceAliasCreation --------------------------------------------

VERIFIED_SHARED = [{"Name": "email", "Value": SHARED_EMAIL}, {"Name": "email_verified", "Value": "true"}]


def _claim_shared_email(client, pool_id: str, *, i: int, round_: int) -> str:
    outcome = _error_name(lambda: client.admin_create_user(
        UserPoolId=pool_id, Username=f"claimant-{round_}-{i}", UserAttributes=VERIFIED_SHARED,
        ForceAliasCreation=True, MessageAction="SUPPRESS"))
    return "created" if outcome == "ok" else outcome


def _alias_pool(client) -> str:
    return client.create_user_pool(PoolName="race", AliasAttributes=["email"])["UserPool"]["Id"]


def _all_users(client, pool_id: str, **filters) -> list[dict]:
    users, token = [], None
    while True:
        page = client.list_users(UserPoolId=pool_id, **filters, **({"PaginationToken": token} if token else {}))
        users += page["Users"]
        token = page.get("PaginationToken")
        if not token:
            return users


def _projection(store, pool_id: str, usernames: list[str]) -> dict[str, tuple]:
    """What a claim changes, per user: attributes (but the random sub), status, enabled,
    the aliases the store holds for the user, and the record's version."""
    with store.transaction() as tx:
        users = {name: tx.get_user(pool_id, name) for name in usernames}
    return {
        name: (
            {k: v for k, v in u.attributes.items() if k != "sub"},
            u.status, u.enabled, tuple(sorted(u.aliases)), u.version,
        )
        for name, u in users.items()
    }


def test_processes_claiming_one_verified_email_leave_one_holder_and_consistent_losers(backend):
    rounds = 3
    pool_id = _set_up(backend, _alias_pool)

    outcomes = race(backend, _claim_shared_email, pool_id, rounds=rounds)

    # ForceAliasCreation: every claim succeeds, each moving the alias from the holder of the moment.
    assert outcomes == [["created"] * PROCESSES] * rounds
    usernames = [f"claimant-{r}-{i}" for r in range(rounds) for i in range(PROCESSES)]
    with backend.open() as store:
        client = _client(store)
        claimants = _all_users(client, pool_id, Filter=f'email = "{SHARED_EMAIL}"')
        assert sorted(u["Username"] for u in claimants) == sorted(usernames)
        holders = [u["Username"] for u in claimants
                   if {"Name": "email_verified", "Value": "true"} in u["Attributes"]]
        assert len(holders) == 1, holders
        holder = holders[0]
        # sign-in lookups by the alias find the one holder
        assert client.admin_get_user(UserPoolId=pool_id, Username=SHARED_EMAIL)["Username"] == holder
        with store.transaction() as tx:
            assert tx.get_user_by_alias(pool_id, "email", SHARED_EMAIL).username == holder
            pool = tx.get_pool(pool_id)
            for name in usernames:  # each record's aliases agree with its attributes
                user = tx.get_user(pool_id, name)
                assert user.aliases == aliases_of(pool.config, user.attributes, user.status), name
        durable = _projection(store, pool_id, usernames)

    # The same claims one at a time, on the in-memory store, in an order that ends with
    # the final holder: every claimant lost the alias exactly once, the same way.
    sequential = _client(MemoryStore())
    memory_pool = _alias_pool(sequential)
    for name in [n for n in usernames if n != holder] + [holder]:
        sequential.admin_create_user(UserPoolId=memory_pool, Username=name, UserAttributes=VERIFIED_SHARED,
                                     ForceAliasCreation=True, MessageAction="SUPPRESS")
    assert durable == _projection(sequential.store, memory_pool, usernames)
    assert {name: p[4] for name, p in durable.items()} == {n: 1 if n == holder else 2 for n in usernames}


# -- 100 wrong passwords at once -----------------------------------------------------------------------

ATTEMPTS = 100
THREADS = 3


def _wrong_passwords(client, pool_id: str, client_id: str, *, i: int, round_: int) -> dict[str, int]:
    """This process's share of the attempts, from THREADS threads; the engine's answers,
    counted. TooManyRequestsException (the store's conflict retries ran out: nothing was
    written) is retried, as the SDKs retry it."""
    mine = ATTEMPTS // PROCESSES + (1 if i < ATTEMPTS % PROCESSES else 0)
    counts: dict[str, int] = {}
    lock = threading.Lock()
    shares = [mine // THREADS + (1 if t < mine % THREADS else 0) for t in range(THREADS)]

    def attempt() -> str:
        while True:
            try:
                client.admin_initiate_auth(
                    UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": "target", "PASSWORD": WRONG})
                return "signed in"
            except TooManyRequestsException:
                with lock:
                    counts["retried"] = counts.get("retried", 0) + 1
                time.sleep(0.01)
            except CognitoError as err:
                return f"{type(err).__name__}: {err.message}"

    def run(n: int) -> None:
        for _ in range(n):
            answer = attempt()
            with lock:
                counts[answer] = counts.get(answer, 0) + 1

    threads = [threading.Thread(target=run, args=(n,)) for n in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def _lockout_set_up(client) -> tuple[str, str]:
    pool_id = client.create_user_pool(PoolName="lockout")["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool_id, Username="target", TemporaryPassword=TEMPORARY,
                             MessageAction="SUPPRESS")
    started = client.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                         AuthParameters={"USERNAME": "target", "PASSWORD": TEMPORARY})
    done = client.admin_respond_to_auth_challenge(
        UserPoolId=pool_id, ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
        ChallengeResponses={"USERNAME": "target", "NEW_PASSWORD": PASSWORD})
    assert "AuthenticationResult" in done
    return pool_id, client_id


def test_concurrent_wrong_passwords_are_counted_exactly(backend):
    pool_id, client_id = _set_up(backend, _lockout_set_up)

    (answers,) = race(backend, _wrong_passwords, pool_id, client_id)

    totals: dict[str, int] = {}
    for counts in answers:
        for answer, n in counts.items():
            totals[answer] = totals.get(answer, 0) + n
    incorrect = totals.pop(f"NotAuthorizedException: {INCORRECT}", 0)
    refused = totals.pop(f"NotAuthorizedException: {LOCKED}", 0)
    retried = totals.pop("retried", 0)
    assert totals == {}, totals  # no other answer
    assert incorrect + refused == ATTEMPTS
    with backend.open() as store, store.transaction() as tx:
        sub = tx.get_user(pool_id, "target").sub
        record = tx.get_failed_sign_ins(pool_id, sub)
    # Counted attempts are the "Incorrect" answers; every attempt, counted or refused,
    # wrote the record once (a lost update would leave the version short).
    assert (record.count, record.version) == (incorrect, ATTEMPTS), (incorrect, refused, retried)
    print(f"\n{backend.kind}: {incorrect} counted, {refused} refused while locked, {retried} re-sent")
    assert incorrect >= 5  # the five free failures were all counted before any lock


# -- one device: confirmations, and a forget racing sign-ins --------------------------------------------


def _retrying(store, work) -> str:
    """Run `work(tx)` in a transaction, re-run on conflicts as the engine's `call()` does."""
    for _ in range(SDK_RETRIES * 10):
        try:
            with store.transaction() as tx:
                return work(tx)
        except TransientConflict:
            time.sleep(0.005)
    return "gave up"


def _confirm_device(client, pool_id: str, *, i: int, round_: int) -> str:
    key = f"device-{round_}"

    def confirm(tx) -> str:
        device = tx.get_device(pool_id, key)
        if device.status != "NEW":
            return "already confirmed"
        tx.put_device(replace(device, status="REMEMBERED", name=f"process {i}", salt=f"{i:02x}",
                              verifier=bytes([i]) * 8, expires=None, version=device.version + 1))
        return f"confirmed by {i}"

    return _retrying(client.engine.store, confirm)


def _forget_or_sign_in(client, pool_id: str, *, i: int, round_: int) -> str:
    key = f"device-{round_}"

    def forget(tx) -> str:
        if tx.get_device(pool_id, key) is None:
            return "already gone"
        tx.delete_device(pool_id, key)
        return "forgot"

    def sign_in(tx) -> str:
        device = tx.get_device(pool_id, key)
        if device is None:
            return "gone"
        tx.put_device(replace(device, last_authenticated=device.modified.replace(microsecond=i),
                              version=device.version + 1))
        return "signed in"

    return _retrying(client.engine.store, forget if i % 2 else sign_in)


def _device_set_up(rounds: int, status: str):
    def set_up(client) -> str:
        pool_id = client.create_user_pool(PoolName="race")["UserPool"]["Id"]
        with client.engine.store.transaction() as tx:
            tx.put_user(user_record("alice", pool_id=pool_id))
            for round_ in range(rounds):
                tx.put_device(device_record(f"device-{round_}", pool_id=pool_id, status=status))
        return pool_id

    return set_up


def test_processes_confirming_one_device_confirm_it_once(backend):
    rounds = 3
    pool_id = _set_up(backend, _device_set_up(rounds, "NEW"))

    outcomes = race(backend, _confirm_device, pool_id, rounds=rounds)

    with backend.open() as store, store.transaction() as tx:
        for round_, answers in enumerate(outcomes):
            winners = [a for a in answers if a.startswith("confirmed by")]
            assert len(winners) == 1 and answers.count("already confirmed") == PROCESSES - 1, (round_, answers)
            device = tx.get_device(pool_id, f"device-{round_}")
            assert (device.status, device.version, f"confirmed by {device.name.split()[-1]}") == (
                "REMEMBERED", 2, winners[0])


def test_a_device_forgotten_while_processes_sign_in_with_it_stays_forgotten(backend):
    rounds = 3
    pool_id = _set_up(backend, _device_set_up(rounds, "REMEMBERED"))

    outcomes = race(backend, _forget_or_sign_in, pool_id, rounds=rounds)

    with backend.open() as store, store.transaction() as tx:
        for round_, answers in enumerate(outcomes):
            forgets, sign_ins = answers[1::2], answers[0::2]
            assert sorted(forgets) == ["already gone"] * (len(forgets) - 1) + ["forgot"], (round_, answers)
            assert set(sign_ins) <= {"signed in", "gone"}, (round_, answers)
            assert tx.get_device(pool_id, f"device-{round_}") is None
            assert tx.list_devices(pool_id, "sub-alice", after=None, limit=10) == []


# -- one group: members added while it is deleted -------------------------------------------------------


def _add_while_deleting(client, pool_id: str, *, i: int, round_: int) -> str:
    group = f"group-{round_}"
    if i == 0:
        return _error_name(lambda: client.delete_group(UserPoolId=pool_id, GroupName=group))
    return _error_name(lambda: client.admin_add_user_to_group(UserPoolId=pool_id, GroupName=group, Username="alice"))


def _group_set_up(rounds: int):
    def set_up(client) -> str:
        pool_id = client.create_user_pool(PoolName="race")["UserPool"]["Id"]
        client.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
        for round_ in range(rounds):
            client.create_group(UserPoolId=pool_id, GroupName=f"group-{round_}")
        return pool_id

    return set_up


def test_a_group_deleted_while_processes_add_a_user_to_it_leaves_no_membership(backend):
    """Process 0 deletes the group while the other seven add alice to it (AdminAddUserToGroup,
    re-run on conflicts): each add lands before the delete or finds no group, and no
    membership of the deleted group is left; the name made again is an empty group."""
    rounds = 3
    pool_id = _set_up(backend, _group_set_up(rounds))

    outcomes = race(backend, _add_while_deleting, pool_id, rounds=rounds)

    with backend.open() as store:
        client = _client(store)
        for round_, answers in enumerate(outcomes):
            assert answers[0] == "ok", (round_, answers)  # the delete
            assert set(answers[1:]) <= {"ok", "ResourceNotFoundException"}, (round_, answers)
            with store.transaction() as tx:
                assert tx.get_group(pool_id, f"group-{round_}") is None
                assert tx.members(pool_id, f"group-{round_}", after=None, limit=10) == []
        assert client.admin_list_groups_for_user(UserPoolId=pool_id, Username="alice")["Groups"] == []
        with store.transaction() as tx:
            assert tx.groups_of(pool_id, "alice") == [] and tx.count_groups(pool_id) == 0
        client.create_group(UserPoolId=pool_id, GroupName="group-0")
        assert client.list_users_in_group(UserPoolId=pool_id, GroupName="group-0")["Users"] == []


# -- one domain name, a pool per process ------------------------------------------------------------


def _create_domain(client, pools: list[str], *, i: int, round_: int) -> str:
    name = f"auth-{round_}"

    def create(tx) -> str:
        if tx.find_resource("domain", name) is not None:
            return "taken"
        try:
            tx.put_resource(resource_record(name, pool_id=pools[i], body={"Domain": name, "by": i}))
        except UniqueViolation:
            return "taken"
        return f"created by {i}"

    return _retrying(client.engine.store, create)


def test_processes_creating_one_domain_name_in_their_pools_have_one_winner(backend):
    rounds = 3

    def set_up(client) -> list[str]:
        return [client.create_user_pool(PoolName=f"race-{i}")["UserPool"]["Id"] for i in range(PROCESSES)]

    pools = _set_up(backend, set_up)

    outcomes = race(backend, _create_domain, pools, rounds=rounds)

    with backend.open() as store, store.transaction() as tx:
        for round_, answers in enumerate(outcomes):
            winners = [a for a in answers if a.startswith("created by")]
            assert len(winners) == 1 and answers.count("taken") == PROCESSES - 1, (round_, answers)
            winner = int(winners[0].split()[-1])
            domain = tx.find_resource("domain", f"auth-{round_}")
            assert (domain.pool_id, domain.body["by"], domain.version) == (pools[winner], winner, 1)
            assert [p for p in pools if tx.get_resource(p, "domain", f"auth-{round_}") is not None] == [pools[winner]]


# -- one outbox entry, many senders -----------------------------------------------------------------------


def _mark_entry(client, _: str, *, i: int, round_: int) -> str:
    """Read the entry (as a sender's due_outbox does), then mark it from that reading."""
    store = client.engine.store
    with store.transaction() as tx:
        entry = tx.get_outbox(f"m{round_}")
    if i % 2:
        marked = replace(entry, state="SENT", attempts=1, sent=NOW, last_error=f"sender {i}", version=2)
    else:
        marked = replace(entry, attempts=1, last_error=f"sender {i}", version=2)  # a retry later
    try:
        with store.transaction() as tx:
            tx.put_outbox(marked)
    except TransientConflict:  # VersionConflict is one
        return "lost"
    return f"marked by {i}"


def test_senders_marking_one_outbox_entry_write_one_mark(backend):
    rounds = 3

    def set_up(client) -> str:
        with client.engine.store.transaction() as tx:
            for round_ in range(rounds):
                tx.put_outbox(outbox_record(f"m{round_}"))
        return ""

    _set_up(backend, set_up)

    outcomes = race(backend, _mark_entry, "", rounds=rounds)

    with backend.open() as store, store.transaction() as tx:
        for round_, answers in enumerate(outcomes):
            winners = [a for a in answers if a.startswith("marked by")]
            assert len(winners) == 1 and answers.count("lost") == PROCESSES - 1, (round_, answers)
            entry = tx.get_outbox(f"m{round_}")
            assert (entry.version, entry.last_error) == (2, f"sender {winners[0].split()[-1]}")
