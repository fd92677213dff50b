"""The dashboard and experiments pages on realistic data, at 1280x800 and on a phone (390 px): the
dashboard's filters are selects of the values that exist (each with "All"), no table cell is clipped (a
three-arm experiment's results included), screenshots for a person, and axe finds no violation at all.

On a server of the module's own: its sessions are real (not test mode), so they count in the experiment
and change the demo subscriptions' billing."""

from __future__ import annotations

import asyncio
import re
import secrets
import time

import httpx
import jwt
from playwright.async_api import Browser, Page, expect

from service import demo
from tests.e2e.conftest import VIEWPORTS, LiveServer
from tests.e2e.pages import AdminPage
from tests.e2e.test_admin_layout import OVERFLOW, axe_violations, screenshot_name

FILTERS = ("plan", "interval", "segment", "version", "arm", "locale")
REASONS = (
    "too_expensive",
    "not_using",
    "no_value",
    "missing_features",
    "temporary",
    "competitor",
    "technical",
    "other",
)
# Each demo subscription's sessions, in order: the cancellation comes last, so every flow before it starts on
# a subscription that is not cancelling yet.
ENDINGS = ("close", "keep", "accept", "cancel")
# What "cancel" does on each step until the flow is done.
CANCELLING = {"survey": "cancel", "offer": "cancel", "confirm": "confirm", "feedback": "feedback"}
OPEN_ALL_DETAILS = "() => document.querySelectorAll('main details').forEach((d) => { d.open = true; })"


async def _walk(client: httpx.AsyncClient, live_server: LiveServer, n: int, customer: demo.DemoCustomer) -> None:
    """Customer `cus_e2e_<n>`'s flow on `customer`'s subscription, over HTTP as the widget's htmx does (tens of
    milliseconds, where a browser walk takes seconds): a reason, then ENDINGS[n // 3]."""
    now = int(time.time())
    claims = {"sub": f"cus_e2e_{n}", "subscription_id": customer.subscription_id, "iat": now, "exp": now + 600}
    claims |= {"jti": secrets.token_urlsafe(16), "locale": customer.locale, "attrs": demo.attrs_of(customer)}
    token = jwt.encode(claims, live_server.embed_secret, algorithm="HS256")
    page = await client.get("/w/start", params={"token": token, "origin": live_server.host_url})
    found = re.search(r'data-session-id="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text[:300]
    session = found.group(1)

    async def act(path: str, data: dict[str, str] | None = None) -> str:
        """Post one intent with the flow token the last page carried; returns the step it answers with."""
        nonlocal page
        flow_token = re.findall(r'name="flow_token" value="([^"]+)"', page.text)[-1]
        headers = {"HX-Request": "true", "X-Flow-Token": flow_token}
        page = await client.post(f"/w/s/{session}/{path}", data=data or {}, headers=headers)
        assert page.status_code == 200, f"{path}: {page.status_code} {page.text[:300]}"
        step = re.search(r'data-step="([a-z_]+)"', page.text)
        return step.group(1) if step else ""

    await act("continue")
    reason = REASONS[n % len(REASONS)]
    step = await act("reason", {"reason": reason, "comment": f"Sample comment about {reason.replace('_', ' ')}."})
    ending = ENDINGS[n // 3]
    offers = [o for o in re.findall(r"offers/([\w-]+)/accept", page.text) if "pause" not in o]  # a pause asks how long
    if ending == "accept" and step == "offer" and offers:
        await act(f"offers/{offers[0]}/accept")
    elif ending == "cancel":
        for _ in range(4):
            if step not in CANCELLING:
                break
            step = await act(CANCELLING[step], {"feedback": "Too many tools already."} if step == "feedback" else {})
        assert step == "done", f"cus_e2e_{n}: cancelling stopped at {step!r}"
    elif step != "done":
        await act("keep" if ending == "keep" else "close")


async def _with_data(page: Page, live_server: LiveServer) -> None:
    """A running three-arm experiment (34/33/33, the third the holdout), then twelve customers' real flows in
    it: eight reasons, and closed, kept, accepted-offer and cancelled endings on the three demo subscriptions."""
    await page.goto(f"{live_server.url}/admin/experiments")
    await page.get_by_test_id("experiment-name").fill("Pause first or discount first")
    for i, weight in enumerate(("34", "33", "33")):
        await page.get_by_test_id(f"arm-weight-{i}").fill(weight)
    await page.get_by_test_id("start-experiment").click()
    await expect(page.get_by_test_id("experiment")).to_have_count(1)

    async def subscription_walks(customer: demo.DemoCustomer, first: int) -> None:
        for n in range(first, len(ENDINGS) * 3, 3):  # one after another: the cancellation comes last
            await _walk(client, live_server, n, customer)

    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        await asyncio.gather(*(subscription_walks(c, i) for i, c in enumerate(demo.DEMO_CUSTOMERS)))


async def _fits(page: Page, live_server: LiveServer, name: str, width: int, height: int) -> None:
    """Nothing is cut as the page opens (charts' tables closed), nor with every <details> open; axe is clean."""
    await page.screenshot(path=live_server.artifacts / screenshot_name(name, width, height), full_page=True)
    assert await page.evaluate(OVERFLOW) == [], f"{name} at {width}px"
    await page.evaluate(OPEN_ALL_DETAILS)
    assert await page.evaluate(OVERFLOW) == [], f"{name} at {width}px, its tables open"
    assert await axe_violations(page) == [], f"{name} at {width}px"


async def test_dashboard_and_experiments_fit_with_select_filters(browser: Browser, own_live_server: LiveServer) -> None:
    live_server = own_live_server
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        await AdminPage(page, live_server.url).login(live_server.admin_email, live_server.admin_password)
        await _with_data(page, live_server)
        await page.goto(f"{live_server.url}/admin")
        await expect(page.get_by_test_id("kpi-sessions").locator("strong")).to_have_text("12")
        for name in FILTERS:
            select = page.locator(f'form[data-testid="dashboard-filters"] select[name="{name}"]')
            await expect(select).to_have_count(1)
            await expect(select.locator("option").first).to_have_text("All")
            await expect(select.locator("option").first).to_have_attribute("value", "")
        plans = page.get_by_test_id("filter-plan").locator("option")
        assert await plans.count() >= 3, "the plans of the sessions above are offered"
        languages = await page.get_by_test_id("filter-locale").locator("option").all_inner_texts()
        assert "English" in languages, languages
        await expect(page.get_by_test_id("by-reason").locator("tbody tr")).to_have_count(len(REASONS))
        await _fits(page, live_server, "dashboard", 1280, 800)

        await page.get_by_test_id("nav-experiments").click()
        arms = page.get_by_test_id("arm-results").locator("tbody tr")
        await expect(arms).to_have_count(3)
        await expect(page.get_by_test_id("arm-results").get_by_test_id("verdict").last).to_be_visible()
        shown = [int(n) for n in await arms.evaluate_all("(rows) => rows.map((r) => r.dataset.n)")]
        assert sum(shown) == 12, shown  # every customer is in one arm
        await _fits(page, live_server, "experiments", 1280, 800)

        phone = VIEWPORTS["phone"]
        await page.set_viewport_size(phone)
        for name, path in (("experiments", "/admin/experiments"), ("dashboard", "/admin")):
            await page.goto(f"{live_server.url}{path}")
            await _fits(page, live_server, name, phone["width"], phone["height"])
    finally:
        await context.close()
