"""Outputs of the flow machine: billing work the shell must do, with deterministic idempotency keys.

Rules: standard library and `offers.model` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from offers.model import Offer


def idempotency_key(session_id: str, action: str, attempt: int) -> str:
    """`sf:<session>:<action>:<attempt>`; the same inputs always give the same key (< 255 chars)."""
    return f"sf:{session_id}:{action}:{attempt}"


CANCEL_ACTION = "cancel"


def offer_action(offer_id: str) -> str:
    return f"offer:{offer_id}"


@dataclass(frozen=True, slots=True)
class ApplyOffer:
    offer: Offer
    idempotency_key: str
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class CancelSubscription:
    at_period_end: bool
    reason: str | None
    comment: str | None
    idempotency_key: str
    attempt: int = 1


Effect = ApplyOffer | CancelSubscription
