"""Decisions of MFA beyond the sign-in steps: the pool's MFA configuration
(SetUserPoolMfaConfig / GetUserPoolMfaConfig).

Theory of operation: SetUserPoolMfaConfig replaces the pool's MFA settings as a whole (a
factor the request leaves out is switched off, as observed on Cognito); the factor blocks
are kept in the pool's configuration under their own names (`pool_config.MFA_FACTOR_MEMBERS`),
and the SMS factor also sets the pool's SmsAuthenticationMessage and SmsConfiguration,
which UpdateUserPool can change as well. `pool_config.mfa_factors` is the one reader of
which factors the pool offers. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from authflow.core import pool_config as pc
from authflow.errors import FeatureUnavailableInTierException, InvalidParameterException

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
