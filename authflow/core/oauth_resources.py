"""Decisions and rendering of a pool's OAuth resources: domains, resource servers, identity
providers and the federated identities linked to users.

Theory of operation
-------------------
Each resource is a `PoolResource` record (kind "domain", "resource_server",
"identity_provider", "identity_link") whose `body` holds the members Cognito echoes, in its
own spelling; the record's `created` / `modified` are the dates. This module decides a
request against what the pool already holds (passed in as plain lists of records) and
returns the record to write, or raises the Cognito error; it never writes and never
mutates its arguments. The service opens the transaction, loads, asks, writes.

* Domains: a *prefix* domain (`myprefix`, served at `myprefix.auth.<region>.amazoncognito.com`)
  follows Cognito's prefix rules (lower-case letters, digits, hyphens; none of the words
  aws, amazon, cognito); a *custom* domain (`auth.example.com`) comes with
  `CustomDomainConfig` and must be a host name with a parent domain. Names are unique across
  pools (the store enforces it too). A pool holds at most one domain of each kind.
* Resource servers: an `Identifier` unique in the pool, scopes unique by name within it;
  a scope's full name is `<Identifier>/<ScopeName>` (reference §4.2, §10.13).
* Identity providers: `ProviderDetails` checked per `ProviderType`, the defaults Cognito
  adds shown by Describe (§6.2); `IdpIdentifiers` unique across the pool's providers;
  `AttributeMapping` keys must be mutable pool attributes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core import client_config
from authflow.core.records import PoolResource
from authflow.core.schema import attribute_definitions
from authflow.errors import (
    AliasExistsException,
    DuplicateProviderException,
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)

DOMAIN = "domain"
RESOURCE_SERVER = "resource_server"
IDENTITY_PROVIDER = "identity_provider"
IDENTITY_LINK = "identity_link"

# -- domains -------------------------------------------------------------------------------------

#: Cognito's own wording (observed): a prefix domain that is no prefix, a reserved word,
#: a name another pool holds.
PREFIX_FORMAT = "^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$"
INVALID_PREFIX = (
    "The domain name contains an invalid character. Domain names can only contain lower-case "
    f"letters, numbers, and hyphens. Please enter a different name that follows this format: {PREFIX_FORMAT}"
)
DOMAIN_TAKEN = "Domain already associated with another user pool."
NO_SUCH_DOMAIN = "No such domain or user pool exists."
RESERVED_WORDS = ("aws", "amazon", "cognito")
_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
MANAGED_LOGIN_VERSIONS = (1, 2)


def is_custom_domain(domain: str) -> bool:
    """A custom domain is a host name (it has a dot); a prefix never has one."""
    return "." in domain


def check_prefix(domain: str) -> None:
    if not _PREFIX.fullmatch(domain):
        raise InvalidParameterException(INVALID_PREFIX, member="Domain")
    for word in RESERVED_WORDS:
        if word in domain:
            raise InvalidParameterException(f"Domain cannot contain reserved word: {word}", member="Domain")


def check_custom_domain(domain: str) -> None:
    """A host name in lower case with a parent domain: at least two labels, each 1-63
    letters, digits or inner hyphens, the last not all digits (no bare TLD, no IP)."""
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise InvalidParameterException(
            f"The custom domain {domain} is not a valid domain name: a custom domain is a fully "
            "qualified host name in lower case, such as auth.example.com.",
            member="Domain",
        )


def create_domain(
    pool_id: str, request: Mapping[str, Any], *, taken_by: str | None, pool_domains: Sequence[PoolResource],
    now: datetime,
) -> PoolResource:
    """CreateUserPoolDomain. `taken_by`: the pool holding the name already, if any;
    `pool_domains`: the domains this pool holds."""
    domain = request["Domain"]
    custom = request.get("CustomDomainConfig") is not None
    if custom:
        check_custom_domain(domain)
    else:
        check_prefix(domain)  # an FQDN without CustomDomainConfig fails here, as on Cognito
    version = _managed_login_version(request.get("ManagedLoginVersion"), default=1)
    if taken_by is not None:
        raise InvalidParameterException(DOMAIN_TAKEN, member="Domain")
    if any(is_custom_domain(d.name) == custom for d in pool_domains):
        kind = "custom" if custom else "prefix"
        raise InvalidParameterException(
            f"User pool {pool_id} already has a {kind} domain configured.", member="Domain"
        )
    body: dict[str, Any] = {"ManagedLoginVersion": version}
    if custom:
        body["CustomDomainConfig"] = copy.deepcopy(dict(request["CustomDomainConfig"]))
    if request.get("Routing") is not None:
        body["Routing"] = copy.deepcopy(dict(request["Routing"]))
    return PoolResource(pool_id=pool_id, kind=DOMAIN, name=domain, body=body, created=now, modified=now)


def require_domain_of(pool_id: str, domain: PoolResource | None) -> PoolResource:
    """The domain named by an Update/Delete request, which must belong to the pool."""
    if domain is None or domain.pool_id != pool_id:
        raise InvalidParameterException(NO_SUCH_DOMAIN, member="Domain")
    return domain


def update_domain(domain: PoolResource, request: Mapping[str, Any], *, now: datetime) -> PoolResource:
    """UpdateUserPoolDomain: the certificate (custom domains only), ManagedLoginVersion,
    Routing; members the request omits keep their value (a domain cannot be renamed)."""
    body = dict(domain.body)
    config = request.get("CustomDomainConfig")
    if config is not None:
        if not is_custom_domain(domain.name):
            raise InvalidParameterException(
                "CustomDomainConfig applies only to a custom domain; a prefix domain has no certificate.",
                member="CustomDomainConfig",
            )
        body["CustomDomainConfig"] = copy.deepcopy(dict(config))
    if request.get("ManagedLoginVersion") is not None:
        body["ManagedLoginVersion"] = _managed_login_version(request["ManagedLoginVersion"], default=1)
    if request.get("Routing") is not None:
        body["Routing"] = copy.deepcopy(dict(request["Routing"]))
    return replace(domain, body=body, modified=now, version=domain.version + 1)


def _managed_login_version(value: int | None, *, default: int) -> int:
    if value is None:
        return default
    if value not in MANAGED_LOGIN_VERSIONS:
        raise InvalidParameterException(
            "ManagedLoginVersion must be 1 (the classic hosted UI) or 2 (managed login).",
            member="ManagedLoginVersion",
        )
    return value


def cloudfront_host(domain: str) -> str:
    """A stable CloudFront-style host for the domain (`d` and 13 base32 characters, as
    CloudFront names its distributions), derived from the name: no randomness needed."""
    digest = base64.b32encode(hashlib.sha256(domain.encode("utf-8")).digest()).decode("ascii").lower()
    return f"d{digest[:13]}.cloudfront.net"


def domain_response(domain: PoolResource) -> dict[str, Any]:
    """What Create/UpdateUserPoolDomain return: CloudFrontDomain only for a custom domain
    (a prefix domain's distribution is Cognito's own)."""
    out: dict[str, Any] = {"ManagedLoginVersion": domain.body.get("ManagedLoginVersion", 1)}
    if is_custom_domain(domain.name):
        out["CloudFrontDomain"] = cloudfront_host(domain.name)
    if domain.body.get("Routing"):
        out["Routing"] = copy.deepcopy(dict(domain.body["Routing"]))
    return out


def domain_description(domain: PoolResource, *, account_id: str) -> dict[str, Any]:
    """DomainDescriptionType: always ACTIVE (a domain here is live at once); Version is
    the last change's time as Cognito writes it (yyyyMMddHHmmss)."""
    out: dict[str, Any] = {
        "UserPoolId": domain.pool_id,
        "AWSAccountId": account_id,
        "Domain": domain.name,
        "CloudFrontDistribution": cloudfront_host(domain.name),
        "Version": domain.modified.strftime("%Y%m%d%H%M%S"),
        "Status": "ACTIVE",
    }
    if domain.body.get("CustomDomainConfig"):
        out["CustomDomainConfig"] = copy.deepcopy(dict(domain.body["CustomDomainConfig"]))
    out["ManagedLoginVersion"] = domain.body.get("ManagedLoginVersion", 1)
    if domain.body.get("Routing"):
        out["Routing"] = copy.deepcopy(dict(domain.body["Routing"]))
    return out


