"""Check AWS Signature Version 4 on a request, as the AWS front end does for signed operations.

Theory of operation: the caller hands over the request exactly as received (method, raw
path, raw query string, headers, body), the secrets it accepts (access key id -> secret
access key), the current time, and the region and service the signature must be scoped to.
`verify` rebuilds the canonical request and the string to sign the way botocore's
`SigV4Auth` builds them, derives the signing key, and compares signatures in constant time.
It returns the access key id that signed the request, or raises one of the front-end
errors AWS uses:

* `MissingAuthenticationTokenException`: no `Authorization` header at all;
* `IncompleteSignatureException`: an `Authorization` header that is not a SigV4 header, or
  lacks `Credential`, `SignedHeaders` or `Signature`, or does not sign `host` / `x-amz-date`;
* `UnrecognizedClientException`: an access key id nobody configured;
* `InvalidSignatureException`: wrong scope (date, region, service), a request time more
  than 15 minutes away from now, or a signature that does not match.

The body's hash is always computed from the body itself; an `x-amz-content-sha256` header
is never trusted in its place. Only header-based signing is accepted (no presigned query
strings): SDKs sign cognito-idp calls in headers. Pure: no I/O, time is an argument.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import posixpath
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from authflow.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
#: How far the request's X-Amz-Date may be from the server's clock, either way (AWS's value).
MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
#: The form every SDK sends; parsed without strptime (anything else still goes through it).
_CANONICAL_AMZ_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")


def verify(
    *,
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    secrets: Mapping[str, str],
    now: datetime,
    region: str,
    service: str = "cognito-idp",
) -> str:
    """Return the access key id whose signature the request carries, or raise."""
    try:
        return _verify(method, path, query, headers, body, secrets, now, region, service)
    except UnicodeError:  # text no HTTP request can carry (a lone surrogate): not signed by anyone
        raise InvalidSignatureException() from None


def _verify(
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    secrets: Mapping[str, str],
    now: datetime,
    region: str,
    service: str,
) -> str:
    values = _header_values(headers)
    authorization = values.get("authorization")
    if authorization is None:
        raise MissingAuthenticationTokenException()
    credential, signed_headers, signature = _parse_authorization(authorization)
    try:
        key_id, day, scope_region, scope_service, terminator = credential.split("/")
    except ValueError:
        raise IncompleteSignatureException(
            f"Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential}'"
        ) from None
    if "host" not in signed_headers:
        raise IncompleteSignatureException("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    amz_date = values.get("x-amz-date")
    if amz_date is None or "x-amz-date" not in signed_headers:
        raise IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            "header, and it must be signed."
        )
    missing = [name for name in signed_headers if name not in values]
    if missing:
        raise IncompleteSignatureException(f"Signed header '{missing[0]}' is not in the request.")
    secret = secrets.get(key_id)
    if secret is None:
        raise UnrecognizedClientException()
    when = _parse_amz_date(amz_date)
    if day != amz_date[:8]:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{day}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if scope_region != region:
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region, not '{scope_region}'. "
        )
    if scope_service != service:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{service}'. "
        )
    if terminator != "aws4_request":
        raise InvalidSignatureException(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )
    _check_skew(when, now)
    canonical = canonical_request(method, path, query, values, signed_headers, body)
    scope = f"{day}/{region}/{service}/aws4_request"
    expected = signature_for(secret, day, region, service, string_to_sign(amz_date, scope, canonical))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InvalidSignatureException()
    return key_id


def canonical_request(
    method: str,
    path: str,
    query: str,
    values: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """SigV4's canonical request, with `values` as made by `_header_values`."""
    lines = [method.upper(), canonical_uri(path), canonical_query(query)]
    lines.extend(f"{name}:{values[name]}" for name in signed_headers)
    lines.append("")
    lines.append(";".join(signed_headers))
    lines.append(hashlib.sha256(body).hexdigest())
    return "\n".join(lines)


def canonical_uri(path: str) -> str:
    """The raw (percent-encoded) path, dot segments removed, encoded once more: the
    double encoding every service but S3 uses."""
    if path == "/":
        return "/"  # every API call's path
    normalized = posixpath.normpath(path) if path else "/"
    if normalized.startswith("//"):  # normpath keeps a leading "//" (POSIX), AWS does not
        normalized = "/" + normalized.lstrip("/")
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return quote(normalized, safe="/~")


def canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        pairs.append((key, value))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signature_for(secret: str, day: str, region: str, service: str, to_sign: str) -> str:
    return hmac.new(_signing_key(secret, day, region, service), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    # The derived key depends on nothing else, so it is derived once per key and day (as
    # SDKs do); every request's signature is still computed and compared in full.
    key = _hmac(f"AWS4{secret}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _header_values(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    # Lower-cased names; repeated headers joined with "," and runs of spaces collapsed,
    # as botocore canonicalises them.
    joined: dict[str, list[str]] = {}
    for name, value in headers:
        joined.setdefault(name.lower(), []).append(" ".join(value.split()))
    return {name: ",".join(parts) for name, parts in joined.items()}


def _parse_authorization(header: str) -> tuple[str, list[str], str]:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Authorization header requires the algorithm {ALGORITHM} (got '{algorithm}')."
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if problems:
        raise IncompleteSignatureException(" ".join(problems) + f" Authorization={header}")
    signed = fields["SignedHeaders"].split(";")
    if signed != sorted(signed) or len(set(signed)) != len(signed) or any(s != s.lower() for s in signed):
        raise IncompleteSignatureException(
            "SignedHeaders must list lower-case header names, sorted, each once."
        )
    return fields["Credential"], signed, fields["Signature"]


def _parse_amz_date(text: str) -> datetime:
    try:
        canonical = _CANONICAL_AMZ_DATE.fullmatch(text)
        if canonical is not None:  # what strptime reads it as, without its cost
            return datetime(*(int(part) for part in canonical.groups()), tzinfo=timezone.utc)
        return datetime.strptime(text, _AMZ_DATE).replace(tzinfo=timezone.utc)
    except ValueError:
        raise IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format'. Got '{text}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def _check_skew(when: datetime, now: datetime) -> None:
    if now - MAX_SKEW <= when <= now + MAX_SKEW:
        return
    stamp = now.astimezone(timezone.utc).strftime(_AMZ_DATE)
    if when < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).astimezone(timezone.utc).strftime(_AMZ_DATE)
        raise InvalidSignatureException(
            f"Signature expired: {when.strftime(_AMZ_DATE)} is now earlier than {earliest} "
            f"({stamp} - 15 min.)"
        )
    if when > now + MAX_SKEW:
        latest = (now + MAX_SKEW).astimezone(timezone.utc).strftime(_AMZ_DATE)
        raise InvalidSignatureException(
            f"Signature not yet current: {when.strftime(_AMZ_DATE)} is still later than "
            f"{latest} ({stamp} + 15 min.)"
        )
