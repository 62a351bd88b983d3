"""Password sign-ins over HTTP against what the KDF allows (a benchmark, never a test).

The ceiling: a password sign-in runs Argon2id once, at the production cost (m=19456 KiB,
t=2, p=1), so no server can sign in more users per second than the machine can run that
hash. The script measures the hash alone first, in 1 process and then in N processes at
once (N = `--workers`, default the number of CPUs): `ceiling = cores x single-process
hashes/s`. It then starts `python -m authflow serve --workers N --db <tmpdir>/authflow.db`
exactly as a user would, makes `--users` CONFIRMED users (AdminCreateUser SUPPRESS, then
AdminSetUserPassword Permanent), and lets `--clients` threads sign them in for `--seconds`:
InitiateAuth USER_PASSWORD_AUTH, each thread its own user and its own keep-alive
connection, checking that every answer holds tokens. The hash alone is measured again
afterwards, and the ceiling is the mean of the two measurements, so load from elsewhere on
the machine moves both sides alike.

The client is `http.client` sending what an SDK sends for this unsigned operation (the
same JSON 1.1 request; `--client boto3` uses boto3 instead): the client runs on the same
cores as the server, and boto3 costs about 1 ms of CPU per call, which would be counted
against the server. Printed: hashes/s, sign-ins/s, their ratio, each worker process's share
of the server's CPU time (how evenly the kernel spread the connections), and the load
average. On a machine other work shares, wall-clock rates move with that work; CPU time
moves far less, so the script also prints the CPU one hash takes alone and the CPU one
sign-in takes in all the server's processes (workers and the processes they hash in, from
/proc) plus the client's: their quotient is the fraction of the CPU-bound ceiling that
sign-ins can reach once every core is free for them.

Usage: `python benchmarks/sign_in_workers.py [--workers N] [--clients C] [--seconds 20]
[--client raw|boto3] [--json FILE]`. Needs `pip install -e '.[server]'` (and boto3).
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path, and benchmarks/http.py would
# shadow the standard library's `http` (which http.client and botocore import).
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import configparser
import http.client
import json
import multiprocessing
import platform
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from authflow.crypto.passwords import PRODUCTION, SALT_BYTES, hash_password
from authflow.testing.processes import free_port, running, wait_until_up

REGION = "us-east-1"
PASSWORD = "Bench-pass-1"
TARGET = "AWSCognitoIdentityProviderService."


# -- the ceiling: the KDF alone ------------------------------------------------------


def _hash_for(seconds: float, results) -> None:
    salt = os.urandom(SALT_BYTES)
    count = 0
    cpu = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        hash_password(PASSWORD, salt, PRODUCTION)
        count += 1
    results.put((count, time.process_time() - cpu))


def kdf_rate(processes: int, seconds: float) -> tuple[float, float]:
    """Production Argon2id hashes per second, `processes` processes hashing at once, and
    the CPU seconds one hash took."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_hash_for, args=(seconds, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    measured = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    count = sum(n for n, _ in measured)
    return count / seconds, sum(c for _, c in measured) / max(1, count)


# -- the server ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (workers, and the processes they hash in)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found = []
    for child in parents:
        ancestor = parents.get(child)
        while ancestor not in (None, 0, 1) and ancestor != pid:
            ancestor = parents.get(ancestor)
        if ancestor == pid:
            found.append(child)
    return found


def worker_processes(pid: int) -> list[int]:
    """uvicorn's worker processes under the supervisor `pid` (multiprocessing's spawned
    children; its resource tracker is not one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return sorted(found)


def admin_client(url: str, credentials: Path):
    import boto3
    from botocore.config import Config

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(credentials, encoding="utf-8")
    return boto3.session.Session(
        aws_access_key_id=parser["default"]["aws_access_key_id"],
        aws_secret_access_key=parser["default"]["aws_secret_access_key"], region_name=REGION,
    ).client("cognito-idp", endpoint_url=url, config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def raw_sign_in(port: int, app: str, username: str):
    """One keep-alive connection; each call signs `username` in and checks the tokens."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"ClientId": app, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": username, "PASSWORD": PASSWORD}}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + "InitiateAuth"}

    def sign_in() -> None:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 200 or "AccessToken" not in answer.get("AuthenticationResult", {}):
            raise RuntimeError(f"sign-in answered {response.status}: {answer}")

    return sign_in


