"""Decisions of MFA: the pool's MFA configuration (SetUserPoolMfaConfig /
GetUserPoolMfaConfig), which MFA step a sign-in takes, software tokens (TOTP), and the
users' MFA preferences (SetUserMFAPreference and its admin twin, the legacy
SetUserSettings).

Theory of operation: which step comes is `mfa_step`: the user's enabled, usable factors
(SMS, a verified software token); the preferred one when there are several, else
SELECT_MFA_TYPE; none enabled, and MFA is ON: SMS when the pool offers it and the user
has a phone (or no authenticator could be set up), else MFA_SETUP. The auth-session
machine is asked with these as its guards (`mfa_facts`). A TOTP code is accepted once:
the time step of the last accepted code is kept with the token, and a code of that step
or an earlier one is refused as used.

SetUserPoolMfaConfig replaces the pool's MFA settings as a whole (a
factor the request leaves out is switched off, as observed on Cognito); the factor blocks
are kept in the pool's configuration under their own names (`pool_config.MFA_FACTOR_MEMBERS`),
and the SMS factor also sets the pool's SmsAuthenticationMessage and SmsConfiguration,
which UpdateUserPool can change as well. `pool_config.mfa_factors` is the one reader of
which factors the pool offers. Pure.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import pool_config as pc
from authflow.core.lifecycle import user_lifecycle
from authflow.core.records import SoftwareToken, User, UserPool
from authflow.crypto import totp
from authflow.errors import (
    CodeMismatchException,
    EnableSoftwareTokenMFAException,
    ExpiredCodeException,
    FeatureUnavailableInTierException,
    InvalidParameterException,
    SoftwareTokenMFANotFoundException,
)

ALL_OFF = "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration."
OFF_WITH_FACTOR = "Invalid MFA configuration given, can't turn off MFA and configure an MFA together."
EMAIL_NEEDS_SES = (
    "Email MFA requires an EmailConfiguration with EmailSendingAccount DEVELOPER (Amazon SES)."
)
EMAIL_NEEDS_TIER = "Email MFA requires the user pool feature plan ESSENTIALS or PLUS."


def set_config(config: Mapping, request: Mapping[str, Any]) -> dict:
    """The pool configuration after SetUserPoolMfaConfig."""
    mode = request.get("MfaConfiguration") or pc.mfa_configuration(config)
    sms, totp, email = (request.get(k) for k in ("SmsMfaConfiguration", "SoftwareTokenMfaConfiguration",
                                                  "EmailMfaConfiguration"))
    enabled = [b for b in (sms, email) if b is not None] + ([totp] if (totp or {}).get("Enabled") else [])
    if mode == "OFF" and (sms is not None or email is not None or (totp or {}).get("Enabled")):
        raise InvalidParameterException(OFF_WITH_FACTOR)
    if mode != "OFF" and not enabled:
        raise InvalidParameterException(ALL_OFF)
    if email is not None:
        if config.get("UserPoolTier", "ESSENTIALS") == "LITE":
            raise FeatureUnavailableInTierException(EMAIL_NEEDS_TIER)
        if (config.get("EmailConfiguration") or {}).get("EmailSendingAccount") != "DEVELOPER":
            raise InvalidParameterException(EMAIL_NEEDS_SES)
    updated = {k: copy.deepcopy(v) for k, v in config.items() if k not in pc.MFA_FACTOR_MEMBERS}
    updated["MfaConfiguration"] = mode
    if sms is not None:
        if sms.get("SmsAuthenticationMessage"):
            updated["SmsAuthenticationMessage"] = sms["SmsAuthenticationMessage"]
        if sms.get("SmsConfiguration"):
            updated["SmsConfiguration"] = copy.deepcopy(dict(sms["SmsConfiguration"]))
        if not updated.get("SmsConfiguration"):
            raise InvalidParameterException("SmsMfaConfiguration needs an SmsConfiguration.")
        updated["SmsMfaConfiguration"] = {}
    for member, block in (("SoftwareTokenMfaConfiguration", totp), ("EmailMfaConfiguration", email),
                          ("WebAuthnConfiguration", request.get("WebAuthnConfiguration"))):
        if block is not None:
            updated[member] = copy.deepcopy(dict(block))
    return updated


def get_config(config: Mapping) -> dict[str, Any]:
    """GetUserPoolMfaConfig's (and SetUserPoolMfaConfig's) answer: the factor blocks the pool
    has, and MfaConfiguration."""
    factors = pc.mfa_factors(config)
    shown: dict[str, Any] = {}
    if "SMS_MFA" in factors or config.get("SmsMfaConfiguration") is not None:
        shown["SmsMfaConfiguration"] = {
            "SmsAuthenticationMessage": pc.sms_authentication_message(config),
            "SmsConfiguration": copy.deepcopy(dict(config.get("SmsConfiguration") or {})),
        }
    if config.get("SoftwareTokenMfaConfiguration") is not None:
        shown["SoftwareTokenMfaConfiguration"] = copy.deepcopy(dict(config["SoftwareTokenMfaConfiguration"]))
    if config.get("EmailMfaConfiguration") is not None:
        shown["EmailMfaConfiguration"] = copy.deepcopy(dict(config["EmailMfaConfiguration"]))
    shown["MfaConfiguration"] = pc.mfa_configuration(config)
    if config.get("WebAuthnConfiguration") is not None:
        shown["WebAuthnConfiguration"] = copy.deepcopy(dict(config["WebAuthnConfiguration"]))
    return shown


# -- which MFA step a sign-in takes ---------------------------------------------------------------

SMS = "SMS_MFA"
SOFTWARE_TOKEN = "SOFTWARE_TOKEN_MFA"
EMAIL = "EMAIL_OTP"
SELECT = "SELECT_MFA_TYPE"
SETUP = "MFA_SETUP"
#: The user's factors, in the order MFAS_CAN_CHOOSE lists them.
FACTORS = (SMS, SOFTWARE_TOKEN, EMAIL)


def enabled_factors(user: User) -> list[str]:
    """The user's factors that can be asked: SMS and e-mail once turned on (a missing phone
    number or address is refused when the code would be sent, never skipped), a software
    token once verified."""
    return [f for f in FACTORS if f in user.mfa_settings and (f != SOFTWARE_TOKEN or user.software_token)]


def mfa_step(pool: UserPool, user: User, *, chosen: str | None = None) -> str | None:
    """The MFA challenge the sign-in asks next, or None. `chosen`: SELECT_MFA_TYPE's answer."""
    mode = pc.mfa_configuration(pool.config)
    if mode == "OFF":
        return None
    if chosen is not None:
        return chosen
    enabled = enabled_factors(user)
    if len(enabled) > 1:
        return user.preferred_mfa if user.preferred_mfa in enabled else SELECT
    if enabled:
        return enabled[0]
    if mode != "ON":
        return None
    offered = pc.mfa_factors(pool.config)
    if SOFTWARE_TOKEN in offered and not (SMS in offered and user.attributes.get("phone_number")):
        return SETUP
    return SMS  # SMS MFA the pool requires of everyone (refused without a phone number)


