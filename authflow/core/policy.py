"""Password policy: checking a password against a pool's policy, and generating
temporary passwords that satisfy it.

Theory of operation: Cognito reports one reason only, length first, then the
character classes in a fixed order. Characters are counted per code point; nothing
is normalised, trimmed or case-folded (SRP clients hash the raw string, so any
normalisation here would make the password flows disagree). Upper and lower case
mean Basic Latin letters, as Cognito documents. Generated passwords use the
entropy the caller passes in, with rejection sampling so every character is
uniform, and always contain all four classes so that they satisfy any policy.
"""

from __future__ import annotations

import string
from typing import Protocol

from authflow.errors import InvalidPasswordException

#: Cognito's symbol set (32 characters).
SYMBOLS = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-"

#: Generated temporary passwords are at least this long (about 71 bits of entropy).
GENERATED_MIN_LENGTH = 12


class _Policy(Protocol):
    minimum_length: int
    require_uppercase: bool
    require_lowercase: bool
    require_numbers: bool
    require_symbols: bool


class EntropySource(Protocol):
    """What the core needs from the Entropy port (passed in as an argument)."""

    def random_bytes(self, n: int) -> bytes: ...


def policy_violation(password: str, policy: _Policy) -> str | None:
    """The reason `password` breaks `policy`, in Cognito's words, or None."""
    if len(password) < policy.minimum_length:
        return "Password not long enough"
    if policy.require_uppercase and not any(c in string.ascii_uppercase for c in password):
        return "Password must have uppercase characters"
    if policy.require_lowercase and not any(c in string.ascii_lowercase for c in password):
        return "Password must have lowercase characters"
    if policy.require_numbers and not any(c in string.digits for c in password):
        return "Password must have numeric characters"
    if policy.require_symbols and not any(c in SYMBOLS for c in password):
        return "Password must have symbol characters"
    return None


def check_password(password: str, policy: _Policy, *, admin: bool = False) -> None:
    """Raise `InvalidPasswordException` when `password` breaks `policy`.

    Admin operations (AdminCreateUser, AdminSetUserPassword) word the message
    "password policy"; the self-service ones say "policy".
    """
    reason = policy_violation(password, policy)
    if reason is not None:
        lead = "Password did not conform with password policy" if admin else "Password did not conform with policy"
        raise InvalidPasswordException(f"{lead}: {reason}")


def generate_password(policy: _Policy, entropy: EntropySource) -> str:
    """A random password satisfying `policy`, at least 12 characters long."""
    length = max(GENERATED_MIN_LENGTH, policy.minimum_length)
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS]
    chars = [_pick(cls, entropy) for cls in classes]
    everything = "".join(classes)
    chars += [_pick(everything, entropy) for _ in range(length - len(chars))]
    # Fisher-Yates with the same unbiased draws, so the class positions are random.
    for i in range(len(chars) - 1, 0, -1):
        j = _below(i + 1, entropy)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def _pick(alphabet: str, entropy: EntropySource) -> str:
    return alphabet[_below(len(alphabet), entropy)]


def _below(n: int, entropy: EntropySource) -> int:
    """A uniform integer in [0, n) for n <= 256, by rejection sampling."""
    limit = 256 - 256 % n
    while True:
        b = entropy.random_bytes(1)[0]
        if b < limit:
            return b % n
