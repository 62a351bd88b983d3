"""TagResource, UntagResource, ListTagsForResource; GetSigningCertificate; SetRiskConfiguration,
DescribeRiskConfiguration; SetLogDeliveryConfiguration, GetLogDeliveryConfiguration, through the
Client: shapes, Cognito's errors, tags agreeing with UserPoolTags, the certificate made once and
kept, risk configurations per pool and per client, log delivery rules per event source. Every
refusal leaves the store exactly as it was; the settings survive a SQLite store being reopened
(and a PostgreSQL one, when AUTHFLOW_TEST_PG_DSN names a server) and go with the pool."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy
from authflow.core import pool_settings as settings
from authflow.crypto.keys import TEST_KEYS, private_key
from authflow.crypto.sealing import Keyring
from authflow.errors import (
    FeatureUnavailableInTierException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from authflow.service.pool_settings import signing_certificate_key
from tests.conftest import START, TEST_CONFIG, make_client
from tests.helpers import store_contents
from tests.oauth_resources import Pool

LOG_GROUP = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/vendedlogs/cognito"
STREAM = "arn:aws:firehose:us-east-1:000000000000:deliverystream/cognito-events"
BUCKET = "arn:aws:s3:::cognito-event-logs"
SES = "arn:aws:ses:us-east-1:000000000000:identity/security@example.com"
NOTIFY = {
    "From": "security@example.com", "SourceArn": SES,
    "BlockEmail": {"Subject": "Blocked sign-in", "TextBody": "We blocked a sign-in to your account."},
}
TAKEOVER = {"Actions": {"HighAction": {"EventAction": "BLOCK", "Notify": False},
                        "MediumAction": {"EventAction": "MFA_IF_CONFIGURED", "Notify": False}}}
COMPROMISED = {"EventFilter": ["SIGN_IN"], "Actions": {"EventAction": "BLOCK"}}
EXCEPTIONS = {"BlockedIPRangeList": ["192.0.2.0/24"], "SkippedIPRangeList": ["2001:db8::/32"]}
NOTIFICATION_LOGS = {"LogLevel": "ERROR", "EventSource": "userNotification",
                     "CloudWatchLogsConfiguration": {"LogGroupArn": LOG_GROUP}}


def arn_of(pool: Pool) -> str:
    return pool.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]["Arn"]


def tags(pool: Pool) -> dict:
    return pool.client.list_tags_for_resource(ResourceArn=arn_of(pool))["Tags"]


# -- tags ------------------------------------------------------------------------------------


def test_tags_merge_and_agree_with_user_pool_tags():
    pool = Pool(UserPoolTags={"team": "auth"})
    assert tags(pool) == {"team": "auth"}
    pool.client.tag_resource(ResourceArn=arn_of(pool), Tags={"stage": "test", "team": "identity"})
    assert tags(pool) == {"team": "identity", "stage": "test"}
    described = pool.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]
    assert described["UserPoolTags"] == {"team": "identity", "stage": "test"}


def test_untag_removes_the_keys_named_and_ignores_absent_ones():
    pool = Pool(UserPoolTags={"team": "auth", "stage": "test"})
    pool.client.untag_resource(ResourceArn=arn_of(pool), TagKeys=["stage", "never-set"])
    assert tags(pool) == {"team": "auth"}
    assert pool.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]["UserPoolTags"] == {"team": "auth"}


def test_update_user_pool_tags_are_what_list_tags_shows():
    pool = Pool()
    pool.client.tag_resource(ResourceArn=arn_of(pool), Tags={"a": "1"})
    pool.client.update_user_pool(UserPoolId=pool.id, UserPoolTags={"b": "2"})
    assert tags(pool) == {"b": "2"}


def test_tagging_leaves_last_modified_date_alone():
    pool = Pool()
    before = pool.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]["LastModifiedDate"]
    pool.env.clock.advance(timedelta(minutes=5))
    pool.client.tag_resource(ResourceArn=arn_of(pool), Tags={"a": "1"})
    assert pool.client.describe_user_pool(UserPoolId=pool.id)["UserPool"]["LastModifiedDate"] == before


@pytest.mark.parametrize("arn", [
    "arn:aws:sqs:us-east-1:000000000000:queue-with-a-long-name",
    "arn:aws:cognito-identity:us-east-1:000000000000:userpool/us-east-1_abc",
    "arn:aws:cognito-idp:us-east-1:000000000000:identitypool/us-east-1_abc",
    "arn:aws:cognito-idp:us-east-1:000000000000:userpool/",
])
def test_an_arn_that_names_no_user_pool_is_invalid(arn):
    pool = Pool()
    message = f"{arn} is not the ARN of a user pool: arn:aws:cognito-idp:<region>:<account id>:userpool/<user pool id>."
    pool.unchanged(InvalidParameterException, message, pool.client.tag_resource, ResourceArn=arn, Tags={"a": "1"})
    pool.unchanged(InvalidParameterException, message, pool.client.untag_resource, ResourceArn=arn, TagKeys=["a"])
    pool.unchanged(InvalidParameterException, message, pool.client.list_tags_for_resource, ResourceArn=arn)


def test_a_user_pool_arn_of_no_pool_here_is_not_found():
    pool = Pool()
    arn = arn_of(pool)
    for other in (arn.replace(pool.id, "us-east-1_nothere1"), arn.replace(":us-east-1:", ":eu-west-1:", 1),
                  arn.replace(":000000000000:", ":111111111111:")):
        message = f"User pool {other} does not exist."
        pool.unchanged(ResourceNotFoundException, message, pool.client.tag_resource, ResourceArn=other,
                       Tags={"a": "1"})
        pool.unchanged(ResourceNotFoundException, message, pool.client.untag_resource, ResourceArn=other,
                       TagKeys=["a"])
        pool.unchanged(ResourceNotFoundException, message, pool.client.list_tags_for_resource, ResourceArn=other)


def test_a_pool_carries_at_most_50_tags():
    pool = Pool()
    pool.client.tag_resource(ResourceArn=arn_of(pool), Tags={f"k{i}": "v" for i in range(50)})
    pool.client.tag_resource(ResourceArn=arn_of(pool), Tags={"k0": "again"})  # a replacement adds none
    pool.unchanged(InvalidParameterException, "A user pool can have at most 50 tags; this request would give it 51.",
                   pool.client.tag_resource, ResourceArn=arn_of(pool), Tags={"one-more": "v"})
    assert len(tags(pool)) == 50


def test_the_aws_prefix_is_reserved():
    pool = Pool()
    pool.unchanged(InvalidParameterException, "Tag keys may not start with the reserved prefix aws:: aws:owner.",
                   pool.client.tag_resource, ResourceArn=arn_of(pool), Tags={"aws:owner": "me"})


def test_key_and_value_lengths_are_the_models():
    pool = Pool()
    with pytest.raises(InvalidParameterException):
        pool.client.tag_resource(ResourceArn=arn_of(pool), Tags={"k" * 129: "v"})
    with pytest.raises(InvalidParameterException):
        pool.client.tag_resource(ResourceArn=arn_of(pool), Tags={"k": "v" * 257})
    pool.client.tag_resource(ResourceArn=arn_of(pool), Tags={"k" * 128: "v" * 256, "empty": ""})
    assert tags(pool) == {"k" * 128: "v" * 256, "empty": ""}


# -- signing certificate ---------------------------------------------------------------------


def certificate(pool: Pool) -> x509.Certificate:
    text = pool.client.get_signing_certificate(UserPoolId=pool.id)["Certificate"]
    return x509.load_der_x509_certificate(base64.b64decode(text, validate=True))


def test_the_signing_certificate_is_self_signed_for_ten_years_and_stable():
    pool = Pool()
    first = certificate(pool)
    assert first.subject == first.issuer
    assert first.subject.rfc4514_string() == f"CN={pool.id}"
    assert first.not_valid_before_utc == START
    assert first.not_valid_after_utc == START + timedelta(days=3650)
    first.verify_directly_issued_by(first)
    pool.env.clock.advance(timedelta(days=400))
    assert certificate(pool) == first


def test_the_certificates_key_is_sealed_and_opens_to_its_public_key():
    pool = Pool()
    cert = certificate(pool)
    resource = pool.client.store.snapshot().auth[pool.id].resources[(settings.SIGNING_CERTIFICATE, settings.CURRENT)]
    key = private_key(signing_certificate_key(pool.client.engine, resource))
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, public) == cert.public_key().public_bytes(
        serialization.Encoding.DER, public)
    plain = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    assert plain not in base64.b64decode(resource.body["SealedKey"])
    assert set(resource.body) == {"Certificate", "SealedKey"}


def test_each_pool_has_its_own_certificate():
    env_pool = Pool()
    other = env_pool.client.create_user_pool(PoolName="other")["UserPool"]["Id"]
    mine = env_pool.client.get_signing_certificate(UserPoolId=env_pool.id)["Certificate"]
    theirs = env_pool.client.get_signing_certificate(UserPoolId=other)["Certificate"]
    assert mine != theirs


def test_the_same_seed_clock_and_key_give_the_same_certificate():
    key = TEST_KEYS()
    config = dataclasses.replace(TEST_CONFIG, signing_keys=lambda: key)
    made = []
    for _ in range(2):
        client = make_client(7, config=config)
        pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
        made.append(client.get_signing_certificate(UserPoolId=pool)["Certificate"])
    assert made[0] == made[1]


def test_no_certificate_for_an_unknown_pool():
    pool = Pool()
    pool.unchanged(ResourceNotFoundException, "User pool us-east-1_nothere1 does not exist.",
                   pool.client.get_signing_certificate, UserPoolId="us-east-1_nothere1")


# -- risk configuration ----------------------------------------------------------------------


def test_a_pool_without_risk_configuration_shows_its_id_alone():
    pool = Pool()
    app = pool.env.app_id(pool.id)
    assert pool.client.describe_risk_configuration(UserPoolId=pool.id)["RiskConfiguration"] == {"UserPoolId": pool.id}
    described = pool.client.describe_risk_configuration(UserPoolId=pool.id, ClientId=app)["RiskConfiguration"]
    assert described == {"UserPoolId": pool.id}


def test_pool_level_configuration_applies_to_clients_without_their_own():
    pool = Pool()
    app = pool.env.app_id(pool.id)
    set_ = pool.client.set_risk_configuration(
        UserPoolId=pool.id, CompromisedCredentialsRiskConfiguration=COMPROMISED,
        AccountTakeoverRiskConfiguration=TAKEOVER, RiskExceptionConfiguration=EXCEPTIONS)["RiskConfiguration"]
    expected = {"UserPoolId": pool.id, "CompromisedCredentialsRiskConfiguration": COMPROMISED,
                "AccountTakeoverRiskConfiguration": TAKEOVER, "RiskExceptionConfiguration": EXCEPTIONS,
                "LastModifiedDate": START}
    assert set_ == expected
    assert pool.client.describe_risk_configuration(UserPoolId=pool.id)["RiskConfiguration"] == expected
    assert pool.client.describe_risk_configuration(UserPoolId=pool.id, ClientId=app)["RiskConfiguration"] == expected


def test_a_clients_configuration_overrides_the_pools_until_reset():
    pool = Pool()
    app = pool.env.app_id(pool.id)
    pool.client.set_risk_configuration(UserPoolId=pool.id, RiskExceptionConfiguration=EXCEPTIONS)
    pool.env.clock.advance(timedelta(minutes=1))
    own = pool.client.set_risk_configuration(UserPoolId=pool.id, ClientId=app,
                                             AccountTakeoverRiskConfiguration=TAKEOVER)["RiskConfiguration"]
    assert own == {"UserPoolId": pool.id, "ClientId": app, "AccountTakeoverRiskConfiguration": TAKEOVER,
                   "LastModifiedDate": START + timedelta(minutes=1)}
    assert pool.client.describe_risk_configuration(UserPoolId=pool.id, ClientId=app)["RiskConfiguration"] == own
    pool_level = pool.client.describe_risk_configuration(UserPoolId=pool.id)["RiskConfiguration"]
    assert pool_level["RiskExceptionConfiguration"] == EXCEPTIONS and "ClientId" not in pool_level

    reset = pool.client.set_risk_configuration(UserPoolId=pool.id, ClientId=app)["RiskConfiguration"]
    assert reset == {"UserPoolId": pool.id, "ClientId": app, "LastModifiedDate": START + timedelta(minutes=1)}
    assert pool.client.describe_risk_configuration(UserPoolId=pool.id, ClientId=app)["RiskConfiguration"] == pool_level
    pool.client.set_risk_configuration(UserPoolId=pool.id)
    assert pool.client.describe_risk_configuration(UserPoolId=pool.id)["RiskConfiguration"] == {"UserPoolId": pool.id}


def test_set_replaces_the_whole_configuration_and_dates_it():
    pool = Pool()
    pool.client.set_risk_configuration(UserPoolId=pool.id, RiskExceptionConfiguration=EXCEPTIONS)
    pool.env.clock.advance(timedelta(hours=1))
    pool.client.set_risk_configuration(UserPoolId=pool.id, CompromisedCredentialsRiskConfiguration=COMPROMISED)
    described = pool.client.describe_risk_configuration(UserPoolId=pool.id)["RiskConfiguration"]
    assert described == {"UserPoolId": pool.id, "CompromisedCredentialsRiskConfiguration": COMPROMISED,
                         "LastModifiedDate": START + timedelta(hours=1)}


def test_event_filter_defaults_to_every_event():
    pool = Pool()
    set_ = pool.client.set_risk_configuration(
        UserPoolId=pool.id, CompromisedCredentialsRiskConfiguration={"Actions": {"EventAction": "NO_ACTION"}})
    assert set_["RiskConfiguration"]["CompromisedCredentialsRiskConfiguration"] == {
        "EventFilter": ["SIGN_IN", "PASSWORD_CHANGE", "SIGN_UP"], "Actions": {"EventAction": "NO_ACTION"}}


def test_notifying_takes_a_notify_configuration_with_an_ses_identity():
    pool = Pool()
    notifying = {"Actions": {"HighAction": {"EventAction": "BLOCK", "Notify": True}}}
    pool.unchanged(
        InvalidParameterException,
        "AccountTakeoverRiskConfiguration.Actions.HighAction notifies the user, so AccountTakeoverRiskConfiguration "
        "needs a NotifyConfiguration (SourceArn and the emails).",
        pool.client.set_risk_configuration, UserPoolId=pool.id, AccountTakeoverRiskConfiguration=notifying)
    not_ses = {**NOTIFY, "SourceArn": "arn:aws:sns:us-east-1:000000000000:topic"}
    pool.unchanged(
        InvalidParameterException,
        "NotifyConfiguration.SourceArn arn:aws:sns:us-east-1:000000000000:topic is not the ARN of an Amazon SES "
        "identity (arn:aws:ses:<region>:<account id>:identity/<address or domain>).",
        pool.client.set_risk_configuration, UserPoolId=pool.id,
        AccountTakeoverRiskConfiguration={**notifying, "NotifyConfiguration": not_ses})
    done = pool.client.set_risk_configuration(
        UserPoolId=pool.id, AccountTakeoverRiskConfiguration={**notifying, "NotifyConfiguration": NOTIFY})
    assert done["RiskConfiguration"]["AccountTakeoverRiskConfiguration"]["NotifyConfiguration"] == NOTIFY


def test_a_notify_configuration_needs_its_source_arn():
    pool = Pool()
    without = {k: v for k, v in NOTIFY.items() if k != "SourceArn"}
    with pytest.raises(InvalidParameterException):
        pool.client.set_risk_configuration(UserPoolId=pool.id,
                                           AccountTakeoverRiskConfiguration={**TAKEOVER, "NotifyConfiguration": without})


@pytest.mark.parametrize("value", ["192.0.2.1", "192.0.2.0/33", "not-an-ip/8", "2001:db8::/129"])
def test_ip_ranges_are_cidr(value):
    pool = Pool()
    pool.client.set_risk_configuration(UserPoolId=pool.id, RiskExceptionConfiguration=EXCEPTIONS)
    pool.unchanged(
        InvalidParameterException,
        f"RiskExceptionConfiguration.SkippedIPRangeList holds {value!r}, which is not an IP address range in CIDR "
        "notation (such as 192.0.2.0/24).",
        pool.client.set_risk_configuration, UserPoolId=pool.id,
        RiskExceptionConfiguration={"BlockedIPRangeList": ["198.51.100.7/32"], "SkippedIPRangeList": [value]})


def test_risk_configuration_of_an_unknown_client_or_pool_is_not_found():
    pool = Pool()
    other = pool.client.create_user_pool(PoolName="other")["UserPool"]["Id"]
    elsewhere = pool.env.app_id(other)
    for client_id in ("nosuchclient", elsewhere):
        message = f"User pool client {client_id} does not exist."
        pool.unchanged(ResourceNotFoundException, message, pool.client.set_risk_configuration, UserPoolId=pool.id,
                       ClientId=client_id, RiskExceptionConfiguration=EXCEPTIONS)
        pool.unchanged(ResourceNotFoundException, message, pool.client.describe_risk_configuration,
                       UserPoolId=pool.id, ClientId=client_id)
    message = "User pool us-east-1_nothere1 does not exist."
    pool.unchanged(ResourceNotFoundException, message, pool.client.set_risk_configuration,
                   UserPoolId="us-east-1_nothere1", RiskExceptionConfiguration=EXCEPTIONS)
    pool.unchanged(ResourceNotFoundException, message, pool.client.describe_risk_configuration,
                   UserPoolId="us-east-1_nothere1")


# -- log delivery ----------------------------------------------------------------------------


def test_log_delivery_is_empty_until_set_and_replaced_as_a_whole():
    pool = Pool(UserPoolTier="PLUS")
    got = pool.client.get_log_delivery_configuration(UserPoolId=pool.id)
    assert got["LogDeliveryConfiguration"] == {"UserPoolId": pool.id, "LogConfigurations": []}
    both = [NOTIFICATION_LOGS, {"LogLevel": "INFO", "EventSource": "userAuthEvents",
                                "FirehoseConfiguration": {"StreamArn": STREAM}}]
    set_ = pool.client.set_log_delivery_configuration(UserPoolId=pool.id, LogConfigurations=both)
    assert set_["LogDeliveryConfiguration"] == {"UserPoolId": pool.id, "LogConfigurations": both}
    got = pool.client.get_log_delivery_configuration(UserPoolId=pool.id)
    assert got["LogDeliveryConfiguration"]["LogConfigurations"] == both
    s3 = [{"LogLevel": "INFO", "EventSource": "userAuthEvents", "S3Configuration": {"BucketArn": BUCKET}}]
    pool.client.set_log_delivery_configuration(UserPoolId=pool.id, LogConfigurations=s3)
    assert pool.client.get_log_delivery_configuration(UserPoolId=pool.id)["LogDeliveryConfiguration"][
        "LogConfigurations"] == s3
    pool.client.set_log_delivery_configuration(UserPoolId=pool.id, LogConfigurations=[])
    assert pool.client.get_log_delivery_configuration(UserPoolId=pool.id)["LogDeliveryConfiguration"][
        "LogConfigurations"] == []


def test_notification_logs_need_no_plus_plan_but_auth_events_do():
    pool = Pool()
    pool.client.set_log_delivery_configuration(UserPoolId=pool.id, LogConfigurations=[NOTIFICATION_LOGS])
    auth_events = {"LogLevel": "INFO", "EventSource": "userAuthEvents", "S3Configuration": {"BucketArn": BUCKET}}
    pool.unchanged(
        FeatureUnavailableInTierException,
        "Logs of EventSource userAuthEvents need the Plus feature plan; this user pool's UserPoolTier is ESSENTIALS.",
        pool.client.set_log_delivery_configuration, UserPoolId=pool.id,
        LogConfigurations=[NOTIFICATION_LOGS, auth_events])


@pytest.mark.parametrize(("configuration", "message"), [
    ({**NOTIFICATION_LOGS, "LogLevel": "INFO"}, "EventSource userNotification sends ERROR logs only, not LogLevel INFO."),
    ({"LogLevel": "ERROR", "EventSource": "userNotification"},
     "A log configuration names exactly one destination (CloudWatchLogsConfiguration for userNotification); "
     "this one names 0."),
    ({**NOTIFICATION_LOGS, "S3Configuration": {"BucketArn": BUCKET}},
     "A log configuration names exactly one destination (CloudWatchLogsConfiguration for userNotification); "
     "this one names 2."),
    ({"LogLevel": "ERROR", "EventSource": "userNotification", "S3Configuration": {"BucketArn": BUCKET}},
     "EventSource userNotification can be delivered only to CloudWatchLogsConfiguration, not S3Configuration."),
    ({**NOTIFICATION_LOGS, "CloudWatchLogsConfiguration": {"LogGroupArn": STREAM}},
     f"CloudWatchLogsConfiguration.LogGroupArn {STREAM} is not the ARN of a CloudWatchLogs destination."),
    ({**NOTIFICATION_LOGS, "CloudWatchLogsConfiguration": {}},
     "CloudWatchLogsConfiguration.LogGroupArn None is not the ARN of a CloudWatchLogs destination."),
    ({**NOTIFICATION_LOGS,
      "CloudWatchLogsConfiguration": {"LogGroupArn": LOG_GROUP.replace("000000000000", "111111111111")}},
     f"CloudWatchLogsConfiguration.LogGroupArn {LOG_GROUP.replace('000000000000', '111111111111')} belongs to "
     "another AWS account: logs go to the user pool's own account (000000000000)."),
    ({"LogLevel": "INFO", "EventSource": "userAuthEvents", "FirehoseConfiguration": {"StreamArn": LOG_GROUP}},
     f"FirehoseConfiguration.StreamArn {LOG_GROUP} is not the ARN of a Firehose destination."),
])
def test_log_configurations_are_checked(configuration, message):
    pool = Pool(UserPoolTier="PLUS")
    pool.client.set_log_delivery_configuration(UserPoolId=pool.id, LogConfigurations=[NOTIFICATION_LOGS])
    pool.unchanged(InvalidParameterException, message, pool.client.set_log_delivery_configuration,
                   UserPoolId=pool.id, LogConfigurations=[configuration])


def test_one_configuration_per_event_source():
    pool = Pool()
    pool.unchanged(InvalidParameterException,
                   "LogConfigurations may hold one configuration per EventSource: userNotification is given twice.",
                   pool.client.set_log_delivery_configuration, UserPoolId=pool.id,
                   LogConfigurations=[NOTIFICATION_LOGS, NOTIFICATION_LOGS])


def test_log_delivery_of_an_unknown_pool_is_not_found():
    pool = Pool()
    message = "User pool us-east-1_nothere1 does not exist."
    pool.unchanged(ResourceNotFoundException, message, pool.client.get_log_delivery_configuration,
                   UserPoolId="us-east-1_nothere1")
    pool.unchanged(ResourceNotFoundException, message, pool.client.set_log_delivery_configuration,
                   UserPoolId="us-east-1_nothere1", LogConfigurations=[NOTIFICATION_LOGS])


# -- persistence -----------------------------------------------------------------------------

KEK = Keyring(bytes(range(32)))


def durable_client(store) -> authflow.Client:
    config = dataclasses.replace(TEST_CONFIG, kek=KEK)
    return authflow.Client(store=store, clock=ManualClock(START), entropy=SeededEntropy(3),
                           messenger=MemoryOutbox(), config=config)


def write_every_setting(client) -> tuple[str, str, dict]:
    pool = client.create_user_pool(PoolName="durable", UserPoolTier="PLUS")["UserPool"]
    app = client.create_user_pool_client(UserPoolId=pool["Id"], ClientName="app")["UserPoolClient"]["ClientId"]
    client.tag_resource(ResourceArn=pool["Arn"], Tags={"team": "auth"})
    client.set_risk_configuration(UserPoolId=pool["Id"], RiskExceptionConfiguration=EXCEPTIONS)
    client.set_risk_configuration(UserPoolId=pool["Id"], ClientId=app, AccountTakeoverRiskConfiguration=TAKEOVER)
    client.set_log_delivery_configuration(UserPoolId=pool["Id"], LogConfigurations=[NOTIFICATION_LOGS])
    return pool["Id"], app, read_every_setting(client, pool["Id"], app, pool["Arn"])


def read_every_setting(client, pool_id: str, app: str, arn: str) -> dict:
    def strip(response: dict) -> dict:
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    return {
        "tags": strip(client.list_tags_for_resource(ResourceArn=arn)),
        "certificate": strip(client.get_signing_certificate(UserPoolId=pool_id)),
        "pool_risk": strip(client.describe_risk_configuration(UserPoolId=pool_id)),
        "client_risk": strip(client.describe_risk_configuration(UserPoolId=pool_id, ClientId=app)),
        "logs": strip(client.get_log_delivery_configuration(UserPoolId=pool_id)),
    }


def check_round_trip(open_store) -> None:
    first = durable_client(open_store())
    pool_id, app, written = write_every_setting(first)
    arn = first.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Arn"]
    first.store.close()

    again = durable_client(open_store())  # another engine over the same data: a restart
    assert read_every_setting(again, pool_id, app, arn) == written
    before = store_contents(again.store)
    with pytest.raises(InvalidParameterException):
        again.set_risk_configuration(UserPoolId=pool_id, RiskExceptionConfiguration={"BlockedIPRangeList": ["x"]})
    assert store_contents(again.store) == before

    again.delete_user_pool(UserPoolId=pool_id)
    with again.store.transaction() as tx:
        for kind in (settings.SIGNING_CERTIFICATE, settings.RISK_CONFIGURATION, settings.LOG_DELIVERY):
            assert tx.list_resources(pool_id, kind, after=None, limit=10) == []
    with pytest.raises(ResourceNotFoundException):
        again.get_signing_certificate(UserPoolId=pool_id)
    again.store.close()


def test_settings_survive_a_durable_store_reopened_and_go_with_the_pool(reopenable_store):
    check_round_trip(reopenable_store)
