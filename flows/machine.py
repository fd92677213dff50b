"""The save-flow state machine: every transition rule, as a table of small pure handlers.

Rules: standard library plus `flows.*` and `offers.model`; no I/O, no clock, no randomness.
`decide` is the only way state changes; `replay` folds a stored event log back into state. It raises
InvalidTransition (this step takes no such event) or InvalidInput (its data is not acceptable): flows.errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from flows.effects import CANCEL_ACTION, ApplyOffer, CancelSubscription, Effect, idempotency_key, offer_action
from flows.errors import InvalidInput, InvalidTransition
from flows.events import (
    CancelApplied,
    CancelConfirmed,
    CancelFailed,
    CancelRequested,
    Closed,
    Continued,
    Event,
    FeedbackGiven,
    Kept,
    OfferAccepted,
    OfferApplied,
    OfferDeclined,
    OfferFailed,
    ReasonChosen,
    Started,
    TimedOut,
    WentBack,
)
from flows.model import (
    MAX_OFFERS_PER_STEP,
    USER_STEPS,
    CustomerContext,
    FlowDefinition,
    FlowState,
    FollowUp,
    Notice,
    Outcome,
    SessionId,
    StepKind,
)
from flows.outcomes import APPLIED_OUTCOMES
from flows.returning import returning_step
from flows.routing import route_offers
from flows.undo_cancel import failed_back_to, undo_offers
from offers.model import OfferId, OfferKind
from offers.pause_choices import LengthNotOffered, extension_offers, pin_choice


@dataclass(frozen=True, slots=True)
class Decision:
    state: FlowState
    effects: tuple[Effect, ...] = ()


Handler = Callable[[FlowDefinition, FlowState, Event, CustomerContext], Decision]

MAX_TEXT = 2000


def initial_state(session_id: SessionId) -> FlowState:
    return FlowState(session_id=session_id)


# ---------------------------------------------------------------------------- helpers
def _first_step(definition: FlowDefinition) -> StepKind | None:
    if definition.loss_aversion:
        return StepKind.LOSS_AVERSION
    if definition.survey:
        return StepKind.SURVEY
    return None


def _step_after_first(definition: FlowDefinition) -> StepKind:
    """Where the first step's "Continue" leads (the offers, when the survey is off or comes first)."""
    if definition.loss_aversion and definition.survey:
        return StepKind.SURVEY
    return StepKind.OFFER


def _to_cancel_path(definition: FlowDefinition, state: FlowState, *, user_asked: bool = True) -> Decision:
    """After the offers: feedback if enabled, then confirm if enabled, else cancel right away.

    `user_asked=False` (e.g. an accepted offer failed) never cancels by itself: the user had chosen to
    stay, so they land on the confirm step and decide again.
    """
    state = _with_screen(state, ())
    if definition.feedback and state.feedback is None and state.step is not StepKind.FEEDBACK:
        return Decision(dataclasses.replace(state, step=StepKind.FEEDBACK))
    if definition.confirm or not user_asked:
        return Decision(dataclasses.replace(state, step=StepKind.CONFIRM))
    return _cancel(definition, state)


def _cancel(definition: FlowDefinition, state: FlowState) -> Decision:
    attempt = state.attempt(CANCEL_ACTION)
    effect = CancelSubscription(
        at_period_end=definition.cancel_at_period_end,
        reason=state.reason,
        comment=state.comment,
        idempotency_key=idempotency_key(state.session_id, CANCEL_ACTION, attempt),
        attempt=attempt,
    )
    return Decision(dataclasses.replace(state, step=StepKind.CANCEL_PENDING, notice=None), (effect,))


def _with_screen(state: FlowState, offers: Sequence[OfferId]) -> FlowState:
    """`state` showing `offers` as the offer step's cards, best first (none: no offer is up)."""
    return dataclasses.replace(state, current_offer=offers[0] if offers else None, also_on_screen=tuple(offers[1:]))


