"""Eligibility rules at their boundaries, plus properties of `eligible_offers` (order kept, exactly the eligible)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import CustomerContext, default_definition
from flows.defaults import (
    CONTACT,
    DEFAULT_OFFERS,
    DISCOUNT,
    DOWNGRADE,
    EXIT_INTERVIEW,
    FREE_PLAN,
    PAUSE,
    TRAINING,
    TRIAL,
)
from flows.routing import route_offers
from offers import (
    DowngradeOffer,
    EligibilityPolicy,
    Ineligibility,
    Offer,
    OfferId,
    OfferKind,
    Redemption,
    SubscriptionSnapshot,
    SubscriptionStatus,
    eligible_offers,
    ineligibility,
)
from offers.eligibility import cooldown_days, default_cooldown_days, has_ended, redemption_cap
from offers.model import OFFER_TYPES
from tests.factories import NOW, make_snapshot, make_trialing_snapshot

OFFERS = {o.id: o for o in DEFAULT_OFFERS}
ACTIVE = make_snapshot()
DAY, SECOND = timedelta(days=1), timedelta(seconds=1)


def check(offer_id: OfferId, snapshot: SubscriptionSnapshot = ACTIVE, *history: Redemption) -> Ineligibility | None:
    return ineligibility(OFFERS[offer_id], snapshot, history, NOW)


def redeemed(offer_id: str, kind: OfferKind, ago: timedelta) -> Redemption:
    return Redemption(OfferId(offer_id), kind, NOW - ago)


def test_an_active_customer_without_history_may_see_every_offer_but_the_trial_extension() -> None:
    assert {o.id: check(o.id) for o in DEFAULT_OFFERS} == {
        PAUSE: None,
        DOWNGRADE: None,
        TRAINING: None,
        CONTACT: None,
        DISCOUNT: None,
        TRIAL: Ineligibility.NOT_TRIALING,
        FREE_PLAN: None,  # $0 is cheaper than any paid plan
        EXIT_INTERVIEW: None,
    }


@pytest.mark.parametrize(
    ("changes", "ended"),
    [
        ({"status": SubscriptionStatus.CANCELED}, True),
        ({"status": SubscriptionStatus.INCOMPLETE}, True),
        ({"cancel_at_period_end": True}, True),
        ({"status": SubscriptionStatus.PAST_DUE}, False),
        ({"status": SubscriptionStatus.UNPAID}, False),
        ({"status": SubscriptionStatus.TRIALING}, False),
    ],
    ids=str,
)
@pytest.mark.parametrize("offer_id", list(OFFERS))
def test_an_ended_or_ending_subscription_gets_no_offer(offer_id: OfferId, changes: dict[str, Any], ended: bool) -> None:
    result = check(offer_id, replace(ACTIVE, **changes))
    assert (result is Ineligibility.SUBSCRIPTION_ENDED) == ended


@pytest.mark.parametrize(
    ("status", "live"),
    [
        (SubscriptionStatus.ACTIVE, True),
        (SubscriptionStatus.TRIALING, True),
        (SubscriptionStatus.PAST_DUE, False),
        (SubscriptionStatus.UNPAID, False),
        (SubscriptionStatus.CANCELED, False),
        (SubscriptionStatus.INCOMPLETE, False),
    ],
    ids=str,
)
def test_only_a_paying_subscription_is_live(status: SubscriptionStatus, live: bool) -> None:
    """Item 7: a save is verified only while the subscription pays; past_due and unpaid do not (yet) pay."""
    snapshot = replace(ACTIVE, status=status)
    assert snapshot.is_live is live
    assert has_ended(snapshot) is (status in (SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE))


@pytest.mark.parametrize(
    ("offer_id", "kind", "days"),
    [(PAUSE, OfferKind.PAUSE, 180), (DISCOUNT, OfferKind.DISCOUNT, 365)],
)
def test_cooldown_ends_exactly_on_the_boundary(offer_id: OfferId, kind: OfferKind, days: int) -> None:
    # Another offer of the same kind (so the per-offer redemption cap does not apply).
    assert check(offer_id, ACTIVE, redeemed("older-same-kind", kind, timedelta(days=days))) is None
    just_inside = redeemed("older-same-kind", kind, timedelta(days=days) - SECOND)
    assert check(offer_id, ACTIVE, just_inside) is Ineligibility.COOLDOWN


def test_trial_extension_cooldown_is_a_year() -> None:
    trialing = make_trialing_snapshot()
    assert check(TRIAL, trialing, redeemed("old-trial", OfferKind.TRIAL_EXTENSION, 364 * DAY)) is Ineligibility.COOLDOWN
    assert check(TRIAL, trialing, redeemed("old-trial", OfferKind.TRIAL_EXTENSION, 365 * DAY)) is None


def test_cooldown_is_per_kind_and_zero_days_means_none() -> None:
    assert check(PAUSE, ACTIVE, redeemed("some-discount", OfferKind.DISCOUNT, DAY)) is None
    assert check(DOWNGRADE, ACTIVE, redeemed("other-downgrade", OfferKind.DOWNGRADE, SECOND)) is None
    assert check(TRAINING, ACTIVE, redeemed("other-call", OfferKind.TRAINING, SECOND)) is None


def test_a_custom_policy_sets_the_cooldown() -> None:
    policy = EligibilityPolicy(cooldown_days={OfferKind.DOWNGRADE: 30})
    recent = (redeemed("other-downgrade", OfferKind.DOWNGRADE, 29 * DAY),)
    assert ineligibility(OFFERS[DOWNGRADE], ACTIVE, recent, NOW, policy) is Ineligibility.COOLDOWN
    assert ineligibility(OFFERS[PAUSE], ACTIVE, (redeemed("p", OfferKind.PAUSE, DAY),), NOW, policy) is None


def test_the_same_offer_is_redeemed_at_most_max_redemptions_times() -> None:
    long_ago = redeemed(DOWNGRADE, OfferKind.DOWNGRADE, 3 * 365 * DAY)
    assert check(DOWNGRADE, ACTIVE, long_ago) is Ineligibility.MAX_REDEMPTIONS
    twice = EligibilityPolicy(max_redemptions_per_offer=2)
    assert ineligibility(OFFERS[DOWNGRADE], ACTIVE, (long_ago,), NOW, twice) is None
    assert ineligibility(OFFERS[DOWNGRADE], ACTIVE, (long_ago, long_ago), NOW, twice) is Ineligibility.MAX_REDEMPTIONS
    never = EligibilityPolicy(max_redemptions_per_offer=0)
    assert ineligibility(OFFERS[TRAINING], ACTIVE, (), NOW, never) is Ineligibility.MAX_REDEMPTIONS


def test_the_redemption_cap_is_reported_before_the_cooldown() -> None:
    assert check(PAUSE, ACTIVE, redeemed(PAUSE, OfferKind.PAUSE, DAY)) is Ineligibility.MAX_REDEMPTIONS


@pytest.mark.parametrize(
    ("status", "expected"),
    [(SubscriptionStatus.TRIALING, None), (SubscriptionStatus.ACTIVE, Ineligibility.NOT_TRIALING)],
)
def test_only_a_trialing_subscription_can_extend_its_trial(
    status: SubscriptionStatus, expected: Ineligibility | None
) -> None:
    assert check(TRIAL, replace(ACTIVE, status=status)) is expected


@pytest.mark.parametrize(
    ("price_id", "amount_cents", "expected"),
    [
        ("price_starter_monthly", 1900, None),
        ("price_starter_monthly", 4899, None),
        ("price_starter_monthly", 4900, Ineligibility.NOT_CHEAPER),  # equal price is not a downgrade
        ("price_team_monthly", 9900, Ineligibility.NOT_CHEAPER),
        ("price_pro_monthly", 100, Ineligibility.NOT_CHEAPER),  # the customer's own plan
    ],
)
def test_a_downgrade_must_be_strictly_cheaper(price_id: str, amount_cents: int, expected: Ineligibility | None) -> None:
    downgrade = OFFERS[DOWNGRADE]
    assert isinstance(downgrade, DowngradeOffer)
    offer = replace(downgrade, price_id=price_id, amount_cents=amount_cents)
    assert ineligibility(offer, ACTIVE, (), NOW) is expected


@pytest.mark.parametrize(
    ("paused_until", "expected"),
    [
        (None, None),
        (NOW - SECOND, None),  # the pause is over
        (NOW, None),
        (NOW + SECOND, Ineligibility.ALREADY_PAUSED),
        (NOW + 60 * DAY, Ineligibility.ALREADY_PAUSED),
    ],
)
def test_an_already_paused_subscription_cannot_be_paused_again(
    paused_until: datetime | None, expected: Ineligibility | None
) -> None:
    assert check(PAUSE, replace(ACTIVE, paused_until=paused_until)) is expected


def test_discounts_never_stack() -> None:
    discounted = replace(ACTIVE, discount_coupon_ids=("welcome10",))
    assert check(DISCOUNT, discounted) is Ineligibility.DISCOUNT_STACKING
    assert check(DISCOUNT) is None
    assert [check(o, discounted) for o in (PAUSE, DOWNGRADE, TRAINING)] == [None, None, None]


def test_history_may_be_a_one_shot_iterator() -> None:
    history = iter([redeemed(PAUSE, OfferKind.PAUSE, DAY), redeemed(DISCOUNT, OfferKind.DISCOUNT, DAY)])
    offers = [OFFERS[PAUSE], OFFERS[DOWNGRADE], OFFERS[DISCOUNT]]
    assert [o.id for o in eligible_offers(offers, ACTIVE, history, NOW)] == [DOWNGRADE]


# ---------------------------------------------------------------------------- properties
snapshots = st.builds(
    make_snapshot,
    status=st.sampled_from(SubscriptionStatus),
    paused_until=st.none() | st.sampled_from([NOW - DAY, NOW, NOW + DAY]),
    discount_coupon_ids=st.sampled_from([(), ("welcome10",)]),
    cancel_at_period_end=st.booleans(),
    amount_cents=st.sampled_from([1900, 4900]),
)
histories = st.lists(
    st.builds(
        Redemption,
        offer_id=st.sampled_from([*OFFERS, OfferId("retired-offer")]),
        kind=st.sampled_from(OfferKind),
        at=st.integers(0, 400).map(lambda days: NOW - timedelta(days=days)),
    ),
    max_size=4,
)
offer_lists = st.lists(st.sampled_from(DEFAULT_OFFERS), max_size=8)


@settings(max_examples=200, deadline=None, database=None)
@given(offers=offer_lists, snapshot=snapshots, history=histories)
def test_eligible_offers_keeps_order_and_exactly_the_eligible_ones(
    offers: list[Offer], snapshot: SubscriptionSnapshot, history: list[Redemption]
) -> None:
    result = eligible_offers(offers, snapshot, history, NOW)
    assert list(result) == [o for o in offers if ineligibility(o, snapshot, history, NOW) is None]
    remaining = iter(offers)
    assert all(any(o is candidate for candidate in remaining) for o in result)  # an in-order subsequence


@settings(max_examples=100, deadline=None, database=None)
@given(snapshot=snapshots, history=histories)
def test_a_reason_is_given_exactly_when_an_offer_is_left_out(
    snapshot: SubscriptionSnapshot, history: list[Redemption]
) -> None:
    for offer in DEFAULT_OFFERS:
        reason = ineligibility(offer, snapshot, history, NOW)
        assert reason is None or isinstance(reason, Ineligibility)
        assert (offer in eligible_offers([offer], snapshot, history, NOW)) == (reason is None)
        if has_ended(snapshot):
            assert reason is Ineligibility.SUBSCRIPTION_ENDED


def test_a_free_trial_is_extended_not_paused() -> None:
    trialing = make_trialing_snapshot()
    assert ineligibility(OFFERS[PAUSE], trialing, (), NOW) is Ineligibility.TRIALING
    assert ineligibility(OFFERS[TRIAL], trialing, (), NOW) is None


# ------------------------------------------------------------------------------------ limits set on the offer
def test_an_offers_own_cooldown_replaces_its_kinds_default() -> None:
    other_pause = redeemed("older-pause", OfferKind.PAUSE, 30 * DAY)
    assert check(PAUSE, ACTIVE, other_pause) is Ineligibility.COOLDOWN  # the default: 180 days for a pause
    shorter = replace(OFFERS[PAUSE], cooldown_days=30)
    assert ineligibility(shorter, ACTIVE, (other_pause,), NOW) is None  # exactly 30 days ago: over
    assert ineligibility(replace(shorter, cooldown_days=31), ACTIVE, (other_pause,), NOW) is Ineligibility.COOLDOWN
    assert ineligibility(replace(shorter, cooldown_days=0), ACTIVE, (other_pause,), NOW) is None  # 0: no cooldown
    longer = replace(OFFERS[DOWNGRADE], cooldown_days=90)  # a kind without a default cooldown gets one
    assert ineligibility(longer, ACTIVE, (redeemed("other-downgrade", OfferKind.DOWNGRADE, 89 * DAY),), NOW) is (
        Ineligibility.COOLDOWN
    )


def test_an_offers_own_redemption_cap_replaces_the_policys() -> None:
    once = redeemed(TRAINING, OfferKind.TRAINING, 3 * 365 * DAY)
    assert check(TRAINING, ACTIVE, once) is Ineligibility.MAX_REDEMPTIONS  # the default: once per offer
    twice = replace(OFFERS[TRAINING], max_redemptions=2)
    assert ineligibility(twice, ACTIVE, (once,), NOW) is None
    assert ineligibility(twice, ACTIVE, (once, once), NOW) is Ineligibility.MAX_REDEMPTIONS
    unlimited = replace(OFFERS[TRAINING], max_redemptions=0)  # 0 on an offer: no cap at all
    assert ineligibility(unlimited, ACTIVE, (once,) * 50, NOW) is None
    never = EligibilityPolicy(max_redemptions_per_offer=0)  # the policy's own 0 still means never
    assert ineligibility(unlimited, ACTIVE, (), NOW, never) is None
    assert ineligibility(OFFERS[TRAINING], ACTIVE, (), NOW, never) is Ineligibility.MAX_REDEMPTIONS


def test_a_negative_limit_on_an_offer_falls_back_to_the_default() -> None:
    """A hand-edited JSON definition could hold one; it must not block (or unblock) an offer."""
    broken = replace(OFFERS[PAUSE], cooldown_days=-5, max_redemptions=-1)
    assert (
        ineligibility(broken, ACTIVE, (redeemed("older-pause", OfferKind.PAUSE, DAY),), NOW) is Ineligibility.COOLDOWN
    )
    assert ineligibility(broken, ACTIVE, (redeemed(PAUSE, OfferKind.PAUSE, 999 * DAY),), NOW) is (
        Ineligibility.MAX_REDEMPTIONS
    )


def test_limits_default_to_todays_behaviour() -> None:
    assert all(o.cooldown_days is None and o.max_redemptions is None for o in DEFAULT_OFFERS)
    assert {k: default_cooldown_days(k) for k in OFFER_TYPES} == dict(EligibilityPolicy().cooldown_days)
    assert all(redemption_cap(o, EligibilityPolicy()) == 1 for o in DEFAULT_OFFERS)
    assert cooldown_days(OFFERS[PAUSE], EligibilityPolicy()) == 180


def test_routing_uses_each_offers_own_limits() -> None:
    definition = replace(
        default_definition(),
        offers=tuple(replace(o, max_redemptions=0) if o.id == DISCOUNT else o for o in default_definition().offers),
    )
    reason = next(r for r in definition.reasons if DISCOUNT in r.offer_ids)
    history = (redeemed(DISCOUNT, OfferKind.DISCOUNT, 2 * 365 * DAY),)
    before = route_offers(default_definition(), reason.id, CustomerContext(ACTIVE, history), NOW)
    after = route_offers(definition, reason.id, CustomerContext(ACTIVE, history), NOW)
    assert DISCOUNT not in before
    assert DISCOUNT in after
