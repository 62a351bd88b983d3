"""User-pool configuration: CreateUserPool / UpdateUserPool semantics, rendering, accessors.

Theory of operation
-------------------
A pool's configuration is one plain dict in Cognito's wire spelling: the ``UserPoolType``
members that come from the request or carry a service default (``Name``, ``Policies``,
``SchemaAttributes``, ``AdminCreateUserConfig`` ...). The identity and bookkeeping members
(``Id``, ``Arn``, dates, ``EstimatedNumberOfUsers``) are not configuration; the service passes
them to :func:`render_user_pool`, which merges and orders everything as boto3 returns it.

* :func:`new_pool_config` decides a ``CreateUserPool`` request: it fills every default
  (:mod:`authflow.core.pool_defaults`), builds the schema (:mod:`authflow.core.schema`) and
  enforces the cross-member rules. Members this module does not know are stored and echoed, so
  a newer botocore's members survive a round trip.
* :func:`updated_pool_config` decides ``UpdateUserPool``: updatable members are replaced
  wholesale, so an omitted one reverts to its default (Cognito's documented behaviour, the
  reason its docs say "pass the existing configuration"). ``AliasAttributes``,
  ``UsernameAttributes``, ``UsernameConfiguration`` and ``SchemaAttributes`` cannot be updated
  and are kept; ``PoolName`` renames only when given; ``UserPoolTier`` is the one updatable
  member that is kept when omitted (the operation's docs make that exception).
* Everything else in the engine reads configuration only through the typed accessors at the
  bottom, never by indexing the dict, so the stored shape can evolve in one place.

All functions are pure: they never mutate their arguments and never share mutable objects with
them; a refused request raises ``InvalidParameterException`` and returns nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authflow.core import pool_defaults as defaults
from authflow.core.schema import AttributeDef, attribute_definitions, build_schema
from authflow.errors import FeatureUnavailableInTierException, InvalidParameterException

#: Cognito's wording is not recorded; the type is the one the model lists.
THREAT_PROTECTION_NEEDS_TIER = "Threat protection (UserPoolAddOns) requires the user pool feature plan PLUS."

__all__ = [
    "PasswordPolicy",
    "alias_attributes",
    "allow_admin_create_user_only",
    "attributes_require_verification_before_update",
    "auto_verified_attributes",
    "case_sensitive",
    "deletion_protection",
    "invite_template",
    "lambda_arn",
    "device_configuration",
    "mfa_configuration",
    "mfa_factors",
    "new_pool_config",
    "password_policy",
    "render_pool_description",
    "render_user_pool",
    "schema",
    "sms_authentication_message",
    "updated_pool_config",
    "username_attributes",
    "verification_template",
]

# Members fixed at creation: UpdateUserPool has no way to send them.
_IMMUTABLE = ("AliasAttributes", "UsernameAttributes", "UsernameConfiguration", "SchemaAttributes")
# Request members handled explicitly below; any other request member is stored verbatim.
_HANDLED = frozenset({
    "PoolName", "UserPoolId", "Schema", "Policies", "DeletionProtection", "LambdaConfig",
    "AutoVerifiedAttributes", "AliasAttributes", "UsernameAttributes", "SmsVerificationMessage",
    "EmailVerificationMessage", "EmailVerificationSubject", "VerificationMessageTemplate",
    "SmsAuthenticationMessage", "MfaConfiguration", "UserAttributeUpdateSettings",
    "DeviceConfiguration", "EmailConfiguration", "SmsConfiguration", "UserPoolTags",
    "AdminCreateUserConfig", "UserPoolAddOns", "UsernameConfiguration", "AccountRecoverySetting",
    "UserPoolTier",
})
# Output-only members: never configuration, whatever a request claims.
_NOT_CONFIG = frozenset({
    "Id", "Arn", "Name", "Status", "CreationDate", "LastModifiedDate", "EstimatedNumberOfUsers",
    "SchemaAttributes", "Domain", "CustomDomain", "SmsConfigurationFailure",
    "EmailConfigurationFailure",
})
# SetUserPoolMfaConfig's factor blocks: kept in the configuration under their own names,
# set only by that operation (UpdateUserPool keeps them), never part of UserPoolType.
MFA_FACTOR_MEMBERS = ("SmsMfaConfiguration", "SoftwareTokenMfaConfiguration", "EmailMfaConfiguration",
                      "WebAuthnConfiguration")
# Updatable members that are echoed only when the request sets them (no service default).
_OPTIONAL_ECHO = ("AutoVerifiedAttributes", "DeviceConfiguration", "SmsConfiguration",
                  "UserPoolAddOns", "AccountRecoverySetting")

_LEGACY_VALIDITY_MESSAGE = (
    "Please use TemporaryPasswordValidityDays in PasswordPolicy instead of "
    "UnusedAccountValidityDays"
)


_HELD_UPDATES_MESSAGE = (
    "Attributes in AttributesRequireVerificationBeforeUpdate must also be in AutoVerifiedAttributes."
)


# -- decisions -----------------------------------------------------------------------------


def new_pool_config(request: Mapping) -> dict:
    """The configuration a ``CreateUserPool`` request creates (see the module docstring)."""
    aliases = request.get("AliasAttributes") or []
    if aliases and request.get("UsernameAttributes"):
        raise InvalidParameterException(
            "Only one of aliasAttributes or usernameAttributes can be set in a user pool.",
            member="AliasAttributes",
        )
    schema_attributes = build_schema(request.get("Schema"))
    preferred = next(a for a in schema_attributes if a["Name"] == "preferred_username")
    if "preferred_username" in aliases and preferred["Required"]:
        raise InvalidParameterException(
            "preferred_username can not be both an alias and a required attribute.",
            member="AliasAttributes",
        )

    config: dict[str, Any] = {"Name": request["PoolName"]}
    config.update(_updatable_members(request, tier=request.get("UserPoolTier") or "ESSENTIALS"))
    # At creation only SMS can back MFA: software-token MFA is switched on afterwards with
    # SetUserPoolMfaConfig. The text is the one Cognito returns.
    if config["MfaConfiguration"] in ("ON", "OPTIONAL") and not request.get("SmsConfiguration"):
        raise InvalidParameterException(
            "SMS configuration and Auto verification for phone_number are required when MFA "
            "is required/optional",
            member="MfaConfiguration",
        )
    for key in ("AliasAttributes", "UsernameAttributes", "UsernameConfiguration"):
        if key in request:
            config[key] = copy.deepcopy(request[key])
    config["SchemaAttributes"] = schema_attributes
    return config


def updated_pool_config(current: Mapping, request: Mapping) -> dict:
    """The configuration after an ``UpdateUserPool`` request (full replacement semantics)."""
    config: dict[str, Any] = {"Name": request.get("PoolName") or current["Name"]}
    config.update(_updatable_members(
        request, tier=request.get("UserPoolTier") or current.get("UserPoolTier", "ESSENTIALS")
    ))
    # Required MFA can only be chosen at creation; a pool that already has it may keep it.
    if config["MfaConfiguration"] == "ON" and current.get("MfaConfiguration") != "ON":
        raise InvalidParameterException(
            "Cannot turn MFA functionality ON, once the user pool has been created.",
            member="MfaConfiguration",
        )
    for key in (*_IMMUTABLE, *MFA_FACTOR_MEMBERS):
        if key in current:
            config[key] = copy.deepcopy(current[key])
    return config


def _updatable_members(request: Mapping, *, tier: str) -> dict:
    """Every member both CreateUserPool and UpdateUserPool set, defaults filled in."""
    validity_days = _temporary_password_validity(request)
    config: dict[str, Any] = {
        "Policies": _policies(request.get("Policies"), validity_days),
        "DeletionProtection": request.get("DeletionProtection") or "INACTIVE",
        "LambdaConfig": _lambda_config(request.get("LambdaConfig")),
        **_verification_messages(request),
        "SmsAuthenticationMessage": (
            request.get("SmsAuthenticationMessage") or defaults.DEFAULT_SMS_AUTHENTICATION_MESSAGE
        ),
        "UserAttributeUpdateSettings": copy.deepcopy(
            request.get("UserAttributeUpdateSettings")
            or {"AttributesRequireVerificationBeforeUpdate": []}
        ),
        "MfaConfiguration": request.get("MfaConfiguration") or "OFF",
        "EmailConfiguration": _email_configuration(request.get("EmailConfiguration")),
        "UserPoolTags": copy.deepcopy(request.get("UserPoolTags") or {}),
        "AdminCreateUserConfig": _admin_create_user_config(
            request.get("AdminCreateUserConfig"), validity_days
        ),
        "UserPoolTier": tier,
    }
    _check_sign_in_policy(config["Policies"]["SignInPolicy"], tier=tier)
    add_ons = request.get("UserPoolAddOns") or {}
    protected = {add_ons.get("AdvancedSecurityMode"),
                 (add_ons.get("AdvancedSecurityAdditionalFlows") or {}).get("CustomAuthMode")}
    if protected & {"AUDIT", "ENFORCED"} and tier != "PLUS":
        # "To activate this setting, your user pool must be on the Plus tier" (UserPoolAddOns).
        raise FeatureUnavailableInTierException(THREAT_PROTECTION_NEEDS_TIER)
    for key in _OPTIONAL_ECHO:
        if request.get(key) is not None:
            config[key] = copy.deepcopy(request[key])
    for key, value in request.items():
        if key not in _HANDLED and key not in _NOT_CONFIG:
            config[key] = copy.deepcopy(value)
    # A value held back until it is verified needs the code that verifies it.
    if not attributes_require_verification_before_update(config) <= auto_verified_attributes(config):
        raise InvalidParameterException(_HELD_UPDATES_MESSAGE, member="UserAttributeUpdateSettings")
    return config


#: The first factors USER_AUTH can start with (AllowedFirstAuthFactors). SOFTWARE_TOKEN is in
#: the model's enum, but "is not currently supported as a first auth factor" (SignInPolicyType).
FIRST_FACTORS = ("PASSWORD", "EMAIL_OTP", "SMS_OTP", "WEB_AUTHN")
PASSWORDLESS_NEEDS_TIER = ("Passwordless first factors (EMAIL_OTP, SMS_OTP, WEB_AUTHN) in SignInPolicy need the "
                           "Essentials or Plus feature plan; this user pool's UserPoolTier is LITE.")


def _check_sign_in_policy(policy: Mapping, *, tier: str) -> None:
    factors = list(policy.get("AllowedFirstAuthFactors") or ())
    for factor in factors:
        if factor not in FIRST_FACTORS:
            raise InvalidParameterException(
                f"{factor} is not supported as a first authentication factor; AllowedFirstAuthFactors may hold "
                + ", ".join(FIRST_FACTORS) + ".", member="Policies",
            )
    if len(set(factors)) != len(factors):
        raise InvalidParameterException("AllowedFirstAuthFactors must not repeat a factor.", member="Policies")
    # "To activate this setting, your user pool must be in the Essentials tier or higher" (SignInPolicyType).
    if tier == "LITE" and set(factors) - {"PASSWORD"}:
        raise FeatureUnavailableInTierException(PASSWORDLESS_NEEDS_TIER)


def first_factors(config: Mapping) -> tuple[str, ...]:
    """The pool's AllowedFirstAuthFactors (PASSWORD when none are set)."""
    policy = (config.get("Policies") or {}).get("SignInPolicy") or {}
    return tuple(policy.get("AllowedFirstAuthFactors") or ("PASSWORD",))


