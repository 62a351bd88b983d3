"""The HTTP face of authflow: a Starlette app speaking Cognito's JSON 1.1 protocol.

Theory of operation: the app is thin. `POST /` reads the body (refusing more than
`MAX_BODY_BYTES` before parsing anything), then hands the raw request to
`authflow.wire.protocol.handle` in a worker thread, because the engine is synchronous
(Argon2id and the store block). The GET routes serve what AWS serves as public URLs:
each pool's JWKS and OpenID discovery document, plus `/health`. Every response, errors
and 404s included, carries `x-amzn-RequestId`.

`create_app` takes a ready `authflow.Client`, so tests run the app over any store, clock
and entropy; `authflow serve` (`authflow.cli`) builds the production one.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authflow import errors
from authflow.adapters.entropy import SystemEntropy
from authflow.adapters.outbox import LogMessenger
from authflow.client import Client
from authflow.config import EngineConfig
from authflow.service import keys
from authflow.wire import credentials, protocol
from authflow.wire.protocol import MAX_BODY_BYTES, Signing


def create_app(client: Client, signing: Signing, *, public_url: str) -> Starlette:
    """The ASGI app. `public_url` is where clients reach this server (no trailing
    slash); discovery documents point at it."""
    engine = client.engine
    public_url = public_url.rstrip("/")

    async def api(request: Request) -> Response:
        body = await _read_body(request)
        if isinstance(body, int):
            answer = protocol.error_response(protocol.body_too_large(body), engine.request_id())
        else:
            answer = await run_in_threadpool(
                protocol.handle,
                engine,
                signing,
                method=request.method,
                path=request.scope.get("raw_path", b"/").decode("latin-1") or "/",
                query=request.scope.get("query_string", b"").decode("latin-1"),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
                body=body,
            )
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    def _pool_document(pool_id: str, build) -> Response:
        request_id = engine.request_id()
        try:
            with engine.store.transaction() as tx:
                engine.require_pool(tx, pool_id)
                document = build(tx)
        except errors.CognitoError as err:
            answer = protocol.error_response(err, request_id)
            return Response(answer.body, status_code=404, headers=answer.headers)
        return JSONResponse(
            document,
            headers={"x-amzn-RequestId": request_id, "Cache-Control": "public, max-age=300"},
        )

    def jwks(request: Request) -> Response:
        pool_id = request.path_params["pool_id"]
        return _pool_document(pool_id, lambda tx: keys.jwks(tx, pool_id, engine.now()))

    def discovery(request: Request) -> Response:
        pool_id = request.path_params["pool_id"]
        return _pool_document(pool_id, lambda tx: {
            "issuer": engine.issuer(pool_id),
            "jwks_uri": f"{public_url}/{pool_id}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["token"],
        })

    def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"x-amzn-RequestId": engine.request_id()})

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return JSONResponse(
            {"__type": "UnknownOperationException",
             "message": f"No route for {request.method} {request.scope['path']}."},
            status_code=status,
            headers={"x-amzn-RequestId": engine.request_id(), "x-amzn-ErrorType": "UnknownOperationException:"},
        )

    routes = [
        Route("/", api, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/{pool_id}/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/{pool_id}/.well-known/openid-configuration", discovery, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})


async def _read_body(request: Request) -> bytes | int:
    """The body, or its size so far once it passes the limit (nothing more is read)."""
    declared = request.headers.get("content-length", "")
    # isascii: str.isdigit() accepts digits such as "²" that int() refuses.
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return int(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return size
        chunks.append(chunk)
    return b"".join(chunks)



# -- `authflow serve` ------------------------------------------------------------------


class StartupError(Exception):
    """`authflow serve` cannot start with these options; the message says why."""


def build(args: argparse.Namespace) -> tuple[Starlette, list[str]]:
    """The app for `authflow serve`'s options, and the lines to print on start."""
    if args.workers < 1:
        raise StartupError("--workers must be at least 1")
    public_url = (args.public_url or f"http://{_url_host(args.host)}:{args.port}").rstrip("/")
    if args.store:
        raise StartupError(
            f"--store {args.store.split(':', 1)[0]}:... is not available yet: this version has only "
            "the in-memory store (durable SQLite and PostgreSQL stores are being built)."
        )
    if args.workers > 1:
        raise StartupError(
            "--workers above 1 needs a store shared between processes; the in-memory store "
            "lives inside one process."
        )
    db = Path(args.db)
    lines = [f"authflow serve: Cognito user pools (cognito-idp) at {public_url}/"]
    lines.append(
        "  store:       in-memory. WARNING: nothing persists; every pool and user is lost "
        "when the server stops (durable storage is not built yet)."
    )
    signing, credential_lines = _signing(args, db)
    lines.extend(credential_lines)
    issuer_base = public_url if args.issuer_style == "local" else None
    client = Client(
        messenger=LogMessenger(),
        region=args.region,
        config=EngineConfig(issuer_base_url=issuer_base),
    )
    issuer = client.engine.issuer("<poolId>")
    lines.append(f"  issuer:      {issuer}  (JWKS at {public_url}/<poolId>/.well-known/jwks.json)")
    lines.extend(_how_to_connect(public_url, args.region, signing, args))
    return create_app(client, signing, public_url=public_url), lines


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def default_credentials_path(db: Path) -> Path:
    """Where serve keeps the credential it generates: beside the database
    (`authflow.db` -> `authflow.credentials`)."""
    return db.with_suffix(".credentials")


