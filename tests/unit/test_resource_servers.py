"""CreateResourceServer, DescribeResourceServer, UpdateResourceServer, DeleteResourceServer
and ListResourceServers through the Client (reference oauth2-hosted-login.md §4): shapes,
the duplicate and not-found errors, the quota, scope names unique in a server, Update as a
full replacement, paging, and what deleting a server does to clients that name its scopes.
Every refusal leaves the store exactly as it was."""

from __future__ import annotations

import pytest

from authflow.core import oauth_resources as core
from authflow.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)
from tests.oauth_resources import Pool

READ = {"ScopeName": "photos.read", "ScopeDescription": "Read photos"}
WRITE = {"ScopeName": "photos.write", "ScopeDescription": "Write photos"}
API = "https://photos.example.com"


def create(pool: Pool, identifier: str = API, scopes=(READ,), name: str = "Photos") -> dict:
    return pool.client.create_resource_server(UserPoolId=pool.id, Identifier=identifier, Name=name,
                                              Scopes=list(scopes))["ResourceServer"]


def test_create_describe_and_list_show_the_server():
    pool = Pool()
    created = create(pool, scopes=(READ, WRITE))
    assert created == {"UserPoolId": pool.id, "Identifier": API, "Name": "Photos", "Scopes": [READ, WRITE]}
    described = pool.client.describe_resource_server(UserPoolId=pool.id, Identifier=API)["ResourceServer"]
    assert described == created
    assert pool.client.list_resource_servers(UserPoolId=pool.id, MaxResults=10)["ResourceServers"] == [created]


def test_a_server_without_scopes_has_no_scopes_member():
    pool = Pool()
    created = pool.client.create_resource_server(UserPoolId=pool.id, Identifier="api", Name="api")["ResourceServer"]
    assert created == {"UserPoolId": pool.id, "Identifier": "api", "Name": "api"}


def test_duplicate_identifier_is_refused_with_motos_message():
    pool = Pool()
    create(pool)
    pool.unchanged(InvalidParameterException, f"{API} already exists in user pool {pool.id}.",
                   pool.client.create_resource_server, UserPoolId=pool.id, Identifier=API, Name="Again")


def test_scope_names_are_unique_within_a_server():
    pool = Pool()
    twice = [READ, {"ScopeName": "photos.read", "ScopeDescription": "again"}]
    message = "Scope names must be unique within a resource server: photos.read is given twice."
    pool.unchanged(InvalidParameterException, message,
                   pool.client.create_resource_server, UserPoolId=pool.id, Identifier=API, Name="x", Scopes=twice)
    create(pool)
    pool.unchanged(InvalidParameterException, message,
                   pool.client.update_resource_server, UserPoolId=pool.id, Identifier=API, Name="x", Scopes=twice)


def test_a_scope_name_may_not_hold_a_slash():
    pool = Pool()
    bad = {"ScopeName": "a/b", "ScopeDescription": "d"}
    with pytest.raises(InvalidParameterException) as raised:
        pool.client.create_resource_server(UserPoolId=pool.id, Identifier=API, Name="x", Scopes=[bad])
    assert "scopes.1.member.scopeName" in raised.value.message


def test_the_pool_holds_at_most_25_servers():
    pool = Pool()
    for i in range(core.MAX_RESOURCE_SERVERS):
        create(pool, identifier=f"api-{i:02d}")
    pool.unchanged(LimitExceededException, "The user pool has reached its limit of 25 resource servers.",
                   pool.client.create_resource_server, UserPoolId=pool.id, Identifier="one-more", Name="x")


def test_update_is_a_full_replacement():
    pool = Pool()
    create(pool, scopes=(READ, WRITE))
    updated = pool.client.update_resource_server(UserPoolId=pool.id, Identifier=API, Name="Renamed")["ResourceServer"]
    assert updated == {"UserPoolId": pool.id, "Identifier": API, "Name": "Renamed"}
    assert pool.client.describe_resource_server(UserPoolId=pool.id, Identifier=API)["ResourceServer"] == updated


def test_unknown_server_is_not_found_everywhere():
    pool = Pool()
    message = f"nope does not exist in user pool {pool.id}."
    pool.unchanged(ResourceNotFoundException, message,
                   pool.client.describe_resource_server, UserPoolId=pool.id, Identifier="nope")
    pool.unchanged(ResourceNotFoundException, message,
                   pool.client.update_resource_server, UserPoolId=pool.id, Identifier="nope", Name="x")
    pool.unchanged(ResourceNotFoundException, message,
                   pool.client.delete_resource_server, UserPoolId=pool.id, Identifier="nope")


def test_unknown_pool():
    pool = Pool()
    pool.unchanged(ResourceNotFoundException, "User pool us-east-1_nothere1 does not exist.",
                   pool.client.create_resource_server, UserPoolId="us-east-1_nothere1", Identifier="a", Name="a")
    pool.unchanged(ResourceNotFoundException, "User pool us-east-1_nothere1 does not exist.",
                   pool.client.list_resource_servers, UserPoolId="us-east-1_nothere1", MaxResults=5)


def test_list_pages_in_identifier_order():
    pool = Pool()
    for identifier in ("c-api", "a-api", "b-api"):
        create(pool, identifier=identifier)
    first = pool.client.list_resource_servers(UserPoolId=pool.id, MaxResults=2)
    assert [s["Identifier"] for s in first["ResourceServers"]] == ["a-api", "b-api"]
    rest = pool.client.list_resource_servers(UserPoolId=pool.id, MaxResults=2, NextToken=first["NextToken"])
    assert [s["Identifier"] for s in rest["ResourceServers"]] == ["c-api"] and "NextToken" not in rest
    pool.unchanged(InvalidParameterException, "Invalid NextToken.",
                   pool.client.list_resource_servers, UserPoolId=pool.id, MaxResults=2, NextToken="_w==")


def test_deleting_a_server_keeps_clients_scopes_inactive_until_it_returns():
    pool = Pool()
    create(pool)
    app = pool.env.app(pool.id, AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                       AllowedOAuthScopes=["openid", f"{API}/photos.read"], CallbackURLs=["https://app.example.com/cb"])
    pool.client.delete_resource_server(UserPoolId=pool.id, Identifier=API)
    described = pool.client.describe_user_pool_client(UserPoolId=pool.id, ClientId=app["ClientId"])["UserPoolClient"]
    assert described["AllowedOAuthScopes"] == ["openid", f"{API}/photos.read"]
    with pool.client.store.transaction() as tx:
        servers = tx.list_resources(pool.id, "resource_server", after=None, limit=10)
    assert core.active_scopes(described["AllowedOAuthScopes"], servers) == ["openid"]
    create(pool)
    with pool.client.store.transaction() as tx:
        servers = tx.list_resources(pool.id, "resource_server", after=None, limit=10)
    assert core.active_scopes(described["AllowedOAuthScopes"], servers) == ["openid", f"{API}/photos.read"]


def test_deleting_the_pool_deletes_its_servers():
    pool = Pool()
    create(pool)
    pool.client.delete_user_pool(UserPoolId=pool.id)
    assert pool.client.store.snapshot().auth.get(pool.id) is None
