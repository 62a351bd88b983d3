"""The README's Python quick start runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
SERVER_MARK = "# against `authflow serve`"


def python_blocks(*, server: bool) -> list[str]:
    """The README's Python examples: the in-process ones, or the one for a running server."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return [b for b in blocks if b.startswith(SERVER_MARK) == server]


def test_readme_python_quick_start_runs(capsys):
    blocks = python_blocks(server=False)
    assert blocks, "the README has no Python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "FORCE_CHANGE_PASSWORD" in out
    assert "UserNotFoundException" in out
    assert "NEW_PASSWORD_REQUIRED" in out
    assert "alice alice@example.com" in out
    assert "Hello bob, your first password is Temp-pass-1" in out  # the CustomMessage example
    assert "[True] False" in out  # the device example: listed, and no new device the second time
    assert "SOFTWARE_TOKEN_MFA dana arn:aws:iam::123456789012:role/admins" in out  # the groups + TOTP example
    assert "['EMAIL_OTP'] e***@e*** True" in out  # the passwordless example
