"""Decisions of USER_SRP_AUTH: the PASSWORD_VERIFIER challenge, its SECRET_BLOCK, the checks
of the answer, and the simulated challenge for unknown users.

Theory of operation: clients send no Session on the PASSWORD_VERIFIER step, so everything
the server needs to check the answer travels in SECRET_BLOCK: the pool, the app client, the
user (and the credential the challenge was computed for), the client's A, the server's
secret b and the scrambler u, and when the block was issued and stops working. The service
seals it (AES-GCM under the KEK, bound to the pool and client), so the client cannot read b
or change anything. A block is single-use: a correct answer stores the `AuthSession` this
module builds from it (keyed by a hash of the block), marked used; a wrong answer stores
nothing but the lockout count, so the same block may be answered again until it expires.

Unknown users under PreventUserExistenceErrors=ENABLED get the same challenge, with a salt
and USER_ID_FOR_SRP derived from the pool secret and the name typed (equal on every call),
and B computed from a verifier derived the same way; the answer then fails as a wrong
password does. Pure: time, the server's b and the pool secret are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from authflow.core import client_config as cc
from authflow.core import identity
from authflow.core.auth import INCORRECT, SESSION_EXPIRED, SESSION_USED, credential_tag
from authflow.core.lifecycle import auth_session
from authflow.core.records import AppClient, AuthSession, User, UserPool
from authflow.crypto import srp
from authflow.errors import InvalidParameterException, NotAuthorizedException

CHALLENGE = "PASSWORD_VERIFIER"
INVALID_A = "SRP_A must be a hexadecimal number."
BAD_TIMESTAMP = "TIMESTAMP must look like 'Tue Mar 3 07:05:09 UTC 2026'."
STALE_TIMESTAMP = "TIMESTAMP is too far from the server's time."
_BLOCK_VERSION = 1
_BLOCK_UNIT = 512
_N_DIGITS = 768
_FILLER_SUB = "00000000-0000-4000-8000-000000000000"
_FILLER_TAG = "0" * 32


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretBlock:
    """What SECRET_BLOCK carries (sealed). `sub` is None for a simulated (unknown) user."""

    pool_id: str
    client_id: str
    sub: str | None
    username_key: str | None
    typed_username: str
    user_id: str  # USER_ID_FOR_SRP, as sent: it enters the claim's HMAC
    credential_tag: str | None
    big_a: int
    b: int
    u: int
    issued: datetime
    expires: datetime
    # A custom flow (CUSTOM_AUTH begun with SRP_A): a right proof goes back to the
    # DefineAuthChallenge function instead of straight to the next standard step.
    custom: bool = False
    # Begun by USER_AUTH (PASSWORD_SRP): the answer is checked against ALLOW_USER_AUTH.
    user_auth: bool = False


def block_context(pool_id: str, client_id: str) -> str:
    """The sealing context of a SECRET_BLOCK: a block opens only for its pool and client."""
    return f"srp-secret-block:{pool_id}:{client_id}"


def verifier_context(pool_id: str, sub: str, salt: str) -> str:
    """The sealing context of a verifier: bound to its pool, its user and its salt, so a
    sealed verifier copied into another user's row (or beside another salt) does not open."""
    return f"srp-verifier:{pool_id}:{sub}:{salt}"


