"""Records <-> plain rows, for the SQL stores.

Theory of operation: a row is a dict of plain values (str, int, None), one entry per
column. The columns hold what a database must index, compare or constrain (keys,
the sub, the version, the instants that purging compares); everything else of the
record goes into one JSON document, the `doc` column. Nothing here knows a
particular database, so the SQLite and PostgreSQL stores share it; each store names
the columns in its SQL exactly as `COLUMNS` does.

Each record type has a pair `<type>_to_row` / `<type>_from_row`, and
`from_row(to_row(r)) == r` with the exact types the records use (tuples stay
tuples, `Mapping` fields come back as dicts in their original key order).
Representation choices, made once:

* instants: integer microseconds since the Unix epoch, UTC. Exact (Python datetimes
  carry microseconds), they sort as numbers in every database, and they come back as
  timezone-aware datetimes in `timezone.utc`. A naive datetime is refused: records
  hold only aware ones.
* bytes: standard base64 text.
* the JSON document: `ensure_ascii` (so any Python string, even one a database's
  UTF-8 encoder would refuse, survives), no NaN or infinities, keys in record
  order. Configuration dicts (`UserPool.config`, `AppClient.config`) hold JSON data as
  boto3 passes it; a tuple inside them comes back as a list.

A `PoolResource`'s `body` is JSON data like the configuration dicts. An `OutboxEntry`
is one row of the message it carries: its pool and destination are columns (the
console lists a pool's or a destination's messages), every other `Message` field,
the body and the code included, is in the document, as are the delivery counters.

Derived rows (a user's aliases and ListUsers index entries) are not part of a
record's row: the store writes them from `User.aliases` and
`authflow.core.listing.index_values`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

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
    SoftwareToken,
    User,
    UserPool,
)

__all__ = [
    "CODECS",
    "COLUMNS",
    "Row",
    "client_from_row",
    "client_to_row",
    "device_from_row",
    "device_to_row",
    "failed_sign_ins_from_row",
    "failed_sign_ins_to_row",
    "group_from_row",
    "group_to_row",
    "from_micros",
    "micros",
    "outbox_from_row",
    "outbox_to_row",
    "pool_from_row",
    "pool_to_row",
    "refresh_token_from_row",
    "refresh_token_to_row",
    "resource_from_row",
    "resource_to_row",
    "session_from_row",
    "session_to_row",
    "signing_key_from_row",
    "signing_key_to_row",
    "user_from_row",
    "user_to_row",
]

#: A row: column name -> str | int | None. `doc` is the JSON document.
Row = dict[str, Any]

#: The columns of each record type's row, in table order (`doc` last).
COLUMNS: dict[type, tuple[str, ...]] = {
    UserPool: ("id", "version", "doc"),
    AppClient: ("id", "pool_id", "version", "doc"),
    User: ("pool_id", "username_key", "sub", "version", "doc"),
    SigningKey: ("pool_id", "kid", "created_us", "version", "doc"),
    AuthSession: ("id", "pool_id", "expires_us", "version", "doc"),
    RefreshToken: ("token_hash", "pool_id", "origin_jti", "expires_us", "version", "doc"),
    FailedSignIns: ("pool_id", "key", "last_attempt_us", "version", "doc"),
    # `listed` (1 unless NEW) lets ListDevices read an index of confirmed devices only;
    # `expires_us` is what purging compares (NULL once confirmed).
    Device: ("pool_id", "device_key", "sub", "listed", "expires_us", "version", "doc"),
    Group: ("pool_id", "name", "version", "doc"),
    PoolResource: ("pool_id", "kind", "name", "version", "doc"),
    # `state` and `next_attempt_us` are what the sender's query reads (PENDING entries
    # due by now), `created_us` the order the console lists them in.
    OutboxEntry: ("id", "pool_id", "destination", "state", "created_us", "next_attempt_us", "version", "doc"),
}

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


# -- value conversions ------------------------------------------------------------------


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: records hold timezone-aware instants")
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The UTC instant `value` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=value)


def _opt_micros(moment: datetime | None) -> int | None:
    return None if moment is None else micros(moment)


def _opt_from_micros(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _load(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("a row's document is a JSON object")
    return doc


def _pairs(items: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((kind, key) for kind, key in items)


# -- pools and app clients ----------------------------------------------------------------


def pool_to_row(pool: UserPool) -> Row:
    return {
        "id": pool.id,
        "version": pool.version,
        "doc": _dump({
            "arn": pool.arn,
            "config": dict(pool.config),
            "created": micros(pool.created),
            "modified": micros(pool.modified),
            "secret": _b64(pool.secret),
        }),
    }


def pool_from_row(row: Mapping[str, Any]) -> UserPool:
    doc = _load(row["doc"])
    return UserPool(
        id=row["id"],
        arn=doc["arn"],
        config=doc["config"],
        created=from_micros(doc["created"]),
        modified=from_micros(doc["modified"]),
        secret=_unb64(doc["secret"]),
        version=row["version"],
    )


def client_to_row(client: AppClient) -> Row:
    return {
        "id": client.id,
        "pool_id": client.pool_id,
        "version": client.version,
        "doc": _dump({
            "config": dict(client.config),
            "created": micros(client.created),
            "modified": micros(client.modified),
            "secret": None if client.secret is None else _b64(client.secret),
        }),
    }


def client_from_row(row: Mapping[str, Any]) -> AppClient:
    doc = _load(row["doc"])
    return AppClient(
        pool_id=row["pool_id"],
        id=row["id"],
        config=doc["config"],
        created=from_micros(doc["created"]),
        modified=from_micros(doc["modified"]),
        secret=None if doc["secret"] is None else _unb64(doc["secret"]),
        version=row["version"],
    )


# -- users --------------------------------------------------------------------------------


def _credential_doc(credential: Credential | None) -> dict[str, Any] | None:
    if credential is None:
        return None
    return {
        "password_hash": credential.password_hash,
        "temporary": credential.temporary,
        "issued_at": micros(credential.issued_at),
        "srp_salt": credential.srp_salt,
        "srp_verifier": None if credential.srp_verifier is None else _b64(credential.srp_verifier),
    }


def _credential(doc: Mapping[str, Any] | None) -> Credential | None:
    if doc is None:
        return None
    return Credential(
        password_hash=doc["password_hash"],
        temporary=doc["temporary"],
        issued_at=from_micros(doc["issued_at"]),
        # absent in rows written before SRP existed
        srp_salt=doc.get("srp_salt"),
        srp_verifier=None if doc.get("srp_verifier") is None else _unb64(doc["srp_verifier"]),
    )


def _codes_doc(codes: Mapping[str, PendingCode]) -> dict[str, Any]:
    return {
        purpose: {
            "code_hash": code.code_hash,
            "issued": micros(code.issued),
            "expires": micros(code.expires),
            "attempts": code.attempts,
            "attribute": code.attribute,
            "value": code.value,
        }
        for purpose, code in codes.items()
    }


def _codes(doc: Mapping[str, Any]) -> dict[str, PendingCode]:
    return {
        purpose: PendingCode(
            code_hash=code["code_hash"],
            issued=from_micros(code["issued"]),
            expires=from_micros(code["expires"]),
            attempts=code["attempts"],
            attribute=code["attribute"],
            value=code.get("value"),  # absent in rows written before it existed
        )
        for purpose, code in doc.items()
    }


def _code_requests_doc(requests: Mapping[str, CodeRequests]) -> dict[str, Any]:
    return {purpose: [micros(r.window_start), r.count] for purpose, r in requests.items()}


def _code_requests(doc: Mapping[str, Any]) -> dict[str, CodeRequests]:
    return {purpose: CodeRequests(window_start=from_micros(start), count=count) for purpose, (start, count) in doc.items()}


def _software_token_doc(token: SoftwareToken | None) -> dict[str, Any] | None:
    if token is None:
        return None
    return {"secret": _b64(token.secret), "friendly_name": token.friendly_name,
            "verified": micros(token.verified), "last_step": token.last_step}


def _software_token(doc: Mapping[str, Any] | None) -> SoftwareToken | None:
    if doc is None:
        return None
    return SoftwareToken(secret=_unb64(doc["secret"]), friendly_name=doc["friendly_name"],
                         verified=from_micros(doc["verified"]), last_step=doc["last_step"])


def user_to_row(user: User) -> Row:
    return {
        "pool_id": user.pool_id,
        "username_key": user.username_key,
        "sub": user.sub,
        "version": user.version,
        "doc": _dump({
            "username": user.username,
            "attributes": dict(user.attributes),
            "status": user.status,
            "enabled": user.enabled,
            "credential": _credential_doc(user.credential),
            "created": micros(user.created),
            "modified": micros(user.modified),
            "aliases": [list(alias) for alias in user.aliases],
            "mfa_settings": list(user.mfa_settings),
            "preferred_mfa": user.preferred_mfa,
            "token_generation": user.token_generation,
            "codes": _codes_doc(user.codes),
            "code_requests": _code_requests_doc(user.code_requests),
            "software_token": _software_token_doc(user.software_token),
            "pending_software_token": (
                None if user.pending_software_token is None else _b64(user.pending_software_token)
            ),
        }),
    }


def user_from_row(row: Mapping[str, Any]) -> User:
    doc = _load(row["doc"])
    return User(
        pool_id=row["pool_id"],
        username=doc["username"],
        username_key=row["username_key"],
        sub=row["sub"],
        attributes=doc["attributes"],
        status=doc["status"],
        enabled=doc["enabled"],
        credential=_credential(doc["credential"]),
        created=from_micros(doc["created"]),
        modified=from_micros(doc["modified"]),
        aliases=_pairs(doc["aliases"]),
        mfa_settings=tuple(doc["mfa_settings"]),
        preferred_mfa=doc["preferred_mfa"],
        token_generation=doc["token_generation"],
        codes=_codes(doc.get("codes", {})),  # absent in rows written before codes existed
        code_requests=_code_requests(doc.get("code_requests", {})),  # likewise
        software_token=_software_token(doc.get("software_token")),  # likewise
        pending_software_token=(
            None if doc.get("pending_software_token") is None else _unb64(doc["pending_software_token"])
        ),
        version=row["version"],
    )


# -- sign-in records ----------------------------------------------------------------------


def signing_key_to_row(key: SigningKey) -> Row:
    return {
        "pool_id": key.pool_id,
        "kid": key.kid,
        "created_us": micros(key.created),
        "version": key.version,
        "doc": _dump({
            "use": key.use,
            "private_key": _b64(key.private_key),
            "public_jwk": dict(key.public_jwk),
            "retired": _opt_micros(key.retired),
        }),
    }


def signing_key_from_row(row: Mapping[str, Any]) -> SigningKey:
    doc = _load(row["doc"])
    return SigningKey(
        pool_id=row["pool_id"],
        kid=row["kid"],
        use=doc["use"],
        private_key=_unb64(doc["private_key"]),
        public_jwk=doc["public_jwk"],
        created=from_micros(row["created_us"]),
        retired=_opt_from_micros(doc["retired"]),
        version=row["version"],
    )


def session_to_row(session: AuthSession) -> Row:
    return {
        "id": session.id,
        "pool_id": session.pool_id,
        "expires_us": micros(session.expires),
        "version": session.version,
        "doc": _dump({
            "client_id": session.client_id,
            "username_key": session.username_key,
            "sub": session.sub,
            "challenge": session.challenge,
            "typed_username": session.typed_username,
            "created": micros(session.created),
            "used": session.used,
            "code_hash": session.code_hash,
            "credential_tag": session.credential_tag,
            "progress": session.progress,
            "device_key": session.device_key,
        }),
    }


def session_from_row(row: Mapping[str, Any]) -> AuthSession:
    doc = _load(row["doc"])
    return AuthSession(
        pool_id=row["pool_id"],
        id=row["id"],
        client_id=doc["client_id"],
        username_key=doc["username_key"],
        sub=doc["sub"],
        challenge=doc["challenge"],
        typed_username=doc["typed_username"],
        created=from_micros(doc["created"]),
        expires=from_micros(row["expires_us"]),
        used=doc["used"],
        code_hash=doc["code_hash"],
        credential_tag=doc.get("credential_tag"),  # absent in rows written before it existed
        progress=doc.get("progress"),
        device_key=doc.get("device_key"),  # absent in rows written before devices existed
        version=row["version"],
    )


def refresh_token_to_row(token: RefreshToken) -> Row:
    return {
        "token_hash": token.token_hash,
        "pool_id": token.pool_id,
        "origin_jti": token.origin_jti,
        "expires_us": micros(token.expires),
        "version": token.version,
        "doc": _dump({
            "client_id": token.client_id,
            "sub": token.sub,
            "auth_time": micros(token.auth_time),
            "created": micros(token.created),
            "generation": token.generation,
            "revoked": token.revoked,
            "device_key": token.device_key,
            "scope": token.scope,
        }),
    }


def refresh_token_from_row(row: Mapping[str, Any]) -> RefreshToken:
    doc = _load(row["doc"])
    return RefreshToken(
        pool_id=row["pool_id"],
        token_hash=row["token_hash"],
        origin_jti=row["origin_jti"],
        client_id=doc["client_id"],
        sub=doc["sub"],
        auth_time=from_micros(doc["auth_time"]),
        created=from_micros(doc["created"]),
        expires=from_micros(row["expires_us"]),
        generation=doc["generation"],
        revoked=doc["revoked"],
        device_key=doc.get("device_key"),  # absent in rows written before devices existed
        scope=doc.get("scope"),  # absent in rows written before the OAuth endpoints existed
        version=row["version"],
    )


def failed_sign_ins_to_row(record: FailedSignIns) -> Row:
    return {
        "pool_id": record.pool_id,
        "key": record.key,
        "last_attempt_us": micros(record.last_attempt),
        "version": record.version,
        "doc": _dump({"count": record.count, "locked_until": _opt_micros(record.locked_until)}),
    }


def failed_sign_ins_from_row(row: Mapping[str, Any]) -> FailedSignIns:
    doc = _load(row["doc"])
    return FailedSignIns(
        pool_id=row["pool_id"],
        key=row["key"],
        count=doc["count"],
        locked_until=_opt_from_micros(doc["locked_until"]),
        last_attempt=from_micros(row["last_attempt_us"]),
        version=row["version"],
    )


# -- devices ------------------------------------------------------------------------------


def device_to_row(device: Device) -> Row:
    return {
        "pool_id": device.pool_id,
        "device_key": device.key,
        "sub": device.sub,
        "listed": int(device.status != "NEW"),
        "expires_us": _opt_micros(device.expires),
        "version": device.version,
        "doc": _dump({
            "group_key": device.group_key,
            "status": device.status,
            "name": device.name,
            "salt": device.salt,
            "verifier": None if device.verifier is None else _b64(device.verifier),
            "last_ip": device.last_ip,
            "created": micros(device.created),
            "modified": micros(device.modified),
            "last_authenticated": _opt_micros(device.last_authenticated),
        }),
    }


def device_from_row(row: Mapping[str, Any]) -> Device:
    doc = _load(row["doc"])
    return Device(
        pool_id=row["pool_id"],
        key=row["device_key"],
        sub=row["sub"],
        group_key=doc["group_key"],
        status=doc["status"],
        name=doc["name"],
        salt=doc["salt"],
        verifier=None if doc["verifier"] is None else _unb64(doc["verifier"]),
        last_ip=doc["last_ip"],
        created=from_micros(doc["created"]),
        modified=from_micros(doc["modified"]),
        last_authenticated=_opt_from_micros(doc["last_authenticated"]),
        expires=_opt_from_micros(row["expires_us"]),
        version=row["version"],
    )


# -- groups -------------------------------------------------------------------------------


def group_to_row(group: Group) -> Row:
    return {
        "pool_id": group.pool_id,
        "name": group.name,
        "version": group.version,
        "doc": _dump({
            "description": group.description,
            "role_arn": group.role_arn,
            "precedence": group.precedence,
            "created": micros(group.created),
            "modified": micros(group.modified),
        }),
    }


def group_from_row(row: Mapping[str, Any]) -> Group:
    doc = _load(row["doc"])
    return Group(
        pool_id=row["pool_id"],
        name=row["name"],
        description=doc["description"],
        role_arn=doc["role_arn"],
        precedence=doc["precedence"],
        created=from_micros(doc["created"]),
        modified=from_micros(doc["modified"]),
        version=row["version"],
    )


# -- pool resources -----------------------------------------------------------------------


def resource_to_row(resource: PoolResource) -> Row:
    return {
        "pool_id": resource.pool_id,
        "kind": resource.kind,
        "name": resource.name,
        "version": resource.version,
        "doc": _dump({
            "body": dict(resource.body),
            "created": micros(resource.created),
            "modified": micros(resource.modified),
        }),
    }


def resource_from_row(row: Mapping[str, Any]) -> PoolResource:
    doc = _load(row["doc"])
    return PoolResource(
        pool_id=row["pool_id"],
        kind=row["kind"],
        name=row["name"],
        body=doc["body"],
        created=from_micros(doc["created"]),
        modified=from_micros(doc["modified"]),
        version=row["version"],
    )


# -- the outbox ---------------------------------------------------------------------------


def outbox_to_row(entry: OutboxEntry) -> Row:
    message = entry.message
    return {
        "id": entry.id,
        "pool_id": message.pool_id,
        "destination": message.destination,
        "state": entry.state,
        "created_us": micros(entry.created),
        "next_attempt_us": micros(entry.next_attempt),
        "version": entry.version,
        "doc": _dump({
            "medium": message.medium,
            "subject": message.subject,
            "body": message.body,
            "kind": message.kind,
            "username": message.username,
            "code": message.code,
            "shown_username": message.shown_username,
            "attempts": entry.attempts,
            "sent": _opt_micros(entry.sent),
            "last_error": entry.last_error,
        }),
    }


def outbox_from_row(row: Mapping[str, Any]) -> OutboxEntry:
    doc = _load(row["doc"])
    message = Message(
        medium=doc["medium"],
        destination=row["destination"],
        subject=doc["subject"],
        body=doc["body"],
        kind=doc["kind"],
        username=doc["username"],
        pool_id=row["pool_id"],
        code=doc["code"],
        shown_username=doc["shown_username"],
    )
    return OutboxEntry(
        id=row["id"],
        message=message,
        created=from_micros(row["created_us"]),
        state=row["state"],
        next_attempt=from_micros(row["next_attempt_us"]),
        attempts=doc["attempts"],
        sent=_opt_from_micros(doc["sent"]),
        last_error=doc["last_error"],
        version=row["version"],
    )


#: Each record type's pair of conversions: (to_row, from_row).
CODECS: dict[type, tuple[Any, Any]] = {
    UserPool: (pool_to_row, pool_from_row),
    AppClient: (client_to_row, client_from_row),
    User: (user_to_row, user_from_row),
    SigningKey: (signing_key_to_row, signing_key_from_row),
    AuthSession: (session_to_row, session_from_row),
    RefreshToken: (refresh_token_to_row, refresh_token_from_row),
    FailedSignIns: (failed_sign_ins_to_row, failed_sign_ins_from_row),
    Device: (device_to_row, device_from_row),
    Group: (group_to_row, group_from_row),
    PoolResource: (resource_to_row, resource_from_row),
    OutboxEntry: (outbox_to_row, outbox_from_row),
}
