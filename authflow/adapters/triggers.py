"""Triggers: the default when no functions are registered, and Python callables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import Any


class NoTriggers:
    """No trigger functions. A pool whose LambdaConfig names a function fails the
    operations that would call it, as Cognito does when the function cannot be
    invoked: configuring a trigger and silently skipping it would hide a mistake."""

    def invoke(self, arn: str, event: Mapping[str, Any]) -> Mapping[str, Any]:
        raise LookupError(f"no function is registered for {arn}")


class CallableTriggers:
    """Trigger functions as Python callables, keyed by the ARN the pool's LambdaConfig
    names: ``CallableTriggers({"arn:aws:lambda:...:function:pre": pre_sign_up})``.

    A function receives the event (a fresh copy, so it may fill ``response`` in place)
    and returns the event, as a Lambda handler does. Whatever it raises goes back to
    the engine, which answers UserLambdaValidationException with the message; an ARN
    with no function is an invocation failure, as with `NoTriggers`."""

    def __init__(self, functions: Mapping[str, Callable[[dict[str, Any]], Any]]) -> None:
        self.functions = dict(functions)

    def invoke(self, arn: str, event: Mapping[str, Any]) -> Mapping[str, Any]:
        function = self.functions.get(arn)
        if function is None:
            raise LookupError(f"no function is registered for {arn}")
        copy = deepcopy(dict(event))
        result = function(copy)
        # A handler that fills the event in place and returns None answers with that event.
        return copy if result is None else result
