"""Decisions of user-pool groups: creating and updating a group, Cognito's limits, what
a group looks like on the wire, and the claims a user's groups give their tokens.

Theory of operation: a group is a record of its own and memberships are the store's
(group name, username key) pairs, so a membership never outlives either side. The token
claims are computed here, purely, from the user's groups: `cognito:groups` in both
tokens, ordered by precedence (lowest first, groups without precedence last, then by
name); `cognito:roles` (ID token) the groups' role ARNs in that order without repeats;
`cognito:preferred_role` (ID token) the role of the lowest-precedence role-bearing group,
set only when the best such groups agree on one role (the API reference's rule for ties).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core.records import Group, UserPool
from authflow.errors import (
    GroupExistsException,
    LimitExceededException,
    ResourceNotFoundException,
)

GROUP_NOT_FOUND = "Group not found."
GROUP_EXISTS = "A group with the name already exists."
#: Quotas (not adjustable): groups per pool, groups per user.
MAX_GROUPS_PER_POOL = 10_000
MAX_GROUPS_PER_USER = 100
#: ListGroups / AdminListGroupsForUser / ListUsersInGroup: Limit 0..60; 60 when absent.
DEFAULT_LIMIT = 60


def limit_of(request: Mapping[str, Any]) -> int:
    limit = request.get("Limit")
    return DEFAULT_LIMIT if not limit else int(limit)


def require(group: Group | None) -> Group:
    if group is None:
        raise ResourceNotFoundException(GROUP_NOT_FOUND)
    return group


def create(pool: UserPool, request: Mapping[str, Any], *, existing: Group | None, count: int, now: datetime) -> Group:
    """CreateGroup: a new name, within the pool's quota."""
    if existing is not None:
        raise GroupExistsException(GROUP_EXISTS)
    if count >= MAX_GROUPS_PER_POOL:
        raise LimitExceededException(f"The user pool has reached its limit of {MAX_GROUPS_PER_POOL} groups.")
    return Group(
        pool_id=pool.id, name=request["GroupName"], description=request.get("Description"),
        role_arn=request.get("RoleArn"), precedence=request.get("Precedence"), created=now, modified=now,
    )


def update(group: Group, request: Mapping[str, Any], *, now: datetime) -> Group:
    """UpdateGroup: members the request omits keep their value (there is no way to clear
    one but deleting the group)."""
    changes = {
        field: request[member]
        for member, field in (("Description", "description"), ("RoleArn", "role_arn"), ("Precedence", "precedence"))
        if request.get(member) is not None
    }
    return replace(group, **changes, modified=now, version=group.version + 1)


def check_user_quota(current: Sequence[str], name: str) -> None:
    if name not in current and len(current) >= MAX_GROUPS_PER_USER:
        raise LimitExceededException(f"A user can be in at most {MAX_GROUPS_PER_USER} groups.")


def group_type(group: Group) -> dict[str, Any]:
    """GroupType; unset members are omitted, as Cognito omits them."""
    shown: dict[str, Any] = {"GroupName": group.name, "UserPoolId": group.pool_id}
    if group.description is not None:
        shown["Description"] = group.description
    if group.role_arn is not None:
        shown["RoleArn"] = group.role_arn
    if group.precedence is not None:
        shown["Precedence"] = group.precedence
    shown["LastModifiedDate"] = group.modified
    shown["CreationDate"] = group.created
    return shown


# -- claims -------------------------------------------------------------------------------------


def claim_order(groups: Iterable[Group]) -> list[Group]:
    """Lowest precedence first; groups without precedence after every numbered one; name
    breaks ties (code point order)."""
    return sorted(groups, key=_claim_key)


def _claim_key(group: Group) -> tuple[bool, int, str]:
    return (group.precedence is None, group.precedence or 0, group.name)


def position(group: Group) -> tuple[str, str]:
    """The claim-order key as two strings that sort as it does (for pagination tokens)."""
    unranked, rank, name = _claim_key(group)
    return (f"{int(unranked)}{rank:010d}", name)


def claims(groups: Iterable[Group]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ID token claims, access token claims) that `groups` give; both empty for none."""
    ordered = claim_order(groups)
    if not ordered:
        return {}, {}
    names = [g.name for g in ordered]
    roles = list(dict.fromkeys(g.role_arn for g in ordered if g.role_arn))
    id_claims: dict[str, Any] = {"cognito:groups": names}
    if roles:
        id_claims["cognito:roles"] = roles
        preferred = preferred_role(ordered)
        if preferred is not None:
            id_claims["cognito:preferred_role"] = preferred
    return id_claims, {"cognito:groups": names}


def preferred_role(groups: Sequence[Group]) -> str | None:
    """The role of the best-ranked role-bearing groups, if they agree on one."""
    bearing = [g for g in groups if g.role_arn]
    if not bearing:
        return None
    best = min(_claim_key(g)[:2] for g in bearing)
    tied = {g.role_arn for g in bearing if _claim_key(g)[:2] == best}
    return tied.pop() if len(tied) == 1 else None
