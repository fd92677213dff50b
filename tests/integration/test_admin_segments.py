"""Segments in the admin over HTTP: create, edit, reorder and delete (each audited), plain-word 422s next to
their fields with nothing saved, roles and CSRF, the sample-customer preview, and offer limits in the editor."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx

from admin.segments import SegmentForm, form_of, sample_attributes, segment_of
from flows import ReasonDef, ReasonId, default_definition
from flows.defaults import DISCOUNT, PAUSE
from flows.segments import Condition, Op, Segment
from service.db.tables import AuditLog, FlowSession, FlowVersion
from service.db.tables import Segment as SegmentRow
from service.repositories import flows as repo
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.test_admin_flow_editor import editor_form
from tests.integration.test_admin_pages import login_as
from tests.integration.widget_client import start


def _segment_fields(token: str, **fields: str) -> dict[str, str]:
    return {"id": "dach", "name": "DACH", "flow_key": "dach", "_csrf_token": token, "action": "save", **fields}


async def _publish_dach(clock: FakeClock) -> None:
    german = dataclasses.replace(
        default_definition(),
        key="dach",
        reasons=(ReasonDef(ReasonId("zu_teuer"), "Zu teuer", ()), *default_definition().reasons[-1:]),
    )
    await repo.publish_version(german, clock())


async def _audit() -> list[dict[str, Any]]:
    rows = await AuditLog.select(AuditLog.action, AuditLog.target, AuditLog.before, AuditLog.after).order_by(
        AuditLog.id
    )
    return [r for r in rows if r["action"].startswith("segment.")]


async def _order() -> list[str]:
    return [s.id for s in await repo.segments_by_priority()]


async def test_an_editor_creates_a_segment_and_matching_customers_get_its_flow(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    await _publish_dach(clock)
    token = await login_as(client, "editor", clock)
    page = await client.get("/admin/segments")
    assert page.status_code == 200 and 'data-testid="nav-segments"' in page.text
    assert "No segments yet" in page.text
    form = await client.get("/admin/segments/new")
    assert 'data-testid="cond-2-value"' in form.text and 'name="_csrf_token"' in form.text

    fields = _segment_fields(
        token,
        **{"cond-0-attribute": "country", "cond-0-op": "in", "cond-0-value": "DE, AT, CH"},
        **{"cond-1-attribute": "custom", "cond-1-custom": "seats", "cond-1-op": "gte", "cond-1-value": "5"},
    )
    fields |= {"cond-2-attribute": "", "cond-2-op": "eq", "cond-2-value": ""}  # a blank row is ignored
    created = await client.post("/admin/segments", data=fields)
    assert created.status_code == 303 and created.headers["location"] == "/admin/segments"
    (stored,) = await repo.segments_by_priority()
    assert stored == Segment(
        "dach", "DACH", "dach", (Condition("country", Op.IN, ("DE", "AT", "CH")), Condition("seats", Op.GTE, 5))
    )
    listed = (await client.get("/admin/segments")).text
    assert 'data-segment="dach"' in listed and "country is one of DE, AT, CH" in listed
    assert await _audit() == [
        {
            "action": "segment.create",
            "target": "dach",
            "before": "",
            "after": "country is one of DE, AT, CH and seats is at least 5 → flow dach",
        }
    ]

    _, grace = await start(client, settings, clock, customer_id="cus_demo_grace", attrs={"country": "DE", "seats": 42})
    assert "Zu teuer" in (await grace.post("continue")).text
    row = await FlowSession.select(FlowSession.segment_id).where(FlowSession.id == grace.session_id).first()
    assert row == {"segment_id": "dach"}


async def test_invalid_input_comes_back_next_to_its_field_and_nothing_is_saved(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    bad = _segment_fields(
        token,
        id="no spaces!",
        flow_key="nowhere",
        **{"cond-0-attribute": "mrr_cents", "cond-0-op": "gt", "cond-0-value": "lots"},
        **{"cond-1-attribute": "custom", "cond-1-custom": "", "cond-1-op": "eq", "cond-1-value": "x"},
        **{"cond-2-attribute": "", "cond-2-op": "eq", "cond-2-value": "orphan"},
    )
    refused = await client.post("/admin/segments", data=bad)
    assert refused.status_code == 422
    text = refused.text
    assert "Nothing was saved" in text
    for testid in ("id-error", "condition-0-error", "condition-1-error", "condition-2-error"):
        assert f'data-testid="{testid}"' in text, testid
    assert "&#39;is more than&#39; compares numbers" in text
    assert "type the custom attribute&#39;s name" in text
    assert 'value="lots"' in text and 'value="no spaces!"' in text  # the input is kept
    # Problems that need the database are checked only once the form itself is right, and also keep input.
    unpublished = await client.post("/admin/segments", data=_segment_fields(token, flow_key="nowhere"))
    assert unpublished.status_code == 422 and 'data-testid="flow_key-error"' in unpublished.text
    assert "has no published version yet" in unpublished.text
    assert await SegmentRow.count() == 0
    assert await _audit() == []

    assert (await client.post("/admin/segments", data=_segment_fields(token, flow_key="default"))).status_code == 303
    twice = await client.post("/admin/segments", data=_segment_fields(token, flow_key="default"))
    assert twice.status_code == 422 and "already a segment with the id" in twice.text
    assert await SegmentRow.count() == 1


async def test_more_condition_rows_without_javascript_saves_nothing(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    fields = _segment_fields(token, action="more_rows", **{"cond-0-attribute": "plan", "cond-0-value": "pro"})
    page = await client.post("/admin/segments", data=fields)
    assert page.status_code == 200
    assert 'data-testid="cond-3-value"' in page.text and 'value="pro"' in page.text
    assert await SegmentRow.count() == 0


async def test_edit_reorder_and_delete_are_audited(client: httpx.AsyncClient, clock: FakeClock) -> None:
    token = await login_as(client, "editor", clock)
    for segment_id in ("first", "second", "third"):
        data = _segment_fields(token, id=segment_id, name=segment_id.title(), flow_key="default")
        assert (await client.post("/admin/segments", data=data)).status_code == 303
    assert await _order() == ["first", "second", "third"]

    edit = await client.get("/admin/segments/second/edit")
    assert edit.status_code == 200 and "Id: <code>second</code>" in edit.text
    changed = _segment_fields(
        token,
        id="renamed",
        name="Second, now pro",
        flow_key="default",
        **{"cond-0-attribute": "plan", "cond-0-op": "eq", "cond-0-value": "pro"},
    )
    assert (await client.post("/admin/segments/second/edit", data=changed)).status_code == 303
    stored = {s.id: s for s in await repo.segments_by_priority()}
    assert stored["second"].name == "Second, now pro"  # the id in the form is ignored: ids never change
    assert stored["second"].conditions == (Condition("plan", Op.EQ, "pro"),)

    moved = await client.post("/admin/segments/third/move", data={"direction": "up", "_csrf_token": token})
    assert moved.status_code == 303
    assert await _order() == ["first", "third", "second"]
    await client.post("/admin/segments/first/move", data={"direction": "up", "_csrf_token": token})  # already first
    assert await _order() == ["first", "third", "second"]
    deleted = await client.post("/admin/segments/first/delete", data={"_csrf_token": token})
    assert deleted.status_code == 303
    assert await _order() == ["third", "second"]
    gone = await client.post("/admin/segments/first/delete", data={"_csrf_token": token})
    assert gone.status_code == 404
    assert (await client.get("/admin/segments/first/edit")).status_code == 404

    audit = await _audit()
    assert [a["action"] for a in audit] == [
        "segment.create",
        "segment.create",
        "segment.create",
        "segment.update",
        "segment.move",
        "segment.delete",
    ]
    assert audit[3]["before"] == "everyone → flow default"
    assert audit[3]["after"] == "plan is pro → flow default"
    assert (audit[4]["before"], audit[4]["after"]) == ("position 3", "position 2")
    assert audit[5]["target"] == "first"


async def test_viewers_read_and_cannot_change_and_every_post_needs_csrf(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await repo.save_segment(Segment("big", "Big", "default", (Condition("mrr_cents", Op.GTE, 10000),)), 10, clock())
    token = await login_as(client, "viewer", clock)
    page = await client.get("/admin/segments")
    assert page.status_code == 200 and 'data-segment="big"' in page.text
    assert 'data-testid="new-segment"' not in page.text and 'data-testid="segment-big-delete"' not in page.text
    view = await client.get("/admin/segments/big/edit")
    assert view.status_code == 200 and '<fieldset class="plain" disabled>' in view.text
    assert (await client.get("/admin/segments/new")).status_code == 403
    for path in (
        "/admin/segments",
        "/admin/segments/big/edit",
        "/admin/segments/big/move",
        "/admin/segments/big/delete",
    ):
        response = await client.post(path, data={**_segment_fields(token, flow_key="default"), "direction": "up"})
        assert response.status_code == 403, path
    assert await _order() == ["big"]
    assert await _audit() == []


async def test_posts_without_a_csrf_token_are_refused(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await login_as(client, "editor", clock)
    data = _segment_fields("", flow_key="default")
    del data["_csrf_token"]
    assert (await client.post("/admin/segments", data=data)).status_code == 403
    assert await SegmentRow.count() == 0


async def test_the_preview_shows_the_matching_segment_and_each_reasons_offers(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _publish_dach(clock)
    await repo.save_segment(Segment("dach", "DACH", "dach", (Condition("country", Op.IN, ("DE", "AT")),)), 10, clock())
    await repo.save_segment(Segment("seats", "Big teams", "default", (Condition("seats", Op.GT, 20),)), 20, clock())
    await login_as(client, "viewer", clock)  # reading is enough to preview
    german = await client.get("/admin/segments", params={"preview": "1", "country": "de", "mrr_cents": "4900"})
    assert german.status_code == 200
    assert re.search(r"Segment <strong>DACH</strong> \(dach\) matches", german.text)
    assert "Zu teuer" in german.text

    big = await client.get(
        "/admin/segments",
        params={"preview": "1", "country": "US", "custom": "seats=42\nbeta=true", "mrr_cents": "4900"},
    )
    assert "Segment <strong>Big teams</strong> (seats) matches" in big.text
    too_expensive = (
        '<th scope="row">It&#39;s too expensive</th><td class="wrap">Pause instead of cancelling, Switch to Starter'
    )
    assert too_expensive in big.text  # the default flow's offers for that reason, best first
    assert "only for customers on a free trial" in big.text  # the trial extension, for a paying customer

    nobody = await client.get("/admin/segments", params={"preview": "1", "country": "US", "trialing": "on"})
    assert "No segment matches" in nobody.text and "flow <strong>default</strong>" in nobody.text
    assert "not during a free trial" in nobody.text  # a pause, for a trialing customer

    odd = await client.get("/admin/segments", params={"preview": "1", "mrr_cents": "lots", "custom": "no equals sign"})
    assert 'data-testid="preview-problems"' in odd.text
    assert "MRR in cents must be a whole number" in odd.text and "write it as key=value" in odd.text


def test_the_preview_sees_what_a_session_would_see() -> None:
    attributes, problems = sample_attributes(
        {
            "plan": "Pro",
            "tenure_months": "14",
            "mrr_cents": "4900",
            "country": "DE",
            "custom": "seats=5\nbeta=true\nteam=Data",
        }
    )
    assert problems == []
    assert attributes == {
        "trialing": False,
        "currency": "usd",
        "interval": "month",
        "mrr_cents": 4900,
        "locale": "en",
        "plan": "Pro",
        "country": "DE",
        "tenure_months": 14,
        "seats": 5,
        "beta": True,
        "team": "Data",
    }


def test_a_segment_form_round_trips_and_problems_point_at_their_row() -> None:
    segment = Segment(
        "s",
        "S",
        "default",
        (
            Condition("plan", Op.IN, ("pro", "team")),
            Condition("seats", Op.BETWEEN, (1, 5)),
            Condition("trialing", Op.EQ, True),
        ),
    )
    assert segment_of(form_of(segment).padded()) == (segment, [])
    rows = (
        {"attribute": "", "op": "eq", "value": ""},  # a blank row before a real one
        {"attribute": "tenure_months", "op": "gt", "value": "a year"},
    )
    _, problems = segment_of(SegmentForm("s", "S", "default", rows))
    assert {field for field, _ in problems} == {"condition-1"}


async def test_offer_limits_are_edited_in_the_flow_editor_and_published(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    fields = await editor_form(client)
    assert fields["offer-0-id"] == PAUSE and fields["offer-0-cooldown_days"] == ""
    page = (await client.get("/admin/flows")).text
    assert 'data-testid="offer-0-cooldown_days"' in page and 'placeholder="180"' in page
    discount = next(k[: -len("-id")] for k, v in fields.items() if k.endswith("-id") and v == DISCOUNT)
    fields |= {"offer-0-cooldown_days": "30", f"{discount}-max_redemptions": "0", "note": "limits"}
    bad = await client.post(
        "/admin/flows/editor", data={**fields, "offer-0-cooldown_days": "-3", "action": "publish", "_csrf_token": token}
    )
    assert bad.status_code == 422 and "the cooldown in days must be 0 to 3650" in bad.text
    assert 'value="-3"' in bad.text
    # The live preview stores a draft with the limits, and publishing makes a version with them.
    draft = await client.post("/admin/flows/preview", data={**fields, "action": "preview", "_csrf_token": token})
    assert draft.status_code == 200
    drafts = await FlowVersion.select(FlowVersion.definition).where(FlowVersion.status == repo.DRAFT)
    assert any('"cooldown_days":30' in d["definition"] for d in drafts)
    published = await client.post("/admin/flows/editor", data={**fields, "action": "publish", "_csrf_token": token})
    assert published.status_code == 303
    latest = await repo.published_version("default")
    assert latest is not None
    offers = {o.id: o for o in latest[1].offers}
    assert offers[PAUSE].cooldown_days == 30 and offers[PAUSE].max_redemptions is None
    assert offers[DISCOUNT].max_redemptions == 0 and offers[DISCOUNT].cooldown_days is None
    again = await editor_form(client)
    assert again["offer-0-cooldown_days"] == "30" and again[f"{discount}-max_redemptions"] == "0"
