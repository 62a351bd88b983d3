"""Choice-based sign-in: InitiateAuth / AdminInitiateAuth with AuthFlow USER_AUTH, the
SELECT_CHALLENGE answer, the passwordless first factors (EMAIL_OTP and SMS_OTP codes, a
passkey's WEB_AUTHN assertion), and GetUserAuthFactors / AdminGetUserAuthFactors.

Theory of operation: USER_AUTH decides a first factor (`authflow.core.user_auth`) and then
hands it to the step that owns it. PASSWORD goes to the password flow and PASSWORD_SRP to
the SRP flow (`authflow.service.auth`, `authflow.service.srp`), each with the request recast
as their own AuthParameters and the flow still USER_AUTH (the client's ALLOW_USER_AUTH is
what allows them). EMAIL_OTP and SMS_OTP open a session with the code's keyed hash and put
the message in the outbox in the same transaction; the answer is the sent-code step MFA
uses (`auth.answer_code_mfa`), which counts wrong codes against the lockout schedule, and
which the session's progress tells to finish the sign-in instead of leading to MFA.
WEB_AUTHN opens a session holding a fresh WebAuthn challenge; the answer is verified by
`authflow.service.webauthn` against the user's own passkeys and their sign counters, and
nothing is written unless it is right.

A SELECT_CHALLENGE session is answered once, whatever the answer: it is marked used before
the chosen step starts, so a wrong password there needs a new InitiateAuth. Under
PreventUserExistenceErrors=ENABLED a name no user has gets the pool's whole list and a
session like a real one; its passwords and codes fail as wrong ones do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from authflow.core import auth, identity
from authflow.core import client_config as cc
from authflow.core import pool_config as pc
from authflow.core import user_auth as core
from authflow.core import webauthn as passkey_rules
from authflow.core.lifecycle import auth_session
from authflow.core.records import AppClient, User, UserPool
from authflow.core.users import find_user, mfa_members, require_user
from authflow.crypto import passkeys as passkey_crypto
from authflow.errors import (
    CodeMismatchException,
    CognitoError,
    FeatureUnavailableInTierException,
    InvalidParameterException,
    NotAuthorizedException,
)
from authflow.service import auth as flow
from authflow.service import devices, srp
from authflow.service import webauthn as passkeys
from authflow.service.engine import Engine
from authflow.service.messages import customized_messages
from authflow.service.registry import operation
from authflow.service.tokens import authenticate

NEEDS_TIER = "The USER_AUTH flow needs the Essentials or Plus feature plan; this user pool's UserPoolTier is LITE."
#: The AuthParameters the password and SRP steps read.
PASSWORD_MEMBERS = ("USERNAME", "PASSWORD", "SECRET_HASH", "DEVICE_KEY")
SRP_MEMBERS = ("USERNAME", "SRP_A", "SECRET_HASH", "DEVICE_KEY")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _load(engine: Engine, tx, request: Mapping[str, Any], admin: bool, hosted: bool) -> tuple[UserPool, AppClient]:
    """The pool and client of a USER_AUTH request, the flow checked (not for the hosted pages,
    whose caller is the server itself)."""
    pool, client = flow.load_client(engine, tx, request, admin)
    _check_flow(pool, client, admin=admin, hosted=hosted)
    return pool, client


def _check_flow(pool: UserPool, client: AppClient, *, admin: bool, hosted: bool) -> None:
    if not hosted:
        auth.check_flow(core.FLOW, admin=admin, client=client)
    if pool.config.get("UserPoolTier") == "LITE":
        raise FeatureUnavailableInTierException(NEEDS_TIER)


def _means(tx, pool: UserPool, user: User) -> core.Means:
    return core.Means(passkeys=len(passkeys.credentials_of(tx, pool.id, user.sub)))


def _offered(tx, pool: UserPool, user: User | None) -> tuple[str, ...]:
    return core.available(pool, user, _means(tx, pool, user)) if user else core.simulated(pool)


def _check_caller(engine: Engine, client: AppClient, user: User | None, names: list[str], given: str | None,
                  *, hosted: bool) -> None:
    if not hosted:
        auth.check_secret_hash(client, engine.client_secrets(client), names, given)
    if user is not None and not user.enabled:
        raise NotAuthorizedException(auth.DISABLED)
    if user is None and not cc.prevent_user_existence_errors(client.config):
        flow.audit("unknown user", client, None)
        raise auth.unknown_user_error(client)


# -- signing in straight after sign-up (SignUp's and ConfirmSignUp's Session) -----------------------


def sign_up_session(engine: Engine, tx, pool: UserPool, client: AppClient, user: User, *, stage: str,
                    now) -> str | None:
    """A Session that carries a sign-up on to the next step (SignUp → ConfirmSignUp →
    InitiateAuth USER_AUTH), for clients that allow USER_AUTH; None for others. Kept as an
    AuthSession (challenge INITIATED: no challenge waits), so it expires and is purged as
    sessions are."""
    if "ALLOW_USER_AUTH" not in cc.allowed_auth_flows(client.config):
        return None
    token, session = auth.new_session(pool, client, user, challenge="INITIATED", typed_username=user.username,
                                      now=now, entropy=engine.entropy)
    tx.put_session(replace(session, progress=core.encode(core.Progress(first_factor=True, stage=stage))))
    return token


def spend_sign_up_session(tx, given: str, *, stage: str, client: AppClient, user: User | None, now) -> None:
    """Check a sign-up's Session and mark it used (in the caller's transaction)."""
    record = core.check_sign_up_session(tx.get_session(auth.session_id(given)), stage=stage, client_id=client.id,
                                        user=user, now=now)
    tx.put_session(auth.used(record))


def _after_sign_up(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool) -> dict[str, Any]:
    """InitiateAuth USER_AUTH with ConfirmSignUp's Session: "Amazon Cognito assumes the SMS or
    email message one-time verification password from ConfirmSignUp as the primary
    authentication factor" (InitiateAuthRequest.Session): tokens, once."""
    params = request.get("AuthParameters") or {}
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client = _load(engine, tx, request, admin, hosted)
        typed = auth.require_param(params, "USERNAME")
        user = find_user(tx, pool, typed)
        if not hosted:
            auth.check_secret_hash(client, engine.client_secrets(client), [typed] + ([user.username] if user else []),
                                   params.get("SECRET_HASH"))
        spend_sign_up_session(tx, request["Session"], stage=core.CONFIRMED, client=client, user=user, now=now)
        if not user.enabled:
            raise NotAuthorizedException(auth.DISABLED)
        auth.check_sign_in_status(pool, client, user, now)
        device = devices.attempt_device(tx, pool, user, devices.device_key_of(params))
        state = auth.next_challenge("INITIATED", "sign_up_confirmed", pool, user, device)
        response, _ = flow.after_step(engine, tx, pool, client, user, state, typed, now, device=device, hosted=hosted)
    flow.audit("signed in after sign-up", client, user)
    flow.post_authentication(engine, pool, client, user, response, request.get("ClientMetadata") or {})
    return response


