"""SRP-6a exactly as Amazon Cognito's clients compute it (pycognito, amazon-cognito-identity-js).

Theory of operation: the group, the hashing conventions and the key derivation are fixed by
the clients, not by us (`reference/srp-and-clients.md` §2), so this module reproduces them to
the byte: the 3072-bit RFC 5054 group with g = 2, SHA-256 over *hex-decoded* concatenations of
`pad_hex` strings (Java's `BigInteger.toByteArray()` form), x bound to the pool name (the part
of the pool id after `_`) and the canonical username, the 16-byte HKDF key "Caldera Derived
Key", and the claim HMAC over poolName ‖ USER_ID_FOR_SRP ‖ SECRET_BLOCK ‖ TIMESTAMP.

Everything here is pure: random values (the salt, the server's secret `b`) come in as
arguments. Modular exponentiation goes through gmpy2 when it is installed (`authflow[fast]`)
and through Python's `pow` otherwise; `powmod(..., backend=...)` lets a test and the benchmark
compare the two, and both give the same integers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timezone

try:  # the optional speed-up; the pure path must always work
    import gmpy2
except ImportError:  # pragma: no cover - depends on the environment
    gmpy2 = None

#: RFC 5054 appendix A, 3072-bit group (the same prime as RFC 3526 group 15).
N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B"
    "F12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31"
    "43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key"
KEY_BYTES = 16
SALT_BYTES = 16
#: The server's secret exponent: 256 random bits at least (ASVS 2.9.2, RFC 5054); we draw 32 bytes.
B_SECRET_BYTES = 32

BACKENDS = ("gmpy2", "pure") if gmpy2 is not None else ("pure",)
DEFAULT_BACKEND = BACKENDS[0]


class SrpError(ValueError):
    """A value the protocol must refuse (A ≡ 0 mod N, u = 0, a malformed number or TIMESTAMP)."""


# -- primitives ------------------------------------------------------------------------------


def powmod(base: int, exponent: int, modulus: int, *, backend: str | None = None) -> int:
    """`base ** exponent % modulus`, through GMP when available (or when asked for)."""
    backend = backend or DEFAULT_BACKEND
    if backend == "gmpy2":
        if gmpy2 is None:
            raise RuntimeError("gmpy2 is not installed (pip install 'authflow[fast]')")
        return int(gmpy2.powmod(base, exponent, modulus))
    if backend != "pure":
        raise ValueError(f"unknown backend {backend!r}")
    return pow(base, exponent, modulus)


def pad_hex(n: int) -> str:
    """Lowercase hex, even length, with `00` in front when the top bit is set: the shortest
    two's-complement big-endian form (what both clients hash)."""
    if n < 0:
        raise ValueError("pad_hex of a negative number")
    text = f"{n:x}"
    if len(text) % 2:
        text = "0" + text
    elif text[0] in "89abcdef":
        text = "00" + text
    return text


def hash_hex(hex_text: str) -> str:
    """SHA-256 over the bytes a hex string spells, as 64 lowercase hex digits."""
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


K = int(hash_hex(pad_hex(N) + pad_hex(G)), 16)


def pool_name(pool_id: str) -> str:
    """What the clients call the pool name: the pool id after its first `_`."""
    return pool_id.split("_", 1)[1]


