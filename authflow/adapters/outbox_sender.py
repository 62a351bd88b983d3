"""The outbox's sender: a thread that delivers committed outbox entries by queued transports.

Theory of operation: `Engine.enqueue` writes a PENDING entry in the transaction of the change
that caused the message, due at once when the engine's messenger is this sender. After the
commit `Engine.deliver` calls `wake()`, and the thread drains: it reads the due entries, and
for each one

1. claims it: in its own transaction, re-reads it and, if it is still PENDING and due, writes
   it back with `next_attempt = now + lease` and the version bumped. Two senders (two
   workers, or a restarted process and the claim of the one that died) cannot both claim
   one version, so no entry is sent by two senders at once;
2. opens the sealed body and hands the message to the transport of its medium (`EMAIL`,
   `SMS`; a medium without one goes to `fallback`, the in-process messengers);
3. marks it (`Engine.mark`): SENT, or PENDING again after the policy's backoff, FAILED at
   the bound.

A process killed between 1 and 3 leaves the entry claimed; once the lease has run out it is
due again and the next drain (this process's or the next start's) sends it again under the
same id: a duplicate, recognisable by its Message-ID, and possible only when the kill fell
between the transport's acceptance and the mark. When a transport fails, the rest of the
pass leaves that medium's entries unclaimed (the server is probably down: no point spending
an attempt of each); they are retried with the next pass.

The sender logs `outbox: accepted <id>` when the transport has taken a message and
`outbox: marked <id> SENT` once the mark is committed (the crash test reads these lines).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from authflow.adapters.outbox import DEFAULT_POLICY, RetryPolicy
from authflow.core.effects import Message
from authflow.core.records import OutboxEntry
from authflow.ports import TransientConflict

if TYPE_CHECKING:
    from authflow.service.engine import Engine

log = logging.getLogger("authflow.outbox")


class Transport(Protocol):
    """Sends one message for good (raises if it could not). `message_id` is the outbox
    entry's id: stable across resends of the same message."""

    def send(self, message: Message, *, message_id: str) -> None: ...

    def close(self) -> None:
        """Drop any open connection (the sender calls it when the outbox is drained)."""
        ...


class OutboxSender:
    """A queued messenger: give it to the engine as its messenger, `bind` the engine, `start`.

    `transports` maps a medium ("EMAIL", "SMS") to its transport; `fallback` (an in-process
    messenger, e.g. LogMessenger) takes the messages of a medium without one, and every
    message a transport sent too when `copy_to_fallback` (the test hooks' outbox)."""

    queued = True

    def __init__(
        self, transports: Mapping[str, Transport], *, fallback: object | None = None,
        copy_to_fallback: bool = False, policy: RetryPolicy = DEFAULT_POLICY, batch: int = 50,
        idle_seconds: float = 1.0,
    ) -> None:
        self.transports = dict(transports)
        self.fallback = fallback
        self.copy_to_fallback = copy_to_fallback
        self.policy = policy
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.engine: Engine | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def bind(self, engine: Engine) -> OutboxSender:
        self.engine = engine
        return self

    # -- the messenger side ---------------------------------------------------------------

    def wake(self) -> None:
        """New entries are committed: drain now rather than at the next idle tick."""
        self._wake.set()

    def send(self, message: Message) -> None:
        raise TypeError("an OutboxSender sends outbox entries, not messages: Engine.deliver wakes it")

    # -- the thread -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; its first pass sends what a previous process left due."""
        if self.engine is None:
            raise RuntimeError("bind(engine) before start()")
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="authflow-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the entry being sent, if any (an unsent claimed entry is due again when
        its lease runs out)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_transports()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.drain()
            except Exception:  # a store fault: log it and try again at the next tick
                log.exception("outbox: drain failed")
                busy = False
            if not busy:
                self._close_transports()
                self._wake.wait(self.idle_seconds)
            self._wake.clear()

    # -- one pass ---------------------------------------------------------------------------

    def drain(self) -> bool:
        """One pass over the due entries. True when a full batch was due (drain again now)."""
        engine = self.engine
        assert engine is not None
        with engine.store.transaction() as tx:
            due = tx.due_outbox(engine.now(), limit=self.batch)
        down: set[str] = set()  # media whose transport failed in this pass
        for entry in due:
            if self._stop.is_set():
                return False
            if entry.message.medium in down:
                continue
            claimed = self._claim(entry)
            if claimed is None:
                continue
            if not self._send(claimed):
                down.add(entry.message.medium)
        return len(due) == self.batch and not down

    def _claim(self, entry: OutboxEntry) -> OutboxEntry | None:
        engine = self.engine
        assert engine is not None
        now = engine.now()
        try:
            with engine.store.transaction() as tx:
                current = tx.get_outbox(entry.id)
                if current is None or current.state != "PENDING" or current.next_attempt > now:
                    return None
                claimed = replace(current, next_attempt=now + self.policy.lease, version=current.version + 1)
                tx.put_outbox(claimed)
        except TransientConflict:  # another sender claimed it first
            return None
        return claimed

    def _send(self, entry: OutboxEntry) -> bool:
        engine = self.engine
        assert engine is not None
        message = engine.open_message(entry)
        transport = self.transports.get(message.medium)
        try:
            if transport is None:
                if self.fallback is None:
                    raise LookupError(f"no transport for {message.medium} messages")
                self.fallback.send(message)  # type: ignore[attr-defined]
            else:
                transport.send(message, message_id=entry.id)
        except Exception as err:
            log.warning("outbox: %s %s of %s to %s failed (attempt %d): %s", message.medium, message.kind,
                        entry.id, message.destination, entry.attempts + 1, err)
            engine.mark(entry, error=f"{type(err).__name__}: {err}", policy=self.policy)
            return False
        log.info("outbox: accepted %s", entry.id)
        if transport is not None and self.copy_to_fallback and self.fallback is not None:
            try:
                self.fallback.send(message)  # type: ignore[attr-defined]
            except Exception:
                log.exception("outbox: the fallback messenger failed on %s", entry.id)
        if engine.mark(entry, error=None, policy=self.policy):
            log.info("outbox: marked %s SENT", entry.id)
        else:
            log.warning("outbox: %s changed while it was being sent (its lease ran out?)", entry.id)
        return True

    def _close_transports(self) -> None:
        for transport in self.transports.values():
            try:
                transport.close()
            except Exception:
                log.debug("outbox: closing a transport failed", exc_info=True)
