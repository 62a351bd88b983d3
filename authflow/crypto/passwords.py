"""Password hashing with Argon2id (from `cryptography`), stored as PHC strings.

Theory of operation: a password is never stored; the credential keeps
`$argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<hash>` (unpadded base64).
Parameters travel inside the string, so a hash made under an older profile still
verifies, and `needs_rehash` tells the service when to upgrade it. The salt comes
in as an argument (the service draws it from the Entropy port), so this module
stays pure. Parameters read back from a stored string are bounded before use: a
planted hash asking for 4 GiB must be refused, not allocated.
"""

from __future__ import annotations

import base64
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

SALT_BYTES = 16
HASH_BYTES = 32
MAX_PASSWORD_CHARS = 256

# Upper bounds for parameters read back from storage (imported or planted hashes).
_MAX_MEMORY_KIB = 1024 * 1024
_MAX_ITERATIONS = 10
_MAX_LANES = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class KdfParams:
    memory_kib: int
    iterations: int
    lanes: int = 1


#: OWASP / ASVS 5.0 floor for Argon2id: 19 MiB, t=2, p=1 (about 30 ms on 2 cores).
PRODUCTION = KdfParams(memory_kib=19_456, iterations=2, lanes=1)
#: For tests and the model checker only: fast, and far too weak for real passwords.
FAST_INSECURE = KdfParams(memory_kib=8, iterations=1, lanes=1)

# Each hash holds `memory_kib` of RAM; bound how many run at once (DoS by memory).
_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))


def hash_password(password: str, salt: bytes, params: KdfParams) -> str:
    if len(salt) < SALT_BYTES:
        raise ValueError("salt too short")
    digest = _derive(password, salt, params)
    return (
        f"$argon2id$v=19$m={params.memory_kib},t={params.iterations},p={params.lanes}"
        f"${_b64(salt)}${_b64(digest)}"
    )


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of `password` against a stored PHC string."""
    try:
        params, salt, expected = _parse(stored)
    except ValueError:
        return False
    return hmac.compare_digest(_derive(password, salt, params), expected)


def needs_rehash(stored: str, params: KdfParams) -> bool:
    try:
        current, _, _ = _parse(stored)
    except ValueError:
        return True
    return current != params


#: Where hashes run: None, in the calling thread; else a callable `run(fn, *args)` that
#: returns `fn(*args)` computed elsewhere. cryptography's Argon2id holds the GIL for the
#: whole hash, so the threads of one process hash one at a time and nothing else in that
#: process runs meanwhile; `authflow serve` hands in a process pool (`authflow.serve_hashing`).
_runner: Callable[..., bytes] | None = None


def run_hashes_with(runner: Callable[..., bytes] | None) -> None:
    """Set where `_derive` runs Argon2id (None: in the calling thread). Same results either way."""
    global _runner
    _runner = runner


def _derive(password: str, salt: bytes, params: KdfParams) -> bytes:
    data = password.encode("utf-8", "surrogatepass")
    with _slots:
        runner = _runner
        if runner is not None:
            return runner(argon2id, data, salt, params)
        return argon2id(data, salt, params)


def argon2id(data: bytes, salt: bytes, params: KdfParams) -> bytes:
    """The raw Argon2id digest (module level, so a process pool can run it by name)."""
    kdf = Argon2id(
        salt=salt,
        length=HASH_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(data)


def _parse(stored: str) -> tuple[KdfParams, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[1] != "argon2id" or parts[2] != "v=19":
        raise ValueError("not an argon2id PHC string")
    try:
        fields = dict(kv.split("=", 1) for kv in parts[3].split(","))
        params = KdfParams(memory_kib=int(fields["m"]), iterations=int(fields["t"]), lanes=int(fields["p"]))
    except (KeyError, ValueError):
        raise ValueError("malformed argon2id parameters") from None
    if not (
        8 * params.lanes <= params.memory_kib <= _MAX_MEMORY_KIB
        and 1 <= params.iterations <= _MAX_ITERATIONS
        and 1 <= params.lanes <= _MAX_LANES
    ):
        raise ValueError("argon2id parameters out of bounds")
    return params, _unb64(parts[4]), _unb64(parts[5])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
