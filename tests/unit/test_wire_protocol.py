"""`authflow.wire.protocol.handle`, called directly (no HTTP server): the order of the
front-end checks, the response format (status, headers, JSON body, dates), internal
errors, and the strictness of body decoding. Every refusal is also checked to leave the
store exactly as it was."""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import authflow
from authflow import errors
from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy
from authflow.service import registry
from authflow.wire import protocol
from authflow.wire.protocol import CONTENT_TYPE, MAX_BODY_BYTES, Signing
from tests.conftest import START, TEST_CONFIG, make_client
from tests.helpers import store_contents

PREFIX = "AWSCognitoIdentityProviderService."
KEY_ID = "AKIAPROTOCOLTEST0001"
SECRET = "protocol-test-secret-0000000000000000000"
SECRETS = {KEY_ID: SECRET}
HOST = "cognito-idp.us-east-1.amazonaws.com"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
UNSIGNED = Signing(None)
START_EPOCH = 1767268800  # START, 2026-01-01T12:00:00Z
assert START.timestamp() == START_EPOCH


@dataclass
class Env:
    client: authflow.Client
    pool_id: str
    client_id: str

    @property
    def engine(self):
        return self.client.engine


def new_env(seed: int = 1, clock: ManualClock | None = None) -> Env:
    client = make_client(seed, clock=clock or ManualClock(START))
    pool_id = client.create_user_pool(PoolName="p", AliasAttributes=["email"])["UserPool"]["Id"]
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword="Temp1234!",
                             MessageAction="SUPPRESS",
                             UserAttributes=[{"Name": "email", "Value": "a@example.com"}])
    return Env(client, pool_id, client_id)


@pytest.fixture
def env() -> Env:
    return new_env()


def headers_for(operation: str | None, content_type: str | None = CONTENT_TYPE, extra=()) -> list[tuple[str, str]]:
    headers = [("Host", HOST)]
    if operation is not None:
        headers.append(("X-Amz-Target", PREFIX + operation))
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    headers.extend(extra)
    return headers


def send(engine, operation: str | None = None, params=None, *, body: bytes | None = None,
         headers=None, signing: Signing = UNSIGNED) -> protocol.WireResponse:
    if body is None:
        body = json.dumps(params if params is not None else {}).encode()
    return protocol.handle(
        engine, signing, method="POST", path="/", query="",
        headers=headers if headers is not None else headers_for(operation), body=body,
    )


def error_of(response: protocol.WireResponse) -> tuple[str, str]:
    document = json.loads(response.body.decode("utf-8"))
    assert set(document) == {"__type", "message"}, document
    return document["__type"], document["message"]


def assert_error(response, status: int, code: str, message: str | None = None) -> str:
    """Checks the whole error format; returns the message."""
    assert response.status == status
    got_code, got_message = error_of(response)
    assert got_code == code, got_message
    if message is not None:
        assert got_message == message
    assert response.headers["Content-Type"] == CONTENT_TYPE
    assert response.headers["x-amzn-ErrorType"] == f"{code}:"
    assert UUID4.match(response.headers["x-amzn-RequestId"])
    assert response.headers["Cache-Control"] == "no-store"
    return got_message


def refused(env: Env, status: int, code: str, message: str | None = None, operation=None, params=None,
            **kwargs) -> str:
    """Send; the request must be refused with this error and leave the store and the
    outbox untouched. Returns the message."""
    before = store_contents(env.client.store)
    sent = len(env.client.messenger.messages)
    response = send(env.engine, operation, params, **kwargs)
    got = assert_error(response, status, code, message)
    assert store_contents(env.client.store) == before
    assert len(env.client.messenger.messages) == sent
    return got


def sign(engine, operation: str, params: dict | None = None, *, body: bytes | None = None, key_id=KEY_ID,
         secret=SECRET, region="us-east-1", when: datetime | None = None) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body as botocore signs them at `when` (default: the engine's clock)."""
    if body is None:
        body = json.dumps(params).encode()
    request = AWSRequest(method="POST", url=f"https://{HOST}/", data=body,
                         headers=dict(headers_for(operation)))
    when = when or engine.clock.now()
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.astimezone(timezone.utc).replace(tzinfo=None)):
        SigV4Auth(Credentials(key_id, secret), "cognito-idp", region).add_auth(request)
    return list(request.headers.items()), body


