"""The widget's steps over HTTP (#24 items 4-7): one way out of step 1, forms that keep what was typed,
loss tiles in the customer's language, and done screens that state what billing now holds."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from babel.dates import format_date

from flows import Outcome, StepKind, default_definition
from offers import OfferNotApplicable
from offers.apply import add_months
from offers.model import REACTIVATE
from offers.providers.memory import InMemoryBillingProvider
from service.repositories.flows import publish_version
from service.settings import Settings
from service.use_cases import sessions
from tests.conftest import FakeClock
from tests.integration.widget_client import WidgetSession, embed_token, start, step_of

TOO_LONG = "x" * 2001


def _long(moment: datetime, locale: str = "en") -> str:
    return format_date(moment.date(), format="long", locale=locale)


def _tag(html: str, testid: str) -> str:
    """The opening tag of the element with this data-testid."""
    found = re.search(rf'<[^>]*data-testid="{re.escape(testid)}"[^>]*>', html)
    assert found, f"no {testid} in {html[:300]}"
    return found.group(0)


def _texts(html: str, testid: str) -> list[str]:
    """The text inside each element with this data-testid, tags removed and spaces collapsed."""
    found = re.findall(rf'<(\w+)[^>]*data-testid="{re.escape(testid)}"[^>]*>(.*?)</\1>', html, re.S)
    # Only ASCII spaces collapse: Babel's no-break spaces ("49\xa0$", "1\u202f234") are part of the text.
    return [re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", text)).strip() for _, text in found]


def _described_field(html: str, testid: str, field: str) -> None:
    """`testid` is invalid, tied by aria-describedby to the message beside it, and takes the focus."""
    tag = _tag(html, testid)
    described = re.search(r'aria-describedby="([^"]+)"', tag)
    assert described, tag
    assert 'aria-invalid="true"' in tag and " autofocus" in tag
    message = _tag(html, f"field-error-{field}")
    assert f'id="{described.group(1)}"' in message
    assert 'data-testid="error"' not in html  # beside the field, not (also) at the top


# ----------------------------------------------------------------------------------------- one way out
async def test_step_one_has_one_primary_keep_and_one_secondary_way_on(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    page, _ = await start(client, settings, clock)
    step = page.text[page.text.index('data-testid="step-loss-aversion"') :]
    assert "sf-btn-primary" in _tag(step, "keep-subscription")
    assert "sf-btn-secondary" in _tag(step, "continue")
    assert step.count("sf-btn-primary") == 1 and step.count("sf-btn-secondary") == 1
    assert 'data-testid="cancel-now"' not in step and "/cancel" not in step  # no second exit that differs


async def _decline(flow: WidgetSession, page: httpx.Response) -> httpx.Response:
    """ "No thanks" on the offer step, through the form the page shows."""
    found = re.search(r'action="/w/s/[^/"]+/(offers/[^"]+/decline)"', page.text)
    assert found, page.text
    return await flow.post(found.group(1))


async def _walk_to(flow: WidgetSession, step: str) -> None:
    await flow.post("continue")
    if step in ("offer", "feedback"):
        page = await flow.post("reason", {"reason": "too_expensive"})
        while step == "feedback" and step_of(page.text) == "offer":
            page = await _decline(flow, page)
        assert step_of(page.text) == step


@pytest.mark.parametrize("step", ["offer", "feedback"])  # the survey: the next test
async def test_cancel_is_two_clicks_from_every_step_after_the_first(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider, step: str
) -> None:
    await publish_version(dataclasses.replace(default_definition(), feedback=True), clock(), note="with feedback")
    _, flow = await start(client, settings, clock)
    await _walk_to(flow, step)
    headers = {"HX-Request": "true", "X-Flow-Token": flow.flow_token}
    shown = await flow.client.get(f"/w/s/{flow.session_id}", headers=headers)
    assert step_of(shown.text) == step and 'data-testid="cancel-now"' in shown.text
    confirm = await flow.post("cancel")  # click 1
    assert step_of(confirm.text) == "confirm"
    done = await flow.post("confirm")  # click 2
    assert 'data-outcome="cancelled"' in done.text
    assert [c.method for c in billing.calls] == ["cancel"]


async def test_from_the_first_step_its_one_way_on_reaches_the_cancel_button(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock)
    survey = await flow.post("continue")  # click 1
    assert step_of(survey.text) == "survey" and 'data-testid="cancel-now"' in survey.text
    done = await flow.post("cancel")  # click 2: "Continue to cancel" was the confirmation
    assert 'data-outcome="cancelled"' in done.text and [c.method for c in billing.calls] == ["cancel"]


async def test_without_click_to_cancel_step_one_still_has_its_one_way_on(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    strict = dataclasses.replace(default_definition(), cancel_always_available=False)
    await publish_version(strict, clock(), note="no click-to-cancel")
    page, flow = await start(client, settings, clock)
    assert 'data-testid="continue"' in page.text and 'data-testid="cancel-now"' not in page.text
    survey = await flow.post("continue")
    assert 'data-testid="cancel-now"' not in survey.text


# ------------------------------------------------------------------------------- forms keep what was typed
@pytest.mark.parametrize("htmx", [True, False])
async def test_a_missing_reason_keeps_the_comment_and_points_at_the_reasons(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, htmx: bool
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    refused = await flow.post("reason", {"comment": "Our budget was cut"}, htmx=htmx)
    assert refused.status_code == 422 and step_of(refused.text) == "survey"
    assert ("<html" in refused.text) is not htmx  # without htmx: the whole page, not a redirect
    assert _texts(refused.text, "reason-comment") == ["Our budget was cut"]
    _described_field(refused.text, "reason-too_expensive", "reason")  # the first reason takes the focus
    assert "aria-describedby" in _tag(refused.text, "reason-other")
    assert _texts(refused.text, "field-error-reason") == ["Please choose one of the reasons."]


@pytest.mark.parametrize("htmx", [True, False])
async def test_a_missing_comment_keeps_the_chosen_reason(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, htmx: bool
) -> None:
    _, flow = await start(client, settings, clock)
    await flow.post("continue")
    refused = await flow.post("reason", {"reason": "other", "comment": "  "}, htmx=htmx)
    assert refused.status_code == 422
    assert " checked" in _tag(refused.text, "reason-other")
    assert " checked" not in _tag(refused.text, "reason-too_expensive")
    _described_field(refused.text, "reason-comment", "comment")
    assert _texts(refused.text, "field-error-comment") == ["Please tell us a little more."]
    # Fixed, it goes on: the answer is taken as sent the second time.
    fixed = await flow.post("reason", {"reason": "other", "comment": "Moving country"}, htmx=htmx)
    assert fixed.status_code in (200, 303)


async def test_a_too_long_comment_comes_back_in_full_in_german(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock, locale="de")
    await flow.post("continue")
    refused = await flow.post("reason", {"reason": "competitor", "comment": TOO_LONG})
    assert " checked" in _tag(refused.text, "reason-competitor")
    assert _texts(refused.text, "reason-comment") == [TOO_LONG]
    _described_field(refused.text, "reason-comment", "comment")
    assert _texts(refused.text, "field-error-comment") == ["Bitte bleiben Sie unter 2000 Zeichen."]


@pytest.mark.parametrize("htmx", [True, False])
async def test_refused_feedback_is_kept_beside_its_message(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, htmx: bool
) -> None:
    await publish_version(dataclasses.replace(default_definition(), feedback=True), clock(), note="with feedback")
    _, flow = await start(client, settings, clock)
    await _walk_to(flow, "feedback")
    refused = await flow.post("feedback", {"feedback": TOO_LONG}, htmx=htmx)
    assert refused.status_code == 422 and step_of(refused.text) == "feedback"
    assert _texts(refused.text, "feedback-text") == [TOO_LONG]
    _described_field(refused.text, "feedback-text", "feedback")


# ----------------------------------------------------------------------------------- losses in the language
def _tiles(html: str) -> list[str]:
    return _texts(html, "loss")


async def test_demo_losses_are_counted_and_pluralised_in_german_and_english(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    german, _ = await start(client, settings, clock, token=embed_token(settings, clock, "cus_demo_grace", locale="de"))
    assert _tiles(german.text) == ["311 Projekte", "12.840 Dateien", "42 Teammitglieder"]
    english, _ = await start(client, settings, clock, token=embed_token(settings, clock, "cus_demo_linus"))
    assert _tiles(english.text) == ["4 projects", "37 files", "1 teammate"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("de", ["1 Teammitglied", "1.234.567 Aufgaben", "12 seats", "3,412 Dateien"]),
        ("en", ["1 teammate", "1,234,567 tasks", "12 seats", "3,412 files"]),
        ("fr", ["1 coéquipier", "1\u202f234\u202f567 tâches", "12 seats", "3,412 files"]),
    ],
)
async def test_loss_claims_in_every_shape(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, locale: str, expected: list[str]
) -> None:
    losses: list[dict[str, Any]] = [
        {
            "label": {
                "en": {"one": "teammate", "other": "teammates"},
                "de-DE": {"one": "Teammitglied", "other": "Teammitglieder"},
                "fr": {"one": "coéquipier", "other": "coéquipiers"},
            },
            "count": 1,
        },
        {"label": {"en": "tasks", "de": "Aufgaben", "fr": "tâches"}, "count": 1234567},
        {"label": "seats", "count": 12},  # one label for every language
        {"label": {"en": "files", "de": "Dateien"}, "value": "3,412"},  # text as sent; no French: English
    ]
    page, _ = await start(client, settings, clock, token=embed_token(settings, clock, locale=locale, losses=losses))
    assert _tiles(page.text) == expected


async def test_the_original_label_value_losses_still_work(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    losses = [{"label": "projects", "value": "128"}, {"label": "Dateien", "value": "3.412"}]
    page, _ = await start(client, settings, clock, token=embed_token(settings, clock, locale="de", losses=losses))
    assert _tiles(page.text) == ["128 projects", "3.412 Dateien"]


@pytest.mark.parametrize(
    "loss",
    [
        {"label": "projects"},  # neither value nor count
        {"label": "projects", "value": "1", "count": 1},  # both
        {"label": {"en": {"one": "project"}}, "count": 1},  # no "other" form
        {"label": {"en": {"one": "project", "other": "projects"}}, "value": "1"},  # forms without a count
        {"label": {"en": {"single": "project", "other": "projects"}}, "count": 1},  # not a CLDR category
        {"label": {"english": "projects"}, "count": 1},  # not a language tag
        {"label": {}, "count": 1},
        {"label": "projects", "count": -1},
        {"label": "projects", "count": "12"},
        {"label": "projects", "count": 1.5},
    ],
)
async def test_badly_shaped_losses_get_the_friendly_error_page(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, loss: dict[str, Any]
) -> None:
    token = embed_token(settings, clock, locale="de", losses=[loss])
    page = await client.get("/w/start", params={"token": token}, headers={"Accept-Language": "de"})
    assert page.status_code == 401
    assert step_of(page.text) == "error"
    assert "Dieser Link ist ungültig" in page.text or "nicht gültig" in page.text


# --------------------------------------------------------------------------------------------- done screens
async def _accept(
    client: httpx.AsyncClient,
    settings: Settings,
    clock: FakeClock,
    customer: str,
    reason: str,
    offer: str,
    **extra: Any,
) -> httpx.Response:
    _, flow = await start(client, settings, clock, token=embed_token(settings, clock, customer, **extra))
    await flow.post("continue")
    shown = await flow.post("reason", {"reason": reason})
    while f'data-testid="accept-offer-{offer}"' not in shown.text:  # on a later screen of offers
        shown = await _decline(flow, shown)
    return await flow.post(f"offers/{offer}/accept")


async def test_pause_done_says_when_billing_resumes_and_how_to_resume_sooner(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    done = await _accept(client, settings, clock, "cus_demo_ada", "too_expensive", "pause-2-months")
    resumes = billing.subscriptions["sub_demo_ada"].paused_until
    assert resumes is not None
    assert _texts(done.text, "done-summary") == [
        f"Your subscription is paused. Billing resumes on {_long(resumes)} at $49/month."
    ]
    assert "choose “Resume now”" in _texts(done.text, "done-next")[0]  # the paused step offers it


async def test_pause_done_in_german(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    done = await _accept(client, settings, clock, "cus_demo_ada", "too_expensive", "pause-2-months", locale="de")
    resumes = billing.subscriptions["sub_demo_ada"].paused_until
    assert resumes is not None
    summary = _texts(done.text, "done-summary")[0]
    assert summary == f"Ihr Abo ist pausiert. Die Abrechnung läuft ab {_long(resumes, 'de')} mit 49\xa0$/Monat weiter."


async def test_trial_extension_done_gives_the_new_trial_end(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    done = await _accept(client, settings, clock, "cus_demo_linus", "not_using", "extend-trial-14-days")
    trial_end = billing.subscriptions["sub_demo_linus"].trial_end
    assert trial_end is not None
    assert _texts(done.text, "done-summary") == [
        f"Your trial now ends on {_long(trial_end)}. After that it's $49/month, unless you cancel."
    ]


async def test_discount_done_gives_the_price_and_until_when(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    started = clock()
    done = await _accept(client, settings, clock, "cus_demo_ada", "no_value", "discount-30-3-months")
    until = add_months(started, 3)  # a 3-month coupon, from the session start
    assert _texts(done.text, "done-summary") == [
        f"Your discount is applied: you pay $34.30/month instead of $49/month until {_long(until)}."
    ]


async def test_training_done_puts_the_booking_first_and_claims_nothing_is_settled(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    done = await _accept(client, settings, clock, "cus_demo_ada", "no_value", "training-call")
    assert "all set" not in done.text
    booking = _tag(done.text, "booking-link")
    assert "sf-btn-primary" in booking and 'href="https://example.com/book-a-session"' in booking
    assert "sf-btn-primary" not in _tag(done.text, "close-widget")
    assert done.text.index('data-testid="booking-link"') < done.text.index('data-testid="close-widget"')
    assert "The calendar confirms the time you choose." in _texts(done.text, "done-next")[0]


async def test_cancelled_done_gives_the_end_date_from_billing_and_what_is_kept_until_then(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock, token=embed_token(settings, clock, "cus_demo_grace", locale="de"))
    await flow.post("continue")
    await flow.post("cancel")
    done = await flow.post("confirm")
    ends = billing.subscriptions["sub_demo_grace"].current_period_end
    assert billing.subscriptions["sub_demo_grace"].cancel_at_period_end
    assert _texts(done.text, "done-summary") == [f"Es endet am {_long(ends, 'de')}. Es wird nichts mehr abgebucht."]
    assert _texts(done.text, "done-keep") == ["Bis dahin behalten Sie vollen Zugriff auf alles:"]
    kept = done.text[done.text.index('data-testid="done-kept"') :].split("</ul>")[0]
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", kept.split(">", 1)[1])).strip() == (
        "311 Projekte 12.840 Dateien 42 Teammitglieder"
    )
    # Changed your mind? The subscription runs to its period end, so the cancellation can still be undone.
    assert _texts(done.text, "changed-mind") == ["Haben Sie es sich anders überlegt?"]
    assert _texts(done.text, "undo-cancel") == ["Abo behalten"]
    form = _tag(done.text, "undo-cancel-form")
    assert f'action="/w/s/{flow.session_id}/offers/{REACTIVATE.id}/accept"' in form and "hx-post=" in form

    undone = await flow.post(f"offers/{REACTIVATE.id}/accept")
    assert 'data-outcome="reactivated"' in undone.text and "Ihr Abonnement läuft weiter" in undone.text
    assert json.loads(undone.headers["HX-Trigger-After-Settle"])["saveflow:finished"]["outcome"] == "reactivated"
    assert 'data-testid="undo-cancel"' not in undone.text
    again = await flow.post(f"offers/{REACTIVATE.id}/accept")  # a double click changes nothing more
    assert 'data-outcome="reactivated"' in again.text
    sid = flow.session_id  # each billing write once, under the ledger's derived key
    expected = [("cancel", f"sf:{sid}:cancel:1"), ("reactivate", f"sf:{sid}:offer:{REACTIVATE.id}:1")]
    assert [(c.method, c.idempotency_key) for c in billing.calls] == expected
    renewed = billing.subscriptions["sub_demo_grace"]
    assert not renewed.cancel_at_period_end
    view = await sessions.load_session(flow.session_id)
    assert (view.state.step, view.state.outcome, view.state.cancel_effective_at) == (
        StepKind.DONE,
        Outcome.REACTIVATED,
        None,
    )


async def test_changed_your_mind_works_without_javascript_and_a_refusal_leaves_it_cancelled(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, billing: InMemoryBillingProvider
) -> None:
    _, flow = await start(client, settings, clock, token=embed_token(settings, clock, "cus_demo_grace"))
    await flow.post("continue")
    done = await flow.post("cancel")
    assert _texts(done.text, "changed-mind") == ["Changed your mind?"]
    billing.fail_next(OfferNotApplicable("injected: nothing to undo"))
    refused = await flow.post(f"offers/{REACTIVATE.id}/accept", htmx=False)  # a plain form post
    assert refused.status_code == 303  # post/redirect/get, as every form without JavaScript
    page = await client.get(refused.headers["location"])
    ends = _long(billing.subscriptions["sub_demo_grace"].current_period_end)
    assert 'data-outcome="cancelled"' in page.text and 'data-testid="undo-cancel"' not in page.text
    assert _texts(page.text, "notice") == [f"We couldn't keep your subscription, so it still ends on {ends}."]
    assert billing.subscriptions["sub_demo_grace"].cancel_at_period_end


async def test_a_cancel_that_ends_the_subscription_now_offers_no_way_back(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    now = dataclasses.replace(default_definition(), cancel_at_period_end=False)
    await publish_version(now, clock(), note="cancel at once")
    _, flow = await start(client, settings, clock, token=embed_token(settings, clock, "cus_demo_grace"))
    await flow.post("continue")
    done = await flow.post("cancel")
    assert 'data-outcome="cancelled"' in done.text and "It ended on" in done.text
    assert "Changed your mind?" not in done.text and 'data-testid="undo-cancel' not in done.text
