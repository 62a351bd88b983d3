"""The console's lifecycle picture is the spec's machine, drawn: every state a box, every
state-changing transition on an arrow (those back to the initial state in the note),
the current state marked, and well-formed SVG whatever the state names hold."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from authflow.core.lifecycle import Lifecycle, device_lifecycle, user_lifecycle
from authflow.web import lifecycle_svg

SVG = "{http://www.w3.org/2000/svg}"


def parsed(machine: Lifecycle, current: str | None) -> ET.Element:
    return ET.fromstring(str(lifecycle_svg.render(machine, current)))


def groups(root: ET.Element, kind: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if kind in g.get("class", "").split()]


@pytest.mark.parametrize("build", [user_lifecycle, device_lifecycle])
def test_every_state_is_a_box_and_every_move_an_arrow(build):
    machine = build()
    root = parsed(machine, None)
    boxes = [g.find(f"{SVG}title").text for g in groups(root, "state")]
    assert boxes == list(machine.states)
    drawn = set()
    for g in groups(root, "edge"):
        source, _, rest = g.find(f"{SVG}title").text.partition(" to ")
        dest, _, triggers = rest.partition(": ")
        drawn |= {(source, t, dest) for t in triggers.split(", ")}
    expected = {(s, t, d) for s, t, d, _ in machine.transitions() if s != d and d != machine.initial}
    assert drawn == expected
    back = {t for s, t, d, _ in machine.transitions() if d == machine.initial and s != d}
    note = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "note").text if back else ""
    assert all(trigger in note for trigger in back)


def test_the_current_state_is_marked_and_said():
    machine = user_lifecycle()
    root = parsed(machine, "CONFIRMED")
    current = groups(root, "current")
    assert [g.find(f"{SVG}title").text for g in current] == ["CONFIRMED (current)"]
    assert "current state is CONFIRMED" in root.find(f"{SVG}desc").text
    assert root.find(f"{SVG}title").text == "User lifecycle"
    leaving = {g.find(f"{SVG}title").text.split(" to ")[0] for g in groups(root, "from-current")}
    assert leaving == {"CONFIRMED"}
    moves, stays = lifecycle_svg.steps_from(machine, "CONFIRMED")
    assert ("reset_password", "RESET_REQUIRED") in moves and "sign_in" in stays


def test_no_arrow_passes_through_a_box_it_does_not_join():
    machine = user_lifecycle()
    place = lifecycle_svg.layout(machine)
    edges = lifecycle_svg._edges(machine)
    for source, dest in edges:
        curve = lifecycle_svg._route(place, source, dest, (dest, source) in edges)
        others = [c for s, c in place.items() if s not in (source, dest)]
        assert not lifecycle_svg._hits(curve, others), (source, dest)


def test_names_are_escaped():
    spec = {"name": "m<&>", "initial": "A", "states": ["A", "B<script>"],
            "transitions": [{"trigger": "go&<", "source": "A", "dest": "B<script>"}]}
    text = str(lifecycle_svg.render(Lifecycle(spec), "B<script>", title="t<"))
    assert "<script>" not in text
    root = ET.fromstring(text)
    assert [g.find(f"{SVG}title").text for g in groups(root, "current")] == ["B<script> (current)"]
