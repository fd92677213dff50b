"""The embedded widget's HTTP surface (/w): the iframe page and one POST per user intent.

Rules: parse → call one use case → render. No step logic here: `flows.decide` picks the next step,
`_widget_view.STEP_TEMPLATES` picks its template. The widget uses no cookies: the signed flow token
travels in the `X-Flow-Token` header (htmx) or a `flow_token` form/query field (no JS), so it is
also the CSRF defence for these routes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, Any, cast

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.plugins.htmx import HTMXTemplate
from litestar.response import Redirect, Template
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_303_SEE_OTHER

from flows import (
    CancelConfirmed,
    CancelRequested,
    Closed,
    Continued,
    Event,
    FeedbackGiven,
    InvalidInput,
    InvalidTransition,
    OfferAccepted,
    OfferDeclined,
    Outcome,
    ReasonChosen,
    ReasonId,
    StepKind,
    WentBack,
)
from offers import BillingError, OfferId, SubscriptionNotFound
from service.db.repositories import SessionNotFound
from service.deps import Runtime
from service.http._widget_view import STEP_TEMPLATES, step_context
from service.i18n import make_gettext, negotiate
from service.localized_templates import localized_name
from service.security import (
    FlowClaims,
    TokenError,
    flow_token_is_fresh,
    mint_flow_token,
    safe_return_url,
    verify_embed_token,
    verify_flow_token,
)
from service.use_cases import sessions
from service.use_cases.sessions import FlowNotConfigured, SessionView

log = logging.getLogger(__name__)


def _runtime(request: Request[Any, Any, Any]) -> Runtime:
    """Settings, billing and clock, from app state rather than a Litestar dependency: resolving one
    costs the widget's hot path ~25 µs per request (service.app puts it there)."""
    return cast("Runtime", request.app.state.runtime)


def _presented_token(request: Request[Any, Any, Any]) -> str | None:
    """The flow token an htmx request carries in its header, or a plain link in its query string."""
    return request.headers.get("x-flow-token") or request.query_params.get("flow_token")


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """Whether htmx sent the request (it wants a step partial, not a page). The HTMX plugin's request
    class would answer too, but it and its details object refer to each other: a reference cycle per
    request, left for the garbage collector, whose full passes stalled every request in flight."""
    return request.headers.get("hx-request") == "true"


Clock = Callable[[], datetime]


def error_page(request: Request[Any, Any, Any], kind: str, status: int, parent_origin: str = "") -> Template:
    """A friendly full page (or step partial for htmx) in the user's language, never a stack trace."""
    template = "widget/steps/_error.html" if is_htmx(request) else "widget/error.html"
    locale = negotiate(request.query_params.get("locale"), request.headers.get("accept-language"))
    return Template(
        template_name=localized_name(locale, template),
        media_type=MediaType.HTML,
        context={
            "kind": kind,
            "parent_origin": parent_origin,
            "locale": locale,
            "_": make_gettext(locale),
            "logo_url": request.app.state.settings.theme.logo_url,
        },
        status_code=status,
        headers={"Vary": "HX-Request", "Cache-Control": "no-store"},
    )


class StepPartial(Response[bytes]):
    """A rendered step partial. A plain `Response` becomes an `ASGIResponse` per request by merging its
    headers through a header map (~20 µs on every step); this one sends its few headers already encoded,
    unless headers or cookies were added to it or by a layer (none are today), which Litestar then
    merges as usual."""

    def __init__(self, body: bytes, status_code: int) -> None:  # the fields Litestar reads, no more
        self.content = body
        self.status_code = status_code
        self.background = None
        self.cookies = []
        self.headers = dict(_STEP_HEADER_MAP)  # its own: a caller may add to it
        self.media_type = MediaType.HTML
        self.encoding = "utf-8"
        self.response_type_encoders = {}

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        headers: dict[str, str] | None = None,
        cookies: Iterable[Cookie] | None = None,
        **others: Any,
    ) -> ASGIResponse:
        if headers or cookies or self.cookies or self.headers != _STEP_HEADER_MAP:
            return super().to_asgi_response(app, request, headers=headers, cookies=cookies, **others)
        return _EncodedResponse(self.content, self.status_code or 200)


class _EncodedResponse(ASGIResponse):
    def __init__(self, body: bytes, status_code: int) -> None:  # what ASGIResponse.__call__ reads, no more
        self.body = body
        self.status_code = status_code
        self.background = None
        self.is_head_response = False

    def encode_headers(self) -> list[tuple[bytes, bytes]]:
        return [*_STEP_HEADERS, (b"content-length", str(len(self.body)).encode())]


_STEP_HEADER_MAP = {"Vary": "HX-Request", "Cache-Control": "no-store"}
_STEP_HEADERS = (
    (b"content-type", b"text/html; charset=utf-8"),
    (b"vary", b"HX-Request"),
    (b"cache-control", b"no-store"),
)


