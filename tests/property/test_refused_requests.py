"""A refused request changes nothing: after any CognitoError the store holds exactly
what it held before (records, aliases and indexes), and no message was sent.

Hypothesis drives random sequences of admin requests, valid and invalid, over a
small universe of usernames, emails and passwords, so refusals happen in many
states (after alias moves, deletions, disabled users ...)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authflow.errors import CognitoError
from tests.conftest import make_client
from tests.helpers import store_contents

# Weighted towards valid values so that users exist, aliases move and users are
# disabled or deleted before the next refusal is tried.
USERNAMES = st.sampled_from(["alice", "bob", "Alice", "a@example.com", "+14325551212"])
EMAILS = st.sampled_from(["shared@example.com", "shared@example.com", "other@example.com", "bad-email", ""])
PASSWORDS = st.sampled_from([None, None, None, "Passw0rd!xy", "short", "nouppercase1!", "P" * 257])
FLAGS = st.sampled_from([None, "true", "true", "false", "maybe"])


@st.composite
def attributes(draw):
    out = []
    email = draw(st.one_of(st.none(), EMAILS))
    if email is not None:
        out.append({"Name": "email", "Value": email})
    flag = draw(FLAGS)
    if flag is not None:
        out.append({"Name": "email_verified", "Value": flag})
    extra = draw(st.sampled_from([None, ("nickname", "n"), ("custom:nope", "x"), ("sub", "s"), ("preferred_username", "ace")]))
    if extra:
        out.append({"Name": extra[0], "Value": extra[1]})
    return out


@st.composite
def requests(draw):
    op = draw(
        st.sampled_from(
            ["create"] * 4 + ["resend", "update", "update", "delete_attrs", "disable", "enable", "delete", "update_pool", "bad_shape"]
        )
    )
    username = draw(USERNAMES)
    if op == "create":
        kwargs = {
            "Username": username,
            "UserAttributes": draw(attributes()),
            "ForceAliasCreation": draw(st.booleans()),
            "MessageAction": draw(st.sampled_from(["SUPPRESS", None, "SUPPRESS", "RESEND", "BOGUS"])),
            "DesiredDeliveryMediums": draw(st.sampled_from([["EMAIL"], ["EMAIL"], None, ["SMS"], ["EMAIL", "SMS"]])),
            "TemporaryPassword": draw(PASSWORDS),
        }
        return "admin_create_user", {k: v for k, v in kwargs.items() if v is not None}
    if op == "resend":
        return "admin_create_user", {"Username": username, "MessageAction": "RESEND", "DesiredDeliveryMediums": ["EMAIL"]}
    if op == "update":
        return "admin_update_user_attributes", {"Username": username, "UserAttributes": draw(attributes())}
    if op == "delete_attrs":
        names = draw(st.lists(st.sampled_from(["email", "nickname", "sub", "custom:nope", "family_name"]), max_size=2))
        return "admin_delete_user_attributes", {"Username": username, "UserAttributeNames": names}
    if op == "update_pool":
        return "update_user_pool", {
            "Policies": {"PasswordPolicy": {"MinimumLength": draw(st.sampled_from([8, 5, 100]))}},
            "AdminCreateUserConfig": {"UnusedAccountValidityDays": draw(st.sampled_from([7, 400]))},
        }
    if op == "bad_shape":
        return "admin_create_user", {"Username": draw(st.sampled_from(["", "x" * 129, "has space"]))}
    return f"admin_{op}_user", {"Username": username}


@pytest.mark.parametrize("pool_kind", ["alias", "username_attributes", "plain"])
@given(steps=st.lists(requests(), min_size=1, max_size=12))
def test_refusals_change_nothing(pool_kind, steps):
    client = make_client()
    pool_args = {
        "alias": {"AliasAttributes": ["email", "preferred_username"]},
        "username_attributes": {"UsernameAttributes": ["email", "phone_number"]},
        "plain": {"Schema": [{"Name": "family_name", "AttributeDataType": "String", "Required": True, "Mutable": True}]},
    }[pool_kind]
    pool = client.create_user_pool(PoolName="p", **pool_args)["UserPool"]["Id"]
    for method, kwargs in steps:
        before = store_contents(client.store)
        sent = len(client.messenger.messages)
        try:
            getattr(client, method)(UserPoolId=pool, **kwargs)
        except CognitoError:
            assert store_contents(client.store) == before, f"{method} {kwargs} was refused but changed the store"
            assert len(client.messenger.messages) == sent
