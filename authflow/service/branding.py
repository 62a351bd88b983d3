"""Branding: GetUICustomization, SetUICustomization (the classic hosted UI's CSS and logo),
CreateManagedLoginBranding, DescribeManagedLoginBranding, DescribeManagedLoginBrandingByClient,
UpdateManagedLoginBranding, DeleteManagedLoginBranding; and `page_customization`, what the
hosted pages of a client show.

Theory of operation: the rules and shapes are in `authflow.core.branding`; each operation
here loads the records it needs in one transaction, asks the core, and writes what it
returns. A refusal raises before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from authflow.core import branding as core
from authflow.core.oauth_resources import DOMAIN, cloudfront_host, is_custom_domain
from authflow.core.records import PoolResource
from authflow.errors import InvalidParameterException
from authflow.service.engine import Engine
from authflow.service.registry import operation


def _domain_host(tx, pool_id: str) -> str:
    """The CloudFront host of the pool's domain (its prefix domain first); Cognito refuses
    classic UI customization for a pool without a domain."""
    domains = tx.list_resources(pool_id, DOMAIN, after=None, limit=4)
    if not domains:
        raise InvalidParameterException(core.NO_DOMAIN)
    domains.sort(key=lambda d: is_custom_domain(d.name))
    return cloudfront_host(domains[0].name)


def _key(engine: Engine, tx, pool_id: str, client_id: str | None) -> str:
    """ALL, or the client id after checking the client is the pool's."""
    if client_id is None or client_id == core.ALL:
        return core.ALL
    engine.require_client(tx, client_id, pool_id)
    return client_id


def _effective(tx, pool_id: str, key: str) -> PoolResource | None:
    record = tx.get_resource(pool_id, core.UI_CUSTOMIZATION, key)
    if record is None and key != core.ALL:
        record = tx.get_resource(pool_id, core.UI_CUSTOMIZATION, core.ALL)
    return record


@operation("GetUICustomization")
def get_ui_customization(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        key = _key(engine, tx, pool.id, request.get("ClientId"))
        host = _domain_host(tx, pool.id)
        record = _effective(tx, pool.id, key)
    return {"UICustomization": core.ui_customization_type(pool.id, key, record, cloudfront_host=host)}


@operation("SetUICustomization")
def set_ui_customization(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        key = _key(engine, tx, pool.id, request.get("ClientId"))
        host = _domain_host(tx, pool.id)
        existing = tx.get_resource(pool.id, core.UI_CUSTOMIZATION, key)
        record = core.set_ui_customization(pool.id, key, request, existing=existing, now=now)
        if record is not None:
            tx.put_resource(record)
        elif existing is not None:
            tx.delete_resource(pool.id, core.UI_CUSTOMIZATION, key)
    return {"UICustomization": core.ui_customization_type(pool.id, key, record, cloudfront_host=host)}


def page_customization(engine: Engine, pool_id: str, client_id: str) -> PoolResource | None:
    """The UI customization a client's hosted pages show: its own, else the pool's (ALL)."""
    with engine.store.transaction() as tx:
        return _effective(tx, pool_id, client_id)


def served_customization(engine: Engine, domain: str, key: str) -> PoolResource | None:
    """The customization record `key` (a client id or ALL) of the pool holding `domain`,
    for the hosted pages' stylesheet and logo routes."""
    with engine.store.transaction() as tx:
        found = tx.find_resource(DOMAIN, domain)
        return None if found is None else tx.get_resource(found.pool_id, core.UI_CUSTOMIZATION, key)


# -- managed login branding ----------------------------------------------------------------------


def _required(request: Mapping[str, Any], *names: str) -> None:
    # UpdateManagedLoginBranding's model marks no member required; Cognito needs these.
    for name in names:
        if not request.get(name):
            raise InvalidParameterException(f"{name} is required.", member=name)


def _style(engine: Engine, tx, request: Mapping[str, Any]) -> PoolResource:
    pool = engine.require_pool(tx, request["UserPoolId"])
    branding_id = request["ManagedLoginBrandingId"]
    return core.require_branding(pool.id, branding_id, tx.get_resource(pool.id, core.BRANDING, branding_id))


@operation("CreateManagedLoginBranding")
def create_managed_login_branding(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    branding_id = str(uuid.UUID(bytes=engine.entropy.random_bytes(16), version=4))
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        _, client = engine.require_client(tx, request["ClientId"], pool.id)
        style, pointer = core.create_branding(
            pool.id, client.id, request, branding_id=branding_id,
            existing_for_client=tx.get_resource(pool.id, core.BRANDING_CLIENT, client.id), now=now)
        tx.put_resource(style)
        tx.put_resource(pointer)
    return {"ManagedLoginBranding": core.branding_type(style)}


@operation("DescribeManagedLoginBranding")
def describe_managed_login_branding(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    # ReturnMergedResources: authflow knows no Cognito defaults to merge in, so both answers
    # are the style's own values.
    with engine.store.transaction() as tx:
        return {"ManagedLoginBranding": core.branding_type(_style(engine, tx, request))}


@operation("DescribeManagedLoginBrandingByClient")
def describe_managed_login_branding_by_client(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        _, client = engine.require_client(tx, request["ClientId"], pool.id)
        pointer = tx.get_resource(pool.id, core.BRANDING_CLIENT, client.id)
        style = None if pointer is None else tx.get_resource(pool.id, core.BRANDING,
                                                             pointer.body["ManagedLoginBrandingId"])
        if style is None:
            raise core.no_branding_for_client(client.id)
        return {"ManagedLoginBranding": core.branding_type(style)}


@operation("UpdateManagedLoginBranding")
def update_managed_login_branding(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    _required(request, "UserPoolId", "ManagedLoginBrandingId")
    now = engine.now()
    with engine.store.transaction() as tx:
        style = core.update_branding(_style(engine, tx, request), request, now=now)
        tx.put_resource(style)
    return {"ManagedLoginBranding": core.branding_type(style)}


@operation("DeleteManagedLoginBranding")
def delete_managed_login_branding(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        style = _style(engine, tx, request)
        tx.delete_resource(style.pool_id, core.BRANDING, style.name)
        tx.delete_resource(style.pool_id, core.BRANDING_CLIENT, style.body["ClientId"])
    return {}