def _temporary_password_validity(request: Mapping) -> int:
    # 0 means "unset" for both members. The legacy member still works on its own (pools and
    # scripts from before 2020 send it), but once the request uses the new member too Cognito
    # refuses it, even with an equal value -- which is why a DescribeUserPool -> UpdateUserPool
    # round trip must drop UnusedAccountValidityDays, on AWS as here.
    new = ((request.get("Policies") or {}).get("PasswordPolicy") or {}).get(
        "TemporaryPasswordValidityDays"
    ) or 0
    legacy = (request.get("AdminCreateUserConfig") or {}).get("UnusedAccountValidityDays") or 0
    if new and legacy:
        raise InvalidParameterException(_LEGACY_VALIDITY_MESSAGE, member="UnusedAccountValidityDays")
    return new or legacy or defaults.DEFAULT_TEMPORARY_PASSWORD_VALIDITY_DAYS


def _policies(given: Mapping | None, validity_days: int) -> dict:
    given = given or {}
    password = given.get("PasswordPolicy")
    if password is None:
        policy = defaults.fresh(defaults.DEFAULT_PASSWORD_POLICY)
    else:
        # A policy structure that is sent is taken as meant: an omitted Require* is false.
        policy = {
            "MinimumLength": password.get("MinimumLength") or defaults.DEFAULT_MINIMUM_LENGTH,
            "RequireUppercase": bool(password.get("RequireUppercase", False)),
            "RequireLowercase": bool(password.get("RequireLowercase", False)),
            "RequireNumbers": bool(password.get("RequireNumbers", False)),
            "RequireSymbols": bool(password.get("RequireSymbols", False)),
        }
        if password.get("PasswordHistorySize") is not None:
            policy["PasswordHistorySize"] = password["PasswordHistorySize"]
    policy["TemporaryPasswordValidityDays"] = validity_days
    sign_in = given.get("SignInPolicy")
    return {
        "PasswordPolicy": policy,
        "SignInPolicy": copy.deepcopy(sign_in) if sign_in else defaults.fresh(
            defaults.DEFAULT_SIGN_IN_POLICY
        ),
    }


