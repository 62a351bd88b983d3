"""`authflow serve`'s password hashes, run in processes of their own.

Theory of operation: cryptography's Argon2id holds the GIL for the whole hash (about 20 ms
at the production cost), so in one process hashes run one at a time, and the event loop,
and any thread holding the store's write lock, wait behind each of them. A worker that the
kernel gave most of the connections then signs in on one core while the others idle
(docs/benchmarks.md, "Password sign-ins and --workers"). `start()` hands
`authflow.crypto.passwords` a set of hashing processes, one per CPU, started on first use:
the same function runs on the same inputs there, beside the others, whichever worker holds
the connections.

Each hashing process owns one end of a pipe and answers one request at a time: the calling
thread sends `(fn, args)` and waits for the result with the GIL released. That is one
message each way and no helper threads (a `ProcessPoolExecutor` adds a management thread
and a queue feeder, which cost about 1.5 ms more of the worker's CPU per sign-in, measured
in docs/benchmarks.md). A process that died, a set that could not start, or one that was
stopped: the hash runs in the calling process, as before. A hashing process exits when its
pipe closes, which happens when the process that started it ends, however it ends.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("authflow.serve")


def start() -> Callable[[], None]:
    """Route this process's hashes through new hashing processes; returns the function
    that stops them."""
    from authflow.crypto import passwords

    hashers = Hashers(os.cpu_count() or 1)

    def stop() -> None:
        if passwords._runner == hashers.run:  # noqa: SLF001 -- another app of this process may have set its own
            passwords.run_hashes_with(None)
        hashers.stop()

    passwords.run_hashes_with(hashers.run)
    return stop


class Hashers:
    """`size` hashing processes, each behind a pipe; `run(fn, *args)` is `fn(*args)` in one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._live = 0
        self._started = False
        self._stopped = False
        self._processes: list[Any] = []

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        connection = self._take()
        if connection is None:
            return fn(*args)
        try:
            connection.send((fn, args))
            ok, result = connection.recv()
        except (EOFError, OSError):  # the process died: this hash runs here, the process is gone
            self._lost(connection)
            return fn(*args)
        self._idle.put(connection)
        if not ok:
            raise result
        return result

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                break
            connection.close()  # the process sees the pipe close and exits
        for process in self._processes:
            process.join(timeout=0)  # reap the ones that are gone; never wait for one

    def _take(self) -> Connection | None:
        with self._lock:
            if self._stopped or (self._started and self._live == 0):
                return None
            if not self._started:
                self._started = True
                try:
                    self._spawn()
                except Exception:  # e.g. inside a daemonic process, which may have no children
                    log.warning("cannot start the hashing processes; hashing in this process", exc_info=True)
                if self._live == 0:
                    return None
        # At most `size` callers hash at once (the KDF semaphore, one slot per CPU), so an
        # idle process is free or about to be, unless processes died meanwhile.
        while True:
            try:
                return self._idle.get(timeout=1.0)
            except queue.Empty:
                with self._lock:
                    if self._stopped or self._live == 0:
                        return None

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")
        for _ in range(self.size):
            ours, theirs = context.Pipe(duplex=True)
            process = context.Process(target=_serve, args=(theirs,), name="authflow-hash", daemon=True)
            process.start()
            theirs.close()
            self._processes.append(process)
            self._live += 1
            self._idle.put(ours)

    def _lost(self, connection: Connection) -> None:
        connection.close()
        with self._lock:
            self._live -= 1


def _serve(connection: Connection) -> None:
    """A hashing process: answer each `(fn, args)` with `fn(*args)` until the pipe closes."""
    while True:
        try:
            fn, args = connection.recv()
        except (EOFError, OSError):
            return
        try:
            answer = (True, fn(*args))
        except Exception as err:  # the caller raises it, as if the hash had run there
            answer = (False, err)
        connection.send(answer)
