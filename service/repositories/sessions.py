"""The session aggregate: a customer's walk through a flow (`flow_session`) and its event log (`flow_event`).

Rules: may import piccolo, service.db and flows/offers types. No business decisions: use cases decide,
this module loads and stores. Writes belong inside the caller's `unit_of_work()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flows import CustomerContext, Event, FlowDefinition, FlowState, SessionId
from offers import OfferId, OfferKind, Redemption
from offers.value import PeriodFlow
from service.db import codec
from service.db.engine import lock_rows_if_postgres
from service.db.tables import BillingOperation, FlowEvent, FlowSession


class SessionNotFound(Exception):
    """No session has this id."""


class ConcurrentUpdate(Exception):
    """The session was saved by someone else since it was loaded; nothing was written."""


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
    opened_at: datetime | None = None  # None: a prepared widget the user has not opened yet


_COLUMNS = (
    FlowSession.id,
    FlowSession.token_jti,
    FlowSession.customer_id,
    FlowSession.subscription_id,
    FlowSession.flow_version,
    FlowSession.state,
    FlowSession.context,
    FlowSession.losses,
    FlowSession.attrs,
    FlowSession.locale,
    FlowSession.email,
    FlowSession.test_mode,
    FlowSession.started_at,
    FlowSession.segment_id,
    FlowSession.experiment_id,
    FlowSession.arm_id,
    FlowSession.opened_at,
)


def _to_session(row: dict[str, Any]) -> StoredSession:
    return StoredSession(
        id=SessionId(row["id"]),
        token_jti=row["token_jti"],
        customer_id=row["customer_id"],
        subscription_id=row["subscription_id"],
        flow_version_id=int(row["flow_version"]),
        state=codec.state_from_json(row["state"]),
        context=codec.context_from_json(row["context"]),
        losses_json=row["losses"],
        attrs_json=row["attrs"],
        locale=row["locale"],
        email=row["email"],
        test_mode=bool(row["test_mode"]),
        started_at=row["started_at"],
        segment_id=row["segment_id"],
        experiment_id=row["experiment_id"],
        arm_id=row["arm_id"],
        opened_at=row["opened_at"],
    )


async def get(session_id: str, *, for_update: bool = False) -> StoredSession | None:
    """The session, or None. `for_update` (inside a unit of work) locks its row until the commit."""
    query = FlowSession.select(*_COLUMNS).where(FlowSession.id == session_id)
    if for_update:
        query = lock_rows_if_postgres(query)
    rows = await query
    return _to_session(rows[0]) if rows else None


async def find_by_jti(jti: str) -> StoredSession | None:
    row = await FlowSession.select(*_COLUMNS).where(FlowSession.token_jti == jti).first()
    return _to_session(row) if row else None


def _state_columns(state: FlowState, definition: FlowDefinition, now: datetime) -> dict[str, Any]:
    """The session's state as JSON plus the columns denormalised from it for lists and analytics."""
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


async def add(
    session: StoredSession, definition: FlowDefinition, *, mrr_cents: int, plan: str, interval: str, now: datetime
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
            opened_at=session.opened_at,
            **_state_columns(session.state, definition, now),
        )
    )


async def save_state(
    session_id: str, state: FlowState, definition: FlowDefinition, *, expected_version: int, now: datetime
) -> None:
    """Store the session's new state if it is still at `expected_version`.

    The check costs nothing (the row is locked anyway) and turns a logic slip, such as saving a state
    that was loaded outside the unit of work, into an error instead of a lost update.

    Raises:
        ConcurrentUpdate: the row is at another version; nothing was written.
    """
    columns = {getattr(FlowSession, name): value for name, value in _state_columns(state, definition, now).items()}
    updated = (
        await FlowSession.update(columns)
        .where((FlowSession.id == session_id) & (FlowSession.version == expected_version))
        .returning(FlowSession.id)
    )
    if not updated:
        raise ConcurrentUpdate(session_id)


