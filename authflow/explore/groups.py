"""The group flow family (`flows` "groups"): the set-up gives the pool two groups whose
claim order is not their name order (`GROUPS`: "staff", precedence 1 with a role;
"admins", precedence 5), and the alphabet deletes and re-creates each, and adds each
universe user to each group and removes it, and lists each group's members and each user's
groups (ListUsersInGroup, AdminListGroupsForUser: read-only, so they add transitions, not
states); sign-in and refresh are the default alphabet's, so every token minted after a
membership change is explored."""

from __future__ import annotations

from typing import Any

from authflow.explore.actions import Action, const
from authflow.explore.universe import Universe

ROLE_ARN = "arn:aws:iam::000000000000:role/explore-staff"
#: The set-up's groups, as CreateGroup requests (less the pool).
GROUPS: tuple[dict[str, Any], ...] = (
    {"GroupName": "staff", "Precedence": 1, "RoleArn": ROLE_ARN},
    {"GroupName": "admins", "Precedence": 5},
)


def group_actions(u: Universe, pool_id: str) -> list[Action]:
    """The group half of the alphabet."""
    actions: list[Action] = []
    for group in GROUPS:
        name = group["GroupName"]
        actions.append(Action(f"delete the group {name}", const("delete_group", {"UserPoolId": pool_id,
                                                                               "GroupName": name})))
        actions.append(Action(f"create the group {name}", const("create_group", {"UserPoolId": pool_id, **group})))
        for i, user in enumerate(u.names[:u.family_users]):
            who = {"UserPoolId": pool_id, "Username": u.logins[i], "GroupName": name}
            actions.append(Action(f"add {user} to {name}", const("admin_add_user_to_group", who)))
            actions.append(Action(f"remove {user} from {name}", const("admin_remove_user_from_group", who)))
        # the two listings group_memberships_agree holds to the records (and so to each other)
        actions.append(Action(f"list the members of {name}", const("list_users_in_group", {
            "UserPoolId": pool_id, "GroupName": name})))
    for i, user in enumerate(u.names[:u.family_users]):
        actions.append(Action(f"list {user}'s groups", const("admin_list_groups_for_user", {
            "UserPoolId": pool_id, "Username": u.logins[i]})))
    return actions
