"""`authflow serve --smtp` killed with SIGKILL while it sends, 25 times, over one SQLite
store: no Message-ID is lost, and a Message-ID arrives twice only when the kill fell
between the SMTP server's acceptance and the outbox's mark.

How the test tells: the SMTP server (aiosmtpd) notes when it accepted each message, and
waits DELAY before its 250 reply, so kills land in that gap often; every serve process
logs `outbox: marked <id> SENT` once the mark is committed (`authflow.adapters.
outbox_sender`). A duplicate is allowed when the run that first delivered it was killed
without logging its mark; a message received after a run had logged its mark would be a
resend of a marked message: a bug. The figures go to docs/delivery.md (printed with -s).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

import authflow
from authflow.adapters.outbox_sender import OutboxSender
from authflow.adapters.sqlite import SqliteStore
from authflow.crypto.sealing import Keyring
from tests.conftest import TEST_CONFIG
from tests.smtp_sink import Sink, controller, free_port

RUNS = 25
MESSAGES = 160
DELAY = 0.015  # the SMTP server's pause between accepting a message and its 250 reply
KEK = "5a" * 32
MARKED = re.compile(r"outbox: marked (\S+) SENT")


def seed_outbox(db) -> list[str]:
    """MESSAGES invitations committed to the store's outbox and not sent (a queued messenger
    whose sender never runs), as a crashed server would leave them."""
    store = SqliteStore(str(db))
    config = authflow.EngineConfig(kdf=TEST_CONFIG.kdf, signing_keys=TEST_CONFIG.signing_keys,
                                   kek=Keyring(bytes.fromhex(KEK)))
    client = authflow.Client(store=store, messenger=OutboxSender({}), config=config)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    for i in range(MESSAGES):
        client.admin_create_user(UserPoolId=pool, Username=f"user{i}", DesiredDeliveryMediums=["EMAIL"],
                                 UserAttributes=[{"Name": "email", "Value": f"user{i}@example.com"}])
    return outbox(store)


def outbox(store, state: str | None = None) -> list[str]:
    with store.transaction() as tx:
        return [e.id for e in tx.list_outbox(limit=10 * MESSAGES) if state is None or e.state == state]


def start(db, smtp_port: int, log_path) -> subprocess.Popen:
    command = [sys.executable, "-m", "authflow", "serve", "--db", str(db), "--insecure-no-auth",
               "--port", str(free_port()), "--smtp", f"smtp://127.0.0.1:{smtp_port}?timeout=1",
               "--outbox-lease", "2", "--log-level", "info"]
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log,
                                env={**os.environ, "AUTHFLOW_KEK": KEK, "PYTHONUNBUFFERED": "1"})


def wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


@pytest.mark.slow
def test_sigkill_while_sending_loses_no_message_and_duplicates_only_unmarked_ones(tmp_path):
    db = tmp_path / "authflow.db"
    expected = set(seed_outbox(db))
    sink = Sink(delay=DELAY)
    port = free_port()
    server = controller(sink, port)
    rng = random.Random(20260101)
    runs = []  # (log path, start time, end time, killed)
    try:
        for i in range(RUNS + 1):
            log_path = tmp_path / f"run{i}.log"
            before = len(sink.received)
            began = time.time()
            proc = start(db, port, log_path)
            try:
                if i < RUNS:
                    wanted = before + rng.randint(1, 8)
                    wait(lambda n=wanted: len(sink.received) >= n, timeout=20)
                    time.sleep(rng.uniform(0, 2.5 * DELAY))  # anywhere in or after the 250 gap
                    proc.send_signal(signal.SIGKILL)
                else:  # the last run drains what is left, then stops
                    store = SqliteStore(str(db))
                    drained = wait(lambda s=store: not outbox(s, "PENDING"), timeout=30)
                    store.close()
                    assert drained, "the outbox was not drained"
                    proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            runs.append((log_path, began, time.time(), i < RUNS))
        time.sleep(0.2)
    finally:
        server.stop()

    received = Counter(r.message_id for r in sink.received)
    ids = {re.fullmatch(r"<(.+)@authflow>", m).group(1): n for m, n in received.items()}
    assert not expected - set(ids), f"lost: {sorted(expected - set(ids))}"
    assert set(ids) == expected
    marks = {}  # entry id -> the end time of the run that logged its mark
    for log_path, _, ended, _ in runs:
        for entry_id in MARKED.findall(log_path.read_text(errors="replace")):
            assert entry_id not in marks, f"{entry_id} marked twice"
            marks[entry_id] = ended
    # Every message ends marked in the store. A log line can be missing: a kill between the
    # mark's commit and its log line leaves a marked entry that no log names.
    store = SqliteStore(str(db))
    try:
        assert set(outbox(store, "SENT")) == expected, "an entry of the outbox never ended SENT"
    finally:
        store.close()
    for r in sink.received:
        entry_id = r.message_id[1:].split("@")[0]
        # a message received after the run that logged its mark had ended: a resend of a marked message
        assert entry_id not in marks or r.at <= marks[entry_id], f"{entry_id} resent after its mark"
    duplicates = {i: n for i, n in ids.items() if n > 1}
    for entry_id in duplicates:
        first = min(r.at for r in sink.received if r.message_id == f"<{entry_id}@authflow>")
        run = next(run for run in runs if run[1] <= first <= run[2])
        assert run[3], "a duplicate whose first delivery was in the run that was not killed"
        assert entry_id not in MARKED.findall(run[0].read_text(errors="replace"))
    kills = sum(1 for run in runs if run[3])
    print(f"\ndelivery crashes: {kills} SIGKILLs, {len(expected)} messages, {len(sink.received)} received, "
          f"{len(expected - set(ids))} lost, {len(duplicates)} duplicated (each twice: "
          f"{set(duplicates.values()) <= {2}}), all between acceptance and mark")
