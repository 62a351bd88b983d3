"""Fuzz the HTTP face (Starlette app, in process, through Starlette's TestClient).

Hypothesis sends sequences of requests with random X-Amz-Target, Content-Type, extra
headers and bodies: raw bytes, JSON-ish text, and requests shaped after a real
operation's input in the service model, whose member values come from strategies that
mix good values (the pool, app clients, user, tokens and session that exist) with hostile
ones (lone surrogates, NUL, RTL marks, 10k-character strings, huge numbers, wrong JSON
types, objects where strings belong, missing and unknown members).

The contract (reference/security.md §6.4, requirement 39): the server never answers 500
(with `raise_server_exceptions=True` an exception escaping the app fails the test too);
the status is 200, 400, 404 or 405; every response carries `x-amzn-RequestId`; every
error is JSON `{"__type", "message"}`; and a request that is not answered 200 leaves the
store exactly as it was (a refused password or MFA code may count a failed sign-in, and
nothing else) and sends no message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import warnings
from datetime import timezone
from functools import cache
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

with warnings.catch_warnings():
    # Starlette 1.x suggests httpx2 for its TestClient; httpx still works (and is pinned).
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy
from authflow.server import create_app
from authflow.service.registry import load_all
from authflow.wire import model
from authflow.wire.protocol import CONTENT_TYPE, MAX_BODY_BYTES, Signing
from tests.conftest import START, TEST_CONFIG
from tests.helpers import store_contents, without_lockout

PREFIX = "AWSCognitoIdentityProviderService."
KEY_ID = "AKIAFUZZTEST00000001"
SECRET = "fuzz-test-secret-access-key-000000000000"
SECRETS = {KEY_ID: SECRET}
OPERATIONS = sorted(load_all())
UNIMPLEMENTED = [op for op in model.operation_names() if op not in OPERATIONS][:10]
ALICE_PASSWORD = "Passw0rd!alice"
BOB_TEMP = "Temp1234!bob"

# -- the world every example starts from --------------------------------------------------------


class World:
    """A pool with two app clients (one with a secret) and two users: alice (CONFIRMED,
    signed in: access and refresh token) and bob (FORCE_CHANGE_PASSWORD, with an open
    NEW_PASSWORD_REQUIRED session). Built once; every example starts from a copy."""

    def __init__(self) -> None:
        client = self.new_client(MemoryStore())
        self.pool = client.create_user_pool(PoolName="fuzz", AliasAttributes=["email"])["UserPool"]["Id"]
        flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        self.client_id = client.create_user_pool_client(
            UserPoolId=self.pool, ClientName="app", ExplicitAuthFlows=flows)["UserPoolClient"]["ClientId"]
        self.secret_client_id = client.create_user_pool_client(
            UserPoolId=self.pool, ClientName="secret", ExplicitAuthFlows=flows, GenerateSecret=True,
        )["UserPoolClient"]["ClientId"]
        for name, email in (("alice", "alice@example.com"), ("bob", "bob@example.com")):
            client.admin_create_user(
                UserPoolId=self.pool, Username=name, MessageAction="SUPPRESS",
                TemporaryPassword=BOB_TEMP if name == "bob" else "Temp1234!alice",
                UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            )
        started = client.admin_initiate_auth(
            UserPoolId=self.pool, ClientId=self.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": "Temp1234!alice"})
        tokens = client.admin_respond_to_auth_challenge(
            UserPoolId=self.pool, ClientId=self.client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=started["Session"],
            ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": ALICE_PASSWORD},
        )["AuthenticationResult"]
        self.session = client.initiate_auth(
            ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "bob", "PASSWORD": BOB_TEMP})["Session"]
        self.snapshot = client.store.snapshot()
        self.placeholders = {
            "$POOL": self.pool, "$CLIENT": self.client_id, "$SECRET_CLIENT": self.secret_client_id,
            "$ACCESS": tokens["AccessToken"], "$ID": tokens["IdToken"], "$REFRESH": tokens["RefreshToken"],
            "$SESSION": self.session,
        }

    @staticmethod
    def new_client(store: MemoryStore) -> authflow.Client:
        return authflow.Client(store=store, clock=ManualClock(START), entropy=SeededEntropy(5),
                               messenger=MemoryOutbox(), region="us-east-1", config=TEST_CONFIG)

    def fresh(self) -> authflow.Client:
        store = MemoryStore()
        store.restore(self.snapshot)
        return self.new_client(store)

    def fill(self, value: Any) -> Any:
        """Replace placeholders by the world's real ids and tokens."""
        if isinstance(value, str):
            return self.placeholders.get(value, value)
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        return value


