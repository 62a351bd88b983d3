"""The `authflow` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9229, help="port to listen on (default 9229)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", default="authflow.db", metavar="PATH",
                       help="the SQLite database file (default authflow.db); the generated access "
                            "key and key-encryption key are kept beside it")
    where.add_argument("--store", metavar="URL",
                       help="postgresql://... (needs AUTHFLOW_KEK), sqlite:PATH, or memory (nothing persists)")
    parser.add_argument("--issuer-style", choices=["local", "aws"], default="local",
                        help="tokens' iss: <public URL>/<poolId> (local) or "
                             "https://cognito-idp.<region>.amazonaws.com/<poolId> (aws, for aws-jwt-verify)")
    parser.add_argument("--public-url", metavar="URL",
                        help="the URL clients use to reach this server (default http://HOST:PORT)")
    parser.add_argument("--region", default="us-east-1", help="the region in pool ids and SigV4 scopes")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--credentials", metavar="FILE",
                      help="AWS shared-credentials file whose access keys may call signed operations")
    auth.add_argument("--insecure-no-auth", action="store_true",
                      help="accept unsigned admin calls (throwaway local use only)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    diagram = sub.add_parser("diagram", help="print (or write) the spec diagrams")
    diagram.add_argument("machine", nargs="?", help="one machine (user-lifecycle, auth-session); default: all")
    diagram.add_argument("--write", nargs="?", const="docs", metavar="DIR", help="write DIR/<machine>.md files")
    add_serve_arguments(sub.add_parser("serve", help="run the Cognito-compatible HTTP server"))
    args = parser.parse_args(argv)
    if args.command == "serve":
        from authflow.serve import serve

        return serve(args, parser)
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
