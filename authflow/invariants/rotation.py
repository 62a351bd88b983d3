"""The laws of refresh-token rotation (an app client's RefreshTokenRotation ENABLED,
GetTokensFromRefreshToken): a token rotated out of its family yields tokens only within the
client's RetryGracePeriodSeconds; once a reuse past it was refused
(RefreshTokenReuseException) no token of that family yields tokens again and its access
tokens are refused; REFRESH_TOKEN_AUTH never yields tokens on a rotating client; a revoked
family never yields tokens.

Which family a token belongs to, and when it was rotated out, is what the caller saw
(`History.refresh_families`, `History.rotated_out`: the access token beside each refresh
token names its family, and a GetTokensFromRefreshToken that answered with a new refresh
token rotated the family's previous one out); the records (the store's `rotated_refresh_token`
markers, the families by `origin_jti`) are read too, so that either side's slip is seen. The
grace period is recomputed from the client's configuration, not read from the marker's
`UsableUntil`.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from authflow.core.tokens import token_hash
from authflow.invariants.reading import INITIATE, claims_of
from authflow.invariants.records import Records
from authflow.invariants.step import History, Step

GET_TOKENS = "GetTokensFromRefreshToken"
REUSED = "RefreshTokenReuseException"
#: The PoolResource kinds of `authflow.core.refresh_rotation` (named again: the laws do not
#: import the engine's rules).
ROTATED, LINEAGE = "rotated_refresh_token", "refresh_lineage"
_REFRESH_FLOWS = frozenset({"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"})


def rotation_grace(records: Records, client_id: object) -> int | None:
    """The client's RetryGracePeriodSeconds when it rotates refresh tokens, else None."""
    client = records.client(client_id)
    given = (client.config.get("RefreshTokenRotation") or {}) if client is not None else {}
    if given.get("Feature") != "ENABLED":
        return None
    return int(given.get("RetryGracePeriodSeconds") or 0)


def family_claim(access_token: object) -> str | None:
    """The family an access (or ID) token names: `origin_jti`, or `event_id` without revocation."""
    claims = claims_of(access_token)
    origin = claims.get("origin_jti") or claims.get("event_id")
    return str(origin) if origin else None


def presented_refresh(step: Step) -> str | None:
    """The refresh token a refresh request presents (GetTokensFromRefreshToken, or
    InitiateAuth / AdminInitiateAuth with REFRESH_TOKEN_AUTH)."""
    if step.operation == GET_TOKENS:
        token = step.request.get("RefreshToken")
    elif step.operation in INITIATE and step.request.get("AuthFlow") in _REFRESH_FLOWS:
        token = (step.request.get("AuthParameters") or {}).get("REFRESH_TOKEN")
    else:
        return None
    return token if isinstance(token, str) else None


def _yielded(step: Step) -> bool:
    return step.ok and bool((step.response or {}).get("AuthenticationResult"))


def _marker(records: Records, pool_id: str | None, digest: str):
    return next((r for r in records.resources if r.kind == ROTATED and r.name == digest
                 and (pool_id is None or r.pool_id == pool_id)), None)


def _pool_of_client(step: Step) -> str | None:
    client = step.before.client(step.request.get("ClientId"))
    return client.pool_id if client is not None else None


def families_of(step: Step, token: str) -> set[str]:
    """The families `token` belongs to: as the caller saw it issued, and as the store
    records it (its family's record, or the marker of a token rotated out of one)."""
    digest = token_hash(token)
    out = {f for f in (step.history.family_of(digest),) if f}
    family = step.before.refresh_token(token)
    if family is not None:
        out.add(family.origin_jti)
    marker = _marker(step.before, _pool_of_client(step), digest)
    if marker is not None and marker.body.get("OriginJti"):
        out.add(str(marker.body["OriginJti"]))
    return out


def rotated_token_only_within_grace(step: Step) -> str | None:
    """A refresh token rotated out of its family yields tokens only while now <
    rotated_at + RetryGracePeriodSeconds of its (rotating) client: rotated_at is when the
    caller saw the family's next token issued, or the store's marker says it was rotated
    out, whichever is earlier."""
    token = presented_refresh(step)
    if step.operation != GET_TOKENS or token is None or not _yielded(step):
        return None
    grace = rotation_grace(step.before, step.request.get("ClientId"))
    if grace is None:
        return None
    digest = token_hash(token)
    times = [t for t in (step.history.rotated_at(digest),) if t is not None]
    marker = _marker(step.before, _pool_of_client(step), digest)
    if marker is not None and marker.body.get("RotatedAt"):
        times.append(datetime.fromisoformat(str(marker.body["RotatedAt"])))
    if not times:
        return None
    rotated = min(times)
    if step.now >= rotated + timedelta(seconds=grace):
        late = (step.now - rotated).total_seconds()
        return (f"a refresh token rotated out {late:g} s before yielded tokens "
                f"(RetryGracePeriodSeconds {grace})")
    return None


