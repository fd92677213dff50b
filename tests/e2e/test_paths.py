"""More paths through the widget in a real browser: two offers, the cancel path, closing mid-flow."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import HostPage, press_escape_in_widget


async def test_two_offers_as_cards_and_accept_the_second(page: Page, live_server: LiveServer) -> None:
    widget = await HostPage(page, live_server.host_url).open("cus_demo_ada")
    await widget.click("continue")
    await widget.choose_reason("too_expensive")
    await expect(widget.frame.get_by_test_id("offer-card-pause")).to_be_visible()  # both offers at once, as cards
    await expect(widget.frame.get_by_test_id("offer-card-downgrade")).to_be_visible()
    await expect(widget.frame.get_by_test_id("offer-value-downgrade-starter")).to_have_text("$49/month → $19/month")
    await widget.click("accept-offer-downgrade-starter")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "saved")
    await expect(widget.frame.get_by_test_id("done-summary")).to_contain_text("Starter plan")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: saved (downgrade)")


async def test_the_cancel_link_is_on_every_step_and_cancelling_is_honest(page: Page, live_server: LiveServer) -> None:
    widget = await HostPage(page, live_server.host_url).open("cus_demo_linus")
    await expect(widget.frame.get_by_test_id("cancel-now")).to_have_count(0)  # step 1: "Continue to cancel" only
    await widget.click("continue")
    await expect(widget.frame.get_by_test_id("cancel-now")).to_be_visible()
    await widget.choose_reason("not_using")  # a trialing customer is offered more trial, not a pause
    await widget.expect_step("offer")
    await expect(widget.frame.get_by_test_id("offer-card-trial_extension")).to_be_visible()
    await expect(widget.frame.get_by_test_id("cancel-now")).to_be_visible()
    await widget.click("cancel-now")
    await widget.expect_step("confirm")
    await expect(widget.frame.get_by_test_id("cancel-terms")).to_contain_text("stays active until")
    await widget.click("confirm-cancel")
    await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")
    await widget.click("close-widget")
    await expect(page.get_by_test_id("demo-result")).to_have_text("Outcome: cancelled")


async def test_closing_mid_flow_resolves_abandoned(page: Page, live_server: LiveServer) -> None:
    widget = await HostPage(page, live_server.host_url).open("cus_demo_grace")
    await widget.click("continue")
    await widget.expect_step("survey")
    await press_escape_in_widget(page)
    await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()  # (a hover may prepare the next, hidden)
    result = page.get_by_test_id("demo-result")
    await expect(result).to_have_text("Outcome: abandoned")
    # The host page told the service too (a keepalive request on close): the session is recorded as abandoned.
    session_id = await result.get_attribute("data-session-id")
    assert session_id
    headers = {"Authorization": f"Bearer {live_server.api_key}"}
    for _ in range(20):
        response = await page.request.get(f"{live_server.url}/api/v1/sessions/{session_id}", headers=headers)
        if response.ok and (await response.json())["outcome"] == "abandoned":
            break
        await page.wait_for_timeout(100)
    body = await response.json()
    assert (body["outcome"], body["step"]) == ("abandoned", "done")
