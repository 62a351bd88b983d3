"""The exhaustive table test of the auth-session machine: for every (state, trigger)
pair and every combination of the guards' facts, driving the engine through the
public Client ends where `specs/auth-session.yaml` says, or raises a CognitoError
when the spec has no such transition.

A fact varies only where it can matter: DefineAuthChallenge's answers where a state
asks Define, the MFA step the user's factors call for (exactly one MFA guard at a time,
or none) and the attempt's device (`device_remembered`, `device_skips_mfa`, which
implies it) where the spec's answer depends on them. A remembered device is a real one:
confirmed with the reference client's verifier, answering the device steps with its
own SRP proof; an authenticator is a real one too (pyotp's codes, at the manual clock's
time). In SELECT_MFA_TYPE the MFA facts are the factor the answer chooses: the spec
evaluates its guards for that factor alone, and the user has all three.

Choice-based sign-in (USER_AUTH): every pool allows all four first factors, every app
client USER_AUTH too, and alice has a verified e-mail address and phone number (a passkey
as well where a case needs one). EMAIL_OTP is one state with two meanings, told apart by
the session: the e-mail MFA step (start `EMAIL_OTP`, answered by `mfa_code_verified`) and
the e-mail code as a first factor (start `EMAIL_OTP/first_factor`, reached by USER_AUTH and
answered by `first_factor_verified`); each is driven with its own answer. The passwordless
factors are offered only to a CONFIRMED user in a pool whose MFA is not ON: where the facts
say otherwise, choosing one cannot happen (the choice falls back to SELECT_CHALLENGE, which
`test_a_passwordless_choice_the_facts_rule_out_is_not_offered` checks) and the table does
not drive it. `sign_up_confirmed` is a visitor's (carol's) SignUp and ConfirmSignUp, each
handing its Session on, and USER_AUTH with the last one."""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta

import pytest

from authflow.adapters import CallableTriggers
from authflow.conformance.srp_client import DeviceSrpClient, SrpClient, timestamp
from authflow.core.lifecycle import IllegalTransition, auth_session
from authflow.errors import CognitoError, InvalidParameterException, NotAuthorizedException
from tests.conftest import make_client
from tests.signin import ALL_FLOWS, NEW, TEMP, Env, confirm_new_device, totp_code, tracking
from tests.webauthn_authenticator import SoftAuthenticator

MACHINE = auth_session()
PHONE = "+12065554567"
SMS_CONFIG = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sns", "ExternalId": "x"}
#: The device steps: a remembered device's own SRP proof.
DEVICE_STATES = ("DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER")
#: The MFA steps.
MFA_STATES = ("SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "SELECT_MFA_TYPE", "MFA_SETUP")
#: EMAIL_OTP as USER_AUTH's first factor: the e-mail MFA step's state, another session.
EMAIL_FIRST = "EMAIL_OTP/first_factor"
#: The passwordless first factors' steps (a start each), and the PREFERRED_CHALLENGE that reaches them.
FIRST_FACTORS = {EMAIL_FIRST: "EMAIL_OTP", "SMS_OTP": "SMS_OTP", "WEB_AUTHN": "WEB_AUTHN"}
#: States a request can start from: the pseudo-state, and the challenges a session holds.
STARTS = ("INITIATED", "NEW_PASSWORD_REQUIRED", *MFA_STATES, "SELECT_CHALLENGE", *FIRST_FACTORS,
          "CUSTOM_CHALLENGE", "PASSWORD_VERIFIER", *DEVICE_STATES)
#: An EMAIL_OTP session's code answer is the one trigger or the other, as the session says:
#: each start is driven without the other meaning's.
OTHER_MEANING = {"EMAIL_OTP": "first_factor_verified", EMAIL_FIRST: "mfa_code_verified"}
#: The triggers that choose a passwordless first factor, and the factor each one names.
CHOSEN = {"email_otp_chosen": "EMAIL_OTP", "sms_otp_chosen": "SMS_OTP", "passkey_chosen": "WEB_AUTHN"}
#: The attempt's device: none (a pool without device tracking), a remembered one, a
#: remembered one in a pool whose ChallengeRequiredOnNewDevice lets it stand in for MFA.
DEVICES = {
    "no_device": {"device_remembered": False, "device_skips_mfa": False},
    "remembered": {"device_remembered": True, "device_skips_mfa": False},
    "skips_mfa": {"device_remembered": True, "device_skips_mfa": True},
}
#: The MFA guards: at most one holds (authflow/core/mfa.py `mfa_step` names one step).
MFA_GUARDS = ("mfa_required", "software_token_mfa_required", "email_otp_mfa_required", "mfa_type_to_select",
              "mfa_setup_required")
#: What the user's factors make the MFA step: none (MFA off), SMS the pool requires of
#: everyone, a verified and preferred authenticator, e-mail codes, all three factors and
#: no preference (SELECT_MFA_TYPE), no factor under MFA ON with TOTP to set up.
MFA = {
    name: {guard: guard == named for guard in MFA_GUARDS}
    for name, named in (("no_mfa", None), ("sms", "mfa_required"), ("totp", "software_token_mfa_required"),
                        ("email", "email_otp_mfa_required"), ("select", "mfa_type_to_select"),
                        ("setup", "mfa_setup_required"))
}
#: SELECT_MFA_TYPE's answer for each of the factors' guards.
CHOICES = {"mfa_required": "SMS_MFA", "software_token_mfa_required": "SOFTWARE_TOKEN_MFA",
           "email_otp_mfa_required": "EMAIL_OTP"}
SES = {"EmailSendingAccount": "DEVELOPER", "From": "no-reply@example.com",
       "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/no-reply@example.com"}
EMAIL_MFA = {"Message": "Your code is {####}", "Subject": "Sign-in code"}
SIGN_IN_POLICY = {"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP", "SMS_OTP", "WEB_AUTHN"]}}
#: The passkeys' relying party, and the origin the software authenticator signs for.
WEB_AUTHN = {"RelyingPartyId": "example.com"}
ORIGIN = "https://example.com"
#: Alice's contact details, both verified: what the e-mail and SMS first factors need.
CONTACTS = [{"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"},
            {"Name": "phone_number", "Value": PHONE}, {"Name": "phone_number_verified", "Value": "true"}]
