"""Signing in with a passkey (USER_AUTH, WEB_AUTHN) through the Client, and the bad input the
issue lists: a replayed assertion, another user's credential, a wrong RP ID or origin, a stale
challenge, a deleted passkey, a counter that went back. Each refusal is Cognito's error and
leaves the whole store as it was (docs/semantics.md, "Passwordless sign-in")."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from authflow.errors import InvalidParameterException, NotAuthorizedException
from tests.signin import assert_tokens
from tests.unit.test_webauthn import ORIGIN, RP, Pool
from tests.webauthn_authenticator import SoftAuthenticator

REFUSED = "Incorrect username or passkey."
EXPIRED_SESSION = "Invalid session for the user, session is expired."
USED_SESSION = "Invalid session for the user, session can only be used once."


class Passkeys(Pool):
    """`Pool` with an app client that allows USER_AUTH and alice's passkey registered."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.user_auth = self.env.app_id(self.id, ExplicitAuthFlows=["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                                        PreventUserExistenceErrors="ENABLED")
        self.alice = self.register("alice")

    def ask(self, name: str = "alice") -> dict:
        started = self.client.initiate_auth(ClientId=self.user_auth, AuthFlow="USER_AUTH",
                                            AuthParameters={"USERNAME": name, "PREFERRED_CHALLENGE": "WEB_AUTHN"})
        assert started["ChallengeName"] == "WEB_AUTHN"
        return started

    @staticmethod
    def options(started: dict) -> dict:
        return json.loads(started["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])

    def answer(self, started: dict, credential, name: str = "alice") -> dict:
        return self.client.respond_to_auth_challenge(
            ClientId=self.user_auth, ChallengeName="WEB_AUTHN", Session=started["Session"],
            ChallengeResponses={"USERNAME": name, "CREDENTIAL": json.dumps(credential)})

    def sign_in(self, authenticator: SoftAuthenticator | None = None, origin: str = ORIGIN) -> dict:
        started = self.ask()
        return self.answer(started, (authenticator or self.alice).get(self.options(started), origin))

    def counter(self) -> int:
        (record,) = [r for r in self.resources("webauthn_credential") if r.name.endswith(self.alice.id)]
        return int(record.body["SignCount"])


@pytest.fixture
def pk():
    return Passkeys()


def refused_unchanged(pk: Passkeys, message: str, call, *args, exception=NotAuthorizedException):
    before = pk.snapshot()
    with pytest.raises(exception) as err:
        call(*args)
    assert type(err.value) is exception and err.value.message == message, repr(err.value)
    assert pk.snapshot() == before


def test_the_options_name_the_pool_rp_and_the_users_own_passkey(pk):
    options = pk.options(pk.ask())
    assert options["rpId"] == RP
    assert [c["id"] for c in options["allowCredentials"]] == [pk.alice.id]
    assert options["userVerification"] == "preferred"


def test_a_passkey_signs_in_and_its_counter_moves_on(pk):
    assert pk.counter() == 0
    assert_tokens(pk.sign_in())
    assert pk.counter() == 1
    assert_tokens(pk.sign_in())
    assert pk.counter() == 2


def test_select_challenge_offers_the_passkey_and_then_asks_for_it(pk):
    started = pk.client.initiate_auth(ClientId=pk.user_auth, AuthFlow="USER_AUTH",
                                      AuthParameters={"USERNAME": "alice"})
    assert started["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "WEB_AUTHN"]
    chosen = pk.client.respond_to_auth_challenge(
        ClientId=pk.user_auth, ChallengeName="SELECT_CHALLENGE", Session=started["Session"],
        ChallengeResponses={"USERNAME": "alice", "ANSWER": "WEB_AUTHN"})
    assert chosen["ChallengeName"] == "WEB_AUTHN"
    assert_tokens(pk.answer(chosen, pk.alice.get(pk.options(chosen), ORIGIN)))


def test_a_replayed_assertion_is_refused(pk):
    started = pk.ask()
    assertion = pk.alice.get(pk.options(started), ORIGIN)
    assert_tokens(pk.answer(started, assertion))
    refused_unchanged(pk, USED_SESSION, pk.answer, started, assertion)  # the same session
    refused_unchanged(pk, REFUSED, pk.answer, pk.ask(), assertion)  # a new session: another challenge


def test_a_stale_challenge_is_refused(pk):
    old = pk.ask()
    stale = pk.alice.get(pk.options(old), ORIGIN)
    pk.alice.sign_count -= 1  # the authenticator did not move on for the unused answer
    refused_unchanged(pk, REFUSED, pk.answer, pk.ask(), stale)


def test_an_expired_session_is_refused(pk):
    started = pk.ask()
    assertion = pk.alice.get(pk.options(started), ORIGIN)
    pk.env.clock.advance(timedelta(minutes=3))
    refused_unchanged(pk, EXPIRED_SESSION, pk.answer, started, assertion)


def test_another_users_credential_is_refused(pk):
    bobs = pk.register("bob")
    started = pk.ask()
    options = {**pk.options(started), "allowCredentials": []}
    refused_unchanged(pk, REFUSED, pk.answer, started, bobs.get(options, ORIGIN))


def test_a_wrong_rp_or_origin_is_refused(pk):
    started = pk.ask()
    refused_unchanged(pk, REFUSED, pk.answer, started, pk.alice.get(pk.options(started), "https://evil.example.net"))
    pk.alice.rp_id_hash_of = "evil.example.net"
    refused_unchanged(pk, REFUSED, pk.answer, started, pk.alice.get(pk.options(started), ORIGIN))
    pk.alice.rp_id_hash_of = None
    assert_tokens(pk.answer(started, pk.alice.get(pk.options(started), ORIGIN)))  # the session still answers


def test_a_counter_that_went_back_is_refused(pk):
    assert_tokens(pk.sign_in())
    assert_tokens(pk.sign_in())
    pk.alice.sign_count = 0  # a cloned authenticator
    started = pk.ask()
    refused_unchanged(pk, REFUSED, pk.answer, started, pk.alice.get(pk.options(started), ORIGIN))
    assert pk.counter() == 2


def test_a_deleted_passkey_never_signs_in(pk):
    started = pk.ask()
    assertion = pk.alice.get(pk.options(started), ORIGIN)
    pk.client.delete_web_authn_credential(AccessToken=pk.tokens["alice"], CredentialId=pk.alice.id)
    refused_unchanged(pk, REFUSED, pk.answer, started, assertion)
    # Without a passkey WEB_AUTHN is no longer offered.
    again = pk.client.initiate_auth(ClientId=pk.user_auth, AuthFlow="USER_AUTH",
                                    AuthParameters={"USERNAME": "alice", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
    assert again["ChallengeName"] == "SELECT_CHALLENGE" and "WEB_AUTHN" not in again["AvailableChallenges"]


def test_garbage_instead_of_a_credential_is_refused(pk):
    started = pk.ask()
    for junk in ("not json", "{}", json.dumps({"id": pk.alice.id, "response": {}})):
        before = pk.snapshot()
        with pytest.raises(NotAuthorizedException):
            pk.client.respond_to_auth_challenge(
                ClientId=pk.user_auth, ChallengeName="WEB_AUTHN", Session=started["Session"],
                ChallengeResponses={"USERNAME": "alice", "CREDENTIAL": junk})
        assert pk.snapshot() == before
    with pytest.raises(InvalidParameterException, match="Missing required parameter CREDENTIAL"):
        pk.client.respond_to_auth_challenge(ClientId=pk.user_auth, ChallengeName="WEB_AUTHN",
                                            Session=started["Session"], ChallengeResponses={"USERNAME": "alice"})


def test_user_verification_required_refuses_an_assertion_without_it():
    pk = Passkeys(uv="required")
    started = pk.ask()
    pk.alice.user_verified = False
    refused_unchanged(pk, REFUSED, pk.answer, started, pk.alice.get(pk.options(started), ORIGIN))


def test_an_unknown_user_gets_options_like_a_real_one(pk):
    started = pk.client.initiate_auth(ClientId=pk.user_auth, AuthFlow="USER_AUTH",
                                      AuthParameters={"USERNAME": "nobody", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
    assert started["ChallengeName"] == "WEB_AUTHN"
    options = pk.options(started)
    assert options["rpId"] == RP and len(options["allowCredentials"]) == 1
    again = pk.client.initiate_auth(ClientId=pk.user_auth, AuthFlow="USER_AUTH",
                                    AuthParameters={"USERNAME": "nobody", "PREFERRED_CHALLENGE": "WEB_AUTHN"})
    assert pk.options(again)["allowCredentials"] == options["allowCredentials"]
    with pytest.raises(NotAuthorizedException):
        pk.answer(started, pk.alice.get({**options, "allowCredentials": []}, ORIGIN), name="nobody")


def test_get_user_auth_factors_lists_the_passkey(pk):
    factors = pk.client.get_user_auth_factors(AccessToken=pk.tokens["alice"])
    assert factors["ConfiguredUserAuthFactors"] == ["PASSWORD", "WEB_AUTHN"]
