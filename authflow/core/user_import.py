"""User import jobs (CSV): the job's state machine, the CSV header of a pool, rows made users.

Theory of operation: a job is a `PoolResource` of kind "user_import_job" named by its JobId,
whose body is the `UserImportJobType` Cognito returns plus authflow's bookkeeping under
`_import` (the uploaded file's shape and how far the import got). The CSV arrives by an HTTP
PUT to the job's PreSignedUrl (an HMAC over the pool, the job and the URL's date, valid for
`URL_VALIDITY`) and is stored parsed, `CHUNK_ROWS` rows a record ("user_import_rows",
`<JobId>/<chunk>`), so it survives a restart and no record grows large.

The machine is `specs/user-import-job.yaml` (docs/user-import-job.md), nothing else: Created -start-> Pending -begin->
InProgress -finish-> Succeeded / Failed, Pending or InProgress -stop-> Stopping -halt->
Stopped, and Created -expire-> Expired a day after creation (`as_of`: derived when the job is
read, never written by a clock). An illegal trigger raises InvalidParameterException and
changes nothing.

A running job imports one chunk per transaction: the chunk's rows become users (status
RESET_REQUIRED, no password), its failed and skipped rows become log lines in the
CloudWatch form Cognito writes ("[FAILED] Line Number 7 - ..."), and the job's counts and the
index of the next chunk are written in the same transaction. A crash loses at most the batch
that was not committed, and the next run resumes at the stored index, so no row is imported
twice. Rows are judged as Cognito's guide says: a username that exists is SKIPPED; a row that
breaks the schema, sets none of the pool's auto-verified attributes to true, or claims an alias
another user holds is FAILED; the rest SUCCEEDED.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from authflow.core import attributes as attrs
from authflow.core import identity
from authflow.core import pool_config as pc
from authflow.core.lifecycle import Lifecycle
from authflow.core.records import PoolResource, User, UserPool
from authflow.core.spec import load_spec
from authflow.errors import CognitoError, InvalidParameterException, ResourceNotFoundException

JOB = "user_import_job"
ROWS = "user_import_rows"
LOG = "user_import_log"

USERNAME_COLUMN = "cognito:username"
MFA_COLUMN = "cognito:mfa_enabled"

#: Rows per stored chunk, and so per import transaction.
CHUNK_ROWS = 1000
#: How long a PreSignedUrl accepts the upload (AWS: "valid for 15 minutes"; X-Amz-Expires=899).
URL_VALIDITY = timedelta(minutes=15)
#: The largest CSV accepted (Cognito's guide: files up to 100 MB).
MAX_CSV_BYTES = 100 * 1024 * 1024
MAX_LIST_RESULTS = 60
#: A job never started expires (AWS's example: Expired about a day after its creation).
JOB_EXPIRY = timedelta(hours=24)
#: Log lines kept per chunk (failed and skipped rows only; successes are only counted).
MAX_LOG_LINES = CHUNK_ROWS

SUCCEEDED_MESSAGE = "Import Job Completed Successfully."
TOO_MANY_FAILED = "Too many users have failed or been skipped during the import."
STOPPED_MESSAGE = "The Import Job was stopped by the developer."
EXPIRED_MESSAGE = "The user import job has expired."
EXISTS = "The user already exists."
NO_AUTO_VERIFIED = ("The User Record does not set any of the auto verified attributes to true. "
                    "(Example: email_verified to true).")

# -- the machine ------------------------------------------------------------------------------

@cache
def import_job() -> Lifecycle:
    """A job's life (`specs/user-import-job.yaml`), built once per process."""
    return Lifecycle(load_spec("user-import-job"))


#: (status, trigger) -> status, as the spec states it (ABSENT -create-> Created aside: a job
#: record exists from its creation on).
TRANSITIONS: Mapping[tuple[str, str], str] = {
    (source, trigger): dest for source, trigger, dest, _ in import_job().transitions() if source != "ABSENT"
}
STATUSES = ("Created", "Pending", "InProgress", "Stopping", "Stopped", "Succeeded", "Failed", "Expired")
RUNNING = frozenset({"Pending", "InProgress", "Stopping"})

