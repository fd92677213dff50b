"""Pure billing checks: is an effect's change already in a subscription, and does a session await it.

Rules: standard library, `flows` and `offers` (model, ports types, the pure date helpers of apply) only.
The shell uses these after a provider's server error (re-read, then settle or retry under a fresh
key) and before the sweep re-sends work whose session may have moved on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.effects import CANCEL_ACTION, ApplyOffer, Effect, offer_action
from flows.model import FlowState, StepKind
from offers.apply import extended_until, pause_resumes_at, trial_end_after_extension
from offers.model import (
    DiscountOffer,
    DowngradeOffer,
    ExitInterviewOffer,
    ExtendPauseOffer,
    Offer,
    PauseOffer,
    ReactivateOffer,
    ResumeOffer,
    TrainingOffer,
    TrialExtensionOffer,
    UndoDowngradeOffer,
)
from offers.ports import SubscriptionStatus

if TYPE_CHECKING:
    from datetime import datetime

    from offers.ports import SubscriptionSnapshot


def _same_second(a: datetime | None, b: datetime) -> bool:
    """Billing systems keep whole seconds (Stripe's unix timestamps); compare at that precision."""
    return a is not None and int(a.timestamp()) == int(b.timestamp())


def offer_is_in_effect(
    offer: Offer, *, before: SubscriptionSnapshot, after: SubscriptionSnapshot, started_at: datetime
) -> bool:
    """Whether `after` (a fresh read) already carries the change `offer` makes to `before`.

    `before` is the session's frozen snapshot and `started_at` its start: the values `apply_offer`
    computed the request from, so the check looks for exactly what was asked.
    """
    if isinstance(offer, PauseOffer):
        return _same_second(after.paused_until, pause_resumes_at(offer, before, started_at))
    if isinstance(offer, ExtendPauseOffer):  # only offered while paused (offers.pause_choices)
        paused = before.paused_until is not None and before.paused_until > started_at
        return paused and _same_second(after.paused_until, extended_until(offer, before, started_at))
    if isinstance(offer, DowngradeOffer):
        if offer.at_period_end:
            return offer.price_id in (after.scheduled_price_id, after.price_id)
        return after.price_id == offer.price_id
    if isinstance(offer, TrialExtensionOffer):
        return _same_second(after.trial_end, trial_end_after_extension(offer, before, started_at))
    if isinstance(offer, DiscountOffer):
        return after.discount_coupon_ids.count(offer.coupon_id) > before.discount_coupon_ids.count(offer.coupon_id)
    if isinstance(offer, TrainingOffer | ExitInterviewOffer):
        return True  # no billing change to look for
    if isinstance(offer, UndoDowngradeOffer):
        return after.scheduled_price_id is None
    if isinstance(offer, ReactivateOffer):
        return not after.cancel_at_period_end
    if isinstance(offer, ResumeOffer):
        return after.paused_until is None
    raise TypeError(f"unknown offer type {type(offer).__name__}")  # pragma: no cover - exhaustive union


def cancel_is_in_effect(*, at_period_end: bool, after: SubscriptionSnapshot) -> bool:
    """Whether `after` is cancelled as asked (at period end, or already ended)."""
    if after.status is SubscriptionStatus.CANCELED:
        return True
    return at_period_end and after.cancel_at_period_end


def change_is_in_effect(
    effect: Effect, *, before: SubscriptionSnapshot, after: SubscriptionSnapshot, started_at: datetime
) -> bool:
    """`offer_is_in_effect` or `cancel_is_in_effect`, whichever the effect is."""
    if isinstance(effect, ApplyOffer):
        return offer_is_in_effect(effect.offer, before=before, after=after, started_at=started_at)
    return cancel_is_in_effect(at_period_end=effect.at_period_end, after=after)


def session_awaits(state: FlowState, effect: Effect) -> bool:
    """Whether the session is still in the pending step waiting for this effect's result.

    False once the user was sent back (a transient failure), moved on, or finished: a sweep must
    then not send the change again, only find out whether it already happened.
    """
    if isinstance(effect, ApplyOffer):
        action = offer_action(effect.offer.id)
        waiting = state.step is StepKind.OFFER_PENDING and state.accepted_offer == effect.offer.id
    else:
        action = CANCEL_ACTION
        waiting = state.step is StepKind.CANCEL_PENDING
    # A server-error retry runs under the next attempt than the state's (the state counts definitive failures).
    return waiting and effect.attempt >= state.attempt(action)
