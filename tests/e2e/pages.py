"""Page objects for the browser tests: the demo host page with the widget, and the admin."""

from __future__ import annotations

import asyncio
import contextlib

from playwright.async_api import FrameLocator, Locator, Page, expect

# Resolves once the iframe's height has not changed for three animation frames (or after 1.6 s regardless).
SETTLED = """() => new Promise((resolve) => {
  const frame = document.querySelector('[data-testid="saveflow-iframe"]');
  let last = -1, same = 0, frames = 0;
  const tick = () => {
    const height = frame ? frame.getBoundingClientRect().height : 0;
    same = height === last ? same + 1 : 0;
    last = height;
    if (same >= 3 || ++frames > 100) resolve(height);
    else requestAnimationFrame(tick);
  };
  tick();
})"""


class WidgetPage:
    """The widget as the cancelling user sees it, inside the host page's modal iframe."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.frame: FrameLocator = page.frame_locator('[data-testid="saveflow-iframe"]')

    def step(self, name: str) -> Locator:
        return self.frame.locator(f'[data-testid="step-{name}"]')

    async def expect_step(self, name: str) -> None:
        await expect(self.step(name)).to_be_visible()

    async def settled(self) -> None:
        """Wait until the modal has taken the step's height. It follows the content a moment after a swap,
        and a click aimed before that can land where the element was (as no person's click would). Waited
        for in the page (three frames without a change), not polled from here: it is before every click."""
        await self.page.evaluate(SETTLED)

    async def click(self, testid: str) -> None:
        await self.settled()
        target = self.frame.get_by_test_id(testid)
        if testid == "close-widget":
            # Closing removes this iframe. Under load the host can remove it before the frame's renderer
            # acknowledges the real click's mouse-up, and Playwright then waits for that ack until its timeout
            # (seen in CI). So the click is dispatched inside the frame, once a person could click it.
            await expect(target).to_be_enabled()
            await expect(target).to_be_visible()
            await target.dispatch_event("click")
            return
        await target.click()

    async def choose_reason(self, reason_id: str, comment: str = "") -> None:
        await self.settled()
        await self.frame.get_by_test_id(f"reason-{reason_id}").click()
        if comment:
            await self.frame.get_by_test_id("reason-comment").fill(comment)
        await self.click("submit-reason")


class HostPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def open(self, customer: str = "cus_demo_ada", *, test_mode: bool = True, locale: str = "") -> WidgetPage:
        """Open the widget; test mode (the default here) walks the real flow without changing billing,
        so browser tests do not depend on each other's order."""
        query = f"customer={customer}" + ("&test=true" if test_mode else "") + (f"&locale={locale}" if locale else "")
        await self.page.goto(f"{self.base_url}/?{query}")
        await self.page.get_by_test_id("cancel-subscription").click()
        await expect(self.page.get_by_test_id("saveflow-modal")).to_be_visible()
        return WidgetPage(self.page)


class AdminPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def login(self, email: str, password: str) -> None:
        await self.page.goto(f"{self.base_url}/admin/login")
        await self.page.get_by_test_id("login-email").fill(email)
        await self.page.get_by_test_id("login-password").fill(password)
        await self.page.get_by_test_id("login-submit").click()
        await expect(self.page.get_by_test_id("kpis")).to_be_visible()  # the dashboard

    async def sessions(self) -> Locator:
        await self.page.get_by_test_id("nav-sessions").click()
        await expect(self.page.get_by_test_id("sessions-table")).to_be_visible()
        return self.page.get_by_test_id("session-row")


async def press_escape_in_widget(page: Page) -> None:
    """Esc while focus is inside the cross-origin iframe. The iframe asks the host to close and is
    removed while its renderer still handles the key, so Chromium may never acknowledge the key
    event: Playwright's press() would then wait forever. Bound it (the key lands in milliseconds; a second is
    ample under load); the outcome is asserted afterwards."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(page.keyboard.press("Escape"), timeout=1)
