"""The pure save-flow engine: definitions, state, events, effects, decide and replay.

Rules: standard library and `offers` only (import-linter enforces it).
"""

from flows.defaults import default_definition
from flows.effects import ApplyOffer, CancelSubscription, Effect, idempotency_key
from flows.errors import FlowError, InvalidInput, InvalidTransition
from flows.events import (
    EVENT_TYPES,
    CancelApplied,
    CancelConfirmed,
    CancelFailed,
    CancelRequested,
    Closed,
    Continued,
    Event,
    FeedbackGiven,
    OfferAccepted,
    OfferApplied,
    OfferDeclined,
    OfferFailed,
    ReasonChosen,
    Started,
    WentBack,
)
from flows.machine import TRANSITIONS, Decision, decide, initial_state, replay
from flows.model import (
    CustomerContext,
    FlowDefinition,
    FlowState,
    FollowUp,
    Notice,
    Outcome,
    ReasonDef,
    ReasonId,
    SessionId,
    StepKind,
)
from flows.routing import route_offers
from flows.validation import reason_order, validate_definition

__all__ = (
    "EVENT_TYPES",
    "TRANSITIONS",
    "ApplyOffer",
    "CancelApplied",
    "CancelConfirmed",
    "CancelFailed",
    "CancelRequested",
    "CancelSubscription",
    "Closed",
    "Continued",
    "CustomerContext",
    "Decision",
    "Effect",
    "Event",
    "FeedbackGiven",
    "FlowDefinition",
    "FlowError",
    "FlowState",
    "FollowUp",
    "InvalidInput",
    "InvalidTransition",
    "Notice",
    "OfferAccepted",
    "OfferApplied",
    "OfferDeclined",
    "OfferFailed",
    "Outcome",
    "ReasonChosen",
    "ReasonDef",
    "ReasonId",
    "SessionId",
    "Started",
    "StepKind",
    "WentBack",
    "decide",
    "default_definition",
    "idempotency_key",
    "initial_state",
    "reason_order",
    "replay",
    "route_offers",
    "validate_definition",
)
