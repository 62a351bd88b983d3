"""Diagrams and transition tables generated from the specs (never written by hand).

`docs/<name>.md` is the output of `render_markdown(machine)` for each machine in
`MACHINES` (`docs/lifecycle.md`, `docs/auth-session.md`, `docs/device.md`, `docs/oauth-code.md`,
`docs/user-import-job.md`); a test fails when a file
and its spec disagree. Regenerate with `python -m authflow diagram --write`.

Both formats are written here from the machine's transition rows, as plain text:
Mermaid (what the docs embed; GitHub renders it) and Graphviz DOT (`authflow
diagram --format dot`). transitions' own diagram support is not used: its Graphviz
backends need the graphviz/pygraphviz packages and binaries, and only
`authflow/core/lifecycle.py` may import transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from authflow.core.lifecycle import Lifecycle, auth_session, device_lifecycle, user_lifecycle
from authflow.core.oauth import oauth_code
from authflow.core.user_import import import_job

#: Each machine by the name its doc page and `authflow diagram` use.
MACHINES: dict[str, Callable[[], Lifecycle]] = {
    "lifecycle": user_lifecycle, "auth-session": auth_session, "device": device_lifecycle,
    "oauth-code": oauth_code, "user-import-job": import_job,
}
#: Other names `authflow diagram` accepts (the spec's own name).
ALIASES = {"user-lifecycle": "lifecycle"}
FORMATS = ("mermaid", "dot")

#: What the initial pseudo-state of each machine means.
_PSEUDO_STATES = {
    ("user-lifecycle", "ABSENT"): "`ABSENT` is the pseudo-state \"no such user\"",
    ("auth-session", "INITIATED"): "`INITIATED` is the pseudo-state \"request received, no session yet\"",
    ("device", "ABSENT"): "`ABSENT` is the pseudo-state \"no device has this key\"",
    ("oauth-code", "ABSENT"): "`ABSENT` is the pseudo-state \"no such code\"",
    ("user-import-job", "ABSENT"): "`ABSENT` is the pseudo-state \"no such job\"",
}


def machine_named(name: str) -> Lifecycle:
    """The machine called `name` (or one of its ALIASES); KeyError if there is none."""
    return MACHINES[ALIASES.get(name, name)]()


def _label(trigger: str, guards: tuple[str, ...]) -> str:
    return trigger + (f" [{', '.join(guards)}]" if guards else "")


def mermaid(machine: Lifecycle) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {machine.initial}"]
    for source, trigger, dest, guards in sorted(machine.transitions()):
        lines.append(f"    {source} --> {dest}: {_label(trigger, guards)}")
    return "\n".join(lines)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(machine: Lifecycle) -> str:
    """The machine as a Graphviz digraph (`dot -Tsvg` renders it)."""
    lines = [
        f"digraph {_quoted(machine.name)} {{",
        "    rankdir=LR;",
        "    node [shape=box, style=rounded];",
        "    __start [shape=point, label=\"\"];",
        f"    __start -> {_quoted(machine.initial)};",
    ]
    for state in machine.states:
        lines.append(f"    {_quoted(state)};")
    for source, trigger, dest, guards in sorted(machine.transitions()):
        lines.append(f"    {_quoted(source)} -> {_quoted(dest)} [label={_quoted(_label(trigger, guards))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def table(machine: Lifecycle) -> str:
    rows = ["| from | trigger | to | guards |", "|---|---|---|---|"]
    for source, trigger, dest, guards in sorted(machine.transitions()):
        rows.append(f"| {source} | {trigger} | {dest} | {', '.join(guards) or '—'} |")
    return "\n".join(rows)


def render_markdown(machine: Lifecycle) -> str:
    return (
        f"# {machine.name}\n\n"
        f"<!-- Generated from specs/{machine.name}.yaml by `python -m authflow diagram --write`; do not edit. -->\n\n"
        f"States: {', '.join(machine.states)} ({_PSEUDO_STATES[machine.name, machine.initial]}).\n\n"
        f"```mermaid\n{mermaid(machine)}\n```\n\n"
        f"{table(machine)}\n"
    )


def render(machine: Lifecycle, fmt: str = "mermaid") -> str:
    """The doc page (`mermaid`: diagram and transition table) or the DOT graph (`dot`)."""
    if fmt == "dot":
        return dot(machine)
    if fmt == "mermaid":
        return render_markdown(machine)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def write_docs(docs_dir: Path, fmt: str = "mermaid") -> list[Path]:
    """Write `<dir>/<machine>.md` (or `.dot`) for every machine."""
    written = []
    Path(docs_dir).mkdir(parents=True, exist_ok=True)
    for name, build in MACHINES.items():
        path = Path(docs_dir) / f"{name}.{'dot' if fmt == 'dot' else 'md'}"
        path.write_text(render(build(), fmt), encoding="utf-8")
        written.append(path)
    return written
