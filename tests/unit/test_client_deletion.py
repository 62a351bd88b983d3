"""DeleteUserPoolClient takes the client's own settings with it: its risk configuration,
its UI customization and its managed-login style, so a later client of the same pool
inherits the pool's settings and nothing of the deleted one is left stored."""

from __future__ import annotations

import base64

import authflow
from tests.conftest import TEST_CONFIG

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def kinds(client, pool_id):
    with client.engine.store.transaction() as tx:
        return sorted((kind, r.name) for kind in ("risk_configuration", "ui_customization",
                                                  "managed_login_branding", "managed_login_branding_client")
                      for r in tx.list_resources(pool_id, kind, after=None, limit=100))


def test_a_deleted_client_leaves_no_settings_behind():
    client = authflow.Client(config=TEST_CONFIG)
    pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
    client.create_user_pool_domain(UserPoolId=pool, Domain="client-deletion-test")
    keep = client.create_user_pool_client(UserPoolId=pool, ClientName="keep")["UserPoolClient"]["ClientId"]
    gone = client.create_user_pool_client(UserPoolId=pool, ClientName="gone")["UserPoolClient"]["ClientId"]
    for app in (keep, gone):
        client.set_risk_configuration(UserPoolId=pool, ClientId=app,
                                      RiskExceptionConfiguration={"BlockedIPRangeList": ["10.0.0.0/8"]})
        client.set_ui_customization(UserPoolId=pool, ClientId=app, CSS=".banner-customizable {padding: 5px;}",
                                    ImageFile=PNG)
        client.create_managed_login_branding(UserPoolId=pool, ClientId=app, UseCognitoProvidedValues=True)
    client.set_risk_configuration(UserPoolId=pool, RiskExceptionConfiguration={"SkippedIPRangeList": ["10.0.0.0/8"]})
    before = kinds(client, pool)
    assert sum(1 for _, name in before if name == gone) == 3  # risk, UI customization, style pointer

    client.delete_user_pool_client(UserPoolId=pool, ClientId=gone)

    after = kinds(client, pool)
    assert not [entry for entry in after if entry[1] == gone]
    assert len(before) - len(after) == 4  # the three above and the style itself
    styles = [name for kind, name in after if kind == "managed_login_branding"]
    assert len(styles) == 1  # the kept client's
    assert client.describe_managed_login_branding_by_client(UserPoolId=pool, ClientId=keep)[
        "ManagedLoginBranding"]["ManagedLoginBrandingId"] == styles[0]
    assert client.describe_risk_configuration(UserPoolId=pool, ClientId=keep)["RiskConfiguration"]["ClientId"] == keep
    client.delete_user_pool_domain(UserPoolId=pool, Domain="client-deletion-test")
