"""User import over HTTP: boto3 for the operations and `requests` for the PUT of the CSV to the
job's PreSignedUrl, as Cognito's guide does it with curl (x-amz-server-side-encryption:
aws:kms). Against the in-thread app (refusals: a forged or expired URL, a file that is not
CSV, Cognito's errors with HTTP 400, storage unchanged) and against a real `authflow serve`
process, whose background runner imports while Describe is polled, and which, killed during
an import and started again over the same SQLite file, finishes it without a duplicate."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from botocore.exceptions import ClientError

from tests.http import serving
from tests.integration.test_serve_command import boto3_client, serve
from tests.oauth_resources import contents

ROLE = "arn:aws:iam::123456789012:role/CognitoImport"
KMS = {"x-amz-server-side-encryption": "aws:kms"}


def csv_body(header: list[str], count: int, *, start: int = 0) -> bytes:
    position = {name: i for i, name in enumerate(header)}
    lines = [",".join(header)]
    for n in range(start, start + count):
        row = [""] * len(header)
        row[position["cognito:username"]] = f"user{n:06d}"
        row[position["cognito:mfa_enabled"]] = "false"
        row[position["email"]] = f"user{n:06d}@example.com"
        row[position["email_verified"]] = "true"
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()


def wait_for_end(cognito, pool: str, job_id: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        job = cognito.describe_user_import_job(UserPoolId=pool, JobId=job_id)["UserImportJob"]
        if job["Status"] in ("Succeeded", "Failed", "Stopped") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def new_job(cognito, pool: str) -> dict:
    return cognito.create_user_import_job(JobName="http-import", UserPoolId=pool,
                                          CloudWatchLogsRoleArn=ROLE)["UserImportJob"]


def test_upload_and_import_over_http_with_refusals():
    with serving() as server:
        cognito = server.boto3()
        pool = cognito.create_user_pool(PoolName="http-import", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
        header = cognito.get_csv_header(UserPoolId=pool)["CSVHeader"]
        job = new_job(cognito, pool)
        assert job["PreSignedUrl"].startswith(f"{server.url}/_authflow/user-import/{pool}/{job['JobId']}?")

        before = contents(server.client)
        forged = job["PreSignedUrl"].replace("X-Amz-Signature=", "X-Amz-Signature=0")
        answer = requests.put(forged, data=csv_body(header, 1), headers=KMS, timeout=30)
        assert answer.status_code == 403 and b"<Code>AccessDenied</Code>" in answer.content
        answer = requests.put(job["PreSignedUrl"], data=b"\xff\xfe not text", headers=KMS, timeout=30)
        assert answer.status_code == 400 and b"<Code>InvalidArgument</Code>" in answer.content
        with pytest.raises(ClientError) as caught:
            cognito.describe_user_import_job(UserPoolId=pool, JobId="import-nosuchjob1")
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert contents(server.client) == before

        answer = requests.put(job["PreSignedUrl"], data=csv_body(header, 3) + b"user000001,,\n", headers=KMS,
                              timeout=30)
        assert answer.status_code == 200
        started = cognito.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])["UserImportJob"]
        assert started["Status"] == "Pending"
        done = wait_for_end(cognito, pool, job["JobId"])
        assert (done["Status"], done["ImportedUsers"], done["FailedUsers"]) == ("Succeeded", 3, 1)
        # the row log, as CloudWatch holds it on AWS: at the URL's path + /log, its signature checked
        base, query = job["PreSignedUrl"].split("?", 1)
        answer = requests.get(f"{base}/log?{query}", timeout=30)
        assert (answer.status_code, answer.text) == (
            200, f"[FAILED] Line Number 5 - The row has 3 values; the header has {len(header)} columns.\n")
        assert requests.get(f"{base}/log?{query}".replace("Signature=", "Signature=0"), timeout=30).status_code == 403
        with pytest.raises(ClientError) as caught:
            cognito.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])
        assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
        answer = requests.put(job["PreSignedUrl"], data=csv_body(header, 1), headers=KMS, timeout=30)
        assert answer.status_code == 409  # a finished job's file cannot change

        # the URL expires as AWS's does, after 15 minutes
        late = new_job(cognito, pool)
        server.clock.advance(timedelta(minutes=16))
        answer = requests.put(late["PreSignedUrl"], data=csv_body(header, 1), headers=KMS, timeout=30)
        assert answer.status_code == 403


def test_authflow_serve_imports_in_the_background_and_resumes_after_a_kill(tmp_path):
    rows = 30000
    with serve(tmp_path, "--insecure-no-auth") as running:
        cognito = boto3_client(running.url)
        pool = cognito.create_user_pool(PoolName="serve-import", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
        app = cognito.create_user_pool_client(UserPoolId=pool, ClientName="app",
                                              ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                                 "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
        header = cognito.get_csv_header(UserPoolId=pool)["CSVHeader"]
        job = new_job(cognito, pool)
        body = csv_body(header, rows) + csv_body(header, 1)[len(",".join(header)) + 1:]  # one duplicate row
        assert requests.put(job["PreSignedUrl"], data=body, headers=KMS, timeout=60).status_code == 200
        cognito.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the first chunks are in: kill it mid-import
            seen = cognito.describe_user_import_job(UserPoolId=pool, JobId=job["JobId"])["UserImportJob"]
            if seen["ImportedUsers"] > 0 or seen["Status"] == "Succeeded":
                break
            time.sleep(0.01)
        running.proc.kill()  # most likely mid-import; the outcome must be the same either way
        running.proc.wait(timeout=10)
    with serve(tmp_path, "--insecure-no-auth") as running:
        cognito = boto3_client(running.url)
        done = wait_for_end(cognito, pool, job["JobId"])
        assert (done["Status"], done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (
            "Succeeded", rows, 1, 0)
        assert cognito.describe_user_pool(UserPoolId=pool)["UserPool"]["EstimatedNumberOfUsers"] == rows
        user = cognito.admin_get_user(UserPoolId=pool, Username="user000042")
        assert user["UserStatus"] == "RESET_REQUIRED"
        with pytest.raises(ClientError) as caught:
            cognito.initiate_auth(ClientId=app["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "user000042", "PASSWORD": "Whatever-1"})
        assert caught.value.response["Error"]["Code"] == "PasswordResetRequiredException"