# -- InitiateAuth(USER_AUTH) ---------------------------------------------------------------------


def initiate(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool = False) -> dict[str, Any]:
    if request.get("Session"):
        return _after_sign_up(engine, request, admin, hosted=hosted)
    params = request.get("AuthParameters") or {}
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client = _load(engine, tx, request, admin, hosted)
        typed = auth.require_param(params, "USERNAME")
        preferred = core.check_choice(params.get("PREFERRED_CHALLENGE"), member="PREFERRED_CHALLENGE")
        user = find_user(tx, pool, typed)
        _check_caller(engine, client, user, [typed] + ([user.username] if user else []), params.get("SECRET_HASH"),
                      hosted=hosted)
        offered = core.require_something(_offered(tx, pool, user))
        choice = core.pick(preferred, offered)
        if choice is None:
            state = auth_session().next_state("INITIATED", "user_auth_started")
            token, session = auth.new_session(pool, client, user, challenge=state, typed_username=typed, now=now,
                                              entropy=engine.entropy)
            tx.put_session(replace(session, progress=core.encode(core.Progress(offered=offered))))
            flow.audit("user auth started", client, user)
            return {**auth.challenge_response(state, token, {}), "AvailableChallenges": list(offered)}
    return _start(engine, request, admin, choice, params, source="INITIATED", hosted=hosted)


