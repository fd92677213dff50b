"""Offer cards in a real browser (#24 item 3): every offer kind walked as cards in English and German, each walk
checked on a desktop (1280x800) and a phone (390x844) (the page turned into the other screen): each card and its
one button inside the widget and on screen, nothing overlapping, the modal as tall as its content, a concrete value
line on every card, and no axe violations. As a full page on a desktop the cards sit side by side."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Frame, Page, expect

from service import demo
from tests.e2e.conftest import VIEWPORTS, LiveServer
from tests.e2e.modal_layout import check_modal_on, settle_modal, widget_frame
from tests.e2e.pages import HostPage, WidgetPage

PAUSE, DOWNGRADE, DISCOUNT = "pause-2-months", "downgrade-starter", "discount-30-3-months"
TRAINING, CONTACT, TRIAL = "training-call", "contact-support", "extend-trial-14-days"
FREE = "free-plan"  # the forever-free downgrade


@dataclass(frozen=True)
class Walk:
    customer: str
    reason: str
    cards: tuple[str, ...]  # the offers on screen, best first
    take: str
    value: str  # the start of the taken card's value line
    outcome: str


WALKS = {
    "pause": Walk("cus_demo_ada", "too_expensive", (PAUSE, DOWNGRADE), PAUSE, "No charges while paused", "saved"),
    "downgrade": Walk("cus_demo_ada", "too_expensive", (PAUSE, DOWNGRADE), DOWNGRADE, "$49/month → $19/month", "saved"),
    "discount": Walk(
        "cus_demo_ada", "no_value", (TRAINING, PAUSE, DISCOUNT), DISCOUNT, "$49/month → $34.30/month for 3", "saved"
    ),
    "training": Walk("cus_demo_ada", "no_value", (TRAINING, PAUSE, DISCOUNT), TRAINING, "Free of charge", "kept"),
    "contact": Walk("cus_demo_ada", "missing_features", (CONTACT,), CONTACT, "Free of charge", "kept"),
    "trial_extension": Walk("cus_demo_linus", "not_using", (TRIAL, TRAINING, FREE), TRIAL, "Free until", "saved"),
}

# Boxes of the cards, their buttons and the step's other actions, in the widget document's coordinates.
GEOMETRY = """() => {
  const box = el => { const r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; };
  const cards = [...document.querySelectorAll('[data-testid="offer-cards"] > article')];
  return {
    width: document.documentElement.clientWidth,
    scrollWidth: document.documentElement.scrollWidth,
    cards: cards.map(c => ({id: c.dataset.offerId, box: box(c), button: box(c.querySelector('button'))})),
    others: [...document.querySelectorAll('[data-testid="decline-offer"], [data-testid="cancel-now"],'
      + ' [data-testid="back"]')].map(box),
  };
}"""


# The step's action bar is sticky (it floats over content that scrolls under it); at the end of the scroll it
# sits in its own place, which is where overlaps are measured.
SCROLL_TO_END = "() => document.documentElement.scrollTo(0, document.documentElement.scrollHeight)"
# Nothing covers the element's centre (say, the sticky bar) and it is wholly inside the widget's viewport (give or
# take the subpixel a scroll to it may leave).
UNCOVERED = """el => { const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return el.contains(hit) && r.top >= -1 && r.bottom <= innerHeight + 1 && r.left >= 0 && r.right <= innerWidth; }"""
# Each of these buttons focused in turn (as Tab would, scrolling it into view): is it UNCOVERED, and its box in the
# widget's viewport.
FOCUS_EACH = f"""testids => testids.map(id => {{
  const el = document.querySelector(`[data-testid="${{id}}"]`); el.focus();
  const r = el.getBoundingClientRect();
  return {{id, uncovered: ({UNCOVERED})(el), box: {{x: r.left, y: r.top, w: r.width, h: r.height}}}}; }})"""


def _overlap(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    across = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
    return across and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def _inside(inner: Mapping[str, float], outer: Mapping[str, float], slack: float = 0.5) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"] + slack
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"] + slack
    )


def check_layout(g: dict[str, Any], expected: tuple[str, ...]) -> None:
    """Every card and button inside the document's width, each button in its card, nothing overlapping."""
    assert [c["id"] for c in g["cards"]] == list(expected)
    assert g["scrollWidth"] <= g["width"], f"{g['scrollWidth'] - g['width']}px of sideways scrolling"
    page_box = {"x": 0, "y": 0, "w": g["width"], "h": float("inf")}
    for card in g["cards"]:
        assert _inside(card["box"], page_box), card
        assert _inside(card["button"], card["box"]), f"{card['id']}: its button leaves the card"
        assert card["button"]["h"] >= 44, f"{card['id']}: a button under the 44px touch target"
    boxes = [c["box"] for c in g["cards"]] + g["others"]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not _overlap(a, b), f"overlap: {a} and {b}"


async def axe_clean(target: Page | Frame, where: str) -> None:
    results = await Axe().run(target)
    violations = [v["id"] for v in results.response["violations"]]
    assert not violations, f"{where}: {violations}\n{results.generate_report()}"


