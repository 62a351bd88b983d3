"""Decisions of self-service sign-up: SignUp, ConfirmSignUp, ResendConfirmationCode.

Theory of operation: SignUp creates an UNCONFIRMED user with a permanent password.
As with AdminCreateUser, `prepare_sign_up` checks the request against the pool and
the app client alone (username rules, the client's write permissions, the schema,
required attributes, the password policy) before the service hashes the password;
`decide_sign_up` then takes the records loaded in the write transaction and returns
the user to store, the message carrying the code and the response.

A confirmation code (`authflow.core.codes`, purpose "confirm_sign_up", 24 hours) goes
to the one attribute the pool auto-verifies and the user gave: the phone number first
when both qualify, as Cognito does. The pending code remembers that attribute, and
ConfirmSignUp marks exactly it verified. Nothing is verified before confirmation, so
a signed-up user claims no email or phone alias (an unverified alias is no alias);
the collision, if any, surfaces at ConfirmSignUp: AliasExistsException, or with
ForceAliasCreation the alias moves and its previous holder loses the verification
(`authflow.core.users.lose_aliases`). Username-attribute pools are the exception:
their sign-in value is unique from sign-up on, verified or not.

ResendConfirmationCode replaces the pending code. PreventUserExistenceErrors=ENABLED
makes it answer for an unknown or disabled user with a simulated CodeDeliveryDetails,
and ConfirmSignUp for an unknown user with the wrong-code error. Everything here is
pure: time, randomness and the pool secret are arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from authflow.core import attributes as attrs
from authflow.core import auth, codes, identity
from authflow.core import client_config as cc
from authflow.core import pool_config as pc
from authflow.core.effects import Decision
from authflow.core.lifecycle import ABSENT, IllegalTransition, user_lifecycle
from authflow.core.passwords import (
    UNAUTHORIZED_ATTRIBUTE,
    UNKNOWN_FOR_CLIENT,
    quiet_delivery,
    simulated_delivery,
)
from authflow.core.policy import EntropySource, check_password, policy_violation
from authflow.core.records import AppClient, User, UserPool
from authflow.core.users import lose_aliases, new_sub, new_user
from authflow.errors import (
    AliasExistsException,
    CodeDeliveryFailureException,
    CodeMismatchException,
    InvalidParameterException,
    LimitExceededException,
    NotAuthorizedException,
    UsernameExistsException,
    UserNotFoundException,
)

CONFIRM = "confirm_sign_up"  # the purpose of confirmation codes
NOT_PERMITTED = "SignUp is not permitted for this user pool"
USER_EXISTS = "User already exists"
ALREADY_CONFIRMED = "User is already confirmed."
NO_AUTO_VERIFICATION = "Cannot resend codes. Auto verification not turned on."
CANNOT_DELIVER = "Unable to deliver code to user"

#: The order in which an auto-verified attribute is chosen to receive the code.
DELIVERY_ORDER = ("phone_number", "email")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignUp:
    requested_username: str  # as the caller typed it
    username_kind: str | None  # "email"/"phone_number" in username-attribute pools
    attributes: dict[str, str]
    # None: a passwordless user (the pool allows EMAIL_OTP or SMS_OTP first factors).
    password: str | None


# -- SignUp ----------------------------------------------------------------------------------------


def check_sign_up_allowed(pool: UserPool) -> None:
    """Pools that only administrators may add users to refuse SignUp first of all."""
    if pc.allow_admin_create_user_only(pool.config):
        raise NotAuthorizedException(NOT_PERMITTED)


def required_message(missing: list[str]) -> str:
    reasons = " ".join(f"{name}: The attribute is required" for name in missing)
    return f"Attributes did not conform to the schema: {reasons}\n"


def prepare_sign_up(pool: UserPool, client: AppClient, request: Mapping[str, Any]) -> SignUp:
    """Everything SignUp checks against the pool and the client alone, in Cognito's
    order: username, attributes, password. ValidationData is not looked at (it goes
    to the PreSignUp function only)."""
    config = pool.config
    username = request["Username"]
    kind = identity.check_new_username(config, username)
    writes = attrs.parse_attribute_list(request.get("UserAttributes"))
    writable = cc.writable_attributes(client.config, config)
    schema = pc.schema(config)
    # Names outside the schema get the schema's own error from check_writes.
    if any(name in attrs.VERIFIED_FLAGS or (name in schema and name not in writable) for name in writes):
        raise NotAuthorizedException(UNAUTHORIZED_ATTRIBUTE)
    attrs.check_writes(schema, writes, current=None)
    if kind is not None:
        given = writes.get(kind)
        if given and given != username:
            raise InvalidParameterException(
                f"Username and the {kind} attribute must be the same value in this user pool."
            )
        writes[kind] = username
    writes = {k: v for k, v in writes.items() if v != ""}
    missing = auth.missing_required(pool, writes)
    if missing:
        raise InvalidParameterException(required_message(missing))
    password = request.get("Password") or None
    if password is None:
        # "Users can sign up without a password when your user pool supports passwordless
        # sign-in with email or SMS OTPs" (SignUpRequest.Password).
        if not {"EMAIL_OTP", "SMS_OTP"} & set(pc.first_factors(config)):
            raise InvalidParameterException("Missing required parameter Password")
    else:
        check_password(password, pc.password_policy(config))
    return SignUp(requested_username=username, username_kind=kind, attributes=writes, password=password)


def alias_pairs(pool: UserPool, command: SignUp) -> tuple[tuple[str, str], ...]:
    """The aliases the new (UNCONFIRMED) user would hold: only username-attribute values."""
    return identity.aliases_of(pool.config, command.attributes, "UNCONFIRMED")


def delivery_attribute(pool: UserPool, attributes: Mapping[str, str]) -> str | None:
    """The auto-verified attribute a confirmation code goes to (phone first), or None."""
    auto = pc.auto_verified_attributes(pool.config)
    return next((a for a in DELIVERY_ORDER if a in auto and attributes.get(a)), None)


def _send_code(pool: UserPool, user: User, attribute: str, *, code: str, kind: str, pool_secret: bytes,
               now: datetime, limited: bool = False) -> tuple[User, Decision]:
    """The user holding a new confirmation code (replacing any earlier one), and the
    message that carries it (`limited`: a resend, under the hourly request limit)."""
    issued = codes.issue(user, CONFIRM, code, pool_secret=pool_secret, now=now, attribute=attribute, limited=limited)
    destination = user.attributes[attribute]
    message = codes.verification_message(
        pool.config, attribute=attribute, destination=destination, code=code,
        kind=kind, username=user.username, pool_id=pool.id,
    )
    response = {"CodeDeliveryDetails": codes.delivery_details(attribute, destination)}
    return issued, Decision(messages=(message,), response=response)


def decide_sign_up(
    pool: UserPool,
    command: SignUp,
    *,
    existing: User | None,
    alias_holders: Mapping[tuple[str, str], User | None],
    password_hash: str | None,
    code: str,
    pool_secret: bytes,
    now: datetime,
    entropy: EntropySource,
) -> Decision:
    """The new UNCONFIRMED user, and its confirmation code when the pool auto-verifies
    an attribute the user gave. `password_hash` was computed outside the transaction."""
    config = pool.config
    if existing is not None:
        raise UsernameExistsException(USER_EXISTS)
    for pair, holder in alias_holders.items():
        if holder is not None:
            raise UsernameExistsException(f"An account with the given {pair[0]} already exists.")
    facts = {
        "password_meets_policy": command.password is None
        or policy_violation(command.password, pc.password_policy(config)) is None,
        "required_attributes_present": not auth.missing_required(pool, command.attributes),
    }
    status = user_lifecycle().next_status(ABSENT, "sign_up", facts)
    sub = new_sub(entropy)
    username = sub if command.username_kind else command.requested_username
    attributes = attrs.ordered({"sub": sub, **command.attributes})
    user = new_user(pool, username, sub, attributes, status, password_hash, temporary=False, now=now)
    response: dict[str, Any] = {"UserConfirmed": False, "UserSub": sub}
    attribute = delivery_attribute(pool, attributes)
    if attribute is None:
        return Decision(puts=(user,), response=response)
    user, sent = _send_code(pool, user, attribute, code=code, kind="sign_up_code", pool_secret=pool_secret, now=now)
    return Decision(puts=(user,), messages=sent.messages, response={**response, **sent.response})


# -- ConfirmSignUp ---------------------------------------------------------------------------------


def check_confirm_sign_up(
    client: AppClient, user: User | None, code: str, *, pool_secret: bytes, now: datetime
) -> codes.CodeCheck:
    """Everything ConfirmSignUp refuses before it writes: the user, the status, the
    code. A wrong code comes back as a `CodeCheck` whose `counted` user the service
    writes before raising its error."""
    if user is None:
        if cc.prevent_user_existence_errors(client.config):
            raise CodeMismatchException(codes.MISMATCH)
        raise UserNotFoundException(UNKNOWN_FOR_CLIENT)
    if not user_lifecycle().allowed(user.status, "confirm_sign_up"):
        raise NotAuthorizedException(f"User cannot be confirmed. Current status is {user.status}")
    return codes.check(user, CONFIRM, code, pool_secret=pool_secret, now=now)


def confirmed_attributes(user: User) -> dict[str, str]:
    """The user's attributes once the attribute the code went to is verified."""
    attributes = dict(user.attributes)
    pending = user.codes.get(CONFIRM)
    attribute = pending.attribute if pending else None
    if attribute and attributes.get(attribute):
        attributes[attrs.VERIFIED_FLAGS_BY_TARGET[attribute]] = "true"
    return attrs.ordered(attributes)


