"""Shared fixtures and Hypothesis profiles.

Profiles: `default` (fast, for local runs), `ci` (what .ci/run uses), `thorough`
(long runs: HYPOTHESIS_PROFILE=thorough pytest). Password hashing uses the fast,
insecure Argon2id profile everywhere in tests, and pools share a few pre-made RSA keys.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, settings

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy
from authflow.crypto.keys import TEST_KEYS
from authflow.crypto.passwords import FAST_INSECURE
from tests.shapes import assert_output_shape

settings.register_profile("default", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
TEST_CONFIG = authflow.EngineConfig(kdf=FAST_INSECURE, signing_keys=TEST_KEYS)


class CheckedClient:
    """An `authflow.Client` whose every response is checked against botocore's output
    shape for its operation: the one shared response checker of the suite."""

    def __init__(self, client: authflow.Client) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.engine = client.engine
        self.store = client.store
        self.messenger = client.messenger

    def __getattr__(self, name: str):
        method = getattr(self._client, name)
        operation = self._client._methods.get(name)
        if operation is None:
            return method

        def checked(**kwargs):
            response = method(**kwargs)
            assert_output_shape(operation, response)
            return response

        return checked


def make_client(seed: int = 1, **kwargs) -> CheckedClient:
    kwargs.setdefault("clock", ManualClock(START))
    kwargs.setdefault("entropy", SeededEntropy(seed))
    kwargs.setdefault("messenger", MemoryOutbox())
    kwargs.setdefault("store", MemoryStore())
    kwargs.setdefault("config", TEST_CONFIG)
    return CheckedClient(authflow.Client(**kwargs))


#: TEST_CONFIG with the optional hardening: a new password equal to the temporary one refused.
HARDENED_CONFIG = dataclasses.replace(TEST_CONFIG, refuse_temporary_password_reuse=True)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def outbox() -> MemoryOutbox:
    return MemoryOutbox()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def client(clock, outbox, store) -> CheckedClient:
    return make_client(clock=clock, messenger=outbox, store=store)


@pytest.fixture
def pool_id(client) -> str:
    return client.create_user_pool(PoolName="test-pool")["UserPool"]["Id"]


@pytest.fixture(params=["sqlite", "postgres"])
def reopenable_store(request, tmp_path):
    """For the durability tests of each family: a function that opens the same durable
    store each time it is called (a test writes, closes, opens again: a restart), on a
    SQLite file or on a PostgreSQL schema of its own, dropped at the end."""
    if request.param == "sqlite":
        from authflow.adapters.sqlite import SqliteStore

        yield lambda: SqliteStore(tmp_path / "durable.db")
        return
    import uuid

    from authflow.adapters.postgres import PostgresStore

    dsn, schema = request.getfixturevalue("pg_dsn"), f"durable_{uuid.uuid4().hex[:12]}"
    try:
        yield lambda: PostgresStore(dsn, schema=schema, min_size=1, max_size=2)
    finally:
        PostgresStore.drop_schema(dsn, schema)


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory):
    """The DSN of a PostgreSQL server for the tests: `AUTHFLOW_TEST_PG_DSN` (set by
    `.ci/run`), or a throwaway cluster started for this session; skipped locally (failed
    in CI) when neither is possible."""
    from tests import pg
    from tests.external import need

    dsn = os.environ.get("AUTHFLOW_TEST_PG_DSN")
    if dsn:
        yield dsn
        return
    need(pg.available(), "PostgreSQL (initdb, pg_ctl, postgres) is not installed; set AUTHFLOW_TEST_PG_DSN or install it")
    directory = tmp_path_factory.mktemp("pg")
    try:
        dsn = pg.start(directory)
    except Exception as err:  # noqa: BLE001 -- any failure means "no server here"
        need(False, f"could not start a throwaway PostgreSQL cluster: {err}")
    try:
        yield dsn
    finally:
        pg.stop(directory)