_REFUSALS = {
    "start": "Import job {job} cannot be started: it is {status}; only a job in status Created can be.",
    "stop": "Import job {job} cannot be stopped: it is {status}; only a Pending or InProgress job can be.",
}


def triggers(status: str) -> list[str]:
    """What may happen to a job in `status` (as transitions' `get_triggers`)."""
    return [trigger for (source, trigger) in TRANSITIONS if source == status]


def next_status(job_id: str, status: str, trigger: str) -> str:
    dest = TRANSITIONS.get((status, trigger))
    if dest is None:
        template = _REFUSALS.get(trigger, "Import job {job} cannot move from {status} by {trigger}.")
        raise InvalidParameterException(template.format(job=job_id, status=status, trigger=trigger))
    return dest


# -- the job record ---------------------------------------------------------------------------


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat()


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def new_job(pool_id: str, request: Mapping[str, Any], *, job_id: str, url: str, now: datetime) -> PoolResource:
    body = {
        "JobName": request["JobName"], "JobId": job_id, "UserPoolId": pool_id, "PreSignedUrl": url,
        "Status": "Created", "CloudWatchLogsRoleArn": request["CloudWatchLogsRoleArn"],
        "ImportedUsers": 0, "SkippedUsers": 0, "FailedUsers": 0,
        "_import": {"chunks": None, "rows": 0, "header": None, "next_chunk": 0},
    }
    return PoolResource(pool_id=pool_id, kind=JOB, name=job_id, body=body, created=now, modified=now)


def require_job(pool_id: str, job_id: str, job: PoolResource | None) -> PoolResource:
    if job is None:
        raise ResourceNotFoundException(f"Import job {job_id} does not exist in user pool {pool_id}.")
    return job


def job_type(job: PoolResource) -> dict[str, Any]:
    """The job as Cognito returns it (UserImportJobType)."""
    body = job.body
    out: dict[str, Any] = {k: body[k] for k in ("JobName", "JobId", "UserPoolId", "PreSignedUrl")}
    out["CreationDate"] = job.created
    if body.get("StartDate"):
        out["StartDate"] = _when(body["StartDate"])
    if body.get("CompletionDate"):
        out["CompletionDate"] = _when(body["CompletionDate"])
    out["Status"] = body["Status"]
    out["CloudWatchLogsRoleArn"] = body["CloudWatchLogsRoleArn"]
    for key in ("ImportedUsers", "SkippedUsers", "FailedUsers"):
        out[key] = body[key]
    if body.get("CompletionMessage"):
        out["CompletionMessage"] = body["CompletionMessage"]
    return out


def progress(job: PoolResource) -> Mapping[str, Any]:
    return job.body["_import"]


def moved(job: PoolResource, trigger: str, now: datetime, **changes: Any) -> PoolResource:
    """The job after `trigger` (InvalidParameterException if it may not happen now), with
    `changes` to its body (`_import` keys go under `_import`)."""
    body = dict(job.body)
    body["Status"] = next_status(job.name, body["Status"], trigger)
    tracking = dict(body["_import"])
    for key, value in changes.items():
        if key in tracking:
            tracking[key] = value
        else:
            body[key] = value
    body["_import"] = tracking
    if trigger == "start":
        body["StartDate"] = _iso(now)
    if body["Status"] in ("Succeeded", "Failed", "Stopped", "Expired"):
        body["CompletionDate"] = _iso(now)
    return replace(job, body=body, modified=now, version=job.version + 1)


def as_of(job: PoolResource, now: datetime) -> PoolResource:
    """The job as it stands at `now`: a Created job older than `JOB_EXPIRY` is Expired (a
    derived state, so nothing has to run to expire it; its CompletionDate is the expiry)."""
    if job.body["Status"] == "Created" and now >= job.created + JOB_EXPIRY:
        return moved(job, "expire", job.created + JOB_EXPIRY, CompletionMessage=EXPIRED_MESSAGE)
    return job


