"""The demo: a fictional SaaS ("Acme Boards") with customers, plans and usage, for `make run` and e2e tests.

Rules: data plus tiny pure helpers; may import offers (ports, not providers). The composition root
(service.app) loads these subscriptions into the in-memory billing provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from offers import SubscriptionSnapshot, SubscriptionStatus


@dataclass(frozen=True, slots=True)
class DemoPrice:
    id: str
    plan_name: str
    amount_cents: int
    interval: str = "month"


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    id: str
    first_name: str
    email: str
    company: str
    subscription_id: str
    price_id: str
    status: SubscriptionStatus
    projects: int
    files: int
    teammates: int
    tenure_months: int
    country: str = "US"
    locale: str = "en"


PAID_PRICES = (  # the plans demo subscriptions are on
    DemoPrice("price_pro_monthly", "Pro", 4900),
    DemoPrice("price_starter_monthly", "Starter", 1900),
    DemoPrice("price_team_monthly", "Team", 9900),
)
# The catalogue: the paid plans and the forever-free one the default flow's "free-plan" offer moves to.
DEMO_PRICES = (*PAID_PRICES, DemoPrice("price_free", "Free", 0))
DEMO_COUPONS = ("save30_3m",)

DEMO_CUSTOMERS = (
    DemoCustomer(
        "cus_demo_ada",
        "Ada",
        "ada@example.com",
        "Lovelace Analytics",
        "sub_demo_ada",
        "price_pro_monthly",
        SubscriptionStatus.ACTIVE,
        projects=128,
        files=3412,
        teammates=9,
        tenure_months=26,
    ),
    DemoCustomer(
        "cus_demo_grace",
        "Grace",
        "grace@example.com",
        "Hopper Systems",
        "sub_demo_grace",
        "price_team_monthly",
        SubscriptionStatus.ACTIVE,
        projects=311,
        files=12840,
        teammates=42,
        tenure_months=51,
        country="DE",
        locale="de",
    ),
    DemoCustomer(
        "cus_demo_linus",
        "Linus",
        "linus@example.com",
        "Torvalds & Co",
        "sub_demo_linus",
        "price_pro_monthly",
        SubscriptionStatus.TRIALING,
        projects=4,
        files=37,
        teammates=1,
        tenure_months=0,
        country="FI",
    ),
)


def price(price_id: str) -> DemoPrice:
    return next(p for p in DEMO_PRICES if p.id == price_id)


def customer(customer_id: str | None) -> DemoCustomer:
    return next((c for c in DEMO_CUSTOMERS if c.id == customer_id), DEMO_CUSTOMERS[0])


def subscription_of(c: DemoCustomer, now: datetime) -> SubscriptionSnapshot:
    p = price(c.price_id)
    trialing = c.status is SubscriptionStatus.TRIALING
    return SubscriptionSnapshot(
        id=c.subscription_id,
        customer_id=c.id,
        status=c.status,
        price_id=p.id,
        amount_cents=p.amount_cents,
        currency="usd",
        interval=p.interval,
        current_period_end=now + timedelta(days=12),
        trial_end=now + timedelta(days=5) if trialing else None,
    )


# What the demo host calls its things in each language, as CLDR plural forms (see the `losses` claim).
LOSS_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "projects": {
        "en": {"one": "project", "other": "projects"},
        "de": {"one": "Projekt", "other": "Projekte"},
        "fr": {"one": "projet", "other": "projets"},
        "es": {"one": "proyecto", "other": "proyectos"},
    },
    "files": {
        "en": {"one": "file", "other": "files"},
        "de": {"one": "Datei", "other": "Dateien"},
        "fr": {"one": "fichier", "other": "fichiers"},
        "es": {"one": "archivo", "other": "archivos"},
    },
    "teammates": {
        "en": {"one": "teammate", "other": "teammates"},
        "de": {"one": "Teammitglied", "other": "Teammitglieder"},
        "fr": {"one": "coéquipier", "other": "coéquipiers"},
        "es": {"one": "compañero de equipo", "other": "compañeros de equipo"},
    },
}


def losses_of(c: DemoCustomer) -> list[dict[str, object]]:
    """What the host app would put in the token's `losses` claim: live usage counts, which the widget
    formats and pluralises in the customer's language, with labels in every language the host speaks."""
    counts = {"projects": c.projects, "files": c.files, "teammates": c.teammates}
    return [{"label": LOSS_LABELS[name], "count": count} for name, count in counts.items()]


def attrs_of(c: DemoCustomer) -> dict[str, str | int]:
    p = price(c.price_id)
    return {
        "plan": p.plan_name.lower(),
        "mrr_cents": p.amount_cents,
        "interval": p.interval,
        "tenure_months": c.tenure_months,
        "country": c.country,
    }
