"""Resource servers: CreateResourceServer, DescribeResourceServer, UpdateResourceServer,
DeleteResourceServer, ListResourceServers; and `resource_servers_of` (the custom scopes
app clients may name, and which of a client's scopes are active).

Theory of operation: a resource server is a `PoolResource` of kind "resource_server"
named by its Identifier; its scopes are `<Identifier>/<ScopeName>`. Deleting a server,
or a scope by UpdateResourceServer, leaves app clients as they are: a client's
AllowedOAuthScopes keeps naming the scope, which is inactive (dropped from requests and
tokens) until a server defines it again (reference §4.2; `core.active_scopes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import oauth_resources as core
from authflow.core.records import PoolResource
from authflow.service.engine import Engine
from authflow.service.pools import decode_next_token, encode_next_token
from authflow.service.registry import operation


def resource_servers_of(tx, pool_id: str) -> list[PoolResource]:
    return tx.list_resources(pool_id, core.RESOURCE_SERVER, after=None, limit=core.MAX_RESOURCE_SERVERS + 1)


def _require(tx, pool_id: str, identifier: str) -> PoolResource:
    return core.require_resource_server(pool_id, identifier, tx.get_resource(pool_id, core.RESOURCE_SERVER, identifier))


@operation("CreateResourceServer")
def create_resource_server(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        server = core.create_resource_server(
            pool.id, request, existing=tx.get_resource(pool.id, core.RESOURCE_SERVER, request["Identifier"]),
            count=len(resource_servers_of(tx, pool.id)), now=now,
        )
        tx.put_resource(server)
    return {"ResourceServer": core.resource_server_type(server)}


@operation("DescribeResourceServer")
def describe_resource_server(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        return {"ResourceServer": core.resource_server_type(_require(tx, pool.id, request["Identifier"]))}


@operation("UpdateResourceServer")
def update_resource_server(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        server = core.update_resource_server(_require(tx, pool.id, request["Identifier"]), request, now=now)
        tx.put_resource(server)
    return {"ResourceServer": core.resource_server_type(server)}


@operation("DeleteResourceServer")
def delete_resource_server(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        server = _require(tx, pool.id, request["Identifier"])
        tx.delete_resource(pool.id, core.RESOURCE_SERVER, server.name)  # clients keep the scopes, inactive
    return {}


@operation("ListResourceServers")
def list_resource_servers(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    limit = request.get("MaxResults") or core.MAX_LIST_RESOURCE_SERVERS
    after = decode_next_token(request.get("NextToken"))
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        servers = tx.list_resources(pool.id, core.RESOURCE_SERVER, after=after, limit=limit + 1)
    page = servers[:limit]
    response: dict[str, Any] = {"ResourceServers": [core.resource_server_type(s) for s in page]}
    if len(servers) > limit:
        response["NextToken"] = encode_next_token(page[-1].name)
    return response