def _rendered(template: str, context: dict[str, Any], status: int, request: Request[Any, Any, Any]) -> StepPartial:
    """A step partial rendered here, not by a `Template` response: the widget's templates need neither the
    `request` nor the `csrf_input` Litestar would add to the context, and building them costs per step."""
    engine = request.app.template_engine
    return StepPartial(engine.get_template(template).render(**context).encode(), status)  # type: ignore[union-attr]


def render(
    request: Request[Any, Any, Any],
    view: SessionView,
    runtime: Runtime,
    *,
    parent_origin: str,
    error: InvalidInput | None = None,
    return_url: str = "",
    presented: tuple[str, FlowClaims] | None = None,
) -> Template | Response[bytes]:
    """The step `view` is on; `presented` is the flow token the request came with, handed back while it
    is fresh (minting costs as much as checking), else a new one, so an open widget never expires."""
    settings = runtime.settings
    now = runtime.clock()
    if presented is not None and flow_token_is_fresh(presented[1], now):
        token = presented[0]
    else:
        token = mint_flow_token(
            settings,
            session_id=view.session.id,
            customer_id=view.session.customer_id,
            parent_origin=parent_origin,
            now=now,
            return_url=return_url,
        )
    context = step_context(
        view,
        flow_token=token,
        parent_origin=parent_origin,
        error=error.message if error else None,
        error_field=error.field if error else None,
    )
    context["logo_url"] = settings.theme.logo_url
    context["return_url"] = return_url
    status = 422 if error else 200
    locale = view.session.locale
    headers = {"Vary": "HX-Request", "Cache-Control": "no-store"}
    if is_htmx(request):
        state = view.state
        if state.step is StepKind.DONE and state.outcome is not Outcome.ABANDONED:
            accepted = view.definition.offer(state.accepted_offer) if state.accepted_offer else None
            params = {
                "outcome": state.outcome.value if state.outcome else "",
                "offer": {"kind": accepted.kind.value, "id": accepted.id} if accepted else None,
            }
            return HTMXTemplate(
                template_name=localized_name(locale, STEP_TEMPLATES[state.step]),
                media_type=MediaType.HTML,
                context=context,
                trigger_event="saveflow:finished",
                params=params,
                after="settle",
                status_code=status,
                headers=headers,
            )
        return _rendered(localized_name(locale, STEP_TEMPLATES[view.state.step]), context, status, request)
    return Template(
        template_name=localized_name(locale, "widget/frame.html"),
        media_type=MediaType.HTML,
        context=context,
        status_code=status,
        headers=headers,
    )


