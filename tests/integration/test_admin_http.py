"""The admin over HTTP: login guard, CSRF, lockout, and the sessions list."""

from __future__ import annotations

import re
from datetime import datetime

import httpx

from service.settings import Settings
from service.use_cases.staff import create_staff_user
from tests.conftest import FakeClock
from tests.integration.widget_client import start

EMAIL, PASSWORD = "cs@example.com", "correct horse battery"


def csrf_of(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "login form has no CSRF field"
    return found.group(1)


async def login(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/admin/login")
    return await client.post(
        "/admin/login", data={"email": EMAIL, "password": password, "_csrf_token": csrf_of(page.text)}
    )


async def make_staff(now: datetime) -> None:
    await create_staff_user(EMAIL, PASSWORD, "admin", now)


async def test_anonymous_visitors_are_sent_to_the_login_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    assert (await client.get("/admin/?outcome=saved")).status_code == 303


async def test_login_without_csrf_token_is_forbidden(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await make_staff(clock())
    response = await client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 403


async def test_wrong_password_is_refused_and_five_failures_lock_the_account(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await make_staff(clock())
    wrong = await login(client, "not the password")
    assert wrong.status_code == 401 and "Wrong email or password." in wrong.text
    for _ in range(4):
        await login(client, "not the password")
    locked = await login(client)  # even the right password waits out the lockout
    assert locked.status_code == 401 and "Too many failed attempts" in locked.text
    clock.advance(minutes=16)
    assert (await login(client)).status_code == 303


async def test_staff_see_sessions_with_outcome_reason_and_offer(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    await make_staff(clock())
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    await flow.post("offers/pause-2-months/accept")

    response = await login(client)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Path=/admin" in cookie
    page = await client.get("/admin/sessions")
    assert page.status_code == 200
    row = re.search(rf'data-session-id="{flow.session_id}".*?</tr>', page.text, re.S)
    assert row, "the saved session is listed"
    assert ">Saved<" in row.group(0) and "It&#39;s too expensive" in row.group(0)
    assert "Pause instead of cancelling" in row.group(0)  # offer titles and reason labels, not ids
    assert page.headers["content-security-policy"].endswith("frame-ancestors 'self'")

    only_cancelled = await client.get("/admin/sessions", params={"outcome": "cancelled"})
    assert flow.session_id not in only_cancelled.text


async def test_logout_needs_csrf_and_ends_the_session(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await make_staff(clock())
    await login(client)
    page = await client.get("/admin")
    assert (await client.post("/admin/logout")).status_code == 403
    out = await client.post("/admin/logout", data={"_csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    assert (await client.get("/admin")).status_code == 303


async def test_a_forged_admin_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    client.cookies.set("sf_admin", "eyJhbGciOiJub25lIn0.eyJ1aWQiOjEsInN2IjoxfQ.", path="/admin")
    assert (await client.get("/admin")).status_code == 303


async def test_login_attempts_are_rate_limited_per_address(client: httpx.AsyncClient, clock: FakeClock) -> None:
    page = await client.get("/admin/login")
    token = csrf_of(page.text)
    statuses = [
        (
            await client.post(
                "/admin/login", data={"email": f"x{i}@example.com", "password": "nope", "_csrf_token": token}
            )
        ).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
