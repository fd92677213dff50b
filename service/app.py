"""The composition root: `create_app(settings)` picks the adapters and registers every route.

Rules: the only module that may import `offers.providers` and `admin` (import-linter enforces it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.template.config import TemplateConfig

from offers import BillingProvider, BillingWebhooks
from offers.host_contract import Action
from offers.providers.host import HostBillingProvider
from offers.providers.memory import InMemoryBillingProvider, Price
from offers.providers.stripe import StripeBillingProvider
from offers.providers.stripe_webhooks import StripeWebhooks
from service import demo
from service.db.engine import bind_tables, close_engine, create_engine, open_engine
from service.db.rollup import refresh_dirty_days
from service.http import demo as demo_http
from service.http._widget_view import money
from service.http.api import ApiController
from service.http.api_customers import CustomerDataController
from service.http.api_data import ApiDataController
from service.http.api_docs import documented, openapi_config
from service.http.assets import Assets, InlineStyle, static_files
from service.http.errors import EXCEPTION_HANDLERS, FormRequest, read_page_forms_first
from service.http.headers import security_headers
from service.http.health import health_live, health_ready
from service.http.links import resume_link
from service.http.reference_host import ReferenceHost, host_billing_action, host_billing_catalogue, host_billing_read
from service.http.unsubscribe import unsubscribe_page, unsubscribe_submit
from service.http.webhooks import chargebee_webhook, paddle_webhook, stripe_webhook
from service.http.widget import WidgetController
from service.http.winback import winback_offer, winback_reactivate
from service.mail.transport import build_mailer
from service.observability import metrics, metrics_process_exit, request_context_middleware
from service.settings import Settings, Theme
from service.use_cases.billing_effects import sweep_pending
from service.use_cases.emails import send_due_emails
from service.use_cases.flow_preview import purge_old_previews
from service.use_cases.lifecycle import remind_pauses_ending
from service.use_cases.outbound import deliver_due
from service.use_cases.sessions import abandon_idle_sessions
from service.use_cases.webhooks import verify_due_saves
from service.use_cases.winback import finish_pending_winbacks, send_winback_emails

log = logging.getLogger(__name__)
SWEEP_EVERY_SECONDS = 60.0
DELIVER_EVERY_SECONDS = 5.0
SHUTDOWN_GRACE_SECONDS = 10.0  # for a background round in progress when the server stops


def utc_now() -> datetime:
    return datetime.now(UTC)


def demo_billing(clock: Callable[[], datetime]) -> InMemoryBillingProvider:
    """The in-memory provider loaded with the demo's prices, coupons and customers."""
    provider = InMemoryBillingProvider(clock=clock)
    for p in demo.DEMO_PRICES:
        provider.add_price(Price(p.id, p.amount_cents, interval=p.interval))
    provider.coupons.update(demo.DEMO_COUPONS)
    now = clock()
    for customer in demo.DEMO_CUSTOMERS:
        provider.add_subscription(demo.subscription_of(customer, now))
    return provider


def build_billing(settings: Settings, clock: Callable[[], datetime]) -> BillingProvider:
    """The provider BILLING_PROVIDER names (default: Stripe with a Stripe key, else the demo's in-memory one)."""
    b = settings.billing
    match settings.billing_provider:
        case "stripe":
            return StripeBillingProvider(settings.stripe_api_key or "", api_base=settings.stripe_api_base)
        case "host":
            return HostBillingProvider(b.host_url, b.host_secret, actions=frozenset(Action(a) for a in b.host_actions))
        case "chargebee":  # the vendors' SDKs are imported only by the services that use them
            from offers.providers.chargebee import ChargebeeBillingProvider

            return ChargebeeBillingProvider(b.chargebee_api_key, b.chargebee_site)
        case "paddle":
            from offers.providers.paddle import PaddleBillingProvider

            return PaddleBillingProvider(b.paddle_api_key, sandbox=b.paddle_sandbox)
    return demo_billing(clock)


