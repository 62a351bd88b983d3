"""Rebuild the results table of `docs/conformance.md`: the conformance suite against
authflow (in process, and `authflow serve --test-hooks` over HTTP), moto_server and
cognito-local, all measured in the same run.

Each server is started here as a subprocess on a free loopback port, exactly as a user
starts it, and the scenarios reach it through boto3 (`authflow.conformance.HttpTarget`):

- authflow: `python -m authflow serve --db <tmp>/authflow.db --test-hooks` (signed calls,
  with the access key it writes beside the database);
- moto: `python -m moto.server -p PORT` (needs `pip install 'moto[server]'`);
- cognito-local: `node .../cognito-local/lib/bin/start.js` with `PORT`, in a scratch
  directory (its data goes to `./.cognito`), configured with `.cognito/config.json`
  `{"UserPoolDefaults": {"UsernameAttributes": []}}`: as shipped, cognito-local gives every
  pool created without UsernameAttributes the value ["email"], so nearly every scenario
  would stop at its first username. The npm package is installed with
  `npm install --prefix DIR cognito-local@VERSION` into `--cognito-local-dir` when it is not
  there yet.

Neither moto nor cognito-local offers the outbox or clock hooks, so the scenarios that need
them are skipped for them, and the table says so.

Usage: `python tools/conformance_table.py [--targets in-process,authflow,moto,cognito-local]
[--write docs/conformance.md] [--reports DIR]`. Without `--write` it prints the section.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from authflow.conformance import (  # noqa: E402
    BROKEN,
    FAILED,
    PASSED,
    SKIPPED,
    HttpTarget,
    InProcessTarget,
    load_suite,
    run_suite,
)
from authflow.conformance.report import json_report, pass_rate  # noqa: E402
from authflow.testing.processes import free_port, running, wait_until_up  # noqa: E402

COGNITO_LOCAL_VERSION = "5.3.0"
BEGIN, END = "<!-- conformance-table:begin -->", "<!-- conformance-table:end -->"
TARGETS = ("in-process", "authflow", "moto", "cognito-local")
TITLES = {"in-process": "authflow in process", "authflow": "authflow serve (HTTP)",
          "moto": "moto_server", "cognito-local": "cognito-local"}


def start_authflow(stack: ExitStack, tmp: Path) -> HttpTarget:
    port = free_port()
    creds = tmp / "authflow.credentials"
    log = tmp / "authflow.log"
    proc = stack.enter_context(running(
        [sys.executable, "-m", "authflow", "serve", "--port", str(port), "--db", str(tmp / "authflow.db"),
         "--test-hooks"], log))
    wait_until_up(proc, f"http://127.0.0.1:{port}/health", log, creds.exists)
    return HttpTarget(f"http://127.0.0.1:{port}", credentials_file=str(creds), name=TITLES["authflow"])


def start_moto(stack: ExitStack, tmp: Path) -> tuple[HttpTarget, str]:
    if importlib.util.find_spec("moto") is None:
        raise SystemExit("moto is not installed: pip install 'moto[server]' (or leave moto out of --targets)")
    import moto

    port = free_port()
    log = tmp / "moto.log"
    proc = stack.enter_context(running([sys.executable, "-m", "moto.server", "-p", str(port)], log))
    wait_until_up(proc, f"http://127.0.0.1:{port}/moto-api/", log, lambda: True)
    return HttpTarget(f"http://127.0.0.1:{port}", name=TITLES["moto"]), f"moto {moto.__version__}"


def start_cognito_local(stack: ExitStack, tmp: Path, install_dir: Path) -> tuple[HttpTarget, str]:
    package = install_dir / "node_modules" / "cognito-local"
    if not (package / "package.json").exists():
        install_dir.mkdir(parents=True, exist_ok=True)
        print(f"installing cognito-local@{COGNITO_LOCAL_VERSION} into {install_dir}", file=sys.stderr)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(install_dir),
                        f"cognito-local@{COGNITO_LOCAL_VERSION}"], check=True, stdout=subprocess.DEVNULL)
    version = json.loads((package / "package.json").read_text())["version"]
    port = free_port()
    log = tmp / "cognito-local.log"
    workdir = tmp / "cognito-local"
    (workdir / ".cognito").mkdir(parents=True)
    # Pools get what CreateUserPool asks for, not cognito-local's email-as-username default.
    (workdir / ".cognito" / "config.json").write_text(json.dumps({"UserPoolDefaults": {"UsernameAttributes": []}}))
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
    proc = stack.enter_context(running(["node", str(package / "lib" / "bin" / "start.js")], log, cwd=workdir, env=env))
    wait_until_up(proc, f"http://127.0.0.1:{port}/", log, lambda: True)
    return HttpTarget(f"http://127.0.0.1:{port}", name=TITLES["cognito-local"]), f"cognito-local {version}"


def section(suite_size: int, results: dict[str, list], versions: list[str]) -> str:
    """The Markdown between the markers: the per-area table and each target's divergences."""
    names = list(results)
    areas = sorted({r.scenario.area for rs in results.values() for r in rs})
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Measured {when} by `python tools/conformance_table.py --write docs/conformance.md`: "
        f"{suite_size} scenarios; {', '.join(versions) or 'authflow only'}. A cell is passed/ran "
        "and the pass rate; scenarios skipped for want of the outbox or clock hook are counted after `+`.",
        "",
        "| area | " + " | ".join(TITLES[n] for n in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for area in [*areas, None]:
        cells = []
        for name in names:
            counts = Counter(r.status for r in results[name] if area is None or r.scenario.area == area)
            ran = counts[PASSED] + counts[FAILED] + counts[BROKEN]
            skipped = f" +{counts[SKIPPED]} skipped" if counts[SKIPPED] else ""
            cells.append(f"{counts[PASSED]}/{ran} ({pass_rate(counts)}){skipped}")
        label = "**all**" if area is None else area
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for name in names:
        diverged = [r for r in results[name] if r.status in (FAILED, BROKEN)]
        lines.extend(["", f"#### Divergences of {TITLES[name]} ({len(diverged)})", ""])
        if not diverged:
            lines.append("None.")
            continue
        lines.append("<details><summary>each scenario and its first difference</summary>")
        lines.append("")
        for result in diverged:
            first = result.problems[0] if result.problems else result.reason
            lines.append(f"- `{result.scenario.id}` (step {result.step}): {_one_line(first)}")
        lines.extend(["", "</details>"])
    return "\n".join(lines)


def _one_line(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= 220 else text[:217] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, of {', '.join(TARGETS)}")
    parser.add_argument("--write", metavar="FILE", help="replace the section between the markers in FILE")
    parser.add_argument("--reports", metavar="DIR", help="also write each target's JSON report into DIR")
    parser.add_argument("--cognito-local-dir", type=Path, default=Path.home() / ".cache" / "authflow" / "cognito-local",
                        help="where the cognito-local npm package is (installed there if missing)")
    args = parser.parse_args(argv)
    chosen = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(chosen) - set(TARGETS)
    if unknown:
        parser.error(f"unknown target(s) {', '.join(sorted(unknown))}")
    suite = load_suite()
    results: dict[str, list] = {}
    versions: list[str] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="conformance-") as tmp_name:
        tmp = Path(tmp_name)
        for name in chosen:
            if name == "in-process":
                target = InProcessTarget()
            elif name == "authflow":
                target = start_authflow(stack, tmp)
            elif name == "moto":
                target, version = start_moto(stack, tmp)
                versions.append(version)
            else:
                target, version = start_cognito_local(stack, tmp, args.cognito_local_dir)
                versions.append(version)
            started = time.perf_counter()
            results[name] = run_suite(suite, suite.scenarios, target)
            counts = Counter(r.status for r in results[name])
            print(f"{TITLES[name]}: {dict(counts)} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            if args.reports:
                Path(args.reports).mkdir(parents=True, exist_ok=True)
                (Path(args.reports) / f"{name}.json").write_text(json_report(results[name], TITLES[name]) + "\n")
    text = section(len(suite.scenarios), results, versions)
    if not args.write:
        print(text)
        return 0
    path = Path(args.write)
    document = path.read_text(encoding="utf-8")
    if BEGIN not in document or END not in document:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} section to replace")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
