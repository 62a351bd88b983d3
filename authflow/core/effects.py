"""What a decision asks the shell to do: records to write, messages to send, and the
response to return. Decisions return these as data; the service applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authflow.core.records import AuthSession, FailedSignIns, RefreshToken, SigningKey, User

#: Records a decision may write.
Record = User | AuthSession | RefreshToken | FailedSignIns | SigningKey


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message to deliver (invitation, code ...)."""

    medium: str  # "EMAIL" | "SMS"
    destination: str
    subject: str | None
    body: str = field(repr=False)  # may carry a temporary password or a code
    kind: str  # "invitation", ...
    username: str
    pool_id: str = ""
    # What the body carries for `{####}` (a code or a temporary password) and the name
    # it shows for `{username}`: kept so that a CustomMessage function's text is rendered
    # the same way as the pool's template (`authflow.service.messages`).
    code: str = field(default="", repr=False)
    shown_username: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    puts: tuple[Record, ...] = ()  # written in this order (an alias loser before its winner)
    deletes: tuple[Record, ...] = ()
    messages: tuple[Message, ...] = ()
    response: dict[str, Any] = field(default_factory=dict)
