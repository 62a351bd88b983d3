"""Invitation messages of AdminCreateUser: delivery mediums and templates.

Cognito renders `AdminCreateUserConfig.InviteMessageTemplate` with `{username}`
and `{####}` (the temporary password). A template that lacks `{####}` is silently
not delivered (the user could not sign in with it anyway), as Cognito documents.

Mediums: a medium the request names (`DesiredDeliveryMediums`) needs its attribute
(`email` for EMAIL, `phone_number` for SMS), as the API reference requires, or the
request is refused before anything is written. When the request names none, Cognito's
default SMS is used if the user has a phone number; otherwise the user is created and
no invitation is sent, as AWS does (moto's `aws_verified` tests create users so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from authflow.core import pool_config as pc
from authflow.core.effects import Message
from authflow.errors import InvalidParameterException

_TARGET = {"SMS": "phone_number", "EMAIL": "email"}


def invitation_messages(
    config: Mapping,
    *,
    pool_id: str,
    username: str,
    shown_username: str,
    attributes: Mapping[str, str],
    temporary_password: str,
    mediums: Sequence[str] | None,
) -> tuple[Message, ...]:
    """The invitations to send; `mediums` None means Cognito's default, SMS, sent only
    when the user has a phone number."""
    if mediums:
        wanted = list(dict.fromkeys(mediums))
        if not all(attributes.get(_TARGET[m]) for m in wanted):
            raise InvalidParameterException("User has no attribute matching desired delivery mediums")
        reachable = wanted
    else:
        reachable = ["SMS"] if attributes.get(_TARGET["SMS"]) else []
    template = pc.invite_template(config)
    messages = []
    for medium in reachable:
        text = template["SMSMessage"] if medium == "SMS" else template["EmailMessage"]
        if "{####}" not in text:
            continue
        body = text.replace("{username}", shown_username).replace("{####}", temporary_password)
        messages.append(
            Message(
                medium=medium,
                destination=attributes[_TARGET[medium]],
                subject=template["EmailSubject"] if medium == "EMAIL" else None,
                body=body,
                kind="invitation",
                username=username,
                pool_id=pool_id,
                code=temporary_password,
                shown_username=shown_username,
            )
        )
    return tuple(messages)
