"""Decisions and rendering of an app client's terms documents (CreateTerms, DescribeTerms,
DescribeTermsByClient, ListTerms, UpdateTerms, DeleteTerms) and the links the hosted
sign-up page shows.

Theory of operation
-------------------
A terms document is a `PoolResource` of kind "terms" named by its TermsId (a UUID 4);
its `body` holds ClientId, TermsName, TermsSource, Enforcement and Links in Cognito's
spelling, the record's `created` / `modified` are CreationDate / LastModifiedDate. The
wire has already checked the shapes (TermsName `terms-of-use` or `privacy-policy`,
TermsSource LINK, Enforcement NONE, Links keys `cognito:default` or `cognito:<language>`,
1-13 of them); this module adds the rules the model cannot say:

* a TermsName is unique to its app client (botocore: "Terms document names must be unique
  to the app client") -> TermsExistsException, on create and on a rename by update;
* a LINK document needs links, and each link becomes an `href` on the sign-up page, so it
  must be an absolute http(s) URL (no `javascript:`, no relative path) [U];
* the sign-up page shows the documents only when both a terms of use and a privacy policy
  resolve a link for the page's language, with fallback to `cognito:default` (AWS: "You
  must provide both types of terms documents in at least one language before Amazon
  Cognito displays your terms documents") [D].

Nothing here writes or mutates its arguments: the service loads the pool's documents,
asks, and writes the record returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core.records import PoolResource
from authflow.errors import (
    InvalidParameterException,
    ResourceNotFoundException,
    TermsExistsException,
)

TERMS = "terms"
TERMS_OF_USE = "terms-of-use"
PRIVACY_POLICY = "privacy-policy"
#: The order the sign-up page names them in, and what it calls them.
PAGE_LABELS = {TERMS_OF_USE: "Terms of use", PRIVACY_POLICY: "Privacy policy"}
DEFAULT_LINK = "cognito:default"
#: ListTerms: MaxResults 1..60 (model); 60 when absent [U].
MAX_LIST_TERMS = 60
#: Managed login's languages (the `lang` parameter) -> their key in Links (LanguageIdType).
LANGUAGE_KEYS = {
    "de": "cognito:german",
    "en": "cognito:english",
    "es": "cognito:spanish",
    "fr": "cognito:french",
    "id": "cognito:bahasa-indonesia",
    "it": "cognito:italian",
    "ja": "cognito:japanese",
    "ko": "cognito:korean",
    "nl": "cognito:dutch",
    "pt-br": "cognito:portuguese-brazil",
    "zh-cn": "cognito:chinese-simplified",
    "zh-tw": "cognito:chinese-traditional",
}
#: A page without `lang` is in English (the hosted pages' own language).
PAGE_LANGUAGE = "en"
_BODY_MEMBERS = ("TermsSource", "Enforcement", "Links")
#: An absolute http(s) URL with a host (`https://`, `https:///x`, `https://:80` have none).
_WEB_URL = re.compile(r"https?://[^/?#:@\s]+(?:[:@/?#]\S*)?", re.IGNORECASE)


def terms_not_found(terms_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Terms {terms_id} does not exist.")


def require_terms(terms_id: str, terms: PoolResource | None) -> PoolResource:
    if terms is None:
        raise terms_not_found(terms_id)
    return terms


def terms_of_client(records: Iterable[PoolResource], client_id: str) -> list[PoolResource]:
    return [t for t in records if t.body["ClientId"] == client_id]


def by_client(records: Iterable[PoolResource], client_id: str, terms_name: str) -> PoolResource:
    """DescribeTermsByClient: the client's document of that name."""
    for terms in terms_of_client(records, client_id):
        if terms.body["TermsName"] == terms_name:
            return terms
    raise ResourceNotFoundException(f"Terms {terms_name} does not exist for app client {client_id}.")


