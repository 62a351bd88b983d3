"""Decisions of sign-in: flows, secret hashes, status rules, challenges and sessions.

Theory of operation: the service runs a sign-in in steps (load, check the password
outside the write transaction because Argon2id is slow, decide, write). Everything
that decides lives here and is pure: which flow an operation and an app client
accept, whether a SECRET_HASH is right, which error a status gives, what the next
challenge is (asked of the auth-session machine built from `specs/auth-session.yaml`),
and what a challenge looks like on the wire. Time and randomness are arguments.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from authflow.core import attributes as attrs
from authflow.core import client_config as cc
from authflow.core import devices, identity, mfa
from authflow.core import pool_config as pc
from authflow.core.effects import Message
from authflow.core.lifecycle import IllegalTransition, auth_session, user_lifecycle
from authflow.core.policy import EntropySource, check_password, policy_violation
from authflow.core.records import AppClient, AuthSession, Credential, Device, User, UserPool
from authflow.errors import (
    AliasExistsException,
    InvalidParameterException,
    InvalidPasswordException,
    NotAuthorizedException,
    PasswordResetRequiredException,
    UserNotConfirmedException,
    UserNotFoundException,
)

INCORRECT = "Incorrect username or password."
DISABLED = "User is disabled."
TEMPORARY_PASSWORD_EXPIRED = "Temporary password has expired and must be reset by an administrator."
INVALID_SESSION = "Invalid session for the user."
SESSION_EXPIRED = "Invalid session for the user, session is expired."
SESSION_USED = "Invalid session for the user, session can only be used once."

#: Flows each operation accepts at all (anything else: "Initiate Auth method not supported.").
FLOWS = {
    False: frozenset({"USER_SRP_AUTH", "USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN",
                      "CUSTOM_AUTH", "USER_AUTH"}),
    True: frozenset({"USER_SRP_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH",
                     "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN", "CUSTOM_AUTH", "USER_AUTH"}),
}
#: The app-client flag that enables each flow.
FLOW_FLAGS = {
    "USER_SRP_AUTH": "ALLOW_USER_SRP_AUTH",
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "ADMIN_USER_PASSWORD_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "REFRESH_TOKEN_AUTH": "ALLOW_REFRESH_TOKEN_AUTH",
    "REFRESH_TOKEN": "ALLOW_REFRESH_TOKEN_AUTH",
    "CUSTOM_AUTH": "ALLOW_CUSTOM_AUTH",
    "USER_AUTH": "ALLOW_USER_AUTH",
}
#: Flows later issues implement; until then a clear refusal, never a crash.
NOT_YET: frozenset[str] = frozenset()
PASSWORD_FLOWS = frozenset({"USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"})
REFRESH_FLOWS = frozenset({"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"})
#: Challenges this engine can issue and answer.
ANSWERABLE = frozenset({"NEW_PASSWORD_REQUIRED", "SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "SELECT_MFA_TYPE", "MFA_SETUP",
                        "CUSTOM_CHALLENGE", "PASSWORD_VERIFIER", "DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER",
                        "SMS_OTP", "WEB_AUTHN"})

SESSION_BYTES = 32
CODE_DIGITS = 6


# -- flows and parameters ----------------------------------------------------------------


def check_flow(flow: str, *, admin: bool, client: AppClient) -> None:
    if flow not in FLOWS[admin]:
        raise InvalidParameterException("Initiate Auth method not supported.")
    if FLOW_FLAGS[flow] not in cc.allowed_auth_flows(client.config):
        if flow == "USER_PASSWORD_AUTH":
            raise InvalidParameterException("USER_PASSWORD_AUTH flow not enabled for this client")
        if flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            raise InvalidParameterException("Auth flow not enabled for this client")
        raise InvalidParameterException(f"{flow} flow not enabled for this client")
    if flow in NOT_YET:
        raise InvalidParameterException(f"{flow} is not supported by this version of authflow yet.")


def require_param(params: Mapping[str, str] | None, name: str) -> str:
    value = (params or {}).get(name)
    if not value:
        raise InvalidParameterException(f"Missing required parameter {name}")
    return value


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_secret_hash(
    client: AppClient, client_secrets: str | Sequence[str] | None, usernames: Iterable[str], given: str | None
) -> None:
    """SECRET_HASH for clients with a secret (`client_secrets`: every secret the client
    accepts, opened by the engine; a client holds up to two, `core.client_secrets`): over any
    of `usernames` (what the caller typed, or the canonical name) and any secret, every pair
    compared in constant time, so the time taken says nothing of which one matched. A hash
    sent to a client without a secret is ignored."""
    secrets = (client_secrets,) if isinstance(client_secrets, str) else tuple(client_secrets or ())
    if not secrets:
        return
    if not given:
        raise NotAuthorizedException(f"Client {client.id} is configured for secret but secret was not received")
    names = tuple(usernames)
    ok = False
    for secret in secrets:
        for name in names:
            ok |= hmac.compare_digest(secret_hash(secret, name, client.id).encode(), given.encode())
    if not ok:
        raise NotAuthorizedException(f"Unable to verify secret hash for client {client.id}")


def check_client_secret(client: AppClient, client_secrets: Sequence[str], given: str | None) -> None:
    """The raw ClientSecret of GetTokensFromRefreshToken: one of the client's secrets, each
    compared in constant time; ignored for a client without a secret, like SECRET_HASH."""
    if not client_secrets:
        return
    if not given:
        raise NotAuthorizedException(f"Client {client.id} is configured for secret but secret was not received")
    ok = False
    for secret in client_secrets:
        ok |= hmac.compare_digest(secret.encode(), given.encode())
    if not ok:
        raise NotAuthorizedException(f"Unable to verify secret for client {client.id}")


# -- status rules ---------------------------------------------------------------------------


def temporary_password_valid(pool: UserPool, user: User, now: datetime) -> bool:
    credential = user.credential
    if credential is None or not credential.temporary:
        return False
    days = pc.password_policy(pool.config).temporary_password_validity_days
    return now < credential.issued_at + timedelta(days=days)


def check_sign_in_status(pool: UserPool, client: AppClient, user: User, now: datetime) -> None:
    """After a correct password: may this user sign in? Cognito's error if not."""
    facts = {"temporary_password_valid": temporary_password_valid(pool, user, now)}
    try:
        user_lifecycle().next_status(user.status, "sign_in", facts)
    except IllegalTransition:
        raise status_error(client, user) from None


