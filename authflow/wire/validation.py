"""Validate a cognito-idp request against the service model, with AWS's wording.

Theory of operation: a request passes two stages, as it does on its way to AWS.

1. *Structure* (what botocore checks on the client): every key is a member of its shape,
   and every value has the right Python type. Problems are reported in botocore's words,
   one per line (`Unknown parameter in input: "Foo", must be one of: ...`,
   `Invalid type for parameter UserPoolId, value: 5, type: <class 'int'>, valid types: ...`),
   with botocore's parameter names (`UserAttributes[0].Name`, `ClientMetadata.key`).
   Later checks assume the types are right, so this stage stops the request by itself.
2. *Constraints* (what the service checks): required members, length and value ranges,
   patterns and enums. All violations are collected in member order and reported as one
   `N validation error(s) detected: ...; ...` message with camelCase member paths
   (see `_violations_structure` for the path rules).

`None` counts as absent, as JSON `null` does on the wire, so a missing required member
reads `Value null at 'username' failed to satisfy constraint: Member must not be null`.
Values of sensitive shapes (or anything inside one) never appear in a message: AWS writes
`Value at 'password' ...` for them and so do we. Everything raised is an
`InvalidParameterException` or, for an unknown operation, `UnknownOperationException`.
The input is only read, never changed.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

from authflow.errors import InvalidParameterException, UnknownOperationException
from authflow.wire import model
from authflow.wire.patterns import full_match

# Java's int and long: the service cannot even deserialise anything outside them.
_JAVA_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_MAX_DOCUMENT_DEPTH = 64
# Shapes whose model pattern the service does not apply as a validation error. DomainType's
# pattern has no dots, yet it carries custom domains (FQDNs) too; Cognito checks a prefix
# itself and answers in its own words ("The domain name contains an invalid character. ..."),
# so the core's domain rules (authflow.core.oauth_resources) do it here.
_PATTERN_CHECKED_BY_SERVICE = frozenset({"DomainType"})

_VALID_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "<class 'str'>"),
    "integer": ((int,), "<class 'int'>"),
    "long": ((int,), "<class 'int'>"),
    "boolean": ((bool,), "<class 'bool'>"),
    "float": ((int, float), "<class 'float'>, <class 'int'>"),
    "double": ((int, float), "<class 'float'>, <class 'int'>"),
    "timestamp": ((dt.datetime, int, float),
                  "<class 'datetime.datetime'>, <class 'int'>, <class 'float'>"),
    "blob": ((bytes, bytearray, str), "<class 'bytes'>, <class 'bytearray'>, <class 'str'>"),
    "list": ((list, tuple), "<class 'list'>, <class 'tuple'>"),
    "map": ((Mapping,), "<class 'dict'>"),
    "structure": ((Mapping,), "<class 'dict'>"),
}


def validate_request(operation: str, params: Mapping[str, Any]) -> None:
    """Raise `InvalidParameterException` unless `params` is a valid input for `operation`.

    Raises `UnknownOperationException` if the model has no such operation.
    """
    if not model.has_operation(operation):
        raise UnknownOperationException(operation=operation if isinstance(operation, str) else None)
    if not isinstance(params, Mapping):
        raise InvalidParameterException(
            f"Invalid type for parameter input, type: {type(params)}, valid types: <class 'dict'>"
        )
    shape_name = model.input_shape_name(operation)
    problems: list[str] = []
    if shape_name is None:  # no operation lacks an input today; stay safe if one does
        problems.extend(f'Unknown parameter in input: "{k}", must be one of: ' for k in params)
    else:
        _check_types(params, shape_name, "", False, problems)
    if problems:
        raise InvalidParameterException(_printable("\n".join(problems)))
    violations: list[str] = []
    if shape_name is not None:
        _violations_structure(params, shape_name, "", False, violations)
    if violations:
        count = len(violations)
        noun = "validation error" if count == 1 else "validation errors"
        raise InvalidParameterException(
            _printable(f"{count} {noun} detected: " + "; ".join(violations))
        )


def _printable(message: str) -> str:
    # Map keys and unknown member names are echoed; a lone surrogate among them would make
    # the message impossible to encode as UTF-8 (and so to send), so escape it.
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


# -- stage 1: structure and Python types (botocore's checks and wording) ---------------------


#: The exact types most values have, answered without the isinstance walk (Mapping is an
#: ABC, so isinstance against it is slow); every other case takes the general path below.
_EXACT = {("string", str), ("structure", dict), ("map", dict), ("list", list), ("integer", int),
          ("boolean", bool)}


@functools.cache
def _members(shape_name: str) -> dict[str, str]:
    """`model.members`, built once per shape (the model is frozen); read only."""
    return model.members(shape_name)


def _is_type(value: Any, kind: str) -> bool:
    if (kind, type(value)) in _EXACT:
        return True
    valid = _VALID_TYPES.get(kind)
    if valid is None:
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False  # bool is an int subclass, but True is not a number on the wire
    return isinstance(value, valid[0])


def _type_error(value: Any, kind: str, name: str, sensitive: bool) -> str:
    shown = "" if sensitive else f", value: {value}"
    return (f"Invalid type for parameter {name or 'input'}{shown}, type: {type(value)}, "
            f"valid types: {_VALID_TYPES[kind][1]}")


def _has_lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_types(value: Any, shape_name: str, name: str, sensitive: bool, out: list[str]) -> None:
    if value is None:
        return  # absent; stage 2 decides whether that is allowed
    shape = model.shape(shape_name)
    kind = shape["type"]
    sensitive = sensitive or bool(shape.get("sensitive"))
    if shape.get("document"):
        _check_document(value, name, 0, out)
        return
    if not _is_type(value, kind):
        out.append(_type_error(value, kind, name, sensitive))
        return
    if isinstance(value, str) and _has_lone_surrogate(value):
        # Not valid Unicode, so not sendable as UTF-8 JSON, and would break storage and
        # token encoding later. authflow's own wording: AWS never sees such a string.
        out.append(f"Invalid value for parameter {name}: strings must not contain "
                   "unpaired surrogate code points")
    elif kind == "structure":
        members = _members(shape_name)
        for key in value:
            if not isinstance(key, str) or key not in members:
                out.append(f'Unknown parameter in {name or "input"}: "{key}", '
                           f"must be one of: {', '.join(members)}")
        for key, item in value.items():
            if isinstance(key, str) and key in members:
                _check_types(item, members[key], f"{name}.{key}" if name else key, sensitive, out)
    elif kind == "list":
        for i, item in enumerate(value):
            _check_types(item, shape["member"], f"{name}[{i}]", sensitive, out)
    elif kind == "map":
        for key, item in value.items():
            key_name = f"{name} (key: {key})"
            if key is None:  # None is "absent" elsewhere, but a key cannot be absent
                out.append(_type_error(key, "string", key_name, sensitive))
            else:
                _check_types(key, shape["key"], key_name, sensitive, out)
            _check_types(item, shape["value"], f"{name}.{key}", sensitive, out)


def _check_document(value: Any, name: str, depth: int, out: list[str]) -> None:
    # The bounded depth also stops a self-containing list from recursing forever.
    if depth > _MAX_DOCUMENT_DEPTH:
        out.append(f"Invalid document parameter {name}: nested more than "
                   f"{_MAX_DOCUMENT_DEPTH} levels deep")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or _has_lone_surrogate(key):
                out.append(f"Invalid type for document parameter {name} (key: {key}), "
                           "valid types: <class 'str'>")
            else:
                _check_document(item, f"{name}.{key}", depth + 1, out)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_document(item, f"{name}[{i}]", depth + 1, out)
    elif isinstance(value, str):
        if _has_lone_surrogate(value):
            out.append(f"Invalid value for parameter {name}: strings must not contain "
                       "unpaired surrogate code points")
    elif value is not None and not isinstance(value, (bool, int, float)):
        out.append(f"Invalid type for document parameter {name}, value: {value}, "
                   f"type: {type(value)}, valid types: <class 'str'>, <class 'int'>, "
                   "<class 'bool'>, <class 'float'>, <class 'list'>, <class 'dict'>")


# -- stage 2: the service's constraints (AWS's wording) -------------------------------------
#
# Member paths: member names with the first letter lower-cased, joined with ".".
# * list of structures/lists/maps: one path per element, 1-based, `userAttributes.1.member.name`
#   (AWS's own form).
# * list or map of scalars: AWS reports the whole collection once, at the collection's path,
#   listing every constraint of the element shape:
#   `Value '[a, b]' at 'attributesToGet' failed to satisfy constraint: Member must satisfy
#   constraint: [Member must have length less than or equal to 32, ...]`, and for maps
#   `Map keys must satisfy constraint: [...]` then `Map value must satisfy constraint: [...]`.
#   "Member must not be null" is added to that list only when a null element is present.
# * map with structure values (only AcrConfigurationType today): `acrConfiguration.<key>`.
# Values are rendered as Java prints them (`[a, b]`, `{k=v}`, `true`), as AWS echoes them.


def _member_path(path: str, member: str) -> str:
    name = member[:1].lower() + member[1:]
    return f"{path}.{name}" if path else name


def _violation(rendered: str | None, path: str, constraint: str) -> str:
    value = "Value" if rendered is None else f"Value '{rendered}'"
    return f"{value} at '{path}' failed to satisfy constraint: {constraint}"


def _null(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


@functools.cache
def _is_sensitive(shape_name: str) -> bool:
    shape = model.shape(shape_name)
    if shape.get("sensitive"):
        return True
    return any(_is_sensitive(child) for child in _children(shape))


def _children(shape: Mapping[str, Any]) -> list[str]:
    names = list(shape.get("members", {}).values())
    names.extend(shape[k] for k in ("member", "key", "value") if k in shape)
    return names


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    return str(value)


def _shown(value: Any, shape_name: str, sensitive: bool) -> str | None:
    """The value as AWS would echo it, or None when it must not be shown."""
    if sensitive or _is_sensitive(shape_name):
        return None
    if model.shape(shape_name)["type"] == "blob" or isinstance(value, (bytes, bytearray)):
        return None  # binary; AWS would print a Java buffer object, which says nothing
    return _render(value)


def _measure(kind: str) -> str:
    return "value" if kind in ("integer", "long", "float", "double") else "length"


def _all_constraints(shape: Mapping[str, Any]) -> list[str]:
    """Every constraint of a scalar shape, in the order AWS lists them."""
    measure = _measure(shape["type"])
    found = []
    if "max" in shape:
        found.append(f"Member must have {measure} less than or equal to {shape['max']}")
    if "min" in shape:
        found.append(f"Member must have {measure} greater than or equal to {shape['min']}")
    if "pattern" in shape:
        found.append(f"Member must satisfy regular expression pattern: {shape['pattern']}")
    if "enum" in shape:
        found.append(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
    return found


def _failed_constraints(value: Any, shape: Mapping[str, Any]) -> list[str]:
    """The constraints of `shape` that `value` (already of the right type) breaks."""
    kind = shape["type"]
    measure = _measure(kind)
    lo, hi = shape.get("min"), shape.get("max")
    if kind in _JAVA_BOUNDS:
        lo = _JAVA_BOUNDS[kind][0] if lo is None else lo
        hi = _JAVA_BOUNDS[kind][1] if hi is None else hi
    failed = []
    too_long = False
    if lo is not None or hi is not None:  # booleans and timestamps have neither
        size = value if measure == "value" else len(value)
        if lo is not None and size < lo:
            failed.append(f"Member must have {measure} greater than or equal to {lo}")
        too_long = hi is not None and size > hi
        if too_long:
            failed.append(f"Member must have {measure} less than or equal to {hi}")
    # Skipped for an over-long value: that bounds regex work on hostile input (AWS would
    # report the pattern too; the length error alone already rejects the request).
    if "pattern" in shape and isinstance(value, str) and not too_long:
        if not full_match(shape["pattern"], value):
            failed.append(f"Member must satisfy regular expression pattern: {shape['pattern']}")
    if "enum" in shape and value not in shape["enum"]:
        failed.append(f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
    return failed


def _is_scalar(shape_name: str) -> bool:
    shape = model.shape(shape_name)
    return shape["type"] not in ("structure", "list", "map") and not shape.get("document")


def _violations(value: Any, shape_name: str, path: str, sensitive: bool, out: list[str]) -> None:
    shape = model.shape(shape_name)
    kind = shape["type"]
    sensitive = sensitive or bool(shape.get("sensitive"))
    if shape.get("document"):
        return
    if kind == "structure":
        _violations_structure(value, shape_name, path, sensitive, out)
    elif kind in ("list", "map"):
        _violations_collection(value, shape_name, path, sensitive, out)
    else:
        shown = _shown(value, shape_name, sensitive)
        failed = _failed_constraints(value, shape)
        if shape_name in _PATTERN_CHECKED_BY_SERVICE:
            failed = [c for c in failed if not c.startswith("Member must satisfy regular expression")]
        out.extend(_violation(shown, path, c) for c in failed)


def _violations_structure(
    value: Mapping[str, Any], shape_name: str, path: str, sensitive: bool, out: list[str]
) -> None:
    shape = model.shape(shape_name)
    required = shape.get("required", ())
    for member, member_shape in _members(shape_name).items():
        item = value.get(member)
        member_path = _member_path(path, member)
        if item is None:
            if member in required:
                out.append(_null(member_path))
        else:
            _violations(item, member_shape, member_path, sensitive, out)


def _violations_collection(
    value: Any, shape_name: str, path: str, sensitive: bool, out: list[str]
) -> None:
    shape = model.shape(shape_name)
    shown = _shown(value, shape_name, sensitive)
    out.extend(_violation(shown, path, c) for c in _failed_constraints(value, shape))
    if shape["type"] == "list":
        parts = [("Member", shape["member"], list(value), None)]
    else:
        parts = [("Map keys", shape["key"], list(value), None),
                 ("Map value", shape["value"], list(value.values()), list(value))]
    for label, element_shape, elements, keys in parts:
        if _is_scalar(element_shape):
            _violations_scalar_elements(elements, element_shape, label, shown, path, out)
            continue
        for i, element in enumerate(elements):
            # Lists: AWS's 1-based `.N.member`; maps: the key itself.
            element_path = f"{path}.{i + 1}.member" if keys is None else f"{path}.{keys[i]}"
            if element is None:
                out.append(_null(element_path))
            else:
                _violations(element, element_shape, element_path, sensitive, out)


def _violations_scalar_elements(
    elements: list[Any], element_shape: str, label: str, shown: str | None, path: str,
    out: list[str],
) -> None:
    shape = model.shape(element_shape)
    has_null = any(e is None for e in elements)
    if has_null or any(_failed_constraints(e, shape) for e in elements if e is not None):
        listed = _all_constraints(shape) + (["Member must not be null"] if has_null else [])
        out.append(_violation(shown, path,
                              f"{label} must satisfy constraint: [{', '.join(listed)}]"))
