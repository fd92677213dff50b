"""The server API's lists and export: /api/v1/sessions and /api/v1/feedback with their filters and cursor
pages, and /api/v1/export/sessions.ndjson streamed a batch at a time. Bad filters are 400s naming them."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from offers.providers.memory import InMemoryBillingProvider
from service.repositories import session_pages
from service.security import mint_embed_token
from service.settings import Settings
from service.use_cases import api_reads
from tests.conftest import FakeClock
from tests.integration.test_admin_metrics import add_subscription
from tests.integration.widget_client import start

Step = tuple[str, dict[str, str]]
EXPORT = "/api/v1/export/sessions.ndjson"


def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"}


async def walk(client: httpx.AsyncClient, settings: Settings, clock: FakeClock, customer: str, *steps: Step) -> str:
    """A session of `customer` (subscription `sub_…`) through the widget; returns its id."""
    subscription = customer.replace("cus_", "sub_")
    token = mint_embed_token(settings, customer_id=customer, subscription_id=subscription, now=clock())
    _, flow = await start(client, settings, clock, token=token)
    for intent, data in steps:
        await flow.post(intent, data)
    return flow.session_id


def reason(rid: str, comment: str = "") -> Step:
    return ("reason", {"reason": rid, "comment": comment})


@pytest.fixture(name="seeded")
async def fx_seeded(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> dict[str, str]:
    """Five customers' sessions over four days; the first three start at the same instant (ordered by id then)."""
    add_subscription(billing, clock, "cus_kim")
    add_subscription(billing, clock, "cus_lee")
    clock.now = clock.now.replace(hour=12, microsecond=123456)  # cursors must keep microseconds exactly
    day0 = clock().date()
    seeded = {
        "saved": await walk(
            client, settings, clock, "cus_demo_ada", ("continue", {}), reason("too_expensive", "pricey"),
            ("offers/pause-2-months/accept", {}),
        ),
        "cancelled": await walk(client, settings, clock, "cus_demo_grace", ("cancel", {}), ("confirm", {})),
        "open": await walk(client, settings, clock, "cus_demo_linus", ("continue", {})),
    }  # fmt: skip
    clock.advance(days=2)
    seeded["kept"] = await walk(
        client, settings, clock, "cus_kim", ("continue", {}), reason("not_using", "Nobody knows how"),
        ("offers/training-call/accept", {}),
    )  # fmt: skip
    clock.advance(days=1)
    seeded["competitor"] = await walk(
        client, settings, clock, "cus_lee", ("continue", {}), reason("competitor", "Cheaper elsewhere"),
        ("offers/discount-30-3-months/decline", {}), ("confirm", {}),
    )  # fmt: skip
    seeded["day0"] = day0.isoformat()
    return seeded


async def get(client: httpx.AsyncClient, settings: Settings, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=auth(settings))
    assert response.status_code == 200, response.text
    return response.json()


async def ids(client: httpx.AsyncClient, settings: Settings, **params: Any) -> list[str]:
    body = await get(client, settings, "/api/v1/sessions", limit=100, **params)
    assert body["next_cursor"] is None
    return [s["id"] for s in body["sessions"]]


async def test_sessions_come_newest_first_in_cursor_pages_that_never_repeat_or_skip(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, seeded: dict[str, str]
) -> None:
    everything = (await get(client, settings, "/api/v1/sessions"))["sessions"]
    order = [(s["started_at"], s["id"]) for s in everything]
    assert order == sorted(order, reverse=True) and len(order) == 5
    assert [s["id"] for s in everything][:2] == [seeded["competitor"], seeded["kept"]]
    assert [s["id"] for s in everything][2:] == sorted([seeded["saved"], seeded["cancelled"], seeded["open"]])[::-1]

    first = await get(client, settings, "/api/v1/sessions", limit=2)
    assert [s["id"] for s in first["sessions"]] == [s["id"] for s in everything[:2]]
    clock.advance(hours=1)
    newer = await walk(client, settings, clock, "cus_kim", ("continue", {}))  # arrives between pages
    walked, cursor, pages = [s["id"] for s in first["sessions"]], first["next_cursor"], 1
    while cursor:  # one at a time through the three that share a start instant: the (started_at, id) tie-break
        page = await get(client, settings, "/api/v1/sessions", limit=1, cursor=cursor)
        walked += [s["id"] for s in page["sessions"]]
        cursor, pages = page["next_cursor"], pages + 1
    assert walked == [s["id"] for s in everything] and pages == 4
    assert (await get(client, settings, "/api/v1/sessions", limit=1))["sessions"][0]["id"] == newer

    saved = next(s for s in everything if s["id"] == seeded["saved"])
    assert saved["customer_id"] == "cus_demo_ada" and saved["subscription_id"] == "sub_demo_ada"
    assert (saved["outcome"], saved["reason"], saved["accepted_offer"]) == ("saved", "too_expensive", "pause-2-months")
    assert saved["offers_shown"][0] == "pause-2-months" and saved["finished_at"] is not None
    still_open = next(s for s in everything if s["id"] == seeded["open"])
    assert (still_open["outcome"], still_open["finished_at"], still_open["accepted_offer"]) == (None, None, None)


