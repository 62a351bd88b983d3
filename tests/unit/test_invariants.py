"""Each invariant of `authflow.invariants` accepts a good step and detects a
hand-made violating one (records edited with `dataclasses.replace`, or a step
whose request, time or history was changed after the fact)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from authflow.conformance.srp_client import DeviceSrpClient, SrpClient, device_registration
from authflow.core.codes import MAX_ATTEMPTS
from authflow.core.lifecycle import IllegalTransition
from authflow.core.records import FailedSignIns, SoftwareToken
from authflow.errors import (
    CodeMismatchException,
    CognitoError,
    InternalErrorException,
    NotAuthorizedException,
)
from authflow.invariants import (
    INVARIANTS,
    Checker,
    History,
    InvariantViolated,
    Records,
    Step,
    block_id,
    check,
    observe,
    session_id,
    token_hash,
)
from tests.conftest import START
from tests.signin import DEVICE_SALT, NEW, TEMP, DeviceCredentials, Env, totp_code, tracking
from tests.unit.test_custom_auth import QUESTIONS, SrpQuiz
from tests.unit.test_explore_passwordless import PASSWORDLESS_CASES
from tests.unit.test_triggers import TriggerEnv

MARKER = "never-store-this-value"
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
PHONE = "+12065554567"


class Scenario:
    """A pool with an email alias that auto-verifies emails (so SignUp sends a code), its
    app client, and steps recorded as `Step`s with the messages they delivered."""

    def __init__(self) -> None:
        self.env = Env()
        self.client = self.env.client
        self.pool = self.env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
        self.app = self.env.app_id(self.pool)
        self.history = History()

    def step(self, method: str, operation: str, **request) -> Step:
        before = Records.of(self.client.store)
        now = self.client.engine.now()
        sent = len(self.env.outbox.messages)
        response, error = None, None
        try:
            response = getattr(self.client, method)(**request)
        except CognitoError as err:
            error = err
        step = Step(
            operation=operation, request=request, response=response, error=error, before=before,
            after=Records.of(self.client.store), now=now, history=self.history,
            messages=tuple(self.env.outbox.messages[sent:]),
        )
        self.history = observe(self.history, step)
        return step

    def create(self, name="alice", email=None, **extra) -> Step:
        attributes = []
        if email:
            attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
        return self.step(
            "admin_create_user", "AdminCreateUser", UserPoolId=self.pool, Username=name, TemporaryPassword=TEMP,
            MessageAction="SUPPRESS", UserAttributes=attributes, **extra,
        )

    def initiate(self, name="alice", password=TEMP) -> Step:
        return self.step(
            "initiate_auth", "InitiateAuth", ClientId=self.app, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": password},
        )

    def answer(self, session: str, name="alice") -> Step:
        return self.step(
            "respond_to_auth_challenge", "RespondToAuthChallenge", ClientId=self.app,
            ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
            ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": NEW},
        )

    def signed_in(self, name="alice") -> Step:
        """Create `name` and complete the first sign-in; the step that issued tokens."""
        self.create(name)
        return self.answer(self.initiate(name).response["Session"], name)

    def refresh(self, token: str) -> Step:
        return self.step(
            "initiate_auth", "InitiateAuth", ClientId=self.app, AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": token},
        )

    def sign_up(self, name="alice", email="alice@example.com") -> Step:
        return self.step(
            "sign_up", "SignUp", ClientId=self.app, Username=name, Password=NEW,
            UserAttributes=[{"Name": "email", "Value": email}],
        )

    def confirm(self, code: str, name="alice") -> Step:
        return self.step("confirm_sign_up", "ConfirmSignUp", ClientId=self.app, Username=name, ConfirmationCode=code)

    def last_code(self) -> str:
        return re.search(r"\d{6}", self.env.outbox.last().body).group()

    def confirmed_with_tokens(self, name="alice") -> dict:
        """Sign `name` up, confirm with the code sent, sign in: the AuthenticationResult."""
        self.sign_up(name)
        assert self.confirm(self.last_code(), name).ok
        return self.initiate(name, NEW).response["AuthenticationResult"]


class Flows(Scenario):
    """The Scenario's pool with the custom-auth functions of tests/unit/test_custom_auth.py
    (`SrpQuiz`: three questions; after SRP_A, the password proof first), its app client
    (every flow allowed) and one that hides unknown users (PreventUserExistenceErrors)."""

    def __init__(self) -> None:
        quiz = SrpQuiz()
        self.env = TriggerEnv(DefineAuthChallenge=quiz.define, CreateAuthChallenge=quiz.create,
                              VerifyAuthChallengeResponse=quiz.verify)
        self.client = self.env.client
        self.pool = self.env.pool(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
        self.app = self.env.app_id(self.pool)
        self.hidden = self.env.app_id(self.pool, PreventUserExistenceErrors="ENABLED")
        self.history = History()
        self._a = 0xA11CE

    def confirmed(self, name="alice") -> None:
        self.create(name)
        self.step("admin_set_user_password", "AdminSetUserPassword", UserPoolId=self.pool, Username=name,
                  Password=NEW, Permanent=True)

    def srp_start(self, name="alice", *, custom=False) -> tuple[SrpClient, Step]:
        self._a += 1
        srp = SrpClient(self.pool, self._a)
        parameters = {"USERNAME": name, "SRP_A": srp.srp_a}
        if custom:
            parameters["CHALLENGE_NAME"] = "SRP_A"
        started = self.step("initiate_auth", "InitiateAuth", ClientId=self.app,
                            AuthFlow="CUSTOM_AUTH" if custom else "USER_SRP_AUTH", AuthParameters=parameters)
        return srp, started

    def srp_answer(self, srp: SrpClient, started: Step, password: str, *, tell=True) -> Step:
        """Answer PASSWORD_VERIFIER; `tell`: the invariants learn which password signed the claim."""
        responses = srp.answer(started.response["ChallengeParameters"], password, self.env.clock.now())
        if tell:
            self.history = self.history.signed(responses["PASSWORD_CLAIM_SIGNATURE"], password)
        return self.step("respond_to_auth_challenge", "RespondToAuthChallenge", ClientId=self.app,
                         ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses)

    def custom_start(self, name="alice", *, hidden=False) -> Step:
        return self.step("initiate_auth", "InitiateAuth", ClientId=self.hidden if hidden else self.app,
                         AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": name})

    def custom_answer(self, challenged: Step, answer: str, name="alice", *, hidden=False) -> Step:
        return self.step("respond_to_auth_challenge", "RespondToAuthChallenge",
                         ClientId=self.hidden if hidden else self.app, ChallengeName="CUSTOM_CHALLENGE",
                         Session=challenged.response["Session"], ChallengeResponses={"USERNAME": name, "ANSWER": answer})


class Devices(Scenario):
    """A pool that tracks devices (a confirmed device is remembered at once and stands in
    for MFA when `challenge_required`), with SMS MFA a user may turn on, its app client,
    and CONFIRMED users with phone numbers; devices confirmed and answered through the
    reference client (authflow/conformance/srp_client.py)."""

    def __init__(self, *, challenge_required: bool = True) -> None:
        self.env = Env()
        self.client = self.env.client
        self.pool = self.env.pool(DeviceConfiguration=tracking(challenge_required=challenge_required),
                                  MfaConfiguration="OPTIONAL", SmsConfiguration=SMS_CONFIG)
        self.app = self.env.app_id(self.pool)
        self.history = History()

    def confirmed(self, name="alice") -> None:
        self.step("admin_create_user", "AdminCreateUser", UserPoolId=self.pool, Username=name, TemporaryPassword=TEMP,
                  MessageAction="SUPPRESS", UserAttributes=[{"Name": "phone_number", "Value": PHONE}])
        self.step("admin_set_user_password", "AdminSetUserPassword", UserPoolId=self.pool, Username=name,
                  Password=NEW, Permanent=True)

    def sign_in(self, name="alice", device: DeviceCredentials | None = None) -> Step:
        parameters = {"USERNAME": name, "PASSWORD": NEW}
        if device is not None:
            parameters["DEVICE_KEY"] = device.key
        return self.step("initiate_auth", "InitiateAuth", ClientId=self.app, AuthFlow="USER_PASSWORD_AUTH",
                         AuthParameters=parameters)

    def with_device(self, name="alice") -> tuple[DeviceCredentials, dict]:
        """`name` signed in and its new device confirmed (remembered): the device, and the tokens."""
        result = self.sign_in(name).response["AuthenticationResult"]
        metadata = result["NewDeviceMetadata"]
        device = DeviceCredentials(metadata["DeviceKey"], metadata["DeviceGroupKey"])
        confirmed = self.step("confirm_device", "ConfirmDevice", AccessToken=result["AccessToken"], DeviceKey=device.key,
                              DeviceSecretVerifierConfig=device_registration(device.group, device.key, device.password,
                                                                             DEVICE_SALT))
        assert confirmed.ok, confirmed.error
        return device, result

    def device_answers(self, started: Step, device: DeviceCredentials, name="alice", *, password=None) -> Step:
        """DEVICE_SRP_AUTH, then DEVICE_PASSWORD_VERIFIER (signed with `password`, the device's by default)."""
        assert started.response["ChallengeName"] == "DEVICE_SRP_AUTH", started.response
        srp = DeviceSrpClient(device.group, device.key, password or device.password, 0xD1CE)
        verifier = self.step("respond_to_auth_challenge", "RespondToAuthChallenge", ClientId=self.app,
                             ChallengeName="DEVICE_SRP_AUTH", Session=started.response["Session"],
                             ChallengeResponses={"USERNAME": name, "DEVICE_KEY": device.key, "SRP_A": srp.srp_a})
        return self.step("respond_to_auth_challenge", "RespondToAuthChallenge", ClientId=self.app,
                         ChallengeName="DEVICE_PASSWORD_VERIFIER", Session=verifier.response["Session"],
                         ChallengeResponses=srp.answer(verifier.response["ChallengeParameters"], name,
                                                       self.env.clock.now()))

    def mfa_on(self, name="alice") -> None:
        assert self.step("admin_set_user_mfa_preference", "AdminSetUserMFAPreference", UserPoolId=self.pool,
                         Username=name, SMSMfaSettings={"Enabled": True, "PreferredMfa": True}).ok


ROLE = "arn:aws:iam::123456789012:role/staff"


class Groups(Scenario):
    """A pool with two groups whose claim order is not their name order ("staff",
    precedence 1 with a role; "admins", precedence 5), its app client, CONFIRMED users."""

    def __init__(self) -> None:
        self.env = Env()
        self.client = self.env.client
        self.pool = self.env.pool()
        self.app = self.env.app_id(self.pool)
        self.history = History()
        for name, extra in (("staff", {"Precedence": 1, "RoleArn": ROLE}), ("admins", {"Precedence": 5})):
            assert self.step("create_group", "CreateGroup", UserPoolId=self.pool, GroupName=name, **extra).ok

    def confirmed(self, name="alice") -> None:
        self.create(name)
        assert self.step("admin_set_user_password", "AdminSetUserPassword", UserPoolId=self.pool, Username=name,
                         Password=NEW, Permanent=True).ok

    def member(self, group: str, name="alice", *, join: bool = True) -> Step:
        method, operation = ("admin_add_user_to_group", "AdminAddUserToGroup") if join else (
            "admin_remove_user_from_group", "AdminRemoveUserFromGroup")
        return self.step(method, operation, UserPoolId=self.pool, Username=name, GroupName=group)


class Totp(Scenario):
    """A pool offering TOTP (SetUserPoolMfaConfig `mode`), its app client, CONFIRMED users;
    codes from pyotp on the manual clock."""

    def __init__(self, mode: str = "OPTIONAL") -> None:
        self.env = Env()
        self.client = self.env.client
        self.pool = self.env.pool()
        self.client.set_user_pool_mfa_config(UserPoolId=self.pool, MfaConfiguration=mode,
                                             SoftwareTokenMfaConfiguration={"Enabled": True})
        self.app = self.env.app_id(self.pool)
        self.history = History()

    def confirmed(self, name="alice") -> None:
        self.create(name)
        self.step("admin_set_user_password", "AdminSetUserPassword", UserPoolId=self.pool, Username=name,
                  Password=NEW, Permanent=True)

    def enrolled(self, name="alice") -> str:
        """`name` CONFIRMED, signed in, its authenticator verified and preferred: the secret."""
        self.confirmed(name)
        access = self.initiate(name, NEW).response["AuthenticationResult"]["AccessToken"]
        secret = self.step("associate_software_token", "AssociateSoftwareToken", AccessToken=access).response["SecretCode"]
        assert self.step("verify_software_token", "VerifySoftwareToken", AccessToken=access,
                         UserCode=totp_code(secret, self.env.clock.now())).ok
        assert self.step("set_user_mfa_preference", "SetUserMFAPreference", AccessToken=access,
                         SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}).ok
        self.env.clock.advance(timedelta(seconds=30))  # the verification used this step's code
        return secret

    def answer_code(self, session: str, code: str, name="alice") -> Step:
        return self.step("respond_to_auth_challenge", "RespondToAuthChallenge", ClientId=self.app,
                         ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
                         ChallengeResponses={"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": code})


