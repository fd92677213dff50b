"""The public unsubscribe page of customer emails: GET shows a confirm button, POST unsubscribes.

Rules: parse → one use case → render. POST also serves RFC 8058 one-click unsubscribe, which mail
clients send to the List-Unsubscribe URL (token in the query, body `List-Unsubscribe=One-Click`); GET
never changes anything, because mail scanners fetch links. The signed token is the only credential,
so /email/ is exempt from CSRF (service/app.py). A bad or expired token gets a friendly 400 page.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromQuery
from litestar.response import Template

from service.deps import ClockDep, SettingsDep
from service.i18n import gettext_callables, negotiate, normalise
from service.mail.tokens import UnsubscribeClaims, UnsubscribeLinkInvalid, verify_unsubscribe_token
from service.use_cases.emails import unsubscribe

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _page(
    request: Request[Any, Any, Any], state: str, claims: UnsubscribeClaims | None, token: str = "", status: int = 200
) -> Template:
    locale = normalise(claims.locale if claims else None) or negotiate(None, request.headers.get("accept-language"))
    return Template(
        template_name="email/unsubscribe.html",
        context={
            "state": state,
            "address": claims.address if claims else "",
            "token": token,
            "locale": locale,
            **gettext_callables(locale),
        },
        status_code=status,
        headers=HEADERS,
    )


@get("/email/unsubscribe", name="email:unsubscribe_page", include_in_schema=False)
async def unsubscribe_page(
    request: Request[Any, Any, Any], settings: SettingsDep, clock: ClockDep, token: FromQuery[str] = ""
) -> Template:
    try:
        claims = verify_unsubscribe_token(token, settings, clock())
    except UnsubscribeLinkInvalid:
        return _page(request, "invalid", None, status=400)
    return _page(request, "confirm", claims, token)


@post("/email/unsubscribe", name="email:unsubscribe", include_in_schema=False, status_code=200)
async def unsubscribe_submit(
    request: Request[Any, Any, Any], settings: SettingsDep, clock: ClockDep, token: FromQuery[str] = ""
) -> Template:
    form = await request.form()
    try:
        claims = verify_unsubscribe_token(token or str(form.get("token") or ""), settings, clock())
    except UnsubscribeLinkInvalid:
        return _page(request, "invalid", None, status=400)
    one_click = form.get("List-Unsubscribe") == "One-Click"
    await unsubscribe(claims.address, customer_id=claims.customer_id, one_click=one_click, now=clock())
    return _page(request, "done", claims)
