"""Sign-in with device tracking, through the Client: NewDeviceMetadata on every flow that
ends in tokens, the access token's `device_key`, a remembered device's own SRP proof
(DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER) as both real clients send it, remembered
devices and MFA, refresh tokens bound to their device, global sign-out and purging.
The device side of every sign-in is computed by the reference client
(`authflow.conformance.srp_client`), never by authflow's own crypto."""

from __future__ import annotations

import re
from datetime import timedelta

import jwt
import pytest

from authflow.adapters import CallableTriggers
from authflow.conformance.srp_client import DeviceSrpClient, SrpClient, timestamp
from authflow.errors import (
    InvalidParameterException,
    NotAuthorizedException,
    ResourceNotFoundException,
)
from tests.conftest import make_client
from tests.signin import (
    NEW,
    TEMP,
    Env,
    answer_device_challenges,
    confirm_new_device,
    devices_of,
    refused,
    secret_hash,
    tracking,
)

PHONE = "+12065554567"
SMS = {"MfaConfiguration": "ON",
       "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}}
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
KEY = re.compile(r"us-east-1_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
GROUP = re.compile(r"-[A-Za-z0-9]{8}")
NOT_EXIST = "Device does not exist."
INCORRECT = "Incorrect username or password."
INVALID_REFRESH = "Invalid Refresh Token"


def unchanged(env: Env, exception, message: str, call, *args, **kwargs):
    """Refused with exactly `exception` and `message`; the store, devices included, as it was."""
    before = env.snapshot()
    err = refused(exception, message, call, *args, **kwargs)
    assert env.snapshot() == before
    return err


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def verified_access_claims(env: Env, pool: str, token: str) -> dict:
    """The access token's claims, its signature checked against the pool's JWKS."""
    keys = {k["kid"]: jwt.PyJWK(k) for k in env.client.get_jwks(UserPoolId=pool)["keys"]}
    key = keys[jwt.get_unverified_header(token)["kid"]]
    # The manual clock is not the wall clock: the signature is what is checked here.
    return jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False})


class Pool:
    """A pool (tracking devices unless `config` is None), an app client with every flow,
    custom-auth functions (Define: one CUSTOM_CHALLENGE, then tokens) and users with
    password TEMP and a phone number, CONFIRMED unless `confirmed` is false."""

    def __init__(self, config: dict | None = None, *, users=("alice",), confirmed: bool = True, secret=False,
                 **pool_kwargs) -> None:
        self.env = env = Env()
        functions = {"DefineAuthChallenge": _define, "CreateAuthChallenge": _create,
                     "VerifyAuthChallengeResponse": _verify}
        env.client = make_client(1, clock=env.clock, messenger=env.outbox,
                                 triggers=CallableTriggers({ARN.format(k): f for k, f in functions.items()}))
        self.client = env.client
        if config is not None:
            pool_kwargs["DeviceConfiguration"] = config
        self.id = env.pool(LambdaConfig={k: ARN.format(k) for k in functions}, **pool_kwargs)
        app = env.app(self.id, GenerateSecret=secret)
        self.app, self.secret = app["ClientId"], app.get("ClientSecret")
        for name in users:
            env.user(self.id, name, attributes=[{"Name": "phone_number", "Value": PHONE}])
            if confirmed:
                env.place(self.id, name, status="CONFIRMED")

    def hashed(self, username: str = "alice") -> dict:
        return {"SECRET_HASH": secret_hash(self.secret, username, self.app)} if self.secret else {}

    def initiate(self, username: str = "alice", device=None, **extra) -> dict:
        key = {"DEVICE_KEY": device.key} if device else {}
        return self.env.initiate(self.app, username, TEMP, **key, **self.hashed(username), **extra)

    def sign_in(self, username: str = "alice", device=None, **kwargs) -> dict:
        """USER_PASSWORD_AUTH, answering SMS_MFA and the device steps when asked: the
        AuthenticationResult."""
        response = self.initiate(username, device)
        return self.finish(response, username, device, **kwargs)["AuthenticationResult"]

    def finish(self, response: dict, username: str = "alice", device=None, **kwargs) -> dict:
        if response.get("ChallengeName") == "SMS_MFA":
            response = self.env.respond(self.app, response["Session"],
                                        {"USERNAME": username, "SMS_MFA_CODE": self.code(), **self.hashed(username)},
                                        name="SMS_MFA")
        if response.get("ChallengeName") == "DEVICE_SRP_AUTH":
            response = answer_device_challenges(self.env, self.app, response, device, username=username,
                                                extra=self.hashed(username), **kwargs)
        return response

    def code(self) -> str:
        return re.search(r"\d{6}", self.env.outbox.last().body).group()

    def new_device(self, username: str = "alice"):
        tokens = self.sign_in(username)
        return confirm_new_device(self.env, tokens), tokens

    def refresh(self, token: str, **params) -> dict:
        return self.client.initiate_auth(ClientId=self.app, AuthFlow="REFRESH_TOKEN_AUTH",
                                         AuthParameters={"REFRESH_TOKEN": token, **params})

    def devices(self) -> dict:
        return devices_of(self.env, self.id)


