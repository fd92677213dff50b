"""The widget speaks the customer's language: token locale first, then Accept-Language, then English."""

from __future__ import annotations

import httpx
import pytest

from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import embed_token, start


@pytest.mark.parametrize(
    ("locale", "survey_title", "reason", "offer_fact", "terms"),
    [
        ("en", "Why are you leaving?", "It&#39;s too expensive", "$49/month", "stays active until"),
        ("de", "Warum möchten Sie gehen?", "Es ist mir zu teuer", "49\xa0$/Monat", "bleibt bis"),
        ("fr", "Pourquoi partez-vous ?", "C&#39;est trop cher", "49\xa0$US/mois", "reste actif jusqu"),
        ("es", "¿Por qué se va?", "Es demasiado caro", "49\xa0US$/mes", "sigue activa hasta"),
    ],
)
async def test_each_locale_renders_translated_steps_copy_and_formats(
    client: httpx.AsyncClient,
    settings: Settings,
    clock: FakeClock,
    locale: str,
    survey_title: str,
    reason: str,
    offer_fact: str,
    terms: str,
) -> None:
    page, flow = await start(client, settings, clock, locale=locale)
    assert f'<html lang="{locale}" ' in page.text
    survey = await flow.post("continue")
    assert survey_title in survey.text
    assert reason in survey.text
    offer = await flow.post("reason", {"reason": "too_expensive"})
    assert offer_fact in offer.text
    confirm = await flow.post("cancel")
    assert terms in confirm.text


async def test_accept_language_is_used_when_the_token_has_no_locale(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    token = embed_token(settings, clock)
    page = await client.get("/w/start", params={"token": token}, headers={"Accept-Language": "de-CH,de;q=0.9"})
    assert "Bevor Sie gehen" in page.text


async def test_refusals_are_friendly_in_the_users_language(client: httpx.AsyncClient) -> None:
    page = await client.get("/w/start", params={"token": "nonsense"}, headers={"Accept-Language": "es"})
    assert page.status_code == 401
    assert "Lo sentimos, algo ha salido mal" in page.text
    assert '<html lang="es" ' in page.text
