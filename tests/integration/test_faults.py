"""Faults: the database is unreachable → a clear 503 and nothing half-written; 60 customers walking
full flows at once → no errors, no lost events, every offer applied exactly once (SQLite and Postgres)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from pathlib import Path
from typing import Any, cast

import httpx

from offers.providers.memory import InMemoryBillingProvider
from service import demo
from service.app import create_app
from service.db.tables import BillingOperation, FlowEvent, FlowSession
from service.security import mint_embed_token
from service.settings import DatabaseSettings, Settings
from tests.conftest import FakeClock, make_settings
from tests.integration.widget_client import embed_token, start, step_of

# Enough for every step of every flow to wait on another's write (a pool of 20 connections on Postgres); more
# customers only make the test longer.
CUSTOMERS = 60


async def test_an_unreachable_database_gives_a_clear_503(tmp_path: Path, clock: FakeClock) -> None:
    # A directory where the database file should be: every query fails with "unable to open database".
    broken = make_settings(database=DatabaseSettings(url=None, sqlite_path=str(tmp_path)))
    app = create_app(broken, clock=clock)
    transport = httpx.ASGITransport(app=cast("Any", app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        page = await client.get("/w/start", params={"token": embed_token(broken, clock)})
        assert page.status_code == 503
        assert "briefly unavailable" in page.text and page.headers["retry-after"] == "5"
        api = await client.get("/api/v1/sessions/x", headers={"Authorization": f"Bearer {broken.api_key}"})
        assert api.status_code == 503 and "briefly unavailable" in api.json()["detail"]
        assert (await client.get("/health")).status_code == 503


async def test_many_customers_at_once_lose_nothing_and_apply_each_offer_once(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    snapshot = demo.subscription_of(demo.customer("cus_demo_ada"), clock())
    for i in range(CUSTOMERS):
        billing.add_subscription(dataclasses.replace(snapshot, id=f"sub_load_{i}", customer_id=f"cus_load_{i}"))
    plans = random.Random(7).choices(["save", "cancel", "abandon"], k=CUSTOMERS)

    async def customer(i: int, plan: str) -> tuple[str, str]:
        token = mint_embed_token(settings, customer_id=f"cus_load_{i}", subscription_id=f"sub_load_{i}", now=clock())
        _, flow = await start(client, settings, clock, token=token)
        await flow.post("continue")
        await flow.post("reason", {"reason": "too_expensive"})
        if plan == "save":
            last = await flow.post("offers/pause-2-months/accept")
        elif plan == "cancel":
            await flow.post("cancel")
            last = await flow.post("confirm")
        else:
            last = await flow.post("close")
        return flow.session_id, step_of(last.text)

    results = await asyncio.gather(*(customer(i, plan) for i, plan in enumerate(plans)))
    assert all(step == "done" for _, step in results)
    outcomes = Counter(r["outcome"] for r in await FlowSession.select(FlowSession.outcome))
    expected = Counter({"save": "saved", "cancel": "cancelled", "abandon": "abandoned"}[p] for p in plans)
    assert outcomes == expected
    pauses = [c for c in billing.calls if c.method == "pause"]
    assert len(pauses) == expected["saved"] == len({c.subscription_id for c in pauses})
    assert len([c for c in billing.calls if c.method == "cancel"]) == expected["cancelled"]
    # Every session's log is complete and gap-free: Started … its final event, seq 1..n.
    rows = await FlowEvent.select(FlowEvent.session, FlowEvent.seq)
    by_session: dict[str, list[int]] = {}
    for row in rows:
        by_session.setdefault(row["session"], []).append(row["seq"])
    assert len(by_session) == CUSTOMERS
    assert all(sorted(seqs) == list(range(1, len(seqs) + 1)) for seqs in by_session.values())
    assert await BillingOperation.count().where(BillingOperation.status != "applied") == 0
