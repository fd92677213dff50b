"""Plain words for the admin: reason and offer labels from a flow version, outcomes, events and call promises.

Rules: pure (standard library, babel, `flows` and `offers` types); no I/O. admin.queries feeds it rows
and the session's own FlowDefinition, so a label is what that customer saw (English/default copy).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from babel import Locale, UnknownLocaleError

from flows import FlowDefinition, FlowState
from offers.model import OfferKind

OUTCOME_LABELS = {
    "saved": "Saved",
    "kept": "Kept",
    "cancelled": "Cancelled",
    "abandoned": "Abandoned",
    "open": "In progress",
}
OUTCOME_HINTS = {
    "saved": "took an offer that changed billing",
    "kept": "stayed without a billing change",
    "cancelled": "the cancellation reached billing",
    "abandoned": "closed the widget or went quiet",
    "open": "still in the flow",
}
_APPLIED = {
    OfferKind.PAUSE.value: "Billing applied the pause",
    OfferKind.DOWNGRADE.value: "Billing switched the plan",
    OfferKind.DISCOUNT.value: "Billing applied the discount",
    OfferKind.TRIAL_EXTENSION.value: "Billing extended the trial",
    OfferKind.TRAINING.value: "Handed to the CS team (no billing change)",
}
DEFAULT_RESPOND_WITHIN_HOURS = 24  # when an offer's copy promises no deadline


def humanize(identifier: str) -> str:
    """'too_expensive' → 'Too expensive': the fallback when no flow version names an id."""
    words = re.sub(r"[_\-]+", " ", identifier).strip()
    return words[:1].upper() + words[1:] if words else "—"


def outcome_label(outcome: str | None) -> str:
    return OUTCOME_LABELS.get(outcome or "open", humanize(outcome or "open"))


def language_label(code: str) -> str:
    """'de' → 'German' (the code itself when Babel does not know it)."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name("en")
    except (ValueError, UnknownLocaleError):
        return code or "—"
    return name or code


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Reason labels and offer titles (English/default copy) of one or more flow versions."""

    reasons: Mapping[str, str] = field(default_factory=dict)
    offers: Mapping[str, str] = field(default_factory=dict)
    offer_kinds: Mapping[str, str] = field(default_factory=dict)
    offer_bodies: Mapping[str, str] = field(default_factory=dict)

    def reason(self, reason_id: str | None) -> str:
        return self.reasons.get(reason_id, humanize(reason_id)) if reason_id else "—"

    def offer(self, offer_id: str | None) -> str:
        return self.offers.get(offer_id, humanize(offer_id)) if offer_id else "—"


def vocabulary(*definitions: FlowDefinition) -> Vocabulary:
    """The words of `definitions`; where two versions name the same id, the first one given wins."""
    reasons: dict[str, str] = {}
    offers: dict[str, str] = {}
    kinds: dict[str, str] = {}
    bodies: dict[str, str] = {}
    for d in definitions:
        for r in d.reasons:
            reasons.setdefault(r.id, d.text("en", f"reason.{r.id}", r.label))
        for o in d.offers:
            offers.setdefault(o.id, d.text("en", f"offer.{o.id}.title", o.copy.title))
            kinds.setdefault(o.id, o.kind.value)
            bodies.setdefault(o.id, d.text("en", f"offer.{o.id}.body", o.copy.body))
    return Vocabulary(reasons, offers, kinds, bodies)


def offers_note(state: FlowState, vocab: Vocabulary) -> str:
    """What happened to the offers this session showed: 'Accepted X', 'Declined X, Y', 'Saw X' or ''."""
    if state.accepted_offer:
        return f"Accepted {vocab.offer(state.accepted_offer)}"
    if state.offers_declined:
        return "Declined " + ", ".join(vocab.offer(o) for o in state.offers_declined)
    if state.offers_shown:
        return "Saw " + ", ".join(vocab.offer(o) for o in state.offers_shown)
    return ""


# ------------------------------------------------------------------------------------ events as sentences
@dataclass(frozen=True, slots=True)
class Sentence:
    """'Chose' + subject 'It's too expensive': the template emphasises the subject."""

    text: str
    subject: str = ""
    detail: str = ""

    @property
    def full(self) -> str:
        return f"{self.text} {self.subject}" if self.subject else self.text


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _cancel_sentence(payload: Mapping[str, Any]) -> Sentence:
    at, effective = _when(payload.get("at")), _when(payload.get("effective_at"))
    if at and effective and effective - at > timedelta(minutes=1):
        return Sentence("Cancelled at period end", detail=f"ends {effective:%Y-%m-%d}")
    return Sentence("Cancelled immediately")


