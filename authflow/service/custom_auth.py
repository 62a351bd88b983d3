"""CUSTOM_AUTH: InitiateAuth / AdminInitiateAuth with AuthFlow CUSTOM_AUTH, and the
answers to CUSTOM_CHALLENGE.

Theory of operation: every round runs in three steps. A first transaction loads and
checks everything (client, flow, SECRET_HASH, the user and their status, or the
session being answered) and writes nothing. The pool's functions then run outside any
transaction (they may be slow, and must not hold the store's write lock): Verify
judges an answer, Define decides what comes next, Create makes the next challenge.
A last transaction re-reads what the first one checked, marks an answered session
used (so two racing answers cannot both go on), and writes what the auth-session
machine decided: a new CUSTOM_CHALLENGE session carrying the sealed `Progress`, the
next standard challenge, or tokens. A function that fails leaves the store as it was.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import auth, identity
from authflow.core import client_config as cc
from authflow.core import custom_auth as core
from authflow.core import pool_config as pc
from authflow.core import srp as srp_core
from authflow.core import trigger_events as te
from authflow.core.effects import Message
from authflow.core.records import AppClient, AuthSession, Device, User, UserPool
from authflow.core.users import find_user
from authflow.errors import CognitoError, InvalidParameterException, NotAuthorizedException
from authflow.service import devices
from authflow.service import srp as srp_service
from authflow.service.auth import (
    after_step,
    conclude,
    load_client,
    load_for_flow,
    pre_authentication,
)
from authflow.service.engine import Engine


def initiate(engine: Engine, request: Mapping[str, Any], admin: bool) -> dict[str, Any]:
    params = request.get("AuthParameters") or {}
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client = load_for_flow(engine, tx, request, admin)
        typed = auth.require_param(params, "USERNAME")
        # CHALLENGE_NAME=SRP_A: the flow starts with the password proof, if Define asks for it.
        with_srp = params.get("CHALLENGE_NAME") == core.SRP_A_ROUND_NAME
        big_a = srp_core.parse_a(auth.require_param(params, "SRP_A")) if with_srp else None
        core.require_function(pool, core.DEFINE)
        user = _signing_in_user(engine, tx, pool, client, typed, params.get("SECRET_HASH"), now)
        device = devices.attempt_device(tx, pool, user, devices.device_key_of(params))
        pool_secret = engine.pool_secret(pool) if with_srp else None
    arn = pc.lambda_arn(pool.config, "PreAuthentication")
    if arn:
        pre_authentication(engine, request, pool, client, user, arn, typed=typed)
    # ClientMetadata of InitiateAuth does not reach the challenge functions (Cognito's rule).
    rounds = (core.Round(core.SRP_A_ROUND_NAME, True),) if with_srp else ()
    progress = core.Progress(rounds=rounds, user_not_found=user is None)
    state, created = _define(engine, pool, client, user, typed, progress, "INITIATED", {}, device)
    if state == core.PASSWORD_VERIFIER:
        return srp_service.challenge(
            engine, pool, client, user, typed=typed, big_a=big_a, pool_secret=pool_secret, now=now, custom=True
        )
    return _write_round(engine, request, admin, user, typed, progress, state, created, consume=None, now=now,
                        device=device)


def after_password_proof(
    engine: Engine, request: Mapping[str, Any], admin: bool, pool: UserPool, client: AppClient, user: User,
    block, text: str, now: datetime,
) -> dict[str, Any]:
    """A custom flow's right SRP proof (checked by `authflow.service.srp`): Define decides
    what follows, with the rounds SRP_A and PASSWORD_VERIFIER behind it."""
    metadata = request.get("ClientMetadata") or {}
    progress = core.Progress(rounds=(
        core.Round(core.SRP_A_ROUND_NAME, True), core.Round(core.PASSWORD_VERIFIER, True),
    ))
    with engine.store.transaction() as tx:
        device = devices.attempt_device(tx, pool, user, devices.device_key_of(request.get("ChallengeResponses")))
    state, created = _define(engine, pool, client, user, block.typed_username, progress, core.PASSWORD_VERIFIER,
                             metadata, device)

    def consume(tx, pool: UserPool, client: AppClient) -> None:
        # The block is checked again where its use is written: one answer per block.
        srp_core.check_block(block, tx.get_session(srp_core.block_id(text)), pool=pool, client=client, now=now)
        if srp_core.provable_user(block, tx.get_user(pool.id, user.username_key)) is None:
            raise NotAuthorizedException(auth.INCORRECT)  # re-passworded (or deleted) since the proof
        if tx.get_failed_sign_ins(pool.id, user.sub) is not None:
            tx.delete_failed_sign_ins(pool.id, user.sub)  # a right password resets the count
        tx.put_session(srp_core.used_record(block, text, now))

    return _write_round(engine, request, admin, user, block.typed_username, progress, state, created,
                        consume=consume, now=now, metadata=metadata, device=device)


def answer(engine: Engine, request: Mapping[str, Any], admin: bool) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, record, user, typed = _open(engine, tx, request, admin, now)
        given = auth.require_param(request.get("ChallengeResponses"), "ANSWER")
        device = devices.attempt_device(
            tx, pool, user, devices.device_key_of(request.get("ChallengeResponses")), record.device_key
        )
        verify = core.require_function(pool, core.VERIFY)
        progress = _progress(engine, record)
        _check_proof_holds(progress, record, user)
    metadata = request.get("ClientMetadata") or {}
    event = te.event(
        "VerifyAuthChallengeResponse_Authentication", region=engine.region, pool_id=pool.id,
        username=user.username if user else typed, client_id=client.id,
        request=core.verify_request(user, progress, given, metadata),
    )
    correct = core.read_verify(te.invoke(engine.triggers, verify, event))
    progress = progress.answered(correct)
    state, created = _define(engine, pool, client, user, typed, progress, core.CHALLENGE, metadata, device)
    def consume(tx, pool: UserPool, client: AppClient) -> None:
        # Checked again where it is written: one answer per session, even when racing.
        current = auth.check_session(tx.get_session(record.id), pool=pool, client=client, now=now)
        if user is not None:
            _check_proof_holds(progress, current, tx.get_user(pool.id, user.username_key))
        tx.put_session(auth.used(current))

    return _write_round(
        engine, request, admin, user, typed, progress, state, created, consume=consume, now=now, metadata=metadata,
        device=device,
    )


# -- the steps ---------------------------------------------------------------------------------


def _signing_in_user(
    engine: Engine, tx, pool: UserPool, client: AppClient, typed: str, given_hash: str | None, now: datetime
) -> User | None:
    """The user a custom sign-in is for, once the request and their status allow it;
    None for an unknown name under PreventUserExistenceErrors=ENABLED."""
    user = find_user(tx, pool, typed)
    auth.check_secret_hash(
        client, engine.client_secrets(client), [typed] + ([user.username] if user else []), given_hash
    )
    if user is None:
        if not cc.prevent_user_existence_errors(client.config):
            raise auth.unknown_user_error(client)
        return None
    if not user.enabled:
        raise NotAuthorizedException(auth.DISABLED)
    if not cc.prevent_user_existence_errors(client.config):
        auth.check_sign_in_status(pool, client, user, now)
    # Under ENABLED the status is refused where tokens would be issued (`_write_round`):
    # refused here, before any challenge, a user would stand apart from an unknown name,
    # which gets challenges to the end.
    return user


def _open(
    engine: Engine, tx, request: Mapping[str, Any], admin: bool, now: datetime
) -> tuple[UserPool, AppClient, AuthSession, User | None, str]:
    """Load and check the CUSTOM_CHALLENGE session being answered; refusals change nothing."""
    pool, client = load_client(engine, tx, request, admin)
    responses = request.get("ChallengeResponses") or {}
    given = request.get("Session")
    if not given:
        raise InvalidParameterException("Missing required parameter Session")
    record = auth.check_session(tx.get_session(auth.session_id(given)), pool=pool, client=client, now=now)
    if record.challenge != core.CHALLENGE:
        raise InvalidParameterException(
            f"Invalid challenge name {core.CHALLENGE}: the session expects an answer to {record.challenge}"
        )
    username = auth.require_param(responses, "USERNAME")
    if record.sub:
        user = auth.check_answer_username(pool, record, tx.get_user(pool.id, record.username_key), username)
        names = [username, user.username]
    else:  # a simulated challenge: the typed name, or the one the challenge named
        key = identity.username_key(pool.config, username)
        named = srp_core.simulated_user_id(engine.pool_secret(pool), pool, record.typed_username)
        if key not in {identity.username_key(pool.config, n) for n in (record.typed_username, named)}:
            raise NotAuthorizedException(auth.INVALID_SESSION)
        user, names = None, [username]
    auth.check_secret_hash(client, engine.client_secrets(client), names, responses.get("SECRET_HASH"))
    if user is not None and not user.enabled:
        raise NotAuthorizedException(auth.DISABLED)
    return pool, client, record, user, record.typed_username


def _check_proof_holds(progress: core.Progress, record: AuthSession, user: User | None) -> None:
    """After a password proof, the rounds stand on that password: once it is replaced
    (AdminSetUserPassword, a reset) the session is refused, as an SMS_MFA session is."""
    if progress.password_proved and (user is None or record.credential_tag != auth.credential_tag(user.credential)):
        raise NotAuthorizedException(auth.INVALID_SESSION)


def _define(
    engine: Engine, pool: UserPool, client: AppClient, user: User | None, typed: str,
    progress: core.Progress, state: str, metadata: Mapping[str, Any], device: Device | None = None,
) -> tuple[str, core.Created | None]:
    """Ask Define where the attempt goes; ask Create for the challenge if it is one."""
    username = user.username if user else typed
    event = te.event(
        "DefineAuthChallenge_Authentication", region=engine.region, pool_id=pool.id, username=username,
        client_id=client.id, request=core.define_request(user, progress, metadata),
    )
    defined = core.read_define(
        te.invoke(engine.triggers, core.require_function(pool, core.DEFINE), event), after_srp_a=progress.after_srp_a
    )
    state = core.next_state(state, defined, pool, user, device)
    if state != core.CHALLENGE:
        return state, None
    event = te.event(
        "CreateAuthChallenge_Authentication", region=engine.region, pool_id=pool.id, username=username,
        client_id=client.id, request=core.create_request(user, progress, metadata),
    )
    return state, core.read_create(te.invoke(engine.triggers, core.require_function(pool, core.CREATE), event))


def _write_round(
    engine: Engine, request: Mapping[str, Any], admin: bool, user: User | None, typed: str,
    progress: core.Progress, state: str, created: core.Created | None, *,
    consume: Callable[[Any, UserPool, AppClient], None] | None, now: datetime,
    metadata: Mapping[str, Any] | None = None, device: Device | None = None,
) -> dict[str, Any]:
    """Write what Define decided; `consume` first marks what was answered (a session, an
    SRP block) as used, inside the same transaction. `device`: the user's device the
    attempt carries, read again here (it may have been forgotten meanwhile)."""
    error: CognitoError | None = None
    messages: tuple[Message, ...] = ()
    response: dict[str, Any] = {}
    with engine.store.transaction() as tx:
        pool, client = load_client(engine, tx, request, admin)
        if consume is not None:
            consume(tx, pool, client)
        current = None
        if user is not None:
            current = tx.get_user(pool.id, user.username_key)
            if current is None or current.sub != user.sub or not current.enabled:
                raise NotAuthorizedException(auth.INCORRECT)  # deleted or disabled meanwhile
        device = devices.attempt_device(tx, pool, current, device.key if device else None)
        if state == "FAILED":
            error = NotAuthorizedException(auth.INCORRECT)
        elif state == core.CHALLENGE:
            token, session = auth.new_session(
                pool, client, current, challenge=state, typed_username=typed, now=now, entropy=engine.entropy,
                device_key=device.key if device else None,
            )
            remembered = core.Progress(
                rounds=progress.rounds, private=created.private, metadata=created.metadata,
                user_not_found=progress.user_not_found,
            )
            sealed = engine.seal(remembered.dumps(), _context(session))
            tx.put_session(replace(session, progress=base64.b64encode(sealed).decode()))
            # An unknown name is named as a real user would be (their username), not echoed.
            named = current.username if current else srp_core.simulated_user_id(engine.pool_secret(pool), pool, typed)
            parameters = core.challenge_parameters(created, named)
            response = auth.challenge_response(state, token, parameters)
        else:
            try:
                auth.check_sign_in_status(pool, client, current, now)
                auth.check_challenge_possible(state, current)
            except CognitoError as err:
                error = err
            else:
                response, messages = after_step(engine, tx, pool, client, current, state, typed, now,
                                                device=device)
    return conclude(engine, pool, client, current or user, error=error, response=response, messages=messages,
                    metadata=metadata or {}, step="custom auth")


def _context(session: AuthSession) -> str:
    return f"custom-challenge:{session.pool_id}:{session.id}"


def _progress(engine: Engine, record: AuthSession) -> core.Progress:
    return core.Progress.loads(engine.unseal(base64.b64decode(record.progress or ""), _context(record)))