def mfa_facts(pool: UserPool, user: User | None, *, chosen: str | None = None) -> dict[str, bool]:
    """The auth-session guards about MFA."""
    step = mfa_step(pool, user, chosen=chosen) if user is not None else None
    return {
        "mfa_required": step == SMS,
        "software_token_mfa_required": step == SOFTWARE_TOKEN,
        "email_otp_mfa_required": step == EMAIL,
        "mfa_type_to_select": step == SELECT,
        "mfa_setup_required": step == SETUP,
    }


def software_token_parameters(user: User) -> dict[str, str]:
    return {"FRIENDLY_DEVICE_NAME": (user.software_token.friendly_name if user.software_token else None) or "",
            "USER_ID_FOR_SRP": user.username}


def select_parameters(user: User) -> dict[str, str]:
    return {"MFAS_CAN_CHOOSE": json.dumps(enabled_factors(user), separators=(",", ":")),
            "USER_ID_FOR_SRP": user.username}


def setup_parameters(pool: UserPool, user: User) -> dict[str, str]:
    """MFAS_CAN_SETUP: the pool's factors, as a JSON array in a string (what the clients parse)."""
    offered = [f for f in FACTORS if f in pc.mfa_factors(pool.config)]
    return {"MFAS_CAN_SETUP": json.dumps(offered, separators=(",", ":")), "USER_ID_FOR_SRP": user.username}


def check_selection(user: User, answer: str | None) -> str:
    """SELECT_MFA_TYPE's ANSWER: one of the factors offered."""
    if answer not in enabled_factors(user):
        raise InvalidParameterException(f"Invalid ANSWER: must be one of {', '.join(enabled_factors(user))}.")
    return answer


# -- software tokens (TOTP) ------------------------------------------------------------------------

SKEW_STEPS = 1  # "accepts TOTP tokens that are one 30-second window early or late"
USED_ONCE = "Your software token has already been used once."
WRONG_SIGN_IN_CODE = "Invalid code received for user."
WRONG_SETUP_CODE = "Code mismatch and fail enable Software Token MFA"
NOT_IN_POOL = "Software Token MFA has not been enabled by the userPool."
NO_TOKEN = "Software Token MFA does not exist for the user."


def check_pool_offers_software_token(pool: UserPool) -> None:
    if SOFTWARE_TOKEN not in pc.mfa_factors(pool.config):
        raise SoftwareTokenMFANotFoundException(NOT_IN_POOL)


def accepted_step(secret: str, code: str, *, now: datetime, last_step: int | None, setup: bool) -> int:
    """The time step of a right code; a code of an already used step is ExpiredCodeException;
    any other wrong code is CodeMismatchException at sign-in, EnableSoftwareTokenMFAException
    when verifying a new token."""
    step = totp.matching_step(secret, code, now=now, skew=SKEW_STEPS)
    if step is None:
        if setup:
            raise EnableSoftwareTokenMFAException(WRONG_SETUP_CODE)
        raise CodeMismatchException(WRONG_SIGN_IN_CODE)
    if last_step is not None and step <= last_step:
        raise ExpiredCodeException(USED_ONCE)
    return step


