"""The group operations through the Client: CreateGroup, GetGroup, UpdateGroup, DeleteGroup,
ListGroups, AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser and
ListUsersInGroup (docs/semantics.md, "Groups"). Shapes and dates, Cognito's errors and
messages, the quotas, paging and its tokens, and what deleting a group or a user does to
memberships. Every refusal is checked to leave the store (groups and memberships
included) exactly as it was."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from authflow.core import groups as group_rules
from authflow.errors import (
    GroupExistsException,
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
    UserNotFoundException,
)
from tests.conftest import START
from tests.signin import Env, refused

GROUP_NOT_FOUND = "Group not found."
USER_NOT_FOUND = "User does not exist."
GROUP_EXISTS = "A group with the name already exists."
INVALID_TOKEN = "Invalid pagination token."
EXPIRED_TOKEN = "Pagination token has expired."
ROLE = "arn:aws:iam::123456789012:role/admins"
OTHER_ROLE = "arn:aws:iam::123456789012:role/readers"
MINIMAL_KEYS = {"GroupName", "UserPoolId", "LastModifiedDate", "CreationDate"}


def unchanged(env: Env, exception, message: str, call, *args, **kwargs):
    """`call` is refused with exactly `exception` and `message`, and the store, groups and
    memberships included, is exactly as it was."""
    before = env.snapshot()
    err = refused(exception, message, call, *args, **kwargs)
    assert env.snapshot() == before
    return err


def validation(member: str, value, constraint: str) -> str:
    return (f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must {constraint}")


class Pool:
    """A pool and users (created by AdminCreateUser, so FORCE_CHANGE_PASSWORD: membership
    does not depend on status)."""

    def __init__(self, *, users=("alice",), **config) -> None:
        self.env = Env()
        self.client = self.env.client
        self.id = self.env.pool(**config)
        for name in users:
            self.env.user(self.id, name)

    def group(self, name: str, **kwargs) -> dict:
        return self.client.create_group(UserPoolId=self.id, GroupName=name, **kwargs)["Group"]

    def add(self, username: str, group: str) -> None:
        self.client.admin_add_user_to_group(UserPoolId=self.id, Username=username, GroupName=group)

    def remove(self, username: str, group: str) -> None:
        self.client.admin_remove_user_from_group(UserPoolId=self.id, Username=username, GroupName=group)

    def groups_of(self, username: str) -> list[str]:
        return [g["GroupName"] for g in self.all_pages(self.client.admin_list_groups_for_user, "Groups",
                                                          Username=username)]

    def members(self, group: str) -> list[str]:
        return [u["Username"] for u in self.all_pages(self.client.list_users_in_group, "Users", GroupName=group)]

    def all_pages(self, call, key: str, **kwargs) -> list[dict]:
        items, token = [], None
        while True:
            page = call(UserPoolId=self.id, **kwargs, **({"NextToken": token} if token else {}))
            items += page[key]
            token = page.get("NextToken")
            if token is None:
                return items


# -- CreateGroup, GetGroup, UpdateGroup: shapes ------------------------------------------------------


def test_a_group_without_optional_members_shows_none_of_them_and_equal_dates():
    pool = Pool()
    created = pool.group("readers")
    assert set(created) == MINIMAL_KEYS
    assert created["GroupName"] == "readers" and created["UserPoolId"] == pool.id
    assert created["CreationDate"] == created["LastModifiedDate"] == START
    assert isinstance(created["CreationDate"], datetime) and created["CreationDate"].tzinfo is not None
    assert pool.client.get_group(UserPoolId=pool.id, GroupName="readers")["Group"] == created


def test_a_group_with_every_member_shows_them_all():
    pool = Pool()
    created = pool.group("admins", Description="People who run things", RoleArn=ROLE, Precedence=0)
    assert created == {"GroupName": "admins", "UserPoolId": pool.id, "Description": "People who run things",
                       "RoleArn": ROLE, "Precedence": 0, "LastModifiedDate": START, "CreationDate": START}
    assert pool.client.get_group(UserPoolId=pool.id, GroupName="admins")["Group"] == created


def test_update_group_changes_what_it_names_keeps_the_rest_and_moves_the_modified_date():
    pool = Pool()
    pool.group("admins", Description="before", RoleArn=ROLE, Precedence=5)
    pool.env.clock.advance(timedelta(minutes=7))
    updated = pool.client.update_group(UserPoolId=pool.id, GroupName="admins", Precedence=1)["Group"]
    assert updated == {"GroupName": "admins", "UserPoolId": pool.id, "Description": "before", "RoleArn": ROLE,
                       "Precedence": 1, "CreationDate": START, "LastModifiedDate": START + timedelta(minutes=7)}
    pool.client.update_group(UserPoolId=pool.id, GroupName="admins", Description="after", RoleArn=OTHER_ROLE)
    shown = pool.client.get_group(UserPoolId=pool.id, GroupName="admins")["Group"]
    assert (shown["Description"], shown["RoleArn"], shown["Precedence"]) == ("after", OTHER_ROLE, 1)


def test_update_group_adds_members_a_group_was_created_without():
    pool = Pool()
    pool.group("readers")
    updated = pool.client.update_group(UserPoolId=pool.id, GroupName="readers", Precedence=3)["Group"]
    assert set(updated) == MINIMAL_KEYS | {"Precedence"}
    assert updated["Precedence"] == 3


def test_group_names_are_case_sensitive_and_a_duplicate_is_refused():
    pool = Pool()
    pool.group("Admins")
    pool.group("admins")
    unchanged(pool.env, GroupExistsException, GROUP_EXISTS, pool.group, "admins", Description="again")
    assert [g["GroupName"] for g in pool.all_pages(pool.client.list_groups, "Groups")] == ["Admins", "admins"]


@pytest.mark.parametrize("name", ["a" * 128, "ÄdminsⅣ", "admins:ops/eu-west_1", "€"])
def test_names_of_1_to_128_letters_marks_symbols_numbers_and_punctuation_are_accepted(name):
    pool = Pool()
    assert pool.group(name)["GroupName"] == name
    assert pool.client.get_group(UserPoolId=pool.id, GroupName=name)["Group"]["GroupName"] == name


BAD_GROUPS = [
    pytest.param({"GroupName": "a" * 129},
                 validation("groupName", "a" * 129, "have length less than or equal to 128"), id="name-129"),
    pytest.param({"GroupName": "two words"},
                 validation("groupName", "two words", r"satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}]+"),
                 id="name-space"),
    pytest.param({"GroupName": "tab\there"},
                 validation("groupName", "tab\there", r"satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}]+"),
                 id="name-tab"),
    pytest.param({"GroupName": "g", "Precedence": -1},
                 validation("precedence", -1, "have value greater than or equal to 0"), id="precedence-negative"),
    pytest.param({"GroupName": "g", "Precedence": 2**31},
                 validation("precedence", 2**31, "have value less than or equal to 2147483647"),
                 id="precedence-2^31"),
    pytest.param({"GroupName": "g", "Description": "d" * 2049},
                 validation("description", "d" * 2049, "have length less than or equal to 2048"),
                 id="description-2049"),
]


@pytest.mark.parametrize(("request_", "message"), BAD_GROUPS)
def test_bad_group_input_is_refused_by_validation_and_creates_nothing(request_, message):
    pool = Pool()
    unchanged(pool.env, InvalidParameterException, message, pool.client.create_group, UserPoolId=pool.id,
              **request_)
    assert pool.client.list_groups(UserPoolId=pool.id)["Groups"] == []


def test_a_role_arn_of_the_wrong_form_is_refused():
    pool = Pool()
    with pytest.raises(InvalidParameterException, match="at 'roleArn' failed to satisfy constraint"):
        pool.group("g", RoleArn="arn:aws:iam::not-an-account:role/x")
    assert pool.client.list_groups(UserPoolId=pool.id)["Groups"] == []


def test_the_largest_precedence_is_accepted():
    pool = Pool()
    assert pool.group("last", Precedence=2**31 - 1)["Precedence"] == 2**31 - 1


@pytest.mark.parametrize(("request_", "message"), [
    ({"Precedence": 2**31}, validation("precedence", 2**31, "have value less than or equal to 2147483647")),
    ({"Precedence": -1}, validation("precedence", -1, "have value greater than or equal to 0")),
    ({"Description": "d" * 2049}, validation("description", "d" * 2049, "have length less than or equal to 2048")),
])
def test_update_group_with_bad_input_changes_nothing(request_, message):
    pool = Pool()
    pool.group("admins", Precedence=4)
    unchanged(pool.env, InvalidParameterException, message, pool.client.update_group, UserPoolId=pool.id,
              GroupName="admins", **request_)
    assert pool.client.get_group(UserPoolId=pool.id, GroupName="admins")["Group"]["Precedence"] == 4


# -- unknown groups, users, pools ---------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["get_group", "update_group", "delete_group", "list_users_in_group"])
def test_operations_on_a_group_that_does_not_exist_are_refused(operation):
    pool = Pool()
    pool.group("Admins")
    unchanged(pool.env, ResourceNotFoundException, GROUP_NOT_FOUND, getattr(pool.client, operation),
              UserPoolId=pool.id, GroupName="admins")


@pytest.mark.parametrize("operation", ["admin_add_user_to_group", "admin_remove_user_from_group"])
def test_membership_of_a_group_that_does_not_exist_is_refused(operation):
    pool = Pool()
    unchanged(pool.env, ResourceNotFoundException, GROUP_NOT_FOUND, getattr(pool.client, operation),
              UserPoolId=pool.id, Username="alice", GroupName="admins")


@pytest.mark.parametrize("operation", ["admin_add_user_to_group", "admin_remove_user_from_group"])
def test_membership_of_a_user_that_does_not_exist_is_refused(operation):
    pool = Pool()
    pool.group("admins")
    unchanged(pool.env, UserNotFoundException, USER_NOT_FOUND, getattr(pool.client, operation),
              UserPoolId=pool.id, Username="bob", GroupName="admins")


def test_listing_the_groups_of_a_user_that_does_not_exist_is_refused():
    pool = Pool()
    unchanged(pool.env, UserNotFoundException, USER_NOT_FOUND, pool.client.admin_list_groups_for_user,
              UserPoolId=pool.id, Username="bob")


def test_group_operations_in_a_pool_that_does_not_exist_are_refused():
    pool = Pool()
    missing = "us-east-1_doesnotexist"
    message = f"User pool {missing} does not exist."
    unchanged(pool.env, ResourceNotFoundException, message, pool.client.create_group, UserPoolId=missing,
              GroupName="g")
    unchanged(pool.env, ResourceNotFoundException, message, pool.client.list_groups, UserPoolId=missing)


def test_a_group_of_another_pool_is_not_found():
    pool = Pool()
    other = pool.env.pool()
    pool.client.create_group(UserPoolId=other, GroupName="admins")
    unchanged(pool.env, ResourceNotFoundException, GROUP_NOT_FOUND, pool.client.get_group, UserPoolId=pool.id,
              GroupName="admins")
    unchanged(pool.env, ResourceNotFoundException, GROUP_NOT_FOUND, pool.add, "alice", "admins")


# -- membership -------------------------------------------------------------------------------------------


def test_adding_and_removing_members():
    pool = Pool(users=("alice", "bob"))
    pool.group("admins")
    pool.group("readers")
    pool.add("alice", "admins")
    pool.add("alice", "readers")
    pool.add("bob", "readers")
    assert pool.groups_of("alice") == ["admins", "readers"]
    assert pool.members("readers") == ["alice", "bob"]
    pool.remove("alice", "readers")
    assert pool.groups_of("alice") == ["admins"]
    assert pool.members("readers") == ["bob"]
    assert pool.groups_of("bob") == ["readers"]


def test_adding_a_member_twice_and_removing_a_non_member_succeed_and_change_nothing():
    pool = Pool(users=("alice", "bob"))
    pool.group("admins")
    pool.add("alice", "admins")
    before = pool.env.snapshot()
    pool.add("alice", "admins")
    pool.remove("bob", "admins")
    assert pool.env.snapshot() == before
    assert pool.members("admins") == ["alice"]


def test_membership_does_not_touch_the_group_or_the_user():
    pool = Pool()
    group = pool.group("admins")
    user = pool.client.admin_get_user(UserPoolId=pool.id, Username="alice")
    pool.env.clock.advance(timedelta(minutes=1))
    pool.add("alice", "admins")
    assert pool.client.get_group(UserPoolId=pool.id, GroupName="admins")["Group"] == group
    after = pool.client.admin_get_user(UserPoolId=pool.id, Username="alice")
    assert after["UserLastModifiedDate"] == user["UserLastModifiedDate"]


def test_the_username_may_be_an_alias():
    pool = Pool(users=(), AliasAttributes=["email"])
    pool.env.user(pool.id, "alice", attributes=[{"Name": "email", "Value": "alice@example.com"},
                                                {"Name": "email_verified", "Value": "true"}])
    pool.group("admins")
    pool.add("alice@example.com", "admins")
    assert pool.members("admins") == ["alice"]
    assert [g["GroupName"] for g in pool.client.admin_list_groups_for_user(
        UserPoolId=pool.id, Username="alice@example.com")["Groups"]] == ["admins"]
    pool.remove("alice@example.com", "admins")
    assert pool.members("admins") == []


def test_an_unverified_address_is_no_alias():
    pool = Pool(users=(), AliasAttributes=["email"])
    pool.env.user(pool.id, "alice", attributes=[{"Name": "email", "Value": "alice@example.com"}])
    pool.group("admins")
    unchanged(pool.env, UserNotFoundException, USER_NOT_FOUND, pool.add, "alice@example.com", "admins")


def test_in_an_email_username_pool_the_address_names_the_user():
    pool = Pool(users=(), UsernameAttributes=["email"])
    created = pool.env.user(pool.id, "carol@example.com")
    pool.group("admins")
    pool.add("carol@example.com", "admins")
    assert pool.members("admins") == [created["Username"]]
    assert pool.groups_of("carol@example.com") == ["admins"]


def test_users_in_group_are_user_types():
    pool = Pool(users=())
    pool.env.user(pool.id, "alice", attributes=[{"Name": "email", "Value": "alice@example.com"}])
    pool.group("admins")
    pool.add("alice", "admins")
    (user,) = pool.client.list_users_in_group(UserPoolId=pool.id, GroupName="admins")["Users"]
    listed = pool.client.list_users(UserPoolId=pool.id)["Users"][0]
    assert user == listed
    assert {a["Name"]: a["Value"] for a in user["Attributes"]}["email"] == "alice@example.com"
    assert (user["UserStatus"], user["Enabled"], user["UserCreateDate"]) == ("FORCE_CHANGE_PASSWORD", True, START)


def test_delete_group_with_members_drops_the_memberships():
    pool = Pool(users=("alice", "bob"))
    pool.group("admins")
    pool.group("readers")
    for name in ("alice", "bob"):
        pool.add(name, "admins")
    pool.add("alice", "readers")
    assert pool.client.delete_group(UserPoolId=pool.id, GroupName="admins").keys() <= {"ResponseMetadata"}
    assert pool.groups_of("alice") == ["readers"]
    assert pool.groups_of("bob") == []
    unchanged(pool.env, ResourceNotFoundException, GROUP_NOT_FOUND, pool.client.get_group, UserPoolId=pool.id,
              GroupName="admins")
    # A new group of the same name starts empty: nothing of the old one survived.
    pool.group("admins")
    assert pool.members("admins") == []
    assert pool.groups_of("alice") == ["readers"]


def test_admin_delete_user_removes_the_users_memberships():
    pool = Pool(users=("alice", "bob"))
    pool.group("admins")
    pool.group("readers")
    for group in ("admins", "readers"):
        pool.add("alice", group)
        pool.add("bob", group)
    pool.client.admin_delete_user(UserPoolId=pool.id, Username="alice")
    assert pool.members("admins") == ["bob"]
    assert pool.members("readers") == ["bob"]
    # A new user of the same name is in no group.
    pool.env.user(pool.id, "alice")
    assert pool.groups_of("alice") == []
    assert pool.members("admins") == ["bob"]


def test_delete_user_pool_takes_its_groups():
    pool = Pool()
    pool.group("admins")
    pool.add("alice", "admins")
    pool.client.delete_user_pool(UserPoolId=pool.id)
    contents = pool.env.snapshot()
    assert pool.id not in contents["pools"]
    assert pool.id not in contents["users"]


# -- quotas -----------------------------------------------------------------------------------------------


def test_a_pool_holds_at_most_its_quota_of_groups(monkeypatch):
    # The quota is 10,000; creating that many groups would take the test ~10 s, so it
    # runs against a smaller quota read the same way.
    assert group_rules.MAX_GROUPS_PER_POOL == 10_000
    monkeypatch.setattr(group_rules, "MAX_GROUPS_PER_POOL", 3)
    pool = Pool()
    for name in ("a", "b", "c"):
        pool.group(name)
    unchanged(pool.env, LimitExceededException, "The user pool has reached its limit of 3 groups.", pool.group,
              "d")
    # Groups of another pool do not count; a deleted group frees its place.
    other = pool.env.pool()
    pool.client.create_group(UserPoolId=other, GroupName="d")
    pool.client.delete_group(UserPoolId=pool.id, GroupName="a")
    pool.group("d")
    assert [g["GroupName"] for g in pool.all_pages(pool.client.list_groups, "Groups")] == ["b", "c", "d"]


def test_a_user_can_be_in_at_most_100_groups():
    pool = Pool(users=("alice", "bob"))
    for i in range(101):
        pool.group(f"g{i:03d}")
    for i in range(100):
        pool.add("alice", f"g{i:03d}")
    unchanged(pool.env, LimitExceededException, "A user can be in at most 100 groups.", pool.add, "alice", "g100")
    pool.add("alice", "g000")  # already a member: nothing to refuse
    pool.add("bob", "g100")  # the group itself has room
    assert len(pool.groups_of("alice")) == 100
    pool.remove("alice", "g000")
    pool.add("alice", "g100")
    assert "g100" in pool.groups_of("alice") and "g000" not in pool.groups_of("alice")


# -- paging -----------------------------------------------------------------------------------------------


def pages(call, key: str, *, limit: int, **kwargs) -> list[list[str]]:
    """Every page's names, following NextToken."""
    out, token = [], None
    while True:
        page = call(**kwargs, Limit=limit, **({"NextToken": token} if token else {}))
        out.append([item.get("GroupName") or item.get("Username") for item in page[key]])
        token = page.get("NextToken")
        if token is None:
            return out


