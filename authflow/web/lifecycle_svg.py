"""A state machine as an SVG picture with one state marked, drawn on the server.

Theory of operation: the picture is made from the machine's transition rows
(`Lifecycle.transitions()`, read from `specs/*.yaml`, as `authflow diagram` does), never
drawn by hand, so the console shows what the engine enforces. No script is involved (the
pages' Content-Security-Policy allows none) and nothing is styled inline: the shapes
carry classes that `static/console.css` colours.

Layout: states are placed in columns by their distance from the initial state along
transitions that change the state; states not reachable that way (statuses a user gets
only from outside, such as EXTERNAL_PROVIDER) share a row below, each under the furthest
state it leads to. One arrow per (source, dest) pair carries its triggers, bent just
enough to miss the other boxes. Arrows back to the initial pseudo-state (delete, from
every state) would cross everything: a note says them instead. Transitions that keep
the state are not drawn; the page lists them (`steps_from`). The current state is
filled and the arrows leaving it are drawn strong, so the picture answers "what may
happen to this user now".

Every text in the SVG is escaped here; the result is `markupsafe.Markup`, safe to put in
a page as it is. It opens with a `<title>` and a `<desc>` naming the current state, so a
screen reader says what the picture shows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from html import escape

from markupsafe import Markup

from authflow.core.lifecycle import Lifecycle

BOX_W, BOX_H = 196, 40
COL_GAP, ROW_GAP = 300, 150
MARGIN = 24


def _edges(machine: Lifecycle) -> dict[tuple[str, str], list[str]]:
    """(source, dest) -> triggers, for the transitions that change the state and do not
    lead back to the initial pseudo-state (those are said in a note instead)."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for source, trigger, dest, _guards in machine.transitions():
        if source != dest and dest != machine.initial:
            edges[source, dest].add(trigger)
    return {pair: sorted(triggers) for pair, triggers in sorted(edges.items())}


def returns(machine: Lifecycle) -> tuple[list[str], list[str]]:
    """The triggers that lead back to the initial pseudo-state, and the states they leave."""
    triggers, sources = set(), set()
    for source, trigger, dest, _guards in machine.transitions():
        if dest == machine.initial and source != dest:
            triggers.add(trigger)
            sources.add(source)
    return sorted(triggers), [s for s in machine.states if s in sources]


def layout(machine: Lifecycle) -> dict[str, tuple[float, float]]:
    """The centre of each state's box."""
    edges = _edges(machine)
    depth = {machine.initial: 0}
    frontier = [machine.initial]
    while frontier:
        following = []
        for state in frontier:
            for source, dest in edges:
                if source == state and dest not in depth:
                    depth[dest] = depth[state] + 1
                    following.append(dest)
        frontier = following
    columns: dict[int, list[str]] = defaultdict(list)
    for state in machine.states:  # spec order within a column
        if state in depth:
            columns[depth[state]].append(state)
    rows = max(len(c) for c in columns.values())
    place = {}
    for col, states in columns.items():
        for row, state in enumerate(states):
            place[state] = (MARGIN + BOX_W / 2 + col * COL_GAP, MARGIN + BOX_H / 2 + row * ROW_GAP)
    # States reached only from outside the machine go in a row below: each with arrows
    # under the furthest state it leads to (its arrows then run up, not across the
    # picture), the rest in the columns left free, in spec order.
    column_of = {state: depth[state] for state in depth}
    bottom: dict[int, str] = {}
    unreached = [s for s in machine.states if s not in depth]
    for state in unreached:
        targets = [column_of[d] for (src, d) in edges if src == state and d in column_of]
        if targets and max(targets) not in bottom:
            bottom[max(targets)] = state
    free = (col for col in range(len(machine.states)) if col not in bottom)
    for state in unreached:
        if state not in bottom.values():
            bottom[next(free)] = state
    for col, state in bottom.items():
        place[state] = (MARGIN + BOX_W / 2 + col * COL_GAP, MARGIN + BOX_H / 2 + rows * ROW_GAP)
    return place


def _curve(a, b, bend: float):
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy) or 1
    control = (mx - dy / length * bend, my + dx / length * bend)
    return _border(a, control), control, _border(b, control)


def _hits(curve, boxes) -> bool:
    """Whether the curve passes through any of the boxes (a little margin included)."""
    (x0, y0), (cx, cy), (x1, y1) = curve
    for i in range(1, 20):
        t = i / 20
        x = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t * t * x1
        y = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t * t * y1
        for bx, by in boxes:
            if abs(x - bx) < BOX_W / 2 + 6 and abs(y - by) < BOX_H / 2 + 6:
                return True
    return False


