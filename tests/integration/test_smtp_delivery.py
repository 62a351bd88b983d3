"""Real e-mail through a real SMTP server (aiosmtpd on a free loopback port), sent by the
outbox's sender thread: what arrives (subject, body, Message-ID, HTML), STARTTLS, SMTPS and
AUTH, the SMS webhook, and the fault test — the server down during 20 invitations, then up:
all 20 arrive, each once."""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import authflow
from authflow.adapters import MemoryStore
from authflow.adapters.outbox import RetryPolicy
from authflow.adapters.outbox_sender import OutboxSender
from authflow.adapters.sms_webhook import SmsWebhook
from authflow.adapters.smtp import SmtpSettings, SmtpTransport
from tests.conftest import TEST_CONFIG
from tests.http import serving
from tests.smtp_sink import Sink, controller, free_port, running_sink, self_signed

EMAIL = [{"Name": "email", "Value": "alice@example.com"}]
#: Quick retries, so that a test sees several within a second or two.
QUICK = RetryPolicy(base=timedelta(milliseconds=100), cap=timedelta(milliseconds=400), lease=timedelta(seconds=5))


@contextmanager
def engine_sending(url: str | None = None, *, sms_url: str | None = None, policy: RetryPolicy = QUICK):
    """A client (memory store, real clock) whose messages go out by a running sender."""
    transports = {}
    sender = OutboxSender(transports, policy=policy, idle_seconds=0.05)
    client = authflow.Client(store=MemoryStore(), messenger=sender, config=TEST_CONFIG)
    if url is not None:
        transports["EMAIL"] = SmtpTransport(SmtpSettings.parse(url), mail_from="Pool <auth@example.com>",
                                            clock=client.engine.now)
    if sms_url is not None:
        transports["SMS"] = SmsWebhook(sms_url, timeout=2)
    sender.transports = transports
    sender.bind(client.engine).start()
    try:
        yield client
    finally:
        sender.stop()


def outbox_of(client) -> list:
    with client.engine.store.transaction() as tx:
        return tx.list_outbox(limit=1000)


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.fixture
def sink():
    with running_sink() as sink:
        yield sink


def test_an_invitation_arrives_with_cognitos_subject_and_body_and_its_entry_id_as_message_id(sink):
    with engine_sending(sink.url) as client, serving(client=client) as server:
        cognito = server.boto3()
        pool = cognito.create_user_pool(PoolName="p")["UserPool"]["Id"]
        cognito.admin_create_user(UserPoolId=pool, Username="alice", UserAttributes=EMAIL,
                                  DesiredDeliveryMediums=["EMAIL"])
        (received,) = sink.wait_for(1)
        wait_until(lambda: outbox_of(client)[0].state == "SENT")
        (entry,) = outbox_of(client)
    mail = received.message
    assert mail["To"] == "alice@example.com" and mail["From"] == "Pool <auth@example.com>"
    assert mail["Subject"] == "Your temporary password"
    assert mail["Message-ID"] == f"<{entry.id}@authflow>"
    assert mail["Date"] is not None and mail.get_content_type() == "text/plain"
    assert re.fullmatch(r"Your username is alice and temporary password is \S+\. \n?", mail.get_content().replace("\r\n", "\n"))
    assert entry.attempts == 1 and entry.sent is not None


def test_an_html_template_goes_as_html_with_a_plain_alternative(sink):
    with engine_sending(sink.url) as client:
        pool = client.create_user_pool(PoolName="p", AdminCreateUserConfig={"InviteMessageTemplate": {
            "EmailSubject": "Welcome", "EmailMessage": "<p>Hello {username},</p><p>use <b>{####}</b> &amp; go</p>"}})
        pool_id = pool["UserPool"]["Id"]
        client.admin_create_user(UserPoolId=pool_id, Username="alice", UserAttributes=EMAIL,
                                 TemporaryPassword="Temp-pass-1", DesiredDeliveryMediums=["EMAIL"])
        (received,) = sink.wait_for(1)
    mail = received.message
    assert mail["Subject"] == "Welcome" and mail.get_content_type() == "multipart/alternative"
    plain, rich = mail.get_payload()
    assert plain.get_content().replace("\r\n", "\n") == "Hello alice,\nuse Temp-pass-1 & go\n"
    assert rich.get_content_type() == "text/html"
    assert rich.get_content().strip() == "<p>Hello alice,</p><p>use <b>Temp-pass-1</b> &amp; go</p>"


