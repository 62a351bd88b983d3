"""The engine: the ports wired together, shared by every service function."""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable
from datetime import datetime

from authflow.adapters.clocks import SystemClock
from authflow.adapters.entropy import SystemEntropy
from authflow.adapters.memory import MemoryStore
from authflow.adapters.outbox import MemoryOutbox
from authflow.adapters.triggers import NoTriggers
from authflow.config import EngineConfig
from authflow.core.effects import Decision, Message
from authflow.core.records import UserPool
from authflow.crypto.passwords import SALT_BYTES, hash_password
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

    # -- time and randomness -----------------------------------------------------------

    def now(self) -> datetime:
        """The clock's time, to the millisecond (what Cognito's wire dates carry)."""
        now = self.clock.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def random_string(self, length: int, alphabet: str) -> str:
        out: list[str] = []
        limit = 256 - 256 % len(alphabet)
        while len(out) < length:
            for b in self.entropy.random_bytes(length * 2):
                if b < limit and len(out) < length:
                    out.append(alphabet[b % len(alphabet)])
        return "".join(out)

    def new_pool_id(self) -> str:
        return f"{self.region}_{self.random_string(9, _ALNUM)}"

    def new_client_id(self) -> str:
        return self.random_string(26, _LOWER_ALNUM)

    def new_client_secret(self) -> str:
        return self.random_string(51, _LOWER_ALNUM)

    def hasher(self, password: str) -> str:
        return hash_password(password, self.entropy.random_bytes(SALT_BYTES), self.config.kdf)

    # -- shared steps --------------------------------------------------------------------

    @staticmethod
    def require_pool(tx, pool_id: str) -> UserPool:
        pool = tx.get_pool(pool_id)
        if pool is None:
            raise ResourceNotFoundException(f"User pool {pool_id} does not exist.")
        return pool

    def apply(self, tx, decision: Decision) -> None:
        """Write a decision's records inside the open transaction."""
        for user in decision.deletes:
            tx.delete_user(user.pool_id, user.username_key)
        try:
            for user in decision.puts:
                tx.put_user(user)
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


def _unique_error(err: UniqueViolation) -> Exception:
    # The core checks these first; the store's constraint is the backstop for races.
    from authflow.errors import AliasExistsException, UsernameExistsException

    if err.constraint == "alias":
        return AliasExistsException(f"An account with the {err.kind} already exists.")
    return UsernameExistsException("User account already exists")