def _signing(args: argparse.Namespace, db: Path) -> tuple[Signing, list[str]]:
    if args.insecure_no_auth:
        return Signing(None), [
            "  signing:     OFF (--insecure-no-auth): anyone who can reach this port may call "
            "admin operations"
        ]
    if args.credentials:
        path = Path(args.credentials)
        try:
            secrets = credentials.load(path)
        except credentials.CredentialsError as err:
            raise StartupError(str(err)) from None
        return Signing(secrets), [
            f"  credentials: {path.resolve()} ({len(secrets)} access key(s) accepted for signed operations)"
        ]
    path = default_credentials_path(db)
    if path.exists():
        try:
            secrets = credentials.load(path)
        except credentials.CredentialsError as err:
            raise StartupError(str(err)) from None
        return Signing(secrets), [f"  credentials: {path.resolve()} (profile default)"]
    key_id, secret = credentials.create(path, SystemEntropy())
    return Signing({key_id: secret}), [
        f"  credentials: created {path.resolve()} (profile default):",
        f"               aws_access_key_id     = {key_id}",
        f"               aws_secret_access_key = {secret}",
    ]


def _how_to_connect(public_url: str, region: str, signing: Signing, args) -> list[str]:
    lines = ["", "Point boto3 and the AWS CLI at it:"]
    exports = [f"AWS_DEFAULT_REGION={region}"]
    if signing.secrets is not None:
        file = Path(args.credentials) if args.credentials else default_credentials_path(Path(args.db))
        exports.insert(0, f"AWS_SHARED_CREDENTIALS_FILE={file.resolve()}")
    else:
        exports.extend(["AWS_ACCESS_KEY_ID=unused", "AWS_SECRET_ACCESS_KEY=unused"])
    lines.append(f"  export {' '.join(exports)}")
    lines.append(
        f"  python -c 'import boto3; print(boto3.client(\"cognito-idp\", "
        f"endpoint_url=\"{public_url}\").list_user_pools(MaxResults=10))'"
    )
    lines.append(f"  aws --endpoint-url {public_url} cognito-idp list-user-pools --max-results 10")
    lines.append("Stop with Ctrl-C.")
    return lines


def serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import uvicorn

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        app, lines = build(args)
    except StartupError as err:
        parser.error(str(err))
    print("\n".join(lines), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                timeout_graceful_shutdown=5)
    return 0
