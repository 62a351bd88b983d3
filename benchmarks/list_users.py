"""ListUsers speed at 1k, 10k and 100k users (a benchmark, never a test).

Fills one pool per size through the public Client (AdminCreateUser with SUPPRESS,
fast KDF profile so filling is quick), then times `email = "..."` and
`email ^= "..."` ListUsers calls and prints the median of each. Both are answered
from the store's ordered index, so going from 10k to 100k users must cost less
than 2x. Usage: `python benchmarks/list_users.py [--sizes 1000 10000 100000] [--repeat 200]`.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path, and benchmarks/http.py would
# shadow the standard library's `http` (which authflow's dependencies import).
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import random
import statistics
import time
from datetime import datetime, timezone

import authflow
from authflow.adapters import ManualClock, MemoryOutbox, MemoryStore, SeededEntropy
from authflow.crypto.passwords import FAST_INSECURE


def fill(size: int) -> tuple[authflow.Client, str]:
    client = authflow.Client(
        store=MemoryStore(),
        clock=ManualClock(datetime(2026, 1, 1, tzinfo=timezone.utc)),
        entropy=SeededEntropy(size),
        messenger=MemoryOutbox(),
        config=authflow.EngineConfig(kdf=FAST_INSECURE),
    )
    pool = client.create_user_pool(PoolName=f"bench-{size}")["UserPool"]["Id"]
    for i in range(size):
        client.admin_create_user(
            UserPoolId=pool,
            Username=f"user{i:07d}",
            UserAttributes=[{"Name": "email", "Value": f"user{i:07d}@example.com"}],
            TemporaryPassword="Passw0rd!tmp",
            MessageAction="SUPPRESS",
        )
    return client, pool


def median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(0)
    results = {}
    print(f"{'users':>8} {'fill s':>8} {'= ms':>8} {'^= ms':>8}")
    for size in args.sizes:
        start = time.perf_counter()
        client, pool = fill(size)
        fill_s = time.perf_counter() - start

        def exact(client=client, pool=pool, size=size) -> None:
            i = rng.randrange(size)
            users = client.list_users(UserPoolId=pool, Filter=f'email = "user{i:07d}@example.com"')["Users"]
            assert len(users) == 1

        def prefix(client=client, pool=pool, size=size) -> None:
            i = rng.randrange(size // 10) if size >= 10 else 0
            # "user00012" matches 10 users at every size: equal work, so only the lookup cost grows.
            users = client.list_users(UserPoolId=pool, Filter=f'email ^= "user{i:06d}"', Limit=60)["Users"]
            assert len(users) == 10

        results[size] = (median_ms(exact, args.repeat), median_ms(prefix, args.repeat))
        print(f"{size:>8} {fill_s:>8.1f} {results[size][0]:>8.3f} {results[size][1]:>8.3f}", flush=True)
    if 10_000 in results and 100_000 in results:
        for label, k in (("=", 0), ("^=", 1)):
            ratio = results[100_000][k] / results[10_000][k]
            verdict = "ok" if ratio < 2 else "TOO SLOW"
            print(f"{label:>2} 10k -> 100k: x{ratio:.2f} ({verdict}, goal < 2x)")


if __name__ == "__main__":
    main()
