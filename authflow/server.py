"""The HTTP face of authflow: a Starlette app speaking Cognito's JSON 1.1 protocol.

Theory of operation: the app is thin. `POST /` reads the body (refusing more than
`MAX_BODY_BYTES` before parsing anything), then hands the raw request to
`authflow.wire.protocol.handle` in a worker thread, because the engine is synchronous
(Argon2id and the store block). The GET routes serve what AWS serves as public URLs:
each pool's JWKS and OpenID discovery document, plus `/health`. Every response, errors
and 404s included, carries `x-amzn-RequestId`.

`create_app` takes a ready `authflow.Client`, so tests run the app over any store, clock
and entropy; `authflow serve` (`authflow.serve`) builds the production one.

With `hooks` (`authflow serve --test-hooks`) the app also serves the conformance suite's
out-of-band hooks (`authflow.conformance.targets`): the outbox, message bodies included,
and a clock that moves forward on request. They hand out temporary passwords and codes
and can expire every session, so they are for test services only, and with signing on
they answer only requests signed with an accepted access key.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authflow import errors
from authflow.adapters.clocks import OffsetClock
from authflow.adapters.outbox import MemoryOutbox
from authflow.client import Client
from authflow.conformance.targets import CLOCK_PATH, HOOKS_PATH, OUTBOX_PATH, messages_for
from authflow.service import keys
from authflow.web import app as web
from authflow.wire import protocol, sigv4
from authflow.wire.protocol import MAX_BODY_BYTES, Signing


@dataclass(frozen=True)
class ConformanceHooks:
    """What the test hooks reach: the engine's clock and the outbox it sends to."""

    clock: OffsetClock
    outbox: MemoryOutbox

    #: The most a clock request may move time (a typo should not leap a century).
    MAX_ADVANCE_SECONDS = 400 * 86400


def create_app(
    client: Client, signing: Signing, *, public_url: str, on_shutdown: Callable[[], None] | None = None,
    hooks: ConformanceHooks | None = None,
) -> Starlette:
    """The ASGI app. `public_url` is where clients reach this server (no trailing
    slash); discovery documents point at it. `on_shutdown` runs when the server stops
    (e.g. to close the store). `hooks` adds the test hooks (see the module's doc)."""
    engine = client.engine
    public_url = public_url.rstrip("/")

    async def api(scope, receive, send) -> None:
        body = await _read_asgi_body(scope, receive)
        if isinstance(body, int):
            answer = protocol.error_response(protocol.body_too_large(body), engine.request_id())
        else:
            client_address = scope.get("client")
            answer = await _off_loop(functools.partial(
                protocol.handle,
                engine,
                signing,
                method=scope["method"],
                path=scope.get("raw_path", b"/").decode("latin-1") or "/",
                query=scope.get("query_string", b"").decode("latin-1"),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
                body=body,
                peer=client_address[0] if client_address is not None else None,
            ))
        await _send_answer(send, answer)

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
        return _pool_document(pool_id, lambda tx: discovery_document(
            issuer=engine.issuer(pool_id), public_url=public_url, pool_id=pool_id,
            domain=pool_domain(tx, pool_id),
        ))

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

    def hook_error(message: str) -> Response:
        return JSONResponse({"__type": "InvalidParameterException", "message": message}, status_code=400,
                            headers={"x-amzn-RequestId": engine.request_id()})

    def list_hooks(request: Request) -> Response:
        return JSONResponse({"Hooks": ["outbox", "clock"]})

    async def authorised_body(request: Request) -> bytes | Response:
        """The body of a hook request, or the refusal. With signing on, the outbox and the
        clock answer only requests signed as the API's admin operations are (SigV4, service
        cognito-idp): they hand out codes."""
        body = await _read_body(request)
        if isinstance(body, int):
            return hook_error("The request body is too large.")
        if signing.secrets is not None:
            try:
                sigv4.verify(
                    method=request.method, path=request.scope.get("raw_path", b"/").decode("latin-1"),
                    query=request.scope.get("query_string", b"").decode("latin-1"),
                    headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
                    body=body, secrets=signing.secrets, now=(signing.clock or engine.clock).now(),
                    region=engine.region,
                )
            except errors.CognitoError as err:
                return JSONResponse({"__type": err.code, "message": err.message}, status_code=403,
                                    headers={"x-amzn-RequestId": engine.request_id()})
        return body

    async def outbox(request: Request) -> Response:
        body = await authorised_body(request)
        if isinstance(body, Response):
            return body
        pool_id, username = request.query_params.get("UserPoolId"), request.query_params.get("Username")
        if not pool_id or not username:
            return hook_error("UserPoolId and Username are required query parameters.")
        assert hooks is not None
        return JSONResponse({"Messages": messages_for(hooks.outbox, pool_id, username)})

    async def clock(request: Request) -> Response:
        body = await authorised_body(request)
        if isinstance(body, Response):
            return body
        try:
            seconds = json.loads(body).get("AdvanceSeconds")
        except (ValueError, AttributeError):
            seconds = None
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= ConformanceHooks.MAX_ADVANCE_SECONDS:
            return hook_error(f"AdvanceSeconds must be an integer from 0 to {ConformanceHooks.MAX_ADVANCE_SECONDS}.")
        assert hooks is not None
        now = hooks.clock.advance(timedelta(seconds=seconds))
        return JSONResponse({"Now": now.isoformat()})

    routes = [
        # Reached only by other methods (405) or a path ApiRoute does not take: POST / itself
        # is answered by ApiRoute before the router.
        Route("/", _Asgi(api), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/{pool_id}/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/{pool_id}/.well-known/openid-configuration", discovery, methods=["GET"]),
    ]
    if hooks is not None:
        routes += [
            Route(HOOKS_PATH, list_hooks, methods=["GET"]),
            Route(OUTBOX_PATH, outbox, methods=["GET"]),
            Route(CLOCK_PATH, clock, methods=["POST"]),
        ]
    routes += web.routes(web.WebContext(client=client, public_url=public_url, signing=signing,
                                        outbox=hooks.outbox if hooks is not None else None))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from authflow.adapters.import_runner import ImportRunner

        runner = ImportRunner(engine).start()  # user import jobs run in the background while serving
        yield
        runner.stop()
        if on_shutdown is not None:
            on_shutdown()

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found}, lifespan=lifespan)
    app.add_middleware(web.DomainHosts, engine=engine)
    app.add_middleware(ApiRoute, api=api)  # outermost: POST / skips the router (see ApiRoute)
    return app


