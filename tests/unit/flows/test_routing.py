"""Offer routing: a reason's ranked offers plus the final offer, filtered by eligibility, capped, none in holdout."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import CustomerContext, FlowDefinition, ReasonId, route_offers
from flows.defaults import CONTACT, DISCOUNT, DOWNGRADE, EXIT_INTERVIEW, FREE_PLAN, PAUSE, TRAINING, TRIAL
from flows.routing import TRIAL_ENDING_SOON, trial_ends_soon
from offers import OfferId, OfferKind, Redemption, SubscriptionStatus, ineligibility
from tests.factories import NOW, make_context, make_definition, make_snapshot, make_trialing_snapshot

CTX = make_context()


def route(definition: FlowDefinition, reason: str | None, ctx: CustomerContext = CTX) -> tuple[OfferId, ...]:
    return route_offers(definition, ReasonId(reason) if reason is not None else None, ctx, NOW)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("too_expensive", (PAUSE, DOWNGRADE)),
        ("not_using", (TRAINING, PAUSE, FREE_PLAN)),  # the trial extension needs a trialing subscription
        ("no_value", (TRAINING, PAUSE, DISCOUNT)),
        ("missing_features", (CONTACT,)),
        ("temporary", (PAUSE,)),
        ("competitor", (DISCOUNT, DOWNGRADE, EXIT_INTERVIEW)),
        ("technical", (CONTACT,)),
        ("other", ()),
    ],
)
def test_each_seed_reason_routes_to_its_offers_best_first(reason: str, expected: tuple[OfferId, ...]) -> None:
    assert route(make_definition(), reason) == expected


def test_the_final_offer_comes_last_and_only_once() -> None:
    definition = make_definition(final_offer_id=DISCOUNT, max_offers=3)
    assert route(definition, "too_expensive") == (PAUSE, DOWNGRADE, DISCOUNT)
    assert route(definition, "competitor") == (DISCOUNT, DOWNGRADE, EXIT_INTERVIEW)  # ranked first: not repeated
    assert route(definition, "other") == (DISCOUNT,)
    assert route(definition, None) == (DISCOUNT,)  # no survey: only the final offer
    assert route(definition, "no_such_reason") == (DISCOUNT,)
    assert route(make_definition(), None) == ()


@pytest.mark.parametrize(("max_offers", "expected"), [(0, ()), (1, (PAUSE,)), (2, (PAUSE, DOWNGRADE))])
def test_max_offers_caps_the_list(max_offers: int, expected: tuple[OfferId, ...]) -> None:
    definition = make_definition(final_offer_id=TRAINING, max_offers=max_offers)
    assert route(definition, "too_expensive") == expected
    assert len(route(replace(definition, max_offers=5), "too_expensive")) == 3


def test_an_ineligible_offer_does_not_use_up_a_slot() -> None:
    paused = make_context(snapshot=make_snapshot(paused_until=NOW + timedelta(days=30)))
    definition = make_definition(max_offers=1)
    assert route(definition, "too_expensive", paused) == (DOWNGRADE,)
    assert route(definition, "temporary", paused) == ()


def test_eligibility_filters_by_the_customers_subscription_and_history() -> None:
    trialing = make_context(snapshot=make_trialing_snapshot())
    assert route(make_definition(), "not_using", trialing) == (TRIAL, TRAINING, FREE_PLAN)  # no pause in a trial
    paused_before = (Redemption(PAUSE, OfferKind.PAUSE, NOW - timedelta(days=30)),)
    assert route(make_definition(), "temporary", make_context(history=paused_before)) == ()
    on_starter = make_context(snapshot=make_snapshot(price_id="price_starter_monthly", amount_cents=1900))
    assert route(make_definition(), "too_expensive", on_starter) == (PAUSE,)
    discounted = make_context(snapshot=make_snapshot(discount_coupon_ids=("welcome10",)))
    assert route(make_definition(), "competitor", discounted) == (DOWNGRADE, EXIT_INTERVIEW)


def test_an_ending_subscription_gets_no_offers() -> None:
    ending = make_context(snapshot=make_snapshot(cancel_at_period_end=True))
    assert route(make_definition(final_offer_id=DISCOUNT), "too_expensive", ending) == ()


def test_the_holdout_arm_gets_no_offers() -> None:
    holdout = make_context(holdout=True)
    assert route(make_definition(final_offer_id=DISCOUNT, max_offers=5), "too_expensive", holdout) == ()


def test_offer_ids_missing_from_the_definition_are_skipped() -> None:
    definition = make_definition()
    ghost = replace(definition.reasons[0], offer_ids=(OfferId("ghost"), DOWNGRADE))
    assert route(replace(definition, reasons=(ghost,)), "too_expensive") == (DOWNGRADE,)


def test_an_offer_listed_twice_is_shown_once() -> None:
    definition = make_definition()
    doubled = replace(definition.reasons[0], offer_ids=(PAUSE, PAUSE, DOWNGRADE))
    assert route(replace(definition, reasons=(doubled,)), "too_expensive") == (PAUSE, DOWNGRADE)


ALL_OFFERS = [o.id for o in make_definition().offers]


@settings(max_examples=200, deadline=None, database=None)
@given(
    offer_ids=st.lists(st.sampled_from(ALL_OFFERS), unique=True, max_size=6),
    final=st.sampled_from([None, *ALL_OFFERS]),
    max_offers=st.integers(0, 5),
    status=st.sampled_from([SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE]),
    paused=st.booleans(),
    discounted=st.booleans(),
    holdout=st.booleans(),
)
def test_routing_is_a_capped_ranked_subsequence_of_eligible_offers(
    offer_ids: list[OfferId],
    final: OfferId | None,
    max_offers: int,
    status: SubscriptionStatus,
    paused: bool,
    discounted: bool,
    holdout: bool,
) -> None:
    base = make_definition()
    reason = replace(base.reasons[0], offer_ids=tuple(offer_ids))
    definition = replace(base, reasons=(reason,), final_offer_id=final, max_offers=max_offers)
    snapshot = make_snapshot(
        status=status,
        paused_until=NOW + timedelta(days=10) if paused else None,
        discount_coupon_ids=("x",) if discounted else (),
    )
    ctx = make_context(snapshot=snapshot, holdout=holdout)
    routed = route(definition, reason.id, ctx)
    wanted = [*offer_ids, *([final] if final is not None and final not in offer_ids else [])]
    by_id = {o.id: o for o in definition.offers}
    eligible = [o for o in wanted if ineligibility(by_id[o], snapshot, (), NOW) is None]
    assert routed == (() if holdout else tuple(eligible[:max_offers]))


# ---------------------------------------------------------------------------- a trial that ends soon
def _trial(days_left: float) -> CustomerContext:
    ends = NOW + timedelta(days=days_left)
    return make_context(snapshot=make_trialing_snapshot(trial_end=ends, current_period_end=ends))


@pytest.mark.parametrize("reason", ["too_expensive", "competitor", "missing_features", "other"])
def test_a_trial_ending_within_a_week_leads_with_the_trial_extension_whatever_the_reason(reason: str) -> None:
    routed = route(make_definition(), reason, _trial(TRIAL_ENDING_SOON.days))  # exactly 7 days: soon
    assert routed[0] == TRIAL
    own = route(make_definition(), reason, _trial(30))
    assert routed[1:] == own[: make_definition().max_offers - 1]  # the reason's own offers follow, within the cap


def test_a_trial_ending_later_or_an_ineligible_extension_does_not_lead() -> None:
    later = route(make_definition(), "too_expensive", _trial(TRIAL_ENDING_SOON.days + 0.5))
    assert TRIAL not in later
    extended = (Redemption(TRIAL, OfferKind.TRIAL_EXTENSION, NOW - timedelta(days=20)),)  # once per customer
    soon_again = replace(_trial(2), history=extended)
    assert TRIAL not in route(make_definition(), "too_expensive", soon_again)
    active = make_context(snapshot=make_snapshot(trial_end=NOW + timedelta(days=2)))  # not trialing any more
    assert TRIAL not in route(make_definition(), "too_expensive", active)
    assert not trial_ends_soon(make_trialing_snapshot(trial_end=NOW - timedelta(hours=1)), NOW)  # already over


def test_the_leading_extension_still_counts_against_max_offers() -> None:
    assert route(make_definition(max_offers=1), "too_expensive", _trial(3)) == (TRIAL,)