def _lambda_config(given: Mapping | None) -> dict:
    config = copy.deepcopy(dict(given or {}))
    legacy = config.get("PreTokenGeneration")
    versioned = config.get("PreTokenGenerationConfig")
    # The two spellings of the pre-token-generation trigger must agree, and Cognito shows both.
    if legacy and versioned and versioned.get("LambdaArn") != legacy:
        raise InvalidParameterException(
            "PreTokenGeneration and PreTokenGenerationConfig.LambdaArn must be identical.",
            member="LambdaConfig",
        )
    if legacy and not versioned:
        config["PreTokenGenerationConfig"] = {"LambdaVersion": "V1_0", "LambdaArn": legacy}
    elif versioned and not legacy and versioned.get("LambdaArn"):
        config["PreTokenGeneration"] = versioned["LambdaArn"]
    return config


def _verification_messages(request: Mapping) -> dict:
    """VerificationMessageTemplate and its legacy top-level mirrors, always in agreement."""
    given = request.get("VerificationMessageTemplate") or {}
    base = defaults.DEFAULT_VERIFICATION_TEMPLATE
    # The template wins over the legacy members ("no longer used"), which win over defaults.
    template: dict[str, Any] = {
        "SmsMessage": given.get("SmsMessage") or request.get("SmsVerificationMessage")
        or base["SmsMessage"],
        "EmailMessage": given.get("EmailMessage") or request.get("EmailVerificationMessage")
        or base["EmailMessage"],
        "EmailSubject": given.get("EmailSubject") or request.get("EmailVerificationSubject")
        or base["EmailSubject"],
    }
    option = given.get("DefaultEmailOption") or base["DefaultEmailOption"]
    by_link = option == "CONFIRM_WITH_LINK"
    if given.get("EmailMessageByLink") or by_link:
        template["EmailMessageByLink"] = (
            given.get("EmailMessageByLink") or defaults.DEFAULT_EMAIL_MESSAGE_BY_LINK
        )
    if given.get("EmailSubjectByLink") or by_link:
        template["EmailSubjectByLink"] = (
            given.get("EmailSubjectByLink") or defaults.DEFAULT_EMAIL_SUBJECT_BY_LINK
        )
    template["DefaultEmailOption"] = option
    return {
        "SmsVerificationMessage": template["SmsMessage"],
        "EmailVerificationMessage": template["EmailMessage"],
        "EmailVerificationSubject": template["EmailSubject"],
        "VerificationMessageTemplate": template,
    }


