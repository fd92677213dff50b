"""Issue 24 item 9 in a real browser: the demo host page shows the subscription as billing has it after a flow
(pause, plan change, cancellation), and every click on "Cancel subscription" opens a session of its own.

The flows that change billing run on a service of their own: the in-memory billing of the shared one must
stay as the other browser tests expect it.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import WidgetPage


@pytest.fixture(scope="module", name="own_service")
def fx_own_service(own_live_server: LiveServer) -> str:
    """The demo host page of a service with fresh in-memory billing (these flows change it)."""
    return own_live_server.host_url


async def _demo(page: Page, base: str, query: str) -> WidgetPage:
    await page.goto(f"{base}/?{query}")
    await page.wait_for_function("window.SaveFlow !== undefined")
    return WidgetPage(page)


async def _open(page: Page) -> None:
    await page.get_by_test_id("cancel-subscription").click()
    await expect(page.get_by_test_id("saveflow-modal")).to_be_visible()


async def _close(page: Page, widget: WidgetPage) -> None:
    await widget.click("close-widget")
    await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()  # (a hover may prepare the next, hidden)


async def test_every_click_opens_a_fresh_session(page: Page, live_server: LiveServer) -> None:
    widget = await _demo(page, live_server.host_url, "customer=cus_demo_linus&test=true")
    starts: list[str] = []
    page.on("request", lambda request: starts.append(request.url) if "/w/start" in request.url else None)
    result = page.get_by_test_id("demo-result")
    sessions = []
    await page.evaluate("window.steps = 0; addEventListener('saveflow:step', () => window.steps++)")
    for round_ in range(1, 4):
        await _open(page)
        await widget.expect_step("loss-aversion")  # a new session, not the last one's end
        await page.wait_for_function("n => window.steps >= n", arg=round_)  # the host knows its session
        await page.get_by_test_id("saveflow-close").click()
        await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()  # (a hover may prepare the next, hidden)
        await expect(result).to_have_text("Outcome: abandoned")
        sessions.append(await result.get_attribute("data-session-id"))
        await result.evaluate("el => { el.textContent = ''; }")
    assert len(set(sessions)) == 3 and all(sessions), sessions
    tokens = {url.split("token=")[1].split("&")[0] for url in starts}
    assert len(tokens) == 3  # each click minted a token of its own


async def test_after_a_pause_the_page_shows_the_pause(page: Page, own_service: str) -> None:
    widget = await _demo(page, own_service, "customer=cus_demo_ada")
    status = page.get_by_test_id("subscription-status")
    await expect(status).to_have_attribute("data-status", "active")
    await _open(page)
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    await widget.expect_step("offer")
    await widget.frame.locator('article[data-offer-id^="pause"] button[type=submit]').first.click()
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await _close(page, widget)
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: saved (pause)")
    await expect(status).to_have_attribute("data-status", "paused")
    await expect(status).to_contain_text("Paused until")


async def test_after_a_downgrade_the_page_shows_the_new_plan(page: Page, own_service: str) -> None:
    widget = await _demo(page, own_service, "customer=cus_demo_grace&locale=en")
    await expect(page.get_by_test_id("plan-name")).to_have_text("Team")
    await _open(page)
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    await widget.expect_step("offer")
    downgrade = widget.frame.locator('article[data-offer-id^="downgrade"] button[type=submit]')
    for _ in range(3):  # the downgrade may come after other offers
        if await downgrade.count():
            break
        before = await widget.step("offer").get_attribute("data-offer-id")
        await widget.click("decline-offer")
        await expect(widget.step("offer")).not_to_have_attribute("data-offer-id", before or "")
    await downgrade.first.click()
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await _close(page, widget)
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: saved (downgrade)")
    account = page.get_by_test_id("account")
    await expect(account).to_contain_text("Starter")  # on the plan now, or from the next renewal on


async def test_after_cancelling_the_page_shows_the_cancellation(page: Page, own_service: str) -> None:
    widget = await _demo(page, own_service, "customer=cus_demo_linus")
    status = page.get_by_test_id("subscription-status")
    await expect(status).to_have_attribute("data-status", "trialing")
    await _open(page)
    await widget.click("continue")
    await widget.click("cancel-now")  # on every step after the first; two clicks from step 1
    await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")
    await _close(page, widget)
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: cancelled")
    await expect(status).to_have_attribute("data-status", "cancel_scheduled")
    await expect(status).to_contain_text("Cancels on")

    await _open(page)  # and the next click is a session of its own, on the subscription as it is now
    await expect(widget.frame.locator("[data-step]")).to_be_visible()
    await expect(widget.step("done")).to_have_count(0)
