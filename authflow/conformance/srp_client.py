"""A Cognito SRP client written straight from `reference/srp-and-clients.md` §2, without
importing anything from authflow, so that the engine is checked against the specification
and not against itself: the conformance scenarios answer PASSWORD_VERIFIER with it
(`$srp_a`, `$srp_answer` in `authflow.conformance.values`), and the tests use it too."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def pad(n: int) -> str:
    """§2.2: even-length lowercase hex, `00` in front when the first digit is 8-f."""
    h = format(n, "x")
    if len(h) % 2 == 1:
        h = "0" + h
    elif h[0] in "89abcdef":
        h = "00" + h
    return h


def h_hex(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


K = int(h_hex(pad(N) + pad(G)), 16)


def timestamp(when: datetime) -> str:
    when = when.astimezone(timezone.utc)
    return f"{DAYS[when.weekday()]} {MONTHS[when.month - 1]} {when.day} {when:%H:%M:%S} UTC {when.year}"


def x_of(pool_id: str, user_id: str, password: str, salt_hex: str) -> int:
    inner = hashlib.sha256(f"{pool_id.split('_', 1)[1]}{user_id}:{password}".encode()).hexdigest()
    return int(h_hex(pad(int(salt_hex, 16)) + inner), 16)


def key_of(s: int, u: int) -> bytes:
    prk = hmac.new(bytes.fromhex(pad(u)), bytes.fromhex(pad(s)), hashlib.sha256).digest()
    return hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]


class SrpClient:
    """One sign-in attempt: `srp_a` for InitiateAuth, `answer(...)` for the challenge."""

    def __init__(self, pool_id: str, a: int) -> None:
        self.pool_id = pool_id
        self.a = a
        self.big_a = pow(G, a, N)

    @property
    def srp_a(self) -> str:
        return format(self.big_a, "x")

    def signature(self, parameters: dict, password: str, when: str) -> str:
        big_b = int(parameters["SRP_B"], 16)
        user_id = parameters["USER_ID_FOR_SRP"]
        u = int(h_hex(pad(self.big_a) + pad(big_b)), 16)
        x = x_of(self.pool_id, user_id, password, parameters["SALT"])
        s = pow((big_b - K * pow(G, x, N)) % N, self.a + u * x, N)
        key = key_of(s, u)
        message = (self.pool_id.split("_", 1)[1].encode() + user_id.encode()
                   + base64.b64decode(parameters["SECRET_BLOCK"]) + when.encode())
        return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()

    def answer(self, parameters: dict, password: str, now: datetime, *, username: str | None = None,
               when: str | None = None) -> dict:
        """ChallengeResponses for PASSWORD_VERIFIER, as amazon-cognito-identity-js sends them."""
        when = when or timestamp(now)
        return {
            "USERNAME": username or parameters["USER_ID_FOR_SRP"],
            "PASSWORD_CLAIM_SECRET_BLOCK": parameters["SECRET_BLOCK"],
            "TIMESTAMP": when,
            "PASSWORD_CLAIM_SIGNATURE": self.signature(parameters, password, when),
        }


# -- device SRP (`reference/devices-groups-mfa.md` §1.4) ------------------------------------


def device_registration(group_key: str, device_key: str, password: str, salt: bytes) -> dict:
    """DeviceSecretVerifierConfig as both clients build it before ConfirmDevice."""
    full = hashlib.sha256(f"{group_key}{device_key}:{password}".encode()).hexdigest()
    salt_hex = pad(int.from_bytes(salt, "big"))
    v = pow(G, int(h_hex(salt_hex + full), 16), N)
    return {
        "PasswordVerifier": base64.b64encode(bytes.fromhex(pad(v))).decode(),
        "Salt": base64.b64encode(bytes.fromhex(salt_hex)).decode(),
    }


class DeviceSrpClient:
    """One device sign-in: `srp_a` for DEVICE_SRP_AUTH, `answer(...)` for
    DEVICE_PASSWORD_VERIFIER (the user SRP with the group key as pool name and the device
    key as username)."""

    def __init__(self, group_key: str, device_key: str, password: str, a: int) -> None:
        self.group_key, self.device_key, self.password = group_key, device_key, password
        self.a = a
        self.big_a = pow(G, a, N)

    @property
    def srp_a(self) -> str:
        return format(self.big_a, "x")

    def signature(self, parameters: dict, when: str) -> str:
        big_b = int(parameters["SRP_B"], 16)
        u = int(h_hex(pad(self.big_a) + pad(big_b)), 16)
        full = hashlib.sha256(f"{self.group_key}{self.device_key}:{self.password}".encode()).hexdigest()
        x = int(h_hex(pad(int(parameters["SALT"], 16)) + full), 16)
        s = pow((big_b - K * pow(G, x, N)) % N, self.a + u * x, N)
        message = (self.group_key.encode() + self.device_key.encode()
                   + base64.b64decode(parameters["SECRET_BLOCK"]) + when.encode())
        return base64.b64encode(hmac.new(key_of(s, u), message, hashlib.sha256).digest()).decode()

    def answer(self, parameters: dict, username: str, now: datetime, *, when: str | None = None) -> dict:
        when = when or timestamp(now)
        return {
            "USERNAME": username,
            "DEVICE_KEY": self.device_key,
            "PASSWORD_CLAIM_SECRET_BLOCK": parameters["SECRET_BLOCK"],
            "TIMESTAMP": when,
            "PASSWORD_CLAIM_SIGNATURE": self.signature(parameters, when),
        }
