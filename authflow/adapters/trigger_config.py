"""The triggers file of `authflow serve`: Lambda ARNs mapped to Python callables.

Theory of operation: `load(path)` reads the file, `parse` checks its shape (pure: text in,
`TriggerFile` out, or a `TriggerConfigError` naming the file and the entry), and
`resolve` imports each `module:function` target, so that every entry is imported and
checked before a server listens. The result carries a `CallableTriggers` (the Triggers
port) and the ARN -> target map the start-up banner prints.

The format is TOML (the standard library's `tomllib`; on Python 3.10, the `tomli`
package if it is installed), or JSON of the same shape when the name ends in `.json`::

    # authflow-triggers.toml
    path = ["."]          # optional: where modules are imported from, relative to this file
    [functions]
    "arn:aws:lambda:us-east-1:123456789012:function:pre-sign-up" = "myhooks:pre_sign_up"

`path` defaults to `["."]`, the file's own directory; its entries are put in front of
`sys.path`. A target's attribute may be dotted (`myhooks:handlers.pre_sign_up`).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authflow.adapters.triggers import CallableTriggers

#: A Lambda function ARN, optionally with a version or alias qualifier.
LAMBDA_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]+))?"
)
TARGET = re.compile(r"(?P<module>[A-Za-z_]\w*(\.[A-Za-z_]\w*)*):(?P<attribute>[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)")
KEYS = ("path", "functions")


class TriggerConfigError(Exception):
    """The triggers file cannot be used; the one-line message names the file and the entry."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerFile:
    """A checked triggers file: where to import from and what each ARN names."""

    path: Path
    search_path: tuple[Path, ...]
    targets: Mapping[str, str]  # ARN -> "module:function", in file order


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedTriggers:
    """A triggers file with every target imported."""

    file: TriggerFile
    triggers: CallableTriggers


def load(path: str | Path) -> LoadedTriggers:
    """Read, check and import a triggers file; raise `TriggerConfigError` on any fault."""
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TriggerConfigError(f"{path}: cannot read the triggers file: {err.strerror or err}") from None
    checked = parse(text, path)
    return LoadedTriggers(file=checked, triggers=resolve(checked))


def parse(text: str, path: Path) -> TriggerFile:
    """Check a triggers file's text (TOML, or JSON when `path` ends in `.json`)."""
    data = _decode(text, path)
    unknown = [key for key in data if key not in KEYS]
    if unknown:
        raise TriggerConfigError(f"{path}: unknown key {unknown[0]!r} (expected {' and '.join(KEYS)})")
    search = data.get("path", ["."])
    if not isinstance(search, list) or not all(isinstance(p, str) for p in search):
        raise TriggerConfigError(f"{path}: path must be a list of directories, e.g. path = [\".\"]")
    functions = data.get("functions")
    if not isinstance(functions, dict):
        raise TriggerConfigError(f"{path}: no [functions] table mapping Lambda ARNs to \"module:function\"")
    for arn, target in functions.items():
        if not LAMBDA_ARN.fullmatch(arn):
            raise TriggerConfigError(
                f"{path}: {arn!r} is not a Lambda function ARN "
                "(arn:aws:lambda:<region>:<account>:function:<name>)")
        if not isinstance(target, str) or not TARGET.fullmatch(target):
            raise TriggerConfigError(f"{path}: {arn} = {target!r}: expected \"module:function\"")
    return TriggerFile(path=path, search_path=tuple((path.parent / p).resolve() for p in search),
                       targets=dict(functions))


def resolve(checked: TriggerFile) -> CallableTriggers:
    """Import every target (the search path first) and return them as the Triggers port."""
    for directory in reversed(checked.search_path):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    functions: dict[str, Callable[[dict[str, Any]], Any]] = {}
    for arn, target in checked.targets.items():
        functions[arn] = _import(target, f"{checked.path}: {arn} = {target!r}")
    return CallableTriggers(functions)


def _decode(text: str, path: Path) -> dict[str, Any]:
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as err:
            raise TriggerConfigError(f"{path}: not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise TriggerConfigError(f"{path}: not a JSON object")
        return data
    toml = _toml(path)
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as err:
        raise TriggerConfigError(f"{path}: not valid TOML: {err}") from None


def _toml(path: Path) -> Any:
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise TriggerConfigError(
                f"{path}: reading a TOML triggers file on Python 3.10 needs `pip install tomli` "
                "(or write the same table as a .json file)") from None
    return tomllib


def _import(target: str, where: str) -> Callable[[dict[str, Any]], Any]:
    module_name, attribute = target.split(":", 1)
    try:
        found: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and (module_name == err.name or module_name.startswith(err.name + ".")):
            raise TriggerConfigError(f"{where}: no module named {err.name!r}") from None
        raise TriggerConfigError(f"{where}: importing {module_name} failed: {_one_line(err)}") from None
    except Exception as err:  # the module's own code failed as it was imported
        raise TriggerConfigError(f"{where}: importing {module_name} failed: {_one_line(err)}") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise TriggerConfigError(f"{where}: {module_name} has no attribute {attribute!r}")
        found = getattr(found, part)
    if not callable(found):
        raise TriggerConfigError(f"{where}: {attribute} is a {type(found).__name__}, not a callable")
    return found


def _one_line(err: BaseException) -> str:
    return " ".join(f"{type(err).__name__}: {err}".split())
