"""The `authflow` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from authflow.core.lifecycle import user_lifecycle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    diagram = sub.add_parser("diagram", help="print (or write) the spec diagrams")
    diagram.add_argument("--write", nargs="?", const="docs", metavar="DIR", help="write DIR/<machine>.md files")
    args = parser.parse_args(argv)
    if args.command == "diagram":
        from authflow.diagram import render_markdown, write_docs

        if args.write:
            for path in write_docs(Path(args.write)):
                print(f"wrote {path}")
        else:
            sys.stdout.write(render_markdown(user_lifecycle()))
    return 0
