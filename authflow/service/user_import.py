"""User import: GetCSVHeader, CreateUserImportJob, DescribeUserImportJob, ListUserImportJobs,
StartUserImportJob, StopUserImportJob; the upload of a job's CSV (`upload_csv`) and the import
itself (`run_job`, `run_pending`).

Theory of operation (the rules are in `authflow.core.user_import`): a job's PreSignedUrl points
at this engine's server (`serve_uploads` records the server's public URL; without a server,
the issuer base URL, else `DEFAULT_BASE_URL`), signed with a key derived from the engine's KEK.
`upload_csv` checks the URL, parses the file and stores it in chunks, all in one transaction.

StartUserImportJob moves the job to Pending. When a background runner is attached to the
engine (`authflow serve` starts `authflow.adapters.import_runner.ImportRunner`) it is woken and
imports; without one (an in-process `authflow.Client`) Start imports before it returns, so a
later Describe shows the finished job either way. `run_job` imports one chunk per
transaction, the job record's counts and next-chunk index written with the chunk's users, so
a crash resumes where the last commit left off and no row is imported twice; two runners on
one job cannot both commit a chunk (the job record's version). StopUserImportJob stops the
job between two chunks: it is Stopped when Stop returns.
"""

from __future__ import annotations

import logging
import re
import string
import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authflow.core import user_import as core
from authflow.core.records import PoolResource
from authflow.core.users import new_sub
from authflow.errors import CognitoError
from authflow.ports import TransientConflict
from authflow.service.engine import Engine
from authflow.service.registry import operation

log = logging.getLogger("authflow.user_import")

#: Where PreSignedUrls point when the engine knows of no server (`authflow serve`'s default).
DEFAULT_BASE_URL = "http://localhost:9229"
_ALNUM = string.ascii_letters + string.digits
#: How many times a chunk is tried again after a store conflict before the run gives up (the
#: job stays InProgress and the next run resumes it).
_CHUNK_ATTEMPTS = 5


class Runner(Protocol):
    def wake(self) -> None: ...


_BASE_URLS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_RUNNERS: weakref.WeakKeyDictionary[Engine, Runner] = weakref.WeakKeyDictionary()


def serve_uploads(engine: Engine, public_url: str) -> None:
    """PreSignedUrls of this engine point at `public_url` (the HTTP app calls this)."""
    _BASE_URLS[engine] = public_url.rstrip("/")


def attach_runner(engine: Engine, runner: Runner | None) -> None:
    """Imports run in `runner` (woken by StartUserImportJob) instead of inside Start; None detaches."""
    if runner is None:
        _RUNNERS.pop(engine, None)
    else:
        _RUNNERS[engine] = runner


def _base_url(engine: Engine) -> str:
    return _BASE_URLS.get(engine) or (engine.config.issuer_base_url or DEFAULT_BASE_URL).rstrip("/")


def _url_key(engine: Engine) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"authflow:user-import-url").derive(engine.keyring.current)


def _require(tx, pool_id: str, job_id: str, now: datetime) -> PoolResource:
    """The job as it stands now (a Created job past its expiry reads as Expired)."""
    return core.as_of(core.require_job(pool_id, job_id, tx.get_resource(pool_id, core.JOB, job_id)), now)


# -- the operations ---------------------------------------------------------------------------


