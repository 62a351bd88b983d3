"""The laws the engine must keep, written once and checked by the tests and by
`authflow explore`.

Theory of operation: an invariant is a named function over one observed `Step`:
the request, its response or the `CognitoError` it raised, the store's records
before and after (`Records`, a plain, comparable copy of a MemoryStore snapshot),
the clock, the messages the engine delivered during the request, and the `History`
of what the caller has seen so far (which sessions it answered successfully, which
refresh tokens it revoked or lost to a sign-out or a deletion, which ValidationData
values it sent, which verification codes reached it and where, which users were
deleted). Invariants about a state alone ("usernames
are unique") read `step.after`; invariants about a step ("a refused request
changes nothing") compare `before` and `after`. Each returns None when the law
holds, or a sentence saying how it broke.

The checks are deliberately independent of the engine's own decisions: they read
configuration through the pool-config accessors and name records with the core's
hash functions, but recompute every rule (validity windows, alias holders, the
lockout schedule) from the records themselves. `observe(history, step)` is the
caller's bookkeeping: what the step taught it (a session that succeeded, a token
that was revoked), written without consulting the engine's records where the
request itself says enough. Codes are read from the delivered messages' text, as a
user reads them; which purpose a code serves (sign-up, reset, verification) is the
pending code the same step (re)issued to the message's destination.

Usage:

    step = Step(operation="InitiateAuth", request=..., response=..., error=None,
                before=Records.of(snapshot_before), after=Records.of(store), now=clock.now(),
                history=history, messages=outbox.messages[sent_before:])
    for violation in check(step):          # or check(step, ["session_single_use"])
        ...
    history = observe(history, step)

`Checker` does this around every call of an `authflow.Client`.

SRP and custom sign-in: `session_single_use` also covers PASSWORD_VERIFIER answers
(a PASSWORD_CLAIM_SECRET_BLOCK that succeeded once, or that the store records as used,
never succeeds again); `password_must_match` judges an SRP proof by the password the
caller says it signed the claim with (`History.signed`: no record can tell, since the
verifier is stored sealed and the server's secret travels sealed in the block);
`custom_challenge_secrets_sealed` and `unknown_users_never_sign_in` are the laws of
CUSTOM_AUTH and of the simulated challenges of names no user has.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import inspect
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from authflow.core import identity
from authflow.core import pool_config as pc
from authflow.core.auth import session_id  # how a store names a Session string
from authflow.core.codes import LIFETIMES, MAX_ATTEMPTS
from authflow.core.lifecycle import user_lifecycle
from authflow.core.lockout import FREE_FAILURES, IDLE_RESET, LOCKED_MESSAGE, MAX_LOCK
from authflow.core.records import (
    AppClient,
    AuthSession,
    FailedSignIns,
    RefreshToken,
    SigningKey,
    User,
    UserPool,
)
from authflow.core.srp import (  # how a store names the used record of a SECRET_BLOCK
    block_id,
    bytes_id,
)
from authflow.core.tokens import token_hash  # how a store names a refresh token
from authflow.crypto.passwords import verify_password
from authflow.crypto.signing import unverified_claims
from authflow.errors import CodeDeliveryFailureException, CodeMismatchException, CognitoError

__all__ = [
    "INVARIANTS",
    "Checker",
    "History",
    "Invariant",
    "InvariantViolated",
    "Records",
    "Step",
    "Violation",
    "block_id",
    "check",
    "observe",
    "session_id",
    "token_hash",
    "token_owner",
]

PASSWORD_FLOWS = frozenset({"USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"})
REFRESH_FLOWS = frozenset({"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"})
#: Flows that give a name no user has a simulated challenge (PreventUserExistenceErrors=ENABLED).
SIMULATING_FLOWS = frozenset({"CUSTOM_AUTH", "USER_SRP_AUTH"})
INITIATE = frozenset({"InitiateAuth", "AdminInitiateAuth"})
RESPOND = frozenset({"RespondToAuthChallenge", "AdminRespondToAuthChallenge"})
#: Statuses that must never receive tokens (FORCE_CHANGE_PASSWORD only by completing
#: NEW_PASSWORD_REQUIRED, which leaves it).
NO_TOKENS = frozenset({"UNCONFIRMED", "RESET_REQUIRED", "FORCE_CHANGE_PASSWORD"})
#: Challenges whose answer is a guessable secret, so the lockout applies to them. A
#: NEW_PASSWORD_REQUIRED answer is not one: its session already proved the password.
SECRET_ANSWERS = frozenset({"SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "PASSWORD_VERIFIER", "DEVICE_PASSWORD_VERIFIER"})
#: Shorter ValidationData values are matched exactly, longer ones as substrings.
_SUBSTRING_MIN = 8
#: Operations that act on a pending code: operation -> (the code's purpose, or None when
#: the request names it as AttributeName; the request member carrying the code).
CODE_CONFIRMING = {
    "ConfirmSignUp": ("confirm_sign_up", "ConfirmationCode"),
    "ConfirmForgotPassword": ("reset_password", "ConfirmationCode"),
    "VerifyUserAttribute": (None, "Code"),
}
#: A code as a message carries it: six digits standing alone.
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
#: Attributes a code can verify.
_VERIFIABLE = ("email", "phone_number")


# -- what a store holds ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Records:
    """Everything a store holds, as sorted tuples of its frozen records (comparable
    with `==`). `indexes` holds the store's derived structures (the memory store's
    alias and sub maps and ListUsers indexes), so that a rollback that forgets one
    is seen too."""

    pools: tuple[UserPool, ...] = ()
    clients: tuple[AppClient, ...] = ()
    users: tuple[User, ...] = ()
    sessions: tuple[AuthSession, ...] = ()
    refresh_tokens: tuple[RefreshToken, ...] = ()
    failed_sign_ins: tuple[FailedSignIns, ...] = ()
    signing_keys: tuple[SigningKey, ...] = ()
    indexes: tuple[Any, ...] = ()

    @classmethod
    def of(cls, source: Any) -> Records:
        """The records of a `MemoryStore`, or of one of its `snapshot()`s."""
        state = source.snapshot() if hasattr(source, "snapshot") else source
        users, indexes, failed, keys = [], [], [], []
        for pool_id in sorted(state.users):
            pool_users = state.users[pool_id]
            users.extend(pool_users.by_key[k] for k in sorted(pool_users.by_key))
            indexes.append((
                pool_id,
                tuple(sorted(pool_users.by_alias.items())),
                tuple(sorted(pool_users.by_sub.items())),
                tuple(
                    (name, tuple(index.scan(limit=len(index) + 1)))
                    for name, index in sorted(pool_users.indexes.items()) if len(index)
                ),
            ))
        for pool_id in sorted(state.auth):
            auth = state.auth[pool_id]
            failed.extend(auth.failed_sign_ins[k] for k in sorted(auth.failed_sign_ins))
            keys.extend(auth.signing_keys[k] for k in sorted(auth.signing_keys))
            indexes.append((pool_id, tuple(sorted(auth.session_ids)), tuple(sorted(auth.refresh_by_origin.items()))))
        return cls(
            pools=tuple(state.pools[k] for k in sorted(state.pools)),
            clients=tuple(state.clients[k] for k in sorted(state.clients)),
            users=tuple(users),
            sessions=tuple(state.sessions[k] for k in sorted(state.sessions)),
            refresh_tokens=tuple(state.refresh_tokens[k] for k in sorted(state.refresh_tokens)),
            failed_sign_ins=tuple(failed),
            signing_keys=tuple(keys),
            indexes=tuple(indexes),
        )

    def without_code_attempts(self) -> Records:
        """These records with every pending code's wrong-guess count erased (and the user
        versions that counting bumps): what a refused code may write."""
        users = tuple(
            dataclasses.replace(
                u, version=0, codes={p: dataclasses.replace(c, attempts=0) for p, c in u.codes.items()}
            )
            for u in self.users
        )
        return dataclasses.replace(self, users=users)

    def without_session(self, wanted: str) -> Records:
        """These records without the session `wanted` (an id), in the records and in the
        store's session index."""
        indexes = tuple(
            (entry[0], tuple(i for i in entry[1] if i != wanted), *entry[2:])
            if len(entry) == 3 and isinstance(entry[1], tuple) and all(isinstance(i, str) for i in entry[1])
            else entry
            for entry in self.indexes
        )
        return dataclasses.replace(
            self, sessions=tuple(s for s in self.sessions if s.id != wanted), indexes=indexes,
        )

    def without_lockout(self) -> Records:
        """These records minus the failed-sign-in counters: the one thing a refused
        password or MFA code may write."""
        return dataclasses.replace(self, failed_sign_ins=())

    def pool(self, pool_id: str) -> UserPool | None:
        return next((p for p in self.pools if p.id == pool_id), None)

    def users_of(self, pool_id: str) -> tuple[User, ...]:
        return tuple(u for u in self.users if u.pool_id == pool_id)

    def user_by_sub(self, pool_id: str, sub: str) -> User | None:
        return next((u for u in self.users if u.pool_id == pool_id and u.sub == sub), None)

    def user_named(self, pool_id: str, name: str) -> User | None:
        """The user a Username parameter names: by username, else by a sign-in alias."""
        pool = self.pool(pool_id)
        if pool is None:
            return None
        key = identity.username_key(pool.config, name)
        users = self.users_of(pool_id)
        for user in users:
            if user.username_key == key:
                return user
        for kind in identity.sign_in_kinds(pool.config):
            wanted = (kind, identity.alias_key(pool.config, kind, name))
            for user in users:
                if wanted in user.aliases:
                    return user
        return None

    def session(self, session: str) -> AuthSession | None:
        return self.session_by_id(session_id(session))

    def session_by_id(self, wanted: str) -> AuthSession | None:
        return next((s for s in self.sessions if s.id == wanted), None)

    def refresh_token(self, token: str) -> RefreshToken | None:
        wanted = token_hash(token)
        return next((t for t in self.refresh_tokens if t.token_hash == wanted), None)


