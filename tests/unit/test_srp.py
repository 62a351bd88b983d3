"""USER_SRP_AUTH through the public Client, checked against an SRP client written from the
specification (authflow/conformance/srp_client.py, which imports nothing from authflow): the arithmetic
by known answers, sign-in for any username and password, every refusal (with its exact
error and an unchanged store, but for the lockout counter), unknown users in both
PreventUserExistenceErrors modes, the challenges that follow, and what is stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authflow.adapters import codec
from authflow.conformance import srp_client as spec
from authflow.conformance.srp_client import SrpClient
from authflow.crypto import srp as engine_srp
from tests.external import need
from tests.helpers import without_lockout
from tests.signin import NEW, TEMP, Env, assert_tokens, refused, secret_hash
from tests.unit.test_triggers import Recorder, TriggerEnv

INCORRECT = "Incorrect username or password."
SESSION_USED = "Invalid session for the user, session can only be used once."
SESSION_EXPIRED = "Invalid session for the user, session is expired."
STALE = "TIMESTAMP is too far from the server's time."
BAD_TIMESTAMP = "TIMESTAMP must look like 'Tue Mar 3 07:05:09 UTC 2026'."
LOCKED = "Password attempts exceeded"
PHONE = "+12065554567"
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
SALT_FORM = re.compile(r"(00[89a-f][0-9a-f]|[0-7][0-9a-f]|0[1-9a-f])([0-9a-f]{2})*")


# -- helpers ---------------------------------------------------------------------------------------


class Srp:
    """An Env with one pool, one app client and SRP sign-ins by the spec's client."""

    def __init__(self, *, pool_kwargs=None, app_kwargs=None, seed: int = 1) -> None:
        self.env = Env(seed)
        self.client = self.env.client
        self.pool = self.env.pool(**(pool_kwargs or {}))
        self.app = self.env.app(self.pool, **(app_kwargs or {}))
        self.app_id = self.app["ClientId"]
        self.secret = self.app.get("ClientSecret")
        self._a = 0x1234567890ABCDEF

    def confirmed(self, username: str = "alice", password: str = NEW, **kwargs) -> dict:
        user = self.env.user(self.pool, username, **kwargs)
        self.client.admin_set_user_password(UserPoolId=self.pool, Username=user["Username"],
                                            Password=password, Permanent=True)
        return user

    def start(self, username: str = "alice", *, admin: bool = False, srp_a: str | None = None):
        self._a += 1
        srp = SrpClient(self.pool, self._a)
        params = {"USERNAME": username, "SRP_A": srp_a or srp.srp_a}
        if self.secret:
            params["SECRET_HASH"] = secret_hash(self.secret, username, self.app_id)
        if admin:
            response = self.client.admin_initiate_auth(UserPoolId=self.pool, ClientId=self.app_id,
                                                       AuthFlow="USER_SRP_AUTH", AuthParameters=params)
        else:
            response = self.client.initiate_auth(ClientId=self.app_id, AuthFlow="USER_SRP_AUTH",
                                                 AuthParameters=params)
        return srp, response

    def claim(self, srp: SrpClient, started: dict, password: str, **kwargs) -> dict:
        responses = srp.answer(started["ChallengeParameters"], password, self.env.clock.now(), **kwargs)
        if self.secret:
            responses["SECRET_HASH"] = secret_hash(self.secret, responses["USERNAME"], self.app_id)
        return responses

    def respond(self, responses: dict, *, admin: bool = False) -> dict:
        if admin:
            return self.client.admin_respond_to_auth_challenge(
                UserPoolId=self.pool, ClientId=self.app_id, ChallengeName="PASSWORD_VERIFIER",
                ChallengeResponses=responses)
        return self.client.respond_to_auth_challenge(
            ClientId=self.app_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses)

    def sign_in(self, username: str = "alice", password: str = NEW, *, admin: bool = False) -> dict:
        srp, started = self.start(username, admin=admin)
        assert started["ChallengeName"] == "PASSWORD_VERIFIER"
        return self.respond(self.claim(srp, started, password), admin=admin)

    def snapshot(self):
        return self.env.snapshot()

    @property
    def errors(self):
        return self.client.exceptions


# -- the arithmetic --------------------------------------------------------------------------------