async def append_event(session_id: str, seq: int, event: Event) -> None:
    await FlowEvent.insert(
        FlowEvent(
            session=session_id,
            seq=seq,
            type=codec.event_type_name(event),
            payload=codec.dumps(event),
            at=event.at,
        )
    )


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


async def latest_subscription_of(customer_id: str) -> str | None:
    """The subscription of the customer's most recent session, if they ever had one."""
    row = (
        await FlowSession.select(FlowSession.subscription_id)
        .where(FlowSession.customer_id == customer_id)
        .order_by(FlowSession.started_at, ascending=False)
        .first()
    )
    return str(row["subscription_id"]) if row else None


# ------------------------------------------------------------------ verified saves (from reconciliation)
def _saved_unsettled(subscription_id: str) -> Any:
    return (
        (FlowSession.subscription_id == subscription_id)
        & (FlowSession.outcome == "saved")
        & FlowSession.verified_at.is_null()
        & FlowSession.save_lapsed_at.is_null()
    )


async def mark_saves_lapsed(subscription_id: str, now: datetime) -> None:
    await FlowSession.update({FlowSession.save_lapsed_at: now}).where(_saved_unsettled(subscription_id))


async def mark_saves_verified(subscription_id: str, now: datetime, *, finished_before: datetime) -> None:
    """Verify saves old enough whose subscription paid an invoice after the save (see record_paid_invoice)."""
    await FlowSession.update({FlowSession.verified_at: now}).where(
        _saved_unsettled(subscription_id)
        & (FlowSession.finished_at <= finished_before)
        & FlowSession.paid_at.is_not_null()
    )


async def subscriptions_with_saves_to_verify(finished_before: datetime, limit: int) -> list[str]:
    """Subscriptions with a real (not test-mode) save, finished before the cut-off and not yet settled."""
    rows = (
        await FlowSession.select(FlowSession.subscription_id)
        .where(
            (FlowSession.outcome == "saved")
            & (FlowSession.test_mode == False)  # noqa: E712 - Piccolo column comparison
            & FlowSession.verified_at.is_null()
            & FlowSession.save_lapsed_at.is_null()
            & (FlowSession.finished_at <= finished_before)
        )
        .distinct()
        .limit(limit)
    )
    return [str(r["subscription_id"]) for r in rows]


async def backdate_save_verification(session_id: str, *, verified: bool, at: datetime) -> None:
    """For the demo's sample history: settle one save as the sweep would have, at a past time."""
    column = FlowSession.verified_at if verified else FlowSession.save_lapsed_at
    await FlowSession.update({column: at}).where(FlowSession.id == session_id)


async def any_exist() -> bool:
    return bool(await FlowSession.exists())


# admin
async def feedback_tags(session_id: str) -> str | None:
    """The session's CS triage tags ("a,b"), or None when there is no such session."""
    row = await FlowSession.select(FlowSession.feedback_tags).where(FlowSession.id == session_id).first()
    return str(row["feedback_tags"]) if row else None


async def triage_feedback(session_id: str, *, tags: str, reviewed_at: datetime | None) -> None:
    await FlowSession.update({FlowSession.feedback_tags: tags, FlowSession.feedback_reviewed_at: reviewed_at}).where(
        FlowSession.id == session_id
    )


# ------------------------------------------------------------------ metric facts (admin/metrics.py)
METRIC_COLUMNS = frozenset(
    {
        "currency",
        "monthly_cents",
        "retained_cents",
        "retained_later_cents",
        "retained_from",
        "repeat",
        "offers_shown",
        "period_end",
        "cancelling_at_start",
    }
)


async def save_metric_facts(session_id: str, facts: dict[str, Any]) -> None:
    """Store the money and counting facts the dashboard needs (names from METRIC_COLUMNS)."""
    unknown = set(facts) - METRIC_COLUMNS
    if unknown:
        raise ValueError(f"not metric columns: {sorted(unknown)}")
    if facts:
        columns = {getattr(FlowSession, name): value for name, value in facts.items()}
        await FlowSession.update(columns).where(FlowSession.id == session_id)


