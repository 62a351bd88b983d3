"""Decisions and shapes of a pool's branding: the classic hosted UI customization
(SetUICustomization / GetUICustomization: a CSS file restricted to Cognito's classes and
properties, and a logo) and managed-login branding styles (Create/Describe/Update/Delete
ManagedLoginBranding: a Settings document and image Assets per app client).

Theory of operation
-------------------
Both are `PoolResource` records, deleted with their pool:

* `ui_customization`, named by the app client id or `ALL` (the pool's default). Its body
  holds the CSS as sent, the logo as base64 text with its type, and the CSS version. A
  client's own record overrides `ALL` entirely (Cognito: a client with settings "no
  longer falls back"); a client without one is shown `ALL`'s.
* `managed_login_branding`, named by its ManagedLoginBrandingId (a UUID), and
  `managed_login_branding_client`, named by the client id, which points at the style: at
  most one style per client, found from either side.

CSS is parsed here into rules (selector, declarations) and refused unless every selector
is one of Cognito's `-customizable` classes (with the pseudo-classes Cognito documents)
and every property one the class allows; values are limited to plain CSS tokens (words,
numbers with units, `#rgb` colours, `rgb()`/`hsl()`), so no `url(`, `expression(`, quote,
backslash, `<` or at-rule (`@import`, `@media`, ...) can pass. The hosted pages serve
`stylesheet` (the rules re-written from the parse, never the text as sent) as a
same-origin stylesheet, so the pages' Content-Security-Policy stays as strict as before.

Blobs (ImageFile, an asset's Bytes) arrive as bytes from `authflow.Client` and as the
JSON protocol's base64 text from the HTTP API; `blob` accepts both.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from authflow.core.records import PoolResource
from authflow.errors import (
    InvalidParameterException,
    ManagedLoginBrandingExistsException,
    ResourceNotFoundException,
)

UI_CUSTOMIZATION = "ui_customization"
BRANDING = "managed_login_branding"
BRANDING_CLIENT = "managed_login_branding_client"
ALL = "ALL"

NO_DOMAIN = "There has to be an existing domain associated with this user pool"
#: Cognito's documented limit for the logo (the developer guide: "no greater than 100KB").
MAX_IMAGE_BYTES = 100 * 1024
MAX_RULES = 100
MAX_VALUE = 200

_COLOR = {"color", "background-color"}
_TEXT = {"padding-top", "padding-bottom", "display", "font-size"}
#: Cognito's classes (developer guide, "Specifying CSS customizations in classic branding",
#: and the console's CSS template): (class, pseudo-class) -> the properties it may set.
ALLOWED: Mapping[tuple[str, str], frozenset[str]] = {
    ("background-customizable", ""): frozenset({"background-color"}),
    ("banner-customizable", ""): frozenset({"padding", "background-color"}),
    ("errorMessage-customizable", ""): frozenset(
        {"margin", "padding", "font-size", "width", "background", "border", "color", "box-sizing"}),
    ("idpButton-customizable", ""): frozenset(
        {"height", "width", "text-align", "margin-bottom", "color", "background-color", "border-color"}),
    ("idpButton-customizable", "hover"): frozenset(_COLOR),
    ("idpDescription-customizable", ""): frozenset(_TEXT),
    ("inputField-customizable", ""): frozenset({"width", "height", "color", "background-color", "border"}),
    ("inputField-customizable", "focus"): frozenset({"border-color", "outline"}),
    ("label-customizable", ""): frozenset({"font-weight"}),
    ("legalText-customizable", ""): frozenset({"color", "font-size"}),
    ("logo-customizable", ""): frozenset({"max-width", "max-height"}),
    ("passwordCheck-notValid-customizable", ""): frozenset({"color"}),
    ("passwordCheck-valid-customizable", ""): frozenset({"color"}),
    ("redirect-customizable", ""): frozenset({"text-align"}),
    ("socialButton-customizable", ""): frozenset(
        {"height", "text-align", "width", "margin-bottom", "border-radius", "padding"}),
    ("submitButton-customizable", ""): frozenset(
        {"font-size", "font-weight", "margin", "width", "height", "color", "background-color"}),
    ("submitButton-customizable", "hover"): frozenset(_COLOR),
    ("textDescription-customizable", ""): frozenset(_TEXT),
}

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_RULE = re.compile(r"\s*([^{}]+?)\s*\{([^{}]*)\}")
_SELECTOR = re.compile(r"\.([A-Za-z][A-Za-z-]*)(?::([a-z]+))?")
_PROPERTY = re.compile(r"[a-z][a-z-]*")
_PLAIN = r"[A-Za-z0-9#%.,+\s-]*"
_FUNCTION = r"(?:rgba?|hsla?)\([0-9.,%\s/]+\)"
_VALUE = re.compile(rf"{_PLAIN}(?:{_FUNCTION}{_PLAIN})*(?:!important)?\s*")

Rule = tuple[str, str, tuple[tuple[str, str], ...]]  # class, pseudo-class ("" for none), declarations


def _bad_css(reason: str) -> InvalidParameterException:
    return InvalidParameterException(f"The CSS is not valid: {reason}", member="CSS")


def parse_css(css: str) -> list[Rule]:
    """The rules of a customization CSS, or InvalidParameterException naming what is not
    allowed. Comments are dropped; an empty text is no rules."""
    if "/*" in _COMMENT.sub("", css):
        raise _bad_css("a comment is not closed.")
    text = _COMMENT.sub(" ", css)
    if "@" in text:
        raise _bad_css("at-rules (@import, @media, @supports, @page, @font-face, ...) are not allowed.")
    for token in ("<", "\\", "\"", "'"):
        if token in text:
            raise _bad_css(f"the character {token} is not allowed.")
    rules: list[Rule] = []
    pos = 0
    while True:
        match = _RULE.match(text, pos)
        if match is None:
            break
        declarations = _declarations(match.group(2))
        for selector in match.group(1).split(","):
            cls, pseudo = _selector(selector.strip())
            allowed = ALLOWED[(cls, pseudo)]
            for prop, _ in declarations:
                if prop not in allowed:
                    raise _bad_css(f"the property {prop} may not be set on .{cls}{':' + pseudo if pseudo else ''} "
                                   f"(allowed: {', '.join(sorted(allowed))}).")
            rules.append((cls, pseudo, declarations))
        pos = match.end()
    if text[pos:].strip():
        raise _bad_css(f"expected a rule `.class-customizable {{ property: value; }}` at {text[pos:].strip()[:40]!r}.")
    if len(rules) > MAX_RULES:
        raise _bad_css(f"at most {MAX_RULES} rules are allowed.")
    return rules


def _selector(selector: str) -> tuple[str, str]:
    match = _SELECTOR.fullmatch(selector)
    if match is None or (match.group(1), match.group(2) or "") not in ALLOWED:
        classes = ", ".join(sorted({f".{c}" + (f":{p}" if p else "") for c, p in ALLOWED}))
        raise _bad_css(f"the selector {selector[:60]!r} is not one Cognito allows (allowed: {classes}).")
    return match.group(1), match.group(2) or ""


def _declarations(block: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in block.split(";"):
        if not item.strip():
            continue
        prop, colon, value = item.partition(":")
        prop, value = prop.strip().lower(), " ".join(value.split())
        if not colon or not _PROPERTY.fullmatch(prop) or not value:
            raise _bad_css(f"{item.strip()[:60]!r} is not a declaration `property: value`.")
        if len(value) > MAX_VALUE or not _VALUE.fullmatch(value) or re.search(r"(?i)expression|javascript|url", value):
            raise _bad_css(f"the value {value[:60]!r} of {prop} is not allowed (plain words, numbers, lengths, "
                           "#colours, rgb() and hsl() only).")
        out.append((prop, value))
    return tuple(out)


#: What the pages of a customized client get before its rules (which may override them),
#: as Cognito's pages do: the logo centred above the form, never wider than it.
PAGE_RULES = ("html .banner-customizable { text-align: center; }",
              "html .logo-customizable { max-width: 100%; }")


def stylesheet(css: str) -> str:
    """The stylesheet the hosted pages load: `PAGE_RULES`, then the rules re-written from
    the parse. Each selector is prefixed with `html ` so that it outranks the pages' own
    element rules (`input[type=text]`, ...) it is meant to override."""
    lines = ["/* authflow: the pool's UI customization (SetUICustomization). */", *PAGE_RULES]
    for cls, pseudo, declarations in parse_css(css):
        body = " ".join(f"{prop}: {value};" for prop, value in declarations)
        lines.append(f"html .{cls}{':' + pseudo if pseudo else ''} {{ {body} }}")
    return "\n".join(lines) + "\n"


# -- blobs and images ----------------------------------------------------------------------------


def blob(value: bytes | bytearray | str, member: str) -> bytes:
    """A blob member's bytes: as given by `authflow.Client`, or the base64 text the JSON
    protocol carries."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterException(f"{member} is not valid base64.", member=member) from None


