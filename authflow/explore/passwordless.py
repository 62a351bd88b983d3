"""The passwordless family (`flows` "passwordless", opt-in: never part of the default run):
choice-based sign-in (USER_AUTH) with an e-mailed one-time code or a passkey as the first
factor, and the passkeys themselves.

The pool allows PASSWORD, EMAIL_OTP and WEB_AUTHN first factors (`SIGN_IN_POLICY`), sends
e-mail through SES (`EMAIL_CONFIGURATION`), has passkeys for the relying party `RP_ID`
(SetUserPoolMfaConfig WebAuthnConfiguration) and, without a pool configuration of the
caller's own, optional SMS MFA; the app client also allows USER_AUTH. The set-up makes every
user CONFIRMED with the new password and a verified e-mail address, and, for the users the
family acts for, signs them in with the password (the caller holds those tokens), registers
a passkey (key 0 of the user's software authenticator) and turns SMS MFA on, so that every
passwordless sign-in meets a user whose password sign-in needs MFA.

Per such user: InitiateAuth USER_AUTH with PREFERRED_CHALLENGE EMAIL_OTP, answered with the
code the message carried, a wrong one, or the code the caller saw accepted before (a
replay into a later session; the code sent is also replayed into its own session once it
was accepted); PREFERRED_CHALLENGE WEB_AUTHN, answered with a fresh assertion of the latest
passkey (its counter one up), with the last assertion sent again (a replay), or with a
passkey never registered; StartWebAuthnRegistration with the held access token and
CompleteWebAuthnRegistration with a new passkey (the next key of the authenticator);
DeleteWebAuthnCredential of the latest passkey. The clock steps are the explorer's (the
first is AuthSessionValidity).

The caller plays a browser with a software authenticator
(`authflow.testing.webauthn_authenticator`, keys from seeds, so every run sends the same
bytes) and keeps, per user, `HeldPasswordless`. `passwordless_state` is how the digest sees
it: random values (sessions, codes, challenges, credential ids) become what they refer to.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from authflow.explore.actions import Action, const
from authflow.explore.caller import Caller, Tokens
from authflow.explore.universe import Universe
from authflow.invariants import History, Records, Step, observe, session_id
from authflow.invariants.passwordless import CREDENTIAL, assertion_counter
from authflow.testing import webauthn_authenticator as authenticator

RP_ID = "example.com"
ORIGIN = "https://example.com"
SIGN_IN_POLICY = {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP", "WEB_AUTHN"]}
EMAIL_CONFIGURATION = {"EmailSendingAccount": "DEVELOPER", "From": "no-reply@example.com",
                       "SourceArn": "arn:aws:ses:us-east-1:000000000000:identity/example.com"}
SMS_CONFIGURATION = {"SnsCallerArn": "arn:aws:iam::000000000000:role/explore-sns", "ExternalId": "explore"}
SMS_MFA_ON = {"SMSMfaSettings": {"Enabled": True, "PreferredMfa": True}}
REGISTRATION = "webauthn_registration"
_CODE = re.compile(r"\b\d{6,8}\b")
STRANGER = -1  # the key index of a passkey no user ever registers


def key_seed(i: int, n: int) -> bytes:
    """The seed of user i's n-th passkey (n = STRANGER: one never registered)."""
    return f"explore-passkey-{i}-{n}".encode()


def key_id(i: int, n: int) -> str:
    return authenticator.b64url(authenticator.credential_id(key_seed(i, n)))


@dataclass(frozen=True, slots=True)
class HeldPasswordless:
    """What the caller holds of one user's passwordless sign-ins: the latest EMAIL_OTP session
    and the code its message carried, the last code it saw accepted; the latest WEB_AUTHN
    session and its CREDENTIAL_REQUEST_OPTIONS, the last assertion it sent; its authenticator's
    latest key (`key`, an index) and that key's counter; a pending registration's options."""

    key: int = 0
    counter: int = 0
    otp_session: str | None = None
    otp_code: str | None = None
    accepted_code: str | None = None
    webauthn_session: str | None = None
    options: str | None = None
    last_assertion: str | None = None
    creation: str | None = None  # CredentialCreationOptions (JSON) of a pending registration


def pool_request(request: dict[str, Any], own_config: bool) -> None:
    """The CreateUserPool request with what the family needs (in place)."""
    policies = dict(request.get("Policies") or {})
    policies["SignInPolicy"] = dict(SIGN_IN_POLICY)
    request["Policies"] = policies
    request.setdefault("EmailConfiguration", dict(EMAIL_CONFIGURATION))
    if not own_config:  # MFA where it is cheap: SMS MFA, turned on for the family's users
        request.update(MfaConfiguration="OPTIONAL", SmsConfiguration=dict(SMS_CONFIGURATION))


