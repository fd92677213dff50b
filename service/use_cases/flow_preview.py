"""Admin previews: start a test-mode session pinned to one flow version for a made-up customer.

Rules: may import flows, offers (ports only), service.db.engine, service.repositories, service.security
and service.use_cases.
A preview never touches billing: the subscription is synthesised from what the admin typed (never read
from the provider, so it works with Stripe too), and test mode keeps every offer and cancellation local.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from offers import SubscriptionSnapshot, SubscriptionStatus
from service.db.engine import unit_of_work
from service.repositories import flows as flow_repo
from service.repositories.flows import PREVIEW_SUBSCRIPTION
from service.security import EmbedClaims, Loss
from service.use_cases.sessions import PinnedFlow, SessionView, start_preview_session

Clock = Callable[[], datetime]
SAMPLE_LOSSES = (Loss("projects", "12"), Loss("files", "348"), Loss("teammates", "4"))


@dataclass(frozen=True, slots=True)
class PreviewCustomer:
    """The made-up customer a preview runs for (the form beside the preview; sensible defaults)."""

    plan: str = "pro"
    price_id: str = "price_pro_monthly"
    amount_cents: int = 4900
    currency: str = "usd"
    interval: str = "month"
    trialing: bool = False
    country: str = "US"
    locale: str = "en"
    first_name: str = "Alex"

    def snapshot(self, customer_id: str, now: datetime) -> SubscriptionSnapshot:
        period = timedelta(days=365 if self.interval == "year" else 30)
        return SubscriptionSnapshot(
            id=PREVIEW_SUBSCRIPTION,
            customer_id=customer_id,
            status=SubscriptionStatus.TRIALING if self.trialing else SubscriptionStatus.ACTIVE,
            price_id=self.price_id,
            amount_cents=self.amount_cents,
            currency=self.currency,
            interval=self.interval,
            current_period_end=now + (timedelta(days=7) if self.trialing else period),
            trial_end=now + timedelta(days=7) if self.trialing else None,
        )


class VersionNotFound(LookupError):
    pass


async def start_preview(version_id: int, customer: PreviewCustomer, *, staff_id: int, clock: Clock) -> SessionView:
    """A new test-mode session on `version_id` (usually a draft) for `customer`, as staff member `staff_id`.

    Raises:
        VersionNotFound: there is no such flow version.
    """
    try:
        definition = await flow_repo.definition_of_version(version_id)
    except LookupError as exc:
        raise VersionNotFound(version_id) from exc
    now = clock()
    customer_id = f"preview-staff-{staff_id}"
    claims = EmbedClaims(
        sub=customer_id,
        subscription_id=PREVIEW_SUBSCRIPTION,
        jti="preview_" + secrets.token_urlsafe(16),
        iat=int(now.timestamp()),
        exp=int((now + timedelta(minutes=15)).timestamp()),
        locale=customer.locale,
        first_name=customer.first_name or None,
        attrs={"plan": customer.plan, "country": customer.country} if customer.country else {"plan": customer.plan},
        losses=list(SAMPLE_LOSSES),
        test=True,
    )
    pinned = PinnedFlow(version_id, definition, customer.snapshot(customer_id, now))
    return await start_preview_session(claims, pinned, clock=clock, locale=customer.locale)


async def purge_old_previews(now: datetime) -> int:
    """Delete preview sessions a day old and drafts a week old that nothing runs on any more."""
    async with unit_of_work():
        return await flow_repo.purge_previews(now, sessions_after=timedelta(days=1), drafts_after=timedelta(days=7))
