"""`authflow explore`: a bounded, exhaustive model checker that runs the real engine.

Theory of operation
-------------------
A small universe (`--users` users, `--aliases` shared email values, a temporary, a
new and a wrong password, clock jumps as long as the session lifetime and the
temporary-password window) gives a finite alphabet of requests. The admin alphabet
(`flows=()`, `--flows none`; the default run until issue 22) is: create each user
(plain, with a shared email verified or not, with ForceAliasCreation), re-invite,
sign in by username or email with each password, answer the user's latest
challenge well or badly, refresh, sign out (GlobalSignOut with the user's access
token, AdminUserGlobalSignOut), RevokeToken, disable, enable, verify or delete the
email, delete the user, and advance the clock.

The default run (`flows=None`, no `--flows`) is the wider alphabet: the admin alphabet
for every user, and the device, group and TOTP families below (`DEFAULT_FLOWS`) for the
first `family_users` users (`DEFAULT_FAMILY_USERS`, 1: alice; the others are still
signed in with alice's device key, and every law judges them too), at depth 6 (`DEPTH`).
With the default universe (2 users, 1 shared email) it reaches over 10^5 distinct states
at depth 6 with no invariant violated (docs/benchmarks.md has the figures and the time);
naming the families (`--flows devices,groups,totp`) gives them to every user instead, at
`FLOWS_DEPTH`, as before. With `--pool-config` (the caller's own pool) and no `--flows`,
the admin alphabet alone: the families would add device tracking and TOTP to the pool.

`self_service=True` (`--self-service`) adds what users do for themselves and the
password administration around it: SignUp (with the user's own email, or with a
shared one), ConfirmSignUp with the code the caller was sent or a wrong one,
ResendConfirmationCode, AdminConfirmSignUp, ForgotPassword, ConfirmForgotPassword
(right or wrong code), AdminResetUserPassword, AdminSetUserPassword (Permanent true and
false), ChangePassword, GetUserAttributeVerificationCode and VerifyUserAttribute (right
or wrong code), DeleteUserAttributes and DeleteUser with the user's access token. The
default pool then auto-verifies emails, so that SignUp sends a code. Codes reach the
caller as a user gets them: read from the text of the message the engine delivered.
It is an option because it multiplies the state space (see docs/semantics.md for the
costs); the default run keeps the admin alphabet.

`flows=("srp", "custom")` (`--flows srp,custom`) adds the other sign-in flows, for each
user: USER_SRP_AUTH begun (by username), its PASSWORD_VERIFIER proved with the temporary,
the new or the wrong password (the explorer signs the claim as an SRP client does, and
tells the invariants which password it signed with); CUSTOM_AUTH begun plainly, with
CHALLENGE_NAME=SRP_A, or through a second app client that hides unknown users
(PreventUserExistenceErrors=ENABLED), and its CUSTOM_CHALLENGE answered rightly or
wrongly. The pool's custom functions are `_custom_define` and its two companions: one
question, tokens after its right answer, failure after a wrong one, and after SRP_A the
password proof and tokens right after it. A caller keeps the latest challenge (block or
session) of each user also after answering it, so replays are explored. Also an option
because of its cost (docs/semantics.md); without it the alphabet, the set-up and the
counts are what they were.

`flows=("devices",)` (`--flows devices`) is the device family: the pool tracks devices
(`DEVICE_CONFIGURATION`: a confirmed device is remembered at once and stands in for MFA,
unless the pool configuration brings its own DeviceConfiguration; without a pool
configuration, also SMS MFA a user may turn on), the set-up creates every user CONFIRMED
with the new password (so that a whole device sign-in, tokens, ConfirmDevice and the
three requests of a device sign-in, is five levels deep), and for each user the caller
may sign in with the temporary or the new password carrying its own or another user's
device key, answer DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER (rightly, or with a
wrong device password), ConfirmDevice the device it was issued (the verifier made by the
reference client), UpdateDeviceStatus it remembered or not, ForgetDevice it, and refresh
with the device key. The caller keeps each user's latest NewDeviceMetadata; the plain
requests carry no device key (the REFRESH_TOKEN_AUTH without one is refused, since every
refresh token of a tracking pool is bound to a device). In the default run for the first
user; on its own (`--flows devices`, every user) its default depth is 5 (about 21,000 states).

`flows=("groups",)` (`--flows groups`) is the group family: the set-up creates two groups
(`GROUPS`: "staff", precedence 1 with a RoleArn, and "admins", precedence 5, so that the
claim order is not the name order) and every user CONFIRMED; the alphabet adds DeleteGroup
and CreateGroup (re-creating) for each group and AdminAddUserToGroup /
AdminRemoveUserFromGroup for each user and group. Sign-in and refresh are the default
alphabet's, so the claims of every token minted after a membership change are checked.

`flows=("totp",)` (`--flows totp`) is the TOTP family: SetUserPoolMfaConfig offers TOTP
(SoftwareTokenMfaConfiguration) with MfaConfiguration OPTIONAL, where the set-up also
enrols every (CONFIRMED) user: AssociateSoftwareToken, VerifySoftwareToken with the current
code, SetUserMFAPreference preferring TOTP; or ON when the pool configuration says
`"MfaConfiguration": "ON"`, where nobody is enrolled and sign-ins meet MFA_SETUP. Per user:
AssociateSoftwareToken and VerifySoftwareToken by access token and by the MFA_SETUP
Session, the MFA_SETUP answer, SetUserMFAPreference turning TOTP on or off, and
SOFTWARE_TOKEN_MFA answered with the current step's code, the previous step's, the last
code the caller saw accepted (a replay) and a wrong one; the clock also moves by 30 s (one
time step). Codes come from `authflow.invariants.rfc6238`, written from the RFC. The
caller keeps each user's latest SecretCode. Both families are in the default run for the
first user (docs/benchmarks.md has their cost on their own: at depth 5, about 56,500 states
for groups and 15,300 for TOTP with two users). The TOTP set-up enrols only the users the
family acts for (the others could never answer SOFTWARE_TOKEN_MFA).

`flows=("rotation",)` (`--flows rotation`, opt-in: never part of the default run) is the
refresh-token rotation family (`authflow.explore.rotation`): a second app client with
RefreshTokenRotation ENABLED and RetryGracePeriodSeconds 5, every user CONFIRMED and, for
the users the family acts for, signed in through that client at the set-up; per user a new
sign-in through it, GetTokensFromRefreshToken with the latest refresh token and with the
two rotated out before it (the caller keeps them, `HeldFamily`), RevokeToken with the latest
and with the one before, REFRESH_TOKEN_AUTH on that client (always refused) and GetUser with
the family's access token; the clock also moves by 5 s. Its default depth is
`ROTATION_DEPTH` (4: a rotation, a jump past the grace period, the reuse and a request after
it). The digest sees the rotation records (`rotated_refresh_token` markers and
`refresh_lineage`s of held families) by which held token they name, with times relative to
the clock and clamped at the grace period; what the caller saw rotated, replayed or revoked
too.

`flows=("passwordless",)` (`--flows passwordless`, opt-in: never part of the default run) is the
passwordless family (`authflow.explore.passwordless`): the pool allows PASSWORD, EMAIL_OTP and
WEB_AUTHN first factors, has passkeys for example.com and (without `--pool-config`) optional
SMS MFA, and the app client allows USER_AUTH; every user is CONFIRMED with a verified email,
and each user the family acts for is signed in with the password (the caller holds those
tokens), has a passkey registered and SMS MFA on. Per user: USER_AUTH with PREFERRED_CHALLENGE
EMAIL_OTP answered with the code sent, a wrong one or a code accepted in an earlier session;
PREFERRED_CHALLENGE WEB_AUTHN answered with a fresh assertion of the latest passkey, the last
assertion again, or a passkey never registered; StartWebAuthnRegistration and
CompleteWebAuthnRegistration with a new passkey; DeleteWebAuthnCredential. The caller's
authenticator is `authflow.testing.webauthn_authenticator` (keys from seeds, deterministic
signatures). Its default depth is `PASSWORDLESS_DEPTH` (4). The digest sees each user's
passkeys as which held key they are and their sign count against the authenticator's, the
pending registration, and the held OTP and WEB_AUTHN sessions (used, remaining life, accepted).

Exploration is breadth-first from one set-up state (a pool and an app client). A
state is the engine's storage (a MemoryStore snapshot) plus the clock, the entropy
position and what the caller holds (each user's latest Session and tokens, and the
`History` the invariants read). Requests that need values from earlier responses
("answer alice's latest challenge", "refresh with alice's refresh token") are
resolved from that caller state, and are skipped where it holds nothing.

Every request runs through `authflow.Client` against a MemoryStore restored from the
state's snapshot, a ManualClock set to its time and seeded entropy rewound to its
position, so each state, and each trace, is a function of the path that led to it.
What the engine delivered (its messages) is part of each checked step.
The selected invariants (`authflow.invariants`) are checked on every transition, and
the first violation found is reported with its trace, which is a shortest one
because every shorter path was explored first.

States are de-duplicated by a canonical digest of a projection that keeps what can
still influence a later request of the alphabet and drops the rest:

- random values (subs, session strings, tokens, salts, sealed blobs, key material)
  are replaced by what they refer to: a user by its universe name, a password hash
  by the universe password it verifies, a session or refresh token by the caller
  slot that holds it;
- times become durations relative to the clock, clamped where the engine stops
  telling them apart: a temporary password is "expired" once its window has passed,
  an expiry in the past is 0, a failed-sign-in counter idle for 15 minutes is absent;
- records no request can reach are left out (sessions and refresh tokens the caller
  no longer holds, lockout counters of deleted users), as are dates that only appear
  in responses and the optimistic-locking versions;
- a session the caller holds keeps whether the password it stands on is still its
  user's (a password's hash is random, and two issues of one universe password
  project alike);
- a pending code is every field but its hash (wrong guesses, attribute, held-back
  value, instants relative to the clock, collapsed past 24 hours), code requests are
  counted only in their hour, and a code the caller holds is only whether it is still
  the user's pending one (the digits are random);
- an SRP block the caller holds is (whether the store records it used, its remaining
  lifetime, whether it still proves its user's current password, custom or not): B,
  the salt and the block's bytes are random;
- a device (one the caller holds, one a held session or refresh token is bound to) is
  which user's held key it is, its owner and status, and whether the caller forgot it:
  its key, group key, verifier, name, dates and address are random or unread; a held
  device challenge is its device's pending record (challenge, used, remaining lifetime,
  whether the held Session is still its latest, whether its password is still its
  user's);
- with the group flows, the pool's groups (name, precedence, role), its memberships by
  universe name, and the memberships the caller ended; with the TOTP flows, per user,
  whether the held secret is the verified authenticator's, the pending one's or a held
  MFA_SETUP session's (and whether that session verified it), and the time steps that
  decide whether a code is used (the token's last accepted step, the held code's, the
  latest the caller saw accepted) relative to now, clamped two steps back.

The counts (`states`, `transitions`) are therefore counts of distinct behaviours,
and are the same on every run with the same arguments: `states` is the number of distinct
digests of that projection reached by some sequence of at most `depth` requests (the
set-up state included), `transitions` the number of requests run (every alphabet entry
the caller could build from every distinct state above the last depth, self-loops and
requests into states already seen included), each checked against every selected law.

Test-only hook: `faults`
------------------------
`explore(..., faults={"RevokeToken": wrap})` replaces the service function of an
operation by `wrap(original)` in the operation registry for the duration of the run
(and restores it afterwards), so a test can plant a deliberate bug without editing
the engine, and check that the explorer finds it with a minimal trace. It changes
process-global state while `explore` runs: never use it concurrently with other
engines, nor outside tests.

The package
-----------
`universe` holds the finite world and the explorer's defaults, `caller` what the caller
holds, `actions`, `alphabet`, `self_service`, `flows`, `devices`, `groups`, `totp`, `rotation` and `passwordless` the requests, `engine` the run of
one request against a state, `digest` how a state is seen (projection, digest, label),
`search` the breadth-first exploration (`explore`), `results` what it returns, and `dot`
the state graph as Graphviz DOT. Every public name of the single module this package
replaced stays importable from the package.
"""