def test_list_groups_pages_by_name():
    pool = Pool()
    for name in ("delta", "Bravo", "alpha", "echo", "charlie", "Alpha", "foxtrot"):
        pool.group(name)
    assert pages(pool.client.list_groups, "Groups", limit=3, UserPoolId=pool.id) == [
        ["Alpha", "Bravo", "alpha"], ["charlie", "delta", "echo"], ["foxtrot"]]


def test_a_full_last_page_has_no_next_token():
    pool = Pool()
    for name in ("a", "b", "c", "d"):
        pool.group(name)
    assert pages(pool.client.list_groups, "Groups", limit=2, UserPoolId=pool.id) == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize("limit", [None, 0])
def test_list_groups_without_a_limit_gives_pages_of_60(limit):
    pool = Pool()
    for i in range(61):
        pool.group(f"g{i:02d}")
    request = {"UserPoolId": pool.id, **({"Limit": limit} if limit is not None else {})}
    first = pool.client.list_groups(**request)
    assert len(first["Groups"]) == 60
    rest = pool.client.list_groups(**request, NextToken=first["NextToken"])
    assert [g["GroupName"] for g in rest["Groups"]] == ["g60"] and "NextToken" not in rest


def test_list_groups_pages_stay_right_while_groups_come_and_go():
    pool = Pool()
    for name in ("b", "d", "f"):
        pool.group(name)
    first = pool.client.list_groups(UserPoolId=pool.id, Limit=2)
    assert [g["GroupName"] for g in first["Groups"]] == ["b", "d"]
    pool.group("a")  # before the position: not shown again, not skipped over
    pool.group("e")
    pool.client.delete_group(UserPoolId=pool.id, GroupName="f")
    rest = pool.client.list_groups(UserPoolId=pool.id, Limit=2, NextToken=first["NextToken"])
    assert [g["GroupName"] for g in rest["Groups"]] == ["e"] and "NextToken" not in rest


