"""Repositories: explicit mappers between Piccolo rows and the domain's frozen dataclasses.

Rules: may import piccolo, service.db.* and flows/offers types. No business decisions here:
the use cases decide, repositories load and store. Call writes inside `unit_of_work()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from flows import CustomerContext, Event, FlowDefinition, FlowState, SessionId
from flows import experiments as exp
from flows import segments as seg
from offers import OfferId, OfferKind, Redemption
from service.db import codec
from service.db.tables import BillingOperation, Experiment, FlowEvent, FlowSession, FlowVersion, Segment
from service.db.uow import BatchAborted, Insert, Statement, fetch, is_postgres, write_atomically


class SessionNotFound(Exception):
    """No session has this id."""


class ConcurrentUpdate(Exception):
    """The session changed between load and save; the caller reloads and re-renders."""


@dataclass(frozen=True, slots=True)
class StoredSession:
    id: SessionId
    token_jti: str
    customer_id: str
    subscription_id: str
    flow_version_id: int
    state: FlowState
    context: CustomerContext
    losses_json: str
    attrs_json: str
    locale: str
    email: str | None
    test_mode: bool
    started_at: datetime
    segment_id: str | None = None
    experiment_id: str | None = None
    arm_id: str | None = None


# ------------------------------------------------------------------------------------ flow versions
async def published_version(flow_key: str) -> tuple[int, FlowDefinition] | None:
    row = (
        await FlowVersion.select(FlowVersion.id)
        .where((FlowVersion.flow_key == flow_key) & (FlowVersion.status == "published"))
        .order_by(FlowVersion.number, ascending=False)
        .first()
    )
    if row is None:
        return None
    return row["id"], await definition_of_version(row["id"])


_versions: dict[tuple[int, str], FlowDefinition] = {}


async def definition_of_version(version_id: int) -> FlowDefinition:
    """A version's definition. Versions never change, so each process reads one at most once
    (keyed by database too, since tests and tools may bind the tables to another engine)."""
    key = (version_id, str(id(FlowVersion._meta.db)))
    cached = _versions.get(key)
    if cached is not None:
        return cached
    row = await FlowVersion.select(FlowVersion.definition).where(FlowVersion.id == version_id).first()
    if row is None:
        raise LookupError(f"flow version {version_id} does not exist")
    definition = _parse_definition(row["definition"])
    if len(_versions) > 1024:
        _versions.clear()
    _versions[key] = definition
    return definition


@lru_cache(maxsize=256)
def _parse_definition(text: str) -> FlowDefinition:
    # Versions are immutable, so the parsed definition can be cached by its exact JSON text.
    return codec.definition_from_json(text)


async def publish_version(definition: FlowDefinition, now: datetime, note: str = "") -> int:
    latest = (
        await FlowVersion.select(FlowVersion.number)
        .where(FlowVersion.flow_key == definition.key)
        .order_by(FlowVersion.number, ascending=False)
        .first()
    )
    number = (latest["number"] if latest else 0) + 1
    rows = await FlowVersion.insert(
        FlowVersion(
            flow_key=definition.key,
            number=number,
            status="published",
            definition=codec.definition_to_json(definition),
            note=note,
            created_at=now,
            published_at=now,
        )
    ).returning(FlowVersion.id)
    version_id: int = rows[0]["id"]
    return version_id


# ------------------------------------------------------------------------------------ segments, experiments
async def segments_by_priority() -> tuple[seg.Segment, ...]:
    rows = await Segment.select().order_by(Segment.priority).order_by(Segment.id)
    return tuple(
        seg.Segment(
            id=r["id"],
            name=r["name"],
            flow_key=r["flow_key"],
            conditions=codec.conditions_from_json(r["conditions"]),
        )
        for r in rows
    )


async def save_segment(segment: seg.Segment, priority: int, now: datetime) -> None:
    await Segment.insert(
        Segment(
            id=segment.id,
            name=segment.name,
            priority=priority,
            flow_key=segment.flow_key,
            conditions=codec.dumps(segment.conditions),
            created_at=now,
        )
    )


async def running_experiment(flow_key: str) -> exp.Experiment | None:
    row = (
        await Experiment.select(Experiment.id, Experiment.flow_key, Experiment.arms)
        .where((Experiment.flow_key == flow_key) & (Experiment.status == "running"))
        .order_by(Experiment.started_at, ascending=False)
        .first()
    )
    if row is None:
        return None
    return exp.Experiment(id=row["id"], flow_key=row["flow_key"], arms=codec.arms_from_json(row["arms"]))


async def start_experiment(experiment: exp.Experiment, name: str, now: datetime) -> None:
    await Experiment.insert(
        Experiment(
            id=experiment.id,
            name=name,
            flow_key=experiment.flow_key,
            status="running",
            arms=codec.dumps(experiment.arms),
            started_at=now,
        )
    )


# ------------------------------------------------------------------------------------ sessions
def _to_session(row: dict[str, object]) -> StoredSession:
    return StoredSession(
        id=SessionId(str(row["id"])),
        token_jti=str(row["token_jti"]),
        customer_id=str(row["customer_id"]),
        subscription_id=str(row["subscription_id"]),
        flow_version_id=int(str(row["flow_version"])),
        state=codec.state_from_json(str(row["state"])),
        context=codec.context_from_json(str(row["context"])),
        losses_json=str(row["losses"]),
        attrs_json=str(row["attrs"]),
        locale=str(row["locale"]),
        email=str(row["email"]) if row["email"] is not None else None,
        test_mode=bool(row["test_mode"]),
        started_at=row["started_at"],  # type: ignore[arg-type]
        segment_id=row["segment_id"],  # type: ignore[arg-type]
        experiment_id=row["experiment_id"],  # type: ignore[arg-type]
        arm_id=row["arm_id"],  # type: ignore[arg-type]
    )


# The widget's hot path: written out once, because building it with Piccolo took ~0.5 ms per step.
_GET_SESSION = (
    "SELECT id, token_jti, customer_id, subscription_id, flow_version, state, context, losses, attrs, locale,"
    " email, test_mode, started_at, segment_id, experiment_id, arm_id FROM flow_session WHERE id = {}"
)


async def get_session(session_id: str, *, for_update: bool = False) -> StoredSession | None:
    # SQLite's IMMEDIATE transaction already serialises writers; Postgres needs the row lock.
    lock = " FOR UPDATE" if for_update and is_postgres() else ""
    rows = await fetch(_GET_SESSION + lock, session_id)
    return _to_session(rows[0]) if rows else None


async def find_session_by_jti(jti: str) -> StoredSession | None:
    row = await FlowSession.select().where(FlowSession.token_jti == jti).first()
    return _to_session(row) if row else None


_STATE_COLUMNS = (
    "step",
    "outcome",
    "reason",
    "offer_id",
    "offer_kind",
    "state",
    "version",
    "updated_at",
    "finished_at",
)


def _save_state_sql(columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{column} = {{}}" for column in columns)
    return f"UPDATE flow_session SET {assignments} WHERE id = {{}} AND version = {{}} RETURNING id"  # noqa: S608


# Written out once (the widget's hot path; Piccolo took ~0.35 ms per step to build these two). SQLite
# rewrites the entry of every index on a column the UPDATE assigns, even to the value it already has:
# most steps keep the outcome, and leaving it out spares the outcome index's page in every commit.
_SAVE_STATE = _save_state_sql(_STATE_COLUMNS)
_SAVE_STATE_KEEPING_OUTCOME = _save_state_sql(tuple(c for c in _STATE_COLUMNS if c != "outcome"))
_APPEND_EVENT = Insert.into(FlowEvent, ("session", "seq", "type", "payload", "at"))


def _state_columns(state: FlowState, definition: FlowDefinition, now: datetime) -> dict[Any, Any]:
    """The denormalised columns of a session's state, in `_STATE_COLUMNS` order."""
    offer = definition.offer(state.accepted_offer) if state.accepted_offer else None
    return {
        "step": state.step.value,
        "outcome": state.outcome.value if state.outcome else None,
        "reason": state.reason,
        "offer_id": offer.id if offer else None,
        "offer_kind": offer.kind.value if offer else None,
        "state": codec.dumps(state),
        "version": state.version,
        "updated_at": now,
        "finished_at": now if state.finished else None,
    }


