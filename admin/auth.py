"""Staff authentication: login/logout, the signed session cookie, lockout, and the staff_only guard.

Rules: may import service.db, service.security and litestar; never service.http.
The cookie holds a signed token (user id + session version), so it works across workers with no
server-side session store; bumping `session_version` logs a user out everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from service.db.tables import AuditLog, StaffUser
from service.deps import ClockDep, SettingsDep
from service.security import (
    TokenError,
    hash_password,
    mint_admin_token,
    password_needs_rehash,
    verify_admin_token,
    verify_password,
)
from service.settings import Settings

COOKIE = "sf_admin"
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Staff:
    id: int
    email: str
    role: str


async def current_staff(connection: ASGIConnection[Any, Any, Any, Any]) -> Staff | None:
    settings: Settings = connection.app.state.settings
    clock: Clock = connection.app.state.clock
    try:
        user_id, version = verify_admin_token(connection.cookies.get(COOKIE), settings, clock())
    except TokenError:
        return None
    row = (
        await StaffUser.select(StaffUser.id, StaffUser.email, StaffUser.role)
        .where(
            (StaffUser.id == user_id) & (StaffUser.session_version == version) & (StaffUser.active == True)  # noqa: E712
        )
        .first()
    )
    return Staff(row["id"], row["email"], row["role"]) if row else None


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


async def audit(staff: Staff, action: str, target: str, *, before: str = "", after: str = "", now: datetime) -> None:
    """Record an admin change: who, what, and the value before and after."""
    await AuditLog.insert(
        AuditLog(staff_email=staff.email, action=action, target=target, before=before, after=after, at=now)
    )


async def create_staff_user(email: str, password: str, role: str, now: datetime) -> None:
    if len(password) < 10:
        raise ValueError("passwords need at least 10 characters")
    await StaffUser.insert(
        StaffUser(email=email.strip().lower(), password_hash=hash_password(password), role=role, created_at=now)
    )


async def authenticate(email: str, password: str, now: datetime) -> tuple[int, int] | str:
    """(user id, session version) on success; otherwise a message safe to show on the login page."""
    row = await StaffUser.select().where(StaffUser.email == email.strip().lower()).first()
    if row is None:
        verify_password(_DUMMY_HASH, password)  # same work either way: no user enumeration by timing
        return "Wrong email or password."
    if row["locked_until"] is not None and row["locked_until"] > now:
        return "Too many failed attempts. Try again in a few minutes."
    if not row["active"] or not verify_password(row["password_hash"], password):
        failed = row["failed_logins"] + 1
        locked = now + LOCKOUT if failed >= MAX_FAILED_LOGINS else None
        await StaffUser.update(
            {StaffUser.failed_logins: 0 if locked else failed, StaffUser.locked_until: locked}
        ).where(StaffUser.id == row["id"])
        return "Wrong email or password."
    changes: dict[Any, Any] = {StaffUser.failed_logins: 0, StaffUser.locked_until: None}
    if password_needs_rehash(row["password_hash"]):
        changes[StaffUser.password_hash] = hash_password(password)
    await StaffUser.update(changes).where(StaffUser.id == row["id"])
    return row["id"], row["session_version"]


_DUMMY_HASH = hash_password("not-a-real-password-just-for-timing")


@get("/admin/login", name="admin:login", include_in_schema=False)
async def login_page(next_url: FromQuery[str | None] = None) -> Template:
    return Template(template_name="admin/login.html", context={"error": None, "email": "", "next": next_url or ""})


# Per client address, on top of the per-account lockout above (in-memory per worker). Only on this
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
    result = await authenticate(email, password, clock())
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
async def logout() -> Redirect:
    response = Redirect(path="/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response