def verified_token(sealed_secret: bytes, *, step: int, friendly_name: str | None, now: datetime) -> SoftwareToken:
    return SoftwareToken(secret=sealed_secret, friendly_name=friendly_name or None, verified=now, last_step=step)


def with_token(user: User, token: SoftwareToken, *, activate: bool, now: datetime) -> User:
    """The user with a newly verified authenticator (replacing any other). Verifying alone
    does not turn TOTP MFA on (SetUserMFAPreference does); completing MFA_SETUP does, as
    the enabled and preferred factor."""
    settings, preferred = set(user.mfa_settings), user.preferred_mfa
    if activate:
        settings.add(SOFTWARE_TOKEN)
        preferred = SOFTWARE_TOKEN
    return replace(user, software_token=token, pending_software_token=None, mfa_settings=tuple(sorted(settings)),
                   preferred_mfa=preferred, modified=now, version=user.version + 1)


def used_step(user: User, step: int) -> User:
    return replace(user, software_token=replace(user.software_token, last_step=step), version=user.version + 1)


# -- preferences -----------------------------------------------------------------------------------

_SETTINGS = (("SMSMfaSettings", SMS), ("SoftwareTokenMfaSettings", SOFTWARE_TOKEN), ("EmailMfaSettings", EMAIL))


def set_preference(pool: UserPool, user: User, request: Mapping[str, Any], now: datetime) -> User:
    """SetUserMFAPreference / AdminSetUserMFAPreference. Omitted settings leave their factor
    as it is; a factor is turned on only when it can be used (a phone number, a verified
    software token); one factor at most is preferred; under MFA ON the last factor cannot
    be turned off."""
    if (request.get("WebAuthnMfaSettings") or {}).get("Enabled"):
        raise InvalidParameterException("WebAuthnMfaSettings is not supported by this version of authflow yet.")
    given = [(member, factor, request[member]) for member, factor in _SETTINGS if request.get(member) is not None]
    if not given:
        return user
    if sum(bool(setting.get("PreferredMfa")) for _, _, setting in given) > 1:
        raise InvalidParameterException("Only one MFA method can be preferred.")
    user_lifecycle().next_status(user.status, "set_mfa_preference")
    settings, preferred = set(user.mfa_settings), user.preferred_mfa
    for _, factor, setting in given:
        if setting.get("PreferredMfa") and setting.get("Enabled") is False:
            raise InvalidParameterException(f"{factor} must be enabled to be the preferred MFA method.")
        if setting.get("Enabled"):
            if factor == SMS and not user.attributes.get("phone_number"):
                raise InvalidParameterException("User does not have delivery config set to turn on SMS_MFA")
            if factor == SOFTWARE_TOKEN and user.software_token is None:
                raise InvalidParameterException("User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA")
            if factor == EMAIL:
                if not user.attributes.get("email"):
                    raise InvalidParameterException("User does not have delivery config set to turn on EMAIL_OTP")
                if EMAIL not in pc.mfa_factors(pool.config):
                    raise InvalidParameterException("Email MFA is not enabled for the user pool.")
            settings.add(factor)
        elif "Enabled" in setting:
            settings.discard(factor)
            if preferred == factor:
                preferred = None
    for _, factor, setting in given:
        if setting.get("PreferredMfa"):
            if factor not in settings:
                raise InvalidParameterException(f"{factor} must be enabled to be the preferred MFA method.")
            preferred = factor
    if pc.mfa_configuration(pool.config) == "ON" and not settings and user.mfa_settings:
        raise InvalidParameterException("Cannot turn off all MFA methods when MFA is required for the user pool.")
    return replace(user, mfa_settings=tuple(sorted(settings)), preferred_mfa=preferred, modified=now,
                   version=user.version + 1)


def set_legacy_settings(pool: UserPool, user: User, options: list[Mapping[str, Any]], now: datetime) -> User:
    """SetUserSettings / AdminSetUserSettings (MFAOptions; SMS only): an SMS entry turns SMS
    MFA on, an empty list turns it off."""
    if any(o.get("DeliveryMedium") != "SMS" or o.get("AttributeName") != "phone_number" for o in options):
        raise InvalidParameterException("Only phone_number via SMS can be set for MFAOptions.")
    sms = {"Enabled": bool(options)}
    return set_preference(pool, user, {"SMSMfaSettings": sms}, now) if options or SMS in user.mfa_settings else user


# -- e-mail codes (EMAIL_OTP as an MFA factor) ---------------------------------------------------------

#: EMAIL_OTP codes have 8 digits (observed for passwordless codes; one length for both uses).
EMAIL_CODE_DIGITS = 8
DEFAULT_EMAIL_SUBJECT = "Your sign-in code"


def email_template(config: Mapping) -> tuple[str, str]:
    """(subject, message) of an EMAIL_OTP message: the pool's EmailMfaConfiguration, `{####}`
    standing for the code."""
    block = config.get("EmailMfaConfiguration") or {}
    return block.get("Subject") or DEFAULT_EMAIL_SUBJECT, block.get("Message") or "Your sign-in code is {####}"