class Rotation(Scenario):
    """A pool, an app client that rotates refresh tokens (RetryGracePeriodSeconds `GRACE`),
    and a CONFIRMED alice signed in through it."""

    GRACE = 5

    def __init__(self) -> None:
        self.env = Env()
        self.client = self.env.client
        self.pool = self.env.pool()
        self.app = self.env.app_id(self.pool, RefreshTokenRotation={"Feature": "ENABLED",
                                                                    "RetryGracePeriodSeconds": self.GRACE})
        self.history = History()
        self.create()
        assert self.step("admin_set_user_password", "AdminSetUserPassword", UserPoolId=self.pool, Username="alice",
                         Password=NEW, Permanent=True).ok
        self.first = self.initiate("alice", NEW).response["AuthenticationResult"]

    def rotate(self, token: str) -> Step:
        return self.step("get_tokens_from_refresh_token", "GetTokensFromRefreshToken", ClientId=self.app,
                         RefreshToken=token)

    def later(self, seconds: int) -> None:
        self.env.clock.advance(timedelta(seconds=seconds))


def names(step: Step, only: str) -> list[str]:
    return [v.invariant for v in check(step, [only])]


def with_user(records: Records, username: str, **changes) -> Records:
    users = tuple(replace(u, **changes) if u.username == username else u for u in records.users)
    return replace(records, users=users)


def user_in(records: Records, username: str):
    return next(u for u in records.users if u.username == username)


def with_code(records: Records, username: str, purpose: str, **changes) -> Records:
    """`records` with one pending code of `username` changed."""
    codes = dict(user_in(records, username).codes)
    codes[purpose] = replace(codes[purpose], **changes)
    return with_user(records, username, codes=codes)


def jwt_claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# -- one case per invariant: (a good step, a violating step) ----------------------------------------


def status_declared():
    s = Scenario()
    good = s.create()
    return good, replace(good, after=with_user(good.after, "alice", status="ABSENT"))


def verified_alias_single_holder():
    s = Scenario()
    s.create("alice", "shared@example.com")
    good = s.create("bob")
    bob_claims = {**next(u for u in good.after.users if u.username == "bob").attributes,
                  "email": "shared@example.com", "email_verified": "true"}
    return good, replace(good, after=with_user(good.after, "bob", attributes=bob_claims))


def unique_usernames_and_subs():
    s = Scenario()
    s.create("alice")
    good = s.create("bob")
    alice = next(u for u in good.after.users if u.username == "alice")
    bad = with_user(good.after, "bob", sub=alice.sub, attributes={"sub": alice.sub})
    return good, replace(good, after=bad)


def tokens_only_to_signed_in_users():
    s = Scenario()
    good = s.signed_in()
    # the same tokens, had the user been disabled, or never left FORCE_CHANGE_PASSWORD
    return good, replace(good, before=with_user(good.before, "alice", enabled=False))


def temporary_password_expires():
    s = Scenario()
    s.create()
    good = s.initiate()
    assert good.response["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    return good, replace(good, now=START + timedelta(days=7))


def password_must_match():
    s = Scenario()
    s.create()
    good = s.initiate()
    return good, replace(good, request={**good.request, "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Other1!x"}})


def session_single_use():
    s = Scenario()
    s.create()
    good = s.answer(s.initiate().response["Session"])
    assert good.ok
    return good, replace(good, history=replace(good.history, succeeded_sessions=frozenset({
        session_id(good.request["Session"])})))


def validation_data_never_stored():
    s = Scenario()
    good = s.create(ValidationData=[{"Name": "v", "Value": MARKER}])
    alice = next(u for u in good.after.users if u.username == "alice")
    bad = with_user(good.after, "alice", attributes={**alice.attributes, "nickname": f"<{MARKER}>"})
    return good, replace(good, after=bad)


def refusal_changes_nothing():
    s = Scenario()
    s.create()
    good = s.create()  # UsernameExistsException
    assert good.error is not None
    changed = with_user(good.after, "alice", enabled=False)
    return good, replace(good, after=changed)


