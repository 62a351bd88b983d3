"""Sign-in as the hosted pages do it: the same service functions as InitiateAuth and
RespondToAuthChallenge, in their hosted mode, plus the hosted session's liveness check.

Theory of operation: the hosted pages (`authflow.web.hosted`) are the server itself
signing in a user of an OAuth client, as Cognito's managed login does. So the password
step runs `authflow.service.auth.password_sign_in` with `hosted=True`: the client's
ExplicitAuthFlows are not asked for and no SECRET_HASH is needed (the caller holds no
secret to prove: it is the server). Every other rule of the API sign-in holds, because it
is the same code: PreAuthentication and PostAuthentication, the lockout schedule, the user
status checks, the challenge sequence of `specs/auth-session.yaml`. The one difference is
the end: at AUTHENTICATED no API token, refresh family or device is minted; the step says
who authenticated and when (`Authenticated`), and the page asks
`authflow.service.oauth.complete` for the code (or implicit tokens).

A challenge comes back as a `Step`: the page renders it and carries its Session in a
hidden field (a bearer for that step only). A Session is an ordinary challenge session of
the client, so an MFA_SETUP step continues through AssociateSoftwareToken and
VerifySoftwareToken by Session, as the SDKs do.

Passwordless (USER_AUTH, `authflow.service.user_auth` in hosted mode): `start_passwordless`
asks for one first factor (PREFERRED_CHALLENGE); the answer is a WEB_AUTHN step (the page's
script answers it with the browser's passkey), an EMAIL_OTP or SMS_OTP code step, or, when
the user cannot use that factor, a SELECT_CHALLENGE step whose `available` says what they
can use (what the API's AvailableChallenges says, no more). The steps are answered through
`answer` like every other. `passkey_registration` / `add_passkey` are the /passkeys/add
page's StartWebAuthnRegistration / CompleteWebAuthnRegistration for the hosted session's
user (the client is the page's client).

The hosted session (the cookie that lets /oauth2/authorize answer without the form) names
the user's `sub` and token generation at sign-in; `session_holds` refuses it once the user
is gone, disabled, may no longer get tokens, or signed out globally since.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authflow.core import auth as core_auth
from authflow.core import pool_config as pc
from authflow.core.lifecycle import IllegalTransition, user_lifecycle
from authflow.core.oauth import supported_providers
from authflow.service import auth, auth_events, mfa, mfa_steps, user_auth, webauthn
from authflow.service.engine import Engine


def _answer_email_otp(engine: Engine, request: Mapping[str, Any], admin: bool, *, hosted: bool) -> dict[str, Any]:
    # EMAIL_OTP is both a first factor (USER_AUTH's session) and an MFA step (another
    # flow's session, which user_auth.respond leaves to answer_code_mfa), as the API routes it.
    answered = user_auth.respond(engine, request, admin, hosted=hosted)
    return answered if answered is not None else auth.answer_code_mfa(engine, request, admin, hosted=hosted)


#: The challenges a page answers, and the function that answers each (hosted mode).
ANSWERS = {
    "NEW_PASSWORD_REQUIRED": auth.answer_new_password,
    "SMS_MFA": auth.answer_code_mfa,
    "EMAIL_OTP": _answer_email_otp,
    "SMS_OTP": user_auth.respond,
    "WEB_AUTHN": user_auth.respond,
    "SELECT_CHALLENGE": user_auth.respond,
    "SOFTWARE_TOKEN_MFA": mfa_steps.answer_software_token,
    "SELECT_MFA_TYPE": mfa_steps.answer_select_mfa_type,
    "MFA_SETUP": mfa_steps.answer_mfa_setup,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A challenge the page asks next; `username` is the name answers carry."""

    challenge: str
    session: str
    parameters: Mapping[str, str]
    username: str
    #: SELECT_CHALLENGE: the factors the user may choose (the API's AvailableChallenges).
    available: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Authenticated:
    """The sign-in is complete: who (`sub`, with the token generation for the hosted
    session) and when."""

    sub: str
    auth_time: datetime


