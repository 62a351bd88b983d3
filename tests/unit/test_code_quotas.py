"""The per-user hourly limit on asking for codes (issue 8): each new code brings
fresh guesses, so ForgotPassword, ResendConfirmationCode and
GetUserAttributeVerificationCode are limited to REQUEST_LIMIT codes of one purpose an
hour; the one past it is refused with LimitExceededException and writes nothing.
Administrators' requests are counted but never refused."""

from __future__ import annotations

import re
from datetime import timedelta

from authflow.core.codes import REQUEST_LIMIT
from tests.signin import NEW, Env, refused

EMAIL = "alice@example.com"
TOO_MANY = "Attempt limit exceeded, please try after some time."


def confirmed(env: Env, pool: str) -> None:
    env.user(pool, attributes=[{"Name": "email", "Value": EMAIL}, {"Name": "email_verified", "Value": "true"}],
             password=None)
    env.client.admin_set_user_password(UserPoolId=pool, Username="alice", Password=NEW, Permanent=True)


class AccessToken:
    """alice's access token, renewed by signing in again (it lasts an hour, as the
    request window does)."""

    def __init__(self, env: Env, app: str) -> None:
        self.env, self.app = env, app
        self.renew()

    def renew(self) -> None:
        self.token = self.env.initiate(self.app, "alice", NEW)["AuthenticationResult"]["AccessToken"]


def exhaust(env: Env, ask, allowed: int = REQUEST_LIMIT, after_an_hour=lambda: None) -> None:
    """`allowed` requests pass, the next one is refused and changes nothing; an hour
    later the user may ask again."""
    for _ in range(allowed):
        ask()
    before, sent = env.snapshot(), len(env.outbox.messages)
    refused(env.client.exceptions.LimitExceededException, TOO_MANY, ask)
    assert env.snapshot() == before and len(env.outbox.messages) == sent
    env.clock.advance(timedelta(minutes=59))
    refused(env.client.exceptions.LimitExceededException, TOO_MANY, ask)
    env.clock.advance(timedelta(minutes=1, seconds=1))
    after_an_hour()
    ask()


def test_forgot_password_is_limited_per_hour():
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    confirmed(env, pool)
    exhaust(env, lambda: env.client.forgot_password(ClientId=app, Username="alice"))


def test_resend_confirmation_code_is_limited_and_the_sign_up_code_counts():
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    env.client.sign_up(ClientId=app, Username="alice", Password=NEW, UserAttributes=[{"Name": "email", "Value": EMAIL}])
    exhaust(env, lambda: env.client.resend_confirmation_code(ClientId=app, Username="alice"), REQUEST_LIMIT - 1)


def test_attribute_verification_codes_are_limited():
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    confirmed(env, pool)
    access = AccessToken(env, app)
    exhaust(env, lambda: env.client.get_user_attribute_verification_code(AccessToken=access.token, AttributeName="email"),
            after_an_hour=access.renew)


def test_administrators_are_not_limited_and_a_used_code_does_not_reset_the_count():
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    confirmed(env, pool)
    for _ in range(REQUEST_LIMIT + 2):
        env.client.admin_reset_user_password(UserPoolId=pool, Username="alice")
    # The administrator's codes count: the user's own request past the limit is refused.
    refused(env.client.exceptions.LimitExceededException, TOO_MANY,
            env.client.forgot_password, ClientId=app, Username="alice")
    env.clock.advance(timedelta(hours=1))
    env.client.forgot_password(ClientId=app, Username="alice")
    code = re.search(r"\d{6}", env.outbox.last().body).group()
    env.client.confirm_forgot_password(ClientId=app, Username="alice", ConfirmationCode=code, Password="Other1!xx")
    # Using (or voiding) the code does not give the hour's requests back: each new code
    # is five fresh guesses, whatever became of the last one.
    for _ in range(REQUEST_LIMIT - 1):
        env.client.forgot_password(ClientId=app, Username="alice")
    refused(env.client.exceptions.LimitExceededException, TOO_MANY,
            env.client.forgot_password, ClientId=app, Username="alice")


def test_an_own_attribute_update_that_sends_a_code_is_limited():
    # Each update of an auto-verified email sends a code: without the limit, updating
    # back and forth would bring unbounded fresh guesses at a code for an address the
    # user does not control.
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool)
    confirmed(env, pool)
    access = AccessToken(env, app)
    values = iter(f"new{i}@example.com" for i in range(100))

    def update():
        env.client.update_user_attributes(AccessToken=access.token,
                                          UserAttributes=[{"Name": "email", "Value": next(values)}])

    exhaust(env, update, after_an_hour=access.renew)
    # The administrator's update is never refused (and sends its code).
    sent = len(env.outbox.messages)
    for _ in range(REQUEST_LIMIT + 1):
        env.client.admin_update_user_attributes(UserPoolId=pool, Username="alice",
                                                UserAttributes=[{"Name": "email", "Value": next(values)}])
    assert len(env.outbox.messages) == sent + REQUEST_LIMIT + 1


def test_under_prevent_user_existence_errors_a_user_past_the_limit_gets_a_quiet_delivery():
    # An unknown name is never refused there, so a real user is not either: the answer
    # is the delivery's, and nothing is sent or written.
    env = Env()
    pool = env.pool(AutoVerifiedAttributes=["email"])
    app = env.app_id(pool, PreventUserExistenceErrors="ENABLED")
    env.client.sign_up(ClientId=app, Username="alice", Password=NEW, UserAttributes=[{"Name": "email", "Value": EMAIL}])
    for _ in range(REQUEST_LIMIT - 1):
        first = env.client.resend_confirmation_code(ClientId=app, Username="alice")
    before, sent = env.snapshot(), len(env.outbox.messages)
    again = env.client.resend_confirmation_code(ClientId=app, Username="alice")
    assert again["CodeDeliveryDetails"] == first["CodeDeliveryDetails"]
    assert env.snapshot() == before and len(env.outbox.messages) == sent
    env.clock.advance(timedelta(hours=1))
    env.client.resend_confirmation_code(ClientId=app, Username="alice")
    assert len(env.outbox.messages) == sent + 1
