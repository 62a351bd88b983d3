"""ListUsers through the public Client: filters, AttributesToGet, Limit, pagination."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import make_client


def create(client, pool, username, **attributes):
    client.admin_create_user(
        UserPoolId=pool,
        Username=username,
        UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()],
        MessageAction="SUPPRESS",
    )


def names(response) -> list[str]:
    return [u["Username"] for u in response["Users"]]


@pytest.fixture
def populated(client, pool_id):
    create(client, pool_id, "alice", email="alice@example.com", given_name="Alice")
    create(client, pool_id, "alfred", email="alfred@example.org", given_name="Alfred")
    create(client, pool_id, "bob", email="bob@example.com", phone_number="+14325551212")
    create(client, pool_id, "carol")
    return pool_id


def test_all_users(client, populated):
    assert sorted(names(client.list_users(UserPoolId=populated))) == ["alfred", "alice", "bob", "carol"]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ('email = "alice@example.com"', ["alice"]),
        ('email ^= "al"', ["alfred", "alice"]),
        ('"email"^="bob"', ["bob"]),
        ('username = "carol"', ["carol"]),
        ('username ^= "a"', ["alfred", "alice"]),
        ('given_name = "Alice"', ["alice"]),
        ('phone_number ^= "+1432"', ["bob"]),
        ('cognito:user_status = "force_change_password"', ["alfred", "alice", "bob", "carol"]),
        ('status = "Enabled"', ["alfred", "alice", "bob", "carol"]),
        ('status = "Disabled"', []),
        ('email = "ALICE@example.com"', []),
        ('email ^= ""', ["alfred", "alice", "bob"]),
    ],
)
def test_filters(client, populated, filter_, expected):
    assert sorted(names(client.list_users(UserPoolId=populated, Filter=filter_))) == expected


def test_sub_filter(client, populated):
    sub = next(a["Value"] for a in client.admin_get_user(UserPoolId=populated, Username="bob")["UserAttributes"] if a["Name"] == "sub")
    assert names(client.list_users(UserPoolId=populated, Filter=f'sub = "{sub}"')) == ["bob"]


def test_status_filter_follows_disable(client, populated):
    client.admin_disable_user(UserPoolId=populated, Username="bob")
    assert names(client.list_users(UserPoolId=populated, Filter='status = "Disabled"')) == ["bob"]
    assert "bob" not in names(client.list_users(UserPoolId=populated, Filter='status = "Enabled"'))


def test_quoted_values_with_escapes(client, pool_id):
    create(client, pool_id, "quote", given_name='Al "the" \\ Pal')
    assert names(client.list_users(UserPoolId=pool_id, Filter='given_name = "Al \\"the\\" \\\\ Pal"')) == ["quote"]


@pytest.mark.parametrize(
    "filter_",
    ['email == "x"', 'custom:tier = "x"', 'email = x', 'email = "x', 'nickname = "x"', 'email = "x" extra', 'email != "x"'],
)
def test_bad_filters(client, populated, filter_):
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.list_users(UserPoolId=populated, Filter=filter_)


def test_filter_longer_than_256_characters(client, populated):
    with pytest.raises(client.exceptions.InvalidParameterException) as err:
        client.list_users(UserPoolId=populated, Filter='email = "' + "a" * 300 + '"')
    assert "filter" in err.value.message


def test_attributes_to_get(client, populated):
    users = client.list_users(UserPoolId=populated, Filter='username = "alice"', AttributesToGet=["email"])["Users"]
    assert users[0]["Attributes"] == [{"Name": "email", "Value": "alice@example.com"}]
    users = client.list_users(UserPoolId=populated, Filter='username = "alice"')["Users"]
    assert {a["Name"] for a in users[0]["Attributes"]} == {"sub", "email", "given_name"}


def test_attributes_to_get_unknown_attribute(client, populated):
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.list_users(UserPoolId=populated, AttributesToGet=["custom:nope"])


def test_limit_and_pagination(client, populated):
    seen = []
    token = None
    while True:
        kwargs = {"PaginationToken": token} if token else {}
        page = client.list_users(UserPoolId=populated, Limit=1, **kwargs)
        assert len(page["Users"]) <= 1
        seen += names(page)
        token = page.get("PaginationToken")
        if not token:
            break
    assert sorted(seen) == ["alfred", "alice", "bob", "carol"]
    assert len(seen) == 4


def test_limit_bounds(client, populated):
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.list_users(UserPoolId=populated, Limit=61)


def test_pagination_token_is_bound_to_the_filter_and_tamper_evident(client, populated):
    page = client.list_users(UserPoolId=populated, Limit=1, Filter='email ^= "al"')
    token = page["PaginationToken"]
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.list_users(UserPoolId=populated, Limit=1, PaginationToken=token)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.list_users(UserPoolId=populated, Limit=1, Filter='email ^= "al"', PaginationToken=tampered)
    rest = client.list_users(UserPoolId=populated, Limit=1, Filter='email ^= "al"', PaginationToken=token)
    assert len(rest["Users"]) == 1


def test_unknown_pool(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_users(UserPoolId="us-east-1_nothere00")


def test_case_insensitive_pool_username_filter(client):
    pool = client.create_user_pool(PoolName="ci", UsernameConfiguration={"CaseSensitive": False})["UserPool"]["Id"]
    create(client, pool, "Alice")
    assert names(client.list_users(UserPoolId=pool, Filter='username = "ALICE"')) == ["Alice"]


# -- pagination under concurrent inserts and deletes (Hypothesis) --------------------------------------

NAMES = st.text(alphabet="abcdefgh", min_size=1, max_size=4)


@settings(max_examples=40)
@given(
    initial=st.sets(NAMES, min_size=1, max_size=15),
    steps=st.lists(st.tuples(st.sampled_from(["add", "remove"]), NAMES), max_size=20),
    limit=st.integers(1, 4),
    use_filter=st.booleans(),
)
def test_pagination_never_skips_or_repeats_stable_users(initial, steps, limit, use_filter):
    client = make_client()
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    for name in initial:
        create(client, pool, name, email=f"{name}@example.com")
    present = set(initial)
    touched: set[str] = set()
    filter_kwargs = {"Filter": 'email ^= ""'} if use_filter else {}
    seen: list[str] = []
    token = None
    pending = list(steps)
    while True:
        kwargs = dict(filter_kwargs, **({"PaginationToken": token} if token else {}))
        page = client.list_users(UserPoolId=pool, Limit=limit, **kwargs)
        seen += names(page)
        token = page.get("PaginationToken")
        if not token:
            break
        if pending:  # mutate the pool between pages
            action, name = pending.pop(0)
            touched.add(name)
            if action == "add" and name not in present:
                create(client, pool, name, email=f"{name}@example.com")
                present.add(name)
            elif action == "remove" and name in present:
                client.admin_delete_user(UserPoolId=pool, Username=name)
                present.discard(name)
    stable = set(initial) - touched
    assert len(seen) == len(set(seen)), "a user was repeated"
    assert stable <= set(seen), "a user that existed throughout was skipped"
