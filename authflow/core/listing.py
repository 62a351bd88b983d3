"""ListUsers: the filter grammar, how filter values are normalised, and page tokens.

Theory of operation
-------------------
A ListUsers filter names exactly one searchable attribute, an operator (`=` exact,
`^=` starts-with) and a double-quoted value::

    filter := ws* attr ws* op ws* quoted ws*      (or empty / absent: all users)
    attr   := bare-name | quoted                  ("email"^="x" as in AWS SDK samples)
    op     := "=" | "^="
    quoted := '"' ( any char but '"' and '\\' | '\\"' | '\\\\' )* '"'

`parse_filter` turns the text into a `UserFilter` or raises
`InvalidParameterException` naming what is wrong and where; nothing else escapes.
Whitespace means the ASCII whitespace characters (space, tab, CR, LF, FF, VT).

Matching is index-shaped. Every user appears in one index per searchable attribute
it has a value for, under the value `index_values` computes (the store keeps these
indexes); `filter_key` turns a filter into (index, operator, value) normalised the
same way, so a match is plain string equality or `str.startswith` on index values.
Per-attribute case rules (reference §3.13, §4 item 7) live only in those two
functions: `cognito:user_status` is case-insensitive (both sides upper-cased),
`username` follows the pool's case sensitivity (the index holds the username key,
casefolded in case-insensitive pools), everything else is exact.

Pagination is keyset pagination: a page is the next `limit` index entries strictly
after the (index value, username key) position of the last user returned, so a
chain of requests never returns a user twice, whatever happens between requests.
The position travels in an opaque token: base64url of a small JSON payload followed
by an HMAC-SHA256 over it and the request's filter fingerprint, keyed by a
server-side secret. A token is therefore unforgeable, cannot be replayed with
another filter, and is refused after `PAGE_TOKEN_LIFETIME` (one hour, as Cognito
documents); a token exactly one hour old is still accepted.

This module is pure: time and secrets are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from authflow.errors import InvalidParameterException

__all__ = [
    "PAGE_TOKEN_LIFETIME",
    "SEARCHABLE_ATTRIBUTES",
    "UserFilter",
    "decode_page_token",
    "encode_page_token",
    "filter_fingerprint",
    "filter_key",
    "index_values",
    "parse_filter",
    "render_filter",
]

#: The attributes a ListUsers filter may name (custom attributes are not indexed).
SEARCHABLE_ATTRIBUTES: tuple[str, ...] = (
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
)

#: How long a pagination token stays valid after it was issued (inclusive).
PAGE_TOKEN_LIFETIME = timedelta(hours=1)

_OPERATORS = ("=", "^=")
_WHITESPACE = " \t\n\r\f\v"
# Characters that may form an operator: read greedily so `!=`, `>=`, `==` are
# reported as one unsupported operator instead of a confusing later error.
_OPERATOR_CHARS = "=^!<>~*"
_SEARCHABLE_LIST = ", ".join(SEARCHABLE_ATTRIBUTES)
_OPERATOR_HINT = "use = (exact match) or ^= (starts with)"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserFilter:
    """One parsed ListUsers filter condition; `value` is unescaped, not normalised."""

    attribute: str
    operator: str  # "=" or "^="
    value: str


def _invalid(message: str, **fields: object) -> InvalidParameterException:
    return InvalidParameterException(message, member="Filter", **fields)


class _Scanner:
    """A cursor over the filter text; every error names the (0-based) position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take_while(self, keep: Callable[[str], bool]) -> str:
        start = self.pos
        while self.pos < len(self.text) and keep(self.text[self.pos]):
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        """Read a double-quoted string at the cursor (which is on the opening quote)."""
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\":
                nxt = self.text[self.pos + 1 : self.pos + 2]
                if nxt == "":
                    break  # a backslash cannot escape the end of the text
                if nxt not in ('"', "\\"):
                    # Refuse rather than guess: `\n` could mean a newline or the two
                    # characters, and silently picking one would match the wrong users.
                    raise _invalid(
                        f"Invalid escape sequence '\\{nxt}' at position {self.pos} in filter: "
                        'only \\" and \\\\ may follow a backslash.',
                        position=self.pos,
                    )
                out.append(nxt)
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        raise _invalid(
            f"Unterminated quoted string starting at position {start} in filter.",
            position=start,
        )