def _outcome(response: Mapping[str, Any], username: str) -> Step | Authenticated:
    done = response.get(auth.HOSTED_RESULT)
    if done is not None:
        return Authenticated(sub=done["sub"], auth_time=done["auth_time"])
    parameters = dict(response.get("ChallengeParameters") or {})
    return Step(challenge=response["ChallengeName"], session=response["Session"], parameters=parameters,
                username=parameters.get("USER_ID_FOR_SRP") or username,
                available=tuple(response.get("AvailableChallenges") or ()))


def start(engine: Engine, pool_id: str, client_id: str, username: str, password: str) -> Step | Authenticated:
    """The password step. Raises the API's `CognitoError`s (wrong password, locked, ...)."""
    request = {"UserPoolId": pool_id, "ClientId": client_id, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": username, "PASSWORD": password}}
    step = auth_events.recorded("AdminInitiateAuth",
                                lambda e, r: auth.password_sign_in(e, r, admin=True, hosted=True))
    return _outcome(step(engine, request), username)


def start_passwordless(engine: Engine, pool_id: str, client_id: str, username: str,
                       preferred: str) -> Step | Authenticated:
    """USER_AUTH with PREFERRED_CHALLENGE `preferred` (WEB_AUTHN, EMAIL_OTP, SMS_OTP): its
    step, or SELECT_CHALLENGE (with `available`) when the user cannot use that factor.
    Raises the API's `CognitoError`s (an unknown user, a disabled one, ...)."""
    request = {"UserPoolId": pool_id, "ClientId": client_id, "AuthFlow": "USER_AUTH",
               "AuthParameters": {"USERNAME": username, "PREFERRED_CHALLENGE": preferred}}
    step = auth_events.recorded("AdminInitiateAuth",
                                lambda e, r: user_auth.initiate(e, r, admin=True, hosted=True))
    return _outcome(step(engine, request), username)


def passwordless_factors(engine: Engine, pool_id: str) -> frozenset[str]:
    """The pool's passwordless first factors (SignInPolicy.AllowedFirstAuthFactors), which
    the login page offers buttons for; none on the LITE plan, which has no USER_AUTH."""
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, pool_id)
    if pool.config.get("UserPoolTier") == "LITE":
        return frozenset()
    return frozenset(pc.first_factors(pool.config)) & {"WEB_AUTHN", "EMAIL_OTP", "SMS_OTP"}


def answer(engine: Engine, pool_id: str, client_id: str, challenge: str, session: str, username: str,
           responses: Mapping[str, str]) -> Step | Authenticated:
    """Answer the step `challenge` (one of `ANSWERS`) with `responses` (USERNAME added)."""
    from authflow.errors import InvalidParameterException

    run = ANSWERS.get(challenge)
    if run is None:
        raise InvalidParameterException(f"The challenge {challenge} cannot be answered on this page.")
    request = {"UserPoolId": pool_id, "ClientId": client_id, "ChallengeName": challenge, "Session": session,
               "ChallengeResponses": {**responses, "USERNAME": username}}
    step = auth_events.recorded("AdminRespondToAuthChallenge", lambda e, r: run(e, r, admin=True, hosted=True))
    return _outcome(step(engine, request), username)


def _signed_in(engine: Engine, tx, pool_id: str, client_id: str, sub: str):
    """The pool, client and user a hosted session names (NotAuthorizedException if gone)."""
    from authflow.errors import NotAuthorizedException

    pool = engine.require_pool(tx, pool_id)
    client = tx.get_client(client_id)
    user = tx.get_user_by_sub(pool_id, sub)
    if client is None or client.pool_id != pool_id or user is None or not user.enabled:
        raise NotAuthorizedException("The hosted session's user cannot be found.")
    return pool, client, user