def confirmed_alias_pairs(pool: UserPool, user: User) -> tuple[tuple[str, str], ...]:
    """The aliases the user would hold once confirmed (for the service to look up)."""
    return identity.aliases_of(pool.config, confirmed_attributes(user), "CONFIRMED")


def decide_confirm_sign_up(
    pool: UserPool,
    user: User,
    *,
    alias_holders: Mapping[tuple[str, str], User | None],
    force_alias_creation: bool,
    now: datetime,
) -> Decision:
    """CONFIRMED, the attribute the code went to verified, the code used up. Called
    only after `check_confirm_sign_up` accepted the code."""
    try:
        status = user_lifecycle().next_status(user.status, "confirm_sign_up")
    except IllegalTransition:
        raise NotAuthorizedException(f"User cannot be confirmed. Current status is {user.status}") from None
    attributes = confirmed_attributes(user)
    # One holder may lose several aliases (its email and its phone): one write each.
    losers: dict[str, tuple[User, list[str]]] = {}
    for pair, holder in alias_holders.items():
        if holder is None or holder.username_key == user.username_key:
            continue
        kind = pair[0]
        if kind == "preferred_username" or not force_alias_creation:
            raise AliasExistsException(f"An account with the {kind} already exists.")
        losers.setdefault(holder.username_key, (holder, []))[1].append(kind)
    puts = [lose_aliases(pool, holder, kinds, now) for holder, kinds in losers.values()]
    confirmed = replace(
        codes.consume(user, CONFIRM),
        status=status,
        attributes=attributes,
        aliases=identity.aliases_of(pool.config, attributes, status),
        modified=now,
        version=user.version + 1,
    )
    puts.append(confirmed)
    return Decision(puts=tuple(puts))


