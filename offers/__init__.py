"""Offer catalogue, pure eligibility rules and the billing port (providers live in offers.providers).

Rules: standard library only, except `offers.providers.stripe` which may import `stripe`.
"""

from offers.apply import add_months, apply_offer
from offers.eligibility import EligibilityPolicy, Ineligibility, Redemption, eligible_offers, ineligibility
from offers.model import (
    OFFER_TYPES,
    DiscountOffer,
    DowngradeOffer,
    Offer,
    OfferCopy,
    OfferId,
    OfferKind,
    OfferResult,
    PauseBehavior,
    PauseOffer,
    TrainingOffer,
    TrialExtensionOffer,
)
from offers.ports import (
    BillingError,
    BillingEvent,
    BillingProvider,
    BillingWebhooks,
    IdempotencyConflict,
    OfferNotApplicable,
    ProviderAuthFailed,
    ProviderFailed,
    ProviderRejected,
    ProviderUnavailable,
    SubscriptionNotFound,
    SubscriptionSnapshot,
    SubscriptionStatus,
    WebhookRejected,
)

__all__ = (
    "OFFER_TYPES",
    "BillingError",
    "BillingEvent",
    "BillingProvider",
    "BillingWebhooks",
    "DiscountOffer",
    "DowngradeOffer",
    "EligibilityPolicy",
    "IdempotencyConflict",
    "Ineligibility",
    "Offer",
    "OfferCopy",
    "OfferId",
    "OfferKind",
    "OfferNotApplicable",
    "OfferResult",
    "PauseBehavior",
    "PauseOffer",
    "ProviderAuthFailed",
    "ProviderFailed",
    "ProviderRejected",
    "ProviderUnavailable",
    "Redemption",
    "SubscriptionNotFound",
    "SubscriptionSnapshot",
    "SubscriptionStatus",
    "TrainingOffer",
    "TrialExtensionOffer",
    "WebhookRejected",
    "add_months",
    "apply_offer",
    "eligible_offers",
    "ineligibility",
)
