"""The three stores agree: one random sequence of API operations, run at once on an
engine over MemoryStore, one over SqliteStore and one over PostgresStore, gives the same
outcome at every step and leaves the same contents behind.

A Hypothesis `RuleBasedStateMachine` owns three `authflow.Client`s that differ only in
their store. Each has its own `SeededEntropy(seed)`, `ManualClock(START)`, `MemoryOutbox`
and the same configuration (`TEST_CONFIG` plus one KEK), so every id, salt, nonce, token
and request id must come out byte-identical: every rule sends the same request to the
three clients and asserts the same outcome, the response dict (without
`ResponseMetadata`, but with its request id) or the same (error code, message). An
`InternalErrorException` is a failure even when all three agree on it.

`TEST_CONFIG`'s key factory `TEST_KEYS` is process-global and hands its four RSA keys out
in rotation, so the three engines' pools would get different signing keys. Each engine
gets its own factory over the same four keys, starting at the first (as in
tests/integration/test_facades_agree.py).

The rules cover CreateUserPool (with and without alias attributes, case-(in)sensitive
usernames), CreateUserPoolClient (PreventUserExistenceErrors, token revocation),
AdminCreateUser (aliases, ForceAliasCreation, RESEND, SUPPRESS, generated passwords),
AdminGetUser (by name and by alias), ListUsers (filters, AttributesToGet, pages),
AdminUpdateUserAttributes, AdminDeleteUserAttributes, AdminDisableUser / AdminEnableUser,
AdminDeleteUser, the group operations (CreateGroup / UpdateGroup, DeleteGroup,
AdminAddUserToGroup / AdminRemoveUserFromGroup, ListGroups, ListUsersInGroup,
AdminListGroupsForUser, with pages), InitiateAuth / AdminInitiateAuth with right and wrong passwords,
RespondToAuthChallenge / AdminRespondToAuthChallenge NEW_PASSWORD_REQUIRED, refresh,
GetUser, GlobalSignOut, AdminUserGlobalSignOut, RevokeToken, DeleteUserPool, clock
advances (past session, access-token, page-token, lockout and temporary-password
lifetimes), and authflow's own `Client.purge_expired` (housekeeping is store SQL too).
Every example starts with a pool, an app client and one user signed in through
NEW_PASSWORD_REQUIRED, and most calls name a user the run created, so that most steps
reach the store rather than a "does not exist".

Contents are compared store-neutrally, every `CHECK_EVERY` steps and at the end: what
the port shows (`authflow.testing.contract.port_view`) for every pool ever made, every
session, refresh token, token family and lockout counter id the in-memory store or a
response names, every sub and alias in play; plus the number of rows of every kind in
each store, so that a record the port view does not reach cannot hide (groups and
memberships included: the port view shows every group's members and every user's groups; pool
resources and outbox entries too: it lists every pool's resources of every kind and the whole
outbox). The outboxes must hold the same messages.

PostgreSQL comes from the `pg_dsn` fixture (tests/conftest.py). Where none can be had
locally, the memory and SQLite pair still runs and the test then reports the
PostgreSQL part as skipped; in CI (`AUTHFLOW_REQUIRE_EXTERNAL=1`) it fails instead. Each
example gets a fresh SQLite file. PostgreSQL gets one fresh schema per test run (making
one per example would cost more than the examples), emptied through the port before each
example, with row counts that prove it empty, and dropped at the end.

The number of examples comes from the loaded Hypothesis profile (tests/conftest.py), with
`STEPS` steps each: 6-15 s for `default` on the project's 2-core machine, depending on its load.
"""

from __future__ import annotations

import copy
import functools
import itertools
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy, SqliteStore
from authflow.adapters import sqlite as sqlite_adapter
from authflow.core.auth import session_id
from authflow.core.tokens import token_hash
from authflow.crypto.keys import TEST_KEYS
from authflow.crypto.sealing import Keyring
from authflow.errors import CognitoError
from authflow.testing.contract import port_view
from authflow.testing.models import ALL
from tests.conftest import START, TEST_CONFIG
from tests.external import need