def pool_domain_members(domains: Iterable[PoolResource]) -> dict[str, str]:
    """UserPoolType's `Domain` (the prefix) and `CustomDomain` (the FQDN), as held."""
    out: dict[str, str] = {}
    for domain in domains:
        out["CustomDomain" if is_custom_domain(domain.name) else "Domain"] = domain.name
    return out


# -- resource servers ----------------------------------------------------------------------------

#: Quota: resource servers per user pool (not adjustable).
MAX_RESOURCE_SERVERS = 25
#: The scopes Cognito defines itself; every other scope is `<Identifier>/<ScopeName>`.
STANDARD_SCOPES = client_config.STANDARD_SCOPES
#: ListResourceServers: MaxResults 1..50; 50 when absent.
MAX_LIST_RESOURCE_SERVERS = 50


def resource_server_not_found(pool_id: str, identifier: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"{identifier} does not exist in user pool {pool_id}.")


def require_resource_server(pool_id: str, identifier: str, server: PoolResource | None) -> PoolResource:
    if server is None:
        raise resource_server_not_found(pool_id, identifier)
    return server


def create_resource_server(
    pool_id: str, request: Mapping[str, Any], *, existing: PoolResource | None, count: int, now: datetime
) -> PoolResource:
    identifier = request["Identifier"]
    if existing is not None:
        raise InvalidParameterException(f"{identifier} already exists in user pool {pool_id}.", member="Identifier")
    if count >= MAX_RESOURCE_SERVERS:
        raise LimitExceededException(
            f"The user pool has reached its limit of {MAX_RESOURCE_SERVERS} resource servers."
        )
    return PoolResource(pool_id=pool_id, kind=RESOURCE_SERVER, name=identifier,
                        body=_resource_server_body(request), created=now, modified=now)


