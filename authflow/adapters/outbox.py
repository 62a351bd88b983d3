"""Messengers: where invitations and codes go, and the outbox's retry policy.

Theory of operation: every message is first an `OutboxEntry`, written in the transaction
of the change that caused it (`Engine.enqueue`). An in-process messenger (the classes
here) is called by `Engine.deliver` right after the commit. A *queued* messenger
(`queued = True`, with `wake()`: SMTP, the SMS webhook) is driven by a sender thread that
claims due entries (`authflow.adapters.outbox_sender`). Both mark entries the same way:
SENT, or PENDING again after `RetryPolicy.delay`, FAILED after `max_attempts`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from authflow.core.effects import Message
from authflow.ports import Entropy

log = logging.getLogger("authflow.messages")

@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How the outbox retries. `lease`: how long a claimed entry is its claimer's (a sender
    that has not marked it by then is taken to have died, and another one sends it again;
    keep it above the transport's timeout). Retries back off exponentially from `base`,
    capped at `cap`, each shortened by up to a quarter at random (so that entries that
    failed together do not retry together); after `max_attempts` attempts the entry is
    FAILED (with the defaults: about a day of trying)."""

    lease: timedelta = timedelta(seconds=60)
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=15)
    max_attempts: int = 100

    def delay(self, attempts: int, entropy: Entropy) -> timedelta:
        """The wait before the next attempt after `attempts` (at least 1) failed ones."""
        wait = min(self.cap, self.base * (2 ** min(attempts - 1, 30)))
        jitter = int.from_bytes(entropy.random_bytes(2), "big") / 65536 / 4
        # whole milliseconds, as the engine's clock reads time: a retry is due at a time it can read
        return timedelta(milliseconds=int(wait / timedelta(milliseconds=1) * (1 - jitter)))


DEFAULT_POLICY = RetryPolicy()


def is_queued(messenger: object) -> bool:
    """Whether the messenger sends from the outbox by its own sender (not when called)."""
    return bool(getattr(messenger, "queued", False))


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