def _route(place, source: str, dest: str, two_way: bool):
    """A curve from source to dest that misses the other boxes: the least bend that
    works (always to the left when the reverse arrow exists, so the two never meet)."""
    others = [c for s, c in place.items() if s not in (source, dest)]
    sizes = (22, 45, 70, 100, 140, 190, 250)
    bends = list(sizes) if two_way else [0] + [b for size in sizes for b in (size, -size)]
    curves = [_curve(place[source], place[dest], bend) for bend in bends]
    return next((c for c in curves if not _hits(c, others)), curves[0])


def _border(centre: tuple[float, float], towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from a box's centre towards a point leaves the box."""
    (x, y), (tx, ty) = centre, towards
    dx, dy = tx - x, ty - y
    if dx == 0 and dy == 0:
        return x, y
    scale = min((BOX_W / 2) / abs(dx) if dx else math.inf, (BOX_H / 2) / abs(dy) if dy else math.inf)
    return x + dx * scale, y + dy * scale


def steps_from(machine: Lifecycle, state: str) -> tuple[list[tuple[str, str]], list[str]]:
    """What may happen from `state`: (trigger, dest) pairs that change it, and the
    triggers that keep it."""
    moves, stays = set(), set()
    for source, trigger, dest, _guards in machine.transitions():
        if source == state and dest == state:
            stays.add(trigger)
        elif source == state:
            moves.add((trigger, dest))
    return sorted(moves), sorted(stays)


def render(machine: Lifecycle, current: str | None, *, title: str = "User lifecycle") -> Markup:
    place = layout(machine)
    edges = _edges(machine)
    width = max(x for x, _ in place.values()) + BOX_W / 2 + MARGIN
    height = max(y for _, y in place.values()) + BOX_H / 2 + MARGIN + 24
    back, leaving = returns(machine)
    others = [st for st in machine.states if st != machine.initial]
    whence = "every state" if leaving == others else ", ".join(leaving)
    note = f"Not drawn: {' or '.join(back)} from {whence} back to {machine.initial}." if back else ""
    desc = (f"The states of {machine.name} and the transitions between them; "
            + (f"the current state is {current}." if current else "no state is current."))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lifecycle" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'aria-labelledby="lifecycle-title lifecycle-desc">',
        f'<title id="lifecycle-title">{escape(title)}</title>',
        f'<desc id="lifecycle-desc">{escape(desc)}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/>'
        '</marker></defs>',
    ]
    for (source, dest), triggers in edges.items():
        curve = _route(place, source, dest, (dest, source) in edges)
        parts.append(_arrow(curve, source, dest, triggers, current))
    for state in machine.states:
        parts.append(_box(place[state], state, state == current, state == machine.initial))
    if note:
        parts.append(f'<text class="note" x="{MARGIN}" y="{height - MARGIN / 2:.0f}">{escape(note)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _arrow(curve, source: str, dest: str, triggers: list[str], current: str | None) -> str:
    start, (cx, cy), end = curve
    classes = "edge from-current" if source == current else "edge"
    lx, ly = 0.25 * start[0] + 0.5 * cx + 0.25 * end[0], 0.25 * start[1] + 0.5 * cy + 0.25 * end[1]
    ly -= 6 * (len(triggers) - 1) - 4
    label = "".join(
        f'<tspan x="{lx:.1f}" dy="{0 if i == 0 else 12}">{escape(t)}</tspan>' for i, t in enumerate(triggers)
    )
    return (
        f'<g class="{classes}"><title>{escape(source)} to {escape(dest)}: '
        f'{escape(", ".join(triggers))}</title>'
        f'<path d="M{start[0]:.1f},{start[1]:.1f} Q{cx:.1f},{cy:.1f} {end[0]:.1f},{end[1]:.1f}" '
        f'marker-end="url(#arrow)"/>'
        f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle">{label}</text></g>'
    )


def _box(centre: tuple[float, float], state: str, is_current: bool, is_initial: bool) -> str:
    x, y = centre
    classes = ["state"] + (["current"] if is_current else []) + (["pseudo"] if is_initial else [])
    mark = " (current)" if is_current else ""
    return (
        f'<g class="{" ".join(classes)}"><title>{escape(state)}{mark}</title>'
        f'<rect x="{x - BOX_W / 2:.1f}" y="{y - BOX_H / 2:.1f}" width="{BOX_W}" height="{BOX_H}" rx="8"/>'
        f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(state)}</text></g>'
    )
