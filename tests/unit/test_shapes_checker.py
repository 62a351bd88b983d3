"""The response-shape checker in tests/shapes.py must catch what it claims to catch."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.shapes import assert_output_shape

WHEN = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def admin_get_user(**changes):
    response = {
        "Username": "bob",
        "UserAttributes": [{"Name": "sub", "Value": "1234"}],
        "UserCreateDate": WHEN,
        "UserLastModifiedDate": WHEN,
        "Enabled": True,
        "UserStatus": "CONFIRMED",
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    response.update(changes)
    return response


def test_a_boto3_shaped_response_passes():
    assert_output_shape("AdminGetUser", admin_get_user())
    assert_output_shape("InitiateAuth", {
        "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s" * 20,
        "ChallengeParameters": {"USER_ID_FOR_SRP": "bob"},
    })
    assert_output_shape("InitiateAuth", {"AuthenticationResult": {
        "AccessToken": "a", "ExpiresIn": 3600, "TokenType": "Bearer",
        "RefreshToken": "r", "IdToken": "i"}, "ChallengeParameters": {}})


def test_operations_without_members_take_an_empty_dict():
    assert_output_shape("AdminDeleteUser", {})  # no output shape at all
    assert_output_shape("AdminDisableUser", {"ResponseMetadata": {}})  # empty output shape
    with pytest.raises(AssertionError, match="Foo"):
        assert_output_shape("AdminDeleteUser", {"Foo": 1})


@pytest.mark.parametrize(
    ("response", "path"),
    [
        (admin_get_user(Enabled="true"), "AdminGetUser.Enabled"),
        (admin_get_user(UserCreateDate=1714564800), "AdminGetUser.UserCreateDate"),
        (admin_get_user(UserAttributes=[{"Name": 5}]), r"AdminGetUser.UserAttributes\[0\].Name"),
        (admin_get_user(UserAttributes={"Name": "x"}), "AdminGetUser.UserAttributes"),
    ],
)
def test_a_wrong_type_is_rejected_naming_the_path(response, path):
    with pytest.raises(AssertionError, match=path):
        assert_output_shape("AdminGetUser", response)


def test_a_missing_required_member_is_rejected():
    response = admin_get_user()
    del response["Username"]
    with pytest.raises(AssertionError, match="missing required member.*Username"):
        assert_output_shape("AdminGetUser", response)
    with pytest.raises(AssertionError, match=r"UserAttributes\[0\]: missing.*Name"):
        assert_output_shape("AdminGetUser", admin_get_user(UserAttributes=[{"Value": "v"}]))


def test_an_extra_key_is_rejected_at_any_depth():
    with pytest.raises(AssertionError, match="unexpected key.*Password"):
        assert_output_shape("AdminGetUser", admin_get_user(Password="x"))
    with pytest.raises(AssertionError, match=r"UserAttributes\[0\]: unexpected key.*Verified"):
        assert_output_shape("AdminGetUser", admin_get_user(
            UserAttributes=[{"Name": "email", "Value": "e", "Verified": True}]))


def test_naive_datetimes_nulls_and_enum_values_outside_the_set_are_rejected():
    with pytest.raises(AssertionError, match="naive"):
        assert_output_shape("AdminGetUser", admin_get_user(UserCreateDate=dt.datetime(2024, 1, 1)))
    with pytest.raises(AssertionError, match="None"):
        assert_output_shape("AdminGetUser", admin_get_user(MFAOptions=None))
    with pytest.raises(AssertionError, match="UserStatus"):
        assert_output_shape("AdminGetUser", admin_get_user(UserStatus="ACTIVE"))


def test_map_values_are_checked():
    with pytest.raises(AssertionError, match="ChallengeParameters.USERNAME"):
        assert_output_shape("InitiateAuth", {"ChallengeParameters": {"USERNAME": 1}})


def test_sensitive_values_are_not_echoed_in_failures():
    with pytest.raises(AssertionError) as info:
        assert_output_shape("InitiateAuth", {"Session": 12345678901234567890})
    assert "12345678901234567890" not in str(info.value)
