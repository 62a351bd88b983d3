"""The operation registry: Cognito operation name -> service function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from authflow.service.engine import Engine

Handler = Callable[[Engine, Mapping[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in OPERATIONS:
            raise ValueError(f"operation {name} registered twice")
        OPERATIONS[name] = fn
        return fn

    return register


def load_all() -> dict[str, Handler]:
    """Import every service module so that all operations are registered."""
    from authflow.service import (  # noqa: F401
        auth,
        auth_events,
        branding,
        client_secrets,
        clients,
        devices,
        domains,
        groups,
        identity_providers,
        mfa,
        passwords,
        pool_settings,
        pools,
        resource_servers,
        sign_in,
        signup,
        tags,
        terms,
        tokens,
        user_auth,
        user_import,
        users,
        verification,
        webauthn,
    )

    auth_events.instrument(OPERATIONS)  # records sign-in outcomes; wraps once, however often called
    return OPERATIONS
