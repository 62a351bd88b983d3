"""Service defaults of a user pool, as Cognito fills them in, in its own wire spelling.

Theory of operation
-------------------
``CreateUserPool`` stores "every member that comes from the request or has a service default";
``UpdateUserPool`` resets every omitted updatable member to the same default. Both read the
defaults from here, so there is exactly one place that says what an untouched pool looks like.
The values are plain data; callers receive deep copies from :func:`fresh` and may mutate them.

Sources (see ``reference/cognito-semantics.md``): §3.3 invite template, §3.14 password policy,
§3.20 verification and SMS-authentication messages, AWS CLI example outputs for the rest.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "DEFAULT_EMAIL_MESSAGE_BY_LINK",
    "DEFAULT_EMAIL_SUBJECT_BY_LINK",
    "DEFAULT_INVITE_TEMPLATE",
    "DEFAULT_MINIMUM_LENGTH",
    "DEFAULT_PASSWORD_POLICY",
    "DEFAULT_SIGN_IN_POLICY",
    "DEFAULT_SMS_AUTHENTICATION_MESSAGE",
    "DEFAULT_TEMPORARY_PASSWORD_VALIDITY_DAYS",
    "DEFAULT_VERIFICATION_TEMPLATE",
    "LAMBDA_TRIGGERS",
    "USER_POOL_MEMBER_ORDER",
    "fresh",
]

DEFAULT_TEMPORARY_PASSWORD_VALIDITY_DAYS = 7
DEFAULT_MINIMUM_LENGTH = 8

DEFAULT_PASSWORD_POLICY: dict[str, Any] = {
    "MinimumLength": DEFAULT_MINIMUM_LENGTH,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": DEFAULT_TEMPORARY_PASSWORD_VALIDITY_DAYS,
}

# Pools created since passwordless sign-in arrived (Nov 2024) describe a password-only policy.
DEFAULT_SIGN_IN_POLICY: dict[str, Any] = {"AllowedFirstAuthFactors": ["PASSWORD"]}

# Trailing spaces are part of Cognito's defaults.
DEFAULT_VERIFICATION_TEMPLATE: dict[str, Any] = {
    "SmsMessage": "Your verification code is {####}. ",
    "EmailMessage": "Your verification code is {####}. ",
    "EmailSubject": "Your verification code",
    "DefaultEmailOption": "CONFIRM_WITH_CODE",
}
# Only filled in when a pool chooses CONFIRM_WITH_LINK without supplying its own text.
DEFAULT_EMAIL_MESSAGE_BY_LINK = (
    "Please click the link below to verify your email address. {##Verify Email##} "
)
DEFAULT_EMAIL_SUBJECT_BY_LINK = "Your verification link"

DEFAULT_SMS_AUTHENTICATION_MESSAGE = "Your authentication code is {####}. "

DEFAULT_INVITE_TEMPLATE: dict[str, str] = {
    "SMSMessage": "Your username is {username} and temporary password is {####}. ",
    "EmailMessage": "Your username is {username} and temporary password is {####}. ",
    "EmailSubject": "Your temporary password",
}

#: LambdaConfig members that name a trigger function, directly or in a versioned structure.
LAMBDA_TRIGGERS: tuple[str, ...] = (
    "PreSignUp",
    "CustomMessage",
    "PostConfirmation",
    "PreAuthentication",
    "PostAuthentication",
    "DefineAuthChallenge",
    "CreateAuthChallenge",
    "VerifyAuthChallengeResponse",
    "PreTokenGeneration",
    "UserMigration",
    "CustomSMSSender",
    "CustomEmailSender",
    "InboundFederation",
)

#: ``UserPoolType`` members in botocore's order, which is also the order AWS serialises them;
#: renderers emit known members in this order and anything newer after them.
USER_POOL_MEMBER_ORDER: tuple[str, ...] = (
    "Id",
    "Name",
    "Policies",
    "DeletionProtection",
    "LambdaConfig",
    "Status",
    "LastModifiedDate",
    "CreationDate",
    "SchemaAttributes",
    "AutoVerifiedAttributes",
    "AliasAttributes",
    "UsernameAttributes",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "UserAttributeUpdateSettings",
    "MfaConfiguration",
    "DeviceConfiguration",
    "EstimatedNumberOfUsers",
    "EmailConfiguration",
    "SmsConfiguration",
    "UserPoolTags",
    "SmsConfigurationFailure",
    "EmailConfigurationFailure",
    "Domain",
    "CustomDomain",
    "AdminCreateUserConfig",
    "UserPoolAddOns",
    "DcrConfiguration",
    "UsernameConfiguration",
    "Arn",
    "AccountRecoverySetting",
    "UserPoolTier",
    "KeyConfiguration",
    "IssuerConfiguration",
    "AcrConfiguration",
)


def fresh(value: Any) -> Any:
    """A private deep copy of a default, safe for the caller to mutate."""
    return copy.deepcopy(value)
