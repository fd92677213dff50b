"""The reference host served in-process for tests: a Litestar app with its two routes, behind a faulty network."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import httpx
from litestar import Litestar
from litestar.di import Provide

from offers import BillingProvider
from service.http.reference_host import ReferenceHost, host_billing_action, host_billing_catalogue, host_billing_read

SECRET = "whsec_" + "aG9zdC1iaWxsaW5nLXRlc3Qtc2VjcmV0LTMyYnl0ZXMh"  # base64 of a 32-byte test secret
BASE_URL = "http://host.test/demo/billing"


def reference_host_app(host: ReferenceHost) -> Litestar:
    return Litestar(
        route_handlers=[host_billing_action, host_billing_catalogue, host_billing_read],
        dependencies={"reference_host": Provide(lambda: host, sync_to_thread=False)},
    )


class HostNetwork(httpx.AsyncBaseTransport):
    """The path from the service to the reference host. As on a real network, a request the service gives up
    on still reaches the host and finishes there; and it can lose an answer or meet a proxy's 401."""

    def __init__(self, app: Litestar) -> None:
        self._inner = httpx.ASGITransport(app=cast("Any", app))
        self.lose_next = False
        self.refuse_next = False
        self.requests: list[httpx.Request] = []
        self._running: set[asyncio.Task[httpx.Response]] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.refuse_next and request.method == "POST":
            self.refuse_next = False
            return httpx.Response(401, json={"code": "bad_signature"})
        await request.aread()
        task = asyncio.create_task(self._inner.handle_async_request(request))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        response = await asyncio.shield(task)
        await response.aread()
        if self.lose_next and request.method == "POST":
            self.lose_next = False
            raise httpx.ReadError("connection reset before the answer arrived", request=request)
        return response


def host(billing: BillingProvider, clock: Callable[[], datetime]) -> tuple[ReferenceHost, HostNetwork]:
    reference = ReferenceHost(SECRET, billing, clock)
    return reference, HostNetwork(reference_host_app(reference))
