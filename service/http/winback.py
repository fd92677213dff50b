"""The win-back page (/w/winback) from the win-back emails: GET shows the offer, POST reactivates with it.

Rules: parse → one use case → render. The signed link's token is the only credential: GET carries it in
the query, the page's form posts it back in the body (so no cookie, and /w/ is exempt from CSRF in
service/app.py: a forged POST would need the signed token). GET never changes anything, because mail
scanners fetch links. A missing, tampered or expired link gets a friendly 400 page, a session that has
no win-back a 404, a used link a 410; never a 500.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromQuery
from litestar.response import Template

from service.deps import BillingDep, ClockDep, SettingsDep
from service.http._step_facts import loss_tiles
from service.i18n import gettext_callables, money_text, negotiate
from service.mail.winback_link import WinbackClaims, WinbackLinkInvalid, verify_winback_token
from service.use_cases.winback import PageState, WinbackPage, WinbackUnavailable, reactivate, winback_page

# The token sits in the URL: no cache may keep the page, and no link on it may leak it.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
STATUS = {PageState.ACTIVE: 409, PageState.FAILED: 409, PageState.PENDING: 202}


def _render(
    request: Request[Any, Any, Any], state: str, status: int, page: WinbackPage | None, token: str = ""
) -> Template:
    preferred = page.session.locale if page else None
    locale = negotiate(preferred, request.headers.get("accept-language"))
    context: dict[str, Any] = {
        "state": state,
        "token": token,
        "locale": locale,
        "logo_url": request.app.state.settings.theme.logo_url,
        "losses": loss_tiles(page.session.losses_json, locale) if page else [],
        "offer": page.offer if page else None,
        "price": money_text(page.value.list_cents, page.value.currency, locale) if page else "",
        "reduced": money_text(page.value.won_back_cents, page.value.currency, locale) if page else "",
        **gettext_callables(locale),
    }
    return Template(template_name="widget/winback.html", context=context, status_code=status, headers=HEADERS)


def _claims(token: str, settings: Any, now: Any) -> WinbackClaims | None:
    try:
        return verify_winback_token(token, settings, now)
    except WinbackLinkInvalid:
        return None


@get("/w/winback", name="widget:winback_page", include_in_schema=False)
async def winback_offer(
    request: Request[Any, Any, Any],
    settings: SettingsDep,
    billing: BillingDep,
    clock: ClockDep,
    token: FromQuery[str] = "",
) -> Template:
    claims = _claims(token, settings, clock())
    if claims is None:
        return _render(request, "invalid", 400, None)
    try:
        page = await winback_page(claims, billing=billing, clock=clock)
    except WinbackUnavailable:
        return _render(request, "invalid", 404, None)
    if page.state is PageState.DONE:
        return _render(request, "used", 410, page)  # the link did its job already
    return _render(request, page.state.value, STATUS.get(page.state, 200), page, token)


@post("/w/winback", name="widget:winback", include_in_schema=False, status_code=200)
async def winback_reactivate(
    request: Request[Any, Any, Any], settings: SettingsDep, billing: BillingDep, clock: ClockDep
) -> Template:
    form = await request.form()
    claims = _claims(str(form.get("token") or ""), settings, clock())
    if claims is None:
        return _render(request, "invalid", 400, None)
    try:
        before = await winback_page(claims, billing=billing, clock=clock)
        if before.state is PageState.DONE:
            return _render(request, "used", 410, before)  # a second click, a reload: billing is not called again
        page = await reactivate(claims, before, billing=billing, clock=clock)
    except WinbackUnavailable:
        return _render(request, "invalid", 404, None)
    return _render(request, page.state.value, STATUS.get(page.state, 200), page)
