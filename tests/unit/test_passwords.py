"""Argon2id hashing and the password policy (pure functions)."""

from __future__ import annotations

import os
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authflow.adapters import SeededEntropy
from authflow.core.policy import SYMBOLS, check_password, generate_password, policy_violation
from authflow.core.pool_config import PasswordPolicy
from authflow.crypto.passwords import (
    FAST_INSECURE,
    PRODUCTION,
    KdfParams,
    hash_password,
    needs_rehash,
    verify_password,
)
from authflow.errors import InvalidPasswordException

SALT = b"s" * 16


def test_round_trip_and_wrong_password():
    stored = hash_password("Correct horse 1!", SALT, FAST_INSECURE)
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password("Correct horse 1!", stored)
    assert not verify_password("Correct horse 1?", stored)
    assert not verify_password("", stored)


def test_no_normalisation_or_truncation():
    a = "x" * 199 + "a"
    b = "x" * 199 + "b"
    assert not verify_password(b, hash_password(a, SALT, FAST_INSECURE))
    nfc, nfd = "\u00e9", "e\u0301"
    assert not verify_password(nfd, hash_password(nfc, SALT, FAST_INSECURE))


def test_distinct_salts_give_distinct_hashes():
    hashes = {hash_password("same", os.urandom(16), FAST_INSECURE) for _ in range(50)}
    assert len(hashes) == 50


def test_short_salt_refused():
    with pytest.raises(ValueError):
        hash_password("x", b"short", FAST_INSECURE)


def test_production_profile_meets_the_owasp_floor():
    assert PRODUCTION.memory_kib >= 19_456 and PRODUCTION.iterations >= 2 and PRODUCTION.lanes >= 1


def test_needs_rehash():
    stored = hash_password("pw", SALT, FAST_INSECURE)
    assert needs_rehash(stored, PRODUCTION)
    assert not needs_rehash(stored, FAST_INSECURE)
    assert needs_rehash("garbage", FAST_INSECURE)


@pytest.mark.parametrize(
    "stored",
    [
        "$argon2id$v=19$m=4194304,t=1,p=1$c3NzcxNzc3Nzc3Nzc3Nzcw$AAAA",  # 4 GiB: refused, not allocated
        "$argon2id$v=19$m=8,t=99,p=1$c3NzcxNzc3Nzc3Nzc3Nzcw$AAAA",
        "$argon2i$v=19$m=8,t=1,p=1$c3NzcxNzc3Nzc3Nzc3Nzcw$AAAA",
        "$argon2id$v=19$m=8,t=1$c3Nz$AAAA",
        "plaintext",
    ],
)
def test_malformed_or_hostile_hashes_never_verify(stored):
    assert verify_password("anything", stored) is False


def test_kdf_params_are_values():
    assert KdfParams(memory_kib=8, iterations=1, lanes=1) == FAST_INSECURE


# -- policy ---------------------------------------------------------------------------------------

POLICIES = st.builds(
    PasswordPolicy,
    minimum_length=st.integers(6, 99),
    require_uppercase=st.booleans(),
    require_lowercase=st.booleans(),
    require_numbers=st.booleans(),
    require_symbols=st.booleans(),
    temporary_password_validity_days=st.just(7),
    password_history_size=st.just(0),
)


@given(policy=POLICIES, seed=st.integers(0, 2**32))
def test_generated_passwords_satisfy_any_policy(policy, seed):
    password = generate_password(policy, SeededEntropy(seed))
    assert len(password) == max(12, policy.minimum_length)
    assert policy_violation(password, policy) is None
    assert all(c in string.ascii_letters + string.digits + SYMBOLS for c in password)


@given(policy=POLICIES, password=st.text(max_size=120))
def test_policy_check_agrees_with_its_definition(policy, password):
    ok = (
        len(password) >= policy.minimum_length
        and (not policy.require_uppercase or any(c in string.ascii_uppercase for c in password))
        and (not policy.require_lowercase or any(c in string.ascii_lowercase for c in password))
        and (not policy.require_numbers or any(c in string.digits for c in password))
        and (not policy.require_symbols or any(c in SYMBOLS for c in password))
    )
    assert (policy_violation(password, policy) is None) == ok


def test_non_latin_letters_do_not_count_as_cases():
    policy = PasswordPolicy(
        minimum_length=6, require_uppercase=True, require_lowercase=False, require_numbers=False,
        require_symbols=False, temporary_password_validity_days=7, password_history_size=0,
    )
    with pytest.raises(InvalidPasswordException) as err:
        check_password("ÄÖÜÉÈÀ", policy)
    assert err.value.message == "Password did not conform with policy: Password must have uppercase characters"