def server_tls(tmp_path) -> ssl.SSLContext:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_starttls_and_auth(tmp_path):
    sink = Sink()
    port = free_port()
    server = controller(sink, port, tls_context=server_tls(tmp_path), require_starttls=True,
                        authenticator=sink.authenticator("mailer", "s3cret:/@"), auth_required=True)
    try:
        good = f"smtp://mailer:s3cret%3A%2F%40@127.0.0.1:{port}?starttls=1&verify=0"
        with engine_sending(good) as client:
            pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
            client.admin_create_user(UserPoolId=pool, Username="alice", UserAttributes=EMAIL,
                                     DesiredDeliveryMediums=["EMAIL"])
            sink.wait_for(1)
        assert sink.logins == [("mailer", "s3cret:/@")]
        bad = f"smtp://mailer:wrong@127.0.0.1:{port}?starttls=1&verify=0&timeout=3"
        with engine_sending(bad) as client:
            pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
            client.admin_create_user(UserPoolId=pool, Username="bob", UserAttributes=EMAIL,
                                     DesiredDeliveryMediums=["EMAIL"])
            wait_until(lambda: outbox_of(client)[0].attempts >= 2)
            (entry,) = outbox_of(client)
        assert entry.state == "PENDING" and entry.last_error.startswith("SMTPAuthenticationError")
        assert len(sink.received) == 1
        unverified = f"smtp://mailer:s3cret%3A%2F%40@127.0.0.1:{port}?starttls=1"  # a self-signed certificate
        with engine_sending(unverified) as client:
            pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
            client.admin_create_user(UserPoolId=pool, Username="carol", UserAttributes=EMAIL,
                                     DesiredDeliveryMediums=["EMAIL"])
            wait_until(lambda: outbox_of(client)[0].attempts >= 1)
            (entry,) = outbox_of(client)
        assert entry.state == "PENDING" and "CERTIFICATE_VERIFY_FAILED" in entry.last_error
    finally:
        server.stop()


def test_smtps(tmp_path):
    sink = Sink()
    port = free_port()
    server = controller(sink, port, ssl_context=server_tls(tmp_path))
    try:
        with engine_sending(f"smtps://127.0.0.1:{port}?verify=0") as client:
            pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
            client.admin_create_user(UserPoolId=pool, Username="alice", UserAttributes=EMAIL,
                                     DesiredDeliveryMediums=["EMAIL"])
            (received,) = sink.wait_for(1)
        assert received.message["To"] == "alice@example.com"
    finally:
        server.stop()


@pytest.mark.slow
def test_the_server_down_during_20_invitations_then_up_all_arrive_each_once():
    sink = Sink()
    port = free_port()  # nothing listens yet: every attempt is refused
    with engine_sending(f"smtp://127.0.0.1:{port}?timeout=2") as client:
        pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
        for i in range(20):
            client.admin_create_user(UserPoolId=pool, Username=f"user{i}",
                                     UserAttributes=[{"Name": "email", "Value": f"user{i}@example.com"}],
                                     DesiredDeliveryMediums=["EMAIL"])
        wait_until(lambda: sum(e.attempts for e in outbox_of(client)) >= 3)  # refused, and retried
        assert not sink.received and {e.state for e in outbox_of(client)} == {"PENDING"}
        server = controller(sink, port)
        try:
            sink.wait_for(20)
            wait_until(lambda: {e.state for e in outbox_of(client)} == {"SENT"})
            time.sleep(0.5)  # time for any resend to show
            entries = outbox_of(client)
        finally:
            server.stop()
    counts = Counter(sink.ids())
    assert set(counts) == {f"<{e.id}@authflow>" for e in entries} and len(counts) == 20
    assert set(counts.values()) == {1}
    assert sorted(r.message["To"] for r in sink.received) == sorted(f"user{i}@example.com" for i in range(20))
    assert max(e.attempts for e in entries) >= 2  # the retries were real