def passkey_registration(engine: Engine, pool_id: str, client_id: str, sub: str) -> dict[str, Any]:
    """/passkeys/add: StartWebAuthnRegistration for the hosted session's user (the
    CredentialCreationOptions JSON object). Raises the WebAuthn refusals the API does."""
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, user = _signed_in(engine, tx, pool_id, client_id, sub)
        return webauthn.start_registration(engine, tx, pool, client, user, now)


def add_passkey(engine: Engine, pool_id: str, client_id: str, sub: str, credential: str) -> None:
    """/passkeys/add: CompleteWebAuthnRegistration with the browser's RegistrationResponseJSON.
    A refusal that spent the pending registration is committed first, as the API does."""
    from authflow.errors import CognitoError

    now = engine.now()
    refusal: CognitoError | None = None
    with engine.store.transaction() as tx:
        pool, client, user = _signed_in(engine, tx, pool_id, client_id, sub)
        try:
            webauthn.complete_registration(engine, tx, pool, client, user, credential, now)
        except CognitoError as err:
            if not err.fields.get(webauthn.SPENT):
                raise
            refusal = err
    if refusal is not None:
        raise refusal


def associate_token(engine: Engine, session: str) -> tuple[str, str]:
    """MFA_SETUP: a new authenticator secret for the step's user, and the next Session
    (AssociateSoftwareToken by Session)."""
    answer_ = mfa.associate_software_token(engine, {"Session": session})
    return answer_["SecretCode"], answer_["Session"]


def verify_token(engine: Engine, session: str, code: str) -> str:
    """MFA_SETUP: the authenticator's first code checked (VerifySoftwareToken by Session);
    the Session that answers MFA_SETUP."""
    return mfa.verify_software_token(engine, {"Session": session, "UserCode": code})["Session"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolFacts:
    """What the pages show of a pool: whether visitors may sign up, which attributes
    sign-up asks for (required by the schema, or verified automatically), how usernames
    are typed."""

    name: str
    self_sign_up: bool
    sign_up_attributes: tuple[str, ...]
    username_attributes: frozenset[str]


def pool_facts(engine: Engine, pool_id: str) -> PoolFacts:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, pool_id)
    required = [n for n, d in pc.schema(pool.config).items() if d.required and n != "sub"]
    wanted = required + sorted(pc.auto_verified_attributes(pool.config) - set(required)
                               - pc.username_attributes(pool.config))
    return PoolFacts(name=pool.name, self_sign_up=not pc.allow_admin_create_user_only(pool.config),
                     sign_up_attributes=tuple(wanted), username_attributes=pc.username_attributes(pool.config))


def identity_providers(engine: Engine, client_id: str) -> tuple[str, ...]:
    """The client's SupportedIdentityProviders (COGNITO when it names none: the pool's own
    users, `authflow.core.oauth.supported_providers`)."""
    with engine.store.transaction() as tx:
        client = tx.get_client(client_id)
    return supported_providers(client) if client is not None else ()


def secret_hash(engine: Engine, client_id: str, username: str) -> str | None:
    """The SECRET_HASH of a client with a secret, for the self-service operations the
    pages call through the API's shapes (SignUp, ForgotPassword, ...): the server is the
    caller and holds the secret."""
    with engine.store.transaction() as tx:
        client = tx.get_client(client_id)
    secret = engine.client_secret(client) if client is not None else None
    return core_auth.secret_hash(secret, username, client_id) if secret is not None else None


def token_generation(engine: Engine, pool_id: str, sub: str) -> int | None:
    """The user's token generation now (what a hosted session remembers), or None."""
    with engine.store.transaction() as tx:
        user = tx.get_user_by_sub(pool_id, sub)
    return user.token_generation if user is not None else None


def session_holds(engine: Engine, pool_id: str, sub: str, generation: int) -> bool:
    """Whether a hosted session of `sub` made at `generation` still signs its user in."""
    with engine.store.transaction() as tx:
        user = tx.get_user_by_sub(pool_id, sub)
    if user is None or not user.enabled or user.token_generation != generation:
        return False
    try:
        user_lifecycle().next_status(user.status, "refresh_tokens")
    except IllegalTransition:
        return False
    return True