def _email_configuration(given: Mapping | None) -> dict:
    config = copy.deepcopy(dict(given or {}))
    config.setdefault("EmailSendingAccount", "COGNITO_DEFAULT")
    return config


def _admin_create_user_config(given: Mapping | None, validity_days: int) -> dict:
    given = given or {}
    template = defaults.fresh(defaults.DEFAULT_INVITE_TEMPLATE)
    for key, value in (given.get("InviteMessageTemplate") or {}).items():
        if value is None:
            continue
        # {####} may be left out (passwordless users get no password), {username} may not.
        if key in ("SMSMessage", "EmailMessage") and "{username}" not in value:
            raise InvalidParameterException(
                f"The invitation {key} must contain the {{username}} placeholder.",
                member=f"AdminCreateUserConfig.InviteMessageTemplate.{key}",
            )
        template[key] = value
    return {
        "AllowAdminCreateUserOnly": bool(given.get("AllowAdminCreateUserOnly", False)),
        # Still shown by DescribeUserPool; it always mirrors the effective validity.
        "UnusedAccountValidityDays": validity_days,
        "InviteMessageTemplate": template,
    }


# -- rendering -----------------------------------------------------------------------------


def render_user_pool(
    config: Mapping,
    *,
    pool_id: str,
    arn: str,
    created: datetime,
    modified: datetime,
    estimated_users: int,
) -> dict:
    """The ``UserPoolType`` dict boto3 returns from CreateUserPool / DescribeUserPool.

    The deprecated ``Status`` member is not returned: current AWS responses omit it.
    """
    merged: dict[str, Any] = {
        **copy.deepcopy({k: v for k, v in config.items() if k not in MFA_FACTOR_MEMBERS}),
        "Id": pool_id,
        "Arn": arn,
        "CreationDate": created,
        "LastModifiedDate": modified,
        "EstimatedNumberOfUsers": estimated_users,
    }
    ordered = {key: merged[key] for key in defaults.USER_POOL_MEMBER_ORDER if key in merged}
    ordered.update((key, value) for key, value in merged.items() if key not in ordered)
    return ordered


