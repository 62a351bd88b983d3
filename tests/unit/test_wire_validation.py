"""Request validation against the shipped service model: AWS's exact wording, Java-regex
semantics, secrecy of sensitive values, and a fuzz contract (only CognitoErrors escape)."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
import warnings

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from authflow.errors import CognitoError, InvalidParameterException, UnknownOperationException
from authflow.wire import model, patterns
from authflow.wire.validation import validate_request

POOL = "us-east-1_EXAMPLE"


def message(operation: str, params: dict) -> str:
    with pytest.raises(InvalidParameterException) as info:
        validate_request(operation, params)
    return info.value.message


def one(text: str) -> str:
    return f"1 validation error detected: {text}"


# -- valid requests pass ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("AdminCreateUser", {
            "UserPoolId": POOL, "Username": "josé",
            "UserAttributes": [{"Name": "email", "Value": "j@example.com"}],
            "TemporaryPassword": "Tmp-Passw0rd!", "MessageAction": "SUPPRESS",
            "DesiredDeliveryMediums": ("EMAIL",), "ForceAliasCreation": False,
            "ClientMetadata": {"k": "v"},
        }),
        ("ListUsers", {"UserPoolId": POOL, "Limit": 60, "AttributesToGet": ["email"],
                       "Filter": 'email ^= "j"'}),
        ("ListUserPools", {"MaxResults": 1}),
        ("CreateUserPool", {
            "PoolName": "my pool",
            "Policies": {"PasswordPolicy": {"MinimumLength": 8, "RequireNumbers": True}},
            "AdminCreateUserConfig": {"InviteMessageTemplate": {
                "SMSMessage": "Hi {username}, {####}", "EmailSubject": "Welcome"}},
            "Schema": [{"Name": "tenant", "AttributeDataType": "String"}],
            "UserPoolTags": {"team": "auth"},
        }),
        ("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "abc123",
                          "AuthParameters": {"USERNAME": "josé", "PASSWORD": "p w"}}),
        ("DescribeUserPool", {"UserPoolId": POOL}),
    ],
)
def test_valid_requests_pass(operation, params):
    validate_request(operation, params)


def test_none_counts_as_absent():
    validate_request("ListUsers", {"UserPoolId": POOL, "Limit": None, "Filter": None})


# -- each constraint kind, exact wording --------------------------------------------------


def test_pattern():
    assert message("AdminCreateUser", {"UserPoolId": "abc", "Username": "bob"}) == one(
        "Value 'abc' at 'userPoolId' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w-]+_[0-9a-zA-Z]+"
    )


def test_missing_required():
    assert message("AdminGetUser", {"UserPoolId": POOL}) == one(
        "Value null at 'username' failed to satisfy constraint: Member must not be null"
    )


def test_max_length():
    assert message("CreateUserPool", {"PoolName": "p" * 129}) == one(
        f"Value '{'p' * 129}' at 'poolName' failed to satisfy constraint: "
        "Member must have length less than or equal to 128"
    )


def test_min_length_and_pattern_are_both_reported_in_order():
    # The shape of a real AWS reply for an empty username (sensitive: no value shown).
    assert message("AdminGetUser", {"UserPoolId": POOL, "Username": ""}) == (
        "2 validation errors detected: "
        "Value at 'username' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value at 'username' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}]+"
    )


def test_integer_ranges():
    assert message("ListUsers", {"UserPoolId": POOL, "Limit": 61}) == one(
        "Value '61' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 60"
    )
    assert message("ListUserPools", {"MaxResults": 0}) == one(
        "Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_unconstrained_integer_still_fits_a_java_int():
    params = {"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 8}}}
    validate_request("CreateUserPool", params)
    assert "less than or equal to 99" in message(
        "CreateUserPool", {"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 2**40}}}
    )


def test_enum():
    params = {"UserPoolId": POOL, "Username": "bob", "MessageAction": "RESENT"}
    assert message("AdminCreateUser", params) == one(
        "Value 'RESENT' at 'messageAction' failed to satisfy constraint: "
        "Member must satisfy enum value set: [RESEND, SUPPRESS]"
    )


def test_violations_are_collected_in_member_order():
    got = message("AdminCreateUser", {"MessageAction": "X", "UserPoolId": "bad"})
    assert got == (
        "3 validation errors detected: "
        "Value 'bad' at 'userPoolId' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w-]+_[0-9a-zA-Z]+; "
        "Value null at 'username' failed to satisfy constraint: Member must not be null; "
        "Value 'X' at 'messageAction' failed to satisfy constraint: "
        "Member must satisfy enum value set: [RESEND, SUPPRESS]"
    )


# -- nested paths ------------------------------------------------------------------------


def test_nested_structure_path():
    params = {"PoolName": "p",
              "AdminCreateUserConfig": {"InviteMessageTemplate": {"SMSMessage": "abc"}}}
    assert message("CreateUserPool", params) == one(
        "Value 'abc' at 'adminCreateUserConfig.inviteMessageTemplate.sMSMessage' failed to "
        "satisfy constraint: Member must have length greater than or equal to 6"
    )


def test_list_of_structures_uses_one_based_member_paths():
    params = {"UserPoolId": POOL, "Username": "bob",
              "UserAttributes": [{"Name": "email", "Value": "x"}, {"Value": "y"}, None]}
    assert message("AdminUpdateUserAttributes", params) == (
        "2 validation errors detected: "
        "Value null at 'userAttributes.2.member.name' failed to satisfy constraint: "
        "Member must not be null; "
        "Value null at 'userAttributes.3.member' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_list_of_scalars_is_reported_once_with_all_element_constraints():
    params = {"UserPoolId": POOL, "Username": "bob", "DesiredDeliveryMediums": ["SMS", "FAX"]}
    assert message("AdminCreateUser", params) == one(
        "Value '[SMS, FAX]' at 'desiredDeliveryMediums' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must satisfy enum value set: [SMS, EMAIL]]"
    )


def test_map_keys_and_values():
    params = {"PoolName": "p", "UserPoolTags": {"": "v"}}
    assert message("CreateUserPool", params) == one(
        "Value '{=v}' at 'userPoolTags' failed to satisfy constraint: Map keys must satisfy "
        "constraint: [Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1]"
    )


def test_list_length():
    params = {"PoolName": "p", "Schema": []}
    assert message("CreateUserPool", params) == one(
        "Value '[]' at 'schema' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


# -- Java regex semantics ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["josé", "Ωmega", "用户", "a😀", "o'neil", "+1", "x.y@z"])
def test_username_pattern_accepts_unicode_letters_marks_symbols(name):
    validate_request("AdminGetUser", {"UserPoolId": POOL, "Username": name})


@pytest.mark.parametrize("name", ["a b", "tab\there", "nbsp\u00a0x", "line\nbreak", "zw\u200b"])
def test_username_pattern_rejects_whitespace_and_format_characters(name):
    assert message("AdminGetUser", {"UserPoolId": POOL, "Username": name}) == one(
        "Value at 'username' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}]+"
    )


def test_patterns_match_the_whole_value():
    assert "userPoolId" in message("DescribeUserPool", {"UserPoolId": "us-east-1_abc!"})


def test_backslash_w_is_ascii_only_as_in_java():
    assert "userPoolId" in message("DescribeUserPool", {"UserPoolId": "é-1_abc"})


def test_java_dot_does_not_match_line_terminators():
    assert patterns.full_match(r".*\{####\}.*", "code {####} here")
    assert not patterns.full_match(r".*\{####\}.*", "code\r{####}")
    assert patterns.full_match("(?s).*", "line\nline\u2028")


def test_negated_properties_inside_and_outside_classes():
    assert patterns.full_match(r"\P{L}+", "123 !")
    assert not patterns.full_match(r"\P{L}+", "12a")
    assert patterns.full_match(r"[^_\p{Z}][\p{L}]+", "xab")
    assert not patterns.full_match(r"[^_\p{Z}][\p{L}]+", " ab")
    assert patterns.full_match(r"\p{Lu}\pL", "Ab")


@pytest.mark.parametrize("java", [r"[a[b]]", r"[a-z&&[^c]]", r"\Qx\E", r"\p{Alpha}", "[ab"])
def test_unsupported_java_syntax_is_refused_not_misread(java):
    with pytest.raises(ValueError):
        patterns.translate(java)


def test_every_pattern_in_the_shipped_model_compiles():
    found = sorted({model.shape(n)["pattern"] for n in model.shape_names()
                    if "pattern" in model.shape(n)})
    assert len(found) > 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re's FutureWarnings flag Java-isms read differently
        for java in found:
            assert isinstance(patterns.compile_java(java), re.Pattern), java


# -- Python types and unknown members (botocore's wording) --------------------------------


def test_wrong_python_type():
    assert message("DescribeUserPool", {"UserPoolId": 5}) == (
        "Invalid type for parameter UserPoolId, value: 5, type: <class 'int'>, "
        "valid types: <class 'str'>"
    )


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("ListUsers", {"UserPoolId": POOL, "Limit": True}, "valid types: <class 'int'>"),
        ("ListUsers", {"UserPoolId": POOL, "Limit": "5"}, "valid types: <class 'int'>"),
        ("AdminCreateUser", {"UserPoolId": POOL, "Username": "b", "ForceAliasCreation": 1},
         "valid types: <class 'bool'>"),
        ("ListUsers", {"UserPoolId": POOL, "AttributesToGet": "email"},
         "valid types: <class 'list'>, <class 'tuple'>"),
        ("AdminCreateUser", {"UserPoolId": POOL, "Username": "b", "ClientMetadata": []},
         "valid types: <class 'dict'>"),
        ("InitiatePointInTimeRecovery", {"UserPoolId": POOL, "RestoreTimestamp": "now"},
         "valid types: <class 'datetime.datetime'>, <class 'int'>, <class 'float'>"),
        ("SetUICustomization", {"UserPoolId": POOL, "ImageFile": 3},
         "valid types: <class 'bytes'>"),
    ],
)
def test_type_errors_name_the_valid_types(operation, params, expected):
    got = message(operation, params)
    assert got.startswith("Invalid type for parameter ") and expected in got


def test_type_error_paths_use_botocore_names():
    params = {"UserPoolId": POOL, "Username": "b", "UserAttributes": [{"Name": 7}],
              "ClientMetadata": {"k": 1}}
    assert message("AdminCreateUser", params) == "\n".join([
        "Invalid type for parameter UserAttributes[0].Name, value: 7, type: <class 'int'>, "
        "valid types: <class 'str'>",
        "Invalid type for parameter ClientMetadata.k, value: 1, type: <class 'int'>, "
        "valid types: <class 'str'>",
    ])


def test_timestamps_accept_datetimes_and_numbers():
    for when in (dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), 1700000000, 1.5):
        validate_request("InitiatePointInTimeRecovery",
                         {"UserPoolId": POOL, "RestoreTimestamp": when})


def test_unknown_member():
    assert message("DescribeUserPool", {"UserPoolId": POOL, "Foo": 1}) == (
        'Unknown parameter in input: "Foo", must be one of: UserPoolId'
    )


def test_unknown_member_in_nested_structure():
    params = {"UserPoolId": POOL, "Username": "b", "UserAttributes": [{"Name": "n", "Nmae": "x"}]}
    assert message("AdminCreateUser", params) == (
        'Unknown parameter in UserAttributes[0]: "Nmae", must be one of: Name, Value'
    )


def test_unknown_operation():
    with pytest.raises(UnknownOperationException):
        validate_request("AdminExplode", {})
    with pytest.raises(UnknownOperationException):
        validate_request(["not", "a", "name"], {})  # type: ignore[arg-type]


def test_params_must_be_a_mapping():
    with pytest.raises(InvalidParameterException):
        validate_request("DescribeUserPool", ["UserPoolId"])  # type: ignore[arg-type]


# -- lone surrogates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"UserPoolId": POOL, "Username": "\ud800"},
        {"UserPoolId": POOL, "Username": "b", "ClientMetadata": {"\udfff": "v"}},
        {"UserPoolId": POOL, "Username": "b", "ClientMetadata": {"k": "x\ud800y"}},
        {"UserPoolId": POOL, "Username": "b", "\ud800": 1},
    ],
)
def test_lone_surrogates_are_invalid_parameters_with_encodable_messages(params):
    got = message("AdminCreateUser", params)
    got.encode("utf-8")  # the message itself must be sendable


# -- sensitive values never appear --------------------------------------------------------

SECRET = "S3cr3tMarker"


def _sensitive_top_level_members():
    for op in model.operation_names():
        for member, shape_name in model.input_members(op).items():
            shape = model.shape(shape_name)
            if shape.get("sensitive") and shape["type"] == "string":
                yield op, member


SENSITIVE = sorted(_sensitive_top_level_members())


def test_there_are_sensitive_members_to_check():
    assert len(SENSITIVE) > 30  # guards the parametrisation below against an empty model


@pytest.mark.parametrize(("operation", "member"), SENSITIVE)
def test_sensitive_values_never_appear_in_messages(operation, member):
    # Too long for every sensitive shape, with spaces to break the \S patterns.
    for value in (f"{SECRET} " * 20000, 987654321):
        with pytest.raises(InvalidParameterException) as info:
            validate_request(operation, {member: value})
        assert SECRET not in info.value.message and "987654321" not in info.value.message


def test_sensitive_nested_and_map_values_never_appear():
    cases = [
        ("AdminCreateUser", {"UserPoolId": POOL, "Username": "b",
                             "UserAttributes": [{"Name": "email", "Value": SECRET * 400}]}),
        ("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "c",
                          "AuthParameters": {"PASSWORD": SECRET * 20000}}),
        ("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "c",
                          "AuthParameters": {"PASSWORD": [SECRET]}}),
        ("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "c",
                          "UserContextData": {"EncodedData": {SECRET: 1}}}),
    ]
    for operation, params in cases:
        got = message(operation, params)
        assert SECRET not in got, got
    assert message(*cases[0]) == one(
        "Value at 'userAttributes.1.member.value' failed to satisfy constraint: "
        "Member must have length less than or equal to 2048"
    )


# -- fuzz: only CognitoErrors, input untouched -------------------------------------------

_text = st.text(alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"])),
                max_size=12)
_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | _text
            | st.binary(max_size=4) | st.datetimes())
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner)
    | st.dictionaries(st.one_of(_text, st.integers()), inner, max_size=4),
    max_leaves=12,
)


@functools.cache  # building from_regex strategies for the big \p classes is slow
def _string_for(shape_name: str) -> st.SearchStrategy:
    """Strings that usually satisfy the shape (so the fuzz also walks accepted requests)."""
    shape = model.shape(shape_name)
    if "enum" in shape:
        return st.sampled_from(list(shape["enum"])) | _text
    lo, hi = shape.get("min", 0), min(shape.get("max", 20), 20)
    if "pattern" in shape:
        # Generation only: re.ASCII trips Hypothesis's alphabet check on the \p ranges.
        regex = re.compile(patterns.translate(shape["pattern"]))
        valid = st.from_regex(regex, fullmatch=True, alphabet=st.characters(codec="utf-8"))
        valid = valid.filter(lambda v: lo <= len(v) <= shape.get("max", len(v)))
    else:
        valid = st.text(min_size=lo, max_size=max(lo, hi))
    return valid | _text


@st.composite
def _guided(draw, shape_name: str, depth: int = 0):
    """Values that follow the model most of the time, so the fuzz reaches deep shapes."""
    shape = model.shape(shape_name)
    kind = shape["type"]
    if depth > 6 or draw(st.integers(0, 19)) == 0 or shape.get("document"):
        return draw(_json)
    if kind == "structure":
        members = model.members(shape_name)
        required = list(shape.get("required", ()))
        chosen = draw(st.lists(st.sampled_from([*members, "Bogus"]), unique=True, max_size=4))
        if draw(st.integers(0, 4)):
            chosen = [m for m in chosen if m != "Bogus"] + [r for r in required if r not in chosen]
        return {m: draw(_guided(members[m], depth + 1)) if m in members else draw(_json)
                for m in chosen}
    if kind == "list":
        return draw(st.lists(_guided(shape["member"], depth + 1), max_size=3))
    if kind == "map":
        return draw(st.dictionaries(_string_for(shape["key"]),
                                    _guided(shape["value"], depth + 1), max_size=3))
    if kind == "string":
        return draw(_string_for(shape_name))
    if kind in ("integer", "long"):
        return draw(st.integers(min_value=shape.get("min", 0) - 2,
                                max_value=shape.get("max", 100) + 2))
    return draw({"boolean": st.booleans(), "blob": st.binary(max_size=8),
                 "timestamp": st.datetimes() | st.floats()}.get(kind, _json))


@st.composite
def _requests(draw):
    known = draw(st.integers(0, 9))
    operation = draw(st.sampled_from(model.operation_names()) if known else _text)
    if model.has_operation(operation) and draw(st.integers(0, 4)):
        params = draw(_guided(model.input_shape_name(operation)))
    else:
        params = draw(_json)
    return operation, params


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_requests())
def test_fuzz_only_cognito_errors_escape_and_input_is_unchanged(request):
    operation, params = request
    before = repr(params), copy.deepcopy(params)
    try:
        validate_request(operation, params)
        event("accepted")
    except CognitoError as error:
        event(type(error).__name__ + (" (constraints)" if "detected:" in error.message else ""))
        error.message.encode("utf-8")
    assert repr(params) == before[0]
    assert repr(before[1]) == before[0]
