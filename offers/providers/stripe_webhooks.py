"""StripeWebhooks: Stripe's signed events in, checked the way Stripe documents (the other module importing `stripe`).

Rules: may import stripe, offers.ports and offers.providers.stripe_shapes only.
https://docs.stripe.com/webhooks#verify-events: an HMAC over the timestamp and the raw body, 5-minute tolerance.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import stripe

from offers.ports import BillingEvent, WebhookMalformed, WebhookRejected
from offers.providers.stripe_shapes import event_paid_at, event_problem, subscription_of

WEBHOOK_TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE  # seconds a signed timestamp stays valid


class StripeWebhooks:
    """Verifies `Stripe-Signature` (HMAC over timestamp and raw body, 5-minute tolerance)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def parse(self, payload: bytes, signature_header: str) -> BillingEvent:
        # The signature alone first: whatever goes wrong while checking it (a bad header can even make the
        # comparison raise TypeError) means "not signed"; only what fails after it is a malformed event.
        try:
            stripe.WebhookSignature.verify_header(payload, signature_header, self._secret, WEBHOOK_TOLERANCE)
        except Exception as exc:
            raise WebhookRejected(f"{type(exc).__name__}: {exc}") from exc
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise WebhookMalformed("the body is not JSON") from exc
        if problem := event_problem(data):
            raise WebhookMalformed(problem)
        try:
            return BillingEvent(
                id=str(data["id"]),
                type=str(data["type"]),
                subscription_id=subscription_of(data["data"]["object"]),
                created=datetime.fromtimestamp(int(data.get("created") or 0), tz=UTC),
                paid_at=event_paid_at(data),
            )
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise WebhookMalformed(f"the event cannot be read ({type(exc).__name__}: {exc})") from exc
