"""The embedded widget's HTTP surface (/w): the iframe page and one POST per user intent.

Rules: parse → call one use case → render. No step logic here: `flows.decide` picks the next step,
`_widget_view.STEP_TEMPLATES` picks its template, and service.http.errors answers every refusal with
the friendly page. The widget uses no cookies: the signed flow token travels in the `X-Flow-Token`
header (htmx) or a `flow_token` form/query field (no JS), so it is also the CSRF defence for these routes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.plugins.htmx import HTMXRequest, HTMXTemplate
from litestar.response import Redirect, Template
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
from flows.events import Kept
from offers import BillingProvider, OfferId
from service.deps import BillingDep, ClockDep, SettingsDep
from service.http import assets
from service.http._widget_view import STEP_TEMPLATES, step_context
from service.i18n import negotiate
from service.security import FlowClaims, mint_flow_token, safe_return_url, verify_embed_token, verify_flow_token
from service.settings import Settings
from service.use_cases import sessions
from service.use_cases.sessions import SessionView
from service.use_cases.winback import queue_at_cancel

MAX_FORM_BYTES = 64 * 1024
STEP_HEADERS = {"Vary": "HX-Request", "Cache-Control": "no-store"}  # a step is per user and switches on HX-Request

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
FlowDep = NamedDependency[FlowClaims]  # see presented_flow_token


async def presented_flow_token(
    request: HTMXRequest, session_id: FromPath[str], settings: SettingsDep, clock: ClockDep
) -> FlowClaims:
    """The `flow` dependency: the verified claims of the token the request carries. A form field wins over
    the header, which keeps the token of the page's first load while every form carries the latest one."""
    form = await request.form() if request.method == "POST" else {}
    token = form.get("flow_token") or request.headers.get("x-flow-token") or request.query_params.get("flow_token")
    return verify_flow_token(token if isinstance(token, str) else None, session_id, settings, clock())


def render_step(
    request: HTMXRequest,
    view: SessionView,
    *,
    settings: Settings,
    now: datetime,
    parent_origin: str,
    return_url: str,
    error: InvalidInput | None = None,
    theme: str = "light",
    submitted: dict[str, str] | None = None,
) -> Template:
    """The step `view` is on: its partial for htmx, else the full frame. Each response carries a new flow
    token (a full lifetime from `now`), so a widget left open keeps working for as long as it is used."""
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
        return_url=return_url,
        logo_url=settings.theme.logo_url,
        public_url=settings.public_url,
        error=error.message if error else None,
        error_field=error.field if error else None,
        submitted=submitted,
    )
    status = 422 if error else 200
    context["theme"] = theme  # the host's; later full pages (no JS) fall back to light
    if not request.htmx:
        # A prepared widget asks to be counted when the user opens it (widget.js posts here on "opened").
        opened = view.session.opened_at is None
        context["opened_url"] = f"/w/s/{view.session.id}/opened" if opened else ""
        context["close_on_load"] = False
        return Template(template_name="widget/frame.html", context=context, status_code=status, headers=STEP_HEADERS)
    state = view.state
    if state.step is StepKind.DONE and state.outcome is not Outcome.ABANDONED:
        # embed.js relays this event to the host page (postMessage) once the final step has settled.
        accepted = view.definition.offer(state.accepted_offer) if state.accepted_offer else None
        params = {
            "outcome": state.outcome.value if state.outcome else "",
            "offer": {"kind": accepted.kind.value, "id": accepted.id} if accepted else None,
        }
        return HTMXTemplate(
            template_name=STEP_TEMPLATES[state.step],
            context=context,
            trigger_event="saveflow:finished",
            params=params,
            after="settle",
            status_code=status,
            headers=STEP_HEADERS,
        )
    return HTMXTemplate(
        template_name=STEP_TEMPLATES[state.step], context=context, status_code=status, headers=STEP_HEADERS
    )


