"""The pure passkey rules of `authflow.core.webauthn`: which origins a relying party accepts,
and which RP ID a pool has. Table tests: each row is a decision docs/semantics.md states."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from authflow.core import webauthn as core
from authflow.core.records import PoolResource, UserPool
from authflow.errors import WebAuthnConfigurationMissingException, WebAuthnOriginNotAllowedException

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("origin, rp_id, allowed", [
    ("https://example.com", "example.com", True),
    ("https://login.example.com", "example.com", True),
    ("https://a.b.example.com:8443", "example.com", True),
    ("https://EXAMPLE.com", "example.com", True),  # hosts compare without case
    ("https://example.com", "Example.COM", True),
    ("http://example.com", "example.com", False),  # http only for localhost
    ("https://badexample.com", "example.com", False),  # a suffix is not a subdomain
    ("https://example.com.evil.com", "example.com", False),
    ("https://com", "example.com", False),  # a parent is not the RP
    ("https://example.com/", "example.com", False),  # an origin has no path
    ("https://example.com:0", "example.com", False),
    ("https://example.com:65536", "example.com", False),
    ("https://user@example.com", "example.com", False),
    ("wss://example.com", "example.com", False),
    ("null", "example.com", False),
    ("", "example.com", False),
    ("http://localhost", "localhost", True),
    ("http://localhost:5173", "localhost", True),
    ("https://localhost:5173", "localhost", True),
    ("http://app.localhost:3000", "localhost", True),
    ("http://app.localhost:3000", "app.localhost", True),
    ("http://localhost:3000", "app.localhost", False),  # the RP's parent again
    ("http://localhost.example.com", "localhost.example.com", False),
    ("http://127.0.0.1:3000", "127.0.0.1", False),
])
def test_origin_rule(origin, rp_id, allowed):
    assert core.origin_allowed(origin, rp_id) is allowed
    if allowed:
        assert core.check_origin(origin, rp_id) == origin
    else:
        with pytest.raises(WebAuthnOriginNotAllowedException):
            core.check_origin(origin, rp_id)


def _pool(**config) -> UserPool:
    return UserPool(id="us-east-1_abc", arn="arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc",
                    config=config, created=NOW, modified=NOW, secret=b"")


def _domain(name: str) -> PoolResource:
    return PoolResource(pool_id="us-east-1_abc", kind="domain", name=name, body={}, created=NOW, modified=NOW)


@pytest.mark.parametrize("config, domains, rp_id", [
    ({"WebAuthnConfiguration": {"RelyingPartyId": "Example.com"}}, ["auth.other.org"], "example.com"),
    ({"WebAuthnConfiguration": {"UserVerification": "required"}}, ["auth.other.org", "pfx"], "auth.other.org"),
    ({}, ["pfx"], "pfx.auth.eu-west-1.amazoncognito.com"),
])
def test_relying_party_id(config, domains, rp_id):
    assert core.relying_party_id(_pool(**config), [_domain(d) for d in domains], "eu-west-1") == rp_id


def test_no_relying_party():
    with pytest.raises(WebAuthnConfigurationMissingException):
        core.relying_party_id(_pool(), [], "eu-west-1")


@pytest.mark.parametrize("config, expected", [
    ({}, "preferred"),
    ({"WebAuthnConfiguration": {"UserVerification": "preferred"}}, "preferred"),
    ({"WebAuthnConfiguration": {"UserVerification": "required"}}, "required"),
])
def test_user_verification(config, expected):
    assert core.user_verification(_pool(**config)) == expected
