"""The whole implemented user lifecycle against a small, obviously-correct model.

A Hypothesis state machine drives the public Client in an email-alias pool with
optional SMS MFA: AdminCreateUser (with and without an email, verified or not,
with ForceAliasCreation, SUPPRESS or an email invitation, RESEND), sign-in
(USER_PASSWORD_AUTH and ADMIN_USER_PASSWORD_AUTH, by username or email, with the
temporary, the new or a wrong password), answers to NEW_PASSWORD_REQUIRED and
SMS_MFA (good, weak, same as the temporary password, wrong code, replayed),
REFRESH_TOKEN_AUTH, GlobalSignOut, AdminUserGlobalSignOut, RevokeToken,
disable/enable, email changes and deletion, MFA preference, delete, and clock
jumps across the session lifetime, the lockout, the access-token lifetime and the
temporary-password window.

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

from authflow.adapters import ManualClock
from authflow.errors import CognitoError
from authflow.invariants import Checker
from tests.conftest import START, make_client

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
STEPS_PER_RUN = {"ci": 50, "thorough": 100}.get(PROFILE, 30)
#: The fewest steps the whole test must have run under each profile.
MIN_TOTAL_STEPS = {"ci": 2_000, "thorough": 50_000}.get(PROFILE, 500)

NAMES = ["ann", "ben", "cat"]
EMAILS = ["x@example.com", "y@example.com"]
PHONES = {"ann": "+12065550100", "ben": "+12065550101", "cat": "+12065550102"}
TEMP, NEW, WRONG, WEAK = "Temp1234!", "NewPass1!x", "Wrong1234!", "weak"
MARKER = "validation-data-never-stored"
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
SESSION_USED = ("NotAuthorizedException", "Invalid session for the user, session can only be used once.")
SESSION_EXPIRED = ("NotAuthorizedException", "Invalid session for the user, session is expired.")
INVALID_SESSION = ("NotAuthorizedException", "Invalid session for the user.")
REFRESH_INVALID = ("NotAuthorizedException", "Invalid Refresh Token")
REFRESH_REVOKED = ("NotAuthorizedException", "Refresh Token has been revoked")
REFRESH_EXPIRED = ("NotAuthorizedException", "Refresh Token has expired")
ACCESS_EXPIRED = ("NotAuthorizedException", "Access Token has expired")
ACCESS_REVOKED = ("NotAuthorizedException", "Access Token has been revoked")


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


@dataclass
class Model:
    now: datetime = START
    users: dict[str, ModelUser] = field(default_factory=dict)
    incarnations: int = 0

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


class LifecycleMachine(RuleBasedStateMachine):
    total_steps = 0

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(START)
        self.client = make_client(clock=self.clock)
        self.pool = self.client.create_user_pool(
            PoolName="m", AliasAttributes=["email"], MfaConfiguration="OPTIONAL", SmsConfiguration=SMS_CONFIG,
        )["UserPool"]["Id"]
        self.app = self.client.create_user_pool_client(
            UserPoolId=self.pool, ClientName="c",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        self.checker = Checker(self.client)
        self.model = Model()
        self.sessions: list[ModelSession] = []
        self.tokens: list[ModelTokens] = []

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

    def sms_code(self, username: str) -> str | None:
        for message in reversed(self.client.messenger.messages):
            if message.kind == "mfa_code" and message.username == username:
                return re.search(r"\d{6}", message.body).group()
        return None

    def challenge_or_tokens(self, response: dict, name: str, user: ModelUser) -> None:
        """Record what a successful sign-in step returned, as the model expects it."""
        if "AuthenticationResult" in response:
            result = response["AuthenticationResult"]
            self.tokens.append(ModelTokens(
                refresh=result["RefreshToken"], access=result["AccessToken"], username=name,
                incarnation=user.incarnation, generation=user.generation, expires=self.model.now + REFRESH_LIFETIME,
                access_expires=self.model.now + ACCESS_LIFETIME,
            ))
        else:
            challenge = response["ChallengeName"]
            self.sessions.append(ModelSession(
                session=response["Session"], username=name, incarnation=user.incarnation, challenge=challenge,
                expires=self.model.now + SESSION_LIFETIME,
                code=self.sms_code(name) if challenge == "SMS_MFA" else None,
                issue=user.issue,
            ))

    def next_step(self, user: ModelUser) -> tuple:
        """After a correct password or answer: NEW_PASSWORD_REQUIRED, SMS_MFA or tokens."""
        if user.status == "FORCE_CHANGE_PASSWORD":
            return ("challenge", "NEW_PASSWORD_REQUIRED")
        if user.sms_mfa:
            return ("challenge", "SMS_MFA")
        return ("tokens",)

    # -- AdminCreateUser ------------------------------------------------------------------------------

    @initialize()
    def two_users(self):
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
        m = self.model
        login = self.existing(who)
        if by_email:
            login = m.users[login].email if login in m.users and m.users[login].email else EMAILS[who % len(EMAILS)]
        name = m.named(login)
        if password == "right":
            password = m.users[name].password if name else NEW
        user = m.users.get(name) if name else None
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
            else:
                expected = self.next_step(user)
        parameters = {"USERNAME": login, "PASSWORD": password}
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
            self.challenge_or_tokens(response, name, user)

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
        user = m.current(session.username, session.incarnation)
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
            else:
                user.status, user.password = "CONFIRMED", NEW
                user.issue += 1
                session.used = True
                expected = self.next_step(user)
        elif m.locked(user):
            user.last_attempt = m.now
            expected = error(LOCKED)
        elif responses["SMS_MFA_CODE"] != session.code:
            m.count_failure(user)
            expected = ("error", "CodeMismatchException", "Invalid code received for user")
        else:
            m.reset_failures(user)
            session.used = True
            expected = ("tokens",)
        method = "admin_respond_to_auth_challenge" if admin else "respond_to_auth_challenge"
        ids = {"UserPoolId": self.pool} if admin else {}
        response = self.run(
            method, expected, **ids, ClientId=self.app, ChallengeName=session.challenge, Session=session.session,
            ChallengeResponses=responses,
        )
        if response is not None:
            self.challenge_or_tokens(response, session.username, user)

    # -- tokens ---------------------------------------------------------------------------------------

    def family_state(self, tokens: ModelTokens) -> tuple | None:
        """Why a refresh with this family fails, or None when it works."""
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
        return None

    @precondition(lambda self: self.tokens)
    @rule(pick=RECENT, admin=st.booleans())
    def refresh(self, pick, admin):
        tokens = self.tokens[-1 - pick % len(self.tokens)]
        expected = self.family_state(tokens) or ("tokens",)
        parameters = {"REFRESH_TOKEN": tokens.refresh}
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
            assert "RefreshToken" not in result
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
        self.run("admin_update_user_attributes", expected, UserPoolId=self.pool, Username=name,
                 UserAttributes=attributes)
        if expected == ("ok",):
            if verified:
                user.verified = True
            elif email != user.email:
                user.verified = False
            user.email = email

    @rule(who=WHO)
    def delete_email(self, who):
        user = self.admin("admin_delete_user_attributes", self.existing(who), UserAttributeNames=["email"])
        if user:
            user.email, user.verified = None, False

    @rule(who=WHO, enabled=st.booleans())
    def set_mfa(self, who, enabled):
        user = self.admin("admin_set_user_mfa_preference", self.existing(who), SMSMfaSettings={"Enabled": enabled})
        if user:
            user.sms_mfa = enabled

    @rule(who=WHO)
    def delete(self, who):
        name = self.existing(who)
        if self.admin("admin_delete_user", name):
            del self.model.users[name]

    @rule(seconds=st.sampled_from([1, 2, 30, 181, 899, 901, 3601, 7 * 86400]))
    def advance(self, seconds):
        self.checker.advance(self.clock, timedelta(seconds=seconds))
        self.model.now += timedelta(seconds=seconds)

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
