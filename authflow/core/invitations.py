"""Invitation messages of AdminCreateUser: delivery mediums and templates.

Cognito renders `AdminCreateUserConfig.InviteMessageTemplate` with `{username}`
and `{####}` (the temporary password). A template that lacks `{####}` is silently
not delivered (the user could not sign in with it anyway), as Cognito documents.
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
    """The invitations to send; `mediums` None means Cognito's default, SMS."""
    wanted = list(dict.fromkeys(mediums or ["SMS"]))
    reachable = [m for m in wanted if attributes.get(_TARGET[m])]
    if not reachable:
        raise InvalidParameterException("User has no attribute matching desired delivery mediums")
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
