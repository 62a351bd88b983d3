"""Federation: signing in to a pool through an OIDC identity provider (§5.1, §6.3 of the
OAuth reference). The pure half: the upstream authorize URL, the pending request kept while
the browser is upstream, the checks of the provider's ID token, the attribute mapping, and
which user a federated identity signs in as.

Theory of operation: `/oauth2/authorize?identity_provider=<name>` (or `idp_identifier=`)
sends the browser to the provider's authorization endpoint with a fresh `state`, a `nonce`
(the app's, or one generated when the app sent none: Cognito generates, checks and still
puts it in the ID token) and a PKCE challenge. The app's validated `AuthorizeRequest` waits
in a `Pending` record keyed by the SHA-256 of a domain-separated `state`, so the value the
browser carries is useless to anyone who reads the store, and no OAuth code, challenge
Session or other record can share its id. The provider returns to
`<domain base>/oauth2/idpresponse` with a code; the service exchanges it, and this module
judges the result:

* the ID token's claims: `iss` exactly the provider's `oidc_issuer`, `aud` its client_id,
  not expired, `nonce` the one sent;
* the subject: the claim the provider's AttributeMapping names for `username` (`sub` by
  default), so the user is `<ProviderName>_<subject>`;
* the attributes: pool attribute <- claim for every mapping entry whose claim is present;
  every one must be writable by the app client (else sign-in fails with invalid_request,
  as Cognito's "Invalid user attributes" redirects do), fit the schema, and together with
  the user's other attributes hold every required attribute;
* the user: an `identity_link` for `<Provider>:<subject>` (or for a mapped attribute the
  link names) signs in as the linked user; otherwise the `<Provider>_<subject>` user,
  created on the first sign-in as EXTERNAL_PROVIDER (the `federated_sign_in` transition of
  `specs/user-lifecycle.yaml`) with `identities`, and its mapped attributes refreshed on
  every later one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from authflow.core import attributes as attrs
from authflow.core import identity
from authflow.core.lifecycle import ABSENT, user_lifecycle
from authflow.core.oauth import AuthorizeRequest, OAuthError
from authflow.core.oauth_resources import federated_username, link_name
from authflow.core.records import PoolResource, User, UserPool
from authflow.core.schema import AttributeDef, attribute_definitions

__all__ = ["PENDING_LIFETIME", "STATE_ID_PREFIX", "Pending", "add_identity", "check_id_token",
           "decide_sign_in", "federated_username", "identities_claim", "identities_value",
           "link_candidates", "mapped_attributes", "pkce_challenge", "state_id", "subject_of",
           "upstream_parameters"]

STATE_ID_PREFIX = "federation-state:"
#: How long the browser may stay at the provider before the pending request lapses [U].
PENDING_LIFETIME = timedelta(minutes=10)
#: Clock skew allowed between the provider and this engine when judging its ID token.
LEEWAY = timedelta(seconds=120)
CALLBACK_PATH = "/oauth2/idpresponse"
_STATE_DOMAIN = b"authflow federation state\x00"


def state_id(state: str) -> str:
    """The store id of the pending request a `state` value names."""
    return STATE_ID_PREFIX + hashlib.sha256(_STATE_DOMAIN + state.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """What waits while the browser is at the provider: the app's request (its `nonce`
    already the one sent upstream), the provider, and the PKCE verifier."""

    request: AuthorizeRequest
    provider: str
    code_verifier: str
    # SHA-256 of the browser binding (a cookie the authorize route set), if there is one:
    # the return must come from the browser that left, so nobody can complete their own
    # upstream sign-in in someone else's browser (login CSRF).
    binding: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"request": asdict(self.request), "provider": self.provider, "code_verifier": self.code_verifier,
                "binding": self.binding}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pending:
        fields = dict(data["request"])
        fields["scopes"] = tuple(fields["scopes"])
        return cls(request=AuthorizeRequest(**fields), provider=data["provider"], code_verifier=data["code_verifier"],
                   binding=data.get("binding"))

    def bound_to(self, binding: str | None) -> bool:
        """Whether the return carries this pending request's browser binding."""
        if self.binding is None:
            return True
        return binding is not None and hmac.compare_digest(self.binding, binding_hash(binding))


