"""The upload URL of user import jobs: `PUT <public_url>/_authflow/user-import/<poolId>/<JobId>?...`.

A job's PreSignedUrl points here (`authflow.service.user_import.serve_uploads` tells the
engine the server's public URL). The request carries no AWS signature: as with S3's
pre-signed URLs, the query is the credential (an HMAC over the pool, the job and the date,
valid 15 minutes). Headers are not checked, so the curl command of Cognito's guide
(`-H "x-amz-server-side-encryption:aws:kms"`) works unchanged. Errors answer as S3 does,
in XML.

`GET <the PreSignedUrl's path>/log?<its query>` answers the job's row log as text, one line
per failed or skipped row in the form Cognito writes to CloudWatch ("[FAILED] Line Number 7
- ..."): what the CloudWatch log is for on AWS. Its signature is checked, not its expiry.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from authflow.core.user_import import MAX_CSV_BYTES
from authflow.service import user_import as service

PATH = "/_authflow/user-import/{pool_id}/{job_id}"


def routes(ctx) -> list[BaseRoute]:
    engine = ctx.engine
    service.serve_uploads(engine, ctx.public_url)

    async def upload(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_CSV_BYTES:
            return _error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_CSV_BYTES:
                return _error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
            chunks.append(chunk)
        try:
            await run_in_threadpool(service.upload_csv, engine, str(request.url), b"".join(chunks))
        except service.UploadError as err:
            return _error(err.status, err.code, err.message)
        return Response(b"", status_code=200, headers={"x-amz-server-side-encryption": "aws:kms"})

    async def job_log(request: Request) -> Response:
        try:
            lines = await run_in_threadpool(service.log_by_url, engine, str(request.url))
        except service.UploadError as err:
            return _error(err.status, err.code, err.message)
        return PlainTextResponse("".join(f"{line}\n" for line in lines), headers={"Cache-Control": "no-store"})

    return [Route(PATH, upload, methods=["PUT"]), Route(PATH + "/log", job_log, methods=["GET"])]


def _error(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error>")
    return Response(body, status_code=status, media_type="application/xml")
