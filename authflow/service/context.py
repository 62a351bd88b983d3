"""What the facade knows of the request that the engine may record: the caller's network
address (a device's `last_ip_used`).

The HTTP server sets it for the duration of one request (`peer(...)`), from the TCP peer
only: a forwarded-for header is whatever the caller chose to write, so it is never taken
in its place. In process there is no address, and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_PEER: ContextVar[str | None] = ContextVar("authflow_peer", default=None)


@contextmanager
def peer(address: str | None) -> Iterator[None]:
    token = _PEER.set(address)
    try:
        yield
    finally:
        _PEER.reset(token)


def client_address() -> str | None:
    """The caller's IP address, when the facade knows it."""
    return _PEER.get()