def build_webhooks(settings: Settings) -> dict[str, BillingWebhooks]:
    """The configured provider's inbound webhooks, by route name (none: its route says it is not configured)."""
    b = settings.billing
    match settings.billing_provider:
        case "stripe" | "memory" if settings.stripe_webhook_secret:  # memory: Stripe-shaped events, for testing
            return {"stripe": StripeWebhooks(settings.stripe_webhook_secret)}
        case "chargebee" if b.chargebee_webhook_username and b.chargebee_webhook_password:
            from offers.providers.chargebee import ChargebeeWebhooks

            return {"chargebee": ChargebeeWebhooks(b.chargebee_webhook_username, b.chargebee_webhook_password)}
        case "paddle" if b.paddle_webhook_secret:
            from offers.providers.paddle import PaddleWebhooks

            return {"paddle": PaddleWebhooks(b.paddle_webhook_secret)}
    return {}


def build_templates(
    assets: Assets | None = None, widget_style: InlineStyle | None = None
) -> TemplateConfig[JinjaTemplateEngine]:
    assets = assets or Assets.load()
    widget_style = widget_style or InlineStyle.of(assets, Theme())
    env = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),  # inside the package
        undefined=StrictUndefined,  # a missing variable fails loudly in tests instead of rendering blank
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
    )
    # English unless a render brings its own language: the widget passes gettext/ngettext in each
    # render's context (service.i18n.gettext_callables), which the extension looks up first.
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = money
    env.globals["asset_url"] = assets.url  # /static/<name>.<content hash>.<ext>, cached for a year
    env.globals["widget_style"] = widget_style  # widget/frame.html inlines it; its hash is in the widget's CSP
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def create_app(
    settings: Settings, *, clock: Callable[[], datetime] = utc_now, billing: BillingProvider | None = None
) -> Litestar:
    """The service; `billing` replaces the provider the settings name (the contract suite's providers)."""
    from admin.routes import admin_routes  # the admin is registered here and only here

    engine = create_engine(settings.database)
    bind_tables(engine)
    billing = billing or build_billing(settings, clock)
    mailer = build_mailer(settings)  # SMTP, the demo mailbox, or None: emails wait (logged)
    assets = Assets.load()  # read and hashed once: a changed static file is served after a restart
    widget_style = InlineStyle.of(assets, settings.theme)

    stopping = asyncio.Event()

    async def pause(seconds: float) -> bool:
        """Sleep between rounds; False once shutdown has begun (a round in progress is left to finish)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=seconds)
        return not stopping.is_set()

    async def sweep_forever() -> None:
        while await pause(SWEEP_EVERY_SECONDS):
            try:
                await sweep_pending(billing=billing, clock=clock)
                await verify_due_saves(
                    billing=billing, clock=clock, verify_after=timedelta(days=settings.verify_saves_after_days)
                )
                await abandon_idle_sessions(
                    idle_after=timedelta(minutes=settings.abandon_after_minutes), billing=billing, clock=clock
                )
                await refresh_dirty_days()  # keeps the dashboard's own catch-up small
                await purge_old_previews(clock())
                await remind_pauses_ending(billing=billing, settings=settings, clock=clock)
                await finish_pending_winbacks(billing=billing, clock=clock)
                await send_winback_emails(billing=billing, settings=settings, clock=clock)
            except Exception:
                log.exception("background sweep failed; retrying on the next tick")

    async def deliver_forever(client: httpx.AsyncClient) -> None:
        while await pause(DELIVER_EVERY_SECONDS):
            try:
                await deliver_due(client=client, clock=clock)
            except Exception:
                log.exception("webhook delivery round failed; retrying on the next tick")
            try:
                await send_due_emails(mailer=mailer, settings=settings, clock=clock)
            except Exception:
                log.exception("email round failed; retrying on the next tick")

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        stopping.clear()  # an app started again after a shutdown (tests) runs its background rounds again
        await open_engine(engine)
        async with httpx.AsyncClient(follow_redirects=False) as client:
            workers = [asyncio.create_task(sweep_forever()), asyncio.create_task(deliver_forever(client))]
            try:
                yield
            finally:
                # Graceful shutdown: uvicorn has already drained in-flight requests. Let a background
                # round that is mid-way finish (a billing call is never cut off between the call and
                # recording its result), then cancel whatever is still running after the grace period.
                stopping.set()
                _, late = await asyncio.wait(workers, timeout=SHUTDOWN_GRACE_SECONDS)
                for worker in late:
                    worker.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                await close_engine(engine)
                metrics_process_exit()  # several workers: this worker's live gauges leave /metrics
                if isinstance(billing, HostBillingProvider):
                    await billing.aclose()
                log.info("shutdown complete")

    route_handlers: list[Any] = [
        WidgetController,
        resume_link,
        # the OpenAPI document holds only what opts in (service.http.api_docs)
        documented(ApiController, ApiDataController, CustomerDataController),
        stripe_webhook,
        chargebee_webhook,
        paddle_webhook,
        health_live,
        health_ready,
        unsubscribe_page,
        unsubscribe_submit,
        winback_offer,
        winback_reactivate,
        metrics,
        *admin_routes(),
        static_files(assets),
    ]
    dependencies: dict[str, Provide] = {}
    if settings.demo:
        route_handlers += [demo_http.demo_home, demo_http.demo_account]
    if settings.demo and settings.billing_provider == "host":
        # The demo host app executes billing itself, in front of the demo's own (in-memory) billing.
        reference = ReferenceHost(settings.billing.host_secret, demo_billing(clock), clock)
        route_handlers += [host_billing_action, host_billing_catalogue, host_billing_read]
        dependencies["reference_host"] = Provide(lambda: reference, sync_to_thread=False)

    app = Litestar(
        route_handlers=route_handlers,
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "billing": Provide(_billing_of, sync_to_thread=False),
            "clock": Provide(_clock_of, sync_to_thread=False),
            **dependencies,
        },
        template_config=build_templates(assets, widget_style),
        # br (or gzip) for every response of 500 bytes or more, Vary: Accept-Encoding added. Litestar's
        # default brotli quality is kept: the maximum shrinks htmx only slightly more, at many times the CPU.
        compression_config=CompressionConfig(backend="brotli", brotli_gzip_fallback=True),
        plugins=[HTMXPlugin()],
        # Every request is an HTMXRequest (`request.htmx` says whether htmx sent it) whose broken forms are 400s.
        request_class=FormRequest,
        before_request=read_page_forms_first,
        # Logging is set up once by service.observability.configure_logging (JSON lines, tokens redacted);
        # Litestar's default config would replace that root handler.
        logging_config=None,
        csrf_config=CSRFConfig(
            secret=settings.session_secret,
            cookie_name="sf_csrf",
            cookie_path="/admin",
            header_name="x-csrftoken",
            cookie_secure=settings.secure_cookies,
            cookie_samesite="strict",
            exclude=[
                "^/(w|email)/",
                "^/api/",
                "^/webhooks/",
                "^/demo/billing/",
                "^/static/",
                "^/health",
                "^/metrics",
                "^/schema",
                "^/$",
            ],
        ),
        openapi_config=openapi_config(),  # the reference page /schema and /schema/openapi.json
        include_in_schema=False,  # pages, probes and the vendors' webhooks are not API: `documented()` opts in
        exception_handlers={**EXCEPTION_HANDLERS, NotAuthorizedException: _not_authorized},
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "clock": clock,
                "billing": billing,
                "engine": engine,
                "billing_webhooks": build_webhooks(settings),
            }
        ),
        middleware=[request_context_middleware],
        before_send=[security_headers(settings, widget_styles=(widget_style.csp_source,))],
    )
    return app


# Requests take billing and the clock from the app's state, like admin.auth: one place to read them from
# (the integration tests give each test its own while reusing one app).
def _billing_of(state: State) -> BillingProvider:
    billing: BillingProvider = state.billing
    return billing


def _clock_of(state: State) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = state.clock
    return clock


def _not_authorized(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    if request.url.path.startswith("/admin"):
        return Redirect(path="/admin/login", status_code=303)
    return Response({"status_code": 401, "detail": exc.detail}, status_code=401)