def render_pool_description(
    config: Mapping, *, pool_id: str, created: datetime, modified: datetime
) -> dict:
    """The ``UserPoolDescriptionType`` dict of one ListUserPools entry."""
    return {
        "Id": pool_id,
        "Name": config["Name"],
        "LambdaConfig": copy.deepcopy(dict(config.get("LambdaConfig") or {})),
        "LastModifiedDate": modified,
        "CreationDate": created,
    }


# -- typed accessors -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordPolicy:
    """The pool's password rules; ``password_history_size`` 0 means no history check."""

    minimum_length: int
    require_uppercase: bool
    require_lowercase: bool
    require_numbers: bool
    require_symbols: bool
    temporary_password_validity_days: int
    password_history_size: int


def password_policy(config: Mapping) -> PasswordPolicy:
    policy = {**defaults.DEFAULT_PASSWORD_POLICY,
              **((config.get("Policies") or {}).get("PasswordPolicy") or {})}
    return PasswordPolicy(
        minimum_length=policy["MinimumLength"],
        require_uppercase=bool(policy["RequireUppercase"]),
        require_lowercase=bool(policy["RequireLowercase"]),
        require_numbers=bool(policy["RequireNumbers"]),
        require_symbols=bool(policy["RequireSymbols"]),
        temporary_password_validity_days=(
            policy["TemporaryPasswordValidityDays"]
            or defaults.DEFAULT_TEMPORARY_PASSWORD_VALIDITY_DAYS
        ),
        password_history_size=policy.get("PasswordHistorySize") or 0,
    )


def alias_attributes(config: Mapping) -> frozenset[str]:
    return frozenset(config.get("AliasAttributes") or ())


def username_attributes(config: Mapping) -> frozenset[str]:
    return frozenset(config.get("UsernameAttributes") or ())


def case_sensitive(config: Mapping) -> bool:
    """False only when the pool was created with ``UsernameConfiguration.CaseSensitive=false``."""
    setting = (config.get("UsernameConfiguration") or {}).get("CaseSensitive")
    return True if setting is None else bool(setting)


