"""`authflow serve`'s password hashes, run in a pool of processes.

Theory of operation: cryptography's Argon2id holds the GIL for the whole hash (about 20 ms
at the production cost), so in one process hashes run one at a time, and the event loop,
and any thread holding the store's write lock, wait behind each of them. A worker that the
kernel gave most of the connections then signs in on one core while the others idle
(docs/benchmarks.md, "Password sign-ins and --workers"). `start()` hands
`authflow.crypto.passwords` a pool of one process per CPU (started on first use): the same
function runs on the same inputs there, beside the others, whichever worker holds the
connections. A pool that broke (a process killed) or stopped: the hash runs in the calling
process, as before. Each pool process exits when the process that started it is gone
(a pool's processes hold both ends of its queue, so they would never see it close).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from collections.abc import Callable

#: How often a pool process checks that its parent is still there (seconds).
_PARENT_CHECK_S = 1.0


def start() -> Callable[[], None]:
    """Route this process's hashes through a new pool; returns the function that stops it."""
    from authflow.crypto import passwords

    pool = concurrent.futures.ProcessPoolExecutor(
        os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent, initargs=(os.getpid(),),
    )

    def run(fn, *args):
        try:
            future = pool.submit(fn, *args)
        except RuntimeError:  # shut down or broken (BrokenProcessPool is one): hash here
            return fn(*args)
        try:
            return future.result()
        except concurrent.futures.process.BrokenProcessPool:
            return fn(*args)

    def stop() -> None:
        if passwords._runner is run:  # noqa: SLF001 -- another app of this process may have set its own
            passwords.run_hashes_with(None)
        pool.shutdown(wait=False, cancel_futures=True)

    passwords.run_hashes_with(run)
    return stop


def _exit_with_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="authflow-hash-parent-watch", daemon=True).start()
