"""Diagrams and transition tables generated from the specs (never written by hand).

`docs/<name>.md` is the output of `render_markdown(machine)` for each machine in
`MACHINES`; a test fails when a file and its spec disagree. Regenerate with
`python -m authflow diagram --write`.
"""

from __future__ import annotations

from pathlib import Path

from authflow.core.lifecycle import Lifecycle, auth_session, user_lifecycle

MACHINES = {"user-lifecycle": user_lifecycle, "auth-session": auth_session}

#: What the initial pseudo-state of each machine means.
_PSEUDO_STATES = {
    "ABSENT": "`ABSENT` is the pseudo-state \"no such user\"",
    "INITIATED": "`INITIATED` is the pseudo-state \"request received, no session yet\"",
}


def mermaid(machine: Lifecycle) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {machine.initial}"]
    for source, trigger, dest, guards in sorted(machine.transitions()):
        label = trigger + (f" [{', '.join(guards)}]" if guards else "")
        lines.append(f"    {source} --> {dest}: {label}")
    return "\n".join(lines)


def table(machine: Lifecycle) -> str:
    rows = ["| from | trigger | to | guards |", "|---|---|---|---|"]
    for source, trigger, dest, guards in sorted(machine.transitions()):
        rows.append(f"| {source} | {trigger} | {dest} | {', '.join(guards) or '—'} |")
    return "\n".join(rows)


def render_markdown(machine: Lifecycle) -> str:
    return (
        f"# {machine.name}\n\n"
        f"<!-- Generated from specs/{machine.name}.yaml by `python -m authflow diagram --write`; do not edit. -->\n\n"
        f"States: {', '.join(machine.states)} ({_PSEUDO_STATES[machine.initial]}).\n\n"
        f"```mermaid\n{mermaid(machine)}\n```\n\n"
        f"{table(machine)}\n"
    )


def write_docs(docs_dir: Path) -> list[Path]:
    written = []
    for name, build in MACHINES.items():
        path = docs_dir / f"{name}.md"
        path.write_text(render_markdown(build()), encoding="utf-8")
        written.append(path)
    return written
