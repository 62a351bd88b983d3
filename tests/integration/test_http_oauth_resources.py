"""Domains, resource servers, identity providers, links and app-client OAuth settings over
HTTP: boto3 against `authflow serve`. The same operations as the in-process tests
(tests/unit/test_domains.py and its neighbours), spoken over the JSON protocol with SigV4:
a custom domain (its FQDN passes the wire), Cognito's errors with HTTP 400, boto3's own
paginator over ListResourceServers, and refusals that leave the store unchanged."""

from __future__ import annotations

from tests.http import serving
from tests.oauth_resources import CERT
from tests.oauth_resources import refused_over_http as refused

API = "https://photos.example.com"


def test_oauth_resources_over_http():
    with serving() as server:
        cognito = server.boto3()
        pool = cognito.create_user_pool(PoolName="http-oauth")["UserPool"]["Id"]

        # domains: a prefix and a custom one, described, shown by DescribeUserPool
        cognito.create_user_pool_domain(UserPoolId=pool, Domain="http-login")
        created = cognito.create_user_pool_domain(UserPoolId=pool, Domain="auth.example.com",
                                                  CustomDomainConfig={"CertificateArn": CERT})
        assert created["CloudFrontDomain"].endswith(".cloudfront.net")
        described = cognito.describe_user_pool_domain(Domain="auth.example.com")["DomainDescription"]
        assert (described["UserPoolId"], described["Status"]) == (pool, "ACTIVE")
        shown = cognito.describe_user_pool(UserPoolId=pool)["UserPool"]
        assert (shown["Domain"], shown["CustomDomain"]) == ("http-login", "auth.example.com")
        refused(server, cognito.create_user_pool_domain, "InvalidParameterException",
                "Domain cannot contain reserved word: cognito", UserPoolId=pool, Domain="my-cognito")
        refused(server, cognito.delete_user_pool, "InvalidParameterException",
                "User pool cannot be deleted. It has a domain configured that should be deleted first.",
                UserPoolId=pool)

        # resource servers, paged by boto3's paginator
        for identifier in (API, "com.example.b", "com.example.c"):
            cognito.create_resource_server(UserPoolId=pool, Identifier=identifier, Name="api",
                                           Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
        pages = cognito.get_paginator("list_resource_servers").paginate(
            UserPoolId=pool, PaginationConfig={"PageSize": 2})
        assert [s["Identifier"] for page in pages for s in page["ResourceServers"]] == sorted(
            [API, "com.example.b", "com.example.c"])
        refused(server, cognito.create_resource_server, "InvalidParameterException",
                f"{API} already exists in user pool {pool}.", UserPoolId=pool, Identifier=API, Name="again")

        # identity providers and a link
        google = cognito.create_identity_provider(
            UserPoolId=pool, ProviderName="Google", ProviderType="Google",
            ProviderDetails={"client_id": "g", "client_secret": "s", "authorize_scopes": "openid"},
            IdpIdentifiers=["example.com"])["IdentityProvider"]
        assert google["ProviderDetails"]["token_url"] == "https://www.googleapis.com/oauth2/v4/token"
        found = cognito.get_identity_provider_by_identifier(UserPoolId=pool, IdpIdentifier="example.com")
        assert found["IdentityProvider"]["ProviderName"] == "Google"
        refused(server, cognito.create_identity_provider, "DuplicateProviderException",
                "A provider with the name Google already exists in this user pool.", UserPoolId=pool,
                ProviderName="Google", ProviderType="Google",
                ProviderDetails={"client_id": "g", "client_secret": "s", "authorize_scopes": "openid"})
        cognito.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
        source = {"ProviderName": "Google", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "42"}
        cognito.admin_link_provider_for_user(
            UserPoolId=pool, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "alice"},
            SourceUser=source)
        cognito.admin_disable_provider_for_user(UserPoolId=pool, User=source)

        # an app client naming all of it; and one naming what the pool lacks
        client = cognito.create_user_pool_client(
            UserPoolId=pool, ClientName="web", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", f"{API}/read"], CallbackURLs=["https://app.example.com/cb",
                                                                       "http://localhost:3000/cb"],
            SupportedIdentityProviders=["COGNITO", "Google"])["UserPoolClient"]
        assert client["AllowedOAuthScopes"] == ["openid", f"{API}/read"]
        refused(server, cognito.create_user_pool_client, "ScopeDoesNotExistException",
                f"Invalid scope requested: {API}/write", UserPoolId=pool, ClientName="bad",
                AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                AllowedOAuthScopes=[f"{API}/write"], CallbackURLs=["https://app.example.com/cb"])
        refused(server, cognito.create_user_pool_client, "InvalidParameterException",
                "CallbackURLs must use HTTPS unless the host is localhost, 127.0.0.1 or [::1]: http://app.example.com/cb",
                UserPoolId=pool, ClientName="bad", CallbackURLs=["http://app.example.com/cb"])

        # deleting the provider takes it out of the client; the domains go, then the pool
        cognito.delete_identity_provider(UserPoolId=pool, ProviderName="Google")
        again = cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client["ClientId"])["UserPoolClient"]
        assert again["SupportedIdentityProviders"] == ["COGNITO"]
        cognito.delete_user_pool_domain(UserPoolId=pool, Domain="http-login")
        cognito.delete_user_pool_domain(UserPoolId=pool, Domain="auth.example.com")
        assert cognito.describe_user_pool_domain(Domain="http-login")["DomainDescription"] == {}
        cognito.delete_user_pool(UserPoolId=pool)
