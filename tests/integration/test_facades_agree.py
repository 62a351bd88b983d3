"""The two facades agree: one scenario, run once through `authflow.Client` in process and
once through boto3 against `authflow serve`'s app, on identically seeded engines, gives the
same outcome at every step.

The scenario is ONE table of steps (operation, parameters built from what earlier steps
captured, expected error if any). Both engines start from the same `SeededEntropy`, the
same `ManualClock` time (near the real time, because boto3 signs with it) and the same
configuration, so every id, token, session and request id must be byte-identical: each
request draws the same entropy whichever facade carries it. Outcomes are compared as
response dicts without `ResponseMetadata` (except its request id), with datetimes as epoch
milliseconds (boto3 parses the wire's epoch seconds into aware datetimes), or as
(error code, message). At the end the two stores and outboxes must be equal too.

One deviation from `TEST_CONFIG`: its key factory `TEST_KEYS` is process-global and hands
its four RSA keys out in rotation, so the second engine's pool would get different signing
keys from the first (and so different token signatures) depending on how many pools the
process made before. Each engine here gets its own factory over the same four keys,
starting at the first; `test_test_keys_differ_between_identically_seeded_engines` shows why.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy
from authflow.crypto.keys import TEST_KEYS
from authflow.errors import CognitoError
from tests.conftest import TEST_CONFIG
from tests.helpers import store_contents
from tests.http import REGION, now, serving

SEED = 20260101
TEMP = "Temp-Passw0rd!"
NEW = "New-Passw0rd!x"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

Params = dict[str, Any]
Captured = dict[str, Any]


@dataclass(frozen=True)
class Step:
    operation: str  # boto3's method name
    params: Callable[[Captured], Params]
    capture: Callable[[dict, Captured], None] | None = None
    error: str | None = None  # the error code the step is meant to meet


def _secret_hash(c: Captured, username: str) -> str:
    message = (username + c["secret_client"]).encode()
    return base64.b64encode(hmac.new(c["secret"].encode(), message, hashlib.sha256).digest()).decode()


def _put(**paths: tuple[str, ...]) -> Callable[[dict, Captured], None]:
    """A capture that stores response[path...] under each name."""
    def capture(response: dict, c: Captured) -> None:
        for name, path in paths.items():
            value = response
            for key in path:
                value = value[key]
            c[name] = value
    return capture


SCENARIO: list[Step] = [
    # Pools and app clients.
    Step("create_user_pool", lambda c: {
        "PoolName": "facades", "AliasAttributes": ["email"], "AutoVerifiedAttributes": ["email"],
        "Policies": {"PasswordPolicy": {"MinimumLength": 10, "RequireSymbols": True}},
        "Schema": [{"Name": "tenant", "AttributeDataType": "String", "Mutable": True}],
        "UserPoolTags": {"team": "auth"},
    }, _put(pool=("UserPool", "Id"))),
    Step("describe_user_pool", lambda c: {"UserPoolId": c["pool"]}),
    Step("update_user_pool", lambda c: {
        "UserPoolId": c["pool"], "AutoVerifiedAttributes": ["email"],
        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": True}},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True, "UnusedAccountValidityDays": 3},
    }),
    Step("describe_user_pool", lambda c: {"UserPoolId": c["pool"]}),
    Step("create_user_pool", lambda c: {"PoolName": "second"}, _put(pool2=("UserPool", "Id"))),
    Step("create_user_pool_client", lambda c: {
        "UserPoolId": c["pool"], "ClientName": "public", "ExplicitAuthFlows": FLOWS,
    }, _put(client=("UserPoolClient", "ClientId"))),
    Step("create_user_pool_client", lambda c: {
        "UserPoolId": c["pool"], "ClientName": "confidential", "GenerateSecret": True, "ExplicitAuthFlows": FLOWS,
        "RefreshTokenValidity": 10, "TokenValidityUnits": {"RefreshToken": "days"},
    }, _put(secret_client=("UserPoolClient", "ClientId"), secret=("UserPoolClient", "ClientSecret"))),
    Step("describe_user_pool_client", lambda c: {"UserPoolId": c["pool"], "ClientId": c["secret_client"]}),
    Step("describe_user_pool_client", lambda c: {"UserPoolId": c["pool2"], "ClientId": c["client"]},
         error="ResourceNotFoundException"),
    Step("list_user_pools", lambda c: {"MaxResults": 1}, _put(pools_token=("NextToken",))),
    Step("list_user_pools", lambda c: {"MaxResults": 10, "NextToken": c["pools_token"]}),
    Step("list_user_pool_clients", lambda c: {"UserPoolId": c["pool"], "MaxResults": 1},
         _put(clients_token=("NextToken",))),
    Step("list_user_pool_clients", lambda c: {"UserPoolId": c["pool"], "MaxResults": 5,
                                              "NextToken": c["clients_token"]}),
    # Users: aliases, ForceAliasCreation, SUPPRESS, RESEND, duplicates.
    Step("admin_create_user", lambda c: {
        "UserPoolId": c["pool"], "Username": "alice", "TemporaryPassword": TEMP, "MessageAction": "SUPPRESS",
        "UserAttributes": [{"Name": "email", "Value": "shared@example.com"},
                           {"Name": "email_verified", "Value": "true"}, {"Name": "custom:tenant", "Value": "t1"}],
    }),
    Step("admin_create_user", lambda c: {
        "UserPoolId": c["pool"], "Username": "bob", "MessageAction": "SUPPRESS",
        "UserAttributes": [{"Name": "email", "Value": "shared@example.com"}, {"Name": "email_verified", "Value": "true"}],
    }, error="AliasExistsException"),
    Step("admin_create_user", lambda c: {
        "UserPoolId": c["pool"], "Username": "bob", "ForceAliasCreation": True, "DesiredDeliveryMediums": ["EMAIL"],
        "UserAttributes": [{"Name": "email", "Value": "shared@example.com"}, {"Name": "email_verified", "Value": "true"}],
    }),  # no TemporaryPassword, no MessageAction: a generated password, sent by email
    Step("admin_create_user", lambda c: {
        "UserPoolId": c["pool"], "Username": "bob", "MessageAction": "RESEND", "DesiredDeliveryMediums": ["EMAIL"],
    }),
    Step("admin_create_user", lambda c: {
        "UserPoolId": c["pool"], "Username": "carol", "TemporaryPassword": TEMP, "MessageAction": "SUPPRESS",
        "UserAttributes": [{"Name": "email", "Value": "carol@example.com"}],
    }),
    Step("admin_create_user", lambda c: {
        "UserPoolId": c["pool"], "Username": "alice", "TemporaryPassword": TEMP, "MessageAction": "SUPPRESS",
    }, error="UsernameExistsException"),
    Step("admin_get_user", lambda c: {"UserPoolId": c["pool"], "Username": "alice"}),
    Step("admin_get_user", lambda c: {"UserPoolId": c["pool"], "Username": "shared@example.com"}),  # now bob's
    Step("admin_get_user", lambda c: {"UserPoolId": c["pool"], "Username": "nobody"}, error="UserNotFoundException"),
    Step("list_users", lambda c: {"UserPoolId": c["pool"], "Filter": 'email ^= "shared"'}),
    Step("list_users", lambda c: {"UserPoolId": c["pool"], "Limit": 2, "AttributesToGet": ["email"]},
         _put(users_token=("PaginationToken",))),
    Step("list_users", lambda c: {"UserPoolId": c["pool"], "Limit": 2, "AttributesToGet": ["email"],
                                  "PaginationToken": c["users_token"]}),
    Step("admin_update_user_attributes", lambda c: {
        "UserPoolId": c["pool"], "Username": "alice", "UserAttributes": [{"Name": "nickname", "Value": "Al"}],
    }),
    Step("admin_disable_user", lambda c: {"UserPoolId": c["pool"], "Username": "carol"}),
    Step("admin_get_user", lambda c: {"UserPoolId": c["pool"], "Username": "carol"}),
    Step("admin_enable_user", lambda c: {"UserPoolId": c["pool"], "Username": "carol"}),
    # Sign-in: NEW_PASSWORD_REQUIRED, admin sign-in, secret hash, refresh, revocation, sign-out.
    Step("initiate_auth", lambda c: {
        "ClientId": c["client"], "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": TEMP},
    }, _put(session=("Session",), alice_id=("ChallengeParameters", "USER_ID_FOR_SRP"))),
    Step("respond_to_auth_challenge", lambda c: {
        "ClientId": c["client"], "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": c["session"],
        "ChallengeResponses": {"USERNAME": c["alice_id"], "NEW_PASSWORD": NEW},
    }, _put(access=("AuthenticationResult", "AccessToken"), refresh=("AuthenticationResult", "RefreshToken"))),
    Step("respond_to_auth_challenge", lambda c: {
        "ClientId": c["client"], "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": c["session"],
        "ChallengeResponses": {"USERNAME": c["alice_id"], "NEW_PASSWORD": NEW},
    }, error="NotAuthorizedException"),  # a session answers once
    Step("initiate_auth", lambda c: {
        "ClientId": c["client"], "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": TEMP},
    }, error="NotAuthorizedException"),  # the temporary password is gone
    Step("admin_initiate_auth", lambda c: {
        "UserPoolId": c["pool"], "ClientId": c["client"], "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": NEW},
    }, _put(access2=("AuthenticationResult", "AccessToken"), refresh2=("AuthenticationResult", "RefreshToken"))),
    Step("initiate_auth", lambda c: {
        "ClientId": c["secret_client"], "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": NEW, "SECRET_HASH": _secret_hash(c, "alice")},
    }),
    Step("initiate_auth", lambda c: {
        "ClientId": c["secret_client"], "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": NEW},
    }, error="NotAuthorizedException"),  # no SECRET_HASH
    Step("initiate_auth", lambda c: {
        "ClientId": c["client"], "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": c["refresh"]},
    }),
    Step("get_user", lambda c: {"AccessToken": c["access"]}),
    Step("revoke_token", lambda c: {"ClientId": c["client"], "Token": c["refresh2"]}),
    Step("initiate_auth", lambda c: {
        "ClientId": c["client"], "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": c["refresh2"]},
    }, error="NotAuthorizedException"),
    Step("get_user", lambda c: {"AccessToken": c["access2"]}, error="NotAuthorizedException"),
    Step("global_sign_out", lambda c: {"AccessToken": c["access"]}),
    Step("get_user", lambda c: {"AccessToken": c["access"]}, error="NotAuthorizedException"),
    Step("initiate_auth", lambda c: {
        "ClientId": c["client"], "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": c["refresh"]},
    }, error="NotAuthorizedException"),
    # Refusals.
    Step("initiate_auth", lambda c: {
        "ClientId": c["client"], "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Wrong-passw0rd!"},
    }, error="NotAuthorizedException"),
    Step("initiate_auth", lambda c: {
        "ClientId": c["client"], "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "nobody", "PASSWORD": "Wrong-passw0rd!"},
    }, error="UserNotFoundException"),
    Step("admin_disable_user", lambda c: {"UserPoolId": c["pool"], "Username": "alice"}),
    Step("admin_initiate_auth", lambda c: {
        "UserPoolId": c["pool"], "ClientId": c["client"], "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "alice", "PASSWORD": NEW},
    }, error="NotAuthorizedException"),
    # Bad parameters that botocore's own client-side checks let through (pattern, maximum).
    Step("describe_user_pool", lambda c: {"UserPoolId": "no-underscore-here"}, error="InvalidParameterException"),
    Step("admin_create_user", lambda c: {"UserPoolId": c["pool"], "Username": "x" * 129},
         error="InvalidParameterException"),
    Step("list_users", lambda c: {"UserPoolId": c["pool"], "Filter": "nickname = Al"},
         error="InvalidParameterException"),
    Step("list_users", lambda c: {"UserPoolId": c["pool"], "Limit": 61}, error="InvalidParameterException"),
]


# -- running the scenario ------------------------------------------------------------------------


class _SameKeys:
    """A key factory over a fixed list of keys, starting at the first, per engine."""

    def __init__(self, keys: tuple[bytes, ...]) -> None:
        self._keys = keys
        self._next = 0

    def __call__(self) -> bytes:
        key = self._keys[self._next % len(self._keys)]
        self._next += 1
        return key


@pytest.fixture(scope="module")
def test_keys() -> tuple[bytes, ...]:
    """TEST_KEYS' four keys, in a fixed order (whatever its rotation position)."""
    return tuple(sorted({TEST_KEYS() for _ in range(4)}))