def encode_block(block: SecretBlock) -> bytes:
    """The plaintext of a block. A simulated block has fields of the same shape (fillers of
    a real sub's and credential tag's length) and every number has a fixed width, and the
    whole is padded to a multiple of `_BLOCK_UNIT` bytes: the sealed length must not tell a
    simulated challenge from a real one."""
    simulated = block.sub is None
    text = json.dumps({
        "v": _BLOCK_VERSION,
        "sim": int(simulated),
        "pool": block.pool_id,
        "client": block.client_id,
        "sub": _FILLER_SUB if simulated else block.sub,
        "key": block.username_key or "",
        "typed": block.typed_username,
        "uid": block.user_id,
        "cred": _FILLER_TAG if block.credential_tag is None else block.credential_tag,
        "A": f"{block.big_a:0{_N_DIGITS}x}",
        "b": f"{block.b:064x}",
        "u": f"{block.u:064x}",
        "iat": _ms(block.issued),
        "exp": _ms(block.expires),
        "cust": int(block.custom),
        "ua": int(block.user_auth),
    }, separators=(",", ":"))
    return text.encode().ljust(-(-len(text.encode()) // _BLOCK_UNIT) * _BLOCK_UNIT, b" ")


def decode_block(plaintext: bytes) -> SecretBlock:
    """The block as sealed by `encode_block` (it opened, so it is ours); a block of an
    unknown version is refused as any unusable block is."""
    doc = json.loads(plaintext)
    if doc.get("v") != _BLOCK_VERSION:
        raise NotAuthorizedException(INCORRECT)
    simulated = bool(doc["sim"])
    return SecretBlock(
        pool_id=doc["pool"], client_id=doc["client"],
        sub=None if simulated else doc["sub"], username_key=None if simulated else doc["key"],
        typed_username=doc["typed"], user_id=doc["uid"], credential_tag=None if simulated else doc["cred"],
        big_a=int(doc["A"], 16), b=int(doc["b"], 16), u=int(doc["u"], 16),
        issued=_from_ms(doc["iat"]), expires=_from_ms(doc["exp"]), custom=bool(doc.get("cust", 0)),
        user_auth=bool(doc.get("ua", 0)),
    )


def block_bytes(text: str) -> bytes:
    """PASSWORD_CLAIM_SECRET_BLOCK as the bytes the claim signs (standard base64), in the
    one form we issued: surplus padding or unused trailing bits would give a second text
    for the same bytes, and with it a second try at a block that must be used once."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NotAuthorizedException(INCORRECT) from None
    if base64.b64encode(raw).decode() != text:
        raise NotAuthorizedException(INCORRECT)
    return raw


def block_id(text: str) -> str:
    """The id of the AuthSession that records the use of the block `text` carries."""
    return bytes_id(block_bytes(text))


def bytes_id(raw: bytes) -> str:
    """The id of the AuthSession that records a block's use: named by the block's bytes,
    whatever text carried them."""
    return hashlib.sha256(b"srp:" + raw).hexdigest()


# -- InitiateAuth(USER_SRP_AUTH) ----------------------------------------------------------------


def parse_a(text: str) -> int:
    """SRP_A: hexadecimal, and not 0 modulo N (which would let anyone sign in)."""
    try:
        big_a = srp.parse_hex(text)
    except srp.SrpError:
        raise InvalidParameterException(INVALID_A) from None
    try:
        srp.check_a(big_a)
    except srp.SrpError:
        raise NotAuthorizedException(INCORRECT) from None
    return big_a


def simulated_salt(pool_secret: bytes, pool: UserPool, typed: str) -> int:
    """A salt for a name no user has: 16 bytes, like real ones, the same on every call."""
    return int.from_bytes(_derive(pool_secret, "salt", pool, typed)[:srp.SALT_BYTES], "big")


def simulated_user_id(pool_secret: bytes, pool: UserPool, typed: str) -> str:
    """The username a challenge names (USER_ID_FOR_SRP; USERNAME of CUSTOM_CHALLENGE) for
    a name no user has, in the form real ones take, so that it tells nothing: a UUID
    where the name could not be a username (UsernameAttributes pools, where Cognito
    generates them; an email or phone number in a pool with that alias, which a real
    user's answer replaces by their username), otherwise the name as the pool keys it
    (in case-insensitive pools a real user's stored name seldom has the typed case)."""
    try:
        stands_for = identity.check_new_username(pool.config, typed)
    except InvalidParameterException:  # an alias value: never a username in this pool
        stands_for = "alias"
    if stands_for is not None:
        return str(uuid.UUID(bytes=_derive(pool_secret, "user-id", pool, typed)[:16], version=4))
    return identity.username_key(pool.config, typed)


def simulated_verifier(pool_secret: bytes, pool: UserPool, typed: str) -> int:
    """A stand-in verifier, so that B (and the work done) look like a real user's."""
    stream = b"".join(_derive(pool_secret, f"verifier:{i}", pool, typed) for i in range(13))
    return int.from_bytes(stream, "big") % srp.N


def new_block(
    pool: UserPool, client: AppClient, user: User | None, *, typed: str, user_id: str,
    big_a: int, big_b: int, b: int, now: datetime, custom: bool = False, user_auth: bool = False,
) -> SecretBlock:
    """The block of one PASSWORD_VERIFIER challenge; it lives as long as a Session would
    (the client's AuthSessionValidity). In a custom flow the DefineAuthChallenge
    function asked for it (`custom_auth.next_state` checked that step)."""
    if not custom:
        auth_session().next_state("SELECT_CHALLENGE" if user_auth else "INITIATED", "srp_started")
    try:
        u = srp.scrambler(big_a, big_b)
    except srp.SrpError:  # u = 0: probability 2^-256, refused rather than weakened
        raise NotAuthorizedException(INCORRECT) from None
    return SecretBlock(
        pool_id=pool.id, client_id=client.id,
        sub=user.sub if user else None,
        username_key=user.username_key if user else identity.username_key(pool.config, typed),
        typed_username=typed, user_id=user_id,
        credential_tag=credential_tag(user.credential) if user else None,
        big_a=big_a, b=b, u=u, issued=now,
        expires=now + timedelta(minutes=cc.auth_session_validity_minutes(client.config)), custom=custom,
        user_auth=user_auth,
    )


def challenge(salt: str, big_b: int, secret_block: str, user_id: str) -> dict[str, str]:
    """ChallengeParameters as both clients read them. SALT in `pad_hex` form: JS re-pads the
    number, pycognito hashes the string as sent, and they agree only on the canonical form."""
    return {
        "SALT": salt,
        "SRP_B": f"{big_b:x}",
        "SECRET_BLOCK": secret_block,
        "USER_ID_FOR_SRP": user_id,
        "USERNAME": user_id,
    }


# -- RespondToAuthChallenge(PASSWORD_VERIFIER) -----------------------------------------------------


def check_block(block: SecretBlock, used: AuthSession | None, *, pool: UserPool, client: AppClient,
                now: datetime) -> None:
    """A block from this pool and client, not answered yet, not expired."""
    if block.pool_id != pool.id or block.client_id != client.id:
        raise NotAuthorizedException(INCORRECT)
    if used is not None:
        raise NotAuthorizedException(SESSION_USED)
    if now >= block.expires:
        auth_session().next_state(CHALLENGE, "session_expired")
        raise NotAuthorizedException(SESSION_EXPIRED)


def check_username(pool: UserPool, block: SecretBlock, given: str) -> None:
    """USERNAME in the answer: USER_ID_FOR_SRP (JS, pycognito) or the name typed at the start."""
    key = identity.username_key(pool.config, given)
    names = {identity.username_key(pool.config, block.typed_username), identity.username_key(pool.config, block.user_id)}
    if key not in names:
        raise NotAuthorizedException(INCORRECT)


def check_timestamp(text: str, block: SecretBlock, now: datetime) -> None:
    """TIMESTAMP: the clients' exact form, and within the block's lifetime (AuthSessionValidity,
    3 minutes by default) of the server's clock, either way."""
    try:
        when = srp.parse_timestamp(text)
    except srp.SrpError:
        raise InvalidParameterException(BAD_TIMESTAMP) from None
    window = block.expires - block.issued
    if abs(now - when) > window:
        raise NotAuthorizedException(STALE_TIMESTAMP)


def rejected() -> None:
    """A wrong proof: the attempt stays in PASSWORD_VERIFIER (the block may be answered again)."""
    auth_session().next_state(CHALLENGE, "answer_rejected")


def issued_user(block: SecretBlock, user: User | None) -> User | None:
    """The user the block was issued for (None for an unknown name, or when the user was
    deleted since): whose lockout counter the answer counts against."""
    if block.sub is None or user is None or user.sub != block.sub:
        return None
    return user


def provable_user(block: SecretBlock, user: User | None) -> User | None:
    """That user if a proof can succeed at all: the credential the block was issued for is
    still theirs and has a verifier. Otherwise the answer fails as a wrong password does."""
    user = issued_user(block, user)
    if user is None or user.credential is None or user.credential.srp_verifier is None:
        return None
    if credential_tag(user.credential) != block.credential_tag:
        return None
    return user


def used_record(block: SecretBlock, text: str, now: datetime) -> AuthSession:
    """The record of a block's use: stored, already used, until the block expires."""
    return AuthSession(
        pool_id=block.pool_id, id=block_id(text), client_id=block.client_id,
        username_key=block.username_key or "", sub=block.sub or "", challenge=CHALLENGE,
        typed_username=block.typed_username, created=now, expires=block.expires, used=True,
        credential_tag=block.credential_tag,
    )


def require(responses: Mapping[str, str] | None, name: str) -> str:
    value = (responses or {}).get(name)
    if not value:
        raise InvalidParameterException(f"Missing required parameter {name}")
    return value


# -- helpers ---------------------------------------------------------------------------------------


def _derive(pool_secret: bytes, label: str, pool: UserPool, typed: str) -> bytes:
    # Keyed by the pool secret, over the name's uniqueness key: the same name (in any case, in
    # case-insensitive pools) gets the same values, and nobody without the secret can tell a
    # simulated salt from a real one.
    name = identity.username_key(pool.config, typed)
    return hmac.new(pool_secret, f"srp-simulated:{label}:{pool.id}:{name}".encode(), hashlib.sha256).digest()


def _ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
