"""A software WebAuthn authenticator for the model checker (and anyone testing against
authflow), on `cryptography` and `cbor2` only, and deterministic: the key pair and the
credential id are functions of a seed, and signatures are RFC 6979 deterministic ECDSA, so
every run of `authflow explore` sends the same bytes.

`registration(seed, options, origin)` answers PublicKeyCredentialCreationOptionsJSON (what
StartWebAuthnRegistration returns) with a RegistrationResponseJSON, as a browser's
`credential.toJSON()` makes it; `assertion(seed, ...)` answers a challenge with an
AuthenticationResponseJSON carrying a given sign counter. They are pure: the explorer keeps
the counter in its own (immutable) state. `SoftAuthenticator` wraps them with the interface
of tests/webauthn_authenticator.py (create / get, a counter that each `get` moves,
`last_assertion` to replay), for ES256 keys and "none" attestation.

Written from the WebAuthn spec (L3 §6.1 authenticator data, §6.5.1 attested credential
data, §6.5.4 the "none" format, §5.8.1 client data), never from authflow's own code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

#: The order of the P-256 group (a private scalar is taken modulo it).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: An AAGUID of zeros, as "none" attestation and many passkey providers send it.
ZERO_AAGUID = bytes(16)
UP, UV, AT = 0x01, 0x04, 0x40  # authenticator data flags (§6.1)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=64)
def private_key(seed: bytes) -> ec.EllipticCurvePrivateKey:
    """The ES256 key of `seed` (a zero scalar, impossible in practice, becomes 1)."""
    return ec.derive_private_key(int.from_bytes(seed, "big") % P256_ORDER or 1, ec.SECP256R1())


def credential_id(seed: bytes) -> bytes:
    """The credential id the authenticator of `seed` makes (32 bytes)."""
    return hashlib.sha256(b"webauthn-credential-id:" + seed).digest()


def cose_public_key(seed: bytes) -> bytes:
    """The COSE_Key (EC2, P-256, ES256) of `seed`'s public key."""
    numbers = private_key(seed).public_key().public_numbers()
    return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})


def authenticator_data(rp_id: str, sign_count: int, *, user_verified: bool = True, attested: bytes = b"") -> bytes:
    """rpIdHash || flags || signCount (big-endian) || attested credential data."""
    flags = UP | (UV if user_verified else 0) | (AT if attested else 0)
    return hashlib.sha256(rp_id.encode("utf-8")).digest() + bytes([flags]) + sign_count.to_bytes(4, "big") + attested


def sign_count_of(authenticator_data_b64: str) -> int:
    """The signCount an authenticator data (base64url) carries."""
    return int.from_bytes(unb64url(authenticator_data_b64)[33:37], "big")


def client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
                      separators=(",", ":")).encode("utf-8")


def _options(options: str | Mapping[str, Any]) -> Mapping[str, Any]:
    return json.loads(options) if isinstance(options, str) else options


def _credential(seed: bytes, response: dict[str, Any], attachment: str | None) -> dict[str, Any]:
    cid = b64url(credential_id(seed))
    out: dict[str, Any] = {"id": cid, "rawId": cid, "type": "public-key", "response": response,
                           "clientExtensionResults": {}}
    if attachment:
        out["authenticatorAttachment"] = attachment
    return out


def registration(seed: bytes, options: str | Mapping[str, Any], origin: str, *, sign_count: int = 0,
                 user_verified: bool = True, transports: tuple[str, ...] = ("internal", "hybrid"),
                 attachment: str | None = "platform") -> dict[str, Any]:
    """navigator.credentials.create(): the RegistrationResponseJSON of `seed`'s key for the
    options' RP, user and challenge ("none" attestation)."""
    given = _options(options)
    cid = credential_id(seed)
    attested = ZERO_AAGUID + len(cid).to_bytes(2, "big") + cid + cose_public_key(seed)
    data = authenticator_data(given["rp"]["id"], sign_count, user_verified=user_verified, attested=attested)
    attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data})
    response = {"clientDataJSON": b64url(client_data("webauthn.create", given["challenge"], origin)),
                "attestationObject": b64url(attestation), "transports": list(transports)}
    return _credential(seed, response, attachment)


def assertion(seed: bytes, options: str | Mapping[str, Any], origin: str, *, sign_count: int, user_handle: bytes,
              user_verified: bool = True, attachment: str | None = "platform") -> dict[str, Any]:
    """navigator.credentials.get(): the AuthenticationResponseJSON of `seed`'s key over the
    options' challenge, carrying `sign_count`. It signs whatever allowCredentials says (a
    client may offer a passkey the server did not ask for; the server must refuse it)."""
    given = _options(options)
    data = authenticator_data(given["rpId"], sign_count, user_verified=user_verified)
    cdata = client_data("webauthn.get", given["challenge"], origin)
    signature = private_key(seed).sign(data + hashlib.sha256(cdata).digest(),
                                       ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    response = {"clientDataJSON": b64url(cdata), "authenticatorData": b64url(data), "signature": b64url(signature),
                "userHandle": b64url(user_handle)}
    return _credential(seed, response, attachment)


class SoftAuthenticator:
    """One passkey of `seed`: made by `create`, used by `get` (each `get` adds
    `counter_step` to the counter first; 0 is an authenticator that keeps no counter)."""

    def __init__(self, *, seed: bytes, user_verified: bool = True, attachment: str | None = "platform",
                 transports: tuple[str, ...] = ("internal", "hybrid"), sign_count: int = 0,
                 counter_step: int = 1) -> None:
        self.seed = seed
        self.user_verified = user_verified
        self.attachment = attachment
        self.transports = tuple(transports)
        self.sign_count = sign_count
        self.counter_step = counter_step
        self.rp_id: str | None = None
        self.user_handle: bytes | None = None
        self.last_assertion: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return b64url(credential_id(self.seed))

    def create(self, options: str | Mapping[str, Any], origin: str) -> dict[str, Any]:
        given = _options(options)
        self.rp_id = given["rp"]["id"]
        self.user_handle = unb64url(given["user"]["id"])
        return registration(self.seed, given, origin, sign_count=self.sign_count, user_verified=self.user_verified,
                            transports=self.transports, attachment=self.attachment)

    def get(self, options: str | Mapping[str, Any], origin: str) -> dict[str, Any]:
        given = dict(_options(options))
        given.setdefault("rpId", self.rp_id)
        self.sign_count += self.counter_step
        self.last_assertion = assertion(self.seed, given, origin, sign_count=self.sign_count,
                                        user_handle=self.user_handle or b"", user_verified=self.user_verified,
                                        attachment=self.attachment)
        return self.last_assertion
