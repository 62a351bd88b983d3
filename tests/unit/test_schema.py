"""Unit tests for authflow.core.schema: standard attributes, build_schema rules, typed view."""

from __future__ import annotations

import copy

import botocore.session
import pytest

from authflow.core.schema import (
    MAX_CUSTOM_ATTRIBUTES,
    STANDARD_ATTRIBUTES,
    AttributeDef,
    attribute_definitions,
    build_schema,
)
from authflow.errors import InvalidParameterException

STANDARD_ORDER = [
    "sub", "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
    "profile", "picture", "website", "email", "email_verified", "gender", "birthdate", "zoneinfo",
    "locale", "phone_number", "phone_number_verified", "address", "updated_at",
]


def _schema_shape():
    model = botocore.session.get_session().get_service_model("cognito-idp")
    return model.shape_for("SchemaAttributeType")


def _check_shape(value, shape):
    """Minimal output-shape check: member names, Python types and enum values."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict)
        for key, item in value.items():
            assert key in shape.members, f"{key} is not a member of {shape.name}"
            _check_shape(item, shape.members[key])
    elif kind == "list":
        assert isinstance(value, list)
        for item in value:
            _check_shape(item, shape.member)
    elif kind == "string":
        assert isinstance(value, str)
        if shape.enum:
            assert value in shape.enum
    elif kind == "boolean":
        assert isinstance(value, bool)
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool)
    else:  # pragma: no cover - not used by the schema shape
        raise AssertionError(kind)


def _build(*entries):
    return build_schema(list(entries))


def _by_name(schema):
    return {a["Name"]: a for a in schema}


def _error(*entries) -> str:
    request = copy.deepcopy(list(entries))
    with pytest.raises(InvalidParameterException) as raised:
        build_schema(request)
    assert request == list(entries), "a refused request must not be mutated"
    return raised.value.message


# -- the standard attributes -----------------------------------------------------------------


def test_standard_attributes_are_the_twenty_in_cognito_order():
    assert [a["Name"] for a in STANDARD_ATTRIBUTES] == STANDARD_ORDER


def test_sub_is_immutable_required_and_1_to_2048():
    assert STANDARD_ATTRIBUTES[0] == {
        "Name": "sub",
        "AttributeDataType": "String",
        "DeveloperOnlyAttribute": False,
        "Mutable": False,
        "Required": True,
        "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "2048"},
    }


@pytest.mark.parametrize(
    ("name", "data_type", "constraints"),
    [
        ("birthdate", "String", {"StringAttributeConstraints": {"MinLength": "10", "MaxLength": "10"}}),
        ("email_verified", "Boolean", {}),
        ("phone_number_verified", "Boolean", {}),
        ("updated_at", "Number", {"NumberAttributeConstraints": {"MinValue": "0"}}),
        ("email", "String", {"StringAttributeConstraints": {"MinLength": "0", "MaxLength": "2048"}}),
    ],
)
def test_special_standard_attributes(name, data_type, constraints):
    entry = {a["Name"]: a for a in STANDARD_ATTRIBUTES}[name]
    assert entry == {
        "Name": name,
        "AttributeDataType": data_type,
        "DeveloperOnlyAttribute": False,
        "Mutable": True,
        "Required": False,
        **constraints,
    }


def test_every_other_standard_attribute_is_an_optional_mutable_string_of_0_to_2048():
    special = {"sub", "birthdate", "email_verified", "phone_number_verified", "updated_at"}
    for entry in STANDARD_ATTRIBUTES:
        if entry["Name"] in special:
            continue
        assert entry["AttributeDataType"] == "String"
        assert entry["Mutable"] is True and entry["Required"] is False
        assert entry["DeveloperOnlyAttribute"] is False
        assert entry["StringAttributeConstraints"] == {"MinLength": "0", "MaxLength": "2048"}


def test_schema_entries_fit_botocore_schema_attribute_type():
    shape = _schema_shape()
    schema = _build(
        {"Name": "tier", "AttributeDataType": "String",
         "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}},
        {"Name": "score", "AttributeDataType": "Number",
         "NumberAttributeConstraints": {"MinValue": "-5", "MaxValue": "100"}},
        {"Name": "flag", "AttributeDataType": "Boolean"},
        {"Name": "since", "AttributeDataType": "DateTime", "DeveloperOnlyAttribute": True},
    )
    for entry in schema:
        _check_shape(entry, shape)


# -- build_schema: standard attributes -------------------------------------------------------


def test_no_schema_gives_exactly_the_standard_attributes_as_a_private_copy():
    schema = build_schema(None)
    assert schema == list(STANDARD_ATTRIBUTES)
    schema[0]["StringAttributeConstraints"]["MaxLength"] = "1"
    schema[1]["Required"] = True
    assert STANDARD_ATTRIBUTES[0]["StringAttributeConstraints"]["MaxLength"] == "2048"
    assert STANDARD_ATTRIBUTES[1]["Required"] is False
    assert build_schema([]) == list(STANDARD_ATTRIBUTES)


def test_standard_attribute_can_be_made_required_and_immutable_in_place():
    schema = _build({"Name": "email", "AttributeDataType": "String", "Required": True,
                     "Mutable": False})
    assert [a["Name"] for a in schema] == STANDARD_ORDER
    email = _by_name(schema)["email"]
    assert email["Required"] is True and email["Mutable"] is False
    assert email["StringAttributeConstraints"] == {"MinLength": "0", "MaxLength": "2048"}


def test_standard_attribute_constraints_merge_over_the_defaults():
    schema = _build({"Name": "email", "StringAttributeConstraints": {"MaxLength": "256"}},
                    {"Name": "name", "StringAttributeConstraints": {"MinLength": "1",
                                                                    "MaxLength": "50"}})
    named = _by_name(schema)
    assert named["email"]["StringAttributeConstraints"] == {"MinLength": "0", "MaxLength": "256"}
    assert named["name"]["StringAttributeConstraints"] == {"MinLength": "1", "MaxLength": "50"}


def test_standard_number_attribute_takes_number_constraints():
    schema = _build({"Name": "updated_at", "NumberAttributeConstraints": {"MaxValue": "99"}})
    assert _by_name(schema)["updated_at"]["NumberAttributeConstraints"] == {
        "MinValue": "0", "MaxValue": "99"}


def test_an_empty_structure_of_the_wrong_kind_is_tolerated():
    schema = _build({"Name": "email", "Required": True, "NumberAttributeConstraints": {}})
    assert "NumberAttributeConstraints" not in _by_name(schema)["email"]


@pytest.mark.parametrize(
    "entry",
    [
        {"Name": "email", "AttributeDataType": "Number"},
        {"Name": "email_verified", "AttributeDataType": "String"},
        {"Name": "email", "DeveloperOnlyAttribute": True},
    ],
)
def test_standard_type_and_developer_only_are_fixed(entry):
    assert _error(entry) == (
        "You can not change AttributeDataType or set developerOnlyAttribute for standard "
        f"schema attribute {entry['Name']}"
    )


def test_sub_cannot_be_modified_but_may_be_restated():
    assert _error({"Name": "sub", "Mutable": True}) == (
        "sub: The standard attribute sub cannot be modified.")
    assert _error({"Name": "sub", "Required": False}).startswith("sub:")
    assert _error({"Name": "sub", "StringAttributeConstraints": {"MaxLength": "10"}}).startswith(
        "sub:")
    restated = _build(copy.deepcopy(STANDARD_ATTRIBUTES[0]))
    assert restated == list(STANDARD_ATTRIBUTES)


def test_standard_attribute_constraints_are_checked_after_merging():
    # birthdate is 10..10; a MaxLength below the kept MinLength is refused.
    assert _error({"Name": "birthdate", "StringAttributeConstraints": {"MaxLength": "8"}}) == (
        "user.birthdate: Max length cannot be less than min length.")


def test_boolean_standard_attribute_takes_no_constraints():
    message = _error({"Name": "email_verified",
                      "StringAttributeConstraints": {"MaxLength": "5"}})
    assert message == ("user.email_verified: StringAttributeConstraints cannot be set for an "
                       "attribute of type Boolean.")


def test_a_standard_attribute_may_appear_only_once():
    assert _error({"Name": "email", "Required": True}, {"Name": "email"}) == (
        "email: Existing attribute already has name email.")


# -- build_schema: custom attributes ---------------------------------------------------------


def test_custom_attributes_follow_the_standard_ones_with_cognito_defaults():
    schema = _build({"Name": "tier", "AttributeDataType": "String"},
                    {"Name": "age", "AttributeDataType": "Number", "Mutable": False},
                    {"Name": "vip", "AttributeDataType": "Boolean"})
    assert [a["Name"] for a in schema[:20]] == STANDARD_ORDER
    assert schema[20:] == [
        {"Name": "custom:tier", "AttributeDataType": "String", "DeveloperOnlyAttribute": False,
         "Mutable": True, "Required": False, "StringAttributeConstraints": {}},
        {"Name": "custom:age", "AttributeDataType": "Number", "DeveloperOnlyAttribute": False,
         "Mutable": False, "Required": False, "NumberAttributeConstraints": {}},
        {"Name": "custom:vip", "AttributeDataType": "Boolean", "DeveloperOnlyAttribute": False,
         "Mutable": True, "Required": False},
    ]


def test_developer_only_attribute_is_named_dev_custom():
    schema = _build({"Name": "legacy", "AttributeDataType": "String",
                     "DeveloperOnlyAttribute": True})
    assert schema[-1]["Name"] == "dev:custom:legacy"
    assert schema[-1]["DeveloperOnlyAttribute"] is True


def test_a_custom_prefix_in_the_request_is_prefixed_again_as_cognito_does():
    schema = _build({"Name": "custom:x", "AttributeDataType": "String"})
    assert schema[-1]["Name"] == "custom:custom:x"


def test_custom_constraints_are_echoed_as_given():
    schema = _build(
        {"Name": "code", "AttributeDataType": "String",
         "StringAttributeConstraints": {"MaxLength": "2048"}},
        {"Name": "score", "AttributeDataType": "Number",
         "NumberAttributeConstraints": {"MinValue": "-10", "MaxValue": "10"}},
    )
    assert schema[-2]["StringAttributeConstraints"] == {"MaxLength": "2048"}
    assert schema[-1]["NumberAttributeConstraints"] == {"MinValue": "-10", "MaxValue": "10"}


def test_custom_attributes_cannot_be_required():
    assert _error({"Name": "tier", "AttributeDataType": "String", "Required": True}) == (
        "Required custom attributes are not supported currently.")


def test_custom_attribute_needs_a_data_type():
    assert _error({"Name": "tier"}) == (
        "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.")


def test_every_schema_entry_needs_a_name():
    assert _error({"AttributeDataType": "String"}) == "Schema attribute names must be provided."


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"Name": "t", "AttributeDataType": "String",
          "NumberAttributeConstraints": {"MinValue": "1"}},
         "user.custom:t: NumberAttributeConstraints cannot be set for an attribute of type String."),
        ({"Name": "t", "AttributeDataType": "Number",
          "StringAttributeConstraints": {"MinLength": "1"}},
         "user.custom:t: StringAttributeConstraints cannot be set for an attribute of type Number."),
        ({"Name": "t", "AttributeDataType": "Boolean",
          "StringAttributeConstraints": {"MinLength": "1"}},
         "user.custom:t: StringAttributeConstraints cannot be set for an attribute of type Boolean."),
        ({"Name": "t", "AttributeDataType": "DateTime",
          "NumberAttributeConstraints": {"MinValue": "1"}},
         "user.custom:t: NumberAttributeConstraints cannot be set for an attribute of type "
         "DateTime."),
        ({"Name": "t", "AttributeDataType": "String",
          "StringAttributeConstraints": {"MinLength": "5", "MaxLength": "4"}},
         "user.custom:t: Max length cannot be less than min length."),
        ({"Name": "t", "AttributeDataType": "String",
          "StringAttributeConstraints": {"MaxLength": "2049"}},
         "user.custom:t: String attributes cannot have a length of more than 2048"),
        ({"Name": "t", "AttributeDataType": "String",
          "StringAttributeConstraints": {"MinLength": "-1"}},
         "user.custom:t: MinLength must be a non-negative whole number, not '-1'."),
        ({"Name": "t", "AttributeDataType": "String",
          "StringAttributeConstraints": {"MaxLength": "ten"}},
         "user.custom:t: MaxLength must be a non-negative whole number, not 'ten'."),
        ({"Name": "t", "AttributeDataType": "Number",
          "NumberAttributeConstraints": {"MinValue": "1.5"}},
         "user.custom:t: MinValue must be a whole number, not '1.5'."),
        ({"Name": "t", "AttributeDataType": "Number",
          "NumberAttributeConstraints": {"MinValue": "3", "MaxValue": "2"}},
         "user.custom:t: Max value cannot be less than min value."),
    ],
)
def test_constraint_rules(entry, message):
    assert _error(entry) == message


def test_duplicate_custom_names_are_refused():
    entry = {"Name": "tier", "AttributeDataType": "String"}
    assert _error(entry, entry) == "custom:tier: Existing attribute already has name custom:tier."


def test_a_custom_and_a_developer_only_attribute_may_share_a_base_name():
    schema = _build({"Name": "x", "AttributeDataType": "String"},
                    {"Name": "x", "AttributeDataType": "String", "DeveloperOnlyAttribute": True})
    assert [a["Name"] for a in schema[20:]] == ["custom:x", "dev:custom:x"]


def test_at_most_fifty_custom_attributes():
    entries = [{"Name": f"a{i}", "AttributeDataType": "String"}
               for i in range(MAX_CUSTOM_ATTRIBUTES)]
    assert len(build_schema(entries)) == 20 + MAX_CUSTOM_ATTRIBUTES
    message = _error(*entries, {"Name": "one_more", "AttributeDataType": "String"})
    assert message == ("A user pool can have at most 50 custom attributes; the request defines "
                       "51.")


def test_build_schema_does_not_mutate_or_share_its_input():
    request = [{"Name": "email", "Required": True,
                "StringAttributeConstraints": {"MaxLength": "100"}},
               {"Name": "tier", "AttributeDataType": "String",
                "StringAttributeConstraints": {"MaxLength": "10"}}]
    before = copy.deepcopy(request)
    schema = build_schema(request)
    assert request == before
    schema[-1]["StringAttributeConstraints"]["MaxLength"] = "1"
    assert request[1]["StringAttributeConstraints"]["MaxLength"] == "10"


# -- attribute_definitions -------------------------------------------------------------------


def test_attribute_definitions_are_keyed_by_user_attribute_name():
    schema = _build(
        {"Name": "email", "Required": True},
        {"Name": "tier", "AttributeDataType": "String",
         "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "8"}},
        {"Name": "score", "AttributeDataType": "Number", "Mutable": False,
         "NumberAttributeConstraints": {"MinValue": "-3", "MaxValue": "9"}},
        {"Name": "old", "AttributeDataType": "String", "DeveloperOnlyAttribute": True},
    )
    before = copy.deepcopy(schema)
    defs = attribute_definitions(schema)
    assert schema == before
    assert list(defs) == [*STANDARD_ORDER, "custom:tier", "custom:score", "dev:custom:old"]
    assert defs["sub"] == AttributeDef(name="sub", data_type="String", mutable=False,
                                       required=True, developer_only=False, min_length=1,
                                       max_length=2048)
    assert defs["email"].required is True
    assert defs["email_verified"] == AttributeDef(name="email_verified", data_type="Boolean",
                                                  mutable=True, required=False,
                                                  developer_only=False)
    assert defs["updated_at"].min_value == 0 and defs["updated_at"].max_value is None
    assert defs["birthdate"].min_length == 10 and defs["birthdate"].max_length == 10
    assert defs["custom:tier"] == AttributeDef(name="custom:tier", data_type="String",
                                               mutable=True, required=False,
                                               developer_only=False, min_length=1, max_length=8)
    assert defs["custom:score"].min_value == -3 and defs["custom:score"].max_value == 9
    assert defs["custom:score"].mutable is False
    assert defs["dev:custom:old"].developer_only is True
    assert defs["custom:tier"].is_custom and defs["dev:custom:old"].is_custom
    assert not defs["email"].is_custom


def test_attribute_def_is_frozen():
    definition = attribute_definitions(build_schema(None))["email"]
    with pytest.raises(AttributeError):
        definition.required = True  # type: ignore[misc]
