"""Engine settings that are not Cognito pool settings."""

from __future__ import annotations

from dataclasses import dataclass

from authflow.crypto.passwords import PRODUCTION, KdfParams


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    #: Argon2id cost. Use `authflow.crypto.passwords.FAST_INSECURE` in tests only.
    kdf: KdfParams = PRODUCTION
    #: The AWS account id that appears in pool ARNs.
    account_id: str = "000000000000"