# -- what the caller knows -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class History:
    """What the caller has seen before a step (maintained by `observe`)."""

    #: Session ids (`session_id`) whose answer succeeded once.
    succeeded_sessions: frozenset[str] = frozenset()
    #: Blocks (`block_id`: by their bytes, whatever text carried them) whose
    #: PASSWORD_VERIFIER answer succeeded once (SRP).
    succeeded_secret_blocks: frozenset[str] = frozenset()
    #: (token hash, pool id, sub) of every refresh token the caller was given.
    refresh_tokens: frozenset[tuple[str, str, str]] = frozenset()
    #: Hashes of refresh tokens the caller revoked, or lost to a sign-out, a disable or a delete.
    revoked_tokens: frozenset[str] = frozenset()
    #: Every ValidationData value ever sent.
    validation_values: frozenset[str] = frozenset()
    #: (pool id, sub, purpose, code, destination): the latest code of each purpose that
    #: reached each user, and the email / phone number it went to.
    sent_codes: frozenset[tuple[str, str, str, str, str]] = frozenset()
    #: (pool id, sub) of every user deleted (AdminDeleteUser, DeleteUser).
    deleted_users: frozenset[tuple[str, str]] = frozenset()
    #: (PASSWORD_CLAIM_SIGNATURE, password): the SRP claims the caller signed, and with which
    #: password. Only the caller can say: the store keeps the verifier sealed and the
    #: server's secret b travels sealed in the SECRET_BLOCK, so no record tells a right
    #: proof from a wrong one. Told by the caller (`signed`), not learned by `observe`.
    srp_claims: frozenset[tuple[str, str]] = frozenset()
    #: Every ANSWER sent to a CUSTOM_CHALLENGE (right or wrong: an answer is a secret).
    custom_answers: frozenset[str] = frozenset()

    def signed(self, signature: str, password: str) -> History:
        """This history, knowing that the caller signed the SRP claim `signature` with `password`."""
        return dataclasses.replace(self, srp_claims=self.srp_claims | {(signature, password)})

    def claim_password(self, signature: str) -> str | None:
        """The password the caller signed the SRP claim `signature` with, if it said."""
        return next((p for s, p in self.srp_claims if s == signature), None)

    def latest_code(self, pool_id: str, sub: str, purpose: str) -> tuple[str, str] | None:
        """(code, destination) of the latest code of `purpose` sent to the user, if any."""
        return next(
            ((code, to) for p, s, what, code, to in self.sent_codes if (p, s, what) == (pool_id, sub, purpose)), None
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One request and what came of it. A clock jump is a step too (operation
    `AdvanceClock`, request `{"seconds": n}`, before == after)."""

    operation: str  # Cognito's operation name
    request: Mapping[str, Any]
    response: Mapping[str, Any] | None
    error: CognitoError | None
    before: Records
    after: Records
    now: datetime  # the clock while the request ran (after a jump: the new time)
    history: History = field(default_factory=History)
    #: What the engine delivered while the request ran (its Messenger's messages).
    messages: tuple[Any, ...] = ()

    @classmethod
    def at_rest(cls, records: Records, now: datetime, history: History | None = None) -> Step:
        """A step that changed nothing, to check the state invariants of `records`."""
        return cls(
            operation="(state)", request={}, response={}, error=None,
            before=records, after=records, now=now, history=history or History(),
        )

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    message: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.message}"


class InvariantViolated(AssertionError):
    """Raised by `Checker` when a step breaks an invariant."""

    def __init__(self, violations: list[Violation], step: Step) -> None:
        super().__init__("; ".join(map(str, violations)))
        self.violations = violations
        self.step = step


@dataclass(frozen=True, slots=True)
class Invariant:
    name: str
    check: Callable[[Step], str | None]

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.check) or ""

    @property
    def summary(self) -> str:
        return self.doc.split("\n\n")[0].replace("\n", " ")


#: Every invariant, by name (`authflow explore --invariant NAME`).
INVARIANTS: dict[str, Invariant] = {}


def _invariant(fn: Callable[[Step], str | None]) -> Callable[[Step], str | None]:
    INVARIANTS[fn.__name__] = Invariant(fn.__name__, fn)
    return fn


def check(step: Step, names: Iterable[str] | None = None) -> list[Violation]:
    """The violations of the selected invariants (all by default) in `step`."""
    selected = list(INVARIANTS) if names is None else list(names)
    out = []
    for name in selected:
        message = INVARIANTS[name].check(step)
        if message:
            out.append(Violation(name, message))
    return out


# -- helpers ---------------------------------------------------------------------------------------


def _pool_config(records: Records, pool_id: str) -> Mapping[str, Any]:
    pool = records.pool(pool_id)
    return pool.config if pool is not None else {}


def _claims(token: Any) -> dict[str, Any]:
    try:
        return unverified_claims(token) if isinstance(token, str) else {}
    except Exception:  # noqa: BLE001 -- an unreadable token names nobody
        return {}


def token_owner(result: Mapping[str, Any]) -> tuple[str, str] | None:
    """(pool id, sub) of an AuthenticationResult, read from its (unverified) tokens."""
    for key in ("IdToken", "AccessToken"):
        claims = _claims(result.get(key))
        iss, sub = claims.get("iss"), claims.get("sub")
        if isinstance(iss, str) and isinstance(sub, str):
            return iss.rsplit("/", 1)[-1], sub
    return None


def _pool_of_request(step: Step) -> str | None:
    """The pool a request acts on: UserPoolId, or the pool of its ClientId."""
    pool_id = step.request.get("UserPoolId")
    if pool_id:
        return str(pool_id)
    client_id = step.request.get("ClientId")
    for records in (step.before, step.after):
        for client in records.clients:
            if client.id == client_id:
                return client.pool_id
    return None


def _signed_in_user(step: Step, records: Records) -> User | None:
    """The user a successful sign-in step is about: the challenge's USER_ID_FOR_SRP,
    or the subject of the tokens it returned."""
    response = step.response or {}
    result = response.get("AuthenticationResult")
    if result:
        owner = token_owner(result)
        return records.user_by_sub(*owner) if owner else None
    pool_id = _pool_of_request(step)
    name = (response.get("ChallengeParameters") or {}).get("USER_ID_FOR_SRP")
    if pool_id and name:
        return records.user_named(pool_id, name)
    return None


def _is_password_sign_in(step: Step) -> bool:
    return step.operation in INITIATE and step.request.get("AuthFlow") in PASSWORD_FLOWS


def _is_srp_answer(step: Step) -> bool:
    return step.operation in RESPOND and step.request.get("ChallengeName") == "PASSWORD_VERIFIER"


def _responses(step: Step) -> Mapping[str, Any]:
    responses = step.request.get("ChallengeResponses")
    return responses if isinstance(responses, Mapping) else {}


def _srp_user(step: Step, records: Records) -> User | None:
    """The user a PASSWORD_VERIFIER answer names (USERNAME: USER_ID_FOR_SRP or the name
    typed at the start; the block itself is sealed)."""
    pool_id = _pool_of_request(step)
    name = _responses(step).get("USERNAME")
    return records.user_named(pool_id, str(name)) if pool_id and name else None


def _temporary_window(config: Mapping[str, Any]) -> timedelta:
    return timedelta(days=pc.password_policy(config).temporary_password_validity_days)


def _strings(value: Any) -> Iterable[str]:
    """Every string inside a record (field values, mapping keys and values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("latin-1")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _strings(getattr(value, f.name))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, tuple | list | set | frozenset):
        for item in value:
            yield from _strings(item)


def _validation_values(request: Mapping[str, Any]) -> set[str]:
    items = request.get("ValidationData") or ()
    return {str(a.get("Value")) for a in items if isinstance(a, Mapping) and a.get("Value")}


def _live_count(record: FailedSignIns | None, now: datetime) -> int:
    if record is None or now - record.last_attempt >= IDLE_RESET:
        return 0
    return record.count


def _locked(record: FailedSignIns | None, now: datetime) -> bool:
    return (
        record is not None
        and now - record.last_attempt < IDLE_RESET
        and record.locked_until is not None
        and now < record.locked_until
    )


def _schedule(count: int) -> timedelta:
    """Cognito's lock after the `count`-th failure, restated: 5 free, then 2^(n-5) s, at most 15 min."""
    if count < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(count - FREE_FAILURES, 30)), MAX_LOCK)

