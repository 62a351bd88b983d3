"""Read access to the cognito-idp service model shipped with authflow.

Theory of operation: `service-model.json` (next to this module) is a trimmed copy of
botocore's cognito-idp model, written by `tools/gen_service_model.py`; authflow never imports
botocore at run time. The file is parsed on first use and cached for the life of the process;
the parsed data is frozen (read-only mappings, tuples) so no caller can change what every
other caller sees.

Shapes are plain mappings with the model's own keys: `type`, and where present `members`
(member name -> shape name), `member_order`, `required`, `min`, `max`, `pattern`, `enum`,
`sensitive`, `member` (list element shape), `key`/`value` (map shapes), `deprecated_members`,
`exception`, `fault`, `document`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

from authflow.errors import UnknownOperationException

_RESOURCE = "service-model.json"


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


@functools.cache
def _model() -> Mapping[str, Any]:
    text = resources.files(__package__).joinpath(_RESOURCE).read_text(encoding="utf-8")
    return _freeze(json.loads(text))


def botocore_version() -> str:
    """The botocore version the shipped model was generated from."""
    return _model()["botocore_version"]


def metadata() -> Mapping[str, Any]:
    """Service metadata: `apiVersion`, `targetPrefix`, `jsonVersion`, `protocol`, ..."""
    return _model()["metadata"]


def operation_names() -> list[str]:
    """Every operation in the model, sorted."""
    return sorted(_model()["operations"])


def has_operation(name: object) -> bool:
    return isinstance(name, str) and name in _model()["operations"]


def operation(name: str) -> Mapping[str, Any]:
    """The operation entry (`input`, `output`, `errors`, `signed`); unknown names raise
    `UnknownOperationException`, as the service front end does."""
    if not has_operation(name):
        raise UnknownOperationException(operation=name)
    return _model()["operations"][name]


def is_signed(name: str) -> bool:
    """True if the operation requires SigV4; False for `authtype: none` / `smithy.api#noAuth`."""
    return bool(operation(name)["signed"])


def input_shape_name(name: str) -> str | None:
    return operation(name)["input"]


def output_shape_name(name: str) -> str | None:
    """The output shape's name, or None for operations with no output (e.g. DeleteUserPool)."""
    return operation(name)["output"]


def errors(name: str) -> list[str]:
    """The error shape names the model lists for the operation, in model order."""
    return list(operation(name)["errors"])


def input_members(name: str) -> dict[str, str]:
    """Input member name -> shape name, in the model's member order."""
    shape_name = input_shape_name(name)
    return members(shape_name) if shape_name else {}


def required_input_members(name: str) -> list[str]:
    shape_name = input_shape_name(name)
    return list(shape(shape_name).get("required", ())) if shape_name else []


def shape_names() -> list[str]:
    return sorted(_model()["shapes"])


def has_shape(name: str) -> bool:
    return isinstance(name, str) and name in _model()["shapes"]


def shape(name: str) -> Mapping[str, Any]:
    """One shape by name (KeyError if the model has no such shape)."""
    return _model()["shapes"][name]


def members(shape_name: str) -> dict[str, str]:
    """A structure's member name -> shape name, in the model's member order."""
    s = shape(shape_name)
    names = s.get("members", {})
    return {m: names[m] for m in s.get("member_order", sorted(names))}
