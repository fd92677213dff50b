"""Issue 24 items 2 and 8 and the embed contract in a real browser: the modal takes its content's height (up to
the viewport; full screen on a phone), the close button covers nothing, the host's theme (never the OS's)
colours the widget and passes axe, "Keep my subscription" resolves the promise `kept` (and, on the cancelled done
screen, `reactivated`), and a prepared widget is told when it is opened."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Locator, Page, ViewportSize, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.modal_layout import box, check_modal, modal_geometry
from tests.e2e.pages import WidgetPage

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


async def _open(page: Page, live_server: LiveServer, customer: str, query: str = "test=true") -> WidgetPage:
    await page.goto(f"{live_server.host_url}/?customer={customer}&{query}")
    await page.wait_for_function("window.SaveFlow !== undefined")
    await page.get_by_test_id("cancel-subscription").click()
    await expect(page.get_by_test_id("saveflow-modal")).to_be_visible()
    return WidgetPage(page)


async def _next_step(flow_step: Locator, previous: str) -> str:
    """The step on screen once it is no longer `previous` (htmx swaps asynchronously)."""
    await expect(flow_step).not_to_have_attribute("data-step", previous or "-")
    step = await flow_step.get_attribute("data-step")
    assert step and step != "error", step
    return step


async def _advance(root: Locator, step: str) -> None:
    """Towards the end of the flow by the cancel path, whichever offers this customer gets (other tests' sessions
    change that); the offer cards are another test's, the way out is on every step after the first."""
    if step == "survey":
        await root.get_by_test_id("reason-too_expensive").click()
        await root.get_by_test_id("submit-reason").click()
    elif step != "done":
        action = {"loss_aversion": "continue", "offer": "cancel-now", "confirm": "confirm-cancel"}[step]
        await root.get_by_test_id(action).click()


