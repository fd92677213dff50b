"""Issue 24 item 1 in a real browser: the first step works before (or without) htmx, and a prepared
widget opens with no request for its step."""

from __future__ import annotations

from playwright.async_api import Page, Request, Route, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import WidgetPage

EVENTS = """() => { window.saveflowEvents = [];
    for (const name of ['open', 'step', 'finished', 'close'])
        window.addEventListener('saveflow:' + name, e => window.saveflowEvents.push([name, e.detail])); }"""


async def _demo(page: Page, live_server: LiveServer, customer: str) -> list[str]:
    """The demo host page in test mode; returns the list every later request's URL is appended to."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(f"{live_server.url}/?customer={customer}&test=true")
    await page.wait_for_function("window.SaveFlow !== undefined")
    await page.evaluate(EVENTS)
    return requests


async def test_the_first_step_works_with_htmx_blocked(page: Page, live_server: LiveServer) -> None:
    blocked: list[str] = []

    async def block(route: Route, request: Request) -> None:
        blocked.append(request.url)
        await route.abort()

    await page.route("**/static/htmx.min.*.js", block)
    await _demo(page, live_server, "cus_demo_grace")
    await page.get_by_test_id("cancel-subscription").click()
    widget = WidgetPage(page)
    await widget.expect_step("loss-aversion")
    await expect(widget.frame.locator("style")).to_have_count(1)  # styled by the inline sheet, no request

    await widget.click("continue")  # a plain form post (action/method), then a full page
    await widget.expect_step("survey")
    assert blocked, "the widget asked for htmx (and got nothing)"
    frame = page.frame_locator('[data-testid="saveflow-iframe"]')
    assert await frame.locator("body").evaluate("() => window.htmx === undefined")
    steps = [detail["step"] for name, detail in await page.evaluate("window.saveflowEvents") if name == "step"]
    assert steps == ["loss_aversion", "survey"]  # widget.js reports each full page too


async def test_a_prepared_widget_opens_without_a_request_for_its_step(page: Page, live_server: LiveServer) -> None:
    requests = await _demo(page, live_server, "cus_demo_ada")
    trigger = page.get_by_test_id("cancel-subscription")
    await trigger.evaluate("link => SaveFlow.prepare({ token: link.dataset.token, baseUrl: link.dataset.baseUrl })")
    widget = WidgetPage(page)
    await expect(widget.step("loss-aversion")).to_be_attached()
    await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()
    session_id = await widget.frame.locator("body").get_attribute("data-session-id")
    assert session_id and [url for url in requests if "/w/start" in url]
    await page.wait_for_load_state("networkidle")
    assert await page.evaluate("window.saveflowEvents") == []  # nothing is announced before the open

    before = len(requests)
    await trigger.click()  # the same token: the prepared widget is shown
    await expect(page.get_by_test_id("saveflow-modal")).to_be_visible()
    await widget.expect_step("loss-aversion")
    await expect(widget.frame.get_by_test_id("continue")).to_be_enabled()
    # Nothing for the step; only the "opened" beacon (tests/e2e/test_modal.py), which the step does not wait for.
    assert [url for url in requests[before:] if "/w/" in url and not url.endswith("/opened")] == []
    events = await page.evaluate("window.saveflowEvents")
    assert [name for name, _ in events] == ["open", "step"]
    assert events[1][1] == {"step": "loss_aversion", "sessionId": session_id}  # one session: prepare's

    await widget.click("continue")  # and the prepared widget is live: htmx swaps the next step in
    await widget.expect_step("survey")


async def test_hovering_the_trigger_prepares_the_widget(page: Page, live_server: LiveServer) -> None:
    requests = await _demo(page, live_server, "cus_demo_linus")
    await page.get_by_test_id("cancel-subscription").hover()
    widget = WidgetPage(page)
    await expect(widget.step("loss-aversion")).to_be_attached()
    await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()
    starts = [url for url in requests if "/w/start" in url]
    assert len(starts) == 1
    await page.get_by_test_id("cancel-subscription").click()
    await expect(widget.step("loss-aversion")).to_be_visible()
    assert [url for url in requests if "/w/start" in url] == starts