def test_pad_hex_and_k_as_the_specification_gives_them():
    for n, text in [(0x14, "14"), (0xEC, "00ec"), (0xABC, "0abc"), (2, "02")]:
        assert engine_srp.pad_hex(n) == spec.pad(n) == text
    assert engine_srp.pad_hex(engine_srp.N).startswith("00ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd1")
    assert len(engine_srp.pad_hex(engine_srp.N)) == 770
    assert engine_srp.N == spec.N
    assert f"{engine_srp.K:064x}" == "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6"


def test_known_answer():
    """Fixed a, b, salt and password: every intermediate value as the test computes it from
    §2.4-2.6, and the server's S equal to the client's."""
    pool_id, user_id, password = "us-east-1_AbC123", "alice", "Correct-horse-1"
    salt, a, b = 0x00F1E2D3C4B5A69788796A5B4C3D2E1F, 0xA1B2C3D4 << 200, 0xB0B0B0B0 << 220
    inner = hashlib.sha256(b"AbC123alice:Correct-horse-1").hexdigest()
    x = int(hashlib.sha256(bytes.fromhex("00f1e2d3c4b5a69788796a5b4c3d2e1f") + bytes.fromhex(inner)).hexdigest(), 16)
    v = pow(2, x, spec.N)
    big_a = pow(2, a, spec.N)
    big_b = (spec.K * v + pow(2, b, spec.N)) % spec.N
    u = int(hashlib.sha256(bytes.fromhex(spec.pad(big_a) + spec.pad(big_b))).hexdigest(), 16)
    client_s = pow((big_b - spec.K * pow(2, x, spec.N)) % spec.N, a + u * x, spec.N)
    server_s = pow(big_a * pow(v, u, spec.N) % spec.N, b, spec.N)
    assert client_s == server_s
    prk = hmac.new(bytes.fromhex(spec.pad(u)), bytes.fromhex(spec.pad(server_s)), hashlib.sha256).digest()
    key = hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]
    block, when = b"\x01\x02opaque", "Tue Mar 3 07:05:09 UTC 2026"
    signature = base64.b64encode(hmac.new(key, b"AbC123" + b"alice" + block + when.encode(), hashlib.sha256).digest()).decode()

    assert engine_srp.private_key(pool_id, user_id, password, salt) == x
    for backend in engine_srp.BACKENDS:
        assert engine_srp.verifier(pool_id, user_id, password, salt, backend=backend) == v
        assert engine_srp.server_b(v, b, backend=backend) == big_b
        assert engine_srp.server_secret(big_a, v, u, b, backend=backend) == server_s
    assert engine_srp.scrambler(big_a, big_b) == u
    assert engine_srp.session_key(server_s, u) == key
    assert engine_srp.claim_signature(key, pool_id, user_id, block, when) == signature
    assert engine_srp.claim_matches(pool_id=pool_id, user_id=user_id, v=v, big_a=big_a, b=b, u=u,
                                    secret_block=block, timestamp=when, signature=signature)
    assert not engine_srp.claim_matches(pool_id=pool_id, user_id=user_id, v=v, big_a=big_a, b=b, u=u,
                                        secret_block=block, timestamp=when, signature=signature[:-4] + "AAA=")


def test_gmpy2_and_pure_pow_agree():
    need("gmpy2" in engine_srp.BACKENDS, "gmpy2 is not installed (pip install 'authflow[fast]')")
    rng = secrets.SystemRandom()
    for _ in range(20):
        base, exponent = rng.randrange(engine_srp.N), rng.getrandbits(rng.choice([1, 64, 256, 3072]))
        pure = engine_srp.powmod(base, exponent, engine_srp.N, backend="pure")
        assert engine_srp.powmod(base, exponent, engine_srp.N, backend="gmpy2") == pure == pow(base, exponent, spec.N)
        assert type(engine_srp.powmod(base, exponent, engine_srp.N, backend="gmpy2")) is int


def test_timestamp_parsing():
    moment = datetime(2026, 3, 3, 7, 5, 9, tzinfo=timezone.utc)
    when = spec.timestamp(moment)
    assert when == "Tue Mar 3 07:05:09 UTC 2026" == engine_srp.format_timestamp(moment)
    assert engine_srp.parse_timestamp(when) == moment
    for bad in ["Tue Mar 03 07:05:09 UTC 2026", "Wed Mar 3 07:05:09 UTC 2026", "Tue Feb 30 07:05:09 UTC 2026",
                "Tue Mar 3 7:05:09 UTC 2026", "Tue Mar 3 07:05:09 GMT 2026", "tue mar 3 07:05:09 UTC 2026",
                "Tue Mar 3 07:05:09 UTC 2026 ", "2026-03-03T07:05:09Z"]:
        with pytest.raises(engine_srp.SrpError):
            engine_srp.parse_timestamp(bad)


