"""The claims a user's groups give their tokens (docs/semantics.md, "Groups"):
`cognito:groups` in ID and access tokens, ordered by precedence, groups without
precedence after every numbered one, then by name; `cognito:roles` and
`cognito:preferred_role` in ID tokens only, the preferred role set only when the
best-ranked role-bearing groups agree on one role. Claims are read when each token is
minted: a sign-in or a refresh after a change shows it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.signin import NEW, Env, token_claims

GROUP_CLAIMS = ("cognito:groups", "cognito:roles", "cognito:preferred_role")


def role(name: str) -> str:
    return f"arn:aws:iam::123456789012:role/{name}"


class Member:
    """A CONFIRMED user alice (password NEW) of a pool, and an app client."""

    def __init__(self) -> None:
        self.env = Env()
        self.client = self.env.client
        self.pool = self.env.pool()
        self.app = self.env.app_id(self.pool)
        self.env.user(self.pool)
        self.first = self.env.confirm(self.pool, self.app)["AuthenticationResult"]

    def group(self, name: str, *, precedence: int | None = None, role_arn: str | None = None, join: bool = True):
        request = {"UserPoolId": self.pool, "GroupName": name}
        if precedence is not None:
            request["Precedence"] = precedence
        if role_arn is not None:
            request["RoleArn"] = role_arn
        self.client.create_group(**request)
        if join:
            self.client.admin_add_user_to_group(UserPoolId=self.pool, Username="alice", GroupName=name)

    def sign_in(self) -> dict:
        return self.env.initiate(self.app, password=NEW)["AuthenticationResult"]

    def refresh(self, result: dict) -> dict:
        return self.client.initiate_auth(ClientId=self.app, AuthFlow="REFRESH_TOKEN_AUTH",
                                         AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})[
            "AuthenticationResult"]

    @staticmethod
    def id_claims(result: dict) -> dict:
        return {k: v for k, v in token_claims(result["IdToken"]).items() if k in GROUP_CLAIMS}

    @staticmethod
    def access_claims(result: dict) -> dict:
        return {k: v for k, v in token_claims(result["AccessToken"]).items() if k in GROUP_CLAIMS}


def test_no_groups_no_group_claims():
    member = Member()
    member.group("elsewhere", join=False)
    for result in (member.first, member.sign_in()):
        assert member.id_claims(result) == {}
        assert member.access_claims(result) == {}


def test_groups_are_ordered_by_precedence_then_unranked_then_name_in_both_tokens():
    member = Member()
    for name, precedence in (("zulu", None), ("mike", 5), ("bravo", 1), ("alpha", None), ("charlie", 1),
                             ("Zed", None), ("kilo", 0)):
        member.group(name, precedence=precedence)
    result = member.sign_in()
    order = ["kilo", "bravo", "charlie", "mike", "Zed", "alpha", "zulu"]
    assert member.id_claims(result) == {"cognito:groups": order}
    assert member.access_claims(result) == {"cognito:groups": order}
    listed = member.client.admin_list_groups_for_user(UserPoolId=member.pool, Username="alice")["Groups"]
    assert [g["GroupName"] for g in listed] == order


def test_roles_follow_the_group_order_without_repeats_and_stay_out_of_the_access_token():
    member = Member()
    member.group("late", precedence=9, role_arn=role("a"))
    member.group("none", precedence=0)
    member.group("early", precedence=2, role_arn=role("b"))
    member.group("again", precedence=3, role_arn=role("a"))
    member.group("unranked", role_arn=role("c"))
    result = member.sign_in()
    claims = member.id_claims(result)
    assert claims["cognito:groups"] == ["none", "early", "again", "late", "unranked"]
    assert claims["cognito:roles"] == [role("b"), role("a"), role("c")]
    assert member.access_claims(result) == {"cognito:groups": claims["cognito:groups"]}


# (groups as (name, precedence, role)), the preferred role or None for "absent".
PREFERRED = [
    pytest.param([("a", 1, "x"), ("b", 2, "y")], "x", id="lowest-precedence-wins"),
    pytest.param([("a", 0, None), ("b", 3, "y"), ("c", 4, "x")], "y",
                 id="role-less-groups-do-not-count"),
    pytest.param([("a", 2, "x"), ("b", 2, "x"), ("c", 5, "y")], "x", id="tie-same-role"),
    pytest.param([("a", 2, "x"), ("b", 2, "y"), ("c", 5, "z")], None, id="tie-different-roles-none"),
    pytest.param([("a", None, "x"), ("b", 7, "y")], "y", id="a-number-beats-no-precedence"),
    pytest.param([("a", None, "x")], "x", id="single-unranked"),
    pytest.param([("a", None, "x"), ("b", None, "x")], "x", id="unranked-same-role"),
    pytest.param([("a", None, "x"), ("b", None, "y")], None, id="unranked-different-roles-none"),
    pytest.param([("a", 1, None), ("b", None, None)], None, id="no-roles-at-all"),
]


@pytest.mark.parametrize(("groups", "preferred"), PREFERRED)
def test_the_preferred_role(groups, preferred):
    member = Member()
    for name, precedence, arn in groups:
        member.group(name, precedence=precedence, role_arn=role(arn) if arn else None)
    claims = member.id_claims(member.sign_in())
    if preferred is None:
        assert "cognito:preferred_role" not in claims
    else:
        assert claims["cognito:preferred_role"] == role(preferred)
    roles = [role(arn) for *_, arn in sorted(groups, key=lambda g: (g[1] is None, g[1] or 0, g[0])) if arn]
    assert claims.get("cognito:roles", []) == list(dict.fromkeys(roles))


def test_tokens_minted_after_a_change_show_it():
    member = Member()
    member.group("admins", precedence=5, role_arn=role("admin"))
    member.group("readers", precedence=1, role_arn=role("reader"))
    before = member.sign_in()
    assert member.id_claims(before) == {"cognito:groups": ["readers", "admins"],
                                        "cognito:roles": [role("reader"), role("admin")],
                                        "cognito:preferred_role": role("reader")}
    member.client.update_group(UserPoolId=member.pool, GroupName="admins", Precedence=0)
    member.client.update_group(UserPoolId=member.pool, GroupName="readers", RoleArn=role("viewer"))
    after = member.sign_in()
    assert member.id_claims(after) == {"cognito:groups": ["admins", "readers"],
                                       "cognito:roles": [role("admin"), role("viewer")],
                                       "cognito:preferred_role": role("admin")}
    # Tokens already issued are not rewritten.
    assert member.id_claims(before)["cognito:groups"] == ["readers", "admins"]


def test_a_removed_members_next_tokens_lack_the_group():
    member = Member()
    member.group("admins", precedence=0, role_arn=role("admin"))
    member.group("readers", precedence=1)
    assert member.access_claims(member.sign_in()) == {"cognito:groups": ["admins", "readers"]}
    member.client.admin_remove_user_from_group(UserPoolId=member.pool, Username="alice", GroupName="admins")
    result = member.sign_in()
    assert member.id_claims(result) == {"cognito:groups": ["readers"]}
    assert member.access_claims(result) == {"cognito:groups": ["readers"]}
    member.client.admin_remove_user_from_group(UserPoolId=member.pool, Username="alice", GroupName="readers")
    result = member.sign_in()
    assert member.id_claims(result) == {} and member.access_claims(result) == {}


def test_a_refresh_reads_todays_membership():
    member = Member()
    result = member.first
    assert member.id_claims(result) == {}
    member.group("admins", precedence=0, role_arn=role("admin"))
    refreshed = member.refresh(result)
    assert member.id_claims(refreshed) == {"cognito:groups": ["admins"], "cognito:roles": [role("admin")],
                                           "cognito:preferred_role": role("admin")}
    assert member.access_claims(refreshed) == {"cognito:groups": ["admins"]}
    member.env.clock.advance(timedelta(minutes=1))
    member.client.admin_remove_user_from_group(UserPoolId=member.pool, Username="alice", GroupName="admins")
    again = member.refresh(result)
    assert member.id_claims(again) == {} and member.access_claims(again) == {}


def test_a_deleted_group_leaves_the_next_tokens():
    member = Member()
    member.group("admins", precedence=0, role_arn=role("admin"))
    member.group("readers", precedence=1, role_arn=role("reader"))
    result = member.sign_in()
    member.client.delete_group(UserPoolId=member.pool, GroupName="admins")
    for fresh in (member.sign_in(), member.refresh(result)):
        assert member.id_claims(fresh) == {"cognito:groups": ["readers"], "cognito:roles": [role("reader")],
                                           "cognito:preferred_role": role("reader")}


def test_the_admin_flow_and_the_first_sign_in_carry_the_groups_too():
    env = Env()
    pool = env.pool()
    app = env.app_id(pool)
    env.user(pool)
    env.client.create_group(UserPoolId=pool, GroupName="admins", Precedence=0)
    env.client.admin_add_user_to_group(UserPoolId=pool, Username="alice", GroupName="admins")
    first = env.confirm(pool, app)["AuthenticationResult"]  # the NEW_PASSWORD_REQUIRED answer
    admin = env.admin_initiate(pool, app, password=NEW)["AuthenticationResult"]
    for result in (first, admin):
        assert token_claims(result["IdToken"])["cognito:groups"] == ["admins"]
        assert token_claims(result["AccessToken"])["cognito:groups"] == ["admins"]


def test_another_users_groups_do_not_leak():
    member = Member()
    member.env.user(member.pool, "bob")
    member.group("admins")
    member.group("bobs", join=False)
    member.client.admin_add_user_to_group(UserPoolId=member.pool, Username="bob", GroupName="bobs")
    assert member.id_claims(member.sign_in()) == {"cognito:groups": ["admins"]}
