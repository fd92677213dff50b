"""The billing port: the one interface every billing system (Stripe, in-memory) implements.

Rules: standard library only; owned by its consumers (flows and the service use cases).

Exception hierarchy::

    BillingError                    base; never shown raw to end users
    ├── ProviderUnavailable         network, timeout, 429, 409 key in flight: retry later with the SAME key
    ├── ProviderFailed              the provider answered 5xx: it stores and replays that answer for the
    │                               key, so retrying with it is futile; re-read, then use a fresh key
    ├── ProviderAuthFailed          401/403: our credentials are wrong (an operator fault, not the user's)
    ├── ProviderRejected            the provider refused the request definitively (card, invalid request)
    ├── OfferNotApplicable          the subscription's state makes the offer impossible (not trialing,
    │                               or it follows a subscription schedule we did not create)
    ├── SubscriptionNotFound        no such subscription at the provider
    ├── IdempotencyConflict         the same key was reused with different parameters (a bug on our side)
    └── WebhookRejected             an incoming billing webhook failed its signature check
        └── WebhookMalformed        signed, but not a readable event

Idempotency (every provider keeps Stripe's rules, https://docs.stripe.com/api/idempotent_requests):
a key's first result is stored and replayed for 24 hours, errors included; the same key with other
parameters raises IdempotencyConflict; a key whose first request is still running raises
ProviderUnavailable at once. So a write's parameters depend only on its arguments, including the
frozen `snapshot` some writes take, never on a fresh read: a retry under the same key sends the
same body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    """The handful of subscription facts the flow needs; deliberately not a Stripe mirror."""

    id: str
    customer_id: str
    status: SubscriptionStatus
    price_id: str
    amount_cents: int
    currency: str
    interval: str
    current_period_end: datetime
    trial_end: datetime | None = None
    paused_until: datetime | None = None
    discount_coupon_ids: tuple[str, ...] = ()
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    scheduled_price_id: str | None = None
    # The provider's ids of the discounts above, same order (Stripe's `di_…`); a write that must keep
    # them (Stripe replaces the whole `discounts` list) names them by id. Older stored snapshots lack it.
    discount_ids: tuple[str, ...] = ()
    # When the newest invoice was paid, if the provider reports it (verified saves need a paid invoice).
    last_paid_at: datetime | None = None

    interval_count: int = 1  # billed every `interval_count` intervals (Stripe: a quarterly price is 3 months)

    @property
    def is_live(self) -> bool:
        """Subscribed and paying (paused or not): not cancelled, never started, nor behind on payment."""
        return self.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING)


class Capability(StrEnum):
    """A change a billing system can make. A provider lists the ones it can; eligibility never shows an
    offer that needs one it lacks, so an offer the provider cannot apply fails before the user sees it."""

    PAUSE = "pause"
    RESUME = "resume"
    CHANGE_PRICE_NOW = "change_price_now"
    CHANGE_PRICE_AT_PERIOD_END = "change_price_at_period_end"
    EXTEND_TRIAL = "extend_trial"
    DISCOUNT = "discount"
    CANCEL_NOW = "cancel_now"
    CANCEL_AT_PERIOD_END = "cancel_at_period_end"
    REACTIVATE = "reactivate"
    CANCEL_SCHEDULED_CHANGE = "cancel_scheduled_change"
    RESUBSCRIBE = "resubscribe"


ALL_CAPABILITIES = frozenset(Capability)


class BillingError(Exception):
    """Base of every billing failure. `message` is safe for logs, not for end users."""


class ProviderUnavailable(BillingError):
    """Transient: the call may or may not have happened; retry with the same idempotency key."""


class ProviderFailed(BillingError):
    """The provider answered with a server error. Stripe stores that answer under the idempotency key and
    replays it for 24 hours (https://docs.stripe.com/api/idempotent_requests), so the same key can only
    fail again: read the subscription, and if the change is absent retry under a fresh key."""


class ProviderAuthFailed(BillingError):
    """The provider refused our credentials (401/403). Nothing the user did: the operation stays pending
    until an operator fixes the key, and the user is told the service is briefly unavailable."""


class ProviderRejected(BillingError):
    """Definitive refusal; a retry needs a new attempt number (and so a new key)."""


class OfferNotApplicable(BillingError):
    """The subscription's state makes this change impossible."""


class SubscriptionNotFound(BillingError):
    """The provider has no such subscription."""


class IdempotencyConflict(BillingError):
    """An idempotency key was reused with different parameters."""


class WebhookRejected(BillingError):
    """The webhook's signature, timestamp or body is not acceptable; nothing in it may be trusted."""


class WebhookMalformed(WebhookRejected):
    """The signature checked out, but the signed body is not an event this port can read."""


@dataclass(frozen=True, slots=True)
class BillingEvent:
    """A verified billing webhook, reduced to what reconciliation needs (it re-fetches the rest)."""

    id: str
    type: str
    subscription_id: str | None
    created: datetime
    paid_at: datetime | None = None  # an invoice paid with money in it (verified saves need one), if this says so


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The price and coupon ids a billing system knows, to check a flow's offers before they go live."""

    price_ids: frozenset[str]
    coupon_ids: frozenset[str]


@runtime_checkable
class BillingCatalogue(Protocol):
    """A billing system that can list its prices and coupons (not every one can: the check is skipped)."""

    async def catalogue(self) -> Catalogue: ...


@runtime_checkable
class BillingWebhooks(Protocol):
    """Verifies and parses the billing system's signed webhooks."""

    def parse(self, payload: bytes, signature_header: str) -> BillingEvent: ...


@runtime_checkable  # Litestar validates injected dependencies against their annotation
class BillingProvider(Protocol):
    """Async billing operations. Every write carries a deterministic idempotency key.

    `snapshot` (where a write takes one) is the subscription as the caller froze it, e.g. at the
    session's start: the provider derives every parameter it needs from the subscription from it, so
    the same key always carries the same request. A cancel first releases any subscription schedule
    (under its own key derived from the cancel's), so click-to-cancel always works.

    `capabilities` lists the changes this billing system can make; a write outside it raises
    OfferNotApplicable (eligibility hides such offers before that can happen).
    """

    capabilities: frozenset[Capability]

    async def get_subscription(self, subscription_id: str) -> SubscriptionSnapshot: ...

    async def pause(
        self,
        subscription_id: str,
        *,
        resumes_at: datetime,
        behavior: str,
        idempotency_key: str,
        at_period_end: bool = False,
    ) -> SubscriptionSnapshot:
        """Stop charging until `resumes_at`. `at_period_end`: the paid period runs out first (billing systems
        that pause access with billing start the pause then; Stripe only pauses collection, so it is the same
        request). Paused or set to pause, the snapshot's `paused_until` is `resumes_at`."""
        ...

    async def resume(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot: ...

    async def change_price(
        self,
        subscription_id: str,
        *,
        price_id: str,
        at_period_end: bool,
        snapshot: SubscriptionSnapshot,
        idempotency_key: str,
    ) -> SubscriptionSnapshot: ...

    async def extend_trial(
        self, subscription_id: str, *, trial_end: datetime, idempotency_key: str
    ) -> SubscriptionSnapshot: ...

    async def apply_discount(
        self, subscription_id: str, *, coupon_id: str, snapshot: SubscriptionSnapshot, idempotency_key: str
    ) -> SubscriptionSnapshot: ...

    async def cancel(
        self,
        subscription_id: str,
        *,
        at_period_end: bool,
        reason: str | None,
        comment: str | None,
        idempotency_key: str,
    ) -> SubscriptionSnapshot: ...

    async def reactivate(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        """Undo a scheduled cancellation: the subscription renews as before. Nothing scheduled: unchanged.
        Raises OfferNotApplicable for a subscription that has already ended."""
        ...

    async def cancel_scheduled_change(self, subscription_id: str, *, idempotency_key: str) -> SubscriptionSnapshot:
        """Drop the price change this service scheduled for the period end (the subscription stays on its
        price). Nothing scheduled: unchanged. Raises OfferNotApplicable for a schedule someone else made."""
        ...

    async def resubscribe(
        self, customer_id: str, *, price_id: str, coupon_id: str, trial_days: int, idempotency_key: str
    ) -> SubscriptionSnapshot:
        """A new subscription for a customer whose subscription ended (a win-back), on `price_id`, with the
        coupon (`coupon_id`, "" for none) or `trial_days` free days (0 for none). It is paid at once or does
        not start (Stripe's `payment_behavior=error_if_incomplete`). Raises OfferNotApplicable for an
        unknown customer, price or coupon, ProviderRejected for a declined payment."""
        ...
