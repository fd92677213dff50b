"""Segments in the admin (/admin/segments): list, create, edit, reorder and delete them, and preview a sample customer.

Rules: parse → one use case (service.use_cases.flow_config, audited there) → render; reads through
admin.queries. Validation is flows.segments' (problems come back next to their fields, the input kept,
status 422). The preview runs the pure flows.segments.pick_segment and flows.routing.route_offers on the
newest published definition for attributes typed in the form; it reads no billing data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from admin import auth, queries
from flows import CustomerContext, FlowDefinition
from flows.routing import route_offers
from flows.segments import (
    ATTRIBUTE_NAME,
    KNOWN_ATTRIBUTES,
    OP_LABELS,
    Condition,
    Op,
    Scalar,
    Segment,
    describe_condition,
    pick_segment,
    segment_problems,
    value_from_text,
    value_to_text,
)
from offers import SubscriptionSnapshot, SubscriptionStatus
from offers.eligibility import Ineligibility, ineligibility
from service.deps import ClockDep
from service.use_cases.flow_config import (
    SegmentInvalid,
    create_segment_by,
    delete_segment_by,
    move_segment_by,
    update_segment_by,
)

HEADERS = {"Cache-Control": "no-store"}
DEFAULT_FLOW_KEY = "default"  # what a customer gets when no segment matches (service.use_cases.sessions)
CUSTOM = "custom"
ATTRIBUTES: list[tuple[str, str]] = [
    ("", "— no condition —"),
    ("plan", "Plan"),
    ("interval", "Billing interval (month, year)"),
    ("tenure_months", "Tenure in months"),
    ("mrr_cents", "MRR in cents (4900 = 49.00)"),
    ("country", "Country (two letters, e.g. DE)"),
    ("currency", "Currency (usd, eur, …)"),
    ("trialing", "On a free trial (yes or no)"),
    ("locale", "Language (en, de, …)"),
    (CUSTOM, "Custom attribute from the token's attrs …"),
]
OPERATORS = [(op.value, label) for op, label in OP_LABELS.items()]
BLANK_ROWS = 3
MAX_ROWS = 30
WHY_SKIPPED = {
    Ineligibility.SUBSCRIPTION_ENDED: "the subscription has ended",
    Ineligibility.COOLDOWN: "still in its cooldown",
    Ineligibility.MAX_REDEMPTIONS: "redeemed as often as allowed",
    Ineligibility.NOT_TRIALING: "only for customers on a free trial",
    Ineligibility.TRIALING: "not during a free trial",
    Ineligibility.NOT_CHEAPER: "not cheaper than the customer's price",
    Ineligibility.ALREADY_PAUSED: "already paused",
    Ineligibility.DISCOUNT_STACKING: "already has a discount",
}
_ROW = re.compile(r"cond-(\d{1,2})-(attribute|custom|op|value)")

Row = dict[str, str]


# ------------------------------------------------------------------------------------ the form
@dataclass(frozen=True, slots=True)
class SegmentForm:
    """The segment form as typed: id, name, flow key and condition rows (attribute, custom, op, value)."""

    id: str = ""
    name: str = ""
    flow_key: str = DEFAULT_FLOW_KEY
    rows: tuple[Row, ...] = ()

    def padded(self) -> SegmentForm:
        """With `BLANK_ROWS` empty rows at the end, so conditions can be added without JS."""
        blank = {"attribute": "", "custom": "", "op": Op.EQ.value, "value": ""}
        return replace(self, rows=(*self.rows, *({**blank} for _ in range(BLANK_ROWS)))[:MAX_ROWS])


def form_of(segment: Segment) -> SegmentForm:
    rows = tuple(
        {
            "attribute": c.attribute if c.attribute in KNOWN_ATTRIBUTES else CUSTOM,
            "custom": "" if c.attribute in KNOWN_ATTRIBUTES else c.attribute,
            "op": c.op.value,
            "value": value_to_text(c.value),
        }
        for c in segment.conditions
    )
    return SegmentForm(segment.id, segment.name, segment.flow_key, rows)


def form_from_fields(fields: Iterable[tuple[str, str]]) -> SegmentForm:
    plain: Row = {}
    rows: dict[int, Row] = {}
    for name, raw in fields:
        value = raw[:500]
        found = _ROW.fullmatch(name)
        if found and int(found.group(1)) < MAX_ROWS:
            rows.setdefault(int(found.group(1)), {})[found.group(2)] = value
        elif name in ("id", "name", "flow_key"):
            plain[name] = value.strip()
    ordered = tuple(rows[i] for i in sorted(rows))
    return SegmentForm(plain.get("id", ""), plain.get("name", ""), plain.get("flow_key", ""), ordered)


def segment_of(form: SegmentForm) -> tuple[Segment, list[tuple[str, str]]]:
    """The segment the form describes, and every problem with it keyed by field ("condition-<row>" for a row).

    Rows without an attribute and without a value are skipped (the blank rows at the end).
    """
    problems: list[tuple[str, str]] = []
    conditions: list[Condition] = []
    used: list[int] = []  # the form row of each condition, to put a problem next to its row
    for i, row in enumerate(form.rows):
        attribute, text = row.get("attribute", ""), row.get("value", "").strip()
        if attribute == CUSTOM:
            attribute = row.get("custom", "").strip()
            if not attribute:
                problems.append((f"condition-{i}", f"Condition {i + 1}: type the custom attribute's name."))
                continue
        elif not attribute:
            if text:
                problems.append((f"condition-{i}", f"Condition {i + 1}: choose which attribute it looks at."))
            continue
        elif attribute not in KNOWN_ATTRIBUTES:
            problems.append((f"condition-{i}", f"Condition {i + 1}: choose an attribute from the list."))
            continue
        try:
            op = Op(row.get("op", ""))
        except ValueError:
            problems.append((f"condition-{i}", f"Condition {i + 1}: choose how it compares."))
            continue
        conditions.append(Condition(attribute, op, value_from_text(attribute, op, text)))
        used.append(i)
    segment = Segment(form.id, form.name, form.flow_key, tuple(conditions))
    for field, message in segment_problems(segment):
        if field.startswith("condition-"):
            field = f"condition-{used[int(field.removeprefix('condition-'))]}"
        problems.append((field, message))
    return segment, problems


def _by_field(problems: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for field, message in problems:
        grouped.setdefault(field, []).append(message)
    return grouped


# ------------------------------------------------------------------------------------ the preview
@dataclass(frozen=True, slots=True)
class ReasonRoute:
    reason: str
    offers: tuple[str, ...]  # titles, in the order the customer would see them
    skipped: tuple[str, ...]  # "title: why not"


@dataclass(frozen=True, slots=True)
class Preview:
    attributes: tuple[tuple[str, str], ...]  # what the segment rules saw, for display
    segment: Segment | None
    flow_key: str
    published: bool
    routes: tuple[ReasonRoute, ...]
    experiment: str  # the name of a running experiment on the flow ("" if none)
    problems: tuple[str, ...]


def _guess(text: str) -> Scalar:
    """A custom attribute's value as a token would carry it: a flag, a number, or text."""
    word = text.strip()
    if word.casefold() in ("true", "false"):
        return word.casefold() == "true"
    for kind in (int, float):
        try:
            return kind(word)
        except ValueError:
            pass
    return word


