"""Auth events over HTTP: boto3 against `authflow serve`. Sign-ins recorded with the
caller's TCP address, AdminListUserAuthEvents through boto3's own paginator, feedback
signed (Admin) and unsigned (by FeedbackToken), and Cognito's errors with HTTP 400 and
the store unchanged."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from authflow.core import auth_events as core
from authflow.service import auth_events
from tests.http import serving
from tests.oauth_resources import contents
from tests.oauth_resources import refused_over_http as refused

PASSWORD = "Correct-Horse-9"


def test_auth_events_over_http():
    with serving() as server:
        cognito = server.boto3()
        unsigned = server.boto3(signed=False)
        pool = cognito.create_user_pool(PoolName="http-events", UserPoolTier="PLUS",
                                        UserPoolAddOns={"AdvancedSecurityMode": "ENFORCED"})["UserPool"]["Id"]
        app = cognito.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                              ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                                 "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True)
        for _ in range(3):
            unsigned.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})
        with pytest.raises(ClientError):
            unsigned.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": "alice", "PASSWORD": "Wrong-Horse-9"})

        pages = cognito.get_paginator("admin_list_user_auth_events").paginate(
            UserPoolId=pool, Username="alice", PaginationConfig={"PageSize": 3})
        listed = [event for page in pages for event in page["AuthEvents"]]
        assert [(e["EventType"], e["EventResponse"]) for e in listed] == [("SignIn", "Fail")] + [("SignIn", "Pass")] * 3
        assert all(e["EventContextData"] == {"IpAddress": "127.0.0.1"} for e in listed)
        assert listed[0]["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Failure"}]
        assert listed[0]["CreationDate"].tzinfo is not None

        # feedback: signed as the admin, unsigned with the event's token
        failed, passed = listed[0]["EventId"], listed[1]["EventId"]
        cognito.admin_update_auth_event_feedback(UserPoolId=pool, Username="alice", EventId=passed,
                                                 FeedbackValue="Valid")
        token = auth_events.feedback_token(server.client.engine, UserPoolId=pool, Username="alice", EventId=failed)
        refused(server, unsigned.update_auth_event_feedback, "NotAuthorizedException", core.INVALID_FEEDBACK_TOKEN,
                UserPoolId=pool, Username="alice", EventId=failed, FeedbackToken="A" + token[1:],
                FeedbackValue="Invalid")
        unsigned.update_auth_event_feedback(UserPoolId=pool, Username="alice", EventId=failed,
                                            FeedbackToken=token, FeedbackValue="Invalid")
        first, second = cognito.admin_list_user_auth_events(UserPoolId=pool, Username="alice",
                                                            MaxResults=2)["AuthEvents"]
        assert (first["EventFeedback"]["FeedbackValue"], first["EventFeedback"]["Provider"]) == ("Invalid", "User")
        assert (second["EventFeedback"]["FeedbackValue"], second["EventFeedback"]["Provider"]) == ("Valid", "Admin")

        # errors
        refused(server, cognito.admin_list_user_auth_events, "UserNotFoundException", "User does not exist.",
                UserPoolId=pool, Username="nobody")
        refused(server, cognito.admin_update_auth_event_feedback, "ResourceNotFoundException",
                "Auth event nope does not exist.", UserPoolId=pool, Username="alice", EventId="nope",
                FeedbackValue="Valid")
        plain = cognito.create_user_pool(PoolName="http-plain")["UserPool"]["Id"]
        cognito.admin_create_user(UserPoolId=plain, Username="alice", MessageAction="SUPPRESS")
        refused(server, cognito.admin_list_user_auth_events, "UserPoolAddOnNotEnabledException", core.NOT_ENABLED,
                UserPoolId=plain, Username="alice")
        with pytest.raises(ClientError) as caught:  # a signed operation, unsigned
            unsigned.admin_list_user_auth_events(UserPoolId=pool, Username="alice")
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

        # the history goes with the pool
        cognito.delete_user_pool(UserPoolId=pool)
        assert pool not in contents(server.client)["resources"]
