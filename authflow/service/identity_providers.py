"""Identity providers: CreateIdentityProvider, DescribeIdentityProvider,
UpdateIdentityProvider, DeleteIdentityProvider, ListIdentityProviders,
GetIdentityProviderByIdentifier; and the links between external identities and users:
AdminLinkProviderForUser, AdminDisableProviderForUser.

Theory of operation: a provider is a `PoolResource` of kind "identity_provider" named by
its ProviderName; a link is one of kind "identity_link" named `<ProviderName>:<value>`
whose body names the destination user's sub and username (a federated sign-in of that
identity signs in as that user). The rules are `authflow.core.oauth_resources`. Deleting
a provider takes it out of every app client's SupportedIdentityProviders and deletes its
links, in the same transaction, so nothing is left naming a provider that is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from authflow.core import oauth_resources as core
from authflow.core import users as core_users
from authflow.core.records import PoolResource
from authflow.errors import UserNotFoundException
from authflow.service.engine import Engine
from authflow.service.pools import decode_next_token, encode_next_token
from authflow.service.registry import operation

# Every client / link of a pool fits a page this long (quotas: 1,000 clients, links bounded
# by users x 5 — links are listed per provider name prefix, see `_links_of_provider`).
_PAGE = 1000


def providers_of(tx, pool_id: str) -> list[PoolResource]:
    return tx.list_resources(pool_id, core.IDENTITY_PROVIDER, after=None, limit=core.MAX_IDENTITY_PROVIDERS + 1)


def _require(tx, pool_id: str, name: str) -> PoolResource:
    return core.require_provider(name, tx.get_resource(pool_id, core.IDENTITY_PROVIDER, name))


def _all_links(tx, pool_id: str):
    after = None
    while True:
        page = tx.list_resources(pool_id, core.IDENTITY_LINK, after=after, limit=_PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].name


@operation("CreateIdentityProvider")
def create_identity_provider(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        provider = core.create_identity_provider(
            pool.id, request, pool_config=pool.config,
            existing=tx.get_resource(pool.id, core.IDENTITY_PROVIDER, request["ProviderName"]),
            others=providers_of(tx, pool.id), now=now,
        )
        tx.put_resource(provider)
    return {"IdentityProvider": core.identity_provider_type(provider)}


@operation("DescribeIdentityProvider")
def describe_identity_provider(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        return {"IdentityProvider": core.identity_provider_type(_require(tx, pool.id, request["ProviderName"]))}


@operation("UpdateIdentityProvider")
def update_identity_provider(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        provider = core.update_identity_provider(
            _require(tx, pool.id, request["ProviderName"]), request, pool_config=pool.config,
            others=providers_of(tx, pool.id), now=now,
        )
        tx.put_resource(provider)
    return {"IdentityProvider": core.identity_provider_type(provider)}


@operation("DeleteIdentityProvider")
def delete_identity_provider(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        provider = _require(tx, pool.id, request["ProviderName"])
        for client in tx.list_clients(pool.id, after=None, limit=_PAGE):
            named = client.config.get("SupportedIdentityProviders")
            if named and provider.name in named:
                config = {**client.config, "SupportedIdentityProviders": [p for p in named if p != provider.name]}
                tx.put_client(replace(client, config=config, modified=now, version=client.version + 1))
        for link in list(_all_links(tx, pool.id)):
            if link.body.get("ProviderName") == provider.name:
                tx.delete_resource(pool.id, core.IDENTITY_LINK, link.name)
        tx.delete_resource(pool.id, core.IDENTITY_PROVIDER, provider.name)
    return {}


@operation("ListIdentityProviders")
def list_identity_providers(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    limit = min(request.get("MaxResults") or core.MAX_LIST_PROVIDERS, core.MAX_LIST_PROVIDERS)
    after = decode_next_token(request.get("NextToken"))
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        providers = tx.list_resources(pool.id, core.IDENTITY_PROVIDER, after=after, limit=limit + 1)
    page = providers[:limit]
    response: dict[str, Any] = {"Providers": [core.provider_description(p) for p in page]}
    if len(providers) > limit:
        response["NextToken"] = encode_next_token(page[-1].name)
    return response


@operation("GetIdentityProviderByIdentifier")
def get_identity_provider_by_identifier(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        provider = core.provider_by_identifier(providers_of(tx, pool.id), request["IdpIdentifier"])
    return {"IdentityProvider": core.identity_provider_type(provider)}


@operation("AdminLinkProviderForUser")
def admin_link_provider_for_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    """Link an external identity not yet in the pool to an existing user: that identity's
    next federated sign-in signs in as the user."""
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        username = core.destination_username(request["DestinationUser"])
        name, attribute, value = core.check_source(request["SourceUser"])
        user = core_users.require_user(tx, pool, username)
        if user.status == "EXTERNAL_PROVIDER":
            raise core.linking_to_federated_user()
        provider = _require(tx, pool.id, name)
        core.check_source_attribute(provider, attribute)
        if core_users.find_user(tx, pool, core.federated_username(provider.name, value)) is not None:
            raise core.merging_refused()
        links = [link for link in _all_links(tx, pool.id) if link.body.get("sub") == user.sub]
        link = core.new_link(
            pool.id, provider=provider.name, attribute=attribute, value=value, sub=user.sub,
            username=user.username, existing=tx.get_resource(pool.id, core.IDENTITY_LINK, core.link_name(name, value)),
            links_of_user=len(links), now=now,
        )
        tx.put_resource(link)
    return {}


@operation("AdminDisableProviderForUser")
def admin_disable_provider_for_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    """Remove the link of an external identity (so its next sign-in no longer reaches the
    user it was linked to)."""
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        name, _attribute, value = core.check_disable_target(request["User"])
        provider = _require(tx, pool.id, name)
        link = tx.get_resource(pool.id, core.IDENTITY_LINK, core.link_name(provider.name, value))
        if link is None:
            raise UserNotFoundException("User does not exist.")
        tx.delete_resource(pool.id, core.IDENTITY_LINK, link.name)
    return {}
