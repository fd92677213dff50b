"""Admin-only settings: staff users (create, change role, deactivate), outbound webhook endpoints
(add, showing the signing secret once; deactivate), and where the API key comes from."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin import auth
from service.db.tables import StaffUser, WebhookEndpoint
from service.deps import ClockDep, SettingsDep
from service.use_cases.outbound import add_endpoint

ROLES = ("viewer", "editor", "admin")


async def _render(
    request: Request[Any, Any, Any], settings: SettingsDep, *, problem: str = "", secret: str = "", status: int = 200
) -> Template:
    users = await StaffUser.select(
        StaffUser.id, StaffUser.email, StaffUser.role, StaffUser.active, StaffUser.created_at
    ).order_by(StaffUser.email)
    endpoints = await WebhookEndpoint.select(
        WebhookEndpoint.id,
        WebhookEndpoint.url,
        WebhookEndpoint.event_types,
        WebhookEndpoint.active,
        WebhookEndpoint.description,
    ).order_by(WebhookEndpoint.id)
    context = {
        "users": users,
        "endpoints": endpoints,
        "roles": ROLES,
        "problem": problem,
        "secret": secret,
        "api_key_hint": f"…{settings.api_key[-4:]}",
        "staff": request.state.staff,
    }
    return Template(
        template_name="admin/settings.html", context=context, status_code=status, headers={"Cache-Control": "no-store"}
    )


@get("/settings", name="admin:settings", guards=[auth.at_least("admin")])
async def settings_page(request: Request[Any, Any, Any], settings: SettingsDep) -> Template:
    return await _render(request, settings)


@post("/settings/users", name="admin:users_create", guards=[auth.at_least("admin")])
async def create_user(request: Request[Any, Any, Any], settings: SettingsDep, clock: ClockDep) -> Template | Redirect:
    form = await request.form()
    email, role = str(form.get("email", "")).strip().lower()[:320], str(form.get("role", "viewer"))
    password = str(form.get("password", ""))
    if "@" not in email or role not in ROLES:
        return await _render(request, settings, problem="Give an email address and a role.", status=422)
    if await StaffUser.exists().where(StaffUser.email == email):
        return await _render(request, settings, problem=f"{email} already has an account.", status=422)
    try:
        await auth.create_staff_user(email, password, role, clock())
    except ValueError as exc:
        return await _render(request, settings, problem=f"{str(exc).capitalize()}.", status=422)
    await auth.audit(request.state.staff, "user.create", email, after=role, now=clock())
    return Redirect(path="/admin/settings", status_code=303)


@post("/settings/users/{user_id:int}", name="admin:users_update", guards=[auth.at_least("admin")])
async def update_user(request: Request[Any, Any, Any], user_id: FromPath[int], clock: ClockDep) -> Redirect:
    form = await request.form()
    row = (
        await StaffUser.select(StaffUser.email, StaffUser.role, StaffUser.active).where(StaffUser.id == user_id).first()
    )
    if row is None:
        raise NotFoundException("No such user.")
    role = str(form.get("role", row["role"]))
    active = bool(form.get("active"))
    if row["email"] == request.state.staff.email and (not active or role != "admin"):
        return Redirect(path="/admin/settings", status_code=303)  # nobody locks themselves out
    # Deactivating or changing a role also ends that user's sessions everywhere.
    await StaffUser.update(
        {
            StaffUser.role: role if role in ROLES else row["role"],
            StaffUser.active: active,
            StaffUser.session_version: StaffUser.session_version + 1,
        }
    ).where(StaffUser.id == user_id)
    await auth.audit(
        request.state.staff,
        "user.update",
        row["email"],
        before=f"{row['role']} active={row['active']}",
        after=f"{role} active={active}",
        now=clock(),
    )
    return Redirect(path="/admin/settings", status_code=303)


@post("/settings/webhooks", name="admin:webhooks_create", guards=[auth.at_least("admin")])
async def create_endpoint(request: Request[Any, Any, Any], settings: SettingsDep, clock: ClockDep) -> Template:
    form = await request.form()
    url, description = str(form.get("url", "")).strip()[:2048], str(form.get("description", ""))[:255]
    events = tuple(str(v) for v in form.getall("events", []) if v)
    try:
        secret = await add_endpoint(url, event_types=events, description=description, now=clock())
    except ValueError as exc:
        return await _render(request, settings, problem=str(exc), status=422)
    await auth.audit(request.state.staff, "webhook.create", url, after=",".join(events) or "*", now=clock())
    return await _render(request, settings, secret=secret)


@post("/settings/webhooks/{endpoint_id:int}/disable", name="admin:webhooks_disable", guards=[auth.at_least("admin")])
async def disable_endpoint(request: Request[Any, Any, Any], endpoint_id: FromPath[int], clock: ClockDep) -> Redirect:
    await WebhookEndpoint.update({WebhookEndpoint.active: False}).where(WebhookEndpoint.id == endpoint_id)
    await auth.audit(request.state.staff, "webhook.disable", f"endpoint {endpoint_id}", now=clock())
    return Redirect(path="/admin/settings", status_code=303)


def settings_handlers() -> list[Any]:
    return [settings_page, create_user, update_user, create_endpoint, disable_endpoint]
