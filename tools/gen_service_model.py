"""Generate authflow/wire/service-model.json from botocore's cognito-idp service model.

Theory of operation: authflow may not import botocore at run time, so the facts it needs
from the service model (operations, their input/output/error shapes, whether they are
SigV4-signed, and every constraint on every reachable shape) are copied into a small JSON
file that ships inside the package. Documentation strings and anything unreachable from an
operation are dropped. The output is deterministic (sorted keys, one operation or shape per
line) so regenerating from the same botocore gives a byte-identical file and a newer botocore
gives a readable diff.

Usage:
    python tools/gen_service_model.py                       # the installed botocore
    python tools/gen_service_model.py --botocore-dir DIR    # an unpacked wheel, or a .whl
    python tools/gen_service_model.py --check               # exit 1 if the file is stale

To use the newest botocore without installing it:
    pip download botocore --no-deps -d /tmp/bc
    python tools/gen_service_model.py --botocore-dir /tmp/bc/botocore-*.whl

botocore is read as files, never imported, so the installed one and a downloaded one go
through exactly the same code (the freshness test relies on that).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SERVICE = "cognito-idp"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "authflow" / "wire" / "service-model.json"

# Scalar constraint keys copied verbatim from a shape.
_SHAPE_KEYS = ("min", "max", "pattern", "enum", "sensitive", "deprecated", "exception",
               "fault", "document", "union")


class _Source:
    """Reads files of a botocore distribution: a package directory, a tree holding one, or a wheel."""

    def __init__(self, location: Path) -> None:
        self.zip: zipfile.ZipFile | None = None
        if location.is_file() and location.suffix == ".whl":
            self.zip = zipfile.ZipFile(location)
            self.root = "botocore/"
        elif (location / "botocore" / "__init__.py").is_file():
            self.root = str(location / "botocore") + "/"
        elif (location / "__init__.py").is_file() and (location / "data").is_dir():
            self.root = str(location) + "/"
        else:
            raise SystemExit(f"no botocore package found at {location}")

    def read(self, rel: str) -> bytes:
        if self.zip is not None:
            return self.zip.read(self.root + rel)
        return Path(self.root + rel).read_bytes()

    def names(self, prefix: str) -> Iterator[str]:
        if self.zip is not None:
            for name in self.zip.namelist():
                if name.startswith(self.root + prefix):
                    yield name[len(self.root):]
        else:
            base = Path(self.root)
            for path in (base / prefix).rglob("*"):
                yield str(path.relative_to(base))

    def version(self) -> str:
        text = self.read("__init__.py").decode("utf-8")
        match = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.MULTILINE)
        if not match:
            raise SystemExit("botocore/__init__.py has no __version__")
        return match.group(1)

    def service_model(self) -> dict[str, Any]:
        prefix = f"data/{SERVICE}/"
        candidates = sorted(
            name for name in self.names(prefix)
            if re.fullmatch(rf"data/{SERVICE}/[^/]+/service-2\.json(\.gz)?", name)
        )
        if not candidates:
            raise SystemExit(f"no {SERVICE} service-2.json in this botocore")
        # Several API versions would sort by date; botocore ships one for cognito-idp.
        name = candidates[-1]
        raw = self.read(name)
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
        return json.loads(raw)


def installed_botocore_dir() -> Path:
    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:
        raise SystemExit("botocore is not installed; pass --botocore-dir")
    return Path(spec.origin).parent


def load(location: Path | None = None) -> tuple[dict[str, Any], str]:
    """The raw service model and the botocore version it came from."""
    source = _Source(location if location is not None else installed_botocore_dir())
    return source.service_model(), source.version()


def _signed(op: dict[str, Any]) -> bool:
    # Older models say "authtype": "none"; newer ones also say "auth": ["smithy.api#noAuth"].
    if op.get("authtype") == "none":
        return False
    return "smithy.api#noAuth" not in op.get("auth", [])


def _trim_shape(shape: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": shape["type"]}
    for key in _SHAPE_KEYS:
        if key in shape:
            out[key] = shape[key]
    if "required" in shape:
        out["required"] = list(shape["required"])
    if "members" in shape:
        members = shape["members"]
        out["members"] = {name: m["shape"] for name, m in members.items()}
        # Keys are sorted on output; the model's member order is kept here because
        # validation reports violations in that order.
        out["member_order"] = list(members)
        deprecated = [name for name, m in members.items() if m.get("deprecated")]
        if deprecated:
            out["deprecated_members"] = deprecated
    if "member" in shape:
        out["member"] = shape["member"]["shape"]
    if "key" in shape:
        out["key"] = shape["key"]["shape"]
    if "value" in shape:
        out["value"] = shape["value"]["shape"]
    if "error" in shape and "httpStatusCode" in shape["error"]:
        out["http_status"] = shape["error"]["httpStatusCode"]
    return out


def _children(shape: dict[str, Any]) -> Iterator[str]:
    for m in shape.get("members", {}).values():
        yield m["shape"]
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]


def build(service: dict[str, Any], version: str) -> dict[str, Any]:
    """The trimmed model for one raw service model."""
    shapes = service["shapes"]
    operations: dict[str, Any] = {}
    todo: list[str] = []
    for name, op in service["operations"].items():
        entry: dict[str, Any] = {
            "input": op["input"]["shape"] if "input" in op else None,
            "output": op["output"]["shape"] if "output" in op else None,
            "errors": [e["shape"] for e in op.get("errors", [])],
            "signed": _signed(op),
        }
        if op.get("deprecated"):
            entry["deprecated"] = True
        operations[name] = entry
        todo.extend(s for s in (entry["input"], entry["output"]) if s)
        todo.extend(entry["errors"])
    reachable: dict[str, Any] = {}
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        reachable[name] = _trim_shape(shapes[name])
        todo.extend(_children(shapes[name]))
    meta = service["metadata"]
    return {
        "botocore_version": version,
        "metadata": {k: meta[k] for k in ("apiVersion", "jsonVersion", "protocol",
                                          "targetPrefix", "endpointPrefix", "serviceId")
                     if k in meta},
        "operations": operations,
        "shapes": reachable,
    }


def render(model: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, one operation or shape per line (diff-friendly)."""

    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))

    lines = ["{"]
    top = sorted(model)
    for i, key in enumerate(top):
        comma = "," if i < len(top) - 1 else ""
        value = model[key]
        if key in ("operations", "shapes"):
            lines.append(f"{dump(key)}:{{")
            names = sorted(value)
            for j, name in enumerate(names):
                inner = "," if j < len(names) - 1 else ""
                lines.append(f"{dump(name)}:{dump(value[name])}{inner}")
            lines.append("}" + comma)
        else:
            lines.append(f"{dump(key)}:{dump(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def generate(location: Path | None = None) -> str:
    service, version = load(location)
    return render(build(service, version))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--botocore-dir", type=Path, default=None,
                        help="botocore package dir, a dir containing botocore/, or a .whl "
                             "(default: the installed botocore)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the output file differs")
    args = parser.parse_args(argv)
    text = generate(args.botocore_dir)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
