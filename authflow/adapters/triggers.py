"""Triggers: the default when no functions are registered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class NoTriggers:
    """No trigger functions. A pool whose LambdaConfig names a function fails the
    operations that would call it, as Cognito does when the function cannot be
    invoked: configuring a trigger and silently skipping it would hide a mistake."""

    def invoke(self, arn: str, event: Mapping[str, Any]) -> Mapping[str, Any]:
        raise LookupError(f"no function is registered for {arn}")
