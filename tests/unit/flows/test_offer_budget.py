"""`max_offers` counts per session, as the flow editor says ("Show between 0 and 5 offers per session").

Table-driven, beside test_machine.py (which is at the module size limit): going back to the survey and
choosing another reason never shows more than `max_offers` distinct offers in total. One offer at a time
here; test_offer_cards.py holds the same budget with several cards on screen.
"""

from __future__ import annotations

import pytest

from flows import Event, OfferFailed, StepKind, WentBack
from flows.defaults import DISCOUNT, DOWNGRADE, PAUSE
from tests.factories import NOW, make_definition
from tests.unit.flows.test_machine import AT_OFFER, accept, decline, reason, state_after

S = StepKind
P, D, X, BACK = PAUSE, DOWNGRADE, DISCOUNT, WentBack(at=NOW)
FAILED = OfferFailed(at=NOW, offer_id=P, definitive=True)
BUDGET = {  # id: max_offers, events after the pause is on screen, (step, offer on screen, offers shown)
    "no-third": (2, (decline(P), decline(D), BACK, reason("competitor")), (S.CONFIRM, None, (P, D))),
    "one-left": (2, (BACK, reason("competitor")), (S.OFFER, X, (P, X))),
    "spent-by-second-reason": (2, (BACK, reason("competitor"), decline(X)), (S.CONFIRM, None, (P, X))),
    "one-per-session": (1, (BACK, reason("competitor")), (S.CONFIRM, None, (P,))),
    "one-declined": (1, (decline(P), BACK, reason("not_using")), (S.CONFIRM, None, (P,))),
    "declined-not-shown-again": (2, (decline(P), BACK, reason("too_expensive")), (S.OFFER, D, (P, D))),
    "shown-again-counts-once": (2, (BACK, reason("temporary")), (S.OFFER, P, (P,))),
    "shown-may-return": (2, (accept(P), FAILED, BACK, reason("competitor")), (S.OFFER, D, (P, D))),
    "budget-spans-reasons": (3, (decline(P), decline(D), BACK, reason("competitor")), (S.OFFER, X, (P, D, X))),
    "none": (0, (BACK, reason("competitor")), (S.CONFIRM, None, ())),
}


@pytest.mark.parametrize(("max_offers", "events", "expected"), BUDGET.values(), ids=BUDGET)
def test_max_offers_counts_per_session(max_offers: int, events: tuple[Event, ...], expected: object) -> None:
    state = state_after((*AT_OFFER, *events), make_definition(max_offers=max_offers, offers_per_step=1))
    assert (state.step, state.current_offer, state.offers_shown) == expected
    assert len(state.offers_shown) <= max_offers
