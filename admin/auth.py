"""Staff authentication: login/logout, the signed session cookie, lockout, and the staff_only guard.

Rules: may import admin.queries, service.use_cases, service.security and litestar; never service.http
or a repository.
The cookie holds a signed token (user id + session version), so it works across workers with no
server-side session store; bumping `session_version` logs a user out everywhere. Logging out bumps it,
so a copy of the old cookie is refused afterwards (as it is once a user is deactivated).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from admin import queries
from service.deps import ClockDep, SettingsDep
from service.security import TokenError, mint_admin_token, verify_admin_token
from service.settings import Settings
from service.use_cases.staff import authenticate, end_session

COOKIE = "sf_admin"
Clock = Callable[[], datetime]
Staff = queries.StaffMember


async def current_staff(connection: ASGIConnection[Any, Any, Any, Any]) -> Staff | None:
    settings: Settings = connection.app.state.settings
    clock: Clock = connection.app.state.clock
    try:
        user_id, version = verify_admin_token(connection.cookies.get(COOKIE), settings, clock())
    except TokenError:
        return None
    return await queries.staff_member(user_id, version)


ROLE_RANK = {"viewer": 1, "editor": 2, "admin": 3}


async def staff_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    staff = await current_staff(connection)
    if staff is None:
        raise NotAuthorizedException("Please log in.")
    connection.state.staff = staff


def at_least(role: str) -> Any:
    """A guard for handlers that need `role` or higher (viewer < editor < admin); runs after staff_only."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        staff: Staff | None = getattr(connection.state, "staff", None)
        if staff is None or ROLE_RANK.get(staff.role, 0) < ROLE_RANK[role]:
            raise PermissionDeniedException(f"This needs the {role} role.")

    return guard


@get("/admin/login", name="admin:login", include_in_schema=False)
async def login_page(next_url: FromQuery[str | None] = None) -> Template:
    return Template(template_name="admin/login.html", context={"error": None, "email": "", "next": next_url or ""})


# Per client address, on top of the per (email, address) lockout (in-memory per worker). Only on this
# route: as an app-wide middleware it ran its check for every request, in a worker thread.
LOGIN_RATE_LIMIT = RateLimitConfig(rate_limit=("minute", 10))


@post(
    "/admin/login",
    name="admin:login_submit",
    include_in_schema=False,
    middleware=[LOGIN_RATE_LIMIT.middleware],
)
async def login_submit(request: Request[Any, Any, Any], settings: SettingsDep, clock: ClockDep) -> Template | Redirect:
    form = await request.form()
    email, password = str(form.get("email", ""))[:320], str(form.get("password", ""))[:1000]
    address = request.client.host if request.client else ""
    result = await authenticate(email, password, clock(), address=address)
    if isinstance(result, str):
        return Template(
            template_name="admin/login.html",
            context={"error": result, "email": email, "next": ""},
            status_code=401,
        )
    user_id, version = result
    response = Redirect(path="/admin", status_code=303)
    response.set_cookie(
        COOKIE,
        mint_admin_token(settings, user_id=user_id, session_version=version, now=clock()),
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=8 * 3600,
    )
    return response


@post("/admin/logout", name="admin:logout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any], settings: SettingsDep, clock: ClockDep) -> Redirect:
    try:
        user_id, version = verify_admin_token(request.cookies.get(COOKIE), settings, clock())
    except TokenError:
        pass  # no valid session to end: just clear the cookie
    else:
        await end_session(user_id, version)
    response = Redirect(path="/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response
