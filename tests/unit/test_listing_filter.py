"""ListUsers filter grammar, normalisation rules and pagination tokens."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authflow.core.listing import (
    PAGE_TOKEN_LIFETIME,
    SEARCHABLE_ATTRIBUTES,
    UserFilter,
    decode_page_token,
    encode_page_token,
    filter_fingerprint,
    filter_key,
    index_values,
    parse_filter,
    render_filter,
)
from authflow.errors import InvalidParameterException

SEARCHABLE = ", ".join(SEARCHABLE_ATTRIBUTES)
HINT = "use = (exact match) or ^= (starts with)"


def F(attribute: str, operator: str, value: str) -> UserFilter:
    return UserFilter(attribute=attribute, operator=operator, value=value)


# -- grammar ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", " ", " \t\r\n "])
def test_absent_or_blank_filter_means_all_users(text):
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('email = "jo@example.com"', F("email", "=", "jo@example.com")),
        ('email="jo"', F("email", "=", "jo")),
        ('username ^= "jo"', F("username", "^=", "jo")),
        ('  given_name^="Jo"  ', F("given_name", "^=", "Jo")),
        ('"email"^="x"', F("email", "^=", "x")),  # quoted name, as AWS SDK samples write it
        ('"cognito:user_status" = "CONFIRMED"', F("cognito:user_status", "=", "CONFIRMED")),
        (
            'cognito:user_status = "force_change_password"',
            F("cognito:user_status", "=", "force_change_password"),
        ),
        ('status = "Disabled"', F("status", "=", "Disabled")),
        ('sub = "d3b0…"', F("sub", "=", "d3b0…")),
        ('phone_number ^= "+4420"', F("phone_number", "^=", "+4420")),
        ('family_name = ""', F("family_name", "=", "")),
        (r'name = "say \"hi\""', F("name", "=", 'say "hi"')),
        (r'name = "back\\slash"', F("name", "=", "back\\slash")),
        (r'name = "\\"', F("name", "=", "\\")),
        ('name = "a = \\"b\\" ^= c"', F("name", "=", 'a = "b" ^= c')),
        ('name = "  spaced  "', F("name", "=", "  spaced  ")),
        ('preferred_username\t=\n"ü→🙂"', F("preferred_username", "=", "ü→🙂")),
    ],
)
def test_valid_filters(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'foo = "x"',
            f"Attribute 'foo' cannot be used in a filter. Only these attributes are searchable: {SEARCHABLE}.",
        ),
        (
            'Email = "x"',
            f"Attribute 'Email' cannot be used in a filter. Only these attributes are searchable: {SEARCHABLE}.",
        ),
        (
            '"e mail" = "x"',
            f"Attribute 'e mail' cannot be used in a filter. Only these attributes are searchable: {SEARCHABLE}.",
        ),
        (
            'custom:tier = "gold"',
            "Custom attribute 'custom:tier' cannot be used in a filter: custom attributes are not "
            f"searchable. Only these attributes are searchable: {SEARCHABLE}.",
        ),
        (
            '"dev:custom:x" ^= "a"',
            "Custom attribute 'dev:custom:x' cannot be used in a filter: custom attributes are not "
            f"searchable. Only these attributes are searchable: {SEARCHABLE}.",
        ),
        (
            '= "x"',
            "Filter is missing an attribute name at position 0: expected attribute, operator and "
            'quoted value, as in email ^= "jo".',
        ),
        (
            '"" = "x"',
            "Filter is missing an attribute name at position 0: expected attribute, operator and "
            'quoted value, as in email ^= "jo".',
        ),
        ('email "x"', f"Filter is missing an operator after 'email' at position 6: {HINT}."),
        ("email", f"Filter is missing an operator after 'email' at position 5: {HINT}."),
        (
            'email contains "x"',
            f"Filter is missing an operator after 'email' at position 6: {HINT}.",
        ),
        ('email != "x"', f"Unsupported filter operator '!=' at position 6: {HINT}."),
        ('email > "x"', f"Unsupported filter operator '>' at position 6: {HINT}."),
        ('email == "x"', f"Unsupported filter operator '==' at position 6: {HINT}."),
        ('email ^ "x"', f"Unsupported filter operator '^' at position 6: {HINT}."),
        ('email =^ "x"', f"Unsupported filter operator '=^' at position 6: {HINT}."),
        (
            "email = x",
            'Filter value at position 8 must be a double-quoted string, as in email = "value".',
        ),
        (
            "email ^= 'x'",
            'Filter value at position 9 must be a double-quoted string, as in email ^= "value".',
        ),
        (
            "email =",
            'Filter value at position 7 must be a double-quoted string, as in email = "value".',
        ),
        ('email = "x', "Unterminated quoted string starting at position 8 in filter."),
        ('email = "x\\"', "Unterminated quoted string starting at position 8 in filter."),
        ('email = "x\\', "Unterminated quoted string starting at position 8 in filter."),
        # The quoted name runs to the second quote: `email = ` is not an attribute.
        (
            '"email = "x"',
            f"Attribute 'email = ' cannot be used in a filter. Only these attributes are searchable: {SEARCHABLE}.",
        ),
        (
            'email = "a\\nb"',
            "Invalid escape sequence '\\n' at position 10 in filter: "
            'only \\" and \\\\ may follow a backslash.',
        ),
        (
            'email = "x" and name = "y"',
            "Unexpected text at position 12 after the filter value: a filter holds exactly one condition.",
        ),
        (
            'email = "x""y"',
            "Unexpected text at position 11 after the filter value: a filter holds exactly one condition.",
        ),
        (
            'email = "x";',
            "Unexpected text at position 11 after the filter value: a filter holds exactly one condition.",
        ),
    ],
)
def test_invalid_filters_say_what_is_wrong(text, message):
    with pytest.raises(InvalidParameterException) as info:
        parse_filter(text)
    assert info.value.message == message
    assert info.value.fields["member"] == "Filter"


def test_unknown_attribute_error_carries_the_attribute():
    with pytest.raises(InvalidParameterException) as info:
        parse_filter('custom:tier = "gold"')
    assert info.value.fields["attribute"] == "custom:tier"


WHITESPACE = st.text(st.sampled_from(" \t\r\n\f\v"), max_size=3)


@given(
    attribute=st.sampled_from(SEARCHABLE_ATTRIBUTES),
    operator=st.sampled_from(["=", "^="]),
    value=st.text(),
    quote_name=st.booleans(),
    ws=st.tuples(WHITESPACE, WHITESPACE, WHITESPACE, WHITESPACE),
)
def test_any_escaped_value_parses_back_to_itself(attribute, operator, value, quote_name, ws):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    name = f'"{attribute}"' if quote_name else attribute
    text = f'{ws[0]}{name}{ws[1]}{operator}{ws[2]}"{escaped}"{ws[3]}'
    assert parse_filter(text) == F(attribute, operator, value)


@given(
    attribute=st.sampled_from(SEARCHABLE_ATTRIBUTES),
    operator=st.sampled_from(["=", "^="]),
    value=st.text(),
)
def test_render_filter_is_inverse_of_parse(attribute, operator, value):
    f = F(attribute, operator, value)
    assert parse_filter(render_filter(f)) == f


@given(st.text(alphabet=st.sampled_from('em ail="\\^=!x:\t'), max_size=20) | st.text(max_size=20))
def test_parse_fails_only_with_invalid_parameter(text):
    try:
        parse_filter(text)
    except InvalidParameterException:
        pass


# -- normalisation --------------------------------------------------------------------


@pytest.mark.parametrize("sensitive", [True, False])
def test_user_status_is_case_insensitive(sensitive):
    key = filter_key(
        F("cognito:user_status", "=", "force_Change_password"), case_sensitive_usernames=sensitive
    )
    assert key == ("cognito:user_status", "=", "FORCE_CHANGE_PASSWORD")
    assert index_values("u", {}, "FORCE_CHANGE_PASSWORD", True)["cognito:user_status"] == key[2]


@pytest.mark.parametrize("sensitive", [True, False])
def test_enabled_status_is_case_sensitive(sensitive):
    assert filter_key(F("status", "=", "enabled"), case_sensitive_usernames=sensitive) == (
        "status",
        "=",
        "enabled",
    )  # so it matches nobody: stored values are Enabled/Disabled
    assert index_values("u", {}, "CONFIRMED", True)["status"] == "Enabled"
    assert index_values("u", {}, "CONFIRMED", False)["status"] == "Disabled"


def test_username_follows_pool_case_sensitivity():
    f = F("username", "^=", "JoSS")
    assert filter_key(f, case_sensitive_usernames=True) == ("username", "^=", "JoSS")
    assert filter_key(f, case_sensitive_usernames=False) == ("username", "^=", "joss")
    # casefold, not lower: ß and ss are the same username in a case-insensitive pool
    assert filter_key(F("username", "=", "Straße"), case_sensitive_usernames=False)[2] == "strasse"


def test_other_attributes_are_exact_even_in_case_insensitive_pools():
    for attribute in ("email", "preferred_username", "name", "sub", "phone_number"):
        f = F(attribute, "=", "Jo@Example.COM")
        assert filter_key(f, case_sensitive_usernames=False) == (attribute, "=", "Jo@Example.COM")


def test_index_values():
    attributes = {
        "sub": "s-1",
        "email": "Jo@x.org",
        "email_verified": "true",
        "custom:tier": "gold",
        "name": "Jo",
        "username": "must-not-win",
        "status": "must-not-win",
    }
    assert index_values("jo", attributes, "CONFIRMED", False) == {
        "username": "jo",
        "sub": "s-1",
        "email": "Jo@x.org",
        "name": "Jo",
        "cognito:user_status": "CONFIRMED",
        "status": "Disabled",
    }


@given(
    username=st.text(min_size=1, max_size=6),
    prefix=st.text(max_size=3),
    sensitive=st.booleans(),
)
def test_username_prefix_match_through_keys(username, prefix, sensitive):
    key = username if sensitive else username.casefold()
    _, _, value = filter_key(F("username", "^=", prefix), case_sensitive_usernames=sensitive)
    matched = index_values(key, {}, "CONFIRMED", True)["username"].startswith(value)
    if sensitive:
        assert matched == username.startswith(prefix)
    elif username.startswith(prefix):
        assert matched  # casefold works per character, so prefixes survive it


# -- pagination tokens ------------------------------------------------------------------

SECRET = b"0123456789abcdef0123456789abcdef"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
FP = filter_fingerprint(("email", "^=", "jo"))
TOKEN_SHAPE = re.compile(r"[\S]+")  # SearchPaginationTokenType pattern
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


def _decode(token, *, secret=SECRET, fingerprint=FP, now=T0):
    return decode_page_token(secret, token, fingerprint=fingerprint, now=now)


def _raises(message, token, **kw):
    with pytest.raises(InvalidParameterException) as info:
        _decode(token, **kw)
    assert info.value.message == message


@given(after=st.tuples(ANY_TEXT, ANY_TEXT))
def test_token_round_trips_any_unicode(after):
    token = encode_page_token(SECRET, fingerprint=FP, after=after, issued_at=T0)
    assert TOKEN_SHAPE.fullmatch(token)
    assert set(token) <= set(B64URL)
    assert _decode(token) == after


def test_token_accepts_other_utc_offsets():
    issued = T0.astimezone(timezone(timedelta(hours=-5)))
    token = encode_page_token(SECRET, fingerprint=FP, after=("a", "b"), issued_at=issued)
    assert _decode(token, now=T0 + PAGE_TOKEN_LIFETIME) == ("a", "b")


def test_changing_any_character_of_a_token_invalidates_it():
    token = encode_page_token(SECRET, fingerprint=FP, after=("jo@x.org", "jo"), issued_at=T0)
    for i, original in enumerate(token):
        for replacement in B64URL + "+/=.~ é":
            if replacement != original:
                _raises("Invalid pagination token.", token[:i] + replacement + token[i + 1 :])


def test_truncated_or_extended_tokens_are_invalid():
    token = encode_page_token(SECRET, fingerprint=FP, after=("a", "b"), issued_at=T0)
    for cut in range(len(token)):
        _raises("Invalid pagination token.", token[:cut])
    for extra in ("A", "AA", "AAA", "AAAA", "="):
        _raises("Invalid pagination token.", token + extra)


@pytest.mark.parametrize(
    "garbage", ["", "x", "not a token", "====", "!!!!", "AAAA", "é", "QUJD", "a" * 200, None, 42]
)
def test_garbage_tokens_are_invalid(garbage):
    _raises("Invalid pagination token.", garbage)


def test_token_is_bound_to_its_filter():
    token = encode_page_token(SECRET, fingerprint=FP, after=("a", "b"), issued_at=T0)
    other = filter_fingerprint(("email", "^=", "jO"))
    _raises("Invalid pagination token.", token, fingerprint=other)
    _raises("Invalid pagination token.", token, fingerprint=filter_fingerprint(None))


def test_token_from_another_secret_is_invalid():
    token = encode_page_token(SECRET, fingerprint=FP, after=("a", "b"), issued_at=T0)
    _raises("Invalid pagination token.", token, secret=b"another secret of the same pool!")


def test_token_valid_for_exactly_one_hour_inclusive():
    token = encode_page_token(SECRET, fingerprint=FP, after=("a", "b"), issued_at=T0)
    assert PAGE_TOKEN_LIFETIME == timedelta(seconds=3600)
    assert _decode(token, now=T0 + timedelta(seconds=3600)) == ("a", "b")  # still valid
    _raises(
        "Pagination token has expired.", token, now=T0 + timedelta(seconds=3600, microseconds=1)
    )
    _raises("Pagination token has expired.", token, now=T0 + timedelta(days=400))


def test_expiry_is_reported_only_for_genuine_tokens():
    token = encode_page_token(SECRET, fingerprint=FP, after=("a", "b"), issued_at=T0)
    late = T0 + timedelta(hours=2)
    _raises("Invalid pagination token.", token, fingerprint=filter_fingerprint(None), now=late)


def test_naive_datetimes_are_a_programming_error():
    with pytest.raises(ValueError):
        encode_page_token(SECRET, fingerprint=FP, after=("a", "b"), issued_at=datetime(2025, 1, 1))
    token = encode_page_token(SECRET, fingerprint=FP, after=("a", "b"), issued_at=T0)
    with pytest.raises(ValueError):
        _decode(token, now=datetime(2025, 1, 1))


def test_filter_fingerprint_distinguishes_keys():
    keys = [
        None,
        ("email", "=", "a"),
        ("email", "^=", "a"),
        ("name", "=", "a"),
        ("email", "=", "A"),
        ("email", "=", "a\ud800"),
    ]
    assert len({filter_fingerprint(k) for k in keys}) == len(keys)
    assert filter_fingerprint(("email", "=", "a")) == filter_fingerprint(("email", "=", "a"))