async def insert_session(
    session: StoredSession,
    definition: FlowDefinition,
    *,
    mrr_cents: int,
    plan: str,
    now: datetime,
    interval: str = "",
) -> None:
    await FlowSession.insert(
        FlowSession(
            id=session.id,
            token_jti=session.token_jti,
            customer_id=session.customer_id,
            subscription_id=session.subscription_id,
            email=session.email,
            locale=session.locale,
            flow_version=session.flow_version_id,
            test_mode=session.test_mode,
            mrr_cents=mrr_cents,
            plan=plan,
            billing_interval=interval,
            context=codec.dumps(session.context),
            losses=session.losses_json,
            attrs=session.attrs_json,
            started_at=session.started_at,
            segment_id=session.segment_id,
            experiment_id=session.experiment_id,
            arm_id=session.arm_id,
            holdout=session.context.holdout,
            **_state_columns(session.state, definition, now),
        )
    )


def save_state_statement(
    session_id: str,
    state: FlowState,
    definition: FlowDefinition,
    *,
    expected_version: int,
    now: datetime,
    outcome_unchanged: bool = False,
) -> Statement:
    """The session's new state, written only if nobody saved another since `expected_version` was read.
    `outcome_unchanged`: the state at `expected_version` had `state.outcome` too, so the row's outcome
    column (and its index) is left as it is."""
    columns = _state_columns(state, definition, now)
    sql = _SAVE_STATE
    if outcome_unchanged:
        del columns["outcome"]
        sql = _SAVE_STATE_KEEPING_OUTCOME
    return Statement(sql, (*columns.values(), session_id, expected_version), must_return_rows=True)