def auto_verified_attributes(config: Mapping) -> frozenset[str]:
    return frozenset(config.get("AutoVerifiedAttributes") or ())


def attributes_require_verification_before_update(config: Mapping) -> frozenset[str]:
    settings = config.get("UserAttributeUpdateSettings") or {}
    return frozenset(settings.get("AttributesRequireVerificationBeforeUpdate") or ())


def invite_template(config: Mapping) -> dict[str, str]:
    """``SMSMessage``, ``EmailMessage`` and ``EmailSubject`` of the invitation, never missing."""
    given = (config.get("AdminCreateUserConfig") or {}).get("InviteMessageTemplate") or {}
    return {key: given.get(key) or default
            for key, default in defaults.DEFAULT_INVITE_TEMPLATE.items()}


def verification_template(config: Mapping) -> dict[str, str]:
    """The verification ``VerificationMessageTemplate``, defaults filled in."""
    return {**defaults.DEFAULT_VERIFICATION_TEMPLATE,
            **copy.deepcopy(dict(config.get("VerificationMessageTemplate") or {}))}


def sms_authentication_message(config: Mapping) -> str:
    return config.get("SmsAuthenticationMessage") or defaults.DEFAULT_SMS_AUTHENTICATION_MESSAGE


def mfa_configuration(config: Mapping) -> str:
    """``OFF``, ``ON`` or ``OPTIONAL``."""
    return config.get("MfaConfiguration") or "OFF"


def allow_admin_create_user_only(config: Mapping) -> bool:
    return bool((config.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly", False))


def lambda_arn(config: Mapping, trigger: str) -> str | None:
    """The function ARN configured for ``trigger`` (a ``LambdaConfig`` member name), or None.

    Versioned structures (``CustomSMSSender``, ``CustomEmailSender``, ``InboundFederation``,
    ``PreTokenGenerationConfig``) are unwrapped to their ``LambdaArn``.
    """
    lambdas = config.get("LambdaConfig") or {}
    value = lambdas.get(trigger)
    if value is None and trigger == "PreTokenGeneration":
        value = lambdas.get("PreTokenGenerationConfig")
    if isinstance(value, Mapping):
        value = value.get("LambdaArn")
    return value or None


def schema(config: Mapping) -> dict[str, AttributeDef]:
    return attribute_definitions(config.get("SchemaAttributes") or ())


def deletion_protection(config: Mapping) -> bool:
    """True when ``DeletionProtection`` is ``ACTIVE`` (DeleteUserPool must refuse)."""
    return config.get("DeletionProtection") == "ACTIVE"


def device_configuration(config: Mapping) -> dict | None:
    """``DeviceConfiguration`` when it turns device tracking on, else None. "When you
    provide a value for any property of DeviceConfiguration, you activate the device
    remembering for the user pool" (the API reference): an empty structure does not."""
    given = config.get("DeviceConfiguration")
    if not isinstance(given, Mapping):
        return None
    members = {k: bool(v) for k, v in given.items()
               if k in ("ChallengeRequiredOnNewDevice", "DeviceOnlyRememberedOnUserPrompt") and v is not None}
    return members or None


def mfa_factors(config: Mapping) -> frozenset[str]:
    """The MFA factors the pool offers (``SMS_MFA``, ``SOFTWARE_TOKEN_MFA``, ``EMAIL_OTP``), none
    when MFA is OFF. A pool SetUserPoolMfaConfig never configured offers SMS when it has an
    SmsConfiguration (what CreateUserPool / UpdateUserPool can turn on)."""
    if mfa_configuration(config) == "OFF":
        return frozenset()
    if not any(k in config for k in MFA_FACTOR_MEMBERS[:3]):
        return frozenset({"SMS_MFA"}) if config.get("SmsConfiguration") else frozenset()
    factors = set()
    if config.get("SmsMfaConfiguration") is not None:
        factors.add("SMS_MFA")
    if (config.get("SoftwareTokenMfaConfiguration") or {}).get("Enabled"):
        factors.add("SOFTWARE_TOKEN_MFA")
    if config.get("EmailMfaConfiguration") is not None:
        factors.add("EMAIL_OTP")
    return frozenset(factors)
