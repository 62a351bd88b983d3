"""CreateUserPoolDomain, DescribeUserPoolDomain, UpdateUserPoolDomain and
DeleteUserPoolDomain through the Client (reference oauth2-hosted-login.md §3, §10.11-12):
prefix rules in Cognito's words, custom domains, names unique across pools (the store's
constraint as the race backstop), the shapes, what DescribeUserPool shows, and that a pool
with a domain cannot be deleted. Every refusal leaves the store exactly as it was."""

from __future__ import annotations

from datetime import timedelta

import pytest

from authflow.core import oauth_resources as core
from authflow.core.records import PoolResource
from authflow.errors import InvalidParameterException, ResourceNotFoundException
from tests.conftest import START
from tests.oauth_resources import CERT, Pool, contents
from tests.signin import Env

INVALID_PREFIX = (
    "The domain name contains an invalid character. Domain names can only contain lower-case letters, "
    "numbers, and hyphens. Please enter a different name that follows this format: "
    "^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$"
)
TAKEN = "Domain already associated with another user pool."
NO_SUCH = "No such domain or user pool exists."


def test_prefix_domain_is_created_active_and_described():
    pool = Pool()
    created = pool.client.create_user_pool_domain(UserPoolId=pool.id, Domain="my-app-login")
    assert {k: v for k, v in created.items() if k != "ResponseMetadata"} == {"ManagedLoginVersion": 1}
    described = pool.client.describe_user_pool_domain(Domain="my-app-login")["DomainDescription"]
    assert described["UserPoolId"] == pool.id
    assert described["Domain"] == "my-app-login"
    assert described["Status"] == "ACTIVE"
    assert described["AWSAccountId"] == pool.client.engine.config.account_id
    assert described["CloudFrontDistribution"].endswith(".cloudfront.net")
    assert described["Version"] == START.strftime("%Y%m%d%H%M%S")
    assert described["ManagedLoginVersion"] == 1
    assert "CustomDomainConfig" not in described
    shown = pool.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]
    assert shown["Domain"] == "my-app-login" and "CustomDomain" not in shown


def test_custom_domain_records_its_certificate_and_cloudfront_host():
    pool = Pool()
    config = {"CertificateArn": CERT, "SecurityPolicy": "TLS_V1_2_2021"}
    created = pool.client.create_user_pool_domain(UserPoolId=pool.id, Domain="auth.example.com",
                                                  CustomDomainConfig=config, ManagedLoginVersion=2)
    assert created["ManagedLoginVersion"] == 2
    assert created["CloudFrontDomain"].endswith(".cloudfront.net")
    described = pool.client.describe_user_pool_domain(Domain="auth.example.com")["DomainDescription"]
    assert described["CustomDomainConfig"] == config
    assert described["CloudFrontDistribution"] == created["CloudFrontDomain"]
    shown = pool.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]
    assert shown["CustomDomain"] == "auth.example.com" and "Domain" not in shown


def test_a_pool_may_hold_a_prefix_and_a_custom_domain_but_not_two_of_a_kind():
    pool = Pool()
    pool.client.create_user_pool_domain(UserPoolId=pool.id, Domain="first-prefix")
    pool.client.create_user_pool_domain(UserPoolId=pool.id, Domain="auth.example.com",
                                        CustomDomainConfig={"CertificateArn": CERT})
    shown = pool.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]
    assert (shown["Domain"], shown["CustomDomain"]) == ("first-prefix", "auth.example.com")
    pool.unchanged(InvalidParameterException, f"User pool {pool.id} already has a prefix domain configured.",
                   pool.client.create_user_pool_domain, UserPoolId=pool.id, Domain="second-prefix")
    pool.unchanged(InvalidParameterException, f"User pool {pool.id} already has a custom domain configured.",
                   pool.client.create_user_pool_domain, UserPoolId=pool.id, Domain="login.example.com",
                   CustomDomainConfig={"CertificateArn": CERT})


