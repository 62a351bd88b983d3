"""Decisions of the admin side of the user lifecycle.

Theory of operation: each operation is split in two pure steps. `prepare_*` checks
the request against the pool alone (username rules, schema, password policy) and
returns a command; the service may call a trigger with it before opening the write
transaction. `decide_*` takes the command, the records the service loaded and
`now`/`entropy`, asks the lifecycle machine where the user goes, and returns a
`Decision`: the records to write, the messages to send and the response. A refused
request raises a `CognitoError` before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from authflow.core import attributes as attrs
from authflow.core import codes, identity, mfa
from authflow.core import pool_config as pc
from authflow.core.effects import Decision
from authflow.core.invitations import invitation_messages
from authflow.core.lifecycle import ABSENT, IllegalTransition, user_lifecycle
from authflow.core.policy import EntropySource, check_password, generate_password
from authflow.core.records import Credential, User, UserPool
from authflow.errors import (
    AliasExistsException,
    InvalidParameterException,
    UnsupportedUserStateException,
    UsernameExistsException,
    UserNotFoundException,
)


def new_sub(entropy: EntropySource) -> str:
    return str(uuid.UUID(bytes=entropy.random_bytes(16), version=4))


# -- lookups -------------------------------------------------------------------------------


def find_user(tx: Any, pool: UserPool, username: str) -> User | None:
    """The user a Username parameter names: the username itself, or an alias the pool
    accepts for sign-in (never used by ListUsers, which wants real usernames)."""
    user = tx.get_user(pool.id, identity.username_key(pool.config, username))
    if user is not None:
        return user
    for kind in identity.sign_in_kinds(pool.config):
        user = tx.get_user_by_alias(pool.id, kind, identity.alias_key(pool.config, kind, username))
        if user is not None:
            return user
    return None


def require_user(tx: Any, pool: UserPool, username: str) -> User:
    user = find_user(tx, pool, username)
    if user is None:
        raise UserNotFoundException("User does not exist.")
    return user


# -- AdminCreateUser ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUser:
    requested_username: str  # as the caller typed it
    username_kind: str | None  # "email"/"phone_number" in username-attribute pools
    attributes: dict[str, str]
    temporary_password: str | None
    resend: bool
    suppress: bool
    mediums: tuple[str, ...] | None
    force_alias_creation: bool


def prepare_admin_create(pool: UserPool, request: Mapping[str, Any]) -> CreateUser:
    config = pool.config
    username = request["Username"]
    action = request.get("MessageAction")
    writes = attrs.parse_attribute_list(request.get("UserAttributes"))
    temporary = request.get("TemporaryPassword")
    if temporary is not None:
        check_password(temporary, pc.password_policy(config), admin=True)
    kind = None
    if action != "RESEND":
        kind = identity.check_new_username(config, username)
        attrs.check_writes(pc.schema(config), writes, current=None)
        if kind is not None:
            given = writes.get(kind)
            if given and given != username:
                raise InvalidParameterException(
                    f"Username and the {kind} attribute must be the same value in this user pool."
                )
            writes[kind] = username
        writes = {k: v for k, v in writes.items() if v != ""}
    mediums = request.get("DesiredDeliveryMediums")
    return CreateUser(
        requested_username=username,
        username_kind=kind,
        attributes=writes,
        temporary_password=temporary,
        resend=action == "RESEND",
        suppress=action == "SUPPRESS",
        mediums=tuple(mediums) if mediums else None,
        force_alias_creation=bool(request.get("ForceAliasCreation", False)),
    )


def temporary_password(pool: UserPool, command: CreateUser, entropy: EntropySource) -> str:
    """The given temporary password, or a generated one that satisfies the policy."""
    return command.temporary_password or generate_password(pc.password_policy(pool.config), entropy)


def alias_pairs(pool: UserPool, attributes: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The aliases a new user with these attributes would hold (FORCE_CHANGE_PASSWORD)."""
    return identity.aliases_of(pool.config, attributes, "FORCE_CHANGE_PASSWORD")


