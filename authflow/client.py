"""`authflow.Client`: the engine behind boto3's `cognito-idp` method names.

Code written against `boto3.client("cognito-idp")` runs against it unchanged: the
same method names and keyword arguments, the same response dicts (datetimes are
timezone-aware), and errors raised as `client.exceptions.<CognitoName>`. Every
call is validated against the service model's constraints first, then handed to
the same service function the HTTP server uses, so the two cannot disagree.
"""

from __future__ import annotations

import logging
import random
import re
import time
import types
from collections.abc import Callable
from typing import Any

from authflow import errors
from authflow.config import EngineConfig
from authflow.ports import Clock, Entropy, Messenger, Store, TransientConflict, Triggers
from authflow.service.engine import Engine
from authflow.service.registry import load_all
from authflow.wire.validation import validate_request

log = logging.getLogger("authflow")


def method_name(operation: str) -> str:
    """boto3's snake_case name of a Cognito operation (`AdminCreateUser` -> `admin_create_user`)."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", operation)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


#: How often an operation runs before a store conflict is reported (as AWS reports
#: contention: TooManyRequestsException, which SDKs retry with back-off).
ATTEMPTS = 5


def call(engine: Engine, operation: str, params: dict[str, Any], request_id: str) -> dict[str, Any]:
    """Validate and run one operation; anything unexpected is logged under `request_id`
    and becomes InternalErrorException.

    A `TransientConflict` from the store (another writer won a race; nothing was written)
    runs the whole operation again, up to `ATTEMPTS` times, after a short random pause."""
    handlers = load_all()
    handler = handlers.get(operation)
    if handler is None:
        raise errors.UnknownOperationException(f"Unknown operation {operation}")
    validate_request(operation, params)
    try:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return handler(engine, params)
            except TransientConflict:
                if attempt == ATTEMPTS:
                    log.warning("%s gave up after %d store conflicts (request %s)", operation, attempt, request_id)
                    raise errors.TooManyRequestsException("Too many concurrent requests; try again.") from None
                # Jittered exponential pause, so racing writers stop colliding.
                pause = 0.005 * 2**attempt * (0.5 + random.random())  # noqa: S311 -- not a secret
                time.sleep(pause)
        raise AssertionError("unreachable")
    except errors.CognitoError:
        raise
    except Exception:
        log.exception("internal error in %s (request %s)", operation, request_id)
        raise errors.InternalErrorException(f"Internal server error. Request id {request_id}") from None


class Client:
    """An in-process Cognito user-pool service with boto3's interface."""

    def __init__(
        self,
        store: Store | None = None,
        clock: Clock | None = None,
        entropy: Entropy | None = None,
        messenger: Messenger | None = None,
        triggers: Triggers | None = None,
        region: str = "us-east-1",
        *,
        config: EngineConfig | None = None,
    ) -> None:
        self.engine = Engine(
            store=store,
            clock=clock,
            entropy=entropy,
            messenger=messenger,
            triggers=triggers,
            region=region,
            config=config,
        )
        self.exceptions = types.SimpleNamespace(ClientError=errors.CognitoError, **errors.ERRORS)
        self._methods = {method_name(op): op for op in load_all()}

    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def messenger(self) -> Messenger:
        return self.engine.messenger

    def get_jwks(self, *, UserPoolId: str) -> dict[str, Any]:  # noqa: N803 -- boto3's spelling
        """The pool's JSON Web Key Set, as served at `/<poolId>/.well-known/jwks.json`
        (not a Cognito API operation: on AWS it is a public URL)."""
        from authflow.service import keys

        with self.engine.store.transaction() as tx:
            self.engine.require_pool(tx, UserPoolId)
            return keys.jwks(tx, UserPoolId, self.engine.now())

    def rotate_signing_keys(self, *, UserPoolId: str) -> dict[str, Any]:  # noqa: N803
        """Replace the pool's signing keys; the old public keys stay published until
        every token they signed has expired. Returns the new JWKS. (authflow only.)"""
        from authflow.service import keys

        return keys.rotate(self.engine, UserPoolId)

    def purge_expired(self, *, Limit: int = 10_000) -> dict[str, int]:  # noqa: N803
        """Delete sessions, refresh tokens and lockout counters that can no longer
        matter; returns how many of each went. (authflow only; run it periodically.)"""
        from authflow.service import maintenance

        return maintenance.purge_expired(self.engine, limit=Limit)

    def can_paginate(self, method: str) -> bool:
        return method in ("list_users", "list_user_pools", "list_user_pool_clients")

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = self.__dict__.get("_methods", {}).get(name)
        if operation is None:
            raise AttributeError(f"'Client' object has no attribute {name!r}")

        def method(**kwargs: Any) -> dict[str, Any]:
            # Drawn first, as the HTTP server does, so that a seeded engine gives the same
            # results through either facade.
            request_id = self.engine.request_id()
            response = call(self.engine, operation, kwargs, request_id)
            response["ResponseMetadata"] = {
                "RequestId": request_id,
                "HTTPStatusCode": 200,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            }
            return response

        method.__name__ = name
        method.__doc__ = f"Cognito {operation}."
        return method

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._methods))