async def test_sessions_filter_by_outcome_reason_offer_customer_and_start_day(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, seeded: dict[str, str]
) -> None:
    day0 = seeded["day0"]
    day2 = (clock().date() - timedelta(days=1)).isoformat()
    assert await ids(client, settings, outcome="saved") == [seeded["saved"]]
    assert await ids(client, settings, outcome="kept") == [seeded["kept"]]
    assert await ids(client, settings, outcome="open") == [seeded["open"]]
    assert await ids(client, settings, outcome="cancelled") == [seeded["competitor"], seeded["cancelled"]]
    assert await ids(client, settings, outcome="reactivated") == []
    assert await ids(client, settings, reason="competitor") == [seeded["competitor"]]
    assert await ids(client, settings, reason="nope") == []
    # An offer matches when it was shown, taken or not; the id is matched exactly, never as a pattern.
    assert await ids(client, settings, offer="discount-30-3-months") == [seeded["competitor"]]
    assert seeded["saved"] in await ids(client, settings, offer="pause-2-months")
    assert await ids(client, settings, offer="pause-2-month") == []
    assert await ids(client, settings, offer="pause_2_months") == []
    assert await ids(client, settings, customer_id="cus_lee") == [seeded["competitor"]]
    assert await ids(client, settings, customer_id="cus_demo_") == []  # exact, not a prefix
    assert (
        await ids(client, settings, **{"to": day0}) == sorted([seeded[k] for k in ("saved", "cancelled", "open")])[::-1]
    )
    assert await ids(client, settings, **{"from": day2, "to": day2}) == [seeded["kept"]]
    assert await ids(client, settings, **{"from": day2}) == [seeded["competitor"], seeded["kept"]]
    assert await ids(client, settings, **{"from": "9999-12-31", "to": "9999-12-31"}) == []
    assert await ids(client, settings, **{"from": "0001-01-01", "to": day0}) == await ids(client, settings, to=day0)
    assert await ids(client, settings, customer_id="cus_kim", outcome="kept", reason="not_using") == [seeded["kept"]]
    assert await ids(client, settings, customer_id="cus_kim", outcome="saved") == []
    paged = await get(client, settings, "/api/v1/sessions", outcome="cancelled", limit=1)
    rest = await get(client, settings, "/api/v1/sessions", outcome="cancelled", cursor=paged["next_cursor"])
    assert [s["id"] for s in paged["sessions"] + rest["sessions"]] == [seeded["competitor"], seeded["cancelled"]]
    assert rest["next_cursor"] is None


async def test_an_exact_filter_pages_through_rows_sql_only_narrowed(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, seeded: dict[str, str], monkeypatch: Any
) -> None:
    """SQL narrows `offer` by a LIKE on the state; the exact check may drop rows, and pages still fill up."""
    monkeypatch.setattr(session_pages, "_MAX_BATCH", 1)  # one row per read, so most reads find no exact match
    walked: list[str] = []
    after: dict[str, str] = {}
    while True:
        page = await get(client, settings, "/api/v1/sessions", offer="discount-30-3-months", limit=1, **after)
        walked += [s["id"] for s in page["sessions"]]
        if not page["next_cursor"]:
            break
        after = {"cursor": page["next_cursor"]}
    assert walked == [seeded["competitor"]]


async def test_feedback_lists_what_customers_wrote_with_their_sessions_facts(
    client: httpx.AsyncClient, settings: Settings, seeded: dict[str, str]
) -> None:
    body = await get(client, settings, "/api/v1/feedback")
    assert [(f["session_id"], f["comment"]) for f in body["feedback"]] == [
        (seeded["competitor"], "Cheaper elsewhere"),
        (seeded["kept"], "Nobody knows how"),
        (seeded["saved"], "pricey"),
    ]
    competitor, kept, _ = body["feedback"]
    assert (competitor["reason"], competitor["outcome"], competitor["accepted_offer"]) == (
        "competitor",
        "cancelled",
        None,
    )
    assert "discount-30-3-months" in competitor["offers_shown"]
    assert (kept["customer_id"], kept["outcome"], kept["accepted_offer"]) == ("cus_kim", "kept", "training-call")
    assert (kept["tags"], kept["reviewed"], kept["feedback"]) == ([], False, None)
    assert body["next_cursor"] is None

    async def comments(**params: Any) -> list[str]:
        return [f["comment"] for f in (await get(client, settings, "/api/v1/feedback", **params))["feedback"]]

    assert await comments(reason="too_expensive") == ["pricey"]
    assert await comments(outcome="kept") == ["Nobody knows how"]
    assert await comments(offer="discount-30-3-months") == ["Cheaper elsewhere"]
    assert await comments(customer_id="cus_demo_ada") == ["pricey"]
    assert await comments(customer_id="cus_demo_linus") == []  # sessions without a written answer are not feedback
    assert await comments(**{"to": seeded["day0"]}) == ["pricey"]
    first = await get(client, settings, "/api/v1/feedback", limit=2)
    rest = await get(client, settings, "/api/v1/feedback", limit=2, cursor=first["next_cursor"])
    assert [f["comment"] for f in first["feedback"] + rest["feedback"]] == await comments()
    assert rest["next_cursor"] is None


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v1/feedback", EXPORT])
async def test_bad_filters_are_400s_that_say_which_and_why(
    client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    bad: list[tuple[dict[str, str], str]] = [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "from (2026-05-02) is after to (2026-05-01)"),
    ]
    if path != EXPORT:
        bad += [
            ({"limit": "0"}, "limit"),
            ({"limit": "101"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"outcome": "won"}, "outcome"),
            ({"reason": "x" * 65}, "reason"),
            ({"offer": ""}, "offer"),
            ({"customer_id": "\x00"}, "customer_id"),
            ({"cursor": "not a cursor"}, "cursor"),
            ({"cursor": "bm9wZQ"}, "Invalid cursor"),  # base64 of "nope"
            ({"cursor": cursor_of(["yesterday", "ses_1"])}, "Invalid cursor"),
            ({"cursor": cursor_of(["2026-05-01T00:00:00", "ses_1"])}, "Invalid cursor"),  # no time zone
            ({"cursor": cursor_of(["2026-05-01T00:00:00+00:00", "ses_\x00"])}, "Invalid cursor"),
            ({"cursor": cursor_of({"at": 1})}, "Invalid cursor"),
        ]
    for params, named in bad:
        response = await client.get(path, params=params, headers=auth(settings))
        assert response.status_code == 400, (params, response.text)
        assert named in response.json()["detail"], (params, response.json())
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert (await client.get(path, headers=headers)).status_code == 401


