"""The flow state machine, table-driven: every (step, event) pair, then the behaviour a cancelling user sees.

One offer at a time, as every flow stored before cards behaves; test_offer_cards.py covers several at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from flows import (
    EVENT_TYPES,
    TRANSITIONS,
    ApplyOffer,
    CancelApplied,
    CancelConfirmed,
    CancelFailed,
    CancelRequested,
    CancelSubscription,
    Closed,
    Continued,
    CustomerContext,
    Event,
    FeedbackGiven,
    FlowDefinition,
    FlowState,
    InvalidInput,
    InvalidTransition,
    Notice,
    OfferAccepted,
    OfferApplied,
    OfferDeclined,
    OfferFailed,
    Outcome,
    ReasonChosen,
    ReasonId,
    Started,
    StepKind,
    WentBack,
    decide,
    initial_state,
)
from flows.defaults import DOWNGRADE, PAUSE, TRAINING, TRIAL
from flows.events import Kept, TimedOut
from flows.machine import MAX_TEXT
from offers import OfferId
from offers.model import REACTIVATE, RESUME, UNDO_DOWNGRADE, with_length
from tests.factories import NOW, SID, make_context, make_definition, make_snapshot, make_trialing_snapshot, walk


def one_at_a_time(**overrides: Any) -> FlowDefinition:
    return make_definition(offers_per_step=1, max_offers=2, **overrides)


DEFAULT = one_at_a_time()
CTX = make_context()
START: tuple[Event, ...] = (Started(at=NOW), Continued(at=NOW))


def reason(rid: str, comment: str = "") -> ReasonChosen:
    return ReasonChosen(at=NOW, reason=ReasonId(rid), comment=comment)


def accept(offer_id: OfferId) -> OfferAccepted:
    return OfferAccepted(at=NOW, offer_id=offer_id)


def decline(offer_id: OfferId) -> OfferDeclined:
    return OfferDeclined(at=NOW, offer_id=offer_id)


def state_after(
    events: tuple[Event, ...], definition: FlowDefinition = DEFAULT, ctx: CustomerContext = CTX
) -> FlowState:
    decisions = walk(definition, ctx, events)
    return decisions[-1].state if decisions else initial_state(SID)


AT_OFFER = (*START, reason("too_expensive"))  # pause shown first, then downgrade
AT_CONFIRM = (*AT_OFFER, CancelRequested(at=NOW))
FEEDBACK_DEF = one_at_a_time(feedback=True)
DAYS_12 = timedelta(days=12)  # CTX renews then

# ---------------------------------------------------------------------------- (a) the full table
PATHS: dict[StepKind, tuple[FlowDefinition, tuple[Event, ...]]] = {
    StepKind.NEW: (DEFAULT, ()),
    StepKind.LOSS_AVERSION: (DEFAULT, START[:1]),
    StepKind.SURVEY: (DEFAULT, START),
    StepKind.OFFER: (DEFAULT, AT_OFFER),
    StepKind.OFFER_PENDING: (DEFAULT, (*AT_OFFER, accept(PAUSE))),
    StepKind.FEEDBACK: (FEEDBACK_DEF, (*AT_OFFER, decline(PAUSE), decline(DOWNGRADE))),
    StepKind.CONFIRM: (DEFAULT, AT_CONFIRM),
    StepKind.CANCEL_PENDING: (DEFAULT, (*AT_CONFIRM, CancelConfirmed(at=NOW))),
    StepKind.DONE: (DEFAULT, (*AT_CONFIRM, CancelConfirmed(at=NOW), CancelApplied(at=NOW, effective_at=NOW + DAYS_12))),
    StepKind.ENDING: (DEFAULT, (Started(at=NOW),)),  # in RETURNING[step]: set to cancel, or paused
    StepKind.PAUSED: (DEFAULT, (Started(at=NOW),)),
    StepKind.DOWNGRADE_SCHEDULED: (DEFAULT, (Started(at=NOW),)),
}
RETURNING = {
    StepKind.DONE: (CTX, REACTIVATE.id),  # cancelled to the period end: "Changed your mind?" (test_undo_cancel.py)
    StepKind.ENDING: (make_context(snapshot=make_snapshot(cancel_at_period_end=True)), REACTIVATE.id),
    StepKind.PAUSED: (make_context(snapshot=make_snapshot(paused_until=NOW + timedelta(days=30))), RESUME.id),
    StepKind.DOWNGRADE_SCHEDULED: (
        make_context(snapshot=make_snapshot(scheduled_price_id="price_starter_monthly")),
        UNDO_DOWNGRADE.id,
    ),
}

REPRESENTATIVE: dict[type[Event], Event] = {
    Started: Started(at=NOW),
    Continued: Continued(at=NOW),
    ReasonChosen: reason("too_expensive"),
    OfferAccepted: accept(PAUSE),
    OfferDeclined: decline(PAUSE),
    OfferApplied: OfferApplied(at=NOW, offer_id=PAUSE, summary="Paused"),
    OfferFailed: OfferFailed(at=NOW, offer_id=PAUSE, definitive=False),
    FeedbackGiven: FeedbackGiven(at=NOW, text="meh"),
    CancelRequested: CancelRequested(at=NOW),
    CancelConfirmed: CancelConfirmed(at=NOW),
    CancelApplied: CancelApplied(at=NOW, effective_at=NOW),
    CancelFailed: CancelFailed(at=NOW, definitive=False),
    WentBack: WentBack(at=NOW),
    Closed: Closed(at=NOW),
    Kept: Kept(at=NOW),
    TimedOut: TimedOut(at=NOW),
}

S = StepKind
GONE: dict[type[Event], StepKind] = {Closed: S.DONE, Kept: S.DONE, TimedOut: S.DONE}  # ways out, no billing
LEAVE: dict[type[Event], StepKind] = {CancelRequested: S.CONFIRM, **GONE}  # the cancel link, and the ways out
_ROWS: dict[StepKind, dict[type[Event], StepKind]] = {
    S.NEW: {Started: S.LOSS_AVERSION},
    S.LOSS_AVERSION: {Continued: S.SURVEY, **LEAVE},
    # The survey is where step 1's "Continue to cancel" leads: that was the first of two clicks to cancel.
    S.SURVEY: {ReasonChosen: S.OFFER, WentBack: S.LOSS_AVERSION, **LEAVE, CancelRequested: S.CANCEL_PENDING},
    S.OFFER: {OfferAccepted: S.OFFER_PENDING, OfferDeclined: S.OFFER, WentBack: S.SURVEY, **LEAVE},
    S.OFFER_PENDING: {OfferApplied: S.DONE, OfferFailed: S.OFFER},
    S.FEEDBACK: {FeedbackGiven: S.CONFIRM, WentBack: S.SURVEY, **LEAVE},
    S.CONFIRM: {CancelConfirmed: S.CANCEL_PENDING, WentBack: S.SURVEY, **GONE},
    S.CANCEL_PENDING: {CancelApplied: S.DONE, CancelFailed: S.CONFIRM},
    S.ENDING: {OfferAccepted: S.OFFER_PENDING, Closed: S.DONE, TimedOut: S.DONE},
    S.PAUSED: {
        OfferAccepted: S.OFFER_PENDING,
        Continued: S.LOSS_AVERSION,
        CancelRequested: S.CONFIRM,
        Closed: S.DONE,
        TimedOut: S.DONE,
    },
    S.DOWNGRADE_SCHEDULED: {
        OfferAccepted: S.OFFER_PENDING,
        Continued: S.LOSS_AVERSION,
        CancelRequested: S.CONFIRM,
        Closed: S.DONE,
        TimedOut: S.DONE,
    },
    S.DONE: {OfferAccepted: S.OFFER_PENDING},
}
# The documented result of each accepted (step, event) pair, for the representative event above.
EXPECTED = {(step, cls): target for step, row in _ROWS.items() for cls, target in row.items()}
PAIRS = [(step, cls) for step in TRANSITIONS for cls in EVENT_TYPES.values()]


def test_the_documented_table_is_exactly_the_machine_table() -> None:
    assert set(REPRESENTATIVE) == set(EVENT_TYPES.values())
    assert set(EXPECTED) == {(step, cls) for step, row in TRANSITIONS.items() for cls in row}


@pytest.mark.parametrize(("step", "cls"), PAIRS, ids=[f"{s}-{c.__name__}" for s, c in PAIRS])
def test_every_step_and_event_pair(step: StepKind, cls: type[Event]) -> None:
    definition, path = PATHS[step]
    ctx, built_in = RETURNING.get(step, (CTX, PAUSE))
    state = state_after(path, definition, ctx)
    assert state.step is step
    event = accept(built_in) if cls is OfferAccepted else REPRESENTATIVE[cls]
    if (step, cls) in EXPECTED:
        assert decide(definition, state, event, ctx).state.step is EXPECTED[step, cls]
    else:
        with pytest.raises(InvalidTransition) as caught:
            decide(definition, state, event, ctx)
        assert caught.value.step is step


# ---------------------------------------------------------------------------- (b) offers
def test_too_expensive_shows_pause_then_downgrade_then_confirm() -> None:
    first = state_after(AT_OFFER)
    assert (first.step, first.current_offer) == (StepKind.OFFER, PAUSE)
    second = state_after((*AT_OFFER, decline(PAUSE)))
    assert (second.step, second.current_offer, second.offers_shown) == (StepKind.OFFER, DOWNGRADE, (PAUSE, DOWNGRADE))
    last = walk(DEFAULT, CTX, (*AT_OFFER, decline(PAUSE), decline(DOWNGRADE)))[-1]
    assert last.state.step is StepKind.CONFIRM
    assert last.state.offers_declined == (PAUSE, DOWNGRADE)
    assert last.effects == ()


def test_accepting_an_offer_emits_exactly_one_apply_offer_with_a_deterministic_key() -> None:
    decision = walk(DEFAULT, CTX, (*AT_OFFER, accept(PAUSE)))[-1]
    assert decision.state.step is StepKind.OFFER_PENDING
    assert decision.state.accepted_offer == PAUSE
    # The pause as taken: pinned to its first (preselected) length, since no other was picked.
    taken = with_length(DEFAULT.offers[0], DEFAULT.offers[0].lengths[0])  # type: ignore[union-attr]
    assert decision.effects == (ApplyOffer(offer=taken, idempotency_key=f"sf:{SID}:offer:{PAUSE}:1"),)


def test_a_double_click_on_accept_or_a_stale_offer_is_rejected() -> None:
    with pytest.raises(InvalidTransition):  # the second click of a double-click: no second ApplyOffer
        decide(DEFAULT, state_after((*AT_OFFER, accept(PAUSE))), accept(PAUSE), CTX)
    with pytest.raises(InvalidTransition):  # an offer that is not the one on screen
        decide(DEFAULT, state_after(AT_OFFER), accept(DOWNGRADE), CTX)


def test_offer_applied_finishes_saved_with_the_summary() -> None:
    done = state_after((*AT_OFFER, accept(PAUSE), OfferApplied(at=NOW, offer_id=PAUSE, summary="Paused for 2 months")))
    assert (done.step, done.outcome, done.result_summary) == (StepKind.DONE, Outcome.SAVED, "Paused for 2 months")
    assert done.finished


def test_a_transient_offer_failure_keeps_the_same_offer_and_retries_with_the_same_key() -> None:
    failed = (*AT_OFFER, accept(PAUSE), OfferFailed(at=NOW, offer_id=PAUSE, definitive=False))
    state = state_after(failed)
    assert (state.step, state.current_offer, state.accepted_offer) == (StepKind.OFFER, PAUSE, None)
    assert (state.notice, state.attempt(f"offer:{PAUSE}")) == (Notice.OFFER_FAILED, 1)
    retry = walk(DEFAULT, CTX, (*failed, accept(PAUSE)))[-1]
    assert [e.idempotency_key for e in retry.effects] == [f"sf:{SID}:offer:{PAUSE}:1"]
    assert retry.state.notice is None


def test_a_definitive_offer_failure_moves_on_to_the_next_offer_with_a_fresh_attempt() -> None:
    failed = (*AT_OFFER, accept(PAUSE), OfferFailed(at=NOW, offer_id=PAUSE, definitive=True))
    state = state_after(failed)
    assert (state.step, state.current_offer, state.offers_declined) == (StepKind.OFFER, DOWNGRADE, (PAUSE,))
    assert (state.notice, state.attempt(f"offer:{PAUSE}")) == (Notice.OFFER_UNAVAILABLE, 2)
    retry = walk(DEFAULT, CTX, (*failed, accept(DOWNGRADE)))[-1]
    # Attempts count per action: the downgrade has never been tried, so it starts at 1.
    assert [e.idempotency_key for e in retry.effects] == [f"sf:{SID}:offer:{DOWNGRADE}:1"]


def test_trialing_customers_not_using_it_get_the_trial_extension_first() -> None:
    trialing = make_context(snapshot=make_trialing_snapshot())
    assert state_after((*START, reason("not_using")), ctx=trialing).current_offer == TRIAL
    assert state_after((*START, reason("not_using"))).current_offer == TRAINING


def test_the_holdout_arm_sees_no_offers() -> None:
    state = state_after((*START, reason("too_expensive")), ctx=make_context(holdout=True))
    assert (state.step, state.offers_shown) == (StepKind.CONFIRM, ())


# ---------------------------------------------------------------------------- (b) reasons and comments
def test_an_unknown_reason_is_invalid_input_on_the_reason_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        walk(DEFAULT, CTX, (*START, reason("bogus")))
    assert caught.value.field == "reason"


@pytest.mark.parametrize("comment", ["", "   ", "\n\t ", "\x00\x07"])
def test_other_requires_a_real_comment(comment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        walk(DEFAULT, CTX, (*START, reason("other", comment)))
    assert caught.value.field == "comment"


def test_other_with_a_comment_goes_on_and_the_cancellation_carries_it() -> None:
    decisions = walk(DEFAULT, CTX, (*START, reason("other", "  Moving abroad "), CancelConfirmed(at=NOW)))
    assert decisions[2].state.step is StepKind.CONFIRM  # "other" has no offers and no final offer is set
    key = f"sf:{SID}:cancel:1"
    assert decisions[-1].effects == (CancelSubscription(True, "other", "Moving abroad", idempotency_key=key),)


def test_control_characters_are_stripped_from_the_comment_but_newlines_kept() -> None:
    state = state_after((*START, reason("too_expensive", "\x00Too\x1b pricey\x07\nreally ")))
    assert state.comment == "Too pricey\nreally"


def test_comments_are_limited_to_max_text_characters() -> None:
    assert state_after((*START, reason("too_expensive", "x" * MAX_TEXT))).comment == "x" * MAX_TEXT
    with pytest.raises(InvalidInput) as caught:
        walk(DEFAULT, CTX, (*START, reason("too_expensive", "x" * (MAX_TEXT + 1))))
    assert caught.value.field == "comment"


# ---------------------------------------------------------------------------- (b) cancelling
@pytest.mark.parametrize("step", [S.LOSS_AVERSION, S.SURVEY, S.OFFER, S.FEEDBACK], ids=str)
@pytest.mark.parametrize(("always", "country"), [(True, None), (False, None), (False, "DE"), (False, "de")])
def test_cancel_link_from_every_user_step(step: StepKind, always: bool, country: str | None) -> None:
    definition, path = PATHS[step]
    definition = replace(definition, cancel_always_available=always, click_to_cancel_countries=("FR", "DE"))
    ctx = make_context(country=country)
    state = state_after(path, definition, ctx)
    assert state.step is step
    if always or country:  # click-to-cancel is on everywhere, or by law in the customer's country
        after = decide(definition, state, CancelRequested(at=NOW), ctx)
        if step is StepKind.SURVEY:  # step 1's "Continue to cancel" was the first click of two
            assert after.state.step is StepKind.CANCEL_PENDING and len(after.effects) == 1
        else:
            assert (after.state.step, after.state.current_offer, after.effects) == (StepKind.CONFIRM, None, ())
    else:
        with pytest.raises(InvalidTransition):
            decide(definition, state, CancelRequested(at=NOW), ctx)


@pytest.mark.parametrize("at_period_end", [True, False])
def test_confirming_emits_one_cancellation_with_reason_and_comment(at_period_end: bool) -> None:
    definition = one_at_a_time(cancel_at_period_end=at_period_end)
    events = (*START, reason("too_expensive", "pricey"), CancelRequested(at=NOW), CancelConfirmed(at=NOW))
    decision = walk(definition, CTX, events)[-1]
    assert decision.state.step is StepKind.CANCEL_PENDING
    key = f"sf:{SID}:cancel:1"
    assert decision.effects == (CancelSubscription(at_period_end, "too_expensive", "pricey", idempotency_key=key),)


def test_cancel_applied_finishes_cancelled_with_the_effective_date() -> None:
    effective = NOW + timedelta(days=12)
    done = state_after((*AT_CONFIRM, CancelConfirmed(at=NOW), CancelApplied(at=NOW, effective_at=effective)))
    assert (done.step, done.outcome, done.cancel_effective_at) == (StepKind.DONE, Outcome.CANCELLED, effective)


@pytest.mark.parametrize(("definitive", "next_key"), [(True, "cancel:2"), (False, "cancel:1")])
def test_a_failed_cancellation_returns_to_confirm_with_a_notice(definitive: bool, next_key: str) -> None:
    failed = (*AT_CONFIRM, CancelConfirmed(at=NOW), CancelFailed(at=NOW, definitive=definitive))
    state = state_after(failed)
    assert (state.step, state.notice, state.outcome) == (StepKind.CONFIRM, Notice.CANCEL_FAILED, None)
    assert state.attempt("cancel") == (2 if definitive else 1)
    retry = walk(DEFAULT, CTX, (*failed, CancelConfirmed(at=NOW)))[-1]
    assert [e.idempotency_key for e in retry.effects] == [f"sf:{SID}:{next_key}"]


@pytest.mark.parametrize("step", [s for s in PATHS if s in {S.LOSS_AVERSION, S.SURVEY, S.OFFER, S.FEEDBACK, S.CONFIRM}])
def test_closing_the_widget_from_any_user_step_abandons(step: StepKind) -> None:
    definition, path = PATHS[step]
    decision = walk(definition, CTX, (*path, Closed(at=NOW)))[-1]
    assert (decision.state.step, decision.state.outcome, decision.effects) == (StepKind.DONE, Outcome.ABANDONED, ())


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=lambda c: c.__name__)
def test_nothing_is_accepted_after_done(cls: type[Event]) -> None:
    confirmed = (*AT_CONFIRM, CancelConfirmed(at=NOW))
    saved = (*AT_OFFER, accept(PAUSE), OfferApplied(at=NOW, offer_id=PAUSE))
    for path in ((Started(at=NOW), Closed(at=NOW)), saved, (*confirmed, CancelApplied(at=NOW, effective_at=NOW))):
        done = state_after(path)
        assert done.step is StepKind.DONE
        with pytest.raises(InvalidTransition):
            decide(DEFAULT, done, REPRESENTATIVE[cls], CTX)


# ---------------------------------------------------------------------------- (b) going back and toggles
def test_going_back_walks_survey_to_loss_aversion_and_offer_or_confirm_to_survey() -> None:
    assert state_after((*START, WentBack(at=NOW))).step is StepKind.LOSS_AVERSION
    back = state_after((*AT_OFFER, WentBack(at=NOW)))
    assert (back.step, back.current_offer, back.offer_queue) == (StepKind.SURVEY, None, ())
    assert state_after((*AT_CONFIRM, WentBack(at=NOW))).step is StepKind.SURVEY
    no_intro = one_at_a_time(loss_aversion=False)
    with pytest.raises(InvalidTransition):
        walk(no_intro, CTX, (Started(at=NOW), WentBack(at=NOW)))


def test_after_going_back_a_declined_offer_is_not_shown_again() -> None:
    state = state_after((*AT_OFFER, decline(PAUSE), WentBack(at=NOW), reason("too_expensive")))
    assert (state.step, state.current_offer) == (StepKind.OFFER, DOWNGRADE)


def test_without_loss_aversion_the_flow_starts_at_the_survey() -> None:
    assert state_after(START[:1], one_at_a_time(loss_aversion=False)).step is StepKind.SURVEY


def test_without_a_survey_only_the_final_offer_is_shown_or_confirm() -> None:
    with_final = one_at_a_time(survey=False, final_offer_id=DOWNGRADE)
    state = state_after(START, with_final)
    assert (state.step, state.reason, state.current_offer) == (StepKind.OFFER, None, DOWNGRADE)
    assert state_after(START, one_at_a_time(survey=False)).step is StepKind.CONFIRM
    straight = one_at_a_time(survey=False, loss_aversion=False, final_offer_id=DOWNGRADE)
    assert state_after(START[:1], straight).current_offer == DOWNGRADE
    with pytest.raises(InvalidTransition):  # nothing to go back to
        walk(with_final, CTX, (*START, WentBack(at=NOW)))


def test_feedback_is_asked_before_confirm_and_kept() -> None:
    path = PATHS[StepKind.FEEDBACK][1]
    state = state_after((*path, FeedbackGiven(at=NOW, text=" more exports\x00 ")), FEEDBACK_DEF)
    assert (state.step, state.feedback) == (StepKind.CONFIRM, "more exports")


def test_without_confirm_declining_the_last_offer_cancels_right_away() -> None:
    definition = one_at_a_time(confirm=False)
    decision = walk(definition, CTX, (*AT_OFFER, decline(PAUSE), decline(DOWNGRADE)))[-1]
    assert decision.state.step is StepKind.CANCEL_PENDING
    assert [type(e) for e in decision.effects] == [CancelSubscription]


def test_a_failed_accepted_offer_never_cancels_without_the_user() -> None:
    definition = one_at_a_time(confirm=False)
    events = (*START, reason("temporary"), accept(PAUSE), OfferFailed(at=NOW, offer_id=PAUSE, definitive=True))
    decision = walk(definition, CTX, events)[-1]
    assert decision.effects == ()
    assert decision.state.step is not StepKind.CANCEL_PENDING


def test_an_offer_with_an_unknown_outcome_is_retried_with_its_original_key() -> None:
    unknown = (*START, reason("temporary"), accept(PAUSE), OfferFailed(at=NOW, offer_id=PAUSE, definitive=False))
    cancel_fails = (CancelRequested(at=NOW), CancelConfirmed(at=NOW), CancelFailed(at=NOW, definitive=True))
    again = (WentBack(at=NOW), reason("temporary"), accept(PAUSE))
    decision = walk(DEFAULT, CTX, (*unknown, *cancel_fails, *again))[-1]
    assert [e.idempotency_key for e in decision.effects] == [f"sf:{SID}:offer:{PAUSE}:1"]
