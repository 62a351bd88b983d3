"""Custom attributes added to a pool later (AddCustomAttributes) through the Client
(docs/semantics.md, "Custom attributes added later"): built and checked as CreateUserPool
builds custom attributes, within the quota of 50, and usable at once: in AdminCreateUser
and AdminUpdateUserAttributes (their constraints enforced), in ID tokens as strings, as
the app clients' Read/WriteAttributes allow; never in ListUsers filters. Every refusal
leaves the store unchanged, a batch with one bad entry adds nothing."""

from __future__ import annotations

import pytest

from authflow.errors import (
    InvalidParameterException,
    NotAuthorizedException,
    ResourceNotFoundException,
)
from tests.signin import NEW, Env, refused, token_claims

STRING = {"Name": "tier", "AttributeDataType": "String"}


def unchanged(env: Env, exception, message: str, call, *args, **kwargs):
    before = env.snapshot()
    err = refused(exception, message, call, *args, **kwargs)
    assert env.snapshot() == before
    return err


class Pool:
    def __init__(self, **config) -> None:
        self.env = Env()
        self.client = self.env.client
        self.id = self.env.pool(**config)

    def add(self, *attributes: dict) -> None:
        assert self.client.add_custom_attributes(UserPoolId=self.id, CustomAttributes=list(attributes)).keys() <= {
            "ResponseMetadata"}

    def refuse(self, message: str, *attributes: dict) -> None:
        unchanged(self.env, InvalidParameterException, message, self.client.add_custom_attributes,
                  UserPoolId=self.id, CustomAttributes=list(attributes))

    def custom_schema(self) -> list[dict]:
        schema = self.client.describe_user_pool(UserPoolId=self.id)["UserPool"]["SchemaAttributes"]
        return [a for a in schema if "custom:" in a["Name"]]


