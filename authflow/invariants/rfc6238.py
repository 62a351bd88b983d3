"""TOTP as RFC 6238 defines it (with RFC 4226's HOTP), written from the RFCs with the
standard library only and no authflow import, so that the invariants and the model checker
judge and make codes independently of the engine's own TOTP (`authflow.crypto.totp`):
HMAC-SHA1, 6 digits, time steps of X = 30 s from T0 = 0, secrets as RFC 4648 base32
without padding (Cognito's SecretCode)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from functools import lru_cache

STEP_SECONDS = 30


@lru_cache(maxsize=4096)
def key_of(secret: str) -> bytes:
    """The key bytes of a base32 SecretCode (case-blind, the padding restored). Cached: a
    model checker asks for the same few secrets on every step."""
    text = secret.strip().upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


@lru_cache(maxsize=65536)
def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    """RFC 4226 §5.3: the dynamically truncated HMAC-SHA1 of the 8-byte counter, mod 10^digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return str((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 10 ** digits).zfill(digits)


def time_step(unix_time: float) -> int:
    """RFC 6238 §4.2: T = floor((time - T0) / X)."""
    return int(unix_time // STEP_SECONDS)


def code(secret: str, step: int) -> str:
    """The code of time step `step` for the SecretCode `secret`."""
    return hotp(key_of(secret), step)


def steps_of(secret: str, given: str, around: int, skew: int = 1) -> list[int]:
    """The time steps within `skew` of `around` whose code is `given`, earliest first."""
    try:
        key = key_of(secret)
    except ValueError:
        return []
    return [s for s in range(around - skew, around + skew + 1) if hotp(key, s) == given]
