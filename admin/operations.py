"""Operations in the admin: outbound webhook deliveries (replay), the Stripe webhook ledger (replay),
pending billing operations, and the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin import auth
from service.db.tables import AuditLog, BillingOperation, BillingWebhookEvent, FollowUpTask, WebhookDelivery
from service.deps import BillingDep, ClockDep, SettingsDep
from service.use_cases.outbound import replay_delivery
from service.use_cases.webhooks import process_webhook


@get("/operations", name="admin:operations", guards=[auth.at_least("viewer")])
async def operations_page(request: Request[Any, Any, Any]) -> Template:
    deliveries = (
        await WebhookDelivery.select(
            WebhookDelivery.id,
            WebhookDelivery.event_type,
            WebhookDelivery.status,
            WebhookDelivery.attempts,
            WebhookDelivery.last_status,
            WebhookDelivery.last_error,
            WebhookDelivery.created_at,
            WebhookDelivery.endpoint.url,
        )
        .order_by(WebhookDelivery.id, ascending=False)
        .limit(50)
    )
    ledger = (
        await BillingWebhookEvent.select(
            BillingWebhookEvent.id,
            BillingWebhookEvent.event_id,
            BillingWebhookEvent.type,
            BillingWebhookEvent.status,
            BillingWebhookEvent.attempts,
            BillingWebhookEvent.received_at,
            BillingWebhookEvent.error,
        )
        .order_by(BillingWebhookEvent.id, ascending=False)
        .limit(50)
    )
    pending = (
        await BillingOperation.select(
            BillingOperation.session,
            BillingOperation.action,
            BillingOperation.offer_id,
            BillingOperation.idempotency_key,
            BillingOperation.created_at,
        )
        .where(BillingOperation.status == "pending")
        .order_by(BillingOperation.id)
    )
    audit = await AuditLog.select().order_by(AuditLog.id, ascending=False).limit(50)
    context = {
        "deliveries": deliveries,
        "ledger": ledger,
        "pending": pending,
        "audit": audit,
        "tasks": await FollowUpTask.select().where(FollowUpTask.status == "open").order_by(FollowUpTask.id),
        "staff": request.state.staff,
    }
    return Template(template_name="admin/operations.html", context=context, headers={"Cache-Control": "no-store"})


@post("/operations/deliveries/{delivery_id:int}/replay", name="admin:replay_delivery", guards=[auth.at_least("admin")])
async def replay_outbound(request: Request[Any, Any, Any], delivery_id: FromPath[int], clock: ClockDep) -> Redirect:
    if await replay_delivery(delivery_id, clock()):
        await auth.audit(request.state.staff, "webhook.replay", f"delivery {delivery_id}", now=clock())
    return Redirect(path="/admin/operations", status_code=303)


@post("/operations/ledger/{row_id:int}/replay", name="admin:replay_ledger", guards=[auth.at_least("admin")])
async def replay_inbound(
    request: Request[Any, Any, Any], row_id: FromPath[int], billing: BillingDep, clock: ClockDep, settings: SettingsDep
) -> Redirect:
    await process_webhook(
        row_id, billing=billing, clock=clock, verify_after=timedelta(days=settings.verify_saves_after_days)
    )
    await auth.audit(request.state.staff, "stripe_webhook.replay", f"ledger row {row_id}", now=clock())
    return Redirect(path="/admin/operations", status_code=303)


@post("/operations/tasks/{task_id:int}", name="admin:task_update", guards=[auth.at_least("editor")])
async def update_task(request: Request[Any, Any, Any], task_id: FromPath[int], clock: ClockDep) -> Redirect:
    form = await request.form()
    if form.get("done"):
        changes: dict[Any, Any] = {FollowUpTask.status: "done", FollowUpTask.done_at: clock()}
    else:
        changes = {FollowUpTask.assignee: str(form.get("assignee", ""))[:320]}
    await FollowUpTask.update(changes).where(FollowUpTask.id == task_id)
    await auth.audit(request.state.staff, "task.update", f"task {task_id}", after=str(dict(form))[:500], now=clock())
    return Redirect(path="/admin/operations", status_code=303)


def operation_handlers() -> list[Any]:
    return [operations_page, replay_outbound, replay_inbound, update_task]