def status_error(client: AppClient, user: User) -> Exception:
    if user.status == "UNCONFIRMED":
        return UserNotConfirmedException("User is not confirmed.")
    if user.status == "RESET_REQUIRED":
        if cc.prevent_user_existence_errors(client.config):
            return NotAuthorizedException(INCORRECT)
        return PasswordResetRequiredException("Password reset required for the user")
    if user.status == "FORCE_CHANGE_PASSWORD":
        return NotAuthorizedException(TEMPORARY_PASSWORD_EXPIRED)
    return NotAuthorizedException(INCORRECT)


def unknown_user_error(client: AppClient) -> Exception:
    if cc.prevent_user_existence_errors(client.config):
        return NotAuthorizedException(INCORRECT)
    return UserNotFoundException("User does not exist.")


def lockout_key(pool: UserPool, client: AppClient, user: User | None, typed: str) -> str | None:
    """Whose failures an attempt counts against: the user's `sub`; for an unknown name
    under PreventUserExistenceErrors=ENABLED the name itself, so that "Password
    attempts exceeded" after the fifth try does not tell real accounts apart."""
    if user is not None:
        return user.sub
    if cc.prevent_user_existence_errors(client.config):
        return "unknown:" + identity.username_key(pool.config, typed)
    return None




def device_facts(pool: UserPool, device: Device | None) -> dict[str, bool]:
    """The auth-session guards about the attempt's device (device tracking)."""
    return {"device_remembered": devices.remembered(pool, device), "device_skips_mfa": devices.skips_mfa(pool, device)}