def image_type(data: bytes) -> str:
    """'png' or 'jpeg' for a logo Cognito accepts; InvalidParameterException otherwise."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidParameterException(
            f"The image file is {len(data)} bytes; a logo may be at most {MAX_IMAGE_BYTES} bytes (100 KB).",
            member="ImageFile")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    raise InvalidParameterException("The image file must be a PNG or JPEG image.", member="ImageFile")


MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}


# -- UI customization (classic hosted UI) ----------------------------------------------------------


def set_ui_customization(pool_id: str, key: str, request: Mapping[str, Any], *, existing: PoolResource | None,
                         now: datetime) -> PoolResource | None:
    """The record SetUICustomization writes for `key` (a client id or ALL), or None when
    the request carries neither CSS nor an image (the customization is removed). CSS and
    logo are set together: what the request omits is gone afterwards."""
    css = request.get("CSS")
    raw = request.get("ImageFile")
    data = blob(raw, "ImageFile") if raw is not None else b""
    if css is not None:
        parse_css(css)
    body: dict[str, Any] = {"CSSVersion": now.strftime("%Y%m%d%H%M%S%f")[:17]}
    if css:
        body["CSS"] = css
    if data:
        body["ImageType"] = image_type(data)
        body["Image"] = base64.b64encode(data).decode("ascii")
    if "CSS" not in body and "Image" not in body:
        return None
    if existing is None:
        return PoolResource(pool_id=pool_id, kind=UI_CUSTOMIZATION, name=key, body=body, created=now, modified=now)
    return replace(existing, body=body, modified=now, version=existing.version + 1)


def image_url(record: PoolResource, cloudfront_host: str) -> str:
    """Where Cognito says the logo is (its CloudFront form: pool, client, version, file)."""
    extension = "png" if record.body["ImageType"] == "png" else "jpg"
    return (f"https://{cloudfront_host}/{record.pool_id}/{record.name}/{record.body['CSSVersion'][:14]}"
            f"/assets/images/image.{extension}")


def ui_customization_type(pool_id: str, key: str, record: PoolResource | None, *,
                          cloudfront_host: str) -> dict[str, Any]:
    """UICustomizationType; for nothing set, only the pool and client named."""
    if record is None:
        return {"UserPoolId": pool_id, "ClientId": key}
    out: dict[str, Any] = {"UserPoolId": record.pool_id, "ClientId": record.name}
    if record.body.get("Image"):
        out["ImageUrl"] = image_url(record, cloudfront_host)
    if record.body.get("CSS"):
        out["CSS"] = record.body["CSS"]
    out["CSSVersion"] = record.body["CSSVersion"]
    out["LastModifiedDate"] = record.modified
    out["CreationDate"] = record.created
    return out


def logo(record: PoolResource) -> tuple[bytes, str] | None:
    """The logo's bytes and media type, if the customization has one."""
    if not record.body.get("Image"):
        return None
    return base64.b64decode(record.body["Image"]), MEDIA_TYPES[record.body["ImageType"]]


