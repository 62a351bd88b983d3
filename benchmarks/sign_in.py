"""Sign-in costs with the production Argon2id profile (a benchmark, never a test).

Times, through the public Client with the in-memory store and the production KDF
(m=19456 KiB, t=2, p=1) and real RSA-2048 keys: a password sign-in that returns
tokens, a wrong password, an unknown user under PreventUserExistenceErrors=ENABLED
(which checks a dummy hash so it costs the same), a refresh, and GetUser. Then N
threads sign different users in at once, to show that the KDF semaphore, not the
store lock, bounds throughput (the password check runs outside the transaction).
Usage: `python benchmarks/sign_in.py [--repeat 50] [--threads 8]`.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path, and benchmarks/http.py would
# shadow the standard library's `http` (which authflow's dependencies import).
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import statistics
import threading
import time

import authflow

PASSWORD = "Bench-pass-1"


def setup(users: int) -> tuple[authflow.Client, str, str]:
    client = authflow.Client()
    pool = client.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool, ClientName="bench", PreventUserExistenceErrors="ENABLED",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    for i in range(users):
        name = f"user{i}"
        client.admin_create_user(UserPoolId=pool, Username=name, TemporaryPassword="Temp-pass-1", MessageAction="SUPPRESS")
        started = client.initiate_auth(
            ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": "Temp-pass-1"}
        )
        client.respond_to_auth_challenge(
            ClientId=app, ChallengeName="NEW_PASSWORD_REQUIRED", Session=started["Session"],
            ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": PASSWORD},
        )
    return client, pool, app


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    client, pool, app = setup(args.threads)

    def sign_in(name: str = "user0", password: str = PASSWORD):
        try:
            return client.initiate_auth(
                ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": password}
            )
        except client.exceptions.NotAuthorizedException:
            return None

    tokens = sign_in()["AuthenticationResult"]
    rows = [
        ("sign-in with tokens", lambda: sign_in()),
        ("wrong password, then the right one", lambda: (sign_in(password="Wrong-pass-1"), sign_in())),
        ("unknown user (ENABLED)", lambda: sign_in(name="nobody-" + str(time.perf_counter_ns()))),
        ("refresh", lambda: client.initiate_auth(
            ClientId=app, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})),
        ("GetUser", lambda: client.get_user(AccessToken=tokens["AccessToken"])),
    ]
    print("| operation | median (ms) |\n|---|---:|")
    for label, fn in rows:
        print(f"| {label} | {median_ms(fn, args.repeat):.1f} |")

    per_thread = max(1, args.repeat // 5)
    threads = [
        threading.Thread(target=lambda n=f"user{i}": [sign_in(n) for _ in range(per_thread)])
        for i in range(args.threads)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    print(f"\n{args.threads} threads x {per_thread} sign-ins: {args.threads * per_thread / elapsed:.0f} sign-ins/s")


if __name__ == "__main__":
    main()
