"""`authflow explore`'s default run, measured (a benchmark, never a test).

Runs `authflow.explore.explore` with the command line's defaults (or the options given,
which are `explore`'s keyword arguments) and prints one Markdown row for
docs/benchmarks.md: depth, distinct states, transitions, wall seconds, CPU seconds of this
process (steadier than wall time on a shared machine), and the load average when the run
began and ended; with `--levels`, the states and transitions at the end of every depth.

"Distinct states" are distinct digests of the explorer's projection of a state (the
package docstring of `authflow.explore` lists what it keeps and drops): two request
sequences that leave the store, the clock and what the caller holds alike, as far as any
later request of the alphabet can tell, count once. The counts repeat exactly on every run
and seed; the times do not.

`--plant forget-device` plants a ForgetDevice that answers as usual but forgets nothing
(the test-only `faults` hook) and prints the violation and its shortest trace instead: in
the default alphabet the first user is enrolled in TOTP, so the trace is six requests
(sign in, a 30 s clock step, the SOFTWARE_TOKEN_MFA answer, ConfirmDevice, ForgetDevice, the
sign-in with the forgotten key).

Usage: `python benchmarks/explore.py [--depth N] [--users N] [--aliases N] [--flows a,b|none]
[--family-users N] [--levels] [--plant forget-device] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and benchmarks/http.py would
# shadow the standard library's http (which jwt imports): drop it.
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)

from authflow.explore import Progress, explore  # noqa: E402


def forget_that_keeps(real):
    """A planted bug: ForgetDevice answers as usual, but the device stays remembered."""

    def forget(engine, request):
        kept = engine.store.snapshot()
        response = real(engine, request)
        engine.store.restore(kept)
        return response

    return forget


PLANTS = {"forget-device": {"ForgetDevice": forget_that_keeps}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int)
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--aliases", type=int, default=1)
    parser.add_argument("--flows", help="comma-separated families, or none (default: the default run's)")
    parser.add_argument("--family-users", type=int)
    parser.add_argument("--levels", action="store_true", help="print the figures at the end of every depth")
    parser.add_argument("--plant", choices=sorted(PLANTS))
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    flows = None if args.flows is None else [f for f in args.flows.split(",") if f and f != "none"]
    levels: list[Progress] = []

    def progress(report: Progress) -> None:
        if report.frontier == 0:
            levels.append(report)
            if args.levels:
                print(f"depth {report.depth + 1}: {report.states:,} states, {report.transitions:,} transitions, "
                      f"{report.elapsed:.0f} s", file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    cpu, wall = time.process_time(), time.monotonic()
    result = explore(users=args.users, aliases=args.aliases, depth=args.depth, flows=flows,
                     family_users=args.family_users, progress=progress, faults=PLANTS.get(args.plant))
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    load_after = os.getloadavg()
    if args.plant:
        print(result.report())
        return 0 if result.violation is not None else 1
    row = {
        "depth": result.depth, "states": result.states, "transitions": result.transitions,
        "seconds": round(wall), "cpu_seconds": round(cpu), "load": [round(load_before[0], 1), round(load_after[0], 1)],
        "invariants": len(result.invariants), "ok": result.ok,
        "levels": [{"depth": r.depth + 1, "states": r.states, "transitions": r.transitions} for r in levels],
    }
    print(f"| `explore` (default) | {row['depth']} | {row['states']:,} | {row['transitions']:,} | "
          f"{row['seconds']} ({row['cpu_seconds']} CPU; load {row['load'][0]} → {row['load'][1]}) |")
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
