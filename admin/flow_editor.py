"""The structured flow editor (/admin/flows): edit with a form, preview the draft live, publish it.

Rules: parse (admin.flow_form) → one use case (publish_flow_by, save_draft, start_preview) → render;
reads through admin.queries.
Row actions work without JS; problems come back in plain words with the input kept. The preview runs
a draft `FlowVersion` in test mode for a made-up customer, so it never touches billing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from admin import auth, queries
from admin.flow_form import (
    LOCALES,
    RULE_FLAGS,
    STEP_FLAGS,
    EditorForm,
    apply_action,
    from_definition,
    from_fields,
    parse_amount,
    to_definition,
)
from flows import FollowUp, default_definition
from flows.diagram import mermaid
from offers import OfferKind, PauseBehavior
from service.deps import BillingDep, ClockDep, SettingsDep
from service.security import mint_flow_token
from service.use_cases.flow_config import ConfigInvalid, publish_flow_by, read_catalogue, save_draft
from service.use_cases.flow_preview import PreviewCustomer, VersionNotFound, start_preview

HEADERS = {"Vary": "HX-Request", "Cache-Control": "no-store"}
CHOICES = {
    "kinds": [
        (OfferKind.PAUSE.value, "Pause"),
        (OfferKind.DOWNGRADE.value, "Downgrade to a cheaper plan"),
        (OfferKind.TRIAL_EXTENSION.value, "Longer free trial"),
        (OfferKind.TRAINING.value, "Call or training with your team"),
        (OfferKind.DISCOUNT.value, "Discount"),
        (OfferKind.EXIT_INTERVIEW.value, "Paid exit interview (the cancellation goes ahead)"),
    ],
    "follow_ups": [
        (FollowUp.NONE.value, "No question"),
        (FollowUp.OPTIONAL.value, "Optional question"),
        (FollowUp.REQUIRED.value, "Required question"),
    ],
    "behaviors": [
        (PauseBehavior.VOID.value, "Void invoices while paused"),
        (PauseBehavior.KEEP_AS_DRAFT.value, "Keep invoices as drafts"),
        (PauseBehavior.MARK_UNCOLLECTIBLE.value, "Mark invoices uncollectible"),
    ],
    "locales": LOCALES,
    "flags": {
        "loss_aversion": "Remind them what they would lose",
        "survey": "Ask why they are leaving",
        "feedback": "Ask for feedback before they go",
        "confirm": "Ask them to confirm the cancellation",
        "cancel_always_available": "Click-to-cancel: “Cancel my subscription” on every step, for everyone",
        "cancel_at_period_end": "Cancel at the end of the paid period (not immediately)",
        "randomize_reasons": "Shuffle the reasons for each customer (“other” stays last)",
    },
    "step_flags": STEP_FLAGS,
    "rule_flags": RULE_FLAGS,
}
PREVIEW_DEFAULTS = {
    "preview_plan": "pro",
    "preview_price_id": "price_pro_monthly",
    "preview_amount": "49.00",
    "preview_currency": "usd",
    "preview_interval": "month",
    "preview_country": "US",
    "preview_locale": "en",
}


def preview_customer(values: Mapping[str, str]) -> PreviewCustomer:
    """The made-up customer from the preview form (or the iframe's query); anything odd → the default."""
    plain = PreviewCustomer()

    def pick(name: str, pattern: str, fallback: str) -> str:
        value = values.get(f"preview_{name}", "").strip()
        return value if re.fullmatch(pattern, value) else fallback

    amount = parse_amount(values.get("preview_amount", ""))
    return PreviewCustomer(
        plan=pick("plan", r"[\w .-]{1,64}", plain.plan),
        price_id=pick("price_id", r"[\w.-]{1,128}", plain.price_id),
        amount_cents=amount if amount is not None and amount >= 0 else plain.amount_cents,
        currency=pick("currency", r"[A-Za-z]{3}", plain.currency).lower(),
        interval=pick("interval", r"month|year", plain.interval),
        trialing=bool(values.get("preview_trialing")),
        country=pick("country", r"[A-Za-z]{2}", plain.country).upper() if values.get("preview_country") else "",
        locale=pick("locale", "|".join(LOCALES), plain.locale),
    )


def _preview_url(version_id: int | None, values: Mapping[str, str]) -> str:
    if version_id is None:
        return ""
    customer = {
        k: v for k, v in values.items() if k.startswith("preview_") and k not in ("preview_version", "preview_src")
    }
    return f"/admin/flows/preview/{version_id}?{urlencode(customer)}"


def _page(
    request: Request[Any, Any, Any],
    form: EditorForm,
    *,
    partial: str = "",
    status: int = 200,
    problems: tuple[str, ...] = (),
    invalid: frozenset[str] = frozenset(),
    preview: Mapping[str, str] | None = None,
    preview_version: int | None = None,
    preview_problems: tuple[str, ...] = (),
    versions_list: tuple[queries.VersionRecord, ...] = (),
) -> Template:
    staff = request.state.staff
    editable = auth.ROLE_RANK.get(staff.role, 0) >= auth.ROLE_RANK["editor"]
    values = {**PREVIEW_DEFAULTS, **(preview or {})}
    url = _preview_url(preview_version, values)
    context = {
        "staff": staff,
        "form": form,
        "offer_ids": [oid for oid, _ in form.offer_choices()],
        "choices": CHOICES,
        "problems": problems,
        "invalid": invalid,
        "readonly": not editable,
        "preview": values,
        "preview_version": "" if preview_version is None else str(preview_version),
        "preview_url": url,
        "preview_problems": preview_problems,
        "versions": versions_list,
        "diagram": mermaid(),
        "tab": "editor",
    }
    template = partial if partial and request.headers.get("hx-request") else "admin/flows.html"
    return Template(template_name=template, context=context, status_code=status, headers=HEADERS)


async def _submitted(request: Request[Any, Any, Any]) -> tuple[EditorForm, dict[str, str]]:
    form = await request.form()
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    extras = {k: v[:1000] for k, v in fields if k.startswith("preview_") or k == "action"}
    return from_fields(fields), extras


@get("/flows", name="admin:flows", guards=[auth.at_least("viewer")])
async def editor_page(request: Request[Any, Any, Any], key: FromQuery[str] = "default") -> Template:
    definition = await queries.latest_published(key[:64]) or dataclasses.replace(default_definition(), key=key[:64])
    return _page(request, from_definition(definition), versions_list=await queries.versions())


@post("/flows/editor", name="admin:flows_editor", guards=[auth.at_least("editor")])
async def editor_submit(
    request: Request[Any, Any, Any], clock: ClockDep, billing: BillingDep
) -> Template | Redirect | Response[None]:
    form, extras = await _submitted(request)
    action = extras.get("action", "")
    if action == "publish":
        return await _publish(request, form, clock, billing)
    if action == "preview":
        return await _preview(request, form, extras, clock)
    changed = apply_action(form, action)
    shown = extras.get("preview_version", "")
    return _page(
        request,
        form if changed is None else changed,
        partial="admin/_flow_fields.html",
        status=400 if changed is None else 200,
        problems=("That button did nothing; please try again.",) if changed is None else (),
        preview=extras,
        preview_version=int(shown) if shown.isdigit() else None,  # without JS, the page keeps its preview
        versions_list=await queries.versions(),
    )


@post("/flows/preview", name="admin:flows_preview_draft", guards=[auth.at_least("editor")])
async def preview_draft(request: Request[Any, Any, Any], clock: ClockDep) -> Template | Response[None]:
    form, extras = await _submitted(request)
    return await _preview(request, form, extras, clock)


async def _publish(
    request: Request[Any, Any, Any], form: EditorForm, clock: ClockDep, billing: BillingDep
) -> Template | Redirect:
    parsed = to_definition(form)
    problems, invalid = parsed.problems, parsed.invalid
    note = form.settings.get("note", "")[:500]
    if parsed.definition is not None:
        try:
            catalogue = await read_catalogue(billing)  # offer ids checked against billing's, where it lists them
            await publish_flow_by(request.state.staff.email, parsed.definition, clock(), note=note, catalogue=catalogue)
        except ConfigInvalid as exc:
            problems = tuple(exc.problems)
        else:
            return Redirect(path="/admin/flows", status_code=303)
    return _page(request, form, status=422, problems=problems, invalid=invalid, versions_list=await queries.versions())


async def _preview(
    request: Request[Any, Any, Any], form: EditorForm, extras: dict[str, str], clock: ClockDep
) -> Template | Response[None]:
    """Store the form as a draft and show it in the preview; with problems, keep the last good draft."""
    parsed = to_definition(form)
    problems, invalid = parsed.problems, parsed.invalid
    last = extras.get("preview_version", "")
    version_id = int(last) if last.isdigit() else None
    if parsed.definition is not None:
        try:
            version_id = await save_draft(parsed.definition, clock(), note=f"draft by {request.state.staff.email}")
        except ConfigInvalid as exc:
            problems = tuple(exc.problems)
    status = 422 if problems else 200
    values = {**PREVIEW_DEFAULTS, **extras}
    if (
        request.headers.get("hx-request")
        and extras.get("action") != "preview"  # the button always restarts the preview; a change need not
        and not problems
        and _preview_url(version_id, values) == extras.get("preview_src")
    ):
        return Response(content=None, status_code=204, headers=HEADERS)  # the iframe already shows this draft
    if request.headers.get("hx-request"):
        return _page(
            request,
            form,
            partial="admin/_flow_preview.html",
            status=status,
            preview=extras,
            preview_version=version_id,
            preview_problems=problems,
        )
    return _page(
        request,
        form,
        status=status,
        problems=problems,
        invalid=invalid,
        preview=extras,
        preview_version=version_id,
        versions_list=await queries.versions(),
    )


@get("/flows/preview/{version_id:int}", name="admin:flows_preview", guards=[auth.at_least("editor")])
async def preview_frame(
    request: Request[Any, Any, Any], version_id: FromPath[int], settings: SettingsDep, clock: ClockDep
) -> Redirect:
    """What the preview iframe loads: a fresh test-mode session on this version, then the widget page."""
    customer = preview_customer({k: v[:300] for k, v in request.query_params.items()})
    try:
        view = await start_preview(version_id, customer, staff_id=request.state.staff.id, clock=clock)
    except VersionNotFound as exc:
        raise NotFoundException("No such flow version.") from exc
    session = view.session
    token = mint_flow_token(
        settings, session_id=session.id, customer_id=session.customer_id, parent_origin="", now=clock()
    )
    return Redirect(path=f"/w/s/{session.id}?{urlencode({'flow_token': token})}", status_code=303)


def editor_handlers() -> list[Any]:
    return [editor_page, editor_submit, preview_draft, preview_frame]
