"""The other sign-in flows (`flows`): USER_SRP_AUTH and CUSTOM_AUTH requests for each
universe user, the password claim signed as an SRP client signs it, the answers to
custom challenges, the second app client that hides unknown users, and the pool's
custom-auth functions (`CUSTOM_FUNCTIONS`: one question)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from authflow.crypto import srp as srp_math
from authflow.explore.actions import Action, const
from authflow.explore.caller import Caller
from authflow.explore.universe import Universe

#: The pool's custom-auth functions (flows "custom") ask one question; see `_custom_define`.
QUESTION, ANSWER, WRONG_ANSWER = "2 + 2", "four-ish", "not-the-answer"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:explore-{}"
#: The app client that hides unknown users (flows "custom"): CUSTOM_AUTH only.
HIDDEN_CLIENT_REQUEST = {
    "ClientName": "explore-hidden", "ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH"], "PreventUserExistenceErrors": "ENABLED",
}


def _custom_define(event: dict[str, Any]) -> dict[str, Any]:
    """DefineAuthChallenge: after SRP_A the password proof, and tokens right after it;
    otherwise one question, tokens after its right answer, failure after a wrong one."""
    rounds = event["request"]["session"]
    last = rounds[-1] if rounds else None
    if last is None:
        event["response"]["challengeName"] = "CUSTOM_CHALLENGE"
    elif last["challengeName"] == "SRP_A":
        event["response"]["challengeName"] = "PASSWORD_VERIFIER"
    elif last["challengeResult"]:
        event["response"]["issueTokens"] = True
    else:
        event["response"]["failAuthentication"] = True
    return event


def _custom_create(event: dict[str, Any]) -> dict[str, Any]:
    event["response"].update(publicChallengeParameters={"question": QUESTION},
                             privateChallengeParameters={"answer": ANSWER}, challengeMetadata="QUESTION-1")
    return event


def _custom_verify(event: dict[str, Any]) -> dict[str, Any]:
    request = event["request"]
    event["response"]["answerCorrect"] = request["challengeAnswer"] == request["privateChallengeParameters"]["answer"]
    return event


#: The pool's custom-auth functions (flows "custom"), by LambdaConfig member.
CUSTOM_FUNCTIONS = {"DefineAuthChallenge": _custom_define, "CreateAuthChallenge": _custom_create,
                    "VerifyAuthChallengeResponse": _custom_verify}


def _srp_secret(i: int) -> int:
    """User i's SRP client secret a (fixed: B, drawn by the engine, makes every attempt differ)."""
    return int.from_bytes(hashlib.sha256(f"explore-srp-a-{i}".encode()).digest(), "big")


def _srp_claim(pool_id: str, a: int, parameters: Mapping[str, str], password: str, now: datetime) -> dict[str, str]:
    """ChallengeResponses for PASSWORD_VERIFIER, computed as an SRP client does
    (reference/srp-and-clients.md §2), with the engine's arithmetic helpers."""
    big_a, big_b = srp_math.powmod(srp_math.G, a, srp_math.N), int(parameters["SRP_B"], 16)
    user_id = parameters["USER_ID_FOR_SRP"]
    u = srp_math.scrambler(big_a, big_b)
    x = srp_math.private_key(pool_id, user_id, password, int(parameters["SALT"], 16))
    base = (big_b - srp_math.K * srp_math.powmod(srp_math.G, x, srp_math.N)) % srp_math.N
    key = srp_math.session_key(srp_math.powmod(base, a + u * x, srp_math.N), u)
    when = srp_math.format_timestamp(now)
    block = parameters["SECRET_BLOCK"]
    return {
        "USERNAME": user_id, "PASSWORD_CLAIM_SECRET_BLOCK": block, "TIMESTAMP": when,
        "PASSWORD_CLAIM_SIGNATURE": srp_math.claim_signature(key, pool_id, user_id, base64.b64decode(block), when),
    }


def flow_actions(
    u: Universe, pool_id: str, client_id: str, hidden_id: str | None, clock: Callable[[], datetime],
    claims: dict[str, str],
) -> list[Action]:
    """The SRP and custom half of the alphabet (`flows`)."""
    actions: list[Action] = []
    for i, name in enumerate(u.names):
        a = _srp_secret(i)
        srp_a = f"{srp_math.powmod(srp_math.G, a, srp_math.N):x}"
        start = {"ClientId": client_id, "AuthParameters": {"USERNAME": u.logins[i], "SRP_A": srp_a}}
        if "srp" in u.flows:
            actions.append(Action(f"start an SRP sign-in as {u.logins[i]}", const(
                "initiate_auth", {**start, "AuthFlow": "USER_SRP_AUTH"})))
        if "custom" in u.flows:
            actions.append(Action(f"start a custom sign-in as {u.logins[i]}", const("initiate_auth", {
                "ClientId": client_id, "AuthFlow": "CUSTOM_AUTH", "AuthParameters": {"USERNAME": u.logins[i]}})))
            actions.append(Action(f"start a custom sign-in with SRP as {u.logins[i]}", const("initiate_auth", {
                **start, "AuthFlow": "CUSTOM_AUTH",
                "AuthParameters": {**start["AuthParameters"], "CHALLENGE_NAME": "SRP_A"}})))
            actions.append(Action(f"start a custom sign-in as {u.logins[i]} where unknown users are hidden", const(
                "initiate_auth", {"ClientId": hidden_id, "AuthFlow": "CUSTOM_AUTH",
                                  "AuthParameters": {"USERNAME": u.logins[i]}})))
            for good in (True, False):
                actions.append(Action(
                    f"answer {name}'s custom challenge" + ("" if good else " wrongly"),
                    _custom_answer(client_id, hidden_id, i, good=good),
                ))
        proofs = (u.temporary, u.new, u.wrong) if {"srp", "custom"} & set(u.flows) else ()
        for password in proofs:  # a block of either flow
            actions.append(Action(
                f"prove {name}'s SRP challenge with the {u.password_name(password)} password",
                _srp_answer(pool_id, client_id, i, a, password, clock, claims),
            ))
    return actions


def _srp_answer(
    pool_id: str, client_id: str, i: int, a: int, password: str, clock: Callable[[], datetime], claims: dict[str, str],
) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge = caller.challenges[i]
        if challenge is None or challenge.name != "PASSWORD_VERIFIER":
            return None
        responses = _srp_claim(pool_id, a, dict(challenge.parameters), password, clock())
        claims[responses["PASSWORD_CLAIM_SIGNATURE"]] = password
        return "respond_to_auth_challenge", {
            "ClientId": client_id, "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": responses,
        }

    return build


def _custom_answer(client_id: str, hidden_id: str | None, i: int, *, good: bool) -> Callable[[Caller], tuple[str, dict] | None]:
    def build(caller: Caller) -> tuple[str, dict] | None:
        challenge = caller.challenges[i]
        if challenge is None or challenge.name != "CUSTOM_CHALLENGE":
            return None
        return "respond_to_auth_challenge", {
            "ClientId": hidden_id if challenge.hidden else client_id, "ChallengeName": "CUSTOM_CHALLENGE",
            "Session": challenge.session,
            "ChallengeResponses": {"USERNAME": challenge.username, "ANSWER": ANSWER if good else WRONG_ANSWER},
        }

    return build
