"""Unit tests for authflow.core.client_config: CreateUserPoolClient/UpdateUserPoolClient
decisions, rendering, and the typed accessors."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from authflow.core import client_config as cc
from authflow.core import pool_config as pc
from authflow.core.schema import STANDARD_ATTRIBUTES
from authflow.errors import InvalidOAuthFlowException, InvalidParameterException
from tests.shapes import assert_shape

CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MODIFIED = datetime(2024, 5, 2, 8, 30, tzinfo=timezone.utc)
POOL_ID = "us-east-1_EXAMPLE1"
CLIENT_ID = "57cbishk4j24pabc1234567890"
SECRET = "s3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3ts3cr3t1"

POOL = pc.new_pool_config({
    "PoolName": "pool",
    "Schema": [
        {"Name": "email", "Required": True},
        {"Name": "tier", "AttributeDataType": "String"},
        {"Name": "seat", "AttributeDataType": "Number", "Mutable": False},
        {"Name": "legacy", "AttributeDataType": "String", "DeveloperOnlyAttribute": True},
    ],
})
PLAIN_POOL = pc.new_pool_config({"PoolName": "plain"})
STANDARD = [a["Name"] for a in STANDARD_ATTRIBUTES]

DEFAULT_CONFIG = {
    "ClientName": "app",
    "RefreshTokenValidity": 30,
    "TokenValidityUnits": {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"},
    "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"],
    "AllowedOAuthFlowsUserPoolClient": False,
    "PreventUserExistenceErrors": "LEGACY",
    "EnableTokenRevocation": True,
    "EnablePropagateAdditionalUserContextData": False,
    "AuthSessionValidity": 3,
}

OAUTH = {
    "AllowedOAuthFlowsUserPoolClient": True,
    "AllowedOAuthFlows": ["code"],
    "AllowedOAuthScopes": ["openid", "email"],
    "CallbackURLs": ["https://app.example.com/cb", "myapp://cb"],
    "LogoutURLs": ["https://app.example.com/bye"],
    "DefaultRedirectURI": "https://app.example.com/cb",
    "SupportedIdentityProviders": ["COGNITO"],
}


def _new(pool=POOL, **request):
    request.setdefault("ClientName", "app")
    before = (copy.deepcopy(request), copy.deepcopy(pool))
    config = cc.new_client_config(request, pool_config=pool)
    assert (request, pool) == before, "new_client_config mutated its inputs"
    return config


def _new_error(pool=POOL, error=InvalidParameterException, **request):
    request.setdefault("ClientName", "app")
    before = (copy.deepcopy(request), copy.deepcopy(pool))
    with pytest.raises(error) as raised:
        cc.new_client_config(request, pool_config=pool)
    assert (request, pool) == before
    return raised.value


def _update(current, pool=POOL, has_secret=None, **request):
    request.setdefault("UserPoolId", POOL_ID)
    request.setdefault("ClientId", CLIENT_ID)
    before = (copy.deepcopy(current), copy.deepcopy(request), copy.deepcopy(pool))
    config = cc.updated_client_config(current, request, pool_config=pool, has_secret=has_secret)
    assert (current, request, pool) == before, "updated_client_config mutated its inputs"
    return config


def _render(config, secret=None):
    return cc.render_client(config, pool_id=POOL_ID, client_id=CLIENT_ID, client_secret=secret,
                            created=CREATED, modified=MODIFIED)


# -- CreateUserPoolClient defaults -----------------------------------------------------------


def test_a_bare_request_gets_every_cognito_default():
    assert _new() == DEFAULT_CONFIG


def test_secrets_are_never_stored():
    assert "ClientSecret" not in _new(ClientSecret=SECRET)
    assert "GenerateSecret" not in _new(GenerateSecret=True)


def test_generate_secret_and_client_secret_are_exclusive():
    error = _new_error(GenerateSecret=True, ClientSecret=SECRET)
    assert error.message == (
        "You cannot specify both GenerateSecret as true and a ClientSecret value.")
    assert _new(GenerateSecret=False, ClientSecret=SECRET)


def test_a_full_request_is_stored_as_given():
    request = {
        "RefreshTokenValidity": 10, "AccessTokenValidity": 60, "IdTokenValidity": 60,
        "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes",
                               "RefreshToken": "days"},
        "ReadAttributes": ["email", "email_verified", "custom:tier"],
        "WriteAttributes": ["email", "custom:tier"],
        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        **OAUTH,
        "AnalyticsConfiguration": {"ApplicationId": "abc123", "UserDataShared": True},
        "PreventUserExistenceErrors": "ENABLED",
        "EnableTokenRevocation": False,
        "EnablePropagateAdditionalUserContextData": True,
        "AuthSessionValidity": 15,
        "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 10},
    }
    config = _new(GenerateSecret=True, **copy.deepcopy(request))
    assert config == {"ClientName": "app", **request}


def test_unknown_members_are_echoed():
    assert _new(FutureSetting={"on": True})["FutureSetting"] == {"on": True}


# -- token validity ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "unit_key", "value", "unit"),
    [
        ("AccessTokenValidity", "AccessToken", 5, "minutes"),
        ("AccessTokenValidity", "AccessToken", 300, "seconds"),
        ("AccessTokenValidity", "AccessToken", 24, "hours"),
        ("AccessTokenValidity", "AccessToken", 1, "days"),
        ("IdTokenValidity", "IdToken", 5, "minutes"),
        ("IdTokenValidity", "IdToken", 1440, "minutes"),
        ("RefreshTokenValidity", "RefreshToken", 60, "minutes"),
        ("RefreshTokenValidity", "RefreshToken", 1, "hours"),
        ("RefreshTokenValidity", "RefreshToken", 3650, "days"),
        ("RefreshTokenValidity", "RefreshToken", 315360000, "seconds"),
    ],
)
def test_token_validity_boundaries_are_accepted(member, unit_key, value, unit):
    config = _new(**{member: value, "TokenValidityUnits": {unit_key: unit}})
    assert config[member] == value
    assert config["TokenValidityUnits"][unit_key] == unit


@pytest.mark.parametrize(
    ("member", "unit_key", "value", "unit", "low", "high"),
    [
        ("AccessTokenValidity", "AccessToken", 4, "minutes", 300, 86400),
        ("AccessTokenValidity", "AccessToken", 299, "seconds", 300, 86400),
        ("AccessTokenValidity", "AccessToken", 25, "hours", 300, 86400),
        ("AccessTokenValidity", "AccessToken", 2, "days", 300, 86400),
        ("AccessTokenValidity", "AccessToken", 60, None, 300, 86400),  # 60 hours by default
        ("IdTokenValidity", "IdToken", 1441, "minutes", 300, 86400),
        ("RefreshTokenValidity", "RefreshToken", 59, "minutes", 3600, 315360000),
        ("RefreshTokenValidity", "RefreshToken", 3651, "days", 3600, 315360000),
        ("RefreshTokenValidity", "RefreshToken", 36500, None, 3600, 315360000),
    ],
)
def test_token_validity_out_of_range(member, unit_key, value, unit, low, high):
    units = {unit_key: unit} if unit else {}
    error = _new_error(**{member: value, "TokenValidityUnits": units})
    assert error.message == "Invalid range for token validity."
    assert error.fields == {"member": member, "minimum_seconds": low, "maximum_seconds": high}


def test_refresh_token_validity_zero_or_omitted_is_thirty_days_in_the_clients_unit():
    assert _new(RefreshTokenValidity=0)["RefreshTokenValidity"] == 30
    hours = _new(TokenValidityUnits={"RefreshToken": "hours"})
    assert hours["RefreshTokenValidity"] == 720
    assert cc.token_validity_seconds(hours)["refresh"] == 30 * 86400
    minutes = _new(RefreshTokenValidity=0, TokenValidityUnits={"RefreshToken": "minutes"})
    assert minutes["RefreshTokenValidity"] == 43200


def test_partial_units_are_completed_with_the_defaults():
    config = _new(TokenValidityUnits={"IdToken": "minutes"})
    assert config["TokenValidityUnits"] == {"AccessToken": "hours", "IdToken": "minutes",
                                            "RefreshToken": "days"}


def test_token_validity_seconds():
    assert cc.token_validity_seconds(_new()) == {"access": 3600, "id": 3600,
                                                  "refresh": 2592000}
    config = _new(AccessTokenValidity=15, IdTokenValidity=2, RefreshTokenValidity=7,
                  TokenValidityUnits={"AccessToken": "minutes"})
    assert cc.token_validity_seconds(config) == {"access": 900, "id": 7200, "refresh": 604800}
    assert cc.token_validity_seconds({}) == {"access": 3600, "id": 3600, "refresh": 2592000}


# -- explicit auth flows ----------------------------------------------------------------------


@pytest.mark.parametrize("legacy", ["ADMIN_NO_SRP_AUTH", "USER_PASSWORD_AUTH",
                                    "CUSTOM_AUTH_FLOW_ONLY"])
def test_legacy_flows_cannot_be_mixed_with_allow_flows(legacy):
    error = _new_error(ExplicitAuthFlows=[legacy, "ALLOW_USER_SRP_AUTH"])
    assert error.message == (
        "ExplicitAuthFlows can't combine the legacy values ADMIN_NO_SRP_AUTH, "
        "CUSTOM_AUTH_FLOW_ONLY and USER_PASSWORD_AUTH with values that begin with ALLOW_.")


def test_flows_are_stored_as_given_without_duplicates():
    config = _new(ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH", "USER_PASSWORD_AUTH",
                                     "ADMIN_NO_SRP_AUTH"])
    assert config["ExplicitAuthFlows"] == ["ADMIN_NO_SRP_AUTH", "USER_PASSWORD_AUTH"]
    assert _new(ExplicitAuthFlows=[])["ExplicitAuthFlows"] == []


@pytest.mark.parametrize(
    ("flows", "allowed"),
    [
        (None, {"ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"}),
        (["ALLOW_USER_PASSWORD_AUTH"], {"ALLOW_USER_PASSWORD_AUTH"}),
        (["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
         {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}),
        (["ADMIN_NO_SRP_AUTH"],
         {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}),
        (["USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"],
         {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
          "ALLOW_REFRESH_TOKEN_AUTH"}),
        (["CUSTOM_AUTH_FLOW_ONLY"], {"ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}),
        ([], {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}),
    ],
)
def test_allowed_auth_flows_are_normalised_to_allow_names(flows, allowed):
    request = {} if flows is None else {"ExplicitAuthFlows": flows}
    assert cc.allowed_auth_flows(_new(**request)) == frozenset(allowed)


def test_allowed_auth_flows_of_an_old_record_without_the_member():
    assert cc.allowed_auth_flows({}) == frozenset(cc.DEFAULT_EXPLICIT_AUTH_FLOWS)


# -- attribute permissions --------------------------------------------------------------------


def test_attribute_lists_are_echoed_only_when_set():
    config = _new()
    assert "ReadAttributes" not in config and "WriteAttributes" not in config
    empty = _new(ReadAttributes=[], WriteAttributes=[])
    assert "ReadAttributes" not in empty and "WriteAttributes" not in empty
    given = _new(ReadAttributes=["email", "email", "custom:tier"], WriteAttributes=["email"])
    assert given["ReadAttributes"] == ["email", "custom:tier"]
    assert given["WriteAttributes"] == ["email"]


@pytest.mark.parametrize("name", ["nickname2", "custom:missing", "tier", "dev:custom:nope"])
def test_unknown_read_attributes_are_refused(name):
    assert _new_error(ReadAttributes=["email", name]).message == (
        "Invalid read attributes specified while creating a client")


def test_verified_flags_sub_and_developer_attributes_are_readable():
    config = _new(ReadAttributes=["email_verified", "phone_number_verified", "sub",
                                  "dev:custom:legacy"])
    assert config["ReadAttributes"] == ["email_verified", "phone_number_verified", "sub",
                                        "dev:custom:legacy"]


@pytest.mark.parametrize("name", ["email_verified", "phone_number_verified", "sub",
                                  "dev:custom:legacy", "custom:missing", "nope"])
def test_attributes_no_client_may_write_are_refused(name):
    error = _new_error(WriteAttributes=["email", name])
    assert error.message == "Invalid write attributes specified while creating a client"
    assert error.fields["attribute"] == name


def test_write_attributes_must_include_the_required_ones():
    error = _new_error(WriteAttributes=["name"])
    assert error.message == "Invalid write attributes specified while creating a client"
    assert error.fields["attribute"] == "email"
    assert _new(WriteAttributes=["email", "custom:seat"])["WriteAttributes"] == [
        "email", "custom:seat"]
    assert _new(PLAIN_POOL, WriteAttributes=["name"])["WriteAttributes"] == ["name"]


def test_default_permissions():
    config = _new()
    readable = cc.readable_attributes(config, POOL)
    assert readable == frozenset(STANDARD) | {"custom:tier", "custom:seat", "dev:custom:legacy"}
    writable = cc.writable_attributes(config, POOL)
    assert writable == (frozenset(STANDARD) - {"sub", "email_verified", "phone_number_verified"}
                        | {"custom:tier", "custom:seat"})


def test_explicit_permissions():
    config = _new(ReadAttributes=["email", "custom:tier"], WriteAttributes=["email", "nickname"])
    assert cc.readable_attributes(config, POOL) == frozenset({"email", "custom:tier", "sub"})
    assert cc.writable_attributes(config, POOL) == frozenset({"email", "nickname"})
    # A required attribute stays writable even for a record that predates the pool rule.
    legacy_record = {**config, "WriteAttributes": ["nickname"]}
    assert cc.writable_attributes(legacy_record, POOL) == frozenset({"email", "nickname"})


# -- OAuth ------------------------------------------------------------------------------------


def test_oauth_members_are_stored_and_echoed():
    config = _new(**copy.deepcopy(OAUTH))
    for key, value in OAUTH.items():
        assert config[key] == value


def test_an_oauth_client_needs_flows_and_scopes():
    for missing in ("AllowedOAuthFlows", "AllowedOAuthScopes"):
        request = {key: value for key, value in OAUTH.items() if key != missing}
        error = _new_error(**copy.deepcopy(request))
        assert error.message == ("AllowedOAuthFlows and AllowedOAuthScopes are required if user "
                                 "pool client is allowed to use OAuth flows.")


def test_client_credentials_excludes_the_interactive_flows():
    error = _new_error(error=InvalidOAuthFlowException, GenerateSecret=True,
                       **{**OAUTH, "AllowedOAuthFlows": ["client_credentials", "code"]})
    assert error.message == (
        "client_credentials flow can not be selected along with code flow or implicit flow.")


def test_client_credentials_needs_a_secret():
    request = {"AllowedOAuthFlowsUserPoolClient": True,
               "AllowedOAuthFlows": ["client_credentials"],
               "AllowedOAuthScopes": ["api/read"]}
    error = _new_error(error=InvalidOAuthFlowException, **request)
    assert error.message == (
        "client_credentials flow can not be selected if client does not have a client secret.")
    assert _new(GenerateSecret=True, **request)["AllowedOAuthFlows"] == ["client_credentials"]
    assert _new(ClientSecret=SECRET, **request)["AllowedOAuthFlows"] == ["client_credentials"]


@pytest.mark.parametrize("flow", ["code", "implicit"])
def test_interactive_flows_need_callback_urls(flow):
    request = {**OAUTH, "AllowedOAuthFlows": [flow], "CallbackURLs": []}
    del request["DefaultRedirectURI"]
    error = _new_error(error=InvalidOAuthFlowException, **request)
    assert error.message == (
        "CallbackUrls can not be empty when code flow or implicit flow is selected")


def test_default_redirect_uri_must_be_a_callback_url():
    error = _new_error(**{**OAUTH, "DefaultRedirectURI": "https://elsewhere.example.com"})
    assert error.message == "DefaultRedirectURI must be one of the CallbackURLs."


def test_context_data_propagation_needs_a_secret():
    error = _new_error(EnablePropagateAdditionalUserContextData=True)
    assert error.message == ("EnablePropagateAdditionalUserContextData can only be activated "
                             "for an app client that has a client secret.")
    assert _new(GenerateSecret=True, EnablePropagateAdditionalUserContextData=True)[
        "EnablePropagateAdditionalUserContextData"] is True


# -- UpdateUserPoolClient ---------------------------------------------------------------------


def test_update_is_a_full_replacement_that_keeps_the_name():
    current = _new(GenerateSecret=True, ReadAttributes=["email"], WriteAttributes=["email"],
                   AccessTokenValidity=10, TokenValidityUnits={"AccessToken": "minutes"},
                   ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
                   PreventUserExistenceErrors="ENABLED", EnableTokenRevocation=False,
                   AuthSessionValidity=10, **copy.deepcopy(OAUTH))
    assert _update(current) == DEFAULT_CONFIG
    assert _update(current, ClientName="renamed")["ClientName"] == "renamed"


def test_update_applies_the_same_rules_with_updating_wording():
    current = _new()
    with pytest.raises(InvalidParameterException) as raised:
        _update(current, WriteAttributes=["email_verified", "email"])
    assert raised.value.message == "Invalid write attributes specified while updating a client"
    with pytest.raises(InvalidParameterException) as raised:
        _update(current, ReadAttributes=["nope"])
    assert raised.value.message == "Invalid read attributes specified while updating a client"
    with pytest.raises(InvalidParameterException) as raised:
        _update(current, IdTokenValidity=2, TokenValidityUnits={"IdToken": "days"})
    assert raised.value.message == "Invalid range for token validity."


def test_update_checks_secret_rules_only_when_told_whether_a_secret_exists():
    request = {"AllowedOAuthFlowsUserPoolClient": True,
               "AllowedOAuthFlows": ["client_credentials"],
               "AllowedOAuthScopes": ["api/read"],
               "EnablePropagateAdditionalUserContextData": True}
    current = _new()
    assert _update(current, **copy.deepcopy(request))["AllowedOAuthFlows"] == [
        "client_credentials"]
    assert _update(current, has_secret=True, **copy.deepcopy(request))
    with pytest.raises(InvalidOAuthFlowException):
        _update(current, has_secret=False, **copy.deepcopy(request))


# -- rendering --------------------------------------------------------------------------------


def test_render_client_is_a_botocore_user_pool_client_type_in_aws_order():
    config = _new(GenerateSecret=True, ReadAttributes=["email"], WriteAttributes=["email"],
                  AccessTokenValidity=1, IdTokenValidity=1,
                  RefreshTokenRotation={"Feature": "DISABLED"},
                  AnalyticsConfiguration={"ApplicationId": "abc"}, **copy.deepcopy(OAUTH))
    rendered = _render(config, secret=SECRET)
    assert_shape(rendered, "UserPoolClientType")
    assert list(rendered)[:7] == ["UserPoolId", "ClientName", "ClientId", "ClientSecret",
                                  "LastModifiedDate", "CreationDate", "RefreshTokenValidity"]
    assert rendered["ClientSecret"] == SECRET
    assert rendered["CreationDate"] == CREATED and rendered["LastModifiedDate"] == MODIFIED
    assert {k: v for k, v in rendered.items()
            if k not in ("UserPoolId", "ClientId", "ClientSecret", "CreationDate",
                         "LastModifiedDate")} == config


def test_render_without_a_secret_omits_the_member():
    rendered = _render(_new())
    assert "ClientSecret" not in rendered
    assert_shape(rendered, "UserPoolClientType")


def test_render_shares_nothing_with_the_config():
    config = _new(**copy.deepcopy(OAUTH))
    before = copy.deepcopy(config)
    rendered = _render(config)
    rendered["CallbackURLs"].append("https://evil.example.com")
    rendered["TokenValidityUnits"]["AccessToken"] = "days"
    rendered["ExplicitAuthFlows"].clear()
    assert config == before


def test_render_client_description():
    config = _new()
    description = cc.render_client_description(config, pool_id=POOL_ID, client_id=CLIENT_ID)
    assert description == {"ClientId": CLIENT_ID, "UserPoolId": POOL_ID, "ClientName": "app"}
    assert_shape(description, "UserPoolClientDescription")


# -- small accessors --------------------------------------------------------------------------


def test_scalar_accessors():
    config = _new()
    assert cc.auth_session_validity_minutes(config) == 3
    assert cc.prevent_user_existence_errors(config) is False
    assert cc.token_revocation_enabled(config) is True
    tuned = _new(AuthSessionValidity=12, PreventUserExistenceErrors="ENABLED",
                 EnableTokenRevocation=False)
    assert cc.auth_session_validity_minutes(tuned) == 12
    assert cc.prevent_user_existence_errors(tuned) is True
    assert cc.token_revocation_enabled(tuned) is False
    assert cc.token_revocation_enabled({}) is True


def test_accessors_do_not_mutate_their_inputs():
    config = _new(ReadAttributes=["email"], WriteAttributes=["email"], **copy.deepcopy(OAUTH))
    before = (copy.deepcopy(config), copy.deepcopy(POOL))
    cc.allowed_auth_flows(config)
    cc.token_validity_seconds(config)
    cc.auth_session_validity_minutes(config)
    cc.prevent_user_existence_errors(config)
    cc.token_revocation_enabled(config)
    cc.readable_attributes(config, POOL)
    cc.writable_attributes(config, POOL)
    assert (config, POOL) == before
