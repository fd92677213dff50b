"""A small driver for the widget over HTTP, used by the integration tests (the e2e tests use a browser)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from service import demo
from service.security import mint_embed_token
from service.settings import Settings
from tests.conftest import FakeClock

HOST_ORIGIN = "https://host.example"


@dataclass
class WidgetSession:
    client: httpx.AsyncClient
    session_id: str
    flow_token: str

    async def post(self, intent: str, data: dict[str, str] | None = None, *, htmx: bool = True) -> httpx.Response:
        headers = {"HX-Request": "true", "X-Flow-Token": self.flow_token} if htmx else {}
        form = dict(data or {})
        if not htmx:
            form["flow_token"] = self.flow_token
        response = await self.client.post(f"/w/s/{self.session_id}/{intent}", data=form, headers=headers)
        self._refresh_token(response.text)
        return response

    def _refresh_token(self, html: str) -> None:
        found = re.search(r'name="flow_token" value="([^"]+)"', html)
        if found:
            self.flow_token = found.group(1)


def embed_token(settings: Settings, clock: FakeClock, customer_id: str = "cus_demo_ada", **extra: Any) -> str:
    customer = demo.customer(customer_id)
    claims: dict[str, Any] = {"losses": demo.losses_of(customer), "attrs": demo.attrs_of(customer)}
    claims.update(extra)
    return mint_embed_token(
        settings, customer_id=customer.id, subscription_id=customer.subscription_id, now=clock(), **claims
    )


def step_of(html: str) -> str:
    found = re.search(r'data-step="([a-z_]+)"', html)
    assert found, f"no step in page: {html[:300]}"
    return found.group(1)


async def start(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, *, token: str | None = None, **extra: Any
) -> tuple[httpx.Response, WidgetSession]:
    token = token or embed_token(settings, clock, **extra)
    response = await client.get("/w/start", params={"token": token, "origin": HOST_ORIGIN})
    assert response.status_code == 200, response.text
    sid = re.search(r'data-session-id="([^"]+)"', response.text)
    assert sid
    session = WidgetSession(client, sid.group(1), "")
    session._refresh_token(response.text)
    return response, session
