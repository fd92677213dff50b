"""Effects' keys per attempt, and the pure billing checks: is a change in effect, does a session await it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from flows import ApplyOffer, CancelSubscription, StepKind, initial_state
from flows.billing_checks import cancel_is_in_effect, change_is_in_effect, offer_is_in_effect, session_awaits
from flows.effects import CANCEL_ACTION, idempotency_key, next_attempt, offer_action
from offers import (
    DiscountOffer,
    DowngradeOffer,
    OfferCopy,
    OfferId,
    PauseOffer,
    SubscriptionStatus,
    TrainingOffer,
    TrialExtensionOffer,
)
from offers.apply import add_months
from offers.model import months
from tests.factories import COUPON, NOW, SID, make_snapshot, make_trialing_snapshot

COPY = OfferCopy(title="t", body="b", accept_label="a")
PAUSE = PauseOffer(id=OfferId("pause"), copy=COPY, lengths=months(2))
STARTED = NOW - timedelta(minutes=3)


def _offer_effect(attempt: int = 1) -> ApplyOffer:
    return ApplyOffer(PAUSE, idempotency_key(SID, offer_action(PAUSE.id), attempt), attempt)


def _cancel_effect(attempt: int = 1) -> CancelSubscription:
    return CancelSubscription(True, "too_expensive", None, idempotency_key(SID, CANCEL_ACTION, attempt), attempt)


def test_the_next_attempt_is_the_same_work_under_the_next_deterministic_key() -> None:
    retry = next_attempt(_offer_effect(), SID)
    assert retry == _offer_effect(2)
    assert retry.idempotency_key == "sf:ses_test:offer:pause:2"
    assert next_attempt(retry, SID) == next_attempt(_offer_effect(2), SID)  # same inputs, same key
    cancel_retry = next_attempt(_cancel_effect(), SID)
    assert cancel_retry == _cancel_effect(2)
    assert cancel_retry.idempotency_key == "sf:ses_test:cancel:2"


def test_a_pause_is_in_effect_only_with_the_resume_date_that_was_asked() -> None:
    before = make_snapshot()
    asked = add_months(STARTED, 2)
    assert offer_is_in_effect(PAUSE, before=before, after=make_snapshot(paused_until=asked), started_at=STARTED)
    # Billing systems keep whole seconds.
    within = asked.replace(microsecond=0)
    assert offer_is_in_effect(PAUSE, before=before, after=make_snapshot(paused_until=within), started_at=STARTED)
    other = asked + timedelta(days=1)
    assert not offer_is_in_effect(PAUSE, before=before, after=make_snapshot(paused_until=other), started_at=STARTED)
    assert not offer_is_in_effect(PAUSE, before=before, after=before, started_at=STARTED)


@pytest.mark.parametrize(
    ("at_period_end", "after", "expected"),
    [
        (False, {"price_id": "price_starter_monthly"}, True),
        (False, {"scheduled_price_id": "price_starter_monthly"}, False),
        (True, {"scheduled_price_id": "price_starter_monthly"}, True),
        (True, {"price_id": "price_starter_monthly"}, True),  # the period already rolled over
        (True, {}, False),
    ],
)
def test_a_downgrade_is_in_effect_when_the_price_is_set_or_scheduled_as_asked(
    at_period_end: bool, after: dict[str, str], expected: bool
) -> None:
    offer = DowngradeOffer(
        id=OfferId("down"),
        copy=COPY,
        price_id="price_starter_monthly",
        plan_name="Starter",
        amount_cents=1900,
        at_period_end=at_period_end,
    )
    found = offer_is_in_effect(offer, before=make_snapshot(), after=make_snapshot(**after), started_at=STARTED)
    assert found is expected


def test_a_trial_extension_is_in_effect_with_the_trial_end_computed_from_the_frozen_snapshot() -> None:
    offer = TrialExtensionOffer(id=OfferId("trial"), copy=COPY, days=14)
    before = make_trialing_snapshot()
    assert before.trial_end is not None
    extended = make_trialing_snapshot(trial_end=before.trial_end + timedelta(days=14))
    assert offer_is_in_effect(offer, before=before, after=extended, started_at=STARTED)
    assert not offer_is_in_effect(offer, before=before, after=before, started_at=STARTED)


def test_a_discount_is_in_effect_when_the_coupon_was_added() -> None:
    offer = DiscountOffer(id=OfferId("disc"), copy=COPY, coupon_id=COUPON, percent_off=30, duration_months=3)
    before = make_snapshot(discount_coupon_ids=("loyal10",))
    added = make_snapshot(discount_coupon_ids=("loyal10", COUPON))
    assert offer_is_in_effect(offer, before=before, after=added, started_at=STARTED)
    assert not offer_is_in_effect(offer, before=before, after=before, started_at=STARTED)
    # Already there before the session: a second one would be the change; one is not.
    had = make_snapshot(discount_coupon_ids=(COUPON,))
    assert not offer_is_in_effect(offer, before=had, after=had, started_at=STARTED)


def test_a_training_offer_changes_no_billing_so_it_is_always_in_effect() -> None:
    offer = TrainingOffer(id=OfferId("call"), copy=COPY, booking_url="https://example.com/book")
    assert offer_is_in_effect(offer, before=make_snapshot(), after=make_snapshot(), started_at=STARTED)


def test_a_cancellation_is_in_effect_when_the_subscription_ends_as_asked() -> None:
    ending = make_snapshot(cancel_at_period_end=True)
    ended = make_snapshot(status=SubscriptionStatus.CANCELED, canceled_at=NOW)
    assert cancel_is_in_effect(at_period_end=True, after=ending)
    assert cancel_is_in_effect(at_period_end=True, after=ended)
    assert cancel_is_in_effect(at_period_end=False, after=ended)
    assert not cancel_is_in_effect(at_period_end=False, after=ending)
    assert not cancel_is_in_effect(at_period_end=True, after=make_snapshot())
    assert change_is_in_effect(_cancel_effect(), before=make_snapshot(), after=ending, started_at=STARTED)
    paused = make_snapshot(paused_until=add_months(STARTED, 2))
    assert change_is_in_effect(_offer_effect(), before=make_snapshot(), after=paused, started_at=STARTED)


def test_a_session_awaits_an_effect_only_in_its_pending_step() -> None:
    pending = dataclasses.replace(initial_state(SID), step=StepKind.OFFER_PENDING, accepted_offer=PAUSE.id)
    assert session_awaits(pending, _offer_effect())
    assert session_awaits(pending, _offer_effect(2))  # the retry under the next key after a 5xx
    sent_back = dataclasses.replace(pending, step=StepKind.OFFER, accepted_offer=None, current_offer=PAUSE.id)
    assert not session_awaits(sent_back, _offer_effect())
    other = dataclasses.replace(pending, accepted_offer=OfferId("another"))
    assert not session_awaits(other, _offer_effect())
    bumped = dataclasses.replace(pending, attempts=((offer_action(PAUSE.id), 2),))
    assert not session_awaits(bumped, _offer_effect(1))  # a stale attempt
    cancelling = dataclasses.replace(initial_state(SID), step=StepKind.CANCEL_PENDING)
    assert session_awaits(cancelling, _cancel_effect())
    assert not session_awaits(cancelling, _offer_effect())
    assert not session_awaits(dataclasses.replace(cancelling, step=StepKind.CONFIRM), _cancel_effect())
