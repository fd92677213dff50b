"""The demo host app at `/`: a fake SaaS account page whose "Cancel subscription" button opens the widget.

Rules: only mounted when `Settings.demo` is on. It does what a real host backend does: mint the
embed token server-side with the embed secret, and hand it to the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from litestar import get
from litestar.params import FromQuery
from litestar.response import Template

from service import demo
from service.deps import ClockDep, SettingsDep
from service.i18n import SUPPORTED, normalise
from service.security import mint_embed_token

Clock = Callable[[], datetime]


@get("/", name="demo:home", include_in_schema=False)
async def demo_home(
    settings: SettingsDep,
    clock: ClockDep,
    customer: FromQuery[str | None] = None,
    test: FromQuery[bool] = False,
    locale: FromQuery[str | None] = None,
) -> Template:
    chosen = demo.customer(customer)
    plan = demo.price(chosen.price_id)
    token = mint_embed_token(
        settings,
        customer_id=chosen.id,
        subscription_id=chosen.subscription_id,
        now=clock(),
        email=chosen.email,
        first_name=chosen.first_name,
        locale=normalise(locale) or chosen.locale,
        attrs=demo.attrs_of(chosen),
        losses=demo.losses_of(chosen),
        test=test,
    )
    return Template(
        template_name="demo/host.html",
        context={
            "customer": chosen,
            "customers": demo.DEMO_CUSTOMERS,
            "plan": plan,
            "token": token,
            "base_url": settings.public_url,
            "test": test,
            "locale": normalise(locale) or chosen.locale,
            "locales": SUPPORTED,
        },
        headers={"Cache-Control": "no-store"},
    )
