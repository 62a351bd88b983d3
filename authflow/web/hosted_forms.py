"""What the hosted pages share besides their views: the domain a request reached
(`Site`), the refusal a view raises, the names of the fields a step answers with, the
labels of attributes, and turning a posted form into ChallengeResponses (and back into
the page that is shown again after a refusal). Pure functions of their arguments."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlparse

from authflow.service import hosted_sign_in as signin

#: Codes the pages ask for, and the answer member of each.
CODE_ANSWERS = {"SMS_MFA": "SMS_MFA_CODE", "EMAIL_OTP": "EMAIL_OTP_CODE",
                "SOFTWARE_TOKEN_MFA": "SOFTWARE_TOKEN_MFA_CODE", "SMS_OTP": "SMS_OTP_CODE"}
FACTOR_NAMES = {"SMS_MFA": "A text message to your phone", "SOFTWARE_TOKEN_MFA": "Your authenticator app",
                "EMAIL_OTP": "A message to your email address"}
#: The login page's passwordless buttons (PREFERRED_CHALLENGE values), and what each is called.
FIRST_FACTOR_NAMES = {"PASSWORD": "Your password", "WEB_AUTHN": "A passkey", "EMAIL_OTP": "A code by email",
                      "SMS_OTP": "A code by text message"}
#: What the page says when the chosen factor is not one the user can use (SELECT_CHALLENGE).
UNAVAILABLE = {"WEB_AUTHN": "You cannot sign in with a passkey.",
               "EMAIL_OTP": "You cannot sign in with a code by email.",
               "SMS_OTP": "You cannot sign in with a code by text message."}
#: The most the page accepts in a field that carries a WebAuthn answer (JSON of a few kB).
CREDENTIAL_FIELD_MAX = 16 * 1024


def unavailable_message(preferred: str, available: tuple[str, ...]) -> str:
    """The page's words for a factor the user cannot use, naming what they can (the API's
    AvailableChallenges, no more)."""
    names = [FIRST_FACTOR_NAMES[c] for c in available if c in FIRST_FACTOR_NAMES]
    can = " You can sign in with: " + ", ".join(n[0].lower() + n[1:] for n in names) + "." if names else ""
    return UNAVAILABLE.get(preferred, "You cannot sign in that way.") + can


@dataclass(frozen=True)
class Site:
    """The domain a request reached, and the base URL its links use."""

    domain: str
    base: str

    @property
    def path(self) -> str:
        return urlparse(self.base).path or "/"

    def url(self, name: str, query: str | Mapping[str, str] = "") -> str:
        text = query if isinstance(query, str) else urlencode(query)
        return f"{self.base}/{name}" + (f"?{text}" if text else "")


class Refusal(Exception):
    """A page cannot go on: the refusal page with `heading`, `message` and `status`."""

    def __init__(self, status: int, heading: str, message: str) -> None:
        super().__init__(message)
        self.status, self.heading, self.message = status, heading, message


def json_list(text: str | None) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def new_password_fields(parameters: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """The attributes NEW_PASSWORD_REQUIRED asks for: (name, label, value so far)."""
    try:
        current = json.loads(parameters.get("userAttributes") or "{}")
    except ValueError:
        current = {}
    names = [n.removeprefix("userAttributes.") for n in json_list(parameters.get("requiredAttributes"))]
    return [(n, LABELS.get(n, n), str(current.get(n, "")) if isinstance(current, dict) else "") for n in names]


def step_parameters(form: Mapping[str, str]) -> dict[str, str]:
    """What a step's page needs to be shown again after a refused answer (carried in
    hidden fields: never the Session's secrets, only what the challenge said)."""
    return {k.removeprefix("param."): v for k, v in form.items() if k.startswith("param.")}


def step_answer(challenge: str, form: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The ChallengeResponses of a step's form, or what is missing from it."""
    if challenge == "NEW_PASSWORD_REQUIRED":
        password = form.get("new_password", "")
        if not password:
            return {}, "Enter a new password."
        if password != form.get("confirm_password", ""):
            return {}, "The passwords differ."
        attributes = {f"userAttributes.{k.removeprefix('attr.')}": v.strip() for k, v in form.items()
                      if k.startswith("attr.")}
        return {"NEW_PASSWORD": password, **attributes}, None
    if challenge in CODE_ANSWERS:
        code = form.get("code", "").strip()
        return ({CODE_ANSWERS[challenge]: code}, None) if code else ({}, "Enter the code.")
    if challenge == "SELECT_MFA_TYPE":
        chosen = form.get("answer", "")
        return ({"ANSWER": chosen}, None) if chosen else ({}, "Choose how to receive your code.")
    return {}, None  # the answer function refuses an unknown challenge itself


def username_label(facts: signin.PoolFacts) -> str:
    if facts.username_attributes == {"email"}:
        return "Email"
    if facts.username_attributes == {"phone_number"}:
        return "Phone number"
    if facts.username_attributes:
        return "Email or phone number"
    return "Username"


LABELS = {"email": "Email", "phone_number": "Phone number", "name": "Name", "given_name": "Given name",
          "family_name": "Family name", "birthdate": "Birthdate", "address": "Address", "nickname": "Nickname",
          "preferred_username": "Preferred username", "locale": "Locale", "zoneinfo": "Time zone",
          "gender": "Gender", "middle_name": "Middle name", "picture": "Picture", "profile": "Profile",
          "website": "Website", "updated_at": "Updated at"}


def attribute_fields(facts: signin.PoolFacts, values: Mapping[str, str]) -> list[dict[str, str]]:
    kinds = {"email": "email", "phone_number": "tel"}
    return [{"name": n, "label": LABELS.get(n, n), "value": values.get(n, ""), "type": kinds.get(n, "text")}
            for n in facts.sign_up_attributes]