def decide_admin_create(
    pool: UserPool,
    command: CreateUser,
    *,
    existing: User | None,
    alias_holders: Mapping[tuple[str, str], User | None],
    now: datetime,
    entropy: EntropySource,
    password: str,
    password_hash: str,
) -> Decision:
    """`password` is the temporary password (given or generated by the service with
    `temporary_password`) and `password_hash` its hash, computed outside the
    transaction because hashing is deliberately slow."""
    machine = user_lifecycle()
    config = pool.config
    if command.resend:
        if existing is None:
            raise UserNotFoundException("User does not exist.")
        try:
            status = machine.next_status(existing.status, "resend_invitation")
        except IllegalTransition:
            raise UnsupportedUserStateException(
                f"Resend not possible. {existing.username} status is not FORCE_CHANGE_PASSWORD"
            ) from None
        user = replace(
            existing,
            status=status,
            credential=Credential(password_hash=password_hash, temporary=True, issued_at=now),
            modified=now,
            version=existing.version + 1,
        )
        messages = invitation_messages(
            config,
            pool_id=pool.id,
            username=user.username,
            shown_username=command.requested_username,
            attributes=user.attributes,
            temporary_password=password,
            mediums=command.mediums,
        )
        return Decision(puts=(user,), messages=messages, response={"User": user_type(user)})

    if existing is not None:
        raise UsernameExistsException("User account already exists")
    status = machine.next_status(ABSENT, "admin_create")
    sub = new_sub(entropy)
    username = sub if command.username_kind else command.requested_username
    attributes = attrs.ordered({"sub": sub, **command.attributes})
    # One holder may lose several aliases (its email and its phone): one write each.
    losers: dict[str, tuple[User, list[str]]] = {}
    for pair, holder in alias_holders.items():
        if holder is None:
            continue
        kind = pair[0]
        if kind in pc.username_attributes(config):
            raise UsernameExistsException(f"An account with the given {kind} already exists.")
        if kind == "preferred_username" or not command.force_alias_creation:
            raise AliasExistsException(f"An account with the {kind} already exists.")
        losers.setdefault(holder.username_key, (holder, []))[1].append(kind)
    puts = [lose_aliases(pool, holder, kinds, now) for holder, kinds in losers.values()]
    messages = ()
    if not command.suppress:
        messages = invitation_messages(
            config,
            pool_id=pool.id,
            username=username,
            shown_username=command.requested_username,
            attributes=attributes,
            temporary_password=password,
            mediums=command.mediums,
        )
    user = new_user(pool, username, sub, attributes, status, password_hash, temporary=True, now=now)
    puts.append(user)
    return Decision(puts=tuple(puts), messages=messages, response={"User": user_type(user)})


def new_user(
    pool: UserPool, username: str, sub: str, attributes: Mapping[str, str], status: str,
    password_hash: str | None, *, temporary: bool, now: datetime,
) -> User:
    """A user record as it is first stored (AdminCreateUser, SignUp; no password hash: a
    passwordless sign-up, who has no credential)."""
    return User(
        pool_id=pool.id,
        username=username,
        username_key=identity.username_key(pool.config, username),
        sub=sub,
        attributes=attributes,
        status=status,
        enabled=True,
        credential=None if password_hash is None else Credential(
            password_hash=password_hash, temporary=temporary, issued_at=now),
        created=now,
        modified=now,
        aliases=identity.aliases_of(pool.config, attributes, status),
    )


def lose_aliases(pool: UserPool, holder: User, kinds: list[str], now: datetime) -> User:
    """The previous holder of verified aliases after they moved: the values stay, their
    verification goes, and with it the aliases (ForceAliasCreation)."""
    user_lifecycle().next_status(holder.status, "lose_alias")
    attributes = dict(holder.attributes)
    for kind in kinds:
        attributes[attrs.VERIFIED_FLAGS_BY_TARGET[kind]] = "false"
    return _rebuilt(pool, holder, attributes, now)


def _rebuilt(pool: UserPool, user: User, attributes: Mapping[str, str], now: datetime) -> User:
    attributes = attrs.ordered(attributes)
    return replace(
        user,
        attributes=attributes,
        aliases=identity.aliases_of(pool.config, attributes, user.status),
        modified=now,
        version=user.version + 1,
    )


# -- simple admin operations ------------------------------------------------------------------


def decide_set_enabled(pool: UserPool, user: User, *, enabled: bool, now: datetime) -> Decision:
    user_lifecycle().next_status(user.status, "enable" if enabled else "disable")
    updated = replace(user, enabled=enabled, modified=now, version=user.version + 1)
    if not enabled:
        # Disabling revokes every token the user holds, as a global sign-out does.
        updated = replace(updated, token_generation=user.token_generation + 1)
    return Decision(puts=(updated,))


def decide_delete(pool: UserPool, user: User) -> Decision:
    user_lifecycle().next_status(user.status, "delete")
    return Decision(deletes=(user,))


def prepare_update_attributes(pool: UserPool, request: Mapping[str, Any], user: User) -> dict[str, str]:
    writes = attrs.parse_attribute_list(request.get("UserAttributes"))
    attrs.check_writes(pc.schema(pool.config), writes, current=user.attributes)
    return writes


