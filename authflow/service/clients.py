"""Service functions for app clients.

Theory of operation: the configuration rules are `authflow.core.client_config`; what
they need of the pool besides its configuration (the custom scopes of its resource
servers, its identity providers) is read in the same transaction (`pool_oauth`), so a
client can never be saved naming a scope or provider deleted meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from authflow.core import branding, oauth_resources, pool_settings
from authflow.core import client_config as cc
from authflow.core.records import AppClient
from authflow.errors import ResourceNotFoundException
from authflow.service.engine import Engine
from authflow.service.identity_providers import providers_of
from authflow.service.pools import decode_next_token, encode_next_token
from authflow.service.registry import operation
from authflow.service.resource_servers import resource_servers_of
from authflow.service.terms import delete_terms_of_client


def require_client(tx, pool_id: str, client_id: str) -> AppClient:
    client = tx.get_client(client_id)
    if client is None or client.pool_id != pool_id:
        raise ResourceNotFoundException(f"User pool client {client_id} does not exist.")
    return client


def pool_oauth(tx, pool_id: str) -> cc.PoolOAuth:
    """The pool's custom scopes and identity providers, which clients' OAuth settings may name."""
    return cc.PoolOAuth(
        pool_id=pool_id,
        custom_scopes=oauth_resources.custom_scopes(resource_servers_of(tx, pool_id)),
        providers=frozenset(p.name for p in providers_of(tx, pool_id)),
    )


def render(engine: Engine, client: AppClient) -> dict[str, Any]:
    return cc.render_client(
        client.config,
        pool_id=client.pool_id,
        client_id=client.id,
        client_secret=engine.client_secret(client),
        created=client.created,
        modified=client.modified,
    )


@operation("CreateUserPoolClient")
def create_user_pool_client(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        config = cc.new_client_config(request, pool_config=pool.config, resources=pool_oauth(tx, pool.id))
        client_id = engine.new_client_id()
        while tx.get_client(client_id) is not None:
            client_id = engine.new_client_id()
        secret = request.get("ClientSecret")
        if secret is None and request.get("GenerateSecret"):
            secret = engine.new_client_secret()
        client = AppClient(
            pool_id=pool.id, id=client_id, config=config, created=now, modified=now,
            secret=None if secret is None else engine.seal(secret.encode("utf-8"), f"client-secret:{client_id}"),
        )
        tx.put_client(client)
    return {"UserPoolClient": render(engine, client)}


@operation("DescribeUserPoolClient")
def describe_user_pool_client(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        engine.require_pool(tx, request["UserPoolId"])
        client = require_client(tx, request["UserPoolId"], request["ClientId"])
    return {"UserPoolClient": render(engine, client)}


@operation("UpdateUserPoolClient")
def update_user_pool_client(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        client = require_client(tx, pool.id, request["ClientId"])
        config = cc.updated_client_config(
            client.config, request, pool_config=pool.config, has_secret=client.secret is not None,
            resources=pool_oauth(tx, pool.id),
        )
        client = replace(client, config=config, modified=now, version=client.version + 1)
        tx.put_client(client)
    return {"UserPoolClient": render(engine, client)}


@operation("DeleteUserPoolClient")
def delete_user_pool_client(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        engine.require_pool(tx, request["UserPoolId"])
        client = require_client(tx, request["UserPoolId"], request["ClientId"])
        delete_terms_of_client(tx, client.pool_id, client.id)
        _delete_client_settings(tx, client.pool_id, client.id)
        tx.delete_client(client.id)
    return {}


def _delete_client_settings(tx, pool_id: str, client_id: str) -> None:
    """What belongs to one app client goes with it: its risk configuration, its UI
    customization and its managed-login style (a later client never inherits them)."""
    pointer = tx.get_resource(pool_id, branding.BRANDING_CLIENT, client_id)
    if pointer is not None:
        style_id = pointer.body["ManagedLoginBrandingId"]
        if tx.get_resource(pool_id, branding.BRANDING, style_id) is not None:
            tx.delete_resource(pool_id, branding.BRANDING, style_id)
        tx.delete_resource(pool_id, branding.BRANDING_CLIENT, client_id)
    for kind in (pool_settings.RISK_CONFIGURATION, branding.UI_CUSTOMIZATION):
        if tx.get_resource(pool_id, kind, client_id) is not None:
            tx.delete_resource(pool_id, kind, client_id)


@operation("ListUserPoolClients")
def list_user_pool_clients(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    limit = request.get("MaxResults") or 60
    after = decode_next_token(request.get("NextToken"))
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        clients = tx.list_clients(pool.id, after=after, limit=limit + 1)
    page = clients[:limit]
    response: dict[str, Any] = {
        "UserPoolClients": [cc.render_client_description(c.config, pool_id=c.pool_id, client_id=c.id) for c in page]
    }
    if len(clients) > limit:
        response["NextToken"] = encode_next_token(page[-1].id)
    return response
