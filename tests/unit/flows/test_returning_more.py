"""A scheduled plan change (undo it, or go on), the forever-free downgrade and the paid exit interview: pure rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    WentBack,
    decide,
    initial_state,
)
from flows.billing_checks import offer_is_in_effect
from flows.defaults import EXIT_INTERVIEW, FREE_PLAN
from flows.returning import returning_step
from offers import OfferId, SubscriptionSnapshot, SubscriptionStatus
from offers.model import REACTIVATE, RESUME, UNDO_DOWNGRADE, ExitInterviewOffer
from offers.value import retained_after
from offers.value_lines import ValueKind, value_line
from tests.factories import NOW, SID, make_context, make_definition, make_snapshot, walk

STARTER = "price_starter_monthly"
DEFINITION = make_definition(cancel_always_available=False)  # the usual way on is "Continue to cancel"
CLICK_TO_CANCEL = make_definition()
SCHEDULED = make_context(snapshot=make_snapshot(scheduled_price_id=STARTER))
START: tuple[Event, ...] = (Started(at=NOW),)
UNDO = OfferAccepted(at=NOW, offer_id=UNDO_DOWNGRADE.id)


# ---------------------------------------------------------------------------- a plan change waits for the period end
def test_a_scheduled_plan_change_opens_on_undoing_it_and_cancelling_is_two_clicks() -> None:
    (started,) = walk(CLICK_TO_CANCEL, SCHEDULED, START)
    assert (started.state.step, started.state.on_screen) == (StepKind.DOWNGRADE_SCHEDULED, (UNDO_DOWNGRADE.id,))
    confirm = walk(CLICK_TO_CANCEL, SCHEDULED, (*START, CancelRequested(at=NOW)))[-1]
    assert (confirm.state.step, confirm.effects) == (StepKind.CONFIRM, ())
    cancelling = walk(CLICK_TO_CANCEL, SCHEDULED, (*START, CancelRequested(at=NOW), CancelConfirmed(at=NOW)))[-1]
    assert cancelling.state.step is StepKind.CANCEL_PENDING and len(cancelling.effects) == 1
    usual = walk(DEFINITION, SCHEDULED, (*START, Continued(at=NOW)))[-1].state  # on to the usual flow
    assert (usual.step, usual.on_screen) == (StepKind.LOSS_AVERSION, ())


def test_undoing_asks_billing_once_with_a_deterministic_key_and_ends_kept() -> None:
    *_, pending, applied = walk(
        DEFINITION, SCHEDULED, (*START, UNDO, OfferApplied(at=NOW, offer_id=UNDO_DOWNGRADE.id, summary="dropped"))
    )
    (effect,) = pending.effects
    assert isinstance(effect, ApplyOffer) and effect.offer is UNDO_DOWNGRADE
    assert effect.idempotency_key == f"sf:{SID}:offer:{UNDO_DOWNGRADE.id}:1"
    again = walk(DEFINITION, SCHEDULED, (*START, UNDO))[-1].effects  # the same session asks with the same key
    assert again == pending.effects
    assert (applied.state.step, applied.state.outcome) == (StepKind.DONE, Outcome.KEPT)


def test_a_failed_undo_returns_to_the_step() -> None:
    failed = OfferFailed(at=NOW, offer_id=UNDO_DOWNGRADE.id, definitive=False)
    state = walk(DEFINITION, SCHEDULED, (*START, UNDO, failed))[-1].state
    assert (state.step, state.on_screen, state.notice) == (
        StepKind.DOWNGRADE_SCHEDULED,
        (UNDO_DOWNGRADE.id,),
        Notice.OFFER_FAILED,
    )
    gone = walk(DEFINITION, SCHEDULED, (*START, UNDO, replace(failed, definitive=True)))[-1].state
    assert (gone.step, gone.on_screen, gone.notice) == (StepKind.DOWNGRADE_SCHEDULED, (), Notice.OFFER_UNAVAILABLE)
    with pytest.raises(InvalidTransition):  # nothing to go back to: this is the first step
        walk(DEFINITION, SCHEDULED, (*START, WentBack(at=NOW)))


def test_the_undo_is_in_effect_once_billing_reports_nothing_scheduled() -> None:
    before = make_snapshot(scheduled_price_id=STARTER)
    assert offer_is_in_effect(
        UNDO_DOWNGRADE, before=before, after=replace(before, scheduled_price_id=None), started_at=NOW
    )
    assert not offer_is_in_effect(UNDO_DOWNGRADE, before=before, after=before, started_at=NOW)


SNAPSHOTS = st.builds(
    make_snapshot,
    status=st.sampled_from(list(SubscriptionStatus)),
    cancel_at_period_end=st.booleans(),
    paused_until=st.sampled_from([None, NOW - timedelta(days=1), NOW + timedelta(days=9)]),
    scheduled_price_id=st.sampled_from([None, STARTER, "price_pro_monthly"]),  # pro: the price it is already on
)


@settings(max_examples=200, deadline=None, database=None)
@given(SNAPSHOTS)
def test_a_session_opens_on_at_most_one_returning_step_with_its_own_undo(snap: SubscriptionSnapshot) -> None:
    """Property: the step is a function of the live subscription, in the order set-to-end, paused, plan change;
    an ended subscription or one with nothing pending walks the usual flow; the step's one card undoes it."""
    expected: tuple[StepKind, OfferId] | None = None
    if snap.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        if snap.cancel_at_period_end:
            expected = (StepKind.ENDING, REACTIVATE.id)
        elif snap.paused_until is not None and snap.paused_until > NOW:
            expected = (StepKind.PAUSED, RESUME.id)
        elif snap.scheduled_price_id not in (None, snap.price_id):
            expected = (StepKind.DOWNGRADE_SCHEDULED, UNDO_DOWNGRADE.id)
    assert returning_step(snap, NOW) == expected
    state = decide(CLICK_TO_CANCEL, initial_state(SID), START[0], make_context(snapshot=snap)).state
    if expected is None:
        assert state.step is StepKind.LOSS_AVERSION
    else:
        assert (state.step, state.on_screen[0]) == expected