@cache
def world() -> World:
    return World()


# -- strategies -------------------------------------------------------------------------------

NASTY = [
    "", " ", "\x00", "a\x00b", "\u202e", "\u202eevil", "\u200f\u05d0", "\ud800", "x\udfff", "\ud83d",
    "\ufeff", "\U0001F600", "é" * 300, "x" * 10_000, "\u202e" * 10_000, "%s%n", "${jndi:x}", "' OR 1=1 --",
    "../../etc/passwd", "null", "true", "0", "-1", "1e999", "\r\n", "<script>", "alice", "ALICE",
]
any_text = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Zs", "Lo"]), max_size=12),
    st.sampled_from(NASTY),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         any_text, st.sampled_from([2**31, -(2**31) - 1, 2**63, 10**100, 0.5, -0.0]))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(any_text, inner, max_size=3), max_leaves=8)

KNOWN = {
    "UserPoolId": ["$POOL", "us-east-1_NoSuchPool", "us-east-1_"],
    "ClientId": ["$CLIENT", "$SECRET_CLIENT", "nosuchclient0000000000000"],
    "Username": ["alice", "bob", "alice@example.com", "Alice", "carol"],
    "AccessToken": ["$ACCESS", "$ID", "$REFRESH", "a.b.c"],
    "Token": ["$REFRESH", "$ACCESS"],
    "Session": ["$SESSION", "x" * 20],
    "PoolName": ["pool"],
    "ClientName": ["client"],
    "TemporaryPassword": [BOB_TEMP, "short"],
    "Name": ["email", "email_verified", "nickname", "sub", "custom:nope", "preferred_username"],
    "Value": ["alice@example.com", "bob@example.com", "true", "x"],
    "NextToken": ["x"], "PaginationToken": ["x"],
    "Filter": ['email ^= "a"', 'username = "alice"', "nonsense", 'email = "'],
}
MAP_KEYS = ["USERNAME", "PASSWORD", "SECRET_HASH", "REFRESH_TOKEN", "NEW_PASSWORD", "SRP_A", "DEVICE_KEY"]
MAP_VALUES = ["alice", "bob", ALICE_PASSWORD, BOB_TEMP, "$REFRESH", "NewPassw0rd!", "wrong-password"]


@cache
def _shape(shape_name: str) -> dict:
    return dict(model.shape(shape_name))


def value_for(shape_name: str, member: str | None, depth: int, hostile: bool) -> st.SearchStrategy:
    """A value for a member of shape `shape_name`. Clean values have the right type and
    come from the good values where there are any; hostile ones are often wrong."""
    right = _right_type(shape_name, member, depth, hostile)
    return st.one_of(right, right, right, json_values) if hostile else right


def _right_type(shape_name: str, member: str | None, depth: int, hostile: bool) -> st.SearchStrategy:
    shape = _shape(shape_name)
    kind = shape["type"]
    if shape.get("document"):
        return json_values if hostile else st.just({})
    if kind == "string":
        good = list(shape.get("enum", ())) + KNOWN.get(member or "", [])
        if not hostile:
            # The first known value is the one that exists: draw it most often.
            return st.sampled_from(good[:1] * len(good) + good) if good else st.text("abcdefgh", min_size=1, max_size=8)
        return st.sampled_from(good) | any_text if good else any_text
    if kind in ("integer", "long"):
        if not hostile:
            return st.integers(shape.get("min", 0), min(shape.get("max", 60), 60))
        return st.integers(-5, 400) | st.integers() | st.sampled_from([0, 1, 60, 2**31, -(2**63) - 1])
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    if kind == "blob":
        return any_text
    if depth > 3:
        return st.just([] if kind == "list" else {})
    if kind == "list":
        return st.lists(st.deferred(lambda: value_for(shape["member"], member, depth + 1, hostile)), max_size=3)
    if kind == "map":
        if not hostile:
            return st.dictionaries(st.sampled_from(MAP_KEYS), st.sampled_from(MAP_VALUES), max_size=3)
        keys = st.sampled_from(MAP_KEYS) | any_text
        values = st.sampled_from(MAP_VALUES) | st.deferred(lambda: value_for(shape["value"], None, depth + 1, hostile))
        return st.dictionaries(keys, values, max_size=4)
    return structure(shape_name, depth, hostile)


