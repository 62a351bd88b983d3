"""AdminGetUser, AdminDeleteUser, AdminDisableUser/EnableUser, AdminUpdateUserAttributes,
AdminDeleteUserAttributes through the public Client."""

from __future__ import annotations

from datetime import timedelta

import pytest

VERIFIED_EMAIL = [{"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"}]


def attrs(response: dict) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in response["UserAttributes"]}


@pytest.fixture
def alias_pool(client) -> str:
    return client.create_user_pool(PoolName="aliases", AliasAttributes=["email", "preferred_username"])["UserPool"]["Id"]


def create(client, pool, username, attributes=()):
    return client.admin_create_user(
        UserPoolId=pool, Username=username, UserAttributes=list(attributes), MessageAction="SUPPRESS"
    )["User"]


def test_get_unknown_user(client, pool_id):
    with pytest.raises(client.exceptions.UserNotFoundException) as err:
        client.admin_get_user(UserPoolId=pool_id, Username="ghost")
    assert err.value.message == "User does not exist."


def test_get_by_alias_only_when_verified(client, alias_pool):
    create(client, alias_pool, "alice", [{"Name": "email", "Value": "alice@example.com"}])
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=alias_pool, Username="alice@example.com")
    client.admin_update_user_attributes(
        UserPoolId=alias_pool, Username="alice", UserAttributes=[{"Name": "email_verified", "Value": "true"}]
    )
    assert client.admin_get_user(UserPoolId=alias_pool, Username="alice@example.com")["Username"] == "alice"


def test_alias_not_used_in_plain_pool(client, pool_id):
    create(client, pool_id, "alice", VERIFIED_EMAIL)
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=pool_id, Username="alice@example.com")


def test_delete_user_frees_username_and_alias(client, alias_pool):
    create(client, alias_pool, "alice", VERIFIED_EMAIL)
    client.admin_delete_user(UserPoolId=alias_pool, Username="alice@example.com")
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=alias_pool, Username="alice")
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_delete_user(UserPoolId=alias_pool, Username="alice")
    create(client, alias_pool, "bob", VERIFIED_EMAIL)  # the alias is free again
    create(client, alias_pool, "alice")  # and so is the username


def test_disable_and_enable_keep_status(client, pool_id, clock):
    created = create(client, pool_id, "alice")
    clock.advance(timedelta(seconds=5))
    client.admin_disable_user(UserPoolId=pool_id, Username="alice")
    got = client.admin_get_user(UserPoolId=pool_id, Username="alice")
    assert got["Enabled"] is False
    assert got["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert got["UserLastModifiedDate"] == created["UserCreateDate"] + timedelta(seconds=5)
    client.admin_disable_user(UserPoolId=pool_id, Username="alice")  # idempotent
    client.admin_enable_user(UserPoolId=pool_id, Username="alice")
    got = client.admin_get_user(UserPoolId=pool_id, Username="alice")
    assert got["Enabled"] is True
    assert got["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_disable_unknown_user(client, pool_id):
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_disable_user(UserPoolId=pool_id, Username="ghost")
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_enable_user(UserPoolId=pool_id, Username="ghost")


def test_update_attributes_sets_and_blank_deletes(client, pool_id):
    create(client, pool_id, "alice", [{"Name": "given_name", "Value": "Alice"}])
    client.admin_update_user_attributes(
        UserPoolId=pool_id,
        Username="alice",
        UserAttributes=[{"Name": "family_name", "Value": "Liddell"}, {"Name": "given_name", "Value": ""}],
    )
    values = attrs(client.admin_get_user(UserPoolId=pool_id, Username="alice"))
    assert values["family_name"] == "Liddell"
    assert "given_name" not in values


def test_changing_email_unverifies_it(client, alias_pool):
    create(client, alias_pool, "alice", VERIFIED_EMAIL)
    client.admin_update_user_attributes(
        UserPoolId=alias_pool, Username="alice", UserAttributes=[{"Name": "email", "Value": "new@example.com"}]
    )
    values = attrs(client.admin_get_user(UserPoolId=alias_pool, Username="alice"))
    assert values["email"] == "new@example.com"
    assert values["email_verified"] == "false"
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=alias_pool, Username="alice@example.com")
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=alias_pool, Username="new@example.com")


def test_changing_email_with_verified_flag_keeps_it_verified(client, alias_pool):
    create(client, alias_pool, "alice", VERIFIED_EMAIL)
    client.admin_update_user_attributes(
        UserPoolId=alias_pool,
        Username="alice",
        UserAttributes=[{"Name": "email", "Value": "new@example.com"}, {"Name": "email_verified", "Value": "true"}],
    )
    assert client.admin_get_user(UserPoolId=alias_pool, Username="new@example.com")["Username"] == "alice"


