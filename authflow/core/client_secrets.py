"""An app client's secrets: AddUserPoolClientSecret, ListUserPoolClientSecrets,
DeleteUserPoolClientSecret as pure decisions.

Theory of operation: a confidential client holds one or two secrets at a time (AWS API
reference: "up to 2 active secrets per app client", "You cannot delete the last remaining
secret"). They all live in the one sealed blob `AppClient.secret`, so adding or deleting
a secret is one write of the client record (atomic, versioned, gone with the client) and
every store keeps them with no new table. The blob's plaintext is either a bare secret
(what CreateUserPoolClient writes, and every client written before secrets could be
added) or a JSON list of entries, oldest first; a bare secret never starts with "[" (the
model's pattern is `[\\w+]+`), so the two cannot be confused. A bare secret's id is
derived from the client's creation instant, the way added secrets' ids are derived from
theirs (`<client-id>--<epoch milliseconds>`, the model's documented form).

Every listed secret is valid for SECRET_HASH, /oauth2/token client authentication and
RevokeToken; DescribeUserPoolClient shows the oldest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from authflow.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)

#: How many secrets a client may hold at once.
MAX_SECRETS = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretEntry:
    id: str
    created: datetime
    value: str


def secret_id(client_id: str, created: datetime, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """`<client-id>--<epoch milliseconds>`, moved on by a millisecond while taken (two secrets
    made in the same instant, as a manual clock makes them)."""
    millis = int(created.timestamp() * 1000)
    while f"{client_id}--{millis}" in taken:
        millis += 1
    return f"{client_id}--{millis}"


def entries_of(plaintext: bytes | None, *, client_id: str, client_created: datetime) -> tuple[SecretEntry, ...]:
    """The entries of an opened `AppClient.secret` (none for a public client)."""
    if plaintext is None:
        return ()
    text = plaintext.decode("utf-8")
    if not text.startswith("["):
        return (SecretEntry(id=secret_id(client_id, client_created), created=client_created, value=text),)
    return tuple(
        SecretEntry(id=e["id"], created=datetime.fromtimestamp(e["created"] / 1000, tz=timezone.utc), value=e["value"])
        for e in json.loads(text)
    )


def plaintext_of(entries: tuple[SecretEntry, ...]) -> bytes:
    """What to seal into `AppClient.secret` (the inverse of `entries_of`)."""
    return json.dumps(
        [{"id": e.id, "created": int(e.created.timestamp() * 1000), "value": e.value} for e in entries]
    ).encode("utf-8")


def add(
    entries: tuple[SecretEntry, ...], *, client_id: str, value: str, now: datetime
) -> tuple[tuple[SecretEntry, ...], SecretEntry]:
    """The entries with a new secret at the end, and the new entry. A public client gets no
    secret this way: the operation is for "an existing confidential user pool app client"."""
    if not entries:
        raise InvalidParameterException(
            f"Client {client_id} has no client secret: a secret can be added only to a client created with one.",
            member="ClientId",
        )
    if len(entries) >= MAX_SECRETS:
        raise LimitExceededException(
            f"Client {client_id} already has {MAX_SECRETS} secrets; delete one before adding another."
        )
    entry = SecretEntry(id=secret_id(client_id, now, {e.id for e in entries}), created=now, value=value)
    return entries + (entry,), entry


def delete(entries: tuple[SecretEntry, ...], *, client_id: str, secret_id: str) -> tuple[SecretEntry, ...]:
    remaining = tuple(e for e in entries if e.id != secret_id)
    if len(remaining) == len(entries):
        raise ResourceNotFoundException(f"Client secret {secret_id} does not exist.")
    if not remaining:
        raise InvalidParameterException(
            f"Client secret {secret_id} is the only secret of client {client_id} and cannot be deleted.",
            member="ClientSecretId",
        )
    return remaining


def descriptor(entry: SecretEntry, *, with_value: bool = False) -> dict[str, Any]:
    """A `ClientSecretDescriptorType`; the value only when Cognito generated the secret and
    only in AddUserPoolClientSecret's answer."""
    out: dict[str, Any] = {"ClientSecretId": entry.id}
    if with_value:
        out["ClientSecretValue"] = entry.value
    out["ClientSecretCreateDate"] = entry.created
    return out
