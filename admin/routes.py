"""The admin router (/admin): dashboard, sessions, feedback and exports; every page behind staff_only.

Rules: reads go through admin.queries (figures from admin.metrics); writes through service.use_cases.
Pages that htmx refreshes in part render one named block (`HTMXBlockTemplate`-style: an allow-list).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from admin import auth, metrics, queries, winback_metrics
from admin.charts import charts_of
from admin.emails import email_handlers
from admin.experiments import experiment_handlers
from admin.flows import flow_handlers
from admin.operations import operation_handlers
from admin.segments import segment_handlers
from admin.settings_pages import settings_handlers
from service.deps import ClockDep, SettingsDep
from service.use_cases.feedback import triage_feedback as triage

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
    reason_labels, offer_labels = await queries.reason_labels(), await queries.offer_labels()
    context = {
        "board": board,
        "options": await queries.dashboard_options(),
        "charts": charts_of(board, reason_labels, offer_labels),
        "definitions": (*metrics.DEFINITIONS, winback_metrics.DEFINITION),
        "winback": await queries.winback(filters, board.totals.cancelled),
        "offer_labels": offer_labels,
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
        "reason_labels": reason_labels,
        "verify_days": settings.verify_saves_after_days,
    }
    return _page(request, "admin/dashboard.html", context, "admin/_dashboard_results.html")


@dataclass(frozen=True, slots=True)
class FilterForm:
    """The sessions and feedback filters as submitted (kept for the form, the pager and the export link)."""

    outcome: str = ""
    reason: str = ""
    offer: str = ""
    plan: str = ""
    language: str = ""
    start: str = ""
    end: str = ""
    q: str = ""
    tag: str = ""
    unreviewed: bool = False

    def query(self, *, text_search: bool) -> queries.SessionFilter:
        """`q` searches the written answers (feedback) or customer, email and session id (sessions)."""
        first = _date(self.start, datetime.min.replace(tzinfo=UTC))
        last = _date(self.end, datetime.max.replace(tzinfo=UTC) - timedelta(days=1))
        return queries.SessionFilter(
            outcome=self.outcome,
            reason=self.reason,
            offer=self.offer,
            plan=self.plan,
            locale=self.language,
            start=first if self.start else None,
            end=last + timedelta(days=1) if self.end else None,
            search="" if text_search else self.q,
            text=self.q if text_search else "",
            tag=self.tag,
            unreviewed_only=self.unreviewed,
        )

    @property
    def qs(self) -> str:
        return urlencode({k: "true" if v is True else v for k, v in asdict(self).items() if v})


def filter_form(
    outcome: FromQuery[str] = "",
    reason: FromQuery[str] = "",
    offer: FromQuery[str] = "",
    plan: FromQuery[str] = "",
    language: FromQuery[str] = "",
    start: FromQuery[str] = "",
    end: FromQuery[str] = "",
    q: FromQuery[str] = "",
    tag: FromQuery[str] = "",
    unreviewed: FromQuery[bool] = False,
) -> FilterForm:
    return FilterForm(
        outcome[:16],
        reason[:64],
        offer[:64],
        plan[:64],
        language[:16],
        start[:10],
        end[:10],
        q[:100],
        tag[:30],
        unreviewed,
    )


FILTERS = {"form": Provide(filter_form, sync_to_thread=False)}
FormDep = NamedDependency[FilterForm]


@get("/sessions", name="admin:sessions", guards=[auth.at_least("viewer")], dependencies=FILTERS)
async def sessions_list(request: Request[Any, Any, Any], form: FormDep, page: FromQuery[int] = 1) -> Template:
    result = await queries.sessions_page(page=page, filters=form.query(text_search=False))
    context = {"page": result, "form": form, "options": await queries.filter_options()}
    return _page(request, "admin/sessions.html", context, "admin/_session_rows.html")


@get("/sessions/{session_id:str}", name="admin:session", guards=[auth.at_least("viewer")])
async def session_page(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Template:
    detail = await queries.session_detail(session_id)
    if detail is None:
        raise NotFoundException("No such session.")
    return _page(request, "admin/session_detail.html", {"detail": detail})


@get("/feedback", name="admin:feedback", guards=[auth.at_least("viewer")], dependencies=FILTERS)
async def feedback_page(request: Request[Any, Any, Any], form: FormDep) -> Template:
    rows = await queries.feedback(form.query(text_search=True))
    context = {"rows": rows, "form": form, "options": await queries.filter_options()}
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
    back = urlencode(parse_qsl(str(form.get("back", ""))[:1000]))  # the filters the list was showing
    return Redirect(path=f"/admin/feedback?{back}" if back else "/admin/feedback", status_code=303)


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    # Cells that a spreadsheet would run as a formula are prefixed with ' (CSV injection).
    csv.writer(out).writerow([f"'{v}" if isinstance(v, str) and v and v[0] in "=+-@\t\r" else v for v in values])
    return out.getvalue()


@get("/export/sessions.csv", name="admin:export_sessions", guards=[auth.at_least("viewer")], dependencies=FILTERS)
async def export_sessions(form: FormDep) -> Stream:
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
        async for r in queries.export_rows(form.query(text_search=False)):
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


FEEDBACK_COLUMNS = ["session", "started_at", "customer", "plan", "mrr_cents", "reason", "outcome"]
FEEDBACK_LABELS = ["reason_label", "offers", "language", "tags", "reviewed", "text"]


@get("/export/feedback.csv", name="admin:export_feedback", guards=[auth.at_least("viewer")], dependencies=FILTERS)
async def export_feedback(form: FormDep) -> Stream:
    """The feedback list as filtered on the page (the same filters, every matching row)."""

    async def lines() -> AsyncIterator[str]:
        yield _csv_line(FEEDBACK_COLUMNS + FEEDBACK_LABELS)
        for r in await queries.feedback(form.query(text_search=True), limit=100_000):
            yield _csv_line(
                [
                    r.id,
                    r.started_at.isoformat(),
                    r.email or r.customer_id,
                    r.plan,
                    r.mrr_cents,
                    r.reason or "",
                    r.outcome,
                    r.reason_label,
                    r.offers_note,
                    r.language,
                    ",".join(r.tags),
                    r.reviewed,
                    r.text,
                ]
            )

    return Stream(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="feedback.csv"', "Cache-Control": "no-store"},
    )


def admin_routes() -> list[Any]:
    """The staff-only router under /admin, and the login pages beside it. Not a router wrapping both: Litestar
    deep-copies a router each time it is registered, and create_app runs once per integration test."""
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
        *segment_handlers(),
        *settings_handlers(),
        *operation_handlers(),
        *email_handlers(),
    ]
    protected = Router(path="/admin", guards=[auth.staff_only], route_handlers=handlers)
    return [protected, auth.login_page, auth.login_submit, auth.logout]
