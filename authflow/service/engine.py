"""The engine: the ports wired together, shared by every service function."""

from __future__ import annotations

import logging
import string
import uuid
from collections.abc import Iterable
from datetime import datetime

from authflow.adapters.clocks import SystemClock
from authflow.adapters.entropy import SystemEntropy, random_string
from authflow.adapters.memory import MemoryStore
from authflow.adapters.outbox import MemoryOutbox
from authflow.adapters.triggers import NoTriggers
from authflow.config import EngineConfig
from authflow.core.effects import Decision, Message
from authflow.core.records import (
    AppClient,
    AuthSession,
    Device,
    FailedSignIns,
    Group,
    RefreshToken,
    SigningKey,
    User,
    UserPool,
)
from authflow.core.tokens import issuer
from authflow.crypto.passwords import SALT_BYTES, hash_password, verify_password
from authflow.crypto.sealing import KEK_BYTES, NONCE_BYTES, Keyring, seal, unseal
from authflow.errors import CodeDeliveryFailureException, ResourceNotFoundException
from authflow.ports import Clock, Entropy, Messenger, Store, Triggers, UniqueViolation

log = logging.getLogger("authflow")

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits


class Engine:
    def __init__(
        self,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        entropy: Entropy | None = None,
        messenger: Messenger | None = None,
        triggers: Triggers | None = None,
        region: str = "us-east-1",
        config: EngineConfig | None = None,
    ) -> None:
        self.store = store if store is not None else MemoryStore()
        self.clock = clock if clock is not None else SystemClock()
        self.entropy = entropy if entropy is not None else SystemEntropy()
        self.messenger = messenger if messenger is not None else MemoryOutbox()
        self.triggers = triggers if triggers is not None else NoTriggers()
        self.region = region
        self.config = config if config is not None else EngineConfig()
        self._dummy: str | None = None
        self.keyring = self.config.kek or self._ephemeral_keyring()

    # -- time and randomness -----------------------------------------------------------

    def now(self) -> datetime:
        """The clock's time, to the millisecond (what Cognito's wire dates carry)."""
        now = self.clock.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def random_string(self, length: int, alphabet: str) -> str:
        return random_string(self.entropy, length, alphabet)

    def request_id(self) -> str:
        """A request id (UUID 4 form), drawn from the entropy port so seeded runs repeat."""
        return str(uuid.UUID(bytes=self.entropy.random_bytes(16), version=4))

    def new_pool_id(self) -> str:
        return f"{self.region}_{self.random_string(9, _ALNUM)}"

    def new_client_id(self) -> str:
        return self.random_string(26, _LOWER_ALNUM)

    def new_client_secret(self) -> str:
        return self.random_string(51, _LOWER_ALNUM)

    def hasher(self, password: str) -> str:
        return hash_password(password, self.entropy.random_bytes(SALT_BYTES), self.config.kdf)

    def check_password(self, password: str, stored: str | None) -> bool:
        """Verify `password`; with no stored hash (unknown user) verify against a dummy
        one anyway, so that unknown users take as long as wrong passwords."""
        if stored is None:
            verify_password(password, self._dummy_hash())
            return False
        return verify_password(password, stored)

    def _dummy_hash(self) -> str:
        # Made on first use with the engine's own cost; a fixed salt, because this hash
        # protects nothing: it only makes an unknown user cost what a real one does.
        if self._dummy is None:
            self._dummy = hash_password("authflow-dummy", b"\0" * SALT_BYTES, self.config.kdf)
        return self._dummy

    # -- sealed secrets ------------------------------------------------------------------

    def _ephemeral_keyring(self) -> Keyring:
        if getattr(self.store, "durable", True):
            raise ValueError(
                "this store keeps data beyond the process, so the engine needs a key-encryption "
                "key to seal secrets: EngineConfig(kek=authflow.crypto.sealing.Keyring(...))"
            )
        return Keyring(self.entropy.random_bytes(KEK_BYTES))

    def seal(self, plaintext: bytes, context: str) -> bytes:
        return seal(self.keyring, plaintext, context, self.entropy.random_bytes(NONCE_BYTES))

    def unseal(self, sealed: bytes, context: str) -> bytes:
        """Open what `seal` sealed under the same context (InvalidTag otherwise)."""
        return unseal(self.keyring, sealed, context)

    def pool_secret(self, pool: UserPool) -> bytes:
        return unseal(self.keyring, pool.secret, f"pool-secret:{pool.id}")

    def client_secret(self, client: AppClient) -> str | None:
        if client.secret is None:
            return None
        return unseal(self.keyring, client.secret, f"client-secret:{client.id}").decode("utf-8")

    def signing_key(self, key: SigningKey) -> bytes:
        """The PKCS#8 DER private key of a signing key."""
        return unseal(self.keyring, key.private_key, f"signing-key:{key.kid}")

    def issuer(self, pool_id: str) -> str:
        return issuer(pool_id, region=self.region, base_url=self.config.issuer_base_url)

    # -- shared steps --------------------------------------------------------------------

    @staticmethod
    def require_pool(tx, pool_id: str) -> UserPool:
        pool = tx.get_pool(pool_id)
        if pool is None:
            raise ResourceNotFoundException(f"User pool {pool_id} does not exist.")
        return pool

    @staticmethod
    def require_client(tx, client_id: str, pool_id: str | None = None) -> tuple[UserPool, AppClient]:
        """The app client and its pool; with `pool_id` (admin operations) the client
        must belong to that pool."""
        if pool_id is not None:
            pool = Engine.require_pool(tx, pool_id)
        client = tx.get_client(client_id)
        if client is None or (pool_id is not None and client.pool_id != pool_id):
            raise ResourceNotFoundException(f"User pool client {client_id} does not exist.")
        if pool_id is None:
            pool = Engine.require_pool(tx, client.pool_id)
        return pool, client

    def apply(self, tx, decision: Decision) -> None:
        """Write a decision's records inside the open transaction."""
        self.write(tx, puts=decision.puts, deletes=decision.deletes)

    @staticmethod
    def write(tx, *, puts=(), deletes=()) -> None:
        """Put and delete records of any kind; the store's unique constraints become
        Cognito's errors."""
        for record in deletes:
            if isinstance(record, User):
                tx.delete_user(record.pool_id, record.username_key)
            elif isinstance(record, FailedSignIns):
                tx.delete_failed_sign_ins(record.pool_id, record.key)
            else:
                raise TypeError(f"cannot delete a {type(record).__name__}")
        try:
            for record in puts:
                _PUT[type(record)](tx, record)
        except UniqueViolation as err:
            raise _unique_error(err) from None

    def deliver(self, messages: Iterable[Message]) -> None:
        """Send after the commit. A failed delivery does not undo the operation: as
        on Cognito, the caller gets CodeDeliveryFailureException and the records stay."""
        failed = False
        for message in messages:
            try:
                self.messenger.send(message)
            except Exception:
                log.exception("delivery of %s by %s failed", message.kind, message.medium)
                failed = True
        if failed:
            raise CodeDeliveryFailureException("Unable to deliver code to user")


_PUT = {
    User: lambda tx, r: tx.put_user(r),
    AuthSession: lambda tx, r: tx.put_session(r),
    RefreshToken: lambda tx, r: tx.put_refresh_token(r),
    FailedSignIns: lambda tx, r: tx.put_failed_sign_ins(r),
    SigningKey: lambda tx, r: tx.put_signing_key(r),
    Device: lambda tx, r: tx.put_device(r),
    Group: lambda tx, r: tx.put_group(r),
}


def _unique_error(err: UniqueViolation) -> Exception:
    # The core checks these first; the store's constraint is the backstop for races.
    # The other constraints guard random identifiers (session ids, token hashes,
    # origin_jti): a clash there is a fault, not the caller's error.
    from authflow.errors import AliasExistsException, UsernameExistsException

    if err.constraint == "alias":
        return AliasExistsException(f"An account with the {err.kind} already exists.")
    if err.constraint in ("username", "sub"):
        return UsernameExistsException("User account already exists")
    return err
