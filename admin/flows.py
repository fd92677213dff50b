"""Flow versions in the admin: the advanced JSON editor, diffs, and rollback by republishing.

The JSON editor validates and publishes a new immutable version through the same use case as the
structured editor (admin.flow_editor), which also owns /admin/flows itself.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from admin import auth
from admin.flow_editor import editor_handlers, record_publish, versions
from service.db import codec
from service.db.tables import FlowVersion
from service.deps import ClockDep
from service.use_cases.flow_config import ConfigInvalid, publish_flow

HEADERS = {"Cache-Control": "no-store"}


def _pretty(definition_json: str) -> str:
    return json.dumps(json.loads(definition_json), indent=2, ensure_ascii=False, sort_keys=True)


async def _latest_json(flow_key: str) -> str:
    row = (
        await FlowVersion.select(FlowVersion.definition)
        .where((FlowVersion.flow_key == flow_key) & (FlowVersion.status == "published"))
        .order_by(FlowVersion.number, ascending=False)
        .first()
    )
    return _pretty(row["definition"]) if row else ""


async def _json_editor(request: Request[Any, Any, Any], text: str, problems: list[str], status: int = 200) -> Template:
    context = {"text": text, "problems": problems, "versions": await versions(), "staff": request.state.staff}
    context["tab"] = "json"
    return Template(template_name="admin/flows_json.html", context=context, status_code=status, headers=HEADERS)


@get("/flows/json", name="admin:flows_json", guards=[auth.at_least("viewer")])
async def json_page(request: Request[Any, Any, Any], key: FromQuery[str] = "default") -> Template:
    return await _json_editor(request, await _latest_json(key[:64]), [])


@post("/flows/publish", name="admin:flows_publish", guards=[auth.at_least("editor")])
async def publish(request: Request[Any, Any, Any], clock: ClockDep) -> Template | Redirect:
    form = await request.form()
    text, note = str(form.get("definition", ""))[:500_000], str(form.get("note", ""))[:500]
    try:
        definition = codec.definition_from_json(text)
        version_id = await publish_flow(definition, clock(), note=note)
    except ValueError as exc:  # CodecError, ConfigInvalid and JSON syntax errors are all ValueErrors
        problems = exc.problems if isinstance(exc, ConfigInvalid) else [f"This is not a valid flow definition: {exc}"]
        return await _json_editor(request, text, problems, status=422)
    await record_publish(request, definition.key, version_id, note, clock)
    return Redirect(path="/admin/flows", status_code=303)


@post("/flows/{version_id:int}/republish", name="admin:flows_republish", guards=[auth.at_least("editor")])
async def republish(request: Request[Any, Any, Any], version_id: FromPath[int], clock: ClockDep) -> Redirect:
    row = await FlowVersion.select().where(FlowVersion.id == version_id).first()
    if row is None or row["status"] == "draft":  # a draft is published from the editor, not rolled back to
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
    return [*editor_handlers(), json_page, publish, republish, diff]