def test_every_type_is_added_as_create_user_pool_would_build_it():
    pool = Pool(Schema=[{"Name": "first", "AttributeDataType": "String"}])
    pool.add({"Name": "level", "AttributeDataType": "Number",
              "NumberAttributeConstraints": {"MinValue": "1", "MaxValue": "10"}},
             {"Name": "vip", "AttributeDataType": "Boolean"},
             {"Name": "born", "AttributeDataType": "DateTime", "Mutable": False},
             {"Name": "code", "AttributeDataType": "String",
              "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "8"}},
             {"Name": "hidden", "AttributeDataType": "String", "DeveloperOnlyAttribute": True})
    common = {"DeveloperOnlyAttribute": False, "Mutable": True, "Required": False}
    assert pool.custom_schema() == [
        {"Name": "custom:first", "AttributeDataType": "String", **common, "StringAttributeConstraints": {}},
        {"Name": "custom:level", "AttributeDataType": "Number", **common,
         "NumberAttributeConstraints": {"MinValue": "1", "MaxValue": "10"}},
        {"Name": "custom:vip", "AttributeDataType": "Boolean", **common},
        {"Name": "custom:born", "AttributeDataType": "DateTime", **common, "Mutable": False},
        {"Name": "custom:code", "AttributeDataType": "String", **common,
         "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "8"}},
        {"Name": "dev:custom:hidden", "AttributeDataType": "String", **common, "DeveloperOnlyAttribute": True,
         "StringAttributeConstraints": {}},
    ]
    # The same attribute made by CreateUserPool looks the same.
    created = Pool(Schema=[{"Name": "level", "AttributeDataType": "Number",
                            "NumberAttributeConstraints": {"MinValue": "1", "MaxValue": "10"}}])
    assert created.custom_schema() == [pool.custom_schema()[1]]


def test_a_name_the_pool_has_is_refused():
    pool = Pool(Schema=[STRING])
    pool.refuse("custom:tier: Existing attribute already has name custom:tier.", STRING)
    pool.add({"Name": "level", "AttributeDataType": "Number"})
    pool.refuse("custom:level: Existing attribute already has name custom:level.",
                {"Name": "other", "AttributeDataType": "String"}, {"Name": "level", "AttributeDataType": "String"})
    assert [a["Name"] for a in pool.custom_schema()] == ["custom:tier", "custom:level"]


def test_a_name_given_twice_is_refused():
    pool = Pool()
    pool.refuse("custom:x: Existing attribute already has name custom:x.",
                {"Name": "x", "AttributeDataType": "String"}, {"Name": "x", "AttributeDataType": "Number"})
    assert pool.custom_schema() == []


def test_a_developer_only_twin_is_another_name():
    pool = Pool(Schema=[STRING])
    pool.add({**STRING, "DeveloperOnlyAttribute": True})
    assert [a["Name"] for a in pool.custom_schema()] == ["custom:tier", "dev:custom:tier"]


def test_required_custom_attributes_are_refused():
    pool = Pool()
    pool.refuse("Required custom attributes are not supported currently.",
                {"Name": "ok", "AttributeDataType": "String"}, {**STRING, "Required": True})
    assert pool.custom_schema() == []


@pytest.mark.parametrize(("attribute", "message"), [
    ({"Name": "x", "AttributeDataType": "Boolean", "StringAttributeConstraints": {"MaxLength": "3"}},
     "user.custom:x: StringAttributeConstraints cannot be set for an attribute of type Boolean."),
    ({"Name": "x", "AttributeDataType": "String", "NumberAttributeConstraints": {"MinValue": "3"}},
     "user.custom:x: NumberAttributeConstraints cannot be set for an attribute of type String."),
    ({"Name": "x", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "5", "MaxLength": "3"}},
     "user.custom:x: Max length cannot be less than min length."),
    ({"Name": "x", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "2049"}},
     "user.custom:x: String attributes cannot have a length of more than 2048"),
    ({"Name": "x", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "9", "MaxValue": "1"}},
     "user.custom:x: Max value cannot be less than min value."),
    ({"Name": "x", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "1.5"}},
     "user.custom:x: MinValue must be a whole number, not '1.5'."),
    ({"Name": "x"}, "Invalid AttributeDataType input, consider using the provided AttributeDataType enum."),
])
def test_constraints_must_fit_the_type(attribute, message):
    pool = Pool()
    pool.refuse(message, {"Name": "fine", "AttributeDataType": "String"}, attribute)
    assert pool.custom_schema() == []


@pytest.mark.parametrize(("attributes", "member", "constraint"), [
    ([{"Name": "x" * 21, "AttributeDataType": "String"}], "customAttributes.1.member.name",
     "have length less than or equal to 20"),
    ([{"Name": "x", "AttributeDataType": "Text"}], "customAttributes.1.member.attributeDataType",
     "satisfy enum value set"),
    ([], "customAttributes", "have length greater than or equal to 1"),
    ([{"Name": f"a{i}", "AttributeDataType": "String"} for i in range(26)], "customAttributes",
     "have length less than or equal to 25"),
])
def test_bad_requests_are_refused_by_validation(attributes, member, constraint):
    pool = Pool()
    before = pool.env.snapshot()
    with pytest.raises(InvalidParameterException, match=f"at '{member}' failed to satisfy constraint: Member must "
                                                         f"{constraint}"):
        pool.client.add_custom_attributes(UserPoolId=pool.id, CustomAttributes=attributes)
    assert pool.env.snapshot() == before


def test_the_quota_of_50_counts_the_attributes_the_pool_has():
    pool = Pool(Schema=[{"Name": f"c{i}", "AttributeDataType": "String"} for i in range(20)])
    pool.add(*({"Name": f"a{i}", "AttributeDataType": "String"} for i in range(25)))
    pool.refuse("A user pool can have at most 50 custom attributes; it would have 51.",
                *({"Name": f"b{i}", "AttributeDataType": "String"} for i in range(6)))
    pool.add(*({"Name": f"b{i}", "AttributeDataType": "String", "DeveloperOnlyAttribute": i == 0}
               for i in range(5)))
    assert len(pool.custom_schema()) == 50
    pool.refuse("A user pool can have at most 50 custom attributes; it would have 51.",
                {"Name": "last", "AttributeDataType": "Boolean"})


