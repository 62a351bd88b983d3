"""The OAuth 2.0 authorization server's decisions: authorize requests, codes, token grants,
client authentication, userInfo claims.

Theory of operation: every function here is pure; the service (`authflow.service.oauth`)
reads the records, asks these, writes what they decided. An authorize request is checked
in the order Cognito applies the checks (`../shared/reference/oauth2-hosted-login.md`
§5.1): first who may be redirected to at all (an app client of the domain's pool with
`AllowedOAuthFlowsUserPoolClient`, and a `redirect_uri` that is exactly one of its
`CallbackURLs`); while that is not established the browser goes to the domain's `/error`
page and the URI is never used. Once it is, every later refusal is a redirect to that
URI with `error=` (`response_type`, then the flow, then the scopes, then PKCE).

A code's life is `specs/oauth-code.yaml` (ISSUED → REDEEMED / EXPIRED); `redemption`
says which of its triggers a token request is, and the machine refuses every
redemption that is not from ISSUED. The token endpoint's refusals are `OAuthError`s
carrying RFC 6749's error code and the HTTP status Cognito answers with (§5.3, §5.6).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authflow.core.attributes import VERIFIED_FLAGS, is_true
from authflow.core.lifecycle import IllegalTransition, Lifecycle
from authflow.core.records import AppClient, AuthSession, User
from authflow.core.spec import load_spec
from authflow.errors import CognitoError

#: A code works this long after it is issued [D].
CODE_LIFETIME = timedelta(minutes=5)
ISSUED, REDEEMED = "ISSUED", "REDEEMED"
#: The id of a code's record is this prefix and the code's SHA-256: never a hex digest, so
#: no Session string handed to RespondToAuthChallenge can name a code's record.
CODE_ID_PREFIX = "oauth-code:"

OPENID, EMAIL, PHONE, PROFILE = "openid", "email", "phone", "profile"
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
#: The scopes that shape the ID token and userInfo; asked for only beside `openid` [D].
OIDC_CLAIM_SCOPES = frozenset({EMAIL, PHONE, PROFILE})
#: OpenID Connect Core §5.4: the claims each scope releases at userInfo.
SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = {
    PROFILE: ("name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
              "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"),
    EMAIL: ("email", "email_verified"),
    PHONE: ("phone_number", "phone_number_verified"),
}
RESPONSE_TYPES = {"code": "code", "token": "implicit"}  # response_type -> AllowedOAuthFlows value
PROMPTS = frozenset({"login", "none", "consent", "select_account"})
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
#: RFC 7636 §4.1: a verifier is 43 to 128 unreserved characters; an S256 challenge is the
#: 43-character base64url of a SHA-256.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


class OAuthError(CognitoError):
    """A refusal of the OAuth endpoints: `error` is RFC 6749's code (`invalid_grant`, ...),
    `status` the HTTP status Cognito answers with."""

    def __init__(self, error: str, description: str | None = None, *, status: int = 400) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


@functools.cache
def oauth_code() -> Lifecycle:
    """A code's life (`specs/oauth-code.yaml`), built once per process."""
    return Lifecycle(load_spec("oauth-code"))


def code_id(code: str) -> str:
    return CODE_ID_PREFIX + hashlib.sha256(code.encode()).hexdigest()


# -- authorize --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeRequest:
    """A validated /oauth2/authorize (or /login) request."""

    pool_id: str
    client_id: str
    domain: str
    response_type: str  # "code" | "token"
    redirect_uri: str  # exactly a registered CallbackURL (or the DefaultRedirectURI)
    scopes: tuple[str, ...]  # the granted scopes, validated
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None  # "S256" only
    identity_provider: str | None
    idp_identifier: str | None
    prompt: str | None
    lang: str | None
    login_hint: str | None
    query: str  # the original query string, carried through the pages


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeRefusal:
    error: str
    location: str  # the domain's /error page, or redirect_uri?error=...
    to_error_page: bool  # True when the redirect URI is not trusted (never redirect to it)


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """An authorize request refused: to the domain's /error page (`redirect_uri` None: the
    URI is not trusted), or to `redirect_uri` with `error` (in the fragment for
    response_type=token), `state` echoed. The service turns it into an `AuthorizeRefusal`."""

    error: str
    description: str | None = None
    redirect_uri: str | None = None
    fragment: bool = False
    state: str | None = None
    client_id: str | None = None


def oauth_client(client: AppClient | None, pool_id: str) -> bool:
    """Whether `client` is an app client of the pool that may use the OAuth flows."""
    return client is not None and client.pool_id == pool_id and bool(client.config.get("AllowedOAuthFlowsUserPoolClient"))


