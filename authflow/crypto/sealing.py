"""Sealed secrets: AES-256-GCM under a key-encryption key (KEK) held outside the store.

Theory of operation: secrets the engine must get back (a pool's HMAC secret, app client
secrets, the private halves of signing keys; later SRP verifiers) are stored only as
sealed blobs, so a dump of the database alone reveals none of them. The KEK comes from
the engine's configuration (`EngineConfig(kek=...)`, `AUTHFLOW_KEK` for `authflow serve`),
never from the store.

A blob is `b"af1" + key id (8 bytes) + nonce (12 bytes) + ciphertext-and-tag`. The key
id (the first 8 bytes of SHA-256 over the KEK) lets a `Keyring` hold the current KEK and
older ones: blobs are always sealed with the current one and opened with whichever
matches, so a KEK can be rotated without rewriting every row at once. The associated data
is a context string naming the record the blob belongs to (`pool-secret:<poolId>`), so a
blob copied into another row does not open. Nonces come from the caller (the engine's
entropy port), 96 random bits each.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"af1"
KEK_BYTES = 32
NONCE_BYTES = 12
_ID_BYTES = 8


class SealError(Exception):
    """A blob cannot be opened: wrong KEK, wrong record, or tampered bytes."""


def key_id(kek: bytes) -> bytes:
    return hashlib.sha256(kek).digest()[:_ID_BYTES]


@dataclass(frozen=True, slots=True)
class Keyring:
    """The current KEK (seals and opens) and retired ones (open only)."""

    current: bytes = field(repr=False)
    retired: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for kek in (self.current, *self.retired):
            if not isinstance(kek, bytes) or len(kek) != KEK_BYTES:
                raise ValueError(f"a key-encryption key is {KEK_BYTES} bytes")

    def find(self, wanted: bytes) -> bytes | None:
        for kek in (self.current, *self.retired):
            if key_id(kek) == wanted:
                return kek
        return None


def seal(keyring: Keyring, plaintext: bytes, context: str, nonce: bytes) -> bytes:
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"the nonce is {NONCE_BYTES} bytes")
    sealed = AESGCM(keyring.current).encrypt(nonce, plaintext, context.encode("utf-8"))
    return MAGIC + key_id(keyring.current) + nonce + sealed


def unseal(keyring: Keyring, blob: bytes, context: str) -> bytes:
    header = len(MAGIC) + _ID_BYTES + NONCE_BYTES
    if len(blob) < header + 16 or not blob.startswith(MAGIC):
        raise SealError(f"not a sealed blob ({context})")
    kek = keyring.find(blob[len(MAGIC):len(MAGIC) + _ID_BYTES])
    if kek is None:
        raise SealError(f"sealed with a key-encryption key this engine does not have ({context})")
    nonce = blob[len(MAGIC) + _ID_BYTES:header]
    try:
        return AESGCM(kek).decrypt(nonce, blob[header:], context.encode("utf-8"))
    except InvalidTag:
        raise SealError(f"sealed blob does not open ({context}): tampered, or sealed for another record") from None


def parse_kek(text: str) -> bytes:
    """A KEK from its text form: 64 hex digits, or base64 of 32 bytes."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 2 * KEK_BYTES else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("a key-encryption key is 64 hex digits or base64 of 32 bytes") from None
    if len(raw) != KEK_BYTES:
        raise ValueError(f"a key-encryption key is {KEK_BYTES} bytes, got {len(raw)}")
    return raw
