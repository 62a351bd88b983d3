"""Check a response dict against the cognito-idp output shape, as boto3 would return it.

Theory of operation: tests may use botocore, so this reads the model of the *installed*
botocore (not authflow's trimmed copy, so a bug in the generator cannot hide a bug in a
response). A response passes if it is exactly what boto3 could hand back: every key is a
member of its shape (recursively), no value is None (botocore drops nulls), types are the
ones botocore's parser produces, required output members are present and enum values are in
their set. `ResponseMetadata` is allowed at the top level and ignored.

Usage: `from tests.shapes import assert_output_shape`.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import botocore.session
from botocore.model import Shape


@functools.cache
def _service_model() -> Any:
    return botocore.session.get_session().get_service_model("cognito-idp")


def assert_output_shape(operation: str, response: dict) -> None:
    """Raise AssertionError, naming the offending path, unless `response` fits the
    output shape of `operation`."""
    model = _service_model()
    assert operation in model.operation_names, f"{operation}: not a cognito-idp operation"
    assert isinstance(response, dict), f"{operation}: response is {type(response)}, not dict"
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    shape = model.operation_model(operation).output_shape
    if shape is None:
        assert body == {}, f"{operation}: has no output shape, but got keys {sorted(body)}"
        return
    _check(body, shape, operation)


def assert_shape(value: Any, shape_name: str) -> None:
    """Like `assert_output_shape`, for a value of any named shape (e.g. `UserPoolType`)."""
    _check(value, _service_model().shape_for(shape_name), shape_name)


def _describe(value: Any, shape: Shape) -> str:
    # Test output lands in CI logs: never print a sensitive value.
    if shape.metadata.get("sensitive"):
        return f"a {type(value).__name__} (sensitive)"
    return repr(value)


def _check(value: Any, shape: Shape, path: str) -> None:
    kind = shape.type_name
    assert value is not None, f"{path}: None (boto3 never returns a null member)"
    if kind == "structure":
        if shape.metadata.get("document"):
            return
        assert isinstance(value, dict), f"{path}: expected dict, got {type(value).__name__}"
        members = shape.members
        extra = sorted(set(value) - set(members))
        assert not extra, f"{path}: unexpected key(s) {extra}; allowed: {list(members)}"
        missing = [m for m in shape.required_members if m not in value]
        assert not missing, f"{path}: missing required member(s) {missing}"
        for name, item in value.items():
            _check(item, members[name], f"{path}.{name}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected list, got {type(value).__name__}"
        for i, item in enumerate(value):
            _check(item, shape.member, f"{path}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), f"{path}: expected dict, got {type(value).__name__}"
        for key, item in value.items():
            assert isinstance(key, str), f"{path}: key {key!r} is not a str"
            _check(key, shape.key, f"{path} (key {key!r})")
            _check(item, shape.value, f"{path}.{key}")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected str, got {type(value).__name__}"
        enum = shape.metadata.get("enum")
        assert not enum or value in enum, (
            f"{path}: {_describe(value, shape)} is not one of {enum}"
        )
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), (
            f"{path}: expected int, got {type(value).__name__}"
        )
    elif kind in ("float", "double"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (
            f"{path}: expected float, got {type(value).__name__}"
        )
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected bool, got {type(value).__name__}"
    elif kind == "timestamp":
        assert isinstance(value, dt.datetime), (
            f"{path}: expected datetime, got {type(value).__name__}"
        )
        assert value.tzinfo is not None and value.utcoffset() is not None, (
            f"{path}: datetime is naive; boto3 returns timezone-aware datetimes"
        )
    elif kind == "blob":
        assert isinstance(value, bytes), f"{path}: expected bytes, got {type(value).__name__}"
    else:
        raise AssertionError(f"{path}: shape type {kind!r} is not handled by this checker")
