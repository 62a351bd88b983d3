"""The conformance suite: Cognito behaviour as data (`specs/scenarios/*.yaml`), runnable
against any Cognito-compatible endpoint (`authflow conformance --endpoint URL`) or
against `authflow.Client` in process (`--in-process`).

Modules: `scenarios` (the files and their shape), `values` (variables in requests),
`matching` (expectations), `targets` (HTTP through boto3, or in process; the out-of-band
hooks), `runner` (executing scenarios), `report` (progress, tables, divergence reports).
"""

from authflow.conformance.runner import BROKEN, FAILED, PASSED, SKIPPED, Result, run_suite
from authflow.conformance.scenarios import Scenario, ScenarioError, Suite, load_suite
from authflow.conformance.targets import HttpTarget, InProcessTarget

__all__ = [
    "BROKEN",
    "FAILED",
    "PASSED",
    "SKIPPED",
    "HttpTarget",
    "InProcessTarget",
    "Result",
    "Scenario",
    "ScenarioError",
    "Suite",
    "load_suite",
    "run_suite",
]
