"""The admin's single read side: every admin page's data, as frozen rows.

Covers sessions, feedback, exports, dashboard figures, flows, experiments, operations and staff.
Rules: the only admin module that may import service.repositories; never the tables. Metric
arithmetic lives in admin.metrics, experiment statistics in admin.experiments. Definitions: a session
is *saved* when an offer was accepted AND applied by billing (outcome "saved"); *cancelled* when the
cancellation reached billing; *abandoned* when closed without either; *open* while none of those
happened yet. An experiment arm's *decided* sessions are its saved plus cancelled ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from admin import metrics
from flows import FlowDefinition
from flows.experiments import Arm
from service.repositories import dashboard as rollup
from service.repositories import follow_ups, outbox, reports, staff, stripe_events
from service.repositories.flows import published_version
from service.repositories.follow_ups import Task
from service.repositories.outbox import DeliveryStatus, EndpointSummary
from service.repositories.reports import ExperimentRecord, OperationRecord, StoredVersion, VersionRecord
from service.repositories.staff import AuditEntry, StaffAccount, StaffMember
from service.repositories.stripe_events import LedgerEntry
from service.use_cases.feedback import normalise_tags

__all__ = (
    "ArmCounts",
    "AuditEntry",
    "DeliveryStatus",
    "EndpointSummary",
    "ExperimentRecord",
    "FeedbackRow",
    "LedgerEntry",
    "OperationRecord",
    "SessionDetail",
    "SessionRow",
    "SessionsPage",
    "StaffAccount",
    "StaffMember",
    "StoredVersion",
    "Task",
    "TimelineEntry",
    "VersionRecord",
)
PAGE_SIZE = 50


# ------------------------------------------------------------------------------------ sessions
@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    customer_id: str
    email: str | None
    plan: str
    mrr_cents: int
    outcome: str  # saved | cancelled | abandoned | open
    step: str
    reason: str | None
    offer_id: str | None  # the offer that saved the session; None unless saved
    offer_kind: str | None
    test_mode: bool
    started_at: datetime


@dataclass(frozen=True, slots=True)
class SessionsPage:
    rows: tuple[SessionRow, ...]
    page: int
    has_next: bool


def _session_row(r: reports.SessionRecord) -> SessionRow:
    saved = r.outcome == "saved"
    return SessionRow(
        id=r.id,
        customer_id=r.customer_id,
        email=r.email,
        plan=r.plan,
        mrr_cents=r.mrr_cents,
        outcome=r.outcome or "open",
        step=r.step,
        reason=r.reason,
        offer_id=r.offer_id if saved else None,
        offer_kind=r.offer_kind if saved else None,
        test_mode=r.test_mode,
        started_at=r.started_at,
    )


async def sessions_page(page: int = 1, outcome: str | None = None, search: str = "") -> SessionsPage:
    page = max(page, 1)
    found = await reports.newest_sessions(
        outcome=outcome, search=search, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return SessionsPage(
        rows=tuple(_session_row(r) for r in found[:PAGE_SIZE]), page=page, has_next=len(found) > PAGE_SIZE
    )


async def export_rows(outcome: str | None, batch: int = 500) -> AsyncIterator[SessionRow]:
    """All sessions (optionally of one outcome), oldest first, fetched in batches for streaming."""
    offset = 0
    while True:
        found = await reports.oldest_sessions(outcome=outcome, limit=batch, offset=offset)
        for record in found:
            yield _session_row(record)
        if len(found) < batch:
            return
        offset += batch


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # event | billing | webhook
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class SessionDetail:
    row: SessionRow
    state: dict[str, Any]
    timeline: tuple[TimelineEntry, ...]
    steps_taken: tuple[str, ...]
    flow_version_id: int
    experiment: str | None
    verified_at: datetime | None
    lapsed_at: datetime | None


async def session_detail(session_id: str) -> SessionDetail | None:
    """The session replayed from its event log, with its billing calls and the webhooks it caused."""
    facts = await reports.session_facts(session_id)
    if facts is None:
        return None
    events = await reports.session_events(session_id)
    timeline: list[TimelineEntry] = []
    for e in events:
        shown = {k: v for k, v in e.payload.items() if k != "at" and v not in ("", None)}
        timeline.append(TimelineEntry(e.at, "event", e.type, ", ".join(f"{k}: {v}" for k, v in shown.items())))
    for op in await reports.billing_operations(session_id):
        what = f"{op.action} {op.offer_id or ''}".strip()
        detail = f"status {op.status}, attempt {op.attempt}, key {op.idempotency_key}"
        if op.error:
            detail += f", error: {op.error}"
        timeline.append(TimelineEntry(op.created_at, "billing", f"Billing: {what}", detail))
    for d in await outbox.session_deliveries(session_id):
        detail = f"{d.status} after {d.attempts} attempt(s) to {d.url}"
        timeline.append(TimelineEntry(d.created_at, "webhook", f"Webhook {d.event_type}", detail))
    timeline.sort(key=lambda entry: entry.at)
    return SessionDetail(
        row=_session_row(facts.record),
        state=facts.state,
        timeline=tuple(timeline),
        steps_taken=_steps_taken([e.type for e in events]),
        flow_version_id=facts.flow_version_id,
        experiment=f"{facts.experiment_id} / {facts.arm_id}" if facts.experiment_id else None,
        verified_at=facts.verified_at,
        lapsed_at=facts.lapsed_at,
    )


_EVENT_STEP = {
    "Started": "loss_aversion",
    "Continued": "survey",
    "ReasonChosen": "offer",
    "OfferAccepted": "offer_pending",
    "FeedbackGiven": "confirm",
    "CancelRequested": "confirm",
    "CancelConfirmed": "cancel_pending",
    "OfferApplied": "done",
    "CancelApplied": "done",
    "Closed": "done",
}


def _steps_taken(event_types: list[str]) -> tuple[str, ...]:
    steps: list[str] = []
    for name in event_types:
        step = _EVENT_STEP.get(name)
        if step and step not in steps:
            steps.append(step)
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    session_id: str
    started_at: datetime
    customer: str
    plan: str
    mrr_cents: int
    reason: str | None
    outcome: str
    text: str
    tags: tuple[str, ...] = ()
    reviewed: bool = False


async def feedback(
    search: str = "", limit: int = 200, *, tag: str = "", unreviewed_only: bool = False
) -> tuple[FeedbackRow, ...]:
    """Every free-text answer (the reason's follow-up and the feedback step), newest first."""
    found = await reports.sessions_with_text(
        search, tag=normalise_tags(tag) if tag else "", unreviewed_only=unreviewed_only, limit=limit
    )
    rows = []
    for f in found:
        text = " / ".join(t for t in (f.state.get("comment"), f.state.get("feedback")) if t)
        if text and (not search or search.lower() in text.lower()):
            r = f.record
            rows.append(
                FeedbackRow(
                    r.id,
                    r.started_at,
                    r.email or r.customer_id,
                    r.plan,
                    r.mrr_cents,
                    r.reason,
                    r.outcome or "open",
                    text,
                    tuple(t for t in f.tags.split(",") if t),
                    f.reviewed_at is not None,
                )
            )
    return tuple(rows)


async def pending_billing_operations() -> tuple[OperationRecord, ...]:
    return await reports.pending_billing_operations()


# ------------------------------------------------------------------------------------ dashboard
async def cells(filters: metrics.Filters) -> list[metrics.Cell]:
    """The one read behind every figure: the filtered rollup, summed over the dimensions not shown.

    Dirty days are recomputed from the raw rows first, so the result is exact.
    """
    version = filters.version
    if version and not version.isdigit():
        return []  # not a version number: nothing matches
    await rollup.refresh()
    found = await rollup.rollup_cells(
        rollup.RollupFilter(
            start=filters.start,
            end=filters.end,
            plan=filters.plan,
            billing_interval=filters.interval,
            segment_id=filters.segment,
            flow_version=int(version) if version else None,
            arm_id=filters.arm,
            locale=filters.locale,
            include_test=filters.include_test,
        )
    )
    return [
        metrics.Cell(
            day=c.day,
            reason=c.reason,
            offer_kind=c.offer_kind,
            segment_id=c.segment_id,
            experiment_id=c.experiment_id,
            holdout=c.holdout,
            outcome=c.outcome,
            finished_day=c.finished_day,
            sessions=c.sessions,
            mrr_cents=c.mrr_cents,
            verified=c.verified,
            lapsed=c.lapsed,
            reached=(c.reached_continued, c.reached_reason, c.answered_offer, c.accepted_offer, c.confirmed_cancel),
        )
        for c in found
    ]


async def dashboard(
    filters: metrics.Filters, *, bucket: str, now: datetime, verify_after: timedelta
) -> metrics.Dashboard:
    """Every figure of the dashboard from one read of the rollup."""
    return metrics.dashboard_of(await cells(filters), filters, bucket=bucket, now=now, verify_after=verify_after)


async def reason_labels(recent: int = 20) -> dict[str, str]:
    """Reason id → the label customers saw, from the newest published versions (newest label wins)."""
    labels: dict[str, str] = {}
    for definition in await reports.newest_published_definitions(recent):
        for reason in definition.reasons:
            labels.setdefault(reason.id, reason.label)
    return labels


# ------------------------------------------------------------------------------------ flows
async def versions() -> tuple[VersionRecord, ...]:
    """Published (and archived) versions, newest first; drafts are previews, not versions anyone runs."""
    return await reports.versions(published_only=False)


async def published_versions() -> tuple[VersionRecord, ...]:
    return await reports.versions(published_only=True)


async def latest_published(flow_key: str) -> FlowDefinition | None:
    found = await published_version(flow_key)
    return found[1] if found else None


async def latest_published_json(flow_key: str) -> str:
    """The newest published definition of `flow_key` exactly as stored, or "" if there is none."""
    found = await reports.latest_published(flow_key)
    return found.definition_json if found else ""


async def stored_versions(version_ids: list[int]) -> dict[int, StoredVersion]:
    return await reports.stored_versions(version_ids)


# ------------------------------------------------------------------------------------ experiments
@dataclass(frozen=True, slots=True)
class ArmCounts:
    sessions: int = 0
    saved: int = 0
    decided: int = 0  # saved + cancelled
    verified: int = 0  # saves still paying after the verification period
    mrr_saved_cents: int = 0


async def experiments() -> tuple[ExperimentRecord, ...]:
    return await reports.experiments()


async def arm_counts(experiment_id: str, arms: tuple[Arm, ...]) -> tuple[ArmCounts, ...]:
    """Each arm's customer sessions (test sessions left out), in the order of `arms`."""
    by_arm: dict[str, list[reports.ArmOutcome]] = {}
    for row in await reports.arm_outcomes(experiment_id):
        by_arm.setdefault(row.arm_id, []).append(row)
    counts = []
    for arm in arms:
        rows = by_arm.get(arm.id, [])
        saved = [r for r in rows if r.outcome == "saved"]
        counts.append(
            ArmCounts(
                sessions=sum(r.sessions for r in rows),
                saved=sum(r.sessions for r in saved),
                decided=sum(r.sessions for r in rows if r.outcome in ("saved", "cancelled")),
                verified=sum(r.verified for r in saved),
                mrr_saved_cents=sum(r.mrr_cents for r in saved),
            )
        )
    return tuple(counts)


# ------------------------------------------------------------------------------------ operations, staff
async def recent_deliveries() -> tuple[DeliveryStatus, ...]:
    return await outbox.recent_deliveries(50)


async def recent_stripe_webhooks() -> tuple[LedgerEntry, ...]:
    return await stripe_events.recent(50)


async def recent_audit() -> tuple[AuditEntry, ...]:
    return await staff.recent_audit(50)


async def open_tasks() -> tuple[Task, ...]:
    return await follow_ups.open_tasks()


async def webhook_endpoints() -> tuple[EndpointSummary, ...]:
    return await outbox.endpoints()


async def staff_accounts() -> tuple[StaffAccount, ...]:
    return await staff.accounts()


async def staff_member(user_id: int, session_version: int) -> StaffMember | None:
    """The signed-in staff user, if the account is active and that session has not been ended."""
    return await staff.member(user_id, session_version)