def _codes_in(message: Any) -> list[str]:
    """The codes a delivered message carries, read from its text as its reader would."""
    return _CODE.findall(str(getattr(message, "body", "") or ""))


def _access_owner(request: Mapping[str, Any]) -> tuple[str, str] | None:
    """(pool id, sub) named by the request's AccessToken, if it has a readable one."""
    claims = _claims(request.get("AccessToken"))
    iss, sub = claims.get("iss"), claims.get("sub")
    if isinstance(iss, str) and isinstance(sub, str):
        return iss.rsplit("/", 1)[-1], sub
    return None


def _code_subject(step: Step, records: Records) -> tuple[str, str, User | None] | None:
    """(purpose, code presented, the user in `records` it is about) of a code-confirming
    request; None for any other request."""
    known = CODE_CONFIRMING.get(step.operation)
    if known is None:
        return None
    purpose, member = known
    code = str(step.request.get(member, ""))
    if purpose is None:  # VerifyUserAttribute: the caller is the access token's user
        owner = _access_owner(step.request)
        return f"verify_{step.request.get('AttributeName')}", code, records.user_by_sub(*owner) if owner else None
    pool_id = _pool_of_request(step)
    return purpose, code, records.user_named(pool_id, str(step.request.get("Username", ""))) if pool_id else None


