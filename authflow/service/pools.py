"""Service functions for user pools."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from authflow.core import oauth_resources, user_import
from authflow.core import pool_config as pc
from authflow.core.records import UserPool
from authflow.core.schema import added_custom_attributes
from authflow.errors import InvalidParameterException, UserImportInProgressException
from authflow.service.domains import domains_of
from authflow.service.engine import Engine
from authflow.service.keys import new_keys
from authflow.service.registry import operation

POOL_SECRET_BYTES = 32


def describe(engine: Engine, tx, pool: UserPool) -> dict[str, Any]:
    # Domain (the prefix) and CustomDomain (the FQDN) are the pool's domains as held now.
    domains = oauth_resources.pool_domain_members(domains_of(tx, pool.id))
    return pc.render_user_pool(
        {**pool.config, **domains},
        pool_id=pool.id,
        arn=pool.arn,
        created=pool.created,
        modified=pool.modified,
        estimated_users=tx.count_users(pool.id),
    )


@operation("CreateUserPool")
def create_user_pool(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    config = pc.new_pool_config(request)
    now = engine.now()
    pool_id = engine.new_pool_id()
    keys = new_keys(engine, pool_id, now)  # slow: before the write transaction
    with engine.store.transaction() as tx:
        while tx.get_pool(pool_id) is not None:
            pool_id = engine.new_pool_id()
            keys = [replace(k, pool_id=pool_id) for k in keys]
        pool = UserPool(
            id=pool_id,
            arn=f"arn:aws:cognito-idp:{engine.region}:{engine.config.account_id}:userpool/{pool_id}",
            config=config,
            created=now,
            modified=now,
            secret=engine.seal(engine.entropy.random_bytes(POOL_SECRET_BYTES), f"pool-secret:{pool_id}"),
        )
        tx.put_pool(pool)
        for key in keys:
            tx.put_signing_key(key)
        return {"UserPool": describe(engine, tx, pool)}


@operation("DescribeUserPool")
def describe_user_pool(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        return {"UserPool": describe(engine, tx, pool)}


def refuse_while_importing(tx, pool: UserPool) -> None:
    """UpdateUserPool, AddCustomAttributes and DeleteUserPool wait for the pool's user
    import: a job that is running imports against the schema it started with."""
    after = None
    while True:
        jobs = tx.list_resources(pool.id, user_import.JOB, after=after, limit=500)
        if any(job.body.get("Status") in user_import.RUNNING for job in jobs):
            raise UserImportInProgressException(f"A user import job is in progress for user pool {pool.id}.")
        if len(jobs) < 500:
            return
        after = jobs[-1].name


@operation("UpdateUserPool")
def update_user_pool(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        refuse_while_importing(tx, pool)
        config = pc.updated_pool_config(pool.config, request)
        tx.put_pool(replace(pool, config=config, modified=now, version=pool.version + 1))
    return {}


@operation("AddCustomAttributes")
def add_custom_attributes(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    """New custom attributes, usable at once: in UserAttributes (as the app clients'
    Read/WriteAttributes allow), in tokens (as strings), and, where ListUsers allows it,
    nowhere in its filters (custom attributes are not searchable on Cognito)."""
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        refuse_while_importing(tx, pool)
        schema = added_custom_attributes(pool.config.get("SchemaAttributes") or (), request["CustomAttributes"])
        tx.put_pool(replace(pool, config={**pool.config, "SchemaAttributes": schema}, modified=now,
                            version=pool.version + 1))
    return {}


@operation("DeleteUserPool")
def delete_user_pool(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        if pc.deletion_protection(pool.config):
            raise InvalidParameterException(
                "The user pool cannot be deleted because deletion protection is activated."
            )
        refuse_while_importing(tx, pool)
        if domains_of(tx, pool.id):
            # As on Cognito: the domain goes first (DeleteUserPoolDomain); the pool's other
            # resources (resource servers, identity providers, links) go with the pool.
            raise InvalidParameterException(
                "User pool cannot be deleted. It has a domain configured that should be deleted first."
            )
        tx.delete_pool(pool.id)
    return {}


@operation("ListUserPools")
def list_user_pools(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    limit = request["MaxResults"]
    after = decode_next_token(request.get("NextToken"))
    with engine.store.transaction() as tx:
        pools = tx.list_pools(after=after, limit=limit + 1)
    page = pools[:limit]
    response: dict[str, Any] = {
        "UserPools": [
            pc.render_pool_description(p.config, pool_id=p.id, created=p.created, modified=p.modified) for p in page
        ]
    }
    if len(pools) > limit:
        response["NextToken"] = encode_next_token(page[-1].id)
    return response


def encode_next_token(last_id: str) -> str:
    """Keyset position as an opaque token (ids are not secret; no MAC needed)."""
    return base64.urlsafe_b64encode(last_id.encode("utf-8")).decode("ascii")


def decode_next_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        position = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidParameterException("Invalid NextToken.") from None
    # The decoder skips characters outside its alphabet ("%%%" decodes to ""): only a token
    # this module could have written is one.
    if not position or encode_next_token(position) != token:
        raise InvalidParameterException("Invalid NextToken.")
    return position