# -- success -------------------------------------------------------------------------------


def test_success_status_headers_and_body(env):
    response = send(env.engine, "DescribeUserPoolClient", {"UserPoolId": env.pool_id, "ClientId": env.client_id})
    assert response.status == 200
    assert response.headers == {
        "Content-Type": CONTENT_TYPE,
        "x-amzn-RequestId": response.headers["x-amzn-RequestId"],
        "Cache-Control": "no-store",
    }
    assert UUID4.match(response.headers["x-amzn-RequestId"])
    document = json.loads(response.body)
    assert set(document) == {"UserPoolClient"}
    assert document["UserPoolClient"]["ClientId"] == env.client_id
    assert document["UserPoolClient"]["UserPoolId"] == env.pool_id


def test_the_body_is_what_the_in_process_client_returns():
    wire, local = new_env(seed=7), new_env(seed=7)
    params = {"UserPoolId": wire.pool_id, "Username": "alice"}
    response = send(wire.engine, "AdminGetUser", params)
    expected = local.client.admin_get_user(**params)
    assert json.loads(response.body) == json.loads(protocol.encode(expected))
    assert response.headers["x-amzn-RequestId"] == expected["ResponseMetadata"]["RequestId"]


def test_request_ids_are_fresh_for_every_request_and_repeat_with_the_seed():
    first, second = new_env(seed=3), new_env(seed=3)
    ids = [send(first.engine, "ListUserPools", {"MaxResults": 1}).headers["x-amzn-RequestId"] for _ in range(3)]
    ids += [send(first.engine, "Nope").headers["x-amzn-RequestId"]]
    assert len(set(ids)) == 4
    again = [send(second.engine, "ListUserPools", {"MaxResults": 1}).headers["x-amzn-RequestId"] for _ in range(3)]
    again += [send(second.engine, "Nope").headers["x-amzn-RequestId"]]
    assert again == ids


def test_dates_are_epoch_seconds_with_milliseconds():
    clock = ManualClock(START + timedelta(microseconds=123_987))
    env = new_env(clock=clock)
    response = send(env.engine, "AdminGetUser", {"UserPoolId": env.pool_id, "Username": "alice"})
    assert response.status == 200
    # Milliseconds survive, microseconds do not; the dates are JSON numbers, not strings.
    assert b'"UserCreateDate":1767268800.123' in response.body
    assert b'"UserLastModifiedDate":1767268800.123' in response.body
    clock.advance(timedelta(seconds=2))
    response = send(env.engine, "DescribeUserPool", {"UserPoolId": env.pool_id})
    pool = json.loads(response.body)["UserPool"]
    assert pool["CreationDate"] == 1767268800.123
    assert isinstance(pool["CreationDate"], float)


def test_encode_drops_response_metadata_and_refuses_unknown_types():
    assert protocol.encode({"A": 1, "ResponseMetadata": {"RequestId": "x"}}) == b'{"A":1}'
    when = datetime(2026, 1, 1, 12, 0, 0, 5_000, tzinfo=timezone.utc)
    assert protocol.encode({"D": when}) == b'{"D":1767268800.005}'
    with pytest.raises(TypeError):
        protocol.encode({"S": {1, 2}})


# -- errors --------------------------------------------------------------------------------


def test_cognito_error_format(env):
    message = "User pool us-east-1_DoesNotExist does not exist."
    response = send(env.engine, "DescribeUserPool", {"UserPoolId": "us-east-1_DoesNotExist"})
    assert_error(response, 400, "ResourceNotFoundException", message)
    assert response.headers == {
        "Content-Type": CONTENT_TYPE,
        "x-amzn-RequestId": response.headers["x-amzn-RequestId"],
        "Cache-Control": "no-store",
        "x-amzn-ErrorType": "ResourceNotFoundException:",
        "x-amzn-ErrorMessage": message,
    }


