"""Page objects for the browser tests: the demo host page with the widget, and the admin."""

from __future__ import annotations

import asyncio
import contextlib

from playwright.async_api import FrameLocator, Locator, Page, expect


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
        and a click aimed before that can land where the element was (as no person's click would)."""
        iframe = self.page.get_by_test_id("saveflow-iframe")
        last: float | None = None
        for _ in range(40):
            box = await iframe.bounding_box()
            height = box["height"] if box else None
            if height is not None and height == last:
                return
            last = height
            await self.page.wait_for_timeout(40)

    async def click(self, testid: str) -> None:
        await self.settled()
        await self.frame.get_by_test_id(testid).click()

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
    event: Playwright's press() would then wait forever. Bound it; the outcome is asserted afterwards."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(page.keyboard.press("Escape"), timeout=5)
