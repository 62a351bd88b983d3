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
    parser.add_argument("--triggers", metavar="FILE",
                        help="a TOML (or .json) file mapping the Lambda ARNs of pools' LambdaConfig to "
                             "Python functions, module:function (default: $AUTHFLOW_TRIGGERS; none)")
    parser.add_argument("--test-hooks", action="store_true",
                        help="serve the conformance suite's hooks: /_authflow/outbox (message bodies, so "
                             "temporary passwords and codes) and /_authflow/clock (time travel); for test "
                             "services only, never one real users reach")
    parser.add_argument("--smtp", metavar="URL",
                        help="send e-mail over SMTP: smtp://[USER:PASSWORD@]HOST[:PORT][?starttls=1] or "
                             "smtps://...; user and password also from AUTHFLOW_SMTP_USER / "
                             "AUTHFLOW_SMTP_PASSWORD (docs/delivery.md)")
    parser.add_argument("--mail-from", metavar="ADDRESS",
                        help="the From of e-mail sent by --smtp (default no-reply@verificationemail.com)")
    parser.add_argument("--sms-webhook", metavar="URL",
                        help="POST each SMS message as JSON to URL (docs/delivery.md)")
    parser.add_argument("--outbox-lease", type=float, metavar="SECONDS",
                        help="how long a sender's claim on an outbox entry lasts before another sender may "
                             "send it again (default 60; above the SMTP timeout)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--access-log", action="store_true", help="log a line per HTTP request (off by default)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="authflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    diagram = sub.add_parser("diagram", help="print (or write) the spec diagrams")
    diagram.add_argument("machine", nargs="?",
                         help="one machine (lifecycle, also called user-lifecycle; auth-session; device); default: all")
    diagram.add_argument("--format", choices=["mermaid", "dot"], default="mermaid",
                         help="mermaid: the doc page (diagram and transition table); dot: a Graphviz digraph")
    diagram.add_argument("--write", nargs="?", const="docs", metavar="DIR",
                         help="write DIR/<machine>.md (or .dot) files")
    add_explore_arguments(sub.add_parser(
        "explore", help="model-check the engine: every request sequence up to --depth, checking the invariants"
    ))
    add_serve_arguments(sub.add_parser("serve", help="run the Cognito-compatible HTTP server"))
    add_conformance_arguments(sub.add_parser(
        "conformance", help="run the conformance scenarios (specs/scenarios) against an endpoint or in process"
    ))
    args = parser.parse_args(argv)
    if args.command == "conformance":
        return run_conformance(args, parser)
    if args.command == "serve":
        from authflow.serve import serve

        return serve(args, parser)
    if args.command == "explore":
        return run_explore(args, parser)
    if args.command == "diagram":
        from authflow.diagram import ALIASES, MACHINES, render, write_docs

        if args.machine and ALIASES.get(args.machine, args.machine) not in MACHINES:
            parser.error(f"unknown machine {args.machine!r}; choose from {', '.join([*MACHINES, *ALIASES])}")
        if args.write:
            for path in write_docs(Path(args.write), args.format):
                print(f"wrote {path}")
        else:
            names = [ALIASES.get(args.machine, args.machine)] if args.machine else list(MACHINES)
            sys.stdout.write("\n".join(render(MACHINES[name](), args.format) for name in names))
    return 0


def add_explore_arguments(parser: argparse.ArgumentParser) -> None:
    from authflow.invariants import INVARIANTS

    parser.add_argument("--users", type=int, default=2, help="users in the universe (1-6, default 2)")
    parser.add_argument("--aliases", type=int, default=1, help="shared email values (0-3, default 1)")
    parser.add_argument("--depth", type=int,
                        help="longest request sequence to explore (default 6; 5 with --self-service or --flows)")
    parser.add_argument("--self-service", action="store_true",
                        help="add SignUp, codes, password recovery and changes, attribute verification and DeleteUser "
                             "to the alphabet (the default pool then auto-verifies emails)")
    parser.add_argument("--flows", metavar="FLOW[,FLOW]",
                        help="the request families besides the admin alphabet: srp (USER_SRP_AUTH), custom "
                             "(CUSTOM_AUTH with a one-question quiz, with or without SRP_A), devices (device tracking: "
                             "confirm, remember, forget, device SRP sign-in, refresh with the device key), groups "
                             "(membership and the tokens' group claims), totp (software tokens: enrol, MFA_SETUP, codes "
                             "once), rotation (opt-in: a client rotating refresh tokens, GetTokensFromRefreshToken with "
                             "the latest and rotated-out tokens across a 5 s grace period; default depth 4), passwordless (opt-in: "
                             "USER_AUTH with e-mailed codes and passkeys, register and delete a passkey; default "
                             "depth 4), or none; default devices,groups,totp for the first --family-users user(s) at "
                             "depth 6 (none with --pool-config: your pool as written); naming them explicitly gives "
                             "them to every user at depth 5")
    parser.add_argument("--family-users", type=int, metavar="N",
                        help="how many users (the first ones) the device, group and TOTP requests act for "
                             "(default 1 in the default run, every user with --flows)")
    parser.add_argument("--pool-config", metavar="FILE",
                        help="a JSON CreateUserPool request: check your own pool settings (MFA, aliases, validity days)")
    parser.add_argument("--invariant", action="append", choices=list(INVARIANTS), metavar="NAME",
                        help="check only this invariant (repeatable; default: all of "
                             + ", ".join(INVARIANTS) + ")")
    parser.add_argument("--dot", metavar="FILE", help="write the explored state graph (Graphviz DOT) to FILE")
    parser.add_argument("--seed", type=int, default=0, help="seed of the engine's entropy (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress reports on stderr")


def _flows(text: str | None) -> list[str] | None:
    """--flows: None (the default run's families), [] for "none", else the named ones."""
    if text is None:
        return None
    names = [f.strip() for f in text.split(",") if f.strip()]
    return [] if names == ["none"] else names


def run_explore(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Exit 0 with "no invariant violated", 1 with the shortest violating trace."""
    import json

    from authflow.errors import CognitoError
    from authflow.explore import explore, write_dot

    pool_config = None
    if args.pool_config:
        try:
            pool_config = json.loads(Path(args.pool_config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            parser.error(f"--pool-config {args.pool_config}: {err}")
        if not isinstance(pool_config, dict):
            parser.error(f"--pool-config {args.pool_config}: not a JSON object (a CreateUserPool request)")
    try:
        result = explore(
            users=args.users, aliases=args.aliases, depth=args.depth, pool_config=pool_config,
            invariants=args.invariant, seed=args.seed, progress=not args.quiet, graph=bool(args.dot),
            self_service=args.self_service, flows=_flows(args.flows), family_users=args.family_users,
        )
    except ValueError as err:
        parser.error(str(err))
    except CognitoError as err:  # the pool configuration was refused
        print(f"authflow explore: the pool could not be created: {err.code}: {err.message}", file=sys.stderr)
        return 2
    if args.dot:
        write_dot(result, args.dot)
        print(f"wrote the state graph to {args.dot}", file=sys.stderr)
    print(result.report())
    return 0 if result.ok else 1


def add_conformance_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--list", action="store_true", help="list the scenarios (id, evidence, what each pins)")
    where.add_argument("--endpoint", metavar="URL", help="a Cognito-compatible endpoint, reached with boto3")
    where.add_argument("--in-process", action="store_true", help="run against authflow.Client in this process")
    parser.add_argument("--credentials", metavar="FILE",
                        help="AWS shared-credentials file to sign with (default: the usual boto3 chain, "
                             "else placeholder keys)")
    parser.add_argument("--profile", help="the profile in --credentials (or ~/.aws) to use")
    parser.add_argument("--region", default="us-east-1", help="region to sign for (default us-east-1)")
    parser.add_argument("--scenario", action="append", metavar="GLOB",
                        help="run only scenarios whose area/name or name matches (repeatable)")
    parser.add_argument("--report", metavar="FILE", action="append",
                        help="write the divergence report: FILE.md (Markdown) or FILE.json (repeatable)")
    parser.add_argument("--name", help="the target's name in reports (default: the endpoint)")
    parser.add_argument("--var", action="append", metavar="NAME=VALUE", default=[],
                        help="set a scenario variable (e.g. sns_caller_arn, the IAM role MFA pools send "
                             "SMS with: on AWS it must exist); see `variables:` in specs/scenarios/_fixtures.yaml")
    parser.add_argument("--scenarios-dir", metavar="DIR", help="scenario files to use (default: the shipped ones)")
    parser.add_argument("--quiet", action="store_true", help="no progress line per scenario")


def run_conformance(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Exit 0 when no scenario diverged, 1 when one did, 2 when none could run."""
    from authflow.conformance import (
        BROKEN,
        FAILED,
        HttpTarget,
        InProcessTarget,
        ScenarioError,
        load_suite,
        run_suite,
    )
    from authflow.conformance.report import (
        json_report,
        markdown_report,
        progress_line,
        summary_table,
    )

    for report in args.report or []:
        if not report.endswith((".md", ".json")):
            parser.error(f"--report {report}: the name must end in .md or .json")
    try:
        suite = load_suite(Path(args.scenarios_dir) if args.scenarios_dir else None)
    except ScenarioError as err:
        parser.error(f"the scenarios: {err}")
    overrides = {}
    for item in args.var:
        name, equals, value = item.partition("=")
        if not equals or name not in suite.variables:
            parser.error(f"--var {item}: NAME=VALUE, NAME one of {', '.join(sorted(suite.variables)) or '(none)'}")
        overrides[name] = value
    chosen = suite.select(args.scenario)
    if not chosen:
        parser.error(f"no scenario matches {', '.join(args.scenario or [])}")
    if args.list:
        for scenario in chosen:
            print(f"{scenario.id}  [{', '.join(scenario.evidence)}]  {scenario.doc}")
        return 0
    try:
        target = InProcessTarget() if args.in_process else HttpTarget(
            args.endpoint, region=args.region, credentials_file=args.credentials, profile=args.profile)
    except Exception as err:  # a bad credentials file, no boto3, a profile that is not there
        parser.error(str(err))
    if args.name:
        target.name = args.name
    problem = target.problem() if isinstance(target, HttpTarget) else None
    if problem:
        print(f"authflow conformance: {problem}", file=sys.stderr)
        return 2
    hooks = ", ".join(sorted(target.hooks)) or "none"
    print(f"authflow conformance: {len(chosen)} scenario(s) against {target.name} (hooks: {hooks})", flush=True)

    def progress(result, number, total):
        if not args.quiet:
            print(progress_line(result, number, total), flush=True)

    results = run_suite(suite, chosen, target, progress, overrides)
    print()
    print(summary_table(results))
    for report in args.report or []:
        text = markdown_report(results, target.name) if report.endswith(".md") else json_report(results, target.name)
        Path(report).write_text(text + "\n", encoding="utf-8")
        print(f"wrote {report}")
    return 1 if any(r.status in (FAILED, BROKEN) for r in results) else 0
