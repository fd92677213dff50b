"""The admin's single read side: every admin page's data, as frozen rows.

Covers sessions, feedback, exports, dashboard figures, flows, experiments, operations, emails and staff.
Rules: the only admin module that may import service.repositories; never the tables. Metric
arithmetic lives in admin.metrics, experiment statistics in admin.experiments. Definitions: a session
is *saved* when an offer was accepted AND applied by billing (outcome "saved"); *cancelled* when the
cancellation reached billing; *abandoned* when closed without either; *open* while none of those
happened yet. Experiment arms are compared on cancel rate, defined in admin.experiments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from admin import metrics, views, winback_metrics, wording
from admin.views import (
    FeedbackRow,
    FilterOptions,
    QueuedCall,
    SessionDetail,
    SessionRow,
    SessionsPage,
    TimelineEntry,
    session_row,
)
from admin.wording import Vocabulary
from flows import FlowDefinition, SessionId
from flows.diagram import path_diagram, session_path
from flows.experiments import Arm
from flows.segments import Segment
from service.repositories import dashboard as rollup
from service.repositories import emails, follow_ups, outbox, reports, session_lists, staff, stripe_events, winbacks
from service.repositories.flows import published_version, segments_by_priority
from service.repositories.follow_ups import Task
from service.repositories.outbox import DeliveryStatus, EndpointSummary
from service.repositories.reports import ExperimentRecord, OperationRecord, StoredVersion, VersionRecord
from service.repositories.staff import AuditEntry, StaffAccount, StaffMember
from service.repositories.stripe_events import LedgerEntry
from service.use_cases.feedback import normalise_tags

__all__ = (
    "ArmCounts",
    "AuditEntry",
    "DashboardOptions",
    "DeliveryStatus",
    "EndpointSummary",
    "ExperimentRecord",
    "FeedbackRow",
    "FilterOptions",
    "LedgerEntry",
    "OperationRecord",
    "QueuedCall",
    "SessionDetail",
    "SessionFilter",
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
SessionFilter = session_lists.SessionQuery  # the filters of the sessions and feedback pages (and their exports)


async def _vocabularies(versions: set[int]) -> dict[int, Vocabulary]:
    return {v: wording.vocabulary(d) for v, d in (await session_lists.definitions(sorted(versions))).items()}


async def _rows(found: tuple[session_lists.ListedSession, ...]) -> tuple[SessionRow, ...]:
    vocab = await _vocabularies({s.flow_version for s in found})
    return tuple(session_row(s, vocab.get(s.flow_version, Vocabulary())) for s in found)


async def sessions_page(page: int = 1, filters: SessionFilter | None = None) -> SessionsPage:
    page = max(page, 1)
    found = await session_lists.find(filters or SessionFilter(), limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return SessionsPage(rows=await _rows(found[:PAGE_SIZE]), page=page, has_next=len(found) > PAGE_SIZE)


async def export_rows(filters: SessionFilter | None = None, batch: int = 500) -> AsyncIterator[SessionRow]:
    """All sessions matching `filters`, oldest first, fetched in batches for streaming."""
    offset = 0
    while True:
        found = await session_lists.find(filters or SessionFilter(), limit=batch, offset=offset, newest_first=False)
        for row in await _rows(found):
            yield row
        if len(found) < batch:
            return
        offset += batch


async def feedback(filters: SessionFilter | None = None, limit: int = 200) -> tuple[SessionRow, ...]:
    """Every session with a written answer (the reason's follow-up, the feedback step), newest first."""
    chosen = filters or SessionFilter()
    chosen = replace(chosen, with_text=True, tag=normalise_tags(chosen.tag) if chosen.tag else "")
    return await _rows(await session_lists.find(chosen, limit=limit))


async def filter_options() -> FilterOptions:
    """Values that occur in customer sessions, labelled by the newest flow version that names them."""
    values = await session_lists.filter_values()
    found = await session_lists.definitions(list(values.versions))
    vocab = wording.vocabulary(*(found[v] for v in values.versions if v in found))
    return views.filter_options(values.outcomes, values.reasons, values.plans, values.locales, values.tags, vocab)


async def session_detail(session_id: str) -> SessionDetail | None:
    """The session replayed from its event log, with its billing calls and the webhooks it caused."""
    facts, log, listed = (
        await reports.session_facts(session_id),
        await session_lists.session_log(session_id),
        await session_lists.by_ids([session_id]),
    )
    if facts is None or log is None or session_id not in listed:
        return None
    vocab = wording.vocabulary(log.definition)
    timeline = [
        TimelineEntry.of(at, "event", wording.event_sentence(kind, payload, vocab), kind)
        for at, (kind, payload) in zip(log.times, log.payloads, strict=True)
    ]
    for op in await reports.billing_operations(session_id):
        said = wording.billing_sentence(
            op.action, op.offer_id, status=op.status, attempt=op.attempt, error=op.error, vocab=vocab
        )
        timeline.append(
            TimelineEntry(op.created_at, "billing", said.text, f"{said.detail}, key {op.idempotency_key}", said.subject)
        )
    for d in await outbox.session_deliveries(session_id):
        detail = f"{d.status} after {d.attempts} attempt(s) to {d.url}"
        timeline.append(TimelineEntry(d.created_at, "webhook", f"Told your app: {d.event_type}", detail))
    timeline.sort(key=lambda entry: entry.at)
    path = session_path(log.definition, log.context, SessionId(session_id), log.events)
    return SessionDetail(
        row=session_row(listed[session_id], vocab),
        state=listed[session_id].state,
        vocab=vocab,
        timeline=tuple(timeline),
        path=tuple(step.value for step in path),
        diagram=path_diagram(path),
        flow_version_id=facts.flow_version_id,
        experiment=f"{facts.experiment_id} / {facts.arm_id}" if facts.experiment_id else None,
        verified_at=facts.verified_at,
        lapsed_at=facts.lapsed_at,
    )


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
            currency=c.currency,
            repeat=c.repeat,
            offer_id=c.offer_id,
            offers_shown=c.offers_shown,
            retained_day=c.retained_day,
            monthly_cents=c.monthly_cents,
            retained_cents=c.retained_cents,
            retained_later_cents=c.retained_later_cents,
        )
        for c in found
    ]


