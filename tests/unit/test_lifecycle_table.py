"""The exhaustive table test of the user lifecycle: for every (status, trigger) pair,
driving the engine through the public Client either moves the user to the status
the spec names or raises a CognitoError and changes nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from authflow.core.lifecycle import IllegalTransition, user_lifecycle
from authflow.errors import CognitoError
from tests.conftest import make_client

MACHINE = user_lifecycle()


def drive(client, pool, trigger):
    """The public operation behind each trigger."""
    if trigger == "admin_create":
        return client.admin_create_user(UserPoolId=pool, Username="u", MessageAction="SUPPRESS")
    if trigger == "resend_invitation":
        return client.admin_create_user(UserPoolId=pool, Username="u", MessageAction="RESEND", DesiredDeliveryMediums=["EMAIL"])
    if trigger == "disable":
        return client.admin_disable_user(UserPoolId=pool, Username="u")
    if trigger == "enable":
        return client.admin_enable_user(UserPoolId=pool, Username="u")
    if trigger == "update_attributes":
        return client.admin_update_user_attributes(
            UserPoolId=pool, Username="u", UserAttributes=[{"Name": "nickname", "Value": "n"}]
        )
    if trigger == "lose_alias":  # another user takes the verified email with ForceAliasCreation
        return client.admin_create_user(
            UserPoolId=pool,
            Username="other",
            UserAttributes=[{"Name": "email", "Value": "u@example.com"}, {"Name": "email_verified", "Value": "true"}],
            ForceAliasCreation=True,
            MessageAction="SUPPRESS",
        )
    if trigger == "delete":
        return client.admin_delete_user(UserPoolId=pool, Username="u")
    raise AssertionError(f"no public operation drives {trigger}")


def status_of(client, pool):
    try:
        return client.admin_get_user(UserPoolId=pool, Username="u")["UserStatus"]
    except client.exceptions.UserNotFoundException:
        return "ABSENT"


# An absent user holds no alias, so "lose_alias" cannot be driven for it: the
# operation that would take the alias acts on another user only.
PAIRS = [(s, t) for s in MACHINE.states for t in MACHINE.triggers if (s, t) != ("ABSENT", "lose_alias")]


@pytest.mark.parametrize(("status", "trigger"), PAIRS)
def test_every_status_and_trigger(status, trigger):
    client = make_client()
    pool = client.create_user_pool(PoolName="t", AliasAttributes=["email"])["UserPool"]["Id"]
    if status != "ABSENT":
        client.admin_create_user(
            UserPoolId=pool,
            Username="u",
            UserAttributes=[{"Name": "email", "Value": "u@example.com"}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
        with client.store.transaction() as tx:  # place the user in the status under test
            user = tx.get_user(pool, "u")
            tx.put_user(replace(user, status=status, version=user.version + 1))
    before = client.store.snapshot()
    try:
        expected = MACHINE.next_status(status, trigger)
    except IllegalTransition:
        expected = None
    try:
        drive(client, pool, trigger)
    except CognitoError:
        assert expected is None, f"{trigger} from {status} should move to {expected}"
        after = client.store.snapshot()
        assert after.users[pool].by_key == before.users[pool].by_key
        return
    assert expected is not None, f"{trigger} from {status} is not in the spec but succeeded"
    assert status_of(client, pool) == expected
