"""The laws the engine must keep, written once and checked by the tests and by
`authflow explore`.

Theory of operation: an invariant is a named function over one observed `Step`:
the request, its response or the `CognitoError` it raised, the store's records
before and after (`Records`, a plain, comparable copy of a MemoryStore snapshot),
the clock, the messages the engine delivered during the request, and the `History`
of what the caller has seen so far (which sessions it answered successfully, which
refresh tokens it revoked or lost to a sign-out or a deletion, which ValidationData
values it sent, which verification codes reached it and where, which users were
deleted, which devices were issued to it and which it forgot). Invariants about a
state alone ("usernames are unique") read `step.after`; invariants about a step ("a
refused request changes nothing") compare `before` and `after`. Each returns None when
the law holds, or a sentence saying how it broke.

The checks are deliberately independent of the engine's own decisions: they read
configuration through the pool-config accessors and name records with the core's
hash functions, but recompute every rule (validity windows, alias holders, the
lockout schedule) from the records themselves. `observe(history, step)` is the
caller's bookkeeping: what the step taught it (a session that succeeded, a token
that was revoked), written without consulting the engine's records where the
request itself says enough. Codes are read from the delivered messages' text, as a
user reads them; which purpose a code serves (sign-up, reset, verification) is the
pending code the same step (re)issued to the message's destination.

Usage:

    step = Step(operation="InitiateAuth", request=..., response=..., error=None,
                before=Records.of(snapshot_before), after=Records.of(store), now=clock.now(),
                history=history, messages=outbox.messages[sent_before:])
    for violation in check(step):          # or check(step, ["session_single_use"])
        ...
    history = observe(history, step)

`Checker` does this around every call of an `authflow.Client`.

SRP and custom sign-in: `session_single_use` also covers PASSWORD_VERIFIER answers
(a PASSWORD_CLAIM_SECRET_BLOCK that succeeded once, or that the store records as used,
never succeeds again); `password_must_match` judges an SRP proof by the password the
caller says it signed the claim with (`History.signed`: no record can tell, since the
verifier is stored sealed and the server's secret travels sealed in the block);
`custom_challenge_secrets_sealed` and `unknown_users_never_sign_in` are the laws of
CUSTOM_AUTH and of the simulated challenges of names no user has.

Device tracking: `forgotten_device_never_signs_in`, `device_single_owner`,
`mfa_skipped_only_on_remembered_devices`, `device_sign_in_tokens_carry_its_key` and
`new_device_metadata_only_for_unknown_devices` read the attempt's device from the
request's DEVICE_KEY (or the one its session carried), the device tokens are bound to
from the access token's `device_key`, and whose a device is and which devices are gone
from what the caller saw (`History.device_owners`, `History.forgotten_devices`).

Groups: `tokens_name_the_users_groups` recomputes the claims (cognito:groups in claim
order, cognito:roles, cognito:preferred_role) from the records' memberships at minting;
`removed_members_lose_the_group` reads which memberships ended from what the caller did
(`History.group_departures`); `group_memberships_agree` holds the store's two directions of
membership (what ListUsersInGroup and AdminListGroupsForUser read) to each other and to the
users and groups that exist.

MFA and software tokens (TOTP): `tokens_only_after_the_configured_factor`,
`totp_code_accepted_once` and `totp_secrets_never_stored` judge codes with `rfc6238` (the
RFC's TOTP with the standard library, not the engine's) against the secrets the caller
was handed and saw verified (`History.totp_secrets`, `History.totp_verified`,
`History.totp_accepted`); `mfa_names_only_verified_factors` keeps MFA settings to factors
the user has (a verified authenticator, a phone number) and verification to
VerifySoftwareToken.

Refresh-token rotation: `rotated_token_only_within_grace`, `reused_family_stays_revoked`,
`refresh_token_auth_refused_on_rotating_clients` and `revoked_family_yields_nothing` read a
token's family and when it was rotated out from what the caller saw
(`History.refresh_families`, `History.rotated_out`, `History.reused_families`,
`History.revoked_families`) and from the store's rotation records (`Records.resources`).

The package: `records` and `step` hold what an invariant reads (`Records`, `History`,
`Step`), `reading` how the laws read a step; the laws themselves are grouped by subject
(`users`, `sign_in`, `failures`, `lockout`, `codes`, `custom_auth`, `devices`, `groups`,
`totp`, `rotation`), and `registry` lists
them in the order `check` runs them. `bookkeeping` holds `observe`, `checker` the
`Checker`. Every public name of the single module this package replaced (the laws, the
flow and code constants) stays importable from the package.
"""

from __future__ import annotations

from authflow.core.auth import session_id  # how a store names a Session string
from authflow.core.srp import (  # how a store names the used record of a SECRET_BLOCK  # noqa: F401
    block_id,
    bytes_id,
)
from authflow.core.tokens import token_hash  # how a store names a refresh token
from authflow.invariants.bookkeeping import observe
from authflow.invariants.checker import Checker, InvariantViolated
from authflow.invariants.codes import (  # noqa: F401 -- re-exported
    CODE_CONFIRMING,
    code_must_match,
    codes_never_stored,
    codes_within_limits,
)
from authflow.invariants.custom_auth import (  # noqa: F401 -- re-exported
    SIMULATING_FLOWS,
    custom_challenge_secrets_sealed,
    unknown_users_never_sign_in,
)
from authflow.invariants.devices import (  # noqa: F401 -- re-exported
    device_sign_in_tokens_carry_its_key,
    device_single_owner,
    forgotten_device_never_signs_in,
    mfa_skipped_only_on_remembered_devices,
    new_device_metadata_only_for_unknown_devices,
)
from authflow.invariants.failures import no_internal_error, refusal_changes_nothing  # noqa: F401 -- re-exported
from authflow.invariants.groups import (  # noqa: F401 -- re-exported
    group_memberships_agree,
    removed_members_lose_the_group,
    tokens_name_the_users_groups,
)
from authflow.invariants.lockout import SECRET_ANSWERS, lockout_within_schedule  # noqa: F401 -- re-exported
from authflow.invariants.reading import INITIATE, PASSWORD_FLOWS, RESPOND, token_owner  # noqa: F401 -- re-exported
from authflow.invariants.records import Records
from authflow.invariants.registry import INVARIANTS, Invariant, Violation, check
from authflow.invariants.rotation import (  # noqa: F401 -- re-exported
    refresh_token_auth_refused_on_rotating_clients,
    reused_family_stays_revoked,
    revoked_family_yields_nothing,
    rotated_token_only_within_grace,
)
from authflow.invariants.sign_in import (  # noqa: F401 -- re-exported
    NO_TOKENS,
    REFRESH_FLOWS,
    password_must_match,
    revoked_refresh_token_yields_nothing,
    session_single_use,
    temporary_password_expires,
    tokens_only_to_signed_in_users,
)
from authflow.invariants.step import History, Step
from authflow.invariants.totp import (  # noqa: F401 -- re-exported
    mfa_names_only_verified_factors,
    tokens_only_after_the_configured_factor,
    totp_code_accepted_once,
    totp_secrets_never_stored,
)
from authflow.invariants.users import (  # noqa: F401 -- re-exported
    deleted_users_stay_out,
    status_declared,
    unique_usernames_and_subs,
    validation_data_never_stored,
    verified_alias_single_holder,
)

__all__ = [
    "INVARIANTS",
    "Checker",
    "History",
    "Invariant",
    "InvariantViolated",
    "Records",
    "Step",
    "Violation",
    "block_id",
    "check",
    "observe",
    "session_id",
    "token_hash",
    "token_owner",
]
