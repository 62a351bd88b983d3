"""`authflow serve`: a local Cognito user-pool service on one command.

Theory of operation: `plan(args)` turns the command line into a `Plan` — a small,
JSON-serialisable description (where the store is, where the key-encryption key and the
accepted access keys come from, the issuer style) — and does the one-time work of a first
start: creating the credentials file and the KEK file beside the database. `app_for(plan)`
opens the store and builds the app from a plan. With `--workers 1` both run in this
process; with more, each uvicorn worker process rebuilds the app from the plan it finds in
`AUTHFLOW_SERVE_PLAN` (`app_from_environment`), so the workers share the database and the
files but nothing else, and no secret travels through the environment (the KEK comes
from `AUTHFLOW_KEK` or the KEK file, the access keys from the credentials file).

Triggers: `--triggers FILE` (or `AUTHFLOW_TRIGGERS`) names a file mapping Lambda ARNs to
Python callables (`authflow.adapters.trigger_config`). `plan` imports every entry before
anything is written or listened on, so a bad file stops the start; the plan carries only
the file's path, and each worker imports the functions again.

Stores: `--db PATH` (default `authflow.db`) is an SQLite file; `--store
postgresql://...` a PostgreSQL database (`authflow[postgres]`); `--store memory` keeps
everything in memory (lost on exit; one worker only).

Passwords: each process that serves (the one, or each worker) hashes in a pool of
processes, one per CPU (`authflow.serve_hashing`), because cryptography's Argon2id holds
the GIL: in the serving process, hashes would run one at a time and stall its event loop.

Delivery (docs/delivery.md): without options messages are logged (no bodies). `--smtp URL`
sends e-mail over SMTP (`authflow.adapters.smtp`; `--mail-from`), `--sms-webhook URL` POSTs
SMS messages as JSON (`authflow.adapters.sms_webhook`). With either, every process runs an
outbox sender (`authflow.adapters.outbox_sender`): operations return once their messages are
committed to the outbox, and the sender sends them, retries them, and at start sends what a
killed process left. The plan carries an SMTP URL's password only with one worker (it never
travels through the environment); with more, give it in `AUTHFLOW_SMTP_PASSWORD`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from authflow.adapters.clocks import OffsetClock, SystemClock
from authflow.adapters.entropy import SystemEntropy
from authflow.adapters.outbox import DEFAULT_POLICY, LogMessenger, MemoryOutbox, Messengers
from authflow.adapters.trigger_config import LoadedTriggers, TriggerConfigError
from authflow.adapters.trigger_config import load as load_triggers
from authflow.client import Client
from authflow.config import EngineConfig
from authflow.crypto.keys import KeyReservoir
from authflow.crypto.sealing import KEK_BYTES, Keyring, parse_kek
from authflow.wire import credentials
from authflow.wire.protocol import Signing

PLAN_VARIABLE = "AUTHFLOW_SERVE_PLAN"
KEK_VARIABLE = "AUTHFLOW_KEK"
TRIGGERS_VARIABLE = "AUTHFLOW_TRIGGERS"


class StartupError(Exception):
    """`authflow serve` cannot start with these options; the message says why."""


@dataclass(frozen=True)
class Plan:
    public_url: str
    region: str
    issuer_style: str
    store: str  # "memory", "sqlite:<absolute path>" or a postgresql:// URL
    kek_file: str | None  # None: AUTHFLOW_KEK, or (memory store) a throwaway KEK
    credentials_file: str | None  # None: signing is off (--insecure-no-auth)
    triggers_file: str | None = None  # None: no trigger functions (NoTriggers)
    test_hooks: bool = False  # the conformance hooks (outbox and clock; authflow.server)
    smtp: str | None = None  # --smtp URL (its password only with one worker)
    mail_from: str | None = None  # --mail-from (None: Cognito's default sender)
    sms_webhook: str | None = None  # --sms-webhook URL
    outbox_lease: float = DEFAULT_POLICY.lease.total_seconds()  # --outbox-lease SECONDS


#: Cognito's own sender when a pool sends with COGNITO_DEFAULT.
DEFAULT_MAIL_FROM = "no-reply@verificationemail.com"


def default_credentials_path(db: Path) -> Path:
    """Where serve keeps the access key it generates: beside the database
    (`authflow.db` -> `authflow.credentials`)."""
    return db.with_suffix(".credentials")


def default_kek_path(db: Path) -> Path:
    """Where serve keeps the key-encryption key it generates (`authflow.db` -> `authflow.kek`).
    Keep it out of the database's backups: the two together reveal the sealed secrets."""
    return db.with_suffix(".kek")


