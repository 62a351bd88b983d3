"""Terms documents: CreateTerms, DescribeTerms, DescribeTermsByClient, ListTerms,
UpdateTerms, DeleteTerms; and `sign_up_terms` (the links the hosted sign-up page shows).

Theory of operation: a terms document is a `PoolResource` of kind "terms" named by its
TermsId, so it lives in every store and goes with its pool; the rules are in
`authflow.core.terms`. Uniqueness of a TermsName per app client is checked against the
pool's documents read in the same transaction as the write. Deleting an app client deletes
its documents (`delete_terms_of_client`, called by DeleteUserPoolClient).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from authflow.core import terms as core
from authflow.core.records import PoolResource
from authflow.service.engine import Engine
from authflow.service.pools import decode_next_token, encode_next_token
from authflow.service.registry import operation

_PAGE = 1000


def terms_of_pool(tx, pool_id: str) -> list[PoolResource]:
    """Every terms document of the pool (two per app client at most)."""
    out: list[PoolResource] = []
    after: str | None = None
    while True:
        page = tx.list_resources(pool_id, core.TERMS, after=after, limit=_PAGE)
        out.extend(page)
        if len(page) < _PAGE:
            return out
        after = page[-1].name


def _require(tx, pool_id: str, terms_id: str) -> PoolResource:
    return core.require_terms(terms_id, tx.get_resource(pool_id, core.TERMS, terms_id))


@operation("CreateTerms")
def create_terms(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    terms_id = str(uuid.UUID(bytes=engine.entropy.random_bytes(16), version=4))
    with engine.store.transaction() as tx:
        pool, client = engine.require_client(tx, request["ClientId"], request["UserPoolId"])
        terms = core.create_terms(pool.id, request, terms_id=terms_id,
                                  client_terms=core.terms_of_client(terms_of_pool(tx, pool.id), client.id), now=now)
        tx.put_resource(terms)
    return {"Terms": core.terms_type(terms)}


@operation("DescribeTerms")
def describe_terms(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        return {"Terms": core.terms_type(_require(tx, pool.id, request["TermsId"]))}


@operation("DescribeTermsByClient")
def describe_terms_by_client(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool, client = engine.require_client(tx, request["ClientId"], request["UserPoolId"])
        terms = core.by_client(terms_of_pool(tx, pool.id), client.id, request["TermsName"])
    return {"Terms": core.terms_type(terms)}


@operation("UpdateTerms")
def update_terms(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        terms = _require(tx, pool.id, request["TermsId"])
        siblings = core.terms_of_client(terms_of_pool(tx, pool.id), terms.body["ClientId"])
        terms = core.update_terms(terms, request, client_terms=siblings, now=now)
        tx.put_resource(terms)
    return {"Terms": core.terms_type(terms)}


@operation("DeleteTerms")
def delete_terms(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        terms = _require(tx, pool.id, request["TermsId"])
        tx.delete_resource(pool.id, core.TERMS, terms.name)
    return {}


@operation("ListTerms")
def list_terms(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    limit = request.get("MaxResults") or core.MAX_LIST_TERMS
    after = decode_next_token(request.get("NextToken"))
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        found = tx.list_resources(pool.id, core.TERMS, after=after, limit=limit + 1)
    page = found[:limit]
    response: dict[str, Any] = {"Terms": [core.terms_description(t) for t in page]}
    if len(found) > limit:
        response["NextToken"] = encode_next_token(page[-1].name)
    return response


def delete_terms_of_client(tx, pool_id: str, client_id: str) -> None:
    """DeleteUserPoolClient's part: the client's terms documents go with it (in its transaction)."""
    for terms in core.terms_of_client(terms_of_pool(tx, pool_id), client_id):
        tx.delete_resource(pool_id, core.TERMS, terms.name)


def sign_up_terms(engine: Engine, pool_id: str, client_id: str, lang: str | None) -> list[dict[str, str]]:
    """The terms links the hosted sign-up page shows for the client in the page's language
    (`name`, `label`, `url`), or none (see `core.sign_up_links`)."""
    with engine.store.transaction() as tx:
        documents = core.terms_of_client(terms_of_pool(tx, pool_id), client_id)
    return core.sign_up_links(documents, lang)