def test_admin_list_groups_for_user_pages_in_claim_order():
    pool = Pool()
    for name, precedence in (("zeta", 1), ("beta", None), ("alpha", 1), ("gamma", 0), ("delta", None)):
        pool.group(name, **({"Precedence": precedence} if precedence is not None else {}))
        pool.add("alice", name)
    assert pages(pool.client.admin_list_groups_for_user, "Groups", limit=2, UserPoolId=pool.id,
                 Username="alice") == [["gamma", "alpha"], ["zeta", "beta"], ["delta"]]


def test_list_users_in_group_pages_by_username():
    pool = Pool(users=("erin", "bob", "alice", "dave", "carol", "frank"))
    pool.group("all")
    for name in ("erin", "bob", "alice", "dave", "carol"):
        pool.add(name, "all")
    assert pages(pool.client.list_users_in_group, "Users", limit=2, UserPoolId=pool.id, GroupName="all") == [
        ["alice", "bob"], ["carol", "dave"], ["erin"]]


def _flip(token: str, at: int) -> str:
    swapped = "A" if token[at] != "A" else "B"
    return token[:at] + swapped + token[at + 1:]


class Listings:
    """A pool with three groups, two of which alice and bob are both in, and a first page
    (Limit 1) of each listing."""

    def __init__(self) -> None:
        self.pool = pool = Pool(users=("alice", "bob", "carol"))
        for name in ("a", "b", "c"):
            pool.group(name)
        for user in ("alice", "bob"):
            for group in ("a", "b"):
                pool.add(user, group)
        pool.add("carol", "a")
        self.id = pool.id
        client = pool.client
        self.groups = client.list_groups(UserPoolId=pool.id, Limit=1)["NextToken"]
        self.of_alice = client.admin_list_groups_for_user(UserPoolId=pool.id, Username="alice", Limit=1)["NextToken"]
        self.in_a = client.list_users_in_group(UserPoolId=pool.id, GroupName="a", Limit=1)["NextToken"]

    def refuse(self, call, message: str = INVALID_TOKEN, **kwargs) -> None:
        unchanged(self.pool.env, InvalidParameterException, message, call, UserPoolId=self.id, Limit=1, **kwargs)


