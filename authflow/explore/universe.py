"""The finite world the alphabet is built from: `Universe` (how the report names each
user and how requests call them, the shared emails, the temporary, new, wrong and weak
passwords, the clock steps), derived from the pool and the app client; and the explorer's
defaults and bounds (the start time, the names, the depths, the app client's request, the
flows it knows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
NAMES = ("alice", "bob", "carol", "dave", "erin", "frank")
MAX_USERS = len(NAMES)
MAX_ALIASES = 3
#: The default depth: every sequence of 6 requests of the default run's alphabet (the admin
#: alphabet with the device, group and TOTP families for the first user: over 10^5 states;
#: the admin alphabet alone, `flows=()`, about 29,000); with the self-service alphabet, 5
#: (about 46,000 states). docs/benchmarks.md keeps the measured costs.
DEPTH = 6
SELF_SERVICE_DEPTH = 5
#: With `flows` srp and custom, depth 5 is about 30,600 states, a minute and a half (6: about ten);
#: with devices, about 21,000 states, where a whole device sign-in is within reach (6: about
#: 95,000 states, ten minutes); with groups, about 56,500 states (three and a half minutes);
#: with totp, about 15,300 (a minute).
FLOWS_DEPTH = 5
#: With `flows` rotation alone (opt-in: never in the default run), depth 4: the set-up signs
#: the users in through the rotating client, so that rotate, jump past the grace period, reuse
#: and a request after it fit (2 users: about 10^4 states, a minute on two shared cores).
ROTATION_DEPTH = 4
#: With `flows` passwordless alone (opt-in: never in the default run), depth 4: the set-up
#: registers a passkey and holds a password sign-in's tokens, so that a sign-in, a deletion or
#: a clock jump and the answer after it fit.
PASSWORDLESS_DEPTH = 4
CLIENT_REQUEST = {
    "ClientName": "explore",
    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
}
#: The sign-in flows `flows` may add to the alphabet.
FLOWS = ("srp", "custom", "devices", "groups", "totp", "rotation", "passwordless")
#: The default run's families: the admin alphabet for every user, and the device, group and
#: TOTP requests for the first `DEFAULT_FAMILY_USERS` of them (the others are still signed
#: in with its devices, and still judged by every law), at `DEPTH`.
DEFAULT_FLOWS = ("devices", "groups", "totp")
DEFAULT_FAMILY_USERS = 1


@dataclass(frozen=True, slots=True)
class Universe:
    """The finite world the alphabet is built from."""

    names: tuple[str, ...]  # how the report names each user
    logins: tuple[str, ...]  # what each user is called in Username parameters
    emails: tuple[str, ...]  # the shared email values (sign-in aliases in alias pools)
    temporary: str
    new: str
    wrong: str
    weak: str
    validation_value: str
    clock_steps: tuple[int, ...]  # seconds
    temporary_window: timedelta
    phones: bool  # users have phone numbers (the pool asks for SMS MFA)
    mfa_optional: bool
    delivery: str  # the medium of re-invitations
    self_service: bool = False  # the alphabet has the self-service operations
    flows: tuple[str, ...] = ()  # the other sign-in flows in the alphabet (FLOWS)
    #: How many users (the first ones) the device, group, TOTP and rotation requests act for.
    family_users: int = 0

    def password_name(self, password: str) -> str:
        return {self.temporary: "temporary", self.new: "new", self.wrong: "wrong", self.weak: "weak"}.get(
            password, "other"
        )


def _password(base: str, length: int) -> str:
    return base + "x" * max(0, length - len(base))


def build_universe(
    users: int, aliases: int, pool: Mapping[str, Any], client: Mapping[str, Any], self_service: bool = False,
    flows: tuple[str, ...] = (), family_users: int | None = None,
) -> Universe:
    policy = (pool.get("Policies") or {}).get("PasswordPolicy") or {}
    length = int(policy.get("MinimumLength") or 8)
    days = int(policy.get("TemporaryPasswordValidityDays") or 7)
    username_kinds = set(pool.get("UsernameAttributes") or ())
    names = NAMES[:users]
    if "email" in username_kinds:
        logins = tuple(f"{n}@example.net" for n in names)
    elif "phone_number" in username_kinds:
        logins = tuple(f"+1555010{i:04d}" for i in range(users))
    else:
        logins = names
    mfa = pool.get("MfaConfiguration") or "OFF"
    return Universe(
        names=names,
        logins=logins,
        emails=() if username_kinds else tuple(
            "shared@example.com" if i == 0 else f"shared{i + 1}@example.com" for i in range(aliases)
        ),
        temporary=_password("Temporary-Pass-1", length),
        new=_password("Brand-New-Pass-2", length),
        wrong=_password("Wrong-Guess-Pass-3", length),
        weak="weak",
        validation_value="explore-validation-data-marker",
        # the first is a session's lifetime (an SRP block's); "totp" adds one time step,
        # "rotation" the rotating client's grace period (5 s: explore.rotation.GRACE_SECONDS)
        clock_steps=(60 * int(client.get("AuthSessionValidity") or 3), 86400 * days, *((30,) if "totp" in flows else ()),
                     *((5,) if "rotation" in flows else ())),
        temporary_window=timedelta(days=days),
        phones=mfa != "OFF" or username_kinds == {"phone_number"},
        mfa_optional=mfa == "OPTIONAL",
        delivery="SMS" if username_kinds == {"phone_number"} else "EMAIL",
        self_service=self_service,
        flows=flows,
        family_users=users if family_users is None else family_users,
    )
