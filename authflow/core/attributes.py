"""User attributes: checking what a request writes against the pool's schema.

Theory of operation: a request carries attributes as Cognito's list of
`{"Name", "Value"}`; `parse_attribute_list` turns it into an ordered dict and
rejects duplicates. `check_writes` then applies the schema: unknown names, values
of the wrong type or length, malformed emails and phone numbers, immutable
attributes on update, and the two verification flags, which are only meaningful
beside the value they vouch for. Messages follow Cognito's "Attributes did not
conform to the schema" / "Invalid email address format." family.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from authflow.core.schema import AttributeDef
from authflow.errors import InvalidParameterException

VERIFIED_FLAGS = {"email_verified": "email", "phone_number_verified": "phone_number"}

# Cognito accepts RFC-5322-ish addresses; this is deliberately permissive on the
# local part and strict on the shape (one @, a dot-free-or-dotted domain, no spaces).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE = re.compile(r"\+[0-9]{4,20}")
_BOOL = {"true", "false"}  # compared case-folded: AWS takes "True" as well as "true"
_INTEGER = re.compile(r"-?[0-9]+")


def is_true(value: str | None) -> bool:
    """A Boolean attribute's truth. Cognito accepts "true" in any case and keeps the value
    as written (a user created with `email_verified` "True" reads back "True"), so every
    test of a verification flag goes through here rather than comparing with "true"."""
    return value is not None and value.lower() == "true"


def parse_attribute_list(items: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    """`[{"Name": n, "Value": v}, ...]` as an ordered dict; a missing Value means ""."""
    result: dict[str, str] = {}
    for item in items or ():
        name = str(item["Name"])
        if name in result:
            raise InvalidParameterException(f"Duplicate attribute name in request: {name}")
        result[name] = str(item.get("Value", ""))
    return result


def lookup(schema: Mapping[str, AttributeDef], name: str) -> AttributeDef:
    definition = schema.get(name)
    if definition is None:
        if name.startswith("custom:") or name.startswith("dev:"):
            raise InvalidParameterException(
                f"Attributes did not conform to the schema: Type for attribute {{{name}}} could not be determined"
            )
        raise InvalidParameterException(
            f"Attributes did not conform to the schema: {name}: Attribute does not exist in the schema.\n"
        )
    return definition


def check_value(definition: AttributeDef, value: str) -> None:
    """Raise when `value` does not fit `definition` (type, length, range, format)."""
    name = definition.name
    if name == "email" and value and not _EMAIL.fullmatch(value):
        raise InvalidParameterException("Invalid email address format.")
    if name == "phone_number" and value and not _PHONE.fullmatch(value):
        raise InvalidParameterException("Invalid phone number format.")
    if definition.data_type == "Boolean" and value.lower() not in _BOOL:
        raise InvalidParameterException(
            f"Attributes did not conform to the schema: {name}: Value must be either true or false\n"
        )
    if definition.data_type == "Number" and value:
        # Not int(value) alone: Python also accepts " 5", "+5" and "5_000".
        if not _INTEGER.fullmatch(value):
            raise InvalidParameterException(
                f"Attributes did not conform to the schema: {name}: Number must be an integer\n"
            )
        number = int(value)
        if definition.min_value is not None and number < definition.min_value:
            raise InvalidParameterException(
                f"Attributes did not conform to the schema: {name}: Number must not be less than {definition.min_value}\n"
            )
        if definition.max_value is not None and number > definition.max_value:
            raise InvalidParameterException(
                f"Attributes did not conform to the schema: {name}: Number must not be greater than {definition.max_value}\n"
            )
    if definition.data_type == "String":
        if definition.max_length is not None and len(value) > definition.max_length:
            raise InvalidParameterException(
                f"Attributes did not conform to the schema: {name}: String must be no longer than {definition.max_length} characters\n"
            )
        if value and definition.min_length is not None and len(value) < definition.min_length:
            raise InvalidParameterException(
                f"Attributes did not conform to the schema: {name}: String must be no shorter than {definition.min_length} characters\n"
            )


def check_writes(
    schema: Mapping[str, AttributeDef],
    writes: Mapping[str, str],
    *,
    current: Mapping[str, str] | None,
) -> None:
    """Check attribute writes of a create (`current` None) or an update.

    Blank values delete on update; on create they are simply not stored. A
    verification flag set to "true" needs its value, in this request or already on
    the user.
    """
    for name, value in writes.items():
        definition = lookup(schema, name)
        if name == "sub":
            raise InvalidParameterException("Cannot modify the non-mutable attribute sub")
        if current is not None and not definition.mutable and name in current and current[name] != value:
            raise InvalidParameterException(f"Cannot modify the non-mutable attribute {name}")
        if value == "" and current is not None:
            if definition.required:
                raise InvalidParameterException(
                    f"Attributes did not conform to the schema: {name}: The attribute is required\n"
                )
            continue
        check_value(definition, value)
    for flag, target in VERIFIED_FLAGS.items():
        if is_true(writes.get(flag)):
            has_value = writes[target] if target in writes else (current or {}).get(target)
            if not has_value:
                raise InvalidParameterException(f"Cannot set {flag} to true without a value for {target}.")


def apply_writes(current: Mapping[str, str], writes: Mapping[str, str]) -> dict[str, str]:
    """The attributes after an update: blank values delete; a changed email or phone
    number loses its verification unless the same request verifies it."""
    result = dict(current)
    for name, value in writes.items():
        if value == "":
            result.pop(name, None)
            if name in VERIFIED_FLAGS.values():
                result.pop(_flag_for(name), None)
        else:
            result[name] = value
    for flag, target in VERIFIED_FLAGS.items():
        changed = target in writes and writes[target] != current.get(target)
        if changed and flag not in writes and target in result:
            result[flag] = "false"
    return result


def _flag_for(target: str) -> str:
    return next(flag for flag, t in VERIFIED_FLAGS.items() if t == target)


def ordered(attributes: Mapping[str, str]) -> dict[str, str]:
    """`sub` first, then the rest in the order they were written."""
    out = {"sub": attributes["sub"]} if "sub" in attributes else {}
    out.update((k, v) for k, v in attributes.items() if k != "sub")
    return out


def as_attribute_list(attributes: Mapping[str, str], names: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Cognito's `[{"Name", "Value"}]`, optionally narrowed to `names`."""
    keep = None if names is None else set(names)
    return [{"Name": k, "Value": v} for k, v in attributes.items() if keep is None or k in keep]

VERIFIED_FLAGS_BY_TARGET = {target: flag for flag, target in VERIFIED_FLAGS.items()}
