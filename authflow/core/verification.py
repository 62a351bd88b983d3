"""Decisions of self-service attribute changes: UpdateUserAttributes,
GetUserAttributeVerificationCode and VerifyUserAttribute.

Theory of operation: the caller is the user an access token names (the service
checks the token). UpdateUserAttributes applies AdminUpdateUserAttributes' rules
(`authflow.core.users.decide_update_attributes`) after the app client's write
permissions: a changed email / phone number becomes unverified (so its alias goes),
its pending verification code is voided, and when the pool auto-verifies it a new
code (`authflow.core.codes`, purpose "verify_<attribute>", 24 hours) goes to the new
value. GetUserAttributeVerificationCode sends a code to the current value of email
or phone_number; VerifyUserAttribute checks it in `codes.check`'s order (no code or
an expired one, too many wrong guesses, a wrong code: the only write a refusal
leaves) and then marks the attribute verified, which may claim its alias: another
holder of it refuses with AliasExistsException (there is no ForceAliasCreation here).

With AttributesRequireVerificationBeforeUpdate a new value of a verified email /
phone number is held back (`codes.held_updates`): the code goes to the new value,
the verified old value stays in force, and VerifyUserAttribute puts the new value in
its place, verified. Asking for codes is limited per hour (`codes.REQUEST_LIMIT`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import attributes as attrs
from authflow.core import client_config as cc
from authflow.core import codes, identity
from authflow.core import pool_config as pc
from authflow.core.effects import Decision
from authflow.core.lifecycle import user_lifecycle
from authflow.core.passwords import UNAUTHORIZED_ATTRIBUTE
from authflow.core.records import AppClient, User, UserPool
from authflow.errors import AliasExistsException, InvalidParameterException, NotAuthorizedException

INVALID_NAME = "Invalid attribute name. Only phone_number and email can be verified."
#: GetUserAttributeVerificationCode for an attribute the user has no value of.
NO_VALUE_TO_SEND = {
    "phone_number": "User does not have a valid registered phone number",
    "email": "User does not have a valid registered email",
}


def no_value_to_verify(attribute: str) -> str:
    return f"Unable to verify attribute: {attribute} no value set to verify"


# -- UpdateUserAttributes ----------------------------------------------------------------------------


def prepare_update_own_attributes(pool: UserPool, client: AppClient, request: Mapping[str, Any], user: User) -> dict[str, str]:
    """The writes of UpdateUserAttributes: the client may write them (the `*_verified`
    flags only with an explicit grant), then the schema rules of AdminUpdateUserAttributes."""
    writes = attrs.parse_attribute_list(request.get("UserAttributes"))
    writable = cc.writable_attributes(client.config, pool.config)
    schema = pc.schema(pool.config)
    # Names outside the schema get the schema's own error from check_writes.
    if any(name in schema and name not in writable for name in writes):
        raise NotAuthorizedException(UNAUTHORIZED_ATTRIBUTE)
    attrs.check_writes(schema, writes, current=user.attributes)
    return writes


# -- GetUserAttributeVerificationCode ------------------------------------------------------------------


def check_verifiable(user: User, attribute: str, missing: str) -> str:
    """The value of `attribute` to verify; refuses other attributes and missing values."""
    if attribute not in codes.VERIFIABLE:
        raise InvalidParameterException(INVALID_NAME)
    value = user.attributes.get(attribute)
    if not value:
        raise InvalidParameterException(missing)
    return value


def decide_send_code(pool: UserPool, user: User, attribute: str, *, code: str, pool_secret: bytes,
                     now: datetime) -> Decision:
    """A verification code (replacing any earlier one) to the current value of
    `attribute`, verified already or not; the status stays."""
    check_verifiable(user, attribute, NO_VALUE_TO_SEND.get(attribute, INVALID_NAME))
    user_lifecycle().next_status(user.status, "request_attribute_code")
    issued, message, delivery = codes.issue_attribute_code(
        pool.config, pool.id, user, attribute, code=code, pool_secret=pool_secret, now=now, limited=True
    )
    updated = replace(issued, version=user.version + 1)
    return Decision(puts=(updated,), messages=(message,), response={"CodeDeliveryDetails": delivery})


# -- VerifyUserAttribute -----------------------------------------------------------------------------------


def check_verify(user: User, attribute: str, code: str, *, pool_secret: bytes, now: datetime) -> codes.CodeCheck:
    """Everything VerifyUserAttribute refuses before it writes. A wrong code comes back
    as a `CodeCheck` whose `counted` user the service writes before raising its error."""
    check_verifiable(user, attribute, no_value_to_verify(attribute))
    return codes.check(user, codes.verify_purpose(attribute), code, pool_secret=pool_secret, now=now)


def verified_attributes(user: User, attribute: str) -> dict[str, str]:
    """The attributes once the code for `attribute` is accepted: a value held back by
    AttributesRequireVerificationBeforeUpdate takes effect, verified."""
    attributes = dict(user.attributes)
    pending = user.codes.get(codes.verify_purpose(attribute))
    if pending is not None and pending.value:
        attributes[attribute] = pending.value
    attributes[attrs.VERIFIED_FLAGS_BY_TARGET[attribute]] = "true"
    return attrs.ordered(attributes)


def verified_alias_pairs(pool: UserPool, user: User, attribute: str) -> tuple[tuple[str, str], ...]:
    """The aliases the user would hold once `attribute` is verified (for the service to look up)."""
    return identity.aliases_of(pool.config, verified_attributes(user, attribute), user.status)


def decide_verify(
    pool: UserPool, user: User, attribute: str, *, alias_holders: Mapping[tuple[str, str], User | None],
    now: datetime,
) -> Decision:
    """`<attribute>_verified` true, the code used up, the alias (if the pool has one)
    claimed. Called only after `check_verify` accepted the code."""
    status = user_lifecycle().next_status(user.status, "verify_attribute")
    attributes = verified_attributes(user, attribute)
    aliases = identity.aliases_of(pool.config, attributes, status)
    for pair, holder in alias_holders.items():
        if holder is not None and holder.username_key != user.username_key and pair in aliases:
            raise AliasExistsException(f"An account with the {pair[0]} already exists.")
    updated = replace(
        codes.consume(user, codes.verify_purpose(attribute)),
        status=status,
        attributes=attributes,
        aliases=aliases,
        modified=now,
        version=user.version + 1,
    )
    return Decision(puts=(updated,))
