"""Sealed secrets: AES-GCM under a key-encryption key that the store never holds."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import authflow
from authflow.adapters import ManualClock, MemoryStore, SeededEntropy
from authflow.crypto.sealing import Keyring, SealError, parse_kek, seal, unseal
from tests.conftest import START, TEST_CONFIG

KEK_A = bytes(range(32))
KEK_B = bytes(range(1, 33))
NONCE = b"\x07" * 12


@given(st.binary(max_size=2048), st.text(max_size=40))
def test_round_trip(plaintext, context):
    ring = Keyring(KEK_A)
    assert unseal(ring, seal(ring, plaintext, context, NONCE), context) == plaintext


def test_blob_does_not_open_for_another_record_or_after_tampering():
    ring = Keyring(KEK_A)
    blob = seal(ring, b"secret", "pool-secret:us-east-1_a", NONCE)
    assert b"secret" not in blob
    with pytest.raises(SealError, match="another record"):
        unseal(ring, blob, "pool-secret:us-east-1_b")
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 1
        with pytest.raises(SealError):
            unseal(ring, bytes(tampered), "pool-secret:us-east-1_a")
    with pytest.raises(SealError):
        unseal(ring, blob[:-1], "pool-secret:us-east-1_a")


def test_rotation_opens_old_blobs_and_seals_with_the_current_key():
    old = seal(Keyring(KEK_A), b"x", "c", NONCE)
    rotated = Keyring(KEK_B, retired=(KEK_A,))
    assert unseal(rotated, old, "c") == b"x"
    new = seal(rotated, b"x", "c", NONCE)
    with pytest.raises(SealError, match="does not have"):
        unseal(Keyring(KEK_A), new, "c")
    with pytest.raises(SealError, match="does not have"):
        unseal(Keyring(KEK_B), old, "c")


def test_kek_text_forms():
    assert parse_kek(KEK_A.hex()) == KEK_A
    import base64

    assert parse_kek(base64.b64encode(KEK_A).decode()) == KEK_A
    for bad in ("", "zz" * 32, "abcd", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError):
            parse_kek(bad)
    with pytest.raises(ValueError):
        Keyring(b"short")


class DurableMemoryStore(MemoryStore):
    durable = True


def test_a_durable_store_needs_a_kek():
    with pytest.raises(ValueError, match="key-encryption key"):
        authflow.Client(store=DurableMemoryStore(), config=TEST_CONFIG)
    authflow.Client(store=DurableMemoryStore(), config=dataclasses.replace(TEST_CONFIG, kek=Keyring(KEK_A)))


def engine_client(store, kek):
    return authflow.Client(store=store, clock=ManualClock(START), entropy=SeededEntropy(3),
                           config=dataclasses.replace(TEST_CONFIG, kek=kek))


def stored_bytes(store) -> bytes:
    """Every byte and string the store's records hold, concatenated."""
    with store.transaction() as tx:
        records = []
        for pool in tx.list_pools(after=None, limit=100):
            records.append(pool)
            records.extend(tx.list_clients(pool.id, after=None, limit=100))
            records.extend(tx.list_signing_keys(pool.id))
    out = bytearray()
    for record in records:
        for f in dataclasses.fields(record):
            value = getattr(record, f.name)
            if isinstance(value, bytes):
                out += value
            elif isinstance(value, str):
                out += value.encode()
    return bytes(out)


def test_secrets_are_stored_sealed_and_still_work():
    """The client secret, the pool secret and the signing keys are only in the store as
    sealed blobs; the engine still signs tokens and checks SECRET_HASH with them."""
    from cryptography.hazmat.primitives import serialization

    from tests.signin import secret_hash

    store = DurableMemoryStore()
    client = engine_client(store, Keyring(KEK_A))
    pool = client.create_user_pool(PoolName="p")["UserPool"]
    app = client.create_user_pool_client(UserPoolId=pool["Id"], ClientName="c", GenerateSecret=True,
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    secret = app["UserPoolClient"]["ClientSecret"]
    raw = stored_bytes(store)
    assert secret.encode() not in raw
    with store.transaction() as tx:
        keys = tx.list_signing_keys(pool["Id"])
        stored_pool = tx.get_pool(pool["Id"])
    for key in keys:
        with pytest.raises(ValueError):
            serialization.load_der_private_key(key.private_key, password=None)
        assert client.engine.signing_key(key) not in raw
    assert client.engine.pool_secret(stored_pool) not in raw

    client_id = app["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool["Id"], Username="u", TemporaryPassword="Temp-pass-1",
                             MessageAction="SUPPRESS")
    answer = client.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "u", "PASSWORD": "Temp-pass-1", "SECRET_HASH": secret_hash(secret, "u", client_id)})
    assert answer["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with pytest.raises(client.exceptions.NotAuthorizedException):
        client.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "u", "PASSWORD": "Temp-pass-1", "SECRET_HASH": secret_hash("wrong", "u", client_id)})


def test_another_kek_cannot_read_the_store():
    """Same store, another KEK (e.g. AUTHFLOW_KEK lost or wrong): the secrets do not
    open, and the engine says so instead of signing with garbage."""
    store = DurableMemoryStore()
    first = engine_client(store, Keyring(KEK_A))
    pool = first.create_user_pool(PoolName="p")["UserPool"]
    app = first.create_user_pool_client(UserPoolId=pool["Id"], ClientName="c", GenerateSecret=True)
    assert first.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=app["UserPoolClient"]["ClientId"])

    second = engine_client(store, Keyring(KEK_B))
    with pytest.raises(second.exceptions.InternalErrorException):
        second.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=app["UserPoolClient"]["ClientId"])

    rotated = engine_client(store, Keyring(KEK_B, retired=(KEK_A,)))
    described = rotated.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=app["UserPoolClient"]["ClientId"])
    assert described["UserPoolClient"]["ClientSecret"] == app["UserPoolClient"]["ClientSecret"]
