"""StripeServer: FakeStripe over real HTTP on loopback, for a service in another process (STRIPE_API_BASE).

The service's own stripe-python (its HTTPX client, headers, form encoding) talks to it, and FakeStripe
answers and records each request exactly as it does in-process (see tests/support/stripe_http.py). Every
request runs on one asyncio loop thread, so FakeStripe's state is only ever touched from there, and a
failure FakeStripe raises as a connection error closes the connection without an answer, as a network
failure would. `demo_stripe` holds the demo customers' subscriptions as `service seed` expects them.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import stripe

from offers import SubscriptionStatus
from service import demo
from tests.support.stripe_http import DAY, FakeStripe, make_subscription

ANSWER_WITHIN_SECONDS = 30.0  # longer than the service's own Stripe timeout: the service gives up first


def demo_stripe(now: datetime | None = None) -> FakeStripe:
    """FakeStripe with the demo customers' subscriptions (ids, customers, prices, trial) on `now`'s clock,
    as the in-memory demo billing has them (service.demo.subscription_of): the widget and the demo host page
    read them, and the flows change them."""
    moment = int((now or datetime.now(UTC)).timestamp())
    fake = FakeStripe(now=moment)
    fake.prices.update({p.id: p.amount_cents for p in demo.DEMO_PRICES})
    fake.coupons.update(demo.DEMO_COUPONS)
    for customer in demo.DEMO_CUSTOMERS:
        trialing = customer.status is SubscriptionStatus.TRIALING
        sub = make_subscription(
            customer.subscription_id,
            status="trialing" if trialing else "active",
            price=customer.price_id,
            amount=demo.price(customer.price_id).amount_cents,
        )
        sub["customer"] = customer.id
        item = sub["items"]["data"][0]
        item.update(current_period_start=moment - 18 * DAY, current_period_end=moment + 12 * DAY)
        sub["trial_end"] = moment + 5 * DAY if trialing else None
        fake.subscriptions[customer.subscription_id] = sub
    return fake


class StripeServer:
    """Serves `fake` at `url` (http://127.0.0.1:<free port>) from `start()` (or `with`) until `close()`."""

    def __init__(self, fake: FakeStripe | None = None, host: str = "127.0.0.1") -> None:
        self.fake = fake or FakeStripe()
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="fake-stripe-loop", daemon=True)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else None
                # self.headers looks names up case-insensitively, as Stripe does.
                call = server.fake.request_async(self.command, server.url + self.path, self.headers, body)
                try:
                    content, status, headers = asyncio.run_coroutine_threadsafe(call, server._loop).result(
                        ANSWER_WITHIN_SECONDS
                    )
                except stripe.APIConnectionError:
                    self.close_connection = True  # no answer at all: the client sees the connection drop
                    return
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = _relay

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: tests read `fake.requests` instead

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        # A short poll: `close()` waits for it, once per test that starts a server.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, name="fake-stripe-http", daemon=True)

    def start(self) -> StripeServer:
        self._loop_thread.start()
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=5)
        self._loop.close()

    def env(self) -> dict[str, str]:
        """What a service process needs to bill through this server: a test key and its address."""
        return {"STRIPE_API_KEY": "sk_test_fake_stripe_server", "STRIPE_API_BASE": self.url}

    def __enter__(self) -> StripeServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