def _is_name_char(ch: str) -> bool:
    return ch not in _WHITESPACE and ch not in _OPERATOR_CHARS and ch != '"'


def _check_attribute(name: str, position: int) -> None:
    if name in SEARCHABLE_ATTRIBUTES:
        return
    if name.startswith(("custom:", "dev:")):
        raise _invalid(
            f"Custom attribute '{name}' cannot be used in a filter: custom attributes are "
            f"not searchable. Only these attributes are searchable: {_SEARCHABLE_LIST}.",
            attribute=name,
            position=position,
        )
    raise _invalid(
        f"Attribute '{name}' cannot be used in a filter. "
        f"Only these attributes are searchable: {_SEARCHABLE_LIST}.",
        attribute=name,
        position=position,
    )


def parse_filter(text: str | None) -> UserFilter | None:
    """Parse a ListUsers `Filter`; None for an absent, empty or all-whitespace filter.

    Raises `InvalidParameterException` (with `fields["position"]` where it applies)
    for anything else that is not exactly one well-formed condition.
    """
    if text is None or text.strip(_WHITESPACE) == "":
        return None
    s = _Scanner(text)
    s.skip_ws()

    name_pos = s.pos
    name = s.quoted() if s.peek() == '"' else s.take_while(_is_name_char)
    if name == "":
        raise _invalid(
            f"Filter is missing an attribute name at position {name_pos}: expected "
            'attribute, operator and quoted value, as in email ^= "jo".',
            position=name_pos,
        )
    _check_attribute(name, name_pos)

    s.skip_ws()
    op_pos = s.pos
    op = s.take_while(lambda ch: ch in _OPERATOR_CHARS)
    if op == "":
        raise _invalid(
            f"Filter is missing an operator after '{name}' at position {op_pos}: {_OPERATOR_HINT}.",
            position=op_pos,
        )
    if op not in _OPERATORS:
        raise _invalid(
            f"Unsupported filter operator '{op}' at position {op_pos}: {_OPERATOR_HINT}.",
            operator=op,
            position=op_pos,
        )

    s.skip_ws()
    value_pos = s.pos
    if s.peek() != '"':
        raise _invalid(
            f"Filter value at position {value_pos} must be a double-quoted string, "
            f'as in {name} {op} "value".',
            position=value_pos,
        )
    value = s.quoted()

    s.skip_ws()
    if not s.at_end():
        raise _invalid(
            f"Unexpected text at position {s.pos} after the filter value: "
            "a filter holds exactly one condition.",
            position=s.pos,
        )
    return UserFilter(attribute=name, operator=op, value=value)


def render_filter(f: UserFilter) -> str:
    """The canonical text of a filter (escaping its value); `parse_filter` inverts it."""
    escaped = f.value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{f.attribute} {f.operator} "{escaped}"'


def _normalise(attribute: str, value: str, *, case_sensitive_usernames: bool) -> str:
    # The one place the per-attribute case rules live, shared by both sides of a match.
    if attribute == "cognito:user_status":
        return value.upper()
    if attribute == "username" and not case_sensitive_usernames:
        return value.casefold()
    return value


def filter_key(f: UserFilter, *, case_sensitive_usernames: bool) -> tuple[str, str, str]:
    """(index name, operator, normalised value) to look the filter up in the indexes.

    The value is normalised exactly as `index_values` normalises stored values, so a
    user matches when its index value equals (`=`) or starts with (`^=`) it. For
    `username` in a case-insensitive pool both sides are casefolded; casefolding
    works character by character, so a casefolded prefix is a prefix of the
    casefolded username.
    """
    value = _normalise(f.attribute, f.value, case_sensitive_usernames=case_sensitive_usernames)
    return (f.attribute, f.operator, value)


