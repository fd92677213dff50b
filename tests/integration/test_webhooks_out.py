"""Webhooks out: events written with the state change, signed per Standard Webhooks, retried, replayable."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from litestar import Litestar
from standardwebhooks import Webhook, WebhookVerificationError

from service.db.tables import WebhookDelivery
from service.settings import Settings
from service.use_cases.outbound import BACKOFF, MAX_ATTEMPTS, add_endpoint, deliver_due, replay_delivery
from tests.conftest import FakeClock
from tests.integration.widget_client import start


class Receiver:
    """The host app's endpoint: verifies every delivery with the official verifier; can be told to fail."""

    def __init__(self, secret: str) -> None:
        self.verifier = Webhook(secret)
        self.received: list[dict[str, object]] = []
        self.fail_with: int | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.fail_with:
            return httpx.Response(self.fail_with, text="down for maintenance")
        body = self.verifier.verify(request.content, dict(request.headers))  # raises if the signature is wrong
        self.received.append({"id": request.headers["webhook-id"], **body})
        return httpx.Response(204)


async def setup_receiver(clock: FakeClock, **kwargs: tuple[str, ...]) -> tuple[Receiver, httpx.AsyncClient]:
    secret = await add_endpoint("https://host.example/hooks", description="test", now=clock(), **kwargs)
    receiver = Receiver(secret)
    return receiver, httpx.AsyncClient(transport=httpx.MockTransport(receiver.handler))


async def test_a_save_announces_completion_the_offer_and_the_pause(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    receiver, http = await setup_receiver(clock)
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    await flow.post("offers/pause-2-months/accept")
    assert await deliver_due(client=http, clock=clock) == 3
    types = [r["type"] for r in receiver.received]
    assert types == ["session.completed", "offer.applied", "subscription.paused"]
    data = receiver.received[0]["data"]
    assert isinstance(data, dict)
    assert (data["session_id"], data["customer_id"], data["outcome"]) == (flow.session_id, "cus_demo_ada", "saved")
    assert data["offer"] == {"id": "pause-2-months", "kind": "pause"}
    assert await deliver_due(client=http, clock=clock) == 0  # delivered once


async def test_endpoints_get_only_the_events_they_asked_for(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    receiver, http = await setup_receiver(clock, event_types=("subscription.cancelled",))
    _, flow = await start(client, settings, clock)
    await flow.post("cancel")
    await flow.post("confirm")
    await deliver_due(client=http, clock=clock)
    assert [r["type"] for r in receiver.received] == ["subscription.cancelled"]


async def test_nothing_is_sent_while_the_session_is_open_or_when_abandoned_only_completion(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    receiver, http = await setup_receiver(clock)
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    assert await deliver_due(client=http, clock=clock) == 0
    await flow.post("close")
    await deliver_due(client=http, clock=clock)
    assert [(r["type"], r["data"]["outcome"]) for r in receiver.received] == [("session.completed", "abandoned")]  # type: ignore[index]


async def test_failed_deliveries_back_off_then_give_up_and_can_be_replayed(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    receiver, http = await setup_receiver(clock, event_types=("session.completed",))
    receiver.fail_with = 503
    _, flow = await start(client, settings, clock)
    await flow.post("close")
    assert await deliver_due(client=http, clock=clock) == 1
    row = await WebhookDelivery.select().first()
    assert row is not None
    assert (row["status"], row["attempts"], row["last_status"]) == ("pending", 1, 503)
    assert await deliver_due(client=http, clock=clock) == 0  # not due yet
    for delay in BACKOFF:
        clock.advance(seconds=delay.total_seconds())
        assert await deliver_due(client=http, clock=clock) == 1
    row = await WebhookDelivery.select().first()
    assert row is not None
    assert (row["status"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert "down for maintenance" in row["last_error"]

    receiver.fail_with = None
    clock.now = datetime.now(UTC)  # receivers check webhook-timestamp against their own clock
    assert await replay_delivery(row["id"], clock())
    assert await deliver_due(client=http, clock=clock) == 1
    assert [r["id"] for r in receiver.received] == [row["msg_id"]]  # same webhook-id: receivers can dedupe
    assert (await WebhookDelivery.select(WebhookDelivery.status).first()) == {"status": "delivered"}


async def test_a_tampered_delivery_does_not_verify(app: Litestar, clock: FakeClock) -> None:
    secret = await add_endpoint("https://host.example/hooks", description="x", now=clock())
    seen: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    from service.db.tables import WebhookEndpoint

    endpoint = await WebhookEndpoint.select(WebhookEndpoint.id).first()
    assert endpoint is not None
    await WebhookDelivery.insert(
        WebhookDelivery(
            endpoint=endpoint["id"],
            msg_id="msg_1",
            event_type="session.completed",
            payload=json.dumps({"type": "session.completed"}),
            next_attempt_at=clock(),
            created_at=clock(),
        )
    )
    await deliver_due(client=httpx.AsyncClient(transport=httpx.MockTransport(capture)), clock=clock)
    (request,) = seen
    tampered: Callable[[], object] = lambda: Webhook(secret).verify(request.content + b" ", dict(request.headers))  # noqa: E731
    with pytest.raises(WebhookVerificationError):
        tampered()


async def test_bad_endpoint_urls_and_event_types_are_refused(app: Litestar, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="https://"):
        await add_endpoint("ftp://x", description="", now=clock())
    with pytest.raises(ValueError, match="Unknown event types"):
        await add_endpoint("https://x", event_types=("session.exploded",), description="", now=clock())
