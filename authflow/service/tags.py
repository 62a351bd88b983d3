"""Tags: TagResource, UntagResource, ListTagsForResource on user pools.

The tags live in the pool record's configuration (`UserPoolTags`, see `authflow.core.tags`),
so they are read and written in the same transaction as the pool and persist in every store
with it. Tagging changes no pool setting, so the pool's LastModifiedDate stays as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from authflow.core import tags as core
from authflow.core.records import UserPool
from authflow.service.engine import Engine
from authflow.service.registry import operation


def _tagged_pool(tx, arn: str) -> UserPool:
    pool = tx.get_pool(core.pool_id_of(arn))
    if pool is None or pool.arn != arn:  # another region's or account's pool is not this one
        raise core.not_found(arn)
    return pool


def _retag(engine: Engine, arn: str, change) -> dict[str, Any]:
    """The pool's tags as `change(config)` makes them, in one transaction."""
    with engine.store.transaction() as tx:
        pool = _tagged_pool(tx, arn)
        tx.put_pool(replace(pool, config=change(pool.config), version=pool.version + 1))
    return {}


@operation("TagResource")
def tag_resource(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    return _retag(engine, request["ResourceArn"], lambda config: core.tagged(config, request["Tags"]))


@operation("UntagResource")
def untag_resource(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    return _retag(engine, request["ResourceArn"], lambda config: core.untagged(config, request["TagKeys"]))


@operation("ListTagsForResource")
def list_tags_for_resource(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = _tagged_pool(tx, request["ResourceArn"])
    return {"Tags": core.tags_of(pool.config)}
