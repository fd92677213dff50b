"""Stored JSON round-trips: definitions (with every offer kind), state, context, events and effects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows import EVENT_TYPES, CustomerContext, FlowState, SessionId, StepKind, default_definition
from flows.effects import ApplyOffer, CancelSubscription
from offers import SubscriptionSnapshot, SubscriptionStatus
from offers.model import OFFER_TYPES
from service.db import codec

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_the_default_definition_round_trips_with_every_offer_kind() -> None:
    definition = default_definition()
    assert {o.kind for o in definition.offers} == set(OFFER_TYPES)  # every kind an editor can make
    assert codec.definition_from_json(codec.definition_to_json(definition)) == definition


def test_state_and_context_round_trip() -> None:
    state = FlowState(session_id=SessionId("ses_1"), step=StepKind.OFFER, offer_queue=("a", "b"), version=3)  # type: ignore[arg-type]
    assert codec.state_from_json(codec.dumps(state)) == state
    snapshot = SubscriptionSnapshot(
        "sub", "cus", SubscriptionStatus.TRIALING, "p", 100, "eur", "year", AT, trial_end=AT
    )
    context = CustomerContext(snapshot=snapshot, holdout=True)
    assert codec.context_from_json(codec.dumps(context)) == context


def test_every_event_type_round_trips_by_name() -> None:
    samples = {
        "ReasonChosen": {"reason": "too_expensive", "comment": "é ✓"},
        "OfferAccepted": {"offer_id": "o"},
        "OfferDeclined": {"offer_id": "o"},
        "OfferApplied": {"offer_id": "o", "summary": "done"},
        "OfferFailed": {"offer_id": "o", "definitive": True},
        "FeedbackGiven": {"text": "hi"},
        "CancelApplied": {"effective_at": AT},
        "CancelFailed": {"definitive": False},
    }
    for name, cls in EVENT_TYPES.items():
        event = cls(at=AT, **samples.get(name, {}))  # type: ignore[arg-type]
        assert codec.event_from_json(codec.event_type_name(event), codec.dumps(event)) == event


def test_effects_round_trip_for_the_sweep() -> None:
    offer = default_definition().offers[0]
    for effect in (
        ApplyOffer(offer=offer, idempotency_key="sf:s:offer:x:1"),
        CancelSubscription(at_period_end=True, reason="r", comment=None, idempotency_key="sf:s:cancel:1"),
    ):
        assert codec.effect_from_json(codec.dumps(effect)) == effect


@pytest.mark.parametrize(
    "text",
    [
        '{"key": "x", "reasons": [], "offers": [{"kind": "teleport", "id": "t"}]}',
        '{"key": "x", "reasons": [], "offers": [], "max_offers": "lots"}',
        '{"key": "x", "reasons": [], "offers": [], "surprise": 1}',
        "[]",
    ],
)
def test_malformed_definitions_are_a_codec_error_not_a_crash(text: str) -> None:
    with pytest.raises(codec.CodecError):
        codec.definition_from_json(text)


def test_unknown_event_type_is_a_codec_error() -> None:
    with pytest.raises(codec.CodecError):
        codec.event_from_json("Teleported", "{}")