def pool_domain(tx, pool_id: str) -> str | None:
    """The pool's domain the discovery document lists: its prefix domain if it has one,
    else its custom domain (an FQDN), else None."""
    domains = sorted((r.name for r in tx.list_resources(pool_id, "domain", after=None, limit=10)),
                     key=lambda name: ("." in name, name))
    return domains[0] if domains else None


def discovery_document(*, issuer: str, public_url: str, pool_id: str, domain: str | None) -> dict:
    """`/.well-known/openid-configuration` (§5.8 of the OAuth reference): the endpoints of
    the pool's domain at `/domains/<domain>/...`, or empty strings when the pool has no
    domain, as AWS publishes them."""
    base = web.domain_base(public_url, domain) if domain else None

    def at(path: str) -> str:
        return f"{base}{path}" if base else ""

    return {
        "authorization_endpoint": at("/oauth2/authorize"),
        "end_session_endpoint": at("/logout"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "issuer": issuer,
        "jwks_uri": f"{public_url}/{pool_id}/.well-known/jwks.json",
        "response_types_supported": ["code", "token"],
        "revocation_endpoint": at("/oauth2/revoke"),
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "token_endpoint": at("/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "userinfo_endpoint": at("/oauth2/userInfo"),
    }


class ApiRoute:
    """ASGI middleware: `POST /` (every API call) goes straight to `api`; everything else
    on to the app. The API is one route that reads a body and answers bytes, so Starlette's
    router, exception middleware, Request and Response objects were all overhead on the
    path every call takes (about a fifth of the server's time per AdminGetUser, measured
    for docs/benchmarks.md). Any other method on `/` still reaches the router (405)."""

    def __init__(self, app, *, api) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and _route_path(scope) == "/":
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _Asgi:
    """An ASGI callable as a Route's app (a bare async function would be taken as a
    request/response endpoint)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)


def _route_path(scope) -> str:
    """The path Starlette's router matches (its `get_route_path`: the path below root_path)."""
    path, root = scope["path"], scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root):] if path[len(root)] == "/" else path


#: The threads API calls run on (the engine is synchronous: Argon2id and the store block).
#: As many as anyio's default (Starlette's threadpool), so the same number of calls can wait
#: on a lock or a trigger at once; one pool for the process, started on first use.
_API_THREADS = 40
_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


async def _off_loop(fn: Callable[[], protocol.WireResponse]) -> protocol.WireResponse:
    """Run `fn` on a worker thread with this task's context variables, as Starlette's
    run_in_threadpool does, through asyncio's executor hook (cheaper than anyio's)."""
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = concurrent.futures.ThreadPoolExecutor(_API_THREADS, thread_name_prefix="authflow-api")
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_executor, context.run, fn)


async def _send_answer(send, answer: protocol.WireResponse) -> None:
    # The headers exactly as Starlette's Response sent them: lower-cased, then content-length.
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    if b"content-length" not in (name for name, _ in headers):
        headers.append((b"content-length", str(len(answer.body)).encode("latin-1")))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _read_asgi_body(scope, receive) -> bytes | int:
    """`_read_body` for the bare ASGI route: the body, or its size so far once it passes
    the limit; a client gone mid-body raises ClientDisconnect, as Request.stream() does."""
    declared = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-length"), "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return int(declared)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return size
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


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


