"""The whole implemented user lifecycle against a small, obviously-correct model.

A Hypothesis state machine drives the public Client in an email-alias pool with
optional SMS MFA that auto-verifies emails: AdminCreateUser (with and without an
email, verified or not, with ForceAliasCreation, SUPPRESS or an email invitation,
RESEND), sign-in (USER_PASSWORD_AUTH and ADMIN_USER_PASSWORD_AUTH, by username or
email, with the temporary, the new or a wrong password), answers to
NEW_PASSWORD_REQUIRED and SMS_MFA (good, weak, same as the temporary password, wrong
code, replayed), REFRESH_TOKEN_AUTH, GlobalSignOut, AdminUserGlobalSignOut,
RevokeToken, disable/enable, email changes and deletion, MFA preference, delete, and
clock jumps across the session lifetime, the lockout, the access-token lifetime, the
code lifetimes and the temporary-password window.

Self-service and password administration too: SignUp (with or without an email, a
weak password), ConfirmSignUp (the code sent, a wrong one, a used one, with
ForceAliasCreation), ResendConfirmationCode, AdminConfirmSignUp, ForgotPassword,
ConfirmForgotPassword (right, wrong or weak), AdminResetUserPassword,
AdminSetUserPassword (Permanent true and false), ChangePassword (right or wrong
previous password, into the lockout), GetUserAttributeVerificationCode,
VerifyUserAttribute (right or wrong code), DeleteUserAttributes and DeleteUser. The
codes are read from the messages the engine delivered, as a user reads them; the
model keeps each user's latest code of each purpose, its destination, expiry and
wrong guesses.

The other sign-in flows too: USER_SRP_AUTH (InitiateAuth and AdminInitiateAuth, by
username or email; PASSWORD_VERIFIER answered, by the SRP client of authflow/conformance/srp_client.py,
with the right password, a wrong one, or a block already used or expired), and
CUSTOM_AUTH driven by a two-question quiz (`quiz_define`, `quiz_create`,
`quiz_verify`: right and wrong answers, replayed sessions), begun with SRP_A (Define
asks for the password proof, then issues tokens) or not, through the app client or one
that hides unknown users (PreventUserExistenceErrors=ENABLED: simulated rounds, never
tokens). The model predicts the lockout counting of wrong proofs, the single use and
expiry of blocks and sessions, and the statuses that refuse each flow. The Checker is
told which password each SRP claim was signed with, so that `password_must_match`
judges the proofs.

Device tracking too: each run's pool tracks devices or not (a DeviceConfiguration drawn
by the set-up, ChallengeRequiredOnNewDevice and DeviceOnlyRememberedOnUserPrompt either
way). The model issues a NEW device with every sign-in that ends in tokens carrying no
device key (NewDeviceMetadata), binds the tokens to it (their `device_key`), and knows
ConfirmDevice (the verifier made by the reference client), UpdateDeviceStatus,
ForgetDevice, a password sign-in carrying a device key (its own; a forgotten one: "Device
does not exist."; another user's: "Invalid device key given."), DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER
(right or wrong device proof, counted like a wrong password; one pending sign-in per
device, a newer one replacing it; stale, used and expired sessions), a remembered device
standing in for SMS MFA or proving itself after it, REFRESH_TOKEN_AUTH with and without
the device key (a family bound to a device refreshes only with its key, once the device
is confirmed and not forgotten), and devices that go with their deleted user. After every
step each user's confirmed devices and their remembered status are compared
(AdminListDevices).

Groups and TOTP too: the set-up gives the pool two groups whose claim order is not their
name order (precedence 1 with a role, precedence 5) and offers TOTP beside SMS
(SetUserPoolMfaConfig OPTIONAL); the rules add and remove members, delete and re-create
groups (GroupExistsException, "Group not found.", UserNotFoundException predicted), and
every token minted (sign-in or refresh) is checked to name exactly the model's groups of
its user in claim order. A user enrols an authenticator (AssociateSoftwareToken,
VerifySoftwareToken with the current code, SetUserMFAPreference preferring TOTP) or turns
TOTP off; the model then predicts SOFTWARE_TOKEN_MFA instead of SMS_MFA, and its answers
with the current, the previous step's, a replayed and a wrong code (pyotp's codes: a code
of a step at or before the last accepted one is ExpiredCodeException, a wrong one
CodeMismatchException, both counted like wrong passwords). Memberships (AdminListGroupsForUser)
and the TOTP setting are compared after every step.

Every call goes through `authflow.invariants.Checker`, so every invariant is checked
after every step. Each outcome (tokens, which challenge, or which error) is compared
with what the model below predicts; the model is written from Cognito's documented
rules and imports nothing from `authflow.core`. After every step the users' status,
flags, email, MFA settings and alias resolution are compared too.

Steps per run come from the Hypothesis profile: the `ci` profile runs at least
2,000 steps in total (asserted), `thorough` far more.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyotp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from authflow.adapters import CallableTriggers, ManualClock
from authflow.conformance.srp_client import DeviceSrpClient, SrpClient, device_registration
from authflow.errors import CognitoError
from authflow.invariants import Checker
from authflow.invariants.reading import claims_of
from tests.conftest import HARDENED_CONFIG, START, make_client

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
STEPS_PER_RUN = {"ci": 50, "thorough": 100}.get(PROFILE, 30)
#: The fewest steps the whole test must have run under each profile.
MIN_TOTAL_STEPS = {"ci": 2_000, "thorough": 50_000}.get(PROFILE, 500)

NAMES = ["ann", "ben", "cat"]
EMAILS = ["x@example.com", "y@example.com"]
PHONES = {"ann": "+12065550100", "ben": "+12065550101", "cat": "+12065550102"}
TEMP, NEW, WRONG, WEAK = "Temp1234!", "NewPass1!x", "Wrong1234!", "weak"
CODE_KIND = {"confirm_sign_up": timedelta(hours=24), "reset_password": timedelta(hours=1),
             "verify_email": timedelta(hours=24)}  # purpose -> lifetime
MARKER = "validation-data-never-stored"
#: The custom flow's quiz: (question, answer); tokens after both are answered rightly.
QUIZ = [("2 + 2", "four-ish"), ("7 * 6", "forty-two")]
WRONG_ANSWER = "not-the-answer"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
#: Whom a rule acts on: mostly an existing user (or, for create, an absent one), sometimes anyone.
WHO = st.integers(0, 11)
#: Which session or tokens a rule uses: mostly the latest ones.
RECENT = st.integers(0, 3)
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}

# Cognito's rules, restated for the model.
SESSION_LIFETIME = timedelta(minutes=3)
TEMPORARY_VALIDITY = timedelta(days=7)
ACCESS_LIFETIME = timedelta(hours=1)
REFRESH_LIFETIME = timedelta(days=30)
FREE_FAILURES, MAX_LOCK, IDLE_RESET = 5, timedelta(seconds=900), timedelta(minutes=15)

DISABLED = ("NotAuthorizedException", "User is disabled.")
LOCKED = ("NotAuthorizedException", "Password attempts exceeded")
INCORRECT = ("NotAuthorizedException", "Incorrect username or password.")
TEMP_EXPIRED = ("NotAuthorizedException", "Temporary password has expired and must be reset by an administrator.")
NO_USER = ("UserNotFoundException", "User does not exist.")
INVALID_ACCESS = ("NotAuthorizedException", "Invalid Access Token")
SESSION_USED = ("NotAuthorizedException", "Invalid session for the user, session can only be used once.")
SRP_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"]
SESSION_EXPIRED = ("NotAuthorizedException", "Invalid session for the user, session is expired.")
INVALID_SESSION = ("NotAuthorizedException", "Invalid session for the user.")
REFRESH_INVALID = ("NotAuthorizedException", "Invalid Refresh Token")
REFRESH_REVOKED = ("NotAuthorizedException", "Refresh Token has been revoked")
REFRESH_EXPIRED = ("NotAuthorizedException", "Refresh Token has expired")
ACCESS_EXPIRED = ("NotAuthorizedException", "Access Token has expired")
ACCESS_REVOKED = ("NotAuthorizedException", "Access Token has been revoked")
NOT_CONFIRMED = ("UserNotConfirmedException", "User is not confirmed.")
RESET_NEEDED = ("PasswordResetRequiredException", "Password reset required for the user")
UNKNOWN_FOR_CLIENT = ("UserNotFoundException", "Username/client id combination not found.")
CANNOT_RESET = ("NotAuthorizedException", "User password cannot be reset in the current state.")
CANNOT_CHANGE = ("NotAuthorizedException", "User password cannot be changed in the current state.")
NO_RECOVERY = ("InvalidParameterException",
               "Cannot reset password for the user as there is no registered/verified email or phone_number")
CODE_EXPIRED = ("ExpiredCodeException", "Invalid code provided, please request a code again.")
CODE_MISMATCH = ("CodeMismatchException", "Invalid verification code provided, please try again.")
CODE_LIMIT = ("LimitExceededException", "Attempt limit exceeded, please try after some time.")
MAX_CODE_ATTEMPTS = 5
#: A user may ask for 5 codes of one purpose an hour (ForgotPassword, ResendConfirmationCode,
#: GetUserAttributeVerificationCode); codes an administrator's request sends count too. The
#: hour runs from the first code of a run of codes that replaced one another.
REQUEST_LIMIT, REQUEST_WINDOW = 5, timedelta(hours=1)
#: The set-up's DeviceConfiguration: none (no tracking) in a third of the runs.
DEVICE_CONFIGS = [None, None, *({"ChallengeRequiredOnNewDevice": required, "DeviceOnlyRememberedOnUserPrompt": prompt}
                                for required in (True, False) for prompt in (True, False))]
NO_DEVICE = ("ResourceNotFoundException", "Device does not exist.")
INVALID_KEY = ("InvalidParameterException", "Invalid device key given.")
DEVICE_PASSWORD, WRONG_DEVICE_PASSWORD = "device-password-as-a-client-draws-it", "not-the-device-password"
DEVICE_SALT = bytes([0xC3]) + bytes(range(1, 16))
#: The set-up's groups: name -> (precedence, role ARN); claim order staff, admins.
GROUPS = {"staff": (1, "arn:aws:iam::123456789012:role/staff"), "admins": (5, None)}
GROUP_NOT_FOUND = ("ResourceNotFoundException", "Group not found.")
TOTP_MISMATCH = ("CodeMismatchException", "Invalid code received for user.")
TOTP_USED = ("ExpiredCodeException", "Your software token has already been used once.")


def totp_steps(secret: str, code: str, now: datetime) -> list[int]:
    """The time steps within one of `now` whose pyotp code is `code` (Cognito's skew)."""
    current = int(now.timestamp()) // 30
    return [s for s in range(current - 1, current + 2) if pyotp.TOTP(secret).at(s * 30) == code]


class Outcome:
    """What a request gave: tokens, a challenge, success, or an error (code, message)."""

    @staticmethod
    def of(response: dict | None, error: CognitoError | None) -> tuple:
        if error is not None:
            return ("error", error.code, error.message)
        if "AuthenticationResult" in response:
            return ("tokens",)
        if "ChallengeName" in response:
            return ("challenge", response["ChallengeName"])
        return ("ok",)


def error(code_and_message: tuple[str, str]) -> tuple:
    return ("error", *code_and_message)


def error_code(code: str) -> tuple:
    return ("error", code)


@dataclass
class ModelCode:
    """The latest code of one purpose the user was sent; `live` until used or voided."""

    code: str
    destination: str | None  # None once the value it went to changed: it verifies nothing
    expires: datetime
    attempts: int = 0
    live: bool = True


@dataclass
class ModelUser:
    incarnation: int
    email: str | None
    verified: bool
    status: str = "FORCE_CHANGE_PASSWORD"
    enabled: bool = True
    password: str = TEMP
    issued_at: datetime = START
    issue: int = 0  # which issue of a password this is (RESEND and completion make new ones)
    sms_mfa: bool = False
    generation: int = 0
    failures: int = 0
    locked_until: datetime | None = None
    last_attempt: datetime | None = None
    codes: dict[str, ModelCode] = field(default_factory=dict)
    # purpose -> (codes sent in the hour, when that hour began): outlives the codes
    requests: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    totp_secret: str | None = None  # the verified authenticator's secret
    totp_on: bool = False  # TOTP MFA enabled (and then preferred)
    totp_last: int | None = None  # the time step of the last code accepted
    totp_code: str | None = None  # that code (for replays)

    def void(self, purpose: str) -> None:
        if purpose in self.codes:
            self.codes[purpose].live = False

    def email_changed(self) -> None:
        """A code vouches for the value it went to: a verification code of the old email
        is void, and a sign-up code still confirms but no longer verifies anything."""
        self.void("verify_email")
        if "confirm_sign_up" in self.codes:
            self.codes["confirm_sign_up"].destination = None

    def new_password(self, status: str, password: str, now: datetime) -> None:
        """Any password set anew: a new credential (sessions of the old one are stale) and
        no pending reset code."""
        self.status, self.password, self.issued_at = status, password, now
        self.issue += 1
        self.void("reset_password")


@dataclass
class ModelSession:
    session: str
    username: str
    incarnation: int
    challenge: str
    expires: datetime
    code: str | None = None
    used: bool = False
    issue: int = 0  # the password issue the sign-in proved
    device: str | None = None  # the device key the attempt carries


@dataclass
class ModelTokens:
    refresh: str
    access: str
    username: str
    incarnation: int
    generation: int
    expires: datetime
    access_expires: datetime
    revoked: bool = False
    device: str | None = None  # the device the family is bound to (device tracking)


@dataclass
class ModelDevice:
    """A device the engine holds: whose, and in which state of specs/device.yaml."""

    key: str
    group: str
    username: str
    incarnation: int
    status: str = "NEW"  # NEW, REMEMBERED, NOT_REMEMBERED (forgotten: gone from the model)


@dataclass
class ModelPending:
    """A device's pending sign-in (one per device): its latest Session, which step it
    waits for, and the sign-in it stands on."""

    session: str
    stage: str  # DEVICE_SRP_AUTH or DEVICE_PASSWORD_VERIFIER
    username: str
    incarnation: int
    issue: int
    expires: datetime
    used: bool = False
    block: str | None = None  # the SECRET_BLOCK of the latest DEVICE_PASSWORD_VERIFIER


@dataclass
class Model:
    now: datetime = START
    users: dict[str, ModelUser] = field(default_factory=dict)
    incarnations: int = 0
    tracking: dict | None = None  # the pool's DeviceConfiguration, when it tracks devices
    devices: dict[str, ModelDevice] = field(default_factory=dict)
    pending: dict[str, ModelPending] = field(default_factory=dict)  # by device key
    groups: dict[str, tuple[int, str | None]] = field(default_factory=dict)  # name -> (precedence, role)
    members: set[tuple[str, str, int]] = field(default_factory=set)  # (group, username, incarnation)

    def groups_of(self, name: str, incarnation: int) -> list[str]:
        """The user's groups in claim order (precedence, then name)."""
        mine = [g for g, u, i in self.members if (u, i) == (name, incarnation) and g in self.groups]
        return sorted(mine, key=lambda g: (self.groups[g][0], g))

    def own_device(self, key: str | None, name: str, user: ModelUser) -> ModelDevice | None:
        """The user's device of that key (None: unknown, forgotten or another user's)."""
        device = self.devices.get(key) if key else None
        if device is None or (device.username, device.incarnation) != (name, user.incarnation):
            return None
        return device

    def device_refusal(self, key: str, name: str, user: ModelUser) -> tuple | None:
        """Why a sign-in may not carry this device key: unknown or forgotten ("Device does
        not exist.", the answer clients retry without the key), or another user's."""
        device = self.devices.get(key)
        if device is None:
            return error(NO_DEVICE)
        if (device.username, device.incarnation) != (name, user.incarnation):
            return error(INVALID_KEY)
        return None

    def remembered(self, device: ModelDevice | None) -> bool:
        return self.tracking is not None and device is not None and device.status == "REMEMBERED"

    def stands_in_for_mfa(self, device: ModelDevice | None) -> bool:
        return self.remembered(device) and bool(self.tracking.get("ChallengeRequiredOnNewDevice"))

    def user_deleted(self, name: str) -> None:
        """A deleted user's devices go with it (their pending sign-ins stay, unanswerable)."""
        user = self.users.pop(name)
        for key in [k for k, d in self.devices.items() if (d.username, d.incarnation) == (name, user.incarnation)]:
            del self.devices[key]

    def holder(self, email: str) -> str | None:
        """Who a verified email signs in as (at most one holder)."""
        holders = [n for n, u in self.users.items() if u.email == email and u.verified]
        assert len(holders) <= 1, holders
        return holders[0] if holders else None

    def named(self, login: str) -> str | None:
        return login if login in self.users else self.holder(login)

    def live(self, user: ModelUser) -> ModelUser:
        """Forget failures after 15 idle minutes."""
        if user.last_attempt is not None and self.now - user.last_attempt >= IDLE_RESET:
            user.failures, user.locked_until, user.last_attempt = 0, None, None
        return user

    def locked(self, user: ModelUser) -> bool:
        self.live(user)
        return user.locked_until is not None and self.now < user.locked_until

    def count_failure(self, user: ModelUser) -> None:
        self.live(user)
        user.failures += 1
        user.last_attempt = self.now
        if user.failures >= FREE_FAILURES:
            user.locked_until = self.now + min(timedelta(seconds=2 ** (user.failures - FREE_FAILURES)), MAX_LOCK)

    def reset_failures(self, user: ModelUser) -> None:
        user.failures, user.locked_until, user.last_attempt = 0, None, None

    def current(self, username: str, incarnation: int) -> ModelUser | None:
        user = self.users.get(username)
        return user if user is not None and user.incarnation == incarnation else None

    def code_check(self, user: ModelUser, purpose: str, code: str) -> tuple | None:
        """Cognito's answer to a code, in its order (none or expired, too many wrong
        guesses, wrong: counted); None when the code is right."""
        held = user.codes.get(purpose)
        if held is None or not held.live or self.now >= held.expires:
            return error(CODE_EXPIRED)
        if held.attempts >= MAX_CODE_ATTEMPTS:
            return error(CODE_LIMIT)
        if code != held.code:
            held.attempts += 1
            return error(CODE_MISMATCH)
        return None

    def quota(self, user: ModelUser, purpose: str) -> tuple[int, datetime]:
        """(codes asked for in the current hour with one more, when that hour began),
        whatever became of the codes."""
        count, start = user.requests.get(purpose, (0, self.now))
        if count and self.now < start + REQUEST_WINDOW:
            return count + 1, start
        return 1, self.now

    def over_quota(self, user: ModelUser, purpose: str) -> tuple | None:
        """The refusal of one more code the user asks for, past the hourly limit."""
        return error(CODE_LIMIT) if self.quota(user, purpose)[0] > REQUEST_LIMIT else None


@dataclass
class ModelBlock:
    """A PASSWORD_VERIFIER challenge the caller holds: its parameters (SECRET_BLOCK among
    them), the SRP client that began it, and what the model knows it was issued for."""

    parameters: dict
    srp: SrpClient
    username: str
    incarnation: int
    issue: int  # the password issue it can prove
    expires: datetime
    custom: bool  # begun by CUSTOM_AUTH with SRP_A: Define decides after the proof
    used: bool = False


@dataclass
class ModelRound:
    """A CUSTOM_CHALLENGE session: which question it asks, of whom (None: a name no user has)."""

    session: str
    username: str  # the user's name, or the name typed for an unknown one
    incarnation: int | None
    question: int
    expires: datetime
    used: bool = False


# The pool's custom-auth functions: a deterministic two-question quiz (fail at the first
# wrong answer); after SRP_A, the password proof, and tokens right after it.


def quiz_define(event):
    rounds = event["request"]["session"]
    last = rounds[-1] if rounds else None
    if last is not None and last["challengeName"] == "SRP_A":
        event["response"]["challengeName"] = "PASSWORD_VERIFIER"
    elif last is not None and last["challengeName"] == "PASSWORD_VERIFIER":
        event["response"]["issueTokens"] = True
    elif last is not None and not last["challengeResult"]:
        event["response"]["failAuthentication"] = True
    elif len(rounds) == len(QUIZ):
        event["response"]["issueTokens"] = True
    else:
        event["response"]["challengeName"] = "CUSTOM_CHALLENGE"
    return event


def quiz_create(event):
    n = len(event["request"]["session"])
    event["response"].update(
        publicChallengeParameters={"question": QUIZ[n][0]},
        privateChallengeParameters={"answer": QUIZ[n][1]},
        challengeMetadata=f"QUESTION-{n + 1}",
    )
    return event


def quiz_verify(event):
    request = event["request"]
    event["response"]["answerCorrect"] = request["challengeAnswer"] == request["privateChallengeParameters"]["answer"]
    return event


QUIZ_FUNCTIONS = {"DefineAuthChallenge": quiz_define, "CreateAuthChallenge": quiz_create,
                  "VerifyAuthChallengeResponse": quiz_verify}


@dataclass
class HeldDevice:
    """A device the caller was issued (NewDeviceMetadata), as a client keeps it."""

    key: str
    group: str
    username: str
    incarnation: int


@dataclass
class DeviceChallenge:
    """DEVICE_SRP_AUTH or DEVICE_PASSWORD_VERIFIER as the caller holds it."""

    session: str
    stage: str
    key: str
    group: str
    typed: str  # what the answers send as USERNAME
    parameters: dict = field(default_factory=dict)
    a: int = 0  # the secret exponent of the SRP_A sent (DEVICE_PASSWORD_VERIFIER)


def wrong_code(held: ModelCode | None) -> str:
    return "000000" if held is None else f"{(int(held.code) + 1) % 1_000_000:06d}"


class LifecycleMachine(RuleBasedStateMachine):
    total_steps = 0

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        triggers = CallableTriggers({ARN.format(name): f for name, f in QUIZ_FUNCTIONS.items()})
        # Hardened: the model refuses a new password equal to the temporary one.
        self.client = make_client(clock=self.clock, triggers=triggers, config=HARDENED_CONFIG)
        self.checker = Checker(self.client)
        self.model = Model()
        self.sessions: list[ModelSession] = []
        self.tokens: list[ModelTokens] = []
        self.blocks: list[ModelBlock] = []
        self.rounds: list[ModelRound] = []
        self.devices: list[HeldDevice] = []
        self.device_challenges: list[DeviceChallenge] = []
        self._a = 0x5EED

    def teardown(self) -> None:
        LifecycleMachine.total_steps += self.checker.steps

    # -- choosing whom a rule acts on (mostly someone it can act on, sometimes anyone) ----------------

    def existing(self, who: int) -> str:
        names = sorted(self.model.users)
        return names[who % len(names)] if names and who % 4 != 3 else NAMES[who % len(NAMES)]

    def absent(self, who: int) -> str:
        names = [n for n in NAMES if n not in self.model.users]
        return names[who % len(names)] if names and who % 4 != 3 else NAMES[who % len(NAMES)]

    # -- running a request -------------------------------------------------------------------------

    def run(self, method: str, expected: tuple, **request) -> dict | None:
        """Call through the Checker (every invariant after the step) and compare the
        outcome with the model's prediction (an error compared by code, and by message
        when the prediction names one)."""
        try:
            response, err = self.checker.call(method, **request), None
        except CognitoError as caught:
            response, err = None, caught
        got = Outcome.of(response, err)
        assert got[: len(expected)] == expected, f"{method} {request}: engine {got}, model {expected}"
        return response

    def sent(self) -> int:
        return len(self.client.messenger.messages)

    def receive(self, since: int, user: ModelUser | None, name: str, purpose: str | None) -> None:
        """The model's prediction of what went out since `since`: exactly one code, to
        `name`'s email, for `purpose`; or (purpose None) nothing. The code is read from
        the message text and becomes the user's latest code of that purpose."""
        messages = self.client.messenger.messages[since:]
        if purpose is None:
            assert messages == [], [m.kind for m in messages]
            return
        assert len(messages) == 1 and messages[0].username == name, [(m.kind, m.username) for m in messages]
        assert messages[0].destination == user.email
        code = re.search(r"\d{6}", messages[0].body).group()
        user.requests[purpose] = self.model.quota(user, purpose)
        user.codes[purpose] = ModelCode(code, user.email, self.model.now + CODE_KIND[purpose])

    def sms_code(self, username: str) -> str | None:
        for message in reversed(self.client.messenger.messages):
            if message.kind == "mfa_code" and message.username == username:
                return re.search(r"\d{6}", message.body).group()
        return None

    def challenge_or_tokens(self, response: dict, name: str, user: ModelUser, device: ModelDevice | None = None,
                            typed: str | None = None) -> None:
        """Record what a successful sign-in step returned, as the model expects it.
        `device`: the user's device the attempt carried; `typed`: the name it began with."""
        m = self.model
        if "AuthenticationResult" in response:
            result = response["AuthenticationResult"]
            metadata = result.get("NewDeviceMetadata")
            bound = device.key if device else None
            if m.tracking is not None and device is None:  # a new device, issued now
                assert metadata and metadata["DeviceGroupKey"].startswith("-"), result
                bound = metadata["DeviceKey"]
                m.devices[bound] = ModelDevice(bound, metadata["DeviceGroupKey"], name, user.incarnation)
                self.devices.append(HeldDevice(bound, metadata["DeviceGroupKey"], name, user.incarnation))
            else:
                assert metadata is None, result
            assert claims_of(result["AccessToken"]).get("device_key") == bound
            self.groups_claimed(result, name, user.incarnation)
            self.tokens.append(ModelTokens(
                refresh=result["RefreshToken"], access=result["AccessToken"], username=name,
                incarnation=user.incarnation, generation=user.generation, expires=m.now + REFRESH_LIFETIME,
                access_expires=m.now + ACCESS_LIFETIME, device=bound,
            ))
        elif response["ChallengeName"] == "DEVICE_SRP_AUTH":  # a newer device sign-in replaces the pending one
            assert response["ChallengeParameters"] == {}
            m.pending[device.key] = ModelPending(
                session=response["Session"], stage="DEVICE_SRP_AUTH", username=name, incarnation=user.incarnation,
                issue=user.issue, expires=m.now + SESSION_LIFETIME,
            )
            self.device_challenges.append(DeviceChallenge(
                session=response["Session"], stage="DEVICE_SRP_AUTH", key=device.key, group=device.group,
                typed=typed or name,
            ))
        else:
            challenge = response["ChallengeName"]
            self.sessions.append(ModelSession(
                session=response["Session"], username=name, incarnation=user.incarnation, challenge=challenge,
                expires=m.now + SESSION_LIFETIME,
                code=self.sms_code(name) if challenge == "SMS_MFA" else None,
                issue=user.issue, device=device.key if device else None,
            ))

    def next_step(self, user: ModelUser, device: ModelDevice | None = None, *, after_mfa: bool = False) -> tuple:
        """After a correct password or answer: NEW_PASSWORD_REQUIRED, SMS_MFA (unless a
        remembered device stands in for it), the device's own proof, or tokens."""
        if user.status == "FORCE_CHANGE_PASSWORD":
            return ("challenge", "NEW_PASSWORD_REQUIRED")
        if user.totp_on and not after_mfa and not self.model.stands_in_for_mfa(device):
            return ("challenge", "SOFTWARE_TOKEN_MFA")  # enabled and preferred
        if user.sms_mfa and not after_mfa and not self.model.stands_in_for_mfa(device):
            return ("challenge", "SMS_MFA")
        if self.model.remembered(device):
            return ("challenge", "DEVICE_SRP_AUTH")
        return ("tokens",)

    # -- AdminCreateUser ------------------------------------------------------------------------------

    @initialize(devices=st.sampled_from(DEVICE_CONFIGS))
    def set_up(self, devices):
        """The pool (tracking devices or not), its app clients, and two users."""
        tracking = {"DeviceConfiguration": devices} if devices else {}
        self.pool = self.client.create_user_pool(
            PoolName="m", AliasAttributes=["email"], MfaConfiguration="OPTIONAL", SmsConfiguration=SMS_CONFIG,
            AutoVerifiedAttributes=["email"], LambdaConfig={name: ARN.format(name) for name in QUIZ_FUNCTIONS},
            **tracking,
        )["UserPool"]["Id"]
        self.model.tracking = devices
        self.app = self.client.create_user_pool_client(
            UserPoolId=self.pool, ClientName="c",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                               *SRP_FLOWS],
        )["UserPoolClient"]["ClientId"]
        # Only names no user has sign in through it (what it changes for real users, the
        # errors of refused statuses, is the unit tests' concern).
        self.hidden = self.client.create_user_pool_client(
            UserPoolId=self.pool, ClientName="h", ExplicitAuthFlows=SRP_FLOWS, PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
        self.client.set_user_pool_mfa_config(
            UserPoolId=self.pool, MfaConfiguration="OPTIONAL", SoftwareTokenMfaConfiguration={"Enabled": True},
            SmsMfaConfiguration={"SmsConfiguration": SMS_CONFIG})
        for group, (precedence, role) in GROUPS.items():
            self.client.create_group(UserPoolId=self.pool, GroupName=group, Precedence=precedence,
                                     **({"RoleArn": role} if role else {}))
        self.model.groups = dict(GROUPS)
        self.create(0, EMAILS[0], verified=True, force=False, invite=False)
        self.create(0, None, verified=False, force=False, invite=True)

    @rule(who=WHO, email=st.sampled_from([None, *EMAILS]), verified=st.booleans(), force=st.booleans(),
          invite=st.booleans())
    def create(self, who, email, verified, force, invite):
        m = self.model
        name = self.absent(who)
        verified = verified and email is not None
        attributes = [{"Name": "phone_number", "Value": PHONES[name]}]
        if email:
            attributes.append({"Name": "email", "Value": email})
        if verified:
            attributes.append({"Name": "email_verified", "Value": "true"})
        taken = m.holder(email) if verified else None
        if name in m.users:
            expected = error_code("UsernameExistsException")
        elif taken is not None and not force:
            expected = error_code("AliasExistsException")
        elif invite and email is None:
            expected = ("error", "InvalidParameterException", "User has no attribute matching desired delivery mediums")
        else:
            expected = ("ok",)
        sent = len(self.client.messenger.messages)
        action = {"DesiredDeliveryMediums": ["EMAIL"]} if invite else {"MessageAction": "SUPPRESS"}
        self.run(
            "admin_create_user", expected, UserPoolId=self.pool, Username=name, UserAttributes=attributes,
            TemporaryPassword=TEMP, ForceAliasCreation=force, ValidationData=[{"Name": "m", "Value": MARKER}],
            **action,
        )
        if expected == ("ok",):
            if taken is not None:
                m.users[taken].verified = False
            m.incarnations += 1
            m.users[name] = ModelUser(incarnation=m.incarnations, email=email, verified=verified, issued_at=m.now)
            assert len(self.client.messenger.messages) == sent + (1 if invite else 0)

    @rule(who=WHO)
    def resend(self, who):
        m = self.model
        name = self.existing(who)
        user = m.users.get(name)
        if user is None:
            expected = error(NO_USER)
        elif user.status != "FORCE_CHANGE_PASSWORD":
            expected = error_code("UnsupportedUserStateException")
        elif user.email is None:
            expected = error_code("InvalidParameterException")
        else:
            expected = ("ok",)
        self.run(
            "admin_create_user", expected, UserPoolId=self.pool, Username=name, MessageAction="RESEND",
            TemporaryPassword=TEMP, DesiredDeliveryMediums=["EMAIL"],
        )
        if expected == ("ok",):
            user.password, user.issued_at = TEMP, m.now
            user.issue += 1

    # -- signing in -----------------------------------------------------------------------------------

    @rule(who=WHO, by_email=st.booleans(), password=st.sampled_from(["right", "right", TEMP, NEW, WRONG]),
          admin=st.booleans())
    def sign_in(self, who, by_email, password, admin):
        self.signing_in(self.login_of(who, by_email), password, admin)

    def signing_in(self, login: str, password: str, admin: bool, held: HeldDevice | None = None) -> None:
        """A password sign-in, carrying the key of `held` if given."""
        m = self.model
        name = m.named(login)
        if password == "right":
            password = m.users[name].password if name else NEW
        user = m.users.get(name) if name else None
        device = None
        if user is None:
            expected = error(NO_USER)
        elif not user.enabled:
            expected = error(DISABLED)
        elif m.locked(user):
            user.last_attempt = m.now
            expected = error(LOCKED)
        elif password != user.password:
            m.count_failure(user)
            expected = error(INCORRECT)
        else:
            m.reset_failures(user)
            if user.status == "FORCE_CHANGE_PASSWORD" and m.now >= user.issued_at + TEMPORARY_VALIDITY:
                expected = error(TEMP_EXPIRED)
            elif user.status == "UNCONFIRMED":
                expected = error(NOT_CONFIRMED)
            elif user.status == "RESET_REQUIRED":
                expected = error(RESET_NEEDED)
            elif held is not None and m.tracking is not None and m.device_refusal(held.key, name, user):
                expected = m.device_refusal(held.key, name, user)  # checked after the password
            else:
                device = m.own_device(held.key, name, user) if held is not None and m.tracking else None
                expected = self.next_step(user, device)
        parameters = {"USERNAME": login, "PASSWORD": password}
        if held is not None:
            parameters["DEVICE_KEY"] = held.key
        if admin:
            response = self.run(
                "admin_initiate_auth", expected, UserPoolId=self.pool, ClientId=self.app,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters=parameters,
            )
        else:
            response = self.run(
                "initiate_auth", expected, ClientId=self.app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters,
            )
        if response is not None:
            self.challenge_or_tokens(response, name, user, device, typed=login)

    @rule(who=WHO, admin=st.booleans())
    def complete_sign_in(self, who, admin):
        """Sign in with the right password and answer every challenge well (the common path)."""
        self.sign_in(who, by_email=False, password="right", admin=admin)
        for _ in range(2):
            latest = self.sessions[-1] if self.sessions else None
            if latest is None or latest.used or self.model.now >= latest.expires:
                return
            self.respond(0, "good", admin)

    @rule(who=WHO, times=st.integers(1, 7), admin=st.booleans())
    def guess(self, who, times, admin):
        """Wrong passwords in a row (into and through the lockout)."""
        for _ in range(times):
            self.sign_in(who, by_email=False, password=WRONG, admin=admin)

    @precondition(lambda self: self.sessions)
    @rule(pick=RECENT, answer=st.sampled_from(["good", "good", "good", "weak", "same", "wrong_code"]),
          admin=st.booleans())
    def respond(self, pick, answer, admin):
        m = self.model
        session = self.sessions[-1 - pick % len(self.sessions)]
        if session.challenge == "SOFTWARE_TOKEN_MFA":
            self.totp_answer(pick, "wrong" if answer == "wrong_code" else "current", admin)
            return
        user = m.current(session.username, session.incarnation)
        device = m.own_device(session.device, session.username, user) if user else None
        gone = session.device is not None and device is None  # the device the attempt carries is gone
        responses = {"USERNAME": session.username}
        if session.challenge == "NEW_PASSWORD_REQUIRED":
            responses["NEW_PASSWORD"] = {"weak": WEAK, "same": TEMP}.get(answer, NEW)
        else:
            wrong = "000000" if session.code != "000000" else "111111"
            responses["SMS_MFA_CODE"] = wrong if answer == "wrong_code" else session.code
        if session.used:
            expected = error(SESSION_USED)
        elif m.now >= session.expires:
            expected = error(SESSION_EXPIRED)
        elif user is None:
            expected = error(INVALID_SESSION)
        elif not user.enabled:
            expected = error(DISABLED)
        elif session.challenge == "NEW_PASSWORD_REQUIRED":
            if user.status != "FORCE_CHANGE_PASSWORD" or session.issue != user.issue:
                # answered through another session, or the password was re-issued since:
                # refused before any password is compared
                expected = error(INVALID_SESSION)
            elif responses["NEW_PASSWORD"] == WEAK:
                expected = error_code("InvalidPasswordException")
            elif responses["NEW_PASSWORD"] == user.password:
                expected = error_code("InvalidPasswordException")  # the same as the temporary password
            elif gone:
                expected = error(NO_DEVICE)  # and the new password is not set
            else:
                user.status, user.password = "CONFIRMED", NEW
                user.issue += 1
                session.used = True
                expected = self.next_step(user, device)
        elif session.issue != user.issue or user.status != "CONFIRMED":
            # The sign-in no longer holds: its password was replaced, or the user may no
            # longer hold tokens (reset); refused before the code says anything.
            expected = error(INVALID_SESSION)
        elif gone:
            expected = error(NO_DEVICE)  # before the code is compared or counted
        elif m.locked(user):
            user.last_attempt = m.now
            expected = error(LOCKED)
        elif responses["SMS_MFA_CODE"] != session.code:
            m.count_failure(user)
            expected = ("error", "CodeMismatchException", "Invalid code received for user")
        else:
            m.reset_failures(user)
            session.used = True
            expected = self.next_step(user, device, after_mfa=True)
        method = "admin_respond_to_auth_challenge" if admin else "respond_to_auth_challenge"
        ids = {"UserPoolId": self.pool} if admin else {}
        response = self.run(
            method, expected, **ids, ClientId=self.app, ChallengeName=session.challenge, Session=session.session,
            ChallengeResponses=responses,
        )
        if response is not None:
            self.challenge_or_tokens(response, session.username, user, device)

    # -- SRP and custom sign-in ------------------------------------------------------------------------

    def status_refusal(self, user: ModelUser) -> tuple | None:
        """Why a sign-in that proved who the user is ends refused by the status, or None."""
        if user.status == "FORCE_CHANGE_PASSWORD" and self.model.now >= user.issued_at + TEMPORARY_VALIDITY:
            return error(TEMP_EXPIRED)
        if user.status == "UNCONFIRMED":
            return error(NOT_CONFIRMED)
        if user.status == "RESET_REQUIRED":
            return error(RESET_NEEDED)
        return None

    def login_of(self, who: int, by_email: bool) -> str:
        login = self.existing(who)
        users = self.model.users
        if by_email:
            login = users[login].email if login in users and users[login].email else EMAILS[who % len(EMAILS)]
        return login

    @rule(who=WHO, by_email=st.booleans(), admin=st.booleans(), custom=st.sampled_from([False, False, True]))
    def srp_sign_in(self, who, by_email, admin, custom):
        """InitiateAuth with SRP_A: USER_SRP_AUTH, or CUSTOM_AUTH with CHALLENGE_NAME=SRP_A
        (Define asks for the password proof). Nothing is checked against the password yet."""
        m = self.model
        login = self.login_of(who, by_email)
        name = m.named(login)
        user = m.users.get(name) if name else None
        if user is None:
            expected = error(NO_USER)
        elif not user.enabled:
            expected = error(DISABLED)
        elif custom:  # a custom flow checks the status first, as it may never ask for a password
            expected = self.status_refusal(user) or ("challenge", "PASSWORD_VERIFIER")
        else:
            expected = ("challenge", "PASSWORD_VERIFIER")
        self._a += 1
        srp = SrpClient(self.pool, self._a)
        parameters = {"USERNAME": login, "SRP_A": srp.srp_a}
        if custom:
            parameters["CHALLENGE_NAME"] = "SRP_A"
        flow = "CUSTOM_AUTH" if custom else "USER_SRP_AUTH"
        if admin:
            response = self.run("admin_initiate_auth", expected, UserPoolId=self.pool, ClientId=self.app,
                                AuthFlow=flow, AuthParameters=parameters)
        else:
            response = self.run("initiate_auth", expected, ClientId=self.app, AuthFlow=flow, AuthParameters=parameters)
        if response is not None:
            assert response["ChallengeParameters"]["USER_ID_FOR_SRP"] == name
            self.blocks.append(ModelBlock(
                parameters=response["ChallengeParameters"], srp=srp, username=name, incarnation=user.incarnation,
                issue=user.issue, expires=m.now + SESSION_LIFETIME, custom=custom,
            ))

    @precondition(lambda self: self.blocks)
    @rule(pick=RECENT, password=st.sampled_from(["right", "right", TEMP, NEW, WRONG]), admin=st.booleans())
    def srp_answer(self, pick, password, admin):
        """PASSWORD_VERIFIER answered with a claim signed with some password (the latest
        block mostly; an older one is a replay or an expired block)."""
        m = self.model
        block = self.blocks[-1 - pick % len(self.blocks)]
        user = m.current(block.username, block.incarnation)  # None: deleted since (maybe re-created)
        if password == "right":
            password = user.password if user else NEW
        if block.used:
            expected = error(SESSION_USED)
        elif m.now >= block.expires:
            expected = error(SESSION_EXPIRED)
        elif user is None:
            expected = error(INCORRECT)  # nobody's counter: the client does not hide unknown users
        elif not user.enabled:
            expected = error(DISABLED)
        elif m.locked(user):
            user.last_attempt = m.now
            expected = error(LOCKED)
        elif password != user.password or block.issue != user.issue:
            m.count_failure(user)  # a proof of another issue of the password is as wrong
            expected = error(INCORRECT)
        else:
            m.reset_failures(user)
            expected = self.status_refusal(user)
            # A custom flow's block is used by the right proof, even when its end is refused;
            # USER_SRP_AUTH's only when the sign-in goes on.
            block.used = block.custom or expected is None
            expected = expected or self.next_step(user)  # a custom Define issues tokens after the proof
        responses = block.srp.answer(block.parameters, password, m.now)
        self.checker.signed(responses["PASSWORD_CLAIM_SIGNATURE"], password)
        method = "admin_respond_to_auth_challenge" if admin else "respond_to_auth_challenge"
        ids = {"UserPoolId": self.pool} if admin else {}
        response = self.run(method, expected, **ids, ClientId=self.app, ChallengeName="PASSWORD_VERIFIER",
                            ChallengeResponses=responses)
        if response is not None:
            self.challenge_or_tokens(response, block.username, user)

    @rule(who=WHO, by_email=st.booleans(), admin=st.booleans(), wrong=st.sampled_from([False, False, False, True]))
    def srp_complete_sign_in(self, who, by_email, admin, wrong):
        """An SRP sign-in answered at once (the common path), rightly or with a wrong password."""
        count = len(self.blocks)
        self.srp_sign_in(who, by_email, admin, custom=False)
        if len(self.blocks) > count:
            self.srp_answer(0, WRONG if wrong else "right", admin)

    @rule(who=WHO, by_email=st.booleans(), unknown=st.sampled_from([False, False, True]))
    def custom_sign_in(self, who, by_email, unknown):
        """CUSTOM_AUTH: the quiz's first question. `unknown`: a name no user has, through
        the client that hides unknown users (a simulated first question)."""
        m = self.model
        if unknown:
            absent = [n for n in NAMES if n not in m.users]
            login = absent[who % len(absent)] if absent and not by_email else f"nobody{who}@example.com"
            name, user, client = None, None, self.hidden
            expected = ("challenge", "CUSTOM_CHALLENGE")
        else:
            login = self.login_of(who, by_email)
            name = m.named(login)
            user = m.users.get(name) if name else None
            client = self.app
            if user is None:
                expected = error(NO_USER)
            elif not user.enabled:
                expected = error(DISABLED)
            else:
                expected = self.status_refusal(user) or ("challenge", "CUSTOM_CHALLENGE")
        response = self.run("initiate_auth", expected, ClientId=client, AuthFlow="CUSTOM_AUTH",
                            AuthParameters={"USERNAME": login})
        if response is not None:
            username = name or login
            if name is None and "@" in login:
                # An email is never a username in this alias pool: the simulated challenge
                # names a stand-in, shaped as a real user's username could be, and the
                # answers below give it back as a client would.
                username = response["ChallengeParameters"]["USERNAME"]
                assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", username)
            assert response["ChallengeParameters"] == {"question": QUIZ[0][0], "USERNAME": username}
            self.rounds.append(ModelRound(
                session=response["Session"], username=username, incarnation=user.incarnation if user else None,
                question=0, expires=m.now + SESSION_LIFETIME,
            ))

    @precondition(lambda self: self.rounds)
    @rule(pick=RECENT, right=st.sampled_from([True, True, False]))
    def custom_answer(self, pick, right):
        m = self.model
        held = self.rounds[-1 - pick % len(self.rounds)]
        known = held.incarnation is not None
        user = m.current(held.username, held.incarnation) if known else None
        answer = QUIZ[held.question][1] if right else WRONG_ANSWER
        last = held.question + 1 == len(QUIZ)
        if held.used:
            expected = error(SESSION_USED)
        elif m.now >= held.expires:
            expected = error(SESSION_EXPIRED)
        elif known and user is None:
            expected = error(INVALID_SESSION)
        elif known and not user.enabled:
            expected = error(DISABLED)
        else:
            held.used = True  # every verified answer ends its round, refused or not
            if not right:
                expected = error(INCORRECT)  # Define fails the attempt
            elif not last:
                expected = ("challenge", "CUSTOM_CHALLENGE")
            elif not known:
                expected = error(INCORRECT)  # Define says issueTokens; a name no user has never gets them
            else:
                expected = self.status_refusal(user) or self.next_step(user)
        response = self.run(
            "respond_to_auth_challenge", expected, ClientId=self.app if known else self.hidden,
            ChallengeName="CUSTOM_CHALLENGE", Session=held.session,
            ChallengeResponses={"USERNAME": held.username, "ANSWER": answer},
        )
        if response is None:
            return
        if response.get("ChallengeName") == "CUSTOM_CHALLENGE":
            nxt = held.question + 1
            assert response["ChallengeParameters"] == {"question": QUIZ[nxt][0], "USERNAME": held.username}
            self.rounds.append(ModelRound(
                session=response["Session"], username=held.username, incarnation=held.incarnation, question=nxt,
                expires=m.now + SESSION_LIFETIME,
            ))
        else:
            self.challenge_or_tokens(response, held.username, user)

    @rule(who=WHO, by_email=st.booleans(), unknown=st.sampled_from([False, False, True]),
          answers=st.sampled_from(["right", "right", "first wrong", "second wrong"]))
    def custom_quiz(self, who, by_email, unknown, answers):
        """A whole quiz: both questions answered at once (the common path)."""
        count = len(self.rounds)
        self.custom_sign_in(who, by_email, unknown)
        for question in range(len(QUIZ)):
            if len(self.rounds) == count + question:
                return
            self.custom_answer(0, answers != ("first wrong", "second wrong")[question])

    # -- tokens ---------------------------------------------------------------------------------------

    def family_state(self, tokens: ModelTokens, key: str | None = None) -> tuple | None:
        """Why a refresh with this family (and DEVICE_KEY `key`) fails, or None when it works."""
        m = self.model
        user = m.current(tokens.username, tokens.incarnation)
        if user is None:
            return error(REFRESH_INVALID)
        if not user.enabled:
            return error(DISABLED)
        if tokens.revoked or tokens.generation < user.generation:
            return error(REFRESH_REVOKED)
        if m.now >= tokens.expires:
            return error(REFRESH_EXPIRED)
        if tokens.device is not None:  # bound to a device: only with its key, confirmed and not forgotten
            device = m.devices.get(tokens.device)
            if key != tokens.device or device is None or device.status == "NEW":
                return error(REFRESH_INVALID)
        if user.status == "UNCONFIRMED":
            return error(NOT_CONFIRMED)
        if user.status == "RESET_REQUIRED":
            return error(RESET_NEEDED)
        if user.status != "CONFIRMED":
            return error(REFRESH_REVOKED)
        return None

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT, admin=st.booleans(), with_key=st.sampled_from([True, True, True, False]))
    def refresh(self, pick, admin, with_key):
        """REFRESH_TOKEN_AUTH, with the key of the device the family is bound to (mostly) or without."""
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        key = tokens.device if with_key else None
        expected = self.family_state(tokens, key) or ("tokens",)
        parameters = {"REFRESH_TOKEN": tokens.refresh, **({"DEVICE_KEY": key} if key else {})}
        if admin:
            response = self.run(
                "admin_initiate_auth", expected, UserPoolId=self.pool, ClientId=self.app,
                AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=parameters,
            )
        else:
            response = self.run(
                "initiate_auth", expected, ClientId=self.app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=parameters,
            )
        if response is not None:
            result = response["AuthenticationResult"]
            assert "RefreshToken" not in result and "NewDeviceMetadata" not in result
            assert claims_of(result["AccessToken"]).get("device_key") == tokens.device
            self.groups_claimed(result, tokens.username, tokens.incarnation)
            tokens.access, tokens.access_expires = result["AccessToken"], self.model.now + ACCESS_LIFETIME

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT)
    def global_sign_out(self, pick):
        m = self.model
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        user = m.current(tokens.username, tokens.incarnation)
        if m.now >= tokens.access_expires:
            expected = error(ACCESS_EXPIRED)
        elif user is None:
            expected = error(NO_USER)
        elif tokens.revoked or tokens.generation < user.generation:
            expected = error(ACCESS_REVOKED)
        elif not user.enabled:
            expected = error(DISABLED)
        else:
            expected = ("ok",)
        self.run("global_sign_out", expected, AccessToken=tokens.access)
        if expected == ("ok",):
            user.generation += 1

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT)
    def revoke(self, pick):
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        self.run("revoke_token", ("ok",), ClientId=self.app, Token=tokens.refresh)
        tokens.revoked = True

    # -- admin operations -----------------------------------------------------------------------------

    def admin(self, method: str, name: str, **request) -> ModelUser | None:
        """An admin call on one user: UserNotFoundException exactly when the model has no such user."""
        user = self.model.users.get(name)
        self.run(method, ("ok",) if user else error(NO_USER), UserPoolId=self.pool, Username=name, **request)
        return user

    @rule(who=WHO)
    def admin_sign_out(self, who):
        user = self.admin("admin_user_global_sign_out", self.existing(who))
        if user:
            user.generation += 1

    @rule(who=WHO, enabled=st.booleans())
    def set_enabled(self, who, enabled):
        user = self.admin("admin_enable_user" if enabled else "admin_disable_user", self.existing(who))
        if user:
            if not enabled:
                user.generation += 1  # disabling signs the user out everywhere
            user.enabled = enabled

    @rule(who=WHO, email=st.sampled_from(EMAILS), verified=st.booleans())
    def update_email(self, who, email, verified):
        m = self.model
        name = self.existing(who)
        user = m.users.get(name)
        attributes = [{"Name": "email", "Value": email}]
        if verified:
            attributes.append({"Name": "email_verified", "Value": "true"})
        holder = m.holder(email)
        if user is None:
            expected = error(NO_USER)
        elif verified and holder not in (None, name):
            expected = error_code("AliasExistsException")
        else:
            expected = ("ok",)
        sent = self.sent()
        self.run("admin_update_user_attributes", expected, UserPoolId=self.pool, Username=name,
                 UserAttributes=attributes)
        if expected == ("ok",):
            changed = email != user.email
            if verified:
                user.verified = True
            elif changed:
                user.verified = False
            user.email = email
            if changed:  # an unverified new value gets a code of its own
                user.email_changed()
            self.receive(sent, user, name, "verify_email" if changed and not verified else None)

    @rule(who=WHO)
    def delete_email(self, who):
        user = self.admin("admin_delete_user_attributes", self.existing(who), UserAttributeNames=["email"])
        if user:
            user.email, user.verified = None, False
            user.email_changed()

    @rule(who=WHO, enabled=st.booleans())
    def set_mfa(self, who, enabled):
        user = self.admin("admin_set_user_mfa_preference", self.existing(who), SMSMfaSettings={"Enabled": enabled})
        if user:
            user.sms_mfa = enabled

    @rule(who=WHO)
    def delete(self, who):
        name = self.existing(who)
        if self.admin("admin_delete_user", name):
            self.model.user_deleted(name)

    # -- self-service sign-up -------------------------------------------------------------------------

    @rule(who=WHO, email=st.sampled_from([None, *EMAILS]), weak=st.sampled_from([False, False, False, True]))
    def sign_up(self, who, email, weak):
        self.signing_up(self.absent(who), email, weak)

    @rule(who=WHO, email=st.sampled_from(EMAILS), force=st.booleans())
    def sign_up_and_confirm(self, who, email, force):
        """SignUp, then ConfirmSignUp with the code the message carried (the common path)."""
        name = self.absent(who)
        self.signing_up(name, email, weak=False)
        self.confirming(name, right=True, force=force)

    def signing_up(self, name, email, weak):
        m = self.model
        attributes = [{"Name": "phone_number", "Value": PHONES[name]}]
        if email:
            attributes.append({"Name": "email", "Value": email})
        if weak:
            expected = error_code("InvalidPasswordException")  # the policy first
        elif name in m.users:
            expected = ("error", "UsernameExistsException", "User already exists")
        else:
            expected = ("ok",)
        sent = self.sent()
        self.run("sign_up", expected, ClientId=self.app, Username=name, Password=WEAK if weak else NEW,
                 UserAttributes=attributes)
        if expected == ("ok",):
            # An unverified email is no alias: nobody loses anything until confirmation.
            m.incarnations += 1
            user = m.users[name] = ModelUser(
                incarnation=m.incarnations, email=email, verified=False, status="UNCONFIRMED", password=NEW,
                issued_at=m.now,
            )
            self.receive(sent, user, name, "confirm_sign_up" if email else None)
        else:
            self.receive(sent, None, name, None)

    @rule(who=WHO, right=st.booleans(), force=st.booleans())
    def confirm_sign_up(self, who, right, force):
        self.confirming(self.existing(who), right, force)

    def confirming(self, name, right, force):
        m = self.model
        user = m.users.get(name)
        held = user.codes.get("confirm_sign_up") if user else None
        code = held.code if right and held else wrong_code(held)
        taken = m.holder(user.email) if user and user.email else None
        if user is None:
            expected = error(UNKNOWN_FOR_CLIENT)
        elif user.status != "UNCONFIRMED":
            expected = ("error", "NotAuthorizedException", f"User cannot be confirmed. Current status is {user.status}")
        else:
            expected = m.code_check(user, "confirm_sign_up", code)
            # The code verifies the email only if it is still the value it went to.
            verifies = expected is None and user.email is not None and user.email == held.destination
            if not verifies:
                taken = None
            if expected is None and taken not in (None, name) and not force:
                expected = ("error", "AliasExistsException", "An account with the email already exists.")
        self.run("confirm_sign_up", expected or ("ok",), ClientId=self.app, Username=name, ConfirmationCode=code,
                 ForceAliasCreation=force)
        if expected is None:
            if taken not in (None, name):
                m.users[taken].verified = False
            user.status, user.verified = "CONFIRMED", user.verified or verifies
            user.void("confirm_sign_up")

    @rule(who=WHO)
    def resend_confirmation(self, who):
        name = self.existing(who)
        user = self.model.users.get(name)
        if user is None:
            expected = error(UNKNOWN_FOR_CLIENT)
        elif not user.enabled:
            expected = error(DISABLED)
        elif user.status != "UNCONFIRMED":
            expected = ("error", "InvalidParameterException", "User is already confirmed.")
        elif user.email is None:
            expected = ("error", "CodeDeliveryFailureException", "Unable to deliver code to user")
        else:
            expected = self.model.over_quota(user, "confirm_sign_up") or ("ok",)
        sent = self.sent()
        self.run("resend_confirmation_code", expected, ClientId=self.app, Username=name)
        self.receive(sent, user, name, "confirm_sign_up" if expected == ("ok",) else None)

    @rule(who=WHO, times=st.integers(2, 6), resend=st.booleans())
    def ask_again(self, who, times, resend):
        """Codes asked for in a row (ResendConfirmationCode or ForgotPassword), into the hourly limit."""
        for _ in range(times):
            (self.resend_confirmation if resend else self.forgot_password)(who)

    @rule(who=WHO)
    def admin_confirm(self, who):
        name = self.existing(who)
        user = self.model.users.get(name)
        if user is None:
            expected = error(NO_USER)
        elif user.status != "UNCONFIRMED":
            expected = ("error", "NotAuthorizedException", f"User cannot be confirmed. Current status is {user.status}")
        else:
            expected = ("ok",)
        self.run("admin_confirm_sign_up", expected, UserPoolId=self.pool, Username=name)
        if expected == ("ok",):
            user.status = "CONFIRMED"  # verifying nothing

    # -- passwords: forgotten, reset, set, changed -------------------------------------------------------

    def recovery_refusal(self, user: ModelUser | None) -> tuple | None:
        """Why ForgotPassword sends no code to this user (LEGACY errors), or None."""
        if user is None:
            return error(UNKNOWN_FOR_CLIENT)
        if not user.enabled:
            return error(DISABLED)
        if user.status == "FORCE_CHANGE_PASSWORD":
            return error(CANNOT_RESET)
        if user.status == "UNCONFIRMED" or not (user.email and user.verified):
            return error(NO_RECOVERY)  # a reset code goes to a verified email only (no verified phones here)
        return None

    @rule(who=WHO)
    def forgot_password(self, who):
        self.forgetting(self.existing(who))

    @rule(who=WHO, admin=st.booleans(), answer=st.sampled_from(["right", "right", "wrong"]))
    def recover(self, who, admin, answer):
        """A reset code (ForgotPassword or AdminResetUserPassword), then ConfirmForgotPassword."""
        name = self.existing(who)
        if admin:
            self.admin_reset_password(who)
        else:
            self.forgetting(name)
        self.confirming_reset(name, answer)

    def forgetting(self, name):
        user = self.model.users.get(name)
        expected = self.recovery_refusal(user) or self.model.over_quota(user, "reset_password") or ("ok",)
        sent = self.sent()
        self.run("forgot_password", expected, ClientId=self.app, Username=name)
        self.receive(sent, user, name, "reset_password" if expected == ("ok",) else None)

    @rule(who=WHO, answer=st.sampled_from(["right", "right", "wrong", "weak"]))
    def confirm_forgot_password(self, who, answer):
        self.confirming_reset(self.existing(who), answer)

    def confirming_reset(self, name, answer):
        m = self.model
        user = m.users.get(name)
        held = user.codes.get("reset_password") if user else None
        code = held.code if answer != "wrong" and held else wrong_code(held)
        if answer == "weak":
            expected = error_code("InvalidPasswordException")  # the policy first: says nothing about the code
        elif user is None:
            expected = error(UNKNOWN_FOR_CLIENT)
        elif not user.enabled:
            expected = error(DISABLED)
        else:
            expected = m.code_check(user, "reset_password", code)
        self.run("confirm_forgot_password", expected or ("ok",), ClientId=self.app, Username=name,
                 ConfirmationCode=code, Password=WEAK if answer == "weak" else NEW)
        if expected is None:
            # Only CONFIRMED and RESET_REQUIRED users ever hold a live reset code.
            assert user.status in ("CONFIRMED", "RESET_REQUIRED"), user.status
            user.new_password("CONFIRMED", NEW, m.now)

    @rule(who=WHO)
    def admin_reset_password(self, who):
        name = self.existing(who)
        user = self.model.users.get(name)
        if user is None:
            expected = error(NO_USER)
        elif user.status not in ("CONFIRMED", "RESET_REQUIRED"):
            expected = error(CANNOT_RESET)
        elif not (user.email and user.verified):
            expected = error(NO_RECOVERY)
        else:
            expected = ("ok",)  # disabled users too, and past the hourly limit: the administrator acts
        sent = self.sent()
        self.run("admin_reset_user_password", expected, UserPoolId=self.pool, Username=name)
        if expected == ("ok",):
            user.status = "RESET_REQUIRED"  # the password stays stored, but no longer signs in
        self.receive(sent, user, name, "reset_password" if expected == ("ok",) else None)

    @rule(who=WHO, permanent=st.booleans())
    def set_password(self, who, permanent):
        m = self.model
        name = self.existing(who)
        user = self.admin("admin_set_user_password", name, Password=NEW if permanent else TEMP, Permanent=permanent)
        if user:
            # Nothing is sent and no token revoked; a temporary password gets a new window.
            user.new_password("CONFIRMED" if permanent else "FORCE_CHANGE_PASSWORD", NEW if permanent else TEMP, m.now)

    def access_refusal(self, tokens: ModelTokens) -> tuple | None:
        """Why a request authorised by this access token is refused, or None."""
        m = self.model
        user = m.current(tokens.username, tokens.incarnation)
        if m.now >= tokens.access_expires:
            return error(ACCESS_EXPIRED)
        if user is None:
            return error(NO_USER)
        if tokens.revoked or tokens.generation < user.generation:
            return error(ACCESS_REVOKED)
        if not user.enabled:
            return error(DISABLED)
        return None

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT, right=st.booleans())
    def change_password(self, pick, right):
        m = self.model
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        user = m.current(tokens.username, tokens.incarnation)
        previous = user.password if right and user else WRONG
        expected = self.access_refusal(tokens)
        if expected == error(NO_USER):
            expected = error(INVALID_ACCESS)  # ChangePassword's word for it (reference §3.18 [O])
        if expected is None:
            if user.status == "RESET_REQUIRED":
                expected = error(RESET_NEEDED)
            elif user.status != "CONFIRMED":
                expected = error(CANNOT_CHANGE)  # tokens are only ever issued to CONFIRMED users
            elif m.locked(user):
                user.last_attempt = m.now
                expected = error(LOCKED)
            elif previous != user.password:
                m.count_failure(user)  # the sign-in lockout: or ChangePassword were an oracle
                expected = error(INCORRECT)
        self.run("change_password", expected or ("ok",), AccessToken=tokens.access, PreviousPassword=previous,
                 ProposedPassword=NEW)
        if expected is None:
            m.reset_failures(user)
            user.new_password("CONFIRMED", NEW, m.now)

    # -- attributes by access token, and deleting oneself ---------------------------------------------------

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT)
    def request_email_code(self, pick):
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        user = self.model.current(tokens.username, tokens.incarnation)
        expected = self.access_refusal(tokens)
        if expected is None and user.email is None:
            expected = ("error", "InvalidParameterException", "User does not have a valid registered email")
        expected = expected or self.model.over_quota(user, "verify_email")
        sent = self.sent()
        self.run("get_user_attribute_verification_code", expected or ("ok",), AccessToken=tokens.access,
                 AttributeName="email")
        self.receive(sent, user, tokens.username, "verify_email" if expected is None else None)

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT, right=st.booleans())
    def verify_email(self, pick, right):
        m = self.model
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        user = m.current(tokens.username, tokens.incarnation)
        held = user.codes.get("verify_email") if user else None
        code = held.code if right and held else wrong_code(held)
        expected = self.access_refusal(tokens)
        if expected is None and user.email is None:
            expected = ("error", "InvalidParameterException", "Unable to verify attribute: email no value set to verify")
        elif expected is None:
            expected = m.code_check(user, "verify_email", code)
            if expected is None and m.holder(user.email) not in (None, tokens.username):
                expected = ("error", "AliasExistsException", "An account with the email already exists.")
        self.run("verify_user_attribute", expected or ("ok",), AccessToken=tokens.access, AttributeName="email",
                 Code=code)
        if expected is None:
            user.verified = True
            user.void("verify_email")

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT, right=st.sampled_from([True, True, False]))
    def verify_flow(self, pick, right):
        """GetUserAttributeVerificationCode, then VerifyUserAttribute with that code (or a wrong one)."""
        self.request_email_code(pick)
        self.verify_email(pick, right)

    @rule(who=WHO, then=st.sampled_from(["verify", "verify", "codes", "change", "wrong previous", "delete email",
                                          "delete"]))
    def sign_in_then(self, who, then):
        """A completed sign-in, then a request with the fresh access token (tokens that
        still work are otherwise rare by the time a rule picks them)."""
        count = len(self.tokens)
        self.complete_sign_in(who, admin=False)
        if len(self.tokens) == count:
            return
        if then == "verify":
            self.verify_flow(0, True)
        elif then == "codes":
            for _ in range(REQUEST_LIMIT + 1):
                self.request_email_code(0)
        elif then in ("change", "wrong previous"):
            self.change_password(0, then == "change")
        elif then == "delete email":
            self.delete_own_email(0)
        else:
            self.delete_self(0)

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT)
    def delete_own_email(self, pick):
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        user = self.model.current(tokens.username, tokens.incarnation)
        expected = self.access_refusal(tokens)
        self.run("delete_user_attributes", expected or ("ok",), AccessToken=tokens.access,
                 UserAttributeNames=["email"])
        if expected is None:
            user.email, user.verified = None, False
            user.email_changed()

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT)
    def delete_self(self, pick):
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        expected = self.access_refusal(tokens)
        self.run("delete_user", expected or ("ok",), AccessToken=tokens.access)
        if expected is None:
            self.model.user_deleted(tokens.username)

    @rule(seconds=st.sampled_from([1, 2, 30, 181, 899, 901, 3601, 86400, 7 * 86400]))
    def advance(self, seconds):
        self.checker.advance(self.clock, timedelta(seconds=seconds))
        self.model.now += timedelta(seconds=seconds)

    # -- device tracking ---------------------------------------------------------------------------------

    def held_device(self, pick: int) -> HeldDevice:
        return self.devices[-1 - pick % len(self.devices)]

    def owners_tokens(self, held: HeldDevice, pick: int, own: bool) -> ModelTokens:
        """The latest tokens of the device's owner (mostly), or any tokens the caller holds."""
        mine = [t for t in self.tokens if (t.username, t.incarnation) == (held.username, held.incarnation)]
        return mine[-1] if own and mine else self.tokens[-1 - pick % len(self.tokens)]

    def device_refusal(self, tokens: ModelTokens, held: HeldDevice, *, tracking_checked: bool,
                       visible: bool) -> tuple | None:
        """Why a device operation with this access token on this device is refused, or
        None: the token, then (ConfirmDevice, UpdateDeviceStatus) the pool's tracking, then
        the device, which must be the token user's, and confirmed where `visible`."""
        m = self.model
        refused = self.access_refusal(tokens)
        if refused is not None:
            return refused
        if tracking_checked and m.tracking is None:
            return error_code("InvalidUserPoolConfigurationException")
        device = m.devices.get(held.key)
        if device is None or (device.username, device.incarnation) != (tokens.username, tokens.incarnation):
            # ConfirmDevice confirms only a key issued to the token's user; the other
            # operations do not tell another user's key from an unknown one
            return error(NO_DEVICE) if visible else error(INVALID_KEY)
        if visible and device.status == "NEW":
            return error(NO_DEVICE)  # unconfirmed keys are unknown to the device operations
        return None

    @precondition(lambda self: self.devices and self.tokens)
    @rule(pick=RECENT, tokens_pick=RECENT, own=st.sampled_from([True, True, True, False]))
    def confirm_device(self, pick, tokens_pick, own):
        """ConfirmDevice, with a verifier the reference client made for the device."""
        m = self.model
        held = self.held_device(pick)
        tokens = self.owners_tokens(held, tokens_pick, own)
        expected = self.device_refusal(tokens, held, tracking_checked=True, visible=False)
        if expected is None and m.devices[held.key].status != "NEW":
            expected = error_code("DeviceKeyExistsException")
        response = self.run(
            "confirm_device", expected or ("ok",), AccessToken=tokens.access, DeviceKey=held.key, DeviceName="laptop",
            DeviceSecretVerifierConfig=device_registration(held.group, held.key, DEVICE_PASSWORD, DEVICE_SALT),
        )
        if expected is None:
            on_prompt = bool(m.tracking.get("DeviceOnlyRememberedOnUserPrompt"))
            assert response["UserConfirmationNecessary"] is on_prompt
            m.devices[held.key].status = "NOT_REMEMBERED" if on_prompt else "REMEMBERED"

    @precondition(lambda self: self.devices and self.tokens)
    @rule(pick=RECENT, tokens_pick=RECENT, own=st.sampled_from([True, True, True, False]),
          status=st.sampled_from(["remembered", "remembered", "not_remembered"]))
    def update_device_status(self, pick, tokens_pick, own, status):
        held = self.held_device(pick)
        tokens = self.owners_tokens(held, tokens_pick, own)
        expected = self.device_refusal(tokens, held, tracking_checked=True, visible=True)
        self.run("update_device_status", expected or ("ok",), AccessToken=tokens.access, DeviceKey=held.key,
                 DeviceRememberedStatus=status)
        if expected is None:
            self.model.devices[held.key].status = status.upper()

    @precondition(lambda self: self.devices and self.tokens)
    @rule(pick=RECENT, tokens_pick=RECENT, own=st.sampled_from([True, True, True, False]))
    def forget_device(self, pick, tokens_pick, own):
        m = self.model
        held = self.held_device(pick)
        tokens = self.owners_tokens(held, tokens_pick, own)
        expected = self.device_refusal(tokens, held, tracking_checked=False, visible=True)
        self.run("forget_device", expected or ("ok",), AccessToken=tokens.access, DeviceKey=held.key)
        if expected is None:  # the record goes, and any sign-in of it under way
            del m.devices[held.key]
            m.pending.pop(held.key, None)

    @precondition(lambda self: self.devices)
    @rule(pick=RECENT, who=WHO, password=st.sampled_from(["right", "right", "right", TEMP, WRONG]),
          admin=st.booleans(), own=st.sampled_from([True, True, True, False]))
    def device_sign_in(self, pick, who, password, admin, own):
        """A password sign-in carrying a device key: as the device's owner (mostly), or as anyone."""
        held = self.held_device(pick)
        self.signing_in(held.username if own else self.existing(who), password, admin, held)

    @precondition(lambda self: self.device_challenges)
    @rule(pick=RECENT, right=st.sampled_from([True, True, True, False]), admin=st.booleans(),
          with_session=st.sampled_from([True, True, True, False]))
    def device_answer(self, pick, right, admin, with_session):
        """DEVICE_SRP_AUTH answered with the device's SRP_A, or DEVICE_PASSWORD_VERIFIER with
        its proof (signed with the device password, or a wrong one); with the challenge's
        Session, or without one (pycognito), when the device's pending sign-in stands for it."""
        m = self.model
        held = self.device_challenges[-1 - pick % len(self.device_challenges)]
        pending = m.pending.get(held.key)
        user = m.current(pending.username, pending.incarnation) if pending else None
        device = m.own_device(held.key, pending.username, user) if user else None
        if pending is None or (with_session and pending.session != held.session):
            expected = error(INVALID_SESSION)  # forgotten (its pending sign-in with it), replaced, or answered
        elif pending.used:
            expected = error(SESSION_USED)
        elif m.now >= pending.expires:
            expected = error(SESSION_EXPIRED)
        elif pending.stage != held.stage:
            expected = error_code("InvalidParameterException")
        elif user is None:
            expected = error(INVALID_SESSION)
        elif not user.enabled:
            expected = error(DISABLED)
        elif pending.issue != user.issue or user.status != "CONFIRMED":
            expected = error(INVALID_SESSION)  # the sign-in it stands on no longer holds
        elif not m.remembered(device):
            expected = error(NO_DEVICE)  # gone, or no longer remembered
        elif held.stage == "DEVICE_SRP_AUTH":
            expected = ("challenge", "DEVICE_PASSWORD_VERIFIER")
        elif held.parameters["SECRET_BLOCK"] != pending.block:
            expected = error(INCORRECT)  # a block a later DEVICE_SRP_AUTH answer replaced: not counted
        elif m.locked(user):
            user.last_attempt = m.now
            expected = error(LOCKED)
        elif not right:
            m.count_failure(user)  # a wrong device proof counts as a wrong password
            expected = error(INCORRECT)
        else:
            m.reset_failures(user)
            pending.used = True
            expected = ("tokens",)
        if held.stage == "DEVICE_SRP_AUTH":
            self._a += 1
            a = self._a
            responses = {"USERNAME": held.typed, "DEVICE_KEY": held.key,
                         "SRP_A": DeviceSrpClient(held.group, held.key, DEVICE_PASSWORD, a).srp_a}
        else:
            a = held.a
            password = DEVICE_PASSWORD if right else WRONG_DEVICE_PASSWORD
            responses = DeviceSrpClient(held.group, held.key, password, a).answer(held.parameters, held.typed, m.now)
        method = "admin_respond_to_auth_challenge" if admin else "respond_to_auth_challenge"
        ids = {"UserPoolId": self.pool} if admin else {}
        session = {"Session": held.session} if with_session else {}
        response = self.run(method, expected, **ids, ClientId=self.app, ChallengeName=held.stage, **session,
                            ChallengeResponses=responses)
        if response is None:
            return
        if response.get("ChallengeName") == "DEVICE_PASSWORD_VERIFIER":
            parameters = response["ChallengeParameters"]
            assert parameters["DEVICE_KEY"] == held.key and parameters["SALT"] == ("00" + DEVICE_SALT.hex())
            pending.session, pending.block = response["Session"], parameters["SECRET_BLOCK"]
            pending.stage = "DEVICE_PASSWORD_VERIFIER"
            self.device_challenges.append(DeviceChallenge(
                session=response["Session"], stage="DEVICE_PASSWORD_VERIFIER", key=held.key, group=held.group,
                typed=parameters["USERNAME"], parameters=parameters, a=a,
            ))
        else:
            self.challenge_or_tokens(response, pending.username, user, device)

    @precondition(lambda self: self.devices)
    @rule(pick=RECENT, admin=st.booleans(), right=st.sampled_from([True, True, True, False]))
    def device_complete_sign_in(self, pick, admin, right):
        """A sign-in with its owner's device answered to the end (SMS_MFA first where the
        device does not stand in for it): the common path."""
        held = self.held_device(pick)
        sessions, challenges = len(self.sessions), len(self.device_challenges)
        self.signing_in(held.username, "right", admin, held)
        if len(self.sessions) > sessions:
            self.respond(0, "good", admin)
        for _ in range(2):
            if len(self.device_challenges) == challenges:
                return
            challenges = len(self.device_challenges)
            self.device_answer(0, right, admin, with_session=True)

    @rule(who=WHO, then=st.sampled_from(["sign in", "sign in", "wrong proof", "no session", "refresh",
                                          "forget", "stop remembering", "another user"]),
          admin=st.booleans())
    def device_story(self, who, then, admin):
        """A device confirmed (and remembered) after a completed sign-in, then at once: a
        device sign-in to the end, one with a wrong device proof, one answered without
        Sessions, a refresh with its key, a sign-in after forgetting it or after it stopped
        being remembered, or another user's sign-in carrying it (such sequences are
        otherwise rare by the time the rules pick them)."""
        devices = len(self.devices)
        self.confirm_new_device(who, remember=True)
        if len(self.devices) == devices or self.model.devices.get(self.devices[-1].key) is None:
            return
        if then in ("sign in", "wrong proof"):
            self.device_complete_sign_in(0, admin, right=then == "sign in")
        elif then == "no session":
            challenges = len(self.device_challenges)
            self.signing_in(self.devices[-1].username, "right", admin, self.devices[-1])
            for _ in range(2):
                if len(self.device_challenges) == challenges:
                    return
                challenges = len(self.device_challenges)
                self.device_answer(0, True, admin, with_session=False)
        elif then == "refresh":
            self.refresh(0, admin, with_key=True)
        elif then in ("forget", "stop remembering"):
            if then == "forget":
                self.forget_device(0, 0, own=True)
            else:
                self.update_device_status(0, 0, own=True, status="not_remembered")
            self.device_complete_sign_in(0, admin, right=True)
            self.refresh(0, admin, with_key=True)
        else:
            others = [n for n in sorted(self.model.users) if n != self.devices[-1].username]
            if others:
                self.signing_in(others[0], "right", admin, self.devices[-1])

    @rule(who=WHO, remember=st.sampled_from([True, True, False]))
    def confirm_new_device(self, who, remember):
        """A completed sign-in, then ConfirmDevice with its tokens (and UpdateDeviceStatus
        remembered where the pool waits for the user's word): devices to sign in with."""
        count = len(self.tokens)
        self.complete_sign_in(who, admin=False)
        if len(self.tokens) == count or not self.devices or self.tokens[-1].device != self.devices[-1].key:
            return
        self.confirm_device(0, 0, own=True)
        device = self.model.devices.get(self.devices[-1].key)
        if remember and device is not None and device.status == "NOT_REMEMBERED":
            self.update_device_status(0, 0, own=True, status="remembered")

    # -- groups ---------------------------------------------------------------------------------------

    def groups_claimed(self, result: dict, name: str, incarnation: int) -> None:
        """Both tokens name exactly the model's groups of the user, in claim order; the ID
        token the roles of those groups (only staff has one)."""
        expected = self.model.groups_of(name, incarnation)
        for key in ("IdToken", "AccessToken"):
            assert claims_of(result[key]).get("cognito:groups") == (expected or None), (key, expected)
        roles = [self.model.groups[g][1] for g in expected if self.model.groups[g][1]]
        assert claims_of(result["IdToken"]).get("cognito:roles") == (roles or None)

    @rule(who=WHO, group=st.sampled_from([*GROUPS, "nobody"]), join=st.sampled_from([True, True, False]))
    def membership(self, who, group, join):
        """AdminAddUserToGroup (idempotent) or AdminRemoveUserFromGroup."""
        m = self.model
        name = self.existing(who)
        user = m.users.get(name)
        # the user is looked up first, then the group
        expected = error(NO_USER) if user is None else error(GROUP_NOT_FOUND) if group not in m.groups else ("ok",)
        method = "admin_add_user_to_group" if join else "admin_remove_user_from_group"
        if self.run(method, expected, UserPoolId=self.pool, Username=name, GroupName=group) is not None:
            entry = (group, name, user.incarnation)
            m.members.add(entry) if join else m.members.discard(entry)

    @rule(group=st.sampled_from(list(GROUPS)), delete=st.booleans())
    def group_life(self, group, delete):
        """DeleteGroup (its memberships go with it) or CreateGroup again (GroupExistsException while it exists)."""
        m = self.model
        if delete:
            expected = error(GROUP_NOT_FOUND) if group not in m.groups else ("ok",)
            if self.run("delete_group", expected, UserPoolId=self.pool, GroupName=group) is not None:
                del m.groups[group]
                m.members = {e for e in m.members if e[0] != group}
            return
        precedence, role = GROUPS[group]
        expected = error_code("GroupExistsException") if group in m.groups else ("ok",)
        if self.run("create_group", expected, UserPoolId=self.pool, GroupName=group, Precedence=precedence,
                    **({"RoleArn": role} if role else {})) is not None:
            m.groups[group] = GROUPS[group]

    @rule(who=WHO, admin=st.booleans(), group=st.sampled_from(list(GROUPS)))
    def group_story(self, who, admin, group):
        """Join a group, sign in (the tokens name it), leave it, refresh (they no longer do)."""
        self.membership(who, group, True)
        count = len(self.tokens)
        self.complete_sign_in(who, admin)
        self.membership(who, group, False)
        if len(self.tokens) > count:
            self.refresh(0, admin, with_key=True)

    # -- TOTP -----------------------------------------------------------------------------------------

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT, prefer=st.sampled_from([True, True, False]))
    def enrol_totp(self, pick, prefer):
        """AssociateSoftwareToken and VerifySoftwareToken by access token with pyotp's current
        code, then SetUserMFAPreference turning TOTP on (preferred) or off."""
        m = self.model
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        refused = self.access_refusal(tokens)
        response = self.run("associate_software_token", refused or ("ok",), AccessToken=tokens.access)
        if response is None:
            return
        user, secret = m.users[tokens.username], response["SecretCode"]
        code = pyotp.TOTP(secret).at(int(m.now.timestamp()))
        self.run("verify_software_token", ("ok",), AccessToken=tokens.access, UserCode=code)
        user.totp_secret, user.totp_last, user.totp_code = secret, int(m.now.timestamp()) // 30, code
        self.set_totp(tokens, prefer)

    def set_totp(self, tokens: ModelTokens, on: bool) -> None:
        settings_ = {"Enabled": True, "PreferredMfa": True} if on else {"Enabled": False}
        user = self.model.current(tokens.username, tokens.incarnation)
        refused = self.access_refusal(tokens)
        if refused is None and on and user.totp_secret is None:
            refused = error_code("InvalidParameterException")
        if self.run("set_user_mfa_preference", refused or ("ok",), AccessToken=tokens.access,
                    SoftwareTokenMfaSettings=settings_) is not None:
            user.totp_on = on

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT, on=st.booleans())
    def totp_preference(self, pick, on):
        self.set_totp(self.tokens[-1 - pick % len(self.tokens)], on)

    @precondition(lambda self: any(s.challenge == "SOFTWARE_TOKEN_MFA" for s in self.sessions))
    @rule(pick=RECENT, which=st.sampled_from(["current", "current", "previous", "replayed", "wrong"]),
          admin=st.booleans())
    def totp_answer(self, pick, which, admin):
        """SOFTWARE_TOKEN_MFA with the current step's code, the previous step's, the last
        code accepted (a replay) or a wrong one."""
        m = self.model
        waiting = [s for s in self.sessions if s.challenge == "SOFTWARE_TOKEN_MFA"]
        session = waiting[-1 - pick % len(waiting)]
        user = m.current(session.username, session.incarnation)
        device = m.own_device(session.device, session.username, user) if user else None
        secret = user.totp_secret if user else None
        now = int(m.now.timestamp())
        if secret is None:
            code = "123456"
        elif which == "replayed" and user.totp_code:
            code = user.totp_code
        elif which == "wrong":
            current = pyotp.TOTP(secret).at(now)
            code = "000000" if current != "000000" else "111111"
        else:
            code = pyotp.TOTP(secret).at(now - (30 if which == "previous" else 0))
        if session.used:
            expected = error(SESSION_USED)
        elif m.now >= session.expires:
            expected = error(SESSION_EXPIRED)
        elif user is None:
            expected = error(INVALID_SESSION)
        elif not user.enabled:
            expected = error(DISABLED)
        elif session.issue != user.issue or user.status != "CONFIRMED":
            expected = error(INVALID_SESSION)
        elif session.device is not None and device is None:
            expected = error(NO_DEVICE)
        elif m.locked(user):
            user.last_attempt = m.now
            expected = error(LOCKED)
        else:
            steps = totp_steps(secret, code, m.now)
            if not steps or (user.totp_last is not None and steps[0] <= user.totp_last):
                m.count_failure(user)  # wrong and used codes count like wrong passwords
                expected = error(TOTP_USED if steps else TOTP_MISMATCH)
            else:
                m.reset_failures(user)
                session.used = True
                user.totp_last, user.totp_code = steps[0], code
                expected = self.next_step(user, device, after_mfa=True)
        method = "admin_respond_to_auth_challenge" if admin else "respond_to_auth_challenge"
        ids = {"UserPoolId": self.pool} if admin else {}
        response = self.run(method, expected, **ids, ClientId=self.app, ChallengeName="SOFTWARE_TOKEN_MFA",
                            Session=session.session,
                            ChallengeResponses={"USERNAME": session.username, "SOFTWARE_TOKEN_MFA_CODE": code})
        if response is not None:
            self.challenge_or_tokens(response, session.username, user, device)

    @rule(who=WHO, then=st.sampled_from(["current", "replayed", "previous", "wrong", "next step", "next step"]),
          admin=st.booleans())
    def totp_story(self, who, then, admin):
        """A completed sign-in, an authenticator enrolled and preferred, then a TOTP sign-in
        answered at once (a replay of the verification code, the previous step's, a wrong
        one, or the next step's after 30 s): such sequences are otherwise rare."""
        count = len(self.tokens)
        self.complete_sign_in(who, admin)
        if len(self.tokens) == count:
            return
        self.enrol_totp(0, True)
        if then == "next step":
            self.advance(30)
            then = "current"
        sessions = len(self.sessions)
        self.sign_in(who, by_email=False, password="right", admin=admin)
        if len(self.sessions) > sessions and self.sessions[-1].challenge == "SOFTWARE_TOKEN_MFA":
            self.totp_answer(0, then, admin)

    # -- agreement after every step ---------------------------------------------------------------------

    @invariant()
    def users_agree(self):
        for name in NAMES:
            model = self.model.users.get(name)
            try:
                got = self.client.admin_get_user(UserPoolId=self.pool, Username=name)
            except self.client.exceptions.UserNotFoundException:
                assert model is None, f"{name} is missing"
                continue
            assert model is not None, f"{name} exists but the model has no such user"
            attributes = {a["Name"]: a["Value"] for a in got["UserAttributes"]}
            assert got["UserStatus"] == model.status
            assert got["Enabled"] == model.enabled
            assert attributes.get("email") == model.email
            assert (attributes.get("email_verified") == "true") == model.verified
            assert ("SMS_MFA" in got.get("UserMFASettingList", [])) == model.sms_mfa
            assert ("SOFTWARE_TOKEN_MFA" in got.get("UserMFASettingList", [])) == model.totp_on
            listed = self.client.admin_list_groups_for_user(UserPoolId=self.pool, Username=name)["Groups"]
            assert [g["GroupName"] for g in listed] == self.model.groups_of(name, model.incarnation)

    @invariant()
    def devices_agree(self):
        """Each user's confirmed devices, and whether each is remembered (NEW ones are unlisted)."""
        for name, user in self.model.users.items():
            listed = self.client.admin_list_devices(UserPoolId=self.pool, Username=name)["Devices"]
            got = {d["DeviceKey"]: {a["Name"]: a["Value"] for a in d["DeviceAttributes"]}["dev:device_remembered_status"]
                   for d in listed}
            expected = {k: d.status.lower() for k, d in self.model.devices.items()
                        if (d.username, d.incarnation) == (name, user.incarnation) and d.status != "NEW"}
            assert got == expected, (name, got, expected)

    @invariant()
    def aliases_agree(self):
        for email in EMAILS:
            try:
                got = self.client.admin_get_user(UserPoolId=self.pool, Username=email)["Username"]
            except self.client.exceptions.UserNotFoundException:
                got = None
            assert got == self.model.holder(email)


def test_the_engine_agrees_with_the_model_and_keeps_every_invariant():
    LifecycleMachine.total_steps = 0
    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            settings.default, stateful_step_count=STEPS_PER_RUN, deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert LifecycleMachine.total_steps >= MIN_TOTAL_STEPS, (
        f"only {LifecycleMachine.total_steps} steps ran under the {PROFILE!r} profile"
    )