def _ended_by_answer(step: Step) -> str | None:
    """The id of the session a custom-flow answer may end when refused: the answered
    CUSTOM_CHALLENGE session, or the used record of the PASSWORD_VERIFIER block."""
    if step.operation not in RESPOND:
        return None
    name = step.request.get("ChallengeName")
    if name == "CUSTOM_CHALLENGE" and isinstance(step.request.get("Session"), str):
        return session_id(step.request["Session"])
    block = _block_id(_responses(step).get("PASSWORD_CLAIM_SECRET_BLOCK"))
    if name == "PASSWORD_VERIFIER" and block:
        return block
    return None


def _block_id(text: Any) -> str | None:
    """The id of the block a PASSWORD_CLAIM_SECRET_BLOCK carries, None if it is not
    base64. Decoded leniently, as a careless engine would: every text of the same bytes
    (surplus padding, unused trailing bits) names the same block."""
    if not isinstance(text, str):
        return None
    try:
        return bytes_id(base64.b64decode(text))
    except (binascii.Error, ValueError):
        return None


def _readable(progress: str) -> bool:
    """Whether a stored `progress` can be read without the key: JSON as it is, or JSON
    (or anything naming `private`) behind base64. AES-GCM output is neither."""
    candidates: list[bytes] = [progress.encode()]
    try:
        candidates.append(base64.b64decode(progress, validate=True))
    except (binascii.Error, ValueError):
        pass
    for raw in candidates:
        if b'"private"' in raw:
            return True
        try:
            if isinstance(json.loads(raw), dict | list):
                return True
        except ValueError:
            continue
    return False


def _custom_answers(step: Step) -> set[str]:
    """The ANSWER a request sends to a CUSTOM_CHALLENGE, if it is one."""
    if step.operation in RESPOND and step.request.get("ChallengeName") == "CUSTOM_CHALLENGE":
        answer = _responses(step).get("ANSWER")
        if isinstance(answer, str) and answer:
            return {answer}
    return set()


def _written(step: Step) -> tuple[Any, ...]:
    """The records of `after` this step wrote; at rest, all of them. Records are
    immutable, so an unchanged one is the very same object before and after."""
    after = (*step.after.pools, *step.after.clients, *step.after.users, *step.after.sessions,
             *step.after.refresh_tokens, *step.after.failed_sign_ins)
    if step.before is step.after:
        return after
    seen = {id(r) for r in (*step.before.pools, *step.before.clients, *step.before.users, *step.before.sessions,
                            *step.before.refresh_tokens, *step.before.failed_sign_ins)}
    return tuple(r for r in after if id(r) not in seen)


def _sent_codes(step: Step) -> list[tuple[str, str, str, str, str]]:
    """(pool id, sub, purpose, code, destination) of each code this step delivered that a
    pending code of the same step stands for: the one (re)issued to the message's
    destination. MFA codes live on sessions, not users, and are left out."""
    out = []
    for message in step.messages:
        found = _codes_in(message)
        pool_id, username = str(getattr(message, "pool_id", "")), str(getattr(message, "username", ""))
        user = step.after.user_named(pool_id, username) if found else None
        if user is None:
            continue
        old = step.before.user_by_sub(user.pool_id, user.sub)
        destination = getattr(message, "destination", None)
        for purpose, pending in sorted(user.codes.items()):
            if old is not None and old.codes.get(purpose) == pending:
                continue  # not issued by this step
            # A code goes to the attribute's value, or to a new value held back until verified.
            if pending.attribute and destination in (user.attributes.get(pending.attribute), pending.value):
                out.append((user.pool_id, user.sub, purpose, found[0], str(destination)))
                break
    return out



# -- the invariants ----------------------------------------------------------------------------------


@_invariant
def status_declared(step: Step) -> str | None:
    """Every stored user's status is one the lifecycle spec declares.

    The pseudo-state ABSENT ("no such user") is not a status any stored user may have.
    """
    statuses = set(user_lifecycle().statuses)
    for user in step.after.users:
        if user.status not in statuses:
            return f"user {user.username!r} has status {user.status!r}, which specs/user-lifecycle.yaml does not declare"
    return None


@_invariant
def verified_alias_single_holder(step: Step) -> str | None:
    """A verified alias value has at most one holder per pool.

    Recomputed from the attributes: a verified email / phone number in a pool whose
    AliasAttributes name it, a preferred_username of a user past UNCONFIRMED, and in
    username-attribute pools every email / phone value, verified or not. The aliases the
    store indexes (`User.aliases`) must be unique per pool as well.
    """
    holders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    recorded: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for user in step.after.users:
        config = _pool_config(step.after, user.pool_id)
        alias_kinds = pc.alias_attributes(config)
        username_kinds = pc.username_attributes(config)
        insensitive = not pc.case_sensitive(config)
        for kind in ("email", "phone_number", "preferred_username"):
            value = user.attributes.get(kind)
            if not value:
                continue
            if kind in username_kinds:
                active = True
            elif kind not in alias_kinds:
                active = False
            elif kind == "preferred_username":
                active = user.status != "UNCONFIRMED"
            else:
                active = user.attributes.get(f"{kind}_verified") == "true"
            if active:
                key = value.casefold() if insensitive and kind != "phone_number" else value
                holders[(user.pool_id, kind, key)].add(user.username)
        for kind, key in user.aliases:
            recorded[(user.pool_id, kind, key)].add(user.username)
    for found, what in ((holders, "holders"), (recorded, "recorded holders")):
        for (pool_id, kind, key), names in sorted(found.items()):
            if len(names) > 1:
                return f"{kind} {key!r} in pool {pool_id} has {len(names)} {what}: {sorted(names)}"
    return None


@_invariant
def unique_usernames_and_subs(step: Step) -> str | None:
    """Usernames and subs are unique per pool, and each user's `sub` attribute is its sub.

    Usernames compare as the pool says: exactly, or by `str.casefold()` in
    case-insensitive pools.
    """
    names: dict[tuple[str, str], str] = {}
    subs: dict[tuple[str, str], str] = {}
    for user in step.after.users:
        config = _pool_config(step.after, user.pool_id)
        key = user.username if pc.case_sensitive(config) else user.username.casefold()
        if (user.pool_id, key) in names:
            return f"username {user.username!r} is held twice in pool {user.pool_id}"
        if (user.pool_id, user.sub) in subs:
            return f"sub {user.sub} is held by {subs[(user.pool_id, user.sub)]!r} and {user.username!r}"
        names[(user.pool_id, key)] = user.username
        subs[(user.pool_id, user.sub)] = user.username
        if user.attributes.get("sub") != user.sub:
            return f"user {user.username!r} has sub {user.sub} but attribute sub={user.attributes.get('sub')!r}"
    return None


