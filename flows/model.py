"""The save flow's vocabulary: steps, outcomes, the flow definition (data) and the session state.

Rules: standard library and `offers.model` / `offers.ports` / `offers.eligibility` / `offers.winback`
only. Everything is frozen; state changes are `dataclasses.replace` inside `flows.machine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NewType

from offers.eligibility import EligibilityPolicy, Redemption
from offers.model import BUILT_IN_OFFERS, Offer, OfferId, PauseLength, with_length
from offers.ports import SubscriptionSnapshot
from offers.winback import WinbackOffer

SessionId = NewType("SessionId", str)
MAX_OFFERS_PER_STEP = 3  # more cards than this stop being a choice and start being a catalogue
ReasonId = NewType("ReasonId", str)


class StepKind(StrEnum):
    NEW = "new"  # created, not yet shown
    LOSS_AVERSION = "loss_aversion"
    SURVEY = "survey"
    OFFER = "offer"
    OFFER_PENDING = "offer_pending"  # the billing call for an accepted offer is in flight
    FEEDBACK = "feedback"
    CONFIRM = "confirm"
    CANCEL_PENDING = "cancel_pending"  # the billing cancellation is in flight
    ENDING = "ending"  # a returning customer whose subscription is set to end: keep it, or leave it be
    PAUSED = "paused"  # a returning customer whose subscription is paused: resume now, or cancel
    DOWNGRADE_SCHEDULED = "downgrade_scheduled"  # a plan change waits for the period end: undo it, or go on
    DONE = "done"


USER_STEPS = frozenset(
    {
        StepKind.LOSS_AVERSION,
        StepKind.SURVEY,
        StepKind.OFFER,
        StepKind.FEEDBACK,
        StepKind.CONFIRM,
        StepKind.ENDING,
        StepKind.PAUSED,
        StepKind.DOWNGRADE_SCHEDULED,
    }
)
PENDING_STEPS = frozenset({StepKind.OFFER_PENDING, StepKind.CANCEL_PENDING})


class Outcome(StrEnum):
    """How a session ended; the metric definitions built on these live in admin/metrics.py."""

    SAVED = "saved"  # accepted an offer that changed billing, and billing applied it
    KEPT = "kept"  # chose "Keep my subscription", or took an offer that changes no billing (training)
    CANCELLED = "cancelled"  # the cancellation reached billing
    ABANDONED = "abandoned"  # closed the widget, or no activity for the configured time (TimedOut)
    REACTIVATED = "reactivated"  # undid a scheduled cancellation (a returning customer kept the subscription)


class FollowUp(StrEnum):
    """Whether a reason asks for free text after it is picked."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


class Notice(StrEnum):
    """A message the current step shows after something went wrong (never raw error text)."""

    OFFER_FAILED = "offer_failed"
    OFFER_UNAVAILABLE = "offer_unavailable"
    CANCEL_FAILED = "cancel_failed"


@dataclass(frozen=True, slots=True)
class ReasonDef:
    id: ReasonId
    label: str
    offer_ids: tuple[OfferId, ...] = ()
    follow_up: FollowUp = FollowUp.OPTIONAL
    follow_up_prompt: str = "Anything you'd like to add?"


