"""What the scenarios run against: an endpoint over HTTP (boto3), or `Client` in process.

Both give a call's outcome as a response or an error (code and message), and say which
out-of-band hooks they offer:

- `outbox`: the messages the service sent a user (invitations, codes), so a scenario
  can read a temporary password or a code as the user would from their inbox;
- `clock`: moving the service's clock forward (expiry of temporary passwords, codes,
  sessions and tokens).

Over HTTP the hooks are the small protocol `authflow serve --test-hooks` speaks, open to
any implementation that wants its time-dependent and message-reading scenarios run:

- `GET  /_authflow/hooks` -> `{"Hooks": ["outbox", "clock"]}` (a 404: no hooks);
- `GET  /_authflow/outbox?UserPoolId=ID&Username=NAME` -> `{"Messages": [{"Kind",
  "Medium", "Destination", "Subject", "Body", "Code"}, ...]}`, oldest first: the messages
  sent in that pool to the user NAME (case-blind), or to the address NAME (an email
  address or phone number, to tell apart an email and an SMS sent together);
- `POST /_authflow/clock` with `{"AdvanceSeconds": N}` -> `{"Now": ISO-8601}`.

Both also reach a pool's OAuth endpoints as any client does, with no hook (`web`: one
HTTP request, redirects not followed; `discovery_url`: where the pool's OpenID discovery
document is, `<endpoint>/<poolId>/.well-known/openid-configuration` over HTTP, as on AWS
at `https://cognito-idp.<region>.amazonaws.com`). In process, `web` is answered by the
very app `authflow serve` runs (`authflow.server.create_app` over the target's `Client`,
through Starlette's TestClient), so the same routes answer either way.

Hook requests carry a SigV4 signature made with the run's credentials (service
`cognito-idp`), as the API's requests do; `authflow serve` checks it whenever signing is
on. Without a hook, the scenarios that need it are skipped, with the reason.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from authflow.conformance.browser import WebAnswer

HOOKS_PATH = "/_authflow/hooks"
OUTBOX_PATH = "/_authflow/outbox"
CLOCK_PATH = "/_authflow/clock"


@dataclass(frozen=True)
class Outcome:
    response: dict[str, Any] | None  # None: the call failed
    error_code: str = ""
    error_message: str = ""


class Target(Protocol):
    name: str
    hooks: frozenset[str]

    def call(self, operation: str, request: dict[str, Any]) -> Outcome: ...

    def messages(self, pool_id: str, username: str) -> list[dict[str, Any]]: ...

    def advance(self, seconds: int) -> None: ...

    def now(self) -> datetime: ...

    def web(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> WebAnswer: ...

    def discovery_url(self, pool_id: str) -> str: ...


def message_dict(message: Any) -> dict[str, Any]:
    """An `authflow.core.effects.Message` as the outbox hook reports it."""
    return {"Kind": message.kind, "Medium": message.medium, "Destination": message.destination,
            "Subject": message.subject, "Body": message.body, "Code": message.code,
            "Username": message.username}


def messages_for(outbox: Any, pool_id: str, username: str) -> list[dict[str, Any]]:
    """The messages of a MemoryOutbox sent in `pool_id` to the user `username` (matched
    as written, case-blind, or as the destination: pools that sign in by email)."""
    wanted = username.casefold()
    return [message_dict(m) for m in list(outbox.messages)
            if m.pool_id == pool_id and wanted in (m.username.casefold(), m.shown_username.casefold(),
                                                   m.destination.casefold())]


class InProcessTarget:
    """A fresh `authflow.Client` (memory store, an offset wall clock, an outbox); `config`
    is its `EngineConfig` (tests pass a fast password hash)."""

    name = "authflow (in process)"
    hooks = frozenset({"outbox", "clock"})

    def __init__(self, config: Any = None) -> None:
        from authflow.adapters import MemoryOutbox, OffsetClock
        from authflow.client import Client, method_name

        self.clock = OffsetClock()
        self.outbox = MemoryOutbox()
        self.client = Client(clock=self.clock, messenger=self.outbox, config=config)
        self._method_name = method_name
        self._http: Any = None

    def call(self, operation: str, request: dict[str, Any]) -> Outcome:
        from authflow.errors import CognitoError

        method = getattr(self.client, self._method_name(operation), None)
        if method is None:
            return Outcome(None, "UnknownOperationException", f"Unknown operation {operation}")
        try:
            response = dict(method(**request))
        except CognitoError as err:
            return Outcome(None, err.code, err.message)
        response.pop("ResponseMetadata", None)
        return Outcome(response)

    def messages(self, pool_id: str, username: str) -> list[dict[str, Any]]:
        return messages_for(self.outbox, pool_id, username)

    def advance(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    def now(self) -> datetime:
        return self.clock.now()

    #: Where the in-process app says it is reached (its discovery documents point here).
    PUBLIC_URL = "http://authflow.test"

    def discovery_url(self, pool_id: str) -> str:
        return f"{self.PUBLIC_URL}/{pool_id}/.well-known/openid-configuration"

    def web(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> WebAnswer:
        answer = self._web().request(method, url, headers=headers, content=body, follow_redirects=False)
        return WebAnswer(answer.status_code, tuple(answer.headers.multi_items()), answer.content)

    def _web(self) -> Any:
        """`authflow serve`'s app over this target's client, made at the first request
        (it needs the server extra and httpx, which other scenarios do not)."""
        if self._http is None:
            import warnings

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # Starlette's hint about httpx2
                    from starlette.testclient import TestClient

                from authflow.server import create_app
                from authflow.wire.protocol import Signing
            except ImportError as err:  # pragma: no cover - the server extra ships with tests
                raise RuntimeError(f"the OAuth endpoint steps in process need authflow[server] and httpx: {err}") from None
            app = create_app(self.client, Signing(None), public_url=self.PUBLIC_URL)
            self._http = TestClient(app, base_url=self.PUBLIC_URL, raise_server_exceptions=False)
        return self._http


class HttpTarget:
    """Any Cognito-compatible endpoint, through boto3 (client-side validation and retries
    off, so every request reaches the service once, as written)."""

    def __init__(self, endpoint: str, *, region: str = "us-east-1", credentials_file: str | None = None,
                 profile: str | None = None, name: str | None = None) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:  # pragma: no cover - boto3 ships with the conformance extra
            raise RuntimeError("--endpoint needs boto3: pip install 'authflow[conformance]'") from None
        self.endpoint = endpoint.rstrip("/")
        self.name = name or self.endpoint
        session = _session(boto3, region, credentials_file, profile)
        config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False,
                        connect_timeout=10, read_timeout=60)
        self.cognito = session.client("cognito-idp", endpoint_url=self.endpoint, config=config)
        self._credentials = session.get_credentials()
        self._region = region
        self.hooks = frozenset(self._hooks())
        self._advanced = timedelta(0)

    def problem(self) -> str | None:
        """Why no scenario could run here (unreachable, or the credentials refused), if so:
        checked once before a run, so a typo in the URL is one message, not 200 failures."""
        from botocore.exceptions import BotoCoreError

        try:
            outcome = self.call("ListUserPools", {"MaxResults": 1})
        except BotoCoreError as err:
            return f"cannot reach {self.endpoint}: {err}"
        if outcome.error_code in _CREDENTIAL_ERRORS:
            return f"{self.endpoint} refused the credentials: {outcome.error_code}: {outcome.error_message}"
        return None

    def call(self, operation: str, request: dict[str, Any]) -> Outcome:
        from botocore.exceptions import ClientError

        from authflow.client import method_name

        method = getattr(self.cognito, method_name(operation), None)
        if method is None:
            return Outcome(None, "UnknownOperationException", f"boto3 has no operation {operation}")
        try:
            response = method(**request)
        except ClientError as err:
            error = err.response.get("Error", {})
            return Outcome(None, str(error.get("Code", "")), str(error.get("Message", "")))
        response.pop("ResponseMetadata", None)
        return Outcome(response)

    def messages(self, pool_id: str, username: str) -> list[dict[str, Any]]:
        from urllib.parse import urlencode

        query = urlencode({"UserPoolId": pool_id, "Username": username})
        return list(self._get(f"{OUTBOX_PATH}?{query}").get("Messages", []))

    def advance(self, seconds: int) -> None:
        self._request(CLOCK_PATH, {"AdvanceSeconds": seconds})
        self._advanced += timedelta(seconds=seconds)

    def now(self) -> datetime:
        """The endpoint's time as far as this run moved it (SRP answers are dated with it)."""
        return datetime.now(timezone.utc) + self._advanced

    def discovery_url(self, pool_id: str) -> str:
        return f"{self.endpoint}/{pool_id}/.well-known/openid-configuration"

    def web(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> WebAnswer:
        """One request as a browser or an OAuth client sends it: no signature, no redirect
        followed (an error status is an answer too, not an exception)."""
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with _NO_REDIRECTS.open(request, timeout=60) as answer:
                return WebAnswer(answer.status, tuple(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as answer:  # 3xx (not followed), 4xx, 5xx
            return WebAnswer(answer.code, tuple(answer.headers.items()), answer.read())

    def _hooks(self) -> list[str]:
        try:
            return [h for h in self._get(HOOKS_PATH).get("Hooks", []) if h in ("outbox", "clock")]
        except (OSError, ValueError, urllib.error.HTTPError):
            return []

    def _get(self, path: str) -> dict[str, Any]:
        return self._request(path, None)

    def _request(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """A hook request, signed as the API's requests are (SigV4, service cognito-idp):
        a service whose hooks hand out codes may ask for the caller's access key too."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        data = b"" if body is None else json.dumps(body).encode()
        method = "GET" if body is None else "POST"
        signed = AWSRequest(method=method, url=self.endpoint + path, data=data,
                            headers={"Content-Type": "application/json"})
        if self._credentials is not None:
            SigV4Auth(self._credentials.get_frozen_credentials(), "cognito-idp", self._region).add_auth(signed)
        request = urllib.request.Request(self.endpoint + path, data=data if body is not None else None,
                                         method=method, headers=dict(signed.headers.items()))
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 -- the user's endpoint
            result = json.loads(answer.read() or b"{}")
        return result if isinstance(result, dict) else {}


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 -- urllib's signature
        return None  # the redirect is the answer (urllib raises it as an HTTPError)


_NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)

_CREDENTIAL_ERRORS = {"UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignature",
                      "MissingAuthenticationToken", "AccessDeniedException", "InvalidClientTokenId",
                      "SignatureDoesNotMatch"}


def _session(boto3: Any, region: str, credentials_file: str | None, profile: str | None) -> Any:
    """A boto3 session: the given shared-credentials file (and profile), else the usual
    chain (environment, ~/.aws), else placeholder keys (emulators that do not check)."""
    if credentials_file:
        import configparser

        parser = configparser.ConfigParser()
        if not parser.read(credentials_file):
            raise RuntimeError(f"cannot read the credentials file {credentials_file}")
        section = profile or "default"
        if not parser.has_section(section):
            raise RuntimeError(f"{credentials_file} has no profile [{section}]")
        return boto3.session.Session(
            aws_access_key_id=parser.get(section, "aws_access_key_id"),
            aws_secret_access_key=parser.get(section, "aws_secret_access_key"),
            region_name=region,
        )
    session = boto3.session.Session(profile_name=profile, region_name=region)
    if session.get_credentials() is None:
        session = boto3.session.Session(aws_access_key_id="conformance", aws_secret_access_key="conformance",
                                        region_name=region)
    return session