# -- signing in --------------------------------------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True])
def test_sign_in_and_the_challenge_parameters(admin):
    t = Srp()
    t.confirmed()
    srp, started = t.start(admin=admin)
    assert started["ChallengeName"] == "PASSWORD_VERIFIER"
    assert "Session" not in started and "AuthenticationResult" not in started
    parameters = started["ChallengeParameters"]
    assert set(parameters) == {"SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP", "USERNAME"}
    assert parameters["USER_ID_FOR_SRP"] == parameters["USERNAME"] == "alice"
    assert SALT_FORM.fullmatch(parameters["SALT"]) and spec.pad(int(parameters["SALT"], 16)) == parameters["SALT"]
    assert re.fullmatch(r"[0-9a-f]+", parameters["SRP_B"]) and 0 < int(parameters["SRP_B"], 16) < spec.N
    base64.b64decode(parameters["SECRET_BLOCK"], validate=True)
    assert_tokens(t.respond(t.claim(srp, started, NEW), admin=admin))


def test_b_is_fresh_for_every_attempt():
    t = Srp()
    t.confirmed()
    seen = {t.start()[1]["ChallengeParameters"]["SRP_B"] for _ in range(20)}
    assert len(seen) == 20


USERNAMES = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+@éßЖ漢"), min_size=1, max_size=24
)
PASSWORDS = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=0, max_size=24).map(lambda p: p + "Aa1!pass")


@given(username=USERNAMES, password=PASSWORDS, other=PASSWORDS)
def test_any_username_and_password_sign_in_and_no_other_password_does(username, password, other):
    t = Srp()
    t.confirmed(username, password)
    assert_tokens(t.sign_in(username, password))
    if other != password:
        refused(t.errors.NotAuthorizedException, INCORRECT, t.sign_in, username, other)


def test_the_canonical_username_is_the_uuid_in_an_email_username_pool():
    t = Srp(pool_kwargs={"UsernameAttributes": ["email"]})
    user = t.confirmed("alice@example.com")
    assert uuid.UUID(user["Username"])
    srp, started = t.start("alice@example.com")
    assert started["ChallengeParameters"]["USER_ID_FOR_SRP"] == user["Username"]
    assert_tokens(t.respond(t.claim(srp, started, NEW)))
    # JS sends USER_ID_FOR_SRP as USERNAME; the typed email is accepted too
    srp, started = t.start("alice@example.com")
    assert_tokens(t.respond(t.claim(srp, started, NEW, username="alice@example.com")))


