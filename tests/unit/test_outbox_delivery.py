"""The outbox: every message is an entry written in the transaction of the change that
caused it, delivered after the commit, marked as the attempt went; bodies sealed at rest;
the queued sender's claim, retries and bound."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest

from authflow.adapters.outbox import DEFAULT_POLICY, RetryPolicy
from authflow.adapters.outbox_sender import OutboxSender
from authflow.core.effects import Message
from authflow.crypto.sealing import SealError
from authflow.errors import CodeDeliveryFailureException, UsernameExistsException
from tests.signin import NEW, TEMP, Env, mfa_config

EMAIL = [{"Name": "email", "Value": "alice@example.com"}]


def entries(env: Env) -> list:
    """The store's outbox, oldest first (one instant under the manual clock: then by id)."""
    with env.client.engine.store.transaction() as tx:
        return list(reversed(tx.list_outbox(limit=1000)))


def opened(env: Env, entry) -> Message:
    return env.client.engine.open_message(entry)


def invite(env: Env, pool: str, username: str = "alice", **kwargs) -> dict:
    return env.client.admin_create_user(UserPoolId=pool, Username=username, UserAttributes=EMAIL,
                                        DesiredDeliveryMediums=["EMAIL"], **kwargs)


class Failing:
    """An in-process messenger whose server is down."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: Message) -> None:
        self.calls += 1
        raise ConnectionRefusedError("the mail server is down")


# -- in-process messengers: today's behaviour, and the entries beside it -------------------------


def test_an_invitation_is_delivered_at_once_and_recorded_as_sent():
    env = Env()
    pool = env.pool()
    invite(env, pool)
    (message,) = env.outbox.messages
    (entry,) = entries(env)
    assert entry.state == "SENT" and entry.attempts == 1 and entry.sent == env.clock.now()
    assert entry.created == env.clock.now() and entry.last_error is None
    assert opened(env, entry) == message
    assert (entry.message.destination, entry.message.kind, entry.message.subject) == (
        "alice@example.com", "invitation", "Your temporary password")


def test_bodies_and_codes_are_sealed_at_rest_and_bound_to_their_entry():
    env = Env()
    pool = env.pool()
    invite(env, pool, "alice")
    invite(env, pool, "bob")
    first, second = sorted(entries(env), key=lambda e: e.message.username)  # alice, bob
    password = re.search(r"temporary password is (\S+)\.", env.outbox.messages[0].body).group(1)
    assert password not in first.message.body and first.message.code == ""
    assert first.message.body.startswith("sealed:v1:")
    moved = dataclasses.replace(second, message=first.message)  # a sealed body under another id
    with pytest.raises(SealError, match="sealed for another record"):
        opened(env, moved)


def test_a_refused_operation_leaves_no_entry():
    env = Env()
    pool = env.pool()
    invite(env, pool)
    with pytest.raises(UsernameExistsException):
        invite(env, pool)
    assert len(entries(env)) == 1 and len(env.outbox.messages) == 1


def test_a_failed_delivery_keeps_the_change_and_the_entry_pending_for_a_retry():
    failing = Failing()
    env = Env()
    env.client.engine.messenger = failing
    pool = env.pool()
    with pytest.raises(CodeDeliveryFailureException):
        invite(env, pool)
    assert env.client.admin_get_user(UserPoolId=pool, Username="alice")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    (entry,) = entries(env)
    assert failing.calls == 1
    assert entry.state == "PENDING" and entry.attempts == 1
    assert entry.last_error == "ConnectionRefusedError: the mail server is down"
    now = env.clock.now()
    assert now + DEFAULT_POLICY.base * 0.75 <= entry.next_attempt <= now + DEFAULT_POLICY.base


def test_every_kind_of_message_is_recorded_with_its_state():
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    mfa_config(env, pool, "OPTIONAL", totp=False, sms=True)
    app = env.app_id(pool)
    # SignUp and ResendConfirmationCode, ForgotPassword, AdminResetUserPassword
    env.client.sign_up(ClientId=app, Username="carol", Password=NEW, UserAttributes=EMAIL)
    env.client.resend_confirmation_code(ClientId=app, Username="carol")
    env.client.confirm_sign_up(ClientId=app, Username="carol", ConfirmationCode=env.outbox.last().code)
    env.client.forgot_password(ClientId=app, Username="carol")
    env.client.admin_reset_user_password(UserPoolId=pool, Username="carol")
    # an invitation, an updated (auto-verified) e-mail's code
    invite(env, pool)
    env.user(pool, "dave", attributes=[*EMAIL, {"Name": "phone_number", "Value": "+15555550123"},
                                       {"Name": "phone_number_verified", "Value": "true"}])
    env.client.admin_set_user_password(UserPoolId=pool, Username="dave", Password=NEW, Permanent=True)
    env.client.admin_update_user_attributes(UserPoolId=pool, Username="dave",
                                            UserAttributes=[{"Name": "email", "Value": "dave@example.com"}])
    env.client.admin_set_user_mfa_preference(UserPoolId=pool, Username="dave",
                                             SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    # an SMS_MFA sign-in's code
    started = env.client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": "dave", "PASSWORD": NEW})
    assert started["ChallengeName"] == "SMS_MFA"
    recorded = entries(env)
    def key(m: Message) -> tuple:
        return m.kind, m.username, m.body

    assert sorted((opened(env, e) for e in recorded), key=key) == sorted(env.outbox.messages, key=key)
    assert sorted(e.message.kind for e in recorded) == [
        "invitation", "mfa_code", "resend_code", "reset_code", "reset_code", "sign_up_code", "verification_code"]
    assert {e.state for e in recorded} == {"SENT"}
    assert len({e.id for e in recorded}) == len(recorded)


# -- the queued sender ---------------------------------------------------------------------------


class Transport:
    """A transport that records what it sent (by message id), down while `down`."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []
        self.down = False
        self.closed = 0

    def send(self, message: Message, *, message_id: str) -> None:
        if self.down:
            raise ConnectionRefusedError("down")
        self.sent.append((message_id, message))

    def close(self) -> None:
        self.closed += 1