async def dashboard(
    filters: metrics.Filters, *, bucket: str, now: datetime, verify_after: timedelta
) -> metrics.Dashboard:
    """Every figure of the dashboard from one read of the rollup (fields: admin.metrics' docstring)."""
    return metrics.dashboard_of(await cells(filters), filters, bucket=bucket, now=now, verify_after=verify_after)


async def winback(filters: metrics.Filters, cancelled: int) -> winback_metrics.WinbackFigure:
    """The win-back figure for the dashboard's date range; `cancelled`: the range's cancellations (its totals)."""
    start, end = (datetime.combine(day, time(), UTC) for day in (filters.start, filters.end))
    found = await winbacks.won_back_between(start, end)
    return winback_metrics.winback_figure(found.count, cancelled, found.won_back_cents)


async def reason_labels(recent: int = 20) -> dict[str, str]:
    """Reason id → the label customers saw, from the newest published versions (newest label wins)."""
    labels: dict[str, str] = {}
    for definition in await reports.newest_published_definitions(recent):
        for reason in definition.reasons:
            labels.setdefault(reason.id, reason.label)
    return labels


async def offer_labels(recent: int = 20) -> dict[str, str]:
    """Offer id → the title customers saw, from the newest published versions (newest title wins)."""
    labels: dict[str, str] = {}
    for definition in await reports.newest_published_definitions(recent):
        for offer in definition.offers:
            labels.setdefault(offer.id, offer.copy.title)
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
    """One arm's exposure: customers (the unit an arm is drawn for), those of them who cancelled, sessions."""

    customers: int = 0
    cancelled: int = 0
    sessions: int = 0


