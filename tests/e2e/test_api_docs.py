"""Issue 27 item 3 in a real browser: the API reference at /schema renders every operation and the webhooks
from our own assets, with no CSP violation and no request elsewhere, and its "Try it out" calls the API."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer

# A CSP violation is reported on the console by Chromium, and here also by this listener (more precisely).
REPORT_CSP = (
    "addEventListener('securitypolicyviolation', e => console.error(`CSP ${e.violatedDirective} ${e.blockedURI}`))"
)


async def test_the_reference_renders_offline_under_the_csp_and_tries_the_api(
    page: Page, live_server: LiveServer
) -> None:
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda r: None if r.url.startswith((live_server.url, "data:")) else elsewhere.append(r.url))
    await page.add_init_script(REPORT_CSP)
    await page.goto(f"{live_server.url}/schema")

    status = page.locator("#operations-api-get_customer_status")
    await expect(status.locator(".opblock-summary-method")).to_have_text("GET")
    await expect(status.locator(".opblock-summary-path")).to_have_text("/api/v1/customers/{customer_id}/status")
    await expect(status).to_contain_text("Read a customer's subscription status")
    await expect(page.locator("#operations-api-get_session")).to_contain_text("Read a cancellation session")
    await expect(page.locator(".opblock-summary-path").filter(has_text=re.compile("^/admin|^/w/"))).to_have_count(0)
    for event in ("session.completed", "subscription.cancelled", "subscription.pause_ending"):
        await expect(page.get_by_text(event, exact=True)).to_be_visible()
    await page.screenshot(path=live_server.artifacts / "api-docs.png")

    # Authorize with the API key, then try the operation on a demo customer.
    await page.locator(".btn.authorize").click()
    await page.locator("#auth-bearer-value").fill(live_server.api_key)
    await page.locator(".modal-ux button.authorize").click()
    await page.locator(".modal-ux button.btn-done").click()
    await status.locator(".opblock-summary").click()
    await status.get_by_role("button", name="Try it out").click()
    await status.get_by_placeholder("customer_id").fill("cus_demo_ada")
    await status.get_by_placeholder("subscription_id").fill("sub_demo_ada")
    await status.get_by_role("button", name="Execute").click()
    answer = status.locator(".live-responses-table .response")
    await expect(answer.locator(".response-col_status")).to_have_text("200")
    await expect(answer.locator(".response-col_description")).to_contain_text('"subscription_id": "sub_demo_ada"')
    assert errors == [] and elsewhere == [], (errors, elsewhere)