def _recast(request: Mapping[str, Any], params: Mapping[str, str], members: tuple[str, ...]) -> dict[str, Any]:
    """The request as the password or SRP step reads it: the flow stays USER_AUTH."""
    keep = {k: request[k] for k in ("ClientId", "UserPoolId", "ClientMetadata") if k in request}
    return {**keep, "AuthFlow": core.FLOW, "AuthParameters": core.answer_params(params, members)}


def _start(engine: Engine, request: Mapping[str, Any], admin: bool, choice: str, params: Mapping[str, str],
           *, source: str, hosted: bool) -> dict[str, Any]:
    """Go on with the chosen first factor; `params` hold its inputs (AuthParameters, or the
    SELECT_CHALLENGE answer's ChallengeResponses)."""
    if choice == core.PASSWORD:
        auth.require_param(params, "PASSWORD")
        return flow.password_sign_in(engine, _recast(request, params, PASSWORD_MEMBERS), admin, hosted=hosted)
    if choice == core.PASSWORD_SRP:
        if hosted:
            raise InvalidParameterException("PASSWORD_SRP is not offered on the hosted pages.")
        auth.require_param(params, "SRP_A")
        return srp.initiate(engine, _recast(request, params, SRP_MEMBERS), admin)
    return _passwordless(engine, request, admin, choice, params, source=source, hosted=hosted)


def _passwordless(engine: Engine, request: Mapping[str, Any], admin: bool, choice: str, params: Mapping[str, str],
                  *, source: str, hosted: bool) -> dict[str, Any]:
    """EMAIL_OTP / SMS_OTP (a code is sent) or WEB_AUTHN (a passkey assertion is asked for).
    With a PreAuthentication function, the first transaction only finds it: the function runs
    outside any transaction, before anything is written (it may refuse), then the step again."""
    now = engine.now()
    typed = auth.require_param(params, "USERNAME")
    pre_authenticated = False
    while True:
        with engine.store.transaction() as tx:
            pool, client = _load(engine, tx, request, admin, hosted)
            user = find_user(tx, pool, typed)
            arn = None
            if not pre_authenticated and (user is not None or cc.prevent_user_existence_errors(client.config)):
                arn = pc.lambda_arn(pool.config, "PreAuthentication")
            if not arn:
                state, token, parameters, messages = _open_step(engine, tx, pool, client, user, choice, params,
                                                                typed=typed, source=source, hosted=hosted, now=now)
        if not arn:
            break
        flow.pre_authentication(engine, request, pool, client, user, arn, typed=typed)
        pre_authenticated = True
    flow.audit(f"{choice} asked", client, user)
    engine.deliver(messages)
    return auth.challenge_response(state, token, parameters)


def _open_step(engine: Engine, tx, pool: UserPool, client: AppClient, user: User | None, choice: str,
               params: Mapping[str, str], *, typed: str, source: str, hosted: bool, now):
    """The checks, the session and (for a code) its message of a passwordless step, written in
    `tx`: (state, Session string, ChallengeParameters, outbox entries)."""
    _check_caller(engine, client, user, [typed] + ([user.username] if user else []), params.get("SECRET_HASH"),
                  hosted=hosted)
    if user is not None:
        core.check_selected(choice, _offered(tx, pool, user))
        auth.check_sign_in_status(pool, client, user, now)
    device = devices.attempt_device(tx, pool, user, devices.device_key_of(params))
    state = auth_session().next_state(source, core.TRIGGERS[choice])
    token, session = auth.new_session(pool, client, user, challenge=state, typed_username=typed, now=now,
                                      entropy=engine.entropy, device_key=device.key if device else None)
    progress = core.Progress(first_factor=True)
    messages = ()
    if choice == core.WEB_AUTHN:
        challenge = engine.entropy.random_bytes(32)
        progress = replace(progress, webauthn_challenge=_b64url(challenge))
        options = (passkeys.request_options(engine, tx, pool, user, challenge=challenge) if user
                   else _simulated_options(engine, tx, pool, typed, challenge))
        parameters = {"CREDENTIAL_REQUEST_OPTIONS": options}
    elif user is None:  # a name no user has: the same answer as a real code, nothing sent
        parameters = _simulated_delivery(choice, typed)
    else:
        send = auth.email_challenge if choice == core.EMAIL_OTP else auth.sms_challenge
        session, message, parameters = send(pool, user, session, pool_secret=engine.pool_secret(pool),
                                            entropy=engine.entropy)
        messages = engine.enqueue(tx, customized_messages(
            engine, pool, (message,), source="CustomMessage_Authentication", users=(user,), client_id=client.id
        ))
    tx.put_session(replace(session, progress=core.encode(progress)))
    return state, token, parameters, messages