async def experiments() -> tuple[ExperimentRecord, ...]:
    return await reports.experiments()


async def arm_counts(experiment_id: str, arms: tuple[Arm, ...]) -> tuple[ArmCounts, ...]:
    """Each arm's counts in the order of `arms`, test sessions left out (definitions: admin.experiments)."""
    found = {e.arm_id: e for e in await reports.arm_exposures(experiment_id)}
    return tuple(
        ArmCounts(e.customers, e.cancelled_customers, e.sessions) if (e := found.get(arm.id)) else ArmCounts()
        for arm in arms
    )


# ------------------------------------------------------------------------------------ operations, staff
async def recent_deliveries() -> tuple[DeliveryStatus, ...]:
    return await outbox.recent_deliveries(50)


async def recent_emails() -> tuple[emails.StoredEmail, ...]:
    return await emails.recent(100)


async def email_detail(email_id: int) -> tuple[emails.StoredEmail, tuple[emails.Attempt, ...]] | None:
    found = await emails.get(email_id)
    return None if found is None else (found, await emails.attempts_of(email_id))


async def emails_waiting() -> int:
    return await emails.pending_count()


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


# ------------------------------------------------------------------------------------ segments
async def segments() -> tuple[Segment, ...]:
    """Every segment in priority order: the first one whose conditions hold picks the customer's flow."""
    return await segments_by_priority()


# ------------------------------------------------------------------------------------ call queue
async def call_queue(now: datetime) -> tuple[QueuedCall, ...]:
    """Open follow-up tasks, longest waiting first, each due by the promise its offer's copy makes."""
    tasks = sorted(await follow_ups.open_tasks(), key=lambda t: (t.created_at, t.id))
    sessions = await session_lists.by_ids([t.session_id for t in tasks])
    vocabs = await _vocabularies({s.flow_version for s in sessions.values()})
    queue = []
    for t in tasks:
        s = sessions.get(t.session_id)
        if s is None:
            queue.append(views.queued_call(t, None, t.note, Vocabulary(), now))
        else:
            vocab = vocabs.get(s.flow_version, Vocabulary())
            queue.append(views.queued_call(t, s.record.reason, s.state.comment or "", vocab, now))
    return tuple(queue)


# ------------------------------------------------------------------------------------ dashboard filters
@dataclass(frozen=True, slots=True)
class DashboardOptions:
    """(value, label) pairs for the dashboard's filter selects: only values in the rollup."""

    plans: tuple[tuple[str, str], ...]
    intervals: tuple[tuple[str, str], ...]
    segments: tuple[tuple[str, str], ...]
    versions: tuple[tuple[str, str], ...]
    arms: tuple[tuple[str, str], ...]
    locales: tuple[tuple[str, str], ...]


INTERVAL_LABELS = {"month": "monthly", "year": "yearly", "week": "weekly", "day": "daily"}


async def dashboard_options() -> DashboardOptions:
    """The dashboard filters' options: segment names, arms with their experiment, language names."""
    await rollup.refresh()
    found = await rollup.dimension_values()
    segment_names = {s.id: s.name for s in await segments_by_priority()}
    experiment_names = {e.id: e.name for e in await reports.experiments()}
    arms: dict[str, list[str]] = {}
    for experiment_id, arm_id in found.arms:
        arms.setdefault(arm_id, []).append(experiment_names.get(experiment_id, experiment_id) or "no experiment")
    return DashboardOptions(
        plans=tuple((p, p) for p in found.plans),
        intervals=tuple((i, INTERVAL_LABELS.get(i, wording.humanize(i))) for i in found.intervals),
        segments=tuple(sorted(((s, segment_names.get(s, s)) for s in found.segments), key=lambda p: p[1].lower())),
        versions=tuple((str(v), f"v{v}") for v in found.versions),
        arms=tuple((a, f"{a} ({', '.join(names)})") for a, names in sorted(arms.items())),
        locales=tuple(sorted(((c, wording.language_label(c)) for c in found.locales), key=lambda p: p[1])),
    )