def revoked_refresh_token_yields_nothing():
    s = Scenario()
    token = s.signed_in().response["AuthenticationResult"]["RefreshToken"]
    good = s.refresh(token)
    assert good.ok
    return good, replace(good, history=replace(good.history, revoked_tokens=frozenset({token_hash(token)})))


def lockout_within_schedule():
    s = Scenario()
    s.create()
    good = s.initiate(password="Wrong1234!")
    assert good.error is not None and len(good.after.failed_sign_ins) == 1
    counter = good.after.failed_sign_ins[0]
    too_long = replace(counter, count=6, locked_until=counter.last_attempt + timedelta(seconds=3))
    return good, replace(good, after=replace(good.after, failed_sign_ins=(too_long,)))


def no_internal_error():
    s = Scenario()
    good = s.create()
    return good, replace(good, response=None, error=InternalErrorException("Internal server error."))


def codes_never_stored():
    s = Scenario()
    good = s.sign_up()
    assert good.messages and good.response["CodeDeliveryDetails"]["AttributeName"] == "email"
    # the code itself where its keyed hash belongs
    return good, replace(good, after=with_code(good.after, "alice", "confirm_sign_up", code_hash=s.last_code()))


def codes_within_limits():
    s = Scenario()
    s.sign_up()
    good = s.confirm(wrong(s.last_code()))  # refused, and counted once on the code
    assert isinstance(good.error, CodeMismatchException)
    assert user_in(good.after, "alice").codes["confirm_sign_up"].attempts == 1
    return good, replace(good, after=with_code(good.after, "alice", "confirm_sign_up", attempts=2))


def code_must_match():
    s = Scenario()
    s.sign_up()
    code = s.last_code()
    good = s.confirm(code)
    assert good.ok
    # the same success, had the engine been given another code
    return good, replace(good, request={**good.request, "ConfirmationCode": wrong(code)})


def deleted_users_stay_out():
    s = Scenario()
    tokens = s.signed_in().response["AuthenticationResult"]
    good = s.step("get_user", "GetUser", AccessToken=tokens["AccessToken"])
    assert good.ok
    # the same success, had alice been deleted before the request
    gone = replace(good.before, users=tuple(u for u in good.before.users if u.username != "alice"))
    return good, replace(good, before=gone)


def custom_challenge_secrets_sealed():
    s = Flows()
    s.confirmed()
    good = s.custom_start()
    assert good.response["ChallengeName"] == "CUSTOM_CHALLENGE"
    # the same session, had the engine kept its progress as base64 of the plain JSON
    plain = base64.b64encode(json.dumps({"private": {"answer": QUESTIONS[0][1]}}).encode()).decode()
    sessions = tuple(replace(r, progress=plain) if r.progress else r for r in good.after.sessions)
    return good, replace(good, after=replace(good.after, sessions=sessions))


def unknown_users_never_sign_in():
    s = Flows()
    good = s.custom_start("nobody", hidden=True)  # a simulated challenge
    assert good.response["ChallengeName"] == "CUSTOM_CHALLENGE"
    return good, replace(good, response={"AuthenticationResult": {"AccessToken": "x"}, "ChallengeParameters": {}})


def forgotten_device_never_signs_in():
    s = Devices()
    s.confirmed()
    device, _ = s.with_device()
    good = s.sign_in(device=device)
    assert good.response["ChallengeName"] == "DEVICE_SRP_AUTH"
    # the same step, had the caller forgotten the device before
    forgotten = replace(good.history, forgotten_devices=frozenset({(s.pool, device.key)}))
    return good, replace(good, history=forgotten)


def device_single_owner():
    s = Devices()
    s.confirmed("alice")
    s.confirmed("bob")
    device, _ = s.with_device("alice")
    good = s.sign_in("alice", device=device)
    bob = user_in(good.before, "bob")
    # the same sign-in, had the device been issued to bob
    issued = replace(good.history, device_owners=frozenset({(s.pool, device.key, bob.sub)}))
    return good, replace(good, history=issued)


def mfa_skipped_only_on_remembered_devices():
    s = Devices()
    s.confirmed()
    device, _ = s.with_device()
    s.mfa_on()
    good = s.sign_in(device=device)
    assert good.response["ChallengeName"] == "DEVICE_SRP_AUTH"  # the remembered device stands in for SMS_MFA
    devices = tuple(replace(d, status="NOT_REMEMBERED") for d in good.before.devices)
    return good, replace(good, before=replace(good.before, devices=devices))


def device_sign_in_tokens_carry_its_key():
    s = Devices()
    s.confirmed()
    device, _ = s.with_device()
    good = s.device_answers(s.sign_in(device=device), device)
    assert "AuthenticationResult" in good.response and "NewDeviceMetadata" not in good.response["AuthenticationResult"]
    # the same tokens, had the answer carried another device's key
    other = {**good.request["ChallengeResponses"], "DEVICE_KEY": device.key[:-4] + "0000"}
    return good, replace(good, request={**good.request, "ChallengeResponses": other})


def new_device_metadata_only_for_unknown_devices():
    s = Devices()
    s.confirmed()
    device, _ = s.with_device()
    good = s.sign_in()  # no device key: a new device
    assert good.response["AuthenticationResult"]["NewDeviceMetadata"]["DeviceKey"] != device.key
    # the same NewDeviceMetadata, had the sign-in carried alice's known device
    carried = {**good.request["AuthParameters"], "DEVICE_KEY": device.key}
    return good, replace(good, request={**good.request, "AuthParameters": carried})


def tokens_name_the_users_groups():
    s = Groups()
    s.confirmed()
    s.member("admins")
    s.member("staff")
    good = s.initiate("alice", NEW)
    claims = jwt_claims(good.response["AuthenticationResult"]["IdToken"])
    assert claims["cognito:groups"] == ["staff", "admins"] and claims["cognito:preferred_role"] == ROLE
    # the same tokens, had admins ranked first (precedence 0): the claim order is wrong
    groups = tuple(replace(g, precedence=0) if g.name == "admins" else g for g in good.after.groups)
    return good, replace(good, after=replace(good.after, groups=groups))


def removed_members_lose_the_group():
    s = Groups()
    s.confirmed()
    s.member("staff")
    member = s.initiate("alice", NEW)
    s.member("staff", join=False)
    good = s.initiate("alice", NEW)
    assert "cognito:groups" not in jwt_claims(good.response["AuthenticationResult"]["IdToken"])
    # the member's tokens, had the caller removed it before they were minted
    return good, replace(member, history=good.history)