@_invariant
def tokens_only_to_signed_in_users(step: Step) -> str | None:
    """No tokens are ever issued to a user who is disabled, UNCONFIRMED,
    RESET_REQUIRED, or FORCE_CHANGE_PASSWORD without completing NEW_PASSWORD_REQUIRED
    (nor to a user who does not exist)."""
    result = (step.response or {}).get("AuthenticationResult") if step.ok else None
    if not result:
        return None
    owner = token_owner(result)
    if owner is None:
        return "tokens were issued that name no user (no readable sub / iss)"
    before, after = step.before.user_by_sub(*owner), step.after.user_by_sub(*owner)
    if before is None or after is None:
        return f"tokens were issued for sub {owner[1]}, which is no user of pool {owner[0]}"
    if not before.enabled or not after.enabled:
        return f"tokens were issued to disabled user {after.username!r}"
    if before.status in ("UNCONFIRMED", "RESET_REQUIRED"):
        return f"tokens were issued to {before.status} user {before.username!r}"
    if after.status in NO_TOKENS:
        return f"tokens were issued to user {after.username!r}, who is still {after.status}"
    if before.status == "FORCE_CHANGE_PASSWORD":
        completing = step.operation in RESPOND and step.request.get("ChallengeName") == "NEW_PASSWORD_REQUIRED"
        if not completing:
            return f"tokens were issued by {step.operation} to FORCE_CHANGE_PASSWORD user {before.username!r}"
    return None


@_invariant
def temporary_password_expires(step: Step) -> str | None:
    """A temporary password never signs in after its validity window
    (TemporaryPasswordValidityDays from the moment it was issued), neither sent as a
    password nor proved by SRP (PASSWORD_VERIFIER)."""
    if step.ok and _is_password_sign_in(step):
        user = _signed_in_user(step, step.before)
    elif step.ok and _is_srp_answer(step):
        user = _srp_user(step, step.before)
    else:
        return None
    if user is None or user.credential is None or not user.credential.temporary:
        return None
    ends = user.credential.issued_at + _temporary_window(_pool_config(step.before, user.pool_id))
    if step.now >= ends:
        return (
            f"the temporary password of {user.username!r} signed in at {step.now.isoformat()}, "
            f"after its window ended at {ends.isoformat()}"
        )
    return None


@_invariant
def password_must_match(step: Step) -> str | None:
    """A password sign-in that goes on (a challenge or tokens), and a ChangePassword
    that succeeds, presented the password the user's stored credential verifies; a
    PASSWORD_VERIFIER answer that goes on carried an SRP claim signed with it.

    An SRP claim is judged by the password the caller says it signed with
    (`History.signed`); claims it said nothing about are not judged."""
    if step.ok and step.operation == "ChangePassword":
        owner = _access_owner(step.request)
        user = step.before.user_by_sub(*owner) if owner else None
        if user is None:
            return None  # a token of nobody: deleted_users_stay_out's concern
        previous = str(step.request.get("PreviousPassword", ""))
        if user.credential is None or not verify_password(previous, user.credential.password_hash):
            return f"ChangePassword succeeded for {user.username!r} with a previous password the stored credential rejects"
        return None
    if step.ok and _is_srp_answer(step):
        password = step.history.claim_password(str(_responses(step).get("PASSWORD_CLAIM_SIGNATURE", "")))
        if password is None:
            return None  # the caller did not say which password it signed with
        user = _srp_user(step, step.before)
        if user is None:
            return None  # a proof for nobody: unknown_users_never_sign_in's concern
        if user.credential is None or not verify_password(password, user.credential.password_hash):
            return (
                f"a PASSWORD_VERIFIER answer for {user.username!r} went on with a claim signed with a "
                "password the stored credential rejects"
            )
        return None
    if not (step.ok and _is_password_sign_in(step)):
        return None
    user = _signed_in_user(step, step.before)
    if user is None:
        return f"{step.operation} succeeded for a user that does not exist"
    password = (step.request.get("AuthParameters") or {}).get("PASSWORD", "")
    if user.credential is None or not verify_password(password, user.credential.password_hash):
        return f"{step.operation} succeeded for {user.username!r} with a password the stored credential rejects"
    return None


@_invariant
def session_single_use(step: Step) -> str | None:
    """A challenge session never succeeds twice, nor does an SRP
    PASSWORD_CLAIM_SECRET_BLOCK (the caller saw it succeed, or the store records it used).

    Custom challenges included: CUSTOM_CHALLENGE sessions, and the blocks of a custom
    flow begun with SRP_A."""
    if not (step.ok and step.operation in RESPOND):
        return None
    session = step.request.get("Session")
    if isinstance(session, str):
        if session_id(session) in step.history.succeeded_sessions:
            return f"a {step.request.get('ChallengeName')} session that had already succeeded succeeded again"
        record = step.before.session(session)
        if record is not None and record.used:
            return f"a {record.challenge} session the store marks used succeeded"
    if step.request.get("ChallengeName") == "PASSWORD_VERIFIER":
        block = _block_id(_responses(step).get("PASSWORD_CLAIM_SECRET_BLOCK"))
        if block in step.history.succeeded_secret_blocks:
            return "a PASSWORD_CLAIM_SECRET_BLOCK that had already succeeded succeeded again"
        record = step.before.session_by_id(block) if block else None
        if record is not None and record.used:
            return "a PASSWORD_CLAIM_SECRET_BLOCK the store records as used succeeded"
    return None


@_invariant
def validation_data_never_stored(step: Step) -> str | None:
    """ValidationData is never stored: no value ever sent as ValidationData appears
    anywhere in the store (values of 8 characters or more are searched as
    substrings, shorter ones must not be a whole stored string)."""
    known = set(step.history.validation_values)
    values = known | _validation_values(step.request)
    if not values:
        return None
    long = [v for v in values if len(v) >= _SUBSTRING_MIN]
    short = {v for v in values if len(v) < _SUBSTRING_MIN}
    records = (*step.after.pools, *step.after.clients, *step.after.users, *step.after.sessions,
               *step.after.refresh_tokens, *step.after.failed_sign_ins)
    if values == known and step.before is not step.after:
        # Only records this step wrote can hold a value the previous step's check did not
        # see (records are immutable: an unchanged one is the very same object).
        seen = {id(r) for r in (*step.before.pools, *step.before.clients, *step.before.users,
                                *step.before.sessions, *step.before.refresh_tokens, *step.before.failed_sign_ins)}
        records = tuple(r for r in records if id(r) not in seen)
    for record in records:
        for text in _strings(record):
            if text in short or any(v in text for v in long):
                return f"a ValidationData value is stored in a {type(record).__name__} record"
    return None


