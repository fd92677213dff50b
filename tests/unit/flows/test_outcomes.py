"""How a flow ends: kept (the keep button, a no-billing offer), abandoned (closed, timed out), saved."""

from __future__ import annotations

import pytest

from flows import (
    Closed,
    Continued,
    Event,
    OfferAccepted,
    OfferApplied,
    Outcome,
    ReasonChosen,
    ReasonId,
    Started,
    StepKind,
)
from flows.events import Kept, TimedOut
from flows.notifications import notifications
from offers import OfferId
from tests.factories import NOW, make_context, make_definition, walk

DEFINITION = make_definition()


def _accepted(reason: str, offer: str) -> Outcome | None:
    offer_id = OfferId(offer)
    events: list[Event] = [
        Continued(at=NOW),
        ReasonChosen(at=NOW, reason=ReasonId(reason)),
        OfferAccepted(at=NOW, offer_id=offer_id),
        OfferApplied(at=NOW, offer_id=offer_id),
    ]
    return walk(DEFINITION, make_context(), [Started(at=NOW), *events])[-1].state.outcome


def test_an_offer_that_changes_billing_saves_and_a_call_keeps() -> None:
    assert _accepted("too_expensive", "pause-2-months") is Outcome.SAVED
    assert _accepted("no_value", "training-call") is Outcome.KEPT


@pytest.mark.parametrize(
    ("event", "outcome"), [(Kept, Outcome.KEPT), (Closed, Outcome.ABANDONED), (TimedOut, Outcome.ABANDONED)]
)
def test_leaving_from_the_first_step(event: type[Kept | Closed | TimedOut], outcome: Outcome) -> None:
    state = walk(DEFINITION, make_context(), [Started(at=NOW), event(at=NOW)])[-1].state
    assert (state.step, state.outcome, state.accepted_offer) == (StepKind.DONE, outcome, None)


def test_a_kept_flow_tells_the_host_app_and_names_the_offer_it_took() -> None:
    decisions = walk(
        DEFINITION,
        make_context(),
        [
            Started(at=NOW),
            Continued(at=NOW),
            ReasonChosen(at=NOW, reason=ReasonId("no_value")),
            OfferAccepted(at=NOW, offer_id=OfferId("training-call")),
            OfferApplied(at=NOW, offer_id=OfferId("training-call")),
        ],
    )
    found = notifications(DEFINITION, decisions[-2].state, decisions[-1].state)
    assert [n.type for n in found] == ["session.completed", "offer.applied"]
    assert found[0].data["outcome"] == "kept" and found[0].data["offer"] == {"id": "training-call", "kind": "training"}
