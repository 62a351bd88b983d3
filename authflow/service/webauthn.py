"""Passkeys: StartWebAuthnRegistration, CompleteWebAuthnRegistration, ListWebAuthnCredentials,
DeleteWebAuthnCredential; and what the WEB_AUTHN sign-in step and the hosted pages call
(`credentials_of`, `relying_party_id`, `request_options`, `verify_assertion`,
`start_registration`, `complete_registration`).

Theory of operation: the rules and records are `authflow.core.webauthn`, the ceremonies
`authflow.crypto.passkeys` (py_webauthn); this module loads, asks, writes. The four
operations authorise by access token. A registration answer is first read, to name what is
wrong the way Cognito names it (origin, relying party, user verification, algorithm), then
verified in full by py_webauthn. Its challenge is spent by the attempt: a refused answer
still deletes the pending registration, and that deletion is committed before the refusal
is raised (`SPENT` in the error's fields says so to a caller that holds the transaction).
Every other refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from authflow.core import webauthn as core
from authflow.core.records import AppClient, PoolResource, User, UserPool
from authflow.crypto import passkeys
from authflow.errors import (
    CognitoError,
    InvalidParameterException,
    OperationNotEnabledException,
    WebAuthnChallengeNotFoundException,
    WebAuthnCredentialNotSupportedException,
    WebAuthnRelyingPartyMismatchException,
)
from authflow.service.domains import domains_of
from authflow.service.engine import Engine
from authflow.service.pools import decode_next_token, encode_next_token
from authflow.service.registry import operation
from authflow.service.tokens import authenticate

#: The field a refusal of `complete_registration` carries when it spent the pending
#: registration in the caller's transaction: commit it anyway, then raise.
SPENT = "spent"
CHALLENGE_BYTES = 32


def credentials_of(tx, pool_id: str, sub: str) -> list[PoolResource]:
    """The user's passkeys, by credential id."""
    prefix = core.user_prefix(sub)
    found = tx.list_resources(pool_id, core.CREDENTIAL, after=prefix, limit=core.MAX_CREDENTIALS + 1)
    return [r for r in found if r.name.startswith(prefix)]


def relying_party_id(tx, engine: Engine, pool: UserPool) -> str:
    """The pool's RP ID (WebAuthnConfigurationMissingException when it has none)."""
    return core.relying_party_id(pool, domains_of(tx, pool.id), engine.region)


def require_ceremonies() -> None:
    """py_webauthn is the optional `passkeys` extra: without it, what needs a ceremony is
    OperationNotEnabledException saying how to install it (listing and deleting still work)."""
    try:
        passkeys.require()
    except passkeys.Unavailable as err:
        raise OperationNotEnabledException(str(err)) from None


def _descriptors(credentials: list[PoolResource]) -> list[tuple[str, list[str]]]:
    return [(c.body["CredentialId"], list(c.body["AuthenticatorTransports"])) for c in credentials]


# -- sign-in ------------------------------------------------------------------------------------


def request_options(engine: Engine, tx, pool: UserPool, user: User, *, challenge: bytes) -> str:
    """CREDENTIAL_REQUEST_OPTIONS of the WEB_AUTHN challenge: PublicKeyCredentialRequestOptionsJSON
    naming the user's passkeys."""
    require_ceremonies()
    return passkeys.request_options(
        rp_id=relying_party_id(tx, engine, pool), challenge=challenge, timeout_ms=core.TIMEOUT_MS,
        allow=_descriptors(credentials_of(tx, pool.id, user.sub)), user_verification=core.user_verification(pool),
    )


