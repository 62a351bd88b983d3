"""The identity-provider operations through the Client (reference oauth2-hosted-login.md §6):
CreateIdentityProvider, DescribeIdentityProvider, UpdateIdentityProvider,
DeleteIdentityProvider, ListIdentityProviders, GetIdentityProviderByIdentifier,
AdminLinkProviderForUser and AdminDisableProviderForUser. ProviderDetails per type and the
defaults Describe adds, names, IdpIdentifiers unique in the pool, AttributeMapping rules,
what deleting a provider does to clients and links. Every refusal leaves the store as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest

from authflow.errors import (
    AliasExistsException,
    DuplicateProviderException,
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
    UserNotFoundException,
)
from tests.conftest import START
from tests.oauth_resources import Pool, contents

GOOGLE = {"client_id": "gid", "client_secret": "gsecret", "authorize_scopes": "email profile openid"}
OIDC = {"client_id": "oid", "client_secret": "osecret", "authorize_scopes": "openid email",
        "oidc_issuer": "https://idp.example.com"}
SAML = {"MetadataURL": "https://idp.example.com/metadata.xml"}
APPLE = {"client_id": "com.example.app", "team_id": "TEAM", "key_id": "KEY", "private_key": "-----KEY-----",
         "authorize_scopes": "email name"}


def provider(pool: Pool, name: str = "Google", kind: str = "Google", details=GOOGLE, **extra) -> dict:
    return pool.client.create_identity_provider(UserPoolId=pool.id, ProviderName=name, ProviderType=kind,
                                                ProviderDetails=dict(details), **extra)["IdentityProvider"]


def test_google_is_described_with_the_defaults_cognito_adds():
    pool = Pool()
    created = provider(pool)
    assert created["ProviderDetails"] == {
        **GOOGLE,
        "attributes_url": "https://people.googleapis.com/v1/people/me?personFields=",
        "attributes_url_add_attributes": "true",
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "oidc_issuer": "https://accounts.google.com",
        "token_request_method": "POST",
        "token_url": "https://www.googleapis.com/oauth2/v4/token",
    }
    assert created["AttributeMapping"] == {"username": "sub"}
    assert created["IdpIdentifiers"] == []
    assert created["CreationDate"] == created["LastModifiedDate"] == START
    assert pool.client.describe_identity_provider(UserPoolId=pool.id, ProviderName="Google")["IdentityProvider"] \
        == created


def test_facebook_defaults_follow_its_api_version():
    pool = Pool()
    details = {"client_id": "f", "client_secret": "s", "authorize_scopes": "public_profile, email",
               "api_version": "v18.0"}
    shown = provider(pool, "Facebook", "Facebook", details)["ProviderDetails"]
    assert shown["authorize_url"] == "https://www.facebook.com/v18.0/dialog/oauth"
    assert shown["token_request_method"] == "GET"


def test_apple_hides_its_private_key():
    pool = Pool()
    shown = provider(pool, "SignInWithApple", "SignInWithApple", APPLE)["ProviderDetails"]
    assert "private_key" not in shown and shown["oidc_issuer"] == "https://appleid.apple.com"


def test_oidc_and_saml_providers_take_their_own_names():
    pool = Pool()
    oidc = provider(pool, "Corp", "OIDC", OIDC, AttributeMapping={"email": "email"}, IdpIdentifiers=["corp.example"])
    assert oidc["ProviderDetails"]["attributes_request_method"] == "GET"
    assert oidc["AttributeMapping"] == {"username": "sub", "email": "email"}
    saml = provider(pool, "Okta", "SAML", SAML)
    assert saml["AttributeMapping"] == {}
    listed = pool.client.list_identity_providers(UserPoolId=pool.id)["Providers"]
    assert [(p["ProviderName"], p["ProviderType"]) for p in listed] == [("Corp", "OIDC"), ("Okta", "SAML")]


@pytest.mark.parametrize(("kind", "details", "missing"), [
    ("Google", {"client_id": "a", "authorize_scopes": "openid"}, "client_secret"),
    ("OIDC", {"client_id": "a", "authorize_scopes": "openid"}, "oidc_issuer"),
    ("SignInWithApple", {**APPLE, "private_key": ""}, "private_key"),
])
def test_required_details_per_type(kind, details, missing):
    pool = Pool()
    name = kind if kind != "OIDC" else "Corp"
    pool.unchanged(InvalidParameterException, f"ProviderDetails of a {kind} identity provider must include {missing}.",
                   pool.client.create_identity_provider, UserPoolId=pool.id, ProviderName=name, ProviderType=kind,
                   ProviderDetails=details)


def test_saml_needs_exactly_one_metadata_source():
    pool = Pool()
    message = "ProviderDetails of a SAML identity provider must include exactly one of MetadataURL and MetadataFile."
    for details in ({}, {**SAML, "MetadataFile": "<xml/>"}):
        pool.unchanged(InvalidParameterException, message, pool.client.create_identity_provider,
                       UserPoolId=pool.id, ProviderName="Okta", ProviderType="SAML", ProviderDetails=details)


def test_names():
    pool = Pool()
    pool.unchanged(InvalidParameterException, "The name of a Google identity provider must be Google.",
                   pool.client.create_identity_provider, UserPoolId=pool.id, ProviderName="MyGoogle",
                   ProviderType="Google", ProviderDetails=GOOGLE)
    for name in ("Google", "Cognito", "COGNITO"):
        pool.unchanged(InvalidParameterException,
                       f"The provider name {name} is reserved; choose another name for this OIDC identity provider.",
                       pool.client.create_identity_provider, UserPoolId=pool.id, ProviderName=name,
                       ProviderType="OIDC", ProviderDetails=OIDC)
    provider(pool)
    pool.unchanged(DuplicateProviderException, "A provider with the name Google already exists in this user pool.",
                   pool.client.create_identity_provider, UserPoolId=pool.id, ProviderName="Google",
                   ProviderType="Google", ProviderDetails=GOOGLE)


def test_idp_identifiers_are_unique_in_the_pool_and_find_their_provider():
    pool = Pool()
    provider(pool, "Corp", "OIDC", OIDC, IdpIdentifiers=["corp.example", "corp"])
    message = "The IdpIdentifier corp is already used by an identity provider of this user pool."
    pool.unchanged(InvalidParameterException, message, pool.client.create_identity_provider, UserPoolId=pool.id,
                   ProviderName="Okta", ProviderType="SAML", ProviderDetails=SAML, IdpIdentifiers=["corp"])
    pool.unchanged(InvalidParameterException, "The IdpIdentifier x is already used by an identity provider of this "
                   "user pool.", pool.client.create_identity_provider, UserPoolId=pool.id, ProviderName="Okta",
                   ProviderType="SAML", ProviderDetails=SAML, IdpIdentifiers=["x", "x"])
    found = pool.client.get_identity_provider_by_identifier(UserPoolId=pool.id, IdpIdentifier="corp")
    assert found["IdentityProvider"]["ProviderName"] == "Corp"
    pool.unchanged(ResourceNotFoundException, "Identity provider with identifier other does not exist.",
                   pool.client.get_identity_provider_by_identifier, UserPoolId=pool.id, IdpIdentifier="other")
    # a provider may keep its own identifiers on update
    pool.client.update_identity_provider(UserPoolId=pool.id, ProviderName="Corp", IdpIdentifiers=["corp"])


def test_attribute_mapping_names_mutable_pool_attributes():
    pool = Pool(Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": False}])
    for attribute, why in (("nickname2", "is not an attribute of the user pool"),
                           ("sub", "is not an attribute of the user pool"),
                           ("custom:tier", "is immutable; only mutable attributes can be mapped")):
        pool.unchanged(InvalidParameterException, f"Invalid attribute mapping: {attribute} {why}.",
                       pool.client.create_identity_provider, UserPoolId=pool.id, ProviderName="Google",
                       ProviderType="Google", ProviderDetails=GOOGLE, AttributeMapping={attribute: "x"})
    mapped = provider(pool, AttributeMapping={"email": "email", "username": "sub"})["AttributeMapping"]
    assert mapped == {"email": "email", "username": "sub"}


def test_acr_mapping_is_for_oidc_only():
    pool = Pool()
    pool.unchanged(InvalidParameterException, "AcrMapping applies only to OIDC identity providers.",
                   pool.client.create_identity_provider, UserPoolId=pool.id, ProviderName="Okta",
                   ProviderType="SAML", ProviderDetails=SAML, AcrMapping={"Level1": "urn:acr:1"})
    assert provider(pool, "Corp", "OIDC", OIDC, AcrMapping={"Level1": "urn:acr:1"})["AcrMapping"] == {
        "Level1": "urn:acr:1"}


def test_update_replaces_given_members_and_keeps_the_rest():
    pool = Pool()
    provider(pool, IdpIdentifiers=["example.com"], AttributeMapping={"email": "email"})
    pool.env.clock.advance(timedelta(minutes=1))
    updated = pool.client.update_identity_provider(
        UserPoolId=pool.id, ProviderName="Google", ProviderDetails={**GOOGLE, "client_id": "new"},
    )["IdentityProvider"]
    assert updated["ProviderDetails"]["client_id"] == "new"
    assert updated["IdpIdentifiers"] == ["example.com"]
    assert updated["AttributeMapping"] == {"username": "sub", "email": "email"}
    assert updated["LastModifiedDate"] == START + timedelta(minutes=1) and updated["CreationDate"] == START
    pool.unchanged(InvalidParameterException, "ProviderDetails of a Google identity provider must include "
                   "client_secret.", pool.client.update_identity_provider, UserPoolId=pool.id, ProviderName="Google",
                   ProviderDetails={"client_id": "a", "authorize_scopes": "openid"})


def test_unknown_provider_is_not_found():
    pool = Pool()
    message = "Identity provider Nope does not exist."
    for call, extra in ((pool.client.describe_identity_provider, {}), (pool.client.update_identity_provider, {}),
                        (pool.client.delete_identity_provider, {})):
        pool.unchanged(ResourceNotFoundException, message, call, UserPoolId=pool.id, ProviderName="Nope", **extra)


def test_list_pages():
    pool = Pool()
    for name in ("C", "A", "B"):
        provider(pool, f"Corp{name}", "OIDC", OIDC)
    first = pool.client.list_identity_providers(UserPoolId=pool.id, MaxResults=2)
    assert [p["ProviderName"] for p in first["Providers"]] == ["CorpA", "CorpB"]
    rest = pool.client.list_identity_providers(UserPoolId=pool.id, MaxResults=2, NextToken=first["NextToken"])
    assert [p["ProviderName"] for p in rest["Providers"]] == ["CorpC"] and "NextToken" not in rest


def test_deleting_a_provider_takes_it_out_of_clients_and_drops_its_links():
    pool = Pool()
    provider(pool)
    app = pool.env.app(pool.id, SupportedIdentityProviders=["COGNITO", "Google"])
    pool.env.user(pool.id, "alice")
    link(pool)
    pool.client.delete_identity_provider(UserPoolId=pool.id, ProviderName="Google")
    described = pool.client.describe_user_pool_client(UserPoolId=pool.id, ClientId=app["ClientId"])["UserPoolClient"]
    assert described["SupportedIdentityProviders"] == ["COGNITO"]
    assert [r for r in contents(pool.client)["resources"][pool.id] if r[0] == "identity_link"] == []


# -- links ----------------------------------------------------------------------------------------


def link(pool: Pool, username: str = "alice", value: str = "105566480895441118673", name: str = "Google",
         attribute: str = "Cognito_Subject") -> dict:
    return pool.client.admin_link_provider_for_user(
        UserPoolId=pool.id,
        DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": username},
        SourceUser={"ProviderName": name, "ProviderAttributeName": attribute, "ProviderAttributeValue": value},
    )


def links_of(pool: Pool) -> dict:
    return {r[1]: v.body for r, v in contents(pool.client)["resources"][pool.id].items() if r[0] == "identity_link"}


def test_link_records_the_destination_users_sub():
    pool = Pool()
    provider(pool)
    sub = pool.env.user(pool.id, "alice")["Attributes"]
    sub = {a["Name"]: a["Value"] for a in sub}["sub"]
    link(pool)
    assert links_of(pool) == {"Google:105566480895441118673": {
        "ProviderName": "Google", "ProviderAttributeName": "Cognito_Subject",
        "ProviderAttributeValue": "105566480895441118673", "sub": sub, "username": "alice"}}


def test_link_refusals():
    pool = Pool()
    provider(pool)
    provider(pool, "Corp", "OIDC", OIDC, AttributeMapping={"email": "email"})
    pool.env.user(pool.id, "alice")
    pool.env.user(pool.id, "bob")
    pool.unchanged(UserNotFoundException, "User does not exist.", link, pool, "ghost")
    pool.unchanged(ResourceNotFoundException, "Identity provider Nope does not exist.", link, pool, name="Nope")
    pool.unchanged(InvalidParameterException,
                   "ProviderAttributeName email is not Cognito_Subject or an attribute mapped by Google.",
                   link, pool, attribute="email")
    link(pool, "alice", "x@example.com", "Corp", "email")  # OIDC links by a mapped attribute
    link(pool)
    pool.unchanged(InvalidParameterException, "The identity Google:105566480895441118673 is already linked to this "
                   "user.", link, pool)
    pool.unchanged(AliasExistsException, "The identity Google:105566480895441118673 is already linked to another "
                   "user.", link, pool, "bob")
    for i in range(3):
        link(pool, value=f"extra-{i}")
    pool.unchanged(LimitExceededException, "A user can have at most 5 linked identities.", link, pool, value="sixth")
    with pytest.raises(InvalidParameterException):
        pool.client.admin_link_provider_for_user(
            UserPoolId=pool.id, DestinationUser={"ProviderName": "Google", "ProviderAttributeValue": "alice"},
            SourceUser={"ProviderName": "Google", "ProviderAttributeValue": "1"})


def test_an_identity_that_signed_in_already_cannot_be_linked():
    pool = Pool()
    provider(pool)
    pool.env.user(pool.id, "alice")
    pool.env.user(pool.id, "Google_777")  # what its federated sign-in would have created
    pool.unchanged(InvalidParameterException, "Merging is not currently supported, provide a SourceUser that has not "
                   "been used to sign into the user pool", link, pool, value="777")


def test_disable_removes_the_link():
    pool = Pool()
    provider(pool)
    pool.env.user(pool.id, "alice")
    link(pool)
    target = {"ProviderName": "Google", "ProviderAttributeName": "Cognito_Subject",
              "ProviderAttributeValue": "105566480895441118673"}
    pool.client.admin_disable_provider_for_user(UserPoolId=pool.id, User=target)
    assert links_of(pool) == {}
    pool.unchanged(UserNotFoundException, "User does not exist.",
                   pool.client.admin_disable_provider_for_user, UserPoolId=pool.id, User=target)
    link(pool)  # the identity can be linked again
