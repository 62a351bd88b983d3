"""Matching a response against a scenario's `expect:`.

`expect:` maps dotted paths (`User.UserStatus`, `Users.0.Username`) to what must be
there. A plain value (string, number, list, mapping) must be equal. A mapping made only
of these lower-case keys is a matcher instead:

| matcher | holds when the member |
|---|---|
| `present: true` / `present: false` | is there / is absent |
| `pattern: REGEX` | is a string matching REGEX in full |
| `type: string\\|integer\\|boolean\\|timestamp\\|list\\|map` | has that type |
| `length: N` | is a list, mapping or string of N items |
| `contains: [ITEM, ...]` | is a list holding each ITEM, in any order: an element equal to it, or, for an ITEM that is a matcher, an element it holds for |
| `members: {PATH: VALUE, ...}` | is a mapping whose members at these paths match (others may be there too) |
| `attributes: {NAME: VALUE, ...}` | is a `[{Name, Value}]` list where each NAME's value matches (`null`: the attribute is absent) |
| `attribute_names: [NAME, ...]` | is a `[{Name, Value}]` list with exactly these names |
| `jwt: {CLAIM: VALUE, ...}` | is a JWT whose payload's claims match (the signature is not checked here) |
| `one_of: [VALUE, ...]` | equals one of the values |
| `not: VALUE` | differs from VALUE (e.g. a new token) |
| `equals: VALUE` | equals VALUE (for a mapping that would read as a matcher) |

Several matcher keys in one mapping must all hold. Every value may use `${variables}`.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any

from authflow.conformance.values import render, walk

MATCHERS = {"present", "pattern", "type", "length", "contains", "members", "attributes", "attribute_names",
            "jwt", "one_of", "not", "equals"}
_TYPES = {"string": str, "integer": int, "boolean": bool, "timestamp": datetime, "list": list, "map": dict}
_ABSENT = object()


def is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= MATCHERS


def mismatches(response: dict[str, Any], expect: dict[str, Any], variables: dict[str, Any]) -> list[str]:
    """What in `response` differs from `expect` (empty: it matches)."""
    problems = []
    for path, wanted in expect.items():
        found, actual = walk(response, str(path).split("."))
        problems.extend(f"{path}: {p}" for p in check(actual if found else _ABSENT, wanted, variables))
    return problems


def check(actual: Any, wanted: Any, variables: dict[str, Any]) -> list[str]:
    if not is_matcher(wanted):
        expected = render(wanted, variables)
        if actual is _ABSENT:
            return [f"expected {_show(expected)}, but it is absent"]
        return [] if _equal(actual, expected) else [f"expected {_show(expected)}, got {_show(actual)}"]
    problems: list[str] = []
    for key, argument in wanted.items():
        problems.extend(_MATCHER_CHECKS[key](actual, argument, variables))
    return problems


def _present(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    if bool(argument) and actual is _ABSENT:
        return ["expected to be present, but it is absent"]
    if not argument and actual is not _ABSENT:
        return [f"expected to be absent, got {_show(actual)}"]
    return []


def _pattern(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    regex = render(argument, variables)
    if isinstance(actual, str) and re.fullmatch(regex, actual, re.DOTALL):
        return []
    return [f"expected a string matching /{regex}/, got {_show(actual)}"]


def _type(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    kind = _TYPES.get(argument)
    if kind is None:
        return [f"unknown type {argument!r} in the scenario (one of {', '.join(_TYPES)})"]
    ok = isinstance(actual, kind) and not (kind is int and isinstance(actual, bool))
    return [] if ok else [f"expected a {argument}, got {_show(actual)}"]


def _length(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    expected = render(argument, variables)
    if isinstance(actual, (list, dict, str)) and len(actual) == expected:
        return []
    size = len(actual) if isinstance(actual, (list, dict, str)) else None
    return [f"expected {expected} item(s), got {size if size is not None else _show(actual)}"]


def _contains(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    if not isinstance(actual, list):
        return [f"expected a list, got {_show(actual)}"]
    items = argument if isinstance(argument, list) else render(argument, variables)  # "${captured}"
    missing = [item for item in items if not any(_holds(a, item, variables) for a in actual)]
    return [f"expected to contain {_show(render(m, variables))}, got {_show(actual)}" for m in missing]


def _holds(actual: Any, item: Any, variables: dict[str, Any]) -> bool:
    if is_matcher(item):
        return not check(actual, item, variables)
    return _equal(actual, render(item, variables))


def _members(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    if not isinstance(actual, dict):
        return [f"expected a mapping, got {_show(actual)}"]
    return mismatches(actual, argument, variables)


def _attribute_map(actual: Any) -> dict[str, Any] | None:
    if not isinstance(actual, list) or not all(isinstance(a, dict) and "Name" in a for a in actual):
        return None
    return {a["Name"]: a.get("Value", _ABSENT) for a in actual}


def _attributes(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    names = _attribute_map(actual)
    if names is None:
        return [f"expected a list of {{Name, Value}} attributes, got {_show(actual)}"]
    problems = []
    for name, wanted in argument.items():
        if wanted is None:
            if name in names:
                problems.append(f"attribute {name}: expected to be absent, got {_show(names[name])}")
            continue
        problems.extend(f"attribute {name}: {p}" for p in check(names.get(name, _ABSENT), wanted, variables))
    return problems


def _attribute_names(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    names = _attribute_map(actual)
    if names is None:
        return [f"expected a list of {{Name, Value}} attributes, got {_show(actual)}"]
    expected = sorted(render(argument, variables))
    return [] if sorted(names) == expected else [f"expected attributes {expected}, got {sorted(names)}"]


def _jwt(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    claims = jwt_claims(actual)
    if claims is None:
        return [f"expected a JWT, got {_show(actual)}"]
    problems = []
    for claim, wanted in argument.items():
        problems.extend(f"claim {claim}: {p}" for p in check(claims.get(claim, _ABSENT), wanted, variables))
    return problems


def jwt_claims(token: Any) -> dict[str, Any] | None:
    """A JWT's payload, unverified (None if it is not a JWT)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def _one_of(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    choices = render(argument, variables)
    if any(_equal(actual, c) for c in choices):
        return []
    return [f"expected one of {_show(choices)}, got {_show(actual)}"]


def _not(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    other = render(argument, variables)
    return [f"expected anything but {_show(other)}"] if _equal(actual, other) else []


def _equals(actual: Any, argument: Any, variables: dict[str, Any]) -> list[str]:
    expected = render(argument, variables)
    return [] if _equal(actual, expected) else [f"expected {_show(expected)}, got {_show(actual)}"]


_MATCHER_CHECKS = {
    "present": _present, "pattern": _pattern, "type": _type, "length": _length, "contains": _contains,
    "members": _members,
    "attributes": _attributes, "attribute_names": _attribute_names, "jwt": _jwt, "one_of": _one_of,
    "not": _not, "equals": _equals,
}


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return actual is not _ABSENT and actual == expected


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = repr(value) if not isinstance(value, datetime) else value.isoformat()
    return text if len(text) <= 200 else text[:197] + "..."