def _define(event):
    rounds = event["request"]["session"]
    done = bool(rounds) and rounds[-1]["challengeResult"]
    event["response"].update(issueTokens=done, failAuthentication=False)
    if not done:
        event["response"]["challengeName"] = "CUSTOM_CHALLENGE"
    return event


def _create(event):
    event["response"].update(publicChallengeParameters={"q": "6 * 7"}, privateChallengeParameters={"a": "42"})
    return event


def _verify(event):
    event["response"]["answerCorrect"] = event["request"]["challengeAnswer"] == "42"
    return event


# -- every flow that ends in tokens ------------------------------------------------------------------


def _password(pool: Pool, admin: bool) -> dict:
    if admin:
        return pool.env.admin_initiate(pool.id, pool.app, password=TEMP)
    return pool.env.initiate(pool.app, password=TEMP)


def _respond(pool: Pool, admin: bool, **request) -> dict:
    if admin:
        return pool.client.admin_respond_to_auth_challenge(UserPoolId=pool.id, ClientId=pool.app, **request)
    return pool.client.respond_to_auth_challenge(ClientId=pool.app, **request)


def _srp(pool: Pool, admin: bool) -> dict:
    srp = SrpClient(pool.id, 0xA11CE)
    request = {"ClientId": pool.app, "AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"USERNAME": "alice",
                                                                                      "SRP_A": srp.srp_a}}
    if admin:
        started = pool.client.admin_initiate_auth(UserPoolId=pool.id, **request)
    else:
        started = pool.client.initiate_auth(**request)
    assert started["ChallengeName"] == "PASSWORD_VERIFIER"
    return _respond(pool, admin, ChallengeName="PASSWORD_VERIFIER",
                    ChallengeResponses=srp.answer(started["ChallengeParameters"], TEMP, pool.env.clock.now()))


def _custom(pool: Pool, admin: bool) -> dict:
    request = {"ClientId": pool.app, "AuthFlow": "CUSTOM_AUTH", "AuthParameters": {"USERNAME": "alice"}}
    if admin:
        started = pool.client.admin_initiate_auth(UserPoolId=pool.id, **request)
    else:
        started = pool.client.initiate_auth(**request)
    assert started["ChallengeName"] == "CUSTOM_CHALLENGE" and "AuthenticationResult" not in started
    return _respond(pool, admin, ChallengeName="CUSTOM_CHALLENGE", Session=started["Session"],
                    ChallengeResponses={"USERNAME": "alice", "ANSWER": "42"})