def tokens_only_after_the_configured_factor():
    s = Totp()
    secret = s.enrolled()
    started = s.initiate("alice", NEW)
    assert started.response["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    good = s.answer_code(started.response["Session"], totp_code(secret, s.env.clock.now()))
    assert "AuthenticationResult" in good.response
    # the password sign-in, had it given the tokens itself
    return good, replace(started, response=good.response)


def totp_code_accepted_once():
    s = Totp()
    secret = s.enrolled()
    good = s.answer_code(s.initiate("alice", NEW).response["Session"], totp_code(secret, s.env.clock.now()))
    assert good.ok
    # the same answer, had the caller seen this step's code accepted before
    (accepted,) = s.history.totp_accepted - good.history.totp_accepted  # what the answer taught the caller
    return good, replace(good, history=replace(good.history, totp_accepted=good.history.totp_accepted | {accepted}))


def totp_secrets_never_stored():
    s = Totp()
    s.confirmed()
    access = s.initiate("alice", NEW).response["AuthenticationResult"]["AccessToken"]
    good = s.step("associate_software_token", "AssociateSoftwareToken", AccessToken=access)
    secret = good.response["SecretCode"]
    return good, replace(good, after=with_user(good.after, "alice", pending_software_token=secret.encode()))


def group_memberships_agree():
    s = Groups()
    s.confirmed()
    good = s.member("staff")
    assert good.ok
    # the store's user-to-groups side, had it forgotten the membership (AdminListGroupsForUser would not list it)
    indexes = tuple((*e[:5], ()) if len(e) == 6 else e for e in good.after.indexes)
    return good, replace(good, after=replace(good.after, indexes=indexes))


def mfa_names_only_verified_factors():
    s = Totp()
    s.confirmed()
    access = s.initiate("alice", NEW).response["AuthenticationResult"]["AccessToken"]
    good = s.step("associate_software_token", "AssociateSoftwareToken", AccessToken=access)
    assert good.ok
    # the association, had it made the new secret the verified authenticator at once
    token = SoftwareToken(secret=user_in(good.after, "alice").pending_software_token, verified=good.now)
    return good, replace(good, after=with_user(good.after, "alice", software_token=token))


def rotated_token_only_within_grace():
    s = Rotation()
    assert s.rotate(s.first["RefreshToken"]).ok  # the sign-in's token is rotated out now
    good = s.rotate(s.first["RefreshToken"])  # a retry within the grace period
    assert good.ok
    # the same retry, had it been answered at the end of the grace period
    return good, replace(good, now=good.now + timedelta(seconds=Rotation.GRACE))


def reused_family_stays_revoked():
    s = Rotation()
    good = s.rotate(s.first["RefreshToken"])
    assert good.ok
    family = good.history.family_of(token_hash(s.first["RefreshToken"]))
    # the same refresh, had the caller seen a reuse of the family refused before
    return good, replace(good, history=replace(good.history, reused_families=frozenset({family})))


def refresh_token_auth_refused_on_rotating_clients():
    s = Rotation()
    good = s.refresh(s.first["RefreshToken"])
    assert good.error is not None and good.error.code == "InvalidParameterException"
    # the same request, had it been answered with tokens
    return good, replace(good, error=None, response={"ChallengeParameters": {}, "AuthenticationResult": s.first})


def revoked_family_yields_nothing():
    s = Rotation()
    good = s.rotate(s.first["RefreshToken"])
    assert good.ok
    family = good.history.family_of(token_hash(s.first["RefreshToken"]))
    # the same refresh, had the caller revoked the family before
    return good, replace(good, history=replace(good.history, revoked_families=frozenset({family})))


CASES = {case.__name__: case for case in (
    status_declared, verified_alias_single_holder, unique_usernames_and_subs, tokens_only_to_signed_in_users,
    temporary_password_expires, password_must_match, session_single_use, validation_data_never_stored,
    refusal_changes_nothing, revoked_refresh_token_yields_nothing, lockout_within_schedule, no_internal_error,
    codes_never_stored, codes_within_limits, code_must_match, deleted_users_stay_out,
    custom_challenge_secrets_sealed, unknown_users_never_sign_in, forgotten_device_never_signs_in,
    device_single_owner, mfa_skipped_only_on_remembered_devices, device_sign_in_tokens_carry_its_key,
    new_device_metadata_only_for_unknown_devices, tokens_name_the_users_groups, removed_members_lose_the_group,
    tokens_only_after_the_configured_factor, totp_code_accepted_once, totp_secrets_never_stored,
    group_memberships_agree, mfa_names_only_verified_factors, rotated_token_only_within_grace,
    reused_family_stays_revoked, refresh_token_auth_refused_on_rotating_clients, revoked_family_yields_nothing,
)}
CASES.update(PASSWORDLESS_CASES)  # the passwordless laws' cases live with their explorer tests


def test_every_invariant_has_a_case():
    assert set(CASES) == set(INVARIANTS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_invariant_accepts_a_good_step_and_detects_a_violation(name):
    good, bad = CASES[name]()
    assert check(good) == [], check(good)  # the real engine's step keeps every invariant
    assert names(bad, name) == [name]


@pytest.mark.parametrize("name", sorted(INVARIANTS))
def test_every_invariant_is_documented(name):
    assert INVARIANTS[name].doc and INVARIANTS[name].summary.endswith(".")


# -- more violations of the same laws -----------------------------------------------------------------


def test_tokens_to_a_force_change_password_user_outside_new_password_required():
    s = Scenario()
    tokens = s.signed_in()
    as_sign_in = replace(tokens, operation="InitiateAuth", request={"AuthFlow": "USER_PASSWORD_AUTH"})
    assert names(as_sign_in, "tokens_only_to_signed_in_users") == ["tokens_only_to_signed_in_users"]
    still_forced = replace(tokens, after=with_user(tokens.after, "alice", status="FORCE_CHANGE_PASSWORD"))
    assert names(still_forced, "tokens_only_to_signed_in_users") == ["tokens_only_to_signed_in_users"]
    unconfirmed = replace(tokens, before=with_user(tokens.before, "alice", status="UNCONFIRMED"))
    assert names(unconfirmed, "tokens_only_to_signed_in_users") == ["tokens_only_to_signed_in_users"]


def test_a_used_session_in_the_store_is_a_violation_without_history():
    s = Scenario()
    s.create()
    answered = s.answer(s.initiate().response["Session"])
    used = tuple(replace(r, used=True) for r in answered.before.sessions)
    step = replace(answered, history=History(), before=replace(answered.before, sessions=used))
    assert names(step, "session_single_use") == ["session_single_use"]


@pytest.mark.parametrize("sent", ["YmxvY2s=", "YmxvY2s==", "YmxvY2t="], ids=["canonical", "padded", "twin-bits"])
def test_a_srp_secret_block_never_succeeds_twice(sent):
    # The block is its bytes: a second text for them is the same block.
    used = block_id("YmxvY2s=")
    step = Step(
        operation="RespondToAuthChallenge",
        request={"ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": {"PASSWORD_CLAIM_SECRET_BLOCK": sent}},
        response={}, error=None, before=Records(), after=Records(), now=START,
        history=History(succeeded_secret_blocks=frozenset({used})),
    )
    assert names(step, "session_single_use") == ["session_single_use"]
    assert observe(History(), replace(step, history=History())).succeeded_secret_blocks == {used}


def test_refused_requests_may_count_failures_only():
    s = Scenario()
    s.create()
    wrong = s.initiate(password="Wrong1234!")
    assert wrong.before.failed_sign_ins != wrong.after.failed_sign_ins
    assert check(wrong, ["refusal_changes_nothing"]) == []


def test_a_store_revoked_or_signed_out_family_is_a_violation():
    s = Scenario()
    token = s.signed_in().response["AuthenticationResult"]["RefreshToken"]
    good = s.refresh(token)
    revoked = replace(good.before, refresh_tokens=tuple(replace(t, revoked=True) for t in good.before.refresh_tokens))
    assert names(replace(good, before=revoked), "revoked_refresh_token_yields_nothing")
    signed_out = with_user(good.before, "alice", token_generation=5)
    assert names(replace(good, before=signed_out), "revoked_refresh_token_yields_nothing")
    expired = replace(good, now=START + timedelta(days=31))
    assert names(expired, "revoked_refresh_token_yields_nothing")


def test_sign_out_disable_and_delete_revoke_the_users_tokens_in_the_history():
    for method, operation in (("admin_user_global_sign_out", "AdminUserGlobalSignOut"),
                              ("admin_disable_user", "AdminDisableUser"),
                              ("admin_delete_user", "AdminDeleteUser")):
        s = Scenario()
        token = s.signed_in().response["AuthenticationResult"]["RefreshToken"]
        s.signed_in("bob")
        s.step(method, operation, UserPoolId=s.pool, Username="alice")
        assert s.history.revoked_tokens == {token_hash(token)}, operation


def test_lockout_counting_rules():
    s = Scenario()
    s.create()
    wrong = s.initiate(password="Wrong1234!")
    counter = wrong.after.failed_sign_ins[0]
    twice = replace(wrong, after=replace(wrong.after, failed_sign_ins=(replace(counter, count=2),)))
    assert names(twice, "lockout_within_schedule")
    early_lock = replace(counter, locked_until=counter.last_attempt + timedelta(seconds=1))
    assert names(replace(wrong, after=replace(wrong.after, failed_sign_ins=(early_lock,))), "lockout_within_schedule")
    locked = FailedSignIns(
        pool_id=counter.pool_id, key=counter.key, count=5, locked_until=START + timedelta(seconds=1), last_attempt=START,
    )
    counted_while_locked = replace(
        wrong, before=replace(wrong.before, failed_sign_ins=(locked,)),
        after=replace(wrong.after, failed_sign_ins=(replace(locked, count=6, locked_until=START + timedelta(seconds=2)),)),
    )
    assert names(counted_while_locked, "lockout_within_schedule")
    accepted_while_locked = replace(s.initiate(), before=replace(wrong.before, failed_sign_ins=(locked,)), now=START)
    assert accepted_while_locked.ok
    assert names(accepted_while_locked, "lockout_within_schedule")


def test_short_validation_values_are_matched_whole():
    s = Scenario()
    step = s.create(ValidationData=[{"Name": "v", "Value": "ali"}])  # a substring of "alice", never stored whole
    assert check(step, ["validation_data_never_stored"]) == []
    assert observe(History(), step).validation_values == {"ali"}


def test_at_rest_checks_the_state_invariants():
    s = Scenario()
    s.create()
    records = Records.of(s.client.store)
    assert check(Step.at_rest(records, START)) == []
    assert names(Step.at_rest(with_user(records, "alice", status="BOGUS"), START), "status_declared")


def test_checker_checks_every_call_and_raises_on_a_violation():
    env = Env()
    pool = env.pool()
    checker = Checker(env.client)
    checker.call("admin_create_user", UserPoolId=pool, Username="alice", MessageAction="SUPPRESS", TemporaryPassword=TEMP)
    with pytest.raises(NotAuthorizedException):
        checker.call("admin_initiate_auth", UserPoolId=pool, ClientId=env.app_id(pool),
                     AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": "Wrong1!xx"})
    checker.advance(env.clock, timedelta(days=8))
    assert checker.steps == 3
    # A fault planted in the store: a FORCE_CHANGE_PASSWORD user the spec does not know.
    env.place(pool, "alice", status="HALF_CONFIRMED")
    with pytest.raises(InvariantViolated, match="status_declared"):
        checker.call("admin_enable_user", UserPoolId=pool, Username="alice")


# -- codes, self-service and deletion ---------------------------------------------------------------------


def test_tokens_to_a_signed_up_user_before_confirmation():
    s = Scenario()
    signed_up = s.sign_up()
    refused = s.initiate("alice", NEW)
    assert refused.error is not None and refused.error.code == "UserNotConfirmedException"
    assert check(refused) == []
    s.step("admin_confirm_sign_up", "AdminConfirmSignUp", UserPoolId=s.pool, Username="alice")
    tokens = s.initiate("alice", NEW)
    assert check(tokens) == [] and "AuthenticationResult" in tokens.response
    # the same tokens, had alice still been the UNCONFIRMED user SignUp made
    unconfirmed = replace(tokens, before=with_user(tokens.before, "alice", status="UNCONFIRMED"))
    assert user_in(signed_up.after, "alice").status == "UNCONFIRMED"
    assert names(unconfirmed, "tokens_only_to_signed_in_users") == ["tokens_only_to_signed_in_users"]
    reset = replace(tokens, before=with_user(tokens.before, "alice", status="RESET_REQUIRED"))
    assert names(reset, "tokens_only_to_signed_in_users") == ["tokens_only_to_signed_in_users"]


def test_codes_are_remembered_with_their_purpose_and_destination():
    s = Scenario()
    s.sign_up()
    alice = user_in(Records.of(s.client.store), "alice")
    assert s.history.latest_code(s.pool, alice.sub, "confirm_sign_up") == (s.last_code(), "alice@example.com")
    s.step("resend_confirmation_code", "ResendConfirmationCode", ClientId=s.app, Username="alice")
    assert s.history.latest_code(s.pool, alice.sub, "confirm_sign_up") == (s.last_code(), "alice@example.com")
    assert len(s.history.sent_codes) == 1  # the new code replaced the old one
    assert s.confirm(s.last_code()).ok
    s.step("forgot_password", "ForgotPassword", ClientId=s.app, Username="alice")
    assert s.history.latest_code(s.pool, alice.sub, "reset_password") == (s.last_code(), "alice@example.com")


def test_a_code_stored_in_the_clear_or_unkeyed_later_is_a_violation():
    s = Scenario()
    s.sign_up()
    code = s.last_code()
    later = s.step("admin_enable_user", "AdminEnableUser", UserPoolId=s.pool, Username="alice")
    assert later.messages == () and check(later) == []
    alice = user_in(later.after, "alice")
    for kept in (code, hashlib.sha256(code.encode()).hexdigest()):
        planted = with_user(later.after, "alice", attributes={**alice.attributes, "nickname": kept})
        assert names(replace(later, after=planted), "codes_never_stored") == ["codes_never_stored"]
    # six bare digits in a session's code hash, at rest
    records = Records.of(s.client.store)
    assert names(Step.at_rest(with_code(records, "alice", "confirm_sign_up", code_hash="123456"), START),
                 "codes_never_stored")


def test_code_limits():
    s = Scenario()
    s.sign_up()
    code = s.last_code()
    at_rest = Records.of(s.client.store)
    pending = user_in(at_rest, "alice").codes["confirm_sign_up"]
    too_many = with_code(at_rest, "alice", "confirm_sign_up", attempts=MAX_ATTEMPTS + 1)
    assert names(Step.at_rest(too_many, START), "codes_within_limits")
    too_long = with_code(at_rest, "alice", "confirm_sign_up", expires=pending.expires + timedelta(seconds=1))
    assert names(Step.at_rest(too_long, START), "codes_within_limits")
    wrong_guess = s.confirm(wrong(code))
    as_other_operation = replace(wrong_guess, operation="AdminEnableUser")
    assert names(as_other_operation, "codes_within_limits")  # counted by a request that checks no code
    accepted = s.confirm(code)
    assert accepted.ok and check(accepted) == []
    spent = with_code(accepted.before, "alice", "confirm_sign_up", attempts=MAX_ATTEMPTS)
    assert names(replace(accepted, before=spent), "codes_within_limits")
    assert names(replace(accepted, now=pending.expires), "codes_within_limits")
    left_pending = with_user(accepted.after, "alice", codes=user_in(accepted.before, "alice").codes)
    assert names(replace(accepted, after=left_pending), "codes_within_limits")
    none_pending = with_user(accepted.before, "alice", codes={})
    assert names(replace(accepted, before=none_pending), "codes_within_limits")


def test_a_code_verifies_only_the_value_it_was_sent_to():
    s = Scenario()
    s.sign_up()
    accepted = s.confirm(s.last_code())
    assert accepted.ok and user_in(accepted.after, "alice").attributes["email_verified"] == "true"
    (entry,) = accepted.history.sent_codes
    elsewhere = History(sent_codes=frozenset({(*entry[:4], "someone-else@example.com")}))
    assert names(replace(accepted, history=elsewhere), "code_must_match") == ["code_must_match"]


def test_a_wrong_code_may_count_a_guess_and_nothing_else():
    s = Scenario()
    s.sign_up()
    refused = s.confirm(wrong(s.last_code()))
    assert refused.before != refused.after and check(refused, ["refusal_changes_nothing"]) == []
    confirmed_anyway = with_user(refused.after, "alice", status="CONFIRMED")
    assert names(replace(refused, after=confirmed_anyway), "refusal_changes_nothing")


def test_change_password_must_present_the_stored_password():
    s = Scenario()
    tokens = s.confirmed_with_tokens()
    changed = s.step("change_password", "ChangePassword", AccessToken=tokens["AccessToken"],
                     PreviousPassword=NEW, ProposedPassword="Other-Pass-9!")
    assert changed.ok and check(changed) == []
    other = replace(changed, request={**changed.request, "PreviousPassword": "Wrong1234!"})
    assert names(other, "password_must_match") == ["password_must_match"]


def test_delete_user_revokes_the_history_and_the_sub_never_returns():
    s = Scenario()
    tokens = s.confirmed_with_tokens()
    deleted = s.step("delete_user", "DeleteUser", AccessToken=tokens["AccessToken"])
    assert deleted.ok and check(deleted) == []
    sub = user_in(deleted.before, "alice").sub
    assert s.history.revoked_tokens == {token_hash(tokens["RefreshToken"])}
    assert s.history.deleted_users == {(s.pool, sub)}
    after_delete = s.step("get_user", "GetUser", AccessToken=tokens["AccessToken"])
    assert after_delete.error is not None and check(after_delete) == []
    assert names(replace(after_delete, error=None, response={}), "deleted_users_stay_out")
    s.sign_up()  # the same username again: a new user, with a new sub
    again = Records.of(s.client.store)
    assert check(Step.at_rest(again, START, s.history)) == []
    resurrected = with_user(again, "alice", sub=sub, attributes={**user_in(again, "alice").attributes, "sub": sub})
    assert names(Step.at_rest(resurrected, START, s.history), "deleted_users_stay_out")


def test_a_deleted_users_session_is_never_answered():
    s = Scenario()
    s.create()
    started = s.initiate()
    answered = s.answer(started.response["Session"])
    assert answered.ok
    gone = replace(answered.before, users=())
    assert names(replace(answered, before=gone), "deleted_users_stay_out") == ["deleted_users_stay_out"]


# -- the lifecycle table, re-run with every invariant checked -------------------------------------------


class _CheckedCalls:
    """A Client stand-in whose operations go through a Checker (for the table's `drive`)."""

    def __init__(self, checker: Checker) -> None:
        self._checker = checker
        self.store = checker.client.store
        self.exceptions = checker.client.exceptions

    def __getattr__(self, method: str):
        return lambda **request: self._checker.call(method, **request)


def _lifecycle_pairs():
    from tests.unit.test_lifecycle_table import PAIRS

    return PAIRS


@pytest.mark.parametrize(("status", "trigger"), _lifecycle_pairs())
def test_every_lifecycle_pair_keeps_every_invariant(status, trigger):
    """tests/unit/test_lifecycle_table.py drives every (status, trigger) pair; here the
    same drives run through a Checker, so a refusal must leave the whole store (not only
    the users) unchanged, and every other invariant must hold too. The set-up is the
    table's (a pool that auto-verifies emails, so that sign-up codes exist; tokens for the
    triggers that need an access token), and the outcome is the table's too, so that
    each transition the spec allows (sign_up, confirm_sign_up, confirm_forgot_password,
    verify_attribute, ...) is checked as it succeeds, codes included."""
    from tests.conftest import make_client
    from tests.unit.test_lifecycle_table import FACTS, MACHINE, PASSWORD, drive, place, status_of

    client = make_client()
    pool = client.create_user_pool(PoolName="t", AliasAttributes=["email"], AutoVerifiedAttributes=["email"])[
        "UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool, ClientName="c", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    refresh_token, access_token = "not-a-refresh-token", "not-an-access-token"
    if status != "ABSENT":
        client.admin_create_user(
            UserPoolId=pool, Username="u", TemporaryPassword=PASSWORD, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": "u@example.com"}, {"Name": "email_verified", "Value": "true"}],
        )
        if trigger in ("refresh_tokens", "change_password", "request_attribute_code", "verify_attribute"):
            place(client, pool, "CONFIRMED")
            tokens = drive(client, pool, "sign_in", client_id, None)["AuthenticationResult"]
            refresh_token, access_token = tokens["RefreshToken"], tokens["AccessToken"]
        place(client, pool, status)
    try:
        expected = MACHINE.next_status(status, trigger, FACTS)
    except IllegalTransition:
        expected = None
    checker = Checker(client)
    try:
        drive(_CheckedCalls(checker), pool, trigger, client_id, refresh_token, access_token)
    except CognitoError:
        # refused (the Checker has already compared the stores): only where the spec refuses
        assert expected is None, f"{trigger} from {status} should move to {expected}"
        return
    assert expected is not None, f"{trigger} from {status} is not in the spec but succeeded"
    assert status_of(client, pool) == expected


# -- SRP and CUSTOM_AUTH ----------------------------------------------------------------------------------


def test_an_srp_proof_is_judged_by_the_password_the_caller_signed_with():
    s = Flows()
    s.confirmed()
    srp, started = s.srp_start()
    assert started.response["ChallengeName"] == "PASSWORD_VERIFIER" and check(started) == []
    proved = s.srp_answer(srp, started, NEW)
    assert "AuthenticationResult" in proved.response and check(proved) == []
    signature = proved.request["ChallengeResponses"]["PASSWORD_CLAIM_SIGNATURE"]
    assert proved.history.claim_password(signature) == NEW
    # the same success, had the caller signed that claim with a wrong password
    lying = replace(proved, history=History(srp_claims=frozenset({(signature, "Wrong1234!")})))
    assert names(lying, "password_must_match") == ["password_must_match"]
    # a claim the caller said nothing about is not judged
    assert names(replace(proved, history=History()), "password_must_match") == []


def test_a_wrong_srp_proof_counts_once_and_a_locked_user_is_never_proved():
    s = Flows()
    s.confirmed()
    srp, started = s.srp_start()
    refused = s.srp_answer(srp, started, "Wrong1234!")
    assert refused.error is not None and refused.error.message == "Incorrect username or password."
    assert check(refused) == []  # counted on the lockout counter, and nothing else written
    (counter,) = refused.after.failed_sign_ins
    assert counter.count == 1
    twice = replace(refused, after=replace(refused.after, failed_sign_ins=(replace(counter, count=2),)))
    assert names(twice, "lockout_within_schedule") == ["lockout_within_schedule"]
    proved = s.srp_answer(srp, started, NEW)  # the block stays answerable after a wrong proof
    assert "AuthenticationResult" in proved.response and check(proved) == []
    locked = replace(counter, count=5, locked_until=START + timedelta(seconds=1), last_attempt=START)
    while_locked = replace(proved, before=replace(proved.before, failed_sign_ins=(locked,)), now=START)
    assert names(while_locked, "lockout_within_schedule") == ["lockout_within_schedule"]


def test_a_secret_block_the_store_records_as_used_never_succeeds_again():
    s = Flows()
    s.confirmed()
    srp, started = s.srp_start()
    assert "AuthenticationResult" in s.srp_answer(srp, started, NEW).response
    replayed = s.srp_answer(srp, started, NEW)
    assert replayed.error is not None and replayed.error.message.endswith("session can only be used once.")
    assert check(replayed) == []
    # the same replay, had the engine let it through: caught by the history, and by the store alone
    through = replace(replayed, error=None, response={"ChallengeParameters": {}})
    assert names(through, "session_single_use") == ["session_single_use"]
    assert names(replace(through, history=History()), "session_single_use") == ["session_single_use"]


def test_an_expired_temporary_password_is_never_proved_by_srp():
    s = Flows()
    s.create()
    srp, started = s.srp_start()
    proved = s.srp_answer(srp, started, TEMP)
    assert proved.response["ChallengeName"] == "NEW_PASSWORD_REQUIRED" and check(proved) == []
    late = replace(proved, now=START + timedelta(days=7))
    assert names(late, "temporary_password_expires") == ["temporary_password_expires"]


def test_a_custom_answer_is_never_stored():
    s = Flows()
    s.confirmed()
    first = s.custom_start()
    answered = s.custom_answer(first, QUESTIONS[0][1])
    assert answered.response["ChallengeName"] == "CUSTOM_CHALLENGE" and check(answered) == []
    assert answered.request["ChallengeResponses"]["ANSWER"] in s.history.custom_answers
    alice = user_in(answered.after, "alice")
    kept = with_user(answered.after, "alice", attributes={**alice.attributes, "nickname": QUESTIONS[0][1]})
    assert names(replace(answered, after=kept), "custom_challenge_secrets_sealed") == ["custom_challenge_secrets_sealed"]
    # progress in the clear (not even base64) is readable too
    plain = tuple(replace(r, progress='{"rounds": []}') if r.progress else r for r in answered.after.sessions)
    assert names(replace(answered, after=replace(answered.after, sessions=plain)), "custom_challenge_secrets_sealed")


def test_an_unknown_name_gets_simulated_custom_rounds_and_nothing_more():
    s = Flows()
    step = s.custom_start("nobody", hidden=True)
    for _, answer in QUESTIONS[:-1]:
        step = s.custom_answer(step, answer, "nobody", hidden=True)
        assert step.response["ChallengeName"] == "CUSTOM_CHALLENGE" and check(step) == []
    record = step.before.session(step.request["Session"])
    assert record.sub == ""  # a simulated session names nobody
    last = s.custom_answer(step, QUESTIONS[-1][1], "nobody", hidden=True)
    assert last.error is not None and last.error.message == "Incorrect username or password."  # Define said issueTokens
    assert check(last) == []
    tokens = replace(last, error=None, response={"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s"})
    assert names(tokens, "unknown_users_never_sign_in") == ["unknown_users_never_sign_in"]


def test_a_proof_for_a_name_no_user_has_never_succeeds():
    s = Flows()
    s.confirmed()
    srp, started = s.srp_start()
    proved = s.srp_answer(srp, started, NEW)
    assert check(proved) == []
    gone = replace(proved.before, users=())
    assert names(replace(proved, before=gone), "unknown_users_never_sign_in") == ["unknown_users_never_sign_in"]
    custom = s.srp_start("alice", custom=True)[1]
    assert custom.response["ChallengeName"] == "PASSWORD_VERIFIER" and check(custom) == []
    assert names(replace(custom, before=gone), "unknown_users_never_sign_in") == []  # a simulated block is fine


def test_a_refused_custom_answer_may_only_end_its_own_round():
    s = Flows()
    s.confirmed()
    first = s.custom_start()
    failed = s.custom_answer(first, "not the answer")  # Define fails the attempt: the session is used up
    assert failed.error is not None and check(failed) == []
    ended = failed.after.session(first.response["Session"])
    assert ended.used and not failed.before.session(first.response["Session"]).used
    changed_else = replace(failed, after=with_user(failed.after, "alice", enabled=False))
    assert names(changed_else, "refusal_changes_nothing") == ["refusal_changes_nothing"]
    still_usable = tuple(replace(r, used=False) if r.id == ended.id else r for r in failed.after.sessions)
    assert names(replace(failed, after=replace(failed.after, sessions=still_usable)), "refusal_changes_nothing")
    # a refused password sign-in has no round to end: a session it wrote is a change
    wrong = s.initiate("alice", "Wrong1234!")
    planted = replace(wrong, after=replace(wrong.after, sessions=(*wrong.after.sessions, ended)))
    assert names(planted, "refusal_changes_nothing") == ["refusal_changes_nothing"]


# -- device tracking -------------------------------------------------------------------------------


def test_a_device_life_through_the_engine_keeps_every_invariant():
    """Issue, confirm, device sign-in (right and wrong proof), refresh with and without the
    key, stop remembering (MFA asked again), remember, forget (its key and its refresh
    token refused from then on), and the owner's deletion: every step of the real engine
    keeps every invariant, and the history learns whose devices are and which are gone."""
    s = Devices()
    s.confirmed("alice")
    s.confirmed("bob")
    device, first = s.with_device()
    alice = user_in(Records.of(s.client.store), "alice")
    assert s.history.device_owners == {(s.pool, device.key, alice.sub)}
    assert "NewDeviceMetadata" in first
    s.mfa_on()
    steps = [s.sign_in(device=device)]
    assert steps[-1].response["ChallengeName"] == "DEVICE_SRP_AUTH"  # a remembered device stands in for SMS_MFA
    steps.append(s.device_answers(s.sign_in(device=device), device, password="not-the-device-password"))
    assert steps[-1].error.code == "NotAuthorizedException"
    steps.append(s.device_answers(s.sign_in(device=device), device))
    tokens = steps[-1].response["AuthenticationResult"]
    steps.append(s.refresh(tokens["RefreshToken"]))  # without the key: refused
    assert steps[-1].error.message == "Invalid Refresh Token"
    with_key = {"REFRESH_TOKEN": tokens["RefreshToken"], "DEVICE_KEY": device.key}
    steps.append(s.step("initiate_auth", "InitiateAuth", ClientId=s.app, AuthFlow="REFRESH_TOKEN_AUTH",
                        AuthParameters=with_key))
    assert steps[-1].ok
    status = {"AccessToken": tokens["AccessToken"], "DeviceKey": device.key}
    steps.append(s.step("update_device_status", "UpdateDeviceStatus", DeviceRememberedStatus="not_remembered",
                        **status))
    steps.append(s.sign_in(device=device))
    assert steps[-1].response["ChallengeName"] == "SMS_MFA"  # not remembered: MFA as usual
    steps.append(s.sign_in("bob", device=device))  # alice's device: "Invalid device key given."
    assert steps[-1].error.code == "InvalidParameterException"
    steps.append(s.step("update_device_status", "UpdateDeviceStatus", DeviceRememberedStatus="remembered", **status))
    steps.append(s.step("forget_device", "ForgetDevice", **status))
    assert s.history.forgotten_devices == {(s.pool, device.key)}
    steps.append(s.sign_in(device=device))
    steps.append(s.step("initiate_auth", "InitiateAuth", ClientId=s.app, AuthFlow="REFRESH_TOKEN_AUTH",
                        AuthParameters=with_key))
    assert [step.error.code for step in steps[-2:]] == ["ResourceNotFoundException", "NotAuthorizedException"]
    other, _ = s.with_device("bob")
    steps.append(s.step("admin_delete_user", "AdminDeleteUser", UserPoolId=s.pool, Username="bob"))
    assert (s.pool, other.key) in s.history.forgotten_devices and steps[-1].after.devices == ()  # gone with bob
    for step in steps:
        assert check(step) == [], (step.operation, check(step))


def test_the_records_hold_devices_so_a_refused_device_operation_that_writes_is_seen():
    s = Devices()
    s.confirmed()
    device, result = s.with_device()
    twice = s.step("confirm_device", "ConfirmDevice", AccessToken=result["AccessToken"], DeviceKey=device.key,
                   DeviceSecretVerifierConfig=device_registration(device.group, device.key, "other", DEVICE_SALT))
    assert twice.error.code == "DeviceKeyExistsException" and check(twice) == []
    assert [d.status for d in twice.after.devices] == ["REMEMBERED"]
    changed = tuple(replace(d, status="NOT_REMEMBERED") for d in twice.after.devices)
    assert names(replace(twice, after=replace(twice.after, devices=changed)), "refusal_changes_nothing")


def test_a_device_that_outlives_its_owner_and_a_refresh_of_a_forgotten_device_are_violations():
    s = Devices()
    s.confirmed()
    device, result = s.with_device()
    refreshed = s.step("initiate_auth", "InitiateAuth", ClientId=s.app, AuthFlow="REFRESH_TOKEN_AUTH",
                       AuthParameters={"REFRESH_TOKEN": result["RefreshToken"], "DEVICE_KEY": device.key})
    assert refreshed.ok and check(refreshed) == []
    orphan = replace(refreshed.after, users=())
    assert names(replace(refreshed, after=orphan), "device_single_owner") == ["device_single_owner"]
    # the same refresh, had the caller forgotten the device (by key, or by the family it is bound to)
    forgotten = replace(refreshed.history, forgotten_devices=frozenset({(s.pool, device.key)}))
    assert names(replace(refreshed, history=forgotten), "forgotten_device_never_signs_in")
    keyless = {"REFRESH_TOKEN": result["RefreshToken"]}
    assert names(replace(refreshed, history=forgotten, request={**refreshed.request, "AuthParameters": keyless}),
                 "forgotten_device_never_signs_in")
    # a refresh bound to another device than its family's
    family = tuple(replace(t, device_key=device.key[:-4] + "0000") for t in refreshed.before.refresh_tokens)
    assert names(replace(refreshed, before=replace(refreshed.before, refresh_tokens=family)),
                 "device_sign_in_tokens_carry_its_key")


def test_mfa_first_when_the_device_does_not_stand_in_for_it():
    s = Devices(challenge_required=False)
    s.confirmed()
    device, _ = s.with_device()
    s.mfa_on()
    asked = s.sign_in(device=device)
    assert asked.response["ChallengeName"] == "SMS_MFA" and check(asked) == []
    # had the engine gone to DEVICE_SRP_AUTH at once, MFA would have been skipped on a device that may not skip it
    skipped = replace(asked, response={"ChallengeName": "DEVICE_SRP_AUTH", "Session": "x", "ChallengeParameters": {}})
    assert names(skipped, "mfa_skipped_only_on_remembered_devices") == ["mfa_skipped_only_on_remembered_devices"]
    # and tokens with no device at all, likewise
    plain = s.sign_in()
    assert plain.response["ChallengeName"] == "SMS_MFA"
    tokens = s.step("respond_to_auth_challenge", "RespondToAuthChallenge", ClientId=s.app, ChallengeName="SMS_MFA",
                    Session=plain.response["Session"],
                    ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": s.last_code()})
    assert "NewDeviceMetadata" in tokens.response["AuthenticationResult"] and check(tokens) == []
    as_password = replace(tokens, operation="InitiateAuth", request=plain.request)
    assert names(as_password, "mfa_skipped_only_on_remembered_devices") == ["mfa_skipped_only_on_remembered_devices"]


# -- groups, MFA and software tokens (TOTP) ---------------------------------------------------------------


def test_group_life_through_the_engine_keeps_every_invariant():
    """Join both groups, sign in and refresh, leave one, delete the other with the member in
    it, re-create it: every step keeps every invariant, the history learns which
    memberships ended, and re-joining renews one."""
    s = Groups()
    s.confirmed()
    steps = [s.member("admins"), s.member("staff"), s.initiate("alice", NEW)]
    tokens = steps[-1].response["AuthenticationResult"]
    steps += [s.member("staff", join=False), s.refresh(tokens["RefreshToken"])]
    alice = user_in(steps[-1].after, "alice")
    assert s.history.group_departures == {(s.pool, alice.sub, "staff")}
    assert jwt_claims(steps[-1].response["AuthenticationResult"]["IdToken"])["cognito:groups"] == ["admins"]
    steps.append(s.step("delete_group", "DeleteGroup", UserPoolId=s.pool, GroupName="admins"))
    assert s.history.group_departures == {(s.pool, alice.sub, "staff"), (s.pool, alice.sub, "admins")}
    steps.append(s.refresh(tokens["RefreshToken"]))
    assert "cognito:groups" not in jwt_claims(steps[-1].response["AuthenticationResult"]["AccessToken"])
    steps += [s.step("create_group", "CreateGroup", UserPoolId=s.pool, GroupName="admins", Precedence=5),
              s.member("admins"), s.initiate("alice", NEW)]
    assert s.history.group_departures == {(s.pool, alice.sub, "staff")}
    for step in steps:
        assert check(step) == [], (step.operation, check(step))
    # the last sign-in, had the records kept alice in staff: its tokens lack a group she is in
    kept = (*steps[-1].after.memberships, (s.pool, "staff", alice.username_key))
    assert names(replace(steps[-1], after=replace(steps[-1].after, memberships=kept)), "tokens_name_the_users_groups")


def test_roles_and_the_preferred_role_are_judged_too():
    s = Groups()
    s.confirmed()
    s.member("staff")
    good = s.initiate("alice", NEW)
    claims = jwt_claims(good.response["AuthenticationResult"]["IdToken"])
    assert claims["cognito:roles"] == [ROLE] and claims["cognito:preferred_role"] == ROLE
    # a tie at precedence 1 with another role: no preferred role
    tied = (*good.after.groups, replace(good.after.groups[0], name="auditors", precedence=1,
                                        role_arn="arn:aws:iam::123456789012:role/audit"))
    members = (*good.after.memberships, (s.pool, "auditors", user_in(good.after, "alice").username_key))
    assert names(replace(good, after=replace(good.after, groups=tied, memberships=members)),
                 "tokens_name_the_users_groups") == ["tokens_name_the_users_groups"]


def test_a_totp_life_through_the_engine_keeps_every_invariant():
    """Enrol by access token, sign in with the current code; the same code again, the
    previous step's code after it, and a wrong code refused; the next step's code after
    a 30-second step accepted: every step keeps every invariant, and the history holds
    the secret, its verification and each accepted step."""
    s = Totp()
    secret = s.enrolled()
    alice = user_in(Records.of(s.client.store), "alice")
    assert s.history.totp_verified == {(s.pool, alice.sub, secret)}
    now = s.env.clock.now()
    steps = [s.initiate("alice", NEW)]
    session = steps[-1].response["Session"]
    steps.append(s.answer_code(session, wrong(totp_code(secret, now))))
    assert steps[-1].error.code == "CodeMismatchException"
    steps.append(s.answer_code(session, totp_code(secret, now)))
    assert "AuthenticationResult" in steps[-1].response
    for code in (totp_code(secret, now), totp_code(secret, now, -1)):  # replayed, the previous step's
        steps.append(s.answer_code(s.initiate("alice", NEW).response["Session"], code))
        assert steps[-1].error.code == "ExpiredCodeException", steps[-1].error
    s.env.clock.advance(timedelta(seconds=30))
    steps.append(s.answer_code(s.initiate("alice", NEW).response["Session"], totp_code(secret, s.env.clock.now())))
    assert steps[-1].ok
    step_of = int(now.timestamp()) // 30
    assert {e[3] for e in s.history.totp_accepted} == {step_of - 1, step_of, step_of + 1}
    for step in steps:
        assert check(step) == [], (step.operation, check(step))


def test_mfa_setup_by_session_keeps_every_invariant_and_a_wrong_code_accepted_is_a_violation():
    s = Totp("ON")
    s.confirmed()
    started = s.initiate("alice", NEW)
    assert started.response["ChallengeName"] == "MFA_SETUP"
    associated = s.step("associate_software_token", "AssociateSoftwareToken", Session=started.response["Session"])
    secret = associated.response["SecretCode"]
    verified = s.step("verify_software_token", "VerifySoftwareToken", Session=associated.response["Session"],
                      UserCode=totp_code(secret, s.env.clock.now()))
    done = s.step("respond_to_auth_challenge", "RespondToAuthChallenge", ClientId=s.app, ChallengeName="MFA_SETUP",
                  Session=verified.response["Session"], ChallengeResponses={"USERNAME": "alice"})
    assert "AuthenticationResult" in done.response
    for step in (started, associated, verified, done):
        assert check(step) == [], (step.operation, check(step))
    alice = user_in(done.after, "alice")
    assert s.history.totp_verified == {(s.pool, alice.sub, secret)}
    # an MFA_SETUP answer on a session that is no MFA_SETUP session
    assert names(replace(done, before=replace(done.before, sessions=tuple(
        replace(x, challenge="NEW_PASSWORD_REQUIRED") for x in done.before.sessions))),
        "tokens_only_after_the_configured_factor")
    s.env.clock.advance(timedelta(seconds=30))
    challenged = s.initiate("alice", NEW)
    assert challenged.response["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    right = s.answer_code(challenged.response["Session"], totp_code(secret, s.env.clock.now()))
    assert right.ok and check(right) == []
    # the same tokens for a wrong code; and a code accepted again (the verify code's step)
    bad = {**right.request["ChallengeResponses"], "SOFTWARE_TOKEN_MFA_CODE": wrong(totp_code(secret, s.env.clock.now()))}
    assert names(replace(right, request={**right.request, "ChallengeResponses": bad}),
                 "tokens_only_after_the_configured_factor")
    again = {**right.request["ChallengeResponses"], "SOFTWARE_TOKEN_MFA_CODE": totp_code(secret, s.env.clock.now(), -1)}
    assert names(replace(right, request={**right.request, "ChallengeResponses": again}), "totp_code_accepted_once")


def test_a_totp_secret_in_a_session_or_in_any_case_is_a_violation():
    s = Totp("ON")
    s.confirmed()
    started = s.initiate("alice", NEW)
    associated = s.step("associate_software_token", "AssociateSoftwareToken", Session=started.response["Session"])
    secret = associated.response["SecretCode"]
    assert check(associated) == []
    for leaked in (secret, secret.lower()):
        sessions = tuple(replace(x, progress=leaked) for x in associated.after.sessions)
        assert names(replace(associated, after=replace(associated.after, sessions=sessions)),
                     "totp_secrets_never_stored")


def test_verification_flags_are_read_in_any_case():
    """email_verified "True" (the engine keeps the case it was given) is verified for the alias law."""
    s = Scenario()
    s.create("alice", "shared@example.com")
    good = s.create("bob")
    bob = {**user_in(good.after, "bob").attributes, "email": "shared@example.com", "email_verified": "True"}
    assert names(replace(good, after=with_user(good.after, "bob", attributes=bob)), "verified_alias_single_holder")
    created = s.step("admin_create_user", "AdminCreateUser", UserPoolId=s.pool, Username="carol", TemporaryPassword=TEMP,
                     MessageAction="SUPPRESS", UserAttributes=[{"Name": "email", "Value": "carol@example.com"},
                                                               {"Name": "email_verified", "Value": "TRUE"}])
    assert created.ok and check(created) == []


def test_a_rotation_life_through_the_engine_keeps_every_invariant():
    """Rotate, retry within the grace period, reuse after it (the family revoked, its access
    token refused), RevokeToken of a rotated-out token: every step keeps every law, and the
    history learns the families, the rotations, the reuse and the revocation."""
    s = Rotation()
    steps = []
    first = s.first["RefreshToken"]
    steps.append(s.rotate(first))
    second = steps[-1].response["AuthenticationResult"]["RefreshToken"]
    assert s.history.rotated_at(token_hash(first)) == steps[-1].now
    steps.append(s.rotate(first))  # a retry within the grace period: the latest is rotated out too
    assert steps[-1].ok and s.history.rotated_at(token_hash(second)) == steps[-1].now
    latest = steps[-1].response["AuthenticationResult"]
    s.later(Rotation.GRACE)
    steps.append(s.rotate(second))
    assert steps[-1].error.code == "RefreshTokenReuseException"
    family = s.history.family_of(token_hash(first))
    assert family in s.history.reused_families and family in s.history.revoked_families
    steps.append(s.rotate(latest["RefreshToken"]))
    steps.append(s.step("get_user", "GetUser", AccessToken=latest["AccessToken"]))
    assert [st.error.code for st in steps[-2:]] == ["NotAuthorizedException", "NotAuthorizedException"]
    for st in steps:
        assert check(st) == [], (st.operation, check(st))
    # a reuse refused that also changed something else is a refusal that changed the store
    reuse = steps[2]
    assert names(replace(reuse, after=with_user(reuse.after, "alice", enabled=False)), "refusal_changes_nothing")
    # ... and the family not revoked on reuse: the next refresh, had it yielded tokens, is found
    assert names(replace(steps[3], error=None, response={"AuthenticationResult": latest}),
                 "reused_family_stays_revoked")


def test_revoking_a_rotated_out_token_revokes_its_family_in_the_history():
    s = Rotation()
    first = s.first["RefreshToken"]
    rotated = s.rotate(first)
    revoke = s.step("revoke_token", "RevokeToken", ClientId=s.app, Token=first)
    assert revoke.ok and s.history.family_of(token_hash(first)) in s.history.revoked_families
    refused = s.rotate(rotated.response["AuthenticationResult"]["RefreshToken"])
    assert refused.error is not None and check(refused) == []