def _simulated_options(engine: Engine, tx, pool: UserPool, typed: str, challenge: bytes) -> str:
    """CREDENTIAL_REQUEST_OPTIONS for a name no user has: one passkey id derived from the name
    under the pool's secret (the same on every try, as a real user's would be)."""
    passkeys.require_ceremonies()
    key = identity.username_key(pool.config, typed)
    fake = hmac.new(engine.pool_secret(pool), f"webauthn-simulated:{key}".encode(), hashlib.sha256).digest()
    return passkey_crypto.request_options(
        rp_id=passkeys.relying_party_id(tx, engine, pool), challenge=challenge, timeout_ms=passkey_rules.TIMEOUT_MS,
        allow=[(_b64url(fake), ["internal", "hybrid"])], user_verification=passkey_rules.user_verification(pool),
    )


def _simulated_delivery(choice: str, typed: str) -> dict[str, str]:
    if choice == core.EMAIL_OTP:
        destination = auth.mask_email(typed) if "@" in typed else "***@***"
        return {"CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL", "CODE_DELIVERY_DESTINATION": destination,
                "USER_ID_FOR_SRP": typed}
    destination = auth.mask_phone(typed) if typed.startswith("+") else "+*******0000"
    return {"CODE_DELIVERY_DELIVERY_MEDIUM": "SMS", "CODE_DELIVERY_DESTINATION": destination,
            "USER_ID_FOR_SRP": typed}


# -- RespondToAuthChallenge ------------------------------------------------------------------------


def respond(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool = False) -> dict[str, Any] | None:
    """SELECT_CHALLENGE (and PASSWORD / PASSWORD_SRP / WEB_AUTHN named directly against a
    SELECT_CHALLENGE session), WEB_AUTHN with the assertion, EMAIL_OTP / SMS_OTP codes. None
    for an EMAIL_OTP answer to a session of another flow (e-mail MFA), which is not ours."""
    name = request["ChallengeName"]
    responses = request.get("ChallengeResponses") or {}
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client = flow.load_client(engine, tx, request, admin)
        given = request.get("Session")
        if not given:
            raise InvalidParameterException("Missing required parameter Session")
        record = auth.check_session(tx.get_session(auth.session_id(given)), pool=pool, client=client, now=now)
        if core.decode(record) is None:  # another flow's step (EMAIL_OTP as MFA): its own answer
            if name == core.EMAIL_OTP:
                return None
            raise InvalidParameterException(
                f"Invalid challenge name {name}: the session expects an answer to {record.challenge}")
        _check_flow(pool, client, admin=admin, hosted=hosted)  # the flow must still be enabled for the client
    if record.challenge == core.SELECT:
        return _select(engine, request, admin, hosted=hosted)
    if name in core.CODE_ANSWERS and record.challenge == name:
        if not record.sub:  # a name no user has: every code is wrong
            auth.require_param(responses, "USERNAME")
            auth.require_param(responses, core.CODE_ANSWERS[name])
            raise CodeMismatchException("Invalid code received for user")
        return flow.answer_code_mfa(engine, request, admin, hosted=hosted)
    if name == core.WEB_AUTHN and record.challenge == name:
        return _answer_passkey(engine, request, admin, hosted=hosted)
    raise InvalidParameterException(
        f"Invalid challenge name {name}: the session expects an answer to {record.challenge}"
    )


