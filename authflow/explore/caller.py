"""What the caller holds between requests, per universe user: the latest `Challenge`, the
`Tokens`, a `HeldCode` of each purpose, the latest device it was issued (`HeldDevice`), the
latest TOTP secret it was handed (`HeldTotp`), the refresh tokens of its latest sign-in
through the rotating client (`HeldFamily`),
and the invariants' `History`, kept to what the caller can still present (`pruned`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from authflow.invariants import History, block_id, session_id, token_hash


@dataclass(frozen=True, slots=True)
class HeldDevice:
    """A device the caller was issued (NewDeviceMetadata) for universe user `slot`."""

    key: str
    group: str
    slot: int


@dataclass(frozen=True, slots=True)
class HeldTotp:
    """The latest TOTP secret the caller was handed for a user (AssociateSoftwareToken),
    and the last code of it the caller saw accepted, with that code's time step."""

    secret: str
    used: str | None = None
    used_step: int | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    session: str
    name: str  # ChallengeName
    username: str  # USER_ID_FOR_SRP: what an answer sends as USERNAME
    code: str | None = None  # the SMS_MFA code, read from the message that carried it
    required: tuple[str, ...] = ()  # NEW_PASSWORD_REQUIRED's requiredAttributes
    # PASSWORD_VERIFIER (SRP): `session` is the SECRET_BLOCK; the challenge's parameters,
    # its expiry, and the user and password hash it was issued for are kept.
    parameters: tuple[tuple[str, str], ...] = ()
    expires: datetime | None = None
    sub: str | None = None
    credential: str | None = None
    custom: bool = False  # begun by CUSTOM_AUTH (Define decides after the proof)
    hidden: bool = False  # through the client that hides unknown users
    # DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER: the device the attempt carried.
    device: HeldDevice | None = None


@dataclass(frozen=True, slots=True)
class HeldCode:
    """A verification code the caller was sent, and the keyed hash of the pending code it
    was sent for (so that the digest can tell whether it is still the current one)."""

    code: str
    code_hash: str


@dataclass(frozen=True, slots=True)
class Tokens:
    access: str
    refresh: str
    access_expires: datetime
    device_key: str | None = None  # the device the family is bound to (the access token's claim)


@dataclass(frozen=True, slots=True)
class HeldFamily:
    """A sign-in through the rotating client (flows "rotation"): its latest access token
    and the refresh tokens the caller was given in it, oldest first (the latest last; the
    ones before it rotated out), at most `ROTATION_HELD`."""

    access: str
    access_expires: datetime
    refresh: tuple[str, ...]


#: How many refresh tokens of a rotating family the caller keeps (the latest and the two before).
ROTATION_HELD = 3


@dataclass(frozen=True, slots=True)
class Caller:
    """Per universe user: the latest challenge, tokens, code of each purpose and device;
    and the invariants' History."""

    challenges: tuple[Challenge | None, ...]
    tokens: tuple[Tokens | None, ...]
    history: History = field(default_factory=History)
    codes: tuple[tuple[tuple[str, HeldCode], ...], ...] = ()  # per user: sorted (purpose, code)
    devices: tuple[HeldDevice | None, ...] = ()  # per user, with the "devices" flows
    totp: tuple[HeldTotp | None, ...] = ()  # per user, with the "totp" flows
    rotating: tuple[HeldFamily | None, ...] = ()  # per user, with the "rotation" flows
    #: per user, with the "passwordless" flows: `authflow.explore.passwordless.HeldPasswordless`
    passwordless: tuple[Any, ...] = ()

    def code(self, i: int, purpose: str) -> HeldCode | None:
        return dict(self.codes[i]).get(purpose) if self.codes else None


def pruned(
    history: History, challenges: Sequence[Challenge | None], tokens: Sequence[Tokens | None],
    codes: Sequence[tuple[tuple[str, HeldCode], ...]], devices: Sequence[HeldDevice | None] = (),
    rotating: Sequence[HeldFamily | None] = (),
) -> History:
    """Only what the caller can still present matters for later checks. (Deleted users
    stay: a handful of subs, and a deleted sub must never come back.) A device matters
    while the caller holds its key or tokens bound to it."""
    sessions = {session_id(c.session) for c in challenges if c is not None}
    blocks = {block_id(c.session) for c in challenges if c is not None and c.name == "PASSWORD_VERIFIER"}
    refresh = {token_hash(t.refresh) for t in tokens if t is not None}
    refresh |= {token_hash(r) for f in rotating if f is not None for r in f.refresh}
    held = {c.code for pairs in codes for _, c in pairs}
    return replace(
        history,
        succeeded_sessions=history.succeeded_sessions & sessions,
        succeeded_secret_blocks=history.succeeded_secret_blocks & blocks,
        refresh_tokens=frozenset(h for h in history.refresh_tokens if h[0] in refresh),
        revoked_tokens=history.revoked_tokens & refresh,
        sent_codes=frozenset(e for e in history.sent_codes if e[3] in held),
        **_devices_pruned(history, tokens, devices),
        **_families_pruned(history, refresh),
    )


def _families_pruned(history: History, refresh: set[str]) -> dict:
    """The refresh-token families of tokens the caller still holds, and what it saw of them."""
    if not history.refresh_families:
        return {}
    families = frozenset(e for e in history.refresh_families if e[0] in refresh)
    kept = {f for _, f in families}
    return {
        "refresh_families": families,
        "rotated_out": frozenset(e for e in history.rotated_out if e[0] in refresh),
        "reused_families": history.reused_families & kept,
        "revoked_families": history.revoked_families & kept,
    }


def _devices_pruned(history: History, tokens: Sequence[Tokens | None], devices: Sequence[HeldDevice | None]) -> dict:
    if not history.device_owners and not history.forgotten_devices:
        return {}
    keys = {d.key for d in devices if d is not None} | {t.device_key for t in tokens if t is not None and t.device_key}
    return {
        "device_owners": frozenset(e for e in history.device_owners if e[1] in keys),
        "forgotten_devices": frozenset(e for e in history.forgotten_devices if e[1] in keys),
    }
