"""A returning customer set to end (keep it or not) or paused (resume now, or extend the pause within its limit)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import (
    ApplyOffer,
    CancelRequested,
    Closed,
    Continued,
    Event,
    InvalidInput,
    InvalidTransition,
    Notice,
    OfferAccepted,
    OfferApplied,
    OfferFailed,
    Outcome,
    Started,
    StepKind,
)
from flows.notifications import notifications
from offers import SubscriptionStatus
from offers.apply import add_length, add_months, extended_until
from offers.model import EXTEND_PAUSE, REACTIVATE, RESUME, ExtendPauseOffer, OfferKind, PauseLength, PauseUnit
from offers.pause_choices import MAX_PAUSE_MONTHS
from offers.value import PeriodFlow, counted_flows
from tests.factories import NOW, make_context, make_definition, make_snapshot, walk

DEFINITION = make_definition()
ENDING = make_context(snapshot=make_snapshot(cancel_at_period_end=True))
START: tuple[Event, ...] = (Started(at=NOW),)
KEEP = OfferAccepted(at=NOW, offer_id=REACTIVATE.id)


def test_a_customer_set_to_cancel_is_offered_to_keep_it_and_never_asked_why_again() -> None:
    (started,) = walk(DEFINITION, ENDING, START)
    assert (started.state.step, started.state.on_screen) == (StepKind.ENDING, (REACTIVATE.id,))
    for event in (Continued(at=NOW), CancelRequested(at=NOW)):
        with pytest.raises(InvalidTransition):
            walk(DEFINITION, ENDING, (*START, event))


def test_keeping_it_asks_billing_once_and_ends_reactivated() -> None:
    *_, pending, applied = walk(
        DEFINITION, ENDING, (*START, KEEP, OfferApplied(at=NOW, offer_id=REACTIVATE.id, summary="undone"))
    )
    (effect,) = pending.effects
    assert isinstance(effect, ApplyOffer) and effect.offer is REACTIVATE
    assert effect.idempotency_key.endswith(f":offer:{REACTIVATE.id}:1")
    assert (applied.state.step, applied.state.outcome) == (StepKind.DONE, Outcome.REACTIVATED)
    (before, after) = (pending.state, applied.state)
    assert [n.type for n in notifications(DEFINITION, before, after)] == [
        "session.completed",
        "subscription.reactivated",
    ]


def test_a_failure_returns_to_the_returning_step_and_a_definitive_one_leaves_only_closing() -> None:
    transient = walk(DEFINITION, ENDING, (*START, KEEP, OfferFailed(at=NOW, offer_id=REACTIVATE.id, definitive=False)))
    state = transient[-1].state
    assert (state.step, state.on_screen, state.notice) == (StepKind.ENDING, (REACTIVATE.id,), Notice.OFFER_FAILED)
    definitive = walk(DEFINITION, ENDING, (*START, KEEP, OfferFailed(at=NOW, offer_id=REACTIVATE.id, definitive=True)))
    state = definitive[-1].state
    assert (state.step, state.on_screen, state.notice) == (StepKind.ENDING, (), Notice.OFFER_UNAVAILABLE)
    closed = walk(DEFINITION, ENDING, (*START, Closed(at=NOW)))[-1].state
    assert (closed.step, closed.outcome) == (StepKind.DONE, Outcome.ABANDONED)


def test_an_ended_subscription_or_one_not_set_to_cancel_walks_the_usual_flow() -> None:
    ended = make_context(snapshot=make_snapshot(cancel_at_period_end=True, status=SubscriptionStatus.CANCELED))
    assert walk(DEFINITION, ended, START)[-1].state.step is StepKind.LOSS_AVERSION
    assert walk(DEFINITION, make_context(), START)[-1].state.step is StepKind.LOSS_AVERSION


def test_a_reactivation_counts_beside_the_cancellation_it_undid() -> None:
    cancelled = PeriodFlow("ses_1", "cancelled", NOW, cancelling_at_start=False)
    back = PeriodFlow("ses_2", "reactivated", NOW + timedelta(days=3), cancelling_at_start=True)
    peek = PeriodFlow("ses_3", "abandoned", NOW + timedelta(days=4), cancelling_at_start=True)
    assert counted_flows([cancelled, back, peek]) == {"ses_1", "ses_2"}


PAUSED = make_context(snapshot=make_snapshot(paused_until=NOW + timedelta(days=20)))
RESUME_NOW = OfferAccepted(at=NOW, offer_id=RESUME.id)


def test_a_paused_customer_is_offered_to_resume_and_cancelling_is_two_clicks() -> None:
    (started,) = walk(DEFINITION, PAUSED, START)
    assert (started.state.step, started.state.on_screen) == (StepKind.PAUSED, (RESUME.id, EXTEND_PAUSE.id))
    confirm = walk(DEFINITION, PAUSED, (*START, CancelRequested(at=NOW)))[-1].state
    assert (confirm.step, confirm.on_screen) == (StepKind.CONFIRM, ())
    usual = walk(DEFINITION, PAUSED, (*START, Continued(at=NOW)))[-1].state  # click-to-cancel off: the usual way
    assert (usual.step, usual.on_screen) == (StepKind.LOSS_AVERSION, ())


def test_resuming_asks_billing_once_and_ends_kept() -> None:
    *_, pending, applied = walk(
        DEFINITION, PAUSED, (*START, RESUME_NOW, OfferApplied(at=NOW, offer_id=RESUME.id, summary="resumed"))
    )
    (effect,) = pending.effects
    assert isinstance(effect, ApplyOffer) and effect.offer is RESUME
    assert (applied.state.step, applied.state.outcome) == (StepKind.DONE, Outcome.KEPT)
    failed = walk(DEFINITION, PAUSED, (*START, RESUME_NOW, OfferFailed(at=NOW, offer_id=RESUME.id, definitive=False)))
    assert failed[-1].state.step is StepKind.PAUSED


def test_a_pause_already_over_or_a_cancelling_one_is_not_the_paused_step() -> None:
    over = make_context(snapshot=make_snapshot(paused_until=NOW - timedelta(days=1)))
    assert walk(DEFINITION, over, START)[-1].state.step is StepKind.LOSS_AVERSION
    both = make_context(snapshot=make_snapshot(paused_until=NOW + timedelta(days=5), cancel_at_period_end=True))
    assert walk(DEFINITION, both, START)[-1].state.step is StepKind.ENDING  # ending wins: keeping comes first


EXTEND = EXTEND_PAUSE.id
TWO, THREE = PauseLength(2, PauseUnit.MONTHS), PauseLength(3, PauseUnit.MONTHS)  # the shipped pause's lengths


def test_extending_the_pause_asks_billing_for_the_chosen_length_and_ends_saved() -> None:
    pick = OfferAccepted(at=NOW, offer_id=EXTEND, length=THREE.key)
    *_, pending, applied = walk(DEFINITION, PAUSED, (*START, pick, OfferApplied(at=NOW, offer_id=EXTEND)))
    (effect,) = pending.effects
    assert isinstance(effect, ApplyOffer) and isinstance(effect.offer, ExtendPauseOffer)
    assert (effect.offer.lengths, pending.state.chosen_length) == ((THREE,), THREE)
    assert effect.idempotency_key == f"sf:{pending.state.session_id}:offer:{EXTEND}:1"
    assert DEFINITION.accepted(applied.state) == effect.offer  # what the done screen and the metrics read
    assert (applied.state.step, applied.state.outcome) == (StepKind.DONE, Outcome.SAVED)  # billing changed
    first = walk(DEFINITION, PAUSED, (*START, OfferAccepted(at=NOW, offer_id=EXTEND)))[-1].state
    assert first.chosen_length == TWO  # nothing picked (no JS, one radio): the first length


def test_a_retry_after_an_unknown_outcome_sends_the_length_of_the_first_try_under_its_key() -> None:
    """Billing may have applied the first try: its key must never carry other parameters (Stripe refuses a
    reused key with different parameters, https://docs.stripe.com/api/idempotent_requests), so the retry
    sends the first length whatever is picked now."""
    first = OfferAccepted(at=NOW, offer_id=EXTEND, length=THREE.key)
    unknown = OfferFailed(at=NOW, offer_id=EXTEND, definitive=False, error="ProviderUnavailable")
    other = OfferAccepted(at=NOW, offer_id=EXTEND, length=TWO.key)
    *_, tried, failed, retried = walk(DEFINITION, PAUSED, (*START, first, unknown, other))
    (effect,), (again,) = tried.effects, retried.effects
    assert isinstance(again, ApplyOffer) and isinstance(effect, ApplyOffer)
    assert (again.idempotency_key, again.offer) == (effect.idempotency_key, effect.offer)
    assert failed.state.unsettled_offer == EXTEND and retried.state.chosen_length == THREE

    refused = OfferFailed(at=NOW, offer_id=EXTEND, definitive=True, error="ProviderRejected")
    assert walk(DEFINITION, PAUSED, (*START, first, refused))[-1].state.unsettled_offer is None


@pytest.mark.parametrize("length", ["1-weeks", "2-fortnights", "two-months", "7-months"])
def test_a_length_the_pause_offer_does_not_have_is_refused_in_place(length: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        walk(DEFINITION, PAUSED, (*START, OfferAccepted(at=NOW, offer_id=EXTEND, length=length)))
    assert refused.value.field == "length"


def test_an_extension_that_fails_leaves_the_customer_paused_with_resume_still_up() -> None:
    pick = OfferAccepted(at=NOW, offer_id=EXTEND, length=TWO.key)
    failed = walk(DEFINITION, PAUSED, (*START, pick, OfferFailed(at=NOW, offer_id=EXTEND, definitive=True)))[-1]
    assert (failed.state.step, failed.state.on_screen, failed.state.notice) == (
        StepKind.PAUSED,
        (RESUME.id,),
        Notice.OFFER_UNAVAILABLE,
    )


def test_no_extension_without_a_pause_offer_in_the_flow() -> None:
    no_pause = make_definition(offers=tuple(o for o in DEFINITION.offers if o.kind is not OfferKind.PAUSE))
    assert walk(no_pause, PAUSED, START)[-1].state.on_screen == (RESUME.id,)


@settings(max_examples=60, deadline=None)
@given(days=st.integers(1, 200), length=st.sampled_from((TWO, THREE)))
def test_an_extension_never_carries_the_pause_past_the_limit(days: int, length: PauseLength) -> None:
    """Offered and accepted exactly while the new end stays within MAX_PAUSE_MONTHS of today."""
    paused_until = NOW + timedelta(days=days)
    ctx = make_context(snapshot=make_snapshot(paused_until=paused_until))
    fits = add_length(paused_until, length) <= add_months(NOW, MAX_PAUSE_MONTHS)
    started = walk(DEFINITION, ctx, START)[-1].state
    assert (EXTEND in started.on_screen) == (add_length(paused_until, TWO) <= add_months(NOW, MAX_PAUSE_MONTHS))
    if EXTEND not in started.on_screen:
        return
    pick = OfferAccepted(at=NOW, offer_id=EXTEND, length=length.key)
    if not fits:
        with pytest.raises(InvalidInput):
            walk(DEFINITION, ctx, (*START, pick))
        return
    (effect,) = walk(DEFINITION, ctx, (*START, pick))[-1].effects
    assert isinstance(effect, ApplyOffer) and isinstance(effect.offer, ExtendPauseOffer)
    assert extended_until(effect.offer, ctx.snapshot, NOW) == add_length(paused_until, length)
