"""POST /webhooks/stripe: Stripe's signed events in (raw body, no CSRF, never a stack trace)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, post
from litestar.response import Response

from offers import BillingWebhooks
from service.deps import BillingDep, ClockDep, SettingsDep
from service.use_cases.webhooks import receive_webhook


@post("/webhooks/stripe", name="webhooks:stripe", tags=["webhooks"], status_code=200)
async def stripe_webhook(
    request: Request[Any, Any, Any], settings: SettingsDep, billing: BillingDep, clock: ClockDep
) -> Response[dict[str, str]]:
    """Stripe's signed events. Verified, stored, de-duplicated, then reconciled by re-fetching."""
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
