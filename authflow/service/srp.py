"""USER_SRP_AUTH: InitiateAuth / AdminInitiateAuth answered with PASSWORD_VERIFIER, and
RespondToAuthChallenge / AdminRespondToAuthChallenge answering it; and the SRP verifier
every new password gets.

Theory of operation: the first step writes nothing. It checks the request as the password
flow does (client, flow, SECRET_HASH, disabled user, PreAuthentication), draws b from the
entropy port, and returns B with a sealed SECRET_BLOCK that holds the state of the attempt.
The second step follows the password flow's shape (`authflow.service.auth`): a first
transaction checks the block and the answer and counts the attempt against the lockout
schedule; the proof is checked outside any transaction (two modular exponentiations);
a second transaction re-reads the user, takes the counted failure back, records the block
as used and writes what the auth-session machine decided, through the password flow's own
helpers. A refused answer leaves nothing behind but the lockout count.

Verifiers are sealed under the KEK (`Engine.seal`), bound to the pool, the user and the
salt: a dump of the store alone lets nobody test a password guess against them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from authflow.core import auth, lockout
from authflow.core import client_config as cc
from authflow.core import pool_config as pc
from authflow.core import srp as core
from authflow.core.records import User, UserPool
from authflow.core.users import find_user
from authflow.crypto import srp
from authflow.crypto.sealing import SealError, unseal
from authflow.errors import CognitoError, NotAuthorizedException
from authflow.service import auth as flow
from authflow.service import devices
from authflow.service.engine import Engine
from authflow.service.verifiers import open_verifier

# -- InitiateAuth(USER_SRP_AUTH) -----------------------------------------------------------------


def initiate(engine: Engine, request: Mapping[str, Any], admin: bool) -> dict[str, Any]:
    params = request.get("AuthParameters") or {}
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client = flow.load_for_flow(engine, tx, request, admin)
        typed = auth.require_param(params, "USERNAME")
        big_a = core.parse_a(auth.require_param(params, "SRP_A"))
        user = find_user(tx, pool, typed)
        auth.check_secret_hash(
            client, engine.client_secrets(client), [typed] + ([user.username] if user else []),
            params.get("SECRET_HASH"),
        )
        if user is not None and not user.enabled:
            raise NotAuthorizedException(auth.DISABLED)
        if user is None and not cc.prevent_user_existence_errors(client.config):
            flow.audit("unknown user", client, None)
            raise auth.unknown_user_error(client)
        if (user is not None and user.credential is None and user.status == "RESET_REQUIRED"
                and not cc.prevent_user_existence_errors(client.config)):
            # Imported (CSV): no verifier to challenge with, a reset first, as the password
            # flow says. Under PreventUserExistenceErrors the simulated challenge fails later
            # as a wrong password does, so the answer tells nothing an unknown name would not.
            raise auth.status_error(client, user)
        pool_secret = engine.pool_secret(pool)
    # As in the password flow: for users, and for unknown names under
    # PreventUserExistenceErrors=ENABLED (userNotFound). Nothing is written by this step,
    # so the function runs after its checks.
    arn = pc.lambda_arn(pool.config, "PreAuthentication")
    if arn:
        flow.pre_authentication(engine, request, pool, client, user, arn, typed=typed)
    return challenge(engine, pool, client, user, typed=typed, big_a=big_a, pool_secret=pool_secret, now=now,
                     user_auth=request["AuthFlow"] == "USER_AUTH")


def challenge(
    engine: Engine, pool: UserPool, client, user: User | None, *, typed: str, big_a: int, pool_secret: bytes,
    now, custom: bool = False, user_auth: bool = False,
) -> dict[str, Any]:
    """The PASSWORD_VERIFIER challenge for `user` (None: a name no user has), once the
    request has been checked; writes nothing. `custom`: asked by a custom flow's Define."""
    real = user is not None and user.credential is not None and user.credential.srp_verifier is not None
    if real:
        salt, user_id, v = user.credential.srp_salt, user.username, open_verifier(engine, pool, user)
    else:  # unknown (ENABLED), or a password set before SRP existed: simulated, fails later
        salt = srp.pad_hex(core.simulated_salt(pool_secret, pool, typed))
        user_id = user.username if user else core.simulated_user_id(pool_secret, pool, typed)
        v = core.simulated_verifier(pool_secret, pool, typed)
    while True:
        b = int.from_bytes(engine.entropy.random_bytes(srp.B_SECRET_BYTES), "big")
        big_b = srp.server_b(v, b)
        if big_b % srp.N:
            break
    block = core.new_block(pool, client, user, typed=typed, user_id=user_id,
                           big_a=big_a, big_b=big_b, b=b, now=now, custom=custom,
                           user_auth=user_auth)
    sealed = engine.seal(core.encode_block(block), core.block_context(pool.id, client.id))
    text = base64.b64encode(sealed).decode()
    flow.audit("srp started", client, user)
    return {"ChallengeName": core.CHALLENGE, "ChallengeParameters": core.challenge(salt, big_b, text, user_id)}


