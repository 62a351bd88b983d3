"""Regression: `authflow serve` ran uvicorn with its default proxy headers on, and uvicorn
trusts X-Forwarded-For from 127.0.0.1: any local caller could write the address a device's
`last_ip_used` shows, though docs/semantics.md decides it is the TCP peer only (found by
tests/integration/test_http_devices.py). Now serve turns uvicorn's proxy headers off."""

from __future__ import annotations

import json

import httpx

from authflow.conformance.srp_client import device_registration
from tests.integration.test_serve_command import boto3_client, serve

PASSWORD = "A-better-pass-2"


def test_x_forwarded_for_does_not_become_last_ip_used(tmp_path):
    with serve(tmp_path, "--insecure-no-auth", db=False) as server:
        api = boto3_client(server.url, signed=False)
        pool = api.create_user_pool(PoolName="p", DeviceConfiguration={"ChallengeRequiredOnNewDevice": False})
        pool_id = pool["UserPool"]["Id"]
        client_id = api.create_user_pool_client(UserPoolId=pool_id, ClientName="a",
                                                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                                   "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
        api.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
        api.admin_set_user_password(UserPoolId=pool_id, Username="alice", Password=PASSWORD, Permanent=True)
        result = api.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]
        key, group = result["NewDeviceMetadata"]["DeviceKey"], result["NewDeviceMetadata"]["DeviceGroupKey"]

        confirmed = httpx.post(f"{server.url}/", headers={
            "X-Amz-Target": "AWSCognitoIdentityProviderService.ConfirmDevice",
            "Content-Type": "application/x-amz-json-1.1", "X-Forwarded-For": "203.0.113.7",
        }, content=json.dumps({"AccessToken": result["AccessToken"], "DeviceKey": key,
                               "DeviceSecretVerifierConfig": device_registration(group, key, "pw", bytes(range(16)))}))
        assert confirmed.status_code == 200, confirmed.text

        device = api.admin_get_device(UserPoolId=pool_id, Username="alice", DeviceKey=key)["Device"]
        assert {"Name": "last_ip_used", "Value": "127.0.0.1"} in device["DeviceAttributes"]
