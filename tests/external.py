"""Tests that need a program from outside Python (node, the AWS CLI, PostgreSQL ...).

Locally such a test skips with a clear reason when the program is missing; in CI
(`.ci/run` sets `AUTHFLOW_REQUIRE_EXTERNAL=1`) a missing program fails the test instead,
so a broken CI set-up can never pass by skipping.
"""

from __future__ import annotations

import os

import pytest


def required() -> bool:
    return os.environ.get("AUTHFLOW_REQUIRE_EXTERNAL") == "1"


def need(available: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) unless `available`."""
    if available:
        return
    if required():
        pytest.fail(f"{reason} (required in CI: AUTHFLOW_REQUIRE_EXTERNAL=1)")
    pytest.skip(reason)
