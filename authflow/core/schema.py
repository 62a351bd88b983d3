"""The user-pool attribute schema: standard attributes, custom attributes, and their rules.

Theory of operation
-------------------
A pool's schema is fixed when the pool is created (``CreateUserPool.Schema``) and is stored in
Cognito's own wire spelling, as the list ``SchemaAttributes`` that ``DescribeUserPool`` returns:
the twenty standard attributes first, in Cognito's order, then the custom attributes in request
order. Rendering is therefore a deep copy, and everything else in the engine reads the schema
through :func:`attribute_definitions`, which turns that list into typed :class:`AttributeDef`
records keyed by the name callers use in ``UserAttributes`` (``email``, ``custom:tier``,
``dev:custom:legacy``).

:func:`build_schema` is a pure function from the request's ``Schema`` to that list. The request
has already passed shape validation (types, lengths, enums); this module owns the semantic
rules: what a request may change about a standard attribute, how custom attributes are named
and defaulted, and which constraints fit which data type. A refused request raises
``InvalidParameterException`` and changes nothing (inputs are never mutated).

Where the message text of a rule was seen in live Cognito responses it is reproduced exactly;
the others are written to be clear, in Cognito's style (see ``docs/semantics.md``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from authflow.errors import InvalidParameterException

__all__ = [
    "MAX_CUSTOM_ATTRIBUTES",
    "MAX_STRING_LENGTH",
    "STANDARD_ATTRIBUTES",
    "STANDARD_ATTRIBUTE_NAMES",
    "AttributeDef",
    "attribute_definitions",
    "build_schema",
]

#: Hard quota: custom attributes per pool.
MAX_CUSTOM_ATTRIBUTES = 50
#: Longest value any String attribute may declare (and the bytes an attribute value may hold).
MAX_STRING_LENGTH = 2048

_STRING = "String"
_NUMBER = "Number"
_BOOLEAN = "Boolean"
_CUSTOM_PREFIX = "custom:"
_DEV_PREFIX = "dev:"


def _standard(name: str, data_type: str = _STRING, *, mutable: bool = True,
              required: bool = False, min_length: int = 0, max_length: int = 2048) -> dict:
    entry: dict = {
        "Name": name,
        "AttributeDataType": data_type,
        "DeveloperOnlyAttribute": False,
        "Mutable": mutable,
        "Required": required,
    }
    if data_type == _STRING:
        # Cognito spells the limits as strings on the wire.
        entry["StringAttributeConstraints"] = {
            "MinLength": str(min_length),
            "MaxLength": str(max_length),
        }
    elif data_type == _NUMBER:
        entry["NumberAttributeConstraints"] = {"MinValue": "0"}
    return entry


#: The standard attributes exactly as ``DescribeUserPool`` lists them for a pool created without
#: ``Schema``. Read-only by convention: every function here deep-copies before handing entries out.
STANDARD_ATTRIBUTES: tuple[dict, ...] = (
    _standard("sub", mutable=False, required=True, min_length=1),
    _standard("name"),
    _standard("given_name"),
    _standard("family_name"),
    _standard("middle_name"),
    _standard("nickname"),
    _standard("preferred_username"),
    _standard("profile"),
    _standard("picture"),
    _standard("website"),
    _standard("email"),
    _standard("email_verified", _BOOLEAN),
    _standard("gender"),
    _standard("birthdate", min_length=10, max_length=10),
    _standard("zoneinfo"),
    _standard("locale"),
    _standard("phone_number"),
    _standard("phone_number_verified", _BOOLEAN),
    _standard("address"),
    _standard("updated_at", _NUMBER),
)

STANDARD_ATTRIBUTE_NAMES: frozenset[str] = frozenset(a["Name"] for a in STANDARD_ATTRIBUTES)
_STANDARD_BY_NAME: dict[str, dict] = {a["Name"]: a for a in STANDARD_ATTRIBUTES}

# Which constraint structure belongs to which data type; Boolean and DateTime take none.
_CONSTRAINTS_FOR_TYPE = {_STRING: "StringAttributeConstraints", _NUMBER: "NumberAttributeConstraints"}
_ALL_CONSTRAINTS = ("StringAttributeConstraints", "NumberAttributeConstraints")


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeDef:
    """One schema attribute, typed, as the rest of the engine needs it.

    ``name`` is the name used in ``UserAttributes``: ``email``, ``custom:tier`` or, for a
    developer-only attribute, ``dev:custom:tier``. Absent constraints are ``None``.
    """

    name: str
    data_type: str
    mutable: bool
    required: bool
    developer_only: bool
    min_length: int | None = None
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None

    @property
    def is_custom(self) -> bool:
        """True for ``custom:*`` and ``dev:custom:*`` attributes."""
        return self.name.startswith((_CUSTOM_PREFIX, _DEV_PREFIX))


def build_schema(request_schema: Sequence[Mapping] | None) -> list[dict]:
    """The pool's ``SchemaAttributes`` for a ``CreateUserPool`` request's ``Schema``.

    Standard attributes come first in Cognito's order, with any overrides the request makes
    (``Required``, ``Mutable``, constraints); custom attributes follow in request order, named
    ``custom:<Name>`` or, when ``DeveloperOnlyAttribute`` is true, ``dev:custom:<Name>``.

    Raises ``InvalidParameterException`` for anything Cognito refuses.
    """
    standard = {name: copy.deepcopy(entry) for name, entry in _STANDARD_BY_NAME.items()}
    overridden: set[str] = set()
    custom: list[dict] = []
    custom_names: set[str] = set()

    for entry in request_schema or ():
        name = entry.get("Name")
        if not name:
            raise InvalidParameterException(
                "Schema attribute names must be provided.", member="Schema"
            )
        if name in standard:
            if name in overridden:
                raise _duplicate(name)
            overridden.add(name)
            standard[name] = _override_standard(standard[name], entry)
        else:
            attribute = _custom_attribute(entry)
            if attribute["Name"] in custom_names:
                raise _duplicate(attribute["Name"])
            custom_names.add(attribute["Name"])
            custom.append(attribute)

    if len(custom) > MAX_CUSTOM_ATTRIBUTES:
        raise InvalidParameterException(
            f"A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes; "
            f"the request defines {len(custom)}.",
            member="Schema",
        )
    return [standard[a["Name"]] for a in STANDARD_ATTRIBUTES] + custom


def attribute_definitions(schema_attributes: Sequence[Mapping]) -> dict[str, AttributeDef]:
    """Typed view of a stored ``SchemaAttributes`` list, keyed by ``UserAttributes`` name."""
    out: dict[str, AttributeDef] = {}
    for entry in schema_attributes:
        strings = entry.get("StringAttributeConstraints") or {}
        numbers = entry.get("NumberAttributeConstraints") or {}
        out[entry["Name"]] = AttributeDef(
            name=entry["Name"],
            data_type=entry.get("AttributeDataType", _STRING),
            mutable=bool(entry.get("Mutable", True)),
            required=bool(entry.get("Required", False)),
            developer_only=bool(entry.get("DeveloperOnlyAttribute", False)),
            min_length=_lenient_int(strings.get("MinLength")),
            max_length=_lenient_int(strings.get("MaxLength")),
            min_value=_lenient_int(numbers.get("MinValue")),
            max_value=_lenient_int(numbers.get("MaxValue")),
        )
    return out


# -- standard attributes -------------------------------------------------------------------


def _override_standard(current: dict, entry: Mapping) -> dict:
    name = current["Name"]
    data_type = current["AttributeDataType"]
    requested_type = entry.get("AttributeDataType")
    # Observed Cognito text; it covers both refusals with one message.
    if (requested_type is not None and requested_type != data_type) or entry.get(
        "DeveloperOnlyAttribute"
    ):
        raise InvalidParameterException(
            "You can not change AttributeDataType or set developerOnlyAttribute for "
            f"standard schema attribute {name}",
            member="Schema",
            attribute=name,
        )

    updated = copy.deepcopy(current)
    if "Required" in entry:
        updated["Required"] = bool(entry["Required"])
    if "Mutable" in entry:
        updated["Mutable"] = bool(entry["Mutable"])
    own_key = _CONSTRAINTS_FOR_TYPE.get(data_type)
    # Standard attributes always show both limits, so a partial request merges over them.
    constraints = _constraints(name, data_type, entry, base=current.get(own_key) if own_key else None)
    if constraints is not None:
        updated[own_key] = constraints

    # `sub` is the user's permanent identifier: it stays immutable, required and 1..2048.
    if name == "sub" and updated != current:
        raise InvalidParameterException(
            "sub: The standard attribute sub cannot be modified.",
            member="Schema",
            attribute=name,
        )
    return updated


# -- custom attributes ---------------------------------------------------------------------


def _custom_attribute(entry: Mapping) -> dict:
    base = entry["Name"]
    developer_only = bool(entry.get("DeveloperOnlyAttribute", False))
    # A request Name of "custom:x" really becomes "custom:custom:x": Cognito prefixes blindly.
    name = (_DEV_PREFIX if developer_only else "") + _CUSTOM_PREFIX + base

    data_type = entry.get("AttributeDataType")
    if data_type is None:
        raise InvalidParameterException(
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.",
            member="Schema",
            attribute=name,
        )
    if entry.get("Required"):
        # Observed Cognito text.
        raise InvalidParameterException(
            "Required custom attributes are not supported currently.",
            member="Schema",
            attribute=name,
        )

    attribute: dict = {
        "Name": name,
        "AttributeDataType": data_type,
        "DeveloperOnlyAttribute": developer_only,
        # Cognito's API treats an omitted Mutable as true for custom attributes.
        "Mutable": bool(entry.get("Mutable", True)),
        "Required": False,
    }
    constraints = _constraints(name, data_type, entry)
    if data_type in _CONSTRAINTS_FOR_TYPE:
        # Custom String/Number attributes always show their constraint structure, even empty,
        # and only with the limits the request set (DescribeUserPool echoes them verbatim).
        attribute[_CONSTRAINTS_FOR_TYPE[data_type]] = constraints if constraints is not None else {}
    return attribute


# -- constraints ---------------------------------------------------------------------------


def _constraints(
    name: str, data_type: str, entry: Mapping, *, base: Mapping | None = None
) -> dict | None:
    """The validated constraint structure the entry sets for its type, or None if it sets none.

    ``base`` holds limits the entry's own ones are merged over (standard attributes).
    """
    own_key = _CONSTRAINTS_FOR_TYPE.get(data_type)
    for key in _ALL_CONSTRAINTS:
        # Tools often send an empty structure of the other kind; only a non-empty one is a
        # real attempt to constrain the attribute in a way its type cannot honour.
        if key != own_key and entry.get(key):
            raise InvalidParameterException(
                f"user.{name}: {key} cannot be set for an attribute of type {data_type}.",
                member="Schema",
                attribute=name,
            )
    if own_key is None or entry.get(own_key) is None:
        return None
    given = {**(base or {}), **{k: v for k, v in entry[own_key].items() if v is not None}}
    if data_type == _STRING:
        return _string_constraints(name, given)
    return _number_constraints(name, given)


def _string_constraints(name: str, given: Mapping) -> dict:
    out: dict = {}
    limits: dict[str, int] = {}
    for member in ("MinLength", "MaxLength"):
        if given.get(member) is None:
            continue
        value = _strict_int(given[member])
        if value is None or value < 0:
            raise InvalidParameterException(
                f"user.{name}: {member} must be a non-negative whole number, "
                f"not {given[member]!r}.",
                member="Schema",
                attribute=name,
            )
        if value > MAX_STRING_LENGTH:
            raise InvalidParameterException(
                f"user.{name}: String attributes cannot have a length of more than "
                f"{MAX_STRING_LENGTH}",
                member="Schema",
                attribute=name,
            )
        limits[member] = value
        out[member] = str(value)
    if "MinLength" in limits and "MaxLength" in limits and limits["MinLength"] > limits["MaxLength"]:
        raise InvalidParameterException(
            f"user.{name}: Max length cannot be less than min length.",
            member="Schema",
            attribute=name,
        )
    return out


def _number_constraints(name: str, given: Mapping) -> dict:
    out: dict = {}
    limits: dict[str, int] = {}
    for member in ("MinValue", "MaxValue"):
        if given.get(member) is None:
            continue
        value = _strict_int(given[member])
        if value is None:
            raise InvalidParameterException(
                f"user.{name}: {member} must be a whole number, not {given[member]!r}.",
                member="Schema",
                attribute=name,
            )
        limits[member] = value
        out[member] = str(value)
    if "MinValue" in limits and "MaxValue" in limits and limits["MinValue"] > limits["MaxValue"]:
        raise InvalidParameterException(
            f"user.{name}: Max value cannot be less than min value.",
            member="Schema",
            attribute=name,
        )
    return out


def _strict_int(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    body = stripped[1:] if stripped[:1] in "+-" else stripped
    if not body.isdigit() or not body.isascii():
        return None
    return int(stripped)


def _lenient_int(text: object) -> int | None:
    # Stored schemas were validated on the way in; tolerate anything else rather than fail reads.
    return _strict_int(text) if text is not None else None


def _duplicate(name: str) -> InvalidParameterException:
    return InvalidParameterException(
        f"{name}: Existing attribute already has name {name}.",
        member="Schema",
        attribute=name,
    )


def added_custom_attributes(current: Sequence[Mapping], request_attributes: Sequence[Mapping]) -> list[dict]:
    """The pool's ``SchemaAttributes`` after ``AddCustomAttributes``: the new attributes
    appended, each built and checked exactly as CreateUserPool builds a custom attribute
    (so they are named ``custom:<Name>`` / ``dev:custom:<Name>``, cannot be required, and
    their constraints must fit their type). A name the pool has, or gives twice, is
    refused; so is going past the quota. Attributes can never be removed or changed."""
    existing = {a["Name"] for a in current}
    added: list[dict] = []
    for entry in request_attributes:
        if not entry.get("Name"):
            raise InvalidParameterException("Schema attribute names must be provided.", member="CustomAttributes")
        attribute = _custom_attribute(entry)
        if attribute["Name"] in existing:
            raise _duplicate(attribute["Name"])
        existing.add(attribute["Name"])
        added.append(attribute)
    customs = sum(1 for a in current if a["Name"].startswith(_CUSTOM_PREFIX) or a["Name"].startswith("dev:"))
    if customs + len(added) > MAX_CUSTOM_ATTRIBUTES:
        raise InvalidParameterException(
            f"A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes; "
            f"it would have {customs + len(added)}.",
            member="CustomAttributes",
        )
    return [copy.deepcopy(dict(a)) for a in current] + added
