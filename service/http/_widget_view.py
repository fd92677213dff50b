"""Builds what a widget step shows: template choice (one StepKind → template map) and its context.

Rules: presentation only; no decisions about which step comes next (that is flows.decide).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from flows import FlowDefinition, FlowState, FollowUp, Notice, Outcome, ReasonDef, StepKind, reason_order
from offers.model import EXTEND_PAUSE, REACTIVATE, RESUME, UNDO_DOWNGRADE
from offers.value_lines import Price
from service.http._offer_cards import in_language, offer_cards, price_text
from service.http._pause_lengths import LengthChoice, extend_pause_choices
from service.http._step_facts import done_facts, loss_tiles, scheduled_change
from service.i18n import date_text, gettext_callables, money_text, translations
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
    StepKind.ENDING: "widget/steps/_ending.html",
    StepKind.PAUSED: "widget/steps/_paused.html",
    StepKind.DOWNGRADE_SCHEDULED: "widget/steps/_downgrade_scheduled.html",
    StepKind.DONE: "widget/steps/_done.html",
}


def _mark(message: str) -> str:
    """Marks an English source string for extraction (pybabel -k _mark); translated where it is shown."""
    return message


NOTICES: dict[Notice, str] = {
    Notice.OFFER_FAILED: _mark(
        "We couldn't apply that just now. Please try again in a moment, or choose another option."
    ),
    Notice.OFFER_UNAVAILABLE: _mark("That option isn't available for your subscription, so here is what we can offer."),
    Notice.CANCEL_FAILED: _mark("We couldn't cancel your subscription just now. Please try again in a moment."),
}
# InvalidInput messages from flows.machine, translated when shown.
_INPUT_ERRORS = [
    _mark("Please choose one of the reasons."),
    _mark("Please tell us a little more."),
    _mark("Please keep this under 2000 characters."),
    _mark("Please choose one of the lengths."),
]


def money(cents: int, currency: str) -> str:
    """English money for the demo page and the admin (the widget formats per locale)."""
    return money_text(cents, currency, "en")


@dataclass(frozen=True, slots=True)
class Page:
    """The step frame's flags and links (widget/steps/_step.html reads them as `page`)."""

    urls: dict[str, str]
    flow_token: str
    click_to_cancel: bool
    can_go_back: bool
    progress_value: int
    progress_max: int
    notice: str | None
    error: str | None
    test_mode: bool
    error_field: str | None = None  # set: the error is shown beside that field instead of at the top


@dataclass(frozen=True, slots=True)
class ReasonChoice:
    """One answer on the survey, in the customer's language (prompt "" when the default one applies)."""

    id: str
    label: str
    prompt: str


DEFAULT_PROMPT = ReasonDef.__dataclass_fields__["follow_up_prompt"].default


def _extend_choices(view: SessionView, definition: FlowDefinition, locale: str) -> tuple[LengthChoice, ...]:
    """The paused step's extension radios; only the length of the first try while its outcome is unknown."""
    session, state = view.session, view.session.state
    choices = extend_pause_choices(definition.offers, session.context.snapshot, now=session.started_at, locale=locale)
    if state.unsettled_offer == EXTEND_PAUSE.id and state.chosen_length is not None:
        return tuple(c for c in choices if c.key == state.chosen_length.key)
    return choices


def reason_choices(definition: FlowDefinition, session_id: str, text: Callable[[str, str], str]) -> list[ReasonChoice]:
    """The survey's answers in this session's order; a follow-up prompt only where the flow words its own."""
    return [
        ReasonChoice(
            reason.id,
            text(f"reason.{reason.id}", reason.label),
            text(f"reason.{reason.id}.prompt", reason.follow_up_prompt)
            if reason.follow_up is not FollowUp.NONE and reason.follow_up_prompt != DEFAULT_PROMPT
            else "",
        )
        for reason in reason_order(definition, session_id)
    ]


_MERGE_FIELD = re.compile(r"\{\{\s*(\w+)\s*(?:\|\s*default(?:\(\s*[\"']([^\"']*)[\"']\s*\))?\s*)?\}\}")


def merge(text: str, fields: dict[str, str]) -> str:
    """Fill `{{ first_name | default("there") }}`-style merge fields in flow copy; unknown names stay empty."""
    return _MERGE_FIELD.sub(lambda m: fields.get(m.group(1)) or (m.group(2) or ""), text)


def merge_fields(view: SessionView, locale: str) -> dict[str, str]:
    attrs = msgspec.json.decode(view.session.attrs_json)
    snap = view.session.context.snapshot
    return {
        "first_name": str(attrs.get("first_name") or ""),
        "plan": str(attrs.get("plan") or "").title(),
        "price": price_text(Price(snap.amount_cents, snap.currency, snap.interval, snap.interval_count), locale),
    }


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
    if state.step in (StepKind.DONE, StepKind.ENDING, StepKind.PAUSED, StepKind.DOWNGRADE_SCHEDULED):  # returning: 1
        return (len(steps), len(steps)) if state.step is StepKind.DONE else (1, 1)
    current = state.step if state.step in steps else StepKind.OFFER
    return steps.index(current) + 1, len(steps)


FORM_FIELDS = ("reason", "comment", "feedback")


