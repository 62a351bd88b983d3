"""How the invariants read a step, shared by the laws of every subject: which pool a
request acts on, which user a sign-in, an SRP proof or an access token is about, whose
tokens an AuthenticationResult holds (and what a token's claims say), which block a
PASSWORD_CLAIM_SECRET_BLOCK names, and which records a step wrote and the strings they hold (to search them for secrets). Read
from the request and the records, never from the engine's own decisions."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from authflow.core.records import User
from authflow.core.srp import bytes_id
from authflow.crypto.signing import unverified_claims
from authflow.invariants.records import Records
from authflow.invariants.step import Step

PASSWORD_FLOWS = frozenset({"USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"})
INITIATE = frozenset({"InitiateAuth", "AdminInitiateAuth"})
RESPOND = frozenset({"RespondToAuthChallenge", "AdminRespondToAuthChallenge"})
#: Shorter ValidationData values are matched exactly, longer ones as substrings.
SUBSTRING_MIN = 8


def pool_config_of(records: Records, pool_id: str) -> Mapping[str, Any]:
    pool = records.pool(pool_id)
    return pool.config if pool is not None else {}


def claims_of(token: Any) -> dict[str, Any]:
    """The (unverified) claims of a token; {} for anything unreadable."""
    try:
        return unverified_claims(token) if isinstance(token, str) else {}
    except Exception:  # noqa: BLE001 -- an unreadable token names nobody
        return {}


def token_owner(result: Mapping[str, Any]) -> tuple[str, str] | None:
    """(pool id, sub) of an AuthenticationResult, read from its (unverified) tokens."""
    for key in ("IdToken", "AccessToken"):
        claims = claims_of(result.get(key))
        iss, sub = claims.get("iss"), claims.get("sub")
        if isinstance(iss, str) and isinstance(sub, str):
            return iss.rsplit("/", 1)[-1], sub
    return None


def pool_of_request(step: Step) -> str | None:
    """The pool a request acts on: UserPoolId, or the pool of its ClientId."""
    pool_id = step.request.get("UserPoolId")
    if pool_id:
        return str(pool_id)
    client_id = step.request.get("ClientId")
    for records in (step.before, step.after):
        for client in records.clients:
            if client.id == client_id:
                return client.pool_id
    return None


def signed_in_user(step: Step, records: Records) -> User | None:
    """The user a successful sign-in step is about: the challenge's USER_ID_FOR_SRP,
    or the subject of the tokens it returned; for a challenge that names nobody
    (DEVICE_SRP_AUTH's parameters are empty), the USERNAME the request began with."""
    response = step.response or {}
    result = response.get("AuthenticationResult")
    if result:
        owner = token_owner(result)
        return records.user_by_sub(*owner) if owner else None
    pool_id = pool_of_request(step)
    name = (response.get("ChallengeParameters") or {}).get("USER_ID_FOR_SRP")
    if not name and step.operation in INITIATE:
        name = (step.request.get("AuthParameters") or {}).get("USERNAME")
    if pool_id and name:
        return records.user_named(pool_id, name)
    return None


def is_password_sign_in(step: Step) -> bool:
    return step.operation in INITIATE and step.request.get("AuthFlow") in PASSWORD_FLOWS


def is_srp_answer(step: Step) -> bool:
    return step.operation in RESPOND and step.request.get("ChallengeName") == "PASSWORD_VERIFIER"


def challenge_responses(step: Step) -> Mapping[str, Any]:
    responses = step.request.get("ChallengeResponses")
    return responses if isinstance(responses, Mapping) else {}


def srp_user(step: Step, records: Records) -> User | None:
    """The user a PASSWORD_VERIFIER answer names (USERNAME: USER_ID_FOR_SRP or the name
    typed at the start; the block itself is sealed)."""
    pool_id = pool_of_request(step)
    name = challenge_responses(step).get("USERNAME")
    return records.user_named(pool_id, str(name)) if pool_id and name else None


def strings_in(value: Any) -> tuple[str, ...]:
    """Every string inside a record (field values, mapping keys and values). Records are
    immutable, so a record's strings are read once and kept (by the record itself)."""
    known = _STRINGS.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    out: list[str] = []
    _collect(value, out)
    strings = tuple(out)
    if dataclasses.is_dataclass(value):
        if len(_STRINGS) >= _STRINGS_KEPT:
            _STRINGS.clear()
        _STRINGS[id(value)] = (value, strings, "\0".join(strings))
    return strings


def stored_in(records: Iterable[Any], exact: Collection[str] = (), within: Iterable[str] = ()) -> Any | None:
    """The first record holding a string that is one of `exact`, or that contains one of
    `within` (needles without NUL), or None."""
    exact = exact if isinstance(exact, set | frozenset) else set(exact)
    needles = tuple(within)
    for record in records:
        strings = strings_in(record)
        if exact and not exact.isdisjoint(strings):
            return record
        if needles:
            known = _STRINGS.get(id(record))
            text = known[2] if known is not None and known[0] is record else "\0".join(strings)
            if any(n in text for n in needles):
                return record
    return None


#: Each record's strings (by id, with the record, so that a reused id is not mistaken).
_STRINGS: dict[int, tuple[Any, tuple[str, ...], str]] = {}
_STRINGS_KEPT = 1 << 15
_FIELDS: dict[type, tuple[str, ...]] = {}


def _collect(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(value)
    elif kind is bytes:
        out.append(value.decode("latin-1"))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _collect(k, out)
            _collect(v, out)
    elif isinstance(value, tuple | list | set | frozenset):
        for item in value:
            _collect(item, out)
    elif isinstance(value, str):
        out.append(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.get(kind)
        if names is None:
            names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
        for name in names:
            _collect(getattr(value, name), out)


def access_owner(request: Mapping[str, Any]) -> tuple[str, str] | None:
    """(pool id, sub) named by the request's AccessToken, if it has a readable one."""
    claims = claims_of(request.get("AccessToken"))
    iss, sub = claims.get("iss"), claims.get("sub")
    if isinstance(iss, str) and isinstance(sub, str):
        return iss.rsplit("/", 1)[-1], sub
    return None


def claim_block_id(text: Any) -> str | None:
    """The id of the block a PASSWORD_CLAIM_SECRET_BLOCK carries, None if it is not
    base64. Decoded leniently, as a careless engine would: every text of the same bytes
    (surplus padding, unused trailing bits) names the same block."""
    if not isinstance(text, str):
        return None
    try:
        return bytes_id(base64.b64decode(text))
    except (binascii.Error, ValueError):
        return None


def written(step: Step) -> tuple[Any, ...]:
    """The records of `after` this step wrote; at rest, all of them. Records are
    immutable, so an unchanged one is the very same object before and after. (Several
    laws ask for the same step: the last answer is kept.)"""
    if _WRITTEN and _WRITTEN[0] is step:
        return _WRITTEN[1]
    after = (*step.after.pools, *step.after.clients, *step.after.users, *step.after.sessions,
             *step.after.refresh_tokens, *step.after.failed_sign_ins)
    if step.before is not step.after:
        seen = {id(r) for r in (*step.before.pools, *step.before.clients, *step.before.users, *step.before.sessions,
                                *step.before.refresh_tokens, *step.before.failed_sign_ins)}
        after = tuple(r for r in after if id(r) not in seen)
    _WRITTEN[:] = [step, after]
    return after


_WRITTEN: list[Any] = []
