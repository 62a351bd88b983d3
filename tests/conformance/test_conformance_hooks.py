"""`authflow serve --test-hooks`: the outbox and clock hooks the conformance runner uses
over HTTP, absent unless asked for."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import pytest

with warnings.catch_warnings():
    # Starlette 1.x suggests httpx2 for its TestClient; httpx still works (and is pinned).
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import authflow
from authflow.adapters import MemoryOutbox, OffsetClock
from authflow.server import ConformanceHooks, create_app
from authflow.wire.protocol import Signing
from tests.conftest import TEST_CONFIG
from tests.integration.test_serve_command import module_command, run


def app(hooks: bool, secrets=None):
    """A client and the app over it; with `secrets`, signing is on (checked against real time)."""
    from authflow.adapters import SystemClock

    clock, outbox = OffsetClock(), MemoryOutbox()
    client = authflow.Client(clock=clock, messenger=outbox, config=TEST_CONFIG)
    the_hooks = ConformanceHooks(clock=clock, outbox=outbox) if hooks else None
    signing = Signing(secrets, clock=SystemClock())
    return client, TestClient(create_app(client, signing, public_url="http://testserver", hooks=the_hooks))


@pytest.mark.parametrize("path", ["/_authflow/hooks", "/_authflow/outbox?UserPoolId=p&Username=u"])
def test_without_test_hooks_there_is_no_hook(path):
    _, http = app(hooks=False)
    assert http.get(path).status_code == 404
    assert http.post("/_authflow/clock", json={"AdvanceSeconds": 60}).status_code == 404


def test_the_outbox_hook_hands_out_one_users_messages_with_their_codes():
    client, http = app(hooks=True)
    assert http.get("/_authflow/hooks").json() == {"Hooks": ["outbox", "clock"]}
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    for name in ("alice", "bob"):
        client.admin_create_user(UserPoolId=pool, Username=name, DesiredDeliveryMediums=["EMAIL"],
                                 UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}])
    messages = http.get(f"/_authflow/outbox?UserPoolId={pool}&Username=ALICE").json()["Messages"]
    assert [(m["Kind"], m["Destination"]) for m in messages] == [("invitation", "alice@example.com")]
    assert messages[0]["Code"] and messages[0]["Code"] in messages[0]["Body"]
    assert http.get("/_authflow/outbox?UserPoolId=other&Username=alice").json() == {"Messages": []}
    assert http.get("/_authflow/outbox?Username=alice").status_code == 400


@pytest.mark.parametrize("body", [{}, {"AdvanceSeconds": -1}, {"AdvanceSeconds": 1.5},
                                  {"AdvanceSeconds": True}, {"AdvanceSeconds": 10**9}, []])
def test_the_clock_hook_refuses_anything_but_a_sane_forward_step(body):
    client, http = app(hooks=True)
    before = client.engine.clock.now()
    answer = http.post("/_authflow/clock", json=body)
    assert answer.status_code == 400
    assert client.engine.clock.now() - before < timedelta(minutes=1)


def test_the_clock_hook_moves_the_engines_clock():
    client, http = app(hooks=True)
    answer = http.post("/_authflow/clock", json={"AdvanceSeconds": 8 * 86400})
    assert answer.status_code == 200
    moved = datetime.fromisoformat(answer.json()["Now"])
    assert moved - client.engine.clock.now() < timedelta(seconds=5)
    assert client.engine.clock.now() - datetime.now(moved.tzinfo) > timedelta(days=7, hours=23)


def test_serve_refuses_test_hooks_with_several_workers(tmp_path):
    done = run([*module_command(), "serve", "--test-hooks", "--workers", "2", "--db", str(tmp_path / "a.db")], tmp_path)
    assert done.returncode == 2
    assert "--test-hooks needs --workers 1" in done.stderr


def signed_headers(method: str, url: str, body: bytes, key_id: str, secret: str) -> dict:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key_id, secret), "cognito-idp", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_with_signing_on_the_hooks_answer_only_signed_requests():
    from tests.http import KEY_ID, SECRET, SECRETS

    client, http = app(hooks=True, secrets=SECRETS)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    outbox = f"http://testserver/_authflow/outbox?UserPoolId={pool}&Username=alice%40example.com"
    clock_body = b'{"AdvanceSeconds": 3600}'
    before = client.engine.clock.now()
    assert http.get("/_authflow/hooks").status_code == 200  # that hooks exist is no secret
    unsigned = http.get(outbox)
    assert unsigned.status_code == 403 and unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    assert http.post("/_authflow/clock", content=clock_body).status_code == 403
    wrong = http.get(outbox, headers=signed_headers("GET", outbox, b"", KEY_ID, "not-the-secret"))
    assert wrong.status_code == 403
    assert client.engine.clock.now() - before < timedelta(minutes=1)
    assert http.get(outbox, headers=signed_headers("GET", outbox, b"", KEY_ID, SECRET)).json() == {"Messages": []}
    moved = http.post("http://testserver/_authflow/clock", content=clock_body,
                      headers=signed_headers("POST", "http://testserver/_authflow/clock", clock_body, KEY_ID, SECRET))
    assert moved.status_code == 200
    assert client.engine.clock.now() - before >= timedelta(hours=1)
