"""Several secrets per app client: AddUserPoolClientSecret, ListUserPoolClientSecrets,
DeleteUserPoolClientSecret.

Theory of operation: the rules are `authflow.core.client_secrets`; the secrets are the
client's sealed blob (`AppClient.secret`), so each change is one versioned write of the
client record: two concurrent adds cannot both pass the two-secret limit, and a deleted
secret stops working with the commit that deletes it (every check opens the blob anew).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from authflow.core import client_secrets as core
from authflow.service.clients import require_client
from authflow.service.engine import Engine
from authflow.service.registry import operation


@operation("AddUserPoolClientSecret")
def add_user_pool_client_secret(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    given = request.get("ClientSecret")
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        client = require_client(tx, pool.id, request["ClientId"])
        value = given if given is not None else engine.new_client_secret()
        entries, entry = core.add(engine.client_secret_entries(client), client_id=client.id, value=value, now=now)
        tx.put_client(replace(
            client, secret=engine.seal_client_secrets(client.id, entries), modified=now, version=client.version + 1,
        ))
    # The value only when Cognito made it (API reference: not for custom secrets).
    return {"ClientSecretDescriptor": core.descriptor(entry, with_value=given is None)}


@operation("ListUserPoolClientSecrets")
def list_user_pool_client_secrets(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # At most two secrets: one page, no NextToken (API reference).
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        client = require_client(tx, pool.id, request["ClientId"])
    return {"ClientSecrets": [core.descriptor(e) for e in engine.client_secret_entries(client)]}


@operation("DeleteUserPoolClientSecret")
def delete_user_pool_client_secret(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        client = require_client(tx, pool.id, request["ClientId"])
        entries = core.delete(
            engine.client_secret_entries(client), client_id=client.id, secret_id=request["ClientSecretId"],
        )
        tx.put_client(replace(
            client, secret=engine.seal_client_secrets(client.id, entries), modified=now, version=client.version + 1,
        ))
    return {}
