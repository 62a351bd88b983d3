"""What the WEB_AUTHN sign-in step calls: `request_options` (CREDENTIAL_REQUEST_OPTIONS) and
`verify_assertion`, with real assertions from the software authenticator, inside a store
transaction as the sign-in runs them. Every refusal is NotAuthorizedException
`Incorrect username or passkey.` and writes nothing; a success writes the new sign count."""

from __future__ import annotations

import json

import pytest

from authflow.errors import NotAuthorizedException, WebAuthnConfigurationMissingException
from authflow.service import webauthn
from tests.unit.test_webauthn import ORIGIN, RP, Pool
from tests.webauthn_authenticator import SoftAuthenticator

REFUSED = "Incorrect username or passkey."
CHALLENGE = b"\x07" * 32


class SignIn:
    """A pool where alice has one passkey and bob another."""

    def __init__(self, **kwargs) -> None:
        self.pool = Pool(**kwargs)
        self.alice = self.pool.register("alice", SoftAuthenticator(transports=("internal",)))
        self.bob = self.pool.register("bob")

    def options(self, name: str = "alice", challenge: bytes = CHALLENGE) -> dict:
        engine = self.pool.client.engine
        with engine.store.transaction() as tx:
            pool, user = self._load(tx, name)
            text = webauthn.request_options(engine, tx, pool, user, challenge=challenge)
        assert isinstance(text, str)
        return json.loads(text)

    def verify(self, credential, name: str = "alice", challenge: bytes = CHALLENGE) -> None:
        engine = self.pool.client.engine
        with engine.store.transaction() as tx:
            pool, user = self._load(tx, name)
            webauthn.verify_assertion(engine, tx, pool, user, credential, challenge=challenge)

    def _load(self, tx, name: str):
        pool = tx.get_pool(self.pool.id)
        return pool, tx.get_user(pool.id, name)

    def counter(self, name: str = "alice") -> int:
        [record] = [r for r in self.pool.resources("webauthn_credential") if r.name.startswith(self.pool.sub(name))]
        return record.body["SignCount"]

    def refused(self, credential, name: str = "alice", challenge: bytes = CHALLENGE) -> None:
        before = self.pool.snapshot()
        with pytest.raises(NotAuthorizedException) as err:
            self.verify(credential, name, challenge)
        assert err.value.message == REFUSED
        assert self.pool.snapshot() == before


def test_request_options_name_the_users_passkeys():
    s = SignIn()
    options = s.options()
    assert options["rpId"] == RP
    assert options["allowCredentials"] == [{"id": s.alice.id, "type": "public-key", "transports": ["internal"]}]
    assert options["userVerification"] == "preferred" and options["timeout"] == 60000
    assert options["challenge"] == "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"


def test_request_options_ask_for_uv_when_the_pool_requires_it():
    s = SignIn(uv="required")
    assert s.options()["userVerification"] == "required"


def test_request_options_without_a_relying_party():
    s = SignIn()
    s.pool.client.set_user_pool_mfa_config(UserPoolId=s.pool.id, MfaConfiguration="OFF", WebAuthnConfiguration={})
    with pytest.raises(WebAuthnConfigurationMissingException):
        s.options()


def test_a_real_assertion_verifies_and_advances_the_counter():
    s = SignIn()
    s.verify(s.alice.get(s.options(), ORIGIN))
    assert s.counter() == 1
    s.verify(s.alice.get(s.options(), ORIGIN))
    assert s.counter() == 2
    record = [r for r in s.pool.resources("webauthn_credential") if r.body["CredentialId"] == s.alice.id][0]
    assert record.body["LastUsed"] == s.pool.env.clock.now().isoformat()


def test_the_assertion_may_come_as_a_json_string():
    s = SignIn()
    s.verify(json.dumps(s.alice.get(s.options(), ORIGIN)))
    assert s.counter() == 1


def test_a_replayed_assertion_is_refused():
    s = SignIn()
    s.verify(s.alice.get(s.options(), ORIGIN))
    s.refused(s.alice.last_assertion)
    assert s.counter() == 1


def test_a_counter_that_goes_back_is_refused():
    s = SignIn()
    s.verify(s.alice.get(s.options(), ORIGIN))
    s.verify(s.alice.get(s.options(), ORIGIN))
    s.alice.sign_count = 0  # a cloned authenticator
    s.refused(s.alice.get(s.options(), ORIGIN))
    assert s.counter() == 2


def test_an_authenticator_without_a_counter_may_sign_in_again():
    s = SignIn()
    s.alice.counter_step = 0
    s.verify(s.alice.get(s.options(), ORIGIN))
    s.verify(s.alice.get(s.options(), ORIGIN))
    assert s.counter() == 0


def test_another_challenge_is_refused():
    s = SignIn()
    s.refused(s.alice.get(s.options(challenge=b"\x08" * 32), ORIGIN))


def test_another_users_passkey_is_refused():
    s = SignIn()
    s.refused(s.bob.get({"challenge": s.options()["challenge"], "rpId": RP}, ORIGIN))


def test_an_unknown_passkey_is_refused():
    s = SignIn()
    stranger = SoftAuthenticator()
    stranger.create({"rp": {"id": RP}, "user": {"id": "eA"}, "challenge": "AAAA"}, ORIGIN)
    s.refused(stranger.get({"challenge": s.options()["challenge"], "rpId": RP}, ORIGIN))


@pytest.mark.parametrize("origin", ["https://evil.com", "http://app.example.com"])
def test_a_wrong_origin_is_refused(origin):
    s = SignIn()
    s.refused(s.alice.get(s.options(), origin))


def test_a_wrong_rp_is_refused():
    s = SignIn()
    s.alice.rp_id_hash_of = "other.com"
    s.refused(s.alice.get(s.options(), ORIGIN))


def test_a_bad_signature_is_refused():
    s = SignIn()
    assertion = s.alice.get(s.options(), ORIGIN)
    signature = bytearray(assertion["response"]["signature"].encode())
    signature[-3] = ord("A") if signature[-3] != ord("A") else ord("B")
    assertion["response"]["signature"] = signature.decode()
    s.refused(assertion)


def test_user_verification_required_but_absent_is_refused():
    s = SignIn(uv="required")
    s.alice.user_verified = False
    s.refused(s.alice.get(s.options(), ORIGIN))
    s.alice.user_verified = True
    s.verify(s.alice.get(s.options(), ORIGIN))


@pytest.mark.parametrize("credential", [{}, "not json", {"id": "x", "rawId": "x", "response": {}}])
def test_a_malformed_assertion_is_refused(credential):
    s = SignIn()
    s.refused(credential)


def test_a_registration_answer_is_no_assertion():
    s = SignIn()
    other = SoftAuthenticator()
    s.refused(other.create({"rp": {"id": RP}, "user": {"id": "eA"}, "challenge": "BwcH"}, ORIGIN))


def test_an_assertion_naming_another_user_handle_is_refused():
    s = SignIn()
    s.alice.user_handle = s.pool.sub("bob").encode()
    s.refused(s.alice.get(s.options(), ORIGIN))
