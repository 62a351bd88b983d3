"""Run moto's own cognitoidp test suite, unchanged, against `authflow serve`.

moto's tests honour `TEST_SERVER_MODE=true`: every boto3 client they make is pointed at
`TEST_SERVER_MODE_ENDPOINT` instead of moto's in-process mock. This tool points that at an
`authflow serve` it starts, runs the tests and reports passed / failed / skipped, the
subset moto's authors ran against real AWS (`@pytest.mark.aws_verified`), and the failures
grouped by their first error line.

One command from a clean clone (after `pip install -e '.[server]'`):

    python tools/moto_suite.py

What it does, step by step:

1. `pip download --no-deps --no-binary :all: moto==5.2.5` (the sdist holds `tests/`) and
   unpacks `tests/__init__.py`, `tests/conftest.py`, `tests/test_cognitoidp/` and moto's
   `pyproject.toml` (its pytest markers) into `<workdir>/moto-<version>/`;
2. makes a virtual environment `<workdir>/venv` with what those tests import: moto 5.2.5
   itself (its client side: `mock_aws` in server mode), pycognito, pyotp, joserfc, requests,
   pytest and pytest-timeout (`--current-env` uses this interpreter's instead);
3. starts `python -m authflow serve --region us-west-2 --credentials FILE` with a fresh
   SQLite database, where FILE holds the fake keys moto's `mock_aws` puts in the environment
   (FOOBARKEY / FOOBARSECRET), so every admin call is SigV4-signed and checked as on AWS;
   and, since some tests need another service first (the MFA ones create an IAM role for
   the pool's SmsConfiguration), a `moto_server` for everything else, behind a small
   router on the endpoint the tests use: cognito-idp requests (their `X-Amz-Target`, the
   pools' `/.well-known/` documents) go to authflow, all other requests to moto_server;
4. runs `pytest -p no:cacheprovider --timeout=N` over the test files with
   `TEST_SERVER_MODE=true` (and `MOTO_TEST_ALLOW_AWS_REQUEST=true` with boto3's
   `AWS_ENDPOINT_URL` on the endpoint, so the `aws_verified` tests run as against AWS:
   their own waits for a fresh TOTP code and for IAM included), plus a small plugin of this tool's that, before each test,
   deletes every user pool on the server: moto's server mode resets its own server through
   `POST /moto-api/reset` (turned off here with `MOTO_CALL_RESET_API=false`), which authflow
   does not serve; the plugin also records each test's outcome and markers;
5. prints the summary (Markdown), and writes the per-test JSON with `--report`.

`test_server.py` is left out by default: its tests start moto's own Flask app or
`ThreadedMotoServer` in process and never reach the endpoint, so they measure moto, not
authflow (`--files` takes any selection).

Usage: `python tools/moto_suite.py [--workdir DIR] [--current-env] [--timeout 60]
[--total-timeout 3600] [--report FILE] [--files test_cognitoidp.py ...] [-k EXPR]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from authflow.testing.processes import free_port, running, wait_until_up  # noqa: E402

MOTO_VERSION = "5.2.5"
DEFAULT_FILES = ("test_cognitoidp.py", "test_cognitoidp_exceptions.py", "test_cognitoidp_replay.py",
                 "test_cognitoidp_utils.py")
TEST_DEPS = ("pycognito", "pyotp", "pytest", "pytest-timeout", "requests")
COGNITO_TARGET = "AWSCognitoIdentityProviderService."
REGION = "us-west-2"  # the region nearly every test's clients name
ACCESS_KEY, SECRET_KEY = "FOOBARKEY", "FOOBARSECRET"  # what moto's mock_aws exports

#: Failures that come from moto being laxer than AWS: the test's first failing call is one
#: AWS refuses (moto accepts it), so authflow, answering as AWS does, stops the test there.
#: (substring of the error, why AWS refuses it). A test is listed by its *first* failure.
LAX: tuple[tuple[str, str], ...] = (
    ("Invalid read attributes specified while creating a client",
     "ReadAttributes names an attribute the schema lacks (a random uuid); AWS refuses it [O: aws-cdk#34379]"),
    ("Attribute does not exist in the schema",
     "an attribute the schema lacks (not custom:); AWS refuses it [O, reference §5]"),
    ("could not be determined", "a custom attribute the schema lacks; AWS refuses it [O, reference §5]"),
    ("when calling the AdminCreateUser operation: Password did not conform with password policy",
     "the TemporaryPassword (a uuid) breaks the default policy; AWS: it must conform [M doc]"),
    ("is configured for secret but secret was not received",
     "a call without SECRET_HASH to a client with a secret; AWS refuses it [O, reference §5]"),
    ("User cannot be confirmed. Current status is FORCE_CHANGE_PASSWORD",
     "ConfirmSignUp of an admin-created user [O-weak, reference §4.15]"),
    ("Invalid phone number format.", "phone_number not in E.164 (+digits); AWS refuses it [O]"),
    ("failed to satisfy constraint", "a value breaking the service model's constraint (pattern/enum) [M]"),
    ("USER_PASSWORD_AUTH flow not enabled for this client",
     "the client does not allow the flow; AWS refuses it [O, reference §3.5.1]"),
    ("User does not have delivery config set to turn on SMS_MFA",
     "SMS MFA for a user without phone_number [O]"),
    ("Credential should be scoped to a valid region",
     "a client of another region than the endpoint's: a regional endpoint refuses a request signed for "
     "another region, on AWS as here [D: SigV4]"),
    ("CallbackURLs must be absolute URLs",
     "a callback URL that is not a URL (a uuid); AWS requires absolute URIs [D, oauth2-hosted-login.md §2]"),
    ("is not a valid domain name",
     "a custom domain that is not a host name (a uuid); AWS requires a fully qualified domain name [D]"),
)

PLUGIN = '''
"""moto_suite's pytest plugin: a clean server before each test, and the outcomes."""
import json
import os

