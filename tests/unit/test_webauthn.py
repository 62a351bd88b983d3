"""Passkey registration through the Client: StartWebAuthnRegistration, the software
authenticator's answer, CompleteWebAuthnRegistration, ListWebAuthnCredentials,
DeleteWebAuthnCredential, and every refusal. A refusal that must change nothing is checked
against the whole store; one that spends the challenge is checked to spend it and nothing else."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from authflow.errors import (
    InvalidParameterException,
    LimitExceededException,
    NotAuthorizedException,
    ResourceNotFoundException,
    WebAuthnChallengeNotFoundException,
    WebAuthnClientMismatchException,
    WebAuthnConfigurationMissingException,
    WebAuthnCredentialNotSupportedException,
    WebAuthnNotEnabledException,
    WebAuthnOriginNotAllowedException,
    WebAuthnRelyingPartyMismatchException,
)
from tests.signin import Env
from tests.webauthn_authenticator import SoftAuthenticator

RP = "example.com"
ORIGIN = "https://app.example.com"
PASSKEYS = {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}
INVALID = "Credential data is not valid"


class Pool:
    """A pool whose users may sign in with passkeys (RP `rp`, unless None), an app client and
    CONFIRMED users alice and bob, each signed in with a password."""

    def __init__(self, *, rp: str | None = RP, uv: str | None = None, factors=PASSKEYS, domains=()) -> None:
        self.env = Env()
        self.client = self.env.client
        self.id = self.env.pool(Policies={"SignInPolicy": factors})
        config = {}
        if rp:
            config["RelyingPartyId"] = rp
        if uv:
            config["UserVerification"] = uv
        if config:
            self.client.set_user_pool_mfa_config(UserPoolId=self.id, MfaConfiguration="OFF",
                                                 WebAuthnConfiguration=config)
        for domain in domains:
            extra = {"CustomDomainConfig": {"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}} \
                if "." in domain else {}
            self.client.create_user_pool_domain(UserPoolId=self.id, Domain=domain, **extra)
        self.app = self.env.app_id(self.id)
        self.tokens = {}
        for name in ("alice", "bob"):
            self.env.user(self.id, name)
            self.env.place(self.id, name, status="CONFIRMED")
            self.tokens[name] = self.token(name)

    def token(self, name: str = "alice", app: str | None = None) -> str:
        return self.env.initiate(app or self.app, name)["AuthenticationResult"]["AccessToken"]

    def start(self, name: str = "alice", token: str | None = None) -> dict:
        return self.client.start_web_authn_registration(AccessToken=token or self.tokens[name])[
            "CredentialCreationOptions"]

    def complete(self, credential, name: str = "alice", token: str | None = None) -> dict:
        return self.client.complete_web_authn_registration(AccessToken=token or self.tokens[name],
                                                           Credential=credential)

    def register(self, name: str = "alice", authenticator: SoftAuthenticator | None = None,
                 origin: str = ORIGIN) -> SoftAuthenticator:
        authenticator = authenticator or SoftAuthenticator()
        self.complete(authenticator.create(self.start(name), origin), name)
        return authenticator

    def listed(self, name: str = "alice", **kwargs) -> list[dict]:
        return self.client.list_web_authn_credentials(AccessToken=self.tokens[name], **kwargs)["Credentials"]

    def snapshot(self) -> dict:
        return self.env.snapshot()

    def resources(self, kind: str) -> list:
        with self.client.store.transaction() as tx:
            return tx.list_resources(self.id, kind, after=None, limit=100)

    def sub(self, name: str = "alice") -> str:
        attrs = self.env.attributes(self.id, name)
        return attrs["sub"]


def unchanged(pool: Pool, exception, message: str | None, call, *args, **kwargs):
    before = pool.snapshot()
    with pytest.raises(exception) as err:
        call(*args, **kwargs)
    assert type(err.value) is exception, repr(err.value)
    if message is not None:
        assert err.value.message == message
    assert pool.snapshot() == before
    return err.value


def spent(pool: Pool, exception, credential, name: str = "alice"):
    """Complete with `credential` is refused with `exception`; the pending registration is
    gone (the right answer now finds no challenge) and no passkey was stored."""
    before = pool.listed(name)
    with pytest.raises(exception) as err:
        pool.complete(credential, name)
    assert type(err.value) is exception, repr(err.value)
    assert pool.sub(name) not in [r.name for r in pool.resources("webauthn_registration")]
    assert pool.listed(name) == before
    return err.value


# -- the round trip -------------------------------------------------------------------------------


def test_register_list_delete():
    pool = Pool()
    options = pool.start()
    assert options["rp"] == {"id": RP, "name": RP}
    sub = pool.sub()
    assert base64.urlsafe_b64decode(options["user"]["id"] + "==") == sub.encode()
    assert options["user"]["name"] == options["user"]["displayName"] == "alice"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -257]
    assert options["authenticatorSelection"] == {"residentKey": "required", "requireResidentKey": True,
                                                 "userVerification": "preferred"}
    assert options["attestation"] == "none" and options["timeout"] == 60000
    assert options["excludeCredentials"] == []
    authenticator = SoftAuthenticator(attachment="cross-platform", transports=("usb", "nfc"))
    response = pool.complete(authenticator.create(options, ORIGIN))
    assert set(response) <= {"ResponseMetadata"}
    [listed] = pool.listed()
    assert listed == {"CredentialId": authenticator.id, "FriendlyCredentialName": "Roaming passkey",
                      "RelyingPartyId": RP, "AuthenticatorAttachment": "cross-platform",
                      "AuthenticatorTransports": ["usb", "nfc"], "CreatedAt": listed["CreatedAt"]}
    assert listed["CreatedAt"] == pool.env.clock.now()
    assert pool.listed("bob") == []
    # The next Start excludes it, with its transports.
    assert pool.start()["excludeCredentials"] == [{"id": authenticator.id, "type": "public-key",
                                                   "transports": ["usb", "nfc"]}]
    pool.client.delete_web_authn_credential(AccessToken=pool.tokens["alice"], CredentialId=authenticator.id)
    assert pool.listed() == []
    assert pool.resources("webauthn_credential") == [] and pool.resources("webauthn_credential_id") == []


def test_friendly_names_follow_the_attachment():
    pool = Pool()
    pool.register(authenticator=SoftAuthenticator(attachment="platform"))
    pool.register(authenticator=SoftAuthenticator(attachment=None))
    assert sorted(c["FriendlyCredentialName"] for c in pool.listed()) == ["Passkey", "Platform passkey"]
    assert [c for c in pool.listed() if c["FriendlyCredentialName"] == "Passkey"][0].get(
        "AuthenticatorAttachment") is None


def test_user_verification_required_is_asked_for_and_enforced():
    pool = Pool(uv="required")
    options = pool.start()
    assert options["authenticatorSelection"]["userVerification"] == "required"
    err = spent(pool, WebAuthnCredentialNotSupportedException, SoftAuthenticator(user_verified=False).create(
        options, ORIGIN))
    assert "user verification" in err.message
    pool.register(authenticator=SoftAuthenticator(user_verified=True))
    assert len(pool.listed()) == 1


def test_user_verification_preferred_accepts_a_passkey_without_it():
    pool = Pool()
    pool.register(authenticator=SoftAuthenticator(user_verified=False))
    assert len(pool.listed()) == 1


# -- the relying party ------------------------------------------------------------------------------


@pytest.mark.parametrize("domains, rp", [
    (("myprefix",), "myprefix.auth.us-east-1.amazoncognito.com"),
    (("auth.example.org",), "auth.example.org"),
    (("myprefix", "auth.example.org"), "auth.example.org"),
])
def test_without_a_configured_rp_the_pool_domain_is_the_rp(domains, rp):
    pool = Pool(rp=None, domains=domains)
    options = pool.start()
    assert options["rp"] == {"id": rp, "name": rp}
    pool.register(origin=f"https://{rp}")
    assert pool.listed()[0]["RelyingPartyId"] == rp


def test_no_rp_and_no_domain_is_configuration_missing():
    pool = Pool(rp=None)
    unchanged(pool, WebAuthnConfigurationMissingException, None, pool.start)


@pytest.mark.parametrize("factors", [{"AllowedFirstAuthFactors": ["PASSWORD"]}, {}])
def test_not_enabled_without_web_authn_among_the_first_factors(factors):
    pool = Pool(factors=factors)
    unchanged(pool, WebAuthnNotEnabledException, None, pool.start)


def test_complete_refused_once_the_pool_stops_allowing_passkeys():
    pool = Pool()
    credential = SoftAuthenticator().create(pool.start(), ORIGIN)
    pool.client.update_user_pool(UserPoolId=pool.id, Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]}})
    unchanged(pool, WebAuthnNotEnabledException, None, pool.complete, credential)


# -- origins ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [
    "https://example.com", "https://app.example.com", "https://a.b.example.com:8443",
])
def test_origins_on_the_rp_or_its_subdomains_over_https(origin):
    pool = Pool()
    pool.register(origin=origin)
    assert len(pool.listed()) == 1


@pytest.mark.parametrize("origin", [
    "http://example.com", "https://evil.com", "https://notexample.com", "https://example.com.evil.com",
    "https://example.com/path", "ftp://example.com", "example.com", "https://example.com:99999",
])
def test_other_origins_are_refused_and_spend_the_challenge(origin):
    pool = Pool()
    options = pool.start()
    spent(pool, WebAuthnOriginNotAllowedException, SoftAuthenticator().create(options, origin))
    # The right answer to the spent challenge finds none.
    with pytest.raises(WebAuthnChallengeNotFoundException):
        pool.complete(SoftAuthenticator().create(options, ORIGIN))


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://localhost", "https://localhost:8443"])
def test_localhost_may_use_http(origin):
    pool = Pool(rp="localhost")
    pool.register(origin=origin)
    assert pool.listed()[0]["RelyingPartyId"] == "localhost"


def test_http_is_refused_for_other_hosts_of_a_localhost_like_name():
    pool = Pool(rp="localhost.example.com")
    spent(pool, WebAuthnOriginNotAllowedException,
          SoftAuthenticator().create(pool.start(), "http://localhost.example.com"))


def test_a_credential_of_another_rp_is_a_relying_party_mismatch():
    pool = Pool()
    authenticator = SoftAuthenticator()
    authenticator.rp_id_hash_of = "other.com"
    spent(pool, WebAuthnRelyingPartyMismatchException, authenticator.create(pool.start(), ORIGIN))


# -- the pending registration -----------------------------------------------------------------------


def test_complete_without_start_finds_no_challenge():
    pool = Pool()
    options = {"rp": {"id": RP}, "user": {"id": "eA"}, "challenge": "AAAA"}
    unchanged(pool, WebAuthnChallengeNotFoundException, None, pool.complete,
              SoftAuthenticator().create(options, ORIGIN))


def test_an_expired_registration_is_not_found_and_nothing_changes():
    pool = Pool()
    credential = SoftAuthenticator().create(pool.start(), ORIGIN)
    pool.env.clock.advance(timedelta(minutes=5))
    unchanged(pool, WebAuthnChallengeNotFoundException, None, pool.complete, credential)


def test_an_answer_within_five_minutes_is_accepted():
    pool = Pool()
    credential = SoftAuthenticator().create(pool.start(), ORIGIN)
    pool.env.clock.advance(timedelta(minutes=4, seconds=59))
    pool.complete(credential)
    assert len(pool.listed()) == 1


def test_a_new_start_replaces_the_pending_registration():
    pool = Pool()
    first = SoftAuthenticator().create(pool.start(), ORIGIN)
    second = pool.start()
    assert len(pool.resources("webauthn_registration")) == 1
    spent(pool, WebAuthnChallengeNotFoundException, first)
    with pytest.raises(WebAuthnChallengeNotFoundException):
        pool.complete(SoftAuthenticator().create(second, ORIGIN))


def test_a_successful_registration_spends_its_challenge():
    pool = Pool()
    credential = SoftAuthenticator().create(pool.start(), ORIGIN)
    pool.complete(credential)
    unchanged(pool, WebAuthnChallengeNotFoundException, None, pool.complete, credential)
    assert len(pool.listed()) == 1


def test_another_app_clients_token_is_a_client_mismatch_and_keeps_the_registration():
    pool = Pool()
    other = pool.env.app_id(pool.id)
    credential = SoftAuthenticator().create(pool.start(), ORIGIN)
    unchanged(pool, WebAuthnClientMismatchException, None, pool.complete, credential,
              token=pool.token("alice", app=other))
    pool.complete(credential)  # the pending registration is still there for Start's client
    assert len(pool.listed()) == 1


def test_each_user_has_their_own_registration():
    pool = Pool()
    alice = SoftAuthenticator().create(pool.start("alice"), ORIGIN)
    pool.start("bob")
    spent(pool, WebAuthnChallengeNotFoundException, alice, name="bob")
    pool.complete(alice, "alice")
    assert len(pool.listed("alice")) == 1 and pool.listed("bob") == []


# -- bad credentials --------------------------------------------------------------------------------


@pytest.mark.parametrize("mangle", [
    lambda c: {},
    lambda c: {"id": c["id"]},
    lambda c: {**c, "rawId": "AAAA"},
    lambda c: {**c, "type": "other"},
    lambda c: {**c, "response": {**c["response"], "attestationObject": "bm90LWNib3I"}},
    lambda c: {**c, "response": {**c["response"], "clientDataJSON": "bm90LWpzb24"}},
    lambda c: "not an object",
])
def test_a_malformed_credential_is_an_invalid_parameter(mangle):
    pool = Pool()
    credential = mangle(SoftAuthenticator().create(pool.start(), ORIGIN))
    err = spent(pool, InvalidParameterException, credential)
    assert err.message == INVALID


def test_an_assertion_offered_as_registration_is_invalid():
    pool = Pool()
    authenticator = pool.register()
    options = pool.start()
    assertion = authenticator.get({"challenge": options["challenge"], "rpId": RP}, ORIGIN)
    assert spent(pool, InvalidParameterException, assertion).message == INVALID


@pytest.mark.parametrize("knob", [{"algorithm": "EdDSA"}, {"fmt": "bogus"}])
def test_an_unsupported_algorithm_or_format_is_not_supported(knob):
    pool = Pool()
    spent(pool, WebAuthnCredentialNotSupportedException, SoftAuthenticator(**knob).create(pool.start(), ORIGIN))


def test_a_credential_id_registered_in_the_pool_is_refused():
    pool = Pool()
    same = b"\x01" * 32
    pool.register("alice", SoftAuthenticator(credential_id=same))
    err = spent(pool, InvalidParameterException, SoftAuthenticator(credential_id=same).create(pool.start("bob"), ORIGIN),
                name="bob")
    assert err.message == "This passkey is already registered in the user pool."
    assert len(pool.listed("alice")) == 1


def test_twenty_passkeys_at_most():
    pool = Pool()
    for _ in range(20):
        pool.register()
    assert len(pool.listed()) == 20
    unchanged(pool, LimitExceededException, "A user can register at most 20 passkeys.", pool.start)


# -- list and delete --------------------------------------------------------------------------------


def test_list_pages():
    pool = Pool()
    ids = sorted(pool.register().id for _ in range(3))
    pool.register("bob")
    first = pool.client.list_web_authn_credentials(AccessToken=pool.tokens["alice"], MaxResults=2)
    assert [c["CredentialId"] for c in first["Credentials"]] == ids[:2]
    second = pool.client.list_web_authn_credentials(AccessToken=pool.tokens["alice"], MaxResults=2,
                                                    NextToken=first["NextToken"])
    assert [c["CredentialId"] for c in second["Credentials"]] == ids[2:]
    assert "NextToken" not in second
    assert len(pool.listed()) == 3 and len(pool.listed("bob")) == 1


@pytest.mark.parametrize("token", ["%%%", "bm90=x"])
def test_list_with_a_bad_next_token(token):
    pool = Pool()
    pool.register()
    unchanged(pool, InvalidParameterException, "Invalid NextToken.", pool.listed, NextToken=token)


def test_list_and_delete_work_when_passkeys_are_no_longer_allowed():
    pool = Pool()
    authenticator = pool.register()
    pool.client.update_user_pool(UserPoolId=pool.id, Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]}})
    assert len(pool.listed()) == 1
    pool.client.delete_web_authn_credential(AccessToken=pool.tokens["alice"], CredentialId=authenticator.id)
    assert pool.listed() == []


def test_delete_of_an_unknown_or_another_users_passkey_is_not_found():
    pool = Pool()
    bobs = pool.register("bob")
    for credential_id in (bobs.id, "AAAAAAAAAAAAAAAAAAAAAA"):
        unchanged(pool, ResourceNotFoundException, None, pool.client.delete_web_authn_credential,
                  AccessToken=pool.tokens["alice"], CredentialId=credential_id)
    assert len(pool.listed("bob")) == 1


def test_the_operations_need_a_valid_access_token():
    pool = Pool()
    for call, extra in ((pool.client.start_web_authn_registration, {}),
                        (pool.client.complete_web_authn_registration, {"Credential": {}}),
                        (pool.client.list_web_authn_credentials, {}),
                        (pool.client.delete_web_authn_credential, {"CredentialId": "AAAA"})):
        unchanged(pool, NotAuthorizedException, "Invalid Access Token", call, AccessToken="not-a-token", **extra)


def test_deleting_a_user_deletes_their_passkeys():
    pool = Pool()
    same = b"\x02" * 32
    pool.register("alice", SoftAuthenticator(credential_id=same))
    pool.start("alice")  # and a pending registration
    pool.register("bob")
    pool.client.admin_delete_user(UserPoolId=pool.id, Username="alice")
    assert [r.name.split(":")[0] for r in pool.resources("webauthn_credential")] == [pool.sub("bob")]
    assert len(pool.resources("webauthn_credential_id")) == 1
    assert pool.resources("webauthn_registration") == []
    # The credential id is free again.
    pool.register("bob", SoftAuthenticator(credential_id=same))
    assert len(pool.listed("bob")) == 2


def test_delete_user_by_access_token_deletes_the_passkeys():
    pool = Pool()
    pool.register("alice")
    pool.client.delete_user(AccessToken=pool.tokens["alice"])
    assert pool.resources("webauthn_credential") == [] and pool.resources("webauthn_credential_id") == []


# -- without py_webauthn (the passkeys extra) ---------------------------------------------------------


def test_without_py_webauthn_ceremonies_are_not_enabled_and_listing_works(monkeypatch):
    import sys

    from authflow.errors import OperationNotEnabledException

    pool = Pool()
    pool.register()
    credential = SoftAuthenticator().create(pool.start(), ORIGIN)
    for name in [m for m in sys.modules if m == "webauthn" or m.startswith("webauthn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "webauthn", None)  # `import webauthn` now fails
    message = "Passkeys need py_webauthn on the server: pip install 'authflow[passkeys]'."
    unchanged(pool, OperationNotEnabledException, message, pool.start)
    unchanged(pool, OperationNotEnabledException, message, pool.complete, credential)  # nothing spent
    [listed] = pool.listed()
    pool.client.delete_web_authn_credential(AccessToken=pool.tokens["alice"], CredentialId=listed["CredentialId"])
    assert pool.listed() == []


def test_authflow_imports_without_py_webauthn():
    import subprocess
    import sys

    code = ("import sys; sys.modules['webauthn'] = None\n"
            "import authflow, authflow.service.registry, authflow.crypto.passkeys, authflow.service.webauthn\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
