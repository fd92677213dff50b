"""A customer's data for GDPR requests: export everything held about them, or erase their personal data.

Rules: may import service.repositories, service.db.engine and service.use_cases. The erasure runs in one
unit of work with its audit entry, and keeps every counted fact (service.repositories.customer_erasure),
so the dashboard shows the same figures before and after. It is idempotent: a second one changes nothing
but is audited too. The host's own ids (customer, subscription) stay: they are the host's keys, and
the host erases its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.db.engine import unit_of_work
from service.repositories import customer_erasure as erase
from service.repositories import customer_records
from service.repositories.customer_records import ERASE_ACTION, CustomerRecords, HeldSession
from service.use_cases.lifecycle import API_ACTOR
from service.use_cases.staff import record_audit

__all__ = [
    "CustomerRecords",
    "Erasure",
    "HeldSession",
    "NoCustomerData",
    "customer_data",
    "erase_customer_data",
    "erased_at",
]


class NoCustomerData(LookupError):
    """Nothing is stored about this customer id."""


@dataclass(frozen=True, slots=True)
class Erasure:
    """What one erasure changed, by kind of row (all zero when it had been erased already)."""

    customer_id: str
    erased_at: datetime
    sessions: int
    events: int
    follow_up_tasks: int
    emails: int
    email_unsubscribes: int
    billing_webhook_events: int

    def summary(self) -> str:
        return (
            f"sessions={self.sessions} events={self.events} follow_up_tasks={self.follow_up_tasks}"
            f" emails={self.emails} email_unsubscribes={self.email_unsubscribes}"
            f" billing_webhook_events={self.billing_webhook_events}"
        )


async def customer_data(customer_id: str) -> CustomerRecords:
    """Every row about the customer: sessions with events and billing calls, follow-up tasks, emails,
    unsubscribes, win-backs, webhooks to the host and from billing, and the audit rows about them.

    Raises:
        NoCustomerData: no row names this customer.
    """
    if not await customer_records.holds_anything(customer_id):
        raise NoCustomerData(customer_id)
    return await customer_records.records(customer_id)


def erased_at(found: CustomerRecords) -> datetime | None:
    """When the customer's data was last erased, from the audit log."""
    return max((a.at for a in found.audit if a.action == ERASE_ACTION and a.target == found.customer_id), default=None)


async def erase_customer_data(customer_id: str, *, now: datetime) -> Erasure:
    """Erase the customer's personal data in one transaction, audited; returns what changed.

    Raises:
        NoCustomerData: no row names this customer (nothing is audited then).
    """
    async with unit_of_work():
        if not await customer_records.holds_anything(customer_id):
            raise NoCustomerData(customer_id)
        addresses = await customer_records.addresses(customer_id)  # before the sessions lose theirs
        erasure = Erasure(
            customer_id=customer_id,
            erased_at=now,
            sessions=await erase.erase_sessions(customer_id),
            events=await erase.erase_event_texts(await customer_records.session_ids(customer_id)),
            follow_up_tasks=await erase.erase_tasks(customer_id),
            emails=await erase.erase_emails(customer_id, addresses),
            email_unsubscribes=await erase.erase_unsubscribes(customer_id, addresses),
            billing_webhook_events=await erase.erase_billing_webhooks(
                await customer_records.subscription_ids(customer_id)
            ),
        )
        await record_audit(API_ACTOR, ERASE_ACTION, customer_id, after=erasure.summary(), now=now)
    return erasure