import boto3
import pytest

_RESULTS = {}
_MARKERS = {}


def _client():
    return boto3.session.Session().client(
        "cognito-idp", region_name=os.environ["MOTO_SUITE_REGION"],
        endpoint_url=os.environ["TEST_SERVER_MODE_ENDPOINT"],
        aws_access_key_id=os.environ["MOTO_SUITE_KEY"], aws_secret_access_key=os.environ["MOTO_SUITE_SECRET"])


def pytest_collection_modifyitems(items):
    for item in items:
        _MARKERS[item.nodeid] = sorted({m.name for m in item.iter_markers()})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    client = _client()
    token = None
    while True:
        page = client.list_user_pools(MaxResults=60, **({"NextToken": token} if token else {}))
        for pool in page.get("UserPools", []):
            # A pool with a domain cannot be deleted (as on AWS): its domains go first.
            described = client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
            for domain in {described.get("Domain"), described.get("CustomDomain")} - {None}:
                client.delete_user_pool_domain(UserPoolId=pool["Id"], Domain=domain)
            client.delete_user_pool(UserPoolId=pool["Id"])
        token = page.get("NextToken")
        if not token:
            break


def pytest_runtest_logreport(report):
    entry = _RESULTS.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
    if report.skipped and report.when in ("setup", "call"):
        entry["outcome"] = "skipped"
        entry["message"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    elif report.failed:
        if entry["outcome"] != "failed":
            entry["outcome"] = "failed" if report.when == "call" else "error"
        crash = getattr(report.longrepr, "reprcrash", None)
        entry["message"] = (crash.message if crash else str(report.longrepr)).strip().splitlines()[0][:300]
    entry["duration"] = entry.get("duration", 0) + report.duration


def pytest_sessionfinish(session):
    with open(os.environ["MOTO_SUITE_RESULTS"], "w") as out:
        json.dump({nodeid: {**r, "markers": _MARKERS.get(nodeid, [])} for nodeid, r in _RESULTS.items()},
                  out, indent=1, sort_keys=True)
'''


def fetch_tests(workdir: Path, version: str) -> Path:
    """moto's sdist, unpacked down to the cognitoidp tests (cached in `workdir`)."""
    root = workdir / f"moto-{version}"
    if (root / "tests" / "test_cognitoidp").is_dir():
        return root
    sdist_dir = workdir / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    sdist = sdist_dir / f"moto-{version}.tar.gz"
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"moto=={version}", "-d", str(sdist_dir)], check=True)
    wanted = (f"moto-{version}/tests/__init__.py", f"moto-{version}/tests/conftest.py",
              f"moto-{version}/tests/test_cognitoidp/", f"moto-{version}/pyproject.toml")
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(wanted)]
        tar.extractall(workdir, members=members, filter="data")
    return root


def test_python(workdir: Path, version: str, current_env: bool) -> str:
    """The interpreter that runs moto's tests (a venv of its own unless `current_env`)."""
    if current_env:
        return sys.executable
    venv = workdir / "venv"
    python = venv / "bin" / "python"
    stamp = venv / f".moto-{version}-server"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"moto[cognitoidp,server,iam]=={version}",
                        *TEST_DEPS], check=True)
        stamp.touch()
    return str(python)


def start_router(authflow: str, other: str) -> tuple[str, object]:
    """An HTTP router on a free loopback port: cognito-idp requests to `authflow`, the rest
    to `other`, each forwarded byte for byte (the Host header too, which SigV4 signs)."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    class Route(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            to_authflow = (self.headers.get("X-Amz-Target", "").startswith(COGNITO_TARGET)
                           or "/.well-known/" in self.path or self.path == "/health")
            target = urlsplit(authflow if to_authflow else other)
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            connection.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Route)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def run(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir).expanduser().resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    root = fetch_tests(workdir, args.moto_version)
    python = test_python(workdir, args.moto_version, args.current_env)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="moto-suite-")))
        creds = tmp / "moto.credentials"
        creds.write_text(f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n")
        (tmp / "moto_suite_plugin.py").write_text(PLUGIN)
        port = free_port()
        log = workdir / "authflow-serve.log"
        proc = stack.enter_context(running(
            [sys.executable, "-m", "authflow", "serve", "--port", str(port), "--db", str(tmp / "authflow.db"),
             "--region", REGION, "--credentials", str(creds), "--log-level", "warning"], log))
        authflow_url = f"http://127.0.0.1:{port}"
        wait_until_up(proc, f"{authflow_url}/health", log, lambda: True)
        moto_port = free_port()
        moto_log = workdir / "moto-server.log"
        moto = stack.enter_context(running(
            [str(Path(python).parent / "moto_server"), "-p", str(moto_port)], moto_log))
        wait_until_up(moto, f"http://127.0.0.1:{moto_port}/moto-api/", moto_log, lambda: True)
        endpoint, router = start_router(authflow_url, f"http://127.0.0.1:{moto_port}")
        stack.callback(router.shutdown)
        results_file = tmp / "results.json"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))},
            "TEST_SERVER_MODE": "true", "TEST_SERVER_MODE_ENDPOINT": endpoint, "MOTO_CALL_RESET_API": "false",
            # The aws_verified tests run exactly as their authors ran them against AWS: outside
            # mock_aws, with the waits AWS needs (a fresh TOTP code, IAM propagation), every
            # client pointed at the endpoint by boto3's own AWS_ENDPOINT_URL.
            "MOTO_TEST_ALLOW_AWS_REQUEST": "true", "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "MOTO_SUITE_REGION": REGION, "MOTO_SUITE_KEY": ACCESS_KEY, "MOTO_SUITE_SECRET": SECRET_KEY,
            "MOTO_SUITE_RESULTS": str(results_file),
            "PYTHONPATH": os.pathsep.join([str(tmp), str(root)]),
        }
        files = [f"tests/test_cognitoidp/{name}" for name in args.files]
        command = [python, "-m", "pytest", "-p", "no:cacheprovider", "-p", "moto_suite_plugin", "-q",
                   "--color=no", "-o", "addopts=", f"--timeout={args.timeout}", "-rN", *files]
        if args.k:
            command += ["-k", args.k]
        started = time.monotonic()
        try:
            done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                                  timeout=args.total_timeout)
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            output = f"stopped after --total-timeout {args.total_timeout} s\n{exc.stdout or ''}"
        elapsed = time.monotonic() - started
        (workdir / "pytest.log").write_text(output)
        if not results_file.exists():
            raise SystemExit(f"pytest wrote no results; its output is in {workdir / 'pytest.log'}:\n{output[-3000:]}")
        results = json.loads(results_file.read_text())
    return {"moto_version": args.moto_version, "files": list(args.files), "seconds": round(elapsed, 1),
            "command": " ".join(sys.argv), "tests": results}


def summary(report: dict) -> str:
    """The Markdown section: counts, the aws_verified tests, the lax ones, failures by cause."""
    tests = report["tests"]
    counts = Counter(r["outcome"] for r in tests.values())
    verified = {n: r for n, r in tests.items() if "aws_verified" in r["markers"]}
    vcounts = Counter(r["outcome"] for r in verified.values())
    lines = [
        f"moto {report['moto_version']} `tests/test_cognitoidp/` ({', '.join(report['files'])}) against "
        f"`authflow serve`, {report['seconds']} s:",
        "",
        "| tests | total | passed | failed | errors | skipped |",
        "|---|---|---|---|---|---|",
        f"| all | {len(tests)} | {counts['passed']} | {counts['failed']} | {counts['error']} | {counts['skipped']} |",
        f"| `aws_verified` | {len(verified)} | {vcounts['passed']} | {vcounts['failed']} | {vcounts['error']} "
        f"| {vcounts['skipped']} |",
        "",
        "`aws_verified` tests:",
        "",
        "| test | outcome | first error line |",
        "|---|---|---|",
    ]
    for name, r in sorted(verified.items()):
        message = r["message"].replace("|", "\\|") if r["outcome"] != "passed" else ""
        lines.append(f"| `{name.split('::')[-1]}` | {r['outcome']} | {message} |")
    failing = {n: r for n, r in tests.items() if r["outcome"] in ("failed", "error")}
    lax = {}
    for name, r in failing.items():
        reason = next((why for text, why in LAX if text in r["message"]), None)
        if reason:
            lax[name.split("::")[-1]] = reason
    if lax:
        lines += ["", f"Failing at a call AWS refuses and moto accepts ({len(lax)}; moto is laxer than AWS):", "",
                  "| test | why |", "|---|---|"]
        lines += [f"| `{n}` | {why} |" for n, why in sorted(lax.items())]
    causes = Counter(_cause(r["message"]) for r in failing.values())
    lines += ["", "Failures by first error line (most common first):", "", "| count | error |", "|---|---|"]
    lines += [f"| {count} | {cause.replace('|', chr(92) + '|')} |" for cause, count in causes.most_common(25)]
    return "\n".join(lines) + "\n"


def _cause(message: str) -> str:
    """A failure's message without the parts that differ between tests (ids, names)."""
    if "does not implement" in message and "calling the " in message:
        operation = message.split("calling the ")[-1].split(" operation")[0]
        return f"operation not implemented: {operation}"
    if "Credential should be scoped to a valid region" in message:
        return "a cognito-idp client of another region than the server's (us-west-2)"
    if "invalid XML received" in message:
        return "a call to another service (IAM, STS...) answered by authflow: botocore expected XML"
    return message[:160]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="~/.cache/authflow/moto-suite",
                        help="where the sdist, the venv and the logs are kept (default %(default)s)")
    parser.add_argument("--moto-version", default=MOTO_VERSION)
    parser.add_argument("--current-env", action="store_true",
                        help="run the tests with this interpreter (moto and the test deps installed here)")
    parser.add_argument("--timeout", type=int, default=120,
                        help="seconds per test (pytest-timeout; an aws_verified MFA test waits about a minute for fresh TOTP steps)")
    parser.add_argument("--total-timeout", type=int, default=3600, help="seconds for the whole run")
    parser.add_argument("--files", nargs="+", default=list(DEFAULT_FILES))
    parser.add_argument("-k", help="pytest -k expression")
    parser.add_argument("--report", help="write the per-test results as JSON here")
    args = parser.parse_args(argv)
    report = run(args)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1, sort_keys=True))
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