def test_verifying_an_email_held_by_another_user(client, alias_pool):
    create(client, alias_pool, "alice", VERIFIED_EMAIL)
    create(client, alias_pool, "bob", [{"Name": "email", "Value": "alice@example.com"}])
    with pytest.raises(client.exceptions.AliasExistsException) as err:
        client.admin_update_user_attributes(
            UserPoolId=alias_pool, Username="bob", UserAttributes=[{"Name": "email_verified", "Value": "true"}]
        )
    assert err.value.message == "An account with the email already exists."
    assert attrs(client.admin_get_user(UserPoolId=alias_pool, Username="bob")).get("email_verified") is None


def test_immutable_attributes(client, pool_id):
    pool = client.create_user_pool(
        PoolName="imm", Schema=[{"Name": "badge", "AttributeDataType": "String", "Mutable": False}]
    )["UserPool"]["Id"]
    create(client, pool, "alice", [{"Name": "custom:badge", "Value": "b1"}])
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.admin_update_user_attributes(
            UserPoolId=pool, Username="alice", UserAttributes=[{"Name": "custom:badge", "Value": "b2"}]
        )
    assert "custom:badge" in err.value.message
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.admin_update_user_attributes(
            UserPoolId=pool, Username="alice", UserAttributes=[{"Name": "sub", "Value": "x"}]
        )


def test_delete_attributes(client, alias_pool):
    create(client, alias_pool, "alice", VERIFIED_EMAIL + [{"Name": "nickname", "Value": "al"}])
    client.admin_delete_user_attributes(UserPoolId=alias_pool, Username="alice", UserAttributeNames=["nickname", "email"])
    values = attrs(client.admin_get_user(UserPoolId=alias_pool, Username="alice"))
    assert "nickname" not in values and "email" not in values and "email_verified" not in values
    with pytest.raises(client.exceptions.UserNotFoundException):
        client.admin_get_user(UserPoolId=alias_pool, Username="alice@example.com")


def test_delete_required_or_immutable_attribute_refused(client):
    pool = client.create_user_pool(
        PoolName="req", Schema=[{"Name": "family_name", "AttributeDataType": "String", "Required": True, "Mutable": True}]
    )["UserPool"]["Id"]
    create(client, pool, "alice", [{"Name": "family_name", "Value": "L"}])
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.admin_delete_user_attributes(UserPoolId=pool, Username="alice", UserAttributeNames=["family_name"])
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.admin_delete_user_attributes(UserPoolId=pool, Username="alice", UserAttributeNames=["sub"])
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.admin_update_user_attributes(
            UserPoolId=pool, Username="alice", UserAttributes=[{"Name": "family_name", "Value": ""}]
        )


@pytest.fixture
def typed_pool(client) -> str:
    return client.create_user_pool(
        PoolName="typed",
        Schema=[
            {"Name": "age", "AttributeDataType": "Number", "Mutable": True,
             "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "150"}},
            {"Name": "vip", "AttributeDataType": "Boolean", "Mutable": True},
            {"Name": "code", "AttributeDataType": "String", "Mutable": True,
             "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "4"}},
        ],
    )["UserPool"]["Id"]


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("custom:age", "abc", "Number must be an integer"),
        ("custom:age", "5_000", "Number must be an integer"),
        ("custom:age", " 5", "Number must be an integer"),
        ("custom:age", "151", "Number must not be greater than 150"),
        ("custom:age", "-1", "Number must not be less than 0"),
        ("custom:vip", "yes", "Value must be either true or false"),
        ("custom:code", "x", "String must be no shorter than 2 characters"),
        ("custom:code", "abcde", "String must be no longer than 4 characters"),
        ("birthdate", "2020-1-1", "String must be no shorter than 10 characters"),
        ("phone_number", "4325551212", "Invalid phone number format."),
        ("nonsense", "x", "nonsense: Attribute does not exist in the schema."),
    ],
)
def test_attribute_values_checked_against_schema(client, typed_pool, name, value, fragment):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        create(client, typed_pool, "alice", [{"Name": name, "Value": value}])
    assert fragment in err.value.message
    create(client, typed_pool, "bob")
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.admin_update_user_attributes(UserPoolId=typed_pool, Username="bob", UserAttributes=[{"Name": name, "Value": value}])


def test_typed_values_accepted(client, typed_pool):
    user = create(client, typed_pool, "alice", [
        {"Name": "custom:age", "Value": "42"}, {"Name": "custom:vip", "Value": "true"}, {"Name": "custom:code", "Value": "ab"},
    ])
    values = {a["Name"]: a["Value"] for a in user["Attributes"]}
    assert values["custom:age"] == "42" and values["custom:vip"] == "true"


def test_duplicate_attribute_in_request(client, pool_id):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        create(client, pool_id, "alice", [{"Name": "nickname", "Value": "a"}, {"Name": "nickname", "Value": "b"}])
    assert "nickname" in err.value.message