def sample_attributes(values: Mapping[str, str]) -> tuple[dict[str, Scalar], list[str]]:
    """What the segment rules would see for this sample customer (as `customer_attributes` builds it)."""
    problems: list[str] = []
    whole: dict[str, int] = {}
    for name, what, fallback in (("mrr_cents", "MRR in cents", 4900), ("tenure_months", "Tenure in months", 0)):
        text = values.get(name, "").strip()
        if text and not re.fullmatch(r"\d{1,9}", text):
            problems.append(f"{what} must be a whole number, like {fallback or 12}.")
        whole[name] = int(text) if re.fullmatch(r"\d{1,9}", text) else fallback
    attributes: dict[str, Scalar] = {
        "trialing": bool(values.get("trialing")),
        "currency": (values.get("currency", "").strip() or "usd").lower(),
        "interval": values.get("interval", "") if values.get("interval") in ("month", "year") else "month",
        "mrr_cents": whole["mrr_cents"],
        "locale": values.get("locale", "").strip() or "en",
    }
    for name in ("plan", "country"):
        if values.get(name, "").strip():
            attributes[name] = values[name].strip()
    if values.get("tenure_months", "").strip():
        attributes["tenure_months"] = whole["tenure_months"]
    for n, line in enumerate(values.get("custom", "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, text = line.partition("=")
        if not sep or not ATTRIBUTE_NAME.fullmatch(key.strip()):
            problems.append(f"Custom line {n}: write it as key=value, e.g. seats=5.")
            continue
        attributes[key.strip()] = _guess(text)
    return attributes, problems


async def preview_for(values: Mapping[str, str], now: datetime) -> Preview:
    attributes, problems = sample_attributes(values)
    segment = pick_segment(await queries.segments(), attributes)
    flow_key = segment.flow_key if segment else DEFAULT_FLOW_KEY
    definition = await queries.latest_published(flow_key)
    published = definition is not None
    if definition is None:  # the session would fall back to the default flow (sessions.choose_flow)
        definition = await queries.latest_published(DEFAULT_FLOW_KEY)
    trialing = bool(attributes["trialing"])
    snapshot = SubscriptionSnapshot(
        id="sub_preview",
        customer_id="preview",
        status=SubscriptionStatus.TRIALING if trialing else SubscriptionStatus.ACTIVE,
        price_id="price_preview",
        amount_cents=int(attributes["mrr_cents"]),
        currency=str(attributes["currency"]),
        interval=str(attributes["interval"]),
        current_period_end=now + timedelta(days=30),
        trial_end=now + timedelta(days=7) if trialing else None,
    )
    country = str(attributes.get("country", "")) or None
    ctx = CustomerContext(snapshot=snapshot, country=country, test_mode=True, preview=True)
    routes = routes_for(definition, ctx, now) if definition else ()
    experiments = await queries.experiments()
    running = next((e.name for e in experiments if e.flow_key == flow_key and e.status == "running"), "")
    shown = tuple((k, value_to_text(v)) for k, v in attributes.items())
    return Preview(shown, segment, flow_key, published, routes, running, tuple(problems))


def routes_for(definition: FlowDefinition, ctx: CustomerContext, now: datetime) -> tuple[ReasonRoute, ...]:
    """For each reason, the offers this customer would be shown (best first) and why the others are not."""
    routes = []
    final = (definition.final_offer_id,) if definition.final_offer_id else ()
    for reason in definition.reasons:
        routed = route_offers(definition, reason.id, ctx, now)
        skipped = []
        for offer_id in dict.fromkeys((*reason.offer_ids, *final)):
            offer = definition.offer(offer_id)
            if offer is not None and offer_id not in routed:
                why = ineligibility(offer, ctx.snapshot, ctx.history, now, ctx.policy)
                skipped.append(f"{offer.copy.title or offer.id}: {WHY_SKIPPED[why] if why else 'over the offer limit'}")
        titles = tuple(o.copy.title or o.id for o in map(definition.offer, routed) if o is not None)
        routes.append(ReasonRoute(reason.label or reason.id, titles, tuple(skipped)))
    return tuple(routes)


# ------------------------------------------------------------------------------------ handlers
def _can_edit(request: Request[Any, Any, Any]) -> bool:
    return auth.ROLE_RANK.get(request.state.staff.role, 0) >= auth.ROLE_RANK["editor"]


async def _flow_keys() -> list[str]:
    return sorted({v.flow_key for v in await queries.published_versions()})


@get("/segments", name="admin:segments", guards=[auth.at_least("viewer")])
async def segments_page(request: Request[Any, Any, Any], clock: ClockDep) -> Template:
    values = {k: v[:1000] for k, v in request.query_params.items()}
    context = {
        "segments": await queries.segments(),
        "preview": await preview_for(values, clock()) if values.get("preview") else None,
        "sample": values,
        "describe_condition": describe_condition,
        "editable": _can_edit(request),
        "staff": request.state.staff,
    }
    return Template(template_name="admin/segments.html", context=context, headers=HEADERS)


async def _form_page(
    request: Request[Any, Any, Any],
    form: SegmentForm,
    *,
    new: bool,
    problems: Iterable[tuple[str, str]] = (),
    status: int = 200,
) -> Template:
    found = list(problems)
    context = {
        "form": form,
        "new": new,
        "problems": [message for _, message in found],
        "errors": _by_field(found),
        "flow_keys": await _flow_keys(),
        "attributes": ATTRIBUTES,
        "operators": OPERATORS,
        "readonly": not _can_edit(request),
        "staff": request.state.staff,
    }
    return Template(template_name="admin/segments_form.html", context=context, status_code=status, headers=HEADERS)


@get("/segments/new", name="admin:segments_new", guards=[auth.at_least("editor")])
async def new_segment(request: Request[Any, Any, Any]) -> Template:
    return await _form_page(request, SegmentForm().padded(), new=True)


@get("/segments/{segment_id:str}/edit", name="admin:segments_edit", guards=[auth.at_least("viewer")])
async def edit_segment(request: Request[Any, Any, Any], segment_id: FromPath[str]) -> Template:
    found = next((s for s in await queries.segments() if s.id == segment_id), None)
    if found is None:
        raise NotFoundException("No such segment.")
    return await _form_page(request, form_of(found).padded(), new=False)


async def _save(request: Request[Any, Any, Any], clock: ClockDep, segment_id: str | None) -> Template | Redirect:
    submitted = await request.form()
    fields = [(k, v) for k, v in submitted.multi_items() if isinstance(v, str)]
    form = form_from_fields(fields)
    if segment_id is not None:
        form = replace(form, id=segment_id)  # the id names the segment in past sessions: never changed
    if submitted.get("action") == "more_rows":
        return await _form_page(request, form.padded(), new=segment_id is None)
    segment, problems = segment_of(form)
    if not problems:
        try:
            if segment_id is None:
                await create_segment_by(request.state.staff.email, segment, clock())
            else:
                await update_segment_by(request.state.staff.email, segment, clock())
        except SegmentInvalid as exc:
            problems = list(exc.fields)
        else:
            return Redirect(path="/admin/segments", status_code=303)
    return await _form_page(request, form.padded(), new=segment_id is None, problems=problems, status=422)


@post("/segments", name="admin:segments_create", guards=[auth.at_least("editor")])
async def create_segment(request: Request[Any, Any, Any], clock: ClockDep) -> Template | Redirect:
    return await _save(request, clock, None)


@post("/segments/{segment_id:str}/edit", name="admin:segments_update", guards=[auth.at_least("editor")])
async def save_segment(
    request: Request[Any, Any, Any], segment_id: FromPath[str], clock: ClockDep
) -> Template | Redirect:
    return await _save(request, clock, segment_id)


@post("/segments/{segment_id:str}/move", name="admin:segments_move", guards=[auth.at_least("editor")])
async def move_segment(request: Request[Any, Any, Any], segment_id: FromPath[str], clock: ClockDep) -> Redirect:
    direction = (await request.form()).get("direction")
    steps = {"up": -1, "down": 1}.get(str(direction), 0)
    if not await move_segment_by(request.state.staff.email, segment_id, steps, clock()):
        raise NotFoundException("No such segment.")
    return Redirect(path="/admin/segments", status_code=303)


@post("/segments/{segment_id:str}/delete", name="admin:segments_delete", guards=[auth.at_least("editor")])
async def delete_segment(request: Request[Any, Any, Any], segment_id: FromPath[str], clock: ClockDep) -> Redirect:
    if not await delete_segment_by(request.state.staff.email, segment_id, clock()):
        raise NotFoundException("No such segment.")
    return Redirect(path="/admin/segments", status_code=303)


def segment_handlers() -> list[Any]:
    return [segments_page, new_segment, edit_segment, create_segment, save_segment, move_segment, delete_segment]