# Every set of cards opened on both screens (each walk is then checked on the other one too), and every kind taken:
# two kinds that share their cards (Ada's pause and downgrade, her discount and training) take turns on the screens.
EMBEDDED = [
    ("pause", "desktop"),
    ("downgrade", "phone"),
    ("discount", "desktop"),
    ("training", "phone"),
    ("contact", "desktop"),
    ("contact", "phone"),
    ("trial_extension", "desktop"),
    ("trial_extension", "phone"),
]
# German once per set of cards, taking the kinds English takes on one screen only (pause and discount are also taken
# in German in test_widget_steps_v2.py's done screens): every kind is taken in both languages.
GERMAN = ["downgrade", "training", "contact", "trial_extension"]
assert {kind for kind, _ in EMBEDDED} == set(WALKS), "every kind is taken"
assert {(WALKS[k].cards, v) for k, v in EMBEDDED} == {(w.cards, v) for w in WALKS.values() for v in VIEWPORTS}
assert {WALKS[k].cards for k in GERMAN} == {w.cards for w in WALKS.values()}
assert {*GERMAN, "pause", "discount"} == set(WALKS), "every kind is taken in German too"


OTHER_SCREEN = {"desktop": "phone", "phone": "desktop"}


async def check_cards_on_screen(page: Page, widget: WidgetPage, walk: Walk, viewport: str) -> None:
    """The offer step on the screen `viewport`: the cards' boxes (check_layout); the iframe, and every card's
    button reached with Tab, uncovered and inside the widget and the screen; the modal as tall as its content,
    up to the screen, and its close button covering nothing (modal_layout)."""
    frame = await widget_frame(page)
    await settle_modal(page, frame)
    await frame.evaluate(SCROLL_TO_END)  # the sticky actions rest below the cards
    check_layout(await frame.evaluate(GEOMETRY), walk.cards)
    iframe = await page.get_by_test_id("saveflow-iframe").bounding_box()
    assert iframe is not None
    screen = {"x": 0, "y": 0, "w": VIEWPORTS[viewport]["width"], "h": VIEWPORTS[viewport]["height"]}
    frame_box = {"x": iframe["x"], "y": iframe["y"], "w": iframe["width"], "h": iframe["height"]}
    assert _inside(frame_box, screen), (viewport, frame_box)
    # Reached with Tab (focused in turn, in one call), every button is uncovered, inside the widget and the screen.
    for button in await frame.evaluate(FOCUS_EACH, [f"accept-offer-{offer_id}" for offer_id in walk.cards]):
        assert button["uncovered"], f"{button['id']}: its button is covered or off screen ({viewport})"
        shown = {**button["box"], "x": iframe["x"] + button["box"]["x"], "y": iframe["y"] + button["box"]["y"]}
        assert _inside(shown, frame_box) and _inside(shown, screen), (button["id"], viewport, shown, frame_box)
    await check_modal_on(page, VIEWPORTS[viewport])


async def take_on_both_screens(page: Page, widget: WidgetPage, walk: Walk, viewport: str) -> None:
    """After the walk's checks on its own screen: the same page turned into the other screen (embed.js lays the
    modal out again on the media query's change) is checked again, then the card is taken, and the done screen
    gets a modal of its own height."""
    other = OTHER_SCREEN[viewport]
    await page.set_viewport_size(VIEWPORTS[other])
    await check_cards_on_screen(page, widget, walk, other)
    await widget.click(f"accept-offer-{walk.take}")
    done = widget.step("done")
    await expect(done).to_have_attribute("data-outcome", walk.outcome)
    await expect(done).to_have_attribute("data-offer-id", walk.take)
    await check_modal_on(page, VIEWPORTS[other])


@pytest.mark.parametrize(("kind", "viewport"), EMBEDDED)
async def test_every_offer_kind_as_cards_in_the_embedded_widget(
    open_page: Any, live_server: LiveServer, viewport: str, kind: str
) -> None:
    walk = WALKS[kind]
    page: Page = await open_page(viewport)
    widget: WidgetPage = await HostPage(page, live_server.host_url).open(walk.customer)
    await widget.click("continue")
    await widget.choose_reason(walk.reason)
    await widget.expect_step("offer")
    cards = widget.frame.locator('[data-testid="offer-cards"] > article')
    await expect(cards).to_have_count(len(walk.cards))
    await expect(widget.step("offer")).to_have_attribute("data-offer-count", str(len(walk.cards)))
    for offer_id in walk.cards:  # each card states concretely what the customer would pay
        await expect(widget.frame.get_by_test_id(f"offer-value-{offer_id}")).to_have_text(_money_or_date())
    await expect(widget.frame.get_by_test_id(f"offer-value-{walk.take}")).to_contain_text(walk.value)
    await expect(widget.frame.get_by_test_id(f"offer-card-{kind.replace('contact', 'training')}")).to_be_visible()

    await check_cards_on_screen(page, widget, walk, viewport)
    await axe_clean(await widget_frame(page), f"{kind} cards, {viewport}")
    await page.screenshot(path=str(live_server.artifacts / f"offer-cards-{kind}-{viewport}.png"))
    await take_on_both_screens(page, widget, walk, viewport)