# -- RespondToAuthChallenge(PASSWORD_VERIFIER) ---------------------------------------------------------


def _checked(engine: Engine, tx, request: Mapping[str, Any], admin: bool, now):
    """Everything an answer needs, checked; refusals here write nothing."""
    pool, client = flow.load_client(engine, tx, request, admin)
    responses = request.get("ChallengeResponses") or {}
    given = core.require(responses, "USERNAME")
    text = core.require(responses, "PASSWORD_CLAIM_SECRET_BLOCK")
    signature = core.require(responses, "PASSWORD_CLAIM_SIGNATURE")
    timestamp = core.require(responses, "TIMESTAMP")
    raw = core.block_bytes(text)
    try:
        block = core.decode_block(unseal(engine.keyring, raw, core.block_context(pool.id, client.id)))
    except SealError:
        raise NotAuthorizedException(auth.INCORRECT) from None
    # The flow the block was issued in must still be enabled for the client.
    auth.check_flow("CUSTOM_AUTH" if block.custom else "USER_AUTH" if block.user_auth else "USER_SRP_AUTH",
                    admin=admin, client=client)
    core.check_block(block, tx.get_session(core.block_id(text)), pool=pool, client=client, now=now)
    core.check_username(pool, block, given)
    stored = core.issued_user(block, tx.get_user(pool.id, block.username_key) if block.username_key else None)
    auth.check_secret_hash(client, engine.client_secrets(client),
                           [given, block.typed_username, block.user_id], responses.get("SECRET_HASH"))
    if stored is not None and not stored.enabled:
        raise NotAuthorizedException(auth.DISABLED)
    core.check_timestamp(timestamp, block, now)
    return pool, client, block, stored, text, raw, signature, timestamp


#: What a custom flow does after a right proof (`custom_auth.after_password_proof`):
#: (engine, request, admin, pool, client, user, block, block text, now) -> response.
CustomContinuation = Callable[..., dict[str, Any]]


def respond(
    engine: Engine, request: Mapping[str, Any], admin: bool, *, custom: CustomContinuation
) -> dict[str, Any]:
    """The PASSWORD_VERIFIER answer; a block a custom flow issued goes on with `custom`."""
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, block, stored, text, raw, signature, timestamp = _checked(engine, tx, request, admin, now)
        user = core.provable_user(block, stored)
        refused = False
        key = auth.lockout_key(pool, client, stored, block.typed_username)
        if key is not None:
            attempt = lockout.begin_attempt(tx.get_failed_sign_ins(pool.id, key), pool_id=pool.id, key=key, now=now)
            tx.put_failed_sign_ins(attempt.record)
            refused = attempt.refused
        pool_secret = engine.pool_secret(pool)
    if refused:
        flow.audit("locked", client, stored)
        raise NotAuthorizedException(lockout.LOCKED_MESSAGE)
    # Outside any transaction, and the same work for a simulated user as for a real one.
    v = open_verifier(engine, pool, user) if user else core.simulated_verifier(pool_secret, pool, block.typed_username)
    ok = srp.claim_matches(pool_id=pool.id, user_id=block.user_id, v=v, big_a=block.big_a, b=block.b,
                           u=block.u, secret_block=raw, timestamp=timestamp, signature=signature)
    if user is None or not ok:
        core.rejected()
        flow.audit("wrong password (SRP)", client, stored)
        raise NotAuthorizedException(auth.INCORRECT)  # the failure is already counted
    if block.custom:
        return custom(engine, request, admin, pool, client, user, block, text, now)

    error: CognitoError | None = None
    response: dict[str, Any] = {}
    messages = ()
    with engine.store.transaction() as tx:
        pool, client, block, current, text, raw, signature, timestamp = _checked(engine, tx, request, admin, now)
        if core.provable_user(block, current) is None or current.credential != user.credential:
            raise NotAuthorizedException(auth.INCORRECT)  # deleted or re-passworded meanwhile
        if tx.get_failed_sign_ins(pool.id, current.sub) is not None:
            tx.delete_failed_sign_ins(pool.id, current.sub)  # a right password resets the count
        try:  # decide first, write after: a refusal here must not undo the reset above
            auth.check_sign_in_status(pool, client, current, now)
            # The answer's DEVICE_KEY only (not InitiateAuth's): refused as unknown, the same
            # block is answered again without it (amazon-cognito-identity-js does).
            responses = request.get("ChallengeResponses") or {}
            device = devices.attempt_device(tx, pool, current, devices.device_key_of(responses))
            state = auth.next_challenge(core.CHALLENGE, "password_verified", pool, current, device)
            auth.check_challenge_possible(state, current)
        except CognitoError as err:
            error = err
        else:
            engine.write(tx, puts=(core.used_record(block, text, now),))
            response, messages = flow.after_step(
                engine, tx, pool, client, current, state, block.typed_username, now, device=device
            )
    return flow.conclude(engine, pool, client, current, error=error, response=response, messages=messages,
                         metadata=request.get("ClientMetadata") or {}, step="SRP proof accepted")
