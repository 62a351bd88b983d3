"""The registry of invariants: `Invariant` (a name and its check, documented by the
check's docstring), `INVARIANTS`, every invariant in the order `check` runs them, and
`Violation`, what a broken one reports."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from authflow.invariants.codes import code_must_match, codes_never_stored, codes_within_limits
from authflow.invariants.custom_auth import (
    custom_challenge_secrets_sealed,
    unknown_users_never_sign_in,
)
from authflow.invariants.devices import (
    device_sign_in_tokens_carry_its_key,
    device_single_owner,
    forgotten_device_never_signs_in,
    mfa_skipped_only_on_remembered_devices,
    new_device_metadata_only_for_unknown_devices,
)
from authflow.invariants.failures import no_internal_error, refusal_changes_nothing
from authflow.invariants.groups import (
    group_memberships_agree,
    removed_members_lose_the_group,
    tokens_name_the_users_groups,
)
from authflow.invariants.lockout import lockout_within_schedule
from authflow.invariants.passwordless import (
    deleted_passkey_never_signs_in,
    otp_accepted_once_within_its_session_life,
    passkey_sign_count_only_grows,
    passwordless_sign_in_needs_no_mfa,
)
from authflow.invariants.rotation import (
    refresh_token_auth_refused_on_rotating_clients,
    reused_family_stays_revoked,
    revoked_family_yields_nothing,
    rotated_token_only_within_grace,
)
from authflow.invariants.sign_in import (
    password_must_match,
    revoked_refresh_token_yields_nothing,
    session_single_use,
    temporary_password_expires,
    tokens_only_to_signed_in_users,
)
from authflow.invariants.step import Step
from authflow.invariants.totp import (
    mfa_names_only_verified_factors,
    tokens_only_after_the_configured_factor,
    totp_code_accepted_once,
    totp_secrets_never_stored,
)
from authflow.invariants.users import (
    deleted_users_stay_out,
    status_declared,
    unique_usernames_and_subs,
    validation_data_never_stored,
    verified_alias_single_holder,
)


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    message: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.message}"


@dataclass(frozen=True, slots=True)
class Invariant:
    name: str
    check: Callable[[Step], str | None]

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.check) or ""

    @property
    def summary(self) -> str:
        return self.doc.split("\n\n")[0].replace("\n", " ")


#: Every invariant, by name (`authflow explore --invariant NAME`), in the order `check` runs
#: them: the order decides which violation of a step is reported first, and how the command
#: line lists them. The modules group the invariants by subject; this list alone orders them.
INVARIANTS: dict[str, Invariant] = {fn.__name__: Invariant(fn.__name__, fn) for fn in (
    status_declared,
    verified_alias_single_holder,
    unique_usernames_and_subs,
    tokens_only_to_signed_in_users,
    temporary_password_expires,
    password_must_match,
    session_single_use,
    validation_data_never_stored,
    refusal_changes_nothing,
    revoked_refresh_token_yields_nothing,
    lockout_within_schedule,
    codes_never_stored,
    codes_within_limits,
    code_must_match,
    deleted_users_stay_out,
    custom_challenge_secrets_sealed,
    unknown_users_never_sign_in,
    forgotten_device_never_signs_in,
    device_single_owner,
    mfa_skipped_only_on_remembered_devices,
    device_sign_in_tokens_carry_its_key,
    new_device_metadata_only_for_unknown_devices,
    tokens_name_the_users_groups,
    removed_members_lose_the_group,
    group_memberships_agree,
    tokens_only_after_the_configured_factor,
    totp_code_accepted_once,
    totp_secrets_never_stored,
    mfa_names_only_verified_factors,
    rotated_token_only_within_grace,
    reused_family_stays_revoked,
    refresh_token_auth_refused_on_rotating_clients,
    revoked_family_yields_nothing,
    deleted_passkey_never_signs_in,
    otp_accepted_once_within_its_session_life,
    passkey_sign_count_only_grows,
    passwordless_sign_in_needs_no_mfa,
    no_internal_error,
)}


def check(step: Step, names: Iterable[str] | None = None) -> list[Violation]:
    """The violations of the selected invariants (all by default) in `step`."""
    selected = list(INVARIANTS) if names is None else list(names)
    out = []
    for name in selected:
        message = INVARIANTS[name].check(step)
        if message:
            out.append(Violation(name, message))
    return out
