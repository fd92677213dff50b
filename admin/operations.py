"""Operations in the admin: outbound webhook deliveries (replay), the Stripe webhook ledger (replay),
pending billing operations, the call queue (follow-up tasks, longest waiting first) and the audit log.

Rules: reads through admin.queries, writes through service.use_cases.operations (each audited there).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin import auth, queries
from service.deps import BillingDep, ClockDep, SettingsDep
from service.use_cases import operations


@get("/operations", name="admin:operations", guards=[auth.at_least("viewer")])
async def operations_page(request: Request[Any, Any, Any], clock: ClockDep) -> Template:
    now = clock()
    context = {
        "now": now,
        "deliveries": await queries.recent_deliveries(),
        "ledger": await queries.recent_stripe_webhooks(),
        "pending": await queries.pending_billing_operations(),
        "audit": await queries.recent_audit(),
        "tasks": await queries.call_queue(now),
        "staff": request.state.staff,
    }
    return Template(template_name="admin/operations.html", context=context, headers={"Cache-Control": "no-store"})


@post("/operations/deliveries/{delivery_id:int}/replay", name="admin:replay_delivery", guards=[auth.at_least("admin")])
async def replay_outbound(request: Request[Any, Any, Any], delivery_id: FromPath[int], clock: ClockDep) -> Redirect:
    await operations.replay_outbound(request.state.staff.email, delivery_id, clock())
    return Redirect(path="/admin/operations", status_code=303)


@post("/operations/ledger/{row_id:int}/replay", name="admin:replay_ledger", guards=[auth.at_least("admin")])
async def replay_inbound(
    request: Request[Any, Any, Any], row_id: FromPath[int], billing: BillingDep, clock: ClockDep, settings: SettingsDep
) -> Redirect:
    await operations.replay_inbound(
        request.state.staff.email,
        row_id,
        billing=billing,
        clock=clock,
        verify_after=timedelta(days=settings.verify_saves_after_days),
    )
    return Redirect(path="/admin/operations", status_code=303)


@post("/operations/tasks/{task_id:int}", name="admin:task_update", guards=[auth.at_least("editor")])
async def update_task(request: Request[Any, Any, Any], task_id: FromPath[int], clock: ClockDep) -> Redirect:
    form = await request.form()
    await operations.update_task(
        request.state.staff.email,
        task_id,
        done=bool(form.get("done")),
        assignee=str(form.get("assignee", ""))[:320],
        now=clock(),
    )
    return Redirect(path="/admin/operations", status_code=303)


def operation_handlers() -> list[Any]:
    return [operations_page, replay_outbound, replay_inbound, update_task]
