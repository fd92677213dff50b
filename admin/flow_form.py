"""The structured flow editor's form: form fields ↔ `FlowDefinition`, and the add/remove/move row actions.

Rules: pure (standard library, flows, offers); no HTTP. The raw values (`EditorForm`) are kept as typed,
so a re-render after an error or a row action never loses input. Field names: `reason-<i>-<name>`,
`offer-<i>-<name>` (rows, in index order), plain names for flow settings; per-locale copy sits on its row
as `<locale>-<text>` (e.g. `reason-0-de-label`); copy the form cannot show (other locales, keys of unknown
rows) travels in the hidden `copy_extra` field. An empty offer limit keeps its kind's default. The field
names, the form types and the small codecs live in `admin.flow_fields` (re-exported here).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import replace
from enum import Enum
from typing import Any, TypeVar

from admin.flow_fields import (
    DEFAULT_PROMPT,
    FLAGS,
    ID_PATTERN,
    LIMITS,
    LOCALES,
    MAX_ROWS,
    MAX_VALUE,
    NUMBERS,
    OFFER_TEXTS,
    PARAM_DEFAULTS,
    REASON_TEXTS,
    RULE_FLAGS,
    SETTINGS,
    STEP_FLAGS,
    EditorForm,
    Parsed,
    Row,
    amount_text,
    date_field,
    form_text,
    lengths_text,
    parse_amount,
    parse_date_field,
    parse_lengths,
)
from admin.flow_winback import parse_winback, winback_fields
from flows import FlowDefinition, FollowUp, ReasonDef, ReasonId
from flows.model import MAX_OFFERS_PER_STEP
from offers import (
    DiscountOffer,
    DowngradeOffer,
    Offer,
    OfferCopy,
    OfferId,
    OfferKind,
    PauseBehavior,
    PauseOffer,
    TrainingOffer,
    TrialExtensionOffer,
)
from offers.model import OFFER_TYPES, ExitInterviewOffer, PauseStart

__all__ = (
    "LOCALES",
    "MAX_ROWS",
    "RULE_FLAGS",
    "STEP_FLAGS",
    "EditorForm",
    "Parsed",
    "amount_text",
    "apply_action",
    "from_definition",
    "from_fields",
    "parse_amount",
    "to_definition",
    "to_fields",
)

E = TypeVar("E", bound=Enum)
_ROW_FIELD = re.compile(r"(reason|offer)-(\d{1,3})-([a-z_]+(?:-[a-z_0-9]+)?)")


# ------------------------------------------------------------------------------------ definition → form
def from_definition(definition: FlowDefinition) -> EditorForm:
    consumed: set[tuple[str, str]] = set()

    def overrides(row: Row, texts: dict[str, str], item_id: str) -> None:
        for locale in LOCALES:
            for name, pattern in texts.items():
                key = pattern.format(item_id)
                value = definition.copy.get(locale, {}).get(key, "")
                if value:
                    row[f"{locale}-{name}"] = value
                    consumed.add((locale, key))

    reasons = []
    for reason in definition.reasons:
        row: Row = {
            "id": reason.id,
            "label": reason.label,
            "follow_up": reason.follow_up.value,
            "prompt": reason.follow_up_prompt,
        }
        row.update({f"offer-{j}": offer_id for j, offer_id in enumerate(reason.offer_ids)})
        overrides(row, REASON_TEXTS, reason.id)
        reasons.append(row)
    offers = []
    for offer in definition.offers:
        row = {**PARAM_DEFAULTS, **_offer_fields(offer)}
        overrides(row, OFFER_TEXTS, offer.id)
        offers.append(row)
    extra = {
        locale: {k: v for k, v in entries.items() if (locale, k) not in consumed}
        for locale, entries in definition.copy.items()
    }
    extra = {loc: e for loc, e in extra.items() if e or not definition.copy[loc]}
    settings: Row = {
        "key": definition.key,
        "final_offer_id": definition.final_offer_id or "",
        **{name: str(getattr(definition, name)) for name in NUMBERS},
        "countries": ", ".join(definition.click_to_cancel_countries),
        "copy_extra": json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else "",
        **{flag: "on" for flag in FLAGS if getattr(definition, flag)},
        **winback_fields(definition.winback),
    }
    return EditorForm(settings, tuple(reasons), tuple(offers))


def _offer_fields(offer: Offer) -> Row:
    row: Row = {
        "id": offer.id,
        "kind": offer.kind.value,
        "title": offer.copy.title,
        "body": offer.copy.body,
        "accept": offer.copy.accept_label,
        **{name: "" if getattr(offer, name) is None else str(getattr(offer, name)) for name in LIMITS},
    }
    if isinstance(offer, PauseOffer):
        row.update(lengths=lengths_text(offer.lengths), starts=offer.starts.value, behavior=offer.behavior.value)
        row["until"] = date_field(offer.until)
    elif isinstance(offer, DowngradeOffer):
        row.update(price_id=offer.price_id, plan_name=offer.plan_name, amount=amount_text(offer.amount_cents))
        if offer.at_period_end:
            row["at_period_end"] = "on"
    elif isinstance(offer, TrialExtensionOffer):
        row["days"] = str(offer.days)
    elif isinstance(offer, TrainingOffer):
        row["booking_url"] = offer.booking_url
    elif isinstance(offer, ExitInterviewOffer):
        row.update(incentive=offer.incentive, call_minutes=str(offer.call_minutes), booking_url=offer.booking_url)
    elif isinstance(offer, DiscountOffer):
        row.update(
            coupon_id=offer.coupon_id, percent_off=str(offer.percent_off), duration_months=str(offer.duration_months)
        )
    return row  # a built-in offer (ReactivateOffer) is never in a flow's editable list


# ------------------------------------------------------------------------------------ fields ↔ form
def from_fields(fields: Iterable[tuple[str, str]]) -> EditorForm:
    """Group submitted fields into settings and rows (rows in index order; unknown names ignored)."""
    settings: Row = {}
    rows: dict[str, dict[int, Row]] = {"reason": {}, "offer": {}}
    for name, raw in fields:
        value = raw[:MAX_VALUE]
        found = _ROW_FIELD.fullmatch(name)
        if found:
            group = rows[found.group(1)]
            index = int(found.group(2))
            if index in group or len(group) < MAX_ROWS:
                group.setdefault(index, {})[found.group(3)] = value
        elif name in SETTINGS:
            settings[name] = value
    ordered = {kind: tuple(group[i] for i in sorted(group)) for kind, group in rows.items()}
    return EditorForm(settings, ordered["reason"], ordered["offer"])


def to_fields(form: EditorForm) -> list[tuple[str, str]]:
    """The fields a browser would submit for `form` (what the template renders, minus empty slots)."""
    fields = list(form.settings.items())
    for kind, rows in (("reason", form.reasons), ("offer", form.offers)):
        fields += [(f"{kind}-{i}-{name}", value) for i, row in enumerate(rows) for name, value in row.items()]
    return fields


# ------------------------------------------------------------------------------------ form → definition
class _Problems:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.fields: set[str] = set()

    def add(self, field: str, message: str) -> None:
        self.messages.append(message)
        self.fields.add(field)

    def whole(self, field: str, value: str, what: str, top: int | None = None, low: int = 0) -> int:
        if re.fullmatch(r"-?\d{1,9}", value.strip()) and (top is None or low <= int(value) <= top):
            return int(value)
        self.add(field, f"{what} must be a whole number, like 3." if top is None else f"{what} must be {low} to {top}.")
        return low

    def choice(self, row: Row, prefix: str, key: str, fallback: E, message: str) -> E:
        try:
            return type(fallback)(row.get(key, ""))
        except ValueError:
            self.add(f"{prefix}-{key}", message)
            return fallback


def to_definition(form: EditorForm) -> Parsed:
    """The definition the form describes, or every problem that stops it being read (in plain words).

    This only reads the form; whether the definition makes sense is `flows.validate_definition`'s job.
    """
    problems = _Problems()
    settings = form.settings
    reasons = tuple(_reason(i, row, problems) for i, row in enumerate(form.reasons))
    offers = tuple(_offer(i, row, problems) for i, row in enumerate(form.offers))
    copy = _extra_copy(settings.get("copy_extra", ""), problems)
    for (rows, texts), locale in itertools.product(((form.reasons, REASON_TEXTS), (form.offers, OFFER_TEXTS)), LOCALES):
        for row, (name, pattern) in itertools.product(rows, texts.items()):
            if value := form_text(row.get(f"{locale}-{name}", "")):
                copy.setdefault(locale, {})[pattern.format(row.get("id", "").strip())] = value
    countries = tuple(c.upper() for c in re.split(r"[\s,;]+", settings.get("countries", "")) if c)
    bad = [c for c in countries if not re.fullmatch(r"[A-Z]{2}", c)]
    if bad:
        problems.add("countries", f"Country codes are two letters, like DE or FR: {', '.join(bad)} is not one.")
    max_offers = problems.whole("max_offers", settings.get("max_offers", ""), "The number of offers to show")
    # A form from before cards has no such field: one offer at a time, as it was.
    per_step = settings.get("offers_per_step", "1")
    offers_per_step = problems.whole("offers_per_step", per_step, "Offers shown at once", MAX_OFFERS_PER_STEP, low=1)
    winback, winback_problems = parse_winback(settings)
    for field, message in winback_problems:
        problems.add(field, message)
    if problems.messages:
        return Parsed(None, tuple(problems.messages), frozenset(problems.fields))
    definition = FlowDefinition(
        key=settings.get("key", "").strip(),
        reasons=reasons,
        offers=offers,
        final_offer_id=OfferId(settings.get("final_offer_id", "").strip()) or None,
        max_offers=max_offers,
        offers_per_step=offers_per_step,
        click_to_cancel_countries=countries,
        copy=copy,
        winback=winback,
    )
    flags: dict[str, Any] = {flag: bool(settings.get(flag)) for flag in FLAGS}
    return Parsed(replace(definition, **flags))


def _check_id(field: str, value: str, what: str, problems: _Problems) -> str:
    if not ID_PATTERN.fullmatch(value):
        problems.add(field, f"{what} needs an id made of letters, digits, - and _ only (for example too_expensive).")
    return value


def _reason(i: int, row: Row, problems: _Problems) -> ReasonDef:
    name = f"reason-{i}"
    reason_id = _check_id(f"{name}-id", row.get("id", "").strip(), f"Reason {i + 1}", problems)
    asks = f"Reason {i + 1}: choose whether it asks a follow-up question."
    follow_up = problems.choice(row, name, "follow_up", FollowUp.OPTIONAL, asks)
    offer_ids = tuple(OfferId(o) for o in EditorForm.ranked(row))
    label, prompt = form_text(row.get("label", "")), form_text(row.get("prompt", ""))
    return ReasonDef(ReasonId(reason_id), label, offer_ids, follow_up, prompt)


def _offer(i: int, row: Row, problems: _Problems) -> Offer:
    own = {  # the offer's own limits; an empty box keeps the default for its kind
        k: problems.whole(f"offer-{i}-{k}", v, f"Offer {i + 1}: {what}", top)
        for k, (what, top) in LIMITS.items()
        if (v := row.get(k, "").strip())
    }
    cooldown, cap = (own.get(k) for k in LIMITS)
    return replace(_offer_of_kind(i, row, problems), cooldown_days=cooldown, max_redemptions=cap)


def _offer_of_kind(i: int, row: Row, problems: _Problems) -> Offer:
    name, what = f"offer-{i}", f"Offer {i + 1}"
    offer_id = OfferId(_check_id(f"{name}-id", row.get("id", "").strip(), what, problems))
    copy = OfferCopy(form_text(row.get("title", "")), form_text(row.get("body", "")), form_text(row.get("accept", "")))
    which = f"{what}: choose what kind of offer it is."
    kind = problems.choice(row, name, "kind", OfferKind.TRAINING, which)
    if kind not in OFFER_TYPES:  # a built-in kind (reactivate) is not the editor's to make
        problems.add(f"{name}-kind", which)
        kind = OfferKind.TRAINING

    def whole(field: str, label: str) -> int:
        return problems.whole(f"{name}-{field}", row.get(field, ""), f"{what}: {label}")

    if kind is OfferKind.PAUSE:
        lengths = parse_lengths(row.get("lengths", ""))
        if lengths is None:
            spelled = f"{what}: write the lengths like “2 weeks, 1 month” (days, weeks or months)."
            problems.add(f"{name}-lengths", spelled)
        invoices = f"{what}: choose what happens to invoices during the pause."
        behavior = problems.choice(row, name, "behavior", PauseBehavior.VOID, invoices)
        starts = problems.choice(row, name, "starts", PauseStart.NOW, f"{what}: choose when the pause starts.")
        try:
            until = parse_date_field(row.get("until", ""))
        except ValueError:
            problems.add(f"{name}-until", f"{what}: the pause end date must look like 2027-03-31 (or stay empty).")
            until = None
        return PauseOffer(offer_id, copy, lengths or (), behavior, until, starts)
    if kind is OfferKind.DOWNGRADE:
        amount = parse_amount(row.get("amount", ""))
        if amount is None:
            problems.add(f"{name}-amount", f"{what}: the new price must be an amount, like 19.00.")
        at_end = bool(row.get("at_period_end"))
        return DowngradeOffer(offer_id, copy, row.get("price_id", ""), row.get("plan_name", ""), amount or 0, at_end)
    if kind is OfferKind.TRIAL_EXTENSION:
        return TrialExtensionOffer(offer_id, copy, whole("days", "the number of extra days"))
    if kind is OfferKind.TRAINING:
        return TrainingOffer(offer_id, copy, row.get("booking_url", "").strip())  # a pasted link's stray spaces
    if kind is OfferKind.EXIT_INTERVIEW:
        minutes = whole("call_minutes", "the call length in minutes")
        incentive, booking = row.get("incentive", ""), row.get("booking_url", "").strip()
        return ExitInterviewOffer(offer_id, copy, incentive, minutes, booking)
    percent, months = whole("percent_off", "the discount in percent"), whole("duration_months", "the months")
    return DiscountOffer(offer_id, copy, row.get("coupon_id", ""), percent, months)


def _extra_copy(text: str, problems: _Problems) -> dict[str, dict[str, str]]:
    if not text.strip():
        return {}
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not all(
        isinstance(e, dict) and all(isinstance(v, str) for v in e.values()) for e in data.values()
    ):
        problems.add("copy_extra", "The hidden list of other translations was damaged; reload the editor.")
        return {}
    return {str(locale): dict(entries) for locale, entries in data.items()}


# ------------------------------------------------------------------------------------ row actions
def _unique(prefix: str, rows: tuple[Row, ...]) -> str:
    taken = {r.get("id", "").strip() for r in rows}
    return next(f"{prefix}-{n}" for n in itertools.count(len(rows) + 1) if f"{prefix}-{n}" not in taken)


def apply_action(form: EditorForm, action: str) -> EditorForm | None:
    """The form after a row action (add_reason, remove_reason:2, reason_up:1, …); None if unknown."""
    verb, _, arg = action.partition(":")
    index = int(arg) if arg.isdigit() else -1
    if verb == "add_reason" and len(form.reasons) < MAX_ROWS:
        row = {"id": _unique("reason", form.reasons), "label": "", "follow_up": "optional", "prompt": DEFAULT_PROMPT}
        return replace(form, reasons=(*form.reasons, row))
    if verb == "add_offer" and len(form.offers) < MAX_ROWS:
        kind = form.settings.get("new_offer_kind", "")
        row = {**PARAM_DEFAULTS, "id": _unique("offer", form.offers), "title": "", "body": "", "accept": ""}
        row["kind"] = kind if kind in OFFER_TYPES else OfferKind.PAUSE.value
        return replace(form, offers=(*form.offers, row))
    if verb == "remove_reason":
        return replace(form, reasons=tuple(r for i, r in enumerate(form.reasons) if i != index))
    if verb in ("reason_up", "reason_down"):
        target, items = index + (-1 if verb == "reason_up" else 1), list(form.reasons)
        if 0 <= index < len(items) and 0 <= target < len(items):
            items[index], items[target] = items[target], items[index]
        return replace(form, reasons=tuple(items))
    if verb == "remove_offer":
        if not 0 <= index < len(form.offers):
            return form
        gone = form.offers[index].get("id", "").strip()
        offers = tuple(o for i, o in enumerate(form.offers) if i != index)
        # Nothing may route to the removed offer any more: drop it from every reason and the final offer.
        kept = [[o for o in EditorForm.ranked(r) if o != gone] for r in form.reasons]
        bare = [{k: v for k, v in r.items() if not k.startswith("offer-")} for r in form.reasons]
        reasons = tuple(
            {**r, **{f"offer-{j}": o for j, o in enumerate(ids)}} for r, ids in zip(bare, kept, strict=True)
        )
        settings = dict(form.settings)
        if settings.get("final_offer_id", "").strip() == gone:
            settings["final_offer_id"] = ""
        return EditorForm(settings, reasons, offers)
    return None if verb not in ("add_reason", "add_offer") else form