def advanced(job: PoolResource, now: datetime, *, imported: int, skipped: int, failed: int) -> PoolResource:
    """The job after one more chunk, its status unchanged."""
    body = dict(job.body)
    body["ImportedUsers"] += imported
    body["SkippedUsers"] += skipped
    body["FailedUsers"] += failed
    body["_import"] = {**body["_import"], "next_chunk": body["_import"]["next_chunk"] + 1}
    return replace(job, body=body, modified=now, version=job.version + 1)


def finish_trigger(job: PoolResource) -> tuple[str, str]:
    """How a job whose every chunk is done ends: Failed when rows were refused and none imported."""
    body = job.body
    if body["ImportedUsers"] == 0 and (body["FailedUsers"] or body["SkippedUsers"]):
        return "finish_failed", TOO_MANY_FAILED
    return "finish_ok", SUCCEEDED_MESSAGE


def list_page(jobs: Sequence[PoolResource], *, after: str | None, limit: int) -> tuple[list[PoolResource], str | None]:
    """Newest first (as Cognito lists them), then by JobId; the token names the last job
    returned as Cognito's does (`<poolId>#<JobId>#<creation ms>`)."""
    ordered = sorted(jobs, key=lambda j: (-j.created.timestamp(), j.name))
    if after is not None:
        position = next((i for i, j in enumerate(ordered) if page_token(j) == after), None)
        if position is None:
            raise InvalidParameterException("Invalid PaginationToken.")
        ordered = ordered[position + 1:]
    page = ordered[:limit]
    token = page_token(page[-1]) if len(ordered) > limit else None
    return page, token


def page_token(job: PoolResource) -> str:
    return f"{job.pool_id}#{job.name}#{int(job.created.timestamp() * 1000)}"


# -- the upload URL -----------------------------------------------------------------------------


def url_signature(key: bytes, pool_id: str, job_id: str, date: str) -> str:
    message = f"authflow-user-import\n{pool_id}\n{job_id}\n{date}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def upload_path(pool_id: str, job_id: str) -> str:
    return f"/_authflow/user-import/{pool_id}/{job_id}"


def presigned_url(key: bytes, base_url: str, pool_id: str, job_id: str, now: datetime) -> str:
    date = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    signature = url_signature(key, pool_id, job_id, date)
    return (f"{base_url.rstrip('/')}{upload_path(pool_id, job_id)}?X-Amz-Date={date}"
            f"&X-Amz-Expires={int(URL_VALIDITY.total_seconds()) - 1}&X-Amz-Signature={signature}")


def upload_allowed(key: bytes, pool_id: str, job_id: str, query: Mapping[str, str], now: datetime | None) -> bool:
    """Whether a request's query is the job's own URL's, and (unless `now` is None: reading
    the job's log, which holds no user data) it has not expired."""
    date, signature = query.get("X-Amz-Date", ""), query.get("X-Amz-Signature", "")
    try:
        issued = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return False
    if not hmac.compare_digest(url_signature(key, pool_id, job_id, date), signature):
        return False
    return now is None or issued <= now < issued + URL_VALIDITY


# -- the CSV ------------------------------------------------------------------------------------


def csv_header(pool: UserPool) -> list[str]:
    """Every schema attribute but `sub` in the schema's order, then cognito:mfa_enabled and
    cognito:username (GetCSVHeader as observed)."""
    names = [name for name in pc.schema(pool.config) if name != "sub"]
    return [*names, MFA_COLUMN, USERNAME_COLUMN]


class UploadRefused(ValueError):
    """The body is not a CSV file the job can store (the message says why)."""


@dataclass(frozen=True, slots=True)
class ParsedCsv:
    header: list[str]
    chunks: list[list[list[str]]]  # rows (header excluded), CHUNK_ROWS a chunk
    rows: int


