"""Variables and computed values in scenario requests.

- `"${name}"` (the whole string) is the variable's value, of any type; `"a-${name}"`
  interpolates it as text. `${name.Member.0}` reaches into a captured structure.
- A mapping key `$merge: "${var}"` merges the variable's mapping over the mapping it
  sits in (a `null` value there deletes the key): how fixtures take optional settings.
- `{$secret_hash: [USERNAME, CLIENT_ID, CLIENT_SECRET]}` is the SECRET_HASH a client
  with a secret sends (base64 HMAC-SHA256 of username + client id, keyed by the secret).

A variable that was never captured is an authoring mistake (`UnboundVariable`), not a
divergence of the target.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

_WHOLE = re.compile(r"^\$\{([A-Za-z_][\w.-]*)\}$")
_INNER = re.compile(r"\$\{([A-Za-z_][\w.-]*)\}")


class UnboundVariable(KeyError):
    """A `${name}` the scenario never set."""

    def __str__(self) -> str:
        return f"variable ${{{self.args[0]}}} is not set (capture it in an earlier step)"


def lookup(variables: dict[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in variables:
        raise UnboundVariable(dotted)
    found, value = walk(variables[head], rest)
    if not found:
        raise UnboundVariable(dotted)
    return value


def walk(value: Any, parts: list[str]) -> tuple[bool, Any]:
    """Follow a dotted path (mapping keys, list indices) into a response: (found, value)."""
    for part in parts:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def render(template: Any, variables: dict[str, Any]) -> Any:
    """The template with every variable and computed value filled in."""
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            return lookup(variables, whole.group(1))
        return _INNER.sub(lambda m: _text(lookup(variables, m.group(1))), template)
    if isinstance(template, list):
        return [render(item, variables) for item in template]
    if isinstance(template, dict):
        if len(template) == 1 and "$secret_hash" in template:
            username, client_id, secret = (str(v) for v in render(template["$secret_hash"], variables))
            digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
            return base64.b64encode(digest).decode()
        out = {key: render(value, variables) for key, value in template.items() if key != "$merge"}
        if "$merge" in template:
            extra = render(template["$merge"], variables)
            for key, value in (extra or {}).items():
                if value is None:
                    out.pop(key, None)
                else:
                    out[key] = value
        return out
    return template


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
