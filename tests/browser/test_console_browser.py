"""The admin console in a real browser (issue 21): Playwright for Python driving Debian's
chromium against `authflow serve`'s app, delivering e-mail to a real SMTP server.

One walk through the console as an administrator would take it: a wrong secret refused,
sign-in, the pools page, a users search, a user created whose invitation shows on the
messages page and arrives at an aiosmtpd server started here (through the outbox sender
and the SMTP transport `authflow serve --smtp` uses), a password reset, a form whose
CSRF token was taken out refused, and an attribute holding `<script>` shown as text
(no dialog ever opens). Screenshots: console-sign-in, console-pools, console-users,
console-user, console-messages (`tests/browser/conftest.py` says where they go).
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time

import pytest

import authflow
from authflow.adapters.outbox_sender import OutboxSender
from authflow.adapters.smtp import SmtpSettings, SmtpTransport
from tests.browser.conftest import screenshot
from tests.conftest import TEST_CONFIG
from tests.http import KEY_ID, REGION, SECRET, free_socket, serving

PASSWORD = "A-good-pass-1"


class Inbox:
    """What the SMTP server accepted, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 -- aiosmtpd's name
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 15.0) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if message["To"] == to:
                        return message
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to} arrived within {timeout} s")


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with free_socket() as sock:
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


@pytest.fixture
def server(smtp):
    """A server whose e-mail goes through the outbox sender to the SMTP server, as with
    `authflow serve --smtp URL`."""
    _inbox, url = smtp
    sender = OutboxSender({})
    sender.transports = {"EMAIL": SmtpTransport(SmtpSettings.parse(url), mail_from="no-reply@example.com",
                                                clock=lambda: sender.engine.now())}
    client = authflow.Client(messenger=sender, region=REGION, config=TEST_CONFIG)
    sender.bind(client.engine).start()
    try:
        with serving(client=client) as running:
            yield running
    finally:
        sender.stop()


def test_the_console_in_a_browser(server, smtp, context):
    inbox, _url = smtp
    cognito = server.client
    pool = cognito.create_user_pool(PoolName="Staff directory", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    cognito.create_group(UserPoolId=pool, GroupName="admins", Precedence=1)
    for name, mail in (("alice", "alice@example.com"), ("albert", "albert@example.com"), ("zoe", "zoe@example.com")):
        cognito.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS", UserAttributes=[
            {"Name": "email", "Value": mail}, {"Name": "email_verified", "Value": "true"}])
    cognito.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
    cognito.admin_create_user(UserPoolId=pool, Username="mallory", MessageAction="SUPPRESS", UserAttributes=[
        {"Name": "name", "Value": "<script>alert('x')</script>"}])

    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # A wrong secret is refused; the right one signs in and comes back to the page asked for.
    page.goto(f"{server.url}/console/")
    assert page.url.startswith(f"{server.url}/console/sign-in")
    page.fill("#access_key_id", KEY_ID)
    page.fill("#secret", SECRET + "-wrong")
    page.click("button[type=submit]")
    assert page.locator(".error-type").inner_text() == "NotAuthorizedException"
    assert "Incorrect access key id or secret" in page.locator(".error-message").inner_text()
    screenshot(page, "console-sign-in")
    page.fill("#secret", SECRET)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/console/")
    assert page.get_by_role("link", name="Staff directory").is_visible()
    screenshot(page, "console-pools")

    # Search users: email starts with "al".
    page.get_by_role("link", name="Staff directory").click()
    page.get_by_role("link", name=re.compile(r"^Users \(4\)")).click()
    page.select_option("#attr", "email")
    page.select_option("#op", "^=")
    page.fill("#value", "al")
    page.get_by_role("button", name="Search").click()
    names = page.locator("table.users tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == ["albert", "alice"]
    assert "4 users in the pool" in page.locator(".count").inner_text()
    screenshot(page, "console-users")

    # Create a user; the invitation is on the messages page and arrives by SMTP.
    page.fill("#new-username", "newcomer")
    page.fill("#new-email", "newcomer@example.com")
    page.fill("#new-attributes", "given_name=New\nfamily_name=Comer")
    page.get_by_role("button", name="Create user").click()
    assert page.locator(".notice").inner_text() == "User created."
    assert page.locator("#user-status").inner_text() == "FORCE_CHANGE_PASSWORD"
    arrived = inbox.wait_for("newcomer@example.com")
    body = arrived.get_body(preferencelist=("plain",)).get_content()
    temporary = re.search(r"temporary password is (\S+?)\.?\s", body + " ").group(1)
    assert "newcomer" in body
    page.goto(f"{server.url}/console/messages?to=newcomer@example.com")
    row = page.locator("tr.message").first
    assert row.locator(".kind").inner_text() == "invitation"
    assert temporary in row.locator("pre.body").inner_text()
    for _ in range(50):  # the sender marks the entry SENT just after the SMTP server's 250
        if row.locator(".state").inner_text() == "SENT":
            break
        time.sleep(0.1)
        page.reload()
        row = page.locator("tr.message").first
    assert row.locator(".state").inner_text() == "SENT"

    # Reset alice's password.
    page.goto(f"{server.url}/console/pools/{pool}/users/alice")
    page.get_by_role("button", name="Reset password").click()
    assert "Password reset" in page.locator(".notice").inner_text()
    assert page.locator("#user-status").inner_text() == "RESET_REQUIRED"
    assert cognito.admin_get_user(UserPoolId=pool, Username="alice")["UserStatus"] == "RESET_REQUIRED"
    assert "RESET_REQUIRED" in page.locator("svg.lifecycle .state.current").text_content()
    screenshot(page, "console-user")
    inbox.wait_for("alice@example.com")  # the reset's code, by SMTP
    page.goto(f"{server.url}/console/messages")
    assert page.locator("tr.message .kind").all_inner_texts()[:2] == ["reset_code", "invitation"]
    screenshot(page, "console-messages")

    # A form whose CSRF token was taken out is refused, and nothing changes.
    page.goto(f"{server.url}/console/pools/{pool}/users/zoe")
    disable = page.locator("form", has=page.get_by_role("button", name="Disable user"))
    disable.locator("input[name=_csrf]").evaluate("field => field.remove()")
    disable.get_by_role("button", name="Disable user").click()
    assert page.locator("h1").inner_text() == "Form refused"
    assert "CSRF" in page.locator(".error").inner_text()
    assert cognito.admin_get_user(UserPoolId=pool, Username="zoe")["Enabled"] is True

    # An attribute holding <script> is shown as text, never run.
    page.goto(f"{server.url}/console/pools/{pool}/users/mallory")
    cell = page.locator("table.attributes tr", has=page.locator("th", has_text="name")).locator("td.value")
    assert cell.inner_text() == "<script>alert('x')</script>"
    assert page.locator("main script").count() == 0
    assert dialogs == []
