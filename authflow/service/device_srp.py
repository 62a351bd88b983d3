"""A remembered device's own sign-in steps: RespondToAuthChallenge /
AdminRespondToAuthChallenge answering DEVICE_SRP_AUTH (the device's SRP_A) and
DEVICE_PASSWORD_VERIFIER (its proof).

Theory of operation: both steps continue the device's pending record
(`authflow.core.device_srp`), found by the answer's DEVICE_KEY; a Session, when the
client sends one, must be the latest one handed out for it. Each step follows the shape of
the user SRP answer (`authflow.service.srp`): a first transaction loads and checks
everything, the modular exponentiations run outside any transaction, a second transaction
checks that the record is still the one read and writes. A wrong device proof counts
against the user's lockout schedule, as a wrong password does, and leaves the record
answerable until it expires.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import auth, lockout
from authflow.core import device_srp as core
from authflow.core import devices as device_core
from authflow.core.records import AppClient, AuthSession, Device, User, UserPool
from authflow.crypto import srp
from authflow.errors import CognitoError, NotAuthorizedException, ResourceNotFoundException
from authflow.service import auth as flow
from authflow.service.devices import open_verifier
from authflow.service.engine import Engine


def _proof_context(record: AuthSession) -> str:
    return f"device-proof:{record.pool_id}:{record.device_key}"


def _checked(
    engine: Engine, tx, request: Mapping[str, Any], admin: bool, challenge: str, now: datetime, *,
    secret_hash_required: bool,
) -> tuple[UserPool, AppClient, AuthSession, User, Device, Mapping[str, str]]:
    """Everything a device answer needs, checked; refusals here write nothing."""
    pool, client = flow.load_client(engine, tx, request, admin)
    responses = request.get("ChallengeResponses") or {}
    key = device_core.check_key(auth.require_param(responses, "DEVICE_KEY"))
    username = auth.require_param(responses, "USERNAME")
    record = core.check_pending(tx.get_session(core.pending_id(pool.id, key)), challenge=challenge,
                                session=request.get("Session") or None, pool=pool, client=client, now=now)
    user = auth.check_answer_username(pool, record, tx.get_user(pool.id, record.username_key), username)
    # pycognito sends no SECRET_HASH with its DEVICE_SRP_AUTH answer; the record already
    # stands on a sign-in that gave one, so a missing hash is accepted there (not a wrong one).
    if secret_hash_required or responses.get("SECRET_HASH"):
        auth.check_secret_hash(client, engine.client_secrets(client), [username, user.username],
                               responses.get("SECRET_HASH"))
    if not user.enabled:
        raise NotAuthorizedException(auth.DISABLED)
    auth.check_sign_in_still_holds(user, record)
    device = device_core.owned(tx.get_device(pool.id, key), user)
    if not device_core.remembered(pool, device):  # no longer remembered since the step before
        raise ResourceNotFoundException(device_core.DEVICE_NOT_FOUND)
    return pool, client, record, user, device, responses


def answer_srp_auth(engine: Engine, request: Mapping[str, Any], admin: bool) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        _, _, record, _, device, responses = _checked(engine, tx, request, admin, core.SRP_AUTH, now,
                                                      secret_hash_required=False)
        big_a = core.parse_a(auth.require_param(responses, "SRP_A"))
    v = open_verifier(engine, device)
    while True:  # outside any transaction: a modular exponentiation
        b = int.from_bytes(engine.entropy.random_bytes(srp.B_SECRET_BYTES), "big")
        if srp.server_b(v, b) % srp.N:
            break
    token, moved, proof, parameters = core.start_proof(record, device, v=v, big_a=big_a, b=b, entropy=engine.entropy)
    sealed = engine.seal(proof.dumps(), _proof_context(moved))
    with engine.store.transaction() as tx:
        _, _, current, _, _, _ = _checked(engine, tx, request, admin, core.SRP_AUTH, now, secret_hash_required=False)
        if current.version != record.version:
            raise NotAuthorizedException(auth.INVALID_SESSION)  # another answer came first
        tx.put_session(replace(moved, progress=base64.b64encode(sealed).decode()))
    return auth.challenge_response(core.PASSWORD_VERIFIER, token, parameters)


def answer_password_verifier(engine: Engine, request: Mapping[str, Any], admin: bool) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, record, user, device, responses = _checked(
            engine, tx, request, admin, core.PASSWORD_VERIFIER, now, secret_hash_required=True
        )
        proof = core.DeviceProof.loads(engine.unseal(base64.b64decode(record.progress or ""), _proof_context(record)))
        timestamp = auth.require_param(responses, "TIMESTAMP")
        signature = auth.require_param(responses, "PASSWORD_CLAIM_SIGNATURE")
        raw = core.check_answer(proof, record, secret_block=auth.require_param(responses, "PASSWORD_CLAIM_SECRET_BLOCK"),
                                timestamp=timestamp, now=now)
        attempt = lockout.begin_attempt(tx.get_failed_sign_ins(pool.id, user.sub), pool_id=pool.id, key=user.sub,
                                        now=now)
        tx.put_failed_sign_ins(attempt.record)
    if attempt.refused:
        flow.audit("locked", client, user)
        raise NotAuthorizedException(lockout.LOCKED_MESSAGE)
    ok = srp.device_claim_matches(group_key=device.group_key, device_key=device.key, v=open_verifier(engine, device),
                                  big_a=proof.big_a, b=proof.b, u=proof.u, secret_block=raw, timestamp=timestamp,
                                  signature=signature)
    if not ok:
        core.rejected()
        flow.audit("wrong device proof", client, user)
        raise NotAuthorizedException(auth.INCORRECT)  # the failure is already counted

    error: CognitoError | None = None
    response: dict[str, Any] = {}
    with engine.store.transaction() as tx:
        pool, client, current, user, device, _ = _checked(
            engine, tx, request, admin, core.PASSWORD_VERIFIER, now, secret_hash_required=True
        )
        if current.version != record.version:
            raise NotAuthorizedException(auth.INVALID_SESSION)  # another answer came first
        if tx.get_failed_sign_ins(pool.id, user.sub) is not None:
            tx.delete_failed_sign_ins(pool.id, user.sub)  # a right proof resets the count
        try:
            auth.check_sign_in_status(pool, client, user, now)
        except CognitoError as err:
            error = err
        else:
            state, used = core.verified(current)
            tx.put_session(used)
            response, _ = flow.after_step(engine, tx, pool, client, user, state, current.typed_username, now,
                                          device=device, proved=True)
    return flow.conclude(engine, pool, client, user, error=error, response=response, messages=(),
                         metadata=request.get("ClientMetadata") or {}, step="device proof accepted")
