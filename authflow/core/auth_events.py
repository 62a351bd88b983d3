"""A user's auth-event history (threat protection's user event history): the records, how an
operation's outcome becomes an event, how events are listed, and the feedback tokens.

Theory of operation
-------------------
Cognito records an event for each sign-in and self-service step of a user in a pool whose
``UserPoolAddOns.AdvancedSecurityMode`` is AUDIT or ENFORCED, and AdminListUserAuthEvents
lists them newest first. Here each event is a `PoolResource` of kind ``auth_event`` named
``<sub>#<19 digits>``: the digits are an inverted *rank* (milliseconds * 1000 + a sequence
number), so listing the kind by name (``tx.list_resources(..., after="<sub>#")``) yields one
user's events newest first, and a NextToken is just the last name of a page. Naming by `sub`
rather than username means a new user who takes a deleted user's name never sees the old
history (the service also deletes the history with the user). At most `MAX_EVENTS_PER_USER`
are kept; the oldest go first.

A sign-in that returns a challenge is ``InProgress``; its later answers update the same
event, found through ``auth_event_session`` resources named by the SHA-256 of what the
engine handed out to continue it (the Session, and SRP's SECRET_BLOCK, which a
PASSWORD_VERIFIER answer may carry alone; never the values themselves). They move with each
step, go when the sign-in ends, and go with their event. ChallengeResponses name the checks
the sign-in passed or failed: Password (the password or its SRP proof), Mfa (SMS, e-mail or
TOTP code); other steps (NEW_PASSWORD_REQUIRED, custom and device challenges) add none.

Feedback: AdminUpdateAuthEventFeedback is signed and needs nothing more; the unsigned
UpdateAuthEventFeedback needs the event's FeedbackToken, which Cognito mails in its adaptive
notifications. This engine sends none, so the token is derived (HMAC-SHA256 under the pool's
secret over pool, sub and event id): the embedder or the console obtains it from
`feedback_token` and passes it on; no unsigned operation ever returns it.

Everything here is pure: the service reads the records, asks, writes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core.records import PoolResource, UserPool
from authflow.errors import (
    InvalidParameterException,
    NotAuthorizedException,
    ResourceNotFoundException,
    UserPoolAddOnNotEnabledException,
)

KIND = "auth_event"
SESSION_KIND = "auth_event_session"

#: How many events a user's history keeps (the oldest are dropped first). [U]
MAX_EVENTS_PER_USER = 100
#: AdminListUserAuthEvents: MaxResults 0..60; 0 or absent means 60 (API reference).
MAX_RESULTS = 60

ENABLED_MODES = ("AUDIT", "ENFORCED")
NOT_ENABLED = "Advanced security features are not enabled for this user pool."  # [U]
INVALID_FEEDBACK_TOKEN = "The feedback token is not valid for this event."  # [U]

# EventType / EventResponse / ChallengeResponses values, in Cognito's spelling.
SIGN_IN, SIGN_UP, FORGOT_PASSWORD, PASSWORD_CHANGE, RESEND_CODE = (
    "SignIn", "SignUp", "ForgotPassword", "PasswordChange", "ResendCode",
)
PASS, FAIL, IN_PROGRESS = "Pass", "Fail", "InProgress"
PASSWORD, MFA = "Password", "Mfa"
SUCCESS, FAILURE = "Success", "Failure"

#: Which ChallengeResponses entry answering a challenge adds (the others add none).
CHALLENGE_KINDS = {
    "PASSWORD_VERIFIER": PASSWORD,
    "SMS_MFA": MFA,
    "SOFTWARE_TOKEN_MFA": MFA,
    "EMAIL_OTP": MFA,
}
#: The InitiateAuth flows whose first call checks the password itself.
PASSWORD_FLOWS = frozenset({"USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"})

_RANK_DIGITS = 19
_RANK_TOP = 10**_RANK_DIGITS - 1


def enabled(pool: UserPool) -> bool:
    """Whether the pool records auth events (threat protection in AUDIT or ENFORCED)."""
    add_ons = pool.config.get("UserPoolAddOns") or {}
    return add_ons.get("AdvancedSecurityMode") in ENABLED_MODES


def records_custom_auth(pool: UserPool) -> bool:
    """Whether CUSTOM_AUTH sign-ins are recorded too: threat protection covers custom
    authentication only when `AdvancedSecurityAdditionalFlows.CustomAuthMode` says so."""
    add_ons = pool.config.get("UserPoolAddOns") or {}
    return enabled(pool) and (add_ons.get("AdvancedSecurityAdditionalFlows") or {}).get("CustomAuthMode") in ENABLED_MODES


def require_enabled(pool: UserPool) -> None:
    if not enabled(pool):
        raise UserPoolAddOnNotEnabledException(NOT_ENABLED)


# -- names ------------------------------------------------------------------------------------


def prefix(sub: str) -> str:
    return f"{sub}#"


def event_name(sub: str, rank: int) -> str:
    return f"{prefix(sub)}{_RANK_TOP - rank:0{_RANK_DIGITS}d}"


def rank_of(event: PoolResource) -> int:
    return int(event.body["Rank"])


def next_rank(newest: PoolResource | None, now: datetime) -> int:
    """Milliseconds * 1000, past the newest event's rank: the order of recording holds even
    within a millisecond, or if the clock steps back."""
    rank = int(now.timestamp() * 1000) * 1000
    if newest is not None:
        rank = max(rank, rank_of(newest) + 1)
    return rank


def own(events: Sequence[PoolResource], sub: str) -> list[PoolResource]:
    """The records of a listing from `prefix(sub)` on that are this user's (the listing runs
    on into the next user's names)."""
    mine = prefix(sub)
    out = []
    for event in events:
        if not event.name.startswith(mine):
            break
        out.append(event)
    return out