def registered_redirect(client: AppClient, given: str | None) -> str | None:
    """The redirect URI the request may use: exactly a registered CallbackURL (no
    normalisation: trailing slash, port, case all count), or the DefaultRedirectURI when
    none is given; None when the request names none the client registered."""
    callbacks = list(client.config.get("CallbackURLs") or ())
    if given is None or given == "":
        default = client.config.get("DefaultRedirectURI")
        return default if default in callbacks else None
    return given if given in callbacks else None


def authorize(
    params: Mapping[str, str], *, pool_id: str, domain: str, client: AppClient | None,
    inactive_scopes: Collection[str], query: str,
) -> AuthorizeRequest | Refused:
    """Check an authorize request; `client` is the record `client_id` names (None if none),
    `inactive_scopes` the client's resource-server scopes their server no longer has."""
    client_id = params.get("client_id") or None
    if client is None or not oauth_client(client, pool_id) or not _redirect_flows(client):
        # An unknown client, or one not allowed the browser flows: nothing can be trusted
        # yet, so the browser is shown the error page, as for an unregistered URI [U].
        return Refused(error="redirect_mismatch", client_id=client_id)
    redirect_uri = registered_redirect(client, params.get("redirect_uri"))
    if redirect_uri is None:
        return Refused(error="redirect_mismatch", client_id=client_id)
    response_type = params.get("response_type") or ""
    state = params.get("state")

    def refusal(error: str, description: str | None = None) -> Refused:
        return Refused(error=error, description=description, redirect_uri=redirect_uri,
                       fragment=response_type == "token", state=state, client_id=client.id)

    if not response_type:
        return refusal("invalid_request", "response_type is required")
    if response_type not in RESPONSE_TYPES:
        return refusal("unsupported_response_type")
    if RESPONSE_TYPES[response_type] not in (client.config.get("AllowedOAuthFlows") or ()):
        return refusal("unauthorized_client")
    try:
        scopes = granted_scopes(params.get("scope"), client, inactive_scopes)
    except OAuthError as err:
        return refusal(err.error, err.description)
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    problem = challenge_problem(challenge, method)
    if problem:
        return refusal("invalid_request", problem)
    provider = params.get("identity_provider") or None
    if provider is not None and provider not in supported_providers(client):
        return refusal("invalid_request", f"{provider} is not an identity provider of this client")
    prompt = params.get("prompt") or None
    if prompt is not None and not set(prompt.split()) <= PROMPTS:
        return refusal("invalid_request", "prompt must be login, none, consent or select_account")
    return AuthorizeRequest(
        pool_id=pool_id, client_id=client.id, domain=domain, response_type=response_type,
        redirect_uri=redirect_uri, scopes=scopes, state=state, nonce=params.get("nonce") or None,
        code_challenge=challenge, code_challenge_method=method, identity_provider=provider,
        idp_identifier=params.get("idp_identifier") or None, prompt=prompt, lang=params.get("lang") or None,
        login_hint=params.get("login_hint") or None, query=query,
    )


def _redirect_flows(client: AppClient) -> bool:
    # A client_credentials-only client has no browser flow: it ends at /error [P live].
    return bool({"code", "implicit"} & set(client.config.get("AllowedOAuthFlows") or ()))


def supported_providers(client: AppClient) -> tuple[str, ...]:
    # A client registered without SupportedIdentityProviders still signs in with the pool's
    # own users (COGNITO), which Amplify names by default [U].
    return tuple(client.config.get("SupportedIdentityProviders") or ("COGNITO",))


def granted_scopes(requested: str | None, client: AppClient, inactive: Collection[str]) -> tuple[str, ...]:
    """The scopes a request gets: those it names (each must be one of the client's
    AllowedOAuthScopes), or all of the client's when it names none; resource-server scopes
    their server no longer has are dropped silently [§10.2]."""
    allowed = list(client.config.get("AllowedOAuthScopes") or ())
    if requested is None or not requested.strip():
        names = allowed
    else:
        names = list(dict.fromkeys(requested.split()))
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise OAuthError("invalid_scope", f"{unknown[0]} is not a scope of this client")
        if OIDC_CLAIM_SCOPES & set(names) and OPENID not in names:
            raise OAuthError("invalid_scope", "email, phone and profile are granted only with openid")
    scopes = tuple(n for n in names if n not in inactive)
    if not scopes:
        raise OAuthError("invalid_scope", "no scope of this client is left to grant")
    return scopes