@_invariant
def refusal_changes_nothing(step: Step) -> str | None:
    """A refused operation changes nothing: after a CognitoError the store holds what
    it held before (records and indexes), failed-sign-in counters excepted, and the
    wrong guess a refused code-confirming request counts on the pending code.

    CodeDeliveryFailureException is reported after the commit (the message could not
    be delivered; the operation stands), as on Cognito. A refused answer to a custom
    challenge may end the attempt it answered: the CUSTOM_CHALLENGE session, or the
    SECRET_BLOCK of a custom flow's right SRP proof, is then marked used (Define
    failed the attempt, or the user's status refused the sign-in at its end), so that
    the same round cannot be answered again.
    """
    if step.error is None or isinstance(step.error, CodeDeliveryFailureException):
        return None
    before, after = step.before.without_lockout(), step.after.without_lockout()
    if step.operation in CODE_CONFIRMING and isinstance(step.error, CodeMismatchException):
        # How much may be counted is codes_within_limits' concern.
        before, after = before.without_code_attempts(), after.without_code_attempts()
    ended = _ended_by_answer(step)
    if ended is not None:
        kept = after.session_by_id(ended)
        if kept is not None and kept != before.session_by_id(ended):
            if not kept.used:
                return f"{step.operation} was refused ({step.error.code}) but left its session changed and usable"
            before, after = before.without_session(ended), after.without_session(ended)
    if before == after:
        return None
    changed = [f.name for f in dataclasses.fields(Records) if getattr(before, f.name) != getattr(after, f.name)]
    return f"{step.operation} was refused ({step.error.code}) but changed the store's {', '.join(changed)}"


@_invariant
def revoked_refresh_token_yields_nothing(step: Step) -> str | None:
    """A revoked refresh token never yields tokens: not after RevokeToken, a global
    sign-out, disabling or deleting its user, nor once it has expired."""
    if not (step.ok and step.operation in INITIATE and step.request.get("AuthFlow") in REFRESH_FLOWS):
        return None
    token = (step.request.get("AuthParameters") or {}).get("REFRESH_TOKEN", "")
    if token_hash(token) in step.history.revoked_tokens:
        return "a refresh token the caller had revoked (or lost to a sign-out, disable or delete) yielded tokens"
    family = step.before.refresh_token(token)
    if family is None:
        return "a refresh token the store does not know yielded tokens"
    if family.revoked:
        return "a refresh token the store marks revoked yielded tokens"
    user = step.before.user_by_sub(family.pool_id, family.sub)
    if user is None:
        return "a refresh token of a deleted user yielded tokens"
    if family.generation < user.token_generation:
        return f"a refresh token issued before {user.username!r} signed out yielded tokens"
    if step.now >= family.expires:
        return "an expired refresh token yielded tokens"
    return None


@_invariant
def lockout_within_schedule(step: Step) -> str | None:
    """Failed-attempt counters stay within the lockout schedule: a lock never outlasts
    2^(n-5) seconds (at most 15 minutes) after the n-th failure, there is no lock
    before the fifth failure, a step counts at most one failure, and while a subject
    is locked nothing is counted and no password or code (SECRET_ANSWERS) is accepted.

    Answering NEW_PASSWORD_REQUIRED while locked is no guess (the session already
    proved the password), so this law does not forbid it.
    """
    for record in step.after.failed_sign_ins:
        if record.count < 1:
            return f"counter {record.key} holds {record.count} failures"
        if (record.locked_until is None) != (record.count < FREE_FAILURES):
            return f"counter {record.key} has {record.count} failures but locked_until={record.locked_until}"
        if record.locked_until is not None and record.locked_until > record.last_attempt + _schedule(record.count):
            return f"counter {record.key} is locked longer than the schedule allows after {record.count} failures"
    before = {(r.pool_id, r.key): r for r in step.before.failed_sign_ins}
    for record in step.after.failed_sign_ins:
        old = before.get((record.pool_id, record.key))
        if record == old:
            continue
        if record.count > _live_count(old, step.now) + 1:
            return f"one {step.operation} counted {record.count - _live_count(old, step.now)} failures for {record.key}"
        if _locked(old, step.now) and record.count != old.count:
            return f"{step.operation} counted a failure for {record.key} while it was locked"
    guessing = _is_password_sign_in(step) or (
        step.operation in RESPOND and step.request.get("ChallengeName") in SECRET_ANSWERS
    )
    if step.ok and guessing:
        user = _signed_in_user(step, step.before)
        if user is None and _is_srp_answer(step):
            user = _srp_user(step, step.before)  # e.g. a custom flow's proof, answered with CUSTOM_CHALLENGE
        if user is None and step.operation in RESPOND:
            session = step.before.session(str(step.request.get("Session", "")))
            user = step.before.user_by_sub(session.pool_id, session.sub) if session else None
        if user is not None and _locked(before.get((user.pool_id, user.sub)), step.now):
            return f"{step.operation} succeeded for {user.username!r} while the user was locked out"
    if step.error is not None and step.error.message == LOCKED_MESSAGE:
        changed = [r for r in step.after.failed_sign_ins if before.get((r.pool_id, r.key), r).count != r.count]
        if changed:
            return "an attempt refused for a lockout was counted"
    return None


@_invariant
def codes_never_stored(step: Step) -> str | None:
    """Codes are never stored in the clear: no stored string is a code the caller was
    sent (verification, reset or MFA) nor its unkeyed SHA-256, and no pending code or
    session keeps six bare digits where the code's keyed hash belongs."""
    for user in step.after.users:
        for purpose, pending in user.codes.items():
            if _CODE.fullmatch(pending.code_hash or ""):
                return f"{user.username!r}'s pending {purpose} code is stored as six bare digits"
    for session in step.after.sessions:
        if session.code_hash and _CODE.fullmatch(session.code_hash):
            return f"a {session.challenge} session stores its code as six bare digits"
    sent = {code for message in step.messages for code in _codes_in(message)}
    sent |= {entry[3] for entry in step.history.sent_codes}
    if not sent:
        return None
    unkeyed = {hashlib.sha256(code.encode()).hexdigest() for code in sent}
    for record in _written(step):
        for text in _strings(record):
            if text in sent:
                return f"a code sent to the caller is stored in the clear in a {type(record).__name__} record"
            if text in unkeyed:
                return f"a code sent to the caller is stored as its unkeyed SHA-256 in a {type(record).__name__} record"
    return None