class WidgetController(Controller):
    path = "/w"
    include_in_schema = False  # HTML for the iframe, not an API
    dependencies = {"flow": Provide(presented_flow_token)}

    @get("/start", name="widget:start")
    async def start(
        self,
        request: HTMXRequest,
        settings: SettingsDep,
        billing: BillingDep,
        clock: ClockDep,
        token: FromQuery[str | None] = None,
        origin: FromQuery[str | None] = None,
        locale_hint: Annotated[str | None, QueryParameter(name="locale", required=False)] = None,
        prepared: FromQuery[bool] = False,
        theme: FromQuery[str | None] = None,
    ) -> Template:
        # postMessage goes only to an allowed origin; anything else means "full page, post nothing".
        parent = origin.rstrip("/") if origin and origin.rstrip("/") in settings.allowed_origins else ""
        claims = verify_embed_token(token, settings, clock())
        locale = negotiate(claims.locale or locale_hint, request.headers.get("accept-language"))
        view = await sessions.start_session(claims, billing=billing, clock=clock, locale=locale, prepared=prepared)
        return_url = safe_return_url(claims.return_url, settings)
        return render_step(
            request,
            view,
            settings=settings,
            now=clock(),
            parent_origin=parent,
            return_url=return_url,
            theme=assets.theme_name(theme),
        )

    @get("/theme.css", name="widget:theme", media_type="text/css")
    async def theme_css(self, settings: SettingsDep) -> Response[str]:
        """The configured theme as CSS variables for the error page (no inline styles there: CSP)."""
        css = assets.theme_css(settings.theme)
        return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=300"})

    @post("/s/{session_id:str}/opened", name="widget:opened", status_code=204)
    async def opened(self, session_id: FromPath[str], flow: FlowDep, clock: ClockDep) -> None:
        """The user opened a widget the host had prepared: from now on it is a flow that counts."""
        await sessions.open_session(session_id, clock=clock)

    @get("/s/{session_id:str}", name="widget:show")
    async def show(
        self,
        request: HTMXRequest,
        session_id: FromPath[str],
        flow: FlowDep,
        settings: SettingsDep,
        clock: ClockDep,
        close: FromQuery[bool] = False,
    ) -> Template:
        view = await sessions.load_session(session_id)
        page = render_step(
            request, view, settings=settings, now=clock(), parent_origin=flow.parent_origin, return_url=flow.return_url
        )
        page.context["close_on_load"] = close and view.state.step is StepKind.DONE
        return page

    @post("/s/{session_id:str}/{intent:str}", name="widget:act", request_max_body_size=MAX_FORM_BYTES)
    async def act(
        self,
        request: HTMXRequest,
        session_id: FromPath[str],
        intent: FromPath[str],
        flow: FlowDep,
        settings: SettingsDep,
        billing: BillingDep,
        clock: ClockDep,
        data: Form,
    ) -> Template | Redirect:
        event = _event(intent, data, clock(), OfferId(""))
        return await _act(request, session_id, event, flow, settings=settings, billing=billing, clock=clock, form=data)

    @post(
        "/s/{session_id:str}/offers/{offer_id:str}/{intent:str}",
        name="widget:offer",
        request_max_body_size=MAX_FORM_BYTES,
    )
    async def act_on_offer(
        self,
        request: HTMXRequest,
        session_id: FromPath[str],
        offer_id: FromPath[str],
        intent: FromPath[str],
        flow: FlowDep,
        settings: SettingsDep,
        billing: BillingDep,
        clock: ClockDep,
        data: Form,
    ) -> Template | Redirect:
        event = _event(f"offer_{intent}", data, clock(), OfferId(offer_id))
        return await _act(request, session_id, event, flow, settings=settings, billing=billing, clock=clock, form=data)


async def _act(
    request: HTMXRequest,
    session_id: str,
    event: Event,
    flow: FlowClaims,
    *,
    settings: Settings,
    billing: BillingProvider,
    clock: Callable[[], datetime],
    form: dict[str, str],
) -> Template | Redirect:
    origin, return_url = flow.parent_origin, flow.return_url
    error: InvalidInput | None = None
    try:
        view = await sessions.handle_event(session_id, event, billing=billing, clock=clock)
    except InvalidInput as exc:  # the same step again, saying what to fix
        view, error = await sessions.load_session(session_id), exc
    except InvalidTransition:  # a double click or a stale tab: show where the session really is
        view = await sessions.load_session(session_id)
    await queue_at_cancel(view.session, settings=settings, now=clock())  # the cancel is committed: its email
    if request.htmx or error:
        # A refused form is answered in place (no redirect), with what was sent, so nothing typed is lost.
        return render_step(
            request,
            view,
            settings=settings,
            now=clock(),
            parent_origin=origin,
            return_url=return_url,
            error=error,
            submitted=form,
        )
    # A plain form post: redirect, so that a refresh never submits it again (post/redirect/get).
    token = mint_flow_token(
        settings,
        session_id=session_id,
        customer_id=flow.customer_id,
        parent_origin=origin,
        now=clock(),
        return_url=return_url,
    )
    query = {"flow_token": token}
    if isinstance(event, (Closed, Kept)):
        # Posted before widget.js ran (a quick click on a slow phone): the page it lands on asks the host
        # to close the modal, so leaving works whether or not the script was there to intercept the click.
        query["close"] = "1"
    return Redirect(path=f"/w/s/{session_id}?{urlencode(query)}", status_code=HTTP_303_SEE_OTHER)


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
    "keep": lambda form, at, _: Kept(at=at),
    # `length`: the radio picked on a pause card or "Extend the pause" ("2-weeks"); the machine checks it.
    "offer_accept": lambda form, at, offer_id: OfferAccepted(at=at, offer_id=offer_id, length=form.get("length", "")),
    "offer_decline": lambda form, at, offer_id: OfferDeclined(at=at, offer_id=offer_id),
}


def _event(intent: str, form: dict[str, str], at: datetime, offer_id: OfferId) -> Event:
    build = INTENTS.get(intent)
    if build is None:
        raise NotFoundException(f"no such intent: {intent}")
    return build(form, at, offer_id)
