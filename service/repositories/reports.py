"""The admin's read side over sessions, billing operations, flow versions and experiment results.

Rules: may import piccolo, msgspec, flows types and service.db (tables, codec, engine). Reads only;
no business decisions: rows come back as frozen records and admin.queries gives them meaning
(what "saved" means, which arm is the control). Preview sessions (an admin's scratch runs in the flow
editor) are never a customer's session, so no session read here returns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
from piccolo.query.functions.aggregate import Count

from flows.experiments import Arm
from service.db import codec
from service.db.engine import is_postgres
from service.db.tables import BillingOperation, Experiment, FlowEvent, FlowSession, FlowVersion
from service.repositories.flows import PREVIEW_SUBSCRIPTION

if TYPE_CHECKING:
    from flows import FlowDefinition

OPEN = "open"  # as an outcome filter: sessions with no outcome yet


# ------------------------------------------------------------------------------------ sessions
@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    customer_id: str
    email: str | None
    plan: str
    mrr_cents: int  # monthly (a yearly price ÷ 12), in `currency`
    outcome: str | None
    step: str
    reason: str | None
    offer_id: str | None
    offer_kind: str | None
    test_mode: bool
    started_at: datetime
    currency: str = "usd"


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """The rest of one session for its detail page: its state, version, experiment and verification."""

    record: SessionRecord
    state: dict[str, Any]
    flow_version_id: int
    experiment_id: str | None
    arm_id: str | None
    verified_at: datetime | None
    lapsed_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    type: str
    payload: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class OperationRecord:
    session_id: str
    action: str
    offer_id: str | None
    status: str
    attempt: int
    idempotency_key: str
    error: str
    created_at: datetime

    @property
    def credentials_refused(self) -> bool:
        """The billing provider refused our API key (401/403): an operator must fix the configuration."""
        return "ProviderAuthFailed" in self.error


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    record: SessionRecord
    state: dict[str, Any]
    tags: str
    reviewed_at: datetime | None


_SESSION_COLUMNS = (
    FlowSession.id,
    FlowSession.customer_id,
    FlowSession.email,
    FlowSession.plan,
    FlowSession.monthly_cents.as_alias("mrr_cents"),
    FlowSession.currency,
    FlowSession.outcome,
    FlowSession.step,
    FlowSession.reason,
    FlowSession.offer_id,
    FlowSession.offer_kind,
    FlowSession.test_mode,
    FlowSession.started_at,
)


def _to_record(r: dict[str, Any]) -> SessionRecord:
    return SessionRecord(
        id=r["id"],
        customer_id=r["customer_id"],
        email=r["email"],
        plan=r["plan"],
        mrr_cents=r["mrr_cents"],
        currency=r["currency"] or "usd",
        outcome=r["outcome"],
        step=r["step"],
        reason=r["reason"],
        offer_id=r["offer_id"],
        offer_kind=r["offer_kind"],
        test_mode=r["test_mode"],
        started_at=r["started_at"],
    )


def _contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match: ILIKE on Postgres, LIKE (already case-insensitive) on SQLite."""
    term = f"%{text.replace('%', '').replace('_', '')}%"
    return column.ilike(term) if is_postgres() else column.like(term)


def _customer_sessions(*columns: Any, outcome: str | None = None) -> Any:
    query = FlowSession.select(*columns).where(
        (FlowSession.subscription_id != PREVIEW_SUBSCRIPTION) & FlowSession.opened_at.is_not_null()
    )
    if outcome == OPEN:
        query = query.where(FlowSession.outcome.is_null())
    elif outcome:
        query = query.where(FlowSession.outcome == outcome)
    return query


async def newest_sessions(*, outcome: str | None, search: str, limit: int, offset: int) -> tuple[SessionRecord, ...]:
    """Customer sessions, newest first; `search` matches customer id, email or session id."""
    query = _customer_sessions(*_SESSION_COLUMNS, outcome=outcome)
    if search:
        query = query.where(
            _contains(FlowSession.customer_id, search)
            | _contains(FlowSession.email, search)
            | _contains(FlowSession.id, search)
        )
    rows = await query.order_by(FlowSession.started_at, ascending=False).limit(limit).offset(offset)
    return tuple(_to_record(r) for r in rows)