def verify_assertion(engine: Engine, tx, pool: UserPool, user: User, credential: str | Mapping[str, Any], *,
                     challenge: bytes) -> None:
    """Verify an AuthenticationResponseJSON against the user's own passkeys and record the
    new sign count (and the time of use) in `tx`. Every refusal is NotAuthorizedException
    `Incorrect username or passkey.`, whatever failed, and writes nothing."""
    require_ceremonies()
    try:
        answer = passkeys.inspect_assertion(credential)
    except passkeys.Malformed:
        raise core.sign_in_refused() from None
    record = tx.get_resource(pool.id, core.CREDENTIAL, core.credential_name(user.sub, answer.credential_id))
    if record is None or answer.client_data_type != "webauthn.get":
        raise core.sign_in_refused()
    if answer.user_handle is not None and answer.user_handle != user.sub.encode("utf-8"):
        raise core.sign_in_refused()  # the authenticator holds it for another account (WebAuthn §7.2 step 6)
    rp_id = record.body["RelyingPartyId"]
    if not core.origin_allowed(answer.origin, rp_id):
        raise core.sign_in_refused()
    try:
        count = passkeys.verify_assertion(
            credential, challenge=challenge, rp_id=rp_id, origin=answer.origin, public_key=record.body["PublicKey"],
            sign_count=int(record.body["SignCount"]),
            require_user_verification=core.user_verification(pool) == "required",
        )
    except passkeys.Rejected:
        raise core.sign_in_refused() from None
    tx.put_resource(core.used(record, sign_count=count, now=engine.now()))


# -- registration -------------------------------------------------------------------------------


def start_registration(engine: Engine, tx, pool: UserPool, client: AppClient, user: User, now: datetime) -> dict:
    """PublicKeyCredentialCreationOptionsJSON for a new passkey of `user`, and the pending
    registration it answers (replacing the user's earlier one) written in `tx`."""
    core.require_enabled(pool)
    require_ceremonies()
    rp_id = relying_party_id(tx, engine, pool)
    existing = credentials_of(tx, pool.id, user.sub)
    core.check_room(existing)
    challenge = engine.entropy.random_bytes(CHALLENGE_BYTES)
    options = passkeys.creation_options(
        rp_id=rp_id, user_id=user.sub.encode("utf-8"), user_name=user.username, challenge=challenge,
        timeout_ms=core.TIMEOUT_MS, exclude=_descriptors(existing), user_verification=core.user_verification(pool),
    )
    previous = tx.get_resource(pool.id, core.REGISTRATION, user.sub)
    tx.put_resource(core.pending_registration(pool, user, client_id=client.id, challenge=passkeys.b64url(challenge),
                                              rp_id=rp_id, previous=previous, now=now))
    return options


def complete_registration(engine: Engine, tx, pool: UserPool, client: AppClient, user: User,
                          credential: str | Mapping[str, Any], now: datetime) -> None:
    """Verify a RegistrationResponseJSON against the user's pending registration and store
    the passkey in `tx`. Refusals before the challenge is spent (not enabled, none pending or
    expired, another client) write nothing; later ones delete the pending registration in
    `tx` and carry `fields[SPENT]`: the caller commits, then raises."""
    core.require_enabled(pool)
    require_ceremonies()
    pending = core.live_registration(tx.get_resource(pool.id, core.REGISTRATION, user.sub), now)
    core.check_client(pending, client.id)
    tx.delete_resource(pool.id, core.REGISTRATION, pending.name)
    try:
        _register(tx, pool, user, pending, credential, now)
    except CognitoError as err:
        err.fields[SPENT] = True
        raise