def challenge_problem(challenge: str | None, method: str | None) -> str | None:
    """What is wrong with a PKCE challenge (None when it is fine or absent): Cognito
    supports S256 only, so `plain`, a method without a challenge and a challenge without a
    method are malformed requests."""
    if challenge is None and method is None:
        return None
    if challenge is None:
        return "code_challenge is required with code_challenge_method"
    if method is None:
        return "code_challenge_method is required with code_challenge"
    if method != "S256":
        return "code_challenge_method must be S256"
    if not _S256_CHALLENGE.fullmatch(challenge):
        return "code_challenge must be the base64url SHA-256 of the verifier (43 characters)"
    return None


def pkce_matches(challenge: str, verifier: str | None) -> bool:
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return False
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")
    return hmac.compare_digest(digest.encode(), challenge.encode())


# -- codes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeBindings:
    """What a code was issued for, kept (sealed) in its record's `progress`."""

    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    auth_time: datetime
    generation: int  # the user's token_generation: a global sign-out voids the code

    def as_json(self) -> dict[str, Any]:
        return {"redirect_uri": self.redirect_uri, "scopes": list(self.scopes), "nonce": self.nonce,
                "code_challenge": self.code_challenge, "auth_time": self.auth_time.isoformat(),
                "generation": self.generation}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CodeBindings:
        return cls(redirect_uri=data["redirect_uri"], scopes=tuple(data["scopes"]), nonce=data["nonce"],
                   code_challenge=data["code_challenge"], auth_time=datetime.fromisoformat(data["auth_time"]),
                   generation=int(data["generation"]))


def new_code_record(request: AuthorizeRequest, user: User, *, code: str, progress: str, now: datetime) -> AuthSession:
    oauth_code().next_state("ABSENT", "issue")
    return AuthSession(
        pool_id=request.pool_id, id=code_id(code), client_id=request.client_id, username_key=user.username_key,
        sub=user.sub, challenge=ISSUED, typed_username=user.username, created=now, expires=now + CODE_LIFETIME,
        progress=progress,
    )


def invalid_grant() -> OAuthError:
    return OAuthError("invalid_grant")


def redemption(
    record: AuthSession | None, bindings: CodeBindings | None, *, client_id: str, redirect_uri: str,
    verifier: str | None, now: datetime,
) -> str:
    """The trigger a redemption of `record` is: "redeem" (tokens), or "refuse" (the code is
    spent, invalid_grant follows). Raises invalid_grant for redemptions that change nothing:
    no such code, expired, already used, or another client's."""
    machine = oauth_code()
    if record is None or bindings is None or not record.id.startswith(CODE_ID_PREFIX):
        raise invalid_grant()
    try:
        if now >= record.expires:
            machine.next_state(record.challenge, "expire")
            raise invalid_grant()
        if record.client_id != client_id:
            machine.next_state(record.challenge, "foreign_client")
            raise invalid_grant()
        if redirect_uri != bindings.redirect_uri:
            trigger = "refuse"
        elif bindings.code_challenge is not None and not pkce_matches(bindings.code_challenge, verifier):
            trigger = "refuse"
        else:
            trigger = "redeem"
        machine.next_state(record.challenge, trigger)
    except IllegalTransition:
        raise invalid_grant() from None
    return trigger


# -- the token endpoint's client authentication ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    secret: str | None
    basic: bool  # sent as HTTP Basic (client_secret_basic)


def client_credentials(form: Mapping[str, str], authorization: str | None) -> ClientCredentials:
    """Who the request says it is: `Authorization: Basic base64(id:secret)`
    (client_secret_basic), or `client_id` (+ `client_secret`) in the body."""
    body_id = form.get("client_id") or None
    body_secret = form.get("client_secret") or None
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise OAuthError("invalid_client", "only HTTP Basic client authentication is accepted")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed Basic credentials") from None
        given_id, colon, secret = decoded.partition(":")
        # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
        given_id, secret = _form_decoded(given_id), _form_decoded(secret)
        if not colon or not given_id:
            raise OAuthError("invalid_client", "malformed Basic credentials")
        if body_secret is not None:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        if body_id is not None and body_id != given_id:
            raise OAuthError("invalid_client", "client_id does not match the Basic credentials")
        return ClientCredentials(given_id, secret, True)
    if body_id is None:
        raise OAuthError("invalid_client", "client authentication is required")
    return ClientCredentials(body_id, body_secret, False)


