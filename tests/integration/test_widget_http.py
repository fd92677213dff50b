"""The widget over HTTP: the thin path, full pages vs htmx partials, tokens, headers and bad input."""

from __future__ import annotations

import json
import re

import httpx

from offers import ProviderUnavailable
from offers.providers.memory import InMemoryBillingProvider
from service.db.tables import BillingOperation, FlowEvent, FlowSession
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import HOST_ORIGIN, embed_token, start, step_of


async def test_thin_path_accepting_the_pause_saves_the_customer_once(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    page, flow = await start(client, settings, clock)
    assert step_of(page.text) == "loss_aversion"
    assert "128" in page.text and "projects" in page.text  # the token's live numbers

    survey = await flow.post("continue")
    assert step_of(survey.text) == "survey"
    assert "<html" not in survey.text  # htmx gets the step partial only

    offer = await flow.post("reason", {"reason": "too_expensive", "comment": "Budget cuts"})
    assert step_of(offer.text) == "offer"
    assert 'data-offer-kind="pause"' in offer.text

    done = await flow.post("offers/pause-2-months/accept")
    assert step_of(done.text) == "done"
    assert 'data-outcome="saved"' in done.text
    trigger = json.loads(done.headers["HX-Trigger-After-Settle"])
    assert trigger["saveflow:finished"]["outcome"] == "saved"
    assert trigger["saveflow:finished"]["offer"] == {"kind": "pause", "id": "pause-2-months"}

    pauses = [c for c in billing.calls if c.method == "pause"]
    assert [c.idempotency_key for c in pauses] == [f"sf:{flow.session_id}:offer:pause-2-months:1"]
    assert billing.subscriptions["sub_demo_ada"].paused_until is not None

    row = await FlowSession.select().where(FlowSession.id == flow.session_id).first()
    assert row is not None
    assert (row["outcome"], row["reason"], row["offer_id"]) == ("saved", "too_expensive", "pause-2-months")
    events = await FlowEvent.select(FlowEvent.type).where(FlowEvent.session == flow.session_id).order_by(FlowEvent.seq)
    assert [e["type"] for e in events] == [
        "Started",
        "Continued",
        "ReasonChosen",
        "OfferAccepted",
        "OfferApplied",
    ]
    ops = await BillingOperation.select().where(BillingOperation.session == flow.session_id)
    assert [(o["status"], o["action"]) for o in ops] == [("applied", "offer")]


async def test_declining_every_offer_leads_to_a_confirmed_cancel_at_period_end(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    cards = await flow.post("reason", {"reason": "too_expensive"})
    assert 'data-testid="offer-card-pause"' in cards.text and 'data-testid="offer-card-downgrade"' in cards.text
    confirm = await flow.post("offers/pause-2-months/decline")  # "No thanks" declines every card on screen
    assert step_of(confirm.text) == "confirm"
    assert billing.calls == []  # nothing touched billing before the explicit confirmation

    done = await flow.post("confirm")
    assert 'data-outcome="cancelled"' in done.text
    (call,) = billing.calls
    assert call.method == "cancel"
    assert dict(call.params) == {"at_period_end": True, "reason": "too_expensive", "comment": None}
    assert call.idempotency_key == f"sf:{flow.session_id}:cancel:1"
    assert billing.subscriptions["sub_demo_ada"].cancel_at_period_end


async def test_click_to_cancel_is_two_clicks_from_the_first_step(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    page = await flow.post("continue")  # click 1: step 1's one way on, "Continue to cancel"
    assert 'data-testid="cancel-now"' in page.text
    done = await flow.post("cancel")  # click 2: no confirm step after the first click's confirmation
    assert 'data-outcome="cancelled"' in done.text
    assert [c.method for c in billing.calls] == ["cancel"]


async def test_plain_form_posts_work_without_javascript(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    response = await flow.post("continue", htmx=False)
    assert response.status_code == 303
    follow = await client.get(response.headers["location"])
    assert follow.status_code == 200
    assert "<html" in follow.text and step_of(follow.text) == "survey"
    assert 'action="/w/s/' in follow.text  # forms carry action/method, not just hx-post


async def test_partial_and_full_responses_vary_on_hx_request(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    page, flow = await start(client, settings, clock)
    assert page.headers["vary"] == "HX-Request,Accept-Encoding"  # compressed, so Accept-Encoding too (service/app.py)
    full = await client.get(f"/w/s/{flow.session_id}", params={"flow_token": flow.flow_token})
    partial = await client.get(
        f"/w/s/{flow.session_id}", headers={"HX-Request": "true", "X-Flow-Token": flow.flow_token}
    )
    assert "<html" in full.text and "<html" not in partial.text
    assert full.headers["vary"] == partial.headers["vary"] == "HX-Request,Accept-Encoding"
    step = await client.post(
        f"/w/s/{flow.session_id}/continue", headers={"HX-Request": "true", "X-Flow-Token": flow.flow_token}
    )
    refused = await client.post(  # no reason chosen: the survey again, with its problem, as a 422
        f"/w/s/{flow.session_id}/reason", headers={"HX-Request": "true", "X-Flow-Token": flow.flow_token}
    )
    assert (step.status_code, step_of(step.text), refused.status_code) == (200, "survey", 422)
    for response in (full, partial, step, refused):  # nobody caches a step, whichever way it was rendered
        assert response.headers["vary"] == "HX-Request,Accept-Encoding"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert int(response.headers["content-length"]) == response.num_bytes_downloaded  # as compressed
        assert "frame-ancestors" in response.headers["content-security-policy"]


async def test_widget_sets_csp_frame_ancestors_from_allowed_origins_and_no_cookies(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    page, _ = await start(client, settings, clock)
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' http://testserver.local https://host.example" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in page.headers
    assert f'data-parent-origin="{HOST_ORIGIN}"' in page.text


async def test_a_non_allowed_origin_gets_no_postmessage_target(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = embed_token(settings, clock)
    page = await client.get("/w/start", params={"token": token, "origin": "https://evil.example"})
    assert page.status_code == 200
    assert 'data-parent-origin=""' in page.text


async def test_actions_without_a_valid_flow_token_are_refused_with_a_friendly_page(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    _, other = await start(client, settings, clock, customer_id="cus_demo_grace")
    missing = await client.post(f"/w/s/{flow.session_id}/continue")
    assert missing.status_code == 401
    assert "Sorry, something went wrong" in missing.text
    crossed = await client.post(f"/w/s/{flow.session_id}/continue", headers={"X-Flow-Token": other.flow_token})
    assert crossed.status_code == 401
    row = await FlowSession.select(FlowSession.step).where(FlowSession.id == flow.session_id).first()
    assert row == {"step": "loss_aversion"}


async def test_invalid_reason_and_missing_required_comment_rerender_the_step_with_a_message(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    bogus = await flow.post("reason", {"reason": "<script>alert(1)</script>"})
    assert bogus.status_code == 422
    assert step_of(bogus.text) == "survey" and "Please choose one of the reasons." in bogus.text
    assert "<script>alert(1)</script>" not in bogus.text
    other = await flow.post("reason", {"reason": "other", "comment": "   "})
    assert other.status_code == 422 and "Please tell us a little more." in other.text
    row = (
        await FlowSession.select(FlowSession.step, FlowSession.reason).where(FlowSession.id == flow.session_id).first()
    )
    assert row == {"step": "survey", "reason": None}


async def test_double_clicked_accept_applies_the_offer_once(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    token = flow.flow_token
    first = await flow.post("offers/pause-2-months/accept")
    flow.flow_token = token
    second = await flow.post("offers/pause-2-months/accept")
    assert first.status_code == second.status_code == 200
    assert step_of(second.text) == "done"
    assert len([c for c in billing.calls if c.method == "pause"]) == 1


async def test_unknown_intent_and_oversized_body_are_clean_4xx(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    unknown = await flow.post("explode")
    assert unknown.status_code == 404
    assert "That page doesn't exist." in unknown.text and "<html" not in unknown.text  # htmx: the partial
    big = await flow.post("reason", {"reason": "too_expensive", "comment": "x" * 70_000})
    assert big.status_code == 413
    assert "Something was wrong with that request" in big.text


async def test_closing_the_widget_records_an_abandon(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    response = await client.post(f"/w/s/{flow.session_id}/close", params={"flow_token": flow.flow_token})
    assert response.status_code == 303
    row = await FlowSession.select(FlowSession.outcome).where(FlowSession.id == flow.session_id).first()
    assert row == {"outcome": "abandoned"}
    assert billing.calls == []


async def test_the_close_url_for_embed_js_names_the_service_not_the_host(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    """embed.js posts data-close-url from the HOST page: a relative URL would reach the host app instead."""
    page, flow = await start(client, settings, clock)
    found = re.search(r'data-close-url="([^"]+)"', page.text)
    assert found
    close_url = httpx.URL(found.group(1).replace("&amp;", "&"))
    assert str(close_url).startswith(f"{settings.public_url}/w/s/{flow.session_id}/close?flow_token=")
    response = await client.post(close_url.raw_path.decode())
    assert response.status_code == 303
    row = await FlowSession.select(FlowSession.outcome).where(FlowSession.id == flow.session_id).first()
    assert row == {"outcome": "abandoned"}


async def test_health_reports_database_reachability(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_after_a_billing_timeout_the_user_can_retry_with_the_same_key(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    billing.fail_next(ProviderUnavailable("timeout"))
    failed = await flow.post("offers/pause-2-months/accept")
    assert step_of(failed.text) == "offer"
    assert 'data-testid="notice"' in failed.text
    retried = await flow.post("offers/pause-2-months/accept")
    assert 'data-outcome="saved"' in retried.text
    key = f"sf:{flow.session_id}:offer:pause-2-months:1"
    assert [c.idempotency_key for c in billing.calls] == [key]
    ops = await BillingOperation.select(BillingOperation.idempotency_key, BillingOperation.status)
    assert ops == [{"idempotency_key": key, "status": "applied"}]


async def test_a_cancellation_that_timed_out_can_be_confirmed_again(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("cancel")
    billing.fail_next(ProviderUnavailable("timeout"))
    failed = await flow.post("confirm")
    assert step_of(failed.text) == "confirm"
    assert "couldn" in failed.text  # "We couldn't cancel your subscription just now…"
    done = await flow.post("confirm")
    assert 'data-outcome="cancelled"' in done.text
    assert [c.method for c in billing.calls] == ["cancel"]


async def test_a_token_starts_one_session_and_reopening_it_resumes_that_session(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = embed_token(settings, clock)
    _, flow = await start(client, settings, clock, token=token)
    await flow.post("continue")
    again, resumed = await start(client, settings, clock, token=token)
    assert resumed.session_id == flow.session_id
    assert step_of(again.text) == "survey"  # where the user left off
    assert await FlowSession.count() == 1


async def test_a_jti_reused_for_another_customer_is_refused(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    import jwt

    token = embed_token(settings, clock)
    claims = jwt.decode(token, settings.embed_secret, algorithms=["HS256"])
    await start(client, settings, clock, token=token)
    forged = jwt.encode(
        {**claims, "sub": "cus_demo_grace", "subscription_id": "sub_demo_grace"},
        settings.embed_secret,
        algorithm="HS256",
    )
    refused = await client.get("/w/start", params={"token": forged})
    assert refused.status_code == 401
    assert "already used" in refused.text
    assert await FlowSession.count() == 1


async def test_a_full_page_visit_returns_to_the_app_but_never_to_a_foreign_site(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    back = "https://host.example/account?tab=billing"
    token = embed_token(settings, clock, return_url=back)
    page = await client.get("/w/start", params={"token": token})  # no origin: a full page, not an iframe
    sid = re.search(r'data-session-id="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    flow = re.search(r'name="flow_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    await client.post(f"/w/s/{sid}/cancel", data={"flow_token": flow})
    done = await client.post(f"/w/s/{sid}/confirm", data={"flow_token": flow}, follow_redirects=True)
    assert 'data-outcome="cancelled"' in done.text
    assert 'href="https://host.example/account?tab=billing" data-testid="return-to-app"' in done.text

    evil = embed_token(settings, clock, return_url="https://evil.example/phish")
    page = await client.get("/w/start", params={"token": evil})
    sid = re.search(r'data-session-id="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    flow = re.search(r'name="flow_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    closed = await client.post(f"/w/s/{sid}/close", data={"flow_token": flow}, follow_redirects=True)
    assert "evil.example" not in closed.text


async def test_a_long_open_widget_keeps_working_with_the_token_of_its_latest_step(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    from datetime import timedelta

    from service.security import mint_flow_token

    _, flow = await start(client, settings, clock)
    stale = mint_flow_token(
        settings,
        session_id=flow.session_id,
        customer_id="cus_demo_ada",
        parent_origin="",
        now=clock() - timedelta(hours=3),
    )
    headers = {"HX-Request": "true", "X-Flow-Token": stale}  # the page's header token has expired…
    response = await client.post(
        f"/w/s/{flow.session_id}/continue", data={"flow_token": flow.flow_token}, headers=headers
    )  # …but every form carries a fresh one
    assert response.status_code == 200 and step_of(response.text) == "survey"
    only_stale = await client.post(f"/w/s/{flow.session_id}/back", headers=headers)
    assert only_stale.status_code == 401


async def test_every_step_hands_back_a_token_good_for_a_full_lifetime_from_now(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    from service.security import FLOW_TOKEN_LIFETIME, verify_flow_token

    _, flow = await start(client, settings, clock)
    clock.advance(seconds=FLOW_TOKEN_LIFETIME.total_seconds() - 60)
    assert step_of((await flow.post("continue")).text) == "survey"
    claims = verify_flow_token(flow.flow_token, flow.session_id, settings, clock())
    assert claims.expires_at == int((clock() + FLOW_TOKEN_LIFETIME).timestamp())
    clock.advance(seconds=FLOW_TOKEN_LIFETIME.total_seconds() - 60)  # the first token has expired by now
    assert step_of((await flow.post("back")).text) == "loss_aversion"


async def test_a_close_posted_before_the_script_ran_still_closes_the_modal(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    """A quick click on a slow phone posts "Close" as a plain form: the page it lands on asks the host to close."""
    _, flow = await start(client, settings, clock)
    posted = await flow.post("close", htmx=False)
    assert posted.status_code == 303 and "close=1" in posted.headers["location"]
    page = await client.get(posted.headers["location"])
    assert "data-close-on-load" in page.text and 'data-outcome="abandoned"' in page.text
    _, other = await start(client, settings, clock)
    moved = await other.post("continue", htmx=False)
    assert "close=1" not in moved.headers["location"]
    assert "data-close-on-load" not in (await client.get(moved.headers["location"])).text
