"""Passkeys over HTTP: boto3 against `authflow serve`, one registration round trip (Start, the
software authenticator, Complete, List, Delete) and two refusals. What only the wire shows:
CredentialCreationOptions and Credential travel as JSON documents (objects, not strings),
CreatedAt comes back as epoch seconds that boto3 parses into a datetime, and Cognito's
WebAuthn errors arrive with HTTP 400."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from tests.http import serving
from tests.oauth_resources import refused_over_http as refused
from tests.webauthn_authenticator import SoftAuthenticator

PASSWORD = "A-better-pass-2"
RP = "example.com"
ORIGIN = "https://login.example.com"


def test_register_list_delete_over_http():
    with serving() as server:
        cognito = server.boto3()
        pool = cognito.create_user_pool(
            PoolName="passkeys", Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}},
        )["UserPool"]["Id"]
        app = cognito.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                              ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
        token = cognito.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]

        # No relying party yet: no domain, no WebAuthnConfiguration.
        refused(server, cognito.start_web_authn_registration, "WebAuthnConfigurationMissingException",
                "The user pool has no relying party for passkeys: set WebAuthnConfiguration.RelyingPartyId "
                "with SetUserPoolMfaConfig, or give the pool a domain.", AccessToken=token)
        cognito.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OFF",
                                         WebAuthnConfiguration={"RelyingPartyId": RP, "UserVerification": "required"})

        options = cognito.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
        assert isinstance(options, dict)
        assert options["rp"] == {"id": RP, "name": RP}
        assert options["authenticatorSelection"]["userVerification"] == "required"
        authenticator = SoftAuthenticator(attachment="cross-platform", transports=("usb",))
        credential = authenticator.create(options, ORIGIN)
        cognito.complete_web_authn_registration(AccessToken=token, Credential=credential)

        [listed] = cognito.list_web_authn_credentials(AccessToken=token)["Credentials"]
        assert isinstance(listed["CreatedAt"], datetime)
        assert {k: v for k, v in listed.items() if k != "CreatedAt"} == {
            "CredentialId": authenticator.id, "FriendlyCredentialName": "Roaming passkey", "RelyingPartyId": RP,
            "AuthenticatorAttachment": "cross-platform", "AuthenticatorTransports": ["usb"],
        }
        # The challenge was spent by the registration.
        refused(server, cognito.complete_web_authn_registration, "WebAuthnChallengeNotFoundException",
                "No passkey registration is pending for this user, or it has expired: call StartWebAuthnRegistration.",
                AccessToken=token, Credential=credential)

        cognito.delete_web_authn_credential(AccessToken=token, CredentialId=authenticator.id)
        assert cognito.list_web_authn_credentials(AccessToken=token)["Credentials"] == []
        refused(server, cognito.delete_web_authn_credential, "ResourceNotFoundException", "Credential not found.",
                AccessToken=token, CredentialId=authenticator.id)


def test_sign_in_with_a_passkey_over_http():
    """USER_AUTH with PREFERRED_CHALLENGE WEB_AUTHN: CREDENTIAL_REQUEST_OPTIONS (a JSON string
    naming alice's passkey), the authenticator's assertion as CREDENTIAL, tokens; the same
    assertion again is refused (its counter does not increase)."""
    with serving() as server:
        cognito = server.boto3()
        pool = cognito.create_user_pool(
            PoolName="passkeys", Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}},
        )["UserPool"]["Id"]
        cognito.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OFF",
                                         WebAuthnConfiguration={"RelyingPartyId": RP})
        app = cognito.create_user_pool_client(
            UserPoolId=pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_AUTH"],
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
        token = cognito.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]
        authenticator = SoftAuthenticator()
        options = cognito.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
        cognito.complete_web_authn_registration(AccessToken=token, Credential=authenticator.create(options, ORIGIN))

        def challenge() -> dict:
            started = cognito.initiate_auth(ClientId=app, AuthFlow="USER_AUTH", AuthParameters={
                "USERNAME": "alice", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
            assert started["ChallengeName"] == "WEB_AUTHN"
            return started

        started = challenge()
        request = json.loads(started["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
        assert request["rpId"] == RP and [c["id"] for c in request["allowCredentials"]] == [authenticator.id]
        assertion = authenticator.get(request, ORIGIN)
        answered = cognito.respond_to_auth_challenge(
            ClientId=app, ChallengeName="WEB_AUTHN", Session=started["Session"],
            ChallengeResponses={"USERNAME": "alice", "CREDENTIAL": json.dumps(assertion)})
        assert answered["AuthenticationResult"]["AccessToken"]

        again = challenge()
        with pytest.raises(ClientError) as err:
            cognito.respond_to_auth_challenge(
                ClientId=app, ChallengeName="WEB_AUTHN", Session=again["Session"],
                ChallengeResponses={"USERNAME": "alice", "CREDENTIAL": json.dumps(assertion)})
        assert err.value.response["Error"] == {"Code": "NotAuthorizedException",
                                               "Message": "Incorrect username or passkey."}
