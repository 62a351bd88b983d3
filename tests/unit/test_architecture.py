"""Structural laws of the code base: the core is pure, the spec is the source of truth,
and the generated docs are fresh."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import authflow
from authflow.core.lifecycle import (
    ABSENT,
    GUARDS,
    IllegalTransition,
    Lifecycle,
    auth_session,
    user_lifecycle,
)
from authflow.core.spec import load_spec
from authflow.diagram import MACHINES, dot, render_markdown

ROOT = Path(authflow.__file__).resolve().parent
REPO = ROOT.parent

FORBIDDEN_IN_CORE = {
    "random", "time", "socket", "sqlite3", "os", "subprocess", "urllib", "http", "requests",
    "secrets", "threading", "logging", "psycopg", "authflow.adapters", "authflow.service",
    "authflow.client", "authflow.ports", "authflow.wire",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_is_pure(path):
    bad = {
        name for name in imports_of(path)
        for forbidden in FORBIDDEN_IN_CORE
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"
    assert "datetime.now" not in path.read_text(encoding="utf-8")


def test_the_srp_client_owes_nothing_to_the_engine():
    """The SRP client the conformance scenarios and the tests answer PASSWORD_VERIFIER with
    is written from the reference alone, so the engine is checked against the spec."""
    path = ROOT / "conformance" / "srp_client.py"
    assert not {name for name in imports_of(path) if name.startswith("authflow")}


def test_the_conformance_runner_reaches_the_engine_only_through_the_in_process_target():
    """Scenarios judge any endpoint; only `InProcessTarget` may build an authflow.Client."""
    for path in (ROOT / "conformance").glob("*.py"):
        engine = {name for name in imports_of(path)
                  if name.startswith("authflow") and not name.startswith("authflow.conformance")}
        # The in-process target also serves `authflow serve`'s own app (authflow.server) for the
        # endpoint steps, so its HTTP endpoints are judged exactly as over the network.
        allowed = {"authflow.adapters", "authflow.client", "authflow.errors", "authflow.core.spec",
                   "authflow.server", "authflow.wire.protocol"}
        assert engine <= allowed, f"{path.name} imports {sorted(engine - allowed)}"


def test_only_the_lifecycle_module_imports_transitions():
    users = [p.relative_to(ROOT) for p in ROOT.rglob("*.py") if any(n.startswith("transitions") for n in imports_of(p))]
    assert users == [Path("core/lifecycle.py")]


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_generated_machine_docs_are_fresh(name):
    expected = render_markdown(MACHINES[name]())
    actual = (REPO / "docs" / f"{name}.md").read_text(encoding="utf-8")
    assert actual == expected, f"docs/{name}.md is stale: run `python -m authflow diagram --write`"


def test_auth_session_states_are_challenge_names():
    """Every challenge state is spelled as Cognito's ChallengeNameType."""
    from authflow.core.lifecycle import auth_session
    from authflow.wire import model

    challenges = set(model.shape("ChallengeNameType")["enum"])
    outcomes = {"INITIATED", "AUTHENTICATED", "FAILED", "EXPIRED"}
    assert set(auth_session().states) - outcomes <= challenges


def test_spec_statuses_are_cognito_user_statuses():
    import botocore.session

    model = botocore.session.get_session().get_service_model("cognito-idp")
    cognito = set(model.shape_for("UserStatusType").enum)
    assert set(user_lifecycle().statuses) == cognito


def test_unknown_guard_is_a_load_error():
    spec = dict(load_spec("user-lifecycle"))
    spec["transitions"] = [{"trigger": "t", "source": "CONFIRMED", "dest": "CONFIRMED", "conditions": "no_such_guard"}]
    with pytest.raises(ValueError, match="no_such_guard"):
        Lifecycle(spec)
    spec["transitions"] = [{"trigger": "t", "source": "CONFIRMED", "dest": "CONFIRMED", "conditions": "a.b"}]
    with pytest.raises(ValueError):
        Lifecycle(spec)


def test_guards_are_evaluated_from_facts():
    guard = next(iter(GUARDS))
    spec = {
        "name": "g",
        "initial": "A",
        "states": ["A", "B"],
        "transitions": [{"trigger": "go", "source": "A", "dest": "B", "conditions": guard}],
    }
    machine = Lifecycle(spec)
    assert machine.next_status("A", "go", {guard: True}) == "B"
    with pytest.raises(IllegalTransition):
        machine.next_status("A", "go", {guard: False})
    with pytest.raises(KeyError):
        machine.next_status("A", "go", {})


def test_absent_is_the_initial_pseudo_state():
    machine = user_lifecycle()
    assert machine.initial == ABSENT
    assert ABSENT not in machine.statuses


def test_every_modelled_error_has_a_class():
    from authflow.errors import ERRORS
    from authflow.wire import model

    modelled = {name for name in model.shape_names() if model.shape(name).get("exception")}
    assert modelled, "the shipped model lists no error shapes"
    assert modelled <= set(ERRORS), sorted(modelled - set(ERRORS))
    assert ERRORS["InternalErrorException"].http_status == 500
    assert all(cls.http_status == 400 for name, cls in ERRORS.items() if name not in ("InternalErrorException", "InternalServerException"))


def test_the_docs_name_their_machines():
    assert sorted(MACHINES) == ["auth-session", "device", "lifecycle", "oauth-code", "user-import-job"]
    readme = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    assert all(f"]({name}.md)" in readme for name in MACHINES)


def test_cli_prints_and_writes_the_diagram(capsys, tmp_path):
    from authflow.cli import main

    for name in ("lifecycle", "user-lifecycle"):  # the spec's own name is accepted too
        assert main(["diagram", name]) == 0
        assert capsys.readouterr().out == render_markdown(user_lifecycle())
    assert main(["diagram"]) == 0
    assert "# auth-session" in capsys.readouterr().out
    assert main(["diagram", "--write", str(tmp_path)]) == 0
    assert (tmp_path / "lifecycle.md").read_text(encoding="utf-8") == render_markdown(user_lifecycle())
    assert main(["diagram", "--format", "dot", "--write", str(tmp_path)]) == 0
    assert (tmp_path / "auth-session.dot").read_text(encoding="utf-8") == dot(auth_session())
    with pytest.raises(SystemExit):
        main(["diagram", "no-such-machine"])


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_dot_diagram_has_every_state_and_transition(name, capsys):
    from authflow.cli import main

    machine = MACHINES[name]()
    assert main(["diagram", "--format", "dot", name]) == 0
    text = capsys.readouterr().out
    assert text == dot(machine)
    assert text.startswith(f'digraph "{machine.name}" {{') and text.endswith("}\n")
    assert f'__start -> "{machine.initial}";' in text
    for state in machine.states:
        assert f'    "{state}";' in text
    edges = [line for line in text.splitlines() if " -> " in line and "__start" not in line]
    assert len(edges) == len(machine.transitions())
    for source, trigger, dest, _ in machine.transitions():
        assert any(e.startswith(f'    "{source}" -> "{dest}" [label="{trigger}') for e in edges)
