"""The row codec the SQL stores share: lossless both ways, plain values only."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authflow.adapters import codec
from authflow.core.effects import Message
from authflow.core.records import Device, Group, OutboxEntry, PoolResource, User
from authflow.testing.records import (
    NOW,
    device_record,
    group_record,
    outbox_record,
    pools,
    records,
    refresh_token_record,
    resource_record,
    session_record,
    shape,
    user_record,
)


@given(record=st.one_of(pools(), records("us-east-1_AAAAAAAAA")))
def test_every_record_survives_the_round_trip_with_its_types(record):
    to_row, from_row = codec.CODECS[type(record)]
    row = to_row(record)
    assert tuple(row) == codec.COLUMNS[type(record)]
    assert all(value is None or type(value) in (str, int) for value in row.values())
    assert row["doc"].isascii() and isinstance(json.loads(row["doc"]), dict)
    back = from_row(dict(row))
    assert back == record
    assert shape(back) == shape(record)


def test_strings_no_database_could_encode_survive_the_document():
    user = user_record("alice", attributes={"sub": "sub-alice", "name": "\ud800 \x00 \U0010ffff"})
    assert codec.user_from_row(codec.user_to_row(user)) == user


@pytest.mark.parametrize("moment", [
    datetime.min.replace(tzinfo=timezone.utc),
    datetime.max.replace(tzinfo=timezone.utc),
    NOW.replace(microsecond=1),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
])
def test_instants_are_exact_microseconds_in_utc(moment):
    assert codec.from_micros(codec.micros(moment)) == moment
    assert codec.from_micros(codec.micros(moment)).tzinfo is timezone.utc


def test_other_offsets_come_back_as_the_same_instant_in_utc():
    moment = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    back = codec.from_micros(codec.micros(moment))
    assert back == moment and back.tzinfo is timezone.utc and back.hour == 10


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="naive"):
        codec.user_to_row(replace(user_record("alice"), created=datetime(2026, 1, 1)))


def test_columns_carry_what_the_store_indexes():
    user = user_record("alice", sub="s-1", version=4)
    assert {k: v for k, v in codec.user_to_row(user).items() if k != "doc"} == {
        "pool_id": user.pool_id, "username_key": "alice", "sub": "s-1", "version": 4,
    }
    assert isinstance(codec.user_from_row(codec.user_to_row(user)), User)


# -- devices ------------------------------------------------------------------------------


@pytest.mark.parametrize("device", [
    device_record("us-east-1_0b1c", status="NEW"),
    device_record("us-east-1_0b1c", status="REMEMBERED", last_authenticated=NOW.replace(microsecond=5)),
    replace(device_record("d", status="NOT_REMEMBERED"), name=None, salt=None, verifier=None, last_ip=None,
            expires=NOW, version=7),
], ids=["new", "remembered", "empty"])
def test_a_device_survives_the_round_trip(device):
    row = codec.device_to_row(device)
    back = codec.device_from_row(dict(row))
    assert isinstance(back, Device) and back == device and shape(back) == shape(device)


def test_device_columns_carry_what_the_store_indexes():
    new = codec.device_to_row(device_record("d1", sub="s-1", status="NEW", expires=NOW, version=3))
    assert {k: v for k, v in new.items() if k != "doc"} == {
        "pool_id": "us-east-1_AAAAAAAAA", "device_key": "d1", "sub": "s-1", "listed": 0,
        "expires_us": codec.micros(NOW), "version": 3,
    }
    for status in ("REMEMBERED", "NOT_REMEMBERED"):
        row = codec.device_to_row(device_record("d1", status=status))
        assert (row["listed"], row["expires_us"]) == (1, None)
    assert "verifier" in json.loads(codec.device_to_row(device_record("d1"))["doc"])


def test_sessions_and_refresh_tokens_written_before_devices_still_load():
    """Rows stored before device tracking have no `device_key` in their documents."""
    for record, to_row, from_row in (
        (session_record("s1"), codec.session_to_row, codec.session_from_row),
        (refresh_token_record("h1"), codec.refresh_token_to_row, codec.refresh_token_from_row),
    ):
        row = dict(to_row(record))
        doc = json.loads(row["doc"])
        assert doc.pop("device_key") is None
        row["doc"] = json.dumps(doc)
        assert from_row(row) == record and from_row(row).device_key is None
        with_key = replace(record, device_key="us-east-1_dev")
        assert from_row(dict(to_row(with_key))) == with_key


# -- groups -------------------------------------------------------------------------------


@pytest.mark.parametrize("group", [
    group_record("admins"),
    group_record("g\x00\x01 é\U0010ffff", description="\ud800 \x00 \U0001f600", role_arn="arn:aws:iam::1:role/r",
                 precedence=0, modified=NOW.replace(microsecond=999999), version=9),
    group_record("top", precedence=2**31 - 1),
], ids=["bare", "awkward", "top-precedence"])
def test_a_group_survives_the_round_trip(group):
    row = codec.group_to_row(group)
    assert tuple(row) == codec.COLUMNS[Group] and row["doc"].isascii()
    back = codec.group_from_row(dict(row))
    assert isinstance(back, Group) and back == group and shape(back) == shape(group)


def test_group_columns_carry_the_key_and_the_document_the_rest():
    group = group_record("admins", description="d", precedence=0, version=4)
    row = codec.group_to_row(group)
    assert {k: v for k, v in row.items() if k != "doc"} == {"pool_id": "us-east-1_AAAAAAAAA", "name": "admins",
                                                              "version": 4}
    assert json.loads(row["doc"]) == {"description": "d", "role_arn": None, "precedence": 0,
                                      "created": codec.micros(NOW), "modified": codec.micros(NOW)}
    # precedence 0 is a value, not an absence
    assert codec.group_from_row(row).precedence == 0
    assert codec.group_from_row(codec.group_to_row(group_record("g"))).precedence is None


# -- pool resources -----------------------------------------------------------------------


@pytest.mark.parametrize("resource", [
    resource_record("auth-prefix"),
    resource_record("login.example.com", body={"Domain": "login.example.com", "CustomDomainConfig": {
        "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/x"}, "Version": None, "Status": "ACTIVE"}),
    resource_record("https://api.example.com", kind="resource_server", body={
        "Identifier": "https://api.example.com", "Scopes": [{"ScopeName": "read", "ScopeDescription": "\x00 é"}]},
        modified=NOW.replace(microsecond=7), version=3),
    resource_record("Google:1234\x00\U0010ffff", kind="identity_link", body={}),
], ids=["domain", "custom-domain", "resource-server", "awkward-link"])
def test_a_pool_resource_survives_the_round_trip(resource):
    row = codec.resource_to_row(resource)
    assert tuple(row) == codec.COLUMNS[PoolResource] and row["doc"].isascii()
    back = codec.resource_from_row(dict(row))
    assert isinstance(back, PoolResource) and back == resource and shape(back) == shape(resource)


def test_resource_columns_carry_the_key_and_the_document_the_body():
    resource = resource_record("d", body={"Domain": "d", "n": 1}, version=2)
    row = codec.resource_to_row(resource)
    assert {k: v for k, v in row.items() if k != "doc"} == {"pool_id": "us-east-1_AAAAAAAAA", "kind": "domain",
                                                              "name": "d", "version": 2}
    assert json.loads(row["doc"]) == {"body": {"Domain": "d", "n": 1}, "created": codec.micros(NOW),
                                      "modified": codec.micros(NOW)}


# -- the outbox ---------------------------------------------------------------------------


def _every_field_set() -> Message:
    """A message whose every field holds a value of its own (no default), so that a field
    the codec forgets, or one added to `Message` later, fails the round trip."""
    values = {f.name: f"{f.name} \x00 é \U0010ffff" for f in fields(Message)}
    values["medium"] = "SMS"
    return Message(**values)


def test_every_message_field_survives_the_outbox_row():
    message = _every_field_set()
    entry = replace(outbox_record("m-1"), message=message, state="FAILED", attempts=5,
                    sent=NOW.replace(microsecond=1), last_error="550 \x00 refused", version=6)
    row = codec.outbox_to_row(entry)
    assert tuple(row) == codec.COLUMNS[OutboxEntry] and row["doc"].isascii()
    back = codec.outbox_from_row(dict(row))
    assert isinstance(back, OutboxEntry) and back == entry and shape(back) == shape(entry)
    assert {f.name: getattr(back.message, f.name) for f in fields(Message)} == {
        f.name: getattr(message, f.name) for f in fields(Message)}
    # the body and the code (a temporary password, a code) are data like any other
    assert back.message.body == message.body and back.message.code == message.code


@pytest.mark.parametrize("entry", [
    outbox_record("m-1"),
    outbox_record("m-2", state="SENT", attempts=1, sent=NOW, next_attempt=NOW.replace(microsecond=3)),
    replace(outbox_record("m-3", pool_id=""), message=replace(outbox_record("x").message, subject=None)),
], ids=["pending", "sent", "sms-like"])
def test_an_outbox_entry_survives_the_round_trip(entry):
    back = codec.outbox_from_row(dict(codec.outbox_to_row(entry)))
    assert back == entry and shape(back) == shape(entry)


def test_outbox_columns_carry_what_the_sender_and_the_console_read():
    entry = outbox_record("m-1", destination="b@example.com", state="PENDING",
                          next_attempt=NOW.replace(second=30), version=2)
    row = codec.outbox_to_row(entry)
    assert {k: v for k, v in row.items() if k != "doc"} == {
        "id": "m-1", "pool_id": "us-east-1_AAAAAAAAA", "destination": "b@example.com", "state": "PENDING",
        "created_us": codec.micros(NOW), "next_attempt_us": codec.micros(NOW.replace(second=30)), "version": 2,
    }
    doc = json.loads(row["doc"])
    assert doc["code"] == "123456" and "123456" in doc["body"] and doc["sent"] is None
