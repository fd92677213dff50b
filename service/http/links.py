"""The resume link from the "pause ending" email (/w/link): verify it, open the widget for that pause.

Rules: parse → one use case → render, as /w/start does (service.http.widget.render_step). The signed
link is the only credential (the widget's flow token takes over from there), and /w/ is exempt from
CSRF (service/app.py). A missing, tampered or expired link gets the widget's friendly error page.
"""

from __future__ import annotations

from litestar import get
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from service.deps import BillingDep, ClockDep, SettingsDep
from service.http.errors import error_page
from service.http.widget import render_step
from service.i18n import negotiate
from service.mail.resume_link import ResumeLinkInvalid, verify_resume_token
from service.use_cases.lifecycle import open_resume_link

# The token sits in the URL: no cache may keep the page (every /w page also says Referrer-Policy: no-referrer).
NO_STORE = {"Cache-Control": "no-store"}


@get("/w/link", name="widget:resume_link", include_in_schema=False)
async def resume_link(
    request: HTMXRequest, settings: SettingsDep, billing: BillingDep, clock: ClockDep, token: FromQuery[str] = ""
) -> Template:
    try:
        claims = verify_resume_token(token, settings, clock())
    except ResumeLinkInvalid:
        return error_page(request, "link_invalid", 400, NO_STORE)
    locale = negotiate(claims.locale, request.headers.get("accept-language"))
    view = await open_resume_link(claims, billing=billing, clock=clock, locale=locale)
    # A full page of its own (no host frame to post to, nowhere to return): the step sets no-store itself.
    return render_step(request, view, settings=settings, now=clock(), parent_origin="", return_url="")
