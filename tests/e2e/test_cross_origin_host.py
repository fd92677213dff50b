"""The widget embedded in a host app on ANOTHER server and origin (127.0.0.2), as in production.

The other browser tests use the demo host page, which this very service serves (under a second name),
so a request that wrongly goes to the host's origin still reaches the service there. Here the host
app is a separate stdlib server: only what embed.js sends to the service's own URL reaches it.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from playwright.async_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.pages import WidgetPage, press_escape_in_widget

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host app</title>
<script src="{service}/static/embed.js"></script></head>
<body>
<button type="button" id="cancel" data-testid="host-cancel">Cancel subscription</button>
<output id="result" data-testid="host-result"></output>
<script>
  document.getElementById("cancel").addEventListener("click", function () {{
    var token = new URLSearchParams(location.search).get("token");
    SaveFlow.open({{ token: token, baseUrl: {service_json} }}).then(function (result) {{
      var out = document.getElementById("result");
      out.dataset.sessionId = result.sessionId || "";
      out.textContent = result.outcome;
    }});
  }});
</script>
</body></html>
"""


def host_token(live_server: LiveServer, customer_id: str, subscription_id: str) -> str:
    """What the host's backend does: sign the embed claims with the deployment's embed secret."""
    now = datetime.now(UTC)
    claims = {
        "sub": customer_id,
        "subscription_id": subscription_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=10)).timestamp()),
        "jti": secrets.token_urlsafe(16),
        "test": True,  # the whole flow without billing writes, so tests stay independent
    }
    return jwt.encode(claims, live_server.embed_secret, algorithm="HS256")


async def test_esc_on_a_host_app_of_another_origin_records_the_session_as_abandoned(
    page: Page, live_server: LiveServer
) -> None:
    host = live_server.foreign_host
    host.page = HOST_PAGE.format(service=live_server.url, service_json=json.dumps(live_server.url))
    host.requests.clear()
    token = host_token(live_server, "cus_demo_grace", "sub_demo_grace")
    await page.goto(f"{host.url}/?token={token}")
    await page.get_by_test_id("host-cancel").click()
    widget = WidgetPage(page)
    await widget.expect_step("loss-aversion")
    await widget.click("continue")
    await widget.expect_step("survey")

    await press_escape_in_widget(page)
    await expect(page.get_by_test_id("saveflow-modal")).to_be_hidden()  # (a hover may prepare the next, hidden)
    result = page.get_by_test_id("host-result")
    await expect(result).to_have_text("abandoned")  # the promise resolves on the host page either way
    session_id = await result.get_attribute("data-session-id")
    assert session_id

    # ...but only the service can record it: embed.js must post the abandon to the service's own URL.
    headers = {"Authorization": f"Bearer {live_server.api_key}"}
    url = f"{live_server.url}/api/v1/sessions/{session_id}"
    body: dict[str, object] = {}
    for _ in range(30):
        response = await page.request.get(url, headers=headers)
        assert response.ok, await response.text()
        body = await response.json()
        if body["outcome"] == "abandoned":
            break
        await page.wait_for_timeout(100)
    strays = [r for r in host.requests if not r.startswith("GET ")]
    assert (body["outcome"], body["step"]) == ("abandoned", "done"), f"the host app got {strays}"
    assert strays == []
