"""Regression: ForceAliasCreation taking a verified email AND a verified phone number
from the same holder wrote the holder twice with the same new version (found by the
crash stream in tests/integration/test_store_crashes.py): the store refused the second
write, and every retry ended in TooManyRequestsException. Now the holder loses both
aliases in one write."""

from __future__ import annotations

import pytest

import authflow
from authflow.adapters import MemoryStore, SqliteStore
from authflow.crypto.sealing import Keyring
from tests.conftest import TEST_CONFIG

CONFIG = authflow.EngineConfig(kdf=TEST_CONFIG.kdf, signing_keys=TEST_CONFIG.signing_keys, kek=Keyring(b"k" * 32))

EMAIL_AND_PHONE = [
    {"Name": "email", "Value": "both@example.com"}, {"Name": "email_verified", "Value": "true"},
    {"Name": "phone_number", "Value": "+15550100"}, {"Name": "phone_number_verified", "Value": "true"},
]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_force_alias_creation_takes_two_aliases_from_one_holder(tmp_path, request, kind):
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "two.db")
    if kind == "sqlite":
        request.addfinalizer(store.close)
    client = authflow.Client(store=store, config=CONFIG)
    pool_id = client.create_user_pool(PoolName="p", AliasAttributes=["email", "phone_number"])["UserPool"]["Id"]
    client.admin_create_user(UserPoolId=pool_id, Username="first", UserAttributes=EMAIL_AND_PHONE,
                             MessageAction="SUPPRESS")
    client.admin_create_user(UserPoolId=pool_id, Username="second", UserAttributes=EMAIL_AND_PHONE,
                             ForceAliasCreation=True, MessageAction="SUPPRESS")
    first = {a["Name"]: a["Value"] for a in client.admin_get_user(UserPoolId=pool_id, Username="first")["UserAttributes"]}
    assert (first["email_verified"], first["phone_number_verified"]) == ("false", "false")
    for alias in ("both@example.com", "+15550100"):
        assert client.admin_get_user(UserPoolId=pool_id, Username=alias)["Username"] == "second"