async def oldest_sessions(*, outcome: str | None, limit: int, offset: int) -> tuple[SessionRecord, ...]:
    """Customer sessions, oldest first (stable order, for exports read in batches)."""
    query = _customer_sessions(*_SESSION_COLUMNS, outcome=outcome)
    rows = await query.order_by(FlowSession.started_at).order_by(FlowSession.id).limit(limit).offset(offset)
    return tuple(_to_record(r) for r in rows)


async def session_facts(session_id: str) -> SessionFacts | None:
    row = await FlowSession.select().where(FlowSession.id == session_id).first()
    if row is None:
        return None
    return SessionFacts(
        record=_to_record(row),
        state=msgspec.json.decode(row["state"]),
        flow_version_id=row["flow_version"],
        experiment_id=row["experiment_id"],
        arm_id=row["arm_id"],
        verified_at=row["verified_at"],
        lapsed_at=row["save_lapsed_at"],
    )


async def session_events(session_id: str) -> tuple[EventRecord, ...]:
    rows = (
        await FlowEvent.select(FlowEvent.type, FlowEvent.payload, FlowEvent.at)
        .where(FlowEvent.session == session_id)
        .order_by(FlowEvent.seq)
    )
    return tuple(EventRecord(r["type"], msgspec.json.decode(r["payload"]), r["at"]) for r in rows)


def _to_operation(r: dict[str, Any]) -> OperationRecord:
    return OperationRecord(
        session_id=r["session"],
        action=r["action"],
        offer_id=r["offer_id"],
        status=r["status"],
        attempt=r["attempt"],
        idempotency_key=r["idempotency_key"],
        error=r["error"],
        created_at=r["created_at"],
    )


async def billing_operations(session_id: str) -> tuple[OperationRecord, ...]:
    rows = await BillingOperation.select().where(BillingOperation.session == session_id).order_by(BillingOperation.id)
    return tuple(_to_operation(r) for r in rows)


async def pending_billing_operations() -> tuple[OperationRecord, ...]:
    rows = await BillingOperation.select().where(BillingOperation.status == "pending").order_by(BillingOperation.id)
    return tuple(_to_operation(r) for r in rows)


async def sessions_with_text(search: str, *, tag: str, unreviewed_only: bool, limit: int) -> tuple[FeedbackRecord, ...]:
    """Customer sessions whose state holds a comment or feedback text, newest first."""
    has_text = FlowSession.state.like('%"comment":"%') | FlowSession.state.like('%"feedback":"%')
    query = _customer_sessions(
        *_SESSION_COLUMNS, FlowSession.state, FlowSession.feedback_tags, FlowSession.feedback_reviewed_at
    ).where(has_text)
    if search:
        query = query.where(_contains(FlowSession.state, search))
    if tag:
        query = query.where(_contains(FlowSession.feedback_tags, tag))
    if unreviewed_only:
        query = query.where(FlowSession.feedback_reviewed_at.is_null())
    rows = await query.order_by(FlowSession.started_at, ascending=False).limit(limit)
    return tuple(
        FeedbackRecord(_to_record(r), msgspec.json.decode(r["state"]), r["feedback_tags"], r["feedback_reviewed_at"])
        for r in rows
    )


# ------------------------------------------------------------------------------------ flow versions
@dataclass(frozen=True, slots=True)
class VersionRecord:
    id: int
    flow_key: str
    number: int
    status: str
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredVersion:
    version: VersionRecord
    definition_json: str  # exactly as stored


_VERSION_COLUMNS = (
    FlowVersion.id,
    FlowVersion.flow_key,
    FlowVersion.number,
    FlowVersion.status,
    FlowVersion.note,
    FlowVersion.created_at,
)


def _to_version(r: dict[str, Any]) -> VersionRecord:
    return VersionRecord(r["id"], r["flow_key"], r["number"], r["status"], r["note"], r["created_at"])


