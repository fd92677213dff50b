"""One exception handler: every refusal under /w is a friendly page (a partial for htmx), JSON elsewhere."""

from __future__ import annotations

import httpx
import pytest

from offers import ProviderUnavailable
from offers.providers.memory import InMemoryBillingProvider
from service.security import mint_flow_token
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import HOST_ORIGIN, embed_token, start, step_of

FRIENDLY = "Sorry, something went wrong"


def _is_friendly_page(response: httpx.Response, *, partial: bool = False) -> bool:
    """The widget's error step, as a page or a partial, with no exception text and the usual widget headers."""
    return (
        FRIENDLY in response.text
        and step_of(response.text) == "error"
        and ("<html" in response.text) is not partial
        and "Traceback" not in response.text
        and response.headers["content-type"] == "text/html; charset=utf-8"
        and response.headers["vary"] in ("HX-Request", "HX-Request,Accept-Encoding")  # compressed from 500 bytes
        and response.headers["cache-control"] == "no-store"
        and "frame-ancestors" in response.headers["content-security-policy"]
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "needs to be opened from your account settings"),
        ("not-a-token", "This link is not valid"),
    ],
)
async def test_a_refused_embed_token_is_a_friendly_401(
    client: httpx.AsyncClient, token: str | None, message: str
) -> None:
    page = await client.get("/w/start", params={"origin": HOST_ORIGIN, **({"token": token} if token else {})})
    assert page.status_code == 401
    assert _is_friendly_page(page) and message in page.text
    assert f'data-parent-origin="{HOST_ORIGIN}"' in page.text  # the close button can still tell the host


async def test_a_session_that_does_not_exist_is_a_friendly_404(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = mint_flow_token(settings, session_id="ses_nope", customer_id="cus_1", parent_origin="", now=clock())
    page = await client.get("/w/s/ses_nope", params={"flow_token": token})
    assert page.status_code == 404
    assert _is_friendly_page(page) and "find this cancellation" in page.text
    partial = await client.post("/w/s/ses_nope/continue", headers={"HX-Request": "true", "X-Flow-Token": token})
    assert partial.status_code == 404 and _is_friendly_page(partial, partial=True)


async def test_an_unknown_customer_and_a_billing_outage_are_friendly_pages(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    from service.security import mint_embed_token

    stranger = mint_embed_token(settings, customer_id="cus_x", subscription_id="sub_missing", now=clock())
    page = await client.get("/w/start", params={"token": stranger})
    assert page.status_code == 404
    assert _is_friendly_page(page) and "couldn't find an active subscription" in page.text

    billing.fail_next_read(ProviderUnavailable("read timed out"))
    down = await client.get("/w/start", params={"token": embed_token(settings, clock)})
    assert down.status_code == 503 and down.headers["retry-after"] == "5"
    assert _is_friendly_page(down) and "read timed out" not in down.text


async def test_an_unexpected_error_is_still_a_friendly_page_without_its_text(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    billing.fail_next_read(RuntimeError("secret internals"))
    page = await client.get("/w/start", params={"token": embed_token(settings, clock)})
    assert page.status_code == 500
    assert _is_friendly_page(page) and "secret internals" not in page.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/w/nowhere", 404),  # no such route under /w
        ("GET", "/w/start?token=x&locale=%00", 401),  # hostile query values are refused, not a crash
        ("POST", "/w/start", 405),
    ],
)
async def test_bad_requests_under_w_are_friendly_4xx_never_500(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert _is_friendly_page(response)


async def test_a_bad_form_is_a_friendly_400(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> None:
    _, flow = await start(client, settings, clock)
    repeated = await client.post(
        f"/w/s/{flow.session_id}/reason",
        content="reason=a&reason=b",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Flow-Token": flow.flow_token},
    )
    assert repeated.status_code == 400
    assert _is_friendly_page(repeated) and "Something was wrong with that request" in repeated.text


async def test_errors_outside_the_widget_stay_json(client: httpx.AsyncClient, settings: Settings) -> None:
    auth = {"Authorization": f"Bearer {settings.api_key}"}
    missing = await client.get("/api/v1/sessions/ses_nope", headers=auth)
    assert missing.status_code == 404
    assert missing.json() == {"status_code": 404, "detail": "No such session."}
    unknown_route = await client.get("/nowhere")
    assert unknown_route.status_code == 404 and unknown_route.json()["status_code"] == 404
    assert "frame-ancestors 'self'" in unknown_route.headers["content-security-policy"]