def test_error_message_header_only_when_ascii_printable(env):
    # Non-ASCII: the message echoes the value, the body carries it as UTF-8 JSON.
    response = send(env.engine, "DescribeUserPool", {"UserPoolId": "pööl"})
    message = assert_error(response, 400, "InvalidParameterException")
    assert "pööl" in message
    assert "x-amzn-ErrorMessage" not in response.headers
    # Not printable: two structure problems are reported one per line.
    response = send(env.engine, "DescribeUserPool", {"UserPoolId": env.pool_id, "A": 1, "B": 2})
    message = assert_error(response, 400, "InvalidParameterException")
    assert "\n" in message
    assert "x-amzn-ErrorMessage" not in response.headers
    # ASCII and printable: the header repeats the message.
    response = send(env.engine, "DescribeUserPool", {"UserPoolId": env.pool_id, "A": 1})
    message = assert_error(response, 400, "InvalidParameterException")
    assert response.headers["x-amzn-ErrorMessage"] == message


def test_a_crashing_handler_is_a_500_logged_under_the_response_request_id(env, monkeypatch, caplog):
    def crash(engine, request):
        raise RuntimeError("secret internals")

    monkeypatch.setitem(registry.OPERATIONS, "DescribeUserPool", crash)
    before = store_contents(env.client.store)
    with caplog.at_level(logging.ERROR):
        response = send(env.engine, "DescribeUserPool", {"UserPoolId": env.pool_id})
    request_id = response.headers["x-amzn-RequestId"]
    assert_error(response, 500, "InternalErrorException", f"Internal server error. Request id {request_id}")
    assert b"secret internals" not in response.body
    assert "secret internals" not in response.headers.get("x-amzn-ErrorMessage", "")
    records = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], RuntimeError)]
    assert len(records) == 1
    assert request_id in records[0].getMessage()
    assert store_contents(env.client.store) == before


def test_a_crash_outside_the_handler_is_a_500_too(env, monkeypatch, caplog):
    def crash(body):
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(protocol, "decode_body", crash)
    with caplog.at_level(logging.ERROR):
        response = send(env.engine, "DescribeUserPool", {"UserPoolId": env.pool_id})
    request_id = response.headers["x-amzn-RequestId"]
    assert_error(response, 500, "InternalErrorException", "Internal server error.")
    records = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], RuntimeError)]
    assert len(records) == 1 and request_id in records[0].getMessage()


# -- the order of the front-end checks ---------------------------------------------------------


def test_an_oversized_body_is_refused_before_anything_else(env):
    body = b"[" * (MAX_BODY_BYTES + 1)  # not JSON, no target, no content type, no signature
    refused(env, 400, "InvalidParameterException",
            f"Request body of {MAX_BODY_BYTES + 1} bytes is larger than the limit of {MAX_BODY_BYTES} bytes.",
            body=body, headers=[], signing=Signing(SECRETS))


def test_a_body_of_exactly_the_limit_is_read(env):
    body = b'{"MaxResults": 1}'
    body += b" " * (MAX_BODY_BYTES - len(body))
    response = send(env.engine, "ListUserPools", body=body)
    assert response.status == 200
    assert [p["Id"] for p in json.loads(response.body)["UserPools"]] == [env.pool_id]


@pytest.mark.parametrize(("target", "code", "message"), [
    (None, "UnknownOperationException", f"X-Amz-Target must be {PREFIX}<Operation>."),
    ("", "UnknownOperationException", f"X-Amz-Target must be {PREFIX}<Operation>."),
    ("AWSCognitoIdentityService.ListUserPools", "UnknownOperationException",
     f"X-Amz-Target must be {PREFIX}<Operation>."),
    (PREFIX, "UnknownOperationException", "Unknown operation ."),
    (PREFIX + "Nope", "UnknownOperationException", "Unknown operation Nope."),
    (PREFIX + "listUserPools", "UnknownOperationException", "Unknown operation listUserPools."),
    (PREFIX + "ListUserPools ", "UnknownOperationException", "Unknown operation ListUserPools ."),
    (PREFIX + "ListUserPoolReplicas", "UnsupportedOperationException",
     "authflow does not implement ListUserPoolReplicas yet."),
])
def test_the_target_is_checked_before_content_type_signature_and_body(env, target, code, message):
    headers = [("Host", HOST)] + ([("X-Amz-Target", target)] if target is not None else [])
    refused(env, 400, code, message, body=b"not json", headers=headers, signing=Signing(SECRETS))