FACTS = [
    {"must_change_password": must, **mfa, "fail_authentication": False, "issue_tokens": False,
     **DEVICES["no_device"]}
    for must in (False, True)
    for mfa in MFA.values()
]
#: The DefineAuthChallenge answers matter only where the machine asks Define.
CUSTOM_FACTS = [
    {**facts, "fail_authentication": fail, "issue_tokens": issue, "password_verifier_named": named}
    for facts in FACTS
    for fail, issue, named in itertools.product((False, True), repeat=3)
]
#: The device challenge a device trigger's answer is for.
DEVICE_ANSWERS = {"device_srp_started": "DEVICE_SRP_AUTH", "device_verified": "DEVICE_PASSWORD_VERIFIER"}
#: The MFA_SETUP steps that are calls of their own, with the setup session.
SETUP_STEPS = ("software_token_associated", "software_token_verified")
#: The challenge the answer of an MFA trigger is for.
MFA_ANSWERS = {"mfa_type_selected": "SELECT_MFA_TYPE", "mfa_setup_completed": "MFA_SETUP"}
#: The answers each challenge state is driven through.
ANSWERED = {("NEW_PASSWORD_REQUIRED", "new_password_set"), ("SMS_MFA", "mfa_code_verified"),
            ("SOFTWARE_TOKEN_MFA", "mfa_code_verified"), ("EMAIL_OTP", "mfa_code_verified"),
            ("SELECT_MFA_TYPE", "mfa_type_selected"), ("MFA_SETUP", "mfa_setup_completed"),
            ("PASSWORD_VERIFIER", "password_verified"), ("DEVICE_SRP_AUTH", "device_srp_started"),
            ("DEVICE_PASSWORD_VERIFIER", "device_verified"), ("SELECT_CHALLENGE", "password_verified"),
            *((state, "first_factor_verified") for state in FIRST_FACTORS)}
#: A DEVICE_KEY of the right shape that no device has.
UNKNOWN_KEY = "us-east-1_0badc0de-0000-4000-8000-000000000000"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def spec_state(start: str) -> str:
    """The machine's state of a start (EMAIL_FIRST is EMAIL_OTP)."""
    return start.partition("/")[0]


def passwordless_possible(facts) -> bool:
    """The passwordless factors are offered: the user is CONFIRMED (no temporary password to
    replace) and the pool's MFA is not ON (the SMS the pool requires, the TOTP to set up)."""
    return not (facts["must_change_password"] or facts["mfa_required"] or facts["mfa_setup_required"])


def needs_passkey(state: str, trigger: str | None) -> bool:
    """The case signs in with a passkey, so alice must have one (registering it costs time)."""
    return state == "WEB_AUTHN" or (trigger == "passkey_chosen" and MACHINE.allowed(state, trigger))


def outcome(response) -> str:
    """The auth-session state a successful response shows."""
    if "AuthenticationResult" in response:
        return "AUTHENTICATED"
    return response["ChallengeName"]


def mfa_setup_of(state: str, facts) -> str:
    """The user's factors a case needs (a name of MFA): SELECT_MFA_TYPE's facts are the
    choice, so that state needs the user with every factor."""
    if state == "SELECT_MFA_TYPE":
        return "select"
    return next((name for name, guards in MFA.items() if guards == {g: facts[g] for g in MFA_GUARDS}), "no_mfa")


