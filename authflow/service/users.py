"""Service functions for the admin side of users, and ListUsers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import identity, listing
from authflow.core import pool_config as pc
from authflow.core import trigger_events as te
from authflow.core import users as core
from authflow.errors import InvalidParameterException
from authflow.service import verifiers
from authflow.service.engine import Engine
from authflow.service.messages import customized
from authflow.service.registry import operation


@operation("AdminCreateUser")
def admin_create_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        command = core.prepare_admin_create(pool, request)
    if not command.resend:
        _pre_sign_up(engine, pool, command, request)
    # Hash outside the transaction: Argon2id is slow on purpose and must not hold
    # the store's write lock.
    password = core.temporary_password(pool, command, engine.entropy)
    password_hash = engine.hasher(password)
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        command = core.prepare_admin_create(pool, request)
        if command.resend:
            existing = core.find_user(tx, pool, command.requested_username)
            holders = {}
        else:
            username_key = identity.username_key(pool.config, command.requested_username)
            existing = tx.get_user(pool.id, username_key) if command.username_kind is None else None
            holders = {
                pair: tx.get_user_by_alias(pool.id, *pair) for pair in core.alias_pairs(pool, command.attributes)
            }
        decision = core.decide_admin_create(
            pool,
            command,
            existing=existing,
            alias_holders=holders,
            now=now,
            entropy=engine.entropy,
            password=password,
            password_hash=password_hash,
        )
        decision = customized(
            engine, pool, decision, source="CustomMessage_AdminCreateUser", client_id=None, request=request
        )
        decision = verifiers.with_verifiers(engine, pool, decision, password=password, password_hash=password_hash)
        engine.apply(tx, decision)
        entries = engine.enqueue(tx, decision.messages)
    engine.deliver(entries)
    return decision.response


def _pre_sign_up(engine: Engine, pool, command: core.CreateUser, request: Mapping[str, Any]) -> None:
    """PreSignUp_AdminCreateUser: the function may refuse; its auto* answers are ignored."""
    arn = pc.lambda_arn(pool.config, "PreSignUp")
    if not arn:
        return
    event = te.event(
        "PreSignUp_AdminCreateUser", region=engine.region, pool_id=pool.id,
        username=command.requested_username, client_id=None,
        request={
            "userAttributes": dict(command.attributes),
            # ValidationData goes to the function and nowhere else: never stored.
            "validationData": {a["Name"]: a.get("Value", "") for a in request.get("ValidationData") or ()},
            "clientMetadata": dict(request.get("ClientMetadata") or {}),
        },
    )
    te.invoke(engine.triggers, arn, event)


@operation("AdminGetUser")
def admin_get_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core.require_user(tx, pool, request["Username"])
    return core.admin_get_user_response(user, pool)


@operation("AdminDeleteUser")
def admin_delete_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core.require_user(tx, pool, request["Username"])
        engine.apply(tx, core.decide_delete(pool, user))
    return {}


def _set_enabled(engine: Engine, request: Mapping[str, Any], enabled: bool) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core.require_user(tx, pool, request["Username"])
        engine.apply(tx, core.decide_set_enabled(pool, user, enabled=enabled, now=now))
    return {}


@operation("AdminDisableUser")
def admin_disable_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    return _set_enabled(engine, request, False)


@operation("AdminEnableUser")
def admin_enable_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    return _set_enabled(engine, request, True)


@operation("AdminUpdateUserAttributes")
def admin_update_user_attributes(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core.require_user(tx, pool, request["Username"])
        writes = core.prepare_update_attributes(pool, request, user)
        holders = {
            pair: tx.get_user_by_alias(pool.id, *pair) for pair in core.updated_alias_pairs(pool, user, writes)
        }
        decision = core.decide_update_attributes(
            pool, user, writes, alias_holders=holders, now=now,
            entropy=engine.entropy, pool_secret=engine.pool_secret(pool),
        )
        # A changed, auto-verified email / phone number gets a verification code, as on Cognito.
        decision = customized(
            engine, pool, decision, source="CustomMessage_UpdateUserAttribute", client_id=None, request=request
        )
        engine.apply(tx, decision)
        entries = engine.enqueue(tx, decision.messages)
    engine.deliver(entries)
    return {}


@operation("AdminDeleteUserAttributes")
def admin_delete_user_attributes(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core.require_user(tx, pool, request["Username"])
        engine.apply(tx, core.decide_delete_attributes(pool, user, request["UserAttributeNames"], now=now))
    return {}


#: ListUsers page size when Limit is omitted (or 0): Cognito's maximum.
DEFAULT_LIMIT = 60


@operation("ListUsers")
def list_users(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    limit = request.get("Limit") or DEFAULT_LIMIT
    wanted = request.get("AttributesToGet")
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        if wanted is not None:
            schema = pc.schema(pool.config)
            unknown = [n for n in wanted if n not in schema]
            if unknown:
                raise InvalidParameterException(f"One or more requested attributes do not exist: {', '.join(unknown)}")
        parsed = listing.parse_filter(request.get("Filter"))
        key = None if parsed is None else listing.filter_key(parsed, case_sensitive_usernames=pc.case_sensitive(pool.config))
        fingerprint = listing.filter_fingerprint(key)
        after = None
        if request.get("PaginationToken"):
            after = listing.decode_page_token(engine.pool_secret(pool), request["PaginationToken"], fingerprint=fingerprint, now=now)
        index, op, value = key if key else (None, None, None)
        rows = tx.scan_users(
            pool.id,
            index=index,
            exact=value if op == "=" else None,
            prefix=value if op == "^=" else None,
            after=after,
            limit=limit + 1,
        )
    page = rows[:limit]
    response: dict[str, Any] = {"Users": [core.user_type(u, wanted) for _, u in page]}
    if len(rows) > limit:
        response["PaginationToken"] = listing.encode_page_token(
            engine.pool_secret(pool), fingerprint=fingerprint, after=page[-1][0], issued_at=now
        )
    return response