async def _actions_on_screen(page: Page, widget: WidgetPage, viewport: ViewportSize) -> None:
    """Every button of the step's action area lies within the host's viewport (sticky on a long step)."""
    buttons = widget.frame.locator("#flow-step .sf-actions button")
    assert await buttons.count() > 0
    for button in await buttons.all():
        b = box(await button.bounding_box())
        assert b["y"] >= 0 and b["y"] + b["height"] <= viewport["height"], b
        assert b["x"] >= 0 and b["x"] + b["width"] <= viewport["width"], b


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_modal_takes_its_contents_height_and_nothing_overlaps(
    browser: Browser, live_server: LiveServer, viewport: ViewportSize
) -> None:
    context = await browser.new_context(viewport=viewport, is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
    try:
        page = await context.new_page()
        widget = await _open(page, live_server, "cus_demo_ada")
        heights: dict[str, float] = {}
        step = ""
        while step != "done":
            step = await _next_step(widget.frame.locator("#flow-step"), step)
            g = await modal_geometry(page)
            check_modal(g, viewport)
            await _actions_on_screen(page, widget, viewport)
            heights[step] = g["modal"]["height"]
            await page.screenshot(path=str(live_server.artifacts / f"modal-{step}-{viewport['width']}.png"))
            if step == "survey":
                # Scrolled to the end, the last text still clears the close button (it has a row of its own).
                await widget.frame.locator("html").evaluate("el => el.scrollTo(0, el.scrollHeight)")
                check_modal(await modal_geometry(page), viewport)
            await _advance(widget.frame.locator("body"), step)
        assert {"loss_aversion", "survey", "confirm", "done"} <= set(heights), heights
        # Changed your mind? Undone on the done screen: the modal follows the new screen, and the host's promise
        # resolves with the outcome the server recorded last (the cancel was reported first).
        await widget.click("undo-cancel")
        await expect(widget.step("done")).to_have_attribute("data-outcome", "reactivated")
        check_modal(await modal_geometry(page), viewport)
        await widget.click("close-widget")
        await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()
        await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: reactivated (reactivate)")
        if viewport is DESKTOP:
            assert heights["done"] < heights["survey"] - 150, heights  # a short screen gets a short modal
        else:
            assert set(heights.values()) == {PHONE["height"]}
    finally:
        await context.close()


async def test_a_step_taller_than_the_viewport_scrolls_inside_the_modal(
    browser: Browser, live_server: LiveServer
) -> None:
    viewport: ViewportSize = {"width": 1280, "height": 560}  # the survey is taller than 92 % of this
    context = await browser.new_context(viewport=viewport)
    try:
        page = await context.new_page()
        widget = await _open(page, live_server, "cus_demo_linus")
        await widget.click("continue")
        await widget.expect_step("survey")
        g = await modal_geometry(page)
        check_modal(g, viewport)
        assert g["scrolls"] and g["modal"]["height"] == pytest.approx(viewport["height"] * 0.92, abs=1)
        await _actions_on_screen(page, widget, viewport)  # Continue sticks to the bottom of the modal
        await expect(widget.frame.get_by_test_id("submit-reason")).to_be_in_viewport()
    finally:
        await context.close()


async def _scan(page: Page, where: str) -> None:
    results = await Axe().run(page)
    violations = [v["id"] for v in results.response["violations"]]
    assert not violations, f"{where}: {violations}\n{results.generate_report()}"


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_the_hosts_theme_colours_the_widget_and_passes_axe(
    page: Page, live_server: LiveServer, theme: str
) -> None:
    await page.emulate_media(color_scheme="dark" if theme == "light" else "light")  # the OS says the opposite
    widget = await _open(page, live_server, "cus_demo_grace", f"test=true&theme={theme}")
    await widget.expect_step("loss-aversion")
    await expect(widget.frame.locator("html")).to_have_attribute("data-theme", theme)
    background = await widget.frame.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == ("rgb(255, 255, 255)" if theme == "light" else "rgb(17, 26, 46)")
    modal = await page.get_by_test_id("saveflow-modal").evaluate("el => getComputedStyle(el).backgroundColor")
    assert modal == background  # the close button's row matches the widget
    await _scan(page, f"host page with the modal, {theme}")

    # axe scans one document: the widget's own, on every step, as a full page in the same theme.
    href = await page.get_by_test_id("cancel-subscription").get_attribute("href")
    assert href
    await page.goto(f"{href}&theme={theme}")  # the same token: it resumes the session just opened
    step, scanned = "", []
    while step != "done":
        step = await _next_step(page.locator("#flow-step"), step)
        await _scan(page, f"{step}, {theme}")
        scanned.append(step)
        await _advance(page.locator("body"), step)
    assert {"loss_aversion", "survey", "confirm", "done"} <= set(scanned), scanned


async def test_an_unknown_theme_is_light(page: Page, live_server: LiveServer) -> None:
    await page.emulate_media(color_scheme="dark")
    widget = await _open(page, live_server, "cus_demo_grace", "test=true&theme=neon")
    await expect(widget.frame.locator("html")).to_have_attribute("data-theme", "light")


async def test_keep_my_subscription_resolves_the_promise_kept(page: Page, live_server: LiveServer) -> None:
    widget = await _open(page, live_server, "cus_demo_linus")
    await widget.expect_step("loss-aversion")
    await widget.click("keep-subscription")
    await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()  # (a hover may prepare the next, hidden)
    result = page.get_by_test_id("demo-result")
    await expect(result).to_have_text("Outcome: kept")
    session_id = await result.get_attribute("data-session-id")
    response = await page.request.get(
        f"{live_server.url}/api/v1/sessions/{session_id}", headers={"Authorization": f"Bearer {live_server.api_key}"}
    )
    assert (await response.json())["outcome"] == "kept"  # what the server recorded, as the promise said


async def test_a_prepared_widget_is_told_when_it_is_opened(page: Page, live_server: LiveServer) -> None:
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    await page.goto(f"{live_server.host_url}/?customer=cus_demo_ada&test=true")
    await page.wait_for_function("window.SaveFlow !== undefined")
    trigger = page.get_by_test_id("cancel-subscription")
    await trigger.hover()  # embed.js prepares the widget: /w/start?…&prepared=1
    widget = WidgetPage(page)
    await expect(widget.step("loss-aversion")).to_be_attached()
    opened_url = await widget.frame.locator("body").get_attribute("data-opened-url")
    assert opened_url and opened_url.endswith("/opened")
    await page.wait_for_timeout(300)
    assert not [url for url in posts if url.endswith("/opened")]  # hovering is not opening

    async with page.expect_request(re.compile(r".*/opened$")) as request:
        await trigger.click()
    sent = await request.value
    assert sent.method == "POST" and sent.headers.get("x-flow-token")
    response = await sent.response()
    assert response is not None and response.ok