@_invariant
def codes_within_limits(step: Step) -> str | None:
    """Pending codes keep their limits: a code lives at most its purpose's lifetime and
    takes at most MAX_ATTEMPTS wrong guesses; a request counts at most one wrong guess,
    and only a code-confirming request refused for a wrong code counts one; a code is
    accepted only while live (pending, unexpired, with guesses left) and its acceptance
    uses it up."""
    for user in step.after.users:
        for purpose, pending in user.codes.items():
            if not 0 <= pending.attempts <= MAX_ATTEMPTS:
                return f"{user.username!r}'s {purpose} code has taken {pending.attempts} wrong guesses"
            lifetime = LIFETIMES.get(purpose)
            if pending.expires <= pending.issued or (lifetime is not None and pending.expires - pending.issued > lifetime):
                return f"{user.username!r}'s {purpose} code lives {pending.expires - pending.issued}"
    before = {(u.pool_id, u.sub): u for u in step.before.users}
    guesses = 0
    for user in step.after.users:
        old = before.get((user.pool_id, user.sub))
        for purpose, pending in user.codes.items():
            prior = old.codes.get(purpose) if old is not None else None
            if prior is None or (prior.code_hash, prior.issued) != (pending.code_hash, pending.issued):
                continue  # a new code
            if pending.attempts < prior.attempts:
                return f"{step.operation} forgot wrong guesses of {user.username!r}'s {purpose} code"
            guesses += pending.attempts - prior.attempts
    if guesses > 1:
        return f"one {step.operation} counted {guesses} wrong code guesses"
    if guesses and not (step.operation in CODE_CONFIRMING and isinstance(step.error, CodeMismatchException)):
        return f"{step.operation} counted a wrong code guess without refusing a code"
    subject = _code_subject(step, step.before) if step.ok else None
    if subject is None:
        return None
    purpose, _, user = subject
    if user is None:
        return f"{step.operation} succeeded for a user that does not exist"
    pending = user.codes.get(purpose)
    if pending is None:
        return f"{step.operation} accepted a {purpose} code of {user.username!r}, who had none pending"
    if step.now >= pending.expires:
        return f"{step.operation} accepted {user.username!r}'s {purpose} code after it expired"
    if pending.attempts >= MAX_ATTEMPTS:
        return f"{step.operation} accepted {user.username!r}'s {purpose} code after {pending.attempts} wrong guesses"
    after = step.after.user_by_sub(user.pool_id, user.sub)
    if after is not None and after.codes.get(purpose) == pending:
        return f"{step.operation} accepted {user.username!r}'s {purpose} code and left it pending"
    return None


@_invariant
def code_must_match(step: Step) -> str | None:
    """ConfirmSignUp, ConfirmForgotPassword and VerifyUserAttribute succeed only with the
    latest code of their purpose sent to that user, and an attribute such a request
    marks verified holds the value that code was sent to.

    Judged where the caller saw the code go out (its History): without the pool secret
    the store cannot tell a right code from a wrong one."""
    subject = _code_subject(step, step.before) if step.ok else None
    if subject is None or subject[2] is None:
        return None
    purpose, code, user = subject
    latest = step.history.latest_code(user.pool_id, user.sub, purpose)
    if latest is None:
        return None
    sent, destination = latest
    if code != sent:
        return f"{step.operation} accepted a code for {user.username!r} that is not the latest {purpose} code sent"
    after = step.after.user_by_sub(user.pool_id, user.sub)
    for attribute in _VERIFIABLE if after is not None else ():
        flag = f"{attribute}_verified"
        newly = after.attributes.get(flag) == "true" and user.attributes.get(flag) != "true"
        if newly and after.attributes.get(attribute) != destination:
            return (
                f"{step.operation} verified {user.username!r}'s {attribute} {after.attributes.get(attribute)!r} "
                f"with a code sent to {destination!r}"
            )
    return None


@_invariant
def deleted_users_stay_out(step: Step) -> str | None:
    """Nothing a deleted user held works: no request authorised by the access token or
    the challenge session of a user who no longer exists succeeds, and a deleted user's
    sub never belongs to a user again (their refresh tokens:
    revoked_refresh_token_yields_nothing)."""
    for user in step.after.users:
        if (user.pool_id, user.sub) in step.history.deleted_users:
            return f"{user.username!r} holds the sub of a deleted user"
    if not step.ok:
        return None
    owner = _access_owner(step.request)
    if owner is not None and step.before.user_by_sub(*owner) is None:
        return f"{step.operation} succeeded with the access token of a user who no longer exists"
    if step.operation in RESPOND and isinstance(step.request.get("Session"), str):
        record = step.before.session(step.request["Session"])
        # A simulated custom session (no sub) names nobody: unknown_users_never_sign_in's concern.
        if record is not None and record.sub and step.before.user_by_sub(record.pool_id, record.sub) is None:
            return f"a {record.challenge} session of a user who no longer exists was answered"
    return None


@_invariant
def custom_challenge_secrets_sealed(step: Step) -> str | None:
    """What a CUSTOM_CHALLENGE session remembers between rounds (the rounds, the private
    challenge parameters, which are the answers, and the challenge metadata) is stored
    only sealed: a session's `progress` is never readable JSON, in the clear or behind
    base64; and no ANSWER the caller ever sent to a custom challenge is stored anywhere
    (values of 8 characters or more are searched as substrings, shorter ones must not
    be a whole stored string)."""
    for record in _written(step):
        if isinstance(record, AuthSession) and record.progress is not None and _readable(record.progress):
            return f"a {record.challenge} session stores its progress (private challenge parameters) readably"
    answers = set(step.history.custom_answers) | _custom_answers(step)
    if not answers:
        return None
    long = [a for a in answers if len(a) >= _SUBSTRING_MIN]
    short = {a for a in answers if len(a) < _SUBSTRING_MIN}
    for record in _written(step):
        for text in _strings(record):
            if text in short or any(a in text for a in long):
                return f"an ANSWER to a custom challenge is stored in a {type(record).__name__} record"
    return None