from __future__ import annotations

from authflow.explore.actions import ADVANCE, Action  # noqa: F401 -- re-exported
from authflow.explore.caller import (
    Caller,
    Challenge,
    HeldCode,
    HeldDevice,
    HeldFamily,
    HeldTotp,
    Tokens,
)
from authflow.explore.devices import DEVICE_CONFIGURATION  # noqa: F401 -- re-exported
from authflow.explore.dot import write_dot
from authflow.explore.engine import RewindableEntropy
from authflow.explore.flows import (  # noqa: F401 -- re-exported
    ANSWER,
    CUSTOM_FUNCTIONS,
    FUNCTION_ARN,
    HIDDEN_CLIENT_REQUEST,
    QUESTION,
    WRONG_ANSWER,
)
from authflow.explore.groups import GROUPS  # noqa: F401 -- re-exported
from authflow.explore.results import Graph, Progress, Result, TraceStep
from authflow.explore.search import PROGRESS_INTERVAL, explore  # noqa: F401 -- re-exported
from authflow.explore.universe import (  # noqa: F401 -- re-exported
    CLIENT_REQUEST,
    DEFAULT_FAMILY_USERS,
    DEFAULT_FLOWS,
    DEPTH,
    FLOWS,
    FLOWS_DEPTH,
    MAX_ALIASES,
    MAX_USERS,
    NAMES,
    PASSWORDLESS_DEPTH,
    ROTATION_DEPTH,
    SELF_SERVICE_DEPTH,
    START,
    Universe,
)

__all__ = [
    "Action", "Caller", "Challenge", "Graph", "HeldCode", "HeldDevice", "HeldFamily", "HeldTotp", "Progress", "Result", "RewindableEntropy", "Tokens",
    "TraceStep", "Universe", "explore", "write_dot",
]
