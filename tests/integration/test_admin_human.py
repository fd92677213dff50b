"""The admin speaks human: labels from each session's own flow version, the path drawn from the replayed
log, feedback CS can filter and work through (export included), and a call queue against the promise made."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import timedelta

import httpx

from offers.providers.memory import InMemoryBillingProvider
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.test_admin_pages import login_as
from tests.integration.widget_client import WidgetSession, embed_token, start


async def _walk(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, customer: str, *steps: tuple[str, dict[str, str]]
) -> WidgetSession:
    """Each walk starts with a token minted at `clock`'s time: tokens are checked against the service's clock."""
    token = embed_token(settings, clock, customer, locale="de" if customer == "cus_demo_grace" else "en")
    _, flow = await start(client, settings, clock, token=token)
    for intent, data in steps:
        response = await flow.post(intent, data)
        assert response.status_code == 200, (intent, response.text[:300])
    return flow


def _options(html: str, testid: str) -> list[tuple[str, str]]:
    found = re.search(rf'<select name="\w+" data-testid="{testid}">(.*?)</select>', html, re.S)
    assert found, testid
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found.group(1))


async def test_a_confirmed_cancel_lights_every_step_in_the_picture_and_the_words(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    flow = await _walk(
        client,
        settings,
        clock,
        "cus_demo_ada",
        ("continue", {}),
        ("reason", {"reason": "too_expensive"}),
        ("cancel", {}),
        ("confirm", {}),
    )
    await login_as(client, "viewer", clock)
    page = (await client.get(f"/admin/sessions/{flow.session_id}")).text
    path = re.findall(r'<li class="taken" data-step="(\w+)">', page)
    assert path == ["loss_aversion", "survey", "offer", "confirm", "cancel_pending", "done"]
    svg = re.search(r'<svg class="flow-diagram".*?</svg>', page, re.S)
    assert svg, "the path is drawn as an inline SVG"
    picture = svg.group(0)
    assert 'role="img"' in picture and 'aria-labelledby="path-title path-desc"' in picture
    assert (
        '<title id="path-title">Path of this session: Start → What they&#39;d lose → Reason → Offer → Confirm'
        in picture
    )
    assert '<g class="node visited" data-step="confirm">' in picture
    assert re.search(r'class="edge taken"[^>]*data-from="offer" data-to="confirm"', picture)
    assert "stateDiagram" not in page  # no raw Mermaid any more
    for sentence in (
        "Chose <em>It&#39;s too expensive</em>",
        "Clicked “Cancel my subscription”",
        "Confirmed the cancellation",
        "Cancelled at period end",
    ):
        assert sentence in page, sentence
    assert ">Cancelled<" in page


async def test_feedback_filters_label_every_comment_and_the_export_follows_the_filters(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    ada = await _walk(
        client,
        settings,
        clock,
        "cus_demo_ada",
        ("continue", {}),
        ("reason", {"reason": "competitor", "comment": "Too pricey for us"}),
        ("offers/discount-30-3-months/accept", {}),
    )
    grace = await _walk(
        client,
        settings,
        clock,
        "cus_demo_grace",
        ("continue", {}),
        ("reason", {"reason": "other", "comment": "Moving to a spreadsheet"}),
        ("confirm", {}),
    )
    token = await login_as(client, "editor", clock)
    page = (await client.get("/admin/feedback")).text
    assert _options(page, "feedback-reason-filter")[1:] == [
        ("competitor", "I&#39;m switching to another product"),
        ("other", "Something else"),
    ]
    assert _options(page, "feedback-outcome-filter")[1:] == [("saved", "Saved"), ("cancelled", "Cancelled")]
    assert ("de", "German") in _options(page, "feedback-language-filter")
    assert ("discount-30-3-months", "30% off for the next 3 months") in _options(page, "feedback-offer-filter")
    assert [p for p, _ in _options(page, "feedback-plan-filter")[1:]] == ["pro", "team"]
    row = re.search(rf'data-session-id="{ada.session_id}".*?</tr>', page, re.S)
    assert row
    assert "I&#39;m switching to another product" in row.group(0)
    assert "Accepted 30% off for the next 3 months" in row.group(0) and ">Saved<" in row.group(0)

    async def listed(**params: str) -> set[str]:
        html = (await client.get("/admin/feedback", params=params)).text
        return set(re.findall(r'data-testid="feedback-row" data-session-id="([^"]+)"', html))

    both = {ada.session_id, grace.session_id}
    assert await listed() == both
    assert await listed(reason="other") == {grace.session_id}
    assert await listed(outcome="saved") == {ada.session_id}
    assert await listed(offer="discount-30-3-months") == {ada.session_id}
    assert await listed(language="de") == {grace.session_id}
    assert await listed(plan="team") == {grace.session_id}
    today, tomorrow = f"{clock():%Y-%m-%d}", f"{clock() + timedelta(days=1):%Y-%m-%d}"
    assert await listed(start=today, end=today) == both
    assert await listed(start=tomorrow) == set()
    assert await listed(q="spreadsheet", language="de") == {grace.session_id}

    partial = await client.get("/admin/feedback", params={"reason": "other"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.text and 'href="/admin/export/feedback.csv?reason=other"' in partial.text
    exported = list(csv.reader(io.StringIO((await client.get("/admin/export/feedback.csv?reason=other")).text)))
    assert exported[0][-6:] == ["reason_label", "offers", "language", "tags", "reviewed", "text"]
    assert [(r[0], r[7], r[-1]) for r in exported[1:]] == [
        (grace.session_id, "Something else", "Moving to a spreadsheet")
    ]

    saved = await client.post(
        f"/admin/feedback/{grace.session_id}",
        data={"tags": "Churn, spreadsheet", "reviewed": "1", "back": "reason=other&x=<y>", "_csrf_token": token},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/feedback?reason=other&x=%3Cy%3E"
    page = (await client.get("/admin/feedback")).text
    assert _options(page, "feedback-tag-filter")[1:] == [("churn", "churn"), ("spreadsheet", "spreadsheet")]
    assert await listed(tag="churn") == {grace.session_id}
    assert await listed(unreviewed="true") == {ada.session_id}


async def test_sessions_filter_by_selects_and_the_export_follows(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    ada = await _walk(
        client, settings, clock, "cus_demo_ada", ("continue", {}), ("reason", {"reason": "too_expensive"})
    )
    await _walk(
        client, settings, clock, "cus_demo_grace", ("continue", {}), ("reason", {"reason": "other", "comment": "x"})
    )
    await login_as(client, "viewer", clock)
    page = (await client.get("/admin/sessions", params={"reason": "too_expensive"})).text
    assert re.findall(r'data-testid="session-row" data-session-id="([^"]+)"', page) == [ada.session_id]
    assert '<option value="too_expensive" selected>It&#39;s too expensive</option>' in page
    assert _options(page, "outcome-filter")[1:] == [("open", "In progress")]
    row = re.search(rf'data-session-id="{ada.session_id}".*?</tr>', page, re.S)
    assert row and "Saw Pause instead of cancelling" in row.group(0) and "English" in row.group(0)
    assert 'href="/admin/export/sessions.csv?reason=too_expensive"' in page
    exported = list(csv.reader(io.StringIO((await client.get("/admin/export/sessions.csv?reason=too_expensive")).text)))
    assert [r[0] for r in exported[1:]] == [ada.session_id]


async def test_the_call_queue_waits_longest_first_and_marks_overdue_against_the_offers_promise(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    await _walk(
        client,
        settings,
        clock,
        "cus_demo_ada",
        ("continue", {}),
        ("reason", {"reason": "not_using", "comment": "Nobody knows how"}),
        ("offers/training-call/accept", {}),
    )
    clock.advance(hours=2)
    await _walk(
        client,
        settings,
        clock,
        "cus_demo_grace",
        ("continue", {}),
        ("reason", {"reason": "technical", "comment": "Exports break"}),
        ("offers/contact-support/accept", {}),
    )
    clock.advance(hours=23)  # training (no promise: 24 h) is now 25 h old; contact promised one working day
    await login_as(client, "viewer", clock)
    page = (await client.get("/admin/operations")).text
    rows = re.findall(r'<tr data-testid="task-row" data-overdue="(\w+)".*?</tr>', page, re.S)
    assert rows == ["true", "false"]
    table = page[page.index('data-testid="tasks"') :]
    assert table.index("Let us help you get more out of it") < table.index("Let our team fix this for you")
    assert "I&#39;m not using it enough" in table and "Nobody knows how" in table
    assert "1 d 1 h" in table and "23 h 0 min" in table
    assert "24 h (default; the offer&#39;s copy promises no time)" in table
    assert "“within one working day” (the offer&#39;s copy)" in table


async def test_a_yearly_customer_in_euros_is_listed_at_their_monthly_price_in_euros(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    sub = billing.subscriptions["sub_demo_ada"]
    billing.subscriptions["sub_demo_ada"] = dataclasses.replace(
        sub, amount_cents=120_000, interval="year", currency="eur"
    )
    flow = await _walk(client, settings, clock, "cus_demo_ada", ("continue", {}))
    await login_as(client, "viewer", clock)
    listed = (await client.get("/admin/sessions")).text
    detail = (await client.get(f"/admin/sessions/{flow.session_id}")).text
    for page in (listed, detail):
        assert "€100/month" in page.replace("\u00a0", "")  # 1,200 a year, shown per month, in euros
        assert "$1,200" not in page