def session_key(session: str) -> str:
    """The name an in-progress sign-in's continuation is indexed under: its SHA-256, so the
    store never holds a usable session."""
    return hashlib.sha256(session.encode("utf-8")).hexdigest()


def continuations(response: Mapping[str, Any] | None) -> list[str]:
    """The keys an answer may come back with: the Session, and SRP's SECRET_BLOCK (a
    PASSWORD_VERIFIER answer may carry no Session, only the block it was handed)."""
    if not response:
        return []
    values = [response.get("Session"), (response.get("ChallengeParameters") or {}).get("SECRET_BLOCK")]
    return [session_key(v) for v in values if v]


def continued_by(request: Mapping[str, Any]) -> list[str]:
    """The keys an answer carries (see `continuations`)."""
    values = [request.get("Session"), (request.get("ChallengeResponses") or {}).get("PASSWORD_CLAIM_SECRET_BLOCK")]
    return [session_key(v) for v in values if v]


# -- recording --------------------------------------------------------------------------------


def new_event(
    pool_id: str, sub: str, *, event_id: str, event_type: str, response: str, challenges: Sequence[Mapping[str, str]],
    ip_address: str | None, rank: int, now: datetime,
) -> PoolResource:
    body: dict[str, Any] = {
        "EventId": event_id,
        "EventType": event_type,
        "EventResponse": response,
        "ChallengeResponses": [dict(c) for c in challenges],
        "Rank": rank,
        "Sub": sub,
    }
    if ip_address:
        body["EventContextData"] = {"IpAddress": ip_address}
    return PoolResource(pool_id=pool_id, kind=KIND, name=event_name(sub, rank), body=body, created=now, modified=now)


def advanced(event: PoolResource, *, response: str, challenge: Mapping[str, str] | None,
             sessions: Sequence[str], now: datetime) -> PoolResource:
    """A sign-in event after one more answered challenge; `sessions`: the keys that continue
    it (none when it ended)."""
    body = dict(event.body)
    body["EventResponse"] = response
    if challenge is not None:
        body["ChallengeResponses"] = [*body.get("ChallengeResponses", ()), dict(challenge)]
    body["Sessions"] = list(sessions)
    return replace(event, body=body, modified=now, version=event.version + 1)