def structure(shape_name: str, depth: int, hostile: bool) -> st.SearchStrategy:
    members = model.members(shape_name)
    required = set(_shape(shape_name).get("required", ()))

    @st.composite
    def build(draw) -> dict:
        out = {}
        for name, member_shape in members.items():
            # Required members are usually there (always, in clean requests); others only sometimes.
            if draw(st.integers(0, 9)) < (10 if name in required and not hostile else 8 if name in required else 2):
                out[name] = draw(value_for(member_shape, name, depth, hostile))
        if hostile and draw(st.integers(0, 9)) == 0:
            out[draw(any_text | st.sampled_from(["Extra", "userPoolId"]))] = draw(json_values)
        return out

    return build()


def request_for(operation: str) -> st.SearchStrategy:
    shape_name = model.input_shape_name(operation)
    if not shape_name:
        return st.just({})
    return st.sampled_from([False, False, True]).flatmap(lambda hostile: structure(shape_name, 0, hostile))


def encode(document: Any, ensure_ascii: bool) -> bytes:
    text = json.dumps(document, ensure_ascii=ensure_ascii)
    # A lone surrogate with ensure_ascii=False cannot be UTF-8: it goes out as invalid bytes.
    return text.encode("utf-8", "surrogatepass")


jsonish_text = st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.eE-+ \\untrflsaUN\x00\t')) | st.characters(),
                       max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass"))
