"""Loading the state-machine specs shipped with authflow.

The specs live in the repository's `specs/` folder and are packaged into the wheel
as `authflow/_specs`; an editable install reads them from the repository.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def spec_dir() -> Path:
    """Where the spec files are: the packaged copy, else the source checkout."""
    packaged = _PACKAGE_DIR / "_specs"
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / "specs"


@functools.cache
def load_spec(name: str) -> dict[str, Any]:
    """The parsed spec `specs/<name>.yaml` (cached; treat it as read-only)."""
    path = spec_dir() / f"{name}.yaml"
    with path.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or "states" not in data or "transitions" not in data:
        raise ValueError(f"{path} is not a state-machine spec")
    return data
