"""The structured flow editor over HTTP: edit and publish through the form, plain-word 422s that keep the
input, row actions without JS, roles, drafts that no customer ever gets, and a preview that never bills."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest
from litestar import Litestar

from flows import FollowUp, default_definition
from flows.experiments import Arm, Experiment
from offers import PauseOffer
from offers.model import PauseLength, PauseStart, PauseUnit
from offers.providers.memory import InMemoryBillingProvider, Price
from service.app import create_app
from service.db.engine import close_engine, open_engine
from service.db.tables import AuditLog, BillingOperation, FlowSession, FlowVersion, WebhookDelivery
from service.repositories import flows as repo
from service.settings import Settings
from service.use_cases import outbound
from service.use_cases.flow_config import ConfigInvalid, start_experiment
from service.use_cases.flow_preview import purge_old_previews
from tests.conftest import FakeClock, make_settings
from tests.integration.test_admin_http import csrf_of
from tests.integration.test_admin_pages import login_as
from tests.integration.widget_client import WidgetSession, start, step_of


class _FormScraper(HTMLParser):
    """The fields a browser would submit for one form: inputs, checked boxes, textareas, chosen options."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside = form_id, False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text = ""
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a:
            return
        if tag == "input" and a.get("name") and a.get("type", "text") not in ("submit", "button", "reset"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields.append((a["name"], a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            text = self._text[1:] if self._text.startswith("\n") else self._text  # as browsers do
            self.fields.append((self._textarea, text))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self.fields += [(self._select, v) for v in chosen[:1]]
            self._select = None


def form_of(html: str, form_id: str = "flow-form") -> dict[str, str]:
    scraper = _FormScraper(form_id)
    scraper.feed(html)
    return dict(scraper.fields)


async def editor_form(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/admin/flows")
    assert page.status_code == 200
    return form_of(page.text)


async def walk_preview(client: httpx.AsyncClient, iframe_src: str) -> WidgetSession:
    """Load what the preview iframe loads and return a driver for the widget session it started."""
    redirect = await client.get(iframe_src)
    assert redirect.status_code == 303, redirect.text
    location = redirect.headers["location"]
    assert location.startswith("/w/s/")
    page = await client.get(location)
    assert page.status_code == 200
    assert 'data-testid="test-mode"' in page.text
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]  # the admin page may frame it
    session = WidgetSession(client, urlsplit(location).path.rsplit("/", 1)[1], "")
    session._refresh_token(page.text)
    return session


def iframe_src(html: str) -> str:
    found = re.search(r'<iframe class="preview-frame" src="([^"]+)"', html)
    assert found, "no preview iframe"
    return found.group(1).replace("&amp;", "&")


async def test_an_editor_changes_a_label_and_an_offer_parameter_then_new_sessions_get_it(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    fields = await editor_form(client)
    assert (fields["reason-0-label"], fields["offer-0-id"], fields["offer-0-lengths"], fields["offer-0-starts"]) == (
        "It's too expensive",
        "pause-2-months",
        "2 months, 3 months",
        "now",
    )
    exit_row = next(k.split("-")[1] for k, v in fields.items() if k.endswith("-id") and v == "exit-interview")
    assert fields[f"offer-{exit_row}-de-incentive"] == "25-$-Gutschein"  # the incentive has a box per language
    assert "offer-0-de-incentive" not in fields  # a pause has no incentive to translate
    fields |= {"reason-0-label": "Costs too much for us", "offer-0-lengths": "2 weeks, 1 month", "note": "Clearer"}
    fields |= {"offer-0-starts": "period_end"}
    published = await client.post("/admin/flows/editor", data={**fields, "action": "publish", "_csrf_token": token})
    assert published.status_code == 303 and published.headers["location"] == "/admin/flows"

    latest = await repo.published_version("default")
    assert latest is not None
    shipped = default_definition()
    pause = shipped.offers[0]
    assert isinstance(pause, PauseOffer)
    expected = dataclasses.replace(
        shipped,
        reasons=(dataclasses.replace(shipped.reasons[0], label="Costs too much for us"), *shipped.reasons[1:]),
        offers=(
            dataclasses.replace(
                pause,
                lengths=(PauseLength(2, PauseUnit.WEEKS), PauseLength(1, PauseUnit.MONTHS)),
                starts=PauseStart.PERIOD_END,
            ),
            *shipped.offers[1:],
        ),
    )
    assert latest[1] == expected  # everything the form did not touch came back exactly as it was
    audit = await AuditLog.select(AuditLog.action, AuditLog.after).first()
    assert audit == {"action": "flow.publish", "after": "Clearer"}

    _, flow = await start(client, settings, clock)
    survey = await flow.post("continue")
    assert "Costs too much for us" in survey.text
    offer = await flow.post("reason", {"reason": "too_expensive"})
    assert 'data-offer-id="pause-2-months"' in offer.text
    row = await FlowSession.select(FlowSession.flow_version).where(FlowSession.id == flow.session_id).first()
    assert row == {"flow_version": latest[0]}


async def test_invalid_input_gets_a_422_in_plain_words_and_keeps_what_was_typed(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    fields = await editor_form(client)
    typed = {**fields, "offer-0-lengths": "2 weeks; a month", "reason-1-label": "My new label", "_csrf_token": token}
    refused = await client.post("/admin/flows/editor", data={**typed, "action": "publish"})
    assert refused.status_code == 422
    assert "Offer 1: write the lengths like “2 weeks, 1 month” (days, weeks or months)." in refused.text
    assert re.search(r'name="offer-0-lengths" value="2 weeks; a month"[^>]* aria-invalid="true"', refused.text)
    too_many = {**typed, "offer-0-lengths": "1 day, 1 week, 2 weeks, 1 month, 13 months"}
    refused = await client.post("/admin/flows/editor", data={**too_many, "action": "publish"})
    assert refused.status_code == 422
    assert "a pause offers at most 4 lengths." in refused.text and "a pause lasts at most 12 months" in refused.text
    assert form_of(refused.text)["reason-1-label"] == "My new label"

    ghost = await client.post("/admin/flows/editor", data={**fields, "final_offer_id": "ghost", "action": "publish"})
    assert ghost.status_code == 422  # the form reads, but the definition does not hold together
    assert "The final offer &#39;ghost&#39; does not exist." in ghost.text
    assert '<option value="ghost" selected>ghost (no such offer)</option>' in ghost.text
    assert await FlowVersion.count() == 1


async def test_rows_are_added_moved_and_removed_without_javascript_and_htmx_swaps_only_the_fields(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    fields = {**await editor_form(client), "_csrf_token": token}
    added = await client.post("/admin/flows/editor", data={**fields, "action": "add_reason"})
    assert added.status_code == 200 and "<html" in added.text  # no JS: the whole page comes back
    assert added.text.count('data-testid="reason-row"') == 9
    assert form_of(added.text)["reason-8-id"] == "reason-9"
    assert await FlowVersion.count() == 1  # a row action never publishes

    moved = form_of((await client.post("/admin/flows/editor", data={**fields, "action": "reason_down:0"})).text)
    assert (moved["reason-0-id"], moved["reason-1-id"]) == ("not_using", "too_expensive")

    partial = await client.post(
        "/admin/flows/editor", data={**fields, "action": "remove_offer:0"}, headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200 and "HX-Request" in partial.headers["vary"]
    assert partial.text.startswith('<div id="flow-fields"') or '<div id="flow-fields"' in partial.text[:400]
    assert "<html" not in partial.text
    assert 'value="pause-2-months"' not in partial.text  # gone, and no reason routes to it any more
    wrapped = form_of(f'<form id="flow-form">{partial.text}</form>')
    assert (wrapped["reason-0-offer-0"], wrapped["reason-4-offer-0"]) == ("downgrade-starter", "")


async def test_viewers_read_the_editor_but_cannot_publish_or_preview_and_strangers_are_refused(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    anonymous = await client.get("/admin/login")
    anon_token = csrf_of(anonymous.text)
    for method, path in (("GET", "/admin/flows"), ("GET", "/admin/flows/json"), ("GET", "/admin/flows/preview/1")):
        response = await client.request(method, path)
        assert (response.status_code, response.headers["location"]) == (303, "/admin/login"), path
    for path in ("/admin/flows/editor", "/admin/flows/preview"):
        posted = await client.post(path, data={"action": "publish", "_csrf_token": anon_token})
        assert (posted.status_code, posted.headers["location"]) == (303, "/admin/login"), path

    token = await login_as(client, "viewer", clock)
    page = await client.get("/admin/flows")
    assert page.status_code == 200
    assert '<fieldset class="plain" disabled>' in page.text
    assert 'data-testid="publish-structured"' not in page.text and 'data-testid="preview-flow"' not in page.text
    assert 'value="It&#39;s too expensive"' in page.text
    fields = {**form_of(page.text.replace(" disabled>", ">")), "_csrf_token": token}
    assert (await client.post("/admin/flows/editor", data={**fields, "action": "publish"})).status_code == 403
    assert (await client.post("/admin/flows/editor", data={**fields, "action": "add_reason"})).status_code == 403
    assert (await client.post("/admin/flows/preview", data=fields)).status_code == 403
    published = await repo.published_version("default")
    assert published is not None
    assert (await client.get(f"/admin/flows/preview/{published[0]}")).status_code == 403
    assert await FlowVersion.count() == 1 and await FlowSession.count() == 0


async def test_a_draft_is_only_ever_previewed_never_served_to_customers(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    fields = {**await editor_form(client), "reason-0-label": "Draft-only label", "_csrf_token": token}
    page = await client.post("/admin/flows/editor", data={**fields, "action": "preview"})
    assert page.status_code == 200 and "<html" in page.text
    assert form_of(page.text)["reason-0-label"] == "Draft-only label"
    again = await client.post("/admin/flows/preview", data=fields, headers={"HX-Request": "true"})
    assert iframe_src(again.text) == iframe_src(page.text)  # the same draft is stored once
    drafts = await FlowVersion.select(FlowVersion.id, FlowVersion.number).where(FlowVersion.status == "draft")
    assert len(drafts) == 1 and drafts[0]["number"] == 0
    draft_id = drafts[0]["id"]
    assert iframe_src(page.text).startswith(f"/admin/flows/preview/{draft_id}?")

    published = await repo.published_version("default")
    assert published is not None and published[0] != draft_id
    _, customer = await start(client, settings, clock)
    survey = await customer.post("continue")
    assert "Draft-only label" not in survey.text and "too expensive" in survey.text
    row = await FlowSession.select(FlowSession.flow_version).where(FlowSession.id == customer.session_id).first()
    assert row == {"flow_version": published[0]}

    experiment = Experiment("sneaky", "default", (Arm("a", 1, published[0]), Arm("b", 1, draft_id)))
    with pytest.raises(ConfigInvalid) as refused:
        await start_experiment(experiment, "Draft arm", clock())
    assert refused.value.problems == ["Arm 'b' points at a draft; publish it first."]
    assert (await client.post(f"/admin/flows/{draft_id}/republish", data={"_csrf_token": token})).status_code == 404
    listed = await client.get("/admin/flows")
    assert listed.text.count('data-testid="version-row"') == 1  # drafts are not versions anyone runs


async def test_the_preview_runs_the_draft_in_test_mode_without_billing_webhooks_or_metrics(
    client: httpx.AsyncClient, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    await outbound.add_endpoint("https://app.example/hooks", description="host app", now=clock())
    billing.fail_next_read(AssertionError("a preview read the billing provider"))
    token = await login_as(client, "editor", clock)
    fields = {**await editor_form(client), "reason-0-follow_up": FollowUp.NONE.value, "_csrf_token": token}
    fields |= {"preview_amount": "99.00", "preview_interval": "year", "preview_locale": "de"}
    panel = await client.post("/admin/flows/preview", data=fields, headers={"HX-Request": "true"})
    assert panel.status_code == 200 and "<html" not in panel.text
    src = iframe_src(panel.text)
    assert "preview_amount=99.00" in src and "preview_locale=de" in src

    flow = await walk_preview(client, src)
    survey = await flow.post("continue")
    assert "Es ist mir zu teuer" in survey.text  # the draft's German copy, as the preview customer asked
    offer = await flow.post("reason", {"reason": "too_expensive"})
    assert "99\u00a0$" in offer.text  # the synthesised subscription's price, in German
    done = await flow.post("offers/pause-2-months/accept")
    assert step_of(done.text) == "done"

    session = await FlowSession.select().where(FlowSession.id == flow.session_id).first()
    assert session is not None
    draft = await FlowVersion.select(FlowVersion.status).where(FlowVersion.id == session["flow_version"]).first()
    assert (session["test_mode"], session["outcome"], draft) == (True, "saved", {"status": "draft"})
    assert await BillingOperation.select(BillingOperation.summary) == [{"summary": "test"}]
    assert billing.calls == []
    with pytest.raises(AssertionError, match="a preview read"):  # the planted failure was never consumed
        await billing.get_subscription("sub_demo_ada")
    assert await WebhookDelivery.count() == 0

    # An admin's scratch run is not a customer's session: not in the lists or the CSV export.
    assert flow.session_id not in (await client.get("/admin/sessions")).text
    assert flow.session_id not in (await client.get("/admin/export/sessions.csv")).text
    dashboard = await client.get("/admin")
    assert re.search(r'data-testid="kpi-sessions"><strong>0</strong>', dashboard.text)
    with_tests = await client.get("/admin", params={"include_test": "true"})
    assert re.search(r'data-testid="kpi-sessions"><strong>1</strong>', with_tests.text)


async def test_a_problem_keeps_the_last_good_preview_and_says_what_to_fix(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    fields = {**await editor_form(client), "_csrf_token": token}
    good = await client.post("/admin/flows/preview", data=fields, headers={"HX-Request": "true"})
    src = iframe_src(good.text)
    unchanged = {**fields, "preview_src": src}
    kept = await client.post("/admin/flows/preview", data=unchanged, headers={"HX-Request": "true"})
    assert kept.status_code == 204  # a change that leaves the draft as it is keeps the running preview
    restart = {**unchanged, "action": "preview"}
    assert iframe_src((await client.post("/admin/flows/preview", data=restart, headers={"HX-Request": "true"})).text)
    version = src.split("/")[4].split("?")[0]
    broken = {**fields, "reason-0-label": " ", "preview_version": version}
    refused = await client.post("/admin/flows/preview", data=broken, headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert "Reason &#39;too_expensive&#39; needs a label." in refused.text
    assert iframe_src(refused.text) == src
    assert (await client.get("/admin/flows/preview/999999")).status_code == 404


@pytest.fixture(name="stripe_client")
async def fx_stripe_client(app: Litestar, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """The same database served by an app whose billing provider is Stripe (which this suite never reaches)."""
    stripe_app: Litestar = create_app(make_settings(stripe_api_key="sk_test_never_called"), clock=clock)
    await open_engine(stripe_app.state.engine)
    try:
        transport = httpx.ASGITransport(app=cast("Any", stripe_app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c
    finally:
        await close_engine(stripe_app.state.engine)


async def test_the_preview_works_when_billing_is_stripe(stripe_client: httpx.AsyncClient, clock: FakeClock) -> None:
    token = await login_as(stripe_client, "editor", clock)
    fields = {**await editor_form(stripe_client), "_csrf_token": token}
    panel = await stripe_client.post("/admin/flows/preview", data=fields, headers={"HX-Request": "true"})
    flow = await walk_preview(stripe_client, iframe_src(panel.text))
    await flow.post("continue")
    await flow.post("reason", {"reason": "too_expensive"})
    done = await flow.post("offers/pause-2-months/accept")
    assert step_of(done.text) == "done" and 'data-outcome="saved"' in done.text


async def test_old_previews_and_unused_drafts_are_purged_published_versions_never(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = await login_as(client, "editor", clock)
    fields = {**await editor_form(client), "_csrf_token": token}
    panel = await client.post("/admin/flows/preview", data=fields, headers={"HX-Request": "true"})
    flow = await walk_preview(client, iframe_src(panel.text))
    await flow.post("continue")
    published = await FlowVersion.count().where(FlowVersion.status == "published")

    assert await purge_old_previews(clock()) == 0
    clock.advance(days=2)  # the session goes; its draft stays a week
    assert await purge_old_previews(clock()) == 1
    assert await FlowSession.count().where(FlowSession.id == flow.session_id) == 0
    assert await FlowVersion.count().where(FlowVersion.status == "draft") == 1
    clock.advance(days=7)
    assert await purge_old_previews(clock()) == 1
    assert await FlowVersion.count().where(FlowVersion.status == "draft") == 0
    assert await FlowVersion.count().where(FlowVersion.status == "published") == published


async def test_offers_naming_a_price_or_coupon_billing_lacks_are_refused(
    client: httpx.AsyncClient, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    """#26: the editor checks offer ids against the billing system's catalogue where it can list one."""
    token = await login_as(client, "editor", clock)
    fields = await editor_form(client)
    price = next(k for k, v in fields.items() if k.endswith("-price_id") and v)
    coupon = next(k for k, v in fields.items() if k.endswith("-coupon_id") and v)
    assert fields[price] in billing.prices and fields[coupon] in billing.coupons  # the demo flow is consistent
    typed = {**fields, price: "price_retired", coupon: "SPRING_GONE", "_csrf_token": token, "action": "publish"}
    refused = await client.post("/admin/flows/editor", data=typed)
    assert refused.status_code == 422
    assert "billing has no price &#39;price_retired&#39;" in refused.text
    assert "billing has no coupon &#39;SPRING_GONE&#39;" in refused.text
    assert await FlowVersion.count() == 1
    billing.add_price(Price("price_retired", 900))
    billing.coupons.add("SPRING_GONE")
    accepted = await client.post("/admin/flows/editor", data=typed)
    assert accepted.status_code == 303
