"""Records and Hypothesis strategies for store tests: small builders with sensible
defaults, strategies for records of every kind with arbitrary field values, and
`shape`, which tells a tuple from a list where equality does not.

Strings are valid Unicode (no lone surrogates: the facades refuse them), and
configuration dicts hold JSON data (lists, not tuples), which is what every store
must give back unchanged.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from authflow.core.effects import Message
from authflow.core.records import (
    AppClient,
    AuthSession,
    CodeRequests,
    Credential,
    Device,
    FailedSignIns,
    Group,
    OutboxEntry,
    PendingCode,
    PoolResource,
    RefreshToken,
    SigningKey,
    User,
    UserPool,
)

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
P1 = "us-east-1_AAAAAAAAA"
P2 = "us-east-1_BBBBBBBBB"
NO_POOL = "us-east-1_NOPOOLXXX"
ALIAS_KINDS = ("email", "phone_number", "preferred_username")
DEVICE_STATUSES = ("NEW", "REMEMBERED", "NOT_REMEMBERED")
#: The kinds of `PoolResource` the engine stores (domains are unique across pools).
RESOURCE_KINDS = ("domain", "resource_server", "identity_provider", "identity_link")
OUTBOX_STATES = ("PENDING", "SENT", "FAILED")


# -- records ------------------------------------------------------------------------------


def pool_record(pool_id: str = P1, version: int = 1, name: str = "p") -> UserPool:
    return UserPool(id=pool_id, arn="arn", config={"Name": name}, created=NOW, modified=NOW,
                    secret=b"s" * 32, version=version)


def client_record(client_id: str, pool_id: str = P1, version: int = 1) -> AppClient:
    return AppClient(pool_id=pool_id, id=client_id, config={"ClientName": client_id}, created=NOW,
                     modified=NOW, version=version)


def user_record(name, sub=None, aliases=(), attributes=None, version=1, pool_id=P1, status="FORCE_CHANGE_PASSWORD",
                enabled=True) -> User:
    return User(
        pool_id=pool_id,
        username=name,
        username_key=name,
        sub=sub or f"sub-{name}",
        attributes=attributes or {"sub": sub or f"sub-{name}"},
        status=status,
        enabled=enabled,
        created=NOW,
        modified=NOW,
        aliases=tuple(aliases),
        version=version,
    )


def signing_key_record(kid, pool_id=P1, created=NOW, version=1, retired=None) -> SigningKey:
    return SigningKey(
        pool_id=pool_id,
        kid=kid,
        use="id",
        private_key=b"der",
        public_jwk={"alg": "RS256", "e": "AQAB", "kid": kid, "kty": "RSA", "n": "n", "use": "sig"},
        created=created,
        retired=retired,
        version=version,
    )


def session_record(session_id, pool_id=P1, version=1, challenge="SMS_MFA", used=False, expires=None) -> AuthSession:
    return AuthSession(
        pool_id=pool_id,
        id=session_id,
        client_id="client",
        username_key="alice",
        sub="sub-alice",
        challenge=challenge,
        typed_username="alice",
        created=NOW,
        expires=expires or NOW + timedelta(minutes=3),
        used=used,
        version=version,
    )


def refresh_token_record(token_hash, origin_jti="origin-1", pool_id=P1, version=1, revoked=False,
                         expires=None) -> RefreshToken:
    return RefreshToken(
        pool_id=pool_id,
        token_hash=token_hash,
        origin_jti=origin_jti,
        client_id="client",
        sub="sub-alice",
        auth_time=NOW,
        created=NOW,
        expires=expires or NOW + timedelta(days=30),
        revoked=revoked,
        version=version,
    )


def failed_sign_ins_record(key, pool_id=P1, count=1, version=1, last_attempt=NOW) -> FailedSignIns:
    return FailedSignIns(pool_id=pool_id, key=key, count=count, locked_until=None, last_attempt=last_attempt,
                         version=version)


def device_record(key, sub="sub-alice", pool_id=P1, status="REMEMBERED", version=1, name=None,
                  expires=None, last_authenticated=None) -> Device:
    """A device of `sub` (its owner must be a user of the pool). A NEW device has no
    verifier and, unless `expires` is given, expires a month on; a confirmed one has its
    salt and (sealed) verifier and no expiry."""
    new = status == "NEW"
    return Device(
        pool_id=pool_id,
        key=key,
        sub=sub,
        group_key=f"-group-{sub}",
        status=status,
        name=None if new else (name or f"device {key}"),
        salt=None if new else "00ab",
        verifier=None if new else b"sealed verifier " + key.encode(),
        last_ip="192.0.2.1",
        created=NOW,
        modified=NOW,
        last_authenticated=last_authenticated,
        expires=(expires or NOW + timedelta(days=30)) if new else expires,
        version=version,
    )


def group_record(name, pool_id=P1, description=None, role_arn=None, precedence=None, version=1,
                 modified=NOW) -> Group:
    """A group; unset members are None, as CreateGroup leaves them."""
    return Group(pool_id=pool_id, name=name, description=description, role_arn=role_arn, precedence=precedence,
                 created=NOW, modified=modified, version=version)


def resource_record(name, kind="domain", pool_id=P1, body=None, version=1, modified=NOW) -> PoolResource:
    """A pool resource; its body is what DescribeUserPoolDomain-like calls would return."""
    return PoolResource(pool_id=pool_id, kind=kind, name=name,
                        body={"Name": name, "Kind": kind} if body is None else body,
                        created=NOW, modified=modified, version=version)


def message_record(destination="a@example.com", pool_id=P1, medium="EMAIL", code="123456",
                   kind="verification") -> Message:
    """A message as a decision makes it: the body carries the code."""
    return Message(medium=medium, destination=destination, subject="Your code" if medium == "EMAIL" else None,
                   body=f"Your code is {code}", kind=kind, username="alice", pool_id=pool_id, code=code,
                   shown_username="alice")


def outbox_record(entry_id, destination="a@example.com", pool_id=P1, state="PENDING", created=NOW,
                  next_attempt=None, attempts=0, sent=None, last_error=None, version=1) -> OutboxEntry:
    """An outbox entry of `message_record`; due at its creation unless `next_attempt`."""
    return OutboxEntry(id=entry_id, message=message_record(destination, pool_id), created=created, state=state,
                       next_attempt=created if next_attempt is None else next_attempt, attempts=attempts,
                       sent=sent, last_error=last_error, version=version)


# -- Hypothesis strategies for records of every kind ---------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_instants = st.datetimes(timezones=st.just(timezone.utc))
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_config = st.dictionaries(_text, _json, max_size=4)
_opt = st.none().__or__


def records(pool_id: str) -> st.SearchStrategy[Any]:
    """Any record of any kind in pool `pool_id` (an app client, user, signing key,
    session, refresh token, lockout counter, device, group, pool resource or outbox
    entry), with arbitrary field values. A device's owner (`sub`) is not made: a store
    test puts a user of that sub first. An outbox entry's message names `pool_id` or,
    as one outliving its pool may, any string."""
    credentials = st.builds(Credential, password_hash=_text, temporary=st.booleans(), issued_at=_instants,
                            srp_salt=_opt(_text), srp_verifier=_opt(st.binary(max_size=40)))
    common = {"pool_id": st.just(pool_id), "version": st.integers(1, 2**31)}
    pending_codes = st.builds(PendingCode, code_hash=_text, issued=_instants, expires=_instants,
                              attempts=st.integers(0, 2**31), attribute=_opt(_text), value=_opt(_text))
    code_requests = st.builds(CodeRequests, window_start=_instants, count=st.integers(0, 2**31))
    messages = st.builds(Message, medium=st.sampled_from(("EMAIL", "SMS")), destination=_text,
                         subject=_opt(_text), body=_text, kind=_text, username=_text,
                         pool_id=st.just(pool_id) | _text, code=_text, shown_username=_text)
    return st.one_of(
        st.builds(AppClient, id=_text, config=_config, created=_instants, modified=_instants,
                  secret=_opt(st.binary(max_size=40)), **common),
        st.builds(User, username=_text, username_key=_text, sub=_text,
                  attributes=st.dictionaries(_text, _text, max_size=4), status=_text, enabled=st.booleans(),
                  credential=_opt(credentials), created=_instants, modified=_instants,
                  aliases=st.lists(st.tuples(st.sampled_from(ALIAS_KINDS), _text), max_size=3,
                                   unique_by=lambda a: a).map(tuple),
                  mfa_settings=st.lists(_text, max_size=2).map(tuple), preferred_mfa=_opt(_text),
                  token_generation=st.integers(0, 2**31), codes=st.dictionaries(_text, pending_codes, max_size=2),
                  code_requests=st.dictionaries(_text, code_requests, max_size=2),
                  **common),
        st.builds(SigningKey, kid=_text, use=_text, private_key=st.binary(max_size=40),
                  public_jwk=st.dictionaries(_text, _text, max_size=4), created=_instants,
                  retired=_opt(_instants), **common),
        st.builds(AuthSession, id=_text, client_id=_text, username_key=_text, sub=_text, challenge=_text,
                  typed_username=_text, created=_instants, expires=_instants, used=st.booleans(),
                  code_hash=_opt(_text), credential_tag=_opt(_text), progress=_opt(_text),
                  device_key=_opt(_text), **common),
        st.builds(RefreshToken, token_hash=_text, origin_jti=_text, client_id=_text, sub=_text,
                  auth_time=_instants, created=_instants, expires=_instants, generation=st.integers(0, 2**31),
                  revoked=st.booleans(), device_key=_opt(_text), **common),
        st.builds(FailedSignIns, key=_text, count=st.integers(0, 2**31), locked_until=_opt(_instants),
                  last_attempt=_instants, **common),
        st.builds(Device, key=_text, sub=_text, group_key=_text, status=st.sampled_from(DEVICE_STATUSES),
                  name=_opt(_text), salt=_opt(_text), verifier=_opt(st.binary(max_size=40)), last_ip=_opt(_text),
                  created=_instants, modified=_instants, last_authenticated=_opt(_instants),
                  expires=_opt(_instants), **common),
        st.builds(Group, name=_text, description=_opt(_text), role_arn=_opt(_text),
                  precedence=_opt(st.integers(0, 2**31 - 1)), created=_instants, modified=_instants, **common),
        st.builds(PoolResource, kind=st.sampled_from(RESOURCE_KINDS) | _text, name=_text, body=_config,
                  created=_instants, modified=_instants, **common),
        st.builds(OutboxEntry, id=_text, message=messages, created=_instants,
                  state=st.sampled_from(OUTBOX_STATES), next_attempt=_instants, attempts=st.integers(0, 2**31),
                  sent=_opt(_instants), last_error=_opt(_text), version=common["version"]),
    )


def pools() -> st.SearchStrategy[UserPool]:
    return st.builds(UserPool, id=_text, arn=_text, config=_config, created=_instants, modified=_instants,
                     secret=st.binary(max_size=40), version=st.integers(1, 2**31))


def shape(value: Any) -> Any:
    """The types inside a value, so that a tuple read back as a list is a difference."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value), [shape(v) for v in value])
    if hasattr(value, "__dataclass_fields__"):
        return (type(value), {f: shape(getattr(value, f)) for f in value.__dataclass_fields__})
    if isinstance(value, datetime):
        return (datetime, value.utcoffset())
    return type(value)

