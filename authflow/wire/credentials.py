"""The access keys `authflow serve` accepts for signed operations.

The file is an AWS shared-credentials INI file (`[profile]` sections with
`aws_access_key_id` and `aws_secret_access_key`), so the very same file can be handed to
boto3 and the AWS CLI through `AWS_SHARED_CREDENTIALS_FILE`. Other keys in a section
(`aws_session_token`, `region`, ...) are ignored.
"""

from __future__ import annotations

import configparser
import os
import string
from pathlib import Path

from authflow.adapters.entropy import random_string
from authflow.ports import Entropy

_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


class CredentialsError(ValueError):
    """The credentials file cannot be used (unreadable, malformed, or holds no keys)."""


def load(path: Path) -> dict[str, str]:
    """Access key id -> secret access key for every complete profile in the file."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as err:
        raise CredentialsError(f"cannot read credentials file {path}: {err}") from None
    found: dict[str, str] = {}
    for section in parser.sections():
        key_id = parser.get(section, "aws_access_key_id", fallback="").strip()
        secret = parser.get(section, "aws_secret_access_key", fallback="").strip()
        if key_id and secret:
            if key_id in found and found[key_id] != secret:
                raise CredentialsError(f"{path}: access key {key_id} appears twice with different secrets")
            found[key_id] = secret
    if not found:
        raise CredentialsError(
            f"{path} has no profile with both aws_access_key_id and aws_secret_access_key"
        )
    return found


def create(path: Path, entropy: Entropy, profile: str = "default") -> tuple[str, str]:
    """Write a new credentials file readable by its owner only; return (key id, secret).

    Refuses to overwrite an existing file."""
    key_id = "AKIA" + random_string(entropy, 16, _KEY_ID_ALPHABET)
    secret = random_string(entropy, 40, _SECRET_ALPHABET)
    text = (
        "# Written by `authflow serve`: the access key it accepts for signed operations.\n"
        f"# Use it with: export AWS_SHARED_CREDENTIALS_FILE={path.resolve()}\n"
        f"[{profile}]\n"
        f"aws_access_key_id = {key_id}\n"
        f"aws_secret_access_key = {secret}\n"
    )
    write_private(path, text)
    return key_id, secret


def write_private(path: Path, text: str) -> None:
    """Create `path` (never overwrite it) readable by its owner only, and make it durable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
