"""The admin router (/admin): dashboard, sessions, feedback and exports; every page behind staff_only.

Rules: reads go through admin.queries (figures from admin.metrics); writes through service.use_cases.
Pages that htmx refreshes in part render one named block (`HTMXBlockTemplate`-style: an allow-list).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Router, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from admin import auth, metrics, queries
from admin.experiments import experiment_handlers
from admin.flows import flow_handlers
from admin.operations import operation_handlers
from admin.settings_pages import settings_handlers
from flows.diagram import mermaid
from flows.model import StepKind
from service.deps import ClockDep, SettingsDep
from service.use_cases.feedback import triage_feedback as triage

OUTCOME_FILTERS = ("", "saved", "cancelled", "abandoned", "open")
BUCKETS = ("day", "week", "month")
INTERVALS = (("", "any"), ("month", "monthly"), ("year", "yearly"), ("week", "weekly"), ("day", "daily"))
HEADERS = {"Vary": "HX-Request", "Cache-Control": "no-store"}


def _page(request: Request[Any, Any, Any], template: str, context: dict[str, Any], partial: str = "") -> Template:
    """The whole page, or only its `partial` when htmx asks (filter forms swap their results in place)."""
    chosen = partial if partial and request.headers.get("hx-request") else template
    return Template(template_name=chosen, context={**context, "staff": request.state.staff}, headers=HEADERS)


def _date(value: str, fallback: datetime) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return fallback


@get("/", name="admin:dashboard", guards=[auth.at_least("viewer")])
async def dashboard(
    request: Request[Any, Any, Any],
    settings: SettingsDep,
    clock: ClockDep,
    start: FromQuery[str] = "",
    end: FromQuery[str] = "",
    plan: FromQuery[str] = "",
    interval: FromQuery[str] = "",
    segment: FromQuery[str] = "",
    version: FromQuery[str] = "",
    arm: FromQuery[str] = "",
    locale: FromQuery[str] = "",
    include_test: FromQuery[bool] = False,
    bucket: FromQuery[str] = "day",
) -> Template:
    today = clock().replace(hour=0, minute=0, second=0, microsecond=0)
    first = _date(start, today - timedelta(days=29))
    last = _date(end, today)
    if last < first:
        first, last = last, first
    filters = metrics.Filters(
        start=first.date(),
        end=(last + timedelta(days=1)).date(),
        plan=plan[:64],
        interval=interval[:16],
        segment=segment[:64],
        version=version[:12],
        arm=arm[:64],
        locale=locale[:16],
        include_test=include_test,
    )
    board = await queries.dashboard(
        filters,
        bucket=bucket if bucket in BUCKETS else "day",
        now=clock(),
        verify_after=timedelta(days=settings.verify_saves_after_days),
    )
    context = {
        "board": board,
        "form": {
            "start": f"{first:%Y-%m-%d}",
            "end": f"{last:%Y-%m-%d}",
            "plan": plan,
            "interval": interval,
            "segment": segment,
            "version": version,
            "arm": arm,
            "locale": locale,
            "include_test": include_test,
            "bucket": bucket,
        },
        "buckets": BUCKETS,
        "intervals": INTERVALS,
        "reason_labels": await queries.reason_labels(),
        "verify_days": settings.verify_saves_after_days,
    }
    return _page(request, "admin/dashboard.html", context, "admin/_dashboard_results.html")


@get("/sessions", name="admin:sessions", guards=[auth.at_least("viewer")])
async def sessions_list(
    request: Request[Any, Any, Any], page: FromQuery[int] = 1, outcome: FromQuery[str] = "", q: FromQuery[str] = ""
) -> Template:
    if outcome not in OUTCOME_FILTERS:
        outcome = ""
    result = await queries.sessions_page(page=page, outcome=outcome or None, search=q[:100])
    context = {"page": result, "outcome": outcome, "outcomes": OUTCOME_FILTERS, "q": q}
    return _page(request, "admin/sessions.html", context, "admin/_session_rows.html")


@get("/sessions/{session_id:str}", name="admin:session", guards=[auth.at_least("viewer")])
async def session_page(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Template:
    detail = await queries.session_detail(session_id)
    if detail is None:
        raise NotFoundException("No such session.")
    taken = [StepKind(step) for step in detail.steps_taken if step in StepKind.__members__.values()]
    path = set(zip([StepKind.NEW, *taken], taken, strict=False))
    context = {
        "detail": detail,
        "diagram": mermaid(path),
        "steps": [s.value for s in StepKind if s is not StepKind.NEW],
    }
    return _page(request, "admin/session_detail.html", context)


@get("/feedback", name="admin:feedback", guards=[auth.at_least("viewer")])
async def feedback_page(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    tag: FromQuery[str] = "",
    unreviewed: FromQuery[bool] = False,
) -> Template:
    rows = await queries.feedback(q[:100], tag=tag[:30], unreviewed_only=unreviewed)
    context = {"rows": rows, "q": q, "tag": tag, "unreviewed": unreviewed}
    return _page(request, "admin/feedback.html", context, "admin/_feedback_rows.html")


@post("/feedback/{session_id:str}", name="admin:feedback_triage", guards=[auth.at_least("editor")])
async def triage_feedback(request: Request[Any, Any, Any], session_id: FromPath[str], clock: ClockDep) -> Redirect:
    form = await request.form()
    if not await triage(
        request.state.staff.email,
        session_id,
        tags=str(form.get("tags", "")),
        reviewed=bool(form.get("reviewed")),
        now=clock(),
    ):
        raise NotFoundException("No such session.")
    return Redirect(path="/admin/feedback", status_code=303)


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    # Cells that a spreadsheet would run as a formula are prefixed with ' (CSV injection).
    csv.writer(out).writerow([f"'{v}" if isinstance(v, str) and v and v[0] in "=+-@\t\r" else v for v in values])
    return out.getvalue()


@get("/export/sessions.csv", name="admin:export_sessions", guards=[auth.at_least("viewer")])
async def export_sessions(outcome: FromQuery[str] = "") -> Stream:
    async def lines() -> AsyncIterator[str]:
        yield _csv_line(
            [
                "session",
                "started_at",
                "customer",
                "email",
                "plan",
                "mrr_cents",
                "outcome",
                "reason",
                "offer",
                "offer_kind",
                "test_mode",
            ]
        )
        async for r in queries.export_rows(outcome if outcome in OUTCOME_FILTERS and outcome else None):
            yield _csv_line(
                [
                    r.id,
                    r.started_at.isoformat(),
                    r.customer_id,
                    r.email or "",
                    r.plan,
                    r.mrr_cents,
                    r.outcome,
                    r.reason or "",
                    r.offer_id or "",
                    r.offer_kind or "",
                    r.test_mode,
                ]
            )

    return Stream(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="sessions.csv"', "Cache-Control": "no-store"},
    )


@get("/export/feedback.csv", name="admin:export_feedback", guards=[auth.at_least("viewer")])
async def export_feedback(q: FromQuery[str] = "") -> Stream:
    async def lines() -> AsyncIterator[str]:
        yield _csv_line(["session", "started_at", "customer", "plan", "mrr_cents", "reason", "outcome", "text"])
        for r in await queries.feedback(q[:100], limit=100_000):
            yield _csv_line(
                [
                    r.session_id,
                    r.started_at.isoformat(),
                    r.customer,
                    r.plan,
                    r.mrr_cents,
                    r.reason or "",
                    r.outcome,
                    r.text,
                ]
            )

    return Stream(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="feedback.csv"', "Cache-Control": "no-store"},
    )


def admin_router() -> Router:
    handlers: list[Any] = [
        dashboard,
        sessions_list,
        session_page,
        feedback_page,
        triage_feedback,
        export_sessions,
        export_feedback,
        *flow_handlers(),
        *experiment_handlers(),
        *settings_handlers(),
        *operation_handlers(),
    ]
    protected = Router(path="/admin", guards=[auth.staff_only], route_handlers=handlers)
    return Router(path="/", route_handlers=[protected, auth.login_page, auth.login_submit, auth.logout])
