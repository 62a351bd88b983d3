"""Engine settings that are not Cognito pool settings."""

from __future__ import annotations

from dataclasses import dataclass

from authflow.crypto.keys import PRODUCTION_KEYS, KeyFactory
from authflow.crypto.passwords import PRODUCTION, KdfParams
from authflow.crypto.sealing import Keyring


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    #: Argon2id cost. Use `authflow.crypto.passwords.FAST_INSECURE` in tests only.
    kdf: KdfParams = PRODUCTION
    #: The AWS account id that appears in pool ARNs.
    account_id: str = "000000000000"
    #: Where pools' RSA signing keys come from. Use `authflow.crypto.keys.TEST_KEYS`
    #: in tests only (it hands the same few keys to every pool).
    signing_keys: KeyFactory = PRODUCTION_KEYS
    #: Tokens' `iss` is `<issuer_base_url>/<poolId>`; None gives the AWS form
    #: `https://cognito-idp.<region>.amazonaws.com/<poolId>`, which aws-jwt-verify and
    #: pycognito expect.
    issuer_base_url: str | None = None
    #: The key-encryption key(s) that seal stored secrets (pool and client secrets,
    #: signing keys). Required with a durable store; with the in-memory store, None
    #: means a random KEK that lives as long as the engine (and the store) does.
    kek: Keyring | None = None
    #: Refuse a NEW_PASSWORD_REQUIRED answer whose new password is the temporary one
    #: (ASVS 2.3.1: an initial password must not become the long-term one). Off by default,
    #: because Cognito accepts it (tests run against AWS show it); turn it on to harden.
    refuse_temporary_password_reuse: bool = False
