"""User import (CSV) through `authflow.Client`: GetCSVHeader, the five UserImportJob
operations, the upload to the PreSignedUrl (in process: `service.user_import.upload_csv`),
how rows become RESET_REQUIRED users or counted refusals, the job's machine, and a crash
mid-import that resumes without importing a row twice (a fresh engine over one SQLite file)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, SeededEntropy, SqliteStore
from authflow.adapters.import_runner import ImportRunner
from authflow.core import user_import as core
from authflow.crypto.sealing import Keyring
from authflow.errors import (
    InvalidParameterException,
    PasswordResetRequiredException,
    ResourceNotFoundException,
    UserImportInProgressException,
)
from authflow.service import user_import as service
from tests.conftest import START, TEST_CONFIG, CheckedClient, make_client
from tests.oauth_resources import contents
from tests.signin import refused

ROLE = "arn:aws:iam::123456789012:role/CognitoImport"
STANDARD_HEADER = [
    "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture",
    "website", "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale", "phone_number",
    "phone_number_verified", "address", "updated_at",
]


def csv_of(header: list[str], *rows: dict[str, str]) -> bytes:
    lines = [",".join(header)] + [",".join(row.get(name, "") for name in header) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def person(username: str, email: str | None = None, verified: str = "true", **more: str) -> dict[str, str]:
    row = {"cognito:username": username, "cognito:mfa_enabled": "false",
           "email": email or f"{username}@example.com", "email_verified": verified}
    row.update(more)
    return row


class Setup:
    def __init__(self, client=None, **pool_config) -> None:
        self.client = client or make_client()
        pool_config.setdefault("AutoVerifiedAttributes", ["email"])
        self.pool = self.client.create_user_pool(PoolName="imports", **pool_config)["UserPool"]["Id"]
        self.header = self.client.get_csv_header(UserPoolId=self.pool)["CSVHeader"]

    def job(self, name: str = "import") -> dict:
        return self.client.create_user_import_job(JobName=name, UserPoolId=self.pool,
                                                  CloudWatchLogsRoleArn=ROLE)["UserImportJob"]

    def upload(self, job: dict, *rows: dict[str, str], header: list[str] | None = None) -> dict:
        return service.upload_csv(self.client.engine, job["PreSignedUrl"], csv_of(header or self.header, *rows))

    def run(self, *rows: dict[str, str], header: list[str] | None = None) -> dict:
        job = self.job()
        self.upload(job, *rows, header=header)
        self.client.start_user_import_job(UserPoolId=self.pool, JobId=job["JobId"])
        return self.describe(job)

    def describe(self, job: dict) -> dict:
        return self.client.describe_user_import_job(UserPoolId=self.pool, JobId=job["JobId"])["UserImportJob"]

    def log(self, job: dict) -> list[str]:
        return service.job_log(self.client.engine, self.pool, job["JobId"])


# -- GetCSVHeader --------------------------------------------------------------------------------


def test_csv_header_is_the_schema_without_sub_then_mfa_and_username():
    setup = Setup(Schema=[{"Name": "joinedOn", "AttributeDataType": "String"}])
    assert setup.client.get_csv_header(UserPoolId=setup.pool) | {"ResponseMetadata": None} == {
        "UserPoolId": setup.pool, "CSVHeader": [*STANDARD_HEADER, "custom:joinedOn", "cognito:mfa_enabled",
                                                "cognito:username"], "ResponseMetadata": None}


def test_unknown_pool_is_refused_by_every_operation_and_changes_nothing():
    client = make_client()
    before = contents(client)
    missing = "us-east-1_nothere00"
    message = f"User pool {missing} does not exist."
    refused(ResourceNotFoundException, message, client.get_csv_header, UserPoolId=missing)
    refused(ResourceNotFoundException, message, client.create_user_import_job, JobName="j", UserPoolId=missing,
            CloudWatchLogsRoleArn=ROLE)
    refused(ResourceNotFoundException, message, client.list_user_import_jobs, UserPoolId=missing, MaxResults=10)
    for call in (client.describe_user_import_job, client.start_user_import_job, client.stop_user_import_job):
        refused(ResourceNotFoundException, message, call, UserPoolId=missing, JobId="import-abcdefghij")
    assert contents(client) == before


# -- Create, Describe, List ------------------------------------------------------------------------


def test_create_returns_a_created_job_with_an_upload_url():
    setup = Setup()
    job = setup.job("Customer import")
    assert re.fullmatch(r"import-[A-Za-z0-9]{10}", job["JobId"])
    assert job | {"JobId": None, "PreSignedUrl": None} == {
        "JobName": "Customer import", "JobId": None, "UserPoolId": setup.pool, "PreSignedUrl": None,
        "CreationDate": START, "Status": "Created", "CloudWatchLogsRoleArn": ROLE,
        "ImportedUsers": 0, "SkippedUsers": 0, "FailedUsers": 0}
    assert job["PreSignedUrl"].startswith(
        f"{service.DEFAULT_BASE_URL}/_authflow/user-import/{setup.pool}/{job['JobId']}?X-Amz-Date=20260101T120000Z"
        "&X-Amz-Expires=899&X-Amz-Signature=")
    assert setup.describe(job) == job


def test_the_url_uses_the_issuer_base_url_when_configured():
    from dataclasses import replace

    setup = Setup(make_client(config=replace(TEST_CONFIG, issuer_base_url="https://auth.example.test")))
    assert setup.job()["PreSignedUrl"].startswith("https://auth.example.test/_authflow/user-import/")


def test_unknown_job_is_refused_and_changes_nothing():
    setup = Setup()
    before = contents(setup.client)
    message = f"Import job import-nosuchjob1 does not exist in user pool {setup.pool}."
    for call in (setup.client.describe_user_import_job, setup.client.start_user_import_job,
                 setup.client.stop_user_import_job):
        refused(ResourceNotFoundException, message, call, UserPoolId=setup.pool, JobId="import-nosuchjob1")
    assert contents(setup.client) == before


def test_list_is_newest_first_in_pages_with_cognitos_token():
    setup = Setup()
    clock = setup.client.engine.clock
    ids = []
    for n in range(3):
        ids.append(setup.job(f"job{n}")["JobId"])
        clock.advance(timedelta(seconds=1))
    first = setup.client.list_user_import_jobs(UserPoolId=setup.pool, MaxResults=2)
    assert [j["JobId"] for j in first["UserImportJobs"]] == [ids[2], ids[1]]
    created_ms = int((START + timedelta(seconds=1)).timestamp() * 1000)
    assert first["PaginationToken"] == f"{setup.pool}#{ids[1]}#{created_ms}"
    second = setup.client.list_user_import_jobs(UserPoolId=setup.pool, MaxResults=2,
                                                PaginationToken=first["PaginationToken"])
    assert [j["JobId"] for j in second["UserImportJobs"]] == [ids[0]] and "PaginationToken" not in second
    refused(InvalidParameterException, "Invalid PaginationToken.", setup.client.list_user_import_jobs,
            UserPoolId=setup.pool, MaxResults=2, PaginationToken="nonsense")


# -- the upload -------------------------------------------------------------------------------------


def test_an_upload_needs_the_jobs_own_unexpired_url():
    setup = Setup()
    job, other = setup.job(), setup.job("other")
    data = csv_of(setup.header, person("alice"))
    forged = job["PreSignedUrl"].replace(job["JobId"], other["JobId"])
    before = contents(setup.client)
    with pytest.raises(service.UploadError) as err:
        service.upload_csv(setup.client.engine, forged, data)
    assert (err.value.status, err.value.code) == (403, "AccessDenied")
    setup.client.engine.clock.advance(timedelta(minutes=15))
    with pytest.raises(service.UploadError) as err:
        service.upload_csv(setup.client.engine, job["PreSignedUrl"], data)
    assert err.value.status == 403
    assert contents(setup.client) == before


def test_an_upload_that_is_not_utf8_csv_is_refused():
    setup = Setup()
    job = setup.job()
    before = contents(setup.client)
    for data, reason in ((b"\xff\xfe\x00", "not UTF-8"), (b"\n\n", "empty")):
        with pytest.raises(service.UploadError) as err:
            service.upload_csv(setup.client.engine, job["PreSignedUrl"], data)
        assert err.value.status == 400 and reason in err.value.message
    assert contents(setup.client) == before


def test_a_second_upload_replaces_the_first_and_none_is_taken_after_start():
    setup = Setup()
    job = setup.job()
    setup.upload(job, person("alice"), person("bob"))
    setup.upload(job, person("carol"))
    setup.client.start_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])
    assert setup.describe(job)["ImportedUsers"] == 1
    assert setup.client.admin_get_user(UserPoolId=setup.pool, Username="carol")["UserStatus"] == "RESET_REQUIRED"
    with pytest.raises(service.UploadError) as err:
        setup.upload(job, person("dave"))
    assert err.value.status == 409


# -- Start and the import ------------------------------------------------------------------------------


def test_start_imports_reset_required_users_without_passwords_or_messages():
    setup = Setup()
    job = setup.job()
    setup.upload(job, person("alice", given_name="Alice", email_verified="True"),
                 person("bob", phone_number="+15555550100", phone_number_verified="false"))
    started = setup.client.start_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])["UserImportJob"]
    assert (started["Status"], started["StartDate"]) == ("Pending", START)
    done = setup.describe(job)
    assert {k: done[k] for k in ("Status", "ImportedUsers", "SkippedUsers", "FailedUsers", "CompletionMessage",
                                 "CompletionDate")} == {
        "Status": "Succeeded", "ImportedUsers": 2, "SkippedUsers": 0, "FailedUsers": 0,
        "CompletionMessage": "Import Job Completed Successfully.", "CompletionDate": START}
    alice = setup.client.admin_get_user(UserPoolId=setup.pool, Username="alice")
    assert alice["UserStatus"] == "RESET_REQUIRED"
    assert {a["Name"]: a["Value"] for a in alice["UserAttributes"] if a["Name"] != "sub"} == {
        "given_name": "Alice", "email": "alice@example.com", "email_verified": "True"}
    user = setup.client.store.snapshot().users[setup.pool].by_key["alice"]
    assert user.credential is None
    assert setup.client.messenger.messages == []


def test_imported_user_must_reset_then_signs_in():
    setup = Setup()
    setup.run(person("alice"))
    client = setup.client
    app = client.create_user_pool_client(UserPoolId=setup.pool, ClientName="app",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    app_id = app["UserPoolClient"]["ClientId"]
    sign_in = {"ClientId": app_id, "AuthFlow": "USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Anything1!"}}
    refused(PasswordResetRequiredException, "Password reset required for the user", client.initiate_auth, **sign_in)
    client.forgot_password(ClientId=app_id, Username="alice")
    code = client.messenger.messages[-1].code
    client.confirm_forgot_password(ClientId=app_id, Username="alice", ConfirmationCode=code, Password="NewPassw0rd!")
    assert client.admin_get_user(UserPoolId=setup.pool, Username="alice")["UserStatus"] == "CONFIRMED"
    sign_in["AuthParameters"]["PASSWORD"] = "NewPassw0rd!"
    assert "AccessToken" in client.initiate_auth(**sign_in)["AuthenticationResult"]


def test_bad_rows_are_counted_and_logged_and_the_rest_imported():
    setup = Setup(AliasAttributes=["email"], Schema=[{"Name": "tier", "AttributeDataType": "Number"}])
    setup.client.admin_create_user(UserPoolId=setup.pool, Username="existing", MessageAction="SUPPRESS",
                                   UserAttributes=[{"Name": "email", "Value": "taken@example.com"},
                                                   {"Name": "email_verified", "Value": "true"}])
    done = setup.run(
        person("alice"),                                  # line 2: imported
        person("bob", verified="false"),                  # 3: no auto-verified attribute true
        person("carol", email="not-an-email"),            # 4: invalid attribute
        person("alice", email="alice2@example.com"),      # 5: a username earlier in the file
        person("existing", email="e2@example.com"),       # 6: a username in the pool
        person("dave", email="taken@example.com"),        # 7: an alias another user holds
        person("erin", **{"custom:tier": "many"}),        # 8: a Number attribute that is no number
        person("frank", **{"cognito:mfa_enabled": "true"}),  # 9: MFA without a phone number
        person("grace", **{"cognito:mfa_enabled": "maybe"}),  # 10
        person("heidi", email="alice@example.com"),       # 11: alias taken earlier in the same file
    )
    assert (done["Status"], done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == ("Succeeded", 1, 2, 7)
    job = {"JobId": done["JobId"]}
    assert setup.log(job) == [
        "[FAILED] Line Number 3 - " + core.NO_AUTO_VERIFIED,
        "[FAILED] Line Number 4 - Invalid email address format.",
        "[SKIPPED] Line Number 5 - The user already exists.",
        "[SKIPPED] Line Number 6 - The user already exists.",
        "[FAILED] Line Number 7 - An account with the email already exists.",
        "[FAILED] Line Number 8 - Attributes did not conform to the schema: custom:tier: Number must be an integer",
        "[FAILED] Line Number 9 - cognito:mfa_enabled is true, but the user has no phone_number for SMS MFA.",
        "[FAILED] Line Number 10 - cognito:mfa_enabled must be true or false.",
        "[FAILED] Line Number 11 - An account with the email already exists.",
    ]
    assert setup.client.admin_get_user(UserPoolId=setup.pool, Username="existing")["UserStatus"] == \
        "FORCE_CHANGE_PASSWORD"


def test_a_row_of_the_wrong_width_fails_alone():
    setup = Setup()
    job = setup.job()
    data = csv_of(setup.header, person("alice")) + b"bob,too,short\n"
    service.upload_csv(setup.client.engine, job["PreSignedUrl"], data)
    setup.client.start_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])
    assert (setup.describe(job)["ImportedUsers"], setup.describe(job)["FailedUsers"]) == (1, 1)
    assert setup.log(job) == [f"[FAILED] Line Number 3 - The row has 3 values; the header has {len(setup.header)} columns."]


def test_columns_may_come_in_any_order_and_optional_ones_may_be_left_out():
    setup = Setup()
    done = setup.run(person("alice"), header=["email_verified", "cognito:username", "email", "cognito:mfa_enabled"])
    assert done["ImportedUsers"] == 1


@pytest.mark.parametrize(("header", "message"), [
    (["cognito:username", "cognito:mfa_enabled", "email", "email_verified", "password"],
     "The CSV header names columns the user pool does not have: password."),
    (["cognito:username", "email", "email_verified"], "The CSV header lacks the required column(s) cognito:mfa_enabled."),
])
def test_a_bad_header_fails_the_job(header, message):
    setup = Setup()
    done = setup.run(person("alice", password="x"), header=header)
    assert (done["Status"], done["CompletionMessage"], done["ImportedUsers"]) == ("Failed", message, 0)
    assert "CompletionDate" in done


def test_a_job_without_a_file_or_without_any_good_row_fails():
    setup = Setup()
    job = setup.job()
    setup.client.start_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])
    failed = setup.describe(job)
    assert (failed["Status"], failed["CompletionMessage"]) == (
        "Failed", "The CSV file has not been uploaded to the job's PreSignedUrl.")
    done = setup.run(person("bob", verified="false"))
    assert (done["Status"], done["FailedUsers"], done["CompletionMessage"]) == (
        "Failed", 1, "Too many users have failed or been skipped during the import.")


def test_a_pool_without_auto_verified_attributes_cannot_import():
    setup = Setup(AutoVerifiedAttributes=[])
    done = setup.run(person("alice"))
    assert done["Status"] == "Failed" and "no auto-verified attributes" in done["CompletionMessage"]


def test_username_attribute_pools_import_by_email_under_a_generated_username():
    setup = Setup(UsernameAttributes=["email"])
    done = setup.run({"cognito:username": "alice@example.com", "cognito:mfa_enabled": "false",
                      "email_verified": "true"},
                     {"cognito:username": "alice@example.com", "cognito:mfa_enabled": "false",
                      "email_verified": "true"})
    assert (done["ImportedUsers"], done["SkippedUsers"]) == (1, 1)
    user = setup.client.admin_get_user(UserPoolId=setup.pool, Username="alice@example.com")
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    assert user["Username"] == sub


# -- the machine -------------------------------------------------------------------------------------------


def test_start_of_a_job_not_created_is_refused_and_changes_nothing():
    setup = Setup()
    done = setup.run(person("alice"))
    before = contents(setup.client)
    refused(InvalidParameterException,
            f"Import job {done['JobId']} cannot be started: it is Succeeded; only a job in status Created can be.",
            setup.client.start_user_import_job, UserPoolId=setup.pool, JobId=done["JobId"])
    refused(InvalidParameterException,
            f"Import job {done['JobId']} cannot be stopped: it is Succeeded; only a Pending or InProgress job can be.",
            setup.client.stop_user_import_job, UserPoolId=setup.pool, JobId=done["JobId"])
    assert contents(setup.client) == before


def test_a_job_never_started_expires_after_a_day():
    setup = Setup()
    job = setup.job()
    setup.client.engine.clock.advance(timedelta(hours=24))
    expired = setup.describe(job)
    assert (expired["Status"], expired["CompletionMessage"], expired["CompletionDate"]) == (
        "Expired", "The user import job has expired.", START + timedelta(hours=24))
    assert setup.client.list_user_import_jobs(UserPoolId=setup.pool, MaxResults=5)["UserImportJobs"] == [expired]
    refused(InvalidParameterException,
            f"Import job {job['JobId']} cannot be started: it is Expired; only a job in status Created can be.",
            setup.client.start_user_import_job, UserPoolId=setup.pool, JobId=job["JobId"])


class IdleRunner:
    """A runner that never runs: Start only queues the job."""

    def wake(self) -> None:
        pass


def test_stop_ends_a_started_job_before_its_next_chunk():
    setup = Setup()
    service.attach_runner(setup.client.engine, IdleRunner())
    job = setup.job()
    setup.upload(job, *(person(f"user{n}") for n in range(core.CHUNK_ROWS + 5)))
    setup.client.start_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])
    assert service.run_job(setup.client.engine, setup.pool, job["JobId"], max_chunks=1) == "InProgress"
    stopped = setup.client.stop_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])["UserImportJob"]
    assert (stopped["Status"], stopped["CompletionMessage"], stopped["ImportedUsers"]) == (
        "Stopped", "The Import Job was stopped by the developer.", core.CHUNK_ROWS)
    assert service.run_job(setup.client.engine, setup.pool, job["JobId"]) == "Stopped"
    assert setup.client.store.snapshot().users[setup.pool].by_key.keys().__len__() == core.CHUNK_ROWS
    resources = setup.client.store.snapshot().auth[setup.pool].resources
    assert not [key for key in resources if key[0] == core.ROWS]  # the stored file is gone


def test_the_table_is_the_machine():
    assert core.triggers("Created") == ["start", "expire"]
    assert sorted(core.triggers("InProgress")) == ["finish_failed", "finish_ok", "stop"]
    for status in core.STATUSES:
        for trigger in ("start", "begin", "stop", "halt", "finish_ok", "finish_failed", "expire"):
            if (status, trigger) in core.TRANSITIONS:
                assert core.next_status("import-x", status, trigger) in core.STATUSES
            else:
                with pytest.raises(InvalidParameterException):
                    core.next_status("import-x", status, trigger)


# -- durability --------------------------------------------------------------------------------------------


def test_a_crash_mid_import_resumes_where_it_stopped_without_duplicates(tmp_path):
    path = tmp_path / "import.db"
    config = authflow.EngineConfig(kek=Keyring(b"k" * 32), kdf=TEST_CONFIG.kdf, signing_keys=TEST_CONFIG.signing_keys)
    first = CheckedClient(authflow.Client(config=config, store=SqliteStore(path), clock=ManualClock(START),
                                          entropy=SeededEntropy(3), messenger=MemoryOutbox()))
    setup = Setup(first)
    service.attach_runner(first.engine, IdleRunner())  # as `authflow serve` does: Start only queues
    job = setup.job()
    rows = [person(f"user{n:05d}") for n in range(2 * core.CHUNK_ROWS + 10)] + [person("user00001")]
    setup.upload(job, *rows)
    first.start_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])
    service.run_job(first.engine, setup.pool, job["JobId"], max_chunks=1)  # then the process "dies"
    assert setup.describe(job)["ImportedUsers"] == core.CHUNK_ROWS
    first.store.close()

    again = CheckedClient(authflow.Client(config=config, store=SqliteStore(path), clock=ManualClock(START),
                                          entropy=SeededEntropy(4), messenger=MemoryOutbox()))
    assert service.run_pending(again.engine) == 1
    done = again.describe_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])["UserImportJob"]
    assert (done["Status"], done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (
        "Succeeded", 2 * core.CHUNK_ROWS + 10, 1, 0)
    with again.store.transaction() as tx:
        assert tx.count_users(setup.pool) == 2 * core.CHUNK_ROWS + 10
    assert service.job_log(again.engine, setup.pool, job["JobId"]) == [
        f"[SKIPPED] Line Number {len(rows) + 1} - The user already exists."]
    again.store.close()


def test_the_background_runner_imports_a_started_job():
    setup = Setup(make_client(clock=None))
    runner = ImportRunner(setup.client.engine, idle_seconds=0.05).start()
    try:
        job = setup.job()
        setup.upload(job, person("alice"), person("bob"))
        assert setup.client.start_user_import_job(UserPoolId=setup.pool,
                                                  JobId=job["JobId"])["UserImportJob"]["Status"] == "Pending"
        deadline = time.monotonic() + 10
        while setup.describe(job)["Status"] != "Succeeded" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert setup.describe(job)["ImportedUsers"] == 2
    finally:
        runner.stop()
    assert service._RUNNERS.get(setup.client.engine) is None


@pytest.mark.parametrize("prevent", ["LEGACY", "ENABLED"])
def test_an_imported_user_signing_in_by_srp_is_told_to_reset_first(prevent):
    """USER_SRP_AUTH: an imported user has no verifier to be challenged with; like the
    password flow, InitiateAuth says a reset comes first. Under PreventUserExistenceErrors
    the answer is a (simulated) challenge, as for a name nobody has."""
    setup = Setup()
    setup.run(person("alice"))
    app_id = setup.client.create_user_pool_client(
        UserPoolId=setup.pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors=prevent)["UserPoolClient"]["ClientId"]
    start = {"ClientId": app_id, "AuthFlow": "USER_SRP_AUTH",
             "AuthParameters": {"USERNAME": "alice", "SRP_A": format(pow(2, 0xD1CE, 2**3072 - 1), "x")}}
    if prevent == "LEGACY":
        refused(PasswordResetRequiredException, "Password reset required for the user",
                setup.client.initiate_auth, **start)
    else:
        assert setup.client.initiate_auth(**start)["ChallengeName"] == "PASSWORD_VERIFIER"


def test_the_pool_is_not_changed_while_an_import_runs():
    """UpdateUserPool, AddCustomAttributes and DeleteUserPool answer
    UserImportInProgressException while a job is Pending or InProgress (the model lists it
    for exactly these three), and work again once it has ended."""
    setup = Setup()
    service.attach_runner(setup.client.engine, IdleRunner())  # as `authflow serve` does: Start only queues
    job = setup.job()
    setup.upload(job, *(person(f"user{n}") for n in range(core.CHUNK_ROWS + 5)))
    setup.client.start_user_import_job(UserPoolId=setup.pool, JobId=job["JobId"])
    changes = [
        (setup.client.update_user_pool, {"UserPoolId": setup.pool, "AutoVerifiedAttributes": ["email"]}),
        (setup.client.add_custom_attributes, {"UserPoolId": setup.pool, "CustomAttributes": [
            {"Name": "team", "AttributeDataType": "String"}]}),
        (setup.client.delete_user_pool, {"UserPoolId": setup.pool}),
    ]
    for status in ("Pending", "InProgress"):
        assert setup.describe(job)["Status"] == status
        for call, kwargs in changes:
            refused(UserImportInProgressException, f"A user import job is in progress for user pool {setup.pool}.",
                    call, **kwargs)
        service.run_job(setup.client.engine, setup.pool, job["JobId"], max_chunks=1)
    assert service.run_job(setup.client.engine, setup.pool, job["JobId"]) == "Succeeded"
    for call, kwargs in changes:
        call(**kwargs)
