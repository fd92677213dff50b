"""Builds what a widget step shows: template choice (one StepKind → template map) and its context.

Rules: presentation only; no decisions about which step comes next (that is flows.decide).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from flows import FlowDefinition, FlowState, Notice, Outcome, StepKind, reason_order
from offers import DiscountOffer, DowngradeOffer, Offer, PauseOffer, TrialExtensionOffer, add_months
from service.use_cases.sessions import SessionView

STEP_TEMPLATES: dict[StepKind, str] = {
    StepKind.NEW: "widget/steps/_pending.html",
    StepKind.LOSS_AVERSION: "widget/steps/_loss_aversion.html",
    StepKind.SURVEY: "widget/steps/_survey.html",
    StepKind.OFFER: "widget/steps/_offer.html",
    StepKind.OFFER_PENDING: "widget/steps/_pending.html",
    StepKind.FEEDBACK: "widget/steps/_feedback.html",
    StepKind.CONFIRM: "widget/steps/_confirm.html",
    StepKind.CANCEL_PENDING: "widget/steps/_pending.html",
    StepKind.DONE: "widget/steps/_done.html",
}

NOTICES: dict[Notice, str] = {
    Notice.OFFER_FAILED: "We couldn't apply that just now. Please try again in a moment, or choose another option.",
    Notice.OFFER_UNAVAILABLE: "That option isn't available for your subscription, so here is what we can offer.",
    Notice.CANCEL_FAILED: "We couldn't cancel your subscription just now. Please try again in a moment.",
}

GENERIC_LOSSES = [
    {"label": "your projects and files", "value": "All"},
    {"label": "your team's shared history", "value": "All"},
]


@dataclass(frozen=True, slots=True)
class OfferFacts:
    """What an offer card states concretely: what changes, when, price before and after."""

    lines: tuple[str, ...]


def money(cents: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower(), "")
    amount = f"{cents / 100:,.2f}".removesuffix(".00")
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def offer_facts(offer: Offer, view: SessionView) -> OfferFacts:
    snap = view.session.context.snapshot
    now = view.session.started_at
    current = f"{money(snap.amount_cents, snap.currency)}/{snap.interval}"
    if isinstance(offer, PauseOffer):
        resumes = add_months(now, offer.months)
        return OfferFacts((f"No charges until {resumes:%B %-d, %Y}", f"Then {current} again, unless you cancel"))
    if isinstance(offer, DowngradeOffer):
        new = f"{money(offer.amount_cents, snap.currency)}/{snap.interval}"
        when = f"from {snap.current_period_end:%B %-d, %Y}" if offer.at_period_end else "starting today"
        return OfferFacts((f"{current} → {new}", f"{offer.plan_name} plan, {when}"))
    if isinstance(offer, DiscountOffer):
        reduced = snap.amount_cents * (100 - offer.percent_off) // 100
        new = f"{money(reduced, snap.currency)}/{snap.interval}"
        return OfferFacts((f"{current} → {new}", f"For your next {offer.duration_months} invoices"))
    if isinstance(offer, TrialExtensionOffer):
        return OfferFacts((f"{offer.days} more days, free",))
    return OfferFacts(("No change to your subscription",))


def progress(definition: FlowDefinition, state: FlowState) -> tuple[int, int]:
    order = [StepKind.LOSS_AVERSION, StepKind.SURVEY, StepKind.OFFER, StepKind.FEEDBACK, StepKind.CONFIRM]
    enabled = {
        StepKind.LOSS_AVERSION: definition.loss_aversion,
        StepKind.SURVEY: definition.survey,
        StepKind.OFFER: True,
        StepKind.FEEDBACK: definition.feedback,
        StepKind.CONFIRM: definition.confirm,
    }
    steps = [s for s in order if enabled[s]]
    if state.step is StepKind.DONE:
        return len(steps), len(steps)
    current = state.step if state.step in steps else StepKind.OFFER
    return steps.index(current) + 1, len(steps)


def step_context(
    view: SessionView,
    *,
    flow_token: str,
    parent_origin: str,
    error: str | None = None,
    error_field: str | None = None,
) -> dict[str, Any]:
    state, definition, session = view.state, view.definition, view.session
    sid = session.id
    base = f"/w/s/{sid}"
    offer = definition.offer(state.current_offer) if state.current_offer else None
    accepted = definition.offer(state.accepted_offer) if state.accepted_offer else None
    losses = msgspec.json.decode(session.losses_json) or GENERIC_LOSSES
    done, total = progress(definition, state)
    return {
        "session_id": sid,
        "state": state,
        "step": state.step.value,
        "step_template": STEP_TEMPLATES[state.step],
        "period_end": f"{session.context.snapshot.current_period_end:%B %-d, %Y}",
        "definition": definition,
        "offer": offer,
        "offer_facts": offer_facts(offer, view) if offer else None,
        "accepted_offer": accepted,
        "losses": losses,
        "flow_token": flow_token,
        "parent_origin": parent_origin,
        "notice": NOTICES.get(state.notice) if state.notice else None,
        "error": error,
        "error_field": error_field,
        "click_to_cancel": session.context.click_to_cancel(definition),
        "reasons": reason_order(definition, sid),
        "can_go_back": state.step in (StepKind.SURVEY, StepKind.OFFER, StepKind.FEEDBACK, StepKind.CONFIRM)
        and (definition.loss_aversion if state.step is StepKind.SURVEY else definition.survey),
        "progress_value": done,
        "progress_max": total,
        "outcome": state.outcome.value if state.outcome else None,
        "saved": state.outcome is Outcome.SAVED,
        "test_mode": session.test_mode,
        "urls": {
            "show": f"{base}?flow_token={flow_token}",
            "continue": f"{base}/continue",
            "reason": f"{base}/reason",
            "accept": f"{base}/offers/{offer.id}/accept" if offer else "",
            "decline": f"{base}/offers/{offer.id}/decline" if offer else "",
            "feedback": f"{base}/feedback",
            "cancel": f"{base}/cancel",
            "confirm": f"{base}/confirm",
            "back": f"{base}/back",
            "close": f"{base}/close?flow_token={flow_token}",
        },
    }
