"""What the passwordless page tests share: `authflow serve`'s app at `http://localhost:<port>`
(a browser accepts WebAuthn there: a secure context, and the relying party "localhost"),
and a client whose messages go out through a real SMTP server (tests/smtp_sink.py's) by
the outbox's sender thread, as `authflow serve --smtp ...` sends them."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import uvicorn

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy
from authflow.adapters.outbox import RetryPolicy
from authflow.adapters.outbox_sender import OutboxSender
from authflow.adapters.smtp import SmtpSettings, SmtpTransport
from authflow.server import create_app
from authflow.wire.protocol import Signing
from tests.conftest import TEST_CONFIG
from tests.http import REGION, SECRETS, Server, free_socket, now

QUICK = RetryPolicy(base=timedelta(milliseconds=100), cap=timedelta(milliseconds=400), lease=timedelta(seconds=5))


@contextmanager
def serving_localhost(client: authflow.Client | None = None) -> Iterator[Server]:
    """`tests.http.serving(issuer_style="local")`, but reached (and issuing) at localhost."""
    sock = free_socket()
    url = f"http://localhost:{sock.getsockname()[1]}"
    clock = outbox = None
    if client is None:
        clock, outbox = ManualClock(now()), MemoryOutbox()
        config = authflow.EngineConfig(kdf=TEST_CONFIG.kdf, signing_keys=TEST_CONFIG.signing_keys,
                                       issuer_base_url=url)
        client = authflow.Client(clock=clock, entropy=SeededEntropy(1), messenger=outbox, region=REGION,
                                 config=config)
    app = create_app(client, Signing(SECRETS), public_url=url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", proxy_headers=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield Server(url=url, client=client, clock=clock, outbox=outbox)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def sending_by_smtp(smtp_url: str) -> Iterator[authflow.Client]:
    """A client (memory store, real clock) whose e-mail goes to `smtp_url` by a running sender."""
    transports: dict = {}
    sender = OutboxSender(transports, policy=QUICK, idle_seconds=0.05)
    client = authflow.Client(store=MemoryStore(), messenger=sender, config=TEST_CONFIG, region=REGION)
    transports["EMAIL"] = SmtpTransport(SmtpSettings.parse(smtp_url), mail_from="Pool <auth@example.com>",
                                        clock=client.engine.now)
    sender.transports = transports  # the sender keeps its own copy of the mapping it was given
    sender.bind(client.engine).start()
    try:
        yield client
    finally:
        sender.stop()


def code_in(message) -> str:
    """The one-time code in a received e-mail (its plain-text part)."""
    part = message.get_body(preferencelist=("plain", "html"))
    found = re.search(r"\b(\d{6,8})\b", part.get_content())
    assert found, part.get_content()
    return found.group(1)