class Attempt:
    """A pool whose MFA setting, a user whose factors and status make the facts true, and
    custom-auth functions whose Define answers with the DefineAuthChallenge facts once
    `decide` is set (until then it asks a CUSTOM_CHALLENGE). With `device_remembered`,
    the pool tracks devices and the user has a remembered device (from a sign-in before
    the facts were put in place) whose DEVICE_KEY every request and answer carries.
    `state`: where the case starts (SELECT_MFA_TYPE's facts are the factor chosen), and
    `trigger` what it fires: for a passkey's, alice registers a passkey (after that sign-in,
    before the factors); for sign_up_confirmed the pool verifies e-mail addresses, so that
    the visitor who signs up is sent a confirmation code."""

    def __init__(self, facts, state: str = "INITIATED", trigger: str | None = None):
        self.env = env = Env()
        self.facts, self.decide = facts, False
        self.setup = mfa_setup_of(state, facts)
        chosen = [CHOICES[g] for g in CHOICES if facts[g]] if state == "SELECT_MFA_TYPE" else []
        self.choice = chosen[0] if chosen else "SOFTWARE_TOKEN_MFA"
        self.secret, self.totp_step = None, None
        functions = {"DefineAuthChallenge": self._define, "CreateAuthChallenge": self._create,
                     "VerifyAuthChallengeResponse": self._verify}
        env.client = make_client(1, clock=env.clock, messenger=env.outbox,
                                 triggers=CallableTriggers({ARN.format(k): f for k, f in functions.items()}))
        extra = {"MfaConfiguration": "ON", "SmsConfiguration": SMS_CONFIG} if self.setup == "sms" else {}
        extra["EmailConfiguration"] = SES  # what e-mail MFA and EMAIL_OTP as a first factor need
        extra["LambdaConfig"] = {k: ARN.format(k) for k in functions}
        if facts["device_remembered"]:
            extra["DeviceConfiguration"] = tracking(challenge_required=facts["device_skips_mfa"])
        if trigger == "sign_up_confirmed":
            extra["AutoVerifiedAttributes"] = ["email"]
        passkey = needs_passkey(state, trigger)
        self.pool = env.pool(Policies=SIGN_IN_POLICY, **extra)
        self.app = env.app_id(self.pool, ExplicitAuthFlows=[*ALL_FLOWS, "ALLOW_USER_AUTH"])
        env.user(self.pool, attributes=CONTACTS)
        self.password = TEMP
        self.device = self.authenticator = None
        self.web_authn = {"WebAuthnConfiguration": WEB_AUTHN} if passkey else {}
        env.place(self.pool, "alice", status="CONFIRMED")
        if facts["device_remembered"]:
            self.device = self._remembered_device()
        if passkey:
            self.authenticator = self._passkey()
        self._set_up_factors()
        if facts["must_change_password"]:
            env.place(self.pool, "alice", status="FORCE_CHANGE_PASSWORD")

    def _set_up_factors(self):
        """The pool's MFA configuration and the user's factors (after the remembered
        device's sign-in, which they would otherwise change): SMS_MFA's pool was made so."""
        client, setup = self.env.client, self.setup
        if setup in ("no_mfa", "sms"):
            return
        request = {"UserPoolId": self.pool, "MfaConfiguration": "ON" if setup == "setup" else "OPTIONAL",
                   **self.web_authn}  # the call keeps only the blocks it is given
        if setup in ("totp", "select", "setup"):
            request["SoftwareTokenMfaConfiguration"] = {"Enabled": True}
        if setup in ("email", "select"):
            request["EmailMfaConfiguration"] = EMAIL_MFA
        if setup == "select":
            request["SmsMfaConfiguration"] = {"SmsAuthenticationMessage": "Your code is {####}",
                                              "SmsConfiguration": SMS_CONFIG}
        client.set_user_pool_mfa_config(**request)
        if setup in ("totp", "select"):  # an authenticator, verified by access token
            tokens = self.env.admin_initiate(self.pool, self.app)["AuthenticationResult"]
            self.secret = client.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
            client.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=self._totp_code())
        on, preferred = {"Enabled": True}, {"Enabled": True, "PreferredMfa": True}
        factors = {"totp": {"SoftwareTokenMfaSettings": preferred}, "email": {"EmailMfaSettings": preferred},
                   "select": {"SMSMfaSettings": on, "SoftwareTokenMfaSettings": on, "EmailMfaSettings": on}}
        if setup in factors:
            client.admin_set_user_mfa_preference(UserPoolId=self.pool, Username="alice", **factors[setup])

    def _totp_code(self) -> str:
        """The authenticator's current code, in a time step no earlier code was accepted in
        (the clock moves to the next step when it must: each code signs in once)."""
        now = int(self.env.clock.now().timestamp())
        if self.totp_step is not None and now // 30 <= self.totp_step:
            self.env.clock.advance(timedelta(seconds=(self.totp_step + 1) * 30 - now))
        self.totp_step = int(self.env.clock.now().timestamp()) // 30
        return totp_code(self.secret, self.env.clock.now())

    def _wrong_totp_code(self) -> str:
        near = {totp_code(self.secret, self.env.clock.now(), s) for s in (-1, 0, 1)}
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)

    def _signed_in(self) -> dict:
        """A password sign-in through every step it asks: the AuthenticationResult."""
        response = self.initiate()
        while outcome(response) != "AUTHENTICATED":
            response = self.answer(response, outcome(response))
        return response["AuthenticationResult"]

    def _passkey(self) -> SoftAuthenticator:
        """The pool's relying party (its MFA configuration otherwise as it was), and a passkey
        alice registers with an access token."""
        client = self.env.client
        current = client.get_user_pool_mfa_config(UserPoolId=self.pool)
        current.pop("ResponseMetadata", None)
        client.set_user_pool_mfa_config(UserPoolId=self.pool, **{**current, **self.web_authn})
        token = self._signed_in()["AccessToken"]
        authenticator = SoftAuthenticator()
        options = client.start_web_authn_registration(AccessToken=token)["CredentialCreationOptions"]
        client.complete_web_authn_registration(AccessToken=token, Credential=authenticator.create(options, ORIGIN))
        return authenticator

    def _remembered_device(self):
        """A first sign-in (a new device: no device steps) and ConfirmDevice of the
        device it issued, remembered at once."""
        device = confirm_new_device(self.env, self._signed_in())
        assert self.env.client.admin_get_device(UserPoolId=self.pool, Username="alice", DeviceKey=device.key)
        return device

    def _with_device(self, values: dict) -> dict:
        return {**values, "DEVICE_KEY": self.device.key} if self.device else values

    def _define(self, event):
        rounds = event["request"]["session"]
        after_srp_a = bool(rounds) and rounds[-1]["challengeName"] == "SRP_A"
        if self.decide:
            event["response"].update(failAuthentication=self.facts["fail_authentication"],
                                     issueTokens=self.facts["issue_tokens"])
        if not event["response"]["failAuthentication"] and not event["response"]["issueTokens"]:
            # Neither: the next challenge; the password proof only right after SRP_A.
            named = after_srp_a and (not self.decide or self.facts.get("password_verifier_named"))
            event["response"]["challengeName"] = "PASSWORD_VERIFIER" if named else "CUSTOM_CHALLENGE"
        return event

    def _create(self, event):
        event["response"].update(publicChallengeParameters={"question": "6 * 7"},
                                 privateChallengeParameters={"answer": "42"})
        return event

    def _verify(self, event):
        event["response"]["answerCorrect"] = event["request"]["challengeAnswer"] == "42"
        return event

    def set_up_authenticator(self, response, *, verify: bool = True) -> dict:
        """AssociateSoftwareToken by the MFA_SETUP Session, then VerifySoftwareToken by the
        Session it handed out: the last answer."""
        associated = self.env.client.associate_software_token(Session=response["Session"])
        if not verify:
            return associated
        self.secret = associated["SecretCode"]
        return self.env.client.verify_software_token(Session=associated["Session"], UserCode=self._totp_code())

    def initiate(self, password=None):
        return self.env.initiate(self.app, password=password or self.password,
                                 **self._with_device({}))

    def custom(self):
        return self.env.client.initiate_auth(ClientId=self.app, AuthFlow="CUSTOM_AUTH",
                                             AuthParameters=self._with_device({"USERNAME": "alice"}))

    def custom_srp(self):
        """CUSTOM_AUTH beginning with SRP_A (what amazon-cognito-identity-js sends)."""
        self.srp_client = SrpClient(self.pool, 0xB0B)
        return self.env.client.initiate_auth(
            ClientId=self.app, AuthFlow="CUSTOM_AUTH",
            AuthParameters=self._with_device(
                {"USERNAME": "alice", "CHALLENGE_NAME": "SRP_A", "SRP_A": self.srp_client.srp_a}),
        )

    def srp(self):
        """USER_SRP_AUTH by the specification's client: a PASSWORD_VERIFIER challenge."""
        self.srp_client = SrpClient(self.pool, 0xA11CE)
        return self.env.client.initiate_auth(
            ClientId=self.app, AuthFlow="USER_SRP_AUTH",
            AuthParameters=self._with_device({"USERNAME": "alice", "SRP_A": self.srp_client.srp_a}),
        )

    def user_auth(self, preferred: str | None = None):
        """InitiateAuth USER_AUTH, with PREFERRED_CHALLENGE `preferred` if given."""
        params = {"USERNAME": "alice", **({"PREFERRED_CHALLENGE": preferred} if preferred else {})}
        return self.env.client.initiate_auth(ClientId=self.app, AuthFlow="USER_AUTH",
                                             AuthParameters=self._with_device(params))

    def signed_up(self):
        """A visitor's SignUp and ConfirmSignUp, each handing its Session on, then InitiateAuth
        USER_AUTH with ConfirmSignUp's Session (the confirmation code was the first factor)."""
        client = self.env.client
        signed_up = client.sign_up(ClientId=self.app, Username="carol", Password=NEW,
                                   UserAttributes=[{"Name": "email", "Value": "carol@example.com"}])
        code = re.search(r"\d{6}", self.env.outbox.last().body).group()
        confirmed = client.confirm_sign_up(ClientId=self.app, Username="carol", ConfirmationCode=code,
                                           Session=signed_up["Session"])
        return client.initiate_auth(ClientId=self.app, AuthFlow="USER_AUTH", Session=confirmed["Session"],
                                    AuthParameters={"USERNAME": "carol"})

    def select(self, session, factor: str):
        """The SELECT_CHALLENGE answer naming `factor` (PASSWORD_SRP with an SRP_A)."""
        responses = {"USERNAME": "alice", "ANSWER": factor}
        if factor == "PASSWORD_SRP":
            self.srp_client = SrpClient(self.pool, 0x5E1EC7)
            responses["SRP_A"] = self.srp_client.srp_a
        return self.env.respond(self.app, session["Session"], self._with_device(responses), name="SELECT_CHALLENGE")

    def reach(self, state):
        """A response whose session is in challenge `state`."""
        if state == "SELECT_CHALLENGE":
            return self.user_auth()
        if state in FIRST_FACTORS:
            response = self.user_auth(FIRST_FACTORS[state])
            assert outcome(response) == spec_state(state), f"{state} was not offered"
            return response
        if state == "CUSTOM_CHALLENGE":
            return self.custom()
        if state == "PASSWORD_VERIFIER":
            return self.srp()
        response = self.initiate()
        while outcome(response) != state:
            assert outcome(response) != "AUTHENTICATED", f"{state} was never asked"
            response = self.answer(response, outcome(response))
        return response

    def answer(self, response, challenge, *, good=True):
        if challenge == "NEW_PASSWORD_REQUIRED":
            responses = {"USERNAME": "alice", "NEW_PASSWORD": NEW if good else "weak"}
        elif challenge == "CUSTOM_CHALLENGE":
            responses = {"USERNAME": "alice", "ANSWER": "42"}
        elif challenge == "PASSWORD_VERIFIER":  # no Session: the state is in SECRET_BLOCK
            responses = self.srp_client.answer(response["ChallengeParameters"],
                                               self.password if good else "Wrong1234!", self.env.clock.now())
            return self.env.client.respond_to_auth_challenge(ClientId=self.app, ChallengeName=challenge,
                                                             ChallengeResponses=self._with_device(responses))
        elif challenge == "DEVICE_SRP_AUTH":  # a bad SRP_A: 0 modulo N
            self.device_srp = self.device.srp()
            responses = {"USERNAME": "alice", "SRP_A": self.device_srp.srp_a if good else "0"}
        elif challenge == "DEVICE_PASSWORD_VERIFIER":  # a bad proof: another device password
            srp = self.device_srp if good else DeviceSrpClient(self.device.group, self.device.key, "wrong",
                                                               self.device_srp.a)
            responses = srp.answer(response["ChallengeParameters"], "alice", self.env.clock.now())
        elif challenge == "SOFTWARE_TOKEN_MFA":
            responses = {"USERNAME": "alice",
                         "SOFTWARE_TOKEN_MFA_CODE": self._totp_code() if good else self._wrong_totp_code()}
        elif challenge == "EMAIL_OTP":
            code = re.search(r"\d{8}", self.env.outbox.last().body).group() if good else "00000000"
            responses = {"USERNAME": "alice", "EMAIL_OTP_CODE": code}
        elif challenge == "SELECT_CHALLENGE":  # the password chosen; a bad answer: a wrong password
            responses = {"USERNAME": "alice", "ANSWER": "PASSWORD", "PASSWORD": self.password if good else "Wrong1234!"}
        elif challenge == "SMS_OTP":
            code = re.search(r"\d{6}", self.env.outbox.last().body).group() if good else "000000"
            responses = {"USERNAME": "alice", "SMS_OTP_CODE": code}
        elif challenge == "WEB_AUTHN":  # a bad answer: an assertion signed for another origin
            options = json.loads(response["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
            assertion = self.authenticator.get(options, ORIGIN if good else "https://elsewhere.example.net")
            responses = {"USERNAME": "alice", "CREDENTIAL": json.dumps(assertion)}
        elif challenge == "SELECT_MFA_TYPE":  # a bad answer: no factor's name
            responses = {"USERNAME": "alice", "ANSWER": self.choice if good else "NOT_A_FACTOR"}
        elif challenge == "MFA_SETUP":  # a bad answer: a Session no verification handed out
            session = self.set_up_authenticator(response)["Session"] if good else response["Session"]
            return self.env.respond(self.app, session, self._with_device({"USERNAME": "alice"}), name=challenge)
        else:
            code = re.search(r"\d{6}", self.env.outbox.last().body).group() if good else "000000"
            responses = {"USERNAME": "alice", "SMS_MFA_CODE": code}
        return self.env.respond(self.app, response["Session"], self._with_device(responses), name=challenge)


def drive(attempt: Attempt, state: str, trigger: str) -> str:
    """Fire `trigger` from `state` through the Client; the state it ends in, or
    REFUSED."""
    if state == "INITIATED":
        if trigger == "password_verified":
            return outcome(attempt.initiate())
        if trigger == "password_rejected":
            with pytest.raises(CognitoError):
                attempt.initiate(password="Wrong1234!")
            return "FAILED"
        if trigger == "refresh_token_accepted":
            return _refresh(attempt)
        if trigger == "challenge_defined":
            attempt.decide = True
            return _defined(attempt.custom_srp)
        if trigger == "srp_started":
            return outcome(attempt.srp())
        if trigger == "user_auth_started":
            return outcome(attempt.user_auth())
        if trigger in CHOSEN:
            return outcome(attempt.user_auth(CHOSEN[trigger]))
        if trigger == "sign_up_confirmed":
            return outcome(attempt.signed_up())
        return _wrong_step(attempt, None, state, trigger)
    if (state, trigger) == ("PASSWORD_VERIFIER", "challenge_defined"):
        started = attempt.custom_srp()  # Define (not deciding yet) asks for the proof
        attempt.decide = True
        return _defined(lambda: attempt.answer(started, state))
    session, challenge = attempt.reach(state), spec_state(state)
    if state == "SELECT_CHALLENGE" and trigger in (*CHOSEN, "srp_started", "answer_rejected"):
        return _select(attempt, session, trigger)
    if (state, trigger) == ("CUSTOM_CHALLENGE", "challenge_defined"):
        attempt.decide = True
        return _defined(lambda: attempt.answer(session, state))
    if state == "CUSTOM_CHALLENGE" and trigger != "session_expired":
        # Any answer to a custom challenge goes to Define; nothing else can be sent.
        return _wrong_step(attempt, session, state, trigger)
    if trigger == "session_expired":
        attempt.env.clock.advance(timedelta(minutes=3))
        with pytest.raises(CognitoError, match="session is expired"):
            attempt.answer(session, challenge)
        return "EXPIRED"
    if trigger == "answer_rejected":
        with pytest.raises(CognitoError):
            attempt.answer(session, challenge, good=False)
        attempt.answer(session, challenge)  # the same session still takes a good answer
        return challenge
    if (state, trigger) in ANSWERED:
        return outcome(attempt.answer(session, challenge))
    if state == "MFA_SETUP" and trigger in SETUP_STEPS:
        step = attempt.set_up_authenticator(session, verify=trigger == "software_token_verified")
        assert step["Session"] != session["Session"]
        return _state_of(attempt, step["Session"])
    return _wrong_step(attempt, session, state, trigger)


def _select(attempt: Attempt, session, trigger: str) -> str:
    """SELECT_CHALLENGE answered with a factor (PASSWORD_SRP for srp_started), or wrongly: a
    wrong password is refused and spends the session (it is answered once), so no
    answer_rejected leads back to it: that is refused."""
    if trigger != "answer_rejected":
        return outcome(attempt.select(session, CHOSEN.get(trigger, "PASSWORD_SRP")))
    with pytest.raises(NotAuthorizedException, match="^Incorrect username or password.$"):
        attempt.answer(session, "SELECT_CHALLENGE", good=False)
    with pytest.raises(NotAuthorizedException, match="session can only be used once"):
        attempt.answer(session, "SELECT_CHALLENGE")
    return "REFUSED"


def _state_of(attempt: Attempt, session: str) -> str:
    """The challenge a Session waits for, as an answer to another one is told (a
    refusal, which changes nothing)."""
    with pytest.raises(InvalidParameterException) as err:
        attempt.env.respond(attempt.app, session, {"USERNAME": "alice", "SMS_MFA_CODE": "000000"}, name="SMS_MFA")
    return re.fullmatch(r"Invalid challenge name SMS_MFA: the session expects an answer to (\w+)",
                        err.value.message).group(1)


def _defined(call) -> str:
    """Where Define's answer leads: the response's state, or FAILED."""
    try:
        return outcome(call())
    except NotAuthorizedException as err:
        assert err.message == "Incorrect username or password."
        return "FAILED"


def _refresh(attempt: Attempt) -> str:
    response = attempt.initiate()
    while outcome(response) != "AUTHENTICATED":
        response = attempt.answer(response, outcome(response))
    refreshed = attempt.env.client.initiate_auth(
        ClientId=attempt.app, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": response["AuthenticationResult"]["RefreshToken"]},
    )
    return outcome(refreshed)


def _wrong_step(attempt: Attempt, session, state: str, trigger: str) -> str:
    """A trigger the state has no transition for. The only way a client can try one
    is to answer something the session is not waiting for (or to answer without a
    session at all): that must be refused."""
    if session is not None and "Session" not in session:
        session = None  # PASSWORD_VERIFIER gives no Session to answer another challenge with
    if trigger in SETUP_STEPS:
        return _wrong_setup_step(attempt, session, trigger)
    if state in DEVICE_STATES or trigger in DEVICE_ANSWERS:
        return _wrong_device_step(attempt, session, state, trigger)
    if session and state != "SELECT_CHALLENGE" and (trigger in CHOSEN or trigger == "first_factor_verified"):
        return _wrong_first_factor_step(attempt, session, trigger)
    other = MFA_ANSWERS.get(trigger) or ("SMS_MFA" if state == "NEW_PASSWORD_REQUIRED" else "NEW_PASSWORD_REQUIRED")
    # A well-formed answer to the other challenge (no SMS code exists yet before
    # SMS_MFA, so any six digits; MFA_SETUP with the Session at hand): refused for the
    # mismatch, not for its content.
    expected = InvalidParameterException if session else NotAuthorizedException
    with pytest.raises(expected, match="challenge name" if session else "Invalid session"):
        attempt.answer(session or {"Session": "s" * 40}, other,
                       good=other in ("NEW_PASSWORD_REQUIRED", "SELECT_MFA_TYPE"))
    return "REFUSED"


def _wrong_first_factor_step(attempt: Attempt, session, trigger: str) -> str:
    """A factor chosen (the SELECT_CHALLENGE answer) or a first factor's code sent to a
    session that is not waiting for it: refused for the mismatch. (At SELECT_CHALLENGE a
    first factor named directly is a choice of it, so there the other wrong answer is sent.)"""
    if trigger in CHOSEN:
        name, responses = "SELECT_CHALLENGE", {"ANSWER": CHOSEN[trigger]}
    else:
        name, responses = "SMS_OTP", {"SMS_OTP_CODE": "000000"}
    with pytest.raises(InvalidParameterException, match=f"^Invalid challenge name {name}: "):
        attempt.env.respond(attempt.app, session["Session"], attempt._with_device({"USERNAME": "alice", **responses}),
                            name=name)
    return "REFUSED"


def _wrong_setup_step(attempt: Attempt, session, trigger: str) -> str:
    """AssociateSoftwareToken or VerifySoftwareToken with a Session that is not an
    MFA_SETUP one (or none a sign-in handed out): refused, nothing continues."""
    given = session["Session"] if session else "s" * 40
    client = attempt.env.client
    with pytest.raises(NotAuthorizedException, match="^Invalid session for the user.$"):
        if trigger == "software_token_associated":
            client.associate_software_token(Session=given)
        else:
            client.verify_software_token(Session=given, UserCode="123456")
    return "REFUSED"


def _wrong_device_step(attempt: Attempt, session, state: str, trigger: str) -> str:
    """In a device step, the other device step's answer: the device's pending sign-in
    is not waiting for it. A device step's answer elsewhere: there is no device sign-in
    to continue (the attempt's own key, or one no device has)."""
    if state in DEVICE_STATES:
        other = "DEVICE_PASSWORD_VERIFIER" if state == "DEVICE_SRP_AUTH" else "DEVICE_SRP_AUTH"
        expected, match = InvalidParameterException, "challenge name"
    else:
        other, expected, match = DEVICE_ANSWERS[trigger], NotAuthorizedException, "Invalid session"
    key = attempt.device.key if attempt.device else UNKNOWN_KEY
    if other == "DEVICE_SRP_AUTH":
        responses = {"SRP_A": SrpClient(attempt.pool, 0xD1CE).srp_a}
    else:
        when = timestamp(attempt.env.clock.now())
        responses = {"PASSWORD_CLAIM_SECRET_BLOCK": "AAAA", "PASSWORD_CLAIM_SIGNATURE": "AAAA", "TIMESTAMP": when}
    request = {"ClientId": attempt.app, "ChallengeName": other,
               "ChallengeResponses": {"USERNAME": "alice", "DEVICE_KEY": key, **responses}}
    if session is not None:
        request["Session"] = session["Session"]
    with pytest.raises(expected, match=match):
        attempt.env.client.respond_to_auth_challenge(**request)
    return "REFUSED"


def reachable(state: str, facts) -> bool:
    """A challenge is only ever asked when its fact holds (an MFA step: and no device
    stands in for MFA; SELECT_MFA_TYPE's fact is a factor to choose)."""
    mfa_asked = not facts["device_skips_mfa"]
    first_factor = passwordless_possible(facts)
    return {
        "NEW_PASSWORD_REQUIRED": facts["must_change_password"],
        "SMS_MFA": facts["mfa_required"] and mfa_asked,
        "SOFTWARE_TOKEN_MFA": facts["software_token_mfa_required"] and mfa_asked,
        "EMAIL_OTP": facts["email_otp_mfa_required"] and mfa_asked,
        "SELECT_MFA_TYPE": any(facts[g] for g in CHOICES) and mfa_asked,
        "MFA_SETUP": facts["mfa_setup_required"] and mfa_asked,
        "DEVICE_SRP_AUTH": facts["device_remembered"],
        "DEVICE_PASSWORD_VERIFIER": facts["device_remembered"],
        **dict.fromkeys(FIRST_FACTORS, first_factor),
    }.get(state, True)


def possible(state: str, trigger: str, facts) -> bool:
    """A passwordless factor can be chosen only where it is offered (a wrong step is tried
    whatever the facts)."""
    return trigger not in CHOSEN or not MACHINE.allowed(state, trigger) or passwordless_possible(facts)


def _expected(state: str, trigger: str, facts) -> str:
    try:
        return MACHINE.next_state(spec_state(state), trigger, facts)
    except IllegalTransition:
        return "REFUSED"


def _device_variants(state: str, trigger: str, facts) -> list[dict]:
    """The device variants of `facts` that reach `state`: all where the spec's answer
    depends on them, else the first (a device step needs a remembered device)."""
    if state in DEVICE_STATES:
        variants = [{**facts, **DEVICES["remembered"]}]
    else:
        variants = [{**facts, **device} for device in DEVICES.values()]
    variants = [v for v in variants if reachable(state, v) and possible(spec_state(state), trigger, v)]
    if len({_expected(state, trigger, v) for v in variants}) <= 1:
        variants = variants[:1]
    return variants


def fact_sets(state: str, trigger: str):
    """The fact combinations (state, trigger) is driven with: Define's answers where the
    state asks Define; for each of them and each must_change_password, the MFA steps
    where the spec's answer depends on them, else the first that reaches the state (a first
    factor's answer: every MFA step, the spec says none follows it); then the device variants
    where the answer depends on them."""
    base = CUSTOM_FACTS if MACHINE.allowed(state, "challenge_defined") and trigger == "challenge_defined" else FACTS
    outer = {}
    for facts in base:  # grouped by everything but the MFA facts, MFA in MFA's order
        outer.setdefault(tuple((k, v) for k, v in facts.items() if k not in MFA_GUARDS), []).append(facts)
    for group in outer.values():
        by_mfa = [variants for variants in (_device_variants(state, trigger, f) for f in group) if variants]
        answers = {tuple((_expected(state, trigger, v), v["device_remembered"], v["device_skips_mfa"])
                         for v in variants) for variants in by_mfa}
        every_mfa = len(answers) > 1 or (trigger == "first_factor_verified"
                                         and MACHINE.allowed(spec_state(state), trigger))
        for variants in by_mfa if every_mfa else by_mfa[:1]:
            yield from variants


def _case_id(state: str, trigger: str, facts) -> str:
    named = [k for k, v in facts.items() if v and not (k == "device_remembered" and facts["device_skips_mfa"])]
    return f"{state}-{trigger}-{'+'.join(named) or 'none'}"


CASES = [
    pytest.param(state, trigger, facts, id=_case_id(state, trigger, facts))
    for state in STARTS
    for trigger in MACHINE.triggers
    if OTHER_MEANING.get(state) != trigger
    for facts in fact_sets(state, trigger)
]


@pytest.mark.parametrize(("state", "trigger", "facts"), CASES)
def test_every_state_trigger_and_fact_combination(state, trigger, facts):
    assert drive(Attempt(facts, state, trigger), state, trigger) == _expected(state, trigger, facts)


def test_the_table_covers_every_state_a_session_can_hold():
    assert {spec_state(s) for s in STARTS} | {"AUTHENTICATED", "FAILED", "EXPIRED"} == set(MACHINE.states)
    # Each meaning of EMAIL_OTP is driven with its own answer, which the spec allows there.
    assert all(MACHINE.allowed(spec_state(state), trigger) for state, trigger in OTHER_MEANING.items())


def test_the_table_supplies_every_fact_the_spec_names():
    named = {guard.removeprefix("not ") for *_, guards in MACHINE.transitions() for guard in guards}
    assert named == set(CUSTOM_FACTS[0])
    assert all(set(device) == set(DEVICES["no_device"]) for device in DEVICES.values())


def test_every_device_variant_is_driven_where_it_changes_the_outcome():
    """The variants are not pruned away: each one ends somewhere at least once, and a
    remembered device's steps are reached through every step that can lead to them."""
    driven = {(state, trigger, tuple(facts[k] for k in DEVICES["no_device"])) for state, trigger, facts in
              (case.values for case in CASES)}
    for device in DEVICES.values():
        assert ("INITIATED", "password_verified", tuple(device.values())) in driven
    for state, trigger in (("NEW_PASSWORD_REQUIRED", "new_password_set"), ("SMS_MFA", "mfa_code_verified"),
                           ("SOFTWARE_TOKEN_MFA", "mfa_code_verified"), ("EMAIL_OTP", "mfa_code_verified"),
                           ("MFA_SETUP", "mfa_setup_completed"), ("PASSWORD_VERIFIER", "password_verified"),
                           ("CUSTOM_CHALLENGE", "challenge_defined"), ("SELECT_CHALLENGE", "password_verified"),
                           *((state, "first_factor_verified") for state in FIRST_FACTORS)):
        assert (state, trigger, (True, False)) in driven, (state, trigger)
    # A device that stands in for MFA still proves itself after a first factor.
    for state in ("SELECT_CHALLENGE", *FIRST_FACTORS):
        trigger = "password_verified" if state == "SELECT_CHALLENGE" else "first_factor_verified"
        assert (state, trigger, (True, True)) in driven, (state, trigger)


def test_exactly_one_mfa_guard_holds_at_a_time():
    assert all(sum(guards.values()) == (name != "no_mfa") for name, guards in MFA.items())
    assert all(sum(facts[g] for g in MFA_GUARDS) <= 1 for *_, facts in (case.values for case in CASES))


def test_every_mfa_step_is_driven_where_it_changes_the_outcome():
    """Each MFA step the user's factors can call for is reached from every step that can
    lead to it, with and without a device that stands in for it; SELECT_MFA_TYPE is
    answered with each factor."""
    driven = {(state, trigger, mfa_setup_of("INITIATED", facts), facts["device_skips_mfa"])
              for state, trigger, facts in (case.values for case in CASES)}
    for state, trigger in (("INITIATED", "password_verified"), ("PASSWORD_VERIFIER", "password_verified"),
                           ("NEW_PASSWORD_REQUIRED", "new_password_set"), ("INITIATED", "challenge_defined"),
                           ("CUSTOM_CHALLENGE", "challenge_defined"), ("SELECT_CHALLENGE", "password_verified")):
        for name in MFA:
            assert (state, trigger, name, False) in driven, (state, trigger, name)
            assert (state, trigger, name, True) in driven or name == "no_mfa", (state, trigger, name)
    for name in ("sms", "totp", "email"):
        assert ("SELECT_MFA_TYPE", "mfa_type_selected", name, False) in driven
    # No MFA after a first factor, whatever MFA the user has set up (a pool whose MFA is ON
    # offers no passwordless factor).
    for state in FIRST_FACTORS:
        for name in ("no_mfa", "totp", "email", "select"):
            assert (state, "first_factor_verified", name, False) in driven, (state, name)


#: The facts under which no passwordless factor is offered: a temporary password to replace,
#: or a pool whose MFA is ON.
RULED_OUT = [facts for facts in FACTS if not passwordless_possible(facts)]


@pytest.mark.parametrize("facts", RULED_OUT, ids=[_case_id("INITIATED", "choice", f) for f in RULED_OUT])
def test_a_passwordless_choice_the_facts_rule_out_is_not_offered(facts):
    """Where the table does not drive a passwordless choice, it cannot be made: the
    preference falls back to SELECT_CHALLENGE with the password only, and that session
    refuses the factor (alice has the means for all three: a passkey too)."""
    attempt = Attempt(facts, "INITIATED", "passkey_chosen")
    assert attempt.authenticator is not None
    for factor in CHOSEN.values():
        started = attempt.user_auth(factor)
        assert (started["ChallengeName"], started["AvailableChallenges"]) == ("SELECT_CHALLENGE",
                                                                              ["PASSWORD", "PASSWORD_SRP"])
        with pytest.raises(InvalidParameterException, match="is not one of this session's AvailableChallenges"):
            attempt.select(started, factor)
