"""User-pool domains: CreateUserPoolDomain, DescribeUserPoolDomain, UpdateUserPoolDomain,
DeleteUserPoolDomain; and `domains_of` (DescribeUserPool's Domain / CustomDomain).

Theory of operation: a domain is a `PoolResource` of kind "domain" whose name is unique
across every pool. The service checks the name is free and the store enforces it again:
a racing writer that took the name meanwhile makes the put raise `UniqueViolation`,
which becomes the same InvalidParameterException the check gives. The rules are
`authflow.core.oauth_resources`. A domain is live at once (Status ACTIVE): the OAuth
endpoints and hosted pages find it with `tx.find_resource("domain", name)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import oauth_resources as core
from authflow.core.records import PoolResource
from authflow.errors import InvalidParameterException
from authflow.ports import UniqueViolation
from authflow.service.engine import Engine
from authflow.service.registry import operation

#: A pool holds at most a prefix and a custom domain; a page this long lists them all.
_DOMAINS_PER_POOL = 10


def domains_of(tx, pool_id: str) -> list[PoolResource]:
    return tx.list_resources(pool_id, core.DOMAIN, after=None, limit=_DOMAINS_PER_POOL)


def _put(tx, domain: PoolResource) -> None:
    try:
        tx.put_resource(domain)
    except UniqueViolation:
        raise InvalidParameterException(core.DOMAIN_TAKEN, member="Domain") from None


@operation("CreateUserPoolDomain")
def create_user_pool_domain(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        holder = tx.find_resource(core.DOMAIN, request["Domain"])
        domain = core.create_domain(
            pool.id, request, taken_by=holder.pool_id if holder else None, pool_domains=domains_of(tx, pool.id),
            now=now,
        )
        _put(tx, domain)
    return core.domain_response(domain)


@operation("DescribeUserPoolDomain")
def describe_user_pool_domain(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    """An unknown domain is no error: the description is empty (as on AWS)."""
    with engine.store.transaction() as tx:
        domain = tx.find_resource(core.DOMAIN, request["Domain"])
    if domain is None:
        return {"DomainDescription": {}}
    return {"DomainDescription": core.domain_description(domain, account_id=engine.config.account_id)}


@operation("UpdateUserPoolDomain")
def update_user_pool_domain(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        domain = core.require_domain_of(pool.id, tx.get_resource(pool.id, core.DOMAIN, request["Domain"]))
        domain = core.update_domain(domain, request, now=now)
        _put(tx, domain)
    return core.domain_response(domain)


@operation("DeleteUserPoolDomain")
def delete_user_pool_domain(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        domain = core.require_domain_of(pool.id, tx.get_resource(pool.id, core.DOMAIN, request["Domain"]))
        tx.delete_resource(pool.id, core.DOMAIN, domain.name)
    return {}
