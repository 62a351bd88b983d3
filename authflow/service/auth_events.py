"""Auth events: AdminListUserAuthEvents, AdminUpdateAuthEventFeedback, UpdateAuthEventFeedback,
and the recording of sign-in and self-service outcomes around their operations.

Theory of operation: the operations that make events (`RECORDED`) are wrapped once, when the
registry is loaded (`instrument`); nothing else is wrapped, so other operations pay nothing.
The wrapper first reads, in a transaction of its own, whether the pool records events at all
(threat protection AUDIT or ENFORCED; a pool that does not costs this one read) and whose
event it would be, with a snapshot of what a refusal could write (the user's version and
their failed-sign-in counter). After the operation it writes the event in another
transaction, so the operation's own transactions are unchanged:

* a success is recorded (Pass, or InProgress for a sign-in that asked a challenge);
* a refusal is recorded (Fail) only if it left a write behind: a wrong password or code
  counted toward lockout, a refused attempt during a lockout, a counted wrong reset code.
  Every other refusal (bad parameters, unknown user, wrong SECRET_HASH, a PreAuthentication
  veto...) leaves storage as it was, the event history included.

Recording never changes an operation's answer: a store conflict is retried here, and any
other failure is logged and dropped. AdminDeleteUser and DeleteUser take the user's history
with them. See `authflow.core.auth_events` for the records.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from authflow.core import auth_events as core
from authflow.core.auth import REFRESH_FLOWS
from authflow.core.records import PoolResource, User, UserPool
from authflow.core.users import find_user, require_user
from authflow.errors import CognitoError
from authflow.ports import TransientConflict
from authflow.service import context, tokens
from authflow.service.engine import Engine
from authflow.service.pools import decode_next_token, encode_next_token
from authflow.service.registry import operation

log = logging.getLogger("authflow")

#: Operation -> the EventType it records.
RECORDED = {
    "InitiateAuth": core.SIGN_IN,
    "AdminInitiateAuth": core.SIGN_IN,
    "RespondToAuthChallenge": core.SIGN_IN,
    "AdminRespondToAuthChallenge": core.SIGN_IN,
    "SignUp": core.SIGN_UP,
    "ForgotPassword": core.FORGOT_PASSWORD,
    "ConfirmForgotPassword": core.FORGOT_PASSWORD,
    "ChangePassword": core.PASSWORD_CHANGE,
    "ResendConfirmationCode": core.RESEND_CODE,
}
#: Operations after which the user's history goes.
PURGING = ("AdminDeleteUser", "DeleteUser")
_RESPONDS = ("RespondToAuthChallenge", "AdminRespondToAuthChallenge")
_ATTEMPTS = 3

_instrumented: set[int] = set()
_instrumenting = threading.Lock()


# -- the operations ---------------------------------------------------------------------------


def _user_events(tx, pool_id: str, sub: str) -> list[PoolResource]:
    return core.own(tx.list_resources(pool_id, core.KIND, after=core.prefix(sub),
                                      limit=core.MAX_EVENTS_PER_USER + 1), sub)


def _load(engine: Engine, tx, request: Mapping[str, Any]) -> tuple[UserPool, User]:
    pool = engine.require_pool(tx, request["UserPoolId"])
    core.require_enabled(pool)
    return pool, require_user(tx, pool, request["Username"])


@operation("AdminListUserAuthEvents")
def admin_list_user_auth_events(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    limit = core.page_limit(request.get("MaxResults"))
    position = decode_next_token(request.get("NextToken"))
    with engine.store.transaction() as tx:
        pool, user = _load(engine, tx, request)
        after = core.start_after(user.sub, position)
        events = core.own(tx.list_resources(pool.id, core.KIND, after=after, limit=limit + 1), user.sub)
    page = events[:limit]
    response: dict[str, Any] = {"AuthEvents": [core.auth_event_type(e) for e in page]}
    if len(events) > limit:
        response["NextToken"] = encode_next_token(page[-1].name)
    return response


@operation("AdminUpdateAuthEventFeedback")
def admin_update_auth_event_feedback(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, user = _load(engine, tx, request)
        event = core.find_event(_user_events(tx, pool.id, user.sub), request["EventId"])
        tx.put_resource(core.with_feedback(event, value=request["FeedbackValue"], provider="Admin", now=now))
    return {}


@operation("UpdateAuthEventFeedback")
def update_auth_event_feedback(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, user = _load(engine, tx, request)
        # The token before the event: without it, nobody learns which event ids exist.
        core.check_feedback_token(engine.pool_secret(pool), pool.id, user.sub, request["EventId"],
                                  request["FeedbackToken"])
        event = core.find_event(_user_events(tx, pool.id, user.sub), request["EventId"])
        tx.put_resource(core.with_feedback(event, value=request["FeedbackValue"], provider="User", now=now))
    return {}


def feedback_token(engine: Engine, *, UserPoolId: str, Username: str, EventId: str) -> str:  # noqa: N803
    """The FeedbackToken UpdateAuthEventFeedback wants for one event (authflow only: Cognito
    mails it in its adaptive-authentication notifications; an embedder puts it in its own)."""
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, UserPoolId)
        user = require_user(tx, pool, Username)
    return core.feedback_token(engine.pool_secret(pool), pool.id, user.sub, EventId)


# -- recording --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Probe:
    """What the wrapper learnt before the operation ran."""

    pool_id: str
    sub: str | None  # None: SignUp (the user does not exist yet)
    snapshot: tuple[int, int | None] | None  # (user version, failed-sign-ins version)
    linked: str | None = None  # the in-progress event the request continues


def instrument(operations: MutableMapping[str, Callable]) -> None:
    """Wrap the operations that record or purge events, once per registry (load_all runs on
    every request)."""
    if id(operations) in _instrumented:  # the common case: no lock taken
        return
    with _instrumenting:  # two first requests at once must not wrap twice
        if id(operations) in _instrumented:
            return
        for name in RECORDED:
            if name in operations:
                operations[name] = _recording(name, operations[name])
        for name in PURGING:
            if name in operations:
                operations[name] = _purging(operations[name])
        _instrumented.add(id(operations))


def recorded(name: str, handler: Callable) -> Callable:
    """`handler` recording its outcome as the operation `name` would: for callers that run a
    sign-in step without the operation registry (the hosted pages)."""
    return _recording(name, handler)


def _recording(name: str, handler: Callable) -> Callable:
    @functools.wraps(handler)  # keeps the operation's own name and module
    def run(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
        probe = _guarded(_probe, engine, name, request)
        try:
            response = handler(engine, request)
        except CognitoError as err:
            if probe is not None:
                _guarded(_record, engine, name, request, probe, None, err)
            raise
        if probe is not None:
            _guarded(_record, engine, name, request, probe, response, None)
        return response

    return run


def _purging(handler: Callable) -> Callable:
    @functools.wraps(handler)
    def run(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
        found = _guarded(_whose, engine, request)
        response = handler(engine, request)
        if found is not None:
            _guarded(_purge, engine, *found)
        return response

    return run


def _guarded(step: Callable, *args: Any) -> Any:
    """Run a recording step in its own transaction: retried on a store conflict; a refusal
    (the operation will answer it) or a fault never reaches the caller."""
    for _ in range(_ATTEMPTS):
        try:
            return step(*args)
        except TransientConflict:
            continue
        except CognitoError:
            return None
        except Exception:
            log.exception("auth event step %s failed; the operation goes on", step.__name__)
            return None
    log.warning("auth event step %s gave up after %d store conflicts", step.__name__, _ATTEMPTS)
    return None


def _pool_of(engine: Engine, tx, request: Mapping[str, Any]) -> UserPool | None:
    if request.get("UserPoolId"):
        return tx.get_pool(request["UserPoolId"])
    client = tx.get_client(request.get("ClientId") or "")
    return tx.get_pool(client.pool_id) if client is not None else None


def _snapshot(tx, pool_id: str, user: User) -> tuple[int, int | None]:
    failed = tx.get_failed_sign_ins(pool_id, user.sub)
    return user.version, failed.version if failed is not None else None


def _probe(engine: Engine, name: str, request: Mapping[str, Any]) -> _Probe | None:
    with engine.store.transaction() as tx:
        if name == "ChangePassword":
            pool, _, user, _ = tokens.authenticate(engine, tx, request["AccessToken"], engine.now())
            return _Probe(pool_id=pool.id, sub=user.sub, snapshot=_snapshot(tx, pool.id, user)) \
                if core.enabled(pool) else None
        pool = _pool_of(engine, tx, request)
        if pool is None or not core.enabled(pool):
            return None
        if name == "SignUp":
            return _Probe(pool_id=pool.id, sub=None, snapshot=None)
        linked = None
        user: User | None = None
        if name in ("InitiateAuth", "AdminInitiateAuth"):
            if request["AuthFlow"] in REFRESH_FLOWS:
                return None  # a token refresh is no sign-in event
            if request["AuthFlow"] == "CUSTOM_AUTH" and not core.records_custom_auth(pool):
                return None
            user = find_user(tx, pool, str((request.get("AuthParameters") or {}).get("USERNAME") or ""))
        elif name in _RESPONDS:
            event = _continued(tx, pool.id, request)
            if event is not None:
                linked = event.name
                user = tx.get_user_by_sub(pool.id, event.body["Sub"])
            elif request["ChallengeName"] == "CUSTOM_CHALLENGE" and not core.records_custom_auth(pool):
                return None
            else:
                # An answer carrying nothing we indexed (pycognito answers DEVICE_SRP_AUTH without
                # a Session) continues its user's latest sign-in if that is in progress; one
                # begun before the pool recorded events gets an event of its own.
                typed = str((request.get("ChallengeResponses") or {}).get("USERNAME") or "")
                user = find_user(tx, pool, typed) or (tx.get_user_by_sub(pool.id, typed) if typed else None)
                latest = _user_events(tx, pool.id, user.sub)[:1] if user is not None else []
                if latest and core.in_progress_sign_in(latest[0]):
                    linked = latest[0].name
        else:
            user = find_user(tx, pool, request["Username"])
        if user is None:
            return None
        return _Probe(pool_id=pool.id, sub=user.sub, snapshot=_snapshot(tx, pool.id, user), linked=linked)


def _continued(tx, pool_id: str, request: Mapping[str, Any]) -> PoolResource | None:
    for key in core.continued_by(request):
        index = tx.get_resource(pool_id, core.SESSION_KIND, key)
        if index is not None:
            return tx.get_resource(pool_id, core.KIND, index.body["Event"])
    return None


def _ip_address(name: str, request: Mapping[str, Any]) -> str | None:
    # An admin call comes from the app's server, which passes its user's address in
    # ContextData; otherwise the caller is the user, and only the TCP peer is believed.
    if name.startswith("Admin"):
        given = (request.get("ContextData") or {}).get("IpAddress")
        if given:
            return str(given)
    return context.client_address()


def _record(engine: Engine, name: str, request: Mapping[str, Any], probe: _Probe,
            response: Mapping[str, Any] | None, error: CognitoError | None) -> None:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = tx.get_pool(probe.pool_id)
        if pool is None:
            return
        if probe.sub is None:  # SignUp: only a success has a user to record for
            user = find_user(tx, pool, request["Username"]) if error is None else None
        else:
            user = tx.get_user_by_sub(pool.id, probe.sub)
        if user is None:
            return
        if error is not None and _snapshot(tx, pool.id, user) == probe.snapshot:
            return  # the refusal left storage as it was: so it stays
        sessions = [] if error else core.continuations(response)
        event_type = RECORDED[name]
        if event_type != core.SIGN_IN:
            _append(engine, tx, pool, user, event_type, core.FAIL if error else core.PASS, (), name, request, now)
            return
        outcome = core.FAIL if error else core.sign_in_response(response or {})
        if name in _RESPONDS:
            entry = core.challenge_entry(core.CHALLENGE_KINDS.get(request["ChallengeName"]), ok=error is None)
            linked = tx.get_resource(pool.id, core.KIND, probe.linked) if probe.linked else None
            if linked is not None:
                _advance(tx, linked, outcome, entry, sessions, error, now)
                return
            challenges = (entry,) if entry else ()
        else:
            checked = request["AuthFlow"] in core.PASSWORD_FLOWS
            challenges = (core.challenge_entry(core.PASSWORD, ok=error is None),) if checked else ()
        event = _append(engine, tx, pool, user, core.SIGN_IN, outcome, challenges, name, request, now,
                        sessions=sessions)
        for key in sessions:
            tx.put_resource(core.session_index(pool.id, key, event, now))


def _append(engine: Engine, tx, pool: UserPool, user: User, event_type: str, outcome: str, challenges,
            name: str, request: Mapping[str, Any], now, *, sessions=()) -> PoolResource:
    events = _user_events(tx, pool.id, user.sub)
    event = core.with_sessions(core.new_event(
        pool.id, user.sub, event_id=engine.request_id(), event_type=event_type, response=outcome,
        challenges=challenges, ip_address=_ip_address(name, request),
        rank=core.next_rank(events[0] if events else None, now), now=now,
    ), sessions)
    tx.put_resource(event)
    for old in core.overflow([event, *events]):
        _delete_event(tx, old)
    return event


def _advance(tx, event: PoolResource, outcome: str, entry, sessions: list[str], error: CognitoError | None,
             now) -> None:
    # A refused answer keeps the sign-in's continuations (it may be answered again); an
    # accepted one replaces them with the next step's, or ends them.
    old = list(event.body.get("Sessions", ()))
    keep = old if error is not None else sessions
    tx.put_resource(core.advanced(event, response=outcome, challenge=entry, sessions=keep, now=now))
    if error is not None:
        return
    for key in old:
        if key not in sessions and tx.get_resource(event.pool_id, core.SESSION_KIND, key) is not None:
            tx.delete_resource(event.pool_id, core.SESSION_KIND, key)
    for key in sessions:
        if key not in old:
            tx.put_resource(core.session_index(event.pool_id, key, event, now))


def _delete_event(tx, event: PoolResource) -> None:
    tx.delete_resource(event.pool_id, core.KIND, event.name)
    for key in event.body.get("Sessions", ()):
        if tx.get_resource(event.pool_id, core.SESSION_KIND, key) is not None:
            tx.delete_resource(event.pool_id, core.SESSION_KIND, key)


def _whose(engine: Engine, request: Mapping[str, Any]) -> tuple[str, str] | None:
    """(pool id, sub) of the user a delete names."""
    with engine.store.transaction() as tx:
        if request.get("AccessToken"):
            pool, _, user, _ = tokens.authenticate(engine, tx, request["AccessToken"], engine.now())
            return pool.id, user.sub
        pool = tx.get_pool(request["UserPoolId"])
        user = find_user(tx, pool, request["Username"]) if pool is not None else None
        return (pool.id, user.sub) if user is not None else None


def _purge(engine: Engine, pool_id: str, sub: str) -> None:
    with engine.store.transaction() as tx:
        if tx.get_pool(pool_id) is None:
            return
        for event in _user_events(tx, pool_id, sub):
            _delete_event(tx, event)
