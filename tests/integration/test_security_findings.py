"""The audit's security findings (issue 22, items 3, 8, 9, 11-14, 16), each shown closed over HTTP."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar

from offers.providers.memory import InMemoryBillingProvider
from service.app import create_app
from service.db.engine import close_engine, open_engine
from service.db.tables import BillingWebhookEvent
from service.observability import configure_logging
from service.repositories import staff as staff_repo
from service.settings import ConfigError, Settings
from service.use_cases.staff import create_staff_user
from service.use_cases.webhooks import MAX_PAYLOAD_BYTES, replay_failed_webhooks
from tests.conftest import FakeClock, make_settings
from tests.integration.test_admin_http import EMAIL, PASSWORD, csrf_of, login, make_staff
from tests.integration.test_webhooks_in import SECRET, event, post, sign
from tests.integration.widget_client import embed_token, start
from tests.support.servers import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
FRIENDLY = "Sorry, something went wrong"
STAFF_ADDRESS, STRANGER_ADDRESS = "198.51.100.7", "203.0.113.9"


@pytest.fixture(name="settings")
def fx_settings() -> Settings:
    return make_settings(stripe_webhook_secret=SECRET)


def client_at(app: Litestar, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address` (as the server sees it)."""
    transport = httpx.ASGITransport(app=cast("Any", app), client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver.local")


async def statuses() -> list[str]:
    rows = await BillingWebhookEvent.select(BillingWebhookEvent.status).order_by(BillingWebhookEvent.id)
    return [r["status"] for r in rows]


# 3 ---------------------------------------------------------------------------------------------------
async def test_a_redelivered_event_whose_processing_failed_is_processed_again(
    client: httpx.AsyncClient, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    payload = event("evt_retry")
    billing.fail_next_read(RuntimeError("database hiccup"))
    assert (await post(client, payload, sign(payload))).status_code == 500
    again = await post(client, payload, sign(payload))  # Stripe retries the same event
    assert (again.status_code, again.json()["detail"]) == (200, "Processed.")
    assert await statuses() == ["superseded", "processed"]
    assert await replay_failed_webhooks(billing=billing, clock=clock, verify_after=timedelta(days=30)) == 0
    third = await post(client, payload, sign(payload))
    assert third.json()["detail"] == "Duplicate ignored."


async def test_a_redelivery_that_fails_again_leaves_one_failed_row_to_replay(
    client: httpx.AsyncClient, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    payload = event("evt_twice")
    for _ in range(2):
        billing.fail_next_read(RuntimeError("still down"))
        assert (await post(client, payload, sign(payload))).status_code == 500
    assert await statuses() == ["superseded", "failed"]
    assert await replay_failed_webhooks(billing=billing, clock=clock, verify_after=timedelta(days=30)) == 1
    assert await statuses() == ["superseded", "processed"]


# 8 ---------------------------------------------------------------------------------------------------
async def test_a_bad_signature_stores_nothing(client: httpx.AsyncClient) -> None:
    payload = event("evt_forged")
    for bad in (sign(payload, "whsec_wrong"), sign(payload, at=1), "garbage", "t=1,v1="):
        response = await post(client, payload, bad)
        assert (response.status_code, response.json()["detail"]) == (400, "Invalid signature.")
    not_utf8 = b'{"id": "evt_\xff"}'
    assert (await post(client, not_utf8, sign(not_utf8))).status_code == 400
    assert await BillingWebhookEvent.count() == 0


async def test_a_signature_the_check_cannot_even_compare_stores_nothing(client: httpx.AsyncClient) -> None:
    """A non-ASCII signature makes the HMAC comparison raise instead of answer: still unsigned."""
    payload = event("evt_forged_unicode")
    headers = {b"content-type": b"application/json", b"stripe-signature": "t=1,v1=é".encode()}
    response = await client.post("/webhooks/stripe", content=payload, headers=headers)
    assert (response.status_code, response.json()["detail"]) == (400, "Invalid signature.")
    assert await BillingWebhookEvent.count() == 0


async def test_an_oversized_body_is_refused_before_it_is_read(client: httpx.AsyncClient) -> None:
    chunk, pulled = 64 * 1024, 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(64):  # 4 MiB, sent without a Content-Length
            pulled += chunk
            yield b" " * chunk

    headers = {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"}
    streamed = await client.post("/webhooks/stripe", content=endless(), headers=headers)
    assert streamed.status_code == 413
    assert pulled <= MAX_PAYLOAD_BYTES + 2 * chunk
    announced = await client.post("/webhooks/stripe", content=b" " * (MAX_PAYLOAD_BYTES + 1), headers=headers)
    assert announced.status_code == 413
    assert await BillingWebhookEvent.count() == 0


# 14 --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"object": "event", "type": "invoice.paid"}', "the event has no id"),
        (b'{"id": "evt_1", "object": "event"}', "the event has no type"),
        (b'{"id": "sub_1", "object": "subscription", "type": "x"}', "the object is not an event"),
        (b"[1, 2]", "the body is not a JSON object"),
        (b"{not json", "the body is not JSON"),
        (b'{"id": "evt_1", "type": "x", "data": []}', "the event has no data object"),
        (b'{"id": "evt_1", "type": "x", "data": "x"}', "the event has no data object"),
    ],
)
async def test_a_signed_body_that_is_not_an_event_is_refused_and_recorded(
    client: httpx.AsyncClient, clock: FakeClock, billing: InMemoryBillingProvider, body: bytes, reason: str
) -> None:
    response = await post(client, body, sign(body))
    assert response.status_code == 400
    assert reason in response.json()["detail"]
    rows = await BillingWebhookEvent.select(
        BillingWebhookEvent.status, BillingWebhookEvent.error, BillingWebhookEvent.event_id
    )
    assert len(rows) == 1
    assert rows[0]["status"] == "failed" and rows[0]["event_id"] is None
    assert rows[0]["error"].startswith("malformed: ") and reason in rows[0]["error"]
    assert await replay_failed_webhooks(billing=billing, clock=clock, verify_after=timedelta(days=30)) == 0


# 9 ---------------------------------------------------------------------------------------------------
async def test_logout_refuses_the_old_cookie_afterwards(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await make_staff(clock())
    await login(client)
    page = await client.get("/admin")
    assert page.status_code == 200
    copied = client.cookies["sf_admin"]
    assert (await client.post("/admin/logout", data={"_csrf_token": csrf_of(page.text)})).status_code == 303
    client.cookies.set("sf_admin", copied, path="/admin")  # the old cookie, kept by someone
    assert (await client.get("/admin")).status_code == 303
    client.cookies.clear()
    assert (await login(client)).status_code == 303  # logging in again works
    assert (await client.get("/admin")).status_code == 200


async def test_deactivating_a_user_refuses_their_cookie(app: Litestar, clock: FakeClock) -> None:
    await make_staff(clock())
    await create_staff_user("viewer@example.com", PASSWORD, "viewer", clock())
    async with client_at(app, STAFF_ADDRESS) as admin, client_at(app, STRANGER_ADDRESS) as viewer:
        await login(admin)
        page = await viewer.get("/admin/login")
        signed_in = await viewer.post(
            "/admin/login",
            data={"email": "viewer@example.com", "password": PASSWORD, "_csrf_token": csrf_of(page.text)},
        )
        assert signed_in.status_code == 303 and (await viewer.get("/admin")).status_code == 200
        viewer_id = next(a.id for a in await staff_repo.accounts() if a.email == "viewer@example.com")
        settings_page = await admin.get("/admin/settings")
        changed = await admin.post(
            f"/admin/settings/users/{viewer_id}", data={"role": "viewer", "_csrf_token": csrf_of(settings_page.text)}
        )
        assert changed.status_code == 303
        assert (await viewer.get("/admin")).status_code == 303


# 13 --------------------------------------------------------------------------------------------------
def _login_message(response: httpx.Response) -> str:
    found = re.search(r'data-testid="login-error">([^<]*)<', response.text)
    assert found, response.text[:300]
    return found.group(1)


async def _fail_six_times(client: httpx.AsyncClient, email: str) -> list[httpx.Response]:
    page = await client.get("/admin/login")
    token = csrf_of(page.text)
    return [
        await client.post("/admin/login", data={"email": email, "password": "not it", "_csrf_token": token})
        for _ in range(6)
    ]


async def test_after_five_failures_known_and_unknown_emails_read_the_same(app: Litestar, clock: FakeClock) -> None:
    await make_staff(clock())
    async with client_at(app, "198.51.100.1") as one, client_at(app, "198.51.100.2") as other:
        known = await _fail_six_times(one, EMAIL)
        unknown = await _fail_six_times(other, "nobody@example.com")
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 6
    assert [_login_message(r) for r in known] == [_login_message(r) for r in unknown]
    assert "Too many failed attempts" in _login_message(unknown[-1])


async def test_a_stranger_elsewhere_cannot_lock_a_staff_member_out(app: Litestar, clock: FakeClock) -> None:
    await make_staff(clock())
    async with client_at(app, STRANGER_ADDRESS) as stranger, client_at(app, STAFF_ADDRESS) as staff:
        attempts = await _fail_six_times(stranger, EMAIL)
        assert "Too many failed attempts" in _login_message(attempts[-1])
        assert (await login(staff)).status_code == 303  # the staff member, from their own address
        locked = await login(stranger)  # the locked pair stays locked, even with the right password
        assert locked.status_code == 401 and "Too many failed attempts" in _login_message(locked)
        clock.advance(minutes=16)
        assert (await login(stranger)).status_code == 303


# 11 --------------------------------------------------------------------------------------------------
def test_our_own_log_lines_never_carry_a_token() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging(stream=stream)
        logging.getLogger("service.test").warning("refused %s", "/w/s/ses_1?flow_token=flow-secret-456&x=1")
        logging.getLogger("service.test").warning("GET /w/start?origin=o&token=embed-secret-123")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert lines == ["refused /w/s/ses_1?flow_token=[redacted]&x=1", "GET /w/start?origin=o&token=[redacted]"]


def test_tokens_never_reach_the_access_log(tmp_path: Path, clock: FakeClock) -> None:
    """A real server (uvicorn's own logging set-up) and a real GET /w/start?token=…."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(public_url=url)
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["SQLITE_PATH"] = str(tmp_path / "log.sqlite")
    env.update(
        SAVEFLOW_SECRETS_FILE=str(tmp_path / "s.json"),
        SAVEFLOW_PUBLIC_URL=url,
        SAVEFLOW_EMBED_SECRET=settings.embed_secret,
        SAVEFLOW_API_KEY=settings.api_key,
        SAVEFLOW_SESSION_SECRET=settings.session_secret,
    )
    for command in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "service", command], cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    token = embed_token(settings, clock)
    try:
        wait_until_healthy(url, server, log)
        with httpx.Client(base_url=url, timeout=30) as http:
            page = http.get("/w/start", params={"token": token})
            assert page.status_code == 200, page.text
            flow = re.search(r'name="flow_token" value="([^"]+)"', page.text)
            sid = re.search(r'data-session-id="([^"]+)"', page.text)
            assert flow and sid
            assert http.get(f"/w/s/{sid.group(1)}", params={"flow_token": flow.group(1)}).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert "GET /w/start?token=[redacted] HTTP/1.1" in text
    assert f"GET /w/s/{sid.group(1)}?flow_token=[redacted] HTTP/1.1" in text
    assert token not in text and flow.group(1) not in text


# 12 --------------------------------------------------------------------------------------------------
async def test_metrics_need_the_api_key(client: httpx.AsyncClient, settings: Settings) -> None:
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer not-the-key"})).status_code == 401
    scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {settings.api_key}"})
    assert scraped.status_code == 200 and "saveflow_http_requests_total" in scraped.text


@pytest.fixture(name="allow_listed_app")
async def fx_allow_listed_app(app: Litestar, clock: FakeClock) -> AsyncIterator[Litestar]:
    """A second app whose /metrics is open to 192.0.2.0/24 (after `app` has migrated the database)."""
    other: Litestar = create_app(make_settings(metrics_allow=("192.0.2.0/24", "2001:db8::1")), clock=clock)
    await open_engine(other.state.engine)
    try:
        yield other
    finally:
        await close_engine(other.state.engine)


async def test_metrics_are_open_to_allow_listed_addresses_only(allow_listed_app: Litestar) -> None:
    cases = (("192.0.2.10", 200), ("::ffff:192.0.2.10", 200), ("2001:db8::1", 200), ("198.51.100.7", 401), ("::1", 401))
    for address, status in cases:
        async with client_at(allow_listed_app, address) as scraper:
            assert (await scraper.get("/metrics")).status_code == status, address


def test_the_metrics_allow_list_is_read_from_the_environment(tmp_path: Path) -> None:
    env = {"SAVEFLOW_SECRETS_FILE": str(tmp_path / "s.json"), "SAVEFLOW_METRICS_ALLOW": "10.0.0.0/8, ::1,"}
    assert Settings.from_env(env).metrics_allow == ("10.0.0.0/8", "::1")
    assert Settings.from_env({**env, "SAVEFLOW_METRICS_ALLOW": ""}).metrics_allow == ()
    with pytest.raises(ConfigError, match=r"prometheus\.internal"):
        Settings.from_env({**env, "SAVEFLOW_METRICS_ALLOW": "prometheus.internal"})


# 16 --------------------------------------------------------------------------------------------------
def _part(value: bytes, headers: bytes = b"") -> bytes:
    return b'--XX\r\nContent-Disposition: form-data; name="email"\r\n' + headers + b"\r\n" + value + b"\r\n"


BROKEN_MULTIPART = {
    "not UTF-8": ("multipart/form-data; boundary=XX", _part(b"\xff\xfe") + b"--XX--\r\n"),
    "unknown charset": (
        "multipart/form-data; boundary=XX",
        _part(b"a", b"Content-Type: text/plain; charset=bogus\r\n") + b"--XX--\r\n",
    ),
    "cut off": ("multipart/form-data; boundary=XX", _part(b"abc")[:-2]),
    "no boundary": ("multipart/form-data", b"--XX\r\n"),
}


@pytest.mark.parametrize("kind", BROKEN_MULTIPART)
async def test_broken_multipart_gets_the_friendly_400_page(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, kind: str
) -> None:
    content_type, body = BROKEN_MULTIPART[kind]
    _, flow = await start(client, settings, clock)
    widget = await client.post(
        f"/w/s/{flow.session_id}/continue",
        content=body,
        headers={"Content-Type": content_type, "X-Flow-Token": flow.flow_token, "HX-Request": "true"},
    )
    admin_login = await client.post("/admin/login", content=body, headers={"Content-Type": content_type})
    await make_staff(clock())
    await login(client)
    csrf = client.cookies["sf_csrf"]
    admin_form = await client.post(
        "/admin/settings/users", content=body, headers={"Content-Type": content_type, "x-csrftoken": csrf}
    )
    for response in (widget, admin_login, admin_form):
        assert response.status_code == 400, response.text[:200]
        assert FRIENDLY in response.text and "Something was wrong with that request" in response.text
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert 'data-step="error"' in widget.text and "<html" not in widget.text  # htmx gets the partial
    assert "<html" in admin_login.text and "<html" in admin_form.text


async def test_a_sound_multipart_form_still_works(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    answered = await client.post(
        f"/w/s/{flow.session_id}/reason",
        files={"reason": (None, "too_expensive")},
        headers={"X-Flow-Token": flow.flow_token, "HX-Request": "true"},
    )
    assert answered.status_code == 200 and 'data-step="offer"' in answered.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", "/w/nowhere", 404),
        ("GET", "/admin/nowhere", 404),
        ("DELETE", "/health", 405),
        ("PUT", "/w/start", 405),
        ("GET", "/webhooks/stripe", 405),
    ],
)
async def test_router_level_404_and_405_carry_the_security_headers(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("no-referrer", "same-origin")