def test_target_header_name_is_case_insensitive(env):
    headers = [("x-amz-target", PREFIX + "ListUserPools"), ("content-type", CONTENT_TYPE)]
    assert send(env.engine, body=b'{"MaxResults": 1}', headers=headers).status == 200


@pytest.mark.parametrize("content_type", [CONTENT_TYPE, CONTENT_TYPE.upper(), f"{CONTENT_TYPE}; charset=utf-8",
                                          f" {CONTENT_TYPE} ;x=y"])
def test_accepted_content_types(env, content_type):
    response = send(env.engine, body=b'{"MaxResults": 1}', headers=headers_for("ListUserPools", content_type))
    assert response.status == 200


@pytest.mark.parametrize(("content_type", "shown"), [
    (None, "'none'"), ("", "'none'"), ("application/json", "'application/json'"),
    ("application/x-amz-json-1.0", "'application/x-amz-json-1.0'"), ("text/plain; charset=utf-8", "'text/plain'"),
])
def test_other_content_types_are_refused_before_the_signature(env, content_type, shown):
    refused(env, 400, "SerializationException", f"Content-Type must be {CONTENT_TYPE} (got {shown}).",
            body=b"not json", headers=headers_for("AdminDeleteUser", content_type), signing=Signing(SECRETS))


# -- signing ----------------------------------------------------------------------------------


def test_signed_operations_need_a_signature(env):
    refused(env, 400, "MissingAuthenticationTokenException", "Missing Authentication Token",
            "AdminDeleteUser", {"UserPoolId": env.pool_id, "Username": "alice"}, signing=Signing(SECRETS))


def test_a_botocore_signed_request_runs(env):
    headers, body = sign(env.engine, "AdminDeleteUser", {"UserPoolId": env.pool_id, "Username": "alice"})
    response = send(env.engine, body=body, headers=headers, signing=Signing(SECRETS))
    assert response.status == 200 and json.loads(response.body) == {}
    with pytest.raises(errors.UserNotFoundException):
        env.client.admin_get_user(UserPoolId=env.pool_id, Username="alice")


def test_signature_checks_run_before_the_body_is_read(env):
    params = {"UserPoolId": env.pool_id, "Username": "alice"}
    headers, body = sign(env.engine, "AdminDeleteUser", params, key_id="AKIAUNKNOWN000000000")
    refused(env, 400, "UnrecognizedClientException", body=body, headers=headers, signing=Signing(SECRETS))
    headers, body = sign(env.engine, "AdminDeleteUser", params)
    refused(env, 400, "InvalidSignatureException", body=body.replace(b"alice", b"alicf"), headers=headers,
            signing=Signing(SECRETS))
    # A correctly signed body that is not JSON: the signature passes, the body is refused.
    headers, body = sign(env.engine, "AdminDeleteUser", body=b"{oops")
    refused(env, 400, "SerializationException", body=body, headers=headers, signing=Signing(SECRETS))


def test_the_signature_is_checked_against_the_engine_clock_and_region(env):
    params = {"UserPoolId": env.pool_id, "Username": "alice"}
    headers, body = sign(env.engine, "AdminGetUser", params)
    env.engine.clock.advance(timedelta(minutes=15))
    assert send(env.engine, body=body, headers=headers, signing=Signing(SECRETS)).status == 200
    env.engine.clock.advance(timedelta(seconds=1))
    message = refused(env, 400, "InvalidSignatureException", body=body, headers=headers, signing=Signing(SECRETS))
    assert message.startswith("Signature expired: ")
    headers, body = sign(env.engine, "AdminGetUser", params, region="eu-west-1")
    refused(env, 400, "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'. ",
            body=body, headers=headers, signing=Signing(SECRETS))