async def versions(*, published_only: bool) -> tuple[VersionRecord, ...]:
    """Flow versions newest first, without drafts; with `published_only`, without archived ones too."""
    where = FlowVersion.status == "published" if published_only else FlowVersion.status != "draft"
    rows = await FlowVersion.select(*_VERSION_COLUMNS).where(where).order_by(FlowVersion.id, ascending=False)
    return tuple(_to_version(r) for r in rows)


async def stored_versions(version_ids: list[int]) -> dict[int, StoredVersion]:
    rows = await FlowVersion.select(*_VERSION_COLUMNS, FlowVersion.definition).where(FlowVersion.id.is_in(version_ids))
    return {r["id"]: StoredVersion(_to_version(r), r["definition"]) for r in rows}


async def latest_published(flow_key: str, *, besides: int | None = None) -> StoredVersion | None:
    """The newest published version of `flow_key` (other than version id `besides`)."""
    where = (FlowVersion.flow_key == flow_key) & (FlowVersion.status == "published")
    if besides is not None:
        where &= FlowVersion.id != besides
    row = (
        await FlowVersion.select(*_VERSION_COLUMNS, FlowVersion.definition)
        .where(where)
        .order_by(FlowVersion.number, ascending=False)
        .first()
    )
    return StoredVersion(_to_version(row), row["definition"]) if row else None


async def newest_published_definitions(limit: int) -> tuple[FlowDefinition, ...]:
    rows = (
        await FlowVersion.select(FlowVersion.definition)
        .where(FlowVersion.status == "published")
        .order_by(FlowVersion.id, ascending=False)
        .limit(limit)
    )
    return tuple(codec.definition_from_json(r["definition"]) for r in rows)


# ------------------------------------------------------------------------------------ experiments
@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    id: str
    name: str
    flow_key: str
    status: str
    arms: tuple[Arm, ...]
    started_at: datetime
    stopped_at: datetime | None
    winner_arm: str | None


async def experiments() -> tuple[ExperimentRecord, ...]:
    rows = await Experiment.select().order_by(Experiment.started_at, ascending=False)
    return tuple(
        ExperimentRecord(
            id=r["id"],
            name=r["name"],
            flow_key=r["flow_key"],
            status=r["status"],
            arms=codec.arms_from_json(r["arms"]),
            started_at=r["started_at"],
            stopped_at=r["stopped_at"],
            winner_arm=r["winner_arm"],
        )
        for r in rows
    )


@dataclass(frozen=True, slots=True)
class ArmExposure:
    """One experiment arm's customer sessions (test sessions left out): how many, and from how many customers."""

    arm_id: str
    sessions: int
    customers: int  # distinct customers with at least one session in the arm
    cancelled_customers: int  # distinct customers with at least one session whose outcome is "cancelled"


async def arm_exposures(experiment_id: str) -> tuple[ArmExposure, ...]:
    """Per arm of `experiment_id`: sessions, distinct customers, and distinct customers who cancelled."""
    in_experiment = (
        (FlowSession.experiment_id == experiment_id)
        & (FlowSession.test_mode == False)  # noqa: E712
        & FlowSession.opened_at.is_not_null()
    )
    rows = (
        await FlowSession.select(
            FlowSession.arm_id,
            Count(alias="sessions"),
            Count(distinct=[FlowSession.customer_id], alias="customers"),
        )
        .where(in_experiment)
        .group_by(FlowSession.arm_id)
    )
    cancelled_rows = (
        await FlowSession.select(FlowSession.arm_id, Count(distinct=[FlowSession.customer_id], alias="customers"))
        .where(in_experiment & (FlowSession.outcome == "cancelled"))
        .group_by(FlowSession.arm_id)
    )
    cancelled = {r["arm_id"] or "": int(r["customers"]) for r in cancelled_rows}
    return tuple(
        ArmExposure(r["arm_id"] or "", int(r["sessions"]), int(r["customers"]), cancelled.get(r["arm_id"] or "", 0))
        for r in rows
    )
