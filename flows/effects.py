"""Outputs of the flow machine: billing work the shell must do, with deterministic idempotency keys.

Rules: standard library and `offers.model` only.
"""

from __future__ import annotations

import dataclasses
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


def action_of(effect: Effect) -> str:
    """The action part of the effect's idempotency key (`offer:<id>` or `cancel`)."""
    return offer_action(effect.offer.id) if isinstance(effect, ApplyOffer) else CANCEL_ACTION


def next_attempt(effect: Effect, session_id: str) -> Effect:
    """The same billing work as the next attempt, under that attempt's deterministic key.

    Used after a provider's server error: Stripe replays a stored 5xx for the spent key, so a retry
    needs the next key, and the same inputs always give the same one.
    """
    attempt = effect.attempt + 1
    return dataclasses.replace(
        effect, attempt=attempt, idempotency_key=idempotency_key(session_id, action_of(effect), attempt)
    )
