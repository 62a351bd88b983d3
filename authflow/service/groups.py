"""Groups: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups,
AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup;
and the groups a user's tokens name (`groups_of`).

Theory of operation: the decisions are `authflow.core.groups`; each operation loads,
asks, writes in one transaction, so a refusal changes nothing. Deleting a group takes
its memberships with it inside the store; a membership whose group was deleted by a
racing writer cannot exist (the store's foreign keys), so tokens never name a deleted
group. Pages are ListUsers-style tokens (authenticated with the pool secret, bound to
what they list, expiring), under the `NextToken` member the group operations use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import groups as core
from authflow.core import listing
from authflow.core import users as core_users
from authflow.core.records import Group, User, UserPool
from authflow.service.engine import Engine
from authflow.service.registry import operation


def groups_of(tx, pool: UserPool, user: User) -> list[Group]:
    """The user's groups, as records (for token claims)."""
    found = (tx.get_group(pool.id, name) for name in tx.groups_of(pool.id, user.username_key))
    return [g for g in found if g is not None]


def _require_group(tx, pool: UserPool, name: str) -> Group:
    return core.require(tx.get_group(pool.id, name))


def _after(engine: Engine, pool: UserPool, request: Mapping[str, Any], fingerprint: str, now) -> tuple[str, str] | None:
    token = request.get("NextToken")
    if not token:
        return None
    return listing.decode_page_token(engine.pool_secret(pool), token, fingerprint=fingerprint, now=now)


def _next(engine: Engine, pool: UserPool, fingerprint: str, after: tuple[str, str], now) -> str:
    return listing.encode_page_token(engine.pool_secret(pool), fingerprint=fingerprint, after=after, issued_at=now)


@operation("CreateGroup")
def create_group(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        group = core.create(pool, request, existing=tx.get_group(pool.id, request["GroupName"]),
                            count=tx.count_groups(pool.id), now=now)
        engine.write(tx, puts=(group,))
    return {"Group": core.group_type(group)}


@operation("GetGroup")
def get_group(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        return {"Group": core.group_type(_require_group(tx, pool, request["GroupName"]))}


@operation("UpdateGroup")
def update_group(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        group = core.update(_require_group(tx, pool, request["GroupName"]), request, now=now)
        engine.write(tx, puts=(group,))
    return {"Group": core.group_type(group)}


@operation("DeleteGroup")
def delete_group(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        group = _require_group(tx, pool, request["GroupName"])
        tx.delete_group(pool.id, group.name)  # and its memberships
    return {}


@operation("ListGroups")
def list_groups(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    limit = core.limit_of(request)
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        fingerprint = f"groups:{pool.id}"
        after = _after(engine, pool, request, fingerprint, now)
        page = tx.list_groups(pool.id, after=after[1] if after else None, limit=limit + 1)
    response: dict[str, Any] = {"Groups": [core.group_type(g) for g in page[:limit]]}
    if len(page) > limit:
        response["NextToken"] = _next(engine, pool, fingerprint, ("", page[limit - 1].name), now)
    return response


@operation("AdminAddUserToGroup")
def admin_add_user_to_group(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        group = _require_group(tx, pool, request["GroupName"])
        core.check_user_quota(tx.groups_of(pool.id, user.username_key), group.name)
        tx.add_member(pool.id, group.name, user.username_key)  # already a member: nothing happens
    return {}


@operation("AdminRemoveUserFromGroup")
def admin_remove_user_from_group(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        group = _require_group(tx, pool, request["GroupName"])
        tx.remove_member(pool.id, group.name, user.username_key)  # not a member: nothing happens
    return {}


@operation("AdminListGroupsForUser")
def admin_list_groups_for_user(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    """The user's groups in claim order (as `cognito:groups` lists them)."""
    now = engine.now()
    limit = core.limit_of(request)
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        user = core_users.require_user(tx, pool, request["Username"])
        fingerprint = f"groups-of:{pool.id}:{user.sub}"
        after = _after(engine, pool, request, fingerprint, now)
        ordered = core.claim_order(groups_of(tx, pool, user))
    rest = [g for g in ordered if after is None or core.position(g) > after]
    response: dict[str, Any] = {"Groups": [core.group_type(g) for g in rest[:limit]]}
    if len(rest) > limit:
        response["NextToken"] = _next(engine, pool, fingerprint, core.position(rest[limit - 1]), now)
    return response


@operation("ListUsersInGroup")
def list_users_in_group(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    limit = core.limit_of(request)
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        group = _require_group(tx, pool, request["GroupName"])
        fingerprint = f"members:{pool.id}:{group.name}:{group.created.isoformat()}"
        after = _after(engine, pool, request, fingerprint, now)
        keys = tx.members(pool.id, group.name, after=after[1] if after else None, limit=limit + 1)
        users = [tx.get_user(pool.id, key) for key in keys[:limit]]
    response: dict[str, Any] = {"Users": [core_users.user_type(u) for u in users if u is not None]}
    if len(keys) > limit:
        response["NextToken"] = _next(engine, pool, fingerprint, ("", keys[limit - 1]), now)
    return response