def test_a_pool_that_does_not_exist():
    env = Env()
    unchanged(env, ResourceNotFoundException, "User pool us-east-1_doesnotexist does not exist.",
              env.client.add_custom_attributes, UserPoolId="us-east-1_doesnotexist", CustomAttributes=[STRING])


# -- the new attributes in use -------------------------------------------------------------------------------


class Added:
    """A pool, an app client made before the attributes were added (reading and writing
    everything by default), then custom:level (Number 1..10), custom:vip (Boolean),
    custom:code (String of at most 4) and custom:frozen (immutable) added."""

    def __init__(self) -> None:
        self.pool = Pool()
        self.env, self.client, self.id = self.pool.env, self.pool.client, self.pool.id
        self.app = self.env.app_id(self.id)
        self.pool.add({"Name": "level", "AttributeDataType": "Number",
                       "NumberAttributeConstraints": {"MinValue": "1", "MaxValue": "10"}},
                      {"Name": "vip", "AttributeDataType": "Boolean"},
                      {"Name": "code", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "4"}},
                      {"Name": "frozen", "AttributeDataType": "String", "Mutable": False})

    def create(self, username: str = "alice", **attributes: str) -> None:
        self.env.user(self.id, username, attributes=[{"Name": f"custom:{k}", "Value": v} for k, v in attributes.items()])


def test_admin_create_user_takes_the_new_attributes_at_once():
    added = Added()
    added.create(level="7", vip="true", code="ab", frozen="first")
    assert {k: v for k, v in added.env.attributes(added.id).items() if k.startswith("custom:")} == {
        "custom:level": "7", "custom:vip": "true", "custom:code": "ab", "custom:frozen": "first"}


@pytest.mark.parametrize(("name", "value", "detail"), [
    ("level", "11", "custom:level: Number must not be greater than 10\n"),
    ("code", "abcde", "custom:code: String must be no longer than 4 characters\n"),
    ("vip", "maybe", "custom:vip: Value must be either true or false\n"),
])
def test_the_new_constraints_hold_at_once(name, value, detail):
    added = Added()
    added.create("bob")
    message = f"Attributes did not conform to the schema: {detail}"
    unchanged(added.env, InvalidParameterException, message, added.env.user, added.id, "alice",
              attributes=[{"Name": f"custom:{name}", "Value": value}])
    unchanged(added.env, InvalidParameterException, message, added.client.admin_update_user_attributes,
              UserPoolId=added.id, Username="bob", UserAttributes=[{"Name": f"custom:{name}", "Value": value}])


def test_admin_update_user_attributes_writes_them_and_immutable_ones_stay():
    added = Added()
    added.create(frozen="first")
    added.client.admin_update_user_attributes(UserPoolId=added.id, Username="alice", UserAttributes=[
        {"Name": "custom:level", "Value": "3"}, {"Name": "custom:vip", "Value": "false"}])
    shown = added.env.attributes(added.id)
    assert (shown["custom:level"], shown["custom:vip"]) == ("3", "false")
    unchanged(added.env, InvalidParameterException, "Cannot modify the non-mutable attribute custom:frozen",
              added.client.admin_update_user_attributes, UserPoolId=added.id, Username="alice",
              UserAttributes=[{"Name": "custom:frozen", "Value": "second"}])


def test_id_tokens_carry_them_as_strings():
    added = Added()
    added.create(level="7", vip="true", code="ab")
    claims = token_claims(added.env.confirm(added.id, added.app)["AuthenticationResult"]["IdToken"])
    assert (claims["custom:level"], claims["custom:vip"], claims["custom:code"]) == ("7", "true", "ab")
    assert "custom:frozen" not in claims  # no value, no claim