# ---------------------------------------------------------------------------- the forever-free downgrade
def test_the_free_plan_keeps_the_account_for_nothing_a_month() -> None:
    free = make_definition().offer(FREE_PLAN)
    snap = make_snapshot()
    assert free is not None and free.kind.value == "downgrade"
    assert retained_after(free, snap, started_at=NOW).now_cents == 0  # net MRR retained: $0
    line = value_line(free, snap, started_at=NOW)
    assert (line.kind, line.after and line.after.cents) == (ValueKind.PRICE_CHANGE, 0)
    walked = walk(
        make_definition(),
        make_context(snapshot=snap),
        (*START, Continued(at=NOW), ReasonChosen(at=NOW, reason=ReasonId("not_using"))),
    )
    assert FREE_PLAN in walked[-1].state.on_screen
    done = walk(
        make_definition(),
        make_context(snapshot=snap),
        (OfferAccepted(at=NOW, offer_id=FREE_PLAN), OfferApplied(at=NOW, offer_id=FREE_PLAN, summary="Free")),
        walked[-1].state,
    )[-1].state
    assert (done.step, done.outcome) == (StepKind.DONE, Outcome.SAVED)  # the account stays: a save


# ---------------------------------------------------------------------------- the paid exit interview
COMPETITOR = (*START, Continued(at=NOW), ReasonChosen(at=NOW, reason=ReasonId("competitor")))
TAKE_CALL = OfferAccepted(at=NOW, offer_id=EXIT_INTERVIEW)
CALL_BOOKED = OfferApplied(at=NOW, offer_id=EXIT_INTERVIEW, summary="booked")


@pytest.mark.parametrize("confirm", [True, False])
def test_an_accepted_exit_interview_goes_on_to_the_confirm_step_and_never_cancels_by_itself(confirm: bool) -> None:
    definition = make_definition(confirm=confirm)
    ctx = make_context()
    *_, pending, booked = walk(definition, ctx, (*COMPETITOR, TAKE_CALL, CALL_BOOKED))
    (effect,) = pending.effects
    assert isinstance(effect, ApplyOffer) and isinstance(effect.offer, ExitInterviewOffer)
    assert (booked.state.step, booked.state.outcome, booked.effects) == (StepKind.CONFIRM, None, ())
    assert booked.state.accepted_offer == EXIT_INTERVIEW and booked.state.on_screen == ()
    *_, cancelling, cancelled = walk(
        definition, ctx, (CancelConfirmed(at=NOW), CancelApplied(at=NOW, effective_at=NOW)), booked.state
    )
    assert cancelling.state.step is StepKind.CANCEL_PENDING
    assert (cancelled.state.outcome, cancelled.state.accepted_offer) == (Outcome.CANCELLED, EXIT_INTERVIEW)


def test_going_back_after_the_exit_interview_never_offers_it_again() -> None:
    booked = walk(make_definition(), make_context(), (*COMPETITOR, TAKE_CALL, CALL_BOOKED))[-1].state
    survey = walk(make_definition(), make_context(), (WentBack(at=NOW),), booked)[-1].state
    again = walk(make_definition(), make_context(), (ReasonChosen(at=NOW, reason=ReasonId("competitor")),), survey)
    assert EXIT_INTERVIEW not in again[-1].state.on_screen
    closed = walk(make_definition(), make_context(), (Closed(at=NOW),), booked)[-1].state
    assert closed.outcome is Outcome.ABANDONED  # closing without confirming cancels nothing
