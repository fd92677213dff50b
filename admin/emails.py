"""The admin's Emails page: every queued email with its status and attempts, and what it says.

Rules: reads through admin.queries. An email's HTML is served on its own URL under a CSP `sandbox`
with no scripts, no network and no same-origin access, and shown in a sandboxed iframe, so whatever
an email contains cannot act in the admin. In demo mode without SMTP_URL this is the mailbox.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response, Template

from admin import auth, queries
from service.deps import SettingsDep
from service.mail.transport import mail_mode

EMAIL_HTML_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'"


async def _page(request: Request[Any, Any, Any], settings: SettingsDep, selected_id: int | None) -> Template:
    detail = await queries.email_detail(selected_id) if selected_id is not None else None
    if selected_id is not None and detail is None:
        raise NotFoundException("No such email.")
    context = {
        "mode": mail_mode(settings),
        "waiting": await queries.emails_waiting(),
        "emails": await queries.recent_emails(),
        "selected": detail[0] if detail else None,
        "attempts": detail[1] if detail else (),
        "staff": request.state.staff,
    }
    return Template(template_name="admin/emails.html", context=context, headers={"Cache-Control": "no-store"})


@get("/emails", name="admin:emails", guards=[auth.at_least("viewer")])
async def emails_page(request: Request[Any, Any, Any], settings: SettingsDep) -> Template:
    return await _page(request, settings, None)


@get("/emails/{email_id:int}", name="admin:email", guards=[auth.at_least("viewer")])
async def email_page(request: Request[Any, Any, Any], settings: SettingsDep, email_id: FromPath[int]) -> Template:
    return await _page(request, settings, email_id)


@get("/emails/{email_id:int}/html", name="admin:email_html", guards=[auth.at_least("viewer")])
async def email_html(email_id: FromPath[int]) -> Response[str]:
    detail = await queries.email_detail(email_id)
    if detail is None:
        raise NotFoundException("No such email.")
    headers = {"Content-Security-Policy": EMAIL_HTML_CSP, "Cache-Control": "no-store"}
    return Response(detail[0].html_body, media_type="text/html; charset=utf-8", headers=headers)


def email_handlers() -> list[Any]:
    return [emails_page, email_page, email_html]
