"""The engine: the ports wired together, shared by every service function.

Theory of operation (messages): a service function that sends something computes its
`Message`s inside its transaction and `enqueue`s them there, one `OutboxEntry` each, so the
message is committed with the change that caused it or not at all. After the commit it calls
`deliver(entries)`. An in-process messenger (MemoryOutbox, LogMessenger, an embedder's own)
is called at once, as before outboxes existed, and the entry is marked as the attempt went;
a queued messenger (`queued = True`: SMTP, the SMS webhook) is only woken, and its sender
drains the outbox (`authflow.adapters.outbox_sender`). Bodies and codes are sealed at rest.
"""

from __future__ import annotations

import base64
import json
import logging
import string
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from authflow.adapters.clocks import SystemClock
from authflow.adapters.entropy import SystemEntropy, random_string
from authflow.adapters.memory import MemoryStore
from authflow.adapters.outbox import DEFAULT_POLICY, MemoryOutbox, RetryPolicy, is_queued
from authflow.adapters.triggers import NoTriggers
from authflow.config import EngineConfig
from authflow.core.client_secrets import SecretEntry
from authflow.core.client_secrets import entries_of as secret_entries
from authflow.core.client_secrets import plaintext_of as secret_plaintext
from authflow.core.effects import Decision, Message
from authflow.core.records import (
    AppClient,
    AuthSession,
    Device,
    FailedSignIns,
    Group,
    OutboxEntry,
    RefreshToken,
    SigningKey,
    User,
    UserPool,
)
from authflow.core.tokens import issuer
from authflow.crypto.passwords import SALT_BYTES, hash_password, verify_password
from authflow.crypto.sealing import KEK_BYTES, NONCE_BYTES, Keyring, seal, unseal
from authflow.errors import CodeDeliveryFailureException, ResourceNotFoundException
from authflow.ports import (
    Clock,
    Entropy,
    Messenger,
    Store,
    TransientConflict,
    Triggers,
    UniqueViolation,
)

log = logging.getLogger("authflow")

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits

#: How a sealed message body starts in the outbox (the rest: base64url of the sealed JSON).
SEALED_BODY = "sealed:v1:"


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
        """The secret DescribeUserPoolClient shows: the client's oldest (`core.client_secrets`)."""
        entries = self.client_secret_entries(client)
        return entries[0].value if entries else None

    def client_secrets(self, client: AppClient) -> tuple[str, ...]:
        """Every secret the client accepts now (none for a public client)."""
        return tuple(e.value for e in self.client_secret_entries(client))

    def client_secret_entries(self, client: AppClient) -> tuple[SecretEntry, ...]:
        plaintext = None if client.secret is None else unseal(self.keyring, client.secret, f"client-secret:{client.id}")
        return secret_entries(plaintext, client_id=client.id, client_created=client.created)

    def seal_client_secrets(self, client_id: str, entries: tuple[SecretEntry, ...]) -> bytes:
        return self.seal(secret_plaintext(entries), f"client-secret:{client_id}")

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
                # A deleted user's passkeys go with them (imported here: that module imports this one).
                from authflow.service.webauthn import delete_credentials_of

                delete_credentials_of(tx, record.pool_id, record.sub)
            elif isinstance(record, FailedSignIns):
                tx.delete_failed_sign_ins(record.pool_id, record.key)
            else:
                raise TypeError(f"cannot delete a {type(record).__name__}")
        try:
            for record in puts:
                _PUT[type(record)](tx, record)
        except UniqueViolation as err:
            raise _unique_error(err) from None

    # -- messages ----------------------------------------------------------------------

    def enqueue(self, tx, messages: Iterable[Message]) -> tuple[OutboxEntry, ...]:
        """Write one outbox entry per message inside the open transaction; `deliver` them
        after the commit. For an in-process messenger the entry starts claimed for the
        retry policy's lease (the caller sends it at once; a sender elsewhere takes it over only
        if this process dies before marking it); for a queued one it is due now."""
        now = self.now()
        due = now if is_queued(self.messenger) else now + DEFAULT_POLICY.lease
        entries = []
        for message in messages:
            entry_id = self.request_id()
            entry = OutboxEntry(
                id=entry_id, message=self._sealed_message(message, entry_id), created=now,
                state="PENDING", next_attempt=due,
            )
            tx.put_outbox(entry)
            entries.append(entry)
        return tuple(entries)

    def open_message(self, entry: OutboxEntry) -> Message:
        """The entry's message with its body and code in the clear (to send it, or to show
        it on the console)."""
        message = entry.message
        if not message.body.startswith(SEALED_BODY):
            return message
        sealed = base64.urlsafe_b64decode(message.body[len(SEALED_BODY):])
        opened = json.loads(self.unseal(sealed, f"outbox:{entry.id}"))
        return replace(message, body=opened["body"], code=opened["code"])

    def _sealed_message(self, message: Message, entry_id: str) -> Message:
        # The body carries temporary passwords and codes; the context binds the sealed text
        # to its entry, so it cannot be moved to another one.
        plain = json.dumps({"body": message.body, "code": message.code}).encode("utf-8")
        sealed = self.seal(plain, f"outbox:{entry_id}")
        return replace(message, body=SEALED_BODY + base64.urlsafe_b64encode(sealed).decode("ascii"), code="")

    def deliver(self, entries: Iterable[OutboxEntry]) -> None:
        """Send after the commit. A failed delivery does not undo the operation: as
        on Cognito, the caller gets CodeDeliveryFailureException and the records stay
        (the entry stays PENDING, to be retried by a sender). A queued messenger is
        only woken: its sender sends."""
        entries = tuple(entries)
        if not entries:
            return
        if is_queued(self.messenger):
            self.messenger.wake()  # type: ignore[attr-defined]
            return
        failed = False
        for entry in entries:
            message = self.open_message(entry)
            try:
                self.messenger.send(message)
            except Exception as err:
                log.exception("delivery of %s by %s failed", message.kind, message.medium)
                self.mark(entry, error=f"{type(err).__name__}: {err}")
                failed = True
            else:
                self.mark(entry, error=None)
        if failed:
            raise CodeDeliveryFailureException("Unable to deliver code to user")

    def mark(self, entry: OutboxEntry, *, error: str | None, policy: RetryPolicy = DEFAULT_POLICY) -> bool:
        """Record how an attempt to send `entry` (as it was when claimed) went: SENT, or
        PENDING with a retry time (FAILED after the policy's `max_attempts`). False when the
        entry changed meanwhile (another sender took it over after the lease ran out)."""
        now = self.now()
        attempts = entry.attempts + 1
        if error is None:
            marked = replace(entry, state="SENT", sent=now, attempts=attempts, last_error=None)
        elif attempts >= policy.max_attempts:
            marked = replace(entry, state="FAILED", attempts=attempts, last_error=error[:500])
        else:
            marked = replace(entry, attempts=attempts, last_error=error[:500],
                             next_attempt=now + policy.delay(attempts, self.entropy))
        try:
            with self.store.transaction() as tx:
                tx.put_outbox(replace(marked, version=entry.version + 1))
        except TransientConflict:
            return False
        return True


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
