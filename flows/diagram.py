"""The flow as pictures: the transition table as Mermaid, and one session's replayed path as an SVG layout.

Rules: standard library and `flows.*` only; the diagrams are generated from TRANSITIONS, so they
cannot drift from the code. `session_path` replays the event log through `decide` (pure, exact).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flows.errors import FlowError
from flows.machine import TRANSITIONS, decide, initial_state
from flows.model import CustomerContext, FlowDefinition, SessionId, StepKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from flows.events import Event

# Where each handler can lead; kept next to the renderer and checked against TRANSITIONS by a test (and
# against random walks through `decide` in tests/unit/flows/test_session_path.py).
# Entering the offers with none to show goes on down the cancel path: feedback, confirm, or cancel at once.
_INTO_OFFERS = (StepKind.OFFER, StepKind.FEEDBACK, StepKind.CONFIRM, StepKind.CANCEL_PENDING)
TARGETS: dict[tuple[StepKind, str], tuple[StepKind, ...]] = {
    (StepKind.NEW, "Started"): (
        StepKind.LOSS_AVERSION,
        StepKind.SURVEY,
        *_INTO_OFFERS,
        StepKind.ENDING,
        StepKind.PAUSED,
        StepKind.DOWNGRADE_SCHEDULED,
    ),
    (StepKind.ENDING, "OfferAccepted"): (StepKind.OFFER_PENDING,),
    (StepKind.PAUSED, "OfferAccepted"): (StepKind.OFFER_PENDING,),
    (StepKind.PAUSED, "Continued"): (StepKind.LOSS_AVERSION, StepKind.SURVEY, *_INTO_OFFERS),
    (StepKind.DOWNGRADE_SCHEDULED, "OfferAccepted"): (StepKind.OFFER_PENDING,),
    (StepKind.DOWNGRADE_SCHEDULED, "Continued"): (StepKind.LOSS_AVERSION, StepKind.SURVEY, *_INTO_OFFERS),
    (StepKind.LOSS_AVERSION, "Continued"): (StepKind.SURVEY, *_INTO_OFFERS),
    (StepKind.SURVEY, "ReasonChosen"): _INTO_OFFERS,
    (StepKind.SURVEY, "WentBack"): (StepKind.LOSS_AVERSION,),
    (StepKind.OFFER, "OfferAccepted"): (StepKind.OFFER_PENDING,),
    (StepKind.OFFER, "OfferDeclined"): (StepKind.OFFER, StepKind.FEEDBACK, StepKind.CONFIRM, StepKind.CANCEL_PENDING),
    (StepKind.OFFER, "WentBack"): (StepKind.SURVEY,),
    # An applied exit interview goes on to the cancel: feedback, or confirm (never cancels by itself).
    (StepKind.OFFER_PENDING, "OfferApplied"): (StepKind.DONE, StepKind.FEEDBACK, StepKind.CONFIRM),
    (StepKind.OFFER_PENDING, "OfferFailed"): (
        StepKind.OFFER,
        StepKind.DONE,  # an undo of the session's own cancellation, back on its done screen
        StepKind.FEEDBACK,
        StepKind.CONFIRM,
        StepKind.ENDING,
        StepKind.PAUSED,
        StepKind.DOWNGRADE_SCHEDULED,
    ),
    (StepKind.FEEDBACK, "FeedbackGiven"): (StepKind.CONFIRM, StepKind.CANCEL_PENDING),
    (StepKind.FEEDBACK, "WentBack"): (StepKind.SURVEY,),
    (StepKind.CONFIRM, "CancelConfirmed"): (StepKind.CANCEL_PENDING,),
    (StepKind.CONFIRM, "WentBack"): (StepKind.SURVEY,),
    (StepKind.CANCEL_PENDING, "CancelApplied"): (StepKind.DONE,),
    (StepKind.CANCEL_PENDING, "CancelFailed"): (StepKind.CONFIRM,),
    (StepKind.DONE, "OfferAccepted"): (StepKind.OFFER_PENDING,),  # "Changed your mind?" after a cancel
}
ANY_STEP_TARGETS = {
    "CancelRequested": (StepKind.CONFIRM, StepKind.CANCEL_PENDING),
    "Closed": (StepKind.DONE,),
    "Kept": (StepKind.DONE,),
    "TimedOut": (StepKind.DONE,),
}


def edges() -> list[tuple[StepKind, str, StepKind]]:
    result: list[tuple[StepKind, str, StepKind]] = []
    for step, handlers in TRANSITIONS.items():
        for event_type in handlers:
            name = event_type.__name__
            for target in TARGETS.get((step, name)) or ANY_STEP_TARGETS.get(name, ()):
                result.append((step, name, target))
    return result


def mermaid(highlight: set[tuple[StepKind, StepKind]] | None = None) -> str:
    """`stateDiagram-v2` source; `highlight` marks the (from, to) pairs a session actually took."""
    lines = ["stateDiagram-v2", f"    [*] --> {StepKind.NEW.value}"]
    for source, name, target in edges():
        mark = " ✔" if highlight and (source, target) in highlight else ""
        lines.append(f"    {source.value} --> {target.value}: {name}{mark}")
    lines.append(f"    {StepKind.DONE.value} --> [*]")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ a session's path
def session_path(
    definition: FlowDefinition, ctx: CustomerContext, session_id: SessionId, events: Iterable[Event]
) -> tuple[StepKind, ...]:
    """Every step a session was in, in order, from its event log (the log replayed through `decide`).

    The stored context is frozen at start, so the replay is exact: a confirmed cancel lists `confirm`,
    a click-to-cancel lists the step it left from. Consecutive repeats are folded into one; a log the
    current definition cannot replay (it should not happen) keeps the path up to the refused event.
    """
    state = initial_state(session_id)
    steps: list[StepKind] = []
    for event in events:
        try:
            state = decide(definition, state, event, ctx).state
        except FlowError:
            break
        if not steps or steps[-1] is not state.step:
            steps.append(state.step)
    return tuple(steps)


def path_edges(path: Sequence[StepKind]) -> tuple[tuple[StepKind, StepKind], ...]:
    """The (from, to) moves of a path, starting from `new`; a step repeated in place is no move."""
    full = [StepKind.NEW, *path]
    return tuple((a, b) for a, b in itertools.pairwise(full) if a is not b)


# ------------------------------------------------------------------------------------ the picture
STEP_LABELS: dict[StepKind, str] = {
    StepKind.NEW: "Start",
    StepKind.LOSS_AVERSION: "What they'd lose",
    StepKind.SURVEY: "Reason",
    StepKind.OFFER: "Offer",
    StepKind.OFFER_PENDING: "Applying offer",
    StepKind.FEEDBACK: "Feedback",
    StepKind.CONFIRM: "Confirm",
    StepKind.CANCEL_PENDING: "Cancelling",
    StepKind.ENDING: "Already ending",
    StepKind.PAUSED: "Paused",
    StepKind.DOWNGRADE_SCHEDULED: "Plan change scheduled",
    StepKind.DONE: "Done",
}
# Column, row: the save lane on top, the cancel lane below, done at the right.
_GRID: dict[StepKind, tuple[int, int]] = {
    StepKind.NEW: (0, 1),
    StepKind.LOSS_AVERSION: (1, 1),
    StepKind.SURVEY: (2, 1),
    StepKind.OFFER: (3, 0),
    StepKind.OFFER_PENDING: (4, 0),
    StepKind.FEEDBACK: (3, 2),
    StepKind.CONFIRM: (4, 2),
    StepKind.CANCEL_PENDING: (5, 2),
    StepKind.ENDING: (1, 0),  # a returning customer already set to cancel: straight to keeping it, or not
    StepKind.PAUSED: (2, 0),  # a returning customer on a pause: resume it, or cancel
    StepKind.DOWNGRADE_SCHEDULED: (1, 2),  # a plan change waits for the period end: undo it, or go on
    StepKind.DONE: (6, 1),
}
_BOX_W, _BOX_H, _DX, _DY, _PAD = 136, 40, 164, 76, 12


@dataclass(frozen=True, slots=True)
class DiagramNode:
    step: str
    label: str
    x: int
    y: int
    visited: bool
    visits: tuple[int, ...]  # 1-based positions in the path


@dataclass(frozen=True, slots=True)
class DiagramEdge:
    source: str
    target: str
    d: str  # SVG path data
    taken: bool


@dataclass(frozen=True, slots=True)
class PathDiagram:
    """A server-drawn picture of the flow with one session's path lit (the template draws the SVG)."""

    width: int
    height: int
    box_w: int
    box_h: int
    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...]
    path: tuple[tuple[str, str], ...]  # (step, label) in the order visited: the picture's text fallback
    summary: str  # "Start → Reason → …" for the picture's <title>