def _select(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool) -> dict[str, Any]:
    name = request["ChallengeName"]
    responses = request.get("ChallengeResponses") or {}
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client = _load(engine, tx, request, admin, hosted)
        record = auth.check_session(tx.get_session(auth.session_id(request["Session"])), pool=pool, client=client,
                                    now=now)
        typed = auth.require_param(responses, "USERNAME")
        if name == core.SELECT:
            choice = core.check_choice(auth.require_param(responses, "ANSWER"), member="ANSWER")
        else:
            choice = core.check_choice(name, member="ChallengeName")
        if record.sub:
            user = auth.check_answer_username(pool, record, tx.get_user(pool.id, record.username_key), typed)
        elif identity.username_key(pool.config, typed) != identity.username_key(
                pool.config, record.typed_username):
            raise NotAuthorizedException(auth.INVALID_SESSION)
        else:
            user = None
        progress = core.decode(record) or core.Progress()
        core.check_selected(choice, progress.offered)
        # The chosen step's own input, before the session is spent: a malformed answer
        # changes nothing.
        if choice in (core.PASSWORD, core.PASSWORD_SRP):
            auth.require_param(responses, "PASSWORD" if choice == core.PASSWORD else "SRP_A")
        if not hosted:
            auth.check_secret_hash(client, engine.client_secrets(client),
                                   [typed, record.typed_username] + ([user.username] if user else []),
                                   responses.get("SECRET_HASH"))
        tx.put_session(auth.used(record))  # answered once, whatever the answer
    params = {**responses, "USERNAME": record.typed_username}
    return _start(engine, request, admin, choice, params, source=core.SELECT, hosted=hosted)


def _answer_passkey(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool) -> dict[str, Any]:
    now = engine.now()
    error: CognitoError | None = None
    response: dict[str, Any] = {}
    with engine.store.transaction() as tx:
        pool, client, record, user, responses = flow.open_session(engine, tx, request, admin, now, hosted=hosted)
        progress = core.decode(record)
        if progress is None or not progress.webauthn_challenge:
            raise NotAuthorizedException(auth.INVALID_SESSION)
        credential = auth.require_param(responses, "CREDENTIAL")
        device = devices.attempt_device(tx, pool, user, devices.device_key_of(responses), record.device_key)
        try:
            auth.check_sign_in_status(pool, client, user, now)
            passkeys.verify_assertion(engine, tx, pool, user, credential,
                                      challenge=_unb64url(progress.webauthn_challenge))
        except CognitoError as err:  # nothing was written: the session may be answered again
            error = err
        else:
            tx.put_session(auth.used(record))
            state = auth.next_challenge(core.WEB_AUTHN, "first_factor_verified", pool, user, device)
            response, _ = flow.after_step(engine, tx, pool, client, user, state, record.typed_username, now,
                                          device=device, hosted=hosted)
    if error is not None:
        flow.audit(f"passkey refused ({error.code})", client, user)
        raise error
    flow.audit(f"passkey accepted, next {response.get('ChallengeName', 'tokens')}", client, user)
    flow.post_authentication(engine, pool, client, user, response, request.get("ClientMetadata") or {})
    return response


# -- GetUserAuthFactors ------------------------------------------------------------------------------


def _factors(tx, pool: UserPool, user: User) -> dict[str, Any]:
    return {"Username": user.username, **mfa_members(user, pool),
            "ConfiguredUserAuthFactors": core.configured_factors(pool, user, _means(tx, pool, user))}


@operation("GetUserAuthFactors")
def get_user_auth_factors(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool, _client, user, _claims = authenticate(engine, tx, request["AccessToken"], engine.now())
        return _factors(tx, pool, user)


@operation("AdminGetUserAuthFactors")
def admin_get_user_auth_factors(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        return _factors(tx, pool, require_user(tx, pool, request["Username"]))
