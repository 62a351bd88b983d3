"""User pools and app clients through the public Client."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest


def test_create_user_pool_defaults(client):
    pool = client.create_user_pool(PoolName="defaults")["UserPool"]
    assert re.fullmatch(r"us-east-1_[0-9A-Za-z]{9}", pool["Id"])
    assert pool["Arn"] == f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{pool['Id']}"
    assert pool["Name"] == "defaults"
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] == 8
    assert policy["RequireUppercase"] and policy["RequireLowercase"] and policy["RequireNumbers"] and policy["RequireSymbols"]
    assert policy["TemporaryPasswordValidityDays"] == 7
    admin = pool["AdminCreateUserConfig"]
    assert admin["AllowAdminCreateUserOnly"] is False
    assert admin["UnusedAccountValidityDays"] == 7
    assert admin["InviteMessageTemplate"] == {
        "SMSMessage": "Your username is {username} and temporary password is {####}. ",
        "EmailMessage": "Your username is {username} and temporary password is {####}. ",
        "EmailSubject": "Your temporary password",
    }
    assert pool["MfaConfiguration"] == "OFF"
    assert pool["EstimatedNumberOfUsers"] == 0
    assert pool["CreationDate"] == pool["LastModifiedDate"]
    names = [a["Name"] for a in pool["SchemaAttributes"]]
    assert names[:3] == ["sub", "name", "given_name"]
    assert len(names) == 20 and "email_verified" in names and "updated_at" in names


def test_describe_counts_users(client, pool_id):
    client.admin_create_user(UserPoolId=pool_id, Username="a", MessageAction="SUPPRESS")
    client.admin_create_user(UserPoolId=pool_id, Username="b", MessageAction="SUPPRESS")
    assert client.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"] == 2


def test_describe_unknown_pool(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException) as err:
        client.describe_user_pool(UserPoolId="us-east-1_nothere00")
    assert err.value.message == "User pool us-east-1_nothere00 does not exist."


def test_create_user_pool_with_every_seed_member(client):
    pool = client.create_user_pool(
        PoolName="seed",
        Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireUppercase": False, "RequireLowercase": True,
                                     "RequireNumbers": True, "RequireSymbols": False, "TemporaryPasswordValidityDays": 3}},
        LambdaConfig={"PreSignUp": "arn:aws:lambda:us-east-1:123456789012:function:f"},
        AutoVerifiedAttributes=["email"],
        AliasAttributes=["email", "preferred_username"],
        SmsVerificationMessage="Code {####}",
        EmailVerificationMessage="Your code is {####}",
        EmailVerificationSubject="Verify",
        SmsAuthenticationMessage="Auth {####}",
        MfaConfiguration="OFF",
        DeviceConfiguration={"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False},
        EmailConfiguration={"EmailSendingAccount": "COGNITO_DEFAULT"},
        SmsConfiguration={"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"},
        UserPoolTags={"team": "identity"},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True,
                               "InviteMessageTemplate": {"SMSMessage": "Hi {username} {####}"}},
        Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
        UsernameConfiguration={"CaseSensitive": False},
    )["UserPool"]
    described = client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described == pool
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
    assert pool["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 3
    assert pool["AliasAttributes"] == ["email", "preferred_username"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["AdminCreateUserConfig"]["InviteMessageTemplate"]["SMSMessage"] == "Hi {username} {####}"
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["UserPoolTags"] == {"team": "identity"}
    assert pool["LambdaConfig"]["PreSignUp"].endswith(":function:f")
    assert any(a["Name"] == "custom:tier" for a in pool["SchemaAttributes"])


def test_alias_and_username_attributes_are_exclusive(client):
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.create_user_pool(PoolName="x", AliasAttributes=["email"], UsernameAttributes=["email"])
    assert client.list_user_pools(MaxResults=60)["UserPools"] == []


def test_shape_validation_error_message(client):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.describe_user_pool(UserPoolId="not a pool id")
    assert err.value.message == (
        "1 validation error detected: Value 'not a pool id' at 'userPoolId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+"
    )


def test_update_user_pool_replaces_updatable_members(client, clock):
    pool = client.create_user_pool(
        PoolName="upd",
        AliasAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Policies={"PasswordPolicy": {"MinimumLength": 12}},
    )["UserPool"]
    clock.advance(timedelta(minutes=1))
    assert set(client.update_user_pool(UserPoolId=pool["Id"], Policies={"PasswordPolicy": {"MinimumLength": 9}})) == {"ResponseMetadata"}
    after = client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert after["Policies"]["PasswordPolicy"]["MinimumLength"] == 9
    assert after["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False  # omitted => default
    assert "AutoVerifiedAttributes" not in after or after["AutoVerifiedAttributes"] == []
    assert after["AliasAttributes"] == ["email"]  # not updatable: kept
    assert after["LastModifiedDate"] == pool["LastModifiedDate"] + timedelta(minutes=1)
    assert after["CreationDate"] == pool["CreationDate"]


def test_update_changes_what_admin_create_user_does(client, outbox):
    pool = client.create_user_pool(PoolName="upd")["UserPool"]["Id"]
    client.update_user_pool(
        UserPoolId=pool,
        AdminCreateUserConfig={"InviteMessageTemplate": {"SMSMessage": "New {username} {####}"}},
        Policies={"PasswordPolicy": {"MinimumLength": 6, "RequireSymbols": False, "RequireUppercase": False}},
    )
    client.admin_create_user(
        UserPoolId=pool, Username="u", TemporaryPassword="abc123", UserAttributes=[{"Name": "phone_number", "Value": "+14325551212"}]
    )
    assert outbox.messages[-1].body == "New u abc123"


def test_delete_user_pool(client, pool_id):
    client.admin_create_user(UserPoolId=pool_id, Username="a", MessageAction="SUPPRESS")
    c = client.create_user_pool_client(UserPoolId=pool_id, ClientName="app")["UserPoolClient"]
    client.delete_user_pool(UserPoolId=pool_id)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_user_pool(UserPoolId=pool_id)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_user_pool(UserPoolId=pool_id)


def test_deletion_protection(client):
    pool = client.create_user_pool(PoolName="keep", DeletionProtection="ACTIVE")["UserPool"]["Id"]
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.delete_user_pool(UserPoolId=pool)
    client.describe_user_pool(UserPoolId=pool)
    client.update_user_pool(UserPoolId=pool, DeletionProtection="INACTIVE")
    client.delete_user_pool(UserPoolId=pool)


def test_list_user_pools_pagination(client):
    ids = {client.create_user_pool(PoolName=f"p{i}")["UserPool"]["Id"] for i in range(5)}
    seen, token = [], None
    while True:
        page = client.list_user_pools(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["UserPools"]) <= 2
        seen += [p["Id"] for p in page["UserPools"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    first = client.list_user_pools(MaxResults=60)["UserPools"][0]
    assert set(first) >= {"Id", "Name", "CreationDate", "LastModifiedDate"}


def test_list_user_pools_requires_max_results(client):
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.list_user_pools()


# -- app clients ----------------------------------------------------------------------------------


def test_create_client_defaults(client, pool_id):
    c = client.create_user_pool_client(UserPoolId=pool_id, ClientName="web")["UserPoolClient"]
    assert re.fullmatch(r"[a-z0-9]{26}", c["ClientId"])
    assert "ClientSecret" not in c
    assert c["UserPoolId"] == pool_id
    assert c["ClientName"] == "web"
    assert sorted(c["ExplicitAuthFlows"]) == ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    assert c["PreventUserExistenceErrors"] == "LEGACY"
    assert c["EnableTokenRevocation"] is True
    assert c["AuthSessionValidity"] == 3
    assert c["RefreshTokenValidity"] == 30
    assert client.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"] == c


def test_generated_secret(client, pool_id):
    c = client.create_user_pool_client(UserPoolId=pool_id, ClientName="srv", GenerateSecret=True)["UserPoolClient"]
    assert re.fullmatch(r"[\w+]{24,64}", c["ClientSecret"])
    assert client.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]["ClientSecret"] == c["ClientSecret"]


def test_legacy_and_allow_flows_cannot_mix(client, pool_id):
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.create_user_pool_client(
            UserPoolId=pool_id, ClientName="x", ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH", "ALLOW_USER_SRP_AUTH"]
        )
    c = client.create_user_pool_client(UserPoolId=pool_id, ClientName="legacy", ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH"])
    assert c["UserPoolClient"]["ExplicitAuthFlows"] == ["ADMIN_NO_SRP_AUTH"]


def test_token_validity_units_and_ranges(client, pool_id):
    c = client.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="tokens",
        AccessTokenValidity=30,
        IdTokenValidity=30,
        RefreshTokenValidity=7,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
    )["UserPoolClient"]
    assert c["AccessTokenValidity"] == 30 and c["TokenValidityUnits"]["AccessToken"] == "minutes"
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.create_user_pool_client(
            UserPoolId=pool_id, ClientName="bad", AccessTokenValidity=2, TokenValidityUnits={"AccessToken": "minutes"}
        )
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.create_user_pool_client(UserPoolId=pool_id, ClientName="bad", AccessTokenValidity=25)  # hours


def test_read_write_attributes_checked_against_schema(client, pool_id):
    c = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="attrs", ReadAttributes=["email", "email_verified"], WriteAttributes=["email"]
    )["UserPoolClient"]
    assert c["ReadAttributes"] == ["email", "email_verified"]
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.create_user_pool_client(UserPoolId=pool_id, ClientName="bad", ReadAttributes=["custom:nope"])


def test_prevent_user_existence_errors_and_session_validity(client, pool_id):
    c = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="x", PreventUserExistenceErrors="ENABLED", AuthSessionValidity=15, EnableTokenRevocation=False
    )["UserPoolClient"]
    assert c["PreventUserExistenceErrors"] == "ENABLED"
    assert c["AuthSessionValidity"] == 15
    assert c["EnableTokenRevocation"] is False
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.create_user_pool_client(UserPoolId=pool_id, ClientName="x", AuthSessionValidity=16)


def test_update_client_is_full_replacement(client, pool_id, clock):
    c = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="x", PreventUserExistenceErrors="ENABLED", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]
    clock.advance(timedelta(seconds=1))
    updated = client.update_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"], ClientName="renamed")["UserPoolClient"]
    assert updated["ClientName"] == "renamed"
    assert updated["PreventUserExistenceErrors"] == "LEGACY"
    assert updated["ClientId"] == c["ClientId"]
    assert updated["LastModifiedDate"] > c["LastModifiedDate"]
    assert updated["CreationDate"] == c["CreationDate"]


def test_client_in_another_pool_is_not_found(client, pool_id):
    other = client.create_user_pool(PoolName="other")["UserPool"]["Id"]
    c = client.create_user_pool_client(UserPoolId=other, ClientName="x")["UserPoolClient"]
    with pytest.raises(client.exceptions.ResourceNotFoundException) as err:
        client.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])
    assert err.value.message == f"User pool client {c['ClientId']} does not exist."


def test_delete_and_list_clients(client, pool_id):
    ids = [client.create_user_pool_client(UserPoolId=pool_id, ClientName=f"c{i}")["UserPoolClient"]["ClientId"] for i in range(3)]
    page = client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=2)
    assert len(page["UserPoolClients"]) == 2 and "NextToken" in page
    rest = client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=2, NextToken=page["NextToken"])
    listed = [c["ClientId"] for c in page["UserPoolClients"] + rest["UserPoolClients"]]
    assert sorted(listed) == sorted(ids)
    assert set(page["UserPoolClients"][0]) == {"ClientId", "UserPoolId", "ClientName"}
    client.delete_user_pool_client(UserPoolId=pool_id, ClientId=ids[0])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_user_pool_client(UserPoolId=pool_id, ClientId=ids[0])
    assert len(client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]) == 2
