"""Flow versions in the admin: the advanced JSON editor, diffs, and rollback by republishing.

The JSON editor validates and publishes a new immutable version through the same use case as the
structured editor (admin.flow_editor), which also owns /admin/flows itself.

Rules: reads through admin.queries, writes through service.use_cases.flow_config (audited there).
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from admin import auth, queries
from admin.flow_editor import editor_handlers
from service.deps import BillingDep, ClockDep
from service.use_cases.flow_config import ConfigInvalid, publish_flow_json_by, read_catalogue, roll_back_flow

HEADERS = {"Cache-Control": "no-store"}


def _pretty(definition_json: str) -> str:
    return json.dumps(json.loads(definition_json), indent=2, ensure_ascii=False, sort_keys=True)


async def _latest_json(flow_key: str) -> str:
    stored = await queries.latest_published_json(flow_key)
    return _pretty(stored) if stored else ""


async def _json_editor(request: Request[Any, Any, Any], text: str, problems: list[str], status: int = 200) -> Template:
    context = {"text": text, "problems": problems, "versions": await queries.versions(), "staff": request.state.staff}
    context["tab"] = "json"
    return Template(template_name="admin/flows_json.html", context=context, status_code=status, headers=HEADERS)


@get("/flows/json", name="admin:flows_json", guards=[auth.at_least("viewer")])
async def json_page(request: Request[Any, Any, Any], key: FromQuery[str] = "default") -> Template:
    return await _json_editor(request, await _latest_json(key[:64]), [])


@post("/flows/publish", name="admin:flows_publish", guards=[auth.at_least("editor")])
async def publish(request: Request[Any, Any, Any], clock: ClockDep, billing: BillingDep) -> Template | Redirect:
    form = await request.form()
    text, note = str(form.get("definition", ""))[:500_000], str(form.get("note", ""))[:500]
    try:
        catalogue = await read_catalogue(billing)
        await publish_flow_json_by(request.state.staff.email, text, clock(), note=note, catalogue=catalogue)
    except ValueError as exc:  # CodecError, ConfigInvalid and JSON syntax errors are all ValueErrors
        problems = exc.problems if isinstance(exc, ConfigInvalid) else [f"This is not a valid flow definition: {exc}"]
        return await _json_editor(request, text, problems, status=422)
    return Redirect(path="/admin/flows", status_code=303)


@post("/flows/{version_id:int}/republish", name="admin:flows_republish", guards=[auth.at_least("editor")])
async def republish(request: Request[Any, Any, Any], version_id: FromPath[int], clock: ClockDep) -> Redirect:
    if await roll_back_flow(request.state.staff.email, version_id, clock()) is None:
        raise NotFoundException("No such flow version.")
    return Redirect(path="/admin/flows", status_code=303)


@get("/flows/diff", name="admin:flows_diff", guards=[auth.at_least("viewer")])
async def diff(request: Request[Any, Any, Any], a: FromQuery[int], b: FromQuery[int]) -> Template:
    found = await queries.stored_versions([a, b])
    if a not in found or b not in found:
        raise NotFoundException("Pick two existing versions.")
    old, new = found[a], found[b]
    lines = list(
        difflib.unified_diff(
            _pretty(old.definition_json).splitlines(),
            _pretty(new.definition_json).splitlines(),
            fromfile=f"version {old.version.number}",
            tofile=f"version {new.version.number}",
            lineterm="",
        )
    )
    context = {"lines": lines, "a": old.version, "b": new.version, "staff": request.state.staff}
    return Template(template_name="admin/flow_diff.html", context=context, headers=HEADERS)


def flow_handlers() -> list[Any]:
    return [*editor_handlers(), json_page, publish, republish, diff]