# -- ResendConfirmationCode ------------------------------------------------------------------------


def decide_resend(
    pool: UserPool, client: AppClient, user: User | None, *, typed: str, code: str, pool_secret: bytes,
    now: datetime,
) -> Decision:
    """A new confirmation code (replacing the old one) to the user's auto-verified
    attribute. Under PreventUserExistenceErrors=ENABLED an unknown or disabled user
    gets a simulated delivery (nothing sent, nothing stored)."""
    if not pc.auto_verified_attributes(pool.config):
        raise NotAuthorizedException(NO_AUTO_VERIFICATION)
    hide = cc.prevent_user_existence_errors(client.config)
    if user is None or not user.enabled:
        if hide:
            return simulated_delivery(pool, typed, pool_secret)
        if user is None:
            raise UserNotFoundException(UNKNOWN_FOR_CLIENT)
        raise NotAuthorizedException(auth.DISABLED)
    try:
        status = user_lifecycle().next_status(user.status, "resend_confirmation")
    except IllegalTransition:
        raise InvalidParameterException(ALREADY_CONFIRMED) from None
    attribute = delivery_attribute(pool, user.attributes)
    if attribute is None:
        raise CodeDeliveryFailureException(CANNOT_DELIVER)
    try:
        issued, sent = _send_code(
            pool, user, attribute, code=code, kind="resend_code", pool_secret=pool_secret, now=now, limited=True
        )
    except LimitExceededException:
        if not hide:
            raise
        return quiet_delivery(user, attribute)
    updated = replace(issued, status=status, modified=now, version=user.version + 1)
    return Decision(puts=(updated,), messages=sent.messages, response=sent.response)