KEK = Keyring(bytes(range(32)))
#: Contents are compared after every CHECK_EVERY-th step (and always at the end).
CHECK_EVERY = 10
#: Steps per example; the number of examples comes from the loaded Hypothesis profile.
STEPS = 30

MISSING_POOL = "us-east-1_Missing00"
NAMES = ["ann", "Ann", "ben", "cat"]
EMAILS = ["x@example.com", "X@Example.COM", "y@example.com"]
PHONES = ["+12065550100", "+12065550101"]
PREFERRED = ["pref", "Pref"]
TEMP, NEW, OTHER, WRONG, WEAK = "Temp-pass-1", "New-pass-1x", "Other-pass-2", "Wrong-pass-1", "weak"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

GROUPS = st.sampled_from(["admins", "Admins", "staff", "g\u00e9"])  # case-sensitive names
WHO = st.sampled_from([*NAMES, *EMAILS, PHONES[0], "pref", "nobody"])  # what a caller types
PASSWORD = st.sampled_from([TEMP, NEW, OTHER, WRONG])
INDEX = st.integers(0, 7)  # which pool / client / session / token (see `StoresAgree.pool`)
KNOWN = st.integers(0, 3)  # < 3: a user the run has created (when there is one), else `WHO`
FILTERS = st.sampled_from([
    None, 'email ^= "x"', 'email ^= "X"', 'email = "x@example.com"', 'username ^= "a"', 'username = "ann"',
    'status = "Enabled"', 'status = "Disabled"', 'cognito:user_status = "FORCE_CHANGE_PASSWORD"',
    'cognito:user_status = "confirmed"', 'phone_number ^= "+1"', 'preferred_username = "pref"', 'name ^= "N"',
    'sub ^= ""', 'given_name = "x"',
])


# -- the three engines -----------------------------------------------------------------------


@functools.cache
def same_keys() -> tuple[bytes, ...]:
    """TEST_KEYS' four keys in a fixed order, whatever its rotation position (four calls:
    the rotation ends where it began)."""
    return tuple(sorted({TEST_KEYS() for _ in range(4)}))


class SameKeys:
    """A key factory over a fixed list of keys, starting at the first, per engine."""

    def __init__(self, keys: tuple[bytes, ...]) -> None:
        self._keys = keys
        self._next = 0

    def __call__(self) -> bytes:
        key = self._keys[self._next % len(self._keys)]
        self._next += 1
        return key


@dataclass
class Backend:
    name: str
    store: Any
    client: authflow.Client
    clock: ManualClock
    outbox: MemoryOutbox
    rows: Callable[[], dict[str, int]]  # rows of each kind the store holds
    close: Callable[[], None]


def _engine(store: Any, seed: int) -> tuple[authflow.Client, ManualClock, MemoryOutbox]:
    clock, outbox = ManualClock(START), MemoryOutbox()
    config = replace(TEST_CONFIG, kek=KEK, signing_keys=SameKeys(same_keys()))
    client = authflow.Client(store=store, clock=clock, entropy=SeededEntropy(seed), messenger=outbox, config=config)
    return client, clock, outbox


def memory_backend(seed: int) -> Backend:
    store = MemoryStore()

    def rows() -> dict[str, int]:
        s = store.snapshot()
        return {
            "pools": len(s.pools), "clients": len(s.clients),
            "users": sum(len(u.by_key) for u in s.users.values()),
            "aliases": sum(len(u.by_alias) for u in s.users.values()),
            "user_index": sum(len(i) for u in s.users.values() for i in u.indexes.values()),
            "signing_keys": sum(len(a.signing_keys) for a in s.auth.values()),
            "sessions": len(s.sessions), "refresh_tokens": len(s.refresh_tokens),
            "failed_sign_ins": sum(len(a.failed_sign_ins) for a in s.auth.values()),
            "devices": sum(len(u.devices) for u in s.users.values()),
            "groups": sum(len(u.groups) for u in s.users.values()),
            "memberships": sum(len(m) for u in s.users.values() for m in u.members.values()),
            "resources": sum(len(a.resources) for a in s.auth.values()),
            "outbox": len(s.outbox),
        }

    return Backend("memory", store, *_engine(store, seed), rows, lambda: None)