def with_sessions(event: PoolResource, sessions: Sequence[str]) -> PoolResource:
    return replace(event, body={**event.body, "Sessions": list(sessions)}) if sessions else event


def session_index(pool_id: str, session: str, event: PoolResource, now: datetime) -> PoolResource:
    return PoolResource(pool_id=pool_id, kind=SESSION_KIND, name=session, body={"Event": event.name},
                        created=now, modified=now)


def in_progress_sign_in(event: PoolResource) -> bool:
    return event.body.get("EventType") == SIGN_IN and event.body.get("EventResponse") == IN_PROGRESS


def overflow(events: Sequence[PoolResource]) -> list[PoolResource]:
    """The oldest events beyond the cap (`events` newest first, the new one included)."""
    return list(events[MAX_EVENTS_PER_USER:])


def challenge_entry(kind: str | None, ok: bool) -> dict[str, str] | None:
    if kind is None:
        return None
    return {"ChallengeName": kind, "ChallengeResponse": SUCCESS if ok else FAILURE}


def sign_in_response(response: Mapping[str, Any]) -> str:
    """Pass when the step issued tokens, InProgress when it asked another challenge."""
    # A hosted-page sign-in ends in "HostedAuthentication" (service.auth.HOSTED_RESULT), not tokens.
    return PASS if "AuthenticationResult" in response or "HostedAuthentication" in response else IN_PROGRESS


# -- listing and feedback ---------------------------------------------------------------------


def page_limit(max_results: int | None) -> int:
    return max_results or MAX_RESULTS


def start_after(sub: str, position: str | None) -> str:
    """Where a page starts: after the NextToken's name, which must be one of this user's."""
    if position is None:
        return prefix(sub)
    if not position.startswith(prefix(sub)):
        raise InvalidParameterException("Invalid NextToken.", member="NextToken")
    return position


def auth_event_type(event: PoolResource) -> dict[str, Any]:
    """AuthEventType as Cognito returns it. No risk is ever assessed here: RiskDecision
    NoRisk, no compromised credentials, no RiskLevel."""
    body = event.body
    out: dict[str, Any] = {
        "EventId": body["EventId"],
        "EventType": body["EventType"],
        "CreationDate": event.created,
        "EventResponse": body["EventResponse"],
        "EventRisk": {"RiskDecision": "NoRisk", "CompromisedCredentialsDetected": False},
        "ChallengeResponses": [dict(c) for c in body.get("ChallengeResponses", ())],
    }
    if body.get("EventContextData"):
        out["EventContextData"] = dict(body["EventContextData"])
    if body.get("EventFeedback"):
        feedback = dict(body["EventFeedback"])
        out["EventFeedback"] = {
            "FeedbackValue": feedback["FeedbackValue"],
            "Provider": feedback["Provider"],
            "FeedbackDate": datetime.fromisoformat(feedback["FeedbackDate"]),
        }
    return out


def find_event(events: Sequence[PoolResource], event_id: str) -> PoolResource:
    for event in events:
        if event.body.get("EventId") == event_id:
            return event
    raise ResourceNotFoundException(f"Auth event {event_id} does not exist.")


def with_feedback(event: PoolResource, *, value: str, provider: str, now: datetime) -> PoolResource:
    feedback = {"FeedbackValue": value, "Provider": provider, "FeedbackDate": now.isoformat()}
    return replace(event, body={**event.body, "EventFeedback": feedback}, modified=now, version=event.version + 1)


def feedback_token(pool_secret: bytes, pool_id: str, sub: str, event_id: str) -> str:
    """The FeedbackToken of one event of one user (what Cognito's notification links carry)."""
    mac = hmac.new(pool_secret, f"auth-event-feedback|{pool_id}|{sub}|{event_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii").rstrip("=")


def check_feedback_token(pool_secret: bytes, pool_id: str, sub: str, event_id: str, token: str) -> None:
    expected = feedback_token(pool_secret, pool_id, sub, event_id)
    if not hmac.compare_digest(expected.encode("ascii"), token.encode("utf-8", "replace")):
        raise NotAuthorizedException(INVALID_FEEDBACK_TOKEN)
