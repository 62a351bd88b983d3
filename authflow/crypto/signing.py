"""Minting and checking Cognito-style JWTs (RS256 ID and access tokens).

Theory of operation: `sign` writes the compact JWS itself, so the header is byte for byte
Cognito's (`{"kid":...,"alg":"RS256"}`, no `typ`) and the claims keep the caller's order.
`decode` trusts nothing in the token before its signature checks out: the header's `kid`
is looked up only in the JWKS handed in, the key is rebuilt from that JWK's public members
(`kty`, `n`, `e`) alone, and PyJWT verifies with RS256 as the only algorithm, so `alg:
none`, HS256-with-the-public-key and `jwk`/`jku` header tricks all fail. PyJWT is told to
require the claims Cognito always sets but not to look at the clock; time checks are made
here against the `now` argument. Every failure is a `TokenRejected` whose `reason` is
"expired" only for a token that is valid in every other respect, else "invalid".
Header and payload are parsed strictly before PyJWT sees them (canonical base64url, JSON
objects, no duplicate members, no NaN), so PyJWT and this module never read a token
differently, and no input string can raise anything but `TokenRejected`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from authflow.crypto.keys import RSA_BITS, private_key

ALGORITHM = "RS256"
TOKEN_USES = ("id", "access")
MAX_LEEWAY_SECONDS = 300
REQUIRED_CLAIMS = ("exp", "iat", "iss", "sub", "token_use")

Reason = Literal["invalid", "expired"]

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


class TokenRejected(Exception):
    """A token that must not be honoured; `reason` is "invalid" or "expired"."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        if reason not in ("invalid", "expired"):
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason
        self.detail = detail


def sign(claims: Mapping[str, Any], private_der: bytes, kid: str) -> str:
    """An RS256 JWT over `claims` (serialised in their given order) with Cognito's header."""
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    header = _b64url(_json_bytes({"kid": kid, "alg": ALGORITHM}))
    payload = _b64url(_json_bytes(dict(claims)))
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = private_key(private_der).sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(signature)}"


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a well-formed token, NOT verified: only for routing (finding the pool
    from `iss`), never for a decision."""
    _, claims = _parse(token)
    return claims


def decode(
    token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    token_use: str,
    client_id: str | Collection[str] | None,
    now: datetime,
    leeway: int = 0,
) -> dict[str, Any]:
    """The verified claims of `token`, or `TokenRejected`.

    `jwks` is the pool's `{"keys": [...]}`; `client_id` is one allowed app client id, a
    collection of them, or None to skip the client check (`aud` for ID tokens,
    `client_id` for access tokens). `leeway` (0..300 s) widens every time check.
    """
    if token_use not in TOKEN_USES:
        raise ValueError(f"token_use must be one of {TOKEN_USES}")
    if isinstance(leeway, bool) or not isinstance(leeway, int) or not 0 <= leeway <= MAX_LEEWAY_SECONDS:
        raise ValueError(f"leeway must be an int in 0..{MAX_LEEWAY_SECONDS}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")

    header, _ = _parse(token)
    if "crit" in header:
        raise TokenRejected("invalid", "critical header extensions are not supported")
    if header.get("alg") != ALGORITHM:
        raise TokenRejected("invalid", "alg must be RS256")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenRejected("invalid", "kid must be a string")
    jwk = _keys_by_kid(jwks).get(kid)
    if jwk is None:
        raise TokenRejected("invalid", "unknown kid")

    try:
        claims = jwt.decode(
            token,
            key=_verification_key(jwk),
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "require": list(REQUIRED_CLAIMS),
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenRejected("invalid", f"{type(exc).__name__}: {exc}") from None

    # Re-checked here too: some PyJWT releases (2.10.0) compared iss as a substring.
    if claims.get("iss") != issuer:
        raise TokenRejected("invalid", "wrong issuer")
    if claims.get("token_use") != token_use:
        raise TokenRejected("invalid", f"not an {token_use} token")
    if not isinstance(claims.get("sub"), str):
        raise TokenRejected("invalid", "sub must be a string")
    if client_id is not None:
        bound = claims.get("aud" if token_use == "id" else "client_id")
        allowed = {client_id} if isinstance(client_id, str) else client_id
        if not isinstance(bound, str) or bound not in allowed:
            raise TokenRejected("invalid", "token was issued to another client")

    now_ts = now.timestamp()
    exp = _numeric_date(claims, "exp")
    iat = _numeric_date(claims, "iat")
    if iat > now_ts + leeway:
        raise TokenRejected("invalid", "issued in the future")
    if "nbf" in claims and _numeric_date(claims, "nbf") > now_ts + leeway:
        raise TokenRejected("invalid", "not yet valid")
    if exp <= now_ts - leeway:
        raise TokenRejected("expired", "token has expired")
    return claims


def _parse(token: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, read strictly; the signature is only shape-checked."""
    if not isinstance(token, str):
        raise TokenRejected("invalid", "token must be a string")
    segments = token.split(".")
    if len(segments) != 3:
        raise TokenRejected("invalid", "a JWT has three segments")
    header_b64, payload_b64, signature_b64 = segments
    _unb64url(signature_b64)
    return _json_object(_unb64url(header_b64)), _json_object(_unb64url(payload_b64))


def _unb64url(segment: str) -> bytes:
    # Canonical, unpadded base64url only: one token, one spelling.
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise TokenRejected("invalid", "malformed base64url segment")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenRejected("invalid", "malformed base64url segment") from None
    if _b64url(raw) != segment:
        raise TokenRejected("invalid", "non-canonical base64url segment")
    return raw


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError):
        raise TokenRejected("invalid", "segment is not valid JSON") from None
    if not isinstance(value, dict):
        raise TokenRejected("invalid", "segment is not a JSON object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2: parsers disagree on repeated members, so refuse them.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _keys_by_kid(jwks: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, (list, tuple)):
        return {}
    return {key["kid"]: key for key in keys if isinstance(key, Mapping) and isinstance(key.get("kid"), str)}


def _verification_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    if jwk.get("kty") != "RSA":
        raise TokenRejected("invalid", "signing key is not RSA")
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise TokenRejected("invalid", "key is not for RS256 signatures")
    n, e = jwk.get("n"), jwk.get("e")
    if not isinstance(n, str) or not isinstance(e, str):
        raise TokenRejected("invalid", "malformed RSA key")
    return _public_key(n, e)


@functools.lru_cache(maxsize=256)
def _public_key(n: str, e: str) -> rsa.RSAPublicKey:
    # Only the public members go in, so a JWKS that wrongly carried `d` still yields a
    # public key, never a private one.
    try:
        key = RSAAlgorithm.from_jwk({"kty": "RSA", "n": n, "e": e})
    except (jwt.PyJWTError, ValueError) as exc:
        raise TokenRejected("invalid", f"malformed RSA key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < RSA_BITS:
        raise TokenRejected("invalid", "RSA key too short")
    return key


def _numeric_date(claims: Mapping[str, Any], name: str) -> int | float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenRejected("invalid", f"{name} must be a number")
    if isinstance(value, float) and not math.isfinite(value):  # 1e999 parses as inf
        raise TokenRejected("invalid", f"{name} must be a number")
    return value


def _json_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