@dataclass(frozen=True, slots=True)
class FlowDefinition:
    """One version of a save flow, as CS configures it. Pure data; stored as JSON."""

    key: str
    reasons: tuple[ReasonDef, ...]
    offers: tuple[Offer, ...]
    loss_aversion: bool = True
    survey: bool = True
    feedback: bool = False
    confirm: bool = True
    final_offer_id: OfferId | None = None
    max_offers: int = 2  # distinct offers one session may show in total, across every reason chosen
    # Offers on screen at once, as cards, best first (1 to MAX_OFFERS_PER_STEP). Definitions stored before
    # cards existed lack the field and load with 1: they behave exactly as they did.
    offers_per_step: int = 1
    cancel_always_available: bool = True
    click_to_cancel_countries: tuple[str, ...] = ()  # ISO codes where click-to-cancel is on regardless
    cancel_at_period_end: bool = True
    randomize_reasons: bool = False  # shuffled per session (stable), "other" kept last
    # Per-locale copy overrides: locale → key → text. Keys: "reason.<id>", "reason.<id>.prompt",
    # "offer.<id>.title", "offer.<id>.body", "offer.<id>.accept". The fields above are the fallback.
    copy: dict[str, dict[str, str]] = field(default_factory=dict)
    # What the win-back emails and page offer after a cancel (offers.winback); None: no win-back. Stored
    # definitions from before win-back lack the field and load with None.
    winback: WinbackOffer | None = None

    def reason(self, reason_id: ReasonId) -> ReasonDef | None:
        return next((r for r in self.reasons if r.id == reason_id), None)

    def offer(self, offer_id: OfferId) -> Offer | None:
        """The flow's offer with this id, else a built-in one (offers.model.BUILT_IN_OFFERS), else None."""
        return next((o for o in self.offers if o.id == offer_id), None) or BUILT_IN_OFFERS.get(offer_id)

    def accepted(self, state: FlowState) -> Offer | None:
        """The offer `state` accepted, as accepted: pinned to the pause length the customer chose."""
        offer = self.offer(state.accepted_offer) if state.accepted_offer else None
        return with_length(offer, state.chosen_length, self.offers) if offer else None

    def text(self, locale: str, key: str, fallback: str) -> str:
        """This flow's copy for `key` in `locale`, or the fallback (the definition's own text)."""
        return self.copy.get(locale, {}).get(key) or fallback


@dataclass(frozen=True, slots=True)
class CustomerContext:
    """What the engine may know about the customer, fixed when the session starts."""

    snapshot: SubscriptionSnapshot
    history: tuple[Redemption, ...] = ()
    policy: EligibilityPolicy = field(default_factory=EligibilityPolicy)
    holdout: bool = False  # experiment holdout arm: the flow shows no offers
    test_mode: bool = False
    country: str | None = None
    preview: bool = False  # an admin previewing a draft: test mode, and no webhooks leave the service

    def click_to_cancel(self, definition: FlowDefinition) -> bool:
        """Whether every step offers a direct way to cancel for this customer."""
        if definition.cancel_always_available:
            return True
        country = (self.country or "").upper()
        return bool(country) and country in {c.upper() for c in definition.click_to_cancel_countries}


@dataclass(frozen=True, slots=True)
class FlowState:
    session_id: SessionId
    step: StepKind = StepKind.NEW
    reason: ReasonId | None = None
    comment: str | None = None
    offer_queue: tuple[OfferId, ...] = ()  # offers still to show, best first
    # The offer step's cards are `current_offer` (the best) followed by `also_on_screen`. Split this way so
    # that states stored before cards (one offer, no `also_on_screen`) load unchanged; read `on_screen`.
    current_offer: OfferId | None = None
    also_on_screen: tuple[OfferId, ...] = ()
    offers_shown: tuple[OfferId, ...] = ()  # each offer once, in the order first shown
    offers_declined: tuple[OfferId, ...] = ()
    accepted_offer: OfferId | None = None
    # The pause length the customer picked on the accepted offer (offers.model.with_length pins it).
    chosen_length: PauseLength | None = None
    # The offer whose billing call has an unknown outcome (it may have been applied): taken again, it is
    # retried under the same key, so with the same length.
    unsettled_offer: OfferId | None = None
    feedback: str | None = None
    outcome: Outcome | None = None
    result_summary: str | None = None  # what the applied offer changed, for the done step
    cancel_effective_at: datetime | None = None
    notice: Notice | None = None
    # Per billing action ("offer:<id>", "cancel"): bumped only after that action's definitive failure,
    # so a retry after an unknown outcome reuses its key and can never apply the change twice.
    attempts: tuple[tuple[str, int], ...] = ()
    version: int = 0  # number of events applied; optimistic concurrency in the shell

    @property
    def finished(self) -> bool:
        return self.step is StepKind.DONE

    @property
    def on_screen(self) -> tuple[OfferId, ...]:
        """The offers the offer step shows, best first (empty when no offer is up)."""
        return () if self.current_offer is None else (self.current_offer, *self.also_on_screen)

    def attempt(self, action: str) -> int:
        return dict(self.attempts).get(action, 1)

    def bump_attempt(self, action: str) -> tuple[tuple[str, int], ...]:
        counts = dict(self.attempts)
        counts[action] = counts.get(action, 1) + 1
        return tuple(sorted(counts.items()))