def test_tampered_next_tokens_are_refused():
    listings = Listings()
    client = listings.pool.client
    for at in (0, len(listings.groups) // 2, len(listings.groups) - 1):
        listings.refuse(client.list_groups, NextToken=_flip(listings.groups, at))
    listings.refuse(client.admin_list_groups_for_user, Username="alice", NextToken=_flip(listings.of_alice, 5))
    listings.refuse(client.list_users_in_group, GroupName="a", NextToken=_flip(listings.in_a, 5))
    listings.refuse(client.list_groups, NextToken="not-a-token")


def test_next_tokens_are_bound_to_what_they_list():
    listings = Listings()
    client = listings.pool.client
    # Another listing's token, another user's, another group's.
    listings.refuse(client.list_groups, NextToken=listings.of_alice)
    listings.refuse(client.admin_list_groups_for_user, Username="alice", NextToken=listings.groups)
    listings.refuse(client.admin_list_groups_for_user, Username="bob", NextToken=listings.of_alice)
    listings.refuse(client.list_users_in_group, GroupName="b", NextToken=listings.in_a)
    listings.refuse(client.list_users_in_group, GroupName="a", NextToken=listings.groups)


def test_next_tokens_of_another_pool_are_refused():
    listings = Listings()
    client = listings.pool.client
    other = listings.pool.env.pool()
    for name in ("a", "b"):
        client.create_group(UserPoolId=other, GroupName=name)
    unchanged(listings.pool.env, InvalidParameterException, INVALID_TOKEN, client.list_groups, UserPoolId=other,
              Limit=1, NextToken=listings.groups)


def test_a_list_users_in_group_token_dies_with_its_group():
    listings = Listings()
    client = listings.pool.client
    listings.pool.env.clock.advance(timedelta(seconds=1))
    client.delete_group(UserPoolId=listings.id, GroupName="a")
    listings.pool.group("a")
    for name in ("alice", "bob"):
        listings.pool.add(name, "a")
    listings.refuse(client.list_users_in_group, GroupName="a", NextToken=listings.in_a)


def test_next_tokens_expire_after_an_hour():
    listings = Listings()
    client = listings.pool.client
    listings.pool.env.clock.advance(timedelta(hours=1))
    assert client.list_groups(UserPoolId=listings.id, Limit=1, NextToken=listings.groups)["Groups"]
    listings.pool.env.clock.advance(timedelta(seconds=1))
    listings.refuse(client.list_groups, EXPIRED_TOKEN, NextToken=listings.groups)
    listings.refuse(client.admin_list_groups_for_user, EXPIRED_TOKEN, Username="alice", NextToken=listings.of_alice)
    listings.refuse(client.list_users_in_group, EXPIRED_TOKEN, GroupName="a", NextToken=listings.in_a)


def test_a_valid_next_token_continues_each_listing():
    listings = Listings()
    client = listings.pool.client
    assert [g["GroupName"] for g in client.list_groups(UserPoolId=listings.id, Limit=5,
                                                         NextToken=listings.groups)["Groups"]] == ["b", "c"]
    assert [g["GroupName"] for g in client.admin_list_groups_for_user(
        UserPoolId=listings.id, Username="alice", Limit=5, NextToken=listings.of_alice)["Groups"]] == ["b"]
    assert [u["Username"] for u in client.list_users_in_group(
        UserPoolId=listings.id, GroupName="a", Limit=5, NextToken=listings.in_a)["Users"]] == ["bob", "carol"]