async def record_paid_invoice(subscription_id: str, paid_at: datetime) -> None:
    """Billing reports a paid invoice: it is the first one after each unsettled save that finished before it.

    A trial extension starts counting its price from that invoice on (net MRR retained).
    """
    after_save = (
        (FlowSession.subscription_id == subscription_id)
        & (FlowSession.outcome == "saved")
        & FlowSession.paid_at.is_null()
        & (FlowSession.finished_at < paid_at)
    )
    await FlowSession.update({FlowSession.retained_from: paid_at}).where(
        after_save & (FlowSession.offer_kind == "trial_extension") & FlowSession.retained_from.is_null()
    )
    await FlowSession.update({FlowSession.paid_at: paid_at}).where(after_save)


async def idle_session_ids(updated_before: datetime, steps: tuple[str, ...], limit: int) -> list[str]:
    """Unfinished sessions on one of `steps` with no activity since `updated_before`, oldest first."""
    rows = (
        await FlowSession.select(FlowSession.id)
        .where(
            FlowSession.outcome.is_null()
            & FlowSession.opened_at.is_not_null()
            & FlowSession.step.is_in(list(steps))
            & (FlowSession.updated_at < updated_before)
        )
        .order_by(FlowSession.updated_at)
        .limit(limit)
    )
    return [str(r["id"]) for r in rows]


async def mark_opened(session_id: str, now: datetime) -> bool:
    """The user opened a prepared widget: from now on the session counts, and its idle clock starts.
    Returns whether this call opened it (False: it was open already, or there is no such session)."""
    opened = (
        await FlowSession.update({FlowSession.opened_at: now, FlowSession.updated_at: now})
        .where((FlowSession.id == session_id) & FlowSession.opened_at.is_null())
        .returning(FlowSession.id)
    )
    return bool(opened)


async def delete_unopened(started_before: datetime, limit: int) -> int:
    """Forget prepared widgets nobody opened (their tokens have expired): they were never flows."""
    rows = (
        await FlowSession.select(FlowSession.id)
        .where(FlowSession.opened_at.is_null() & (FlowSession.started_at < started_before))
        .limit(limit)
    )
    ids = [str(r["id"]) for r in rows]
    if ids:
        await FlowSession.delete().where(FlowSession.id.is_in(ids))  # events cascade
    return len(ids)


async def flows_in_period(subscription_id: str, period_end: datetime, *, test_mode: bool) -> list[PeriodFlow]:
    """The opened flows of one subscription that started in the billing period ending at `period_end`."""
    rows = await FlowSession.select(
        FlowSession.id, FlowSession.outcome, FlowSession.started_at, FlowSession.cancelling_at_start
    ).where(
        (FlowSession.subscription_id == subscription_id)
        & (FlowSession.period_end == period_end)
        & (FlowSession.test_mode == test_mode)
        & FlowSession.opened_at.is_not_null()
    )
    return [PeriodFlow(str(r["id"]), r["outcome"], r["started_at"], bool(r["cancelling_at_start"])) for r in rows]


async def set_repeat(counted: set[str], flows: list[PeriodFlow]) -> None:
    """Label every flow but the `counted` ones a repeat, and those not (rows already right are left alone)."""
    repeats = [f.id for f in flows if f.id not in counted]
    if repeats:
        await FlowSession.update({FlowSession.repeat: True}).where(
            FlowSession.id.is_in(repeats) & (FlowSession.repeat == False)  # noqa: E712
        )
    if counted:
        await FlowSession.update({FlowSession.repeat: False}).where(
            FlowSession.id.is_in(sorted(counted)) & (FlowSession.repeat == True)  # noqa: E712
        )
