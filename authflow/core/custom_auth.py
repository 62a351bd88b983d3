"""CUSTOM_AUTH: the pool's DefineAuthChallenge, CreateAuthChallenge and
VerifyAuthChallengeResponse functions drive a sign-in (the pure parts).

Theory of operation: a custom sign-in is a conversation the functions lead. Define
sees the rounds so far (`session`: challenge name, result, metadata) and answers
failAuthentication, issueTokens, or the next challenge's name; Create makes a
CUSTOM_CHALLENGE (public parameters go to the client, private ones stay with the
server); Verify judges the client's ANSWER against the private parameters. What a
session must remember between rounds (the rounds, the private parameters, the
challenge's metadata, whether the user exists at all) is `Progress`: it is sealed
into the AuthSession record by the service, because private parameters are answers.

Unknown users under PreventUserExistenceErrors=ENABLED go through the same rounds
with ``userNotFound: true`` (the functions can simulate a challenge), and can never
be issued tokens. Everything here is pure; the service calls the functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authflow.core import pool_config as pc
from authflow.core import trigger_events as te
from authflow.core.auth import device_facts
from authflow.core.lifecycle import auth_session
from authflow.core.mfa import mfa_facts
from authflow.core.records import Device, User, UserPool
from authflow.errors import InvalidLambdaResponseException, InvalidParameterException

CHALLENGE = "CUSTOM_CHALLENGE"
PASSWORD_VERIFIER = "PASSWORD_VERIFIER"
#: The round a custom flow that starts with SRP (`CHALLENGE_NAME=SRP_A`) begins with.
SRP_A_ROUND_NAME = "SRP_A"
NOT_CONFIGURED = "Custom auth lambda trigger is not configured for the user pool."
#: The LambdaConfig member each step needs.
DEFINE, CREATE, VERIFY = "DefineAuthChallenge", "CreateAuthChallenge", "VerifyAuthChallengeResponse"


def require_function(pool: UserPool, member: str) -> str:
    arn = pc.lambda_arn(pool.config, member)
    if not arn:
        raise InvalidParameterException(NOT_CONFIGURED)
    return arn


@dataclass(frozen=True, slots=True)
class Round:
    """One entry of the ``session`` list the functions see."""

    challenge_name: str
    challenge_result: bool
    challenge_metadata: str | None = None

    def to_event(self) -> dict[str, Any]:
        return {
            "challengeName": self.challenge_name,
            "challengeResult": self.challenge_result,
            "challengeMetadata": self.challenge_metadata,
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """What a CUSTOM_CHALLENGE session carries to the next round."""

    rounds: tuple[Round, ...] = ()
    private: Mapping[str, Any] = field(default_factory=dict)
    metadata: str | None = None
    user_not_found: bool = False

    def dumps(self) -> bytes:
        return json.dumps({
            "rounds": [[r.challenge_name, r.challenge_result, r.challenge_metadata] for r in self.rounds],
            "private": dict(self.private),
            "metadata": self.metadata,
            "user_not_found": self.user_not_found,
        }, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, data: bytes) -> Progress:
        doc = json.loads(data)
        return cls(
            rounds=tuple(Round(*r) for r in doc["rounds"]),
            private=doc["private"],
            metadata=doc["metadata"],
            user_not_found=doc["user_not_found"],
        )

    @property
    def after_srp_a(self) -> bool:
        """Define may ask for the password proof only right after SRP_A."""
        return bool(self.rounds) and self.rounds[-1].challenge_name == SRP_A_ROUND_NAME

    @property
    def password_proved(self) -> bool:
        """A right PASSWORD_VERIFIER answer is behind: the flow stands on that password."""
        return any(r.challenge_name == PASSWORD_VERIFIER and r.challenge_result for r in self.rounds)

    def answered(self, correct: bool) -> Progress:
        """After Verify judged the answer: the round is recorded, its secrets dropped."""
        return Progress(
            rounds=(*self.rounds, Round(CHALLENGE, correct, self.metadata)),
            user_not_found=self.user_not_found,
        )


def _attributes(user: User | None) -> dict[str, str]:
    return te.user_attributes(user) if user is not None else {}


# -- the three events ------------------------------------------------------------------------


def define_request(user: User | None, progress: Progress, client_metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "userAttributes": _attributes(user),
        "session": [r.to_event() for r in progress.rounds],
        "clientMetadata": dict(client_metadata),
        "userNotFound": progress.user_not_found,
    }


def create_request(user: User | None, progress: Progress, client_metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "userAttributes": _attributes(user),
        "challengeName": CHALLENGE,
        "session": [r.to_event() for r in progress.rounds],
        "clientMetadata": dict(client_metadata),
        "userNotFound": progress.user_not_found,
    }


def verify_request(
    user: User | None, progress: Progress, answer: str, client_metadata: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "userAttributes": _attributes(user),
        "privateChallengeParameters": dict(progress.private),
        "challengeAnswer": answer,
        "clientMetadata": dict(client_metadata),
        "userNotFound": progress.user_not_found,
    }


# -- reading the answers ------------------------------------------------------------------------


def _bool(response: Mapping[str, Any], key: str) -> bool:
    value = response.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidLambdaResponseException(te.UNRECOGNIZABLE)
    return value


@dataclass(frozen=True, slots=True)
class Defined:
    challenge_name: str | None
    issue_tokens: bool
    fail_authentication: bool


def read_define(response: Mapping[str, Any], *, after_srp_a: bool = False) -> Defined:
    """Define's answer. Neither failing nor issuing tokens means a challenge must be
    named: CUSTOM_CHALLENGE, or, right after SRP_A, PASSWORD_VERIFIER (the SRP proof)."""
    fail, issue = _bool(response, "failAuthentication"), _bool(response, "issueTokens")
    name = response.get("challengeName")
    if name is not None and not isinstance(name, str):
        raise InvalidLambdaResponseException(te.UNRECOGNIZABLE)
    if not fail and not issue:
        if not name:
            raise InvalidLambdaResponseException(te.UNRECOGNIZABLE)
        if name != CHALLENGE and not (after_srp_a and name == PASSWORD_VERIFIER):
            raise InvalidParameterException(
                f"The challenge {name} in a custom authentication flow is not supported by this version of authflow yet."
            )
    return Defined(name or None, issue, fail)


def _string_map(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidLambdaResponseException(te.UNRECOGNIZABLE)
    return dict(value)


@dataclass(frozen=True, slots=True)
class Created:
    public: dict[str, str]
    private: dict[str, str]
    metadata: str | None


def read_create(response: Mapping[str, Any]) -> Created:
    """Create's answer: string-to-string parameter maps, an optional metadata string."""
    metadata = response.get("challengeMetadata")
    if metadata is not None and not isinstance(metadata, str):
        raise InvalidLambdaResponseException(te.UNRECOGNIZABLE)
    return Created(
        _string_map(response.get("publicChallengeParameters")),
        _string_map(response.get("privateChallengeParameters")),
        metadata,
    )


def read_verify(response: Mapping[str, Any]) -> bool:
    return _bool(response, "answerCorrect")


# -- where the attempt goes -------------------------------------------------------------------------


def next_state(state: str, defined: Defined, pool: UserPool, user: User | None, device: Device | None = None) -> str:
    """The auth-session machine's answer to Define: FAILED, a challenge, or AUTHENTICATED.
    An unknown user is failed whatever Define says about tokens. `device`: the user's
    device whose DEVICE_KEY the attempt carries."""
    facts = {
        "fail_authentication": defined.fail_authentication or (defined.issue_tokens and user is None),
        "issue_tokens": defined.issue_tokens,
        "must_change_password": user is not None and user.status == "FORCE_CHANGE_PASSWORD",
        **mfa_facts(pool, user),
        "password_verifier_named": defined.challenge_name == PASSWORD_VERIFIER,
        **device_facts(pool, device if user is not None else None),
    }
    return auth_session().next_state(state, "challenge_defined", facts)


def challenge_parameters(created: Created, username: str) -> dict[str, str]:
    """What the client sees: the public parameters and the USERNAME to answer with."""
    return {**created.public, "USERNAME": username}