async def test_the_export_streams_each_session_with_its_events_as_one_json_line(
    app: Litestar,
    client: httpx.AsyncClient,
    settings: Settings,
    clock: FakeClock,
    seeded: dict[str, str],
    monkeypatch: Any,
) -> None:
    reads: list[int] = []
    page = session_pages.page

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(kwargs["limit"])
        return await page(*args, **kwargs)

    monkeypatch.setattr(api_reads, "EXPORT_BATCH", 2)
    monkeypatch.setattr(session_pages, "page", counted)
    # Straight through ASGI (httpx's ASGITransport joins the body): each line is sent as it is made.
    sent: list[tuple[dict[str, Any], int]] = []

    requested: list[bool] = []
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if requested:  # the client stays connected until the whole body has arrived, as a server tells it
            await finished.wait()
            return {"type": "http.disconnect"}
        requested.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append((message, len(reads)))
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    headers = [(b"host", b"testserver.local"), (b"accept-encoding", b"identity")]
    headers.append((b"authorization", f"Bearer {settings.api_key}".encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": EXPORT, "raw_path": EXPORT.encode(), "root_path": "", "query_string": b"", "headers": headers,
        "server": ("testserver.local", 80), "client": ("127.0.0.1", 50000),
    }  # fmt: skip
    await app(scope, receive, send)  # type: ignore[arg-type]
    start_message = sent[0][0]
    assert start_message["status"] == 200
    assert dict(start_message["headers"])[b"content-type"].startswith(b"application/x-ndjson")
    bodies = [(m["body"], at) for m, at in sent if m["type"] == "http.response.body" and m.get("body")]
    chunks = [body for body, _ in bodies]
    assert reads == [2, 2, 2]  # three reads of two sessions (the last finds one): never all at once
    assert [at for _, at in bodies] == [1, 1, 2, 2, 3]  # the first lines went out before the next read
    assert all(chunk.endswith(b"\n") and chunk.count(b"\n") == 1 for chunk in chunks)
    lines = [json.loads(chunk) for chunk in chunks]
    assert [(line["started_at"], line["id"]) for line in lines] == sorted((x["started_at"], x["id"]) for x in lines)
    assert {line["id"] for line in lines} == {seeded[k] for k in ("saved", "cancelled", "open", "kept", "competitor")}
    saved = next(line for line in lines if line["id"] == seeded["saved"])
    assert [e["type"] for e in saved["events"]][:3] == ["Started", "Continued", "ReasonChosen"]
    assert [e["seq"] for e in saved["events"]] == list(range(1, len(saved["events"]) + 1))
    assert saved["events"][2]["data"]["comment"] == "pricey" and saved["comment"] == "pricey"
    assert (saved["outcome"], saved["accepted_offer"], saved["customer_id"]) == (
        "saved",
        "pause-2-months",
        "cus_demo_ada",
    )
    detail = await get(client, settings, f"/api/v1/sessions/{seeded['saved']}")
    assert [e["type"] for e in saved["events"]] == [e["type"] for e in detail["events"]]

    day2 = (clock().date() - timedelta(days=1)).isoformat()
    ranged = await client.get(EXPORT, params={"from": day2, "to": day2}, headers=auth(settings))
    assert [json.loads(line)["id"] for line in ranged.text.splitlines()] == [seeded["kept"]]
    empty = await client.get(EXPORT, params={"from": "2001-01-01", "to": "2001-01-31"}, headers=auth(settings))
    assert (empty.status_code, empty.text) == (200, "")