def form_values(state: FlowState, submitted: Mapping[str, str] | None) -> dict[str, str]:
    """What the survey and feedback forms show: the answers saved so far or, when a submission was refused,
    exactly what was sent (a refused answer is not saved, and the user must not have to type it again)."""
    if submitted is not None:
        return {name: submitted.get(name, "") for name in FORM_FIELDS}
    return {"reason": state.reason or "", "comment": state.comment or "", "feedback": state.feedback or ""}


def step_context(
    view: SessionView,
    *,
    flow_token: str,
    parent_origin: str,
    return_url: str,
    logo_url: str,
    public_url: str,
    error: str | None = None,
    error_field: str | None = None,
    submitted: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything a step template (and the frame around it) reads. `submitted`: the form a refused step
    was sent with, so the step shows it again as typed (see `form_values`)."""
    state, definition, session = view.state, view.definition, view.session
    locale = session.locale
    tr = translations(locale).gettext
    fields = merge_fields(view, locale)
    sid = session.id
    base = f"/w/s/{sid}"
    offer = definition.offer(state.current_offer) if state.current_offer else None  # the first card
    accepted = definition.offer(state.accepted_offer) if state.accepted_offer else None
    done, total = progress(definition, state)

    def text(key: str, fallback: str) -> str:
        return merge(definition.text(locale, key, fallback), fields)

    notice = tr(NOTICES[state.notice]) if state.notice else None
    error_text = tr(error) if error else None
    click_to_cancel = session.context.click_to_cancel(definition)
    can_go_back = state.step in (StepKind.SURVEY, StepKind.OFFER, StepKind.FEEDBACK, StepKind.CONFIRM) and (
        definition.loss_aversion if state.step is StepKind.SURVEY else definition.survey
    )
    urls = {
        "show": f"{base}?flow_token={flow_token}",
        "continue": f"{base}/continue",
        "reason": f"{base}/reason",
        "accept": f"{base}/offers/{offer.id}/accept" if offer else "",
        "decline": f"{base}/offers/{offer.id}/decline" if offer else "",
        "reactivate": f"{base}/offers/{REACTIVATE.id}/accept",
        "resume": f"{base}/offers/{RESUME.id}/accept",
        "extend": f"{base}/offers/{EXTEND_PAUSE.id}/accept",
        "undo_downgrade": f"{base}/offers/{UNDO_DOWNGRADE.id}/accept",
        "feedback": f"{base}/feedback",
        "cancel": f"{base}/cancel",
        "confirm": f"{base}/confirm",
        "back": f"{base}/back",
        "close": f"{base}/close?flow_token={flow_token}",
        "keep": f"{base}/keep?flow_token={flow_token}",
        # The host page posts this when "Keep my subscription" closed the embedded widget (see "abandon").
        "keep_abs": f"{public_url.rstrip('/')}{base}/keep?flow_token={flow_token}",
        # embed.js posts this from the HOST page when the widget is closed early, so it must name the
        # service itself (a relative URL would reach the host app's own origin).
        "abandon": f"{public_url.rstrip('/')}{base}/close?flow_token={flow_token}",
    }
    page = Page(
        urls, flow_token, click_to_cancel, can_go_back, done, total, notice, error_text, session.test_mode, error_field
    )
    return {
        "session_id": sid,
        "state": state,
        "step": state.step.value,
        "step_template": STEP_TEMPLATES[state.step],
        "period_end": date_text(session.context.snapshot.current_period_end, locale),
        "paused_until": date_text(paused, locale) if (paused := session.context.snapshot.paused_until) else "",
        # "Extend the pause" (a card on the paused step only while a length of the flow's pause still fits).
        "extend_choices": _extend_choices(view, definition, locale) if EXTEND_PAUSE.id in state.on_screen else (),
        "scheduled": scheduled_change(view, locale) if state.step is StepKind.DOWNGRADE_SCHEDULED else None,
        "locale": locale,
        **gettext_callables(locale),
        "t": text,
        "definition": definition,
        "offer": offer,
        "offer_cards": offer_cards(
            definition,
            state,
            session.context.snapshot,
            started_at=session.started_at,
            locale=locale,
            text=text,
            base_url=base,
        )
        if state.step is StepKind.OFFER
        else (),
        "accepted_offer": in_language(accepted, text) if accepted else None,
        "losses": loss_tiles(session.losses_json, locale)
        if state.step in (StepKind.LOSS_AVERSION, StepKind.DONE)
        else [],
        "done": done_facts(view, locale) if state.step is StepKind.DONE else None,
        # "Changed your mind? Keep my subscription": the cancelled done screen's card, when flows offers it.
        "undo_cancel": state.step is StepKind.DONE and REACTIVATE.id in state.on_screen,
        "form": form_values(state, submitted if error else None),
        "flow_token": flow_token,
        "parent_origin": parent_origin,
        "notice": notice,
        "error": error_text,
        "error_field": error_field,
        "click_to_cancel": click_to_cancel,
        "reasons": reason_choices(definition, sid, text) if state.step is StepKind.SURVEY else [],
        "can_go_back": can_go_back,
        "progress_value": done,
        "progress_max": total,
        "outcome": state.outcome.value if state.outcome else None,
        "saved": state.outcome is Outcome.SAVED,
        "test_mode": session.test_mode,
        "urls": urls,
        "page": page,
        "return_url": return_url,
        "logo_url": logo_url,
    }