def queued(policy: RetryPolicy = DEFAULT_POLICY) -> tuple[Env, OutboxSender, Transport]:
    transport = Transport()
    sender = OutboxSender({"EMAIL": transport}, policy=policy)
    env = Env()
    env.client.engine.messenger = sender
    sender.bind(env.client.engine)  # not started: the tests drain by hand
    return env, sender, transport


def test_a_queued_operation_returns_with_the_entry_committed_and_the_sender_sends_it():
    env, sender, transport = queued()
    pool = env.pool()
    invite(env, pool)
    (entry,) = entries(env)
    assert entry.state == "PENDING" and entry.next_attempt == env.clock.now() and not transport.sent
    assert sender._wake.is_set()  # deliver woke the sender
    sender.drain()
    ((message_id, message),) = transport.sent
    assert message_id == entry.id and message.body.startswith("Your username is alice")
    (entry,) = entries(env)
    assert entry.state == "SENT" and entry.attempts == 1


def test_the_sender_backs_off_while_the_server_is_down_and_fails_at_the_bound():
    policy = RetryPolicy(base=timedelta(seconds=2), cap=timedelta(seconds=10), max_attempts=5)
    env, sender, transport = queued(policy)
    pool = env.pool()
    invite(env, pool)
    transport.down = True
    waits = []
    for _ in range(4):
        sender.drain()
        (entry,) = entries(env)
        assert entry.state == "PENDING"
        waits.append(entry.next_attempt - env.clock.now())
        sender.drain()  # not due yet: no attempt
        assert entries(env)[0].attempts == entry.attempts
        env.clock.advance(waits[-1])
    assert [round(w.total_seconds()) for w in waits] == [pytest.approx(s, abs=s / 4 + 1) for s in (2, 4, 8, 10)]
    assert all(w <= timedelta(seconds=cap) for w, cap in zip(waits, (2, 4, 8, 10), strict=True))
    sender.drain()
    (entry,) = entries(env)
    assert entry.state == "FAILED" and entry.attempts == 5 and entry.last_error == "ConnectionRefusedError: down"
    transport.down = False
    sender.drain()
    assert not transport.sent  # given up


def test_a_failed_transport_stops_the_pass_for_its_medium():
    env, sender, transport = queued()
    pool = env.pool()
    for name in ("a", "b", "c"):
        invite(env, pool, name)
    transport.down = True
    sender.drain()
    assert sorted(e.attempts for e in entries(env)) == [0, 0, 1]


def test_a_claimed_entry_is_not_sent_by_a_second_sender_until_its_lease_runs_out():
    env, sender, transport = queued()
    pool = env.pool()
    invite(env, pool)
    (entry,) = entries(env)
    claimed = sender._claim(entry)
    assert claimed is not None and claimed.next_attempt == env.clock.now() + DEFAULT_POLICY.lease
    other = OutboxSender({"EMAIL": transport}).bind(env.client.engine)
    assert other._claim(entry) is None  # the version it read is gone
    other.drain()
    assert not transport.sent
    env.clock.advance(DEFAULT_POLICY.lease)  # the first sender died after its claim
    other.drain()
    assert [m for m, _ in transport.sent] == [entry.id]
    assert not env.client.engine.mark(claimed, error=None)  # the dead sender's late mark loses
    assert entries(env)[0].state == "SENT"


def test_an_sms_without_a_transport_goes_to_the_fallback():
    env, sender, transport = queued()
    sender.fallback = env.outbox
    pool = env.pool()
    env.client.admin_create_user(UserPoolId=pool, Username="erin", TemporaryPassword=TEMP,
                                 UserAttributes=[{"Name": "phone_number", "Value": "+15555550100"}])
    sender.drain()
    (message,) = env.outbox.messages
    assert message.medium == "SMS" and not transport.sent
    assert entries(env)[0].state == "SENT"
