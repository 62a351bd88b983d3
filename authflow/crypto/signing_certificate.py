"""A pool's SAML signing certificate: a self-signed X.509 certificate over an RSA key.

Theory of operation: Cognito signs SAML authentication requests to identity providers with a
per-pool key and hands out its certificate (GetSigningCertificate) so that an IdP can check
them; the certificate is valid for ten years from issue. This module only builds the
certificate from what it is given: the private key (PKCS#8 DER, made by the engine's
`KeyFactory`), the serial number (drawn by the service from the Entropy port) and the dates
(from the Clock port). RSA PKCS#1 v1.5 signatures are deterministic, so the same inputs give
the same bytes: nothing here asks the system for time or randomness.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from authflow.crypto.keys import private_key

#: "The issued certificate is valid for 10 years from the date of issue." (API reference)
VALIDITY = timedelta(days=3650)
#: RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 159 random bits keep it so.
SERIAL_BYTES = 20


def serial_number(random: bytes) -> int:
    """A positive serial of at most 159 bits from `SERIAL_BYTES` random bytes."""
    if len(random) < SERIAL_BYTES:
        raise ValueError(f"a serial number needs {SERIAL_BYTES} random bytes")
    return (int.from_bytes(random[:SERIAL_BYTES], "big") >> 1) | 1


def self_signed(private_der: bytes, *, common_name: str, serial: int, issued: datetime) -> bytes:
    """The DER certificate for `private_der`, subject and issuer `CN=<common_name>`, valid
    from `issued` for `VALIDITY`, signed with SHA-256 by its own key."""
    key = private_key(private_der)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(issued)
        .not_valid_after(issued + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.DER)


def certificate_text(der: bytes) -> str:
    """What GetSigningCertificate returns: the DER in standard base64, no PEM armour (the
    form SAML metadata's `<ds:X509Certificate>` carries)."""
    return base64.b64encode(der).decode("ascii")
