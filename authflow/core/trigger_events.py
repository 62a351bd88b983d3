"""Cognito's Lambda trigger events: built as Lambda receives them, answers read back
with validation.

Pure, apart from `invoke`, which calls the Triggers port it is given (as
`codes.new_code` draws from the entropy port it is given) and turns the function's
failure into Cognito's error: an exception becomes UserLambdaValidationException
``<Trigger> failed with error <message>.``, an answer that is not an event with a
``response`` object becomes InvalidLambdaResponseException.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from authflow.core.effects import Message
from authflow.core.records import User
from authflow.errors import InvalidLambdaResponseException, UserLambdaValidationException

VERSION = "1"
SDK_VERSION = "authflow"
#: The callerContext.clientId of events no app client caused (admin operations).
NO_CLIENT = "CLIENT_ID_NOT_APPLICABLE"
CODE_PARAMETER = "{####}"
USERNAME_PARAMETER = "{username}"
UNRECOGNIZABLE = "Unrecognizable lambda output"

#: Request and pre-filled response of each trigger family (the part of triggerSource
#: before the underscore).
_EMPTY_RESPONSE: dict[str, dict[str, Any]] = {
    "PreSignUp": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
    "PostConfirmation": {},
    "PreAuthentication": {},
    "PostAuthentication": {},
    "CustomMessage": {"smsMessage": None, "emailMessage": None, "emailSubject": None},
    "DefineAuthChallenge": {"challengeName": None, "issueTokens": None, "failAuthentication": None},
    "CreateAuthChallenge": {
        "publicChallengeParameters": None, "privateChallengeParameters": None, "challengeMetadata": None,
    },
    "VerifyAuthChallengeResponse": {"answerCorrect": None},
}


def family(source: str) -> str:
    """``PreSignUp_SignUp`` -> ``PreSignUp``: the LambdaConfig member and the error prefix."""
    return source.split("_", 1)[0]


def user_attributes(user: User) -> dict[str, str]:
    """The ``request.userAttributes`` Cognito sends for a stored user: every attribute
    (``sub`` first) as strings, and ``cognito:user_status``."""
    return {**{k: str(v) for k, v in user.attributes.items()}, "cognito:user_status": user.status}


def event(
    source: str,
    *,
    region: str,
    pool_id: str,
    username: str,
    client_id: str | None,
    request: Mapping[str, Any],
) -> dict[str, Any]:
    """The whole event for `source`, its response pre-filled as Cognito does."""
    return {
        "version": VERSION,
        "triggerSource": source,
        "region": region,
        "userPoolId": pool_id,
        "userName": username,
        "callerContext": {"awsSdkVersion": SDK_VERSION, "clientId": client_id or NO_CLIENT},
        "request": dict(request),
        "response": dict(_EMPTY_RESPONSE.get(family(source), {})),
    }


def invoke(triggers, arn: str, built: Mapping[str, Any]) -> Mapping[str, Any]:
    """Call the function and return its ``response`` object, or raise Cognito's error."""
    name = family(built["triggerSource"])
    try:
        answer = triggers.invoke(arn, built)
    except Exception as err:  # the function's failure is the caller's answer
        raise UserLambdaValidationException(f"{name} failed with error {err}.") from None
    if not isinstance(answer, Mapping):
        raise InvalidLambdaResponseException(UNRECOGNIZABLE)
    response = answer.get("response")
    if response is None:
        return {}
    if not isinstance(response, Mapping):
        raise InvalidLambdaResponseException(UNRECOGNIZABLE)
    return response


def _flag(response: Mapping[str, Any], key: str) -> bool:
    value = response.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidLambdaResponseException(UNRECOGNIZABLE)
    return value


@dataclass(frozen=True, slots=True)
class PreSignUpAnswer:
    auto_confirm: bool = False
    auto_verify_email: bool = False
    auto_verify_phone: bool = False


def read_pre_sign_up(response: Mapping[str, Any]) -> PreSignUpAnswer:
    """autoConfirmUser / autoVerifyEmail / autoVerifyPhone; null counts as false, any
    other non-boolean is an unrecognizable answer."""
    return PreSignUpAnswer(
        _flag(response, "autoConfirmUser"), _flag(response, "autoVerifyEmail"), _flag(response, "autoVerifyPhone")
    )


@dataclass(frozen=True, slots=True)
class CustomMessageAnswer:
    sms_message: str | None = None
    email_message: str | None = None
    email_subject: str | None = None


_LIMITS = {"smsMessage": 140, "emailMessage": 20000, "emailSubject": 140}


def read_custom_message(response: Mapping[str, Any], *, placeholders: tuple[str, ...]) -> CustomMessageAnswer:
    """The function's messages (null keeps the pool's template). A message must be a
    string within Cognito's length limits and carry every placeholder (the code's, and
    for invitations the username's); otherwise the answer is refused."""
    values: dict[str, str | None] = {}
    for key, limit in _LIMITS.items():
        value = response.get(key)
        if value is not None:
            if not isinstance(value, str) or not value or len(value) > limit:
                raise InvalidLambdaResponseException(UNRECOGNIZABLE)
            if key != "emailSubject" and any(p not in value for p in placeholders):
                raise InvalidLambdaResponseException(UNRECOGNIZABLE)
        values[key] = value
    return CustomMessageAnswer(values["smsMessage"], values["emailMessage"], values["emailSubject"])


#: The link placeholder Cognito puts in every CustomMessage event (for verification
#: links; authflow sends codes only, so a message carrying it keeps it as typed).
LINK_PARAMETER = "{##Click Here##}"
#: The sources whose messages show the username (invitations).
_USERNAME_SOURCES = frozenset({"CustomMessage_AdminCreateUser"})


def custom_message_event(
    source: str,
    *,
    region: str,
    pool_id: str,
    user: User,
    client_id: str | None,
    client_metadata: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A CustomMessage event: the placeholders stand where the function's text should
    carry the code (and, for invitations, the username)."""
    return event(
        source, region=region, pool_id=pool_id, username=user.username, client_id=client_id,
        request={
            "userAttributes": user_attributes(user),
            "codeParameter": CODE_PARAMETER,
            "linkParameter": LINK_PARAMETER,
            "usernameParameter": USERNAME_PARAMETER if source in _USERNAME_SOURCES else None,
            "clientMetadata": dict(client_metadata or {}),
        },
    )


def custom_message_placeholders(source: str) -> tuple[str, ...]:
    """What the function's messages must carry: the code always, the username in invitations."""
    if source in _USERNAME_SOURCES:
        return (CODE_PARAMETER, USERNAME_PARAMETER)
    return (CODE_PARAMETER,)


def apply_custom_message(message: Message, answer: CustomMessageAnswer) -> Message:
    """`message` with the function's text for its medium, the
    placeholders filled as the template's would be; a null answer keeps the template."""
    if message.medium == "SMS":
        text, subject = answer.sms_message, message.subject
    else:
        text, subject = answer.email_message, answer.email_subject or message.subject
    if text is None:
        return replace(message, subject=subject)
    body = text.replace(USERNAME_PARAMETER, message.shown_username or message.username) if (
        message.kind == "invitation"
    ) else text
    return replace(message, subject=subject, body=body.replace(CODE_PARAMETER, message.code))