def binding_hash(binding: str) -> str:
    return hashlib.sha256(b"authflow federation binding\x00" + binding.encode()).hexdigest()


def upstream_parameters(
    *, client_id: str, redirect_uri: str, scopes: str, state: str, nonce: str, code_challenge: str,
) -> dict[str, str]:
    """The query of the provider's authorization request (response_type=code, PKCE S256);
    `scopes` is the provider's authorize_scopes (spaces or commas between them)."""
    return {
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": " ".join(scopes.replace(",", " ").split()), "state": state, "nonce": nonce,
        "code_challenge": code_challenge, "code_challenge_method": "S256",
    }


def failure(description: str) -> OAuthError:
    """A federation failure as §5.1 reports it: invalid_request with a description."""
    return OAuthError("invalid_request", description)


# -- the provider's answer ---------------------------------------------------------------------


def check_id_token(claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now: datetime,
                   provider: str = "IdP") -> None:
    """The claim checks of OIDC Core 3.1.3.7 that the signature check leaves (the service
    verified the RS256 signature against the provider's JWKS)."""
    if claims.get("iss") != issuer:
        raise failure(f"{provider} Error - the ID token was issued by another issuer")
    audience = claims.get("aud")
    if not (audience == client_id or (isinstance(audience, list) and client_id in audience)):
        raise failure(f"{provider} Error - the ID token was issued to another client")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= (now - LEEWAY).timestamp():
        raise failure(f"{provider} Error - the ID token has expired")
    if claims.get("nonce") != nonce:
        raise failure(f"{provider} Error - the ID token's nonce does not match the request")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise failure(f"{provider} Error - the ID token names no subject")