def parse_hex(text: str) -> int:
    """A wire integer (SRP_A): hex digits only, at most the size of N."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9a-fA-F]{1,1024}", text):
        raise SrpError("not a hexadecimal number")
    return int(text, 16)


# -- the verifier ----------------------------------------------------------------------------


def private_key(pool_id: str, user_id: str, password: str, salt: int) -> int:
    """x = H(padHex(salt) ‖ H(poolName ‖ userId ‖ ":" ‖ password))."""
    inner = hashlib.sha256(f"{pool_name(pool_id)}{user_id}:{password}".encode()).hexdigest()
    return int(hash_hex(pad_hex(salt) + inner), 16)


def verifier(pool_id: str, user_id: str, password: str, salt: int, *, backend: str | None = None) -> int:
    """v = g^x mod N, for the canonical username `user_id` (USER_ID_FOR_SRP)."""
    return powmod(G, private_key(pool_id, user_id, password, salt), N, backend=backend)


# -- the exchange ----------------------------------------------------------------------------


def check_a(big_a: int) -> None:
    """SRP-6a: A ≡ 0 (mod N) would make S = 0 whatever the password."""
    if big_a % N == 0:
        raise SrpError("SRP_A is 0 modulo N")


def server_b(v: int, b: int, *, backend: str | None = None) -> int:
    """B = (k·v + g^b) mod N. (B ≡ 0 happens with probability about 2^-3072; the service
    draws another b if it ever does.)"""
    return (K * v + powmod(G, b, N, backend=backend)) % N


def scrambler(big_a: int, big_b: int) -> int:
    """u = H(padHex(A) ‖ padHex(B)); u = 0 would make S independent of the verifier."""
    u = int(hash_hex(pad_hex(big_a) + pad_hex(big_b)), 16)
    if u == 0:
        raise SrpError("u is 0")
    return u


def server_secret(big_a: int, v: int, u: int, b: int, *, backend: str | None = None) -> int:
    """S = (A · v^u)^b mod N."""
    return powmod(big_a * powmod(v, u, N, backend=backend) % N, b, N, backend=backend)


def session_key(s: int, u: int) -> bytes:
    """HKDF-SHA-256 (one block): salt = padHex(u), IKM = padHex(S), info = "Caldera Derived
    Key", 16 bytes."""
    prk = hmac.new(bytes.fromhex(pad_hex(u)), bytes.fromhex(pad_hex(s)), hashlib.sha256).digest()
    return hmac.new(prk, INFO + b"\x01", hashlib.sha256).digest()[:KEY_BYTES]


def claim_signature(key: bytes, pool_id: str, user_id: str, secret_block: bytes, timestamp: str) -> str:
    """PASSWORD_CLAIM_SIGNATURE: base64(HMAC(K, poolName ‖ userId ‖ SECRET_BLOCK ‖ TIMESTAMP))."""
    return _signature(key, pool_name(pool_id), user_id, secret_block, timestamp)


def _signature(key: bytes, realm: str, user_id: str, secret_block: bytes, timestamp: str) -> str:
    message = realm.encode() + user_id.encode() + secret_block + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def claim_matches(
    *, pool_id: str, user_id: str, v: int, big_a: int, b: int, u: int,
    secret_block: bytes, timestamp: str, signature: str, backend: str | None = None,
) -> bool:
    """Does the client's signature prove knowledge of the password behind `v`?
    Compared in constant time."""
    return _proof_matches(pool_name(pool_id), user_id, v, big_a, b, u, secret_block, timestamp, signature, backend)


def device_claim_matches(
    *, group_key: str, device_key: str, v: int, big_a: int, b: int, u: int,
    secret_block: bytes, timestamp: str, signature: str, backend: str | None = None,
) -> bool:
    """The same proof for a device (DEVICE_PASSWORD_VERIFIER): the clients run user SRP
    with the DeviceGroupKey as the pool name and the DeviceKey as the username, over the
    verifier they registered with ConfirmDevice."""
    return _proof_matches(group_key, device_key, v, big_a, b, u, secret_block, timestamp, signature, backend)


def _proof_matches(
    realm: str, user_id: str, v: int, big_a: int, b: int, u: int, secret_block: bytes, timestamp: str,
    signature: str, backend: str | None,
) -> bool:
    key = session_key(server_secret(big_a, v, u, b, backend=backend), u)
    expected = _signature(key, realm, user_id, secret_block, timestamp)
    return hmac.compare_digest(expected.encode(), signature.encode())


# -- TIMESTAMP -------------------------------------------------------------------------------

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIMESTAMP = re.compile(
    r"(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]) UTC ([0-9]{4})"
)


def parse_timestamp(text: str) -> datetime:
    """The clients' TIMESTAMP (`Tue Mar 3 07:05:09 UTC 2026`: English names, day of month not
    padded) as an aware datetime; anything else, or a weekday that is not the date's, is
    refused. Parsed by hand: strptime would follow the process locale."""
    match = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise SrpError("TIMESTAMP is not in the form 'Www Mmm D HH:MM:SS UTC YYYY'")
    day_name, month, day, hour, minute, second, year = match.groups()
    try:
        when = datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second),
                        tzinfo=timezone.utc)
    except ValueError:
        raise SrpError("TIMESTAMP names a date that does not exist") from None
    if _DAYS[when.weekday()] != day_name:
        raise SrpError("TIMESTAMP's weekday does not match its date")
    return when


def format_timestamp(when: datetime) -> str:
    """The form the clients send (for tests and tools)."""
    when = when.astimezone(timezone.utc)
    return (f"{_DAYS[when.weekday()]} {_MONTHS[when.month - 1]} {when.day} "
            f"{when:%H:%M:%S} UTC {when.year}")