def parse_csv(data: bytes) -> ParsedCsv:
    """The header and the rows of an uploaded file (UTF-8, a BOM allowed); blank lines are
    not rows."""
    if len(data) > MAX_CSV_BYTES:
        raise UploadRefused(f"The CSV file is larger than {MAX_CSV_BYTES} bytes.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRefused("The CSV file is not UTF-8 text.") from None
    try:
        records = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
    except csv.Error as err:
        raise UploadRefused(f"The CSV file cannot be parsed: {err}") from None
    if not records:
        raise UploadRefused("The CSV file is empty: its first line must be the header.")
    header, rows = [name.strip() for name in records[0]], records[1:]
    chunks = [rows[i:i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)]
    return ParsedCsv(header=header, chunks=chunks, rows=len(rows))


def chunk_name(job_id: str, index: int) -> str:
    return f"{job_id}/{index:06d}"


def check_header(pool: UserPool, header: Sequence[str]) -> str | None:
    """Why the job cannot import with this header (a CompletionMessage), or None."""
    known = set(csv_header(pool))
    unknown = [name for name in header if name not in known]
    if unknown:
        return f"The CSV header names columns the user pool does not have: {', '.join(unknown)}."
    duplicated = sorted({name for name in header if list(header).count(name) > 1})
    if duplicated:
        return f"The CSV header names a column twice: {', '.join(duplicated)}."
    missing = [name for name in (USERNAME_COLUMN, MFA_COLUMN) if name not in header]
    if missing:
        return f"The CSV header lacks the required column(s) {', '.join(missing)}."
    if not pc.auto_verified_attributes(pool.config):
        return ("The user pool has no auto-verified attributes (email or phone_number): "
                "imported users could not reset their passwords.")
    return None


# -- rows into users ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A row that passed every check that needs no other user: who it would create."""

    line: int
    username: str  # the stored username (the sub in username-attribute pools: set by `decide_chunk`)
    username_key: str | None  # None in username-attribute pools: the username is a fresh sub
    attributes: dict[str, str]
    mfa: bool
    aliases: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkOutcome:
    users: tuple[User, ...]
    log: tuple[str, ...]
    imported: int
    skipped: int
    failed: int


def failed_line(line: int, reason: str) -> str:
    return f"[FAILED] Line Number {line} - {reason}"


def skipped_line(line: int, reason: str = EXISTS) -> str:
    return f"[SKIPPED] Line Number {line} - {reason}"


@dataclass(frozen=True, slots=True)
class RowRules:
    """What judging a row needs from the pool, worked out once per chunk."""

    config: Mapping[str, Any]
    schema: Mapping[str, Any]
    required: tuple[str, ...]
    auto_verified_flags: tuple[str, ...]
    username_attributes: frozenset[str]


def row_rules(pool: UserPool) -> RowRules:
    schema = pc.schema(pool.config)
    return RowRules(
        config=pool.config, schema=schema,
        required=tuple(d.name for d in schema.values() if d.required and d.name != "sub"),
        auto_verified_flags=tuple(attrs.VERIFIED_FLAGS_BY_TARGET[t] for t in sorted(pc.auto_verified_attributes(pool.config))),
        username_attributes=pc.username_attributes(pool.config),
    )


def parse_row(rules: RowRules, header: Sequence[str], values: Sequence[str], line: int) -> Candidate:
    """The user a row describes, or InvalidParameterException with the row's reason."""
    if len(values) != len(header):
        raise InvalidParameterException(f"The row has {len(values)} values; the header has {len(header)} columns.")
    row = dict(zip(header, (v.strip() for v in values), strict=True))
    config = rules.config
    typed = row.pop(USERNAME_COLUMN)
    if not typed:
        raise InvalidParameterException("The cognito:username value is required.")
    mfa_text = (row.pop(MFA_COLUMN, "") or "false").lower()
    if mfa_text not in ("true", "false"):
        raise InvalidParameterException("cognito:mfa_enabled must be true or false.")
    writes = {name: value for name, value in row.items() if value != ""}
    kind = identity.check_new_username(config, typed)
    if kind is not None:
        given = writes.get(kind)
        if given and given != typed:
            raise InvalidParameterException(f"Username and the {kind} attribute must be the same value in this user pool.")
        writes[kind] = typed
    attrs.check_writes(rules.schema, writes, current=None)
    for name in rules.required:
        if not writes.get(name):
            raise InvalidParameterException(f"Attributes did not conform to the schema: {name}: The attribute is required")
    if not any(attrs.is_true(writes.get(flag)) for flag in rules.auto_verified_flags):
        raise InvalidParameterException(NO_AUTO_VERIFIED)
    mfa = mfa_text == "true"
    if mfa and not writes.get("phone_number"):
        raise InvalidParameterException("cognito:mfa_enabled is true, but the user has no phone_number for SMS MFA.")
    attributes = attrs.ordered(writes)
    return Candidate(
        line=line, username=typed, username_key=None if kind else identity.username_key(config, typed),
        attributes=attributes, mfa=mfa, aliases=identity.aliases_of(config, attributes, "RESET_REQUIRED"),
    )


@dataclass(frozen=True, slots=True)
class Refused:
    line: int
    reason: str


def parse_rows(pool: UserPool, header: Sequence[str], rows: Sequence[Sequence[str]], *,
               first_line: int) -> list[Candidate | Refused]:
    """Each row judged alone (schema, required and auto-verified attributes, username rules)."""
    rules = row_rules(pool)
    parsed: list[Candidate | Refused] = []
    for offset, values in enumerate(rows):
        try:
            parsed.append(parse_row(rules, header, values, first_line + offset))
        except CognitoError as err:
            parsed.append(Refused(first_line + offset, err.message.strip()))
    return parsed


def claims_of(parsed: Sequence[Candidate | Refused]) -> tuple[set[str], set[tuple[str, str]]]:
    """The username keys and alias pairs the valid rows would claim: what the service looks
    up in the store before `decide_chunk`."""
    usernames: set[str] = set()
    aliases: set[tuple[str, str]] = set()
    for item in parsed:
        if isinstance(item, Candidate):
            if item.username_key is not None:
                usernames.add(item.username_key)
            aliases.update(item.aliases)
    return usernames, aliases


def decide_chunk(
    pool: UserPool,
    parsed: Sequence[Candidate | Refused],
    *,
    taken_usernames: set[str] | frozenset[str],
    taken_aliases: set[tuple[str, str]] | frozenset[tuple[str, str]],
    subs: Sequence[str],
    now: datetime,
) -> ChunkOutcome:
    """The users one chunk creates and the log of the rows it refuses. `taken_*` are the
    usernames and aliases of `claims_of(parsed)` someone in the pool already holds; `subs`
    a fresh sub per row. A row that claims what an earlier row of the chunk took is judged
    as if that user existed already."""
    usernames, aliases = set(taken_usernames), set(taken_aliases)
    username_attrs = pc.username_attributes(pool.config)
    users: list[User] = []
    log: list[str] = []
    skipped = failed = 0
    for item, sub in zip(parsed, subs, strict=True):
        if isinstance(item, Refused):
            log.append(failed_line(item.line, item.reason))
            failed += 1
            continue
        if item.username_key is not None and item.username_key in usernames:
            log.append(skipped_line(item.line))
            skipped += 1
            continue
        clash = next((pair for pair in item.aliases if pair in aliases), None)
        if clash is not None:
            if clash[0] in username_attrs:
                log.append(skipped_line(item.line))
                skipped += 1
            else:
                log.append(failed_line(item.line, f"An account with the {clash[0]} already exists."))
                failed += 1
            continue
        username = sub if item.username_key is None else item.username
        if item.username_key is not None:
            usernames.add(item.username_key)
        aliases.update(item.aliases)
        users.append(User(
            pool_id=pool.id, username=username, username_key=identity.username_key(pool.config, username),
            sub=sub, attributes=attrs.ordered({"sub": sub, **item.attributes}), status="RESET_REQUIRED",
            enabled=True, credential=None, created=now, modified=now, aliases=item.aliases,
            mfa_settings=("SMS_MFA",) if item.mfa else (), preferred_mfa="SMS_MFA" if item.mfa else None,
        ))
    return ChunkOutcome(users=tuple(users), log=tuple(log[:MAX_LOG_LINES]), imported=len(users),
                        skipped=skipped, failed=failed)