def append_event_statement(session_id: str, seq: int, event: Event) -> Statement:
    return _APPEND_EVENT.statement(session_id, seq, codec.event_type_name(event), codec.dumps(event), event.at)


async def write_step(statements: list[Statement]) -> None:
    """A step's writes (state first), all or nothing. Raises ConcurrentUpdate when the state lost a race."""
    try:
        await write_atomically(statements)
    except BatchAborted as exc:
        raise ConcurrentUpdate("the session changed since it was read") from exc


async def save_state(
    session_id: str, state: FlowState, definition: FlowDefinition, *, expected_version: int, now: datetime
) -> None:
    await write_step([save_state_statement(session_id, state, definition, expected_version=expected_version, now=now)])


async def append_event(session_id: str, seq: int, event: Event) -> None:
    await write_atomically([append_event_statement(session_id, seq, event)])


async def events_of(session_id: str) -> list[Event]:
    rows = (
        await FlowEvent.select(FlowEvent.type, FlowEvent.payload)
        .where(FlowEvent.session == session_id)
        .order_by(FlowEvent.seq)
    )
    return [codec.event_from_json(r["type"], r["payload"]) for r in rows]


async def redemptions_of(customer_id: str) -> tuple[Redemption, ...]:
    """Offers this customer accepted and we applied before (feeds eligibility cooldowns)."""
    rows = await BillingOperation.select(
        BillingOperation.offer_id, BillingOperation.offer_kind, BillingOperation.updated_at
    ).where(
        (BillingOperation.session.customer_id == customer_id)
        & (BillingOperation.session.test_mode == False)  # noqa: E712 - test mode changed nothing in billing
        & (BillingOperation.action == "offer")
        & (BillingOperation.status == "applied")
    )
    return tuple(Redemption(OfferId(r["offer_id"]), OfferKind(r["offer_kind"]), r["updated_at"]) for r in rows)