def test_read_attributes_decide_who_sees_them():
    added = Added()
    added.create(level="7", code="ab")
    reader = added.env.app_id(added.id, ReadAttributes=["custom:level"], WriteAttributes=["custom:level"])
    added.env.confirm(added.id, added.app)
    result = added.env.initiate(reader, password=NEW)["AuthenticationResult"]
    claims = token_claims(result["IdToken"])
    assert claims["custom:level"] == "7" and "custom:code" not in claims
    shown = {a["Name"] for a in added.client.get_user(AccessToken=result["AccessToken"])["UserAttributes"]}
    assert shown == {"sub", "custom:level"}
    everything = added.env.initiate(added.app, password=NEW)["AuthenticationResult"]
    assert token_claims(everything["IdToken"])["custom:code"] == "ab"


def test_write_attributes_decide_who_changes_them():
    added = Added()
    added.create(level="7")
    writer = added.env.app_id(added.id, WriteAttributes=["custom:code"])
    added.env.confirm(added.id, added.app)
    result = added.env.initiate(writer, password=NEW)["AuthenticationResult"]
    added.client.update_user_attributes(AccessToken=result["AccessToken"],
                                        UserAttributes=[{"Name": "custom:code", "Value": "zz"}])
    unchanged(added.env, NotAuthorizedException, "A client attempted to write unauthorized attribute",
              added.client.update_user_attributes, AccessToken=result["AccessToken"],
              UserAttributes=[{"Name": "custom:level", "Value": "2"}])
    default = added.env.initiate(added.app, password=NEW)["AuthenticationResult"]
    added.client.update_user_attributes(AccessToken=default["AccessToken"],
                                        UserAttributes=[{"Name": "custom:level", "Value": "2"}])
    assert added.env.attributes(added.id)["custom:level"] == "2"
    assert added.env.attributes(added.id)["custom:code"] == "zz"


def test_a_client_can_name_an_attribute_only_once_it_exists():
    pool = Pool()
    unchanged(pool.env, InvalidParameterException, "Invalid read attributes specified while creating a client",
              pool.env.app_id, pool.id, ReadAttributes=["custom:later"])
    pool.add({"Name": "later", "AttributeDataType": "String"})
    assert pool.env.app(pool.id, ReadAttributes=["custom:later"])["ReadAttributes"] == ["custom:later"]


def test_developer_only_attributes_are_not_writable_by_users():
    pool = Pool()
    app = pool.env.app_id(pool.id)
    pool.add({"Name": "hidden", "AttributeDataType": "String", "DeveloperOnlyAttribute": True})
    pool.env.user(pool.id)
    result = pool.env.confirm(pool.id, app)["AuthenticationResult"]
    unchanged(pool.env, NotAuthorizedException, "A client attempted to write unauthorized attribute",
              pool.client.update_user_attributes, AccessToken=result["AccessToken"],
              UserAttributes=[{"Name": "dev:custom:hidden", "Value": "x"}])
    pool.client.admin_update_user_attributes(UserPoolId=pool.id, Username="alice",
                                             UserAttributes=[{"Name": "dev:custom:hidden", "Value": "x"}])
    assert pool.env.attributes(pool.id)["dev:custom:hidden"] == "x"


@pytest.mark.parametrize("filter_", ['custom:level = "7"', 'custom:level ^= "7"', 'custom:code = "ab"'])
def test_they_are_not_filterable_in_list_users(filter_):
    added = Added()
    added.create(level="7", code="ab")
    name = filter_.split()[0]
    message = (f"Custom attribute '{name}' cannot be used in a filter: custom attributes are not searchable. "
               "Only these attributes are searchable: username, email, phone_number, name, given_name, "
               "family_name, preferred_username, cognito:user_status, status, sub.")
    unchanged(added.env, InvalidParameterException, message, added.client.list_users, UserPoolId=added.id,
              Filter=filter_)
    listed = added.client.list_users(UserPoolId=added.id)["Users"]
    assert {a["Name"]: a["Value"] for a in listed[0]["Attributes"]}["custom:level"] == "7"
