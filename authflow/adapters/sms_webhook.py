"""SMS by webhook: the transport `authflow serve --sms-webhook URL` gives the outbox's sender.

Theory of operation: authflow sends no SMS itself; it POSTs each SMS message as JSON to a
URL of yours, which relays it (to an SMS gateway, a chat channel, a test's inbox):

    POST URL
    Content-Type: application/json
    Idempotency-Key: <messageId>

    {"destination": "+15555550100", "body": "Your code is 123456", "kind": "mfa_code",
     "userPoolId": "us-east-1_AbC", "username": "alice", "messageId": "<outbox id>"}

Any 2xx answer means sent; anything else (or no answer within the timeout) is a failed
attempt, retried with the outbox's backoff. `messageId` (and the Idempotency-Key header) is
the same on every resend of one message, so the receiver can drop the resend that follows a
crash between its answer and authflow's mark. Use https:// for anything but a local
receiver: the body carries codes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from authflow.core.effects import Message


class WebhookUrlError(ValueError):
    """The --sms-webhook URL cannot be used."""


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlError(f"--sms-webhook must be an http:// or https:// URL, not {url!r}")
    return url


def redacted(url: str) -> str:
    """The URL as the banner shows it: no user information, no query (either may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?..." if parts.query else "")


def payload(message: Message, *, message_id: str) -> dict[str, str]:
    return {
        "destination": message.destination, "body": message.body, "kind": message.kind,
        "userPoolId": message.pool_id, "username": message.username, "messageId": message_id,
    }


class SmsWebhook:
    """POSTs SMS messages to a URL (see the module's theory of operation)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = check_url(url)
        self.timeout = timeout

    def send(self, message: Message, *, message_id: str) -> None:
        if message.medium != "SMS":
            raise ValueError(f"the SMS webhook sends SMS messages, not {message.medium}")
        request = urllib.request.Request(
            self.url, data=json.dumps(payload(message, message_id=message_id)).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": message_id,
                     "User-Agent": "authflow-outbox"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (checked scheme)
                response.read()
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"the SMS webhook answered {err.code} {err.reason}") from None

    def close(self) -> None:
        """Nothing to close: one request per message."""