def reused_family_stays_revoked(step: Step) -> str | None:
    """After a reuse past the grace period was refused (RefreshTokenReuseException), no
    refresh token of that family yields tokens again, and no access token of it is
    accepted (GetUser or any other request by access token): judged from what the caller
    saw, whatever the records say."""
    reused = step.history.reused_families
    if not reused or not step.ok:
        return None
    token = presented_refresh(step)
    if token is not None and _yielded(step):
        families = families_of(step, token) & reused
        if families:
            return f"a refresh token of the family {sorted(families)[0]!r}, replayed after rotation, yielded tokens"
    access = step.request.get("AccessToken")
    if isinstance(access, str) and family_claim(access) in reused:
        return f"{step.operation} accepted an access token of a family replayed after rotation"
    return None


def refresh_token_auth_refused_on_rotating_clients(step: Step) -> str | None:
    """REFRESH_TOKEN_AUTH (InitiateAuth, AdminInitiateAuth) never yields tokens through an
    app client with refresh-token rotation enabled: such a client refreshes only by
    GetTokensFromRefreshToken."""
    if step.operation not in INITIATE or step.request.get("AuthFlow") not in _REFRESH_FLOWS or not _yielded(step):
        return None
    if rotation_grace(step.before, step.request.get("ClientId")) is not None:
        return f"{step.request.get('AuthFlow')} yielded tokens through a client that rotates refresh tokens"
    return None


def revoked_family_yields_nothing(step: Step) -> str | None:
    """A revoked refresh-token family never yields tokens: once the caller revoked any of
    its tokens (RevokeToken of the latest or of one rotated out), saw it replayed, or lost
    it to a sign-out, a disable or a delete, or once the store marks it revoked, no token
    of it, the latest or a rotated-out one, refreshes."""
    token = presented_refresh(step)
    if token is None or not _yielded(step):
        return None
    families = families_of(step, token)
    if families & step.history.revoked_families:
        return "a refresh token of a family the caller had revoked (or lost) yielded tokens"
    pool_id = _pool_of_client(step)
    for origin in sorted(families):
        family = step.before.family_by_origin(pool_id, origin) if pool_id else None
        if family is not None and family.revoked:
            return "a refresh token of a family the store marks revoked yielded tokens"
    return None


def reuse_revokes(step: Step) -> str | None:
    """The family (origin_jti) a refused reuse may revoke: the one the store's marker of the
    presented token names (a RefreshTokenReuseException commits that revocation)."""
    if step.operation != GET_TOKENS or step.error is None or step.error.code != REUSED:
        return None
    token = presented_refresh(step)
    marker = _marker(step.before, _pool_of_client(step), token_hash(token)) if token else None
    return str(marker.body.get("OriginJti")) if marker is not None else None


def learned(history: History, step: Step) -> History:
    """What a step taught the caller about refresh-token families: the family of each
    refresh token it was given, the token a rotation replaced, a reuse refused, a family
    revoked. (Sign-outs, disables and deletes: `lost_families`.)"""
    request, response = step.request, step.response or {}
    if step.ok:
        result = response.get("AuthenticationResult") or {}
        family = family_claim(result.get("AccessToken")) if result else None
        if family and result.get("RefreshToken"):
            new = token_hash(result["RefreshToken"])
            if step.operation == GET_TOKENS:  # the family's previous latest token is rotated out now
                rotated = {h for h, f in history.refresh_families if f == family and h != new}
                already = {h for h, _ in history.rotated_out}
                history = dataclasses.replace(
                    history, rotated_out=history.rotated_out | {(h, step.now) for h in rotated - already})
            history = dataclasses.replace(history, refresh_families=history.refresh_families | {(new, family)})
        if step.operation == "RevokeToken" and isinstance(request.get("Token"), str):
            revoked = history.family_of(token_hash(request["Token"]))
            if revoked:
                history = dataclasses.replace(history, revoked_families=history.revoked_families | {revoked})
    elif step.operation == GET_TOKENS and step.error is not None and step.error.code == REUSED:
        replayed = history.family_of(token_hash(str(request.get("RefreshToken"))))
        if replayed:
            history = dataclasses.replace(history, reused_families=history.reused_families | {replayed},
                                          revoked_families=history.revoked_families | {replayed})
    return history


def lost_families(history: History, gone: set[str]) -> History:
    """`history` with the families of the refresh tokens `gone` (hashes) revoked."""
    families = {f for h, f in history.refresh_families if h in gone}
    if not families:
        return history
    return dataclasses.replace(history, revoked_families=history.revoked_families | families)

