"""The laws of groups: tokens name exactly their user's groups when they are minted, in
claim order, with the roles those groups give; a member the caller removed (or whose group
it deleted) finds the group in none of its next tokens until it is added again.

How a step is read: the groups of a user are the records' memberships (by username key)
of the `after` records, since no sign-in or refresh changes them; the claim order, the
roles and the preferred role are recomputed here from the groups' precedence, names and
role ARNs (docs/semantics.md, "Groups"), not asked of the engine. Which memberships ended
comes from what the caller did (`History.group_departures`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from authflow.core.records import Group
from authflow.invariants.reading import INITIATE, RESPOND, claims_of, token_owner
from authflow.invariants.step import Step

_ROLE_CLAIMS = ("cognito:roles", "cognito:preferred_role")


def _rank(group: Group) -> tuple[bool, int]:
    return (group.precedence is None, group.precedence if group.precedence is not None else 0)


def expected_claims(groups: Iterable[Group]) -> dict[str, Any]:
    """The ID token's group claims: cognito:groups by precedence (unranked last, then by
    name), cognito:roles in that order without repeats, cognito:preferred_role the role of
    the best-ranked role-bearing groups when they agree on one. Absent when empty."""
    ordered = sorted(groups, key=lambda g: (*_rank(g), g.name))
    out: dict[str, Any] = {}
    if ordered:
        out["cognito:groups"] = [g.name for g in ordered]
    roles: list[str] = []
    for g in ordered:
        if g.role_arn and g.role_arn not in roles:
            roles.append(g.role_arn)
    if roles:
        out["cognito:roles"] = roles
        bearing = [g for g in ordered if g.role_arn]
        best = {g.role_arn for g in bearing if _rank(g) == _rank(bearing[0])}
        if len(best) == 1:
            out["cognito:preferred_role"] = best.pop()
    return out


def _minted(step: Step) -> tuple[dict[str, Any], dict[str, Any], tuple[str, str]] | None:
    """(ID token claims, access token claims, (pool id, sub)) of the tokens a step minted."""
    if not step.ok or step.operation not in INITIATE | RESPOND:
        return None
    result = (step.response or {}).get("AuthenticationResult")
    owner = token_owner(result) if result else None
    if owner is None:
        return None
    return claims_of(result.get("IdToken")), claims_of(result.get("AccessToken")), owner


def tokens_name_the_users_groups(step: Step) -> str | None:
    """Tokens name exactly their user's groups at minting, in claim order: the ID and the
    access token's cognito:groups are the user's groups ordered by precedence (lowest
    first, groups without precedence after every numbered one, then by name), absent for
    none; the ID token's cognito:roles are their role ARNs in that order without repeats,
    and cognito:preferred_role the role of the best-ranked role-bearing groups when they
    agree on one; the access token carries no roles."""
    minted = _minted(step)
    if minted is None:
        return None
    id_claims, access_claims, owner = minted
    user = step.after.user_by_sub(*owner)
    if user is None:
        return None
    expected = expected_claims(step.after.groups_of(user.pool_id, user.username_key))
    for token, claims, names in (("ID", id_claims, ("cognito:groups", *_ROLE_CLAIMS)),
                                 ("access", access_claims, ("cognito:groups",))):
        if not claims:
            continue
        for name in names:
            if claims.get(name) != expected.get(name):
                return (f"{step.operation} minted {user.username!r}'s {token} token with {name} {claims.get(name)!r},"
                        f" not {expected.get(name)!r}")
        for name in _ROLE_CLAIMS if token == "access" else ():
            if name in claims:
                return f"{step.operation} minted {user.username!r}'s access token with {name}"
    return None


def removed_members_lose_the_group(step: Step) -> str | None:
    """A removed member's next tokens lack the group: once the caller removed a user from
    a group (AdminRemoveUserFromGroup) or deleted a group the user was in, no token minted
    for that user names the group, until AdminAddUserToGroup adds it again."""
    minted = _minted(step) if step.history.group_departures else None
    if minted is None:
        return None
    id_claims, access_claims, owner = minted
    left = {g for p, s, g in step.history.group_departures if (p, s) == owner}
    for token, claims in (("ID", id_claims), ("access", access_claims)):
        named = claims.get("cognito:groups")
        stale = sorted(left & set(named)) if isinstance(named, list) else []
        if stale:
            return f"{step.operation} minted an {token} token naming {stale} after the caller ended those memberships"
    return None


def departures(step: Step) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """(memberships this step ended, memberships it renewed), as (pool id, sub, group)."""
    if not step.ok:
        return set(), set()
    request = step.request
    pool_id, group = str(request.get("UserPoolId")), request.get("GroupName")
    if not isinstance(group, str):
        return set(), set()
    if step.operation in ("AdminRemoveUserFromGroup", "AdminAddUserToGroup"):
        user = step.before.user_named(pool_id, str(request.get("Username")))
        if user is None:
            return set(), set()
        entry = {(pool_id, user.sub, group)}
        return (entry, set()) if step.operation == "AdminRemoveUserFromGroup" else (set(), entry)
    if step.operation == "DeleteGroup":
        keys = {k for p, g, k in step.before.memberships if (p, g) == (pool_id, group)}
        return {(pool_id, u.sub, group) for u in step.before.users_of(pool_id) if u.username_key in keys}, set()
    return set(), set()


def group_memberships_agree(step: Step) -> str | None:
    """A user is in a group's ListUsersInGroup exactly when AdminListGroupsForUser lists the
    group: the store's two directions of membership (group to members, user to groups)
    agree, every membership joins an existing group and an existing user (a deleted group
    has no members, a deleted user is in no group, so a re-created one inherits nothing),
    and a successful ListUsersInGroup or AdminListGroupsForUser answers what the records
    hold (for a first page: the explorer asks for no other)."""
    after = step.after
    members = set(after.memberships)
    reverse = {(pool_id, group, key) for pool_id, key, group in _groups_of_index(after)}
    if members != reverse:
        odd = sorted(members ^ reverse)[0]
        side = "a group's members but not the user's groups" if odd in members else "a user's groups but not the group"
        return f"the membership of {odd[2]!r} in {odd[1]!r} is in {side}"
    groups = {(g.pool_id, g.name) for g in after.groups}
    keys = {(u.pool_id, u.username_key) for u in after.users}
    for pool_id, group, key in sorted(members):
        if (pool_id, group) not in groups:
            return f"{key!r} is a member of {group!r}, a group that does not exist"
        if (pool_id, key) not in keys:
            return f"{group!r} has the member {key!r}, a user who does not exist"
    return _listing_agrees(step) if step.ok and "NextToken" not in step.request else None


def _groups_of_index(records: Any) -> set[tuple[str, str, str]]:
    """(pool id, username key, group) of the store's user-to-groups index (`Records.indexes`:
    a pool's users entry ends with it)."""
    out = set()
    for entry in records.indexes:
        if len(entry) == 6:  # a pool's users: (pool id, aliases, subs, listing, devices, groups of users)
            out |= {(entry[0], key, group) for key, groups in entry[5] for group in groups}
    return out


def _listing_agrees(step: Step) -> str | None:
    request, response = step.request, step.response or {}
    pool_id = str(request.get("UserPoolId"))
    if step.operation == "ListUsersInGroup" and "NextToken" not in response:
        keys = {k for p, g, k in step.after.memberships if (p, g) == (pool_id, request.get("GroupName"))}
        expected = sorted(u.username for u in step.after.users_of(pool_id) if u.username_key in keys)
        listed = sorted(str(u.get("Username")) for u in response.get("Users", ()))
        if listed != expected:
            return f"ListUsersInGroup {request.get('GroupName')!r} listed {listed}, but its members are {expected}"
    if step.operation == "AdminListGroupsForUser" and "NextToken" not in response:
        user = step.after.user_named(pool_id, str(request.get("Username")))
        if user is None:
            return None
        expected = sorted(g.name for g in step.after.groups_of(pool_id, user.username_key))
        listed = sorted(str(g.get("GroupName")) for g in response.get("Groups", ()))
        if listed != expected:
            return f"AdminListGroupsForUser {user.username!r} listed {listed}, but the user is in {expected}"
    return None