def index_values(
    username_key: str, attributes: Mapping[str, str], status: str, enabled: bool
) -> dict[str, str]:
    """The value under which a user appears in each searchable-attribute index.

    `username_key` is already the pool's uniqueness key for the username (casefolded
    in case-insensitive pools). Attributes the user lacks are not indexed, so a
    filter on them never matches that user.
    """
    values = {
        name: attributes[name]
        for name in SEARCHABLE_ATTRIBUTES
        if name in attributes and name not in ("username", "cognito:user_status", "status")
    }
    values["username"] = username_key
    # Statuses are Cognito's upper-case words already; upper() keeps the rule symmetric.
    values["cognito:user_status"] = status.upper()
    values["status"] = "Enabled" if enabled else "Disabled"
    return values


# -- pagination tokens ---------------------------------------------------------------

_TOKEN_VERSION = 1
_MAC_DOMAIN = b"authflow/ListUsers/page-token/v1\x00"
_MAC_SIZE = hashlib.sha256().digest_size
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")
_INVALID_TOKEN = "Invalid pagination token."
_EXPIRED_TOKEN = "Pagination token has expired."


def filter_fingerprint(key: tuple | None) -> str:
    """A short, stable digest of a normalised filter key (None: no filter).

    Callers wanting tokens bound to more (the pool id, say) can fold that into the
    key tuple they pass.
    """
    # ensure_ascii keeps lone surrogates (possible in JSON input) encodable.
    canonical = json.dumps(key, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:32]


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("pagination token times must be timezone-aware")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _mac(secret: bytes, fingerprint: str, payload: bytes) -> bytes:
    if not secret:
        raise ValueError("pagination token secret must not be empty")
    fp = fingerprint.encode("utf-8", "surrogatepass")
    # Length-prefix the fingerprint so (fingerprint, payload) pairs cannot collide.
    message = _MAC_DOMAIN + len(fp).to_bytes(4, "big") + fp + payload
    return hmac.new(secret, message, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def encode_page_token(
    secret: bytes, *, fingerprint: str, after: tuple[str, str], issued_at: datetime
) -> str:
    """An opaque token carrying the keyset position `after` (index value, username key).

    The token is base64url without padding (so it matches `[\\S]+`), authenticated
    with HMAC-SHA256 under `secret` together with `fingerprint`.
    """
    sort_value, username_key = after
    payload = json.dumps(
        [_TOKEN_VERSION, _micros(issued_at), sort_value, username_key],
        ensure_ascii=True,
        separators=(",", ":"),
    ).encode("ascii")
    return _b64(payload + _mac(secret, fingerprint, payload))


def decode_page_token(
    secret: bytes, token: str, *, fingerprint: str, now: datetime
) -> tuple[str, str]:
    """The keyset position inside `token`, if it is genuine, for this filter, and fresh.

    Raises `InvalidParameterException`: `Invalid pagination token.` for anything
    malformed, tampered with, signed with another secret or issued for another
    filter; `Pagination token has expired.` once more than `PAGE_TOKEN_LIFETIME` has
    passed since it was issued.
    """
    now_us = _micros(now)
    invalid = InvalidParameterException(_INVALID_TOKEN, member="PaginationToken")
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    # Several texts decode to the same bytes (unused low bits of the last character);
    # accept only the canonical one so that every altered character is refused.
    if _b64(raw) != token or len(raw) <= _MAC_SIZE:
        raise invalid
    payload, tag = raw[:-_MAC_SIZE], raw[-_MAC_SIZE:]
    if not hmac.compare_digest(tag, _mac(secret, fingerprint, payload)):
        raise invalid
    try:
        version, issued_us, sort_value, username_key = json.loads(payload)
    except (ValueError, TypeError):
        raise invalid from None
    if (
        version != _TOKEN_VERSION
        or type(issued_us) is not int
        or not isinstance(sort_value, str)
        or not isinstance(username_key, str)
    ):
        raise invalid
    if now_us - issued_us > PAGE_TOKEN_LIFETIME // timedelta(microseconds=1):
        raise InvalidParameterException(_EXPIRED_TOKEN, member="PaginationToken")
    return (sort_value, username_key)
