"""Admin-only settings: staff users (create, change role, deactivate), outbound webhook endpoints
(add, showing the signing secret once; deactivate), and where the API key comes from.

Rules: reads through admin.queries, writes through service.use_cases (each audited there).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin import auth, queries
from flows.notifications import EVENT_TYPES
from service.deps import ClockDep, SettingsDep
from service.use_cases.operations import add_webhook_endpoint, disable_webhook_endpoint
from service.use_cases.staff import ROLES, StaffUserExists, change_access, create_staff_user_by


async def _render(
    request: Request[Any, Any, Any], settings: SettingsDep, *, problem: str = "", secret: str = "", status: int = 200
) -> Template:
    context = {
        "users": await queries.staff_accounts(),
        "endpoints": await queries.webhook_endpoints(),
        "roles": ROLES,
        "event_types": EVENT_TYPES,
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
    try:
        await create_staff_user_by(request.state.staff.email, email, password, role, clock())
    except StaffUserExists:
        return await _render(request, settings, problem=f"{email} already has an account.", status=422)
    except ValueError as exc:
        return await _render(request, settings, problem=f"{str(exc).capitalize()}.", status=422)
    return Redirect(path="/admin/settings", status_code=303)


@post("/settings/users/{user_id:int}", name="admin:users_update", guards=[auth.at_least("admin")])
async def update_user(request: Request[Any, Any, Any], user_id: FromPath[int], clock: ClockDep) -> Redirect:
    form = await request.form()
    role, active = str(form.get("role", "")), bool(form.get("active"))
    if not await change_access(request.state.staff.email, user_id, role=role, active=active, now=clock()):
        raise NotFoundException("No such user.")
    return Redirect(path="/admin/settings", status_code=303)


@post("/settings/webhooks", name="admin:webhooks_create", guards=[auth.at_least("admin")])
async def create_endpoint(request: Request[Any, Any, Any], settings: SettingsDep, clock: ClockDep) -> Template:
    form = await request.form()
    url, description = str(form.get("url", "")).strip()[:2048], str(form.get("description", ""))[:255]
    events = tuple(str(v) for v in form.getall("events", []) if v)
    try:
        secret = await add_webhook_endpoint(
            request.state.staff.email, url, event_types=events, description=description, now=clock()
        )
    except ValueError as exc:
        return await _render(request, settings, problem=str(exc), status=422)
    return await _render(request, settings, secret=secret)


@post("/settings/webhooks/{endpoint_id:int}/disable", name="admin:webhooks_disable", guards=[auth.at_least("admin")])
async def disable_endpoint(request: Request[Any, Any, Any], endpoint_id: FromPath[int], clock: ClockDep) -> Redirect:
    await disable_webhook_endpoint(request.state.staff.email, endpoint_id, clock())
    return Redirect(path="/admin/settings", status_code=303)


def settings_handlers() -> list[Any]:
    return [settings_page, create_user, update_user, create_endpoint, disable_endpoint]