def set_up(ex: Any, history: History, tokens: list[Tokens | None], held: list[HeldPasswordless | None]) -> History:
    """The pool's relying party; every user's e-mail verified; for the family's users a
    password sign-in (tokens held), a registered passkey and SMS MFA on. `ex` is the Explorer
    (its client, pool, app client, universe, set-up trace)."""
    from authflow.explore.results import TraceStep

    u, client = ex.universe, ex.client
    pool = client.describe_user_pool(UserPoolId=ex.pool_id)["UserPool"]  # its MFA kept as it is
    mfa = {"UserPoolId": ex.pool_id, "MfaConfiguration": pool.get("MfaConfiguration") or "OFF",
           "WebAuthnConfiguration": {"RelyingPartyId": RP_ID}}
    if mfa["MfaConfiguration"] != "OFF" and pool.get("SmsConfiguration"):
        mfa["SmsMfaConfiguration"] = {"SmsConfiguration": pool["SmsConfiguration"]}
    client.set_user_pool_mfa_config(**mfa)
    ex.setup += (TraceStep("set-up", "SetUserPoolMfaConfig", mfa, {}, None),)

    def run(operation: str, method: str, request: dict[str, Any]) -> dict[str, Any]:
        nonlocal history
        before = Records.of(ex.store)
        ex.outbox.messages.clear()
        response = getattr(client, method)(**request)
        history = observe(history, Step(operation=operation, request=request, response=response, error=None,
                                        before=before, after=Records.of(ex.store), now=ex.clock.now(),
                                        history=history, messages=tuple(ex.outbox.messages)))
        ex.setup += (TraceStep("set-up", operation, request, {}, None),)
        return response

    for login in u.logins:
        run("AdminUpdateUserAttributes", "admin_update_user_attributes", {
            "UserPoolId": ex.pool_id, "Username": login,
            "UserAttributes": [{"Name": "email_verified", "Value": "true"}]})
    for i, login in enumerate(u.logins[:u.family_users]):
        result = run("InitiateAuth", "initiate_auth", {
            "ClientId": ex.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": login, "PASSWORD": u.new}})["AuthenticationResult"]
        tokens[i] = Tokens(result["AccessToken"], result["RefreshToken"],
                           ex.clock.now() + timedelta(seconds=int(result["ExpiresIn"])))
        options = run("StartWebAuthnRegistration", "start_web_authn_registration",
                      {"AccessToken": result["AccessToken"]})["CredentialCreationOptions"]
        run("CompleteWebAuthnRegistration", "complete_web_authn_registration", {
            "AccessToken": result["AccessToken"], "Credential": authenticator.registration(key_seed(i, 0), options,
                                                                                         ORIGIN)})
        if u.mfa_optional:
            run("AdminSetUserMFAPreference", "admin_set_user_mfa_preference",
                {"UserPoolId": ex.pool_id, "Username": login, **SMS_MFA_ON})
        held[i] = HeldPasswordless()
    return history


# -- the alphabet ------------------------------------------------------------------------------------


def passwordless_actions(u: Universe, client_id: str) -> list[Action]:
    """The passwordless half of the alphabet, for the first `family_users` users."""
    actions: list[Action] = []
    for i, name in enumerate(u.names[:u.family_users]):
        login = u.logins[i]
        for choice, label in (("EMAIL_OTP", "an EMAIL_OTP"), ("WEB_AUTHN", "a passkey")):
            actions.append(Action(f"start {label} sign-in as {login}", const("initiate_auth", {
                "ClientId": client_id, "AuthFlow": "USER_AUTH",
                "AuthParameters": {"USERNAME": login, "PREFERRED_CHALLENGE": choice}})))
        for which in ("sent", "wrong", "accepted before"):
            actions.append(Action(f"answer {name}'s EMAIL_OTP with the {which} code",
                                  _otp_answer(client_id, i, login, which)))
        for which, label in (("fresh", "her passkey"), ("replay", "the last assertion again"),
                             ("stranger", "a passkey never registered")):
            actions.append(Action(f"answer {name}'s WEB_AUTHN with {label}", _passkey_answer(client_id, i, login, which)))
        actions.append(Action(f"start registering a passkey with {name}'s access token", _with_tokens(
            i, lambda t, held: ("start_web_authn_registration", {"AccessToken": t.access}))))
        actions.append(Action(f"complete {name}'s passkey registration with a new passkey", _with_tokens(
            i, lambda t, held, i=i: None if held.creation is None else ("complete_web_authn_registration", {
                "AccessToken": t.access,
                "Credential": authenticator.registration(key_seed(i, held.key + 1), held.creation, ORIGIN)}))))
        actions.append(Action(f"delete {name}'s latest passkey", _with_tokens(
            i, lambda t, held, i=i: ("delete_web_authn_credential", {
                "AccessToken": t.access, "CredentialId": key_id(i, held.key)}))))
    return actions


def _held(caller: Caller, i: int) -> HeldPasswordless | None:
    return caller.passwordless[i] if caller.passwordless else None


def _with_tokens(i: int, make) -> Any:
    def build(caller: Caller) -> tuple[str, dict] | None:
        tokens, held = caller.tokens[i], _held(caller, i)
        return make(tokens, held) if tokens is not None and held is not None else None

    return build


def _otp_answer(client_id: str, i: int, login: str, which: str) -> Any:
    def build(caller: Caller) -> tuple[str, dict] | None:
        held = _held(caller, i)
        if held is None or held.otp_session is None or held.otp_code is None:
            return None
        if which == "sent":
            code = held.otp_code
        elif which == "wrong":
            code = "00000000" if held.otp_code != "00000000" else "11111111"
        elif held.accepted_code is None or held.accepted_code == held.otp_code:
            return None  # the same request as answering with the code sent
        else:
            code = held.accepted_code
        return "respond_to_auth_challenge", {
            "ClientId": client_id, "ChallengeName": "EMAIL_OTP", "Session": held.otp_session,
            "ChallengeResponses": {"USERNAME": login, "EMAIL_OTP_CODE": code}}

    return build


def _passkey_answer(client_id: str, i: int, login: str, which: str) -> Any:
    def build(caller: Caller) -> tuple[str, dict] | None:
        held = _held(caller, i)
        if held is None or held.webauthn_session is None or held.options is None:
            return None
        if which == "replay":
            if held.last_assertion is None:
                return None
            credential = held.last_assertion
        else:
            n, counter = (held.key, held.counter + 1) if which == "fresh" else (STRANGER, 1)
            credential = json.dumps(authenticator.assertion(key_seed(i, n), held.options, ORIGIN, sign_count=counter,
                                                            user_handle=b""), separators=(",", ":"))
        return "respond_to_auth_challenge", {
            "ClientId": client_id, "ChallengeName": "WEB_AUTHN", "Session": held.webauthn_session,
            "ChallengeResponses": {"USERNAME": login, "CREDENTIAL": credential}}

    return build


# -- what the caller holds after a step -----------------------------------------------------------


def _slot(ex: Any, caller: Caller, step: Step) -> int | None:
    """The family user a step acted for: by the USERNAME it sent, or the access token."""
    request = step.request
    given = request.get("AuthParameters") or request.get("ChallengeResponses") or {}
    if given.get("USERNAME") in ex.by_login:
        return ex.by_login[given["USERNAME"]]
    access = request.get("AccessToken")
    return next((j for j, t in enumerate(caller.tokens) if t is not None and t.access == access), None) \
        if access else None


def held_after(ex: Any, caller: Caller, step: Step) -> tuple[HeldPasswordless | None, ...]:
    """What the caller holds of passwordless sign-in after `step`."""
    held = list(caller.passwordless)
    slot = _slot(ex, caller, step)
    if slot is None or slot >= len(held) or held[slot] is None:
        return caller.passwordless
    mine, request, response = held[slot], step.request, step.response or {}
    name = request.get("ChallengeName")
    if step.operation in ("InitiateAuth", "AdminInitiateAuth") and step.ok:
        if response.get("ChallengeName") == "EMAIL_OTP":
            found = next((m for m in (_CODE.search(str(getattr(x, "body", ""))) for x in step.messages) if m), None)
            mine = replace(mine, otp_session=response["Session"], otp_code=found.group() if found else None)
        elif response.get("ChallengeName") == "WEB_AUTHN":
            mine = replace(mine, webauthn_session=response["Session"],
                           options=(response.get("ChallengeParameters") or {}).get("CREDENTIAL_REQUEST_OPTIONS"))
    elif step.operation == "RespondToAuthChallenge" and name == "EMAIL_OTP" and step.ok:
        mine = replace(mine, accepted_code=(request.get("ChallengeResponses") or {}).get("EMAIL_OTP_CODE"))
    elif step.operation == "RespondToAuthChallenge" and name == "WEB_AUTHN":
        sent = (request.get("ChallengeResponses") or {}).get("CREDENTIAL")
        credential = json.loads(sent) if isinstance(sent, str) else {}
        counter = assertion_counter(credential)
        if credential.get("id") == key_id(slot, mine.key) and counter is not None and counter > mine.counter:
            mine = replace(mine, counter=counter, last_assertion=sent)  # the authenticator moved, whatever the verdict
    elif step.operation == "StartWebAuthnRegistration" and step.ok:
        mine = replace(mine, creation=json.dumps(response.get("CredentialCreationOptions"), sort_keys=True))
    elif step.operation == "CompleteWebAuthnRegistration":
        mine = replace(mine, creation=None)  # spent, whatever the answer
        if step.ok:
            mine = replace(mine, key=mine.key + 1, counter=0, last_assertion=None)
    held[slot] = mine
    return tuple(held)


# -- how the digest sees it ----------------------------------------------------------------------------


def _challenge_of(text: str | None) -> str | None:
    if not text:
        return None
    try:
        given = json.loads(text)
        if "challenge" in given:
            return given["challenge"]
        return json.loads(authenticator.unb64url(given["response"]["clientDataJSON"]))["challenge"]
    except (ValueError, KeyError, TypeError):
        return None


def passwordless_state(ex: Any, records: Records, now: datetime, caller: Caller, by_name: dict[str, Any],
                       names: dict[str, str]) -> tuple[Any, ...]:
    """Per family user, what a later request can tell: each stored passkey as which held key
    it is (the latest, an older one) and its sign count against the held counter; the pending
    registration (remaining life, whether the held options answer it); the held EMAIL_OTP
    session (used, remaining life, its user, whether the caller saw it accepted, whether a
    different code was accepted before) and WEB_AUTHN session (used, remaining life, its user,
    whether the last assertion answers its challenge, that assertion's counter against the
    stored count); whether the caller saw the latest key deleted. Never the random values."""
    history = caller.history
    out = []
    for i, held in enumerate(caller.passwordless):
        if held is None:
            out.append(None)
            continue
        user = by_name.get(ex.universe.names[i])
        latest = key_id(i, held.key)
        keys, stored_latest = [], None
        if user is not None:
            prefix = f"{user.sub}:"
            for r in records.resources:
                if r.pool_id == ex.pool_id and r.kind == CREDENTIAL and r.name.startswith(prefix):
                    count = int(r.body.get("SignCount", 0))
                    if r.body.get("CredentialId") == latest:
                        stored_latest = count
                        keys.append(("latest", (held.counter > count) - (held.counter < count)))
                    else:
                        keys.append(("older", None))
        pending = records.resource(ex.pool_id, REGISTRATION, user.sub) if user is not None else None
        registration = None if pending is None else (
            max(0, (datetime.fromisoformat(str(pending.body.get("Expires"))) - now) // timedelta(milliseconds=1))
            if pending.body.get("Expires") else None,
            _challenge_of(held.creation) == pending.body.get("Challenge"),
        )

        def session(token: str | None) -> tuple[Any, ...] | None:
            record = records.session(token) if token else None
            if record is None:
                return None
            holder = next((names[s] for s in names if s == record.sub), None)
            return (record.used, max(0, (record.expires - now) // timedelta(milliseconds=1)), holder,
                    record.challenge)

        otp = None if held.otp_session is None else (
            session(held.otp_session), held.otp_code is not None,
            session_id(held.otp_session) in history.otp_accepted,
            held.accepted_code is not None and held.accepted_code != held.otp_code,
        )
        replay = None
        if held.last_assertion is not None:
            counter = assertion_counter(json.loads(held.last_assertion))
            replay = (_challenge_of(held.last_assertion) == _challenge_of(held.options),
                      None if stored_latest is None or counter is None else (counter > stored_latest) - (counter < stored_latest))
        passkey = None if held.webauthn_session is None else (session(held.webauthn_session), replay)
        deleted = (ex.pool_id, latest) in history.passkeys_deleted
        registered = user is not None and (ex.pool_id, user.sub, latest) in history.passkeys_registered
        out.append((tuple(sorted(keys)), registration, held.creation is not None, otp, passkey, deleted, registered))
    return tuple(out)