def next_challenge(
    state: str, trigger: str, pool: UserPool, user: User, device: Device | None = None, *, chosen: str | None = None,
) -> str:
    """Where the attempt goes next: a challenge name, or AUTHENTICATED. `device` is the
    user's device whose DEVICE_KEY the attempt carries, if any; `chosen` the MFA factor a
    SELECT_MFA_TYPE answer named."""
    facts = {
        "must_change_password": user.status == "FORCE_CHANGE_PASSWORD",
        **mfa.mfa_facts(pool, user, chosen=chosen),
        **device_facts(pool, device),
    }
    return auth_session().next_state(state, trigger, facts)


# -- sessions -----------------------------------------------------------------------------------


def session_id(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


def new_session(
    pool: UserPool,
    client: AppClient,
    user: User | None,
    *,
    challenge: str,
    typed_username: str,
    now: datetime,
    entropy: EntropySource,
    device_key: str | None = None,
) -> tuple[str, AuthSession]:
    """A fresh Session string (256 random bits) and the record that stores its hash.
    `user` None is a custom challenge simulated for a name no user has (the record
    then names no user: empty key and sub). `device_key`: the user's device the
    attempt carries, for the steps that follow."""
    token = base64.urlsafe_b64encode(entropy.random_bytes(SESSION_BYTES)).decode().rstrip("=")
    minutes = cc.auth_session_validity_minutes(client.config)
    record = AuthSession(
        pool_id=pool.id,
        id=session_id(token),
        client_id=client.id,
        username_key=user.username_key if user else "",
        sub=user.sub if user else "",
        challenge=challenge,
        typed_username=typed_username,
        created=now,
        expires=now + timedelta(minutes=minutes),
        credential_tag=credential_tag(user.credential) if user else None,
        device_key=device_key,
    )
    return token, record


def credential_tag(credential: Credential | None) -> str | None:
    """A short name for one issued password (its hash has a fresh salt, so every issue
    differs), never the hash itself."""
    if credential is None:
        return None
    return hashlib.sha256(credential.password_hash.encode()).hexdigest()[:32]


def check_session(record: AuthSession | None, *, pool: UserPool, client: AppClient, now: datetime) -> AuthSession:
    if record is None or record.pool_id != pool.id or record.client_id != client.id:
        raise NotAuthorizedException(INVALID_SESSION)
    if record.used:
        raise NotAuthorizedException(SESSION_USED)
    if now >= record.expires:
        auth_session().next_state(record.challenge, "session_expired")
        raise NotAuthorizedException(SESSION_EXPIRED)
    return record


def used(record: AuthSession) -> AuthSession:
    return replace(record, used=True, version=record.version + 1)


def check_answer_username(pool: UserPool, record: AuthSession, user: User | None, given: str) -> User:
    """USERNAME in an answer: the canonical name, or what the user typed at the start."""
    if user is None or user.sub != record.sub:
        raise NotAuthorizedException(INVALID_SESSION)
    key = identity.username_key(pool.config, given)
    if key != user.username_key and key != identity.username_key(pool.config, record.typed_username):
        raise NotAuthorizedException(INVALID_SESSION)
    return user


# -- NEW_PASSWORD_REQUIRED --------------------------------------------------------------------------


def _visible_attributes(user: User) -> dict[str, str]:
    # What clients are shown (live captures never carry `sub`).
    return {k: v for k, v in user.attributes.items() if k != "sub"}


def missing_required(pool: UserPool, attributes: Mapping[str, str]) -> list[str]:
    return [
        name for name, d in pc.schema(pool.config).items()
        if d.required and name != "sub" and not attributes.get(name)
    ]


def new_password_parameters(pool: UserPool, user: User) -> dict[str, str]:
    """ChallengeParameters exactly as amazon-cognito-identity-js and boto3 callers read
    them: both JSON values are strings."""
    required = [f"userAttributes.{name}" for name in missing_required(pool, user.attributes)]
    return {
        "USER_ID_FOR_SRP": user.username,
        "requiredAttributes": json.dumps(required, separators=(",", ":")),
        "userAttributes": json.dumps(_visible_attributes(user), separators=(",", ":")),
    }


@dataclass(frozen=True, slots=True)
class NewPassword:
    password: str
    writes: dict[str, str]


def prepare_new_password(
    pool: UserPool, client: AppClient, user: User, responses: Mapping[str, str]
) -> NewPassword:
    """Check an answer to NEW_PASSWORD_REQUIRED (everything but the comparison with
    the temporary password, which needs the slow hash). Extra keys are ignored:
    pycognito re-sends its whole PASSWORD_VERIFIER answer."""
    password = require_param(responses, "NEW_PASSWORD")
    writes = {
        key.removeprefix("userAttributes."): value
        for key, value in responses.items()
        if key.startswith("userAttributes.")
    }
    writable = cc.writable_attributes(client.config, pool.config)
    schema = pc.schema(pool.config)
    for name in writes:
        if name in attrs.VERIFIED_FLAGS or name not in writable:
            raise NotAuthorizedException("A client attempted to write unauthorized attribute")
        definition = schema.get(name)
        current = user.attributes.get(name)
        if definition is not None and definition.required and current and writes[name] != current:
            raise NotAuthorizedException(f"Cannot modify an already provided {name}")
    attrs.check_writes(schema, writes, current=user.attributes)
    updated = attrs.apply_writes(user.attributes, writes)
    missing = missing_required(pool, updated)
    if missing:
        raise InvalidParameterException(f"Invalid attributes given, {missing[0]} is missing")
    check_password(password, pc.password_policy(pool.config))
    return NewPassword(password=password, writes=writes)


def new_password_alias_pairs(pool: UserPool, user: User, answer: NewPassword) -> tuple[tuple[str, str], ...]:
    attributes = attrs.apply_writes(user.attributes, answer.writes)
    return identity.aliases_of(pool.config, attributes, "CONFIRMED")


def check_new_password_session(user: User, session: AuthSession) -> None:
    """Refuse, before any password is compared, an answer the session can no longer
    give: the user no longer needs a new password (another session answered), or the
    temporary password the session was opened with has been replaced since (RESEND).
    Checked first so that a stale session says nothing about any password."""
    credential = user.credential
    if (
        not user_lifecycle().allowed(user.status, "complete_new_password")
        or credential is None
        or not credential.temporary
        or session.credential_tag != credential_tag(credential)
    ):
        raise NotAuthorizedException(INVALID_SESSION)


def check_sign_in_still_holds(user: User, session: AuthSession) -> None:
    """Refuse an answer to a later step (SMS_MFA) whose sign-in no longer holds: the
    password it proved has been replaced since (a new temporary password), or the user's
    status no longer lets them hold tokens (AdminResetUserPassword). Checked before the
    code is compared, so a stale session says nothing about any code."""
    if session.credential_tag != credential_tag(user.credential) or not user_lifecycle().allowed(
        user.status, "refresh_tokens"
    ):
        raise NotAuthorizedException(INVALID_SESSION)


def decide_new_password(
    pool: UserPool,
    user: User,
    answer: NewPassword,
    *,
    same_as_temporary: bool,
    password_hash: str,
    alias_holders: Mapping[tuple[str, str], User | None],
    now: datetime,
) -> User:
    """The user after a successful answer: CONFIRMED, with the new password."""
    if same_as_temporary:
        raise InvalidPasswordException(
            "Password did not conform with policy: New password must be different from the temporary password"
        )
    attributes = attrs.ordered(attrs.apply_writes(user.attributes, answer.writes))
    facts = {
        "password_meets_policy": policy_violation(answer.password, pc.password_policy(pool.config)) is None,
        "required_attributes_present": not missing_required(pool, attributes),
    }
    status = user_lifecycle().next_status(user.status, "complete_new_password", facts)
    aliases = identity.aliases_of(pool.config, attributes, status)
    for pair, holder in alias_holders.items():
        if holder is not None and holder.username_key != user.username_key and pair in aliases:
            raise AliasExistsException(f"An account with the {pair[0]} already exists.")
    return replace(
        user,
        status=status,
        attributes=attributes,
        aliases=aliases,
        credential=Credential(password_hash=password_hash, temporary=False, issued_at=now),
        modified=now,
        version=user.version + 1,
    )


# -- SMS_MFA ---------------------------------------------------------------------------------------


def mask_phone(phone: str) -> str:
    """Cognito's masked destination: the leading '+', stars, the last four digits."""
    if len(phone) <= 4:
        return "*" * len(phone)
    return phone[0] + "*" * (len(phone) - 5) + phone[-4:]


def mask_email(email: str) -> str:
    """Cognito's form: the first character of the local part and of the domain, each
    followed by three stars, whatever their lengths (`test@test.com` is `t***@t***`)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


def new_code(entropy: EntropySource, length: int = CODE_DIGITS) -> str:
    digits: list[str] = []
    while len(digits) < length:
        for b in entropy.random_bytes(length * 2):
            if b < 250 and len(digits) < length:  # 250 = 25 * 10: no modulo bias
                digits.append(str(b % 10))
    return "".join(digits)


def code_hash(pool_secret: bytes, session: AuthSession, code: str) -> str:
    """Keyed with the pool secret: a six-digit code hashed without a key falls to a
    million guesses."""
    return hmac.new(pool_secret, f"{session.id}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(pool_secret: bytes, session: AuthSession, code: str) -> bool:
    expected = session.code_hash or ""
    return hmac.compare_digest(code_hash(pool_secret, session, code).encode(), expected.encode())


def check_challenge_possible(state: str, user: User) -> None:
    """Refuse a challenge the user cannot answer (SMS_MFA without a phone number, EMAIL_OTP
    without an address)."""
    if state == "SMS_MFA" and not user.attributes.get("phone_number"):
        raise InvalidParameterException("User does not have delivery config set to turn on SMS_MFA")
    if state == mfa.EMAIL and not user.attributes.get("email"):
        raise InvalidParameterException("User does not have delivery config set to turn on EMAIL_OTP")


def sms_challenge(
    pool: UserPool, user: User, session: AuthSession, *, pool_secret: bytes, entropy: EntropySource
) -> tuple[AuthSession, Message, dict[str, str]]:
    """The SMS_MFA step: the session with the code's hash, the message, the parameters."""
    check_challenge_possible("SMS_MFA", user)
    phone = user.attributes["phone_number"]
    code = new_code(entropy)
    session = replace(session, code_hash=code_hash(pool_secret, session, code))
    message = Message(
        medium="SMS",
        destination=phone,
        subject=None,
        body=pc.sms_authentication_message(pool.config).replace("{####}", code),
        kind="mfa_code",
        username=user.username,
        pool_id=pool.id,
        code=code,
    )
    parameters = {
        "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
        "CODE_DELIVERY_DESTINATION": mask_phone(phone),
        "USER_ID_FOR_SRP": user.username,
    }
    return session, message, parameters


def email_challenge(
    pool: UserPool, user: User, session: AuthSession, *, pool_secret: bytes, entropy: EntropySource
) -> tuple[AuthSession, Message, dict[str, str]]:
    """The EMAIL_OTP step (e-mail as an MFA factor): as SMS_MFA, an 8-digit code by e-mail."""
    check_challenge_possible(mfa.EMAIL, user)
    email = user.attributes["email"]
    code = new_code(entropy, mfa.EMAIL_CODE_DIGITS)
    session = replace(session, code_hash=code_hash(pool_secret, session, code))
    subject, body = mfa.email_template(pool.config)
    message = Message(medium="EMAIL", destination=email, subject=subject, body=body.replace("{####}", code),
                      kind="mfa_code", username=user.username, pool_id=pool.id, code=code)
    parameters = {
        "CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
        "CODE_DELIVERY_DESTINATION": mask_email(email),
        "USER_ID_FOR_SRP": user.username,
    }
    return session, message, parameters


def challenge_response(challenge: str, session: str, parameters: Mapping[str, str]) -> dict[str, Any]:
    return {"ChallengeName": challenge, "Session": session, "ChallengeParameters": dict(parameters)}
