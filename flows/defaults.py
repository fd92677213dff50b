"""The flow definition that ships with the product (data only), covering the seed reasons.

Rules: standard library, `flows.model` and `offers.model` only. Prices and coupons named here are
the demo billing catalogue's; a real deployment edits them in the admin flow editor.
"""

from __future__ import annotations

from flows.model import FlowDefinition, FollowUp, ReasonDef, ReasonId
from offers.model import (
    DiscountOffer,
    DowngradeOffer,
    OfferCopy,
    OfferId,
    PauseOffer,
    TrainingOffer,
    TrialExtensionOffer,
)

PAUSE = OfferId("pause-2-months")
DOWNGRADE = OfferId("downgrade-starter")
TRAINING = OfferId("training-call")
CONTACT = OfferId("contact-support")
DISCOUNT = OfferId("discount-30-3-months")
TRIAL = OfferId("extend-trial-14-days")

DEFAULT_OFFERS = (
    PauseOffer(
        id=PAUSE,
        months=2,
        copy=OfferCopy(
            title="Pause instead of cancelling",
            body="Take two months off. You won't be charged, and everything stays exactly where you left it.",
            accept_label="Pause my subscription",
        ),
    ),
    DowngradeOffer(
        id=DOWNGRADE,
        price_id="price_starter_monthly",
        plan_name="Starter",
        amount_cents=1900,
        copy=OfferCopy(
            title="Switch to Starter",
            body="Keep your account and your data on our smaller plan, for less each month.",
            accept_label="Switch to Starter",
        ),
    ),
    TrainingOffer(
        id=TRAINING,
        booking_url="https://example.com/book-a-session",
        copy=OfferCopy(
            title="Let us help you get more out of it",
            body="Book a free 30-minute session with our team and we'll set things up with you.",
            accept_label="Book a free session",
        ),
    ),
    TrainingOffer(
        id=CONTACT,
        booking_url="https://example.com/support",
        copy=OfferCopy(
            title="Let our team fix this for you",
            body="Tell us what isn't working. A support engineer will get back to you within one working day.",
            accept_label="Contact support",
        ),
    ),
    DiscountOffer(
        id=DISCOUNT,
        coupon_id="save30_3m",
        percent_off=30,
        duration_months=3,
        copy=OfferCopy(
            title="30% off for the next 3 months",
            body="Stay with us and pay 30% less for your next three invoices.",
            accept_label="Claim 30% off",
        ),
    ),
    TrialExtensionOffer(
        id=TRIAL,
        days=14,
        copy=OfferCopy(
            title="Two more weeks to try it",
            body="We'll extend your trial by 14 days, free.",
            accept_label="Extend my trial",
        ),
    ),
)


def _reason(
    rid: str, label: str, *offers: OfferId, follow_up: FollowUp = FollowUp.OPTIONAL, prompt: str = ""
) -> ReasonDef:
    return ReasonDef(
        id=ReasonId(rid),
        label=label,
        offer_ids=offers,
        follow_up=follow_up,
        follow_up_prompt=prompt or "Anything you'd like to add?",
    )


DEFAULT_REASONS = (
    _reason("too_expensive", "It's too expensive", PAUSE, DOWNGRADE),
    _reason("not_using", "I'm not using it enough", TRIAL, TRAINING, PAUSE),
    _reason("no_value", "I didn't get the value I expected", TRAINING, PAUSE),
    _reason("missing_features", "It's missing features I need", CONTACT, prompt="Which features are you missing?"),
    _reason("temporary", "I only needed it for a project / season", PAUSE),
    _reason(
        "competitor",
        "I'm switching to another product",
        DISCOUNT,
        DOWNGRADE,
        prompt="Which product, and why?",
    ),
    _reason("technical", "I ran into technical issues", CONTACT, prompt="What went wrong?"),
    _reason("other", "Something else", follow_up=FollowUp.REQUIRED, prompt="Please tell us why you're leaving."),
)


def default_definition() -> FlowDefinition:
    return FlowDefinition(key="default", reasons=DEFAULT_REASONS, offers=DEFAULT_OFFERS, feedback=False)