def create_terms(
    pool_id: str, request: Mapping[str, Any], *, terms_id: str, client_terms: Sequence[PoolResource], now: datetime
) -> PoolResource:
    """CreateTerms. `client_terms`: the documents the app client holds already."""
    client_id, name = request["ClientId"], request["TermsName"]
    _check_unique(name, client_id, client_terms, terms_id)
    body = {"ClientId": client_id, "TermsName": name, "TermsSource": request["TermsSource"],
            "Enforcement": request["Enforcement"], "Links": _links(request.get("Links"))}
    return PoolResource(pool_id=pool_id, kind=TERMS, name=terms_id, body=body, created=now, modified=now)


def update_terms(
    terms: PoolResource, request: Mapping[str, Any], *, client_terms: Sequence[PoolResource], now: datetime
) -> PoolResource:
    """UpdateTerms: each member given replaces the stored one (Links as a whole); omitted
    members keep their value. A new TermsName must still be unique to the client."""
    body = dict(terms.body)
    if request.get("TermsName") is not None:
        _check_unique(request["TermsName"], body["ClientId"], client_terms, terms.name)
        body["TermsName"] = request["TermsName"]
    for member in _BODY_MEMBERS:
        if request.get(member) is not None:
            body[member] = _links(request[member]) if member == "Links" else request[member]
    return replace(terms, body=body, modified=now, version=terms.version + 1)


def _check_unique(name: str, client_id: str, client_terms: Sequence[PoolResource], own_id: str) -> None:
    if any(t.body["TermsName"] == name and t.name != own_id for t in client_terms):
        raise TermsExistsException(f"Terms {name} already exist for app client {client_id}.")


def _links(given: Mapping[str, str] | None) -> dict[str, str]:
    if not given:
        raise InvalidParameterException(
            "Links must hold at least one link (cognito:default or a language) when TermsSource is LINK.",
            member="Links",
        )
    for key, url in given.items():
        if not _WEB_URL.fullmatch(url):
            raise InvalidParameterException(
                f"The link for {key} must be an absolute http or https URL.", member="Links"
            )
    return dict(given)


def terms_type(terms: PoolResource) -> dict[str, Any]:
    """TermsType, every member present (all are required in the model)."""
    body = terms.body
    return {
        "TermsId": terms.name,
        "UserPoolId": terms.pool_id,
        "ClientId": body["ClientId"],
        "TermsName": body["TermsName"],
        "TermsSource": body["TermsSource"],
        "Enforcement": body["Enforcement"],
        "Links": dict(body["Links"]),
        "CreationDate": terms.created,
        "LastModifiedDate": terms.modified,
    }


def terms_description(terms: PoolResource) -> dict[str, Any]:
    """TermsDescriptionType (one ListTerms entry)."""
    return {"TermsId": terms.name, "TermsName": terms.body["TermsName"], "Enforcement": terms.body["Enforcement"],
            "CreationDate": terms.created, "LastModifiedDate": terms.modified}


# -- the hosted sign-up page ------------------------------------------------------------------


def language_key(lang: str | None) -> str:
    """The Links key of the page's language: `lang` as managed login spells it (`fr`,
    `pt-BR`, any case), or its primary subtag (`de-AT` -> German); English without one;
    `cognito:default` for a language managed login does not have."""
    tag = (lang or PAGE_LANGUAGE).lower()
    return LANGUAGE_KEYS.get(tag) or LANGUAGE_KEYS.get(tag.split("-")[0]) or DEFAULT_LINK


def sign_up_links(client_terms: Iterable[PoolResource], lang: str | None) -> list[dict[str, str]]:
    """The links the sign-up page shows (`name`, `label`, `url`, terms of use first): each
    document's link for the page's language, else its `cognito:default` link; nothing
    unless both documents have one."""
    key = language_key(lang)
    found: dict[str, str] = {}
    for terms in client_terms:
        links = terms.body["Links"]
        url = links.get(key) or links.get(DEFAULT_LINK)
        if url:
            found[terms.body["TermsName"]] = url
    if set(found) != set(PAGE_LABELS):
        return []
    return [{"name": name, "label": label, "url": found[name]} for name, label in PAGE_LABELS.items()]
