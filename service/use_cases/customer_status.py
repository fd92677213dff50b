"""What the host app asks before gating access: is this customer active, trialing, paused or leaving?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from offers import BillingProvider, SubscriptionStatus
from service.repositories import sessions as session_repo


class UnknownCustomer(LookupError):
    """No session names this customer, and no subscription id was given."""


@dataclass(frozen=True, slots=True)
class CustomerStatus:
    customer_id: str
    subscription_id: str
    status: str  # active | trialing | paused | cancel_scheduled | cancelled | past_due | unpaid | incomplete
    paused_until: datetime | None
    cancel_at: datetime | None
    trial_end: datetime | None
    current_period_end: datetime
    price_id: str  # the plan billed now
    scheduled_price_id: str | None  # the plan it changes to at current_period_end (a downgrade at renewal)


async def customer_status(
    customer_id: str, *, subscription_id: str | None, billing: BillingProvider, now: datetime
) -> CustomerStatus:
    """Billing is the source of truth, read live; our sessions only tell which subscription to read."""
    if subscription_id is None:
        subscription_id = await session_repo.latest_subscription_of(customer_id)
        if subscription_id is None:
            raise UnknownCustomer(customer_id)
    snap = await billing.get_subscription(subscription_id)
    paused = snap.paused_until is not None and snap.paused_until > now and snap.is_live
    if snap.status is SubscriptionStatus.CANCELED:
        status = "cancelled"
    elif paused:
        status = "paused"
    elif snap.cancel_at_period_end:
        status = "cancel_scheduled"
    else:
        status = snap.status.value
    return CustomerStatus(
        customer_id=customer_id,
        subscription_id=snap.id,
        status=status,
        paused_until=snap.paused_until if paused else None,
        cancel_at=snap.current_period_end if snap.cancel_at_period_end else snap.canceled_at,
        trial_end=snap.trial_end,
        current_period_end=snap.current_period_end,
        price_id=snap.price_id,
        scheduled_price_id=snap.scheduled_price_id,
    )
