"""Decisions of a remembered device's own sign-in steps: DEVICE_SRP_AUTH, then
DEVICE_PASSWORD_VERIFIER (the device steps of `specs/auth-session.yaml`).

Theory of operation: when the auth-session machine sends an attempt to DEVICE_SRP_AUTH,
the service stores one pending record per device, keyed by the device
(`pending_id(pool, device key)`), not only by a Session string. The clients differ in how
they answer: amazon-cognito-identity-js sends the Session of the step before, pycognito
sends no Session at all (and re-sends the A of the user SRP step). A Session, when sent,
must be the latest one handed out for the record (its SHA-256 is kept in `code_hash`);
without one, the record found by the device key stands for the attempt. Either way the
device proof alone never signs in: the record exists only after the user's own steps
(password or SRP proof, new password, MFA) succeeded within AuthSessionValidity, it is
single-use, and a newer sign-in of the same device replaces it.

The answer to DEVICE_SRP_AUTH (SRP_A) gives SRP_B, SALT and a SECRET_BLOCK; the server's
secret exponent and both public values are sealed into the record (`DeviceProof`). The
answer to DEVICE_PASSWORD_VERIFIER is checked as the user proof is
(`authflow.crypto.srp.device_claim_matches`). Pure: time and randomness are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from authflow.core import client_config as cc
from authflow.core.auth import INCORRECT, INVALID_SESSION, SESSION_EXPIRED, SESSION_USED
from authflow.core.lifecycle import auth_session
from authflow.core.policy import EntropySource
from authflow.core.records import AppClient, AuthSession, Device, User, UserPool
from authflow.core.srp import BAD_TIMESTAMP, STALE_TIMESTAMP
from authflow.crypto import srp
from authflow.errors import InvalidParameterException, NotAuthorizedException

SRP_AUTH = "DEVICE_SRP_AUTH"
PASSWORD_VERIFIER = "DEVICE_PASSWORD_VERIFIER"
_SESSION_BYTES = 32
_BLOCK_BYTES = 384
_PROOF_VERSION = 1


def pending_id(pool_id: str, device_key: str) -> str:
    """The id of a device's pending sign-in record (one per device at a time)."""
    return hashlib.sha256(f"device-sign-in:{pool_id}:{device_key}".encode()).hexdigest()


def _token(entropy: EntropySource) -> str:
    return base64.urlsafe_b64encode(entropy.random_bytes(_SESSION_BYTES)).decode().rstrip("=")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_pending(
    pool: UserPool, client: AppClient, user: User, device: Device, previous: AuthSession | None, *,
    typed_username: str, credential_tag: str | None, now: datetime, entropy: EntropySource,
) -> tuple[str, AuthSession]:
    """The DEVICE_SRP_AUTH step: a Session string and the pending record (replacing any
    earlier one of the same device)."""
    token = _token(entropy)
    record = AuthSession(
        pool_id=pool.id, id=pending_id(pool.id, device.key), client_id=client.id,
        username_key=user.username_key, sub=user.sub, challenge=SRP_AUTH, typed_username=typed_username,
        created=now, expires=now + timedelta(minutes=cc.auth_session_validity_minutes(client.config)),
        code_hash=_token_hash(token), credential_tag=credential_tag, device_key=device.key,
        version=previous.version + 1 if previous is not None else 1,
    )
    return token, record