@_invariant
def unknown_users_never_sign_in(step: Step) -> str | None:
    """A name no user has never signs in: under PreventUserExistenceErrors=ENABLED,
    CUSTOM_AUTH and USER_SRP_AUTH give it simulated challenges (CUSTOM_CHALLENGE,
    PASSWORD_VERIFIER) and nothing else; a simulated custom session (one that names no
    user) only ever leads to another CUSTOM_CHALLENGE; and a PASSWORD_VERIFIER answer
    for a name no user has never succeeds, whatever the custom functions say."""
    if not step.ok:
        return None
    response = step.response or {}
    pool_id = _pool_of_request(step)
    if step.operation in INITIATE and step.request.get("AuthFlow") in SIMULATING_FLOWS and pool_id:
        name = str((step.request.get("AuthParameters") or {}).get("USERNAME", ""))
        if step.before.user_named(pool_id, name) is None:
            got = "tokens" if response.get("AuthenticationResult") else response.get("ChallengeName")
            if got not in ("CUSTOM_CHALLENGE", "PASSWORD_VERIFIER"):
                return f"{step.request['AuthFlow']} for {name!r}, whom no user has, gave {got}"
        return None
    if step.operation not in RESPOND:
        return None
    if _is_srp_answer(step):
        if _srp_user(step, step.before) is None:
            return f"a PASSWORD_VERIFIER answer for {_responses(step).get('USERNAME')!r}, whom no user has, succeeded"
        return None
    record = step.before.session(step.request["Session"]) if isinstance(step.request.get("Session"), str) else None
    if record is not None and record.challenge == "CUSTOM_CHALLENGE" and not record.sub:
        got = "tokens" if response.get("AuthenticationResult") else response.get("ChallengeName")
        if got != "CUSTOM_CHALLENGE":
            return f"a simulated custom session of {record.typed_username!r}, whom no user has, led to {got}"
    return None


@_invariant
def no_internal_error(step: Step) -> str | None:
    """No request ends in InternalErrorException: every failure is a Cognito error the
    caller can act on."""
    if step.error is not None and step.error.code in ("InternalErrorException", "InternalServerException"):
        return f"{step.operation} failed with {step.error.code}: {step.error.message}"
    return None


# -- the caller's bookkeeping --------------------------------------------------------------------------


def observe(history: History, step: Step) -> History:
    """`history` after `step`: what the caller learned (sessions that succeeded,
    tokens it holds and tokens it can no longer use, ValidationData and custom
    ANSWERs it sent, codes that reached it, users deleted)."""
    values = _validation_values(step.request)
    if values:
        history = dataclasses.replace(history, validation_values=history.validation_values | values)
    answers = _custom_answers(step)
    if answers:
        history = dataclasses.replace(history, custom_answers=history.custom_answers | answers)
    for entry in _sent_codes(step):  # delivered: the operation stood (even a CodeDeliveryFailure)
        kept = {e for e in history.sent_codes if e[:3] != entry[:3]}
        history = dataclasses.replace(history, sent_codes=frozenset(kept | {entry}))
    if not step.ok:
        return history
    request, response = step.request, step.response or {}
    if step.operation in RESPOND and isinstance(request.get("Session"), str):
        history = dataclasses.replace(
            history, succeeded_sessions=history.succeeded_sessions | {session_id(request["Session"])}
        )
    block = _block_id((request.get("ChallengeResponses") or {}).get("PASSWORD_CLAIM_SECRET_BLOCK"))
    if step.operation in RESPOND and request.get("ChallengeName") == "PASSWORD_VERIFIER" and block:
        history = dataclasses.replace(history, succeeded_secret_blocks=history.succeeded_secret_blocks | {block})
    result = response.get("AuthenticationResult") or {}
    owner = token_owner(result) if result else None
    if owner and result.get("RefreshToken"):
        entry = (token_hash(result["RefreshToken"]), *owner)
        history = dataclasses.replace(history, refresh_tokens=history.refresh_tokens | {entry})
    if step.operation == "RevokeToken" and isinstance(request.get("Token"), str):
        history = dataclasses.replace(history, revoked_tokens=history.revoked_tokens | {token_hash(request["Token"])})
    lost: tuple[str, str] | None = None
    if step.operation in ("GlobalSignOut", "DeleteUser"):
        lost = _access_owner(request)
    elif step.operation in ("AdminUserGlobalSignOut", "AdminDisableUser", "AdminDeleteUser"):
        user = step.before.user_named(str(request.get("UserPoolId")), str(request.get("Username")))
        if user is not None:
            lost = (user.pool_id, user.sub)
    if lost is not None and step.operation in ("DeleteUser", "AdminDeleteUser"):
        history = dataclasses.replace(history, deleted_users=history.deleted_users | {lost})
    if lost is not None:
        gone = {h for h, pool_id, sub in history.refresh_tokens if (pool_id, sub) == lost}
        history = dataclasses.replace(history, revoked_tokens=history.revoked_tokens | gone)
    return history


# -- checking a live client ----------------------------------------------------------------------------


class Checker:
    """Runs calls through an `authflow.Client` over a MemoryStore and checks the
    selected invariants on every step; raises `InvariantViolated` when one breaks.
    The client's messenger, when it keeps `.messages` (a MemoryOutbox), tells the
    invariants which codes went out.

        checker = Checker(client)
        checker.call("admin_create_user", UserPoolId=pool, Username="alice")
        checker.advance(clock, timedelta(days=8))
    """

    def __init__(self, client: Any, names: Iterable[str] | None = None) -> None:
        from authflow.client import method_name
        from authflow.service.registry import load_all

        self.client = client
        self.names = list(INVARIANTS) if names is None else list(names)
        self.history = History()
        self.steps = 0
        self._operations = {method_name(op): op for op in load_all()}

    def _now(self) -> datetime:
        return self.client.engine.now()

    def call(self, method: str, **request: Any) -> dict[str, Any]:
        """`client.<method>(**request)`, checked; re-raises the call's CognitoError."""
        before = Records.of(self.client.store)
        now = self._now()
        outbox = getattr(getattr(self.client, "messenger", None), "messages", None)
        sent = len(outbox) if outbox is not None else 0
        response, error = None, None
        try:
            response = getattr(self.client, method)(**request)
        except CognitoError as err:
            error = err
        step = Step(
            operation=self._operations[method], request=request, response=response, error=error,
            before=before, after=Records.of(self.client.store), now=now, history=self.history,
            messages=tuple(outbox[sent:]) if outbox is not None else (),
        )
        self._check(step)
        if error is not None:
            raise error
        return response  # type: ignore[return-value]

    def signed(self, signature: str, password: str) -> None:
        """Tell the invariants, before sending it, which password the SRP claim
        `signature` was signed with (`History.srp_claims`)."""
        self.history = self.history.signed(signature, password)

    def advance(self, clock: Any, delta: timedelta) -> None:
        """Move a ManualClock forward and check the state at the new time."""
        clock.advance(delta)
        records = Records.of(self.client.store)
        self._check(Step(
            operation="AdvanceClock", request={"seconds": delta.total_seconds()}, response={}, error=None,
            before=records, after=records, now=self._now(), history=self.history,
        ))

    def _check(self, step: Step) -> None:
        self.steps += 1
        violations = check(step, self.names)
        self.history = observe(self.history, step)
        if violations:
            raise InvariantViolated(violations, step)
