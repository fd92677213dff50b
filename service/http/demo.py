"""The demo host app at `/`: a fake SaaS account page whose "Cancel subscription" button opens the widget.

Rules: only mounted when `Settings.demo` is on. It does what a real host backend does: mint the embed
token server-side with the embed secret for each cancellation, and show the subscription as billing has
it now (service.use_cases.customer_status), so the page changes when a flow has changed billing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import get
from litestar.params import FromQuery
from litestar.response import Template

from offers import BillingError, BillingProvider
from service import demo
from service.deps import BillingDep, ClockDep, SettingsDep
from service.http.assets import THEMES, theme_name
from service.i18n import SUPPORTED, date_text, normalise
from service.security import mint_embed_token
from service.settings import Settings
from service.use_cases.customer_status import CustomerStatus, customer_status

NO_STORE = {"Cache-Control": "no-store"}  # every answer carries a token of its own


def status_line(status: CustomerStatus | None) -> str:
    """The subscription in a sentence, as a host app would show it next to the plan."""
    if status is None:
        return "Billing can't be read right now."
    if status.status == "cancelled":
        return "Cancelled."
    if status.status == "paused" and status.paused_until:
        return f"Paused until {_day(status.paused_until)}."
    if status.status == "cancel_scheduled" and status.cancel_at:
        return f"Cancels on {_day(status.cancel_at)}. No further charges."
    if status.scheduled_price_id:
        plan = demo.price(status.scheduled_price_id).plan_name
        return f"Changes to {plan} on {_day(status.current_period_end)}."
    if status.status == "trialing" and status.trial_end:
        return f"Trial until {_day(status.trial_end)}."
    return f"Active, renews on {_day(status.current_period_end)}."


async def account_context(
    settings: Settings,
    billing: BillingProvider,
    now: datetime,
    *,
    customer_id: str | None,
    test: bool,
    locale: str | None,
    theme: str | None,
) -> dict[str, Any]:
    """What the account area shows: the plan and status read from billing now, and a fresh embed token."""
    chosen = demo.customer(customer_id)
    try:
        status: CustomerStatus | None = await customer_status(
            chosen.id, subscription_id=chosen.subscription_id, billing=billing, now=now
        )
    except BillingError:
        status = None
    plan = demo.price(status.price_id if status and _known(status.price_id) else chosen.price_id)
    chosen_locale = normalise(locale) or chosen.locale
    token = mint_embed_token(
        settings,
        customer_id=chosen.id,
        subscription_id=chosen.subscription_id,
        now=now,
        email=chosen.email,
        first_name=chosen.first_name,
        locale=chosen_locale,
        attrs=demo.attrs_of(chosen),
        losses=demo.losses_of(chosen),
        test=test,
    )
    query = {"customer": chosen.id, "locale": chosen_locale, "theme": theme_name(theme)}
    if test:
        query["test"] = "true"
    return {
        "customer": chosen,
        "plan": plan,
        "status": status.status if status else "unknown",
        "status_line": status_line(status),
        "token": token,
        "base_url": settings.public_url,
        "test": test,
        "locale": chosen_locale,
        "theme": theme_name(theme),
        "account_url": f"/demo/account?{urlencode(query)}",
    }


def _day(moment: datetime) -> str:
    return date_text(moment, "en")  # the demo host app is in English; the widget speaks the customer's language


def _known(price_id: str) -> bool:
    return any(p.id == price_id for p in demo.DEMO_PRICES)


@get("/", name="demo:home", include_in_schema=False)
async def demo_home(
    settings: SettingsDep,
    billing: BillingDep,
    clock: ClockDep,
    customer: FromQuery[str | None] = None,
    test: FromQuery[bool] = False,
    locale: FromQuery[str | None] = None,
    theme: FromQuery[str | None] = None,
) -> Template:
    context = await account_context(
        settings, billing, clock(), customer_id=customer, test=test, locale=locale, theme=theme
    )
    context |= {"customers": demo.DEMO_CUSTOMERS, "locales": SUPPORTED, "themes": THEMES}
    return Template(template_name="demo/host.html", context=context, headers=NO_STORE)


@get("/demo/account", name="demo:account", include_in_schema=False)
async def demo_account(
    settings: SettingsDep,
    billing: BillingDep,
    clock: ClockDep,
    customer: FromQuery[str | None] = None,
    test: FromQuery[bool] = False,
    locale: FromQuery[str | None] = None,
    theme: FromQuery[str | None] = None,
) -> Template:
    """The account area again after a flow (demo.js swaps it in): billing as it is now, and the token for the
    next click, so every click starts a session of its own (a used token only resumes its session)."""
    context = await account_context(
        settings, billing, clock(), customer_id=customer, test=test, locale=locale, theme=theme
    )
    return Template(template_name="demo/_account.html", context=context, headers=NO_STORE)
