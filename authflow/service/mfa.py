"""MFA beyond the sign-in steps: the pool's MFA configuration (SetUserPoolMfaConfig,
GetUserPoolMfaConfig). The decisions are `authflow.core.mfa`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from authflow.core import mfa as core
from authflow.service.engine import Engine
from authflow.service.registry import operation


@operation("SetUserPoolMfaConfig")
def set_user_pool_mfa_config(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        config = core.set_config(pool.config, request)
        tx.put_pool(replace(pool, config=config, modified=now, version=pool.version + 1))
    return core.get_config(config)


@operation("GetUserPoolMfaConfig")
def get_user_pool_mfa_config(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
    return core.get_config(pool.config)
