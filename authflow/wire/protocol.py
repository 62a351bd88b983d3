"""Cognito's JSON 1.1 wire protocol, independent of any HTTP server.

Theory of operation: `handle` takes one API request as the HTTP layer received it
(method, path, query, headers, body bytes) and returns a `WireResponse` (status, headers,
body bytes). The steps follow the AWS front end's order, and each refusal is final:

1. the body's size (before anything is parsed);
2. `X-Amz-Target` names an operation (`UnknownOperationException` otherwise);
3. `Content-Type` is `application/x-amz-json-1.1`;
4. for operations the service model marks as signed, a valid SigV4 signature from an
   accepted access key (`authflow.wire.sigv4`), checked against the engine's clock;
5. the body is one JSON object, strictly parsed (no duplicate keys, no NaN);
6. `authflow.client.call`: the same validation and service function `authflow.Client`
   uses, so the two facades cannot disagree.

Every response carries `x-amzn-RequestId` and `Cache-Control: no-store` (responses hold
tokens, sessions and user data that no cache may keep). Errors are HTTP 400 (500 only
for `InternalErrorException`) with `{"__type", "message"}` and `x-amzn-ErrorType`, as AWS
sends them. Dates leave as epoch seconds with millisecond precision.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authflow import errors
from authflow.client import call
from authflow.ports import Clock
from authflow.service import context
from authflow.service.engine import Engine
from authflow.service.registry import load_all
from authflow.wire import model, sigv4

log = logging.getLogger("authflow.server")

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
CONTENT_TYPE = "application/x-amz-json-1.1"
#: Requests with a larger body are refused before parsing. The largest valid Cognito
#: request is far smaller (attributes cap at 2048 characters each, 50 of them).
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Signing:
    """Who may call signed operations: `secrets` maps access key ids to secret keys;
    `None` turns the check off (`authflow serve --insecure-no-auth`). Signatures are
    dated by the caller's wall clock; `clock` is what they are checked against (default:
    the engine's), so a server whose engine travels in time (`--test-hooks`) can still
    check them against real time."""

    secrets: Mapping[str, str] | None
    clock: Clock | None = None


def handle(
    engine: Engine,
    signing: Signing,
    *,
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    peer: str | None = None,
) -> WireResponse:
    """Answer one API request; never raises. `peer`: the caller's IP address (the TCP
    peer), recorded where Cognito records it (a device's last IP)."""
    request_id = engine.request_id()
    try:
        with context.peer(peer):
            response = _answer(engine, signing, request_id, method, path, query, headers, body)
    except errors.CognitoError as err:
        return error_response(err, request_id)
    except Exception:  # a bug: log it with the request id, answer as AWS does
        log.exception("internal error (request %s)", request_id)
        return error_response(errors.InternalErrorException(), request_id)
    return json_response(200, response, request_id)


def _answer(
    engine: Engine,
    signing: Signing,
    request_id: str,
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise body_too_large(len(body))
    values = {name.lower(): value for name, value in headers}
    if sum(1 for name, _ in headers if name.lower() == "x-amz-target") > 1:
        # SigV4 signs the joined values; running one of them would run what was not meant.
        raise errors.UnknownOperationException("X-Amz-Target must appear once.")
    operation = operation_for(values.get("x-amz-target"))
    content_type = values.get("content-type", "").split(";")[0].strip().lower()
    if content_type != CONTENT_TYPE:
        raise errors.SerializationException(
            f"Content-Type must be {CONTENT_TYPE} (got {content_type or 'none'!r})."
        )
    if signing.secrets is not None and model.is_signed(operation):
        sigv4.verify(
            method=method, path=path, query=query, headers=headers, body=body,
            secrets=signing.secrets, now=(signing.clock or engine.clock).now(), region=engine.region,
        )
    return call(engine, operation, _nulls_absent(decode_body(body)), request_id)


#: String maps whose `null` values count as absent keys. amazon-cognito-identity-js
#: retries a refused device sign-in with `"DEVICE_KEY": null` and relies on it.
_NULL_TOLERANT_MAPS = ("AuthParameters", "ChallengeResponses")


def _nulls_absent(params: dict[str, Any]) -> dict[str, Any]:
    for name in _NULL_TOLERANT_MAPS:
        value = params.get(name)
        if isinstance(value, dict) and None in value.values():
            params = {**params, name: {k: v for k, v in value.items() if v is not None}}
    return params


def operation_for(target: str | None) -> str:
    """The operation an `X-Amz-Target` header names, if the engine implements it."""
    if not target or not target.startswith(TARGET_PREFIX):
        raise errors.UnknownOperationException(
            f"X-Amz-Target must be {TARGET_PREFIX}<Operation>."
        )
    operation = target[len(TARGET_PREFIX):]
    if operation in load_all():
        return operation
    if model.has_operation(operation):
        raise errors.UnsupportedOperationException(f"authflow does not implement {operation} yet.")
    raise errors.UnknownOperationException(f"Unknown operation {operation}.")


def body_too_large(size: int) -> errors.CognitoError:
    return errors.InvalidParameterException(
        f"Request body of {size} bytes is larger than the limit of {MAX_BODY_BYTES} bytes."
    )


# -- bodies ---------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Two parsers that pick different duplicates read two different requests.
            raise errors.SerializationException(f"Duplicate key {json.dumps(key)} in the request body.")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise errors.SerializationException(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise errors.SerializationException(f"Number {text[:40]} is out of range.")
    return value


#: Built once: json.loads and json.dumps with options build a new decoder/encoder per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite_float)


def decode_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object. An empty body counts as `{}` (no members)."""
    if not body.strip():
        return {}
    try:
        text = body.decode("utf-8")
        if text.startswith("\ufeff"):  # json.loads's own check, which the decoder alone skips
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except errors.CognitoError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        # ValueError covers JSONDecodeError and over-long integers.
        raise errors.SerializationException(f"The request body is not valid JSON: {_reason(err)}") from None
    if not isinstance(value, dict):
        raise errors.SerializationException(
            "The request body must be a JSON object (Start of structure or map found where not expected)."
        )
    return value


def _reason(err: Exception) -> str:
    if isinstance(err, RecursionError):
        return "nested too deeply"
    if isinstance(err, UnicodeDecodeError):
        return "not UTF-8"
    return str(err).splitlines()[0][:200]


def _wire_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, (bytes, bytearray)):  # a blob member: base64 text, as the JSON protocol sends it
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot send a {type(value).__name__} on the wire")


_ENCODER = json.JSONEncoder(default=_wire_value, separators=(",", ":"))


def encode(document: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "ResponseMetadata"}
    return _ENCODER.encode(body).encode("utf-8")


# -- responses -----------------------------------------------------------------------


def json_response(status: int, document: Mapping[str, Any], request_id: str) -> WireResponse:
    headers = {
        "Content-Type": CONTENT_TYPE,
        "x-amzn-RequestId": request_id,
        "Cache-Control": "no-store",
    }
    return WireResponse(status, headers, encode(document))


def error_response(err: errors.CognitoError, request_id: str) -> WireResponse:
    response = json_response(err.http_status, {"__type": err.code, "message": err.message}, request_id)
    # The trailing colon is what AWS sends; SDKs split the name off at it.
    response.headers["x-amzn-ErrorType"] = f"{err.code}:"
    # Only when it is a legal header value (HTTP forbids leading/trailing white space
    # and control characters); clients read the body first anyway.
    if err.message.isascii() and err.message.isprintable() and err.message == err.message.strip():
        response.headers["x-amzn-ErrorMessage"] = err.message
    return response
