"""The user import runner: a thread that imports started user import jobs in the background.

Theory of operation (as `authflow.adapters.outbox_sender`): `authflow serve` binds one runner
to its engine and starts it; `authflow.service.user_import.attach_runner` makes
StartUserImportJob wake it instead of importing before it returns. Each pass runs every
Pending or InProgress job of every pool (`run_pending`): one chunk per transaction, the job's
progress committed with the chunk, so a pass that dies (or a process killed mid-import)
leaves the job where its last commit put it, and the next pass (this process's, or the next
start's first one) resumes there. Two runners (two workers) on one job never both commit a
chunk: the job record's version lets one commit win. Between wakes the runner looks again
every `idle_seconds`, which picks up jobs another worker started.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from authflow.service.engine import Engine

log = logging.getLogger("authflow.user_import")


class ImportRunner:
    """`ImportRunner(engine).start()`; `stop()` at shutdown (after the chunk being imported)."""

    def __init__(self, engine: Engine, *, idle_seconds: float = 30.0) -> None:
        self.engine = engine
        self.idle_seconds = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """A job was started: run now rather than at the next idle tick."""
        self._wake.set()

    def start(self) -> ImportRunner:
        """Attach to the engine and start the thread; its first pass resumes what a previous
        process left running."""
        from authflow.service import user_import

        if self._thread is None:
            user_import.attach_runner(self.engine, self)
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="authflow-user-import", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        from authflow.service import user_import

        user_import.attach_runner(self.engine, None)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        from authflow.service import user_import

        while not self._stop.is_set():
            self._wake.clear()
            try:
                user_import.run_pending(self.engine, stop=self._stop.is_set)
            except Exception:  # a store fault: log it and try again at the next tick
                log.exception("user import: a pass failed")
            self._wake.wait(self.idle_seconds)
