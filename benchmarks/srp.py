"""SRP sign-in speed (a benchmark, never a test): gmpy2 against pure Python `pow`.

For each backend, times a whole USER_SRP_AUTH sign-in through the public Client (InitiateAuth
with SRP_A, then RespondToAuthChallenge with the claim, tokens issued; in-memory store, real
RSA-2048 keys), counting only the two server calls (the client's own arithmetic is done
between them, untimed), and, in the same run, the floor: the three modular exponentiations
the server does per sign-in (g^b for B, then v^u and (A·v^u)^b for S), with nothing else.

Then the same for a sign-in on a remembered device (device tracking): USER_SRP_AUTH,
PASSWORD_VERIFIER with DEVICE_KEY, DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER, four server
calls whose floor is twice the three exponentiations (the user's proof, then the device's).
Usage: `python benchmarks/srp.py [--repeat 100]`.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this folder comes first on sys.path, and benchmarks/http.py would
# shadow the standard library's `http` (which authflow's dependencies import).
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import base64
import secrets
import statistics
import time
from datetime import datetime, timezone

import authflow
from authflow.conformance.srp_client import DeviceSrpClient, device_registration
from authflow.crypto import srp

PASSWORD = "Bench-pass-1"


def setup() -> tuple[authflow.Client, str, str]:
    client = authflow.Client()
    pool = client.create_user_pool(PoolName="bench")["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool, ClientName="bench", ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool, Username="bench", MessageAction="SUPPRESS")
    client.admin_set_user_password(UserPoolId=pool, Username="bench", Password=PASSWORD, Permanent=True)
    return client, pool, app


def claim(pool: str, a: int, big_a: int, parameters: dict) -> dict:
    """The client's answer (amazon-cognito-identity-js's arithmetic), untimed."""
    big_b, user_id = int(parameters["SRP_B"], 16), parameters["USER_ID_FOR_SRP"]
    u = srp.scrambler(big_a, big_b)
    x = srp.private_key(pool, user_id, PASSWORD, int(parameters["SALT"], 16))
    s = pow((big_b - srp.K * pow(srp.G, x, srp.N)) % srp.N, a + u * x, srp.N)
    when = srp.format_timestamp(datetime.now(timezone.utc))
    block = base64.b64decode(parameters["SECRET_BLOCK"])
    return {
        "USERNAME": user_id, "PASSWORD_CLAIM_SECRET_BLOCK": parameters["SECRET_BLOCK"], "TIMESTAMP": when,
        "PASSWORD_CLAIM_SIGNATURE": srp.claim_signature(srp.session_key(s, u), pool, user_id, block, when),
    }


def sign_in_ms(client: authflow.Client, pool: str, app: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        a = secrets.randbits(1024) % srp.N
        big_a = pow(srp.G, a, srp.N)
        start = time.perf_counter()
        started = client.initiate_auth(ClientId=app, AuthFlow="USER_SRP_AUTH",
                                       AuthParameters={"USERNAME": "bench", "SRP_A": f"{big_a:x}"})
        middle = time.perf_counter()
        answer = claim(pool, a, big_a, started["ChallengeParameters"])
        resumed = time.perf_counter()
        done = client.respond_to_auth_challenge(ClientId=app, ChallengeName="PASSWORD_VERIFIER",
                                                ChallengeResponses=answer)
        end = time.perf_counter()
        assert "AuthenticationResult" in done
        times.append((middle - start) + (end - resumed))
    return statistics.median(times) * 1000


def device_setup() -> tuple[authflow.Client, str, str, dict, str]:
    """A tracking pool whose user has one remembered device (key, group key, password)."""
    client = authflow.Client()
    pool = client.create_user_pool(
        PoolName="bench", DeviceConfiguration={"ChallengeRequiredOnNewDevice": True,
                                               "DeviceOnlyRememberedOnUserPrompt": False},
    )["UserPool"]["Id"]
    app = client.create_user_pool_client(
        UserPoolId=pool, ClientName="bench", ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    client.admin_create_user(UserPoolId=pool, Username="bench", MessageAction="SUPPRESS")
    client.admin_set_user_password(UserPoolId=pool, Username="bench", Password=PASSWORD, Permanent=True)
    a = secrets.randbits(1024) % srp.N
    big_a = pow(srp.G, a, srp.N)
    started = client.initiate_auth(ClientId=app, AuthFlow="USER_SRP_AUTH",
                                   AuthParameters={"USERNAME": "bench", "SRP_A": f"{big_a:x}"})
    tokens = client.respond_to_auth_challenge(
        ClientId=app, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=claim(pool, a, big_a, started["ChallengeParameters"]),
    )["AuthenticationResult"]
    device = tokens["NewDeviceMetadata"]
    device_password = base64.b64encode(secrets.token_bytes(40)).decode()
    client.confirm_device(
        AccessToken=tokens["AccessToken"], DeviceKey=device["DeviceKey"],
        DeviceSecretVerifierConfig=device_registration(device["DeviceGroupKey"], device["DeviceKey"], device_password,
                                                       secrets.token_bytes(16)),
    )
    return client, pool, app, device, device_password


def device_sign_in_ms(client: authflow.Client, pool: str, app: str, device: dict, device_password: str,
                      repeat: int) -> tuple[float, float]:
    """Median ms of the whole device sign-in (four server calls) and of its two device calls."""
    totals, device_steps = [], []
    for _ in range(repeat):
        a = secrets.randbits(1024) % srp.N
        big_a = pow(srp.G, a, srp.N)
        t0 = time.perf_counter()
        started = client.initiate_auth(ClientId=app, AuthFlow="USER_SRP_AUTH",
                                       AuthParameters={"USERNAME": "bench", "SRP_A": f"{big_a:x}"})
        t1 = time.perf_counter()
        answer = {**claim(pool, a, big_a, started["ChallengeParameters"]), "DEVICE_KEY": device["DeviceKey"]}
        t2 = time.perf_counter()
        challenged = client.respond_to_auth_challenge(ClientId=app, ChallengeName="PASSWORD_VERIFIER",
                                                      ChallengeResponses=answer)
        t3 = time.perf_counter()
        proof = DeviceSrpClient(device["DeviceGroupKey"], device["DeviceKey"], device_password,
                                secrets.randbits(1024) % srp.N)
        t4 = time.perf_counter()
        verifier = client.respond_to_auth_challenge(
            ClientId=app, ChallengeName="DEVICE_SRP_AUTH", Session=challenged["Session"],
            ChallengeResponses={"USERNAME": "bench", "DEVICE_KEY": device["DeviceKey"], "SRP_A": proof.srp_a},
        )
        t5 = time.perf_counter()
        responses = proof.answer(verifier["ChallengeParameters"], "bench", datetime.now(timezone.utc))
        t6 = time.perf_counter()
        done = client.respond_to_auth_challenge(ClientId=app, ChallengeName="DEVICE_PASSWORD_VERIFIER",
                                                Session=verifier["Session"], ChallengeResponses=responses)
        t7 = time.perf_counter()
        assert "AuthenticationResult" in done and "NewDeviceMetadata" not in done["AuthenticationResult"]
        device_steps.append((t5 - t4) + (t7 - t6))
        totals.append((t1 - t0) + (t3 - t2) + device_steps[-1])
    return statistics.median(totals) * 1000, statistics.median(device_steps) * 1000


def floor_ms(backend: str, repeat: int) -> float:
    times = []
    v, big_a = secrets.randbelow(srp.N), pow(srp.G, secrets.randbits(1024), srp.N)
    for _ in range(repeat):
        b, u = secrets.randbits(256), secrets.randbits(256)
        start = time.perf_counter()
        srp.powmod(srp.G, b, srp.N, backend=backend)
        srp.powmod(big_a * srp.powmod(v, u, srp.N, backend=backend) % srp.N, b, srp.N, backend=backend)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    client, pool, app = setup()
    print(f"backends available: {', '.join(srp.BACKENDS)}; {args.repeat} sign-ins each (median)")
    print(f"{'backend':<8} {'sign-in ms':>11} {'sign-ins/s':>11} {'3 powmods ms':>13} {'floor share':>12}")
    for backend in ("gmpy2", "pure"):
        if backend not in srp.BACKENDS:
            print(f"{backend:<8} not installed (pip install 'authflow[fast]')")
            continue
        srp.DEFAULT_BACKEND = backend  # the engine reads it on every exponentiation
        sign_in_ms(client, pool, app, 5)  # warm-up: keys, caches
        total = sign_in_ms(client, pool, app, args.repeat)
        floor = floor_ms(backend, args.repeat)
        print(f"{backend:<8} {total:>11.2f} {1000 / total:>11.0f} {floor:>13.2f} {floor / total:>11.0%}")
    print()
    print("device SRP sign-in (remembered device: user proof, then device proof; four server calls)")
    print(f"{'backend':<8} {'sign-in ms':>11} {'sign-ins/s':>11} {'device steps ms':>16} {'6 powmods ms':>13} "
          f"{'floor share':>12}")
    client, pool, app, device, device_password = device_setup()
    for backend in ("gmpy2", "pure"):
        if backend not in srp.BACKENDS:
            continue
        srp.DEFAULT_BACKEND = backend
        device_sign_in_ms(client, pool, app, device, device_password, 5)  # warm-up
        total, steps = device_sign_in_ms(client, pool, app, device, device_password, args.repeat)
        floor = 2 * floor_ms(backend, args.repeat)
        print(f"{backend:<8} {total:>11.2f} {1000 / total:>11.0f} {steps:>16.2f} {floor:>13.2f} {floor / total:>11.0%}")


if __name__ == "__main__":
    main()