@operation("GetCSVHeader")
def get_csv_header(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
    return {"UserPoolId": pool.id, "CSVHeader": core.csv_header(pool)}


@operation("CreateUserImportJob")
def create_user_import_job(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    job_id = "import-" + engine.random_string(10, _ALNUM)
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        url = core.presigned_url(_url_key(engine), _base_url(engine), pool.id, job_id, now)
        job = core.new_job(pool.id, request, job_id=job_id, url=url, now=now)
        tx.put_resource(job)
    return {"UserImportJob": core.job_type(job)}


@operation("DescribeUserImportJob")
def describe_user_import_job(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        return {"UserImportJob": core.job_type(_require(tx, pool.id, request["JobId"], engine.now()))}


@operation("ListUserImportJobs")
def list_user_import_jobs(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        now = engine.now()
        jobs = [core.as_of(job, now) for job in _all_jobs(tx, pool.id)]
    page, token = core.list_page(jobs, after=request.get("PaginationToken"), limit=request["MaxResults"])
    response: dict[str, Any] = {"UserImportJobs": [core.job_type(j) for j in page]}
    if token is not None:
        response["PaginationToken"] = token
    return response


def _all_jobs(tx, pool_id: str) -> list[PoolResource]:
    jobs: list[PoolResource] = []
    after = None
    while True:
        batch = tx.list_resources(pool_id, core.JOB, after=after, limit=500)
        jobs.extend(batch)
        if len(batch) < 500:
            return jobs
        after = batch[-1].name


@operation("StartUserImportJob")
def start_user_import_job(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        job = core.moved(_require(tx, pool.id, request["JobId"], now), "start", now)
        tx.put_resource(job)
    response = {"UserImportJob": core.job_type(job)}
    runner = _RUNNERS.get(engine)
    if runner is not None:
        runner.wake()
    else:
        run_job(engine, job.pool_id, job.name)
    return response


@operation("StopUserImportJob")
def stop_user_import_job(engine: Engine, request: Mapping[str, Any]) -> dict[str, Any]:
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = engine.require_pool(tx, request["UserPoolId"])
        current = _require(tx, pool.id, request["JobId"], now)
        # A chunk is one transaction and its commit needs the job's current version: once this
        # commits, no chunk of the job can, so the job is Stopped at once (one write, one version).
        stopping = core.moved(current, "stop", now)
        job = replace(core.moved(stopping, "halt", now, CompletionMessage=core.STOPPED_MESSAGE),
                      version=current.version + 1)
        _drop_rows(tx, job)
        tx.put_resource(job)
    return {"UserImportJob": core.job_type(job)}


# -- the upload -----------------------------------------------------------------------------


class UploadError(Exception):
    """An upload refused: `status` is the HTTP status, `code` S3's error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


#: The path of an upload URL (after the public URL's own path, if it has one), and of its log.
_UPLOAD_PATH = re.compile(r"/_authflow/user-import/([^/]+)/([^/]+)$")
_LOG_PATH = re.compile(r"/_authflow/user-import/([^/]+)/([^/]+)/log$")


def _signed_job(engine: Engine, url: str, *, expiring: bool) -> tuple[str, str]:
    """The pool and job a PreSignedUrl (or its `/log` form) names, once its signature holds."""
    parts = urlsplit(url)
    match = (_UPLOAD_PATH if expiring else _LOG_PATH).search(parts.path)
    if match is None:
        raise UploadError(404, "NoSuchKey", "The URL is not a user import job's upload URL.")
    pool_id, job_id = match.group(1), match.group(2)
    query = dict(parse_qsl(parts.query))
    if not core.upload_allowed(_url_key(engine), pool_id, job_id, query, engine.now() if expiring else None):
        raise UploadError(403, "AccessDenied", "Request has expired or its signature does not match.")
    return pool_id, job_id


def log_by_url(engine: Engine, url: str) -> list[str]:
    """`job_log` of the job whose PreSignedUrl, with `/log` after the JobId, is `url`: the
    signature, not its expiry, is checked (the log names line numbers and reasons, never a
    user's data, as Cognito's CloudWatch log)."""
    pool_id, job_id = _signed_job(engine, url, expiring=False)
    try:
        return job_log(engine, pool_id, job_id)
    except CognitoError as err:
        raise UploadError(404, "NoSuchKey", err.message) from None


def upload_csv(engine: Engine, url: str, data: bytes) -> dict[str, Any]:
    """Store `data` as the CSV of the job whose PreSignedUrl is `url` (what the HTTP PUT does;
    callable in process too). Returns the job (UserImportJobType); raises UploadError."""
    pool_id, job_id = _signed_job(engine, url, expiring=True)
    try:
        parsed = core.parse_csv(data)
    except core.UploadRefused as err:
        raise UploadError(400, "InvalidArgument", str(err)) from None
    now = engine.now()
    with engine.store.transaction() as tx:
        job = tx.get_resource(pool_id, core.JOB, job_id)
        if job is None:
            raise UploadError(404, "NoSuchKey", f"Import job {job_id} does not exist in user pool {pool_id}.")
        status = core.as_of(job, now).body["Status"]
        if status != "Created":
            raise UploadError(409, "InvalidRequest", f"Import job {job_id} is {status}: its CSV can no longer change.")
        _drop_rows(tx, job)
        for index, rows in enumerate(parsed.chunks):
            tx.put_resource(PoolResource(pool_id=pool_id, kind=core.ROWS, name=core.chunk_name(job_id, index),
                                         body={"first_line": 2 + index * core.CHUNK_ROWS, "rows": rows},
                                         created=now, modified=now))
        tracking = {**job.body["_import"], "chunks": len(parsed.chunks), "rows": parsed.rows, "header": parsed.header}
        job = PoolResource(pool_id=pool_id, kind=core.JOB, name=job_id, body={**job.body, "_import": tracking},
                           created=job.created, modified=now, version=job.version + 1)
        tx.put_resource(job)
    log.info("user import %s: stored %d rows in %d chunks", job_id, parsed.rows, len(parsed.chunks))
    return core.job_type(job)


def _drop_rows(tx, job: PoolResource) -> None:
    chunks = core.progress(job).get("chunks") or 0
    for index in range(chunks):
        name = core.chunk_name(job.name, index)
        if tx.get_resource(job.pool_id, core.ROWS, name) is not None:
            tx.delete_resource(job.pool_id, core.ROWS, name)


# -- the import -----------------------------------------------------------------------------


def run_pending(engine: Engine, *, stop: Callable[[], bool] | None = None) -> int:
    """Run every Pending or InProgress job of every pool to its end (or until `stop()` is
    true); how many were run."""
    found: list[tuple[str, str]] = []
    after = None
    while True:
        with engine.store.transaction() as tx:
            pools = tx.list_pools(after=after, limit=100)
            for pool in pools:
                found.extend((pool.id, job.name) for job in _all_jobs(tx, pool.id)
                             if job.body["Status"] in ("Pending", "InProgress"))
        if len(pools) < 100:
            break
        after = pools[-1].id
    for pool_id, job_id in found:
        run_job(engine, pool_id, job_id, stop=stop)
    return len(found)


def run_job(engine: Engine, pool_id: str, job_id: str, *, max_chunks: int | None = None,
            stop: Callable[[], bool] | None = None) -> str | None:
    """Import the job's remaining chunks, one transaction each, until it ends, is stopped,
    `max_chunks` chunks were imported, or `stop()` is true. Returns the job's status then
    (None: the job or its pool is gone)."""
    done = 0
    conflicts = 0
    while True:
        if stop is not None and stop():
            return _status(engine, pool_id, job_id)
        if max_chunks is not None and done >= max_chunks:
            return _status(engine, pool_id, job_id)
        try:
            status, lines, imported = _step(engine, pool_id, job_id)
        except TransientConflict:
            conflicts += 1
            if conflicts >= _CHUNK_ATTEMPTS:
                log.warning("user import %s: gave up after %d store conflicts; it resumes with the next run",
                            job_id, conflicts)
                return _status(engine, pool_id, job_id)
            continue
        conflicts = 0
        for line in lines:
            log.info("user import %s: %s", job_id, line)
        if imported:
            done += 1
        if status not in ("Pending", "InProgress"):
            return status


def _status(engine: Engine, pool_id: str, job_id: str) -> str | None:
    with engine.store.transaction() as tx:
        job = tx.get_resource(pool_id, core.JOB, job_id)
    return None if job is None else job.body["Status"]


def _step(engine: Engine, pool_id: str, job_id: str) -> tuple[str | None, tuple[str, ...], bool]:
    """One transaction of the run: begin, import one chunk, or finish. Returns the status
    after it, the log lines it wrote, and whether it imported a chunk."""
    now = engine.now()
    with engine.store.transaction() as tx:
        pool = tx.get_pool(pool_id)
        job = tx.get_resource(pool_id, core.JOB, job_id)
        if pool is None or job is None:
            return None, (), False
        status = job.body["Status"]
        tracking = core.progress(job)
        if status == "Pending":
            problem = ("The CSV file has not been uploaded to the job's PreSignedUrl."
                       if tracking.get("chunks") is None else core.check_header(pool, tracking["header"]))
            if problem is not None:
                job = core.moved(job, "finish_failed", now, CompletionMessage=problem)
                _drop_rows(tx, job)
            else:
                job = core.moved(job, "begin", now)
            tx.put_resource(job)
            return job.body["Status"], ((f"[FAILED] {problem}",) if problem else ()), False
        if status != "InProgress":
            return status, (), False
        index = tracking["next_chunk"]
        if index >= tracking["chunks"]:
            trigger, message = core.finish_trigger(job)
            job = core.moved(job, trigger, now, CompletionMessage=message)
            _drop_rows(tx, job)
            tx.put_resource(job)
            return job.body["Status"], (), False
        chunk = tx.get_resource(pool_id, core.ROWS, core.chunk_name(job_id, index))
        rows = chunk.body["rows"] if chunk is not None else []
        first_line = chunk.body["first_line"] if chunk is not None else 2 + index * core.CHUNK_ROWS
        parsed = core.parse_rows(pool, tracking["header"], rows, first_line=first_line)
        usernames, aliases = core.claims_of(parsed)
        taken_usernames = {key for key in usernames if tx.get_user(pool_id, key) is not None}
        taken_aliases = {pair for pair in aliases if tx.get_user_by_alias(pool_id, *pair) is not None}
        subs = [new_sub(engine.entropy) for _ in parsed]
        outcome = core.decide_chunk(pool, parsed, taken_usernames=taken_usernames, taken_aliases=taken_aliases,
                                    subs=subs, now=now)
        try:
            engine.write(tx, puts=outcome.users)
        except CognitoError:
            # Another writer took a username or an alias since the lookups: run the chunk again.
            raise TransientConflict("a user of the chunk was created meanwhile") from None
        if outcome.log:
            tx.put_resource(PoolResource(pool_id=pool_id, kind=core.LOG, name=core.chunk_name(job_id, index),
                                         body={"lines": list(outcome.log)}, created=now, modified=now))
        job = core.advanced(job, now, imported=outcome.imported, skipped=outcome.skipped, failed=outcome.failed)
        tx.put_resource(job)
        return job.body["Status"], outcome.log, True


def job_log(engine: Engine, pool_id: str, job_id: str) -> list[str]:
    """The failed and skipped rows of a job, in the form Cognito writes to CloudWatch
    ("[FAILED] Line Number 7 - ..."), in row order."""
    lines: list[str] = []
    with engine.store.transaction() as tx:
        engine.require_pool(tx, pool_id)
        _require(tx, pool_id, job_id, engine.now())
        after = f"{job_id}/"
        while True:
            batch = tx.list_resources(pool_id, core.LOG, after=after, limit=100)
            mine = [r for r in batch if r.name.startswith(f"{job_id}/")]
            for record in mine:
                lines.extend(record.body["lines"])
            if len(batch) < 100 or len(mine) < len(batch):
                return lines
            after = batch[-1].name