def test_sign_in_by_alias():
    t = Srp(pool_kwargs={"AliasAttributes": ["email"]})
    t.confirmed(attributes=[{"Name": "email", "Value": "a@example.com"}, {"Name": "email_verified", "Value": "true"}])
    srp, started = t.start("a@example.com")
    assert started["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
    assert_tokens(t.respond(t.claim(srp, started, NEW)))


def test_every_way_of_setting_a_password_gives_a_verifier():
    t = Srp()
    env, client = t.env, t.client
    env.user(t.pool, "temp", password=TEMP)  # AdminCreateUser: temporary password
    srp, started = t.start("temp")
    challenged = t.respond(t.claim(srp, started, TEMP))
    assert challenged["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert challenged["ChallengeParameters"]["USER_ID_FOR_SRP"] == "temp"
    # the NEW_PASSWORD_REQUIRED answer: the new password signs in by SRP, the temporary no more
    assert_tokens(env.respond(t.app_id, challenged["Session"], {"USERNAME": "temp", "NEW_PASSWORD": NEW}))
    assert_tokens(t.sign_in("temp", NEW))
    refused(t.errors.NotAuthorizedException, INCORRECT, t.sign_in, "temp", TEMP)
    # AdminSetUserPassword (permanent)
    client.admin_set_user_password(UserPoolId=t.pool, Username="temp", Password="Set-by-admin-1", Permanent=True)
    tokens = t.sign_in("temp", "Set-by-admin-1")["AuthenticationResult"]
    # ChangePassword
    client.change_password(AccessToken=tokens["AccessToken"], PreviousPassword="Set-by-admin-1",
                           ProposedPassword="Changed-by-user-1")
    assert_tokens(t.sign_in("temp", "Changed-by-user-1"))
    refused(t.errors.NotAuthorizedException, INCORRECT, t.sign_in, "temp", "Set-by-admin-1")
    # SignUp + AdminConfirmSignUp
    client.sign_up(ClientId=t.app_id, Username="selfmade", Password="Signed-up-1")
    client.admin_confirm_sign_up(UserPoolId=t.pool, Username="selfmade")
    assert_tokens(t.sign_in("selfmade", "Signed-up-1"))
    # AdminSetUserPassword (temporary): back to NEW_PASSWORD_REQUIRED after the SRP proof
    client.admin_set_user_password(UserPoolId=t.pool, Username="selfmade", Password="Temporary-2", Permanent=False)
    assert t.sign_in("selfmade", "Temporary-2")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_confirm_forgot_password_gives_a_verifier():
    t = Srp(pool_kwargs={"AutoVerifiedAttributes": ["email"]})
    t.confirmed(attributes=[{"Name": "email", "Value": "a@example.com"}, {"Name": "email_verified", "Value": "true"}])
    t.client.forgot_password(ClientId=t.app_id, Username="alice")
    code = re.search(r"\d{6}", t.env.outbox.last().body).group()
    t.client.confirm_forgot_password(ClientId=t.app_id, Username="alice", ConfirmationCode=code, Password="Reset-pass-1")
    assert_tokens(t.sign_in("alice", "Reset-pass-1"))
    refused(t.errors.NotAuthorizedException, INCORRECT, t.sign_in, "alice", NEW)


# -- the challenges that follow ------------------------------------------------------------------------


@pytest.mark.parametrize("admin", [False, True])
def test_force_change_password_then_sms_mfa(admin):
    t = Srp(pool_kwargs={"MfaConfiguration": "ON", "SmsConfiguration": SMS_CONFIG})
    t.env.user(t.pool, attributes=[{"Name": "phone_number", "Value": PHONE}])
    srp, started = t.start(admin=admin)
    challenged = t.respond(t.claim(srp, started, TEMP), admin=admin)
    assert challenged["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert set(challenged["ChallengeParameters"]) == {"USER_ID_FOR_SRP", "requiredAttributes", "userAttributes"}
    # pycognito re-sends its whole PASSWORD_VERIFIER answer with NEW_PASSWORD
    answer = {**t.claim(srp, started, TEMP), "NEW_PASSWORD": NEW}
    mfa = t.env.respond(t.app_id, challenged["Session"], answer)
    assert mfa["ChallengeName"] == "SMS_MFA"
    code = re.search(r"\d{6}", t.env.outbox.last().body).group()
    assert_tokens(t.env.respond(t.app_id, mfa["Session"], {"USERNAME": "alice", "SMS_MFA_CODE": code}, name="SMS_MFA"))
    # a confirmed user: SRP, then straight to SMS_MFA
    assert t.sign_in()["ChallengeName"] == "SMS_MFA"


def test_disabled_and_unconfirmed_users():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    t.client.admin_disable_user(UserPoolId=t.pool, Username="alice")
    refused(t.errors.NotAuthorizedException, "User is disabled.", t.respond, t.claim(srp, started, NEW))
    refused(t.errors.NotAuthorizedException, "User is disabled.", t.start)
    t.client.sign_up(ClientId=t.app_id, Username="bob", Password="Signed-up-1")
    refused(t.errors.UserNotConfirmedException, "User is not confirmed.", t.sign_in, "bob", "Signed-up-1")


def test_pre_and_post_authentication_run_once_per_sign_in():
    env = TriggerEnv(PreAuthentication=Recorder(), PostAuthentication=Recorder())
    t = Srp()
    t.env, t.client = env, env.client
    t.pool = env.pool()
    t.app_id = env.app_id(t.pool)
    t.confirmed()
    assert_tokens(t.sign_in())
    assert [e["triggerSource"] for e in env.functions["PreAuthentication"].events] == ["PreAuthentication_Authentication"]
    assert [e["triggerSource"] for e in env.functions["PostAuthentication"].events] == ["PostAuthentication_Authentication"]
    env.functions["PreAuthentication"].fail = "not today"
    before = t.snapshot()
    refused(t.errors.UserLambdaValidationException, "PreAuthentication failed with error not today.", t.start)
    assert t.snapshot() == before


# -- refusals ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("srp_a", ["0", "00", format(spec.N, "x"), format(2 * spec.N, "x")])
def test_a_that_is_zero_modulo_n_is_refused(srp_a):
    t = Srp()
    t.confirmed()
    before = t.snapshot()
    refused(t.errors.NotAuthorizedException, INCORRECT, t.start, srp_a=srp_a)
    refused(t.errors.InvalidParameterException, "SRP_A must be a hexadecimal number.", t.start, srp_a="12xz")
    assert t.snapshot() == before


def _flip(block: str) -> str:
    raw = bytearray(base64.b64decode(block))
    raw[40] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def test_tampered_secret_block_is_refused():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    forged = {**started, "ChallengeParameters": {**started["ChallengeParameters"],
                                                  "SECRET_BLOCK": _flip(started["ChallengeParameters"]["SECRET_BLOCK"])}}
    other = t.env.app_id(t.pool)
    before = t.snapshot()
    refused(t.errors.NotAuthorizedException, INCORRECT, t.respond, t.claim(srp, forged, NEW))
    refused(t.errors.NotAuthorizedException, INCORRECT, t.respond,
            {**t.claim(srp, started, NEW), "PASSWORD_CLAIM_SECRET_BLOCK": "not base64!"})
    assert t.snapshot() == before
    # a block of another app client of the same pool does not open there
    refused(t.errors.NotAuthorizedException, INCORRECT, t.client.respond_to_auth_challenge,
            ClientId=other, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=t.claim(srp, started, NEW))
    assert t.snapshot() == before
    assert_tokens(t.respond(t.claim(srp, started, NEW)))  # the genuine block still works


def test_a_replayed_claim_is_refused():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    claim = t.claim(srp, started, NEW)
    assert_tokens(t.respond(claim))
    before = t.snapshot()
    refused(t.errors.NotAuthorizedException, SESSION_USED, t.respond, claim)
    refused(t.errors.NotAuthorizedException, SESSION_USED, t.respond, t.claim(srp, started, NEW))
    assert t.snapshot() == before


@pytest.mark.parametrize(("validity", "minutes"), [(None, 3), (10, 10)])
def test_an_expired_secret_block_is_refused(validity, minutes):
    t = Srp(app_kwargs={} if validity is None else {"AuthSessionValidity": validity})
    t.confirmed()
    srp, started = t.start()
    t.env.clock.advance(timedelta(minutes=minutes) - timedelta(seconds=1))
    fresh_claim = t.claim(srp, started, NEW)
    t.env.clock.advance(timedelta(seconds=1))
    before = t.snapshot()
    refused(t.errors.NotAuthorizedException, SESSION_EXPIRED, t.respond, t.claim(srp, started, NEW))
    refused(t.errors.NotAuthorizedException, SESSION_EXPIRED, t.respond, fresh_claim)
    assert t.snapshot() == before


def test_stale_and_malformed_timestamps_are_refused():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    now = t.env.clock.now()
    before = t.snapshot()
    for when in (now - timedelta(minutes=3, seconds=1), now + timedelta(minutes=3, seconds=1)):
        refused(t.errors.NotAuthorizedException, STALE, t.respond, t.claim(srp, started, NEW, when=spec.timestamp(when)))
    zero_padded = now.strftime("%a %b %d %H:%M:%S UTC %Y")  # START is Jan 1: "Thu Jan 01 ..."
    for when in (zero_padded, "yesterday", now.isoformat()):
        refused(t.errors.InvalidParameterException, BAD_TIMESTAMP, t.respond, t.claim(srp, started, NEW, when=when))
    assert t.snapshot() == before
    assert_tokens(t.respond(t.claim(srp, started, NEW, when=spec.timestamp(now - timedelta(minutes=2)))))


def test_a_wrong_password_counts_and_the_block_stays_answerable():
    t = Srp()
    t.confirmed()
    srp, started = t.start()
    before = t.snapshot()
    refused(t.errors.NotAuthorizedException, INCORRECT, t.respond, t.claim(srp, started, "Wrong-pass-1"))
    after = t.snapshot()
    assert without_lockout(after) == without_lockout(before)
    (counter,) = after["auth"][t.pool]["failed_sign_ins"].values()
    assert counter.count == 1
    assert_tokens(t.respond(t.claim(srp, started, NEW)))  # a right answer resets the count
    assert t.snapshot()["auth"][t.pool]["failed_sign_ins"] == {}


def test_lockout_counts_srp_failures_and_refuses_while_locked():
    t = Srp()
    t.confirmed()
    for _ in range(5):
        refused(t.errors.NotAuthorizedException, INCORRECT, t.sign_in, "alice", "Wrong-pass-1")
    # locked for 1 s after the fifth failure: even the right password is refused
    refused(t.errors.NotAuthorizedException, LOCKED, t.sign_in, "alice", NEW)
    # the password flow and SRP share one counter
    refused(t.errors.NotAuthorizedException, LOCKED, t.env.initiate, t.app_id, "alice", NEW)
    t.env.clock.advance(timedelta(seconds=2))
    assert_tokens(t.sign_in())
    assert t.snapshot()["auth"][t.pool]["failed_sign_ins"] == {}


def test_client_secret():
    t = Srp(app_kwargs={"GenerateSecret": True})
    assert t.secret
    t.confirmed()
    assert_tokens(t.sign_in())
    srp = SrpClient(t.pool, 99)
    before = t.snapshot()
    refused(t.errors.NotAuthorizedException, f"Client {t.app_id} is configured for secret but secret was not received",
            t.client.initiate_auth, ClientId=t.app_id, AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": "alice", "SRP_A": srp.srp_a})
    srp, started = t.start()
    claim = t.claim(srp, started, NEW)
    refused(t.errors.NotAuthorizedException, f"Unable to verify secret hash for client {t.app_id}", t.respond,
            {**claim, "SECRET_HASH": secret_hash("not-the-secret", "alice", t.app_id)})
    refused(t.errors.NotAuthorizedException, f"Client {t.app_id} is configured for secret but secret was not received",
            t.respond, {k: v for k, v in claim.items() if k != "SECRET_HASH"})
    assert t.snapshot() == before
    assert_tokens(t.respond(claim))


def test_srp_needs_the_flow_enabled():
    t = Srp(app_kwargs={"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]})
    t.confirmed()
    refused(t.errors.InvalidParameterException, "USER_SRP_AUTH flow not enabled for this client", t.start)


# -- unknown users ---------------------------------------------------------------------------------------


def test_unknown_user_legacy():
    t = Srp()
    before = t.snapshot()
    refused(t.errors.UserNotFoundException, "User does not exist.", t.start, "nobody")
    assert t.snapshot() == before


@pytest.mark.parametrize("pool_kwargs", [{}, {"UsernameAttributes": ["email"]}])
def test_unknown_user_prevented_gets_a_stable_simulated_challenge(pool_kwargs):
    t = Srp(pool_kwargs=pool_kwargs, app_kwargs={"PreventUserExistenceErrors": "ENABLED"})
    real = t.confirmed("real@example.com")["Username"]
    name = "nobody@example.com"
    srp1, first = t.start(name)
    srp2, second = t.start(name)
    _, real_start = t.start("real@example.com")
    p1, p2, pr = first["ChallengeParameters"], second["ChallengeParameters"], real_start["ChallengeParameters"]
    assert first["ChallengeName"] == "PASSWORD_VERIFIER"
    assert set(p1) == set(pr)
    assert p1["SALT"] == p2["SALT"] and p1["USER_ID_FOR_SRP"] == p2["USER_ID_FOR_SRP"] == p1["USERNAME"]
    assert p1["SRP_B"] != p2["SRP_B"] and p1["SECRET_BLOCK"] != p2["SECRET_BLOCK"]
    assert SALT_FORM.fullmatch(p1["SALT"]) and len(p1["SALT"]) in (30, 32, 34)
    assert len(p1["SECRET_BLOCK"]) == len(pr["SECRET_BLOCK"])  # sealed length tells nothing
    if pool_kwargs:
        assert uuid.UUID(p1["USER_ID_FOR_SRP"]) and uuid.UUID(real) and p1["USER_ID_FOR_SRP"] != real
    else:
        assert p1["USER_ID_FOR_SRP"] == name
    # another name, another salt; the case of the name does not matter where usernames ignore it
    assert t.start("other@example.com")[1]["ChallengeParameters"]["SALT"] != p1["SALT"]
    before = t.snapshot()
    refused(t.errors.NotAuthorizedException, INCORRECT, t.respond, t.claim(srp1, first, NEW))
    assert without_lockout(t.snapshot()) == without_lockout(before)


def test_a_password_stored_before_srp_existed_fails_like_a_wrong_one():
    t = Srp(app_kwargs={"PreventUserExistenceErrors": "ENABLED"})
    t.confirmed()
    with t.client.store.transaction() as tx:
        user = tx.get_user(t.pool, "alice")
        old = replace(user.credential, srp_salt=None, srp_verifier=None)
        tx.put_user(replace(user, credential=old, version=user.version + 1))
    refused(t.errors.NotAuthorizedException, INCORRECT, t.sign_in)
    assert_tokens(t.env.initiate(t.app_id, "alice", NEW))  # the password itself still works


# -- what is stored ----------------------------------------------------------------------------------


def test_the_verifier_is_sealed_and_old_records_still_load():
    t = Srp()
    t.confirmed()
    _, started = t.start()
    salt = started["ChallengeParameters"]["SALT"]
    v = pow(spec.G, spec.x_of(t.pool, "alice", NEW, salt), spec.N)
    with t.client.store.transaction() as tx:
        user = tx.get_user(t.pool, "alice")
    assert user.credential.srp_salt == salt
    row = codec.user_to_row(user)
    dump = repr(row) + repr(user)
    for form in (format(v, "x"), spec.pad(v), str(v)):
        assert form not in dump
    raw = bytes.fromhex(spec.pad(v))
    assert base64.b64encode(raw).decode()[:40] not in dump and raw not in user.credential.srp_verifier
    assert codec.user_from_row(row) == user
    # a row written before SRP existed: no srp fields at all
    doc = codec._load(row["doc"])
    for key in ("srp_salt", "srp_verifier"):
        del doc["credential"][key]
    old = codec.user_from_row({**row, "doc": codec._dump(doc)})
    assert old.credential.srp_salt is None and old.credential.srp_verifier is None
    assert old.credential.password_hash == user.credential.password_hash


def test_a_sqlite_file_holds_no_verifier_in_clear(tmp_path):
    from authflow import Client, EngineConfig
    from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy
    from authflow.adapters.sqlite import SqliteStore as SQLiteStore
    from authflow.crypto.sealing import Keyring
    from tests.conftest import START, TEST_CONFIG

    path = tmp_path / "authflow.db"
    config = EngineConfig(kdf=TEST_CONFIG.kdf, signing_keys=TEST_CONFIG.signing_keys, kek=Keyring(b"k" * 32))
    client = Client(store=SQLiteStore(path), clock=ManualClock(START), entropy=SeededEntropy(3),
                    messenger=MemoryOutbox(), config=config)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="a",
                                         ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"])["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword=TEMP, MessageAction="SUPPRESS")
    srp = SrpClient(pool, 7)
    started = client.initiate_auth(ClientId=app, AuthFlow="USER_SRP_AUTH",
                                   AuthParameters={"USERNAME": "alice", "SRP_A": srp.srp_a})
    salt = started["ChallengeParameters"]["SALT"]
    done = client.respond_to_auth_challenge(ClientId=app, ChallengeName="PASSWORD_VERIFIER",
                                            ChallengeResponses=srp.answer(started["ChallengeParameters"], TEMP, START))
    assert done["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    client.engine.store.close()
    v = pow(spec.G, spec.x_of(pool, "alice", TEMP, salt), spec.N)
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    raw = bytes.fromhex(spec.pad(v))
    assert salt.encode() in data  # the row is there (the salt is public)
    for needle in (format(v, "x").encode(), raw, base64.b64encode(raw)[:40], str(v).encode()[:40]):
        assert needle not in data


def test_a_password_stored_before_verifiers_existed_gets_one_at_its_next_password_sign_in():
    t = Srp()
    t.confirmed()
    with t.client.store.transaction() as tx:  # as a store written before SRP verifiers were kept
        user = tx.get_user(t.pool, "alice")
        tx.put_user(replace(user, credential=replace(user.credential, srp_salt=None, srp_verifier=None),
                            version=user.version + 1))
    refused(t.errors.NotAuthorizedException, INCORRECT, t.sign_in)
    refused(t.errors.NotAuthorizedException, INCORRECT, t.env.initiate, t.app_id, "alice", "Wrong1!xx")
    with t.client.store.transaction() as tx:
        assert tx.get_user(t.pool, "alice").credential.srp_verifier is None  # a wrong password adds nothing
    assert_tokens(t.env.initiate(t.app_id, "alice", NEW))
    assert_tokens(t.sign_in())
