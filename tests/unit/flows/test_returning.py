"""A returning customer whose subscription is already set to end: keep it (billing undoes the cancellation) or not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows import (
    ApplyOffer,
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
    Started,
    StepKind,
)
from flows.notifications import notifications
from offers import SubscriptionStatus
from offers.model import REACTIVATE, RESUME
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
    assert (started.state.step, started.state.on_screen) == (StepKind.PAUSED, (RESUME.id,))
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