def _money_or_date() -> re.Pattern[str]:
    """A price change ("$49/month → $19/month"), a date ("No charges until January 23, 2027") or "Free of charge"."""
    date = r"\w+ \d{1,2}, \d{4}"
    # A pause with several lengths names its dates on its radios, so its value line names none.
    paused = "No charges while paused"
    free = "Free forever — your account and data stay"  # a downgrade to a $0 plan
    return re.compile(rf"^(\$\d.*→ \$\d.*|No charges until {date}|{paused}|Free until {date}|Free of charge|{free})$")


def _start_url(live_server: LiveServer, customer: str) -> str:
    """A host backend's single-use token, in test mode: the widget as a full page (a link, or no JavaScript)."""
    who, now = demo.customer(customer), int(time.time())
    claims = {"sub": who.id, "subscription_id": who.subscription_id, "iat": now, "exp": now + 600}
    claims |= {"jti": secrets.token_urlsafe(16), "locale": "en", "attrs": demo.attrs_of(who), "test": True}
    token = jwt.encode(claims, live_server.embed_secret, algorithm="HS256")
    return f"{live_server.url}/w/start?token={token}"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_as_a_full_page_cards_sit_side_by_side_on_a_desktop_and_stack_on_a_phone(
    open_page: Any, live_server: LiveServer, viewport: str
) -> None:
    page: Page = await open_page(viewport)
    await page.goto(_start_url(live_server, "cus_demo_ada"))
    await page.get_by_test_id("continue").click()
    await page.get_by_test_id("reason-no_value").check()
    await page.get_by_test_id("submit-reason").click()
    await expect(page.get_by_test_id("step-offer")).to_be_visible()
    # Boxes are measured once htmx has finished swapping and settling the step (not mid-transition).
    await page.wait_for_function("!document.querySelector('.htmx-swapping, .htmx-settling, .htmx-request')")
    await page.evaluate(SCROLL_TO_END)
    g = await page.evaluate(GEOMETRY)
    check_layout(g, (TRAINING, PAUSE, DISCOUNT))
    boxes = [c["box"] for c in g["cards"]]
    if viewport == "desktop":  # one row, the best offer on the left, all on the first screen
        assert len({round(b["y"]) for b in boxes}) == 1 and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"], boxes
        assert all(b["y"] + b["h"] <= VIEWPORTS[viewport]["height"] for b in boxes), boxes
    else:  # one column, best first
        assert all(abs(b["x"] - boxes[0]["x"]) < 1 for b in boxes), boxes
        assert all(a["y"] + a["h"] <= b["y"] for a, b in itertools.pairwise(boxes)), boxes
    await axe_clean(page, f"full page, {viewport}")
    await page.screenshot(path=str(live_server.artifacts / f"offer-cards-full-page-{viewport}.png"), full_page=True)
    await page.get_by_test_id("decline-offer").click()  # "None of these, thanks" declines all three
    await expect(page.get_by_test_id("step-confirm")).to_be_visible()


@pytest.mark.parametrize("kind", GERMAN)
async def test_every_offer_kind_as_cards_in_german(open_page: Any, live_server: LiveServer, kind: str) -> None:
    """The same walks in German: German copy, German numbers and dates, the same checks on both screens, axe, and
    the take. From the phone (the least room for German's longer words), then turned into the desktop."""
    walk, viewport = WALKS[kind], "phone"
    page: Page = await open_page(viewport)
    widget = await HostPage(page, live_server.host_url).open(walk.customer, locale="de")
    await widget.click("continue")
    await widget.choose_reason(walk.reason)
    await widget.expect_step("offer")
    await expect(widget.step("offer").locator("h1")).to_have_text(re.compile(r"Bevor Sie kündigen"))
    await expect(widget.frame.locator('[data-testid="offer-cards"] > article')).to_have_count(len(walk.cards))
    for offer_id in walk.cards:
        await expect(widget.frame.get_by_test_id(f"offer-value-{offer_id}")).to_have_text(GERMAN_VALUE)
    await check_cards_on_screen(page, widget, walk, viewport)
    await axe_clean(await widget_frame(page), f"German {kind} cards, {viewport}")
    await take_on_both_screens(page, widget, walk, viewport)


# German value lines: money with a decimal comma and the sign after it, dates as "7. Februar 2027".
GERMAN_VALUE = re.compile(
    r"^(\d+(,\d\d)?\s\$/Monat → \d+(,\d\d)?\s\$/Monat( für \d+ Monate)?"
    r"|Keine Abbuchungen bis \d{1,2}\. \w+ \d{4}|Keine Abbuchungen während der Pause"
    r"|Kostenlos bis \d{1,2}\. \w+ \d{4}|Kostenlos|Für immer kostenlos \u2013 Ihr Konto und Ihre Daten bleiben)$"
)
