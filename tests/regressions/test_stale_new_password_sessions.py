"""Regressions found by `authflow explore` / the invariants machine:

1. A NEW_PASSWORD_REQUIRED session left open after the user had finished signing in
   through another session compared the answer with the (old) temporary password before
   noticing the session was stale, so it told a right guess (InvalidPasswordException
   "must be different from the temporary password") from a wrong one ("Invalid session
   for the user."), outside the lockout.
2. A session opened before an admin RESEND could still be answered afterwards: it was not
   tied to the temporary password it had proved.
Both now answer "Invalid session for the user." before any password is compared.
"""

from __future__ import annotations

import pytest

from tests.conftest import HARDENED_CONFIG, make_client

TEMP = "Temp-pass-1"


def setup():
    # Hardened: the engine compares new passwords with the temporary one, which is what
    # made a stale session able to tell a right guess from a wrong one.
    client = make_client(config=HARDENED_CONFIG)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="c",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool, Username="bob", TemporaryPassword=TEMP, MessageAction="SUPPRESS",
                             UserAttributes=[{"Name": "email", "Value": "bob@example.com"}])
    return client, pool, app


def start(client, app, password=TEMP):
    return client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "bob", "PASSWORD": password})["Session"]


def answer(client, app, session, new):
    return client.respond_to_auth_challenge(ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
                                            ChallengeResponses={"USERNAME": "bob", "NEW_PASSWORD": new})


@pytest.mark.parametrize("guess", [TEMP, "Another-pass-3", "A-better-pass-2"])
def test_a_second_session_after_completion_says_nothing_about_passwords(guess):
    client, pool, app = setup()
    first, second = start(client, app), start(client, app)
    assert "AuthenticationResult" in answer(client, app, first, "A-better-pass-2")
    with pytest.raises(client.exceptions.NotAuthorizedException, match="^Invalid session for the user.$"):
        answer(client, app, second, guess)


def test_a_session_opened_before_a_resend_is_void():
    client, pool, app = setup()
    session = start(client, app)
    client.admin_create_user(UserPoolId=pool, Username="bob", TemporaryPassword="Temp-pass-9", MessageAction="RESEND",
                             DesiredDeliveryMediums=["EMAIL"])
    with pytest.raises(client.exceptions.NotAuthorizedException, match="^Invalid session for the user.$"):
        answer(client, app, session, "A-better-pass-2")
    fresh = start(client, app, "Temp-pass-9")
    assert "AuthenticationResult" in answer(client, app, fresh, "A-better-pass-2")
