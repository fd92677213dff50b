"""POST /webhooks/stripe: Stripe's signed events in (raw body, no CSRF, never a stack trace).

Litestar refuses a body over MAX_PAYLOAD_BYTES with 413 before reading more of it (`request_max_body_size`:
at once when Content-Length says so, else as soon as the streamed bytes pass the cap).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, post
from litestar.response import Response

from offers import BillingWebhooks
from service.deps import BillingDep, ClockDep, SettingsDep
from service.use_cases.webhooks import MAX_PAYLOAD_BYTES, receive_webhook


@post(
    "/webhooks/stripe",
    name="webhooks:stripe",
    tags=["webhooks"],
    status_code=200,
    request_max_body_size=MAX_PAYLOAD_BYTES,
)
async def stripe_webhook(
    request: Request[Any, Any, Any], settings: SettingsDep, billing: BillingDep, clock: ClockDep
) -> Response[dict[str, str]]:
    """Stripe's signed events. Verified, then stored, de-duplicated and reconciled by re-fetching."""
    webhooks: BillingWebhooks | None = request.app.state.webhooks
    outcome = await receive_webhook(
        await request.body(),
        request.headers.get("stripe-signature"),
        webhooks=webhooks,
        billing=billing,
        clock=clock,
        verify_after=timedelta(days=settings.verify_saves_after_days),
    )
    return Response({"detail": outcome.message}, status_code=outcome.status_code)