def test_unsigned_operations_need_no_signature(env):
    params = {"ClientId": env.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
              "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Temp1234!"}}
    response = send(env.engine, "InitiateAuth", params, signing=Signing(SECRETS))
    assert response.status == 200
    assert json.loads(response.body)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_without_secrets_signed_operations_run_unsigned(env):
    response = send(env.engine, "AdminGetUser", {"UserPoolId": env.pool_id, "Username": "alice"},
                    signing=Signing(None))
    assert response.status == 200


# -- body decoding ------------------------------------------------------------------------------

NOT_AN_OBJECT = "The request body must be a JSON object (Start of structure or map found where not expected)."


@pytest.mark.parametrize(("body", "message"), [
    (b'{"UserPoolId": "a", "UserPoolId": "b"}', 'Duplicate key "UserPoolId" in the request body.'),
    (b'{"UserAttributes": [{"Name": "a", "Name": "a"}]}', 'Duplicate key "Name" in the request body.'),
    (b'{"\\u00e9": 1, "\xc3\xa9": 2}', 'Duplicate key "\\u00e9" in the request body.'),
    (b'{"MaxResults": NaN}', "NaN is not a JSON number."),
    (b'{"MaxResults": Infinity}', "Infinity is not a JSON number."),
    (b'{"MaxResults": -Infinity}', "-Infinity is not a JSON number."),
    (b'{"MaxResults": 1e999}', "Number 1e999 is out of range."),
    (b'{"MaxResults": -1E400}', "Number -1E400 is out of range."),
    (b"[" * 100_000, "The request body is not valid JSON: nested too deeply"),
    (b'{"a":' * 100_000, "The request body is not valid JSON: nested too deeply"),
    (b'{"UserPoolId": "\xff"}', "The request body is not valid JSON: not UTF-8"),
    (b'{"UserPoolId": "\xed\xa0\x80"}', "The request body is not valid JSON: not UTF-8"),  # encoded surrogate
    (b'\xef\xbb\xbf{}', None),
    (b"{}x", None),
    (b"{'MaxResults': 1}", None),
    (b'{"MaxResults": 1,}', None),
    (b"[]", NOT_AN_OBJECT),
    (b'"text"', NOT_AN_OBJECT),
    (b"1", NOT_AN_OBJECT),
    (b"null", NOT_AN_OBJECT),
    (b"true", NOT_AN_OBJECT),
])
def test_bodies_that_are_not_one_strict_json_object(env, body, message):
    got = refused(env, 400, "SerializationException", message, "ListUserPools", body=body)
    assert got.startswith(("Duplicate key", "NaN", "Infinity", "-Infinity", "Number ", "The request body "))


def test_integers_over_4300_digits_are_refused_while_parsing(env):
    message = refused(env, 400, "SerializationException", None, "ListUserPools",
                      body=b'{"MaxResults": ' + b"9" * 4301 + b"}")
    assert message.startswith("The request body is not valid JSON: Exceeds the limit (4300 digits)")
    # At the limit, the value parses and validation refuses it as out of range.
    message = refused(env, 400, "InvalidParameterException", None, "ListUserPools",
                      body=b'{"MaxResults": ' + b"9" * 4300 + b"}")
    assert message.startswith("1 validation error detected: Value '9999")
    assert message.endswith("at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 60")


@pytest.mark.parametrize("body", [b"", b" ", b"\n\t ", b"{}", b" {} "])
def test_an_empty_body_is_an_empty_object(env, body):
    refused(env, 400, "InvalidParameterException",
            "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: "
            "Member must not be null",
            "ListUserPools", body=body)
    assert protocol.decode_body(body) == {}


SURROGATE = "Invalid value for parameter {}: strings must not contain unpaired surrogate code points"


