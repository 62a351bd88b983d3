"""A CSV user import of 100k users (a benchmark, never a test).

Builds a CSV of `--rows` users (default 100 000; every 100th row bad: its email_verified
false, so it fails as Cognito's rule says), creates a job in a fresh pool, uploads the file
to the job's PreSignedUrl (in process: `authflow.service.user_import.upload_csv`, the same
function the HTTP PUT calls), starts the job and waits for the end. With `--serve` it does the
same against a real `authflow serve` process over HTTP instead (boto3, and a PUT with
urllib), where the server's background runner imports while Describe is polled.

Prints, per store, the time to store the upload, the time of the import itself, users
imported per second, and the job's final counts. Stores: SQLite (a file in a temporary
directory, `authflow serve`'s default) and memory; `--store` picks one.

Usage: `python benchmarks/user_import.py [--rows 100000] [--store sqlite|memory|both] [--serve]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # run as a script: benchmarks/http.py would shadow the standard library's http
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROLE = "arn:aws:iam::123456789012:role/CognitoImport"


def csv_body(header: list[str], rows: int) -> bytes:
    position = {name: i for i, name in enumerate(header)}
    lines = [",".join(header)]
    blank = [""] * len(header)
    for n in range(rows):
        row = list(blank)
        row[position["cognito:username"]] = f"user{n:07d}"
        row[position["cognito:mfa_enabled"]] = "false"
        row[position["email"]] = f"user{n:07d}@example.com"
        row[position["email_verified"]] = "false" if n % 100 == 99 else "true"
        row[position["given_name"]] = f"Given{n}"
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()


def in_process(store_name: str, rows: int, workdir: Path) -> dict:
    import authflow
    from authflow.adapters import MemoryStore, SqliteStore
    from authflow.crypto.sealing import Keyring
    from authflow.service import user_import

    store = SqliteStore(workdir / "import.db") if store_name == "sqlite" else MemoryStore()
    client = authflow.Client(store=store, config=authflow.EngineConfig(kek=Keyring(b"b" * 32)))
    pool = client.create_user_pool(PoolName="bench", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    header = client.get_csv_header(UserPoolId=pool)["CSVHeader"]
    body = csv_body(header, rows)
    job = client.create_user_import_job(JobName="bench", UserPoolId=pool, CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
    started = time.perf_counter()
    user_import.upload_csv(client.engine, job["PreSignedUrl"], body)
    uploaded = time.perf_counter()
    client.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])  # no runner: imports before it returns
    finished = time.perf_counter()
    done = client.describe_user_import_job(UserPoolId=pool, JobId=job["JobId"])["UserImportJob"]
    close = getattr(store, "close", None)
    if close:
        close()
    return {"where": f"in process, {store_name}", "bytes": len(body), "upload_s": uploaded - started,
            "import_s": finished - uploaded, "job": done}


def over_http(rows: int, workdir: Path) -> dict:
    import socket
    import subprocess
    import urllib.request

    import boto3
    from botocore.config import Config

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "authflow", "serve", "--port", str(port), "--db",
                             str(workdir / "serve.db"), "--insecure-no-auth"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).close()  # noqa: S310 -- loopback
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("authflow serve did not start") from None
                time.sleep(0.1)
        cognito = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1") \
            .client("cognito-idp", endpoint_url=url, config=Config(retries={"total_max_attempts": 1}))
        pool = cognito.create_user_pool(PoolName="bench", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
        header = cognito.get_csv_header(UserPoolId=pool)["CSVHeader"]
        body = csv_body(header, rows)
        job = cognito.create_user_import_job(JobName="bench", UserPoolId=pool,
                                             CloudWatchLogsRoleArn=ROLE)["UserImportJob"]
        started = time.perf_counter()
        request = urllib.request.Request(job["PreSignedUrl"], data=body, method="PUT",
                                         headers={"x-amz-server-side-encryption": "aws:kms"})
        urllib.request.urlopen(request, timeout=600).close()  # noqa: S310 -- loopback
        uploaded = time.perf_counter()
        cognito.start_user_import_job(UserPoolId=pool, JobId=job["JobId"])
        while True:
            done = cognito.describe_user_import_job(UserPoolId=pool, JobId=job["JobId"])["UserImportJob"]
            if done["Status"] in ("Succeeded", "Failed", "Stopped"):
                break
            time.sleep(0.2)
        finished = time.perf_counter()
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()
    return {"where": "authflow serve (HTTP, SQLite)", "bytes": len(body), "upload_s": uploaded - started,
            "import_s": finished - uploaded, "job": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "memory", "both"], default="both")
    parser.add_argument("--serve", action="store_true", help="against a real authflow serve over HTTP")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.serve:
            results.append(over_http(args.rows, Path(tmp)))
        else:
            for name in (("sqlite", "memory") if args.store == "both" else (args.store,)):
                results.append(in_process(name, args.rows, Path(tmp)))
    print(f"user import of {args.rows} CSV rows (every 100th bad)")
    print("| where | CSV MB | upload s | import s | users/s | imported | skipped | failed | status |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        job = r["job"]
        rate = job["ImportedUsers"] / r["import_s"] if r["import_s"] else float("inf")
        print(f"| {r['where']} | {r['bytes'] / 1e6:.1f} | {r['upload_s']:.2f} | {r['import_s']:.2f} | {rate:,.0f} | "
              f"{job['ImportedUsers']} | {job['SkippedUsers']} | {job['FailedUsers']} | {job['Status']} |")


if __name__ == "__main__":
    main()