@pytest.mark.parametrize("domain", ["has.dot", "-lead", "trail-", "x" * 64])
def test_bad_prefixes_get_cognitos_message(domain):
    pool = Pool()
    if len(domain) > 63:
        pool.unchanged(InvalidParameterException,
                       f"1 validation error detected: Value '{domain}' at 'domain' failed to satisfy constraint: "
                       "Member must have length less than or equal to 63",
                       pool.client.create_user_pool_domain, UserPoolId=pool.id, Domain=domain)
        return
    pool.unchanged(InvalidParameterException, INVALID_PREFIX,
                   pool.client.create_user_pool_domain, UserPoolId=pool.id, Domain=domain)


@pytest.mark.parametrize(("domain", "word"), [("my-aws-app", "aws"), ("amazonfan", "amazon"),
                                               ("newcognito", "cognito")])
def test_reserved_words_are_refused_in_prefixes(domain, word):
    pool = Pool()
    pool.unchanged(InvalidParameterException, f"Domain cannot contain reserved word: {word}",
                   pool.client.create_user_pool_domain, UserPoolId=pool.id, Domain=domain)


def test_custom_domains_are_host_names_with_a_parent():
    pool = Pool()
    for domain in ("localonly", "auth.example.123", "auth..example.com", "auth.-example.com"):
        pool.unchanged(
            InvalidParameterException,
            f"The custom domain {domain} is not a valid domain name: a custom domain is a fully qualified host "
            "name in lower case, such as auth.example.com.",
            pool.client.create_user_pool_domain, UserPoolId=pool.id, Domain=domain,
            CustomDomainConfig={"CertificateArn": CERT},
        )
    # a reserved word is no problem in a custom domain: it is the customer's own name
    pool.client.create_user_pool_domain(UserPoolId=pool.id, Domain="auth.aws-fans.example",
                                        CustomDomainConfig={"CertificateArn": CERT})


def test_a_name_is_unique_across_pools():
    env = Env()
    first, second = Pool(env), Pool(env)
    env.client.create_user_pool_domain(UserPoolId=first.id, Domain="shared-name")
    second.unchanged(InvalidParameterException, TAKEN,
                     env.client.create_user_pool_domain, UserPoolId=second.id, Domain="shared-name")
    first.unchanged(InvalidParameterException, TAKEN,
                    env.client.create_user_pool_domain, UserPoolId=first.id, Domain="shared-name")


def test_a_racing_writer_that_took_the_name_is_refused_with_the_same_error():
    """The check saw the name free; the store's constraint stops the put."""
    env = Env()
    first, second = Pool(env), Pool(env)
    original = core.create_domain

    def create_then_lose_the_race(*args, **kwargs):
        decided = original(*args, **kwargs)
        with env.client.store.transaction() as tx:  # another writer commits first
            tx.put_resource(PoolResource(pool_id=first.id, kind="domain", name="raced", body={},
                                         created=START, modified=START))
        return decided

    before = contents(env.client)
    core.create_domain = create_then_lose_the_race
    try:
        with pytest.raises(InvalidParameterException) as raised:
            env.client.create_user_pool_domain(UserPoolId=second.id, Domain="raced")
    finally:
        core.create_domain = original
    assert raised.value.message == TAKEN
    after = contents(env.client)
    assert after["resources"][second.id] == before["resources"][second.id]
    assert after["global_names"] == {("domain", "raced"): first.id}


def test_describe_of_an_unknown_domain_is_empty():
    pool = Pool()
    assert pool.client.describe_user_pool_domain(Domain="nobody-has-it")["DomainDescription"] == {}


