"""The laws of the stored users: statuses the lifecycle spec declares, one holder per
verified alias, unique usernames and subs; no ValidationData a request carried is ever
stored; and a deleted user stays out (what it held stops working, its sub never comes
back)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from authflow.core import pool_config as pc
from authflow.core.attributes import is_true
from authflow.core.lifecycle import user_lifecycle
from authflow.invariants.reading import (
    RESPOND,
    SUBSTRING_MIN,
    access_owner,
    pool_config_of,
    stored_in,
)
from authflow.invariants.step import Step


def validation_values(request: Mapping[str, Any]) -> set[str]:
    items = request.get("ValidationData") or ()
    return {str(a.get("Value")) for a in items if isinstance(a, Mapping) and a.get("Value")}


def status_declared(step: Step) -> str | None:
    """Every stored user's status is one the lifecycle spec declares.

    The pseudo-state ABSENT ("no such user") is not a status any stored user may have.
    """
    statuses = set(user_lifecycle().statuses)
    for user in step.after.users:
        if user.status not in statuses:
            return f"user {user.username!r} has status {user.status!r}, which specs/user-lifecycle.yaml does not declare"
    return None


def verified_alias_single_holder(step: Step) -> str | None:
    """A verified alias value has at most one holder per pool.

    Recomputed from the attributes: a verified email / phone number in a pool whose
    AliasAttributes name it, a preferred_username of a user past UNCONFIRMED, and in
    username-attribute pools every email / phone value, verified or not. The aliases the
    store indexes (`User.aliases`) must be unique per pool as well.
    """
    holders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    recorded: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for user in step.after.users:
        config = pool_config_of(step.after, user.pool_id)
        alias_kinds = pc.alias_attributes(config)
        username_kinds = pc.username_attributes(config)
        insensitive = not pc.case_sensitive(config)
        for kind in ("email", "phone_number", "preferred_username"):
            value = user.attributes.get(kind)
            if not value:
                continue
            if kind in username_kinds:
                active = True
            elif kind not in alias_kinds:
                active = False
            elif kind == "preferred_username":
                active = user.status != "UNCONFIRMED"
            else:
                active = is_true(user.attributes.get(f"{kind}_verified"))
            if active:
                key = value.casefold() if insensitive and kind != "phone_number" else value
                holders[(user.pool_id, kind, key)].add(user.username)
        for kind, key in user.aliases:
            recorded[(user.pool_id, kind, key)].add(user.username)
    for found, what in ((holders, "holders"), (recorded, "recorded holders")):
        for (pool_id, kind, key), names in sorted(found.items()):
            if len(names) > 1:
                return f"{kind} {key!r} in pool {pool_id} has {len(names)} {what}: {sorted(names)}"
    return None


def unique_usernames_and_subs(step: Step) -> str | None:
    """Usernames and subs are unique per pool, and each user's `sub` attribute is its sub.

    Usernames compare as the pool says: exactly, or by `str.casefold()` in
    case-insensitive pools.
    """
    names: dict[tuple[str, str], str] = {}
    subs: dict[tuple[str, str], str] = {}
    for user in step.after.users:
        config = pool_config_of(step.after, user.pool_id)
        key = user.username if pc.case_sensitive(config) else user.username.casefold()
        if (user.pool_id, key) in names:
            return f"username {user.username!r} is held twice in pool {user.pool_id}"
        if (user.pool_id, user.sub) in subs:
            return f"sub {user.sub} is held by {subs[(user.pool_id, user.sub)]!r} and {user.username!r}"
        names[(user.pool_id, key)] = user.username
        subs[(user.pool_id, user.sub)] = user.username
        if user.attributes.get("sub") != user.sub:
            return f"user {user.username!r} has sub {user.sub} but attribute sub={user.attributes.get('sub')!r}"
    return None


def validation_data_never_stored(step: Step) -> str | None:
    """ValidationData is never stored: no value ever sent as ValidationData appears
    anywhere in the store (values of 8 characters or more are searched as
    substrings, shorter ones must not be a whole stored string)."""
    known = set(step.history.validation_values)
    values = known | validation_values(step.request)
    if not values:
        return None
    long = [v for v in values if len(v) >= SUBSTRING_MIN]
    short = {v for v in values if len(v) < SUBSTRING_MIN}
    records = (*step.after.pools, *step.after.clients, *step.after.users, *step.after.sessions,
               *step.after.refresh_tokens, *step.after.failed_sign_ins)
    if values == known and step.before is not step.after:
        # Only records this step wrote can hold a value the previous step's check did not
        # see (records are immutable: an unchanged one is the very same object).
        seen = {id(r) for r in (*step.before.pools, *step.before.clients, *step.before.users,
                                *step.before.sessions, *step.before.refresh_tokens, *step.before.failed_sign_ins)}
        records = tuple(r for r in records if id(r) not in seen)
    record = stored_in(records, short, long)
    if record is not None:
        return f"a ValidationData value is stored in a {type(record).__name__} record"
    return None


def deleted_users_stay_out(step: Step) -> str | None:
    """Nothing a deleted user held works: no request authorised by the access token or
    the challenge session of a user who no longer exists succeeds, and a deleted user's
    sub never belongs to a user again (their refresh tokens:
    revoked_refresh_token_yields_nothing)."""
    for user in step.after.users:
        if (user.pool_id, user.sub) in step.history.deleted_users:
            return f"{user.username!r} holds the sub of a deleted user"
    if not step.ok:
        return None
    owner = access_owner(step.request)
    if owner is not None and step.before.user_by_sub(*owner) is None:
        return f"{step.operation} succeeded with the access token of a user who no longer exists"
    if step.operation in RESPOND and isinstance(step.request.get("Session"), str):
        record = step.before.session(step.request["Session"])
        # A simulated custom session (no sub) names nobody: unknown_users_never_sign_in's concern.
        if record is not None and record.sub and step.before.user_by_sub(record.pool_id, record.sub) is None:
            return f"a {record.challenge} session of a user who no longer exists was answered"
    return None