class WidgetController(Controller):
    path = "/w"
    include_in_schema = False  # HTML for the iframe, not an API

    @get("/start", name="widget:start")
    async def start(
        self,
        request: Request[Any, Any, Any],
        token: FromQuery[str | None] = None,
        origin: FromQuery[str | None] = None,
        locale_hint: Annotated[str | None, QueryParameter(name="locale", required=False)] = None,
    ) -> Template | Response[bytes]:
        runtime = _runtime(request)
        settings, clock = runtime.settings, runtime.clock
        # postMessage goes only to an allowed origin; anything else means "full page, post nothing".
        parent = origin if origin and origin.rstrip("/") in settings.allowed_origins else ""
        try:
            claims = verify_embed_token(token, settings, clock())
            locale = negotiate(claims.locale or locale_hint, request.headers.get("accept-language"))
            view = await sessions.start_session(claims, billing=runtime.billing, clock=clock, locale=locale)
        except TokenError as exc:
            log.warning("embed token refused: %s (%s)", exc.problem, exc.detail)
            return error_page(request, f"token_{exc.problem.value}", 401, parent)
        except SubscriptionNotFound:
            return error_page(request, "subscription_not_found", 404, parent)
        except (BillingError, FlowNotConfigured) as exc:
            log.error("cannot start a session: %r", exc)
            return error_page(request, "unavailable", 503, parent)
        return_url = safe_return_url(claims.return_url, settings)
        return render(request, view, runtime, parent_origin=parent, return_url=return_url)

    @get("/theme.css", name="widget:theme", media_type="text/css")
    async def theme_css(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The configured brand colour, font and radius as CSS variables (no inline styles: CSP)."""
        theme = _runtime(request).settings.theme
        shape = f"--sf-radius: {theme.radius_px}px;"
        if theme.font:
            shape += f" --sf-font: {theme.font}, system-ui, sans-serif;"
        # The brand colour is taken verbatim in light mode; dark mode keeps its lighter, readable tint.
        colours = f"--sf-brand: {theme.brand}; --sf-brand-contrast: {theme.brand_contrast};"
        css = f":root {{ {shape} }}\n@media (prefers-color-scheme: light) {{ :root {{ {colours} }} }}\n"
        return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=300"})

    @get("/s/{session_id:str}", name="widget:show")
    async def show(
        self,
        request: Request[Any, Any, Any],
        session_id: FromPath[str],
    ) -> Template | Response[bytes]:
        runtime = _runtime(request)
        presented = _presented_token(request)
        try:
            claims = verify_flow_token(presented, session_id, runtime.settings, runtime.clock())
            view = await sessions.load_session(session_id)
        except TokenError:
            return error_page(request, "session_expired", 401)
        except SessionNotFound:
            return error_page(request, "session_not_found", 404)
        return render(
            request, view, runtime, parent_origin=claims.po, return_url=claims.ru, presented=(presented or "", claims)
        )

    async def _act(
        self, request: Request[Any, Any, Any], session_id: str, token: str | None, event: Event, runtime: Runtime
    ) -> Template | Response[bytes] | Redirect:
        settings, clock = runtime.settings, runtime.clock
        try:
            claims = verify_flow_token(token, session_id, settings, clock())
        except TokenError:
            return error_page(request, "session_expired", 401)
        try:
            view = await sessions.handle_event(session_id, event, billing=runtime.billing, clock=clock)
        except SessionNotFound:
            return error_page(request, "session_not_found", 404)
        except InvalidInput as exc:
            return render(
                request,
                await sessions.load_session(session_id),
                runtime,
                parent_origin=claims.po,
                error=exc,
                return_url=claims.ru,
            )
        except InvalidTransition:
            # A double click or a stale tab: show where the session really is.
            view = await sessions.load_session(session_id)
        if is_htmx(request):
            return render(
                request, view, runtime, parent_origin=claims.po, return_url=claims.ru, presented=(token or "", claims)
            )
        # Plain form post: redirect so a refresh never re-submits (post/redirect/get).
        token = mint_flow_token(
            settings,
            session_id=session_id,
            customer_id=claims.sub,
            parent_origin=claims.po,
            now=clock(),
            return_url=claims.ru,
        )
        return Redirect(path=f"/w/s/{session_id}?flow_token={token}", status_code=HTTP_303_SEE_OTHER)

    @post("/s/{session_id:str}/{intent:str}", name="widget:act")
    async def act(
        self,
        request: Request[Any, Any, Any],
        session_id: FromPath[str],
        intent: FromPath[str],
    ) -> Template | Response[bytes] | Redirect:
        return await self._dispatch(request, session_id, intent, None, _runtime(request), _presented_token(request))

    @post("/s/{session_id:str}/offers/{offer_id:str}/{intent:str}", name="widget:offer")
    async def act_on_offer(
        self,
        request: Request[Any, Any, Any],
        session_id: FromPath[str],
        offer_id: FromPath[str],
        intent: FromPath[str],
    ) -> Template | Response[bytes] | Redirect:
        offer_intent = f"offer_{intent}"
        return await self._dispatch(
            request, session_id, offer_intent, offer_id, _runtime(request), _presented_token(request)
        )

    async def _dispatch(
        self,
        request: Request[Any, Any, Any],
        session_id: FromPath[str],
        intent: FromPath[str],
        offer_id: str | None,
        runtime: Runtime,
        header_token: str | None,
    ) -> Template | Response[bytes] | Redirect:
        build = INTENTS.get(intent)
        if build is None:
            return error_page(request, "not_found", 404)
        try:
            form = await _read_form(request)
        except ValueError:
            return error_page(request, "bad_request", 400)
        event = build(form, runtime.clock(), OfferId(offer_id or ""))
        return await self._act(request, session_id, form.get("flow_token") or header_token, event, runtime)


MAX_FORM_BYTES = 64 * 1024


async def _read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The url-encoded body as plain strings; anything else (files, huge bodies) is a ValueError."""
    length = request.headers.get("content-length")
    if length and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        raise ValueError("body too large")
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    if len(values) != len(form) or any(len(v) > 10_000 for v in values.values()):
        raise ValueError("unexpected form content")
    return values


EventBuilder = Callable[[dict[str, str], datetime, OfferId], Event]

INTENTS: dict[str, EventBuilder] = {
    "continue": lambda form, at, _: Continued(at=at),
    "reason": lambda form, at, _: ReasonChosen(
        at=at, reason=ReasonId(form.get("reason", "")), comment=form.get("comment", "")
    ),
    "feedback": lambda form, at, _: FeedbackGiven(at=at, text=form.get("feedback", "")),
    "cancel": lambda form, at, _: CancelRequested(at=at),
    "confirm": lambda form, at, _: CancelConfirmed(at=at),
    "back": lambda form, at, _: WentBack(at=at),
    "close": lambda form, at, _: Closed(at=at),
    "offer_accept": lambda form, at, offer_id: OfferAccepted(at=at, offer_id=offer_id),
    "offer_decline": lambda form, at, offer_id: OfferDeclined(at=at, offer_id=offer_id),
}
