"""The TOTP flow family (`flows` "totp"): a pool offering software-token MFA
(SetUserPoolMfaConfig OPTIONAL, or ON when the pool configuration asks for it, with
SoftwareTokenMfaConfiguration), and for each universe user: AssociateSoftwareToken and
VerifySoftwareToken by access token and by the Session of an MFA_SETUP challenge, the
MFA_SETUP answer, SetUserMFAPreference turning TOTP on (preferred) or off, and SOFTWARE_TOKEN_MFA answered
with the current step's code, the previous step's, the last code the caller saw accepted
(a replay) and a wrong one; the clock also moves by one 30-second step.

The caller plays an authenticator app: it keeps the latest SecretCode of each user
(`HeldTotp`) and makes codes with `authflow.invariants.rfc6238` (written from the RFC,
not the engine's TOTP), on the explorer's manual clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from authflow.explore.actions import Action, with_tokens
from authflow.explore.caller import Caller
from authflow.explore.universe import Universe
from authflow.invariants import rfc6238

#: The clock step the family adds: one TOTP time step.
TOTP_STEP = rfc6238.STEP_SECONDS
PREFER_TOTP = {"SoftwareTokenMfaSettings": {"Enabled": True, "PreferredMfa": True}}
TOTP_OFF = {"SoftwareTokenMfaSettings": {"Enabled": False}}


def code_now(secret: str, now: datetime, offset: int = 0) -> tuple[str, int]:
    step = rfc6238.time_step(now.timestamp()) + offset
    return rfc6238.code(secret, step), step


def totp_actions(u: Universe, client_id: str, clock: Callable[[], datetime]) -> list[Action]:
    """The TOTP half of the alphabet."""
    actions: list[Action] = []
    for i, name in enumerate(u.names[:u.family_users]):
        actions.append(Action(f"associate an authenticator with {name}'s access token", with_tokens(
            i, lambda t: ("associate_software_token", {"AccessToken": t.access}))))
        actions.append(Action(f"associate an authenticator in {name}'s MFA_SETUP session",
                              _in_setup(i, lambda c, held: ("associate_software_token", {"Session": c.session}))))
        actions.append(Action(f"verify {name}'s authenticator with the access token", _verify_by_token(i, clock)))
        actions.append(Action(f"verify {name}'s authenticator in the MFA_SETUP session", _in_setup(
            i, lambda c, held: None if held is None else ("verify_software_token", {
                "Session": c.session, "UserCode": code_now(held.secret, clock())[0]}))))
        actions.append(Action(f"answer {name}'s MFA_SETUP", _in_setup(i, lambda c, held: (
            "respond_to_auth_challenge", {"ClientId": client_id, "ChallengeName": "MFA_SETUP", "Session": c.session,
                                          "ChallengeResponses": {"USERNAME": c.username}}))))
        actions.append(Action(f"turn on TOTP MFA for {name}", with_tokens(
            i, lambda t: ("set_user_mfa_preference", {"AccessToken": t.access, **PREFER_TOTP}))))
        actions.append(Action(f"turn off TOTP MFA for {name}", with_tokens(
            i, lambda t: ("set_user_mfa_preference", {"AccessToken": t.access, **TOTP_OFF}))))
        for which in ("current", "previous", "replayed", "wrong"):
            actions.append(Action(f"answer {name}'s SOFTWARE_TOKEN_MFA with the {which} code",
                                  _software_token_answer(client_id, i, clock, which)))
    return actions


def _in_setup(i: int, make) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge = caller.challenges[i]
        if challenge is None or challenge.name != "MFA_SETUP":
            return None
        return make(challenge, caller.totp[i] if caller.totp else None)

    return build


def _verify_by_token(i: int, clock: Callable[[], datetime]) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        tokens, held = caller.tokens[i], caller.totp[i] if caller.totp else None
        if tokens is None or held is None:
            return None
        return "verify_software_token", {"AccessToken": tokens.access, "UserCode": code_now(held.secret, clock())[0]}

    return build


def _software_token_answer(client_id: str, i: int, clock: Callable[[], datetime], which: str):
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge, held = caller.challenges[i], caller.totp[i] if caller.totp else None
        if challenge is None or challenge.name != "SOFTWARE_TOKEN_MFA" or held is None:
            return None
        if which == "replayed":
            if held.used is None:
                return None
            code = held.used
        elif which == "wrong":
            current = code_now(held.secret, clock())[0]
            code = "000000" if current != "000000" else "111111"
        else:
            code = code_now(held.secret, clock(), -1 if which == "previous" else 0)[0]
        return "respond_to_auth_challenge", {
            "ClientId": client_id, "ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": challenge.session,
            "ChallengeResponses": {"USERNAME": challenge.username, "SOFTWARE_TOKEN_MFA_CODE": code},
        }

    return build