def sqlite_backend(seed: int, path: Path) -> Backend:
    store = SqliteStore(path)

    def rows() -> dict[str, int]:
        conn = sqlite3.connect(path)
        try:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in sqlite_adapter.TABLES}
        finally:
            conn.close()

    def close() -> None:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    return Backend("sqlite", store, *_engine(store, seed), rows, close)


class PostgresSchema:
    """One fresh PostgreSQL schema for a whole test run, dropped at its end. Making a
    schema (its migrations) costs far more than an example, so each example starts from
    the same store emptied through the port (deleting a pool takes everything of it; the
    outbox, which outlives pools, is emptied by SQL), and the row counts prove it empty."""

    def __init__(self, dsn: str, schema: str) -> None:
        import psycopg

        from authflow.adapters.postgres import PostgresStore

        self.dsn, self.schema = dsn, schema
        PostgresStore.drop_schema(dsn, schema)  # left over from an interrupted run
        self.store = PostgresStore(dsn, schema=schema, min_size=1, max_size=2)
        self.counter = psycopg.connect(dsn, autocommit=True)

    def rows(self) -> dict[str, int]:
        from psycopg import sql

        from authflow.adapters.postgres import TABLES

        count = "SELECT count(*) FROM {}.{}"
        return {t: self.counter.execute(sql.SQL(count).format(sql.Identifier(self.schema), sql.Identifier(t)))
                .fetchone()[0] for t in TABLES}

    def backend(self, seed: int) -> Backend:
        with self.store.transaction() as tx:
            for pool in tx.list_pools(after=None, limit=ALL):
                tx.delete_pool(pool.id)
            tx.connection.execute("DELETE FROM outbox")  # entries outlive their pool; the port deletes none
        left = {t: n for t, n in self.rows().items() if n}
        assert not left, f"deleting every pool left rows behind in PostgreSQL: {left}"
        return Backend("postgres", self.store, *_engine(self.store, seed), self.rows, lambda: None)

    def close(self) -> None:
        from authflow.adapters.postgres import PostgresStore

        self.counter.close()
        self.store.close()
        PostgresStore.drop_schema(self.dsn, self.schema)


# -- outcomes ------------------------------------------------------------------------------------


def outcome(call: Callable[[], dict]) -> tuple:
    try:
        response = call()
    except CognitoError as err:
        return ("error", err.code, err.message)
    metadata = response.pop("ResponseMetadata", None) or {}  # Client.purge_expired has none
    return ("ok", metadata.get("RequestId"), response)


def pick(items: list, i: int) -> Any:
    return items[i % len(items)]


