"""Flow versions in the admin: read the published definition, edit it as JSON with validation,
publish a new immutable version, diff any two versions, and roll back by republishing an old one."""

from __future__ import annotations

import difflib
import json
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from admin import auth
from flows.diagram import mermaid
from service.db import codec
from service.db.tables import FlowVersion
from service.deps import ClockDep
from service.use_cases.flow_config import ConfigInvalid, publish_flow

HEADERS = {"Cache-Control": "no-store"}


def _pretty(definition_json: str) -> str:
    return json.dumps(json.loads(definition_json), indent=2, ensure_ascii=False, sort_keys=True)


async def _versions() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await FlowVersion.select(
        FlowVersion.id,
        FlowVersion.flow_key,
        FlowVersion.number,
        FlowVersion.status,
        FlowVersion.note,
        FlowVersion.created_at,
    ).order_by(FlowVersion.id, ascending=False)
    return rows


async def _latest(flow_key: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await FlowVersion.select()
        .where(FlowVersion.flow_key == flow_key)
        .order_by(FlowVersion.number, ascending=False)
        .first()
    )
    return row


def _editor(
    request: Request[Any, Any, Any], text: str, problems: list[str], versions: list[dict[str, Any]], status: int = 200
) -> Template:
    context = {
        "text": text,
        "problems": problems,
        "versions": versions,
        "staff": request.state.staff,
        "diagram": mermaid(),
    }
    return Template(template_name="admin/flows.html", context=context, status_code=status, headers=HEADERS)


@get("/flows", name="admin:flows", guards=[auth.at_least("viewer")])
async def flows_page(request: Request[Any, Any, Any], key: FromQuery[str] = "default") -> Template:
    latest = await _latest(key[:64])
    return _editor(request, _pretty(latest["definition"]) if latest else "", [], await _versions())


@post("/flows/publish", name="admin:flows_publish", guards=[auth.at_least("editor")])
async def publish(request: Request[Any, Any, Any], clock: ClockDep) -> Template | Redirect:
    form = await request.form()
    text, note = str(form.get("definition", ""))[:500_000], str(form.get("note", ""))[:500]
    try:
        definition = codec.definition_from_json(text)
        version_id = await publish_flow(definition, clock(), note=note)
    except ValueError as exc:  # CodecError, ConfigInvalid and JSON syntax errors are all ValueErrors
        problems = exc.problems if isinstance(exc, ConfigInvalid) else [f"This is not a valid flow definition: {exc}"]
        return _editor(request, text, problems, await _versions(), status=422)
    before = (
        await FlowVersion.select(FlowVersion.number)
        .where((FlowVersion.flow_key == definition.key) & (FlowVersion.id != version_id))
        .order_by(FlowVersion.number, ascending=False)
        .first()
    )
    await auth.audit(
        request.state.staff,
        "flow.publish",
        f"{definition.key} version {version_id}",
        before=str(before["number"]) if before else "",
        after=note,
        now=clock(),
    )
    return Redirect(path="/admin/flows", status_code=303)


@post("/flows/{version_id:int}/republish", name="admin:flows_republish", guards=[auth.at_least("editor")])
async def republish(request: Request[Any, Any, Any], version_id: FromPath[int], clock: ClockDep) -> Redirect:
    row = await FlowVersion.select().where(FlowVersion.id == version_id).first()
    if row is None:
        raise NotFoundException("No such flow version.")
    new_id = await publish_flow(
        codec.definition_from_json(row["definition"]), clock(), note=f"Rollback to version {row['number']}"
    )
    await auth.audit(
        request.state.staff,
        "flow.rollback",
        f"{row['flow_key']} version {row['number']}",
        after=f"new version id {new_id}",
        now=clock(),
    )
    return Redirect(path="/admin/flows", status_code=303)


@get("/flows/diff", name="admin:flows_diff", guards=[auth.at_least("viewer")])
async def diff(request: Request[Any, Any, Any], a: FromQuery[int], b: FromQuery[int]) -> Template:
    rows = {r["id"]: r for r in await FlowVersion.select().where(FlowVersion.id.is_in([a, b]))}
    if a not in rows or b not in rows:
        raise NotFoundException("Pick two existing versions.")
    lines = list(
        difflib.unified_diff(
            _pretty(rows[a]["definition"]).splitlines(),
            _pretty(rows[b]["definition"]).splitlines(),
            fromfile=f"version {rows[a]['number']}",
            tofile=f"version {rows[b]['number']}",
            lineterm="",
        )
    )
    context = {"lines": lines, "a": rows[a], "b": rows[b], "staff": request.state.staff}
    return Template(template_name="admin/flow_diff.html", context=context, headers=HEADERS)


def flow_handlers() -> list[Any]:
    return [flows_page, publish, republish, diff]
