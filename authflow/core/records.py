"""Frozen records: what the store keeps.

Theory of operation: every record is an immutable value. A decision builds new
records with `dataclasses.replace`, and the service hands them to the store inside
one transaction. Configuration is kept in Cognito's own wire spelling (dicts keyed
by Cognito's member names) so that what is stored, what the specs name and what
goes over the wire are the same strings; the typed accessors in `pool_config` and
`client_config` are the only readers of those dicts.

Derived fields (`username_key`, `aliases`) are computed by the core when a user
record is built, so that every store can index them without knowing pool rules.
`version` supports optimistic concurrency: a store accepts a write only when the
stored version is exactly one less (or absent, for version 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # effects imports the records
    from authflow.core.effects import Message


@dataclass(frozen=True, slots=True, kw_only=True)
class UserPool:
    id: str
    arn: str
    config: Mapping[str, Any]
    created: datetime
    modified: datetime
    # Server-side secret of this pool (pagination tokens, SMS code hashes, later simulated
    # SRP salts), sealed under the engine's KEK (`Engine.pool_secret` opens it). Never
    # leaves the engine.
    secret: bytes = field(repr=False)
    version: int = 1

    @property
    def name(self) -> str:
        return str(self.config.get("Name", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class AppClient:
    pool_id: str
    id: str
    config: Mapping[str, Any]
    created: datetime
    modified: datetime
    # The client secret sealed under the engine's KEK (`Engine.client_secret` opens it);
    # None for clients without a secret.
    secret: bytes | None = field(default=None, repr=False)
    version: int = 1

    @property
    def name(self) -> str:
        return str(self.config.get("ClientName", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """A password as the engine keeps it: never the password itself."""

    password_hash: str = field(repr=False)  # PHC string, Argon2id
    temporary: bool
    issued_at: datetime
    # SRP (USER_SRP_AUTH): the salt as the clients hash it (`pad_hex`, not secret: it is
    # sent to anyone who asks) and the verifier g^x mod N sealed under the engine's KEK
    # (`authflow.service.srp`), because a bare verifier is a cheap offline password test.
    # None in records written before SRP existed.
    srp_salt: str | None = None
    srp_verifier: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingCode:
    """A verification code the user was sent and has not used: its HMAC under the pool
    secret (never the code), when it was issued and stops working, and how many wrong
    guesses it has taken (`authflow.core.codes`)."""

    code_hash: str = field(repr=False)
    issued: datetime
    expires: datetime
    attempts: int = 0
    # The attribute the code went to ("email" / "phone_number"), if any.
    attribute: str | None = None
    # AttributesRequireVerificationBeforeUpdate: the new value the code went to, which
    # replaces the attribute's (verified) value only once the code is given back.
    value: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeRequests:
    """Codes of one purpose a user asked for in the hour from `window_start`
    (`codes.REQUEST_LIMIT`): each new code brings fresh guesses, so requests are bounded
    too. Kept apart from the pending code, which a use, a new value or a new password
    voids: the count must outlive it, or voiding a code would reset the bound."""

    window_start: datetime
    count: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftwareToken:
    """A user's authenticator app (TOTP): its base32 secret sealed under the engine's KEK
    (`authflow.service.mfa`), the name given when it was verified, and the last time step
    whose code was accepted: each code signs in once."""

    secret: bytes = field(repr=False)
    friendly_name: str | None = None
    verified: datetime
    last_step: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    pool_id: str
    username: str
    # The uniqueness key of the username: the username itself in case-sensitive
    # pools, its casefold in case-insensitive ones.
    username_key: str
    sub: str
    # Attribute name -> value, in the order Cognito reports them (`sub` first).
    attributes: Mapping[str, str]
    status: str
    enabled: bool = True
    credential: Credential | None = None
    created: datetime
    modified: datetime
    # (alias kind, alias key) pairs this user currently holds: the verified email /
    # phone_number and the preferred_username, as sign-in aliases or as
    # username attributes. At most one holder per pool (a store constraint).
    aliases: tuple[tuple[str, str], ...] = ()
    # MFA methods the user has turned on ("SMS_MFA"), and the preferred one.
    mfa_settings: tuple[str, ...] = ()
    preferred_mfa: str | None = None
    # GlobalSignOut / AdminUserGlobalSignOut / AdminDisableUser bump the generation:
    # every refresh token (and the access tokens of its family) minted under an older
    # generation is revoked. A counter, not a time: a sign-in at the same instant as
    # a sign-out must still count as after it.
    token_generation: int = 0
    # Pending verification codes by purpose ("reset_password"; later "confirm_sign_up",
    # "verify_email", "verify_phone_number"): at most one per purpose, a new one
    # replaces the old.
    codes: Mapping[str, PendingCode] = field(default_factory=dict)
    # Code requests by purpose in the current hour (`CodeRequests`).
    code_requests: Mapping[str, CodeRequests] = field(default_factory=dict)
    # TOTP: the verified authenticator, and a secret AssociateSoftwareToken handed out by
    # access token that VerifySoftwareToken has not confirmed yet (sealed; it replaces the
    # verified one only when verified).
    software_token: SoftwareToken | None = None
    pending_software_token: bytes | None = field(default=None, repr=False)
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningKey:
    """One RSA key of a pool's key ring. Each pool has a current key per token use
    ("id", "access"); a retired key stays published until tokens it signed expired."""

    pool_id: str
    kid: str
    use: str  # "id" | "access"
    private_key: bytes = field(repr=False)  # PKCS#8 DER sealed under the KEK (`Engine.signing_key`)
    public_jwk: Mapping[str, str]  # alg, e, kid, kty, n, use
    created: datetime
    retired: datetime | None = None
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthSession:
    """One sign-in attempt between challenges. The client holds the Session string;
    the store keeps only its SHA-256 (`id`). Single use: answering it marks it used,
    and it is kept until it expires so that a replay gets its own message."""

    pool_id: str
    id: str  # SHA-256 hex of the Session string
    client_id: str
    username_key: str
    sub: str
    challenge: str  # the auth-session state the attempt is in
    typed_username: str  # what the user typed (an alias is accepted in the answer)
    created: datetime
    expires: datetime
    used: bool = False
    # SMS_MFA: HMAC of the code sent (never the code itself).
    code_hash: str | None = field(default=None, repr=False)
    # Names the credential the session's sign-in proved (`auth.credential_tag`): a
    # session opened before the password was replaced (RESEND) cannot be answered.
    credential_tag: str | None = None
    # CUSTOM_CHALLENGE: the rounds so far and the private challenge parameters
    # (`custom_auth.Progress`), sealed under the KEK (base64): they hold answers.
    # DEVICE_PASSWORD_VERIFIER: the device SRP state (`core.devices.DeviceProof`), sealed
    # likewise: it holds the server's secret exponent.
    progress: str | None = field(default=None, repr=False)
    # The DEVICE_KEY the attempt carries (device tracking), once the device is known to
    # be the user's: the key tokens are bound to, or the device that must still prove itself.
    device_key: str | None = None
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshToken:
    """A refresh token as stored: its SHA-256 only. `origin_jti` names the token family
    (the sign-in it came from); access and ID tokens minted from it carry it."""

    pool_id: str
    token_hash: str  # SHA-256 hex
    origin_jti: str
    client_id: str
    sub: str
    auth_time: datetime
    created: datetime
    expires: datetime
    generation: int = 0  # the user's token_generation when the family began
    revoked: bool = False
    # Device tracking: the DeviceKey the family was issued to (NewDeviceMetadata, or the
    # device that authenticated). Such a family refreshes only with that key, and
    # forgetting the device revokes it.
    device_key: str | None = None
    # The OAuth scopes the family was granted at a domain's token endpoint (space-separated,
    # as the access token's `scope` claim); None for families of the API flows, whose access
    # tokens carry only aws.cognito.signin.user.admin.
    scope: str | None = None
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FailedSignIns:
    """The lockout counter of one sign-in subject (a user's sub)."""

    pool_id: str
    key: str
    count: int
    locked_until: datetime | None
    last_attempt: datetime
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """One device of a user (device tracking, `specs/device.yaml`). Issued as
    NewDeviceMetadata when a sign-in ends in tokens without a known device (status NEW);
    ConfirmDevice gives it its SRP verifier and makes it REMEMBERED or NOT_REMEMBERED.
    Forgetting deletes the record. `key` is unique within its pool (the stores' key is
    (pool, key); being a region-prefixed random UUID it is unique everywhere in practice);
    a device belongs to exactly one user (`sub`) and goes with it."""

    pool_id: str
    key: str  # DeviceKey: <region>_<uuid4>
    sub: str  # the owner
    group_key: str  # DeviceGroupKey: the SRP "pool name" of the device's verifier
    status: str  # a state of `specs/device.yaml`: NEW, REMEMBERED, NOT_REMEMBERED
    name: str | None = None  # DeviceName given to ConfirmDevice
    # The verifier's salt exactly as hex of the bytes the client sent (the SALT parameter
    # must give the client back the same padHex string), and the verifier g^x mod N
    # sealed under the engine's KEK, like a user's SRP verifier. None while NEW.
    salt: str | None = None
    verifier: bytes | None = field(default=None, repr=False)
    last_ip: str | None = None
    created: datetime
    modified: datetime
    last_authenticated: datetime | None = None
    # NEW devices nobody confirmed are purged once this instant passes (the refresh token
    # they came with has expired by then); None once confirmed.
    expires: datetime | None = None
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """A user-pool group (CreateGroup). Unset members are None and are omitted on the wire.
    Members are kept apart (the store's memberships, by group name and username key), so
    adding a member never rewrites the group, and deleting either side drops the
    membership in the same transaction."""

    pool_id: str
    name: str  # GroupName: case-sensitive, unique in the pool
    description: str | None = None
    role_arn: str | None = None
    precedence: int | None = None
    created: datetime
    modified: datetime
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolResource:
    """A named configuration object of a pool that the engine stores and looks up by name
    but never needs columns of: a domain (`kind` "domain", `name` the prefix or the custom
    FQDN; unique across pools), a resource server ("resource_server", its Identifier), an
    identity provider ("identity_provider", its ProviderName), a federated identity linked
    to a user ("identity_link", `<ProviderName>:<subject>`). `body` holds what Cognito
    returns for it (JSON data as boto3 passes it). Deleted with the pool."""

    pool_id: str
    kind: str
    name: str
    body: Mapping[str, Any]
    created: datetime
    modified: datetime
    version: int = 1


#: The kinds of `PoolResource` whose names are unique across every pool, not just one.
GLOBAL_RESOURCE_KINDS = frozenset({"domain"})


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxEntry:
    """A message on its way out: written in the same transaction as the change that caused
    it, so a crash after the commit loses nothing; a sender delivers it after the commit and
    marks it. `id` is stable for the message's whole life (SMTP's Message-ID derives from
    it), so a resend after a crash is recognisable as the same message. Kept after delivery
    (the console's messages page lists them); not deleted with the pool."""

    id: str
    message: Message
    created: datetime
    state: str  # "PENDING" (to send, at `next_attempt`), "SENT", "FAILED" (gave up)
    next_attempt: datetime
    attempts: int = 0
    sent: datetime | None = None
    last_error: str | None = None
    version: int = 1