def boto3_sign_in(url: str, app: str, username: str):
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    idp = boto3.session.Session(region_name=REGION).client(
        "cognito-idp", endpoint_url=url,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1, "mode": "standard"}))

    def sign_in() -> None:
        answer = idp.initiate_auth(ClientId=app, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
        if "AccessToken" not in answer.get("AuthenticationResult", {}):
            raise RuntimeError(f"sign-in answered {answer}")

    return sign_in


def load(sign_ins: list, seconds: float) -> tuple[int, list[float]]:
    """Each callable on its own thread, for `seconds`: how many sign-ins, and their latencies."""
    counts = [0] * len(sign_ins)
    latencies: list[list[float]] = [[] for _ in sign_ins]
    errors: list[BaseException] = []
    start_line = threading.Barrier(len(sign_ins) + 1)
    deadline = [0.0]

    def run(i: int) -> None:
        start_line.wait()
        try:
            while time.perf_counter() < deadline[0]:
                t = time.perf_counter()
                sign_ins[i]()
                latencies[i].append(time.perf_counter() - t)
                counts[i] += 1
        except BaseException as err:  # reported below, after the others stop
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sign_ins))]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    start_line.wait()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(counts), sorted(x for per in latencies for x in per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cores = os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=cores, help=f"server worker processes (default {cores})")
    parser.add_argument("--clients", type=int, default=None, help="client threads (default 4 x workers)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of sign-ins (default 20)")
    parser.add_argument("--kdf-seconds", type=float, default=8.0, help="seconds per KDF measurement (default 8)")
    parser.add_argument("--client", choices=("raw", "boto3"), default="raw")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    clients = args.clients or 4 * args.workers

    print(f"KDF alone ({args.kdf_seconds:g} s each) ...", file=sys.stderr, flush=True)
    single_before, kdf_cpu_before = kdf_rate(1, args.kdf_seconds)
    many_before, _ = kdf_rate(args.workers, args.kdf_seconds)
    with tempfile.TemporaryDirectory(prefix="authflow-bench-") as tmpdir, ExitStack() as stack:
        tmp = Path(tmpdir)
        port = free_port()
        log, creds = tmp / "authflow.log", tmp / "authflow.credentials"
        proc = stack.enter_context(running(
            [sys.executable, "-m", "authflow", "serve", "--port", str(port), "--db", str(tmp / "authflow.db"),
             "--workers", str(args.workers)], log))
        url = f"http://127.0.0.1:{port}"
        wait_until_up(proc, f"{url}/health", log, creds.exists)
        idp = admin_client(url, creds)
        pool = idp.create_user_pool(PoolName="bench")["UserPool"]["Id"]
        app = idp.create_user_pool_client(UserPoolId=pool, ClientName="bench",
                                          ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                                          )["UserPoolClient"]["ClientId"]
        print(f"{clients} users ...", file=sys.stderr, flush=True)
        for i in range(clients):
            idp.admin_create_user(UserPoolId=pool, Username=f"user{i}", MessageAction="SUPPRESS")
            idp.admin_set_user_password(UserPoolId=pool, Username=f"user{i}", Password=PASSWORD, Permanent=True)
        make = (lambda name: raw_sign_in(port, app, name)) if args.client == "raw" else \
            (lambda name: boto3_sign_in(url, app, name))
        sign_ins = [make(f"user{i}") for i in range(clients)]
        for sign_in in sign_ins:
            sign_in()  # warm: each connection open, each worker's keys loaded
        workers = worker_processes(proc.pid) if args.workers > 1 else [proc.pid]
        cpu_before = {pid: cpu_seconds(pid) for pid in [proc.pid, *descendants(proc.pid)]}
        print(f"{clients} clients signing in for {args.seconds:g} s against {len(workers)} worker(s) ...",
              file=sys.stderr, flush=True)
        client_cpu = time.process_time()
        started = time.perf_counter()
        count, latencies = load(sign_ins, args.seconds)
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu
        cpu = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in workers}
        everything = sum(cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in [proc.pid, *descendants(proc.pid)])
        load_average = os.getloadavg()[0]
    single_after, kdf_cpu_after = kdf_rate(1, args.kdf_seconds)
    many_after, _ = kdf_rate(args.workers, args.kdf_seconds)
    kdf_cpu = (kdf_cpu_before + kdf_cpu_after) / 2

    single = (single_before + single_after) / 2
    many = (many_before + many_after) / 2
    ceiling = cores * single
    rate = count / elapsed
    total_cpu = sum(cpu.values()) or 1.0
    print("| measured | value |\n|---|---:|")
    print(f"| Argon2id hashes/s, 1 process (before / after) | {single_before:.1f} / {single_after:.1f} |")
    print(f"| Argon2id hashes/s, {args.workers} processes at once (before / after) | {many_before:.1f} / {many_after:.1f} |")
    print(f"| ceiling: {cores} cores x {single:.1f} | {ceiling:.1f} |")
    print(f"| sign-ins/s, --workers {args.workers}, {clients} clients ({args.client}) | {rate:.1f} |")
    print(f"| sign-ins / ceiling | {rate / ceiling:.0%} |")
    print(f"| sign-ins / {args.workers} processes hashing at once | {rate / many:.0%} |")
    print(f"| sign-in latency p50 / p99 (ms) | {latencies[len(latencies) // 2] * 1000:.1f} / "
          f"{latencies[int(len(latencies) * 0.99)] * 1000:.1f} |")
    per_sign_in = (everything + client_cpu) / count
    print(f"| CPU per sign-in, all server processes + the client (ms) | {per_sign_in * 1000:.1f} |")
    print(f"| CPU of one Argon2id hash alone (ms) | {kdf_cpu * 1000:.1f} |")
    print(f"| the hash's share of a sign-in's CPU (the CPU-bound ceiling's fraction) | {kdf_cpu / per_sign_in:.0%} |")
    print(f"| CPU per sign-in in the worker processes themselves (ms) | {total_cpu / count * 1000:.1f} |")
    print(f"| each worker's share of the server CPU | {' / '.join(f'{c / total_cpu:.0%}' for c in cpu.values())} |")
    print(f"| load average (1 min) at the end of the sign-ins | {load_average:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"), "python": platform.python_version(),
            "cpus": cores, "workers": args.workers, "clients": clients, "client": args.client,
            "kdf_single": [single_before, single_after], "kdf_parallel": [many_before, many_after],
            "ceiling": ceiling, "sign_ins_per_s": rate, "worker_cpu_s": list(cpu.values()),
            "kdf_cpu_s": kdf_cpu, "cpu_per_sign_in_s": per_sign_in,
            "load_average": load_average,
        }, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
