"""InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge, AdminRespondToAuthChallenge:
each request goes to the flow (or the challenge) it names.

Each flow checks itself against the app client in its own first transaction
(`authflow.core.auth.check_flow`), so a flow a client does not allow, or a flow this
engine does not know, is refused there with Cognito's message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authflow.core import auth as core
from authflow.service import auth, custom_auth, device_srp, mfa_steps, srp, user_auth
from authflow.service.engine import Engine
from authflow.service.registry import operation


@operation("InitiateAuth")
def initiate_auth(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    return _initiate(engine, request, admin=False)


@operation("AdminInitiateAuth")
def admin_initiate_auth(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    return _initiate(engine, request, admin=True)


@operation("RespondToAuthChallenge")
def respond_to_auth_challenge(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    return _respond(engine, request, admin=False)


@operation("AdminRespondToAuthChallenge")
def admin_respond_to_auth_challenge(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    return _respond(engine, request, admin=True)


def _initiate(engine: Engine, request: Mapping[str, Any], admin: bool) -> dict[str, Any]:
    flow = request["AuthFlow"]
    if flow in core.REFRESH_FLOWS:
        return auth.refresh_sign_in(engine, request, admin)
    if flow == "CUSTOM_AUTH":
        return custom_auth.initiate(engine, request, admin)
    if flow == "USER_SRP_AUTH":
        return srp.initiate(engine, request, admin)
    if flow == "USER_AUTH":
        return user_auth.initiate(engine, request, admin)
    return auth.password_sign_in(engine, request, admin)  # and every flow it refuses


def _respond(engine: Engine, request: Mapping[str, Any], admin: bool) -> dict[str, Any]:
    challenge = request["ChallengeName"]
    if challenge in ("SELECT_CHALLENGE", "PASSWORD", "PASSWORD_SRP", "WEB_AUTHN", "SMS_OTP", "EMAIL_OTP"):
        answered = user_auth.respond(engine, request, admin)
        if answered is not None:
            return answered
    if challenge in ("SMS_MFA", "EMAIL_OTP"):
        return auth.answer_code_mfa(engine, request, admin)
    if challenge == "CUSTOM_CHALLENGE":
        return custom_auth.answer(engine, request, admin)
    if challenge == "PASSWORD_VERIFIER":
        return srp.respond(engine, request, admin, custom=custom_auth.after_password_proof)
    if challenge == "SOFTWARE_TOKEN_MFA":
        return mfa_steps.answer_software_token(engine, request, admin)
    if challenge == "SELECT_MFA_TYPE":
        return mfa_steps.answer_select_mfa_type(engine, request, admin)
    if challenge == "MFA_SETUP":
        return mfa_steps.answer_mfa_setup(engine, request, admin)
    if challenge == "DEVICE_SRP_AUTH":
        return device_srp.answer_srp_auth(engine, request, admin)
    if challenge == "DEVICE_PASSWORD_VERIFIER":
        return device_srp.answer_password_verifier(engine, request, admin)
    return auth.answer_new_password(engine, request, admin)  # and every challenge it refuses
