"""What an invariant is given: one `Step` (a request, its response or error, the records
before and after, the clock, the messages the engine delivered) and the caller's `History`
before it (what it has seen so far, kept up by `observe` in `bookkeeping`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from authflow.errors import CognitoError
from authflow.invariants.records import Records


@dataclass(frozen=True, slots=True)
class History:
    """What the caller has seen before a step (maintained by `observe`)."""

    #: Session ids (`session_id`) whose answer succeeded once.
    succeeded_sessions: frozenset[str] = frozenset()
    #: Blocks (`block_id`: by their bytes, whatever text carried them) whose
    #: PASSWORD_VERIFIER answer succeeded once (SRP).
    succeeded_secret_blocks: frozenset[str] = frozenset()
    #: (token hash, pool id, sub) of every refresh token the caller was given.
    refresh_tokens: frozenset[tuple[str, str, str]] = frozenset()
    #: Hashes of refresh tokens the caller revoked, or lost to a sign-out, a disable or a delete.
    revoked_tokens: frozenset[str] = frozenset()
    #: Every ValidationData value ever sent.
    validation_values: frozenset[str] = frozenset()
    #: (pool id, sub, purpose, code, destination): the latest code of each purpose that
    #: reached each user, and the email / phone number it went to.
    sent_codes: frozenset[tuple[str, str, str, str, str]] = frozenset()
    #: (pool id, sub) of every user deleted (AdminDeleteUser, DeleteUser).
    deleted_users: frozenset[tuple[str, str]] = frozenset()
    #: (PASSWORD_CLAIM_SIGNATURE, password): the SRP claims the caller signed, and with which
    #: password. Only the caller can say: the store keeps the verifier sealed and the
    #: server's secret b travels sealed in the SECRET_BLOCK, so no record tells a right
    #: proof from a wrong one. Told by the caller (`signed`), not learned by `observe`.
    srp_claims: frozenset[tuple[str, str]] = frozenset()
    #: Every ANSWER sent to a CUSTOM_CHALLENGE (right or wrong: an answer is a secret).
    custom_answers: frozenset[str] = frozenset()
    #: (pool id, device key, sub): every device issued to the caller as NewDeviceMetadata,
    #: and the user whose tokens came with it (device tracking).
    device_owners: frozenset[tuple[str, str, str]] = frozenset()
    #: (pool id, device key) of every device the caller forgot (ForgetDevice,
    #: AdminForgetDevice) or whose owner was deleted: keys that must never sign in again.
    forgotten_devices: frozenset[tuple[str, str]] = frozenset()
    #: (pool id, sub, group name): memberships the caller ended (AdminRemoveUserFromGroup,
    #: or DeleteGroup of a group the user was in) and has not renewed (AdminAddUserToGroup).
    group_departures: frozenset[tuple[str, str, str]] = frozenset()
    #: (pool id, sub, SecretCode): every TOTP secret AssociateSoftwareToken handed the caller.
    totp_secrets: frozenset[tuple[str, str, str]] = frozenset()
    #: (pool id, sub, SecretCode): the secret of each user's verified authenticator, as
    #: the caller saw it verified (the one its VerifySoftwareToken code was of).
    totp_verified: frozenset[tuple[str, str, str]] = frozenset()
    #: (pool id, sub, SecretCode, time step): every TOTP code the caller saw accepted.
    totp_accepted: frozenset[tuple[str, str, str, int]] = frozenset()
    #: (token hash, family): every refresh token the caller was given, with the family it
    #: belongs to as the access token beside it names it (`origin_jti`, else `event_id`).
    refresh_families: frozenset[tuple[str, str]] = frozenset()
    #: (token hash, instant): the refresh tokens the caller saw rotated out of their family
    #: (a GetTokensFromRefreshToken of the family that answered with a new refresh token),
    #: and when.
    rotated_out: frozenset[tuple[str, datetime]] = frozenset()
    #: Families a reuse past the grace period was refused for (RefreshTokenReuseException).
    reused_families: frozenset[str] = frozenset()
    #: Families the caller revoked (RevokeToken of any of their tokens), saw replayed, or lost
    #: to a sign-out, a disable or a delete of their user.
    revoked_families: frozenset[str] = frozenset()
    #: (pool id, sub, credential id): passkeys the caller saw registered (CompleteWebAuthnRegistration).
    passkeys_registered: frozenset[tuple[str, str, str]] = frozenset()
    #: (pool id, credential id): passkeys the caller deleted (DeleteWebAuthnCredential) or lost with their user.
    passkeys_deleted: frozenset[tuple[str, str]] = frozenset()
    #: (session id, code, instant): the code each first-factor (USER_AUTH) EMAIL_OTP / SMS_OTP
    #: session was sent, as the message carried it, and when.
    otp_sent: frozenset[tuple[str, str, datetime]] = frozenset()
    #: Ids of the first-factor OTP sessions whose code the caller saw accepted.
    otp_accepted: frozenset[str] = frozenset()

    def signed(self, signature: str, password: str) -> History:
        """This history, knowing that the caller signed the SRP claim `signature` with `password`."""
        return dataclasses.replace(self, srp_claims=self.srp_claims | {(signature, password)})

    def claim_password(self, signature: str) -> str | None:
        """The password the caller signed the SRP claim `signature` with, if it said."""
        return next((p for s, p in self.srp_claims if s == signature), None)

    def family_of(self, token_digest: str) -> str | None:
        """The family of the refresh token with this hash, as the caller saw it issued."""
        return next((f for h, f in self.refresh_families if h == token_digest), None)

    def rotated_at(self, token_digest: str) -> datetime | None:
        """When the caller saw the refresh token with this hash rotated out (the first time)."""
        return min((at for h, at in self.rotated_out if h == token_digest), default=None)

    def device_owner(self, pool_id: str, key: str) -> str | None:
        """The sub the device `key` was issued to, if the caller saw it issued."""
        return next((sub for p, k, sub in self.device_owners if (p, k) == (pool_id, key)), None)

    def secrets_of(self, pool_id: str, sub: str) -> list[str]:
        """The TOTP secrets handed to the caller for the user, in a stable order."""
        return sorted(secret for p, s, secret in self.totp_secrets if (p, s) == (pool_id, sub))

    def verified_secret(self, pool_id: str, sub: str) -> str | None:
        """The secret of the user's authenticator, if the caller saw it verified."""
        return next((secret for p, s, secret in self.totp_verified if (p, s) == (pool_id, sub)), None)

    def latest_code(self, pool_id: str, sub: str, purpose: str) -> tuple[str, str] | None:
        """(code, destination) of the latest code of `purpose` sent to the user, if any."""
        return next(
            ((code, to) for p, s, what, code, to in self.sent_codes if (p, s, what) == (pool_id, sub, purpose)), None
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One request and what came of it. A clock jump is a step too (operation
    `AdvanceClock`, request `{"seconds": n}`, before == after)."""

    operation: str  # Cognito's operation name
    request: Mapping[str, Any]
    response: Mapping[str, Any] | None
    error: CognitoError | None
    before: Records
    after: Records
    now: datetime  # the clock while the request ran (after a jump: the new time)
    history: History = field(default_factory=History)
    #: What the engine delivered while the request ran (its Messenger's messages).
    messages: tuple[Any, ...] = ()

    @classmethod
    def at_rest(cls, records: Records, now: datetime, history: History | None = None) -> Step:
        """A step that changed nothing, to check the state invariants of `records`."""
        return cls(
            operation="(state)", request={}, response={}, error=None,
            before=records, after=records, now=now, history=history or History(),
        )

    @property
    def ok(self) -> bool:
        return self.error is None