@dataclass
class Run:
    client: authflow.Client
    clock: ManualClock
    outbox: MemoryOutbox
    outcomes: list[tuple] = field(default_factory=list)
    captured: Captured = field(default_factory=dict)


def new_client(start: datetime, keys: tuple[bytes, ...] | None) -> Run:
    clock, outbox = ManualClock(start), MemoryOutbox()
    config = TEST_CONFIG if keys is None else replace(TEST_CONFIG, signing_keys=_SameKeys(keys))
    client = authflow.Client(store=MemoryStore(), clock=clock, entropy=SeededEntropy(SEED), messenger=outbox,
                             region=REGION, config=config)
    return Run(client, clock, outbox)


def normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, "naive datetime"
        return round(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def outcome_of(call: Callable[[], dict]) -> tuple:
    try:
        response = call()
    except CognitoError as err:
        return ("error", err.code, err.message)
    except ClientError as err:
        return ("error", err.response["Error"]["Code"], err.response["Error"]["Message"])
    metadata = response.pop("ResponseMetadata")
    return ("ok", metadata["RequestId"], normalise(response))


def play(run: Run, api: Any) -> None:
    """Run the scenario through `api` (an authflow.Client or a boto3 client)."""
    for step in SCENARIO:
        params = step.params(run.captured)
        result = outcome_of(lambda: getattr(api, step.operation)(**params))  # noqa: B023
        run.outcomes.append(result)
        if result[0] == "ok" and step.capture:
            step.capture(result[2], run.captured)
        run.clock.advance(timedelta(milliseconds=1500))  # dates differ from step to step


def in_process(start: datetime, keys) -> Run:
    run = new_client(start, keys)
    play(run, run.client)
    return run


def over_http(start: datetime, keys) -> Run:
    run = new_client(start, keys)
    with serving(client=run.client) as server:
        play(run, server.boto3())
    return run


def describe(i: int) -> str:
    return f"step {i} ({SCENARIO[i].operation})"


# -- the tests ---------------------------------------------------------------------------------------


def test_the_scenario_meets_its_expected_outcomes(test_keys):
    """Guards the comparison against a scenario that goes wrong early and then only
    compares identical refusals."""
    run = in_process(now(), test_keys)
    for i, (step, result) in enumerate(zip(SCENARIO, run.outcomes, strict=True)):
        if step.error is None:
            assert result[0] == "ok", f"{describe(i)}: {result}"
        else:
            assert result[:2] == ("error", step.error), f"{describe(i)}: {result}"
    assert {"pool", "client", "secret_client", "session", "access", "refresh", "access2", "refresh2",
            "pools_token", "clients_token", "users_token"} <= set(run.captured)
    assert [m.username for m in run.outbox.messages] == ["bob", "bob"]  # invitation, then RESEND


def test_client_and_boto3_over_http_agree_step_by_step(test_keys):
    start = now()
    local = in_process(start, test_keys)
    remote = over_http(start, test_keys)
    assert len(local.outcomes) == len(remote.outcomes) == len(SCENARIO)
    for i, (mine, theirs) in enumerate(zip(local.outcomes, remote.outcomes, strict=True)):
        assert mine == theirs, f"{describe(i)} differs:\n in process: {mine}\n over HTTP:  {theirs}"
    assert local.captured == remote.captured
    assert store_contents(local.client.store) == store_contents(remote.client.store)
    assert local.outbox.messages == remote.outbox.messages


def test_test_keys_differ_between_identically_seeded_engines():
    """Why the agreement test gives each engine its own key factory: with TEST_CONFIG as is,
    two engines with the same seed sign with different keys (TEST_KEYS rotates through
    four keys for the whole process), so their tokens cannot be byte-identical."""
    start = now()
    first, second = new_client(start, None), new_client(start, None)
    pools = [run.client.create_user_pool(PoolName="p")["UserPool"]["Id"] for run in (first, second)]
    assert pools[0] == pools[1]  # the seeded ids agree ...
    jwks = [run.client.get_jwks(UserPoolId=pool) for run, pool in zip((first, second), pools, strict=True)]
    assert [k["kid"] for k in jwks[0]["keys"]] == [k["kid"] for k in jwks[1]["keys"]]
    assert [k["n"] for k in jwks[0]["keys"]] != [k["n"] for k in jwks[1]["keys"]]  # ... the keys do not
