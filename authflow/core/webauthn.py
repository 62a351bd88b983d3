"""Passkeys (WebAuthn): the rules of registration and of the records it leaves.

Theory of operation: everything is a `PoolResource`, so no store has a table of its own.
* A pending registration (kind "webauthn_registration", named by the user's sub) holds the
  challenge StartWebAuthnRegistration issued, the app client whose token asked, the RP ID and
  UV setting it was issued for, and its expiry (5 minutes). One per user: a new Start
  replaces it. It is single use: CompleteWebAuthnRegistration spends it whatever the answer,
  once the right client answers.
* A passkey (kind "webauthn_credential", named `<sub>:<CredentialId>`, so a user's passkeys
  are one name range) holds the COSE public key, the sign counter, the RP ID, transports,
  attachment, name, and whether UV was done. An index (kind "webauthn_credential_id", named
  by the CredentialId, body {Sub}) keeps a credential id unique in the pool.
* The RP ID is the pool's `WebAuthnConfiguration.RelyingPartyId`, else its custom domain,
  else its prefix domain's host `<prefix>.auth.<region>.amazoncognito.com`; none is
  WebAuthnConfigurationMissingException.
* An origin is allowed when its host is the RP ID or a subdomain of it, over https (any
  port); over http only for `localhost` and `*.localhost`, which browsers treat as secure.
The ceremonies themselves (options, verification) are `authflow.crypto.passkeys`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from authflow.core.records import PoolResource, User, UserPool
from authflow.errors import (
    InvalidParameterException,
    LimitExceededException,
    NotAuthorizedException,
    ResourceNotFoundException,
    WebAuthnChallengeNotFoundException,
    WebAuthnClientMismatchException,
    WebAuthnConfigurationMissingException,
    WebAuthnNotEnabledException,
    WebAuthnOriginNotAllowedException,
)

REGISTRATION = "webauthn_registration"
CREDENTIAL = "webauthn_credential"
CREDENTIAL_ID = "webauthn_credential_id"

#: Passkeys a user may hold (Cognito's documented quota).
MAX_CREDENTIALS = 20
#: ListWebAuthnCredentials' page when MaxResults is not given.
DEFAULT_LIST_LIMIT = 20
#: How long a registration challenge may be answered.
REGISTRATION_TTL = timedelta(minutes=5)
#: The browser's timeout hint in the options (what Cognito's example shows).
TIMEOUT_MS = 60_000

NOT_ENABLED = "WebAuthn is not enabled for this user pool: add WEB_AUTHN to its Policies.SignInPolicy.AllowedFirstAuthFactors."
CONFIG_MISSING = ("The user pool has no relying party for passkeys: set WebAuthnConfiguration.RelyingPartyId "
                  "with SetUserPoolMfaConfig, or give the pool a domain.")
TOO_MANY = f"A user can register at most {MAX_CREDENTIALS} passkeys."
NO_CHALLENGE = "No passkey registration is pending for this user, or it has expired: call StartWebAuthnRegistration."
CLIENT_MISMATCH = "The access token is of another app client than the one that started the passkey registration."
CREDENTIAL_INVALID = "Credential data is not valid"
CREDENTIAL_EXISTS = "This passkey is already registered in the user pool."
NOT_FOUND = "Credential not found."
#: Every refusal of a passkey at sign-in says the same, so none tells an attacker what failed.
SIGN_IN_REFUSED = "Incorrect username or passkey."

_ORIGIN = re.compile(r"(https?)://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?")


def _config(pool: UserPool) -> Mapping[str, Any]:
    return pool.config.get("WebAuthnConfiguration") or {}


def enabled(pool: UserPool) -> bool:
    factors = ((pool.config.get("Policies") or {}).get("SignInPolicy") or {}).get("AllowedFirstAuthFactors") or ()
    return "WEB_AUTHN" in factors


def require_enabled(pool: UserPool) -> None:
    if not enabled(pool):
        raise WebAuthnNotEnabledException(NOT_ENABLED)


def user_verification(pool: UserPool) -> str:
    """"required" or "preferred" (the default), as WebAuthn spells them."""
    return "required" if _config(pool).get("UserVerification") == "required" else "preferred"


def relying_party_id(pool: UserPool, domains: Sequence[PoolResource], region: str) -> str:
    configured = _config(pool).get("RelyingPartyId")
    if configured:
        return str(configured).lower()
    custom = sorted(d.name for d in domains if "." in d.name)
    if custom:
        return custom[0]
    prefixes = sorted(d.name for d in domains if "." not in d.name)
    if prefixes:
        return f"{prefixes[0]}.auth.{region}.amazoncognito.com"
    raise WebAuthnConfigurationMissingException(CONFIG_MISSING)


def origin_allowed(origin: str, rp_id: str) -> bool:
    match = _ORIGIN.fullmatch(origin)
    if match is None:
        return False
    scheme, host = match.group(1), match.group(2).lower()
    if match.group(3) is not None and not 0 < int(match.group(3)) < 65536:
        return False
    rp_id = rp_id.lower()
    if host != rp_id and not host.endswith("." + rp_id):
        return False
    return scheme == "https" or host == "localhost" or host.endswith(".localhost")


def check_origin(origin: str, rp_id: str) -> str:
    if not origin_allowed(origin, rp_id):
        raise WebAuthnOriginNotAllowedException(f"The origin {origin} is not allowed for relying party {rp_id}.")
    return origin


# -- pending registrations ------------------------------------------------------------------------


def pending_registration(pool: UserPool, user: User, *, client_id: str, challenge: str, rp_id: str,
                         previous: PoolResource | None, now: datetime) -> PoolResource:
    """The registration a Start leaves (replacing `previous`, the user's earlier one)."""
    body = {"Challenge": challenge, "ClientId": client_id, "RelyingPartyId": rp_id,
            "UserVerification": user_verification(pool), "Expires": (now + REGISTRATION_TTL).isoformat()}
    return PoolResource(pool_id=pool.id, kind=REGISTRATION, name=user.sub, body=body,
                        created=previous.created if previous else now, modified=now,
                        version=previous.version + 1 if previous else 1)


def live_registration(pending: PoolResource | None, now: datetime) -> PoolResource:
    if pending is None or datetime.fromisoformat(pending.body["Expires"]) <= now:
        raise WebAuthnChallengeNotFoundException(NO_CHALLENGE)
    return pending


def check_client(pending: PoolResource, client_id: str) -> None:
    if pending.body["ClientId"] != client_id:
        raise WebAuthnClientMismatchException(CLIENT_MISMATCH)


# -- passkeys -------------------------------------------------------------------------------------


def credential_name(sub: str, credential_id: str) -> str:
    return f"{sub}:{credential_id}"


def user_prefix(sub: str) -> str:
    return f"{sub}:"


def check_room(existing: Sequence[PoolResource]) -> None:
    if len(existing) >= MAX_CREDENTIALS:
        raise LimitExceededException(TOO_MANY)


def friendly_name(attachment: str | None) -> str:
    """Cognito names a passkey for its kind ("Roaming passkey" in its own example)."""
    return {"cross-platform": "Roaming passkey", "platform": "Platform passkey"}.get(attachment or "", "Passkey")


def new_credential(pool: UserPool, user: User, *, credential_id: str, public_key: str, sign_count: int,
                   rp_id: str, transports: Sequence[str], attachment: str | None, aaguid: str,
                   user_verified: bool, now: datetime) -> tuple[PoolResource, PoolResource]:
    """The passkey record and its pool-wide index entry."""
    body: dict[str, Any] = {
        "CredentialId": credential_id, "PublicKey": public_key, "SignCount": sign_count, "RelyingPartyId": rp_id,
        "AuthenticatorTransports": list(transports), "FriendlyCredentialName": friendly_name(attachment),
        "Aaguid": aaguid, "UserVerified": user_verified,
    }
    if attachment:
        body["AuthenticatorAttachment"] = attachment
    record = PoolResource(pool_id=pool.id, kind=CREDENTIAL, name=credential_name(user.sub, credential_id),
                          body=body, created=now, modified=now)
    index = PoolResource(pool_id=pool.id, kind=CREDENTIAL_ID, name=credential_id, body={"Sub": user.sub},
                         created=now, modified=now)
    return record, index


def check_unique(index: PoolResource | None) -> None:
    if index is not None:
        raise InvalidParameterException(CREDENTIAL_EXISTS, member="Credential")


def used(record: PoolResource, *, sign_count: int, now: datetime) -> PoolResource:
    """The passkey after a sign-in with it: the new counter and when it was last used."""
    body = {**record.body, "SignCount": sign_count, "LastUsed": now.isoformat()}
    return PoolResource(pool_id=record.pool_id, kind=record.kind, name=record.name, body=body,
                        created=record.created, modified=now, version=record.version + 1)


def owned(record: PoolResource | None) -> PoolResource:
    """DeleteWebAuthnCredential's passkey: another user's is as unknown as none."""
    if record is None:
        raise ResourceNotFoundException(NOT_FOUND)
    return record


def description(record: PoolResource) -> dict[str, Any]:
    """WebAuthnCredentialDescription."""
    body = record.body
    out: dict[str, Any] = {
        "CredentialId": body["CredentialId"], "FriendlyCredentialName": body["FriendlyCredentialName"],
        "RelyingPartyId": body["RelyingPartyId"], "AuthenticatorTransports": list(body["AuthenticatorTransports"]),
        "CreatedAt": record.created,
    }
    if body.get("AuthenticatorAttachment"):
        out["AuthenticatorAttachment"] = body["AuthenticatorAttachment"]
    return out


def sign_in_refused() -> NotAuthorizedException:
    return NotAuthorizedException(SIGN_IN_REFUSED)
