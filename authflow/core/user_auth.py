"""Decisions of choice-based sign-in (the USER_AUTH flow): which first factors a user may
start with, which one a request picks, and what a USER_AUTH session remembers.

Theory of operation: the pool allows first factors (`Policies.SignInPolicy.
AllowedFirstAuthFactors`, `pool_config.first_factors`); a user can use those they have the
means for (`available`): a password (PASSWORD and PASSWORD_SRP), a verified e-mail address
(EMAIL_OTP), a verified phone number (SMS_OTP), a registered passkey (WEB_AUTHN). A request
names one (PREFERRED_CHALLENGE, or the SELECT_CHALLENGE answer); one the user cannot use
is answered with SELECT_CHALLENGE and the list. The service carries the choice out through
the auth-session machine (`specs/auth-session.yaml`). Everything here is pure.

The passwordless factors are a whole sign-in (no MFA follows them), so a pool whose MFA is
ON does not offer them, and a user who must still replace a temporary password or reset
theirs is offered the password only (`docs/semantics.md`, "Passwordless sign-in").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from authflow.core import pool_config as pc
from authflow.core.records import AuthSession, User, UserPool
from authflow.errors import InvalidParameterException, NotAuthorizedException

FLOW = "USER_AUTH"
SELECT = "SELECT_CHALLENGE"
PASSWORD = "PASSWORD"
PASSWORD_SRP = "PASSWORD_SRP"
EMAIL_OTP = "EMAIL_OTP"
SMS_OTP = "SMS_OTP"
WEB_AUTHN = "WEB_AUTHN"
PASSWORDLESS = (EMAIL_OTP, SMS_OTP, WEB_AUTHN)
#: AvailableChallenges in this order, whatever order the pool lists its factors in.
CHOICES = (PASSWORD, PASSWORD_SRP, EMAIL_OTP, SMS_OTP, WEB_AUTHN)
#: The auth-session trigger that starts each passwordless factor.
TRIGGERS = {EMAIL_OTP: "email_otp_chosen", SMS_OTP: "sms_otp_chosen", WEB_AUTHN: "passkey_chosen"}
#: The member of an OTP answer that holds the code.
CODE_ANSWERS = {EMAIL_OTP: "EMAIL_OTP_CODE", SMS_OTP: "SMS_OTP_CODE"}
NOTHING_AVAILABLE = "The user has no sign-in method that this user pool allows."


@dataclass(frozen=True, slots=True)
class Means:
    """What a user has that a first factor needs (the service reads the passkey count)."""

    passkeys: int = 0


def _verified(user: User, name: str) -> bool:
    return bool(user.attributes.get(name)) and user.attributes.get(f"{name}_verified", "").lower() == "true"


def available(pool: UserPool, user: User, means: Means) -> tuple[str, ...]:
    """The challenges `user` may start USER_AUTH with, in `CHOICES` order."""
    allowed = set(pc.first_factors(pool.config))
    offered: set[str] = set()
    if PASSWORD in allowed and (user.credential is not None or user.status == "RESET_REQUIRED"):
        offered |= {PASSWORD, PASSWORD_SRP}
    passwordless_ok = user.status == "CONFIRMED" and pc.mfa_configuration(pool.config) != "ON"
    if passwordless_ok:
        if EMAIL_OTP in allowed and _verified(user, "email"):
            offered.add(EMAIL_OTP)
        if SMS_OTP in allowed and _verified(user, "phone_number"):
            offered.add(SMS_OTP)
        if WEB_AUTHN in allowed and means.passkeys > 0:
            offered.add(WEB_AUTHN)
    return tuple(c for c in CHOICES if c in offered)


def simulated(pool: UserPool) -> tuple[str, ...]:
    """AvailableChallenges for a name no user has (PreventUserExistenceErrors=ENABLED): every
    challenge the pool allows, as a user with every means would see, so that the answer does
    not tell the two apart."""
    allowed = set(pc.first_factors(pool.config))
    offered = ({PASSWORD, PASSWORD_SRP} if PASSWORD in allowed else set()) | (
        allowed & set(PASSWORDLESS) if pc.mfa_configuration(pool.config) != "ON" else set()
    )
    return tuple(c for c in CHOICES if c in offered)


def check_choice(name: str | None, *, member: str) -> str | None:
    """A PREFERRED_CHALLENGE or SELECT_CHALLENGE ANSWER is one of `CHOICES` (or absent)."""
    if name is None or name == "":
        return None
    if name not in CHOICES:
        raise InvalidParameterException(
            f"{member} must be one of {', '.join(CHOICES)}; {name} is not a USER_AUTH challenge."
        )
    return name


def pick(preferred: str | None, offered: Iterable[str]) -> str | None:
    """The challenge to go to at once, or None for SELECT_CHALLENGE."""
    return preferred if preferred is not None and preferred in tuple(offered) else None


def check_selected(answer: str, offered: Iterable[str]) -> str:
    if answer not in tuple(offered):
        raise InvalidParameterException(f"The challenge {answer} is not one of this session's AvailableChallenges.")
    return answer


def require_something(offered: tuple[str, ...]) -> tuple[str, ...]:
    if not offered:
        raise NotAuthorizedException(NOTHING_AVAILABLE)
    return offered


# -- what a USER_AUTH session holds -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """Kept in `AuthSession.progress` of a USER_AUTH session: the challenges a SELECT_CHALLENGE
    session offered, that an OTP or passkey step is a first factor (an EMAIL_OTP session
    without it is the e-mail MFA step), and a WEB_AUTHN step's challenge (base64url; not a
    secret: the browser is given it)."""

    offered: tuple[str, ...] = ()
    first_factor: bool = True
    webauthn_challenge: str | None = None
    # A sign-up's session (challenge INITIATED: no step is waiting): SIGNED_UP from SignUp,
    # for ConfirmSignUp; CONFIRMED from ConfirmSignUp, for InitiateAuth's Session.
    stage: str | None = None


SIGNED_UP = "SIGNED_UP"
CONFIRMED = "CONFIRMED"
SIGN_UP_SESSION_INVALID = "Invalid session for the user."


def encode(progress: Progress) -> str:
    return json.dumps({"flow": FLOW, "offered": list(progress.offered), "first": progress.first_factor,
                       "webauthn": progress.webauthn_challenge, "stage": progress.stage}, separators=(",", ":"))


def decode(session: AuthSession) -> Progress | None:
    """The session's USER_AUTH progress, or None for a session of another flow."""
    if not session.progress or not session.progress.startswith('{"flow":"USER_AUTH"'):
        return None
    doc = json.loads(session.progress)
    return Progress(offered=tuple(doc.get("offered") or ()), first_factor=bool(doc.get("first")),
                    webauthn_challenge=doc.get("webauthn"), stage=doc.get("stage"))


def check_sign_up_session(session: AuthSession | None, *, stage: str, client_id: str, user: User | None,
                          now) -> AuthSession:
    """A sign-up's Session (SignUp's for ConfirmSignUp, ConfirmSignUp's for InitiateAuth):
    of this client and user, in `stage`, unused and unexpired."""
    progress = decode(session) if session is not None else None
    if (progress is None or progress.stage != stage or session.client_id != client_id or user is None
            or session.sub != user.sub or session.used or now >= session.expires):
        raise NotAuthorizedException(SIGN_UP_SESSION_INVALID)
    return session


def is_first_factor(session: AuthSession) -> bool:
    progress = decode(session)
    return progress is not None and progress.first_factor


def configured_factors(pool: UserPool, user: User, means: Means) -> list[str]:
    """GetUserAuthFactors' ConfiguredUserAuthFactors: the AuthFactorType values of the first
    factors the user can sign in with now (PASSWORD_SRP is PASSWORD's other form)."""
    return [c for c in available(pool, user, means) if c != PASSWORD_SRP]


def answer_params(responses: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The members of a challenge answer that a factor's own step reads."""
    return {k: responses[k] for k in names if responses.get(k)}