def check_pending(
    record: AuthSession | None, *, challenge: str, session: str | None, pool: UserPool, client: AppClient,
    now: datetime,
) -> AuthSession:
    """The pending record an answer to `challenge` continues; refusals change nothing."""
    if record is None or record.pool_id != pool.id or record.client_id != client.id:
        raise NotAuthorizedException(INVALID_SESSION)
    if session is not None and not hmac.compare_digest(_token_hash(session).encode(), (record.code_hash or "").encode()):
        raise NotAuthorizedException(INVALID_SESSION)
    if record.used:
        raise NotAuthorizedException(SESSION_USED)
    if now >= record.expires:
        auth_session().next_state(record.challenge, "session_expired")
        raise NotAuthorizedException(SESSION_EXPIRED)
    if record.challenge != challenge:
        raise InvalidParameterException(
            f"Invalid challenge name {challenge}: the session expects an answer to {record.challenge}"
        )
    return record


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceProof:
    """What DEVICE_PASSWORD_VERIFIER is checked against (sealed into the record)."""

    big_a: int
    b: int
    u: int
    block_hash: str  # SHA-256 hex of SECRET_BLOCK's bytes

    def dumps(self) -> bytes:
        return json.dumps([_PROOF_VERSION, format(self.big_a, "x"), format(self.b, "x"), format(self.u, "x"),
                           self.block_hash]).encode()

    @classmethod
    def loads(cls, raw: bytes) -> DeviceProof:
        version, big_a, b, u, block_hash = json.loads(raw)
        if version != _PROOF_VERSION:
            raise ValueError("unknown device proof version")
        return cls(big_a=int(big_a, 16), b=int(b, 16), u=int(u, 16), block_hash=block_hash)


def parse_a(text: str) -> int:
    """The device's SRP_A (refused as the user SRP_A is)."""
    try:
        big_a = srp.parse_hex(text)
        srp.check_a(big_a)
    except srp.SrpError:
        raise InvalidParameterException("SRP_A must be a hexadecimal number other than 0 modulo N.") from None
    return big_a


def start_proof(
    record: AuthSession, device: Device, *, v: int, big_a: int, b: int, entropy: EntropySource,
) -> tuple[str, AuthSession, DeviceProof, dict[str, str]]:
    """The answer to DEVICE_SRP_AUTH: a new Session string, the record moved to
    DEVICE_PASSWORD_VERIFIER (its proof still to be sealed in by the service), the proof's
    state and the challenge parameters. `b` must give B ≢ 0 (the service draws again)."""
    state = auth_session().next_state(SRP_AUTH, "device_srp_started")
    big_b = srp.server_b(v, b)
    try:
        u = srp.scrambler(big_a, big_b)
    except srp.SrpError:
        raise NotAuthorizedException(INCORRECT) from None
    block = entropy.random_bytes(_BLOCK_BYTES)
    token = _token(entropy)
    proof = DeviceProof(big_a=big_a, b=b, u=u, block_hash=hashlib.sha256(block).hexdigest())
    moved = replace(record, challenge=state, code_hash=_token_hash(token), version=record.version + 1)
    parameters = {
        "SRP_B": format(big_b, "x"),
        # Exactly the hex of the bytes the client registered: both clients hash it as given.
        "SALT": device.salt or "",
        "SECRET_BLOCK": base64.b64encode(block).decode(),
        "USERNAME": record.typed_username,
        "DEVICE_KEY": device.key,
    }
    return token, moved, proof, parameters


def check_answer(proof: DeviceProof, record: AuthSession, *, secret_block: str, timestamp: str, now: datetime) -> bytes:
    """The SECRET_BLOCK answered must be the one handed out; TIMESTAMP in the clients' form
    and within the session's lifetime of the server's clock. Returns the block's bytes."""
    try:
        raw = base64.b64decode(secret_block, validate=True)
    except (binascii.Error, ValueError):
        raise NotAuthorizedException(INCORRECT) from None
    if not hmac.compare_digest(hashlib.sha256(raw).hexdigest().encode(), proof.block_hash.encode()):
        raise NotAuthorizedException(INCORRECT)
    try:
        when = srp.parse_timestamp(timestamp)
    except srp.SrpError:
        raise InvalidParameterException(BAD_TIMESTAMP) from None
    if abs(now - when) > record.expires - record.created:
        raise NotAuthorizedException(STALE_TIMESTAMP)
    return raw


def rejected() -> None:
    """A wrong device proof: the attempt stays where it is until the record expires."""
    auth_session().next_state(PASSWORD_VERIFIER, "answer_rejected")


def verified(record: AuthSession) -> tuple[str, AuthSession]:
    """A right device proof: AUTHENTICATED, and the record used."""
    state = auth_session().next_state(PASSWORD_VERIFIER, "device_verified")
    return state, replace(record, used=True, version=record.version + 1)
