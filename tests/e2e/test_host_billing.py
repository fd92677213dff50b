"""BILLING_PROVIDER=host in a real browser: the service sends each billing action, signed, to the demo's reference
host (service/http/reference_host.py) on the same server, which applies it to the host's own billing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from offers.providers.host import HostBillingProvider
from tests.e2e.conftest import LiveServer, running_service
from tests.e2e.pages import HostPage
from tests.support.host_billing import SECRET


@pytest.fixture(scope="module", name="host_server")
def fx_host_server() -> Iterator[LiveServer]:
    env = {"BILLING_PROVIDER": "host", "HOST_BILLING_URL": "{url}/demo/billing", "HOST_BILLING_SECRET": SECRET}
    with running_service("saveflow-e2e-host-", env) as server:
        yield server


async def _at_the_host(server: LiveServer, subscription_id: str) -> tuple[datetime | None, bool]:
    """The subscription as the host's billing has it, read as the service reads it (a signed GET)."""
    reader = HostBillingProvider(f"{server.url}/demo/billing", SECRET)
    try:
        snapshot = await reader.get_subscription(subscription_id)
    finally:
        await reader.aclose()
    return snapshot.paused_until, snapshot.cancel_at_period_end


async def test_a_save_is_applied_by_the_host(page: Page, host_server: LiveServer) -> None:
    assert await _at_the_host(host_server, "sub_demo_ada") == (None, False)
    host = HostPage(page, host_server.host_url)
    widget = await host.open("cus_demo_ada", test_mode=False)
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    await widget.click("accept-offer-pause-2-months")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: saved (pause)")
    await expect(page.get_by_test_id("subscription-status")).to_have_attribute("data-status", "paused")
    paused_until, _ = await _at_the_host(host_server, "sub_demo_ada")
    assert paused_until is not None
    assert timedelta(days=55) < paused_until - datetime.now(UTC) < timedelta(days=63)


async def test_a_cancel_is_applied_by_the_host(page: Page, host_server: LiveServer) -> None:
    host = HostPage(page, host_server.host_url)
    widget = await host.open("cus_demo_grace", test_mode=False)
    await widget.click("continue")
    await widget.click("cancel-now")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: cancelled")
    await expect(page.get_by_test_id("subscription-status")).to_have_attribute("data-status", "cancel_scheduled")
    assert await _at_the_host(host_server, "sub_demo_grace") == (None, True)
