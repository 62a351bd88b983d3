"""A software WebAuthn authenticator for the tests, after soft-webauthn's design, on
python-fido2 2.x's primitives (soft-webauthn itself pins fido2<2, which cannot live beside
authlib's cryptography>=45).

`create(options, origin)` answers PublicKeyCredentialCreationOptionsJSON (what
StartWebAuthnRegistration returns) with a RegistrationResponseJSON, the way a browser's
`credential.toJSON()` makes it; `get(options, origin)` answers
PublicKeyCredentialRequestOptionsJSON with an AuthenticationResponseJSON. One instance holds
one credential. The knobs are what the refusal tests need: the UV flag, the rpIdHash of
another RP, another key algorithm (Ed25519, which Cognito does not offer), another
attestation format, the sign counter (set it back to replay a counter), and `last_assertion`
to replay an old answer as it was.

Written from the WebAuthn spec (L3 §6.1 authenticator data, §6.5 attestation, §7 the RP's
checks), never from authflow's own code.
"""

from __future__ import annotations

import base64
import json
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from fido2 import cbor
from fido2.cose import ES256, EdDSA
from fido2.utils import sha256
from fido2.webauthn import AttestedCredentialData, AuthenticatorData

#: An AAGUID of zeros, as "none" attestation and many passkey providers send it.
ZERO_AAGUID = bytes(16)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One passkey: made by `create`, used by `get`."""

    def __init__(self, *, user_verified: bool = True, attachment: str | None = "platform",
                 transports: tuple[str, ...] = ("internal", "hybrid"), algorithm: str = "ES256",
                 fmt: str = "none", aaguid: bytes = ZERO_AAGUID, credential_id: bytes | None = None) -> None:
        self.user_verified = user_verified
        self.attachment = attachment
        self.transports = list(transports)
        self.algorithm = algorithm
        self.fmt = fmt
        self.aaguid = aaguid
        #: Set to another RP ID to sign for it (the rpIdHash knob).
        self.rp_id_hash_of: str | None = None
        self.sign_count = 0
        #: Added to the counter by each `get` (0: an authenticator that keeps no counter).
        self.counter_step = 1
        #: Given: every `create` makes a credential of this id (to register one id twice).
        self.fixed_id = credential_id
        self.credential_id: bytes | None = None
        self.rp_id: str | None = None
        self.user_handle: bytes | None = None
        self.last_assertion: dict | None = None
        self._key = None

    @property
    def id(self) -> str:
        assert self.credential_id is not None, "create() first"
        return b64url(self.credential_id)

    def _flags(self, *, attested: bool) -> AuthenticatorData.FLAG:
        flags = AuthenticatorData.FLAG.UP
        if self.user_verified:
            flags |= AuthenticatorData.FLAG.UV
        if attested:
            flags |= AuthenticatorData.FLAG.AT
        return flags

    def _rp_hash(self, rp_id: str) -> bytes:
        return sha256((self.rp_id_hash_of or rp_id).encode("utf-8"))

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
                          separators=(",", ":")).encode("utf-8")

    def create(self, options: dict, origin: str) -> dict:
        """navigator.credentials.create(): a new key pair for options["rp"]["id"]."""
        rp_id = options["rp"]["id"]
        if self.algorithm == "EdDSA":
            self._key = ed25519.Ed25519PrivateKey.generate()
            cose = EdDSA.from_cryptography_key(self._key.public_key())
        else:
            self._key = ec.generate_private_key(ec.SECP256R1())
            cose = ES256.from_cryptography_key(self._key.public_key())
        self.credential_id = self.fixed_id or os.urandom(32)
        self.rp_id = rp_id
        self.user_handle = unb64url(options["user"]["id"])
        attested = AttestedCredentialData.create(self.aaguid, self.credential_id, cose)
        auth_data = AuthenticatorData.create(self._rp_hash(rp_id), self._flags(attested=True), self.sign_count,
                                             bytes(attested))
        attestation = cbor.encode({"fmt": self.fmt, "attStmt": {}, "authData": bytes(auth_data)})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        response = {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                    "transports": list(self.transports)}
        return self._credential(response)

    def get(self, options: dict, origin: str) -> dict:
        """navigator.credentials.get(): an assertion over the options' challenge."""
        assert self.credential_id is not None and self._key is not None, "create() first"
        allowed = [c["id"] for c in options.get("allowCredentials") or []]
        assert not allowed or self.id in allowed, "this passkey is not among allowCredentials"
        self.sign_count += self.counter_step
        auth_data = bytes(AuthenticatorData.create(self._rp_hash(options.get("rpId") or self.rp_id),
                                                   self._flags(attested=False), self.sign_count))
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + sha256(client_data)
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            signature = self._key.sign(signed)
        else:
            signature = self._key.sign(signed, ec.ECDSA(hashes.SHA256()))
        response = {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature), "userHandle": b64url(self.user_handle or b"")}
        self.last_assertion = self._credential(response)
        return self.last_assertion

    def _credential(self, response: dict) -> dict:
        credential = {"id": self.id, "rawId": self.id, "type": "public-key", "response": response,
                      "clientExtensionResults": {}}
        if self.attachment:
            credential["authenticatorAttachment"] = self.attachment
        return credential