def _register(tx, pool: UserPool, user: User, pending: PoolResource, credential, now: datetime) -> None:
    rp_id = pending.body["RelyingPartyId"]
    uv_required = pending.body["UserVerification"] == "required"
    try:
        answer = passkeys.inspect_registration(credential)
    except passkeys.Malformed:
        raise InvalidParameterException(core.CREDENTIAL_INVALID, member="Credential") from None
    if answer.client_data_type != "webauthn.create":
        raise InvalidParameterException(core.CREDENTIAL_INVALID, member="Credential")
    if passkeys.b64url(answer.challenge) != pending.body["Challenge"]:
        raise WebAuthnChallengeNotFoundException("The credential answers another challenge than the pending one.")
    origin = core.check_origin(answer.origin, rp_id)
    if answer.rp_id_hash != passkeys.rp_id_hash(rp_id):
        raise WebAuthnRelyingPartyMismatchException(f"The credential was not made for relying party {rp_id}.")
    if uv_required and not answer.user_verified:
        raise WebAuthnCredentialNotSupportedException("The user pool requires user verification; the authenticator did not verify the user.")
    if not passkeys.supported(answer):
        raise WebAuthnCredentialNotSupportedException(
            f"Unsupported credential: key algorithm {answer.algorithm}, attestation format {answer.fmt}."
        )
    try:
        verified = passkeys.verify_registration(credential, challenge=passkeys.unb64url(pending.body["Challenge"]),
                                                rp_id=rp_id, origin=origin, require_user_verification=uv_required)
    except passkeys.Rejected:
        raise InvalidParameterException(core.CREDENTIAL_INVALID, member="Credential") from None
    core.check_unique(tx.get_resource(pool.id, core.CREDENTIAL_ID, verified.credential_id))
    core.check_room(credentials_of(tx, pool.id, user.sub))
    record, index = core.new_credential(
        pool, user, credential_id=verified.credential_id, public_key=verified.public_key,
        sign_count=verified.sign_count, rp_id=rp_id, transports=answer.transports, attachment=answer.attachment,
        aaguid=verified.aaguid, user_verified=verified.user_verified, now=now,
    )
    tx.put_resource(record)
    tx.put_resource(index)


def delete_credentials_of(tx, pool_id: str, sub: str) -> None:
    """Every passkey of the user, its index entry, and a pending registration (the user is
    being deleted)."""
    for record in credentials_of(tx, pool_id, sub):
        tx.delete_resource(pool_id, core.CREDENTIAL, record.name)
        tx.delete_resource(pool_id, core.CREDENTIAL_ID, record.body["CredentialId"])
    if tx.get_resource(pool_id, core.REGISTRATION, sub) is not None:
        tx.delete_resource(pool_id, core.REGISTRATION, sub)


# -- the operations -----------------------------------------------------------------------------


@operation("StartWebAuthnRegistration")
def start_web_authn_registration(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        options = start_registration(engine, tx, pool, client, user, now)
    return {"CredentialCreationOptions": options}


@operation("CompleteWebAuthnRegistration")
def complete_web_authn_registration(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    refusal: CognitoError | None = None
    with engine.store.transaction() as tx:
        pool, client, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        try:
            complete_registration(engine, tx, pool, client, user, request["Credential"], now)
        except CognitoError as err:
            if not err.fields.get(SPENT):
                raise
            refusal = err  # raised after the commit: the challenge stays spent
    if refusal is not None:
        raise refusal
    return {}


@operation("ListWebAuthnCredentials")
def list_web_authn_credentials(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    limit = request.get("MaxResults") or core.DEFAULT_LIST_LIMIT
    position = decode_next_token(request.get("NextToken"))
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        prefix = core.user_prefix(user.sub)
        after = prefix if position is None else core.credential_name(user.sub, position)
        found = [r for r in tx.list_resources(pool.id, core.CREDENTIAL, after=after, limit=limit + 1)
                 if r.name.startswith(prefix)]
    page = found[:limit]
    response: dict[str, Any] = {"Credentials": [core.description(r) for r in page]}
    if len(found) > limit:
        response["NextToken"] = encode_next_token(page[-1].body["CredentialId"])
    return response


@operation("DeleteWebAuthnCredential")
def delete_web_authn_credential(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, _, user, _ = authenticate(engine, tx, request["AccessToken"], now)
        credential_id = request["CredentialId"]
        record = core.owned(tx.get_resource(pool.id, core.CREDENTIAL, core.credential_name(user.sub, credential_id)))
        tx.delete_resource(pool.id, core.CREDENTIAL, record.name)
        tx.delete_resource(pool.id, core.CREDENTIAL_ID, credential_id)
    return {}
