"""Follow-up tasks (`follow_up_task`): a customer accepted a training or contact offer, so CS reaches out.

Rules: may import piccolo and service.db. Writes belong inside the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.db.tables import FollowUpTask


async def add_task(
    session_id: str, *, customer_id: str, email: str | None, offer_id: str, note: str, now: datetime
) -> None:
    await FollowUpTask.insert(
        FollowUpTask(
            session=session_id, customer_id=customer_id, email=email, offer_id=offer_id, note=note, created_at=now
        )
    )


# admin
@dataclass(frozen=True, slots=True)
class Task:
    id: int
    session_id: str
    customer_id: str
    email: str | None
    offer_id: str
    note: str
    status: str
    assignee: str
    created_at: datetime

    @property
    def owed(self) -> str:
        """What CS owes the customer once the call is held (a paid exit interview's incentive), else ""."""
        head = self.note.split(" — ", 1)[0]
        return head.removeprefix(OWED) if head.startswith(OWED) else ""


OWED = "Incentive to send: "  # a paid exit interview's task note starts with this, then the incentive


async def open_tasks() -> tuple[Task, ...]:
    """Tasks nobody has closed yet, oldest first."""
    rows = await FollowUpTask.select().where(FollowUpTask.status == "open").order_by(FollowUpTask.id)
    return tuple(
        Task(
            id=r["id"],
            session_id=r["session"],
            customer_id=r["customer_id"],
            email=r["email"],
            offer_id=r["offer_id"],
            note=r["note"],
            status=r["status"],
            assignee=r["assignee"],
            created_at=r["created_at"],
        )
        for r in rows
    )


async def assign_task(task_id: int, assignee: str) -> bool:
    """False when there is no such task."""
    rows = (
        await FollowUpTask.update({FollowUpTask.assignee: assignee})
        .where(FollowUpTask.id == task_id)
        .returning(FollowUpTask.id)
    )
    return bool(rows)


async def close_task(task_id: int, now: datetime) -> bool:
    """False when there is no such task."""
    rows = (
        await FollowUpTask.update({FollowUpTask.status: "done", FollowUpTask.done_at: now})
        .where(FollowUpTask.id == task_id)
        .returning(FollowUpTask.id)
    )
    return bool(rows)
