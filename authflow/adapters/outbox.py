"""Messengers: where invitations and codes go."""

from __future__ import annotations

import logging
import threading

from authflow.core.effects import Message

log = logging.getLogger("authflow.messages")


class MemoryOutbox:
    """Keeps every message in `.messages`, in order. The default messenger.

    `keep` bounds a long-running outbox (`authflow serve --test-hooks`) to about the
    newest `keep` messages; None keeps them all."""

    def __init__(self, keep: int | None = None) -> None:
        self.messages: list[Message] = []
        self._keep = keep
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self._lock:
            self.messages.append(message)
            if self._keep is not None and len(self.messages) > 2 * self._keep:
                del self.messages[: -self._keep]  # in halves, so trimming stays cheap

    def for_user(self, username: str) -> list[Message]:
        return [m for m in self.messages if m.username == username]

    def last(self) -> Message:
        if not self.messages:
            raise LookupError("the outbox is empty")
        return self.messages[-1]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


class LogMessenger:
    """Logs that a message was sent, without its body (bodies carry passwords and codes)."""

    def send(self, message: Message) -> None:
        log.info("%s %s to %s for %s", message.kind, message.medium, message.destination, message.username)


class Messengers:
    """Hands every message to each of several messengers, in order."""

    def __init__(self, *messengers: object) -> None:
        self.messengers = messengers

    def send(self, message: Message) -> None:
        for messenger in self.messengers:
            messenger.send(message)  # type: ignore[attr-defined]
