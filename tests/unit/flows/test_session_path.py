"""A session's path, replayed from its event log: every step it was really in, and the picture drawn from it."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from flows import (
    CancelApplied,
    CancelConfirmed,
    CancelFailed,
    CancelRequested,
    Closed,
    Continued,
    Event,
    FeedbackGiven,
    FlowDefinition,
    FlowError,
    OfferAccepted,
    OfferApplied,
    OfferDeclined,
    ReasonChosen,
    ReasonId,
    Started,
    StepKind,
    WentBack,
    decide,
    initial_state,
)
from flows.defaults import DOWNGRADE, PAUSE
from flows.diagram import STEP_LABELS, edges, path_diagram, path_edges, session_path
from tests.factories import NOW, SID, make_context, make_definition
from tests.unit.flows.test_properties import PROPERTY_SETTINGS, definitions, moves

S = StepKind
LATER = NOW + timedelta(days=20)
BASE = make_definition(offers_per_step=1, max_offers=2)  # a flow stored before cards: its logs replay as written
CTX = make_context()


def test_a_confirmed_cancel_lights_confirm() -> None:
    log: list[Event] = [
        Started(at=NOW),
        Continued(at=NOW),
        ReasonChosen(at=NOW, reason=ReasonId("too_expensive")),
        OfferDeclined(at=NOW, offer_id=PAUSE),
        OfferDeclined(at=NOW, offer_id=DOWNGRADE),
        CancelConfirmed(at=NOW),
        CancelApplied(at=NOW, effective_at=LATER),
    ]
    path = session_path(BASE, CTX, SID, log)
    assert path == (S.LOSS_AVERSION, S.SURVEY, S.OFFER, S.CONFIRM, S.CANCEL_PENDING, S.DONE)
    assert (S.OFFER, S.CONFIRM) in path_edges(path)


def test_a_save_goes_through_the_offer_and_billing() -> None:
    log: list[Event] = [
        Started(at=NOW),
        Continued(at=NOW),
        ReasonChosen(at=NOW, reason=ReasonId("too_expensive")),
        OfferAccepted(at=NOW, offer_id=PAUSE),
        OfferApplied(at=NOW, offer_id=PAUSE),
    ]
    assert session_path(BASE, CTX, SID, log) == (S.LOSS_AVERSION, S.SURVEY, S.OFFER, S.OFFER_PENDING, S.DONE)


def test_click_to_cancel_and_going_back_are_on_the_path() -> None:
    clicked: list[Event] = [
        Started(at=NOW),
        CancelRequested(at=NOW),
        CancelConfirmed(at=NOW),
        CancelApplied(at=NOW, effective_at=NOW),
    ]
    assert session_path(BASE, CTX, SID, clicked) == (S.LOSS_AVERSION, S.CONFIRM, S.CANCEL_PENDING, S.DONE)
    back: list[Event] = [
        Started(at=NOW),
        Continued(at=NOW),
        ReasonChosen(at=NOW, reason=ReasonId("too_expensive")),
        WentBack(at=NOW),
        ReasonChosen(at=NOW, reason=ReasonId("other"), comment="moving"),
    ]
    path = session_path(BASE, CTX, SID, back)
    assert path == (S.LOSS_AVERSION, S.SURVEY, S.OFFER, S.SURVEY, S.CONFIRM)
    assert (S.OFFER, S.SURVEY) in path_edges(path)


def test_feedback_retries_and_abandoning_early() -> None:
    with_feedback = make_definition(feedback=True, loss_aversion=False)
    log: list[Event] = [
        Started(at=NOW),
        ReasonChosen(at=NOW, reason=ReasonId("other"), comment="x"),
        FeedbackGiven(at=NOW, text="bye"),
        CancelConfirmed(at=NOW),
        CancelFailed(at=NOW, definitive=False),
        CancelConfirmed(at=NOW),
        CancelApplied(at=NOW, effective_at=NOW),
    ]
    assert session_path(with_feedback, CTX, SID, log) == (
        S.SURVEY,
        S.FEEDBACK,
        S.CONFIRM,
        S.CANCEL_PENDING,
        S.CONFIRM,
        S.CANCEL_PENDING,
        S.DONE,
    )
    assert session_path(BASE, CTX, SID, [Started(at=NOW), Closed(at=NOW)]) == (S.LOSS_AVERSION, S.DONE)
    assert session_path(BASE, CTX, SID, []) == ()


def test_a_log_the_definition_refuses_keeps_the_path_so_far() -> None:
    log: list[Event] = [Started(at=NOW), OfferApplied(at=NOW, offer_id=PAUSE)]
    assert session_path(BASE, CTX, SID, log) == (S.LOSS_AVERSION,)


@st.composite
def walks(draw: st.DrawFn) -> tuple[FlowDefinition, list[Event], list[StepKind]]:
    """A random definition and a walk of accepted events, with the step after each (the truth)."""
    definition = draw(definitions())
    state, log, truth = initial_state(SID), list[Event](), list[StepKind]()
    for _ in range(draw(st.integers(1, 12))):
        if state.step is S.DONE:
            break
        event = draw(moves(state))
        try:
            state = decide(definition, state, event, CTX).state
        except FlowError:
            continue
        log.append(event)
        truth.append(state.step)
    return definition, log, truth


@PROPERTY_SETTINGS
@given(walks())
def test_the_path_is_every_step_the_session_was_in(walk: tuple[FlowDefinition, list[Event], list[StepKind]]) -> None:
    definition, log, truth = walk
    path = session_path(definition, CTX, SID, log)
    folded = [s for i, s in enumerate(truth) if i == 0 or truth[i - 1] is not s]
    assert list(path) == folded
    possible = {(a, b) for a, _, b in edges()} | {(S.NEW, b) for b in S}
    assert set(path_edges(path)) <= possible


def test_the_picture_lights_the_path_and_names_it_in_words() -> None:
    path = (S.LOSS_AVERSION, S.SURVEY, S.OFFER, S.CONFIRM, S.CANCEL_PENDING, S.DONE)
    picture = path_diagram(path)
    lit = {n.step for n in picture.nodes if n.visited}
    assert lit == {s.value for s in (S.NEW, *path)}
    taken = {(e.source, e.target) for e in picture.edges if e.taken}
    assert taken == {(a.value, b.value) for a, b in path_edges(path)}
    assert picture.edges[-1].taken  # taken moves are drawn last, on top
    assert picture.summary == "Start → What they'd lose → Reason → Offer → Confirm → Cancelling → Done"
    assert picture.path[0] == ("loss_aversion", STEP_LABELS[S.LOSS_AVERSION])
    assert all(e.d.startswith("M") and " Q" in e.d for e in picture.edges)