content_types = st.one_of(
    st.just(CONTENT_TYPE), st.none(),
    st.sampled_from(["application/json", "", "text/plain", f"{CONTENT_TYPE}; charset=utf-8", CONTENT_TYPE.upper(),
                     "application/x-amz-json-1.0", "multipart/form-data; boundary=x"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)
harmless_header_names = st.sampled_from(["X-Custom", "Accept", "X-Forwarded-For", "Cookie", "x-amzn-requestid",
                                         "User-Agent"])
header_names = harmless_header_names | st.sampled_from(["X-Amz-Target", "Content-Type", "Authorization", "X-Amz-Date"])
header_values = st.binary(max_size=40).map(lambda b: bytes(c for c in b if c not in b"\r\n\x00"))
methods = st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE", "PATCH"])
paths = st.sampled_from(["/", "/", "/?x=1", "//", "/x", "/health", "/$POOL/.well-known/jwks.json",
                         "/us-east-1_NoSuchPool/.well-known/openid-configuration"])


def targets(operation: str) -> st.SearchStrategy:
    return st.one_of(
        st.just(PREFIX + operation),
        st.none(),
        st.sampled_from(OPERATIONS).map(PREFIX.__add__),
        st.sampled_from(UNIMPLEMENTED).map(PREFIX.__add__),
        any_text.map(PREFIX.__add__),
        st.sampled_from([operation, PREFIX, PREFIX.lower() + operation, PREFIX + operation.lower(),
                         PREFIX + operation + " ", " " + PREFIX + operation]),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20),
    )


@st.composite
def http_requests(draw) -> dict:
    operation = draw(st.sampled_from(OPERATIONS))
    # Most requests have a correct envelope (POST /, the target of the operation the body
    # is shaped for, the right content type, harmless extra headers), so that their bodies
    # reach validation and the service; the rest fuzz the envelope as well.
    if draw(st.sampled_from(["clean envelope"] * 3 + ["fuzzed envelope"])) == "clean envelope":
        method, path, target, content_type = "POST", "/", PREFIX + operation, CONTENT_TYPE
        extra = draw(st.lists(st.tuples(harmless_header_names, header_values), max_size=2))
    else:
        method, path = draw(methods), draw(paths)
        target, content_type = draw(targets(operation)), draw(content_types)
        extra = draw(st.lists(st.tuples(header_names, header_values), max_size=3))
    kind = draw(st.sampled_from(["model"] * 12 + ["json", "bytes", "jsonish"]))
    if kind == "model":
        body = ("model", draw(request_for(operation)), draw(st.booleans()))
    elif kind == "json":
        body = ("model", draw(json_values), draw(st.booleans()))
    elif kind == "bytes":
        body = ("raw", draw(st.binary(max_size=200)), None)
    else:
        body = ("raw", draw(jsonish_text), None)
    return {"method": method, "path": path, "target": target, "content_type": content_type, "extra": extra,
            "body": body}


# -- checking one response ------------------------------------------------------------------------

MAY_COUNT_A_FAILURE = {"NotAuthorizedException", "CodeMismatchException"}


def send(http: TestClient, w: World, request: dict, sign: bool = False):
    kind, payload, ensure_ascii = request["body"]
    body = encode(w.fill(payload), ensure_ascii) if kind == "model" else payload
    headers: list[tuple[bytes, bytes]] = []
    if request["target"] is not None:
        headers.append((b"X-Amz-Target", request["target"].encode("utf-8", "surrogatepass")))
    if request["content_type"] is not None:
        headers.append((b"Content-Type", request["content_type"].encode("latin-1")))
    if sign:
        # Starlette's TestClient re-encodes non-ASCII header bytes as UTF-8 on the way in
        # (a real server passes them through), so signed requests keep to ASCII.
        headers.extend((name.encode(), bytes(c for c in value if c < 0x80)) for name, value in request["extra"])
        headers = _signed(headers, body)
    else:
        headers.extend((name.encode(), value) for name, value in request["extra"])
    path = request["path"].replace("$POOL", w.pool)
    return http.request(request["method"], path, content=body, headers=headers)


def _signed(headers: list[tuple[bytes, bytes]], body: bytes) -> list[tuple[bytes, bytes]]:
    """The headers plus X-Amz-Date and Authorization, as botocore signs them at START."""
    request = AWSRequest(method="POST", url="http://testserver/", data=body)
    request.headers["Host"] = "testserver"
    for name, value in headers:
        request.headers[name.decode()] = value.decode("latin-1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=START.astimezone(timezone.utc).replace(tzinfo=None)):
        SigV4Auth(Credentials(KEY_ID, SECRET), "cognito-idp", "us-east-1").add_auth(request)
    return headers + [(b"X-Amz-Date", request.headers["X-Amz-Date"].encode()),
                      (b"Authorization", request.headers["Authorization"].encode())]


def check(response, before: dict, after: dict, sent_before: int, sent_after: int, request: dict) -> None:
    assert response.status_code in (200, 400, 404, 405), (response.status_code, response.content[:500], request)
    assert response.headers.get("x-amzn-RequestId"), response.headers
    if response.status_code == 200:
        assert isinstance(response.json(), dict)
        return
    document = json.loads(response.content.decode("utf-8"))
    assert set(document) == {"__type", "message"}, document
    assert isinstance(document["__type"], str) and isinstance(document["message"], str)
    assert response.headers["x-amzn-ErrorType"] == document["__type"] + ":"
    if document["__type"] in MAY_COUNT_A_FAILURE:
        before, after = without_lockout(before), without_lockout(after)
    assert after == before, f"{document} changed the store; request: {request}"
    assert sent_after == sent_before, f"{document} sent a message; request: {request}"


def run(signing: Signing, requests: list[dict], sign: list[bool] | None = None) -> None:
    w = world()
    client = w.fresh()
    http = TestClient(create_app(client, signing, public_url="http://testserver"), raise_server_exceptions=True)
    for i, request in enumerate(requests):
        before, sent = store_contents(client.store), len(client.messenger.messages)
        response = send(http, w, request, sign=bool(sign and sign[i]))
        check(response, before, store_contents(client.store), sent, len(client.messenger.messages), request)


# -- the tests --------------------------------------------------------------------------------------


@given(st.lists(http_requests(), min_size=1, max_size=10))
def test_fuzzed_requests_without_signing(requests):
    run(Signing(None), requests)


@given(st.lists(st.tuples(http_requests(), st.sampled_from([True, True, True, False])), min_size=1, max_size=3))
def test_fuzzed_requests_with_signing(pairs):
    # Half of them signed by botocore at the engine's time: signed operations then reach
    # the service with the fuzzed body; the others meet the signature check.
    run(Signing(SECRETS), [r for r, _ in pairs], [s for _, s in pairs])


def test_the_world_is_reachable():
    """The good values the strategies draw really work: a fuzz run is not all refusals."""
    w = world()
    client = w.fresh()
    http = TestClient(create_app(client, Signing(None), public_url="http://testserver"), raise_server_exceptions=True)

    def post(operation: str, params: dict):
        return http.post("/", content=json.dumps(w.fill(params)).encode(),
                         headers={"X-Amz-Target": PREFIX + operation, "Content-Type": CONTENT_TYPE})

    assert post("GetUser", {"AccessToken": "$ACCESS"}).json()["Username"] == "alice"
    refreshed = post("InitiateAuth", {"ClientId": "$CLIENT", "AuthFlow": "REFRESH_TOKEN_AUTH",
                                      "AuthParameters": {"REFRESH_TOKEN": "$REFRESH"}})
    assert refreshed.status_code == 200, refreshed.json()
    answered = post("RespondToAuthChallenge", {
        "ClientId": "$CLIENT", "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "$SESSION",
        "ChallengeResponses": {"USERNAME": "bob", "NEW_PASSWORD": "NewPassw0rd!"}})
    assert answered.status_code == 200, answered.json()
    signed = _signed([(b"X-Amz-Target", (PREFIX + "AdminGetUser").encode()),
                      (b"Content-Type", CONTENT_TYPE.encode())],
                     json.dumps({"UserPoolId": w.pool, "Username": "alice"}).encode())
    http_signed = TestClient(create_app(w.fresh(), Signing(SECRETS), public_url="http://testserver"))
    response = http_signed.post("/", content=json.dumps({"UserPoolId": w.pool, "Username": "alice"}).encode(),
                                headers=signed)
    assert response.status_code == 200, response.json()


def test_every_route_answers_with_a_request_id_and_a_json_error():
    w = world()
    http = TestClient(create_app(w.fresh(), Signing(None), public_url="http://testserver"))
    for method, path, status in [("GET", "/", 405), ("POST", "/nope", 404), ("PUT", "/health", 405),
                                 ("GET", f"/{w.pool}/.well-known/jwks.json", 200),
                                 ("GET", "/us-east-1_NoSuchPool/.well-known/jwks.json", 404)]:
        response = http.request(method, path)
        assert response.status_code == status, (method, path)
        assert response.headers["x-amzn-RequestId"]
        if status != 200:
            assert set(response.json()) == {"__type", "message"}


# -- the body cap -------------------------------------------------------------------------------------


SIGNED = Signing(SECRETS)


def _cap_client(signing: Signing = SIGNED):
    client = world().fresh()
    return client, TestClient(create_app(client, signing, public_url="http://testserver"),
                              raise_server_exceptions=True)


def test_a_body_over_1_mib_is_refused_before_parsing():
    client, http = _cap_client()
    before = store_contents(client.store)
    # Not JSON, no target, no content type, no signature: the size is refused first.
    response = http.post("/", content=b"[" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 400
    assert response.json() == {
        "__type": "InvalidParameterException",
        "message": f"Request body of {MAX_BODY_BYTES + 1} bytes is larger than the limit of {MAX_BODY_BYTES} bytes.",
    }
    assert response.headers["x-amzn-ErrorType"] == "InvalidParameterException:"
    assert response.headers["x-amzn-RequestId"]
    assert store_contents(client.store) == before


def test_a_streamed_body_over_1_mib_is_refused_too():
    client, http = _cap_client()

    def chunks():
        for _ in range(20):
            yield b"{" * 65_536

    response = http.post("/", content=chunks(), headers={"X-Amz-Target": PREFIX + "ListUserPools",
                                                           "Content-Type": CONTENT_TYPE})
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 400
    message = response.json()["message"]
    size = int(re.fullmatch(r"Request body of (\d+) bytes is larger than the limit of 1048576 bytes\.", message)[1])
    assert MAX_BODY_BYTES < size <= 20 * 65_536


def test_a_body_of_exactly_1_mib_is_parsed():
    _, http = _cap_client(Signing(None))
    body = b'{"MaxResults": 1}'
    body += b" " * (MAX_BODY_BYTES - len(body))
    response = http.post("/", content=body, headers={"X-Amz-Target": PREFIX + "ListUserPools",
                                                     "Content-Type": CONTENT_TYPE})
    assert response.status_code == 200, response.json()
    assert [p["Id"] for p in response.json()["UserPools"]] == [world().pool]


# -- below the test client: raw ASGI messages ---------------------------------------------------------
#
# Starlette's TestClient re-encodes header bytes (b"\xb2" arrives as "Â²"), so these tests
# call the ASGI app directly with the exact bytes an HTTP server would pass on.


def asgi_call(app, *, method: bytes = b"POST", raw_path: bytes = b"/", query: bytes = b"",
              headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request through the ASGI app; returns status, headers (lower-case) and body.
    Exceptions escaping the app propagate, as they would to the server."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
        "method": method.decode("latin-1"), "path": raw_path.decode("latin-1").split("?")[0] or "/",
        "raw_path": raw_path, "query_string": query, "root_path": "",
        "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"testserver"), *((k.lower(), v) for k, v in headers)],
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    # A thread of its own: a test run in the same process may have left an event loop running
    # in this thread (Playwright's sync API does), and asyncio.run refuses to nest.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(asyncio.run, app(scope, receive, send)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    response_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], response_headers, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


raw_header_names = st.sampled_from([b"x-amz-target", b"content-type", b"authorization", b"x-amz-date", b"x-custom",
                                    b"accept", b"cookie"]) | st.binary(min_size=1, max_size=10)
raw_header_values = st.binary(max_size=40)
# What an HTTP/1.1 parser (h11, under uvicorn) lets through in a request target: visible ASCII.
target_bytes = st.binary(max_size=12).map(lambda b: bytes(0x21 + c % 94 for c in b))


@given(
    st.sampled_from([PREFIX + op for op in OPERATIONS]).map(str.encode) | st.binary(max_size=40),
    st.sampled_from([CONTENT_TYPE.encode()] * 3) | st.binary(max_size=30),
    st.lists(st.tuples(raw_header_names.filter(lambda n: n.lower() != b"content-length"), raw_header_values),
             max_size=4),
    st.sampled_from([b"/"] * 5 + [b"//", b"/%ff", b"/a/../", b"/health"]) | target_bytes.map(b"/".__add__),
    st.sampled_from([b""] * 3 + [b"a=%ff", b"x"]) | target_bytes,
    st.binary(max_size=100) | st.sampled_from([b"{}", b'{"MaxResults": 1}']),
    st.sampled_from([Signing(None), Signing(SECRETS)]),
)
def test_raw_header_and_path_bytes_never_break_the_app(target, content_type, extra, raw_path, query, body, signing):
    client = world().fresh()
    app = create_app(client, signing, public_url="http://testserver")
    before, sent = store_contents(client.store), len(client.messenger.messages)
    headers = [(b"x-amz-target", target), (b"content-type", content_type), *extra]
    status, response_headers, content = asgi_call(app, raw_path=raw_path, query=query, headers=headers, body=body)
    assert status in (200, 400, 404, 405), (status, content[:300])
    assert response_headers.get("x-amzn-requestid")
    if status != 200:
        document = json.loads(content)
        assert set(document) == {"__type", "message"}
        check_unchanged = without_lockout if document["__type"] in MAY_COUNT_A_FAILURE else (lambda c: c)
        assert check_unchanged(store_contents(client.store)) == check_unchanged(before)
        assert len(client.messenger.messages) == sent


@pytest.mark.parametrize("declared", [b"\xb2", b"\xb9\xb2\xb3"])
def test_a_content_length_of_non_ascii_digits_is_not_a_crash(declared):
    client = world().fresh()
    app = create_app(client, Signing(None), public_url="http://testserver")
    body = b'{"MaxResults": 1}'
    status, headers, _ = asgi_call(app, headers=[
        (b"x-amz-target", (PREFIX + "ListUserPools").encode()), (b"content-type", CONTENT_TYPE.encode()),
        (b"content-length", declared)], body=body)
    assert status in (200, 400)
    assert headers.get("x-amzn-requestid")


def test_a_404_with_a_non_utf8_query_string_is_not_a_crash():
    app = create_app(world().fresh(), Signing(None), public_url="http://testserver")
    status, headers, content = asgi_call(app, raw_path=b"/nope", query=b"\x80", headers=[], body=b"")
    assert status == 404
    assert json.loads(content)["__type"] == "UnknownOperationException"


def test_a_declared_content_length_over_the_limit_is_refused_unread():
    client = world().fresh()
    app = create_app(client, Signing(None), public_url="http://testserver")
    status, _, content = asgi_call(app, headers=[
        (b"x-amz-target", (PREFIX + "ListUserPools").encode()), (b"content-type", CONTENT_TYPE.encode()),
        (b"content-length", str(MAX_BODY_BYTES + 1).encode())], body=b'{"MaxResults": 1}')
    assert status == 400
    assert json.loads(content)["message"] == (
        f"Request body of {MAX_BODY_BYTES + 1} bytes is larger than the limit of {MAX_BODY_BYTES} bytes.")
