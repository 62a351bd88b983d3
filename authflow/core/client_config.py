"""App-client configuration: CreateUserPoolClient / UpdateUserPoolClient semantics and rendering.

Theory of operation
-------------------
An app client's configuration is one plain dict in Cognito's wire spelling (the
``UserPoolClientType`` members that come from the request or carry a service default). The
identity members (``UserPoolId``, ``ClientId``, dates) and the client secret are not stored in
it: the service keeps the secret apart and passes everything to :func:`render_client`.

* :func:`new_client_config` decides a ``CreateUserPoolClient`` request against the pool's
  configuration (attribute permissions must name schema attributes).
* :func:`updated_client_config` decides ``UpdateUserPoolClient``: every updatable member is
  replaced, so an omitted one reverts to its default; ``ClientName`` has no default and is kept
  when omitted.
* The rest of the engine reads clients through the accessors at the bottom, which also carry
  the meaning of legacy settings (old ``ExplicitAuthFlows`` values, unset attribute lists).

Token validities are stored exactly as Cognito echoes them (value plus ``TokenValidityUnits``);
:func:`token_validity_seconds` turns them into seconds. All functions are pure and never mutate
or share their arguments; refused requests raise and return nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authflow.core.schema import AttributeDef, attribute_definitions
from authflow.errors import (
    InvalidOAuthFlowException,
    InvalidParameterException,
    ScopeDoesNotExistException,
)

#: The scopes Cognito defines itself (every other scope is a resource server's).
STANDARD_SCOPES = frozenset({"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"})

__all__ = [
    "DEFAULT_EXPLICIT_AUTH_FLOWS",
    "STANDARD_SCOPES",
    "PoolOAuth",
    "LEGACY_AUTH_FLOWS",
    "allowed_auth_flows",
    "auth_session_validity_minutes",
    "new_client_config",
    "prevent_user_existence_errors",
    "readable_attributes",
    "redirect_url_problem",
    "render_client",
    "render_client_description",
    "token_revocation_enabled",
    "token_validity_seconds",
    "updated_client_config",
    "writable_attributes",
]

DEFAULT_EXPLICIT_AUTH_FLOWS = ("ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH")
#: Pre-2019 ExplicitAuthFlows values and the ALLOW_* flag each one corresponds to.
LEGACY_AUTH_FLOWS = {
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY": "ALLOW_CUSTOM_AUTH",
}

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# (value member, unit key, default unit, min seconds, max seconds, default seconds)
_TOKENS = (
    ("AccessTokenValidity", "AccessToken", "hours", 5 * 60, 86400, 3600),
    ("IdTokenValidity", "IdToken", "hours", 5 * 60, 86400, 3600),
    ("RefreshTokenValidity", "RefreshToken", "days", 3600, 3650 * 86400, 30 * 86400),
)
_TOKEN_KEYS = {"AccessTokenValidity": "access", "IdTokenValidity": "id",
               "RefreshTokenValidity": "refresh"}

# Attributes no app client may write: the verified flags are Cognito's to set, sub is immutable.
_NEVER_WRITABLE = frozenset({"sub", "email_verified", "phone_number_verified"})

# Members echoed only when the request sets them.
_OPTIONAL_ECHO = ("SupportedIdentityProviders", "CallbackURLs", "LogoutURLs",
                  "DefaultRedirectURI", "AllowedOAuthFlows", "AllowedOAuthScopes",
                  "AnalyticsConfiguration", "RefreshTokenRotation")
_HANDLED = frozenset({
    "UserPoolId", "ClientId", "ClientName", "GenerateSecret", "ClientSecret",
    "AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity", "TokenValidityUnits",
    "ReadAttributes", "WriteAttributes", "ExplicitAuthFlows", "AllowedOAuthFlowsUserPoolClient",
    "PreventUserExistenceErrors", "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData", "AuthSessionValidity", *_OPTIONAL_ECHO,
})
_NOT_CONFIG = frozenset({"CreationDate", "LastModifiedDate"})

#: ``UserPoolClientType`` members in botocore's (and AWS's) order.
_CLIENT_MEMBER_ORDER = (
    "UserPoolId", "ClientName", "ClientId", "ClientSecret", "LastModifiedDate", "CreationDate",
    "RefreshTokenValidity", "AccessTokenValidity", "IdTokenValidity", "TokenValidityUnits",
    "ReadAttributes", "WriteAttributes", "ExplicitAuthFlows", "SupportedIdentityProviders",
    "CallbackURLs", "LogoutURLs", "DefaultRedirectURI", "AllowedOAuthFlows",
    "AllowedOAuthScopes", "AllowedOAuthFlowsUserPoolClient", "AnalyticsConfiguration",
    "PreventUserExistenceErrors", "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData", "AuthSessionValidity", "RefreshTokenRotation",
    "ClientType",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolOAuth:
    """What of the pool an app client's OAuth settings may name: the custom scopes its
    resource servers define (``<Identifier>/<ScopeName>``) and its identity providers."""

    pool_id: str
    custom_scopes: frozenset[str]
    providers: frozenset[str]


# -- decisions -----------------------------------------------------------------------------


def new_client_config(request: Mapping, *, pool_config: Mapping, resources: PoolOAuth | None = None) -> dict:
    """The configuration a ``CreateUserPoolClient`` request creates.

    The secret itself is generated (or taken from ``ClientSecret``) by the service and never
    stored here. ``resources`` (the pool's custom scopes and identity providers) lets the
    OAuth scopes and providers be checked; without it those two checks are skipped.
    """
    if request.get("GenerateSecret") and request.get("ClientSecret"):
        raise InvalidParameterException(
            "You cannot specify both GenerateSecret as true and a ClientSecret value.",
            member="ClientSecret",
        )
    has_secret = bool(request.get("GenerateSecret") or request.get("ClientSecret"))
    return {
        "ClientName": request["ClientName"],
        **_updatable_members(request, pool_config, has_secret=has_secret, verb="creating", resources=resources),
    }


def updated_client_config(
    current: Mapping, request: Mapping, *, pool_config: Mapping, has_secret: bool | None = None,
    resources: PoolOAuth | None = None,
) -> dict:
    """The configuration after an ``UpdateUserPoolClient`` request (full replacement).

    ``has_secret`` tells whether the client has a secret; rules that depend on it (OAuth
    ``client_credentials``, ``EnablePropagateAdditionalUserContextData``) are skipped when the
    caller passes None.
    """
    return {
        "ClientName": request.get("ClientName") or current["ClientName"],
        **_updatable_members(request, pool_config, has_secret=has_secret, verb="updating", resources=resources),
    }


def _updatable_members(
    request: Mapping, pool_config: Mapping, *, has_secret: bool | None, verb: str, resources: PoolOAuth | None
) -> dict:
    config: dict[str, Any] = _token_validities(request)
    definitions = attribute_definitions(pool_config.get("SchemaAttributes") or ())
    read = _attribute_list(request.get("ReadAttributes"))
    write = _attribute_list(request.get("WriteAttributes"))
    if read:
        _check_read_attributes(read, definitions, verb)
        config["ReadAttributes"] = read
    if write:
        _check_write_attributes(write, definitions, verb)
        config["WriteAttributes"] = write
    config["ExplicitAuthFlows"] = _explicit_auth_flows(request.get("ExplicitAuthFlows"))
    _check_oauth(request, has_secret)
    _check_redirect_urls(request)
    if resources is not None:
        _check_oauth_resources(request, resources)
    for key in _OPTIONAL_ECHO:
        if request.get(key) is not None:
            config[key] = copy.deepcopy(request[key])
    config["AllowedOAuthFlowsUserPoolClient"] = bool(
        request.get("AllowedOAuthFlowsUserPoolClient", False)
    )
    config["PreventUserExistenceErrors"] = request.get("PreventUserExistenceErrors") or "LEGACY"
    revocation = request.get("EnableTokenRevocation")
    config["EnableTokenRevocation"] = True if revocation is None else bool(revocation)
    propagate = bool(request.get("EnablePropagateAdditionalUserContextData", False))
    if propagate and has_secret is False:
        raise InvalidParameterException(
            "EnablePropagateAdditionalUserContextData can only be activated for an app client "
            "that has a client secret.",
            member="EnablePropagateAdditionalUserContextData",
        )
    config["EnablePropagateAdditionalUserContextData"] = propagate
    config["AuthSessionValidity"] = request.get("AuthSessionValidity") or 3
    for key, value in request.items():
        if key not in _HANDLED and key not in _NOT_CONFIG:
            config[key] = copy.deepcopy(value)
    return config


def _token_validities(request: Mapping) -> dict:
    given_units = request.get("TokenValidityUnits") or {}
    units = {key: given_units.get(key) or unit for _, key, unit, *_ in _TOKENS}
    config: dict[str, Any] = {}
    for member, key, _, low, high, default in _TOKENS:
        value = request.get(member)
        seconds_per_unit = _UNIT_SECONDS[units[key]]
        if not value:
            if member == "RefreshTokenValidity":
                # Omitted or 0: Cognito stores its 30-day default, in the client's own unit
                # (every unit divides 30 days exactly).
                config[member] = default // seconds_per_unit
            continue
        if not low <= value * seconds_per_unit <= high:
            # Observed Cognito text; the member and range travel as structured fields.
            raise InvalidParameterException(
                "Invalid range for token validity.",
                member=member,
                minimum_seconds=low,
                maximum_seconds=high,
            )
        config[member] = value
    config["TokenValidityUnits"] = units
    # Keep Cognito's echo order: refresh, access, ID, units.
    order = ("RefreshTokenValidity", "AccessTokenValidity", "IdTokenValidity", "TokenValidityUnits")
    return {key: config[key] for key in order if key in config}


def _attribute_list(given: Sequence[str] | None) -> list[str]:
    # An empty list is the same as no list: the client falls back to the default permissions.
    return list(dict.fromkeys(given or ()))


def _check_read_attributes(read: list[str], definitions: Mapping[str, AttributeDef], verb: str) -> None:
    for name in read:
        if name not in definitions:
            raise InvalidParameterException(
                f"Invalid read attributes specified while {verb} a client",
                member="ReadAttributes",
                attribute=name,
            )


def _check_write_attributes(
    write: list[str], definitions: Mapping[str, AttributeDef], verb: str
) -> None:
    message = f"Invalid write attributes specified while {verb} a client"
    for name in write:
        definition = definitions.get(name)
        if definition is None or name in _NEVER_WRITABLE or definition.developer_only:
            raise InvalidParameterException(message, member="WriteAttributes", attribute=name)
    # Every app client must be able to write the pool's required attributes.
    missing = sorted(_required(definitions) - set(write))
    if missing:
        raise InvalidParameterException(message, member="WriteAttributes", attribute=missing[0])


def _explicit_auth_flows(given: Sequence[str] | None) -> list[str]:
    if given is None:
        return list(DEFAULT_EXPLICIT_AUTH_FLOWS)
    flows = list(dict.fromkeys(given))
    legacy = [flow for flow in flows if flow in LEGACY_AUTH_FLOWS]
    if legacy and len(legacy) != len(flows):
        raise InvalidParameterException(
            "ExplicitAuthFlows can't combine the legacy values ADMIN_NO_SRP_AUTH, "
            "CUSTOM_AUTH_FLOW_ONLY and USER_PASSWORD_AUTH with values that begin with ALLOW_.",
            member="ExplicitAuthFlows",
        )
    return flows


def _check_oauth(request: Mapping, has_secret: bool | None) -> None:
    flows = set(request.get("AllowedOAuthFlows") or ())
    scopes = request.get("AllowedOAuthScopes") or ()
    callbacks = request.get("CallbackURLs") or ()
    if request.get("AllowedOAuthFlowsUserPoolClient") and (not flows or not scopes):
        raise InvalidParameterException(
            "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is "
            "allowed to use OAuth flows.",
            member="AllowedOAuthFlows",
        )
    interactive = flows & {"code", "implicit"}
    if "client_credentials" in flows and interactive:
        raise InvalidOAuthFlowException(
            "client_credentials flow can not be selected along with code flow or implicit flow.",
            member="AllowedOAuthFlows",
        )
    if "client_credentials" in flows and has_secret is False:
        raise InvalidOAuthFlowException(
            "client_credentials flow can not be selected if client does not have a client secret.",
            member="AllowedOAuthFlows",
        )
    if interactive and not callbacks:
        raise InvalidOAuthFlowException(
            "CallbackUrls can not be empty when code flow or implicit flow is selected",
            member="CallbackURLs",
        )
    default_redirect = request.get("DefaultRedirectURI")
    if default_redirect and default_redirect not in callbacks:
        raise InvalidParameterException(
            "DefaultRedirectURI must be one of the CallbackURLs.", member="DefaultRedirectURI"
        )


def _check_redirect_urls(request: Mapping) -> None:
    """CallbackURLs and LogoutURLs: absolute, no fragment, HTTPS unless the host is the
    loopback (http://localhost, http://127.0.0.1, http://[::1], any port); other schemes
    (``myapp://callback``) are an app's own and allowed."""
    for member in ("CallbackURLs", "LogoutURLs"):
        for url in request.get(member) or ():
            problem = redirect_url_problem(url)
            if problem:
                raise InvalidParameterException(f"{member} {problem}: {url}", member=member, url=url)


def redirect_url_problem(url: str) -> str | None:
    """Why ``url`` may not be a callback or sign-out URL, or None."""
    match = _ABSOLUTE_URL.match(url)
    if match is None:
        return "must be absolute URLs (with a scheme)"
    if "#" in url:
        return "must not contain a fragment"
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme not in ("http", "https"):
        return None
    host = _host_of(rest)
    if not host:
        return "must name a host"
    if scheme == "http" and host not in _LOOPBACK_HOSTS:
        return "must use HTTPS unless the host is localhost, 127.0.0.1 or [::1]"
    return None


# RFC 3986 scheme, then the rest; the core parses by hand (no urllib in the pure core).
_ABSOLUTE_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.+)", re.DOTALL)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _host_of(rest: str) -> str:
    """The host of an http(s) URL's part after the scheme (lower case, brackets kept for
    IPv6, no user info or port); empty if there is no authority."""
    if not rest.startswith("//"):
        return ""
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0].rpartition("@")[2]
    if authority.startswith("["):
        return authority[: authority.find("]") + 1].lower() if "]" in authority else ""
    return authority.partition(":")[0].lower()


def _check_oauth_resources(request: Mapping, resources: PoolOAuth) -> None:
    for scope in request.get("AllowedOAuthScopes") or ():
        if scope not in STANDARD_SCOPES and scope not in resources.custom_scopes:
            raise ScopeDoesNotExistException(f"Invalid scope requested: {scope}", member="AllowedOAuthScopes")
    for provider in request.get("SupportedIdentityProviders") or ():
        if provider != "COGNITO" and provider not in resources.providers:
            raise InvalidParameterException(
                f"The provider {provider} does not exist for User Pool {resources.pool_id}",
                member="SupportedIdentityProviders",
            )


# -- rendering -----------------------------------------------------------------------------


def render_client(
    config: Mapping,
    *,
    pool_id: str,
    client_id: str,
    client_secret: str | None,
    created: datetime,
    modified: datetime,
) -> dict:
    """The ``UserPoolClientType`` dict boto3 returns from Create/Describe/UpdateUserPoolClient."""
    merged: dict[str, Any] = {
        **copy.deepcopy(dict(config)),
        "UserPoolId": pool_id,
        "ClientId": client_id,
        "CreationDate": created,
        "LastModifiedDate": modified,
    }
    if client_secret is not None:
        merged["ClientSecret"] = client_secret
    ordered = {key: merged[key] for key in _CLIENT_MEMBER_ORDER if key in merged}
    ordered.update((key, value) for key, value in merged.items() if key not in ordered)
    return ordered


def render_client_description(config: Mapping, *, pool_id: str, client_id: str) -> dict:
    """The ``UserPoolClientDescription`` dict of one ListUserPoolClients entry."""
    return {"ClientId": client_id, "UserPoolId": pool_id, "ClientName": config["ClientName"]}


# -- typed accessors -----------------------------------------------------------------------


def allowed_auth_flows(config: Mapping) -> frozenset[str]:
    """The client's enabled flows, always spelled as ``ALLOW_*`` flags.

    Legacy configurations (any of :data:`LEGACY_AUTH_FLOWS`, or an explicitly empty list) came
    from a time when SRP and refresh needed no flag, so both are implied; the exception is
    ``CUSTOM_AUTH_FLOW_ONLY``, which limited the client to custom authentication (plus refresh).
    """
    flows = config.get("ExplicitAuthFlows")
    if flows is None:
        return frozenset(DEFAULT_EXPLICIT_AUTH_FLOWS)
    if flows and not any(flow in LEGACY_AUTH_FLOWS for flow in flows):
        return frozenset(flows)
    if "CUSTOM_AUTH_FLOW_ONLY" in flows:
        return frozenset({"ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"})
    implied = {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    return frozenset(implied | {LEGACY_AUTH_FLOWS[flow] for flow in flows})


def token_validity_seconds(config: Mapping) -> dict[str, int]:
    """Lifetimes in seconds, keys ``access``, ``id`` and ``refresh``."""
    units = config.get("TokenValidityUnits") or {}
    out: dict[str, int] = {}
    for member, key, unit, _, _, default in _TOKENS:
        value = config.get(member)
        out[_TOKEN_KEYS[member]] = (
            value * _UNIT_SECONDS[units.get(key) or unit] if value else default
        )
    return out


def auth_session_validity_minutes(config: Mapping) -> int:
    return config.get("AuthSessionValidity") or 3


def prevent_user_existence_errors(config: Mapping) -> bool:
    """True when ``PreventUserExistenceErrors`` is ``ENABLED``."""
    return config.get("PreventUserExistenceErrors") == "ENABLED"


def token_revocation_enabled(config: Mapping) -> bool:
    value = config.get("EnableTokenRevocation")
    return True if value is None else bool(value)


def readable_attributes(config: Mapping, pool_config: Mapping) -> frozenset[str]:
    """Attributes the client may read (GetUser, ID-token claims).

    Unset ``ReadAttributes`` means every schema attribute, custom ones included. ``sub`` is
    always readable: it identifies the user in every token.
    """
    definitions = attribute_definitions(pool_config.get("SchemaAttributes") or ())
    read = config.get("ReadAttributes")
    if not read:
        return frozenset(definitions)
    return frozenset(read) | {"sub"}


def writable_attributes(config: Mapping, pool_config: Mapping) -> frozenset[str]:
    """Attributes the client may write (SignUp, UpdateUserAttributes, challenge answers).

    Unset ``WriteAttributes`` means every attribute except ``sub``, the ``*_verified`` flags and
    developer-only attributes. Required attributes are always writable. Immutable attributes are
    listed too: they may be written once, when the user is created.
    """
    definitions = attribute_definitions(pool_config.get("SchemaAttributes") or ())
    write = config.get("WriteAttributes")
    if not write:
        return frozenset(
            name for name, definition in definitions.items()
            if name not in _NEVER_WRITABLE and not definition.developer_only
        )
    return frozenset(write) | _required(definitions)


def _required(definitions: Mapping[str, AttributeDef]) -> frozenset[str]:
    return frozenset(name for name, d in definitions.items() if d.required and name != "sub")
