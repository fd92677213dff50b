"""The host's theme reaches the widget page (light unless asked), /w/theme.css is the inlined theme, the demo host
page shows the subscription as billing has it now, and its account card brings a fresh token every time."""

from __future__ import annotations

import re

import httpx
import pytest

from service.http.assets import theme_css
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import HOST_ORIGIN, embed_token, start

TOKEN = re.compile(r'data-token="([^"]+)"')


@pytest.mark.parametrize(("asked", "shown"), [(None, "light"), ("dark", "dark"), ("auto", "auto"), ("neon", "light")])
async def test_the_widget_page_takes_the_hosts_theme(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, asked: str | None, shown: str
) -> None:
    params = {"token": embed_token(settings, clock), "origin": HOST_ORIGIN}
    if asked:
        params["theme"] = asked
    page = await client.get("/w/start", params=params)
    assert page.status_code == 200
    assert f'<html lang="en" data-theme="{shown}">' in page.text


async def test_a_later_full_page_of_the_widget_is_light(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    _, flow = await start(client, settings, clock)
    page = await flow.post("continue", htmx=False)  # 303 to the next step as a full page
    follow = await client.get(page.headers["location"]) if page.status_code == 303 else page
    assert 'data-theme="light"' in follow.text


async def test_theme_css_is_the_inlined_theme(client: httpx.AsyncClient, settings: Settings) -> None:
    css = await client.get("/w/theme.css")
    assert css.text == theme_css(settings.theme)
    assert "prefers-color-scheme" not in css.text  # the host decides, not the OS


async def test_the_demo_page_shows_billing_and_each_card_brings_a_fresh_token(client: httpx.AsyncClient) -> None:
    home = await client.get("/", params={"customer": "cus_demo_linus", "theme": "dark"})
    assert home.status_code == 200
    assert 'data-theme="dark"' in home.text
    assert 'data-status="trialing"' in home.text and "Trial until" in home.text
    url = re.search(r'data-account-url="([^"]+)"', home.text)
    assert url
    account_url = url.group(1).replace("&amp;", "&")
    assert "customer=cus_demo_linus" in account_url and "theme=dark" in account_url
    first, second = await client.get(account_url), await client.get(account_url)
    assert first.status_code == second.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    tokens = {TOKEN.findall(r.text)[0] for r in (home, first, second)}
    assert len(tokens) == 3  # one per render: every click can start a session of its own
    assert "<html" not in first.text and 'data-testid="account"' in first.text
