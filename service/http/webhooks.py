"""POST /webhooks/{stripe,chargebee,paddle}: the billing system's events in (raw body, no CSRF, no stack trace).

Only the configured provider's route answers (the others say they are not configured). Each vendor proves a
delivery its own way: Stripe and Paddle sign the body (Stripe-Signature, Paddle-Signature); Chargebee sends
the basic-auth pair set on its webhook (Authorization), optionally from an allow-listed address.

Litestar refuses a body over MAX_PAYLOAD_BYTES with 413 before reading more of it (`request_max_body_size`:
at once when Content-Length says so, else as soon as the streamed bytes pass the cap).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from litestar import Request, post
from litestar.response import Response

from offers import BillingWebhooks
from service.deps import BillingDep, ClockDep, SettingsDep
from service.settings import Settings
from service.use_cases.webhooks import MAX_PAYLOAD_BYTES, receive_webhook

# Route → the vendor's name, the header carrying its proof, and the setting that configures it.
VENDORS = {
    "stripe": ("Stripe", "Stripe-Signature", "STRIPE_WEBHOOK_SECRET"),
    "chargebee": ("Chargebee", "Authorization", "CHARGEBEE_WEBHOOK_USERNAME and CHARGEBEE_WEBHOOK_PASSWORD"),
    "paddle": ("Paddle", "Paddle-Signature", "PADDLE_WEBHOOK_SECRET"),
}


async def _receive(
    vendor: str, request: Request[Any, Any, Any], settings: Settings, billing: BillingDep, clock: ClockDep
) -> Response[dict[str, str]]:
    configured: dict[str, BillingWebhooks] = request.app.state.billing_webhooks
    name, header, setting = VENDORS[vendor]
    outcome = await receive_webhook(
        await request.body(),
        request.headers.get(header),
        webhooks=configured.get(vendor),
        billing=billing,
        clock=clock,
        verify_after=timedelta(days=settings.verify_saves_after_days),
        vendor=name,
        header=header,
        setting=setting,
    )
    return Response({"detail": outcome.message}, status_code=outcome.status_code)


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
    return await _receive("stripe", request, settings, billing, clock)


@post(
    "/webhooks/chargebee",
    name="webhooks:chargebee",
    tags=["webhooks"],
    status_code=200,
    request_max_body_size=MAX_PAYLOAD_BYTES,
)
async def chargebee_webhook(
    request: Request[Any, Any, Any], settings: SettingsDep, billing: BillingDep, clock: ClockDep
) -> Response[dict[str, str]]:
    """Chargebee's events, behind basic auth (and CHARGEBEE_WEBHOOK_ALLOW's addresses when set)."""
    allow = settings.billing.chargebee_webhook_allow
    client = request.client.host if request.client else ""
    if allow and not _allowed(client, allow):
        return Response({"detail": "This address may not send Chargebee events."}, status_code=403)
    return await _receive("chargebee", request, settings, billing, clock)


@post(
    "/webhooks/paddle",
    name="webhooks:paddle",
    tags=["webhooks"],
    status_code=200,
    request_max_body_size=MAX_PAYLOAD_BYTES,
)
async def paddle_webhook(
    request: Request[Any, Any, Any], settings: SettingsDep, billing: BillingDep, clock: ClockDep
) -> Response[dict[str, str]]:
    """Paddle Billing's signed notifications. Verified, then stored, de-duplicated and reconciled."""
    return await _receive("paddle", request, settings, billing, clock)


def _allowed(client: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
