"""Run `authflow serve`'s app on a free loopback port for a test, and talk to it with boto3.

Usage:

    with serving() as server:                 # fresh engine: fast KDF, test keys, seeded
        cognito = server.boto3()              # signed with the server's test credential
        cognito.create_user_pool(PoolName="p")
        server.client                         # the authflow.Client behind the server

`serving(client=..., secrets=None)` serves a given client or turns signing off. The engine's
clock starts at the real time (SigV4 signatures carry the real time and must be within 15
minutes of the server's clock); move it with `server.clock.advance(...)` only in tests that
do not sign afterwards, or sign with `server.boto3(...)` after moving it back.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import uvicorn

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy
from authflow.server import create_app
from authflow.wire.protocol import Signing
from tests.conftest import TEST_CONFIG

#: The access key the test servers accept (never a real AWS key).
KEY_ID = "AKIAAUTHFLOWTEST0001"
SECRET = "authflow-test-secret-access-key-0000000"
SECRETS = {KEY_ID: SECRET}
REGION = "us-east-1"


@dataclass
class Server:
    url: str
    client: authflow.Client
    clock: ManualClock | None
    outbox: MemoryOutbox | None

    def boto3(self, *, key_id: str = KEY_ID, secret: str = SECRET, signed: bool = True) -> Any:
        """A boto3 cognito-idp client for this server (no retries, so each call is one request)."""
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                        signature_version=UNSIGNED if not signed else None)
        return boto3.session.Session(
            aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=REGION,
        ).client("cognito-idp", endpoint_url=self.url, config=config)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@contextmanager
def serving(
    client: authflow.Client | None = None,
    *,
    secrets: Mapping[str, str] | None = SECRETS,
    issuer_style: str = "aws",
    seed: int = 1,
    host: str = "127.0.0.1",
) -> Iterator[Server]:
    """Serve `client` (or a fresh test engine) until the block ends. `host`: the name the
    server is reached (and, with issuer_style "local", issues) at; it listens on loopback
    either way (`localhost` for a browser's WebAuthn)."""
    sock = free_socket()
    port = sock.getsockname()[1]
    url = f"http://{host}:{port}"
    clock = outbox = None
    if client is None:
        clock, outbox = ManualClock(now()), MemoryOutbox()
        config = TEST_CONFIG
        if issuer_style == "local":
            config = authflow.EngineConfig(kdf=TEST_CONFIG.kdf, signing_keys=TEST_CONFIG.signing_keys,
                                           issuer_base_url=url)
        client = authflow.Client(clock=clock, entropy=SeededEntropy(seed), messenger=outbox,
                                 region=REGION, config=config)
    app = create_app(client, Signing(secrets), public_url=url)
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