def plan(args: argparse.Namespace) -> tuple[Plan, list[str]]:
    """Check the options, create first-start files, and return the plan and the banner."""
    if args.workers < 1:
        raise StartupError("--workers must be at least 1")
    if args.test_hooks and args.workers > 1:
        raise StartupError("--test-hooks needs --workers 1: the outbox and the clock offset live in one process")
    public_url = (args.public_url or f"http://{_url_host(args.host)}:{args.port}").rstrip("/")
    triggers_file, trigger_lines = _triggers(args)  # before any first-start file is written
    db = Path(args.db).resolve()
    lines = [f"authflow serve: Cognito user pools (cognito-idp) at {public_url}/"]
    store = args.store or f"sqlite:{db}"
    if store == "memory":
        if args.workers > 1:
            raise StartupError("--workers above 1 needs a store shared between processes; "
                               "--store memory lives inside one process")
        lines.append("  store:       in memory. WARNING: nothing persists; every pool and user is "
                     "lost when the server stops.")
    elif store.startswith(("postgresql://", "postgres://")):
        lines.append(f"  store:       PostgreSQL {_without_password(store)}")
    elif store.startswith("sqlite:"):
        store = f"sqlite:{Path(store.removeprefix('sqlite:')).resolve()}"
        lines.append(f"  store:       SQLite {store.removeprefix('sqlite:')}")
    else:
        raise StartupError(f"--store must be memory, sqlite:PATH or postgresql://..., "
                           f"not {store.split(':', 1)[0]}:...")
    kek_file, kek_lines = _kek(args, db, store)
    lines.extend(kek_lines)
    credentials_file, credential_lines = _credentials(args, db)
    lines.extend(credential_lines)
    delivery, delivery_lines = _delivery(args)
    lines.extend(delivery_lines)
    result = Plan(public_url=public_url, region=args.region, issuer_style=args.issuer_style,
                  store=store, kek_file=kek_file, credentials_file=credentials_file,
                  triggers_file=triggers_file, test_hooks=args.test_hooks, **delivery)
    if args.test_hooks:
        lines.append("  test hooks:  ON (--test-hooks): /_authflow/outbox hands out temporary passwords and "
                     "codes, /_authflow/clock moves time; test services only")
    issuer = _issuer_text(result)
    lines.append(f"  issuer:      {issuer}  (JWKS at {public_url}/<poolId>/.well-known/jwks.json)")
    if args.workers > 1:
        lines.append(f"  workers:     {args.workers} processes")
    lines.extend(trigger_lines)
    lines.extend(_how_to_connect(result))
    return result, lines


