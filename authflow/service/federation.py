"""Federation through an OIDC identity provider: the redirect upstream and the return to
`/oauth2/idpresponse`.

Theory of operation: `start` is called by the hosted authorize route when a validated
request names a provider (`identity_provider` other than COGNITO, or `idp_identifier`). It
finds the provider's endpoints (its explicit `authorize_url` / `token_url` /
`attributes_url` / `jwks_uri`, else OIDC discovery at `<oidc_issuer>/.well-known/
openid-configuration`), stores the app's request as a pending `AuthSession` record whose
id is `federation-state:` + the SHA-256 of a domain-separated random `state` (its
`progress` sealed under the KEK, ten minutes to live), and answers the provider's
authorization URL.

`finish` serves the provider's return. It spends the pending record first, in its own
transaction (a replayed `state` finds it used, a forged one finds nothing: both end on the
domain's /error page, since no redirect URI is trusted without it), then talks to the
provider outside any transaction: the code exchange (client_secret_post when the provider
has a secret, with the PKCE verifier), the JWKS, and userInfo when the provider has one.
The ID token must be RS256-signed by a key of the provider's JWKS and pass
`core.federation.check_id_token`. The user is then created, refreshed or found through a
link (`core.federation.decide_sign_in`) in one transaction, and `oauth.complete` sends the
browser to the app. Every failure after the state is known becomes the app's error
redirect (`error=invalid_request&error_description=...`, §5.1), never a trace.

Outbound HTTP uses `urllib.request` with short timeouts; callers run these functions off
the event loop (they block).
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import jwt

from authflow.core import client_config as cc
from authflow.core import federation as core
from authflow.core import identity
from authflow.core import oauth as core_oauth
from authflow.core import oauth_resources as resources
from authflow.core import users as core_users
from authflow.core.lifecycle import IllegalTransition
from authflow.core.oauth import AuthorizeRequest, OAuthError
from authflow.core.records import AuthSession, PoolResource
from authflow.core.schema import attribute_definitions
from authflow.ports import TransientConflict
from authflow.service import oauth
from authflow.service.engine import Engine

__all__ = ["start", "finish", "TIMEOUT"]

events = logging.getLogger("authflow.federation")

#: Seconds each call to a provider may take (Cognito's own limit is not published) [U].
TIMEOUT = 5.0
_PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorize: str
    token: str
    jwks: str
    userinfo: str | None


class _Unreachable(Exception):
    """A provider call that timed out (`timeout`) or failed to connect."""

    def __init__(self, detail: str, *, timeout: bool = False) -> None:
        super().__init__(detail)
        self.timeout = timeout


def _unreachable(err: _Unreachable, timeout_message: str, what: str) -> OAuthError:
    # §5.1's words for a timeout; a refused or reset connection says so.
    return core.failure(timeout_message if err.timeout else f"Connection error in calling IdP {what}")


# -- the redirect upstream ---------------------------------------------------------------------


def start(engine: Engine, request: AuthorizeRequest, provider_name: str | None, *, base: str,
          binding: str | None = None) -> str:
    """The Location that sends the browser to the provider (`provider_name`, or the one
    whose IdpIdentifiers hold `request.idp_identifier`), or the app's error redirect.
    `binding`: a secret the browser keeps (a cookie) that the return must show."""
    try:
        return _start(engine, request, provider_name, base=base, binding=binding)
    except OAuthError as err:
        return oauth.refuse(request, err.error, err.description)


def _start(engine: Engine, request: AuthorizeRequest, provider_name: str | None, *, base: str,
           binding: str | None) -> str:
    # None: the provider whose IdpIdentifiers hold the request's idp_identifier.
    request = replace(request, identity_provider=provider_name)
    with engine.store.transaction() as tx:
        provider = _provider(tx, request)
    details = provider.body["ProviderDetails"]
    endpoints = _endpoints(provider)
    state, verifier = _random(engine, 32), _random(engine, 32)
    nonce = request.nonce or _random(engine, 24)  # Cognito makes one when the app sent none [D]
    pending = core.Pending(request=replace(request, nonce=nonce), provider=provider.name, code_verifier=verifier,
                           binding=core.binding_hash(binding) if binding else None)
    now = engine.now()
    record_id = core.state_id(state)
    sealed = engine.seal(json.dumps(pending.as_json()).encode(), record_id)
    with engine.store.transaction() as tx:
        tx.put_session(AuthSession(
            pool_id=request.pool_id, id=record_id, client_id=request.client_id, username_key="", sub="",
            challenge=_PENDING, typed_username="", created=now, expires=now + core.PENDING_LIFETIME,
            progress=base64.b64encode(sealed).decode("ascii"),
        ))
    query = core.upstream_parameters(
        client_id=details["client_id"], redirect_uri=callback(base), scopes=details.get("authorize_scopes") or "openid",
        state=state, nonce=nonce, code_challenge=core.pkce_challenge(verifier),
    )
    events.info("federation started: pool=%s client=%s provider=%s", request.pool_id, request.client_id, provider.name)
    return oauth.with_parameters(endpoints.authorize, query)


def callback(base: str) -> str:
    """The redirect URI registered at the provider: `<domain base>/oauth2/idpresponse`."""
    return base.rstrip("/") + core.CALLBACK_PATH


def _random(engine: Engine, n: int) -> str:
    return base64.urlsafe_b64encode(engine.entropy.random_bytes(n)).rstrip(b"=").decode("ascii")


def _provider(tx, request: AuthorizeRequest) -> PoolResource:
    from authflow.service.identity_providers import providers_of

    client = tx.get_client(request.client_id)
    provider = core.provider_for(providers_of(tx, request.pool_id), request)
    if client is None or provider.name not in core_oauth.supported_providers(client):
        raise core.failure(f"{provider.name} is not an identity provider of this client")
    if provider.body["ProviderType"] != "OIDC":
        raise core.failure(f"sign-in through {provider.body['ProviderType']} identity providers is not available: "
                           "authflow federates with OIDC identity providers only")
    return provider


# -- the provider's return --------------------------------------------------------------------


def finish(engine: Engine, domain: str, params: Mapping[str, str], *, base: str,
           binding: str | None = None) -> str:
    """GET /oauth2/idpresponse: the Location the browser goes to next (the app's redirect
    URI with a code or tokens, or an error; the domain's /error page when the `state` is
    unknown, spent or expired, or the browser lacks the binding `start` was given)."""
    pending = _spend(engine, domain, params.get("state") or "")
    if pending is not None and not pending.bound_to(binding):
        events.info("federation return refused: another browser's state (domain=%s)", domain)
        pending = None
    if pending is None:
        events.info("federation return refused: unknown, spent or expired state (domain=%s)", domain)
        return oauth.error_page(base, "invalid_request", None)
    request = pending.request
    try:
        sub = _sign_in(engine, pending, params, base=base)
        return oauth.complete(engine, request, sub=sub, auth_time=engine.now())
    except OAuthError as err:
        if err.error == "redirect_mismatch":
            return oauth.error_page(base, err.error, request.client_id)
        events.info("federation failed: pool=%s provider=%s: %s", request.pool_id, pending.provider, err)
        return oauth.refuse(request, err.error, err.description)
    except Exception:  # a provider's surprise must not become a trace in the browser
        events.exception("federation failed: pool=%s provider=%s", request.pool_id, pending.provider)
        return oauth.refuse(request, "server_error", "the federated sign-in failed")


def _spend(engine: Engine, domain: str, state: str) -> core.Pending | None:
    if not state:
        return None
    record_id = core.state_id(state)
    now = engine.now()
    try:
        with engine.store.transaction() as tx:
            found = tx.find_resource("domain", domain)
            record = tx.get_session(record_id)
            if found is None or record is None or record.pool_id != found.pool_id or record.used or \
                    record.challenge != _PENDING or now >= record.expires or not record.progress:
                return None
            tx.put_session(replace(record, used=True, version=record.version + 1))
    except TransientConflict:  # a concurrent return with the same state won
        return None
    raw = engine.unseal(base64.b64decode(record.progress), record_id)
    pending = core.Pending.from_json(json.loads(raw))
    return pending if pending.request.domain == domain else None


def _sign_in(engine: Engine, pending: core.Pending, params: Mapping[str, str], *, base: str) -> str:
    request = pending.request
    if params.get("error"):
        # The provider refused (the user cancelled, ...): its error, passed on.
        error = params["error"] if params["error"] in ("access_denied", "invalid_request") else "invalid_request"
        raise OAuthError(error, params.get("error_description") or f"{pending.provider} Error - {params['error']}")
    code = params.get("code")
    if not code:
        raise core.failure(f"{pending.provider} Error - no authorization code was returned")
    with engine.store.transaction() as tx:
        provider = _provider(tx, request)
    endpoints = _endpoints(provider)
    details = provider.body["ProviderDetails"]
    tokens = _exchange(provider, endpoints, code, callback(base), pending.code_verifier)
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise core.failure(f"{provider.name} Error - the token response holds no id_token")
    claims = _verified(provider, endpoints, id_token)
    core.check_id_token(claims, issuer=details["oidc_issuer"], client_id=details["client_id"],
                        nonce=request.nonce or "", now=engine.now(), provider=provider.name)
    access = tokens.get("access_token")
    if endpoints.userinfo and isinstance(access, str):
        info = _userinfo(provider, endpoints.userinfo, access)
        if info.get("sub") not in (None, claims["sub"]):
            raise core.failure(f"{provider.name} Error - userInfo names another subject")
        claims = {**claims, **info}
    return _store_user(engine, request, provider, claims)


def _store_user(engine: Engine, request: AuthorizeRequest, provider: PoolResource, claims: Mapping[str, Any]) -> str:
    for attempt in range(oauth.ATTEMPTS):
        try:
            with engine.store.transaction() as tx:
                return _store_user_in(engine, tx, request, provider, claims)
        except TransientConflict:
            if attempt == oauth.ATTEMPTS - 1:
                raise OAuthError("server_error", "too many concurrent requests; try again") from None
    raise AssertionError("unreachable")


def _store_user_in(engine: Engine, tx, request: AuthorizeRequest, provider: PoolResource,
                   claims: Mapping[str, Any]) -> str:
    now = engine.now()
    pool = engine.require_pool(tx, request.pool_id)
    client = tx.get_client(request.client_id)
    if client is None:
        raise OAuthError("redirect_mismatch", "the app client is gone")
    mapping = dict(provider.body.get("AttributeMapping") or {"username": "sub"})
    subject = core.subject_of(claims, mapping)
    mapped = core.mapped_attributes(
        mapping, claims, writable=cc.writable_attributes(client.config, pool.config),
        schema=attribute_definitions(pool.config.get("SchemaAttributes") or ()),
    )
    linked = None
    for name, attribute in core.link_candidates(provider.name, subject, mapping, mapped):
        link = tx.get_resource(pool.id, resources.IDENTITY_LINK, name)
        if link is not None and link.body.get("ProviderAttributeName", "Cognito_Subject") == attribute:
            linked = tx.get_user_by_sub(pool.id, link.body["sub"])
            if linked is not None:
                break
    federated = None
    if linked is None:
        username = core.federated_username(provider.name, subject)
        federated = tx.get_user(pool.id, identity.username_key(pool.config, username))
    try:
        decided = core.decide_sign_in(pool, provider, subject=subject, mapped=mapped, linked=linked,
                                      federated=federated, new_sub=core_users.new_sub(engine.entropy), now=now)
    except IllegalTransition:
        raise core.failure(f"the user {federated.username if federated else ''} is not a federated user") from None
    if decided.put is not None:
        tx.put_user(decided.put)
    events.info("federated sign-in: pool=%s provider=%s sub=%s%s", pool.id, provider.name, decided.sub,
                " (linked)" if linked is not None else "")
    return decided.sub


# -- talking to the provider -------------------------------------------------------------------


def _endpoints(provider: PoolResource) -> Endpoints:
    details = provider.body["ProviderDetails"]
    explicit = {k: details.get(k) for k in ("authorize_url", "token_url", "jwks_uri", "attributes_url")}
    found: Mapping[str, Any] = {}
    if not all(explicit[k] for k in ("authorize_url", "token_url", "jwks_uri")):
        url = details["oidc_issuer"].rstrip("/") + "/.well-known/openid-configuration"
        try:
            status, body = _http("GET", url)
        except _Unreachable as err:
            raise _unreachable(err, "Timeout occurred in calling IdP discovery endpoint", "discovery endpoint") from None
        found = _json(body) if status == 200 else {}
        if not found:
            raise core.failure(f"{provider.name} Error - {status} error getting the OpenID configuration")
    authorize = explicit["authorize_url"] or found.get("authorization_endpoint")
    token = explicit["token_url"] or found.get("token_endpoint")
    jwks = explicit["jwks_uri"] or found.get("jwks_uri")
    if not (isinstance(authorize, str) and authorize and isinstance(token, str) and token and
            isinstance(jwks, str) and jwks):
        raise core.failure(f"{provider.name} Error - the provider publishes no authorization, token or JWKS endpoint")
    userinfo = explicit["attributes_url"] or found.get("userinfo_endpoint") or None
    return Endpoints(authorize=authorize, token=token, jwks=jwks, userinfo=userinfo if isinstance(userinfo, str) else None)


def _exchange(provider: PoolResource, endpoints: Endpoints, code: str, redirect_uri: str, verifier: str) -> dict:
    details = provider.body["ProviderDetails"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": details["client_id"], "code_verifier": verifier}
    if details.get("client_secret"):
        form["client_secret"] = details["client_secret"]  # client_secret_post
    try:
        status, body = _http("POST", endpoints.token, data=urlencode(form).encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    except _Unreachable as err:
        raise _unreachable(err, "Timeout occurred in calling IdP token endpoint", "token endpoint") from None
    answer = _json(body)
    if status != 200 or not answer:
        reason = answer.get("error") if isinstance(answer.get("error"), str) else ""
        raise core.failure(f"{provider.name} Error - {status} error getting token{' ' + reason if reason else ''}")
    return answer


def _verified(provider: PoolResource, endpoints: Endpoints, id_token: str) -> dict[str, Any]:
    try:
        status, body = _http("GET", endpoints.jwks)
    except _Unreachable as err:
        raise _unreachable(err, "Timeout in calling jwks uri", "jwks uri") from None
    jwks = _json(body)
    try:
        header = jwt.get_unverified_header(id_token)
        keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys} if status == 200 else {}
        key = keys.get(header.get("kid"))
        if key is None or header.get("alg") != "RS256":
            raise core.failure(f"{provider.name} Error - the ID token is not signed by a key of the provider")
        return jwt.decode(id_token, key.key, algorithms=["RS256"], options={
            "verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False,
            "verify_iss": False, "require": ["iss", "sub", "aud", "exp", "iat"],
        })  # the claims are judged by core.federation.check_id_token, against the engine's clock
    except jwt.PyJWTError:
        raise core.failure(f"{provider.name} Error - the ID token's signature is invalid") from None


def _userinfo(provider: PoolResource, url: str, access_token: str) -> dict[str, Any]:
    method = provider.body["ProviderDetails"].get("attributes_request_method") or "GET"
    try:
        status, body = _http(method, url, headers={"Authorization": f"Bearer {access_token}"},
                             data=b"" if method == "POST" else None)
    except _Unreachable as err:
        raise _unreachable(err, "Timeout occurred in calling IdP userInfo endpoint", "userInfo endpoint") from None
    info = _json(body)
    if status != 200 or not info:
        raise core.failure(f"{provider.name} Error - {status} error getting user info")
    return info


def _http(method: str, url: str, *, data: bytes | None = None, headers: Mapping[str, str] | None = None,
          ) -> tuple[int, bytes]:
    if not url.startswith(("https://", "http://")):
        raise _Unreachable(url)
    outgoing = urllib.request.Request(url, data=data, method=method,
                                      headers={"Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(outgoing, timeout=TIMEOUT) as answer:  # noqa: S310 (http(s) only, above)
            return answer.status, answer.read(1 << 20)
    except urllib.error.HTTPError as err:
        return err.code, err.read(1 << 20)
    except TimeoutError as err:
        raise _Unreachable(str(err), timeout=True) from None
    except urllib.error.URLError as err:
        timeout = isinstance(err.reason, TimeoutError)
        raise _Unreachable(str(err), timeout=timeout) from None
    except OSError as err:
        raise _Unreachable(str(err)) from None


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
