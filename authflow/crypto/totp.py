"""TOTP (RFC 6238) as Cognito's software-token MFA uses it: HMAC-SHA1, 6 digits, 30-second
steps from the Unix epoch (`cryptography`'s implementation).

The secret is handed to users as RFC 4648 base32 without padding (what authenticator apps
and pyotp take). `matching_step` tells which time step near `now` a code belongs to, so
that the caller can accept each step's code once; every candidate step is compared in
constant time, so the answer's timing does not tell which one matched.
"""

from __future__ import annotations

import base64
import hmac
from datetime import datetime

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

SECRET_BYTES = 32
DIGITS = 6
STEP_SECONDS = 30


def encode_secret(raw: bytes) -> str:
    """A SecretCode: base32 of the secret bytes, no padding."""
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def step_of(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code of time step `step`."""
    totp = TOTP(_key(secret), DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=False)
    return totp.generate(step * STEP_SECONDS).decode("ascii")


def matching_step(secret: str, code: str, *, now: datetime, skew: int) -> int | None:
    """The step within `skew` steps of `now` whose code is `code` (the earliest), or None."""
    current = step_of(now)
    matched = None
    for step in range(current - skew, current + skew + 1):
        if hmac.compare_digest(code_at(secret, step).encode(), code.encode()) and matched is None:
            matched = step
    return matched
