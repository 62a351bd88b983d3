"""Passkeys in the durable stores (SQLite, PostgreSQL): a registered passkey, its counter after a
sign-in, and a pending registration survive a restart; deleting the user or the pool takes them
all. They are PoolResources, so no store needed a schema change."""

from __future__ import annotations

import dataclasses
import json

from authflow.crypto.sealing import Keyring
from authflow.service import webauthn
from tests.conftest import TEST_CONFIG, make_client
from tests.webauthn_authenticator import SoftAuthenticator

CONFIG = dataclasses.replace(TEST_CONFIG, kek=Keyring(b"k" * 32))
ORIGIN = "https://example.com"
PASSWORD = "Correct-Horse-9"


def _kinds(client, pool: str) -> dict[str, int]:
    with client.store.transaction() as tx:
        return {kind: len(tx.list_resources(pool, kind, after=None, limit=100))
                for kind in ("webauthn_credential", "webauthn_credential_id", "webauthn_registration")}


def test_passkeys_survive_a_restart_and_go_with_the_user_and_the_pool(reopenable_store):
    client = make_client(store=reopenable_store(), config=CONFIG)
    pool = client.create_user_pool(PoolName="p", Policies={
        "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}})["UserPool"]["Id"]
    client.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OFF",
                                    WebAuthnConfiguration={"RelyingPartyId": "example.com"})
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="c",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    tokens = {}
    for name in ("alice", "bob"):
        client.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=pool, Username=name, Password=PASSWORD, Permanent=True)
        tokens[name] = client.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": name, "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]
    passkey = SoftAuthenticator(attachment="cross-platform", transports=("usb", "nfc"))
    client.complete_web_authn_registration(
        AccessToken=tokens["alice"],
        Credential=passkey.create(client.start_web_authn_registration(AccessToken=tokens["alice"])[
            "CredentialCreationOptions"], ORIGIN))
    listed = client.list_web_authn_credentials(AccessToken=tokens["alice"])["Credentials"]
    client.store.close()

    again = make_client(store=reopenable_store(), config=CONFIG)
    assert again.list_web_authn_credentials(AccessToken=tokens["alice"])["Credentials"] == listed
    pending = again.start_web_authn_registration(AccessToken=tokens["alice"])["CredentialCreationOptions"]
    assert [c["id"] for c in pending["excludeCredentials"]] == [passkey.id]
    # A sign-in's assertion, verified and counted in the durable store.
    engine = again.engine
    with engine.store.transaction() as tx:
        record, user = tx.get_pool(pool), tx.get_user(pool, "alice")
        options = json.loads(webauthn.request_options(engine, tx, record, user, challenge=b"c" * 32))
        webauthn.verify_assertion(engine, tx, record, user, passkey.get(options, ORIGIN), challenge=b"c" * 32)
    again.store.close()

    third = make_client(store=reopenable_store(), config=CONFIG)
    with third.store.transaction() as tx:
        [stored] = webauthn.credentials_of(tx, pool, tx.get_user(pool, "alice").sub)
    assert stored.body["SignCount"] == 1 and stored.body["AuthenticatorTransports"] == ["usb", "nfc"]
    assert _kinds(third, pool) == {"webauthn_credential": 1, "webauthn_credential_id": 1, "webauthn_registration": 1}
    third.admin_delete_user(UserPoolId=pool, Username="alice")
    assert _kinds(third, pool) == {"webauthn_credential": 0, "webauthn_credential_id": 0, "webauthn_registration": 0}
    bobs = SoftAuthenticator()
    third.complete_web_authn_registration(
        AccessToken=tokens["bob"],
        Credential=bobs.create(third.start_web_authn_registration(AccessToken=tokens["bob"])[
            "CredentialCreationOptions"], ORIGIN))
    third.delete_user_pool(UserPoolId=pool)
    with third.store.transaction() as tx:
        assert tx.get_resource(pool, "webauthn_credential_id", bobs.id) is None
    third.store.close()
