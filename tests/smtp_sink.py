"""A real SMTP server for delivery tests: aiosmtpd's Controller on a free loopback port,
keeping every message it accepted (parsed), optionally slow, with STARTTLS and AUTH."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    message: EmailMessage
    at: float  # time.time() when the server accepted it (before its 250 reply)

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


class Sink:
    """Collects what it accepts. `delay` seconds pass between receiving DATA and replying
    250 (so a test can kill a sender in the gap)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[Received] = []
        self.delay = delay
        self.logins: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        import asyncio

        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append(Received(parsed, time.time()))
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 OK"

    def ids(self) -> list[str]:
        with self._lock:
            return [r.message_id for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} message(s) arrived, not {count}, within {timeout} s")

    def authenticator(self, user: str, password: str):
        """An aiosmtpd authenticator accepting exactly this user and password."""
        from aiosmtpd.smtp import AuthResult, LoginPassword

        def check(server, session, envelope, mechanism, auth_data):
            if isinstance(auth_data, LoginPassword):
                given = (auth_data.login.decode(), auth_data.password.decode())
                self.logins.append(given)
                return AuthResult(success=given == (user, password), handled=False)
            return AuthResult(success=False, handled=False)

        return check


def controller(sink: Sink, port: int, **kwargs):
    """A started aiosmtpd Controller for `sink` on `port` (stop it with .stop())."""
    from aiosmtpd.controller import Controller

    server = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    server.start()
    return server


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1 (STARTTLS and SMTPS tests)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def running_sink() -> Iterator[Sink]:
    """A Sink behind a started server on a free loopback port; `sink.url` is its smtp:// URL."""
    sink = Sink()
    port = free_port()
    server = controller(sink, port)
    sink.url = f"smtp://127.0.0.1:{port}"
    try:
        yield sink
    finally:
        server.stop()