class Hook(BaseHTTPRequestHandler):
    answers: list[int] = []
    bodies: list[tuple[dict, str]] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.bodies.append((body, self.headers["Idempotency-Key"]))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_sms_by_webhook_with_a_retry_after_a_refusal():
    Hook.answers, Hook.bodies = [503], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with engine_sending(sms_url=f"http://127.0.0.1:{httpd.server_port}/sms") as client:
            pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
            client.admin_create_user(UserPoolId=pool, Username="erin", TemporaryPassword="Temp-pass-1",
                                     UserAttributes=[{"Name": "phone_number", "Value": "+15555550100"}])
            wait_until(lambda: outbox_of(client)[0].state == "SENT")
            (entry,) = outbox_of(client)
    finally:
        httpd.shutdown()
    ((body, key),) = Hook.bodies
    assert body == {"destination": "+15555550100", "kind": "invitation", "userPoolId": pool, "username": "erin",
                    "messageId": entry.id, "body": "Your username is erin and temporary password is Temp-pass-1. "}
    assert key == entry.id and entry.attempts == 2 and entry.last_error is None


def serve_args(tmp_path, *extra: str):
    import argparse

    from authflow.cli import add_serve_arguments

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(["--db", str(tmp_path / "a.db"), "--insecure-no-auth", *extra])


def test_serve_plans_delivery_and_its_banner_shows_no_secret(tmp_path):
    from authflow.serve import plan

    the_plan, lines = plan(serve_args(tmp_path, "--smtp", "smtp://u:hunter2@mail.example:2525?starttls=1",
                                      "--mail-from", "auth@example.com",
                                      "--sms-webhook", "https://k:v@hooks.example/sms?token=abc"))
    text = "\n".join(lines)
    assert "hunter2" not in text and "token=abc" not in text and "k:v" not in text
    assert "SMTP smtp://u@mail.example:2525 with STARTTLS, AUTH as that user, from auth@example.com" in text
    assert "POST to https://hooks.example/sms?..." in text
    assert the_plan.mail_from == "auth@example.com" and the_plan.outbox_lease == 60


@pytest.mark.parametrize(("extra", "message"), [
    (["--smtp", "http://mail.example"], "--smtp must be smtp://"),
    (["--smtp", "smtps://mail.example?starttls=1"], "smtps:// is TLS from the start"),
    (["--smtp", "smtp://mail.example?tls=1"], "unknown option(s) tls"),
    (["--mail-from", "a@example.com"], "--mail-from needs --smtp"),
    (["--sms-webhook", "ftp://x"], "--sms-webhook must be an http"),
    (["--smtp", "smtp://u:p@mail.example", "--workers", "2"], "AUTHFLOW_SMTP_PASSWORD"),
    (["--smtp", "smtp://mail.example?timeout=30", "--outbox-lease", "20"], "longer than the SMTP timeout"),
])
def test_serve_refuses_unusable_delivery_options(tmp_path, extra, message):
    from authflow.serve import StartupError, plan

    with pytest.raises(StartupError) as caught:
        plan(serve_args(tmp_path, *extra))
    assert message in str(caught.value)


def test_the_smtp_user_and_password_may_come_from_the_environment():
    environ = {"AUTHFLOW_SMTP_USER": "u", "AUTHFLOW_SMTP_PASSWORD": "hunter2"}
    settings = SmtpSettings.parse("smtp://mail.example", environ)
    assert (settings.user, settings.password, settings.port, settings.tls) == ("u", "hunter2", 25, "none")
    assert "hunter2" not in str(settings) and "hunter2" not in repr(settings)
