"""The widget's steps in a real browser (#24 items 4-7), on a desktop (1280x800) and a phone (390x844), in
English and German: one way on from step 1, forms that keep what was typed and focus the field at fault
(with htmx and without JavaScript), loss tiles in the customer's language, and done screens with their
specifics (a cancellation that runs to the period end is undone from its own). axe reports no violations on any
of them."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from axe_playwright_python.async_playwright import Axe
from babel.dates import format_date
from playwright.async_api import Page, expect

from offers.apply import add_months
from service import demo
from tests.e2e.conftest import LiveServer

# Each screen and each language once, German (the longer words) on the narrower screen: the other two pairs
# repeat what these check, at a minute of make test.
SETUPS = [("desktop", "en"), ("phone", "de")]
MORE = {"en": "Please tell us a little more.", "de": "Bitte erzählen Sie uns etwas mehr."}
CHOOSE = {"en": "Please choose one of the reasons.", "de": "Bitte wählen Sie einen der Gründe."}


def _start_url(live_server: LiveServer, customer: str, locale: str, **claims: Any) -> str:
    """What a host backend does: a fresh single-use token for `customer`, in test mode (billing untouched)."""
    who = demo.customer(customer)
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": who.id,
            "subscription_id": who.subscription_id,
            "iat": now,
            "exp": now + 600,
            "jti": secrets.token_urlsafe(16),
            "locale": locale,
            "attrs": demo.attrs_of(who),
            "losses": demo.losses_of(who),
            "test": True,
            **claims,
        },
        live_server.embed_secret,
        algorithm="HS256",
    )
    return f"{live_server.url}/w/start?token={token}"


@pytest.fixture(scope="module", name="live_server")
def fx_module_server(own_live_server: LiveServer) -> LiveServer:
    """Other browser tests really pause and cancel demo customers; these walk every offer kind afresh."""
    return own_live_server


async def _axe_clean(page: Page, where: str) -> None:
    results = await Axe().run(page)
    violations = [v["id"] for v in results.response["violations"]]
    assert not violations, f"{where}: {violations}\n{results.generate_report()}"


async def _within_viewport(page: Page, testid: str) -> None:
    """The element is on screen without sideways scrolling (a phone must not hide it to the right)."""
    box = await page.get_by_test_id(testid).first.bounding_box()
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (testid, box, width)


async def _step(page: Page, name: str) -> None:
    await expect(page.get_by_test_id(f"step-{name}")).to_be_visible()


def _text(raw: str) -> str:
    return " ".join(raw.replace("\xa0", " ").replace("\u202f", " ").split())


# ------------------------------------------------------------------------------------ step 1 and its losses
@pytest.mark.parametrize(("viewport", "locale"), SETUPS)
async def test_step_one_shows_losses_in_the_language_and_one_way_on(
    open_page: Any, live_server: LiveServer, viewport: str, locale: str
) -> None:
    teammate = {
        "en": {"one": "teammate", "other": "teammates"},
        "de": {"one": "Teammitglied", "other": "Teammitglieder"},
    }
    losses = [
        {
            "label": {"en": {"one": "file", "other": "files"}, "de": {"one": "Datei", "other": "Dateien"}},
            "count": 12840,
        },
        {"label": teammate, "count": 1},
        {"label": {"en": "projects", "de": "Projekte"}, "value": "311"},  # the original text form still works
    ]
    page = await open_page(viewport)
    await page.goto(_start_url(live_server, "cus_demo_grace", locale, losses=losses))
    await _step(page, "loss-aversion")
    tiles = [_text(t) for t in await page.get_by_test_id("loss").all_inner_texts()]
    expected = {
        "en": ["12,840 files", "1 teammate", "311 projects"],
        "de": ["12.840 Dateien", "1 Teammitglied", "311 Projekte"],
    }
    assert tiles == expected[locale]
    # One primary way (keep) and one secondary way on; the direct cancel comes from the next step on.
    await expect(page.locator("#flow-step .sf-btn-primary")).to_have_count(1)
    await expect(page.locator("#flow-step .sf-btn-secondary")).to_have_count(1)
    await expect(page.get_by_test_id("keep-subscription")).to_have_class(re.compile("sf-btn-primary"))
    await expect(page.get_by_test_id("continue")).to_have_class(re.compile("sf-btn-secondary"))
    await expect(page.get_by_test_id("cancel-now")).to_have_count(0)
    for testid in ("keep-subscription", "continue"):
        await _within_viewport(page, testid)
    await _axe_clean(page, f"loss aversion {viewport} {locale}")
    await page.get_by_test_id("continue").click()
    await _step(page, "survey")
    await expect(page.get_by_test_id("cancel-now")).to_be_visible()


# -------------------------------------------------------------------------------- forms keep what was typed
@pytest.mark.parametrize(("viewport", "locale"), SETUPS)
@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
async def test_a_refused_survey_keeps_the_answer_and_focuses_the_field(
    open_page: Any, live_server: LiveServer, viewport: str, locale: str, javascript: bool
) -> None:
    page = await open_page(viewport, javascript=javascript)
    await page.goto(_start_url(live_server, "cus_demo_ada", locale))
    await page.get_by_test_id("continue").click()
    await _step(page, "survey")
    await page.get_by_test_id("reason-other").check()  # "Something else" needs a few words
    await page.get_by_test_id("reason-comment").fill("   ")
    await page.get_by_test_id("submit-reason").click()
    message = page.get_by_test_id("field-error-comment")
    await expect(message).to_have_text(MORE[locale])
    comment = page.get_by_test_id("reason-comment")
    await expect(page.get_by_test_id("reason-other")).to_be_checked()  # the chosen reason survived
    await expect(comment).to_have_attribute("aria-describedby", await message.get_attribute("id") or "?")
    await expect(comment).to_have_attribute("aria-invalid", "true")
    await expect(comment).to_be_focused()
    await _within_viewport(page, "field-error-comment")
    if javascript:  # axe runs in the page's JavaScript; without it the markup is the same as with htmx
        await _axe_clean(page, f"refused survey {viewport} {locale}")
    await comment.fill("Moving abroad")
    await page.get_by_test_id("submit-reason").click()
    await expect(page.get_by_test_id("step-survey")).to_have_count(0)  # fixed, the flow goes on


@pytest.mark.parametrize(("viewport", "locale"), SETUPS)
async def test_a_comment_typed_before_choosing_a_reason_survives_in_the_embedded_widget(
    open_page: Any, live_server: LiveServer, viewport: str, locale: str
) -> None:
    # The embedded widget (cross-origin iframe, htmx): the browser's own check is switched off, as in a
    # browser without it, so the server's refusal is what the user meets.
    page = await open_page(viewport)
    await page.goto(f"{live_server.host_url}/?customer=cus_demo_ada&test=true&locale={locale}")
    await page.get_by_test_id("cancel-subscription").click()
    await expect(page.get_by_test_id("saveflow-modal")).to_be_visible()
    frame = page.frame_locator('[data-testid="saveflow-iframe"]')
    await frame.get_by_test_id("continue").click()
    await expect(frame.get_by_test_id("step-survey")).to_be_visible()
    await frame.get_by_test_id("reason-form").evaluate("form => { form.noValidate = true; }")
    await frame.get_by_test_id("reason-comment").fill("Our budget was cut")
    await frame.get_by_test_id("submit-reason").click()
    message = frame.get_by_test_id("field-error-reason")
    await expect(message).to_have_text(CHOOSE[locale])
    await expect(frame.get_by_test_id("reason-comment")).to_have_value("Our budget was cut")
    first = frame.locator('#flow-step input[type="radio"]').first
    await expect(first).to_be_focused()
    await expect(first).to_have_attribute("aria-describedby", await message.get_attribute("id") or "?")


# ------------------------------------------------------------------------------------------- done screens
def _long(moment: datetime, locale: str) -> str:
    return format_date(moment.date(), format="long", locale=locale)


LONG_DATE = {"en": r"[A-Z][a-z]+ \d{1,2}, \d{4}", "de": r"\d{1,2}\. [A-ZÄÖÜ][a-zäöü]+ \d{4}"}


async def _to_offer(page: Page, live_server: LiveServer, customer: str, locale: str, reason: str, offer: str) -> None:
    await page.goto(_start_url(live_server, customer, locale))
    await page.get_by_test_id("continue").click()
    await page.get_by_test_id(f"reason-{reason}").check()
    await page.get_by_test_id("submit-reason").click()
    await _step(page, "offer")
    accept = page.get_by_test_id(f"accept-offer-{offer}")
    for _ in range(3):  # a later screen of offers
        if await accept.count():
            break
        await page.get_by_test_id("decline-offer").click()
        await _step(page, "offer")
    await accept.click()
    await _step(page, "done")


# Each done screen once, the setups taking turns: tests/integration/test_widget_steps_v2.py checks every
# screen's words in both languages; here each is walked, laid out and read in a real browser.
DONE_SCREENS = [
    ("pause", "phone", "de"),
    ("trial_extension", "desktop", "en"),
    ("discount", "phone", "de"),
    ("training", "desktop", "en"),
    ("cancelled", "phone", "de"),
    ("pause", "desktop", "en"),
]


@pytest.mark.parametrize(("kind", "viewport", "locale"), DONE_SCREENS)
async def test_each_done_screen_states_its_specifics(
    open_page: Any, live_server: LiveServer, viewport: str, locale: str, kind: str
) -> None:
    page = await open_page(viewport)
    today = datetime.now(UTC)
    summary = page.get_by_test_id("done-summary")
    date = LONG_DATE[locale]
    if kind == "pause":
        await _to_offer(page, live_server, "cus_demo_ada", locale, "too_expensive", "pause-2-months")
        resumes = _long(add_months(today, 2), locale)
        expected = {
            "en": f"Your subscription is paused. Billing resumes on {resumes} at $49/month.",
            "de": f"Ihr Abo ist pausiert. Die Abrechnung läuft ab {resumes} mit 49 $/Monat weiter.",
        }[locale]
        assert _text(await summary.inner_text()).startswith(expected)
        await expect(page.get_by_test_id("done-next")).to_contain_text(
            {"en": "Resume now", "de": "Jetzt fortsetzen"}[locale]
        )
    elif kind == "trial_extension":
        await _to_offer(page, live_server, "cus_demo_linus", locale, "not_using", "extend-trial-14-days")
        pattern = {
            "en": rf"Your trial now ends on {date}\. After that it's \$49/month, unless you cancel\.",
            "de": rf"Ihre Testphase endet jetzt am {date}\. Danach kostet es 49 \$/Monat, sofern Sie nicht kündigen\.",
        }[locale]
        assert re.match(pattern, _text(await summary.inner_text()))
    elif kind == "discount":
        await _to_offer(page, live_server, "cus_demo_ada", locale, "no_value", "discount-30-3-months")
        until = _long(add_months(today, 3), locale)
        expected = {
            "en": f"Your discount is applied: you pay $34.30/month instead of $49/month until {until}.",
            "de": f"Ihr Rabatt ist aktiv: Sie zahlen bis {until} 34,30 $/Monat statt 49 $/Monat.",
        }[locale]
        assert _text(await summary.inner_text()).startswith(expected)
    elif kind == "training":
        await _to_offer(page, live_server, "cus_demo_ada", locale, "no_value", "training-call")
        booking = page.get_by_test_id("booking-link")
        await expect(booking).to_have_class(re.compile("sf-btn-primary"))
        await expect(booking).to_have_attribute("href", "https://example.com/book-a-session")
        await expect(page.get_by_test_id("close-widget")).not_to_have_class(re.compile("sf-btn-primary"))
        await expect(page.get_by_test_id("done-title")).not_to_have_text(re.compile("all set|alles erledigt", re.I))
        await expect(page.get_by_test_id("done-next")).to_be_visible()
        await _within_viewport(page, "booking-link")
    else:  # really cancelled in (in-memory) billing, then undone: this module's server is its own
        await page.goto(_start_url(live_server, "cus_demo_grace", locale, test=False))
        await page.get_by_test_id("continue").click()
        await page.get_by_test_id("cancel-now").click()  # two clicks from step 1
        await _step(page, "done")
        pattern = {"en": rf"It ends on {date}\. You won't be charged again\.", "de": rf"Es endet am {date}\."}[locale]
        assert re.match(pattern, _text(await summary.inner_text()))
        kept = [_text(t) for t in await page.get_by_test_id("done-kept").locator("li").all_inner_texts()]
        expected_kept = {
            "en": ["311 projects", "12,840 files", "42 teammates"],
            "de": ["311 Projekte", "12.840 Dateien", "42 Teammitglieder"],
        }
        assert kept == expected_kept[locale]
        changed = {"en": "Changed your mind?", "de": "Haben Sie es sich anders überlegt?"}[locale]
        await expect(page.get_by_test_id("changed-mind")).to_have_text(changed)
        await _within_viewport(page, "undo-cancel")
        await _axe_clean(page, f"done cancelled {viewport} {locale}")
        await page.get_by_test_id("undo-cancel").click()  # changed their mind: billing undoes the cancel
        await expect(page.get_by_test_id("step-done")).to_have_attribute("data-outcome", "reactivated")
        title = {"en": "Your subscription continues", "de": "Ihr Abonnement läuft weiter"}[locale]
        await expect(page.get_by_test_id("done-title")).to_have_text(title)
        await expect(page.get_by_test_id("undo-cancel")).to_have_count(0)
        api = {"Authorization": f"Bearer {live_server.api_key}"}
        session_id = await page.locator("body").get_attribute("data-session-id")
        recorded = await page.request.get(f"{live_server.url}/api/v1/sessions/{session_id}", headers=api)
        assert (await recorded.json())["outcome"] == "reactivated"
        status = await page.request.get(f"{live_server.url}/api/v1/customers/cus_demo_grace/status", headers=api)
        assert (await status.json())["status"] == "active"  # billing no longer ends it
    await _within_viewport(page, "done-summary")
    await page.screenshot(path=str(live_server.artifacts / f"done-{kind}-{viewport}-{locale}.png"))
    await _axe_clean(page, f"done {kind} {viewport} {locale}")
