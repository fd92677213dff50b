"""Definition validation, reason ordering, routing limits and the generated diagram."""

from __future__ import annotations

from dataclasses import replace

from flows import TRANSITIONS, FlowDefinition, ReasonId, StepKind, reason_order, route_offers, validate_definition
from flows.defaults import DISCOUNT, DOWNGRADE, PAUSE
from flows.diagram import ANY_STEP_TARGETS, TARGETS, mermaid
from offers import OfferId, PauseOffer
from tests.factories import NOW, make_context, make_definition, make_snapshot


def test_the_shipped_definition_is_valid_and_covers_the_seed_reasons() -> None:
    definition = make_definition()
    assert validate_definition(definition) == []
    assert [r.id for r in definition.reasons] == [
        "too_expensive",
        "not_using",
        "no_value",
        "missing_features",
        "temporary",
        "competitor",
        "technical",
        "other",
    ]


def test_broken_definitions_list_every_problem() -> None:
    base = make_definition()
    first = base.offers[0]
    assert isinstance(first, PauseOffer)
    bad_pause = replace(first, lengths=())
    broken = replace(
        base,
        reasons=(*base.reasons, replace(base.reasons[0], offer_ids=(OfferId("ghost"), PAUSE, PAUSE))),
        offers=(bad_pause, *base.offers[1:]),
        final_offer_id=OfferId("nowhere"),
        max_offers=9,
    )
    problems = validate_definition(broken)
    assert any("share an id" in p for p in problems)
    assert any("ghost" in p for p in problems)
    assert any("lists the same offer twice" in p for p in problems)
    assert any("nowhere" in p for p in problems)
    assert any("a pause needs at least one length" in p for p in problems)
    assert any("between 0 and 5" in p for p in problems)


def test_shuffled_reasons_are_stable_per_session_and_keep_other_last() -> None:
    definition = make_definition(randomize_reasons=True)
    first = reason_order(definition, "ses_a")
    assert reason_order(definition, "ses_a") == first
    assert first[-1].id == "other"
    assert {r.id for r in first} == {r.id for r in definition.reasons}
    orders = {tuple(r.id for r in reason_order(definition, f"ses_{i}")) for i in range(20)}
    assert len(orders) > 1
    assert reason_order(make_definition(), "ses_a") == make_definition().reasons


def test_routing_ranks_dedupes_the_final_offer_and_caps() -> None:
    ctx = make_context()
    definition = make_definition(final_offer_id=DISCOUNT, max_offers=3)
    assert route_offers(definition, ReasonId("too_expensive"), ctx, NOW) == (PAUSE, DOWNGRADE, DISCOUNT)
    assert route_offers(replace(definition, max_offers=1), ReasonId("too_expensive"), ctx, NOW) == (PAUSE,)
    assert route_offers(replace(definition, final_offer_id=PAUSE), ReasonId("too_expensive"), ctx, NOW) == (
        PAUSE,
        DOWNGRADE,
    )
    paused = make_context(snapshot=make_snapshot(paused_until=NOW.replace(year=2027)))
    assert route_offers(definition, ReasonId("too_expensive"), paused, NOW) == (DOWNGRADE, DISCOUNT)
    assert route_offers(definition, None, ctx, NOW) == (DISCOUNT,)
    assert route_offers(definition, ReasonId("too_expensive"), make_context(holdout=True), NOW) == ()


def test_the_diagram_is_generated_from_the_transition_table() -> None:
    table = {(step, event.__name__) for step, handlers in TRANSITIONS.items() for event in handlers}
    described = set(TARGETS) | {(s, e) for s, e in table if e in ANY_STEP_TARGETS}
    assert table == described, "every transition has its targets listed for the diagram"
    text = mermaid({(StepKind.OFFER, StepKind.OFFER_PENDING)})
    assert text.startswith("stateDiagram-v2")
    assert "offer --> offer_pending: OfferAccepted ✔" in text
    assert "confirm --> cancel_pending: CancelConfirmed" in text


def test_definition_is_plain_data() -> None:
    assert isinstance(make_definition(), FlowDefinition)
