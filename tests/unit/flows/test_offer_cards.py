"""Several offers on screen at once, as cards: batches in routing order, one click takes one card, "No thanks"
declines the whole screen, the per-session budget still holds, and flows stored before cards behave as before."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows import (
    ApplyOffer,
    CancelRequested,
    Event,
    FlowDefinition,
    FlowState,
    InvalidTransition,
    Notice,
    OfferApplied,
    OfferFailed,
    Outcome,
    StepKind,
    WentBack,
    decide,
    default_definition,
    replay,
    validate_definition,
)
from flows.defaults import CONTACT, DISCOUNT, DOWNGRADE, FREE_PLAN, PAUSE, TRAINING, TRIAL
from flows.model import MAX_OFFERS_PER_STEP
from tests.factories import NOW, SID, make_context, make_definition, make_trialing_snapshot
from tests.unit.flows.test_machine import START, accept, decline, reason, state_after

S = StepKind
CARDS = make_definition()  # the shipped flow: up to three cards, three offers per session
CTX = make_context()
NO_VALUE = (*START, reason("no_value"))  # training, pause and the discount, in that order


def after(events: tuple[Event, ...], definition: FlowDefinition = CARDS) -> FlowState:
    return state_after(events, definition)


def test_the_shipped_flow_shows_every_routed_offer_at_once_best_first() -> None:
    assert (CARDS.offers_per_step, CARDS.max_offers) == (3, 3)
    state = after(NO_VALUE)
    assert (state.step, state.on_screen, state.current_offer) == (S.OFFER, (TRAINING, PAUSE, DISCOUNT), TRAINING)
    assert state.offers_shown == (TRAINING, PAUSE, DISCOUNT)  # every card counts as shown, in order
    assert state.offer_queue == ()


@pytest.mark.parametrize("chosen", [TRAINING, PAUSE, DISCOUNT])
def test_any_card_on_screen_can_be_taken_with_one_click(chosen: str) -> None:
    decision = decide(CARDS, after(NO_VALUE), accept(chosen), CTX)  # type: ignore[arg-type]
    assert (decision.state.step, decision.state.accepted_offer) == (S.OFFER_PENDING, chosen)
    taken = CARDS.accepted(decision.state)  # a pause pinned to its first (preselected) length
    assert decision.effects == (ApplyOffer(offer=taken, idempotency_key=f"sf:{SID}:offer:{chosen}:1"),)  # type: ignore[arg-type]
    assert decision.state.offers_declined == ()  # the other cards were seen, not refused


def test_only_a_card_on_screen_can_be_taken_and_only_once() -> None:
    with pytest.raises(InvalidTransition):
        decide(CARDS, after(NO_VALUE), accept(DOWNGRADE), CTX)  # routed nowhere near this reason
    pending = after((*NO_VALUE, accept(PAUSE)))
    for other in (PAUSE, DISCOUNT):  # a double click, or a second card while the first is applied
        with pytest.raises(InvalidTransition):
            decide(CARDS, pending, accept(other), CTX)


def test_no_thanks_declines_every_card_and_moves_on() -> None:
    decision = decide(CARDS, after(NO_VALUE), decline(TRAINING), CTX)
    assert (decision.state.step, decision.state.on_screen, decision.effects) == (S.CONFIRM, (), ())
    assert decision.state.offers_declined == (TRAINING, PAUSE, DISCOUNT)


def test_a_stale_no_thanks_never_declines_a_screen_the_user_did_not_see() -> None:
    two_per_step = replace(CARDS, offers_per_step=2)
    second = after((*NO_VALUE, decline(TRAINING)), two_per_step)
    assert (second.step, second.on_screen) == (S.OFFER, (DISCOUNT,))
    with pytest.raises(InvalidTransition):  # the first screen's "No thanks", sent again from a stale tab
        decide(two_per_step, second, decline(TRAINING), CTX)


@pytest.mark.parametrize(
    ("per_step", "screens"),
    [
        (1, [(TRAINING,), (PAUSE,), (DISCOUNT,)]),
        (2, [(TRAINING, PAUSE), (DISCOUNT,)]),
        (3, [(TRAINING, PAUSE, DISCOUNT)]),
    ],
)
def test_offers_come_in_batches_of_offers_per_step(per_step: int, screens: list[tuple[str, ...]]) -> None:
    definition = replace(CARDS, offers_per_step=per_step)
    state, seen = after(NO_VALUE, definition), []
    while state.step is S.OFFER:
        seen.append(state.on_screen)
        state = decide(definition, state, decline(state.on_screen[-1]), CTX).state  # any card names the screen
    assert (seen, state.step) == (screens, S.CONFIRM)


@pytest.mark.parametrize(("max_offers", "cards"), [(0, ()), (1, (TRAINING,)), (2, (TRAINING, PAUSE))])
def test_the_session_budget_caps_the_cards(max_offers: int, cards: tuple[str, ...]) -> None:
    state = after(NO_VALUE, replace(CARDS, max_offers=max_offers))
    assert (state.on_screen, state.offers_shown) == (cards, cards)


def test_the_budget_spans_reasons_with_cards_too() -> None:
    budget = replace(CARDS, max_offers=3)
    back = after((*START, reason("too_expensive"), WentBack(at=NOW), reason("no_value")), budget)
    # Pause and downgrade were shown; one new offer fits: training, then the pause again (already counted).
    assert (back.on_screen, back.offers_shown) == ((TRAINING, PAUSE), (PAUSE, DOWNGRADE, TRAINING))
    declined = after((*START, reason("too_expensive"), decline(PAUSE), WentBack(at=NOW), reason("no_value")), budget)
    assert declined.on_screen == (TRAINING,)  # the declined pause never comes back


def test_going_back_or_the_cancel_link_clears_the_cards() -> None:
    assert after((*NO_VALUE, WentBack(at=NOW))).on_screen == ()
    confirm = after((*NO_VALUE, CancelRequested(at=NOW)))
    assert (confirm.step, confirm.on_screen, confirm.offers_declined) == (S.CONFIRM, (), ())


def test_a_definitive_failure_drops_only_that_card() -> None:
    failed = after((*NO_VALUE, accept(PAUSE), OfferFailed(at=NOW, offer_id=PAUSE, definitive=True)))
    assert (failed.step, failed.on_screen, failed.notice) == (S.OFFER, (TRAINING, DISCOUNT), Notice.OFFER_UNAVAILABLE)
    assert (failed.offers_declined, failed.attempt(f"offer:{PAUSE}")) == ((PAUSE,), 2)
    transient = after((*NO_VALUE, accept(PAUSE), OfferFailed(at=NOW, offer_id=PAUSE, definitive=False)))
    assert (transient.on_screen, transient.notice) == ((TRAINING, PAUSE, DISCOUNT), Notice.OFFER_FAILED)


def test_the_last_card_failing_moves_on_without_cancelling() -> None:
    one_card = after((*START, reason("temporary")), replace(CARDS, confirm=False))
    assert one_card.on_screen == (PAUSE,)
    failed = decide(replace(CARDS, confirm=False), one_card, accept(PAUSE), CTX).state
    moved = decide(replace(CARDS, confirm=False), failed, OfferFailed(at=NOW, offer_id=PAUSE, definitive=True), CTX)
    assert (moved.state.step, moved.effects, moved.state.on_screen) == (S.CONFIRM, (), ())


def test_taking_a_card_finishes_with_the_screen_cleared() -> None:
    done = after((*NO_VALUE, accept(DISCOUNT), OfferApplied(at=NOW, offer_id=DISCOUNT, summary="30% off")))
    assert (done.step, done.outcome, done.accepted_offer, done.on_screen) == (S.DONE, Outcome.SAVED, DISCOUNT, ())
    kept = after((*NO_VALUE, accept(TRAINING), OfferApplied(at=NOW, offer_id=TRAINING)))
    assert kept.outcome is Outcome.KEPT


def test_trialing_customers_see_the_trial_extension_beside_the_call() -> None:
    trialing = make_context(snapshot=make_trialing_snapshot())
    state = state_after((*START, reason("not_using")), CARDS, trialing)
    assert state.on_screen == (TRIAL, TRAINING, FREE_PLAN)  # a pause is not offered during a trial


# ---------------------------------------------------------------------------- flows stored before cards
def test_a_definition_without_the_field_shows_one_offer_at_a_time() -> None:
    assert FlowDefinition(key="k", reasons=(), offers=()).offers_per_step == 1
    old = replace(default_definition(), offers_per_step=1, max_offers=2)
    state = after(NO_VALUE, old)
    assert (state.on_screen, state.offer_queue) == ((TRAINING,), (PAUSE,))


def test_an_old_single_offer_log_replays_to_the_state_it_had() -> None:
    old = replace(default_definition(), offers_per_step=1, max_offers=2)
    log = (*START, reason("too_expensive"), decline(PAUSE), accept(DOWNGRADE))
    state = replay(old, CTX, SID, log)
    assert (state.step, state.accepted_offer, state.offers_declined) == (S.OFFER_PENDING, DOWNGRADE, (PAUSE,))
    assert (state.current_offer, state.also_on_screen, state.on_screen) == (DOWNGRADE, (), (DOWNGRADE,))


def test_a_state_stored_before_cards_still_has_its_offer_on_screen() -> None:
    stored = FlowState(session_id=SID, step=S.OFFER, current_offer=CONTACT)  # no `also_on_screen` saved then
    assert stored.on_screen == (CONTACT,)
    assert decide(CARDS, stored, accept(CONTACT), CTX).state.step is S.OFFER_PENDING


@pytest.mark.parametrize(("per_step", "valid"), [(0, False), (1, True), (MAX_OFFERS_PER_STEP, True), (4, False)])
def test_validation_allows_one_to_three_cards(per_step: int, valid: bool) -> None:
    problems = validate_definition(replace(CARDS, offers_per_step=per_step))
    assert (problems == []) is valid
    if not valid:
        assert problems == ["Show 1 to 3 offers at once."]