class StoresAgree(RuleBasedStateMachine):
    """Set `factories` (name -> backend factory taking a seed) before running."""

    factories: dict[str, Callable[[int], Backend]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.backends: list[Backend] = []
        self.steps = 0
        self.broken = False  # a step or check already failed: teardown only cleans up
        self.pools: list[str] = []  # every pool made, deleted ones included
        self.live: list[str] = []  # pools not deleted (as far as the responses say)
        self.users: list[tuple[str, str]] = []  # (pool id, username) of every user created
        self.clients: list[tuple[str, str]] = []  # (pool id, client id)
        self.sessions: list[tuple[str, str, str, str]] = []  # (pool id, client id, Session, USER_ID_FOR_SRP)
        self.access: list[str] = []
        self.refresh: list[tuple[str, str, str]] = []  # (pool id, client id, refresh token)
        self.ids: set[str] = set()  # session ids and refresh token hashes seen in responses
        self.subs: set[str] = set()

    # -- calling all three ---------------------------------------------------------------------

    def call(self, operation: str, **request: Any) -> tuple:
        # each client gets its own copy: one that changed its request must not change the others'
        results = [outcome(lambda b=b: getattr(b.client, operation)(**copy.deepcopy(request))) for b in self.backends]
        first = results[0]
        if any(r != first for r in results[1:]):
            self.broken = True
            shown = "\n".join(f"  {b.name:>8}: {r!r}" for b, r in zip(self.backends, results, strict=True))
            raise AssertionError(f"the stores disagree on {operation}({request!r}):\n{shown}")
        if first[0] == "error" and first[1] == "InternalErrorException":
            self.broken = True
            raise AssertionError(f"{operation}({request!r}) failed inside the engine on every store: {first}")
        if first[0] == "ok":
            self.note(first[2])
        return first

    def note(self, response: dict) -> None:
        """Remember what the contents check must look at."""
        if "Session" in response:
            self.ids.add(session_id(response["Session"]))
        result = response.get("AuthenticationResult") or {}
        if "RefreshToken" in result:
            self.ids.add(token_hash(result["RefreshToken"]))
        user = response.get("User") or response
        for attribute in user.get("Attributes") or user.get("UserAttributes") or []:
            if attribute["Name"] == "sub":
                self.subs.add(attribute["Value"])

    def pool(self, i: int) -> str:
        """Mostly the first live pool (most users go there, so sign-ins find them); 5 and 6
        another live one; 7 a deleted or missing pool."""
        gone = [p for p in self.pools if p not in self.live] or [MISSING_POOL]
        if i == 7 or not self.live:
            return pick(gone, i)
        return self.live[0] if i < 5 else pick(self.live, i)

    def who(self, pool_id: str, known: int, typed: str) -> str:
        """What the caller types as a username: mostly a user the run created in the pool."""
        mine = [name for pool, name in self.users if pool == pool_id]
        return pick(mine, known) if known < 3 and mine else typed

    # -- set-up ------------------------------------------------------------------------------------

    @initialize(seed=st.integers(0, 2**32 - 1), aliases=st.booleans(), prevent=st.booleans())
    def start(self, seed, aliases, prevent):
        for factory in self.factories.values():
            self.backends.append(factory(seed))
        self.create_pool(aliases=["email"] if aliases else None, case_sensitive=True, auto_verify=False)
        self.create_client(pool=0, prevent=prevent, revocation=True)
        self.sign_up_and_in(client=0, name="ann", email="x@example.com", admin=False)

    # -- pools and clients ---------------------------------------------------------------------

    @precondition(lambda self: len(self.pools) < 3)
    @rule(aliases=st.sampled_from([None, ["email"], ["email", "phone_number", "preferred_username"]]),
          case_sensitive=st.booleans(), auto_verify=st.booleans())
    def create_pool(self, aliases, case_sensitive, auto_verify):
        request: dict[str, Any] = {"PoolName": f"pool{len(self.pools)}",
                                   "UsernameConfiguration": {"CaseSensitive": case_sensitive}}
        if aliases:
            request["AliasAttributes"] = aliases
        if auto_verify:
            request["AutoVerifiedAttributes"] = ["email"]
        result = self.call("create_user_pool", **request)
        if result[0] == "ok":
            self.pools.append(result[2]["UserPool"]["Id"])
            self.live.append(result[2]["UserPool"]["Id"])

    @precondition(lambda self: len(self.clients) < 6)
    @rule(pool=INDEX, prevent=st.booleans(), revocation=st.booleans())
    def create_client(self, pool, prevent, revocation):
        result = self.call("create_user_pool_client", UserPoolId=self.pool(pool), ClientName="app",
                           ExplicitAuthFlows=FLOWS, EnableTokenRevocation=revocation,
                           PreventUserExistenceErrors="ENABLED" if prevent else "LEGACY")
        if result[0] == "ok":
            made = result[2]["UserPoolClient"]
            self.clients.append((made["UserPoolId"], made["ClientId"]))

    @precondition(lambda self: len(self.live) >= 2)
    @rule(pool=INDEX)
    def delete_pool(self, pool):
        pool_id = self.pool(pool)
        if self.call("delete_user_pool", UserPoolId=pool_id)[0] == "ok":
            self.live.remove(pool_id)
            self.users = [(p, name) for p, name in self.users if p != pool_id]

    # -- users -------------------------------------------------------------------------------------

    @rule(pool=INDEX, name=st.sampled_from(NAMES), email=st.sampled_from([None, *EMAILS]),
          email_verified=st.sampled_from([None, "true", "false"]), phone=st.sampled_from([None, *PHONES]),
          preferred=st.sampled_from([None, *PREFERRED]), force=st.booleans(),
          action=st.sampled_from(["SUPPRESS", "SUPPRESS", "SUPPRESS", None, "RESEND"]),
          password=st.sampled_from([TEMP, TEMP, TEMP, None, WEAK]),
          delivery=st.sampled_from([None, ["EMAIL"], ["SMS"], ["EMAIL", "SMS"]]))
    def admin_create_user(self, pool, name, email, email_verified, phone, preferred, force, action, password,
                          delivery):
        attributes = []
        if email is not None:
            attributes.append({"Name": "email", "Value": email})
        if email_verified is not None:
            attributes.append({"Name": "email_verified", "Value": email_verified})
        if phone is not None:
            attributes += [{"Name": "phone_number", "Value": phone}, {"Name": "phone_number_verified", "Value": "true"}]
        if preferred is not None:
            attributes.append({"Name": "preferred_username", "Value": preferred})
        pool_id = self.pool(pool)
        request: dict[str, Any] = {"UserPoolId": pool_id, "Username": name, "UserAttributes": attributes}
        if force:
            request["ForceAliasCreation"] = True
        if action is not None:
            request["MessageAction"] = action
        if password is not None:
            request["TemporaryPassword"] = password
        if delivery is not None:
            request["DesiredDeliveryMediums"] = delivery
        result = self.call("admin_create_user", **request)
        if result[0] == "ok" and (pool_id, name) not in self.users:
            self.users.append((pool_id, name))

    @rule(pool=INDEX, known=KNOWN, typed=WHO)
    def admin_get_user(self, pool, known, typed):
        pool_id = self.pool(pool)
        self.call("admin_get_user", UserPoolId=pool_id, Username=self.who(pool_id, known, typed))

    @rule(pool=INDEX, where=FILTERS, limit=st.sampled_from([None, 1, 2, 60]),
          only=st.sampled_from([None, ["email"], ["sub", "phone_number"]]), pages=st.integers(1, 4))
    def list_users(self, pool, where, limit, only, pages):
        request: dict[str, Any] = {"UserPoolId": self.pool(pool)}
        for key, value in (("Filter", where), ("Limit", limit), ("AttributesToGet", only)):
            if value is not None:
                request[key] = value
        for _ in range(pages):
            result = self.call("list_users", **request)
            if result[0] != "ok" or "PaginationToken" not in result[2]:
                return
            request["PaginationToken"] = result[2]["PaginationToken"]

    @rule(pool=INDEX, known=KNOWN, typed=WHO, changes=st.lists(st.sampled_from([
        ("email", "x@example.com"), ("email", "y@example.com"), ("email", "X@Example.COM"),
        ("email_verified", "true"), ("email_verified", "false"), ("phone_number", PHONES[0]),
        ("phone_number_verified", "true"), ("preferred_username", "pref"), ("name", "Nina"),
        ("given_name", "x"), ("sub", "forged"),
    ]), min_size=1, max_size=3, unique_by=lambda c: c[0]))
    def admin_update_user_attributes(self, pool, known, typed, changes):
        pool_id = self.pool(pool)
        self.call("admin_update_user_attributes", UserPoolId=pool_id, Username=self.who(pool_id, known, typed),
                  UserAttributes=[{"Name": n, "Value": v} for n, v in changes])

    @rule(pool=INDEX, known=KNOWN, typed=WHO, names=st.lists(st.sampled_from(
        ["email", "phone_number", "preferred_username", "name", "given_name", "email_verified", "sub"]),
        min_size=1, max_size=2, unique=True))
    def admin_delete_user_attributes(self, pool, known, typed, names):
        pool_id = self.pool(pool)
        self.call("admin_delete_user_attributes", UserPoolId=pool_id, Username=self.who(pool_id, known, typed),
                  UserAttributeNames=names)

    @rule(pool=INDEX, known=KNOWN, typed=WHO, enabled=st.booleans())
    def admin_enable_or_disable_user(self, pool, known, typed, enabled):
        pool_id = self.pool(pool)
        self.call("admin_enable_user" if enabled else "admin_disable_user", UserPoolId=pool_id,
                  Username=self.who(pool_id, known, typed))

    @rule(pool=INDEX, known=KNOWN, typed=WHO)
    def admin_delete_user(self, pool, known, typed):
        pool_id = self.pool(pool)
        name = self.who(pool_id, known, typed)
        if self.call("admin_delete_user", UserPoolId=pool_id, Username=name)[0] == "ok" and (pool_id, name) in self.users:
            self.users.remove((pool_id, name))

    # -- sign-in -----------------------------------------------------------------------------------

    def signed_in(self, result: tuple, pool_id: str, client_id: str) -> None:
        if result[0] != "ok":
            return
        response = result[2]
        if response.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
            self.sessions.append((pool_id, client_id, response["Session"],
                                  response["ChallengeParameters"]["USER_ID_FOR_SRP"]))
        tokens = response.get("AuthenticationResult")
        if tokens:
            self.access.append(tokens["AccessToken"])
            if "RefreshToken" in tokens:
                self.refresh.append((pool_id, client_id, tokens["RefreshToken"]))

    def initiate(self, client: tuple[str, str], username: str, password: str, admin: bool) -> tuple:
        pool_id, client_id = client
        parameters = {"USERNAME": username, "PASSWORD": password}
        if admin:
            result = self.call("admin_initiate_auth", UserPoolId=pool_id, ClientId=client_id,
                               AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters=parameters)
        else:
            result = self.call("initiate_auth", ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters=parameters)
        self.signed_in(result, pool_id, client_id)
        return result

    def respond(self, session: tuple[str, str, str, str], username: str, password: str, admin: bool) -> tuple:
        pool_id, client_id, token, _ = session
        responses = {"USERNAME": username, "NEW_PASSWORD": password}
        if admin:
            result = self.call("admin_respond_to_auth_challenge", UserPoolId=pool_id, ClientId=client_id,
                               ChallengeName="NEW_PASSWORD_REQUIRED", Session=token, ChallengeResponses=responses)
        else:
            result = self.call("respond_to_auth_challenge", ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
                               Session=token, ChallengeResponses=responses)
        self.signed_in(result, pool_id, client_id)
        return result

    @precondition(lambda self: self.clients)
    @rule(client=INDEX, known=KNOWN, typed=WHO, password=PASSWORD, admin=st.booleans())
    def sign_in(self, client, known, typed, password, admin):
        chosen = pick(self.clients, client)
        self.initiate(chosen, self.who(chosen[0], known, typed), password, admin)

    @precondition(lambda self: self.sessions)
    @rule(session=INDEX, password=st.sampled_from([NEW, NEW, OTHER, TEMP, WEAK]), admin=st.booleans(),
          by_alias=st.booleans())
    def new_password(self, session, password, admin, by_alias):
        chosen = pick(self.sessions, session)
        self.respond(chosen, "x@example.com" if by_alias else chosen[3], password, admin)

    @precondition(lambda self: self.clients)
    @rule(client=INDEX, name=st.sampled_from(NAMES), email=st.sampled_from([None, *EMAILS]), admin=st.booleans())
    def sign_up_and_in(self, client, name, email, admin):
        """A whole first sign-in in three steps (each compared): AdminCreateUser with a
        temporary password, a sign-in that meets NEW_PASSWORD_REQUIRED, the answer."""
        pool_id, _ = chosen = pick(self.clients, client)
        attributes = [] if email is None else [{"Name": "email", "Value": email},
                                               {"Name": "email_verified", "Value": "true"}]
        created = self.call("admin_create_user", UserPoolId=pool_id, Username=name, TemporaryPassword=TEMP,
                            MessageAction="SUPPRESS", UserAttributes=attributes)
        if created[0] != "ok":
            return
        self.users.append((pool_id, name))
        started = self.initiate(chosen, name, TEMP, admin)
        if started[0] == "ok" and started[2].get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
            self.respond(self.sessions[-1], started[2]["ChallengeParameters"]["USER_ID_FOR_SRP"], NEW, admin)

    @precondition(lambda self: self.refresh)
    @rule(token=INDEX, other_client=st.booleans())
    def refresh_tokens(self, token, other_client):
        pool_id, client_id, refresh = pick(self.refresh, token)
        if other_client:
            client_id = pick(self.clients, token + 1)[1]
        result = self.call("initiate_auth", ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                           AuthParameters={"REFRESH_TOKEN": refresh})
        self.signed_in(result, pool_id, client_id)

    @precondition(lambda self: self.access)
    @rule(token=INDEX)
    def get_user(self, token):
        self.call("get_user", AccessToken=pick(self.access, token))

    @precondition(lambda self: self.access)
    @rule(token=INDEX)
    def global_sign_out(self, token):
        self.call("global_sign_out", AccessToken=pick(self.access, token))

    @rule(pool=INDEX, known=KNOWN, typed=WHO)
    def admin_user_global_sign_out(self, pool, known, typed):
        pool_id = self.pool(pool)
        self.call("admin_user_global_sign_out", UserPoolId=pool_id, Username=self.who(pool_id, known, typed))

    @precondition(lambda self: self.refresh)
    @rule(token=INDEX, other_client=st.booleans())
    def revoke_token(self, token, other_client):
        _, client_id, refresh = pick(self.refresh, token)
        if other_client:
            client_id = pick(self.clients, token + 1)[1]
        self.call("revoke_token", ClientId=client_id, Token=refresh)

    # -- groups ----------------------------------------------------------------------------------

    @rule(pool=INDEX, name=GROUPS, precedence=st.sampled_from([None, 0, 1, 2**31 - 1]),
          role=st.sampled_from([None, "arn:aws:iam::123456789012:role/a"]))
    def create_or_update_group(self, pool, name, precedence, role):
        request: dict[str, Any] = {"UserPoolId": self.pool(pool), "GroupName": name}
        for key, value in (("Precedence", precedence), ("RoleArn", role)):
            if value is not None:
                request[key] = value
        if self.call("create_group", **request)[:2] == ("error", "GroupExistsException"):
            self.call("update_group", **request, Description=f"updated {name}")

    @rule(name=GROUPS, known=KNOWN, typed=WHO)
    def group_with_a_member(self, name, known, typed):
        """A group of the first live pool (made unless it exists) and a user added to it,
        so that memberships meet deletes of their group and of their user."""
        pool_id = self.pool(0)
        self.call("create_group", UserPoolId=pool_id, GroupName=name, Precedence=len(name))
        self.call("admin_add_user_to_group", UserPoolId=pool_id, GroupName=name, Username=self.who(pool_id, known, typed))

    @rule(pool=INDEX, name=GROUPS)
    def delete_group(self, pool, name):
        self.call("delete_group", UserPoolId=self.pool(pool), GroupName=name)

    @rule(pool=INDEX, name=GROUPS, known=KNOWN, typed=WHO, add=st.booleans())
    def add_or_remove_member(self, pool, name, known, typed, add):
        pool_id = self.pool(pool)
        self.call("admin_add_user_to_group" if add else "admin_remove_user_from_group", UserPoolId=pool_id,
                  GroupName=name, Username=self.who(pool_id, known, typed))

    @rule(pool=INDEX, name=GROUPS, known=KNOWN, typed=WHO, limit=st.sampled_from([None, 1, 2]),
          pages=st.integers(1, 3))
    def list_groups_and_members(self, pool, name, known, typed, limit, pages):
        pool_id = self.pool(pool)
        for operation, request in (
            ("list_groups", {"UserPoolId": pool_id}),
            ("list_users_in_group", {"UserPoolId": pool_id, "GroupName": name}),
            ("admin_list_groups_for_user", {"UserPoolId": pool_id, "Username": self.who(pool_id, known, typed)}),
        ):
            if limit is not None:
                request["Limit"] = limit
            for _ in range(pages):
                result = self.call(operation, **request)
                if result[0] != "ok" or "NextToken" not in result[2]:
                    break
                request["NextToken"] = result[2]["NextToken"]

    # -- time ----------------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([1, 61, 181, 901, 3601, 8 * 86400, 31 * 86400]))
    def advance_clock(self, seconds):
        for backend in self.backends:
            backend.clock.advance(timedelta(seconds=seconds))

    @rule()
    def purge_expired(self):
        """Housekeeping (authflow's own `Client.purge_expired`): the same records go."""
        self.call("purge_expired")

    # -- contents ------------------------------------------------------------------------------------

    def contents(self, backend: Backend, ids: tuple[str, ...], subs: tuple[str, ...]) -> tuple:
        aliases = tuple((kind, value) for kind, values in (("email", EMAILS), ("phone_number", PHONES),
                                                           ("preferred_username", PREFERRED))
                        for v in values for value in {v, v.lower()})
        view = port_view(backend.store, pool_ids=(*self.pools, MISSING_POOL), ids=ids, aliases=aliases, subs=subs)
        return view, backend.rows(), backend.outbox.messages

    def check_contents(self) -> None:
        if not self.backends:
            return
        snapshot = self.backends[0].store.snapshot()  # the in-memory store names every id it holds
        ids = set(self.ids) | set(snapshot.sessions) | set(snapshot.refresh_tokens)
        subs = set(self.subs)
        for auth in snapshot.auth.values():
            ids |= set(auth.failed_sign_ins) | set(auth.refresh_by_origin)
        for users in snapshot.users.values():
            subs |= set(users.by_sub)
            ids |= set(users.devices)
        ids_, subs_ = tuple(sorted(ids)), tuple(sorted(subs))
        first, *others = self.backends
        expected = self.contents(first, ids_, subs_)
        for backend in others:
            got = self.contents(backend, ids_, subs_)
            for part, label in enumerate(("what the port shows", "row counts", "outbox")):
                if got[part] != expected[part]:
                    self.broken = True
                    raise AssertionError(f"{first.name} and {backend.name} differ in {label}:\n"
                                         f"{describe_difference(expected[part], got[part])}")

    @invariant()
    def contents_agree_every_few_steps(self):
        self.steps += 1
        if self.steps % CHECK_EVERY == 0:
            self.check_contents()

    def teardown(self):
        try:
            if not self.broken:
                self.check_contents()
        finally:
            for backend in self.backends:
                try:
                    backend.close()
                except Exception as err:  # noqa: BLE001 -- close the others, then report
                    self.broken = True
                    raise AssertionError(f"closing the {backend.name} store failed: {err!r}") from err


def describe_difference(expected: Any, got: Any, path: str = "") -> str:
    """The first place two nested values differ, for a readable failure."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(set(expected) | set(got), key=repr):
            if expected.get(key, "<absent>") != got.get(key, "<absent>"):
                return describe_difference(expected.get(key, "<absent>"), got.get(key, "<absent>"), f"{path}[{key!r}]")
    if isinstance(expected, list | tuple) and isinstance(got, list | tuple) and len(expected) == len(got):
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            if a != b:
                return describe_difference(a, b, f"{path}[{i}]")
    return f"at {path or 'the top'}:\n  expected {expected!r}\n  got      {got!r}"


# -- the test ------------------------------------------------------------------------------------------


def postgres_dsn(request) -> tuple[str | None, str]:
    """The DSN of the session's PostgreSQL server (the `pg_dsn` fixture), or None and why
    not. Only a skip is caught: in CI (`AUTHFLOW_REQUIRE_EXTERNAL=1`) `need` and the
    fixture fail the test instead."""
    try:
        try:
            import psycopg  # noqa: F401
        except ImportError as err:
            need(False, f"psycopg is not installed ({err}); pip install 'authflow[postgres]'")
        return request.getfixturevalue("pg_dsn"), ""
    except pytest.skip.Exception as skipped:
        return None, skipped.msg or "PostgreSQL is not available"


def test_memory_sqlite_and_postgres_stores_agree(request, tmp_path):
    dsn, why_not = postgres_dsn(request)
    numbers = itertools.count()
    factories: dict[str, Callable[[int], Backend]] = {
        "memory": memory_backend,
        "sqlite": lambda seed: sqlite_backend(seed, tmp_path / f"store-{next(numbers)}.db"),
    }
    postgres = None if dsn is None else PostgresSchema(dsn, f"agree_{os.getpid()}")
    if postgres is not None:
        factories["postgres"] = postgres.backend
    machine = type("StoresAgreeHere", (StoresAgree,), {"factories": factories})
    try:
        run_state_machine_as_test(machine, settings=settings(settings.default, stateful_step_count=STEPS))
    finally:
        if postgres is not None:
            postgres.close()
    if dsn is None:
        pytest.skip(f"MemoryStore and SqliteStore agreed; the PostgreSQL part did not run: {why_not}")
