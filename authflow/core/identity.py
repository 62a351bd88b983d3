"""Who a user is: username keys, sign-in aliases, and the username rules of a pool.

Theory of operation: a pool is one of three kinds. A plain pool signs users in by
username only. An alias pool (`AliasAttributes`) keeps a free-form username and
lets users also sign in with a *verified* email or phone number, or with their
preferred_username; each alias value has at most one holder. A username-attribute
pool (`UsernameAttributes`) lets users sign up with an email or phone number as
their username: Cognito stores a generated UUID as the real username and the value
as an attribute, unique whether verified or not.

Every uniqueness rule is expressed as a key: `username_key` for usernames and
`(kind, key)` pairs for aliases. Case-insensitive pools compare usernames, the
email alias and preferred_username by `str.casefold()`; stored values keep the case
they were given. `aliases_of` computes the pairs a user holds; the store indexes
them and enforces their uniqueness.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from authflow.core import pool_config as pc
from authflow.core.attributes import is_true
from authflow.errors import InvalidParameterException

_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE_SHAPE = re.compile(r"\+[0-9]+")

ALIAS_KINDS = ("email", "phone_number", "preferred_username")
_VERIFIED = {"email": "email_verified", "phone_number": "phone_number_verified"}


def username_key(config: Mapping, username: str) -> str:
    return username if pc.case_sensitive(config) else username.casefold()


def alias_key(config: Mapping, kind: str, value: str) -> str:
    if kind == "phone_number" or pc.case_sensitive(config):
        return value
    return value.casefold()


def looks_like_email(value: str) -> bool:
    return bool(_EMAIL_SHAPE.fullmatch(value))


def looks_like_phone(value: str) -> bool:
    return bool(_PHONE_SHAPE.fullmatch(value))


def aliases_of(config: Mapping, attributes: Mapping[str, str], status: str) -> tuple[tuple[str, str], ...]:
    """The (kind, key) pairs a user with these attributes holds in this pool."""
    pairs: list[tuple[str, str]] = []
    username_attrs = pc.username_attributes(config)
    alias_attrs = pc.alias_attributes(config)
    for kind in ALIAS_KINDS:
        value = attributes.get(kind)
        if not value:
            continue
        if kind in username_attrs:
            # Sign-in values of username-attribute pools are unique, verified or not.
            pairs.append((kind, alias_key(config, kind, value)))
        elif kind in alias_attrs:
            if kind == "preferred_username":
                # Not an active alias before confirmation (Cognito's guide).
                if status != "UNCONFIRMED":
                    pairs.append((kind, alias_key(config, kind, value)))
            elif is_true(attributes.get(_VERIFIED[kind])):
                pairs.append((kind, alias_key(config, kind, value)))
    return tuple(pairs)


def sign_in_kinds(config: Mapping) -> tuple[str, ...]:
    """The alias kinds a Username parameter may name in this pool, in lookup order."""
    active = pc.username_attributes(config) | pc.alias_attributes(config)
    return tuple(k for k in ALIAS_KINDS if k in active)


def check_new_username(config: Mapping, username: str) -> str | None:
    """Apply the pool's username rules to a new user's Username.

    Returns the attribute kind the Username stands for in a username-attribute pool
    ("email" / "phone_number"), or None when the Username is the real username.
    """
    username_attrs = pc.username_attributes(config)
    if username_attrs:
        if "email" in username_attrs and looks_like_email(username):
            return "email"
        if "phone_number" in username_attrs and looks_like_phone(username):
            return "phone_number"
        if username_attrs == {"email"}:
            raise InvalidParameterException("Username should be an email.")
        if username_attrs == {"phone_number"}:
            raise InvalidParameterException("Username should be a phone number.")
        raise InvalidParameterException("Username should be either an email or a phone number.")
    alias_attrs = pc.alias_attributes(config)
    if "email" in alias_attrs and looks_like_email(username):
        raise InvalidParameterException(
            "Username cannot be of email format, since user pool is configured for email alias."
        )
    if "phone_number" in alias_attrs and looks_like_phone(username):
        raise InvalidParameterException(
            "Username cannot be of phone number format, since user pool is configured for phone number alias."
        )
    return None