def _show_next_offers(definition: FlowDefinition, state: FlowState, *, user_asked: bool = True) -> Decision:
    """Show the next queued offers the session's budget allows, up to `offers_per_step` cards in routing
    order, else go on to the cancel path.

    `max_offers` counts per session (the editor's wording), not per reason: after going back and
    choosing another reason only offers already shown, or new ones while fewer than `max_offers`
    distinct offers have been shown, may appear. `offers_shown` records each card once, when first shown.
    """
    per_step = min(max(definition.offers_per_step, 1), MAX_OFFERS_PER_STEP)
    shown = list(state.offers_shown)
    batch: list[OfferId] = []
    rest: tuple[OfferId, ...] = ()  # the queue after the last offer looked at (skipped ones are dropped)
    for index, offer_id in enumerate(state.offer_queue):
        seen = offer_id in shown
        if seen or len(shown) < definition.max_offers:
            batch.append(offer_id)
            if not seen:
                shown.append(offer_id)
        if len(batch) == per_step:
            rest = state.offer_queue[index + 1 :]
            break
    if not batch:
        return _to_cancel_path(definition, dataclasses.replace(state, offer_queue=()), user_asked=user_asked)
    showing = dataclasses.replace(state, step=StepKind.OFFER, offer_queue=rest, offers_shown=tuple(shown))
    return Decision(_with_screen(showing, batch))


def _enter_offers(definition: FlowDefinition, state: FlowState, ctx: CustomerContext, event: Event) -> Decision:
    queue = route_offers(definition, state.reason, ctx, event.at)
    # Declined, or already taken (an exit interview leads on to the cancel; going back must not re-offer it).
    queue = tuple(o for o in queue if o not in state.offers_declined and o != state.accepted_offer)
    return _show_next_offers(definition, dataclasses.replace(state, offer_queue=queue))


def _clean_text(field: str, text: str) -> str:
    cleaned = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t").strip()
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput(field, f"Please keep this under {MAX_TEXT} characters.")
    return cleaned


