"""Tags, the signing certificate, risk configurations and log delivery over HTTP: boto3 against
`authflow serve`. The same operations as tests/unit/test_tags_and_pool_settings.py, spoken over
the JSON protocol with SigV4: the ARN boto3 got from DescribeUserPool tags the pool, the
certificate decodes as X.509, timestamps come back as datetimes, and Cognito's errors arrive with
HTTP 400 and leave the store unchanged."""

from __future__ import annotations

import base64
from datetime import datetime

from cryptography import x509

from tests.http import serving
from tests.oauth_resources import contents
from tests.oauth_resources import refused_over_http as refused

BUCKET = "arn:aws:s3:::cognito-event-logs"
LOG_GROUP = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/vendedlogs/cognito"


def test_pool_settings_over_http():
    with serving() as server:
        cognito = server.boto3()
        pool = cognito.create_user_pool(PoolName="http-settings", UserPoolTags={"team": "auth"})["UserPool"]
        pool_id, arn = pool["Id"], pool["Arn"]
        app = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="web")["UserPoolClient"]["ClientId"]

        # tags by the ARN DescribeUserPool gave, the same map as UserPoolTags
        cognito.tag_resource(ResourceArn=arn, Tags={"stage": "test"})
        cognito.untag_resource(ResourceArn=arn, TagKeys=["team"])
        assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"stage": "test"}
        assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["UserPoolTags"] == {"stage": "test"}
        other = arn.replace(":us-east-1:", ":eu-west-1:", 1)
        refused(server, cognito.tag_resource, "ResourceNotFoundException", f"User pool {other} does not exist.",
                ResourceArn=other, Tags={"a": "1"})
        queue = "arn:aws:sqs:us-east-1:000000000000:queue-with-a-long-name"
        refused(server, cognito.list_tags_for_resource, "InvalidParameterException",
                f"{queue} is not the ARN of a user pool: arn:aws:cognito-idp:<region>:<account id>:userpool/"
                "<user pool id>.", ResourceArn=queue)

        # the signing certificate: X.509, named for the pool, the same each time
        text = cognito.get_signing_certificate(UserPoolId=pool_id)["Certificate"]
        cert = x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
        assert cert.subject.rfc4514_string() == f"CN={pool_id}"
        assert cognito.get_signing_certificate(UserPoolId=pool_id)["Certificate"] == text

        # risk configuration: the pool's, a client's own, the client reset to the pool's
        pool_level = cognito.set_risk_configuration(
            UserPoolId=pool_id, RiskExceptionConfiguration={"BlockedIPRangeList": ["192.0.2.0/24"]},
        )["RiskConfiguration"]
        assert isinstance(pool_level["LastModifiedDate"], datetime)
        assert "ClientId" not in pool_level
        own = cognito.set_risk_configuration(
            UserPoolId=pool_id, ClientId=app,
            CompromisedCredentialsRiskConfiguration={"Actions": {"EventAction": "BLOCK"}},
        )["RiskConfiguration"]
        assert own["ClientId"] == app
        assert own["CompromisedCredentialsRiskConfiguration"]["EventFilter"] == ["SIGN_IN", "PASSWORD_CHANGE",
                                                                                  "SIGN_UP"]
        assert cognito.describe_risk_configuration(UserPoolId=pool_id, ClientId=app)["RiskConfiguration"] == own
        cognito.set_risk_configuration(UserPoolId=pool_id, ClientId=app)
        assert cognito.describe_risk_configuration(UserPoolId=pool_id, ClientId=app)["RiskConfiguration"] == pool_level
        refused(server, cognito.set_risk_configuration, "InvalidParameterException",
                "RiskExceptionConfiguration.BlockedIPRangeList holds '192.0.2.1', which is not an IP address range "
                "in CIDR notation (such as 192.0.2.0/24).",
                UserPoolId=pool_id, RiskExceptionConfiguration={"BlockedIPRangeList": ["192.0.2.1"]})
        refused(server, cognito.describe_risk_configuration, "ResourceNotFoundException",
                "User pool client nosuchclient does not exist.", UserPoolId=pool_id, ClientId="nosuchclient")

        # log delivery: kept (never delivered), per event source rules
        notifications = {"LogLevel": "ERROR", "EventSource": "userNotification",
                         "CloudWatchLogsConfiguration": {"LogGroupArn": LOG_GROUP}}
        set_ = cognito.set_log_delivery_configuration(UserPoolId=pool_id, LogConfigurations=[notifications])
        assert set_["LogDeliveryConfiguration"] == {"UserPoolId": pool_id, "LogConfigurations": [notifications]}
        got = cognito.get_log_delivery_configuration(UserPoolId=pool_id)["LogDeliveryConfiguration"]
        assert got["LogConfigurations"] == [notifications]
        refused(server, cognito.set_log_delivery_configuration, "FeatureUnavailableInTierException",
                "Logs of EventSource userAuthEvents need the Plus feature plan; this user pool's UserPoolTier is "
                "ESSENTIALS.", UserPoolId=pool_id,
                LogConfigurations=[{"LogLevel": "INFO", "EventSource": "userAuthEvents",
                                    "S3Configuration": {"BucketArn": BUCKET}}])

        # all of it goes with the pool
        assert len(contents(server.client)["resources"][pool_id]) == 3  # certificate, pool risk configuration, logs (the client's was reset away)
        cognito.delete_user_pool(UserPoolId=pool_id)
        refused(server, cognito.get_signing_certificate, "ResourceNotFoundException",
                f"User pool {pool_id} does not exist.", UserPoolId=pool_id)
        assert pool_id not in contents(server.client)["resources"]