def claim_value(value: Any) -> str | None:
    """A claim as an attribute value: booleans as true/false, objects as JSON, absent or
    null as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def subject_of(claims: Mapping[str, Any], mapping: Mapping[str, str]) -> str:
    """The identity's subject: the claim AttributeMapping names for `username` (`sub` by
    default); the federated username and Cognito_Subject links use it."""
    value = claim_value(claims.get(mapping.get("username") or "sub"))
    if not value:
        raise failure(f"IdP Error - the claim {mapping.get('username') or 'sub'} that names the user is missing")
    return value


def mapped_attributes(
    mapping: Mapping[str, str], claims: Mapping[str, Any], *, writable: frozenset[str],
    schema: Mapping[str, AttributeDef],
) -> dict[str, str]:
    """Pool attribute <- claim for each mapping entry whose claim is present, checked:
    writable by the app client ("Mapped attributes must be writable by the client or
    sign-in fails") and fitting the schema."""
    out: dict[str, str] = {}
    for attribute, claim in mapping.items():
        if attribute == "username":
            continue
        value = claim_value(claims.get(claim))
        if value is None:
            continue
        if attribute not in writable:
            raise failure(f"Invalid user attributes: {attribute}: Attribute cannot be written by this app client.")
        definition = schema.get(attribute)
        if definition is None:
            raise failure(f"Invalid user attributes: {attribute}: Attribute does not exist in the schema.")
        try:
            attrs.check_value(definition, value)
        except Exception as err:  # the schema's own message, as a redirect description
            raise failure(f"Invalid user attributes: {getattr(err, 'message', None) or err}".strip()) from None
        out[attribute] = value
    return out


def _missing_required(schema: Mapping[str, AttributeDef], attributes: Mapping[str, str]) -> list[str]:
    return [name for name, d in schema.items() if d.required and name != "sub" and not attributes.get(name)]


# -- identities --------------------------------------------------------------------------------


def _identity(provider: str, provider_type: str, user_id: str, now: datetime, *, primary: bool) -> dict[str, Any]:
    return {"userId": user_id, "providerName": provider, "providerType": provider_type, "issuer": None,
            "primary": primary, "dateCreated": int(now.timestamp() * 1000)}


def identities_value(provider: str, provider_type: str, user_id: str, now: datetime) -> str:
    """The `identities` attribute of a user a federated sign-in creates, as Cognito stores
    it: a JSON string of one primary identity."""
    return json.dumps([_identity(provider, provider_type, user_id, now, primary=True)], separators=(",", ":"))


def add_identity(current: str | None, provider: str, provider_type: str, user_id: str, now: datetime) -> str | None:
    """`identities` of a linked user after a sign-in through `provider`: the identity
    added (not primary: the user's own sign-in is) unless it is there; None if unchanged."""
    listed = _parsed(current)
    if any(i.get("providerName") == provider and i.get("userId") == user_id for i in listed):
        return None
    listed.append(_identity(provider, provider_type, user_id, now, primary=False))
    return json.dumps(listed, separators=(",", ":"))


def _parsed(value: str | None) -> list[dict[str, Any]]:
    try:
        listed = json.loads(value) if value else []
    except ValueError:
        return []
    return [i for i in listed if isinstance(i, dict)] if isinstance(listed, list) else []


def identities_claim(value: str) -> list[dict[str, str | None]]:
    """The ID token's `identities`: the same objects with string values
    (`"primary":"true"`, `"dateCreated":"1645200683155"`), null kept."""
    return [{k: claim_value(v) for k, v in identity.items()} for identity in _parsed(value)]


# -- which user -------------------------------------------------------------------------------


def link_candidates(provider: str, subject: str, mapping: Mapping[str, str],
                    mapped: Mapping[str, str]) -> list[tuple[str, str]]:
    """(link name, ProviderAttributeName) pairs to look up, in order: the subject
    (Cognito_Subject) first, then each mapped attribute's value."""
    out = [(link_name(provider, subject), "Cognito_Subject")]
    out += [(link_name(provider, mapped[a]), a) for a in mapping if a != "username" and mapped.get(a)]
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SignIn:
    """The decision: the user record to store (None: nothing changes) and the sub of the
    user who signs in."""

    put: User | None
    sub: str


def decide_sign_in(
    pool: UserPool, provider: PoolResource, *, subject: str, mapped: Mapping[str, str],
    linked: User | None, federated: User | None, new_sub: str, now: datetime,
) -> SignIn:
    """Sign in as the linked user, or refresh (or create) the `<Provider>_<subject>` user."""
    kind = provider.body["ProviderType"]
    schema = attribute_definitions(pool.config.get("SchemaAttributes") or ())
    if linked is not None:
        identities = add_identity(linked.attributes.get("identities"), provider.name, kind, subject, now)
        if identities is None:
            return SignIn(put=None, sub=linked.sub)
        user_lifecycle().next_status(linked.status, "update_attributes")
        attributes = attrs.ordered({**linked.attributes, "identities": identities})
        return SignIn(put=replace(linked, attributes=attributes, modified=now, version=linked.version + 1),
                      sub=linked.sub)
    if federated is not None:
        status = user_lifecycle().next_status(federated.status, "federated_sign_in")
        attributes = attrs.ordered({**federated.attributes, **mapped})
        missing = _missing_required(schema, attributes)
        if missing:
            raise failure(f"attributes required: [{', '.join(missing)}]")
        if attributes == dict(federated.attributes):
            return SignIn(put=None, sub=federated.sub)
        return SignIn(put=replace(federated, attributes=attributes, status=status, modified=now,
                                  version=federated.version + 1), sub=federated.sub)
    status = user_lifecycle().next_status(ABSENT, "federated_sign_in")
    attributes = attrs.ordered({"sub": new_sub, **mapped,
                                "identities": identities_value(provider.name, kind, subject, now)})
    missing = _missing_required(schema, attributes)
    if missing:
        raise failure(f"attributes required: [{', '.join(missing)}]")
    username = federated_username(provider.name, subject)
    user = User(
        pool_id=pool.id, username=username, username_key=identity.username_key(pool.config, username),
        sub=new_sub, attributes=attributes, status=status, enabled=True, credential=None,
        created=now, modified=now,
        # A federated user signs in only through its provider: its email or phone number
        # is no sign-in alias, so it never takes one from (or clashes with) a pool user.
        aliases=(),
    )
    return SignIn(put=user, sub=new_sub)


def provider_for(providers: Sequence[PoolResource], request: AuthorizeRequest) -> PoolResource:
    """The provider an authorize request names by `identity_provider` or `idp_identifier`."""
    for provider in providers:
        if request.identity_provider is not None and provider.name == request.identity_provider:
            return provider
        if request.identity_provider is None and request.idp_identifier is not None and \
                request.idp_identifier in (provider.body.get("IdpIdentifiers") or ()):
            return provider
    raise failure("the identity provider is not one of this user pool")