def _form_decoded(text: str) -> str:
    """application/x-www-form-urlencoded decoding ('+' and %XX); malformed escapes stay."""
    raw, i, text = bytearray(), 0, text.replace("+", " ")
    while i < len(text):
        if text[i] == "%" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 1:i + 3]):
            raw.append(int(text[i + 1:i + 3], 16))
            i += 3
        else:
            raw.extend(text[i].encode("utf-8"))
            i += 1
    return raw.decode("utf-8", errors="replace")


def check_client_secret(client: AppClient | None, expected: str | Sequence[str] | None, given: ClientCredentials, *,
                        pool_id: str, status: int = 400) -> AppClient:
    """The client, if the request authenticated as it: a client with secrets must send one
    of them (`expected`: all it accepts now, each compared in constant time); a public
    client sends none."""
    if client is None or client.pool_id != pool_id:
        raise OAuthError("invalid_client", status=status)
    expected = (expected,) if isinstance(expected, str) else tuple(expected or ())
    if not expected:
        if given.secret:
            raise OAuthError("invalid_client", "this client has no secret", status=status)
        return client
    ok = False
    for secret in expected:
        ok |= hmac.compare_digest((given.secret or "").encode(), secret.encode())
    if not given.secret or not ok:
        raise OAuthError("invalid_client", status=status)
    return client


def check_grant_type(form: Mapping[str, str]) -> str:
    grant = form.get("grant_type") or ""
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant not in GRANT_TYPES:
        raise OAuthError("unsupported_grant_type")
    return grant


def require(form: Mapping[str, str], name: str) -> str:
    value = form.get(name) or ""
    if not value:
        raise OAuthError("invalid_request", f"{name} is required")
    return value


def allows_flow(client: AppClient, flow: str) -> bool:
    return bool(client.config.get("AllowedOAuthFlowsUserPoolClient")) and flow in (
        client.config.get("AllowedOAuthFlows") or ())


def machine_scopes(requested: str | None, client: AppClient, inactive: Collection[str]) -> tuple[str, ...]:
    """client_credentials: the requested resource-server scopes (each one of the client's),
    or all the client's active ones when none are named [§4.3]."""
    custom = [s for s in client.config.get("AllowedOAuthScopes") or () if "/" in s]
    if requested is None or not requested.strip():
        names = custom
    else:
        names = list(dict.fromkeys(requested.split()))
        wrong = [n for n in names if n not in custom]
        if wrong:
            raise OAuthError("invalid_scope", f"{wrong[0]} is not a resource-server scope of this client")
    scopes = tuple(n for n in names if n not in inactive)
    if not scopes:
        raise OAuthError("invalid_scope", "no resource-server scope of this client is left to grant")
    return scopes


def resource_server_of(scope: str) -> tuple[str, str] | None:
    """(Identifier, ScopeName) of a resource-server scope (the identifier may hold '/')."""
    if "/" not in scope:
        return None
    identifier, _, name = scope.rpartition("/")
    return (identifier, name) if identifier and name else None


def inactive_scopes(scopes: Sequence[str], servers: Mapping[str, Mapping[str, Any] | None]) -> frozenset[str]:
    """The resource-server scopes among `scopes` whose server (by Identifier, its body or
    None) is gone or no longer lists them."""
    out = set()
    for scope in scopes:
        parts = resource_server_of(scope)
        if parts is None:
            continue
        body = servers.get(parts[0])
        names = {s.get("ScopeName") for s in (body or {}).get("Scopes") or ()}
        if parts[1] not in names:
            out.add(scope)
    return frozenset(out)


# -- tokens and userInfo -----------------------------------------------------------------------


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: base64url of the left half of the SHA-256 of the access token."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def userinfo_claims(user: User, scopes: Collection[str], readable: Collection[str]) -> dict[str, Any]:
    """userInfo's answer: `sub` and `username` always; with `openid` alone every attribute
    the client may read, else the claims of the OIDC scopes granted. Verified flags are
    the strings the attribute APIs use ("true"), as the peers that claim parity send [U]."""
    wanted: set[str] | None
    named = OIDC_CLAIM_SCOPES & set(scopes)
    wanted = None if not named else {c for s in named for c in SCOPE_CLAIMS[s]}
    out: dict[str, Any] = {"sub": user.sub}
    for name, value in user.attributes.items():
        if name == "sub" or name not in readable or (wanted is not None and name not in wanted):
            continue
        out[name] = ("true" if is_true(value) else "false") if name in VERIFIED_FLAGS else value
    out["username"] = user.username
    return out
