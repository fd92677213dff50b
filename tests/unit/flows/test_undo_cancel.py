"""'Changed your mind? Keep my subscription' on the cancelled done screen: undone through billing, exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows import (
    ApplyOffer,
    CancelApplied,
    CancelConfirmed,
    CancelRequested,
    Closed,
    Continued,
    Event,
    InvalidTransition,
    Notice,
    OfferAccepted,
    OfferApplied,
    OfferFailed,
    Outcome,
    ReasonChosen,
    ReasonId,
    Started,
    StepKind,
)
from flows.defaults import EXIT_INTERVIEW, PAUSE
from flows.notifications import notifications
from offers import ALL_CAPABILITIES, Capability, EligibilityPolicy
from offers.model import REACTIVATE
from offers.value import PeriodFlow, counted_flows
from tests.factories import NOW, SID, make_context, make_definition, walk

DEFINITION = make_definition()  # cancels at the period end
CTX = make_context()  # renews in 12 days
PERIOD_END = CTX.snapshot.current_period_end
CANCELLED: tuple[Event, ...] = (
    Started(at=NOW),
    Continued(at=NOW),
    CancelRequested(at=NOW),  # the step "Continue to cancel" leads to: cancels at once
    CancelApplied(at=NOW, effective_at=PERIOD_END),
)
KEEP = OfferAccepted(at=NOW, offer_id=REACTIVATE.id)
KEY = f"sf:{SID}:offer:{REACTIVATE.id}:1"


def test_a_cancellation_that_runs_to_the_period_end_offers_to_keep_the_subscription() -> None:
    done = walk(DEFINITION, CTX, CANCELLED)[-1].state
    assert (done.step, done.outcome, done.on_screen) == (StepKind.DONE, Outcome.CANCELLED, (REACTIVATE.id,))


def test_keeping_it_asks_billing_once_and_ends_reactivated_with_both_announced() -> None:
    *_, cancelled, pending, applied = walk(
        DEFINITION, CTX, (*CANCELLED, KEEP, OfferApplied(at=NOW, offer_id=REACTIVATE.id, summary="undone"))
    )
    (effect,) = pending.effects
    assert isinstance(effect, ApplyOffer) and effect.offer is REACTIVATE and effect.idempotency_key == KEY
    # In flight, it is a flow again (no outcome): billing decides whether it stays cancelled or continues.
    assert (pending.state.step, pending.state.outcome) == (StepKind.OFFER_PENDING, None)
    done = applied.state
    assert (done.step, done.outcome, done.accepted_offer) == (StepKind.DONE, Outcome.REACTIVATED, REACTIVATE.id)
    assert (done.on_screen, done.cancel_effective_at) == ((), None)  # it no longer ends
    before = walk(DEFINITION, CTX, CANCELLED[:-1])[-1].state
    said = [n.type for n in notifications(DEFINITION, before, cancelled.state)]
    assert said == ["session.completed", "subscription.cancelled"]
    found = notifications(DEFINITION, pending.state, done)
    assert [n.type for n in found] == ["session.completed", "subscription.reactivated"]
    assert found[0].data["outcome"] == "reactivated" and found[0].data["cancel_effective_at"] is None
    with pytest.raises(InvalidTransition):  # nothing more on the reactivated screen
        walk(DEFINITION, CTX, (KEEP,), done)


def test_a_double_click_asks_billing_once() -> None:
    pending = walk(DEFINITION, CTX, (*CANCELLED, KEEP))[-1].state
    with pytest.raises(InvalidTransition):
        walk(DEFINITION, CTX, (KEEP,), pending)


def test_an_unknown_outcome_returns_to_the_cancelled_screen_and_retries_under_the_same_key() -> None:
    unknown = OfferFailed(at=NOW, offer_id=REACTIVATE.id, definitive=False, error="ProviderUnavailable")
    *_, pending, failed, retried = walk(DEFINITION, CTX, (*CANCELLED, KEEP, unknown, KEEP))
    state = failed.state
    assert (state.step, state.outcome, state.notice) == (StepKind.DONE, Outcome.CANCELLED, Notice.OFFER_FAILED)
    assert state.on_screen == (REACTIVATE.id,) and state.cancel_effective_at == PERIOD_END
    assert notifications(DEFINITION, pending.state, state) == ()  # its cancellation was announced already
    (again,) = retried.effects
    assert isinstance(again, ApplyOffer) and again.idempotency_key == KEY


def test_a_refusal_leaves_it_cancelled_with_nothing_more_to_take() -> None:
    refused = OfferFailed(at=NOW, offer_id=REACTIVATE.id, definitive=True, error="ProviderRejected")
    state = walk(DEFINITION, CTX, (*CANCELLED, KEEP, refused))[-1].state
    assert (state.step, state.outcome, state.notice) == (StepKind.DONE, Outcome.CANCELLED, Notice.OFFER_UNAVAILABLE)
    assert (state.on_screen, state.accepted_offer, state.cancel_effective_at) == ((), None, PERIOD_END)
    with pytest.raises(InvalidTransition):
        walk(DEFINITION, CTX, (KEEP,), state)


def test_an_immediate_cancel_offers_nothing_and_refuses_the_keep() -> None:
    now = make_definition(cancel_at_period_end=False)
    ended = (*CANCELLED[:-1], CancelApplied(at=NOW, effective_at=NOW))
    done = walk(now, CTX, ended)[-1].state
    assert (done.outcome, done.on_screen) == (Outcome.CANCELLED, ())
    with pytest.raises(InvalidTransition):
        walk(now, CTX, (KEEP,), done)


@pytest.mark.parametrize(
    "why",
    ["billing cannot reactivate", "the period already ended", "the cancel came with a paid exit interview"],
)
def test_nothing_is_offered_that_could_not_be_undone_cleanly(why: str) -> None:
    ctx, events = CTX, CANCELLED
    if why == "billing cannot reactivate":
        ctx = make_context(policy=EligibilityPolicy(capabilities=ALL_CAPABILITIES - {Capability.REACTIVATE}))
    elif why == "the period already ended":
        events = (*CANCELLED[:-1], CancelApplied(at=NOW + timedelta(days=13), effective_at=PERIOD_END))
    else:  # undone, the interview's record (its offer, the CS task's count) would be lost on a failure
        why_leave = ReasonChosen(at=NOW, reason=ReasonId("competitor"))
        take, booked = OfferAccepted(at=NOW, offer_id=EXIT_INTERVIEW), OfferApplied(at=NOW, offer_id=EXIT_INTERVIEW)
        events = (*CANCELLED[:2], why_leave, take, booked, CancelConfirmed(at=NOW), CANCELLED[-1])
    done = walk(DEFINITION, ctx, events)[-1].state
    assert (done.outcome, done.on_screen) == (Outcome.CANCELLED, ())
    with pytest.raises(InvalidTransition):
        walk(DEFINITION, ctx, (KEEP,), done)


def test_a_test_session_is_offered_the_undo_from_its_period_end() -> None:
    """A test session asks no billing: its cancel reports now as the end, and its period end stands in."""
    ctx = make_context(test_mode=True)
    done = walk(DEFINITION, ctx, (*CANCELLED[:-1], CancelApplied(at=NOW, effective_at=NOW)))[-1].state
    assert done.on_screen == (REACTIVATE.id,)


def test_only_the_keep_card_can_be_taken_from_the_done_screen() -> None:
    done = walk(DEFINITION, CTX, CANCELLED)[-1].state
    for offer in (PAUSE, EXIT_INTERVIEW):
        with pytest.raises(InvalidTransition):
            walk(DEFINITION, CTX, (OfferAccepted(at=NOW, offer_id=offer),), done)
    with pytest.raises(InvalidTransition):
        walk(DEFINITION, CTX, (Closed(at=NOW),), done)  # closing the done screen records nothing more


def test_the_reactivated_session_counts_on_its_own_and_never_as_a_repeat() -> None:
    """It undid its own cancellation: counted as reactivated (like a returning customer's), and the period's
    other flows are picked without it."""
    earlier = PeriodFlow("ses_0", "abandoned", NOW - timedelta(days=2), cancelling_at_start=False)
    undone = PeriodFlow("ses_1", "reactivated", NOW, cancelling_at_start=False)
    assert counted_flows([earlier, undone]) == {"ses_0", "ses_1"}
    assert counted_flows([undone]) == {"ses_1"}