def _centre(step: StepKind) -> tuple[float, float]:
    col, row = _GRID[step]
    return _PAD + col * _DX + _BOX_W / 2, _PAD + row * _DY + _BOX_H / 2


def _border(cx: float, cy: float, dx: float, dy: float) -> tuple[float, float]:
    """Where the ray from a box's centre along (dx, dy) leaves the box (plus a small gap)."""
    scale = min((_BOX_W / 2 + 3) / abs(dx) if dx else math.inf, (_BOX_H / 2 + 3) / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def _curve(source: StepKind, target: StepKind) -> str:
    (x1, y1), (x2, y2) = _centre(source), _centre(target)
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy)
    bend = 14 if _GRID[target][0] >= _GRID[source][0] else 30  # going back bends further out
    mx, my = (x1 + x2) / 2 - dy / length * bend, (y1 + y2) / 2 + dx / length * bend
    sx, sy = _border(x1, y1, mx - x1, my - y1)
    ex, ey = _border(x2, y2, mx - x2, my - y2)
    return f"M{sx:.0f},{sy:.0f} Q{mx:.0f},{my:.0f} {ex:.0f},{ey:.0f}"


def path_diagram(path: Sequence[StepKind]) -> PathDiagram:
    """Every step and move of the flow, with the moves and steps of `path` marked as taken."""
    taken = set(path_edges(path))
    moves = {(s, t) for s, _, t in edges() if s is not t}
    moves |= {(StepKind.NEW, t) for t in TARGETS[(StepKind.NEW, "Started")]} | taken
    visits: dict[StepKind, list[int]] = {}
    for index, step in enumerate(path, start=1):
        visits.setdefault(step, []).append(index)
    nodes = tuple(
        DiagramNode(
            step=step.value,
            label=STEP_LABELS[step],
            x=_PAD + _GRID[step][0] * _DX,
            y=_PAD + _GRID[step][1] * _DY,
            visited=step is StepKind.NEW or step in visits,
            visits=tuple(visits.get(step, ())),
        )
        for step in StepKind
    )
    ordered = sorted(moves, key=lambda m: ((m in taken), m[0].value, m[1].value))  # taken drawn last, on top
    return PathDiagram(
        width=2 * _PAD + 6 * _DX + _BOX_W,
        height=2 * _PAD + 2 * _DY + _BOX_H,
        box_w=_BOX_W,
        box_h=_BOX_H,
        nodes=nodes,
        edges=tuple(DiagramEdge(s.value, t.value, _curve(s, t), (s, t) in taken) for s, t in ordered),
        path=tuple((s.value, STEP_LABELS[s]) for s in path),
        summary=" → ".join(STEP_LABELS[s] for s in (StepKind.NEW, *path)),
    )