def test_update_changes_the_certificate_and_version_and_keeps_the_rest():
    pool = Pool()
    pool.client.create_user_pool_domain(UserPoolId=pool.id, Domain="auth.example.com",
                                        CustomDomainConfig={"CertificateArn": CERT})
    pool.env.clock.advance(timedelta(minutes=5))
    new_cert = CERT.replace("0f3e1a52", "1a2b3c4d")
    updated = pool.client.update_user_pool_domain(UserPoolId=pool.id, Domain="auth.example.com",
                                                  CustomDomainConfig={"CertificateArn": new_cert})
    assert updated["ManagedLoginVersion"] == 1 and updated["CloudFrontDomain"]
    described = pool.client.describe_user_pool_domain(Domain="auth.example.com")["DomainDescription"]
    assert described["CustomDomainConfig"] == {"CertificateArn": new_cert}
    assert described["Version"] == (START + timedelta(minutes=5)).strftime("%Y%m%d%H%M%S")
    pool.client.update_user_pool_domain(UserPoolId=pool.id, Domain="auth.example.com", ManagedLoginVersion=2)
    described = pool.client.describe_user_pool_domain(Domain="auth.example.com")["DomainDescription"]
    assert described["ManagedLoginVersion"] == 2 and described["CustomDomainConfig"] == {"CertificateArn": new_cert}


def test_update_refusals():
    env = Env()
    pool, other = Pool(env), Pool(env)
    env.client.create_user_pool_domain(UserPoolId=pool.id, Domain="my-prefix")
    pool.unchanged(InvalidParameterException,
                   "CustomDomainConfig applies only to a custom domain; a prefix domain has no certificate.",
                   env.client.update_user_pool_domain, UserPoolId=pool.id, Domain="my-prefix",
                   CustomDomainConfig={"CertificateArn": CERT})
    pool.unchanged(InvalidParameterException,
                   "ManagedLoginVersion must be 1 (the classic hosted UI) or 2 (managed login).",
                   env.client.update_user_pool_domain, UserPoolId=pool.id, Domain="my-prefix", ManagedLoginVersion=3)
    other.unchanged(InvalidParameterException, NO_SUCH,
                    env.client.update_user_pool_domain, UserPoolId=other.id, Domain="my-prefix")
    pool.unchanged(InvalidParameterException, NO_SUCH,
                   env.client.update_user_pool_domain, UserPoolId=pool.id, Domain="not-there")


def test_delete_frees_the_name_and_refuses_other_pools():
    env = Env()
    pool, other = Pool(env), Pool(env)
    env.client.create_user_pool_domain(UserPoolId=pool.id, Domain="my-prefix")
    other.unchanged(InvalidParameterException, NO_SUCH,
                    env.client.delete_user_pool_domain, UserPoolId=other.id, Domain="my-prefix")
    env.client.delete_user_pool_domain(UserPoolId=pool.id, Domain="my-prefix")
    assert env.client.describe_user_pool_domain(Domain="my-prefix")["DomainDescription"] == {}
    assert "Domain" not in env.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]
    pool.unchanged(InvalidParameterException, NO_SUCH,
                   env.client.delete_user_pool_domain, UserPoolId=pool.id, Domain="my-prefix")
    env.client.create_user_pool_domain(UserPoolId=other.id, Domain="my-prefix")  # free again


def test_a_pool_with_a_domain_cannot_be_deleted_until_the_domain_is():
    pool = Pool()
    pool.client.create_user_pool_domain(UserPoolId=pool.id, Domain="my-prefix")
    pool.unchanged(InvalidParameterException,
                   "User pool cannot be deleted. It has a domain configured that should be deleted first.",
                   pool.client.delete_user_pool, UserPoolId=pool.id)
    pool.client.delete_user_pool_domain(UserPoolId=pool.id, Domain="my-prefix")
    pool.client.delete_user_pool(UserPoolId=pool.id)


def test_unknown_pool():
    pool = Pool()
    for call in (pool.client.create_user_pool_domain, pool.client.update_user_pool_domain,
                 pool.client.delete_user_pool_domain):
        pool.unchanged(ResourceNotFoundException, "User pool us-east-1_nothere1 does not exist.",
                       call, UserPoolId="us-east-1_nothere1", Domain="my-prefix")