@pytest.mark.parametrize(("operation", "body", "message"), [
    ("CreateUserPool", b'{"PoolName": "\\ud800"}', SURROGATE.format("PoolName")),
    ("CreateUserPool", b'{"PoolName": "ok\\udfff"}', SURROGATE.format("PoolName")),
    ("AdminGetUser", b'{"UserPoolId": "POOL", "Username": "\\ud800"}', SURROGATE.format("Username")),
    ("AdminCreateUser", b'{"UserPoolId": "POOL", "Username": "bob", '
                        b'"UserAttributes": [{"Name": "email", "Value": "\\ud800@x.com"}]}',
     SURROGATE.format("UserAttributes[0].Value")),
    ("DescribeUserPool", b'{"UserPoolId": "POOL", "\\ud800": 1}',
     'Unknown parameter in input: "\\ud800", must be one of: UserPoolId'),
    ("InitiateAuth", b'{"ClientId": "CLIENT", "AuthFlow": "USER_PASSWORD_AUTH", '
                     b'"AuthParameters": {"USERNAME": "alice", "PASSWORD": "\\udc00x"}}', None),
    ("AdminCreateUser", b'{"UserPoolId": "POOL", "Username": "bob", "ClientMetadata": {"\\ud800": "v"}}', None),
])
def test_lone_surrogates_are_invalid_parameters_not_crashes(env, operation, body, message):
    body = body.replace(b"POOL", env.pool_id.encode()).replace(b"CLIENT", env.client_id.encode())
    got = refused(env, 400, "InvalidParameterException", message, operation, body=body)
    got.encode("utf-8")  # sendable
    if message is None:
        assert "surrogate" in got or "\\ud800" in got


def test_a_surrogate_pair_escape_is_an_ordinary_character(env):
    body = b'{"UserPoolId": "POOL", "Username": "alice", "UserAttributes": [{"Name": "nickname", "Value": "\\ud83d\\ude00"}]}'
    response = send(env.engine, "AdminUpdateUserAttributes", body=body.replace(b"POOL", env.pool_id.encode()))
    assert response.status == 200
    attributes = env.client.admin_get_user(UserPoolId=env.pool_id, Username="alice")["UserAttributes"]
    assert {"Name": "nickname", "Value": "\U0001F600"} in attributes


@pytest.mark.parametrize("value", [{"nested": "object"}, ["list"], 5, 1.5, True, None])
def test_wrong_json_types_are_invalid_parameters(env, value):
    params = {"UserPoolId": env.pool_id, "Username": value}
    refused(env, 400, "InvalidParameterException", None, "AdminDeleteUser", params)


def test_decode_body_alone():
    assert protocol.decode_body(b'{"a": [1, 2.5, "x", null, true, {"b": {}}]}') == {
        "a": [1, 2.5, "x", None, True, {"b": {}}]}
    for body in (b'{"a": NaN}', b"[", b'{"a": 1, "a": 1}', b"\x80"):
        with pytest.raises(errors.SerializationException):
            protocol.decode_body(body)


def test_a_fresh_engine_draws_the_same_request_ids_as_the_client():
    """The wire facade draws one request id per request, as `authflow.Client` does."""
    def engine_pair():
        return [authflow.Client(clock=ManualClock(START), entropy=SeededEntropy(11), messenger=MemoryOutbox(),
                                config=TEST_CONFIG) for _ in range(2)]

    wire, local = engine_pair()
    for _ in range(2):
        response = send(wire.engine, "ListUserPools", {"MaxResults": 5})
        assert response.headers["x-amzn-RequestId"] == local.list_user_pools(MaxResults=5)["ResponseMetadata"]["RequestId"]
    assert str(uuid.UUID(response.headers["x-amzn-RequestId"])) == response.headers["x-amzn-RequestId"]


def test_a_repeated_target_is_refused_even_when_signed(env):
    """SigV4 signs the joined values of a repeated X-Amz-Target; running either one would
    run something the signer did not ask for by itself."""
    pool = env.client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    headers = headers_for("AdminGetUser") + [("X-Amz-Target", protocol.TARGET_PREFIX + "AdminDeleteUser")]
    refused(env, 400, "UnknownOperationException", "X-Amz-Target must appear once.",
            params={"UserPoolId": pool, "Username": "u"}, headers=headers)
