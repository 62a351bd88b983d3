"""What the passwordless page tests share: `authflow serve`'s app at `http://localhost:<port>`
(a browser accepts WebAuthn there: a secure context, and the relying party "localhost"),
and a client whose messages go out through a real SMTP server (tests/smtp_sink.py's) by
the outbox's sender thread, as `authflow serve --smtp ...` sends them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import authflow
from authflow.adapters import MemoryStore
from authflow.adapters.outbox import RetryPolicy
from authflow.adapters.outbox_sender import OutboxSender
from authflow.adapters.smtp import SmtpSettings, SmtpTransport
from tests.conftest import TEST_CONFIG
from tests.http import REGION, Server, serving

QUICK = RetryPolicy(base=timedelta(milliseconds=100), cap=timedelta(milliseconds=400), lease=timedelta(seconds=5))


@contextmanager
def serving_localhost(client: authflow.Client | None = None) -> Iterator[Server]:
    """`tests.http.serving(issuer_style="local")`, but reached (and issuing) at localhost."""
    with serving(client, issuer_style="local", host="localhost") as server:
        yield server


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
