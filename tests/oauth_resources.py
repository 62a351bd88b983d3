"""Helpers for the tests of domains, resource servers, identity providers and app-client
OAuth settings: a pool on a checked client, and a snapshot of the memory store that
includes the pool resources (`tests.helpers.store_contents` predates them)."""

from __future__ import annotations

from typing import Any

from tests.helpers import store_contents
from tests.signin import Env, refused

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f3e1a52-8d77-4c3a-9d0c-1b2c3d4e5f60"


def contents(client) -> dict[str, Any]:
    """Everything the store holds, pool resources and the cross-pool domain index included."""
    state = client.store.snapshot()
    return {
        **store_contents(client.store),
        "resources": {pool: dict(auth.resources) for pool, auth in state.auth.items()},
        "global_names": dict(state.global_names),
    }


class Pool:
    """A pool (with `config`) on a fresh checked client."""

    def __init__(self, env: Env | None = None, **config) -> None:
        self.env = env or Env()
        self.client = self.env.client
        self.id = self.env.pool(**config)

    def unchanged(self, exception, message: str, call, *args, **kwargs):
        """`call(*args, **kwargs)` is refused with exactly `exception` and `message` and the store,
        resources included, is exactly as it was."""
        before = contents(self.client)
        err = refused(exception, message, call, *args, **kwargs)
        assert contents(self.client) == before
        return err


def refused_over_http(server, call, code: str, message: str, **kwargs) -> None:
    """`call` (a boto3 method against `server`) fails with `code` and `message`, HTTP 400,
    and the server's store is exactly as it was."""
    import pytest
    from botocore.exceptions import ClientError

    before = contents(server.client)
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (code, message)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert contents(server.client) == before
