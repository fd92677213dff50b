"""Renders the transition table as a Mermaid state diagram (for the docs and the admin).

Rules: standard library and `flows.machine` only; the diagram is generated from TRANSITIONS, so it
cannot drift from the code.
"""

from __future__ import annotations

from flows.machine import TRANSITIONS
from flows.model import StepKind

# Where each handler can lead; kept next to the renderer and checked against TRANSITIONS by a test.
TARGETS: dict[tuple[StepKind, str], tuple[StepKind, ...]] = {
    (StepKind.NEW, "Started"): (StepKind.LOSS_AVERSION, StepKind.SURVEY, StepKind.OFFER, StepKind.CONFIRM),
    (StepKind.LOSS_AVERSION, "Continued"): (StepKind.SURVEY, StepKind.OFFER, StepKind.CONFIRM),
    (StepKind.SURVEY, "ReasonChosen"): (StepKind.OFFER, StepKind.FEEDBACK, StepKind.CONFIRM),
    (StepKind.SURVEY, "WentBack"): (StepKind.LOSS_AVERSION,),
    (StepKind.OFFER, "OfferAccepted"): (StepKind.OFFER_PENDING,),
    (StepKind.OFFER, "OfferDeclined"): (StepKind.OFFER, StepKind.FEEDBACK, StepKind.CONFIRM, StepKind.CANCEL_PENDING),
    (StepKind.OFFER, "WentBack"): (StepKind.SURVEY,),
    (StepKind.OFFER_PENDING, "OfferApplied"): (StepKind.DONE,),
    (StepKind.OFFER_PENDING, "OfferFailed"): (StepKind.OFFER, StepKind.FEEDBACK, StepKind.CONFIRM),
    (StepKind.FEEDBACK, "FeedbackGiven"): (StepKind.CONFIRM, StepKind.CANCEL_PENDING),
    (StepKind.FEEDBACK, "WentBack"): (StepKind.SURVEY,),
    (StepKind.CONFIRM, "CancelConfirmed"): (StepKind.CANCEL_PENDING,),
    (StepKind.CONFIRM, "WentBack"): (StepKind.SURVEY,),
    (StepKind.CANCEL_PENDING, "CancelApplied"): (StepKind.DONE,),
    (StepKind.CANCEL_PENDING, "CancelFailed"): (StepKind.CONFIRM,),
}
ANY_STEP_TARGETS = {"CancelRequested": (StepKind.CONFIRM, StepKind.CANCEL_PENDING), "Closed": (StepKind.DONE,)}


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