# ---------------------------------------------------------------------------- handlers
def _on_started(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    # A returning customer with something pending (set to end, paused, a plan change scheduled) is first
    # offered to undo it; asking again why they leave could cancel twice. See flows.returning.
    returning = returning_step(ctx.snapshot, e.at, ctx.policy.capabilities)
    if returning is not None:
        step, offer_id = returning
        extend = extension_offers(d.offers, ctx.snapshot, e.at) if step is StepKind.PAUSED else ()
        return Decision(_with_screen(dataclasses.replace(s, step=step), [offer_id, *extend]))
    return _to_first_step(d, s, e, ctx)


def _to_first_step(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    """The usual flow from its start (also "Continue to cancel" from the paused step)."""
    first, s = _first_step(d), _with_screen(s, ())
    return _enter_offers(d, s, ctx, e) if first is None else Decision(dataclasses.replace(s, step=first))


def _on_continued(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    if d.survey:
        return Decision(dataclasses.replace(s, step=StepKind.SURVEY))
    return _enter_offers(d, s, ctx, e)


def _on_reason(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    assert isinstance(e, ReasonChosen)
    reason = d.reason(e.reason)
    if reason is None:
        raise InvalidInput("reason", "Please choose one of the reasons.")
    comment = _clean_text("comment", e.comment) if reason.follow_up is not FollowUp.NONE else ""
    if reason.follow_up is FollowUp.REQUIRED and not comment:
        raise InvalidInput("comment", "Please tell us a little more.")
    chosen = dataclasses.replace(s, reason=reason.id, comment=comment or None, notice=None)
    return _enter_offers(d, chosen, ctx, e)


def _on_offer_accepted(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    assert isinstance(e, OfferAccepted)
    offer = d.offer(e.offer_id)
    if e.offer_id not in s.on_screen or offer is None:  # only a card on screen can be taken
        raise InvalidTransition(s.step, e)
    # Retried under the same key after an unknown outcome: the same request, whatever is picked now.
    picked = s.chosen_length.key if s.unsettled_offer == offer.id and s.chosen_length else e.length
    try:  # a pause (or an extension) is taken for the length picked on its card
        offer, length = pin_choice(offer, d.offers, ctx.snapshot, e.at, picked)
    except LengthNotOffered:
        raise InvalidInput("length", "Please choose one of the lengths.") from None
    action = offer_action(offer.id)
    attempt = s.attempt(action)
    key = idempotency_key(s.session_id, action, attempt)
    pending = dataclasses.replace(s, step=StepKind.OFFER_PENDING, accepted_offer=offer.id, notice=None)
    pending = dataclasses.replace(pending, chosen_length=length)
    return Decision(pending, (ApplyOffer(offer=offer, idempotency_key=key, attempt=attempt),))


def _on_offer_declined(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    """A "No thanks" declines every card on screen, then shows the next batch (or the cancel path).

    The event names one card (the widget sends the first): a stale tab's second "No thanks" names a card
    that is no longer up and is refused, rather than declining a batch the user never saw.
    """
    assert isinstance(e, OfferDeclined)
    if e.offer_id not in s.on_screen:
        raise InvalidTransition(s.step, e)
    newly = tuple(o for o in s.on_screen if o not in s.offers_declined)
    declined = dataclasses.replace(s, offers_declined=(*s.offers_declined, *newly), notice=None)
    return _show_next_offers(d, _with_screen(declined, ()))


def _on_offer_applied(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    assert isinstance(e, OfferApplied)
    if e.offer_id != s.accepted_offer:
        raise InvalidTransition(s.step, e)
    offer = d.offer(e.offer_id)
    kind = offer.kind if offer is not None else None
    if kind is OfferKind.EXIT_INTERVIEW:  # a call about leaving, not a reason to stay: on to the cancel
        booked = dataclasses.replace(s, notice=None, result_summary=e.summary)
        return _to_cancel_path(d, booked, user_asked=False)  # taking a card is not a cancel request
    outcome = APPLIED_OUTCOMES.get(kind, Outcome.SAVED) if kind is not None else Outcome.SAVED
    done = dataclasses.replace(s, step=StepKind.DONE, outcome=outcome, notice=None, result_summary=e.summary)
    # An undone cancellation (flows.undo_cancel) no longer ends; no other applied offer had an end to clear.
    return Decision(_with_screen(dataclasses.replace(done, cancel_effective_at=None), ()))


def _on_offer_failed(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    assert isinstance(e, OfferFailed)
    if e.offer_id != s.accepted_offer:
        raise InvalidTransition(s.step, e)
    # Back to where it was taken: the offers, a returning customer's step, or the cancelled done screen.
    step, outcome = failed_back_to(s, e.offer_id)
    back = dataclasses.replace(s, step=step, outcome=outcome)
    back = dataclasses.replace(back, accepted_offer=None, unsettled_offer=None)
    if not e.definitive:
        # Transient: the same offer stays up; a retry reuses the same key (and so the same length).
        return Decision(dataclasses.replace(back, notice=Notice.OFFER_FAILED, unsettled_offer=e.offer_id))
    # Definitive: this offer cannot be applied. The other cards stay up; with none left, move on to the
    # next batch (a fresh key for any retry).
    moved = dataclasses.replace(
        back, attempts=s.bump_attempt(offer_action(e.offer_id)), offers_declined=(*s.offers_declined, e.offer_id)
    )
    moved = _with_screen(moved, [o for o in s.on_screen if o != e.offer_id])
    if moved.on_screen or back.step is not StepKind.OFFER:  # from a returning step: nothing to move on to
        return Decision(dataclasses.replace(moved, notice=Notice.OFFER_UNAVAILABLE))
    decision = _show_next_offers(d, moved, user_asked=False)
    return Decision(dataclasses.replace(decision.state, notice=Notice.OFFER_UNAVAILABLE), decision.effects)


def _on_feedback(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    assert isinstance(e, FeedbackGiven)
    given = dataclasses.replace(s, feedback=_clean_text("feedback", e.text))
    if d.confirm:
        return Decision(dataclasses.replace(given, step=StepKind.CONFIRM))
    return _cancel(d, given)


def _on_cancel_requested(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    if not ctx.click_to_cancel(d):
        raise InvalidTransition(s.step, e)
    # Click-to-cancel is at most two clicks from every step: to the confirm step, except on the step the
    # first step's one way on ("Continue to cancel") leads to, where that click was the first of the two.
    if d.confirm and s.step is not _step_after_first(d):
        return Decision(dataclasses.replace(_with_screen(s, ()), step=StepKind.CONFIRM, notice=None))
    return _cancel(d, _with_screen(s, ()))


def _on_cancel_confirmed(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    return _cancel(d, s)


def _on_cancel_applied(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    assert isinstance(e, CancelApplied)
    done = dataclasses.replace(
        s, step=StepKind.DONE, outcome=Outcome.CANCELLED, notice=None, cancel_effective_at=e.effective_at
    )
    return Decision(_with_screen(done, undo_offers(d, s, e, ctx)))  # "Changed your mind?" (flows.undo_cancel)


def _on_undo_cancel(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    """ "Keep my subscription" on the cancelled done screen (its one card): no outcome until billing answers."""
    taken = _on_offer_accepted(d, s, e, ctx)
    return Decision(dataclasses.replace(taken.state, outcome=None), taken.effects)


def _on_cancel_failed(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    assert isinstance(e, CancelFailed)
    attempts = s.bump_attempt(CANCEL_ACTION) if e.definitive else s.attempts
    return Decision(dataclasses.replace(s, step=StepKind.CONFIRM, notice=Notice.CANCEL_FAILED, attempts=attempts))


def _on_went_back(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    if s.step is StepKind.SURVEY and d.loss_aversion:
        return Decision(dataclasses.replace(s, step=StepKind.LOSS_AVERSION, notice=None))
    if s.step is not StepKind.SURVEY and d.survey:
        # Back to the survey: the reason and its offers are chosen again; declines are remembered.
        return Decision(
            dataclasses.replace(_with_screen(s, ()), step=StepKind.SURVEY, offer_queue=(), notice=None, feedback=None)
        )
    raise InvalidTransition(s.step, e)


def _on_closed(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    """Closed the widget, or timed out: abandoned (an explicit "Keep my subscription" is `Kept`)."""
    return Decision(dataclasses.replace(_with_screen(s, ()), step=StepKind.DONE, outcome=Outcome.ABANDONED))


def _on_kept(d: FlowDefinition, s: FlowState, e: Event, ctx: CustomerContext) -> Decision:
    return Decision(
        dataclasses.replace(_with_screen(s, ()), step=StepKind.DONE, outcome=Outcome.KEPT, accepted_offer=None)
    )


# Leaving without finishing is possible on every step the user sees (never while billing is in flight).
_LEAVE: dict[type[Event], Handler] = {Closed: _on_closed, TimedOut: _on_closed, Kept: _on_kept}
_ANY_USER_STEP: dict[type[Event], Handler] = {CancelRequested: _on_cancel_requested, **_LEAVE}

TRANSITIONS: dict[StepKind, dict[type[Event], Handler]] = {
    StepKind.NEW: {Started: _on_started},
    StepKind.LOSS_AVERSION: {Continued: _on_continued, **_ANY_USER_STEP},
    StepKind.SURVEY: {ReasonChosen: _on_reason, WentBack: _on_went_back, **_ANY_USER_STEP},
    StepKind.OFFER: {
        OfferAccepted: _on_offer_accepted,
        OfferDeclined: _on_offer_declined,
        WentBack: _on_went_back,
        **_ANY_USER_STEP,
    },
    StepKind.OFFER_PENDING: {OfferApplied: _on_offer_applied, OfferFailed: _on_offer_failed},
    StepKind.FEEDBACK: {FeedbackGiven: _on_feedback, WentBack: _on_went_back, **_ANY_USER_STEP},
    StepKind.CONFIRM: {CancelConfirmed: _on_cancel_confirmed, WentBack: _on_went_back, **_LEAVE},
    StepKind.CANCEL_PENDING: {CancelApplied: _on_cancel_applied, CancelFailed: _on_cancel_failed},
    StepKind.ENDING: {OfferAccepted: _on_offer_accepted, Closed: _on_closed, TimedOut: _on_closed},
    StepKind.PAUSED: {
        OfferAccepted: _on_offer_accepted,
        Continued: _to_first_step,
        CancelRequested: _on_cancel_requested,
        Closed: _on_closed,
        TimedOut: _on_closed,
    },
    StepKind.DONE: {OfferAccepted: _on_undo_cancel},
}
# A scheduled plan change: undo it, go on to the usual flow, or cancel in two clicks, as when paused.
TRANSITIONS[StepKind.DOWNGRADE_SCHEDULED] = dict(TRANSITIONS[StepKind.PAUSED])
assert set(TRANSITIONS) == set(StepKind), "every step needs a row in TRANSITIONS"
assert set(TRANSITIONS) >= USER_STEPS


def decide(definition: FlowDefinition, state: FlowState, event: Event, ctx: CustomerContext) -> Decision:
    """Apply one event to the state and say which billing effects must now run.

    Raises:
        InvalidTransition: the event is not accepted in the current step.
        InvalidInput: the event's data is not acceptable (the step stays as it was).
    """
    handler = TRANSITIONS[state.step].get(type(event))
    if handler is None:
        raise InvalidTransition(state.step, event)
    decision = handler(definition, state, event, ctx)
    return Decision(dataclasses.replace(decision.state, version=state.version + 1), decision.effects)


def replay(
    definition: FlowDefinition, ctx: CustomerContext, session_id: SessionId, events: Iterable[Event]
) -> FlowState:
    """Fold a stored event log back into state (the log only holds events `decide` accepted)."""
    state = initial_state(session_id)
    for event in events:
        state = decide(definition, state, event, ctx).state
    return state
