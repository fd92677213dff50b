"""What every user gets: framing only from allowed origins, a keyboard-only path, four languages,
a phone layout without sideways scrolling, and no serious accessibility violations on any step."""

from __future__ import annotations

import re

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, FrameLocator, Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import HostPage, press_escape_in_widget

EVIL = "http://evil.example"


async def test_a_page_on_a_non_allowed_origin_cannot_frame_the_widget(page: Page, live_server: LiveServer) -> None:
    html = f'<html><body><iframe id="w" src="{live_server.url}/w/start?token=x"></iframe></body></html>'
    await page.route(f"{EVIL}/", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    await page.goto(f"{EVIL}/")
    await page.wait_for_timeout(500)
    child = page.frames[1]
    # Chromium refuses the frame (CSP frame-ancestors) and shows its own error page in its place.
    assert child.url == "chrome-error://chromewebdata/"
    assert "step-" not in await child.content()


async def _tab_to(page: Page, frame: FrameLocator, testid: str, limit: int = 40) -> None:
    target = frame.get_by_test_id(testid)
    await expect(target).to_be_visible()  # the step has settled (a person sees it before tabbing to it)
    visited = []
    if await target.evaluate("el => el === document.activeElement"):
        return
    for _ in range(limit):
        await page.keyboard.press("Tab")
        try:
            # Focus crossing into the iframe's own process lands a moment later on a loaded machine: wait for
            # it, so the next Tab is never pressed before the previous one has landed.
            await expect(target).to_be_focused(timeout=800)
            return
        except AssertionError:
            visited.append(await page.evaluate("document.activeElement && document.activeElement.dataset.testid"))
    raise AssertionError(f"{testid} is not reachable with Tab; host focus went through {visited}")


async def test_the_whole_flow_works_with_the_keyboard_only(page: Page, live_server: LiveServer) -> None:
    await page.goto(f"{live_server.host_url}/?customer=cus_demo_ada&test=true")
    cancel = page.get_by_test_id("cancel-subscription")
    for _ in range(30):
        if await cancel.evaluate("el => el === document.activeElement"):
            break
        await page.keyboard.press("Tab")
    frame = page.frame_locator('[data-testid="saveflow-iframe"]')
    # Focusing the link prepared the widget. A person reading the link's name gives it the moment it needs to
    # load; Enter pressed while it still loads on a machine under heavy load is a known gap (see
    # docs/architecture.md, "Keyboard focus of a prepared widget"): Chromium then sometimes leaves the
    # just-shown frame out of the Tab order.
    await expect(frame.get_by_test_id("step-loss-aversion")).to_be_attached()
    await page.keyboard.press("Enter")
    widget = HostPage(page, live_server.host_url)
    await expect(frame.get_by_test_id("step-loss-aversion")).to_be_visible()
    await expect(frame.locator("#flow-step h1")).to_be_focused()  # opening moves focus into the step itself
    # Usually one Tab. Under a heavy load the host's focus can still start on its body (see the issue
    # note of session 13), and then Tab goes through the close button into the step: at most 3 more.
    await _tab_to(page, frame, "continue", limit=6)
    await page.keyboard.press("Enter")
    await expect(frame.get_by_test_id("step-survey")).to_be_visible()
    await expect(frame.locator("#flow-step h1")).to_be_focused()  # focus follows each new step
    await _tab_to(page, frame, "reason-too_expensive")
    await page.keyboard.press("Space")
    await expect(frame.get_by_test_id("reason-too_expensive")).to_be_checked()
    await _tab_to(page, frame, "submit-reason")
    await page.keyboard.press("Enter")
    await expect(frame.get_by_test_id("step-offer")).to_be_visible()
    await expect(frame.locator("#flow-step h1")).to_be_focused()
    best = await frame.locator('[data-testid="offer-cards"] > article').first.get_attribute("data-offer-id")
    await _tab_to(page, frame, f"accept-offer-{best}")  # the first card (Ada may be paused by an earlier test)
    await page.keyboard.press("Enter")
    await expect(frame.get_by_test_id("step-done")).to_have_attribute("data-outcome", "saved")
    await press_escape_in_widget(page)
    await expect(page.get_by_test_id("demo-result")).to_have_text(re.compile(r"Outcome: saved \((pause|downgrade)\)"))
    assert widget.base_url == live_server.host_url


async def test_each_locale_renders_translated_text(page: Page, live_server: LiveServer) -> None:
    # English and German are walked by most browser tests; tests/integration/test_widget_languages.py renders
    # every step in all four.
    expected = {"fr": "Avant de partir", "es": "Antes de irse"}
    for locale, title in expected.items():
        await page.goto(f"{live_server.host_url}/?customer=cus_demo_ada&locale={locale}")
        await page.get_by_test_id("cancel-subscription").click()
        frame = page.frame_locator('[data-testid="saveflow-iframe"]')
        await expect(frame.locator("h1")).to_have_text(title)
        await expect(frame.locator("html")).to_have_attribute("lang", locale)
        await press_escape_in_widget(page)


async def test_on_a_phone_the_widget_is_full_screen_without_sideways_scrolling(
    browser: Browser, live_server: LiveServer
) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    try:
        phone = await context.new_page()
        await phone.goto(f"{live_server.host_url}/?customer=cus_demo_grace&locale=fr")
        await phone.get_by_test_id("cancel-subscription").click()
        modal = phone.get_by_test_id("saveflow-modal")
        box = await modal.bounding_box()
        assert box is not None and box["width"] == 375
        iframe = phone.frame_locator('[data-testid="saveflow-iframe"]')
        for advance in ("continue", None):
            await expect(iframe.locator("#flow-step")).to_be_visible()
            overflow = await iframe.locator("html").evaluate("el => el.scrollWidth - el.clientWidth")
            assert overflow <= 0, f"{overflow}px of sideways scrolling"
            if advance:
                await iframe.get_by_test_id(advance).click()
        await phone.screenshot(path=str(live_server.artifacts / "phone-survey.png"))
    finally:
        await context.close()


async def test_no_serious_accessibility_violations_on_any_step(page: Page, live_server: LiveServer) -> None:
    await page.goto(f"{live_server.url}/?customer=cus_demo_linus&test=true")
    start = await page.get_by_test_id("cancel-subscription").get_attribute("href")
    assert start
    await page.goto(start)  # the widget as a full page: axe scans its own document
    axe = Axe()
    scanned: list[str] = []
    for _ in range(8):
        step = await page.locator("#flow-step").get_attribute("data-step")
        assert step
        results = await axe.run(page)
        serious = [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, f"{step}: {serious}\n{results.generate_report()}"
        scanned.append(step)
        if step == "done":
            break
        before = await page.locator("#flow-step").evaluate("el => el.dataset.step + (el.dataset.offerId || '')")
        if step == "survey":
            await page.get_by_test_id("reason-too_expensive").click()
            await page.get_by_test_id("submit-reason").click()
        else:
            action = {"loss_aversion": "continue", "offer": "decline-offer", "confirm": "confirm-cancel"}[step]
            await page.get_by_test_id(action).click()
        # htmx swaps asynchronously: wait until the next step (or the next offer) is on screen.
        await page.wait_for_function(
            "before => { const el = document.querySelector('#flow-step');"
            " return el && el.dataset.step + (el.dataset.offerId || '') !== before; }",
            arg=before,
        )
    assert scanned[0] == "loss_aversion" and scanned[-1] == "done"
    assert {"survey", "offer", "confirm"} <= set(scanned)