def _new_password(pool: Pool, admin: bool) -> dict:
    started = _password(pool, admin)
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED" and "AuthenticationResult" not in started
    return _respond(pool, admin, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
                    ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": NEW})


def _sms_mfa(pool: Pool, admin: bool) -> dict:
    started = _password(pool, admin)
    assert started["ChallengeName"] == "SMS_MFA" and "AuthenticationResult" not in started
    return _respond(pool, admin, ChallengeName="SMS_MFA", Session=started["Session"],
                    ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": pool.code()})


FLOWS = {
    "USER_PASSWORD_AUTH": (_password, {}),
    "USER_SRP_AUTH": (_srp, {}),
    "CUSTOM_AUTH": (_custom, {}),
    "NEW_PASSWORD_REQUIRED": (_new_password, {"confirmed": False}),
    "SMS_MFA": (_sms_mfa, SMS),
}
FLOW_CASES = [pytest.param(name, admin, id=f"{'Admin-' if admin else ''}{name}")
              for name in FLOWS for admin in (False, True)]


@pytest.mark.parametrize(("flow", "admin"), FLOW_CASES)
def test_every_flow_that_ends_in_tokens_issues_a_device(flow, admin):
    run, kwargs = FLOWS[flow]
    pool = Pool(tracking(), **kwargs)
    result = run(pool, admin)["AuthenticationResult"]
    metadata = result["NewDeviceMetadata"]
    assert set(metadata) == {"DeviceKey", "DeviceGroupKey"}
    assert KEY.fullmatch(metadata["DeviceKey"]) and len(metadata["DeviceKey"]) <= 55
    assert GROUP.fullmatch(metadata["DeviceGroupKey"])
    assert verified_access_claims(pool.env, pool.id, result["AccessToken"])["device_key"] == metadata["DeviceKey"]
    assert "device_key" not in claims(result["IdToken"])
    device = pool.devices()[metadata["DeviceKey"]]
    assert (device.status, device.group_key) == ("NEW", metadata["DeviceGroupKey"])
    # Issued to the signed-in user: it can be confirmed with these tokens.
    confirm_new_device(pool.env, result)


@pytest.mark.parametrize(("flow", "admin"), FLOW_CASES)
def test_no_device_is_issued_without_tracking(flow, admin):
    run, kwargs = FLOWS[flow]
    pool = Pool(None, **kwargs)
    result = run(pool, admin)["AuthenticationResult"]
    assert "NewDeviceMetadata" not in result
    assert "device_key" not in claims(result["AccessToken"])
    assert pool.devices() == {}


def test_an_empty_device_configuration_does_not_track():
    pool = Pool({})
    assert "NewDeviceMetadata" not in pool.sign_in()


def test_refresh_issues_no_device_and_keeps_the_key():
    pool = Pool(tracking())
    device, tokens = pool.new_device()
    refreshed = pool.refresh(tokens["RefreshToken"], DEVICE_KEY=device.key)["AuthenticationResult"]
    assert "NewDeviceMetadata" not in refreshed and "RefreshToken" not in refreshed
    assert claims(refreshed["AccessToken"])["device_key"] == device.key
    assert set(pool.devices()) == {device.key}


def test_the_device_group_key_is_one_per_user():
    pool = Pool(tracking(), users=("alice", "bob"))
    alice = {pool.sign_in("alice")["NewDeviceMetadata"]["DeviceGroupKey"] for _ in range(3)}
    bob = {pool.sign_in("bob")["NewDeviceMetadata"]["DeviceGroupKey"] for _ in range(2)}
    assert len(alice) == 1 and len(bob) == 1 and alice != bob
    keys = {d.key for d in pool.devices().values()}
    assert len(keys) == 5  # every sign-in its own key
    # The same name in another pool of the same engine: another user, another group key.
    other = pool.env.pool(DeviceConfiguration=tracking())
    other_app = pool.env.app_id(other)
    pool.env.user(other, "alice")
    pool.env.place(other, "alice", status="CONFIRMED")
    assert pool.env.initiate(other_app)["AuthenticationResult"]["NewDeviceMetadata"]["DeviceGroupKey"] not in alice


# -- device SRP ----------------------------------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True], ids=["user", "admin"])
@pytest.mark.parametrize("session", [True, False], ids=["with-session", "without-session"])
@pytest.mark.parametrize("same_a", [True, False], ids=["same-A", "fresh-A"])
def test_a_remembered_device_proves_itself_after_the_users_srp(same_a, session, admin):
    """amazon-cognito-identity-js: Session, a fresh A; pycognito: no Session, the user
    step's A again."""
    pool = Pool(tracking())
    device, _ = pool.new_device()
    pool.env.clock.advance(timedelta(minutes=5))
    user_srp = SrpClient(pool.id, 0xA11CE)
    request = {"ClientId": pool.app, "AuthFlow": "USER_SRP_AUTH",
               "AuthParameters": {"USERNAME": "alice", "SRP_A": user_srp.srp_a, "DEVICE_KEY": device.key}}
    started = (pool.client.admin_initiate_auth(UserPoolId=pool.id, **request) if admin
               else pool.client.initiate_auth(**request))
    answer = {**user_srp.answer(started["ChallengeParameters"], TEMP, pool.env.clock.now()), "DEVICE_KEY": device.key}
    asked = _respond(pool, admin, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer)
    assert asked["ChallengeName"] == "DEVICE_SRP_AUTH" and asked["ChallengeParameters"] == {}
    result = answer_device_challenges(pool.env, pool.app, asked, device, session=session,
                                      a=user_srp.a if same_a else 0xF00D, pool=pool.id if admin else None)
    tokens = result["AuthenticationResult"]
    assert "NewDeviceMetadata" not in tokens
    assert verified_access_claims(pool.env, pool.id, tokens["AccessToken"])["device_key"] == device.key
    assert pool.devices()[device.key].last_authenticated == pool.env.clock.now()
    assert set(pool.devices()) == {device.key}  # no new device


def test_device_password_verifier_parameters():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    asked = pool.initiate(device=device)
    srp = device.srp()
    started = pool.env.respond(pool.app, asked["Session"],
                               {"USERNAME": "alice", "DEVICE_KEY": device.key, "SRP_A": srp.srp_a},
                               name="DEVICE_SRP_AUTH")
    parameters = started["ChallengeParameters"]
    assert set(parameters) == {"SRP_B", "SALT", "SECRET_BLOCK", "USERNAME", "DEVICE_KEY"}
    assert (parameters["USERNAME"], parameters["DEVICE_KEY"]) == ("alice", device.key)
    assert started["Session"] != asked["Session"]


def test_a_secret_client_needs_secret_hash_on_the_device_proof():
    pool = Pool(tracking(), secret=True)
    device, _ = pool.new_device()
    asked = pool.initiate(device=device)
    srp = device.srp()
    step = {"USERNAME": "alice", "DEVICE_KEY": device.key, "SRP_A": srp.srp_a}
    wrong_hash = {"SECRET_HASH": secret_hash(pool.secret, "bob", pool.app)}
    not_verified = f"Unable to verify secret hash for client {pool.app}"
    # DEVICE_SRP_AUTH: a wrong SECRET_HASH is refused, none at all (pycognito sends none) accepted...
    unchanged(pool.env, NotAuthorizedException, not_verified, pool.env.respond, pool.app, asked["Session"],
              {**step, **wrong_hash}, name="DEVICE_SRP_AUTH")
    started = pool.env.respond(pool.app, asked["Session"], step, name="DEVICE_SRP_AUTH")
    answer = srp.answer(started["ChallengeParameters"], "alice", pool.env.clock.now())
    # ...DEVICE_PASSWORD_VERIFIER without it, or with a wrong one, is not.
    for extra, message in (({}, f"Client {pool.app} is configured for secret but secret was not received"),
                           (wrong_hash, not_verified)):
        unchanged(pool.env, NotAuthorizedException, message, pool.env.respond, pool.app, started["Session"],
                  {**answer, **extra}, name="DEVICE_PASSWORD_VERIFIER")
    done = pool.env.respond(pool.app, started["Session"], {**answer, **pool.hashed()}, name="DEVICE_PASSWORD_VERIFIER")
    assert "AuthenticationResult" in done


def _device_proof_step(pool: Pool, device):
    """A sign-in of `device` up to DEVICE_PASSWORD_VERIFIER: (its response, the device's client)."""
    asked = pool.initiate(device=device)
    srp = device.srp()
    started = pool.env.respond(pool.app, asked["Session"],
                               {"USERNAME": "alice", "DEVICE_KEY": device.key, "SRP_A": srp.srp_a},
                               name="DEVICE_SRP_AUTH")
    return started, srp


def test_a_wrong_device_proof_is_refused_counted_and_leaves_the_step_answerable():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    started, srp = _device_proof_step(pool, device)
    wrong = DeviceSrpClient(device.group, device.key, "not the device password", srp.a)
    answer = wrong.answer(started["ChallengeParameters"], "alice", pool.env.clock.now())
    before = pool.env.snapshot()
    refused(NotAuthorizedException, INCORRECT, pool.env.respond, pool.app, started["Session"], answer,
            name="DEVICE_PASSWORD_VERIFIER")
    after = pool.env.snapshot()
    # Only the lockout counter moved.
    assert [c.count for c in after["auth"][pool.id]["failed_sign_ins"].values()] == [1]
    after["auth"][pool.id]["failed_sign_ins"] = before["auth"][pool.id]["failed_sign_ins"]
    assert after == before
    right = srp.answer(started["ChallengeParameters"], "alice", pool.env.clock.now())
    done = pool.env.respond(pool.app, started["Session"], right, name="DEVICE_PASSWORD_VERIFIER")
    assert claims(done["AuthenticationResult"]["AccessToken"])["device_key"] == device.key
    assert pool.env.snapshot()["auth"][pool.id]["failed_sign_ins"] == {}  # a right proof resets


def test_wrong_device_proofs_lock_the_user_out_like_wrong_passwords():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    started, srp = _device_proof_step(pool, device)
    wrong = DeviceSrpClient(device.group, device.key, "not the device password", srp.a)
    for _ in range(5):
        refused(NotAuthorizedException, INCORRECT, pool.env.respond, pool.app, started["Session"],
                wrong.answer(started["ChallengeParameters"], "alice", pool.env.clock.now()),
                name="DEVICE_PASSWORD_VERIFIER")
    right = srp.answer(started["ChallengeParameters"], "alice", pool.env.clock.now())
    refused(NotAuthorizedException, "Password attempts exceeded", pool.env.respond, pool.app, started["Session"],
            right, name="DEVICE_PASSWORD_VERIFIER")
    refused(NotAuthorizedException, "Password attempts exceeded", pool.initiate)


@pytest.mark.parametrize("session", [True, False], ids=["with-session", "without-session"])
def test_a_device_proof_is_accepted_once(session):
    pool = Pool(tracking())
    device, _ = pool.new_device()
    started, srp = _device_proof_step(pool, device)
    answer = srp.answer(started["ChallengeParameters"], "alice", pool.env.clock.now())
    request = {"ClientId": pool.app, "ChallengeName": "DEVICE_PASSWORD_VERIFIER", "ChallengeResponses": answer}
    if session:
        request["Session"] = started["Session"]
    assert "AuthenticationResult" in pool.client.respond_to_auth_challenge(**request)
    used = "Invalid session for the user, session can only be used once."
    unchanged(pool.env, NotAuthorizedException, used, pool.client.respond_to_auth_challenge, **request)
    # Nor can the finished sign-in be taken back to its first device step.
    unchanged(pool.env, NotAuthorizedException, used, pool.client.respond_to_auth_challenge, ClientId=pool.app,
              ChallengeName="DEVICE_SRP_AUTH",
              ChallengeResponses={"USERNAME": "alice", "DEVICE_KEY": device.key, "SRP_A": srp.srp_a})


def test_a_stale_or_malformed_timestamp_is_refused_and_changes_nothing():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    started, srp = _device_proof_step(pool, device)
    now = pool.env.clock.now()
    stale = srp.answer(started["ChallengeParameters"], "alice", now, when=timestamp(now - timedelta(minutes=4)))
    unchanged(pool.env, NotAuthorizedException, "TIMESTAMP is too far from the server's time.", pool.env.respond,
              pool.app, started["Session"], stale, name="DEVICE_PASSWORD_VERIFIER")
    malformed = srp.answer(started["ChallengeParameters"], "alice", now, when="2026-01-01T12:00:00Z")
    unchanged(pool.env, InvalidParameterException, "TIMESTAMP must look like 'Tue Mar 3 07:05:09 UTC 2026'.",
              pool.env.respond, pool.app, started["Session"], malformed, name="DEVICE_PASSWORD_VERIFIER")
    right = srp.answer(started["ChallengeParameters"], "alice", now)
    assert "AuthenticationResult" in pool.env.respond(pool.app, started["Session"], right,
                                                      name="DEVICE_PASSWORD_VERIFIER")


def test_a_device_srp_answer_with_another_session_or_a_bad_srp_a_is_refused():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    asked = pool.initiate(device=device)
    good = {"USERNAME": "alice", "DEVICE_KEY": device.key, "SRP_A": device.srp().srp_a}
    unchanged(pool.env, NotAuthorizedException, "Invalid session for the user.", pool.env.respond, pool.app,
              "not-the-session-" + "x" * 30, good, name="DEVICE_SRP_AUTH")
    unchanged(pool.env, InvalidParameterException, "SRP_A must be a hexadecimal number other than 0 modulo N.",
              pool.env.respond, pool.app, asked["Session"], {**good, "SRP_A": "0"}, name="DEVICE_SRP_AUTH")
    unchanged(pool.env, NotAuthorizedException, "Invalid session for the user.", pool.env.respond, pool.app,
              asked["Session"], {**good, "USERNAME": "bob"}, name="DEVICE_SRP_AUTH")
    # The other device step is not what the sign-in waits for.
    unchanged(pool.env, InvalidParameterException,
              "Invalid challenge name DEVICE_PASSWORD_VERIFIER: the session expects an answer to DEVICE_SRP_AUTH",
              pool.env.respond, pool.app, asked["Session"],
              {"USERNAME": "alice", "DEVICE_KEY": device.key, "PASSWORD_CLAIM_SECRET_BLOCK": "AAAA",
               "PASSWORD_CLAIM_SIGNATURE": "AAAA", "TIMESTAMP": timestamp(pool.env.clock.now())},
              name="DEVICE_PASSWORD_VERIFIER")
    assert pool.env.respond(pool.app, asked["Session"], good, name="DEVICE_SRP_AUTH")["ChallengeName"] == \
        "DEVICE_PASSWORD_VERIFIER"


def test_a_device_sign_in_expires_with_the_session():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    asked = pool.initiate(device=device)
    pool.env.clock.advance(timedelta(minutes=3))
    unchanged(pool.env, NotAuthorizedException, "Invalid session for the user, session is expired.",
              pool.env.respond, pool.app, asked["Session"],
              {"USERNAME": "alice", "DEVICE_KEY": device.key, "SRP_A": device.srp().srp_a}, name="DEVICE_SRP_AUTH")


def test_a_forgotten_device_stops_the_srp_proof_and_the_same_block_then_signs_in_without_it():
    """What amazon-cognito-identity-js does: its PASSWORD_VERIFIER answer carries the
    stored key; on "Device does not exist." it sends the same answer with DEVICE_KEY null."""
    pool = Pool(tracking())
    device, tokens = pool.new_device()
    pool.client.forget_device(AccessToken=tokens["AccessToken"], DeviceKey=device.key)
    user_srp = SrpClient(pool.id, 0xA11CE)
    started = pool.client.initiate_auth(
        ClientId=pool.app, AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": "alice", "SRP_A": user_srp.srp_a, "DEVICE_KEY": device.key},
    )
    answer = user_srp.answer(started["ChallengeParameters"], TEMP, pool.env.clock.now())
    unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.client.respond_to_auth_challenge,
              ClientId=pool.app, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses={**answer,
                                                                                       "DEVICE_KEY": device.key})
    again = pool.client.respond_to_auth_challenge(ClientId=pool.app, ChallengeName="PASSWORD_VERIFIER",
                                                  ChallengeResponses=answer)
    fresh = again["AuthenticationResult"]["NewDeviceMetadata"]
    assert fresh["DeviceKey"] != device.key and fresh["DeviceGroupKey"] == device.group


def test_a_device_forgotten_during_its_sign_in_cannot_finish():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    started, srp = _device_proof_step(pool, device)
    pool.client.admin_forget_device(UserPoolId=pool.id, Username="alice", DeviceKey=device.key)
    answer = srp.answer(started["ChallengeParameters"], "alice", pool.env.clock.now())
    unchanged(pool.env, NotAuthorizedException, "Invalid session for the user.", pool.env.respond, pool.app,
              started["Session"], answer, name="DEVICE_PASSWORD_VERIFIER")
    assert device.key not in pool.devices()


# -- remembered devices and MFA ---------------------------------------------------------------------


def test_a_remembered_device_stands_in_for_mfa_when_the_pool_says_so():
    pool = Pool(tracking(challenge_required=True), **SMS)
    first = pool.initiate()
    assert first["ChallengeName"] == "SMS_MFA"  # a new device: MFA as usual
    device = confirm_new_device(pool.env, pool.finish(first)["AuthenticationResult"])
    sent = len(pool.env.outbox.messages)
    asked = pool.initiate(device=device)
    assert asked["ChallengeName"] == "DEVICE_SRP_AUTH"
    result = answer_device_challenges(pool.env, pool.app, asked, device)["AuthenticationResult"]
    assert claims(result["AccessToken"])["device_key"] == device.key
    assert len(pool.env.outbox.messages) == sent  # no code was sent


def test_without_challenge_required_on_new_device_mfa_comes_first_then_the_device_proof():
    pool = Pool(tracking(challenge_required=False), **SMS)
    device = confirm_new_device(pool.env, pool.sign_in())
    asked = pool.initiate(device=device)
    assert asked["ChallengeName"] == "SMS_MFA"
    after_mfa = pool.env.respond(pool.app, asked["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": pool.code()},
                                 name="SMS_MFA")
    assert after_mfa["ChallengeName"] == "DEVICE_SRP_AUTH"
    result = answer_device_challenges(pool.env, pool.app, after_mfa, device)["AuthenticationResult"]
    assert "NewDeviceMetadata" not in result
    assert claims(result["AccessToken"])["device_key"] == device.key


@pytest.mark.parametrize("how", ["on-prompt", "updated", "unconfirmed"])
def test_a_device_not_remembered_still_needs_mfa_and_no_device_proof(how):
    pool = Pool(tracking(challenge_required=True, on_prompt=how == "on-prompt"), **SMS)
    tokens = pool.sign_in()
    if how == "unconfirmed":
        key = tokens["NewDeviceMetadata"]["DeviceKey"]
    else:
        key = confirm_new_device(pool.env, tokens).key
        if how == "updated":
            pool.client.update_device_status(AccessToken=tokens["AccessToken"], DeviceKey=key,
                                             DeviceRememberedStatus="not_remembered")
    asked = pool.env.initiate(pool.app, DEVICE_KEY=key)
    assert asked["ChallengeName"] == "SMS_MFA"
    result = pool.env.respond(pool.app, asked["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": pool.code()},
                              name="SMS_MFA")["AuthenticationResult"]
    assert "NewDeviceMetadata" not in result
    assert claims(result["AccessToken"])["device_key"] == key


def test_a_device_key_after_new_password_required_leads_to_the_device_proof():
    pool = Pool(tracking(), confirmed=False)
    pool.env.place(pool.id, "alice", status="CONFIRMED")
    device = confirm_new_device(pool.env, pool.sign_in())
    pool.env.place(pool.id, "alice", status="FORCE_CHANGE_PASSWORD")
    asked = pool.initiate(device=device)
    assert asked["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    after = pool.env.respond(pool.app, asked["Session"], {"USERNAME": "alice", "NEW_PASSWORD": NEW})
    assert after["ChallengeName"] == "DEVICE_SRP_AUTH"
    result = answer_device_challenges(pool.env, pool.app, after, device)["AuthenticationResult"]
    assert claims(result["AccessToken"])["device_key"] == device.key


def test_a_device_key_in_custom_auth_leads_to_the_device_proof():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    started = pool.client.initiate_auth(ClientId=pool.app, AuthFlow="CUSTOM_AUTH",
                                        AuthParameters={"USERNAME": "alice", "DEVICE_KEY": device.key})
    after = pool.env.respond(pool.app, started["Session"], {"USERNAME": "alice", "ANSWER": "42"},
                             name="CUSTOM_CHALLENGE")
    assert after["ChallengeName"] == "DEVICE_SRP_AUTH"
    result = answer_device_challenges(pool.env, pool.app, after, device)["AuthenticationResult"]
    assert claims(result["AccessToken"])["device_key"] == device.key


def test_an_unknown_or_wrong_shaped_device_key_is_refused_after_the_password():
    pool = Pool(tracking(), users=("alice", "bob"))
    bobs, _ = pool.new_device("bob")
    unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.env.initiate, pool.app,
              DEVICE_KEY="us-east-1_0badc0de-0000-4000-8000-000000000000")
    # Wrong-shaped, or another user's: an invalid key (reference §4.5).
    for key in ("not-a-key", bobs.key):
        unchanged(pool.env, InvalidParameterException, "Invalid device key given.", pool.env.initiate, pool.app,
                  DEVICE_KEY=key)
    # A wrong password is refused as such: the key says nothing to someone without it.
    refused(NotAuthorizedException, INCORRECT, pool.env.initiate, pool.app, password="Wrong1234!",
            DEVICE_KEY=bobs.key)


# -- refresh, sign-out, purge -------------------------------------------------------------------------


def test_refresh_of_a_device_bound_family_needs_its_confirmed_key():
    pool = Pool(tracking())
    issued = pool.sign_in()
    key = issued["NewDeviceMetadata"]["DeviceKey"]
    other, _ = pool.new_device()
    # Unconfirmed: refused even with its key.
    unchanged(pool.env, NotAuthorizedException, INVALID_REFRESH, pool.refresh, issued["RefreshToken"],
              DEVICE_KEY=key)
    device = confirm_new_device(pool.env, issued)
    for params in ({}, {"DEVICE_KEY": other.key}, {"DEVICE_KEY": "us-east-1_0badc0de-0000-4000-8000-000000000000"}):
        unchanged(pool.env, NotAuthorizedException, INVALID_REFRESH, pool.refresh, issued["RefreshToken"], **params)
    refreshed = pool.refresh(issued["RefreshToken"], DEVICE_KEY=device.key)["AuthenticationResult"]
    assert claims(refreshed["AccessToken"])["device_key"] == device.key
    # Not remembered any more: the key and its refresh tokens stay.
    pool.client.admin_update_device_status(UserPoolId=pool.id, Username="alice", DeviceKey=device.key,
                                           DeviceRememberedStatus="not_remembered")
    assert "AuthenticationResult" in pool.refresh(issued["RefreshToken"], DEVICE_KEY=device.key)
    pool.client.admin_forget_device(UserPoolId=pool.id, Username="alice", DeviceKey=device.key)
    unchanged(pool.env, NotAuthorizedException, INVALID_REFRESH, pool.refresh, issued["RefreshToken"],
              DEVICE_KEY=device.key)


@pytest.mark.parametrize("admin", [False, True], ids=["GlobalSignOut", "AdminUserGlobalSignOut"])
def test_global_sign_out_revokes_the_tokens_and_keeps_the_devices(admin):
    pool = Pool(tracking())
    device, tokens = pool.new_device()
    if admin:
        pool.client.admin_user_global_sign_out(UserPoolId=pool.id, Username="alice")
    else:
        pool.client.global_sign_out(AccessToken=tokens["AccessToken"])
    refused(NotAuthorizedException, "Refresh Token has been revoked", pool.refresh, tokens["RefreshToken"],
            DEVICE_KEY=device.key)
    listed = pool.client.admin_list_devices(UserPoolId=pool.id, Username="alice")["Devices"]
    assert [d["DeviceKey"] for d in listed] == [device.key]
    assert pool.devices()[device.key].status == "REMEMBERED"
    again = pool.sign_in(device=device)  # still remembered: the device proves itself
    assert "NewDeviceMetadata" not in again
    assert "AuthenticationResult" in pool.refresh(again["RefreshToken"], DEVICE_KEY=device.key)


def test_purge_removes_unconfirmed_devices_once_their_refresh_token_expired():
    pool = Pool(tracking())
    device, _ = pool.new_device()
    unconfirmed = pool.sign_in()["NewDeviceMetadata"]["DeviceKey"]
    pool.env.clock.advance(timedelta(days=30) - timedelta(seconds=1))
    pool.client.purge_expired()
    assert set(pool.devices()) == {device.key, unconfirmed}
    pool.env.clock.advance(timedelta(seconds=2))
    assert pool.client.purge_expired()["devices"] == 1
    assert set(pool.devices()) == {device.key}
    unchanged(pool.env, ResourceNotFoundException, NOT_EXIST, pool.env.initiate, pool.app, DEVICE_KEY=unconfirmed)
    pool.sign_in(device=device)  # the confirmed one stays and signs in