def event_sentence(event_type: str, payload: Mapping[str, Any], vocab: Vocabulary) -> Sentence:
    """One logged event as a short sentence; an unknown event keeps its name (never hidden)."""
    offer = vocab.offer(str(payload.get("offer_id") or "")) if payload.get("offer_id") else ""
    retry = "" if payload.get("definitive", True) else "will retry"
    match event_type:
        case "Started":
            return Sentence("Opened the cancellation flow")
        case "Continued":
            return Sentence("Still wanted to cancel after seeing what they'd lose")
        case "ReasonChosen":
            comment = str(payload.get("comment") or "")
            return Sentence("Chose", vocab.reason(str(payload.get("reason") or "")), f"“{comment}”" if comment else "")
        case "OfferAccepted":
            return Sentence("Accepted", offer)
        case "OfferDeclined":
            return Sentence("Declined", offer)
        case "OfferApplied":
            kind = vocab.offer_kinds.get(str(payload.get("offer_id")), "")
            return Sentence(_APPLIED.get(kind, "Billing applied"), offer, str(payload.get("summary") or ""))
        case "OfferFailed":
            return Sentence("Billing could not apply", offer, ", ".join(filter(None, (retry, payload.get("error")))))
        case "FeedbackGiven":
            text = str(payload.get("text") or "")
            return Sentence("Left feedback", detail=f"“{text}”" if text else "")
        case "CancelRequested":
            return Sentence("Clicked “Cancel my subscription”")
        case "CancelConfirmed":
            return Sentence("Confirmed the cancellation")
        case "CancelApplied":
            return _cancel_sentence(payload)
        case "CancelFailed":
            return Sentence("Billing could not cancel", detail=", ".join(filter(None, (retry, payload.get("error")))))
        case "WentBack":
            return Sentence("Went back a step")
        case "Closed":
            return Sentence("Closed the widget")
        case "TimedOut":
            return Sentence("Went quiet: the session timed out")
        case "Kept":
            return Sentence("Chose to keep the subscription")
    return Sentence(humanize(event_type))


def billing_sentence(
    action: str, offer_id: str | None, *, status: str, attempt: int, error: str, vocab: Vocabulary
) -> Sentence:
    """A billing call the session caused: 'Billing call: apply Pause instead of cancelling'."""
    detail = f"{status}, attempt {attempt}" + (f", error: {error}" if error else "")
    if action == "cancel":
        return Sentence("Billing call: cancel the subscription", detail=detail)
    return Sentence("Billing call: apply", vocab.offer(offer_id), detail)


# ------------------------------------------------------------------------------------ call promises
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "24": 24, "48": 48}
_PROMISE = re.compile(
    r"within\s+(?:the\s+next\s+)?(\d+|an?|one|two|three|four|five)\s+(business\s+|working\s+)?(hours?|days?)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Promise:
    """How soon CS promised to respond: `hours`, or `business_days` (Monday to Friday)."""

    hours: int = DEFAULT_RESPOND_WITHIN_HOURS
    business_days: int = 0
    wording: str = ""  # as the offer's copy says it; "" when the copy states no deadline

    def due(self, since: datetime) -> datetime:
        if not self.business_days:
            return since + timedelta(hours=self.hours)
        due, left = since, self.business_days
        while left:
            due += timedelta(days=1)
            if due.weekday() < 5:
                left -= 1
        return due

    @property
    def described(self) -> str:
        if self.wording:
            return f"“{self.wording}” (the offer's copy)"
        return f"{self.hours} h (default; the offer's copy promises no time)"


def promise_in(text: str) -> Promise:
    """The first 'within N (business|working) days/hours' in an offer's copy, else the 24-hour default."""
    found = _PROMISE.search(text)
    if not found:
        return Promise()
    number, business, unit = found.groups()
    count = int(number) if number.isdigit() else _NUMBERS[number.lower()]
    if unit.lower().startswith("hour"):
        return Promise(hours=count, wording=found.group(0))
    if business:
        return Promise(hours=0, business_days=count, wording=found.group(0))
    return Promise(hours=24 * count, wording=found.group(0))


def waited(since: datetime, now: datetime) -> str:
    """'2 d 3 h', '3 h 20 min', '12 min'."""
    minutes = max(int((now - since).total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"
