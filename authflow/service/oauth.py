"""The OAuth 2.0 authorization server of a pool's domain: authorize requests, codes, and
the grants of /oauth2/token, /oauth2/userInfo and /oauth2/revoke.

Theory of operation: the hosted pages (`authflow.web.hosted`) validate a browser's
request with `authorize`, sign the user in through the same service functions as the JSON
API, and then ask `complete` where the browser goes: a code (or, for response_type=token,
the tokens) on the registered redirect URI. `refuse` builds an error redirect for a valid
request. The decisions are `authflow.core.oauth`'s; this module reads and writes.

A code is stored as an `AuthSession` record so that every worker of `authflow serve` sees
it: its id is `oauth-code:` and the code's SHA-256 (never a hex digest alone, so no
Session string of RespondToAuthChallenge can name it, and `open_session` never finds
one), its `challenge` the code's state in `specs/oauth-code.yaml`, its `expires` five
minutes on, its `progress` the bindings (`CodeBindings`) sealed under the KEK. Redeeming
writes the record back as REDEEMED with its version bumped in the same transaction that
begins the refresh-token family, so of two concurrent redemptions the store lets one
commit and turns the other into a conflict; the loser runs again, reads REDEEMED, and
gets invalid_grant.

Tokens of these flows are the API flows' claims (`core_tokens.claims`) with the granted
`scope`, `version: 2` and, in the ID token (only with `openid`), `nonce` and `at_hash`.
Every user token belongs to a refresh-token family (implicit grants get one whose token is
never handed out), so global sign-out, RevokeToken and /oauth2/revoke work on them as on
the API's tokens.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from authflow.core import client_config as cc
from authflow.core import oauth as core
from authflow.core import refresh_rotation as rotation
from authflow.core import tokens as core_tokens
from authflow.core.lifecycle import IllegalTransition, user_lifecycle
from authflow.core.oauth import AuthorizeRefusal, AuthorizeRequest, CodeBindings, OAuthError
from authflow.core.records import AppClient, AuthSession, RefreshToken, User, UserPool
from authflow.crypto.signing import sign
from authflow.errors import CognitoError
from authflow.ports import TransientConflict
from authflow.service import refresh_rotation as refresh_families
from authflow.service.engine import Engine
from authflow.service.groups import groups_of
from authflow.service.keys import current_keys

__all__ = ["AuthorizeRefusal", "AuthorizeRequest", "OAuthError", "authorize", "complete", "refuse",
           "resolve_domain", "token", "userinfo", "revoke"]

events = logging.getLogger("authflow.oauth")

#: How often a grant runs before a store conflict is reported (as `authflow.client.call`).
ATTEMPTS = 5
T = TypeVar("T")


def _retrying(run: Callable[[], T]) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return run()
        except TransientConflict:
            if attempt == ATTEMPTS:
                raise OAuthError("server_error", "too many concurrent requests; try again", status=500) from None
            time.sleep(0.005 * 2**attempt)
    raise AssertionError("unreachable")


def resolve_domain(engine: Engine, domain: str) -> str | None:
    """The pool id holding the domain, or None."""
    with engine.store.transaction() as tx:
        found = tx.find_resource("domain", domain)
    return found.pool_id if found is not None else None


def error_page(base: str, error: str, client_id: str | None) -> str:
    query = {"error": error, **({"client_id": client_id} if client_id else {})}
    return f"{base.rstrip('/')}/error?{urlencode(query)}"


def with_parameters(uri: str, parameters: Mapping[str, str | None], *, fragment: bool = False) -> str:
    """`uri` with `parameters` (None values left out) in its query, or in a fragment."""
    encoded = urlencode({k: v for k, v in parameters.items() if v is not None})
    if fragment:
        return f"{uri}#{encoded}"
    return f"{uri}{'&' if '?' in uri else '?'}{encoded}"


def _refusal(refused: core.Refused, base: str) -> AuthorizeRefusal:
    if refused.redirect_uri is None:  # never redirect to a URI that is not registered
        return AuthorizeRefusal(error=refused.error, to_error_page=True,
                                location=error_page(base, refused.error, refused.client_id))
    location = with_parameters(
        refused.redirect_uri, {"error": refused.error, "error_description": refused.description,
                               "state": refused.state}, fragment=refused.fragment,
    )
    return AuthorizeRefusal(error=refused.error, location=location, to_error_page=False)


def _inactive(tx, pool_id: str, scopes) -> frozenset[str]:
    servers: dict[str, Any] = {}
    for scope in scopes:
        parts = core.resource_server_of(scope)
        if parts is not None and parts[0] not in servers:
            found = tx.get_resource(pool_id, "resource_server", parts[0])
            servers[parts[0]] = found.body if found is not None else None
    return core.inactive_scopes(list(scopes), servers)


# -- the front channel's interface --------------------------------------------------------------


def authorize(engine: Engine, domain: str, params: Mapping[str, str], *, base: str) -> AuthorizeRequest | AuthorizeRefusal:
    """Validate an authorize request for this domain (`base`: the domain's base URL the
    browser used; the /error page location is built from it)."""
    query = urlencode(dict(params))
    with engine.store.transaction() as tx:
        found = tx.find_resource("domain", domain)
        client_id = params.get("client_id") or ""
        client = tx.get_client(client_id) if client_id else None
        if found is None:
            return AuthorizeRefusal(error="invalid_request", to_error_page=True,
                                    location=error_page(base, "invalid_request", client_id or None))
        inactive = _inactive(tx, found.pool_id, client.config.get("AllowedOAuthScopes") or ()) if client else frozenset()
    decided = core.authorize(params, pool_id=found.pool_id, domain=domain, client=client,
                             inactive_scopes=inactive, query=query)
    return _refusal(decided, base) if isinstance(decided, core.Refused) else decided


def refuse(request: AuthorizeRequest, error: str, description: str | None = None) -> str:
    """The Location of an error redirect for a valid request (login_required, access_denied,
    ...): in the query for code, in the fragment for token, `state` echoed."""
    return with_parameters(
        request.redirect_uri, {"error": error, "error_description": description, "state": request.state},
        fragment=request.response_type == "token",
    )


def complete(engine: Engine, request: AuthorizeRequest, *, sub: str, auth_time: datetime) -> str:
    """The user `sub` of the request's pool has authenticated (at `auth_time`): the Location
    to send the browser to (`redirect_uri?code=...&state=...`, or for response_type=token
    `redirect_uri#id_token=...&access_token=...&token_type=Bearer&expires_in=...&state=...`).

    The client and its redirect URI are checked again (they may have changed since the
    request was validated): if the URI is no longer registered this raises
    `OAuthError("redirect_mismatch")` and the caller must show the /error page; a user who
    is gone or disabled gets `error=access_denied` on the redirect URI."""
    return _retrying(lambda: _complete(engine, request, sub=sub, auth_time=auth_time))


def _complete(engine: Engine, request: AuthorizeRequest, *, sub: str, auth_time: datetime) -> str:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = tx.get_pool(request.pool_id)
        client = tx.get_client(request.client_id)
        if pool is None or client is None or not core.oauth_client(client, pool.id) or \
                core.registered_redirect(client, request.redirect_uri) != request.redirect_uri:
            raise OAuthError("redirect_mismatch", "the redirect URI is no longer registered for this client")
        if core.RESPONSE_TYPES[request.response_type] not in (client.config.get("AllowedOAuthFlows") or ()):
            return refuse(request, "unauthorized_client")
        user = tx.get_user_by_sub(pool.id, sub)
        if user is None or not user.enabled:
            return refuse(request, "access_denied")
        if request.response_type == "code":
            code = core_tokens.new_uuid(engine.entropy)  # Cognito's codes are UUIDs [P live]
            bindings = CodeBindings(
                redirect_uri=request.redirect_uri, scopes=request.scopes, nonce=request.nonce,
                code_challenge=request.code_challenge, auth_time=auth_time, generation=user.token_generation,
            )
            record_id = core.code_id(code)
            progress = _seal_bindings(engine, record_id, bindings)
            tx.put_session(core.new_code_record(request, user, code=code, progress=progress, now=now))
            events.info("oauth code issued: pool=%s client=%s sub=%s", pool.id, client.id, user.sub)
            return with_parameters(request.redirect_uri, {"code": code, "state": request.state})
        # Implicit: the tokens' family is stored (its refresh token is never handed out), so
        # that revocation and global sign-out reach these tokens too.
        _, family = core_tokens.new_refresh_token(
            pool, client, user, now=now, entropy=engine.entropy, scope=" ".join(request.scopes),
            auth_time=auth_time,
        )
        tx.put_refresh_token(family)
        minted = _mint(engine, tx, pool, client, user, family, request.scopes, request.nonce, now)
    events.info("oauth implicit tokens issued: pool=%s client=%s sub=%s", pool.id, client.id, user.sub)
    fragment = {k: minted[k] for k in ("id_token", "access_token") if k in minted}
    fragment.update(token_type="Bearer", expires_in=str(minted["expires_in"]), state=request.state)
    return with_parameters(request.redirect_uri, fragment, fragment=True)


def _seal_bindings(engine: Engine, record_id: str, bindings: CodeBindings) -> str:
    sealed = engine.seal(json.dumps(bindings.as_json()).encode(), f"oauth-code:{record_id}")
    return base64.b64encode(sealed).decode("ascii")


def _open_bindings(engine: Engine, record: AuthSession | None) -> CodeBindings | None:
    if record is None or not record.progress or not record.id.startswith(core.CODE_ID_PREFIX):
        return None
    raw = engine.unseal(base64.b64decode(record.progress), f"oauth-code:{record.id}")
    return CodeBindings.from_json(json.loads(raw))


# -- tokens --------------------------------------------------------------------------------------


def _mint(
    engine: Engine, tx, pool: UserPool, client: AppClient, user: User, family: RefreshToken,
    scopes: tuple[str, ...] | None, nonce: str | None, now: datetime,
) -> dict[str, Any]:
    """access_token, id_token (with `openid`, or always for an API family: `scopes` None),
    expires_in."""
    keys = current_keys(engine, tx, pool.id, now)
    claims = core_tokens.claims(
        pool, client, user, issuer=engine.issuer(pool.id), now=now, auth_time=family.auth_time,
        origin_jti=family.origin_jti, entropy=engine.entropy, groups=groups_of(tx, pool, user),
        scope=None if scopes is None else " ".join(scopes), nonce=nonce,
    )
    access = sign(claims.access, engine.signing_key(keys["access"]), keys["access"].kid)
    out: dict[str, Any] = {"access_token": access, "expires_in": claims.expires_in}
    if scopes is None or core.OPENID in scopes:
        id_claims = dict(claims.id)
        if scopes is not None:
            id_claims["at_hash"] = core.at_hash(access)
        out["id_token"] = sign(id_claims, engine.signing_key(keys["id"]), keys["id"].kid)
    return out


def _answer(minted: Mapping[str, Any], refresh: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "id_token" in minted:
        out["id_token"] = minted["id_token"]
    out["access_token"] = minted["access_token"]
    if refresh is not None:
        out["refresh_token"] = refresh
    out["expires_in"] = minted["expires_in"]
    out["token_type"] = "Bearer"
    return out


def _may_have_tokens(user: User | None, generation: int | None = None) -> bool:
    if user is None or not user.enabled:
        return False
    if generation is not None and generation < user.token_generation:
        return False  # a global sign-out since
    try:
        user_lifecycle().next_status(user.status, "refresh_tokens")
    except IllegalTransition:
        return False
    return True


def token(engine: Engine, domain: str, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
    """POST /oauth2/token: the JSON answer, or an `OAuthError`. Client authentication is
    checked before anything else is read, so a client that retries with another
    authentication method after invalid_client can still redeem its code."""
    grant = core.check_grant_type(form)
    credentials = core.client_credentials(form, authorization)
    run = {"authorization_code": _code_grant, "refresh_token": _refresh_grant,
           "client_credentials": _machine_grant}[grant]
    return _retrying(lambda: run(engine, domain, form, credentials))


def _client(engine: Engine, tx, domain: str, credentials: core.ClientCredentials, *, status: int = 400):
    found = tx.find_resource("domain", domain)
    if found is None:
        raise OAuthError("invalid_request", "no such domain", status=404)
    pool = tx.get_pool(found.pool_id)
    candidate = tx.get_client(credentials.client_id)
    secrets = engine.client_secrets(candidate) if candidate is not None else ()
    client = core.check_client_secret(candidate, secrets, credentials, pool_id=found.pool_id, status=status)
    return pool, client, secrets


def _code_grant(engine: Engine, domain: str, form: Mapping[str, str], credentials) -> dict[str, Any]:
    now = engine.now()
    refused = False
    with engine.store.transaction() as tx:
        pool, client, _ = _client(engine, tx, domain, credentials)
        code = core.require(form, "code")
        redirect_uri = core.require(form, "redirect_uri")
        if not core.allows_flow(client, "code"):
            raise OAuthError("unauthorized_client")
        record = tx.get_session(core.code_id(code))
        bindings = _open_bindings(engine, record)
        trigger = core.redemption(record, bindings, client_id=client.id, redirect_uri=redirect_uri,
                                  verifier=form.get("code_verifier") or None, now=now)
        user = tx.get_user_by_sub(pool.id, record.sub)
        if trigger == "redeem" and not _may_have_tokens(user, bindings.generation):
            trigger = "refuse"
        # Spent either way, in this transaction: the version bump makes a concurrent
        # redemption of the same code conflict.
        tx.put_session(replace(record, challenge=core.oauth_code().next_state(record.challenge, trigger),
                               used=True, version=record.version + 1))
        if trigger == "refuse":
            refused = True
        else:
            refresh, family = core_tokens.new_refresh_token(
                pool, client, user, now=now, entropy=engine.entropy, scope=" ".join(bindings.scopes),
                auth_time=bindings.auth_time,
            )
            tx.put_refresh_token(family)
            minted = _mint(engine, tx, pool, client, user, family, bindings.scopes, bindings.nonce, now)
    if refused:  # raised after the commit: the code stays spent
        events.info("oauth code refused and spent: pool=%s client=%s", pool.id, client.id)
        raise core.invalid_grant()
    events.info("oauth code redeemed: pool=%s client=%s sub=%s", pool.id, client.id, user.sub)
    return _answer(minted, refresh)


def _refresh_grant(engine: Engine, domain: str, form: Mapping[str, str], credentials) -> dict[str, Any]:
    now = engine.now()
    replayed = False
    with engine.store.transaction() as tx:
        pool, client, _ = _client(engine, tx, domain, credentials)
        given = core.require(form, "refresh_token")
        rotating = rotation.rotation_of(client.config).enabled
        # With rotation on, Cognito has clients drop REFRESH_TOKEN_AUTH (refused then), so the
        # flag cannot be what permits this grant [U].
        if not rotating and "ALLOW_REFRESH_TOKEN_AUTH" not in cc.allowed_auth_flows(client.config):
            raise OAuthError("unauthorized_client")
        found = refresh_families.find_family(tx, pool.id, client, given, now)
        if found is None:
            raise core.invalid_grant()
        family = found.family
        if found.replayed:
            refresh_families.revoke_family(engine, tx, family)  # committed: refused below
            replayed = True
        else:
            user = tx.get_user_by_sub(pool.id, family.sub)
            # A family bound to a device needs its DEVICE_KEY, which this endpoint cannot carry.
            if family.revoked or now >= family.expires or family.device_key is not None or \
                    not _may_have_tokens(user, family.generation):
                raise core.invalid_grant()
            refresh = None
            if rotating:
                refresh, family = refresh_families.rotate(engine, tx, client, family, now)
            scopes = tuple(family.scope.split()) if family.scope is not None else None
            # The ID token of a refresh names no nonce: that belonged to the authorize request.
            minted = _mint(engine, tx, pool, client, user, family, scopes, None, now)
    if replayed:
        events.info("oauth refresh token replayed after rotation, family revoked: pool=%s client=%s",
                    pool.id, client.id)
        raise core.invalid_grant()
    return _answer(minted, refresh)


def _machine_grant(engine: Engine, domain: str, form: Mapping[str, str], credentials) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool, client, secret = _client(engine, tx, domain, credentials)
        # Only a confidential client registered for client_credentials alone; any other
        # client gets invalid_grant, as live Cognito answers [P live].
        if not secret or not core.allows_flow(client, "client_credentials"):
            raise core.invalid_grant()
        allowed = client.config.get("AllowedOAuthScopes") or ()
        scopes = core.machine_scopes(form.get("scope"), client, _inactive(tx, pool.id, allowed))
        keys = current_keys(engine, tx, pool.id, now)
        claims = core_tokens.machine_claims(
            client, issuer=engine.issuer(pool.id), now=now, scope=" ".join(scopes), entropy=engine.entropy,
        )
        access = sign(claims, engine.signing_key(keys["access"]), keys["access"].kid)
    events.info("oauth client_credentials token issued: pool=%s client=%s", pool.id, client.id)
    return {"access_token": access, "expires_in": claims["exp"] - claims["iat"], "token_type": "Bearer"}


# -- userInfo and revoke ----------------------------------------------------------------------


def userinfo(engine: Engine, domain: str, access_token: str) -> dict[str, Any]:
    """GET|POST /oauth2/userInfo: the claims the token's scopes release. Refusals: 401
    invalid_token (bad, expired, revoked token, a token without `openid`, its user gone
    or disabled)."""
    from authflow.service import tokens as service_tokens

    now = engine.now()
    with engine.store.transaction() as tx:
        found = tx.find_resource("domain", domain)
        if found is None:
            raise OAuthError("invalid_request", "no such domain", status=404)
        try:
            pool, client, claims = service_tokens.verify_access(engine, tx, access_token, now, pool_id=found.pool_id)
            scopes = str(claims.get("scope") or "").split()
            if core.OPENID not in scopes:
                raise OAuthError("invalid_token", "the access token was not granted openid", status=401)
            user = service_tokens.token_user(tx, pool, claims)
        except CognitoError as err:
            if isinstance(err, OAuthError):
                raise
            raise OAuthError("invalid_token", service_tokens.USERINFO_REFUSED, status=401) from None
        readable = cc.readable_attributes(client.config, pool.config)
    return core.userinfo_claims(user, scopes, readable)


def revoke(engine: Engine, domain: str, form: Mapping[str, str], authorization: str | None) -> None:
    """POST /oauth2/revoke (§5.6): revokes a refresh token's family. Unknown and already
    revoked tokens are not errors (RFC 7009)."""
    credentials = core.client_credentials(form, authorization)

    def run() -> None:
        with engine.store.transaction() as tx:
            try:
                _, client, _ = _client(engine, tx, domain, credentials, status=401)
            except OAuthError as err:
                if err.error == "invalid_client":
                    err.status = 401
                raise
            given = core.require(form, "token")
            if not cc.token_revocation_enabled(client.config):
                raise OAuthError("invalid_request", "token revocation is not enabled for this client")
            if core_tokens.looks_like_jwt(given):
                raise OAuthError("unsupported_token_type", "only refresh tokens can be revoked")
            family = tx.get_refresh_token(core_tokens.token_hash(given))
            if family is None:  # a token rotated out of its family (still remembered) names it too
                found = refresh_families.find_family(tx, client.pool_id, client, given, engine.now())
                family = found.family if found is not None else None
            if family is None or family.revoked:
                return
            if family.client_id != client.id:
                raise OAuthError("unauthorized_client", "the token was not issued to this client")
            tx.put_refresh_token(replace(family, revoked=True, version=family.version + 1))

    _retrying(run)
