"""The admin router (/admin): every page behind the staff_only guard."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.params import FromQuery
from litestar.response import Template

from admin import auth, queries

OUTCOME_FILTERS = ("", "saved", "cancelled", "abandoned", "open")


@get("/", name="admin:sessions")
async def sessions_list(
    request: Request[Any, Any, Any], page: FromQuery[int] = 1, outcome: FromQuery[str] = ""
) -> Template:
    if outcome not in OUTCOME_FILTERS:
        outcome = ""
    result = await queries.sessions_page(page=page, outcome=outcome or None)
    return Template(
        template_name="admin/sessions.html",
        context={"page": result, "outcome": outcome, "outcomes": OUTCOME_FILTERS, "staff": request.state.staff},
        headers={"Vary": "HX-Request", "Cache-Control": "no-store"},
    )


def admin_router() -> Router:
    protected = Router(path="/admin", guards=[auth.staff_only], route_handlers=[sessions_list])
    return Router(path="/", route_handlers=[protected, auth.login_page, auth.login_submit, auth.logout])