def update_resource_server(server: PoolResource, request: Mapping[str, Any], *, now: datetime) -> PoolResource:
    """UpdateResourceServer is a full replacement: omitted Scopes means none."""
    return replace(server, body=_resource_server_body(request), modified=now, version=server.version + 1)


def _resource_server_body(request: Mapping[str, Any]) -> dict[str, Any]:
    scopes = [{"ScopeName": s["ScopeName"], "ScopeDescription": s["ScopeDescription"]}
              for s in request.get("Scopes") or ()]
    names = [s["ScopeName"] for s in scopes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidParameterException(
            f"Scope names must be unique within a resource server: {duplicates[0]} is given twice.",
            member="Scopes",
        )
    body: dict[str, Any] = {"Name": request["Name"]}
    if scopes:
        body["Scopes"] = scopes
    return body


def resource_server_type(server: PoolResource) -> dict[str, Any]:
    """ResourceServerType; Scopes omitted when there are none (as Cognito omits them)."""
    out: dict[str, Any] = {"UserPoolId": server.pool_id, "Identifier": server.name, "Name": server.body["Name"]}
    if server.body.get("Scopes"):
        out["Scopes"] = copy.deepcopy(list(server.body["Scopes"]))
    return out


def custom_scopes(servers: Iterable[PoolResource]) -> frozenset[str]:
    """Every full custom scope (`<Identifier>/<ScopeName>`) the resource servers define."""
    return frozenset(
        f"{server.name}/{scope['ScopeName']}" for server in servers for scope in server.body.get("Scopes") or ()
    )


def active_scopes(scopes: Iterable[str], servers: Iterable[PoolResource]) -> list[str]:
    """The scopes of a client's AllowedOAuthScopes that are active now: the standard ones
    and the custom ones a resource server still defines. A scope whose server or scope
    was deleted stays on the client but is inactive (dropped from requests and tokens;
    active again once re-added), as reference §4.2 says of deleted scopes."""
    known = custom_scopes(servers)
    return [s for s in scopes if s in STANDARD_SCOPES or s in known]


# -- identity providers --------------------------------------------------------------------------

#: Quota: identity providers per user pool.
MAX_IDENTITY_PROVIDERS = 300
#: ListIdentityProviders returns at most 50 (ProvidersListType); MaxResults 0..60.
MAX_LIST_PROVIDERS = 50
SOCIAL_TYPES = ("Facebook", "Google", "LoginWithAmazon", "SignInWithApple")
#: ProviderDetails keys each type requires.
REQUIRED_DETAILS: dict[str, tuple[str, ...]] = {
    "Google": ("client_id", "client_secret", "authorize_scopes"),
    "Facebook": ("client_id", "client_secret", "authorize_scopes"),
    "LoginWithAmazon": ("client_id", "client_secret", "authorize_scopes"),
    "SignInWithApple": ("client_id", "team_id", "key_id", "private_key", "authorize_scopes"),
    "OIDC": ("client_id", "authorize_scopes", "oidc_issuer"),
    "SAML": (),
}
_FACEBOOK_VERSION = "v17.0"
#: What DescribeIdentityProvider adds to the details it was given (reference §6.2).
_DETAIL_DEFAULTS: dict[str, dict[str, str]] = {
    "Google": {
        "attributes_url": "https://people.googleapis.com/v1/people/me?personFields=",
        "attributes_url_add_attributes": "true",
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "oidc_issuer": "https://accounts.google.com",
        "token_request_method": "POST",
        "token_url": "https://www.googleapis.com/oauth2/v4/token",
    },
    "LoginWithAmazon": {
        "attributes_url": "https://api.amazon.com/user/profile",
        "attributes_url_add_attributes": "false",
        "authorize_url": "https://www.amazon.com/ap/oa",
        "token_request_method": "POST",
        "token_url": "https://api.amazon.com/auth/o2/token",
    },
    "SignInWithApple": {
        "authorize_url": "https://appleid.apple.com/auth/authorize",
        "oidc_issuer": "https://appleid.apple.com",
        "token_request_method": "POST",
        "token_url": "https://appleid.apple.com/auth/token",
    },
    "OIDC": {"attributes_request_method": "GET", "attributes_url_add_attributes": "false"},
    "SAML": {},
}
#: The IdP claim each type maps to `username` unless the request maps it.
_USERNAME_CLAIM = {"Google": "sub", "Facebook": "id", "LoginWithAmazon": "user_id",
                   "SignInWithApple": "sub", "OIDC": "sub"}
#: Details Describe never shows (Apple's signing key).
_HIDDEN_DETAILS = {"SignInWithApple": ("private_key",)}


def provider_not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Identity provider {name} does not exist.")


def require_provider(name: str, provider: PoolResource | None) -> PoolResource:
    if provider is None:
        raise provider_not_found(name)
    return provider


def create_identity_provider(
    pool_id: str, request: Mapping[str, Any], *, pool_config: Mapping[str, Any], existing: PoolResource | None,
    others: Sequence[PoolResource], now: datetime,
) -> PoolResource:
    """CreateIdentityProvider. `others`: the pool's identity providers (for the quota and
    the IdpIdentifiers, unique across them)."""
    name, kind = request["ProviderName"], request["ProviderType"]
    _check_provider_name(name, kind)
    if existing is not None:
        raise DuplicateProviderException(f"A provider with the name {name} already exists in this user pool.")
    if len(others) >= MAX_IDENTITY_PROVIDERS:
        raise LimitExceededException(
            f"The user pool has reached its limit of {MAX_IDENTITY_PROVIDERS} identity providers."
        )
    body: dict[str, Any] = {
        "ProviderType": kind,
        "ProviderDetails": _details(kind, request["ProviderDetails"]),
        "AttributeMapping": _attribute_mapping(kind, request.get("AttributeMapping"), pool_config),
        "IdpIdentifiers": _identifiers(request.get("IdpIdentifiers"), others, name),
    }
    if request.get("AcrMapping"):
        body["AcrMapping"] = _acr_mapping(kind, request["AcrMapping"])
    return PoolResource(pool_id=pool_id, kind=IDENTITY_PROVIDER, name=name, body=body, created=now, modified=now)


def update_identity_provider(
    provider: PoolResource, request: Mapping[str, Any], *, pool_config: Mapping[str, Any],
    others: Sequence[PoolResource], now: datetime,
) -> PoolResource:
    """UpdateIdentityProvider: each member given replaces the stored one (ProviderDetails
    as a whole, checked as at creation); omitted members keep their value."""
    kind = provider.body["ProviderType"]
    body = dict(provider.body)
    if request.get("ProviderDetails") is not None:
        body["ProviderDetails"] = _details(kind, request["ProviderDetails"])
    if request.get("AttributeMapping") is not None:
        body["AttributeMapping"] = _attribute_mapping(kind, request["AttributeMapping"], pool_config)
    if request.get("IdpIdentifiers") is not None:
        body["IdpIdentifiers"] = _identifiers(request["IdpIdentifiers"], others, provider.name)
    if request.get("AcrMapping") is not None:
        body["AcrMapping"] = _acr_mapping(kind, request["AcrMapping"])
    return replace(provider, body=body, modified=now, version=provider.version + 1)


def _check_provider_name(name: str, kind: str) -> None:
    # Social providers are named after their type; nothing else may take those names or
    # COGNITO's (they name providers in SupportedIdentityProviders and identity_provider=).
    if kind in SOCIAL_TYPES and name != kind:
        raise InvalidParameterException(
            f"The name of a {kind} identity provider must be {kind}.", member="ProviderName"
        )
    if kind not in SOCIAL_TYPES and (name in SOCIAL_TYPES or name.casefold() == "cognito"):
        raise InvalidParameterException(
            f"The provider name {name} is reserved; choose another name for this {kind} identity provider.",
            member="ProviderName",
        )


def _details(kind: str, given: Mapping[str, str]) -> dict[str, str]:
    details = dict(given)
    missing = [key for key in REQUIRED_DETAILS[kind] if not details.get(key)]
    if missing:
        raise InvalidParameterException(
            f"ProviderDetails of a {kind} identity provider must include {missing[0]}.", member="ProviderDetails"
        )
    if kind == "SAML" and bool(details.get("MetadataURL")) == bool(details.get("MetadataFile")):
        raise InvalidParameterException(
            "ProviderDetails of a SAML identity provider must include exactly one of MetadataURL and MetadataFile.",
            member="ProviderDetails",
        )
    method = details.get("attributes_request_method")
    if kind == "OIDC" and method is not None and method not in ("GET", "POST"):
        raise InvalidParameterException(
            "attributes_request_method must be GET or POST.", member="ProviderDetails"
        )
    return details


def _attribute_mapping(kind: str, given: Mapping[str, str] | None, pool_config: Mapping[str, Any]) -> dict[str, str]:
    definitions = attribute_definitions(pool_config.get("SchemaAttributes") or ())
    mapping = dict(given or {})
    for attribute in mapping:
        if attribute == "username":
            continue
        definition = definitions.get(attribute)
        if definition is None or attribute == "sub" or definition.developer_only:
            raise InvalidParameterException(
                f"Invalid attribute mapping: {attribute} is not an attribute of the user pool.",
                member="AttributeMapping",
            )
        if not definition.mutable:
            # Federated sign-in writes mapped attributes on every sign-in.
            raise InvalidParameterException(
                f"Invalid attribute mapping: {attribute} is immutable; only mutable attributes can be mapped.",
                member="AttributeMapping",
            )
    if "username" not in mapping and kind in _USERNAME_CLAIM:
        mapping = {"username": _USERNAME_CLAIM[kind], **mapping}
    return mapping


def _identifiers(given: Sequence[str] | None, others: Sequence[PoolResource], name: str) -> list[str]:
    identifiers = list(given or ())
    seen: set[str] = set()
    held = {i: p.name for p in others if p.name != name for i in p.body.get("IdpIdentifiers") or ()}
    for identifier in identifiers:
        if identifier in seen or identifier in held:
            raise InvalidParameterException(
                f"The IdpIdentifier {identifier} is already used by an identity provider of this user pool.",
                member="IdpIdentifiers",
            )
        seen.add(identifier)
    return identifiers


def _acr_mapping(kind: str, given: Mapping[str, str]) -> dict[str, str]:
    if kind != "OIDC":
        raise InvalidParameterException("AcrMapping applies only to OIDC identity providers.", member="AcrMapping")
    return dict(given)


def identity_provider_type(provider: PoolResource) -> dict[str, Any]:
    """IdentityProviderType, with the details Cognito adds and without those it hides."""
    kind = provider.body["ProviderType"]
    details = {**_shown_defaults(kind, provider.body["ProviderDetails"]), **provider.body["ProviderDetails"]}
    for hidden in _HIDDEN_DETAILS.get(kind, ()):
        details.pop(hidden, None)
    out: dict[str, Any] = {
        "UserPoolId": provider.pool_id,
        "ProviderName": provider.name,
        "ProviderType": kind,
        "ProviderDetails": dict(sorted(details.items())),
        "AttributeMapping": dict(provider.body.get("AttributeMapping") or {}),
        "IdpIdentifiers": list(provider.body.get("IdpIdentifiers") or ()),
    }
    if provider.body.get("AcrMapping"):
        out["AcrMapping"] = dict(provider.body["AcrMapping"])
    out["LastModifiedDate"] = provider.modified
    out["CreationDate"] = provider.created
    return out


def _shown_defaults(kind: str, given: Mapping[str, str]) -> dict[str, str]:
    if kind != "Facebook":
        return dict(_DETAIL_DEFAULTS[kind])
    version = given.get("api_version") or _FACEBOOK_VERSION
    return {
        "api_version": version,
        "attributes_url": f"https://graph.facebook.com/{version}/me?fields=",
        "attributes_url_add_attributes": "true",
        "authorize_url": f"https://www.facebook.com/{version}/dialog/oauth",
        "token_request_method": "GET",
        "token_url": f"https://graph.facebook.com/{version}/oauth/access_token",
    }


def provider_description(provider: PoolResource) -> dict[str, Any]:
    """ProviderDescription (one ListIdentityProviders entry)."""
    return {"ProviderName": provider.name, "ProviderType": provider.body["ProviderType"],
            "LastModifiedDate": provider.modified, "CreationDate": provider.created}


def provider_by_identifier(providers: Iterable[PoolResource], identifier: str) -> PoolResource:
    for provider in providers:
        if identifier in (provider.body.get("IdpIdentifiers") or ()):
            return provider
    raise ResourceNotFoundException(f"Identity provider with identifier {identifier} does not exist.")


# -- linked identities ---------------------------------------------------------------------------

#: A user may have at most this many linked external identities.
MAX_LINKS_PER_USER = 5
COGNITO_PROVIDER = "Cognito"
SUBJECT_ATTRIBUTE = "Cognito_Subject"
MERGING_REFUSED = (
    "Merging is not currently supported, provide a SourceUser that has not been used to sign into the user pool"
)


def link_name(provider_name: str, value: str) -> str:
    return f"{provider_name}:{value}"


def federated_username(provider_name: str, value: str) -> str:
    """The username Cognito gives a user its federated sign-in creates (`Google_1055...`)."""
    return f"{provider_name}_{value}"


def destination_username(destination: Mapping[str, Any]) -> str:
    """The existing user a link or an unlink names: ProviderName Cognito, value the
    username (ProviderAttributeName is ignored for a destination)."""
    if destination.get("ProviderName") != COGNITO_PROVIDER or not destination.get("ProviderAttributeValue"):
        raise InvalidParameterException(
            "DestinationUser must name an existing user: ProviderName Cognito and ProviderAttributeValue "
            "the username.",
            member="DestinationUser",
        )
    return destination["ProviderAttributeValue"]


def check_source(source: Mapping[str, Any]) -> tuple[str, str, str]:
    """(ProviderName, ProviderAttributeName, ProviderAttributeValue) of a SourceUser; the
    attribute name defaults to Cognito_Subject."""
    name, value = source.get("ProviderName"), source.get("ProviderAttributeValue")
    if not name or not value or name == COGNITO_PROVIDER:
        raise InvalidParameterException(
            "SourceUser must name an external identity: ProviderName an identity provider of the user pool "
            "and ProviderAttributeValue the identity's value.",
            member="SourceUser",
        )
    return name, source.get("ProviderAttributeName") or SUBJECT_ATTRIBUTE, value


def check_source_attribute(provider: PoolResource, attribute: str) -> None:
    """Social providers link by subject only; OIDC and SAML also by a mapped attribute."""
    if attribute == SUBJECT_ATTRIBUTE:
        return
    mapped = provider.body.get("AttributeMapping") or {}
    if provider.body["ProviderType"] in SOCIAL_TYPES or attribute not in mapped:
        raise InvalidParameterException(
            f"ProviderAttributeName {attribute} is not Cognito_Subject or an attribute mapped by "
            f"{provider.name}.",
            member="SourceUser",
        )


def new_link(
    pool_id: str, *, provider: str, attribute: str, value: str, sub: str, username: str,
    existing: PoolResource | None, links_of_user: int, now: datetime,
) -> PoolResource:
    if existing is not None:
        if existing.body.get("sub") == sub:
            raise InvalidParameterException(
                f"The identity {provider}:{value} is already linked to this user.", member="SourceUser"
            )
        raise AliasExistsException(f"The identity {provider}:{value} is already linked to another user.")
    if links_of_user >= MAX_LINKS_PER_USER:
        raise LimitExceededException(f"A user can have at most {MAX_LINKS_PER_USER} linked identities.")
    body = {"ProviderName": provider, "ProviderAttributeName": attribute, "ProviderAttributeValue": value,
            "sub": sub, "username": username}
    return PoolResource(pool_id=pool_id, kind=IDENTITY_LINK, name=link_name(provider, value), body=body,
                        created=now, modified=now)


def merging_refused() -> InvalidParameterException:
    """The source identity has signed in already (its federated user exists)."""
    return InvalidParameterException(MERGING_REFUSED, member="SourceUser")


def linking_to_federated_user() -> InvalidParameterException:
    return InvalidParameterException(
        "DestinationUser must be a user of the user pool, not a federated (EXTERNAL_PROVIDER) user.",
        member="DestinationUser",
    )


def check_disable_target(user: Mapping[str, Any]) -> tuple[str, str, str]:
    """The external identity AdminDisableProviderForUser unlinks. A native user
    (ProviderName Cognito) is not supported here: say so rather than half-do it."""
    if user.get("ProviderName") == COGNITO_PROVIDER:
        raise InvalidParameterException(
            "AdminDisableProviderForUser with ProviderName Cognito (a native user) is not supported by authflow; "
            "use AdminDisableUser.",
            member="User",
        )
    return check_source(user)
