"""A NextToken the server never wrote is refused, not read as "from the start".

base64's decoder skips characters outside its alphabet, so "%%%" used to decode to an
empty position and list the first page again."""

from __future__ import annotations

import pytest

import authflow
from tests.conftest import TEST_CONFIG


@pytest.mark.parametrize("token", ["%%%", "YWJj%", "!!YWJj"])
def test_a_token_the_server_never_wrote_is_invalid(token):
    client = authflow.Client(config=TEST_CONFIG)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    for i in range(3):
        client.create_user_pool_client(UserPoolId=pool, ClientName=f"c{i}")
    with pytest.raises(client.exceptions.InvalidParameterException, match="Invalid NextToken."):
        client.list_user_pool_clients(UserPoolId=pool, MaxResults=1, NextToken=token)


def test_the_tokens_the_server_writes_still_page_through():
    client = authflow.Client(config=TEST_CONFIG)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    made = {client.create_user_pool_client(UserPoolId=pool, ClientName=f"c{i}")["UserPoolClient"]["ClientId"]
            for i in range(3)}
    seen, token = [], None
    while True:
        page = client.list_user_pool_clients(UserPoolId=pool, MaxResults=1, **({"NextToken": token} if token else {}))
        seen += [c["ClientId"] for c in page["UserPoolClients"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(made)
