"""The `authflow` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    diagram = sub.add_parser("diagram", help="print (or write) the spec diagrams")
    diagram.add_argument("machine", nargs="?", help="one machine (user-lifecycle, auth-session); default: all")
    diagram.add_argument("--write", nargs="?", const="docs", metavar="DIR", help="write DIR/<machine>.md files")
    args = parser.parse_args(argv)
    if args.command == "diagram":
        from authflow.diagram import MACHINES, render_markdown, write_docs

        if args.machine and args.machine not in MACHINES:
            parser.error(f"unknown machine {args.machine!r}; choose from {', '.join(MACHINES)}")
        if args.write:
            for path in write_docs(Path(args.write)):
                print(f"wrote {path}")
        else:
            names = [args.machine] if args.machine else list(MACHINES)
            sys.stdout.write("\n".join(render_markdown(MACHINES[name]()) for name in names))
    return 0
