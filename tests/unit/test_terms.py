"""CreateTerms, DescribeTerms, DescribeTermsByClient, ListTerms, UpdateTerms and DeleteTerms
through the Client: TermsType and TermsDescriptionType, a TermsName unique to its app client
(TermsExistsException), unknown pools, clients and ids (ResourceNotFoundException), the
model's shapes (TermsName, TermsSource, Enforcement, Links keys) and authflow's link rule,
Update's partial semantics, paging, and the documents going with their pool. Every refusal
leaves the store exactly as it was. Also the pure choice of the sign-up page's links."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

import authflow
from authflow.adapters import SeededEntropy, SqliteStore
from authflow.core import terms as core
from authflow.core.records import PoolResource
from authflow.crypto.sealing import Keyring
from authflow.errors import (
    InvalidParameterException,
    ResourceNotFoundException,
    TermsExistsException,
)
from tests.conftest import TEST_CONFIG, CheckedClient
from tests.oauth_resources import Pool, contents

TOU = "https://example.com/terms"
PRIVACY = "https://example.com/privacy"
MISSING = "00000000-0000-4000-8000-000000000000"


class TermsPool(Pool):
    def __init__(self) -> None:
        super().__init__()
        self.app = self.client.create_user_pool_client(UserPoolId=self.id, ClientName="app")["UserPoolClient"]["ClientId"]

    def create(self, name: str = "terms-of-use", links=None, client: str | None = None, **extra) -> dict:
        return self.client.create_terms(UserPoolId=self.id, ClientId=client or self.app, TermsName=name,
                                        TermsSource="LINK", Enforcement="NONE",
                                        Links={"cognito:default": TOU} if links is None else links, **extra)["Terms"]


def test_create_returns_terms_type_and_describe_and_list_agree():
    pool = TermsPool()
    created = pool.create(links={"cognito:default": TOU, "cognito:spanish": TOU + "/es"})
    now = pool.env.clock.now()
    assert created == {"TermsId": created["TermsId"], "UserPoolId": pool.id, "ClientId": pool.app,
                       "TermsName": "terms-of-use", "TermsSource": "LINK", "Enforcement": "NONE",
                       "Links": {"cognito:default": TOU, "cognito:spanish": TOU + "/es"},
                       "CreationDate": now, "LastModifiedDate": now}
    assert pool.client.describe_terms(UserPoolId=pool.id, TermsId=created["TermsId"])["Terms"] == created
    by_client = pool.client.describe_terms_by_client(UserPoolId=pool.id, ClientId=pool.app, TermsName="terms-of-use")
    assert by_client["Terms"] == created
    assert pool.client.list_terms(UserPoolId=pool.id)["Terms"] == [
        {"TermsId": created["TermsId"], "TermsName": "terms-of-use", "Enforcement": "NONE",
         "CreationDate": now, "LastModifiedDate": now}]


def test_terms_ids_are_uuid4_and_distinct():
    pool = TermsPool()
    ids = {pool.create("terms-of-use")["TermsId"], pool.create("privacy-policy")["TermsId"]}
    assert len(ids) == 2
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)


def test_a_terms_name_is_unique_to_its_client_not_to_the_pool():
    pool = TermsPool()
    pool.create("terms-of-use")
    pool.unchanged(TermsExistsException, f"Terms terms-of-use already exist for app client {pool.app}.",
                   pool.create, "terms-of-use")
    other = pool.client.create_user_pool_client(UserPoolId=pool.id, ClientName="b")["UserPoolClient"]["ClientId"]
    assert pool.create("terms-of-use", client=other)["ClientId"] == other
    assert pool.create("privacy-policy")["TermsName"] == "privacy-policy"


def test_unknown_pool_and_client_are_not_found():
    pool = TermsPool()
    pool.unchanged(ResourceNotFoundException, "User pool client nosuch does not exist.", pool.create, client="nosuch")
    second = Pool(env=pool.env)
    foreign = pool.client.create_user_pool_client(UserPoolId=second.id, ClientName="x")["UserPoolClient"]["ClientId"]
    pool.unchanged(ResourceNotFoundException, f"User pool client {foreign} does not exist.", pool.create,
                   client=foreign)
    with pytest.raises(ResourceNotFoundException):
        pool.client.list_terms(UserPoolId="us-east-1_nosuchpoo")
    pool.unchanged(ResourceNotFoundException, f"User pool client {foreign} does not exist.",
                   pool.client.describe_terms_by_client, UserPoolId=pool.id, ClientId=foreign,
                   TermsName="terms-of-use")


def test_unknown_terms_id_is_not_found_for_describe_update_delete():
    pool = TermsPool()
    pool.create()
    message = f"Terms {MISSING} does not exist."
    pool.unchanged(ResourceNotFoundException, message, pool.client.describe_terms, UserPoolId=pool.id,
                   TermsId=MISSING)
    pool.unchanged(ResourceNotFoundException, message, pool.client.update_terms, UserPoolId=pool.id,
                   TermsId=MISSING, Links={"cognito:default": TOU})
    pool.unchanged(ResourceNotFoundException, message, pool.client.delete_terms, UserPoolId=pool.id,
                   TermsId=MISSING)
    pool.unchanged(ResourceNotFoundException, f"Terms privacy-policy does not exist for app client {pool.app}.",
                   pool.client.describe_terms_by_client, UserPoolId=pool.id, ClientId=pool.app,
                   TermsName="privacy-policy")


def test_a_terms_id_of_another_pool_is_not_found():
    pool = TermsPool()
    other = TermsPool()
    theirs = other.create()["TermsId"]
    assert other.client.describe_terms(UserPoolId=other.id, TermsId=theirs)["Terms"]["TermsId"] == theirs
    pool.unchanged(ResourceNotFoundException, f"Terms {theirs} does not exist.", pool.client.describe_terms,
                   UserPoolId=pool.id, TermsId=theirs)


@pytest.mark.parametrize(("member", "value", "fragment"), [
    ("TermsName", "cookies", "termsName"),
    ("TermsSource", "FILE", "termsSource"),
    ("Enforcement", "REQUIRED", "enforcement"),
    ("Links", {"en": TOU}, "links"),
    ("Links", {}, "links"),
    ("Links", {"cognito:default": "x" * 1025}, "links"),
])
def test_the_models_shapes_are_enforced(member, value, fragment):
    pool = TermsPool()
    request = {"UserPoolId": pool.id, "ClientId": pool.app, "TermsName": "terms-of-use", "TermsSource": "LINK",
               "Enforcement": "NONE", "Links": {"cognito:default": TOU}, member: value}
    before = contents(pool.client)
    with pytest.raises(InvalidParameterException) as raised:
        pool.client.create_terms(**request)
    assert fragment in raised.value.message
    assert contents(pool.client) == before


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/terms", "ftp://example.com/t", "https://", "data:text/html,x"])
def test_a_link_must_be_an_absolute_http_url(url):
    pool = TermsPool()
    pool.unchanged(InvalidParameterException, "The link for cognito:french must be an absolute http or https URL.",
                   pool.create, links={"cognito:default": TOU, "cognito:french": url})
    created = pool.create()
    pool.unchanged(InvalidParameterException, "The link for cognito:french must be an absolute http or https URL.",
                   pool.client.update_terms, UserPoolId=pool.id, TermsId=created["TermsId"],
                   Links={"cognito:french": url})


def test_create_without_links_is_refused():
    pool = TermsPool()
    pool.unchanged(
        InvalidParameterException,
        "Links must hold at least one link (cognito:default or a language) when TermsSource is LINK.",
        pool.client.create_terms, UserPoolId=pool.id, ClientId=pool.app, TermsName="terms-of-use",
        TermsSource="LINK", Enforcement="NONE")


def test_update_changes_what_it_names_and_keeps_the_rest():
    pool = TermsPool()
    created = pool.create()
    pool.env.clock.advance(timedelta(minutes=5))
    updated = pool.client.update_terms(UserPoolId=pool.id, TermsId=created["TermsId"],
                                       Links={"cognito:german": TOU + "/de"})["Terms"]
    assert updated["Links"] == {"cognito:german": TOU + "/de"}  # Links replaced as a whole
    assert (updated["TermsName"], updated["ClientId"], updated["CreationDate"]) == (
        "terms-of-use", pool.app, created["CreationDate"])
    assert updated["LastModifiedDate"] == created["CreationDate"] + timedelta(minutes=5)
    renamed = pool.client.update_terms(UserPoolId=pool.id, TermsId=created["TermsId"],
                                       TermsName="privacy-policy")["Terms"]
    assert (renamed["TermsName"], renamed["Links"]) == ("privacy-policy", {"cognito:german": TOU + "/de"})
    assert pool.client.describe_terms(UserPoolId=pool.id, TermsId=created["TermsId"])["Terms"] == renamed


def test_update_may_not_rename_onto_a_sibling_but_may_keep_its_own_name():
    pool = TermsPool()
    tou = pool.create("terms-of-use")
    pool.create("privacy-policy")
    pool.unchanged(TermsExistsException, f"Terms privacy-policy already exist for app client {pool.app}.",
                   pool.client.update_terms, UserPoolId=pool.id, TermsId=tou["TermsId"], TermsName="privacy-policy")
    same = pool.client.update_terms(UserPoolId=pool.id, TermsId=tou["TermsId"], TermsName="terms-of-use")
    assert same["Terms"]["TermsName"] == "terms-of-use"


def test_delete_removes_the_document_and_frees_its_name():
    pool = TermsPool()
    created = pool.create()
    answer = pool.client.delete_terms(UserPoolId=pool.id, TermsId=created["TermsId"])
    assert {k: v for k, v in answer.items() if k != "ResponseMetadata"} == {}
    with pytest.raises(ResourceNotFoundException):
        pool.client.describe_terms(UserPoolId=pool.id, TermsId=created["TermsId"])
    assert pool.client.list_terms(UserPoolId=pool.id)["Terms"] == []
    assert pool.create()["TermsId"] != created["TermsId"]


def test_list_pages_through_every_document():
    pool = TermsPool()
    ids = set()
    for i in range(3):
        app = pool.client.create_user_pool_client(UserPoolId=pool.id, ClientName=f"a{i}")["UserPoolClient"]["ClientId"]
        ids |= {pool.create("terms-of-use", client=app)["TermsId"], pool.create("privacy-policy", client=app)["TermsId"]}
    seen, token, pages = [], None, 0
    while True:
        answer = pool.client.list_terms(UserPoolId=pool.id, MaxResults=4, **({"NextToken": token} if token else {}))
        seen += [t["TermsId"] for t in answer["Terms"]]
        pages += 1
        token = answer.get("NextToken")
        if token is None:
            break
    assert (pages, len(seen), set(seen)) == (2, 6, ids)
    assert len(pool.client.list_terms(UserPoolId=pool.id)["Terms"]) == 6  # default page holds 60
    with pytest.raises(InvalidParameterException):
        pool.client.list_terms(UserPoolId=pool.id, MaxResults=61)


def test_the_documents_go_with_their_pool():
    pool = TermsPool()
    pool.create()
    pool.client.delete_user_pool(UserPoolId=pool.id)
    assert all(not r for r in contents(pool.client)["resources"].values())


# -- the sign-up page's choice (pure) -------------------------------------------------------------


def record(name: str, links: dict) -> PoolResource:
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return PoolResource(pool_id="p", kind=core.TERMS, name=name, body={
        "ClientId": "c", "TermsName": name, "TermsSource": "LINK", "Enforcement": "NONE", "Links": links},
        created=at, modified=at)


@pytest.mark.parametrize(("lang", "key"), [
    (None, "cognito:english"), ("fr", "cognito:french"), ("FR", "cognito:french"), ("pt-BR", "cognito:portuguese-brazil"),
    ("zh-tw", "cognito:chinese-traditional"), ("de-AT", "cognito:german"), ("id", "cognito:bahasa-indonesia"),
    ("xx", "cognito:default"), ("zh", "cognito:default"),
])
def test_language_keys(lang, key):
    assert core.language_key(lang) == key


def test_sign_up_links_need_both_documents_in_the_language():
    tou = record("terms-of-use", {"cognito:default": TOU, "cognito:italian": TOU + "/it"})
    privacy = record("privacy-policy", {"cognito:japanese": PRIVACY + "/ja"})
    assert core.sign_up_links([tou], None) == []
    assert core.sign_up_links([tou, privacy], "it") == []
    assert core.sign_up_links([privacy, tou], "ja") == [
        {"name": "terms-of-use", "label": "Terms of use", "url": TOU},
        {"name": "privacy-policy", "label": "Privacy policy", "url": PRIVACY + "/ja"}]


def test_documents_persist_in_a_sqlite_store(tmp_path):
    path = tmp_path / "terms.db"
    config = authflow.EngineConfig(kek=Keyring(b"k" * 32), kdf=TEST_CONFIG.kdf, signing_keys=TEST_CONFIG.signing_keys)
    client = CheckedClient(authflow.Client(config=config, store=SqliteStore(path), entropy=SeededEntropy(3)))
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    app = client.create_user_pool_client(UserPoolId=pool, ClientName="a")["UserPoolClient"]["ClientId"]
    created = client.create_terms(UserPoolId=pool, ClientId=app, TermsName="privacy-policy", TermsSource="LINK",
                                  Enforcement="NONE", Links={"cognito:default": PRIVACY})["Terms"]
    again = CheckedClient(authflow.Client(config=config, store=SqliteStore(path)))
    assert again.describe_terms(UserPoolId=pool, TermsId=created["TermsId"])["Terms"] == created
    with pytest.raises(TermsExistsException):
        again.create_terms(UserPoolId=pool, ClientId=app, TermsName="privacy-policy", TermsSource="LINK",
                           Enforcement="NONE", Links={"cognito:default": PRIVACY})


def test_the_documents_go_with_their_app_client():
    pool = TermsPool()
    other = pool.client.create_user_pool_client(UserPoolId=pool.id, ClientName="b")["UserPoolClient"]["ClientId"]
    gone = pool.create()["TermsId"]
    kept = pool.create(client=other)["TermsId"]
    pool.client.delete_user_pool_client(UserPoolId=pool.id, ClientId=pool.app)
    assert [t["TermsId"] for t in pool.client.list_terms(UserPoolId=pool.id)["Terms"]] == [kept]
    with pytest.raises(ResourceNotFoundException):
        pool.client.describe_terms(UserPoolId=pool.id, TermsId=gone)
