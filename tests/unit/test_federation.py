"""The pure half of federation (`authflow.core.federation`): the federated username, the
`identities` value and claim, attribute mapping, the ID-token claim checks, which user an
identity signs in as, and the table of the `federated_sign_in` trigger."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from authflow.core import federation as fed
from authflow.core.lifecycle import IllegalTransition, user_lifecycle
from authflow.core.oauth import AuthorizeRequest, OAuthError
from authflow.core.records import PoolResource, User, UserPool
from authflow.core.schema import attribute_definitions, build_schema

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
SCHEMA = attribute_definitions(build_schema([]))
PROVIDER = PoolResource(pool_id="us-east-1_p", kind="identity_provider", name="Corp",
                        body={"ProviderType": "OIDC", "ProviderDetails": {}, "AttributeMapping": {}},
                        created=NOW, modified=NOW)


def pool(required=()) -> UserPool:
    schema = build_schema([{"Name": n, "AttributeDataType": "String", "Required": True, "Mutable": True}
                           for n in required])
    return UserPool(id="us-east-1_p", arn="arn:aws:cognito-idp:us-east-1:0:userpool/us-east-1_p",
                    config={"Name": "p", "SchemaAttributes": schema}, created=NOW, modified=NOW, secret=b"")


def user(username="Corp_abc", status="EXTERNAL_PROVIDER", **attributes) -> User:
    return User(pool_id="us-east-1_p", username=username, username_key=username, sub="sub-1",
                attributes={"sub": "sub-1", **attributes}, status=status, created=NOW, modified=NOW)


def test_the_federated_username_is_provider_underscore_subject():
    assert fed.federated_username("Corp", "105566480895441118673") == "Corp_105566480895441118673"


def test_identities_is_the_json_string_cognito_stores():
    value = fed.identities_value("Google", "Google", "1055", NOW)
    ms = int(NOW.timestamp() * 1000)
    assert value == ('[{"userId":"1055","providerName":"Google","providerType":"Google","issuer":null,'
                     f'"primary":true,"dateCreated":{ms}}}]')
    assert fed.identities_claim(value) == [{"userId": "1055", "providerName": "Google", "providerType": "Google",
                                           "issuer": None, "primary": "true", "dateCreated": str(ms)}]


def test_add_identity_appends_once_and_not_as_primary():
    first = fed.add_identity(None, "Corp", "OIDC", "abc", NOW)
    assert [i["primary"] for i in json.loads(first)] == [False]
    assert fed.add_identity(first, "Corp", "OIDC", "abc", NOW) is None
    assert len(json.loads(fed.add_identity(first, "Other", "OIDC", "abc", NOW))) == 2
    assert fed.identities_claim("not json") == []


def test_the_subject_is_the_claim_mapped_to_username():
    assert fed.subject_of({"sub": "s", "oid": "o"}, {}) == "s"
    assert fed.subject_of({"sub": "s", "oid": "o"}, {"username": "oid"}) == "o"
    with pytest.raises(OAuthError) as err:
        fed.subject_of({"sub": "s"}, {"username": "oid"})
    assert err.value.error == "invalid_request"


def test_mapping_takes_present_claims_as_strings():
    mapping = {"username": "sub", "email": "mail", "name": "name", "email_verified": "email_verified",
               "custom:x": "x"}
    writable = frozenset({"email", "name", "email_verified"})
    got = fed.mapped_attributes(mapping, {"mail": "a@example.com", "email_verified": True, "sub": "s"},
                                writable=writable, schema=SCHEMA)
    assert got == {"email": "a@example.com", "email_verified": "true"}


def test_a_mapped_attribute_the_client_may_not_write_is_refused():
    with pytest.raises(OAuthError) as err:
        fed.mapped_attributes({"email": "email"}, {"email": "a@example.com"}, writable=frozenset({"name"}),
                              schema=SCHEMA)
    assert err.value.error == "invalid_request"
    assert err.value.description == "Invalid user attributes: email: Attribute cannot be written by this app client."


def test_a_mapped_value_that_breaks_the_schema_is_refused():
    with pytest.raises(OAuthError) as err:
        fed.mapped_attributes({"email": "email"}, {"email": "not-an-email"}, writable=frozenset({"email"}),
                              schema=SCHEMA)
    assert "Invalid email address format." in err.value.description


def claims(**over):
    return {"iss": "https://idp", "aud": "cid", "exp": int(NOW.timestamp()) + 60, "iat": int(NOW.timestamp()),
            "sub": "s", "nonce": "n", **over}


@pytest.mark.parametrize("bad", [{"iss": "https://idp/"}, {"aud": "other"}, {"aud": ["other"]}, {"nonce": "m"},
                                 {"nonce": None}, {"exp": int((NOW - timedelta(minutes=5)).timestamp())},
                                 {"exp": "soon"}, {"sub": ""}])
def test_id_token_claims_are_checked(bad):
    fed.check_id_token(claims(), issuer="https://idp", client_id="cid", nonce="n", now=NOW)
    with pytest.raises(OAuthError):
        fed.check_id_token(claims(**bad), issuer="https://idp", client_id="cid", nonce="n", now=NOW)


def test_links_are_looked_up_by_subject_first_then_by_mapped_values():
    got = fed.link_candidates("Corp", "abc", {"username": "sub", "email": "mail", "name": "name"},
                              {"email": "a@example.com"})
    assert got == [("Corp:abc", "Cognito_Subject"), ("Corp:a@example.com", "email")]


def test_first_sign_in_creates_an_external_provider_user_without_aliases():
    decided = fed.decide_sign_in(pool(), PROVIDER, subject="abc", mapped={"email": "a@example.com"},
                                 linked=None, federated=None, new_sub="new-sub", now=NOW)
    made = decided.put
    assert decided.sub == "new-sub" and made.username == "Corp_abc" and made.status == "EXTERNAL_PROVIDER"
    assert made.credential is None and made.aliases == ()
    assert list(made.attributes) == ["sub", "email", "identities"]


def test_a_required_attribute_the_mapping_does_not_give_fails():
    with pytest.raises(OAuthError) as err:
        fed.decide_sign_in(pool(required=["name"]), PROVIDER, subject="abc", mapped={}, linked=None,
                           federated=None, new_sub="n", now=NOW)
    assert err.value.description == "attributes required: [name]"


def test_a_later_sign_in_refreshes_mapped_attributes_and_keeps_the_rest():
    existing = user(email="old@example.com", identities="[]", locale="fr")
    decided = fed.decide_sign_in(pool(), PROVIDER, subject="abc", mapped={"email": "new@example.com"},
                                 linked=None, federated=existing, new_sub="unused", now=NOW)
    assert decided.sub == "sub-1" and decided.put.version == existing.version + 1
    assert decided.put.attributes == {"sub": "sub-1", "email": "new@example.com", "identities": "[]", "locale": "fr"}
    same = fed.decide_sign_in(pool(), PROVIDER, subject="abc", mapped={"email": "old@example.com"},
                              linked=None, federated=existing, new_sub="unused", now=NOW)
    assert same.put is None and same.sub == "sub-1"


def test_a_link_wins_and_leaves_the_local_users_attributes():
    carol = user(username="carol", status="CONFIRMED", email="carol@example.com")
    decided = fed.decide_sign_in(pool(), PROVIDER, subject="abc", mapped={"email": "x@example.com"},
                                 linked=carol, federated=None, new_sub="unused", now=NOW)
    assert decided.sub == "sub-1" and decided.put.status == "CONFIRMED"
    assert decided.put.attributes["email"] == "carol@example.com"
    assert json.loads(decided.put.attributes["identities"])[0]["userId"] == "abc"


@pytest.mark.parametrize("status", user_lifecycle().states)
def test_federated_sign_in_from_every_status(status):
    """The table for federated_sign_in: the decision moves as the spec says or refuses."""
    try:
        expected = user_lifecycle().next_status(status, "federated_sign_in")
    except IllegalTransition:
        expected = None
    existing = None if status == "ABSENT" else user(status=status, email="old@example.com")
    try:
        decided = fed.decide_sign_in(pool(), PROVIDER, subject="abc", mapped={"email": "new@example.com"},
                                     linked=None, federated=existing, new_sub="n", now=NOW)
    except IllegalTransition:
        assert expected is None
        return
    assert expected is not None and decided.put.status == expected


def test_the_pending_request_round_trips():
    request = AuthorizeRequest(
        pool_id="p", client_id="c", domain="d", response_type="code", redirect_uri="https://a/cb",
        scopes=("openid", "email"), state=None, nonce="n", code_challenge=None, code_challenge_method=None,
        identity_provider="Corp", idp_identifier=None, prompt=None, lang=None, login_hint=None, query="a=b",
    )
    pending = fed.Pending(request=request, provider="Corp", code_verifier="v")
    assert fed.Pending.from_json(json.loads(json.dumps(pending.as_json()))) == pending


def test_state_ids_are_domain_separated_hashes():
    sid = fed.state_id("abc")
    assert sid.startswith("federation-state:") and len(sid) == len("federation-state:") + 64
    import hashlib
    assert sid[len("federation-state:"):] != hashlib.sha256(b"abc").hexdigest()
    assert fed.pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B


def test_a_bound_pending_request_needs_its_binding():
    request = AuthorizeRequest(
        pool_id="p", client_id="c", domain="d", response_type="code", redirect_uri="https://a/cb", scopes=(),
        state=None, nonce="n", code_challenge=None, code_challenge_method=None, identity_provider="Corp",
        idp_identifier=None, prompt=None, lang=None, login_hint=None, query="",
    )
    bound = fed.Pending(request=request, provider="Corp", code_verifier="v", binding=fed.binding_hash("b"))
    assert bound.bound_to("b") and not bound.bound_to("c") and not bound.bound_to(None)
    assert fed.Pending(request=request, provider="Corp", code_verifier="v").bound_to(None)
