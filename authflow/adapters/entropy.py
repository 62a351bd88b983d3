"""Randomness: the operating system's CSPRNG, and a seeded source for repeatable runs."""

from __future__ import annotations

import random
import secrets

from authflow.ports import Entropy


def random_string(entropy: Entropy, length: int, alphabet: str) -> str:
    """`length` characters drawn uniformly from `alphabet` (rejection sampling, so no
    character is likelier than another)."""
    out: list[str] = []
    limit = 256 - 256 % len(alphabet)
    while len(out) < length:
        for b in entropy.random_bytes(length * 2):
            if b < limit and len(out) < length:
                out.append(alphabet[b % len(alphabet)])
    return "".join(out)


class SystemEntropy:
    """Cryptographically secure bytes from the operating system."""

    def random_bytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)


class SeededEntropy:
    """Deterministic bytes from a seed. For tests and the model checker only: never
    use it to serve real users, every secret it yields is predictable."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)
