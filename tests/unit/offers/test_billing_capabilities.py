"""Offers billing cannot make are never shown: eligibility, routing and returning steps ask its capabilities."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows import Continued, ReasonChosen, ReasonId, Started, StepKind
from flows.defaults import DEFAULT_OFFERS, DISCOUNT, DOWNGRADE, PAUSE
from flows.returning import returning_step
from flows.validation import catalogue_problems
from offers import (
    ALL_CAPABILITIES,
    Capability,
    Catalogue,
    DiscountOffer,
    EligibilityPolicy,
    Ineligibility,
    Offer,
    ineligibility,
)
from offers.eligibility import required_capability
from offers.model import EXTEND_PAUSE, REACTIVATE, RESUME, UNDO_DOWNGRADE, DowngradeOffer, OfferKind
from offers.winback import WinbackKind, WinbackOffer
from tests.factories import NOW, make_context, make_definition, make_snapshot, walk

OFFERS: dict[str, Offer] = {o.id: o for o in DEFAULT_OFFERS}


def without(*missing: Capability) -> EligibilityPolicy:
    return EligibilityPolicy(capabilities=ALL_CAPABILITIES - set(missing))


@pytest.mark.parametrize(
    ("offer_id", "needs"),
    [(PAUSE, Capability.PAUSE), (DISCOUNT, Capability.DISCOUNT), (DOWNGRADE, Capability.CHANGE_PRICE_NOW)],
)
def test_an_offer_needing_a_missing_capability_is_not_eligible(offer_id: str, needs: Capability) -> None:
    offer = OFFERS[offer_id]
    assert required_capability(offer) is needs
    assert ineligibility(offer, make_snapshot(), (), NOW, without(needs)) is Ineligibility.BILLING_CANNOT
    assert ineligibility(offer, make_snapshot(), (), NOW, without()) is None


def test_a_downgrade_at_the_period_end_needs_a_scheduled_change() -> None:
    now = OFFERS[DOWNGRADE]
    assert isinstance(now, DowngradeOffer)
    later = replace(now, at_period_end=True)
    assert required_capability(later) is Capability.CHANGE_PRICE_AT_PERIOD_END
    missing = without(Capability.CHANGE_PRICE_AT_PERIOD_END)
    assert ineligibility(later, make_snapshot(), (), NOW, missing) is Ineligibility.BILLING_CANNOT
    assert ineligibility(OFFERS[DOWNGRADE], make_snapshot(), (), NOW, missing) is None


def test_the_returning_offers_need_their_undo() -> None:
    assert [required_capability(o) for o in (REACTIVATE, RESUME, EXTEND_PAUSE, UNDO_DOWNGRADE)] == [
        Capability.REACTIVATE,
        Capability.RESUME,
        Capability.PAUSE,
        Capability.CANCEL_SCHEDULED_CHANGE,
    ]


def _offered(policy: EligibilityPolicy, reason: str) -> set[OfferKind]:
    events = (Started(at=NOW), Continued(at=NOW), ReasonChosen(at=NOW, reason=ReasonId(reason), comment="because"))
    state = walk(make_definition(), make_context(policy=policy), events)[-1].state
    definition = make_definition()
    return {o.kind for i in (*state.on_screen, *state.offer_queue) if (o := definition.offer(i)) is not None}


def test_the_flow_routes_only_offers_billing_can_make() -> None:
    reasons = [r.id for r in make_definition().reasons]
    assert any(OfferKind.PAUSE in _offered(without(), r) for r in reasons)  # pause is routed somewhere
    for reason in reasons:
        assert OfferKind.PAUSE not in _offered(without(Capability.PAUSE), reason)


def test_a_returning_step_whose_undo_billing_cannot_make_is_skipped() -> None:
    ending = make_snapshot(cancel_at_period_end=True)
    assert returning_step(ending, NOW) == (StepKind.ENDING, REACTIVATE.id)
    assert returning_step(ending, NOW, ALL_CAPABILITIES - {Capability.REACTIVATE}) is None
    scheduled = make_snapshot(scheduled_price_id="price_starter_monthly")
    assert returning_step(scheduled, NOW) == (StepKind.DOWNGRADE_SCHEDULED, UNDO_DOWNGRADE.id)
    assert returning_step(scheduled, NOW, ALL_CAPABILITIES - {Capability.CANCEL_SCHEDULED_CHANGE}) is None


def test_offers_are_checked_against_the_billing_catalogue() -> None:
    definition = make_definition()
    prices = {o.price_id for o in definition.offers if isinstance(o, DowngradeOffer)}
    coupons = {o.coupon_id for o in definition.offers if isinstance(o, DiscountOffer)}
    assert prices and coupons
    assert catalogue_problems(definition, Catalogue(frozenset(prices), frozenset(coupons))) == []
    missing = catalogue_problems(definition, Catalogue(frozenset(), frozenset()))
    assert len(missing) == len(prices) + len(coupons) + 1  # the default win-back names a coupon too
    assert all("billing has no" in p for p in missing)
    winback = WinbackOffer(WinbackKind.DISCOUNT, coupon_id="back20", percent_off=20, duration_months=2)
    with_winback = replace(definition, winback=winback)
    known = Catalogue(frozenset(prices), frozenset(coupons))
    assert catalogue_problems(with_winback, known) == ["The win-back offer: billing has no coupon 'back20'."]
    free = replace(definition, winback=WinbackOffer(WinbackKind.FREE_DAYS, free_days=30))
    assert catalogue_problems(free, known) == []