# -- managed login branding ------------------------------------------------------------------------

#: Categories whose file type is fixed by their name.
_FIXED_EXTENSION = {"FAVICON_ICO": "ICO", "FAVICON_SVG": "SVG"}


def branding_not_found(branding_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Managed login branding {branding_id} does not exist.")


def no_branding_for_client(client_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"No managed login branding is associated with client {client_id}.")


def require_branding(pool_id: str, branding_id: str, record: PoolResource | None) -> PoolResource:
    if record is None or record.pool_id != pool_id:
        raise branding_not_found(branding_id)
    return record


def _assets(assets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The request's assets as stored (Bytes as base64 text), checked: one per (Category,
    ColorMode), each with its Bytes or a ResourceId, a favicon in its own format."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, asset in enumerate(assets):
        where = f"Assets[{i}]"
        pair = (asset["Category"], asset["ColorMode"])
        if pair in seen:
            raise InvalidParameterException(
                f"{where}: more than one asset has Category {pair[0]} and ColorMode {pair[1]}.", member="Assets")
        seen.add(pair)
        fixed = _FIXED_EXTENSION.get(asset["Category"])
        if fixed is not None and asset["Extension"] != fixed:
            raise InvalidParameterException(
                f"{where}: an asset of Category {asset['Category']} must have Extension {fixed}.", member="Assets")
        has_bytes, has_id = asset.get("Bytes") is not None, asset.get("ResourceId") is not None
        if has_bytes == has_id:
            raise InvalidParameterException(f"{where}: an asset needs exactly one of Bytes and ResourceId.",
                                            member="Assets")
        stored = {"Category": asset["Category"], "ColorMode": asset["ColorMode"], "Extension": asset["Extension"]}
        if has_bytes:
            data = blob(asset["Bytes"], f"{where}.Bytes")
            if not data:
                raise InvalidParameterException(f"{where}: Bytes is empty.", member="Assets")
            stored["Bytes"] = base64.b64encode(data).decode("ascii")
        else:
            stored["ResourceId"] = asset["ResourceId"]
        out.append(stored)
    return out


def _settings(request: Mapping[str, Any]) -> dict[str, Any] | None:
    settings = request.get("Settings")
    if settings is None:
        return None
    if request.get("UseCognitoProvidedValues"):
        raise InvalidParameterException(
            "Settings cannot be given when UseCognitoProvidedValues is true: the style then takes Cognito's "
            "default settings.", member="Settings")
    if not isinstance(settings, Mapping):
        raise InvalidParameterException("Settings must be a JSON object.", member="Settings")
    return copy.deepcopy(dict(settings))


def create_branding(pool_id: str, client_id: str, request: Mapping[str, Any], *, branding_id: str,
                    existing_for_client: PoolResource | None, now: datetime) -> tuple[PoolResource, PoolResource]:
    """CreateManagedLoginBranding: the style and the client's pointer to it."""
    if existing_for_client is not None:
        raise ManagedLoginBrandingExistsException(
            f"Managed login branding already exists for client {client_id}: "
            f"{existing_for_client.body['ManagedLoginBrandingId']}.")
    settings = _settings(request)
    assets = _assets(request.get("Assets") or ())
    body = {"ClientId": client_id, "UseCognitoProvidedValues": bool(request.get("UseCognitoProvidedValues")),
            "Settings": settings or {}, "Assets": assets}
    style = PoolResource(pool_id=pool_id, kind=BRANDING, name=branding_id, body=body, created=now, modified=now)
    pointer = PoolResource(pool_id=pool_id, kind=BRANDING_CLIENT, name=client_id,
                           body={"ManagedLoginBrandingId": branding_id}, created=now, modified=now)
    return style, pointer


def _merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Settings the update names replace, objects merge member by member, the rest stays
    (Cognito "preserves existing style settings that you don't specify")."""
    out = copy.deepcopy(dict(old))
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def update_branding(style: PoolResource, request: Mapping[str, Any], *, now: datetime) -> PoolResource:
    """UpdateManagedLoginBranding. UseCognitoProvidedValues true reverts to Cognito's
    defaults (no custom settings or assets, then the request's assets); Settings merge
    into the style's; an asset replaces the one of its (Category, ColorMode), or is added."""
    settings = _settings(request)
    assets = _assets(request.get("Assets") or ())
    body = copy.deepcopy(dict(style.body))
    if request.get("UseCognitoProvidedValues"):
        body.update(UseCognitoProvidedValues=True, Settings={}, Assets=[])
    elif settings is not None:
        body.update(UseCognitoProvidedValues=False, Settings=_merge(body["Settings"], settings))
    elif request.get("UseCognitoProvidedValues") is False:
        body["UseCognitoProvidedValues"] = False
    kept = [a for a in body["Assets"] if (a["Category"], a["ColorMode"]) not in
            {(n["Category"], n["ColorMode"]) for n in assets}]
    body["Assets"] = kept + assets
    return replace(style, body=body, modified=now, version=style.version + 1)


def branding_type(style: PoolResource) -> dict[str, Any]:
    """ManagedLoginBrandingType (an asset's Bytes as bytes; the wire sends them as base64).
    Settings are left out when the style has none of its own."""
    out: dict[str, Any] = {
        "ManagedLoginBrandingId": style.name,
        "UserPoolId": style.pool_id,
        "UseCognitoProvidedValues": style.body["UseCognitoProvidedValues"],
    }
    if style.body["Settings"]:
        out["Settings"] = copy.deepcopy(style.body["Settings"])
    assets = []
    for asset in style.body["Assets"]:
        shown = {k: asset[k] for k in ("Category", "ColorMode", "Extension")}
        if "Bytes" in asset:
            shown["Bytes"] = base64.b64decode(asset["Bytes"])
        else:
            shown["ResourceId"] = asset["ResourceId"]
        assets.append(shown)
    out["Assets"] = assets
    out["CreationDate"] = style.created
    out["LastModifiedDate"] = style.modified
    return out
