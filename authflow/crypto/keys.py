"""RSA signing keys for Cognito-style tokens, and the public JWKs published for them.

Theory of operation: a signing key is an RSA-2048 private key (e = 65537) held as
unencrypted PKCS#8 DER bytes, so the store keeps plain bytes and this module stays free
of any key object lifetime. A `KeyFactory` makes new keys: `PRODUCTION_KEYS` draws a
fresh key from the operating system's generator each time; `TEST_KEYS` hands out a few
keys made once per process, because RSA key generation costs tens of milliseconds and a
test suite creates thousands of pools. The `kid` that names a key in the pool's JWKS is
derived from caller-supplied random bytes (the service draws them from the Entropy port).
`public_jwk` is the only way a key leaves this module, and it carries public members only.
"""

from __future__ import annotations

import base64
import functools
import queue
import threading
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_BITS = 2048
RSA_PUBLIC_EXPONENT = 65537
KID_RANDOM_BYTES = 32

KeyFactory = Callable[[], bytes]


def generate_private_key() -> bytes:
    """A fresh RSA-2048 signing key as unencrypted PKCS#8 DER (slow: tens of ms)."""
    key = rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_BITS)
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


class _RotatingTestKeys:
    """A few keys made on first use, then handed out in turn (thread-safe)."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._lock = threading.Lock()
        self._keys: tuple[bytes, ...] = ()
        self._next = 0

    def __call__(self) -> bytes:
        with self._lock:
            if not self._keys:
                self._keys = tuple(generate_private_key() for _ in range(self._count))
            key = self._keys[self._next]
            self._next = (self._next + 1) % self._count
            return key


class KeyReservoir:
    """A production `KeyFactory` whose keys are made ahead of time: a daemon thread keeps up
    to `size` fresh RSA-2048 keys ready, each handed out once, so CreateUserPool (two keys,
    about 150 ms of key generation) does not wait for them. When the reservoir is empty a
    key is made on the spot, as `generate_private_key` does. The thread starts on the first
    call, so a process forked before it (a server worker) starts its own."""

    def __init__(self, size: int = 4, make: KeyFactory = generate_private_key) -> None:
        self._ready: queue.Queue[bytes] = queue.Queue(maxsize=size)
        self._make = make
        self._lock = threading.Lock()
        self._filler: threading.Thread | None = None

    def __call__(self) -> bytes:
        self._start()
        try:
            return self._ready.get_nowait()
        except queue.Empty:
            return self._make()

    def _start(self) -> None:
        if self._filler is not None:
            return
        with self._lock:
            if self._filler is None:
                self._filler = threading.Thread(target=self._fill, name="authflow-key-reservoir", daemon=True)
                self._filler.start()

    def _fill(self) -> None:
        while True:
            self._ready.put(self._make())  # blocks while the reservoir is full


#: A fresh key for every call: what a real deployment must use.
PRODUCTION_KEYS: KeyFactory = generate_private_key
#: FOR TESTS AND THE MODEL CHECKER ONLY. INSECURE: four keys are generated once per
#: process and then shared, in rotation, by every pool that asks, so a key leaked from
#: one pool signs for many. Never configure it for a deployment.
TEST_KEYS: KeyFactory = _RotatingTestKeys(4)


@functools.lru_cache(maxsize=256)
def private_key(der: bytes) -> rsa.RSAPrivateKey:
    """The key object for PKCS#8 DER bytes, cached: parsing DER for every token is slow."""
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def public_jwk(private_der: bytes, kid: str) -> dict[str, str]:
    """The public JWK for a signing key, member for member as Cognito publishes it.

    Built from the public numbers alone, so no private member can leak into a JWKS.
    """
    numbers = private_key(private_der).public_key().public_numbers()
    return {
        "alg": "RS256",
        "e": _b64url_uint(numbers.e),
        "kid": kid,
        "kty": "RSA",
        "n": _b64url_uint(numbers.n),
        "use": "sig",
    }


def new_kid(random: bytes) -> str:
    """A Cognito-shaped kid: standard base64 (44 chars) of the first 32 random bytes."""
    if len(random) < KID_RANDOM_BYTES:
        raise ValueError(f"a kid needs {KID_RANDOM_BYTES} random bytes")
    return base64.b64encode(random[:KID_RANDOM_BYTES]).decode("ascii")


def _b64url_uint(value: int) -> str:
    # RFC 7518 §6.3.1: big-endian, minimal length, unpadded base64url.
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
