"""Admin settings and operations writes: access changes end sessions, nobody locks themselves out,
endpoints are disabled, unknown targets are 404s, and every change is audited with its effect."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
from litestar import Litestar

from service.db.tables import AuditLog, StaffUser, WebhookEndpoint
from service.use_cases.outbound import add_endpoint
from service.use_cases.staff import StaffUserExists, create_staff_user
from tests.conftest import FakeClock
from tests.integration.test_admin_pages import login_as


async def _user_id(email: str) -> int:
    row = await StaffUser.select(StaffUser.id).where(StaffUser.email == email).first()
    assert row is not None
    return int(row["id"])


async def _actions() -> list[str]:
    return [a["action"] for a in await AuditLog.select(AuditLog.action).order_by(AuditLog.id)]


async def test_deactivating_a_user_signs_them_out_everywhere(
    app: Litestar, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await login_as(client, "viewer", clock)
    assert (await client.get("/admin/sessions")).status_code == 200
    transport = httpx.ASGITransport(app=cast("Any", app))
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as other:
        token = await login_as(other, "admin", clock)
        viewer = await _user_id("viewer@example.com")
        changed = await other.post(f"/admin/settings/users/{viewer}", data={"role": "viewer", "_csrf_token": token})
        assert changed.status_code == 303
        missing = await other.post("/admin/settings/users/999999", data={"role": "viewer", "_csrf_token": token})
        assert missing.status_code == 404
    assert (await client.get("/admin/sessions")).status_code == 303  # back to the login page
    assert await _actions() == ["user.update"]


async def test_an_admin_cannot_demote_or_deactivate_themselves(client: httpx.AsyncClient, clock: FakeClock) -> None:
    token = await login_as(client, "admin", clock)
    me = await _user_id("admin@example.com")
    await client.post(f"/admin/settings/users/{me}", data={"role": "viewer", "active": "1", "_csrf_token": token})
    assert await StaffUser.select(StaffUser.role, StaffUser.active).where(StaffUser.id == me).first() == {
        "role": "admin",
        "active": True,
    }
    assert (await client.get("/admin/settings")).status_code == 200  # still signed in
    assert await _actions() == []


async def test_a_taken_email_is_refused_in_the_admin_and_the_use_case(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await login_as(client, "admin", clock)
    again = await client.post(
        "/admin/settings/users",
        data={"email": "Admin@Example.com", "role": "viewer", "password": "long enough pass", "_csrf_token": token},
    )
    assert again.status_code == 422 and "admin@example.com already has an account." in again.text
    with pytest.raises(StaffUserExists):
        await create_staff_user(" ADMIN@example.com", "long enough pass", "viewer", clock())
    assert await StaffUser.count() == 1


async def test_disabling_an_endpoint_is_audited_and_unknown_targets_are_404(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await add_endpoint("https://app.example/hooks", description="host", now=clock())
    endpoint = await WebhookEndpoint.select(WebhookEndpoint.id).first()
    assert endpoint is not None
    token = await login_as(client, "admin", clock)
    disabled = await client.post(f"/admin/settings/webhooks/{endpoint['id']}/disable", data={"_csrf_token": token})
    assert disabled.status_code == 303
    assert await WebhookEndpoint.select(WebhookEndpoint.active).first() == {"active": False}
    stop = await client.post("/admin/experiments/exp_missing/stop", data={"_csrf_token": token})
    assert stop.status_code == 404
    triage = await client.post("/admin/feedback/ses_missing", data={"tags": "x", "_csrf_token": token})
    assert triage.status_code == 404
    assert await _actions() == ["webhook.disable"]