def _delivery(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The delivery options of the plan, checked, and their banner lines (no secrets)."""
    from authflow.adapters.sms_webhook import WebhookUrlError, check_url, redacted
    from authflow.adapters.smtp import SmtpSettings, SmtpUrlError

    smtp, mail_from, webhook = getattr(args, "smtp", None), getattr(args, "mail_from", None), \
        getattr(args, "sms_webhook", None)
    lease = getattr(args, "outbox_lease", None) or DEFAULT_POLICY.lease.total_seconds()
    if mail_from and not smtp:
        raise StartupError("--mail-from needs --smtp")
    if not 1 <= lease <= 3600:
        raise StartupError("--outbox-lease must be between 1 and 3600 seconds")
    lines = []
    if smtp:
        try:
            settings = SmtpSettings.parse(smtp)
        except SmtpUrlError as err:
            raise StartupError(str(err)) from None
        if args.workers > 1 and _url_password(smtp):
            raise StartupError("with --workers above 1, give the SMTP password in AUTHFLOW_SMTP_PASSWORD, not "
                               "in the --smtp URL (the workers' plan travels through the environment)")
        if settings.timeout >= lease:
            raise StartupError("--outbox-lease must be longer than the SMTP timeout (a claim must outlast a send)")
        lines.append(f"  e-mail:      SMTP {settings}, from {mail_from or DEFAULT_MAIL_FROM}")
    if webhook:
        try:
            check_url(webhook)
        except WebhookUrlError as err:
            raise StartupError(str(err)) from None
        lines.append(f"  sms:         POST to {redacted(webhook)}")
    if smtp or webhook:
        lines.append(f"  outbox:      durable; sent by a sender in each process (lease {lease:g} s)")
    return {"smtp": smtp, "mail_from": mail_from, "sms_webhook": webhook, "outbox_lease": lease}, lines


def _url_password(url: str) -> bool:
    from urllib.parse import urlsplit

    return urlsplit(url).password is not None


def _issuer_text(plan: Plan) -> str:
    if plan.issuer_style == "local":
        return f"{plan.public_url}/<poolId>"
    return f"https://cognito-idp.{plan.region}.amazonaws.com/<poolId>"


def _without_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials_part, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials_part.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials_part else url


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _kek(args: argparse.Namespace, db: Path, store: str) -> tuple[str | None, list[str]]:
    if os.environ.get(KEK_VARIABLE):
        _keyring_from_text(os.environ[KEK_VARIABLE], KEK_VARIABLE)  # fail now, not in a worker
        return None, [f"  kek:         from {KEK_VARIABLE}"]
    if store == "memory":
        return None, []
    if store.startswith("postgres"):
        raise StartupError(f"a PostgreSQL store needs a key-encryption key: set {KEK_VARIABLE} "
                           "(64 hex digits; e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    path = default_kek_path(db)
    if path.exists():
        _read_keyring(path)
        return str(path), [f"  kek:         {path} (keep it apart from the database's backups)"]
    credentials.write_private(path, SystemEntropy().random_bytes(KEK_BYTES).hex() + "\n")
    return str(path), [f"  kek:         created {path} (keep it apart from the database's backups)"]


def _keyring_from_text(text: str, where: str) -> Keyring:
    """One KEK per line (or comma): the first seals, the others only open (rotation)."""
    parts = [p.strip() for p in text.replace(",", "\n").splitlines() if p.strip() and not p.startswith("#")]
    if not parts:
        raise StartupError(f"{where} holds no key-encryption key")
    try:
        keks = [parse_kek(p) for p in parts]
    except ValueError as err:
        raise StartupError(f"{where}: {err}") from None
    return Keyring(keks[0], retired=tuple(keks[1:]))


def _read_keyring(path: Path) -> Keyring:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise StartupError(f"cannot read the key-encryption key file {path}: {err}") from None
    return _keyring_from_text(text, str(path))


def _triggers(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """The triggers file (--triggers, else AUTHFLOW_TRIGGERS), imported now so that a bad
    entry stops the start, and the banner lines naming each ARN's function."""
    name, source = args.triggers, ""
    if not name and os.environ.get(TRIGGERS_VARIABLE):
        name, source = os.environ[TRIGGERS_VARIABLE], f" (from {TRIGGERS_VARIABLE})"
    if not name:
        return None, []
    loaded = _load_triggers(name)
    targets = loaded.file.targets
    count = f"{len(targets)} function(s)" if targets else "no functions"
    lines = [f"  triggers:    {loaded.file.path}{source}: {count}"]
    lines.extend(f"               {arn} -> {target}" for arn, target in targets.items())
    return str(loaded.file.path), lines


def _load_triggers(path: str | Path) -> LoadedTriggers:
    try:
        return load_triggers(path)
    except TriggerConfigError as err:
        raise StartupError(f"triggers: {err}") from None


def _credentials(args: argparse.Namespace, db: Path) -> tuple[str | None, list[str]]:
    if args.insecure_no_auth:
        return None, ["  signing:     OFF (--insecure-no-auth): anyone who can reach this port may "
                      "call admin operations"]
    if args.credentials:
        path = Path(args.credentials).resolve()
        secrets = _load_credentials(path)
        return str(path), [f"  credentials: {path} ({len(secrets)} access key(s) accepted for signed operations)"]
    path = default_credentials_path(db)
    if path.exists():
        _load_credentials(path)
        return str(path), [f"  credentials: {path} (profile default)"]
    key_id, secret = credentials.create(path, SystemEntropy())
    return str(path), [
        f"  credentials: created {path} (profile default):",
        f"               aws_access_key_id     = {key_id}",
        f"               aws_secret_access_key = {secret}",
    ]


def _load_credentials(path: Path) -> dict[str, str]:
    try:
        return credentials.load(path)
    except credentials.CredentialsError as err:
        raise StartupError(str(err)) from None


def _how_to_connect(plan: Plan) -> list[str]:
    lines = ["", "Point boto3 and the AWS CLI at it:"]
    exports = [f"AWS_DEFAULT_REGION={plan.region}"]
    if plan.credentials_file is not None:
        exports.insert(0, f"AWS_SHARED_CREDENTIALS_FILE={plan.credentials_file}")
    else:
        exports.extend(["AWS_ACCESS_KEY_ID=unused", "AWS_SECRET_ACCESS_KEY=unused"])
    lines.append(f"  export {' '.join(exports)}")
    lines.append(
        f"  python -c 'import boto3; print(boto3.client(\"cognito-idp\", "
        f"endpoint_url=\"{plan.public_url}\").list_user_pools(MaxResults=10))'"
    )
    lines.append(f"  aws --endpoint-url {plan.public_url} cognito-idp list-user-pools --max-results 10")
    lines.append("Stop with Ctrl-C.")
    return lines


# -- building the app from a plan (in this process or in each worker) ----------------------


def _config(plan: Plan, keyring: Keyring | None) -> EngineConfig:
    base = plan.public_url if plan.issuer_style == "local" else None
    return EngineConfig(issuer_base_url=base, kek=keyring, signing_keys=KeyReservoir())


def _open_store(plan: Plan) -> Any:
    if plan.store == "memory":
        from authflow.adapters.memory import MemoryStore

        return MemoryStore()
    if plan.store.startswith("sqlite:"):
        from authflow.adapters.sqlite import SqliteStore

        return SqliteStore(plan.store.removeprefix("sqlite:"))
    try:
        from authflow.adapters.postgres import PostgresStore
    except ImportError as err:
        raise StartupError(f"the PostgreSQL store needs psycopg: pip install 'authflow[postgres]' ({err})") from None
    return PostgresStore(plan.store)


def app_for(plan: Plan):
    """The ASGI app a plan describes (opens the store)."""
    from authflow.server import create_app

    if os.environ.get(KEK_VARIABLE):
        keyring = _keyring_from_text(os.environ[KEK_VARIABLE], KEK_VARIABLE)
    elif plan.kek_file is not None:
        keyring = _read_keyring(Path(plan.kek_file))
    else:
        keyring = None  # the memory store: a throwaway KEK
    secrets = None if plan.credentials_file is None else _load_credentials(Path(plan.credentials_file))
    triggers = None if plan.triggers_file is None else _load_triggers(plan.triggers_file).triggers
    hooks = None
    messenger: Any = LogMessenger()
    if plan.test_hooks:
        from authflow.server import ConformanceHooks

        hooks = ConformanceHooks(clock=OffsetClock(), outbox=MemoryOutbox(keep=10_000))
        messenger = Messengers(hooks.outbox, messenger)
    sender = _sender(plan, messenger)
    store = _open_store(plan)
    client = Client(store=store, clock=hooks.clock if hooks else None, messenger=sender or messenger,
                    triggers=triggers, region=plan.region, config=_config(plan, keyring))
    close = _hashing_in_processes(getattr(store, "close", None))
    if sender is not None:
        sender.bind(client.engine).start()  # its first pass sends what a killed process left
        close = _stopping(sender, close)
    # Signatures are checked against real time even when the engine's clock has travelled.
    signing = Signing(secrets, clock=SystemClock())
    return create_app(client, signing, public_url=plan.public_url, on_shutdown=close, hooks=hooks)


def _hashing_in_processes(close: Any) -> Any:
    """Hash passwords in a pool of processes (`authflow.serve_hashing`: Argon2id holds the
    GIL); returns `close` extended to stop the pool first."""
    from authflow import serve_hashing

    stop = serve_hashing.start()

    def stop_then_close() -> None:
        stop()
        if close is not None:
            close()

    return stop_then_close


def _sender(plan: Plan, local: Any) -> Any:
    """The outbox sender of a plan with queued transports (None without): e-mail by SMTP,
    SMS by the webhook, a medium without a transport to the local messengers, which also
    get a copy of every message (the test hooks' outbox reads them)."""
    if not plan.smtp and not plan.sms_webhook:
        return None
    from dataclasses import replace
    from datetime import timedelta

    from authflow.adapters.outbox_sender import OutboxSender

    transports: dict[str, Any] = {}
    sender = OutboxSender(transports, fallback=local, copy_to_fallback=plan.test_hooks,
                          policy=replace(DEFAULT_POLICY, lease=timedelta(seconds=plan.outbox_lease)))
    if plan.smtp:
        from authflow.adapters.smtp import SmtpSettings, SmtpTransport

        transports["EMAIL"] = SmtpTransport(SmtpSettings.parse(plan.smtp), mail_from=plan.mail_from or DEFAULT_MAIL_FROM,
                                            clock=lambda: sender.engine.now())
    if plan.sms_webhook:
        from authflow.adapters.sms_webhook import SmsWebhook

        transports["SMS"] = SmsWebhook(plan.sms_webhook)
    sender.transports = transports
    return sender


def _stopping(sender: Any, close: Any) -> Any:
    def stop_then_close() -> None:
        sender.stop()
        if close is not None:
            close()

    return stop_then_close


def app_from_environment():
    """uvicorn's app factory in each worker process (`--workers` above 1)."""
    return app_for(Plan(**json.loads(os.environ[PLAN_VARIABLE])))


def serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import uvicorn

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        the_plan, lines = plan(args)
        app = app_for(the_plan) if args.workers == 1 else None
    except StartupError as err:
        parser.error(str(err))
    except Exception as err:  # a store that cannot be opened: say why, no traceback
        parser.error(f"cannot open the store: {err}")
    print("\n".join(lines), flush=True)
    # proxy_headers off: uvicorn otherwise takes X-Forwarded-For from loopback peers as the
    # client's address, and a device's last_ip_used is the TCP peer only (docs/semantics.md).
    # The access log (a line per request) is opt-in: it cost about 8% of each API call, and
    # errors and refusals are logged by authflow itself.
    options = {"host": args.host, "port": args.port, "log_level": args.log_level, "timeout_graceful_shutdown": 5,
               "proxy_headers": False, "access_log": args.access_log}
    if app is not None:
        uvicorn.run(app, **options)
    else:
        os.environ[PLAN_VARIABLE] = json.dumps(asdict(the_plan))
        uvicorn.run("authflow.serve:app_from_environment", factory=True, workers=args.workers, **options)
    return 0
