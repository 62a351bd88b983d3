"""Sign-in with a password, and the steps every sign-in flow shares: the password flows
(USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH), REFRESH_TOKEN_AUTH, and the answers to
NEW_PASSWORD_REQUIRED and the sent-code MFA steps (SMS_MFA, EMAIL_OTP). The operations
that dispatch to these, to SRP (`authflow.service.srp`) and to CUSTOM_AUTH
(`authflow.service.custom_auth`) are in `authflow.service.sign_in`.

Theory of operation: a password sign-in runs in three steps. The first transaction
loads the client and the user and counts the attempt against the lockout schedule
(see `authflow.core.lockout`); the password is then checked outside any
transaction, because Argon2id is slow on purpose and must not hold the store's
write lock; the second transaction re-reads everything, takes the counted failure
back, and writes what the auth-session machine decided: a challenge session, or a
refresh-token family and tokens. Errors that must leave a write behind (a counted
failure, a refused attempt during a lockout) are raised after their transaction
has committed; every other refusal rolls back and leaves storage unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import auth, device_srp, lockout, mfa, user_auth
from authflow.core import client_config as cc
from authflow.core import pool_config as pc
from authflow.core import refresh_rotation as rotation
from authflow.core import tokens as core_tokens
from authflow.core import trigger_events as te
from authflow.core.lifecycle import IllegalTransition, user_lifecycle
from authflow.core.records import (
    AppClient,
    AuthSession,
    Device,
    OutboxEntry,
    RefreshToken,
    User,
    UserPool,
)
from authflow.core.users import find_user
from authflow.crypto.passwords import needs_rehash
from authflow.crypto.signing import sign
from authflow.errors import (
    CodeMismatchException,
    CognitoError,
    InvalidParameterException,
    NotAuthorizedException,
    PasswordResetRequiredException,
    RefreshTokenReuseException,
    UserNotConfirmedException,
)
from authflow.service import devices
from authflow.service import refresh_rotation as refresh_families
from authflow.service.engine import Engine
from authflow.service.groups import groups_of
from authflow.service.keys import current_keys
from authflow.service.messages import customized_messages
from authflow.service.registry import operation
from authflow.service.verifiers import with_verifier

events = logging.getLogger("authflow.auth")

#: A hosted sign-in's answer at AUTHENTICATED (`hosted=True`): who authenticated and when
#: (`sub`, `auth_time`), in place of `AuthenticationResult`. The hosted pages mint an OAuth
#: code from it (`authflow.service.oauth.complete`); no API token, refresh family or device
#: is issued. See `authflow.service.hosted_sign_in`.
HOSTED_RESULT = "HostedAuthentication"


def load_client(engine: Engine, tx, request: Mapping[str, Any], admin: bool) -> tuple[UserPool, AppClient]:
    return engine.require_client(tx, request["ClientId"], request["UserPoolId"] if admin else None)


# -- InitiateAuth -------------------------------------------------------------------------


def load_for_flow(engine: Engine, tx, request: Mapping[str, Any], admin: bool) -> tuple[UserPool, AppClient]:
    pool, client = load_client(engine, tx, request, admin)
    auth.check_flow(request["AuthFlow"], admin=admin, client=client)
    return pool, client


def password_sign_in(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool = False) -> dict[str, Any]:
    """`hosted`: the hosted pages are the caller (the server itself, for any user of an
    OAuth client): the client's ExplicitAuthFlows and SECRET_HASH are not asked for, and
    AUTHENTICATED answers `HOSTED_RESULT` instead of tokens."""
    params = request.get("AuthParameters") or {}
    now = engine.now()
    refused = False
    pre_authenticated = False
    while True:
        with engine.store.transaction() as tx:
            pool, client = load_client(engine, tx, request, admin) if hosted else load_for_flow(engine, tx, request, admin)
            username = auth.require_param(params, "USERNAME")
            password = auth.require_param(params, "PASSWORD")
            user = find_user(tx, pool, username)
            if not hosted:
                auth.check_secret_hash(
                    client, engine.client_secrets(client), [username] + ([user.username] if user else []),
                    params.get("SECRET_HASH"),
                )
            if user is not None and not user.enabled:
                raise NotAuthorizedException(auth.DISABLED)
            # Unknown names reach the function only where their answers must look like
            # a real user's (PreventUserExistenceErrors=ENABLED), with userNotFound=true.
            hidden = user is None and not cc.prevent_user_existence_errors(client.config)
            arn = None if pre_authenticated or hidden else pc.lambda_arn(pool.config, "PreAuthentication")
            if not arn:
                key = auth.lockout_key(pool, client, user, username)
                if key is not None:
                    attempt = lockout.begin_attempt(
                        tx.get_failed_sign_ins(pool.id, key), pool_id=pool.id, key=key, now=now
                    )
                    tx.put_failed_sign_ins(attempt.record)
                    refused = attempt.refused
        if not arn:
            break
        # Outside any transaction (the function may be slow), before anything is written:
        # a refusal leaves no trace, not even the attempt's count. Then the checks again.
        pre_authentication(engine, request, pool, client, user, arn, typed=username)
        pre_authenticated = True
    if refused:
        audit("locked", client, user)
        raise NotAuthorizedException(lockout.LOCKED_MESSAGE)
    ok = engine.check_password(password, user.credential.password_hash if user and user.credential else None)
    if user is None:
        audit("unknown user", client, None)
        raise auth.unknown_user_error(client)
    if user.credential is None and user.status == "RESET_REQUIRED":
        raise auth.status_error(client, user)  # imported (CSV): no password to compare, a reset first
    if not ok:
        audit("wrong password", client, user)
        raise NotAuthorizedException(auth.INCORRECT)  # the failure is already counted
    # A hash made with other KDF parameters (older, or imported) is replaced now that
    # the password is known: the cost setting takes effect without a reset.
    rehashed = engine.hasher(password) if needs_rehash(user.credential.password_hash, engine.config.kdf) else None

    error: CognitoError | None = None
    response: dict[str, Any] = {}
    messages: tuple[OutboxEntry, ...] = ()
    with engine.store.transaction() as tx:
        pool, client = load_client(engine, tx, request, admin)
        current = tx.get_user(pool.id, user.username_key)
        if current is None or current.credential != user.credential:
            raise NotAuthorizedException(auth.INCORRECT)  # deleted or re-passworded meanwhile
        if tx.get_failed_sign_ins(pool.id, user.sub) is not None:
            tx.delete_failed_sign_ins(pool.id, user.sub)  # a right password resets the count
        upgraded = current
        if rehashed is not None:
            upgraded = replace(upgraded, credential=replace(upgraded.credential, password_hash=rehashed))
        if upgraded.credential.srp_verifier is None:
            # A password stored before SRP verifiers existed gets one now that it is known,
            # so that USER_SRP_AUTH works for its user from now on.
            upgraded = with_verifier(engine, pool, upgraded, password)
        if upgraded is not current:
            current = replace(upgraded, version=current.version + 1)
            engine.write(tx, puts=(current,))
        try:  # decide first, write after: a refusal here must not undo the reset above
            if not current.enabled:
                raise NotAuthorizedException(auth.DISABLED)
            auth.check_sign_in_status(pool, client, current, now)
            device = devices.attempt_device(tx, pool, current, devices.device_key_of(params))
            state = auth.next_challenge("INITIATED", "password_verified", pool, current, device)
            auth.check_challenge_possible(state, current)
        except CognitoError as err:
            error = err
        else:
            response, messages = after_step(engine, tx, pool, client, current, state, username, now, device=device,
                                            hosted=hosted)
    return conclude(engine, pool, client, current, error=error, response=response, messages=messages,
                    metadata={}, step="password accepted")


def pre_authentication(
    engine: Engine, request: Mapping[str, Any], pool: UserPool, client: AppClient, user: User | None, arn: str,
    *, typed: str,
) -> None:
    """PreAuthentication_Authentication, before the password is checked and before
    anything is written (not even the attempt's count): the function may refuse the
    sign-in. Called for enabled users whose request passes the client's checks, and,
    under PreventUserExistenceErrors=ENABLED, for unknown names (``userNotFound``, the
    typed name, no attributes); its ``validationData`` is the request's ClientMetadata,
    as on Cognito."""
    event = te.event(
        "PreAuthentication_Authentication", region=engine.region, pool_id=pool.id,
        username=user.username if user else typed, client_id=client.id,
        request={
            "userAttributes": te.user_attributes(user) if user else {},
            "validationData": dict(request.get("ClientMetadata") or {}),
            "userNotFound": user is None,
        },
    )
    te.invoke(engine.triggers, arn, event)


def post_authentication(
    engine: Engine, pool: UserPool, client: AppClient, user: User, response: Mapping[str, Any],
    client_metadata: Mapping[str, Any],
) -> None:
    """PostAuthentication_Authentication once tokens are issued (not for a challenge).
    The sign-in is recorded by then; the function's failure is still the caller's answer
    (the tokens are not returned)."""
    if "AuthenticationResult" not in response and HOSTED_RESULT not in response:
        return
    arn = pc.lambda_arn(pool.config, "PostAuthentication")
    if not arn:
        return
    event = te.event(
        "PostAuthentication_Authentication", region=engine.region, pool_id=pool.id, username=user.username,
        client_id=client.id,
        request={
            "userAttributes": te.user_attributes(user),
            # A device key was issued by this sign-in (device tracking).
            "newDeviceUsed": "NewDeviceMetadata" in response.get("AuthenticationResult", {}),
            "clientMetadata": dict(client_metadata),
        },
    )
    te.invoke(engine.triggers, arn, event)


def conclude(
    engine: Engine, pool: UserPool, client: AppClient, user: User, *, error: CognitoError | None,
    response: dict[str, Any] | None, messages: tuple[OutboxEntry, ...], metadata: Mapping[str, Any], step: str,
) -> dict[str, Any]:
    """How every sign-in step ends once its transaction has committed: the refusal it
    decided (raised only now, so that what it wrote, such as a reset lockout counter,
    stays), or its audit line, its messages sent, and PostAuthentication when tokens
    were issued."""
    if error is not None:
        audit(f"{step}, refused ({error.code})", client, user)
        raise error
    audit(f"{step}, next {response.get('ChallengeName', 'tokens')}", client, user)
    engine.deliver(messages)
    post_authentication(engine, pool, client, user, response, metadata)
    return response


def audit(outcome: str, client: AppClient, user: User | None) -> None:
    # One audit line per sign-in attempt; never a password, token, session or code.
    events.info("sign-in %s: pool=%s client=%s sub=%s", outcome, client.pool_id, client.id, user.sub if user else "-")


#: The sent-code MFA challenges: the step that sends the code (`authflow.core.auth`).
CODE_CHALLENGES = {mfa.SMS: auth.sms_challenge, mfa.EMAIL: auth.email_challenge}


def after_step(
    engine: Engine,
    tx,
    pool: UserPool,
    client: AppClient,
    user: User,
    state: str,
    typed_username: str,
    now: datetime,
    *,
    auth_time: datetime | None = None,
    device: Device | None = None,
    proved: bool = False,
    hosted: bool = False,
) -> tuple[dict[str, Any], tuple[OutboxEntry, ...]]:
    """Tokens when the attempt is AUTHENTICATED, otherwise the next challenge. `device`:
    the user's device the attempt carries (device tracking); `proved` once it has passed
    its own SRP proof; `hosted`: a hosted sign-in, answered at AUTHENTICATED with who and
    when (`HOSTED_RESULT`), not with tokens."""
    if state == "AUTHENTICATED" and hosted:
        return {"ChallengeParameters": {}, HOSTED_RESULT: {"sub": user.sub, "auth_time": now}}, ()
    if state == "AUTHENTICATED":
        result = _issue(engine, tx, pool, client, user, now, device=device, proved=proved)
        return {"ChallengeParameters": {}, "AuthenticationResult": result}, ()
    if state == device_srp.SRP_AUTH:
        pending_id = device_srp.pending_id(pool.id, device.key)
        token, pending = device_srp.open_pending(
            pool, client, user, device, tx.get_session(pending_id), typed_username=typed_username,
            credential_tag=auth.credential_tag(user.credential), now=now, entropy=engine.entropy,
        )
        tx.put_session(pending)
        return auth.challenge_response(state, token, {}), ()
    token, session = auth.new_session(
        pool, client, user, challenge=state, typed_username=typed_username, now=now, entropy=engine.entropy,
        device_key=device.key if device else None,
    )
    messages: tuple[OutboxEntry, ...] = ()
    if state == "NEW_PASSWORD_REQUIRED":
        parameters = auth.new_password_parameters(pool, user)
    elif state in CODE_CHALLENGES:
        session, message, parameters = CODE_CHALLENGES[state](
            pool, user, session, pool_secret=engine.pool_secret(pool), entropy=engine.entropy
        )
        # ClientMetadata does not reach CustomMessage from sign-in (Cognito's documented rule).
        messages = engine.enqueue(tx, customized_messages(
            engine, pool, (message,), source="CustomMessage_Authentication", users=(user,), client_id=client.id
        ))
    elif state == mfa.SOFTWARE_TOKEN:
        parameters = mfa.software_token_parameters(user)
    elif state == mfa.SELECT:
        parameters = mfa.select_parameters(user)
    elif state == mfa.SETUP:
        parameters = mfa.setup_parameters(pool, user)
    else:  # a state the spec names but this engine cannot ask yet
        raise InvalidParameterException(f"{state} is not supported by this version of authflow yet.")
    tx.put_session(session)
    return auth.challenge_response(state, token, parameters), messages


def _issue(
    engine: Engine,
    tx,
    pool: UserPool,
    client: AppClient,
    user: User,
    now: datetime,
    family: RefreshToken | None = None,
    *,
    device: Device | None = None,
    proved: bool = False,
) -> dict[str, Any]:
    """AuthenticationResult: new ID and access tokens, and a new refresh token unless
    the tokens come from one (`family`). A new family of a pool that tracks devices is
    bound to `device`, or to a device issued now (NewDeviceMetadata)."""
    result: dict[str, Any] = {}
    refresh = None
    metadata = None
    if family is None:
        refresh, family = core_tokens.new_refresh_token(pool, client, user, now=now, entropy=engine.entropy)
        device_key, metadata = devices.bind_tokens(
            engine, tx, pool, user, device, proved=proved, expires=family.expires, now=now
        )
        family = replace(family, device_key=device_key)
        tx.put_refresh_token(family)
    keys = current_keys(engine, tx, pool.id, now)
    claims = core_tokens.claims(
        pool, client, user,
        issuer=engine.issuer(pool.id), now=now, auth_time=family.auth_time,
        origin_jti=family.origin_jti, entropy=engine.entropy, device_key=family.device_key,
        groups=groups_of(tx, pool, user),  # read now: a refresh shows today's membership
    )
    result["AccessToken"] = sign(claims.access, engine.signing_key(keys["access"]), keys["access"].kid)
    result["ExpiresIn"] = claims.expires_in
    result["TokenType"] = "Bearer"
    if refresh is not None:
        result["RefreshToken"] = refresh
    result["IdToken"] = sign(claims.id, engine.signing_key(keys["id"]), keys["id"].kid)
    if metadata is not None:
        result["NewDeviceMetadata"] = metadata
    return result


# -- REFRESH_TOKEN_AUTH and GetTokensFromRefreshToken ----------------------------------------

INVALID_REFRESH = "Invalid Refresh Token"
REVOKED_REFRESH = "Refresh Token has been revoked"


def refresh_sign_in(engine: Engine, request: Mapping[str, Any], admin: bool) -> dict[str, Any]:
    params = request.get("AuthParameters") or {}
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client = load_for_flow(engine, tx, request, admin)
        if rotation.rotation_of(client.config).enabled:
            # Developer guide, "Refresh tokens": "You can't authenticate with REFRESH_TOKEN_AUTH in
            # app clients with refresh token rotation enabled."
            raise InvalidParameterException(
                f"{request['AuthFlow']} is not allowed for client {client.id}: refresh token rotation is enabled, "
                "so refresh with GetTokensFromRefreshToken."
            )
        token = auth.require_param(params, "REFRESH_TOKEN")
        family = tx.get_refresh_token(core_tokens.token_hash(token))
        if family is None or family.client_id != client.id or family.pool_id != pool.id:
            raise NotAuthorizedException(INVALID_REFRESH)
        user = tx.get_user_by_sub(pool.id, family.sub)
        if user is None:
            raise NotAuthorizedException(INVALID_REFRESH)
        names = [user.username, user.sub] + ([params["USERNAME"]] if params.get("USERNAME") else [])
        auth.check_secret_hash(client, engine.client_secrets(client), names, params.get("SECRET_HASH"))
        check_refresh(tx, pool, user, family, devices.device_key_of(params), now)
        result = _issue(engine, tx, pool, client, user, now, family)
    return {"ChallengeParameters": {}, "AuthenticationResult": result}


def check_refresh(tx, pool: UserPool, user: User, family: RefreshToken, device_key: str | None, now: datetime) -> None:
    """Whether the family may refresh now: the user enabled and in a status that may have
    tokens, the family neither revoked nor expired, and its device (if bound to one) named
    and still confirmed."""
    if not user.enabled:  # before revocation: disabling also revoked the tokens
        raise NotAuthorizedException(auth.DISABLED)
    if family.revoked or family.generation < user.token_generation:
        raise NotAuthorizedException(REVOKED_REFRESH)
    if now >= family.expires:
        raise NotAuthorizedException("Refresh Token has expired")
    if family.device_key is not None:
        # A family bound to a device refreshes only with that key, and only while the
        # device is confirmed and not forgotten (Cognito's "Invalid Refresh Token").
        device = tx.get_device(pool.id, family.device_key)
        if device_key != family.device_key or device is None or device.status == "NEW":
            raise NotAuthorizedException(INVALID_REFRESH)
    try:
        user_lifecycle().next_status(user.status, "refresh_tokens")
    except IllegalTransition:
        if user.status == "UNCONFIRMED":
            raise UserNotConfirmedException("User is not confirmed.") from None
        if user.status == "RESET_REQUIRED":
            raise PasswordResetRequiredException("Password reset required for the user") from None
        raise NotAuthorizedException(REVOKED_REFRESH) from None
    auth.next_challenge("INITIATED", "refresh_token_accepted", pool, user)


@operation("GetTokensFromRefreshToken")
def get_tokens_from_refresh_token(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    """New ID and access tokens from a refresh token; with the client's RefreshTokenRotation
    ENABLED also a new refresh token, the submitted one staying usable for
    RetryGracePeriodSeconds (`authflow.core.refresh_rotation`). A rotated-out token used after
    that revokes its family and is refused with RefreshTokenReuseException."""
    now = engine.now()
    replayed = False
    with engine.store.transaction() as tx:
        pool, client = engine.require_client(tx, request["ClientId"])
        auth.check_client_secret(client, engine.client_secrets(client), request.get("ClientSecret"))
        found = refresh_families.find_family(tx, pool.id, client, request["RefreshToken"], now)
        if found is None:
            raise NotAuthorizedException(INVALID_REFRESH)
        if found.replayed:
            refresh_families.revoke_family(engine, tx, found.family)  # committed: raised below
            replayed = True
        else:
            family = found.family
            user = tx.get_user_by_sub(pool.id, family.sub)
            if user is None:
                raise NotAuthorizedException(INVALID_REFRESH)
            check_refresh(tx, pool, user, family, request.get("DeviceKey"), now)
            token = None
            if rotation.rotation_of(client.config).enabled:
                token, family = refresh_families.rotate(engine, tx, client, family, now)
            result = _issue(engine, tx, pool, client, user, now, family)
            if token is not None:
                result = {**result, "RefreshToken": token}
    if replayed:
        events.info("refresh token replayed after rotation, family revoked: pool=%s client=%s", pool.id, client.id)
        raise RefreshTokenReuseException(rotation.REUSED)
    return {"AuthenticationResult": result}


# -- RespondToAuthChallenge ------------------------------------------------------------------


def open_session(
    engine: Engine, tx, request: Mapping[str, Any], admin: bool, now: datetime, *, hosted: bool = False,
) -> tuple[UserPool, AppClient, AuthSession, User, Mapping[str, str]]:
    """Load and check everything an answer needs; refusals change nothing. `hosted`: the
    hosted pages answer (no SECRET_HASH: the server itself is the caller)."""
    pool, client = load_client(engine, tx, request, admin)
    name = request["ChallengeName"]
    if name not in auth.ANSWERABLE:
        raise InvalidParameterException(f"The challenge {name} is not supported by this version of authflow yet.")
    responses = request.get("ChallengeResponses") or {}
    given = request.get("Session")
    if not given:
        raise InvalidParameterException("Missing required parameter Session")
    record = auth.check_session(tx.get_session(auth.session_id(given)), pool=pool, client=client, now=now)
    if record.challenge != name:
        raise InvalidParameterException(
            f"Invalid challenge name {name}: the session expects an answer to {record.challenge}"
        )
    username = auth.require_param(responses, "USERNAME")
    user = auth.check_answer_username(pool, record, tx.get_user(pool.id, record.username_key), username)
    if not hosted:
        auth.check_secret_hash(
            client, engine.client_secrets(client), [username, user.username], responses.get("SECRET_HASH")
        )
    if not user.enabled:
        raise NotAuthorizedException(auth.DISABLED)
    return pool, client, record, user, responses


def answer_new_password(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool = False) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, record, user, responses = open_session(engine, tx, request, admin, now, hosted=hosted)
        auth.check_new_password_session(user, record)
        answer = auth.prepare_new_password(pool, client, user, responses)
    # Slow steps outside the transaction: compare with the temporary password, hash.
    same = (
        engine.check_password(answer.password, user.credential.password_hash)
        if user.credential and engine.config.refuse_temporary_password_reuse else False
    )
    password_hash = engine.hasher(answer.password)
    with engine.store.transaction() as tx:
        pool, client, record, current, responses = open_session(engine, tx, request, admin, now, hosted=hosted)
        if current.credential != user.credential:
            raise NotAuthorizedException(auth.INVALID_SESSION)
        answer = auth.prepare_new_password(pool, client, current, responses)
        holders = {
            pair: tx.get_user_by_alias(pool.id, *pair)
            for pair in auth.new_password_alias_pairs(pool, current, answer)
        }
        try:
            updated = auth.decide_new_password(
                pool, current, answer,
                same_as_temporary=same, password_hash=password_hash, alias_holders=holders, now=now,
            )
        except IllegalTransition:
            raise NotAuthorizedException(auth.INVALID_SESSION) from None
        updated = with_verifier(engine, pool, updated, answer.password)  # the new password's SRP verifier
        device = devices.attempt_device(tx, pool, updated, devices.device_key_of(responses), record.device_key)
        engine.write(tx, puts=(updated, auth.used(record)))
        state = auth.next_challenge("NEW_PASSWORD_REQUIRED", "new_password_set", pool, updated, device)
        response, messages = after_step(engine, tx, pool, client, updated, state, record.typed_username, now,
                                        device=device, hosted=hosted)
    engine.deliver(messages)
    post_authentication(engine, pool, client, updated, response, request.get("ClientMetadata") or {})
    return response


#: The answer member of each sent-code challenge (MFA, or a passwordless first factor).
CODE_ANSWERS = {mfa.SMS: "SMS_MFA_CODE", mfa.EMAIL: "EMAIL_OTP_CODE", "SMS_OTP": "SMS_OTP_CODE"}


def answer_code_mfa(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool = False) -> dict[str, Any]:
    """SMS_MFA or EMAIL_OTP answered with the code that was sent; also EMAIL_OTP and SMS_OTP
    as USER_AUTH's first factor (the session's progress says so), which end the sign-in
    instead of leading to MFA."""
    now = engine.now()
    challenge = request["ChallengeName"]
    error: CognitoError | None = None
    with engine.store.transaction() as tx:
        pool, client, record, user, responses = open_session(engine, tx, request, admin, now, hosted=hosted)
        auth.check_sign_in_still_holds(user, record)
        code = auth.require_param(responses, CODE_ANSWERS[challenge])
        device = devices.attempt_device(tx, pool, user, devices.device_key_of(responses), record.device_key)
        attempt = lockout.begin_attempt(
            tx.get_failed_sign_ins(pool.id, user.sub), pool_id=pool.id, key=user.sub, now=now
        )
        if attempt.refused:
            tx.put_failed_sign_ins(attempt.record)
            error = NotAuthorizedException(lockout.LOCKED_MESSAGE)
        elif not auth.code_matches(engine.pool_secret(pool), record, code):
            # Wrong MFA codes count like wrong passwords; the session stays usable.
            auth.next_challenge(challenge, "answer_rejected", pool, user)
            tx.put_failed_sign_ins(attempt.record)
            error = CodeMismatchException("Invalid code received for user")
        else:
            if tx.get_failed_sign_ins(pool.id, user.sub) is not None:
                tx.delete_failed_sign_ins(pool.id, user.sub)
            tx.put_session(auth.used(record))
            trigger = "first_factor_verified" if user_auth.is_first_factor(record) else "mfa_code_verified"
            state = auth.next_challenge(challenge, trigger, pool, user, device)
            response, _ = after_step(engine, tx, pool, client, user, state, record.typed_username, now,
                                     device=device, hosted=hosted)
    if error is not None:
        raise error
    post_authentication(engine, pool, client, user, response, request.get("ClientMetadata") or {})
    return response