def decide_update_attributes(
    pool: UserPool,
    user: User,
    writes: Mapping[str, str],
    *,
    alias_holders: Mapping[tuple[str, str], User | None],
    now: datetime,
    entropy: EntropySource | None = None,
    pool_secret: bytes | None = None,
    limited: bool = False,
) -> Decision:
    """The user with `writes` applied (AdminUpdateUserAttributes, and UpdateUserAttributes
    after its client checks). A changed email / phone number loses its verification
    unless the request sets the flag, and its pending verification code; with `entropy`
    and `pool_secret`, a changed value the pool auto-verifies gets a new code (as on
    Cognito). `limited` (the user's own update): codes it sends count against the
    user's hourly code requests, and the update past the limit is refused whole with
    LimitExceededException, since each code brings fresh guesses. The response is
    UpdateUserAttributes' (AdminUpdateUserAttributes answers `{}`)."""
    user_lifecycle().next_status(user.status, "update_attributes")
    held = codes.held_updates(pool.config, user, writes) if entropy is not None and pool_secret else {}
    attributes = attrs.apply_writes(user.attributes, {k: v for k, v in writes.items() if k not in held})
    updated = _rebuilt(pool, user, attributes, now)
    for pair, holder in alias_holders.items():
        if holder is not None and holder.username_key != user.username_key and pair in updated.aliases:
            raise AliasExistsException(f"An account with the {pair[0]} already exists.")
    updated, messages, deliveries = codes.follow_attribute_changes(
        pool.config, pool.id, user, updated, entropy=entropy, pool_secret=pool_secret, now=now, limited=limited
    )
    for attribute in codes.VERIFIABLE:
        if attribute in held:
            updated, message, delivery = codes.issue_attribute_code(
                pool.config, pool.id, updated, attribute, code=codes.new_code(entropy), pool_secret=pool_secret,
                now=now, held=held[attribute], limited=limited,
            )
            messages, deliveries = (*messages, message), [*deliveries, delivery]
    return Decision(puts=(updated,), messages=messages, response={"CodeDeliveryDetailsList": deliveries})


def decide_delete_attributes(pool: UserPool, user: User, names: Sequence[str], *, now: datetime) -> Decision:
    schema = pc.schema(pool.config)
    for name in names:
        definition = attrs.lookup(schema, name)
        if name == "sub" or not definition.mutable:
            raise InvalidParameterException(f"Cannot modify the non-mutable attribute {name}")
        if definition.required:
            raise InvalidParameterException(
                f"Attributes did not conform to the schema: {name}: The attribute is required\n"
            )
    user_lifecycle().next_status(user.status, "update_attributes")
    attributes = attrs.apply_writes(user.attributes, {name: "" for name in names})
    # A removed email / phone number takes its pending codes' claims with it.
    updated, _, _ = codes.follow_attribute_changes(
        pool.config, pool.id, user, _rebuilt(pool, user, attributes, now), entropy=None, pool_secret=None, now=now
    )
    return Decision(puts=(updated,))


def updated_alias_pairs(pool: UserPool, user: User, writes: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    held = codes.held_updates(pool.config, user, writes)
    attributes = attrs.apply_writes(user.attributes, {k: v for k, v in writes.items() if k not in held})
    return identity.aliases_of(pool.config, attributes, user.status)


# -- responses --------------------------------------------------------------------------------


def user_type(user: User, attribute_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Cognito's `UserType` (AdminCreateUser, ListUsers)."""
    return {
        "Username": user.username,
        "Attributes": attrs.as_attribute_list(user.attributes, attribute_names),
        "UserCreateDate": user.created,
        "UserLastModifiedDate": user.modified,
        "Enabled": user.enabled,
        "UserStatus": user.status,
    }


def admin_get_user_response(user: User, pool: UserPool | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "Username": user.username,
        "UserAttributes": attrs.as_attribute_list(user.attributes),
        "UserCreateDate": user.created,
        "UserLastModifiedDate": user.modified,
        "Enabled": user.enabled,
        "UserStatus": user.status,
    }
    return {**response, **mfa_members(user, pool)}


def mfa_members(user: User, pool: UserPool | None = None) -> dict[str, Any]:
    """The MFA members of AdminGetUser / GetUser (only when the user has a factor). The
    effective state: a user a pool under MFA ON asks for SMS without their turning it on
    lists SMS_MFA (reference §4.17; AWS was seen to list nothing)."""
    settings = list(user.mfa_settings)
    if not settings and pool is not None and user.attributes.get("phone_number") and mfa.mfa_step(pool, user) == mfa.SMS:
        settings = [mfa.SMS]
    if not settings:
        return {}
    out: dict[str, Any] = {"UserMFASettingList": settings}
    if user.preferred_mfa:
        out["PreferredMfaSetting"] = user.preferred_mfa
    return out
