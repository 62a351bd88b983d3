"""Token signing keys, JWKS and JWT checks, with the JWT pitfalls of RFC 8725 as named
regression tests (see reference/security.md §5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from authflow.crypto.keys import (
    TEST_KEYS,
    generate_private_key,
    new_kid,
    private_key,
    public_jwk,
)
from authflow.crypto.signing import TokenRejected, decode, sign, unverified_claims

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
T = int(NOW.timestamp())
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
CLIENT = "4example5clientid6789abcde"
KID = new_kid(bytes(range(32)))
KEY = None  # set lazily by `key()`: no key is made at import


def key() -> bytes:
    global KEY
    if KEY is None:
        KEY = TEST_KEYS()
    return KEY


def other_key() -> bytes:
    """A TEST_KEYS key different from `key()` (the ring holds four)."""
    while (der := TEST_KEYS()) == key():
        pass
    return der


def jwks(der: bytes | None = None, kid: str = KID) -> dict:
    return {"keys": [public_jwk(der or key(), kid)]}


def id_claims(**changes) -> dict:
    claims = {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "email_verified": True,
        "iss": ISSUER,
        "cognito:username": "alice",
        "aud": CLIENT,
        "event_id": "11111111-2222-3333-4444-555555555555",
        "token_use": "id",
        "auth_time": T,
        "exp": T + 3600,
        "iat": T,
        "jti": "66666666-7777-8888-9999-000000000000",
        "email": "alice@example.com",
    }
    return _changed(claims, changes)


def access_claims(**changes) -> dict:
    claims = {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "iss": ISSUER,
        "client_id": CLIENT,
        "origin_jti": "12121212-3434-5656-7878-909090909090",
        "event_id": "11111111-2222-3333-4444-555555555555",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": T,
        "exp": T + 3600,
        "iat": T,
        "jti": "66666666-7777-8888-9999-000000000000",
        "username": "alice",
    }
    return _changed(claims, changes)


def _changed(claims: dict, changes: dict) -> dict:
    for name, value in changes.items():
        if value is _DROP:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


_DROP = object()


def check(token: str, *, token_use: str = "id", client_id=CLIENT, now=NOW, leeway=0, keys=None):
    return decode(
        token, keys or jwks(), issuer=ISSUER, token_use=token_use, client_id=client_id,
        now=now, leeway=leeway,
    )


def reason(token: str, **kwargs) -> str:
    with pytest.raises(TokenRejected) as info:
        check(token, **kwargs)
    return info.value.reason


# --- hand-built tokens: what an attacker can send ------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def segment(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge_rs256(header: dict, claims: dict, der: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = private_key(der).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def forge_hs256(header: dict, claims: dict, secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def header_of(token: str) -> bytes:
    first = token.split(".")[0]
    return base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))


# --- round trip ----------------------------------------------------------------------


def test_round_trip_id_token():
    claims = id_claims()
    token = sign(claims, key(), KID)
    decoded = check(token)
    assert decoded == claims
    assert list(decoded) == list(claims), "claims keep the order they were given in"
    assert header_of(token) == json.dumps({"kid": KID, "alg": "RS256"}, separators=(",", ":")).encode()


def test_round_trip_access_token():
    claims = access_claims()
    assert check(sign(claims, key(), KID), token_use="access") == claims


def test_unverified_claims_reads_payload():
    claims = id_claims(name="Zoë")
    assert unverified_claims(sign(claims, key(), KID)) == claims


def test_client_id_may_be_a_collection_or_skipped():
    token = sign(id_claims(), key(), KID)
    assert check(token, client_id=["other", CLIENT])
    assert check(token, client_id=frozenset({CLIENT}))
    assert check(token, client_id=None)
    assert reason(token, client_id=[]) == "invalid"


def test_the_right_key_is_chosen_from_several():
    token = sign(id_claims(), key(), KID)
    keys = {"keys": [public_jwk(other_key(), "rotated-out"), public_jwk(key(), KID)]}
    assert check(token, keys=keys) == id_claims()


# --- keys and JWKS hygiene -----------------------------------------------------------


def test_public_jwk_has_exactly_cognitos_members():
    jwk = public_jwk(key(), KID)
    assert list(jwk) == ["alg", "e", "kid", "kty", "n", "use"]
    assert (jwk["alg"], jwk["kid"], jwk["kty"], jwk["use"], jwk["e"]) == ("RS256", KID, "RSA", "sig", "AQAB")
    assert not {"d", "p", "q", "dp", "dq", "qi", "k", "oth"} & set(jwk)
    assert all(isinstance(v, str) for v in jwk.values())
    assert "=" not in jwk["n"] + jwk["e"], "unpadded base64url"
    modulus = base64.urlsafe_b64decode(jwk["n"] + "=" * (-len(jwk["n"]) % 4))
    assert modulus[0] != 0, "minimal big-endian bytes"
    n = int.from_bytes(modulus, "big")
    assert n.bit_length() >= 2048
    assert n == private_key(key()).public_key().public_numbers().n


def test_new_kid_is_cognito_shaped():
    random = bytes(range(40))
    kid = new_kid(random)
    assert len(kid) == 44
    assert base64.b64decode(kid) == random[:32]
    with pytest.raises(ValueError):
        new_kid(bytes(31))


def test_test_keys_rotate_through_four_valid_keys():
    handed = [TEST_KEYS() for _ in range(8)]
    assert len(set(handed)) == 4
    assert handed[:4] == handed[4:]
    for der in set(handed):
        loaded = serialization.load_der_private_key(der, password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey) and loaded.key_size == 2048


def test_test_keys_are_thread_safe():
    seen: list[bytes] = []
    lock = threading.Lock()

    def take():
        mine = [TEST_KEYS() for _ in range(50)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(Counter(seen).values()) == [100, 100, 100, 100]


def test_generate_private_key_is_rsa_2048_pkcs8():
    der = generate_private_key()
    loaded = serialization.load_der_private_key(der, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.key_size == 2048 and loaded.public_key().public_numbers().e == 65537
    pkcs8 = loaded.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pkcs8 == der


def test_private_key_refuses_non_rsa():
    from cryptography.hazmat.primitives.asymmetric import ec

    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError):
        private_key(der)


# --- forged and misused tokens -------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "NONE", "None", "nOnE"])
def test_alg_none_is_rejected(alg):
    token = f"{segment({'kid': KID, 'alg': alg})}.{segment(id_claims())}."
    assert reason(token) == "invalid"
    signed_anyway = forge_rs256({"kid": KID, "alg": alg}, id_claims(), key())
    assert reason(signed_anyway) == "invalid"


def test_hs256_signed_with_the_public_key_is_rejected():
    pem = private_key(key()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk_json = json.dumps(public_jwk(key(), KID)).encode()
    for secret in (pem, jwk_json, base64.urlsafe_b64decode(public_jwk(key(), KID)["n"] + "==")):
        assert reason(forge_hs256({"kid": KID, "alg": "HS256"}, id_claims(), secret)) == "invalid"


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES256"])
def test_other_algorithms_are_rejected(alg):
    assert reason(forge_rs256({"kid": KID, "alg": alg}, id_claims(), key())) == "invalid"


@pytest.mark.parametrize(
    "kid",
    [
        "unknown",
        "",
        "../../../../../../etc/passwd",
        "/dev/null",
        KID + "/../" + KID,
        "' OR '1'='1",
        KID.lower(),
        KID + "\x00",
    ],
)
def test_unknown_kid_is_rejected(kid):
    assert reason(forge_rs256({"kid": kid, "alg": "RS256"}, id_claims(), key())) == "invalid"


@pytest.mark.parametrize("kid", [123, None, [KID], {"kid": KID}, True])
def test_kid_that_is_not_a_string_is_rejected(kid):
    assert reason(forge_rs256({"kid": kid, "alg": "RS256"}, id_claims(), key())) == "invalid"


def test_missing_kid_is_rejected():
    assert reason(forge_rs256({"alg": "RS256"}, id_claims(), key())) == "invalid"


@pytest.mark.parametrize("header_name", ["jwk", "jku", "x5u", "x5c"])
def test_attacker_key_in_the_header_is_ignored(header_name):
    attacker = other_key()
    attacker_jwk = public_jwk(attacker, KID)
    value = {
        "jwk": attacker_jwk,
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIB"],
    }[header_name]
    token = forge_rs256({"kid": KID, "alg": "RS256", header_name: value}, id_claims(), attacker)
    assert reason(token) == "invalid"


def test_token_signed_by_another_key_is_rejected():
    assert reason(sign(id_claims(), other_key(), KID)) == "invalid"


def test_crit_header_is_rejected():
    token = forge_rs256({"kid": KID, "alg": "RS256", "crit": ["exp"]}, id_claims(), key())
    assert reason(token) == "invalid"


@pytest.mark.parametrize(
    "iss",
    [
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other",
        ISSUER[:-1],  # a substring of the issuer (PyJWT 2.10.0, CVE-2024-53861)
        ISSUER + "/",
        ISSUER.upper(),
        [ISSUER],
        None,
    ],
)
def test_wrong_issuer_is_rejected(iss):
    assert reason(sign(id_claims(iss=iss), key(), KID)) == "invalid"


def test_id_token_is_not_an_access_token():
    assert reason(sign(id_claims(), key(), KID), token_use="access") == "invalid"


def test_access_token_is_not_an_id_token():
    assert reason(sign(access_claims(), key(), KID), token_use="id") == "invalid"


@pytest.mark.parametrize("token_use", ["ID", "refresh", "", None, ["id"]])
def test_unknown_token_use_claim_is_rejected(token_use):
    assert reason(sign(id_claims(token_use=token_use), key(), KID)) == "invalid"


def test_id_token_for_another_client_is_rejected():
    assert reason(sign(id_claims(aud="another-client"), key(), KID)) == "invalid"
    assert reason(sign(id_claims(aud=[CLIENT]), key(), KID)) == "invalid"
    # client_id is not what binds an id token
    assert reason(sign(id_claims(aud="another-client", client_id=CLIENT), key(), KID)) == "invalid"


def test_access_token_for_another_client_is_rejected():
    assert reason(sign(access_claims(client_id="another-client"), key(), KID), token_use="access") == "invalid"
    assert reason(sign(access_claims(client_id=_DROP), key(), KID), token_use="access") == "invalid"
    # aud is not what binds an access token
    token = sign(access_claims(client_id="another-client", aud=CLIENT), key(), KID)
    assert reason(token, token_use="access") == "invalid"


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "sub", "token_use"])
def test_missing_required_claim_is_rejected(claim):
    assert reason(sign(id_claims(**{claim: _DROP}), key(), KID)) == "invalid"
    assert reason(sign(id_claims(**{claim: None}), key(), KID)) == "invalid"


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", ["9999999999", [T + 60], True, 1e999, {"t": 1}])
def test_time_claims_must_be_numbers(claim, value):
    claims = id_claims(**{claim: value})
    token = sign(claims, key(), KID) if value != 1e999 else _with_raw_number(claims, claim, "1e999")
    assert reason(token) == "invalid"


def _with_raw_number(claims: dict, claim: str, literal: str) -> str:
    body = json.dumps({**claims, claim: 0}, separators=(",", ":")).replace(f'"{claim}":0', f'"{claim}":{literal}')
    signing_input = f"{segment({'kid': KID, 'alg': 'RS256'})}.{b64url(body.encode())}"
    signature = private_key(key()).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def test_sub_must_be_a_string():
    assert reason(sign(id_claims(sub=42), key(), KID)) == "invalid"


def test_tampered_payload_is_rejected():
    token = sign(id_claims(), key(), KID)
    header, _, signature = token.split(".")
    for claims in (id_claims(**{"cognito:username": "mallory"}), id_claims(exp=T + 10**6)):
        assert reason(f"{header}.{segment(claims)}.{signature}") == "invalid"
    assert reason(f"{header}.{token.split('.')[1]}.{signature[:-4]}AAAA") == "invalid"


def test_duplicate_claims_are_rejected_even_when_signed():
    body = json.dumps(id_claims(), separators=(",", ":"))[:-1] + ',"aud":"another-client"}'
    signing_input = f"{segment({'kid': KID, 'alg': 'RS256'})}.{b64url(body.encode())}"
    signature = private_key(key()).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert reason(f"{signing_input}.{b64url(signature)}") == "invalid"


@pytest.mark.parametrize(
    "jwk_changes",
    [
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "EC"},
        {"kty": _DROP},
        {"alg": "HS256"},
        {"use": "enc"},
        {"n": 12345},
        {"n": "!!!"},
        {"e": "AA"},
    ],
)
def test_unusable_jwk_is_rejected(jwk_changes):
    jwk = _changed(public_jwk(key(), KID), jwk_changes)
    assert reason(sign(id_claims(), key(), KID), keys={"keys": [jwk]}) == "invalid"


def test_short_rsa_key_in_jwks_is_rejected():
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert reason(sign(id_claims(), weak, KID), keys=jwks(weak)) == "invalid"


def test_private_members_in_jwks_are_never_used_to_verify():
    numbers = private_key(key()).private_numbers()
    leaky = {**public_jwk(key(), KID), "d": b64url(numbers.d.to_bytes(256, "big"))}
    assert check(sign(id_claims(), key(), KID), keys={"keys": [leaky]}) == id_claims()


# --- expiry --------------------------------------------------------------------------


def test_token_expires_at_exp():
    assert reason(sign(id_claims(exp=T), key(), KID)) == "expired"
    assert check(sign(id_claims(exp=T + 1), key(), KID))
    assert reason(sign(id_claims(exp=T + 1), key(), KID), now=NOW + timedelta(milliseconds=1500)) == "expired"


def test_leeway_is_honoured():
    assert check(sign(id_claims(exp=T - 9), key(), KID), leeway=10)
    assert reason(sign(id_claims(exp=T - 10), key(), KID), leeway=10) == "expired"
    assert check(sign(id_claims(iat=T + 10), key(), KID), leeway=10)
    assert reason(sign(id_claims(iat=T + 11), key(), KID), leeway=10) == "invalid"


def test_issued_in_the_future_is_invalid():
    assert reason(sign(id_claims(iat=T + 1), key(), KID)) == "invalid"
    assert reason(sign(id_claims(nbf=T + 1), key(), KID)) == "invalid"
    assert check(sign(id_claims(nbf=T), key(), KID))


def test_expired_means_otherwise_valid():
    assert reason(sign(id_claims(exp=T, aud="another-client"), key(), KID)) == "invalid"
    assert reason(sign(id_claims(exp=T), other_key(), KID)) == "invalid"


def test_time_is_an_argument():
    token = sign(id_claims(exp=T + 60), key(), KID)
    assert check(token, now=NOW + timedelta(seconds=59))
    assert reason(token, now=NOW + timedelta(seconds=60)) == "expired"
    other_zone = (NOW + timedelta(seconds=60)).astimezone(timezone(timedelta(hours=-5)))
    assert reason(token, now=other_zone) == "expired"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"leeway": -1},
        {"leeway": 301},
        {"leeway": 1.5},
        {"now": datetime(2026, 1, 1, 12)},
        {"token_use": "refresh"},
    ],
)
def test_bad_arguments_are_programming_errors(kwargs):
    with pytest.raises(ValueError):
        check(sign(id_claims(), key(), KID), **kwargs)


def test_token_rejected_reasons_are_closed():
    assert TokenRejected("expired").reason == "expired"
    with pytest.raises(ValueError):
        TokenRejected("nope")


# --- garbage in ----------------------------------------------------------------------


GARBAGE = [
    None,
    123,
    b"a.b.c",
    "",
    "a.b",
    "a.b.c.d",
    "...",
    "!!!.e30.",
    "W10.e30.",  # header is a JSON array
    "e30.W10.",  # payload is a JSON array
    "e30=.e30.",  # padding
    "e30.e31.",  # non-canonical base64url
    "e30.e30.A",  # impossible length
    "eyJhIjoxLCJhIjoyfQ.e30.",  # duplicate header member
    segment({"kid": KID, "alg": "RS256"}) + "." + b64url(b"\xff\xfe") + ".",
    segment({"kid": KID, "alg": "RS256"}) + "." + b64url(b'{"exp":NaN}') + ".",
    segment({"kid": KID, "alg": "RS256"}) + "." + b64url(b"[" * 100_000) + ".",
]


@pytest.mark.parametrize("token", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_invalid(token):
    with pytest.raises(TokenRejected) as info:
        unverified_claims(token)
    assert info.value.reason == "invalid"
    assert reason(token) == "invalid"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
claim_names = st.sampled_from(["exp", "iat", "nbf", "iss", "sub", "aud", "client_id", "token_use"]) | st.text()
b64_segments = st.one_of(
    st.binary().map(b64url),
    json_values.map(lambda v: segment(v)),
    st.dictionaries(claim_names, json_values, max_size=6).map(segment),
    st.fixed_dictionaries(
        {"alg": st.sampled_from(["RS256", "none", "HS256"]) | st.text(),
         "kid": st.just(KID) | json_values},
    ).map(segment),
    st.text(alphabet="ABCDEFabcdef0123456789-_=+/ .", max_size=12),
)
tokens = st.text() | st.lists(b64_segments, min_size=1, max_size=5).map(".".join)


@given(tokens)
def test_decode_raises_only_token_rejected(token):
    try:
        check(token)
    except TokenRejected as exc:
        assert exc.reason in ("invalid", "expired")


@given(tokens)
def test_unverified_claims_raises_only_token_rejected(token):
    try:
        assert isinstance(unverified_claims(token), dict)
    except TokenRejected as exc:
        assert exc.reason == "invalid"


@given(
    st.dictionaries(claim_names, json_values, max_size=8),
    st.fixed_dictionaries({}, optional={name: json_values for name in ("exp", "iat", "nbf", "aud", "client_id")}),
    st.sampled_from(["id", "access"]),
)
def test_signed_odd_claims_raise_only_token_rejected(extra, odd, token_use):
    base = id_claims() if token_use == "id" else access_claims()
    token = sign({**base, **extra, **odd}, key(), KID)
    try:
        check(token, token_use=token_use)
    except TokenRejected as exc:
        assert exc.reason in ("invalid", "expired")
