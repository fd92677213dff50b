"""The widget looks like the host: theme from configuration, logo, and merge fields in the flow's copy."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from flows import default_definition
from service.settings import ConfigError, Settings, Theme
from service.use_cases.flow_config import publish_flow
from tests.conftest import FakeClock, make_settings
from tests.integration.widget_client import start

THEME = Theme(
    brand="#0f766e",
    brand_contrast="#ffffff",
    font="'Inter', Arial",
    radius_px=4,
    logo_url="https://cdn.host.example/logo.svg",
)


@pytest.fixture(name="settings")
def fx_settings() -> Settings:
    return make_settings(theme=THEME)


async def test_theme_css_carries_the_configured_brand(client: httpx.AsyncClient) -> None:
    css = await client.get("/w/theme.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "--sf-brand: #0f766e;" in css.text
    assert "--sf-radius: 4px;" in css.text
    assert "--sf-font: 'Inter', Arial, system-ui, sans-serif;" in css.text


async def test_the_logo_is_shown_and_allowed_by_the_csp(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    page, _ = await start(client, settings, clock)
    assert 'src="https://cdn.host.example/logo.svg"' in page.text
    assert "img-src 'self' data: https://cdn.host.example;" in page.headers["content-security-policy"]
    assert "--sf-brand: #0f766e;" in page.text  # the theme is inlined with widget.css (service/http/assets.py)


async def test_merge_fields_fill_the_copy(client: httpx.AsyncClient, settings: Settings, clock: FakeClock) -> None:
    base = default_definition()
    pause = dataclasses.replace(
        base.offers[0],
        copy=dataclasses.replace(
            base.offers[0].copy, body='{{ first_name | default("Friend") }}, keep {{ plan }} for less than {{ price }}.'
        ),
    )
    await publish_flow(dataclasses.replace(base, offers=(pause, *base.offers[1:]), copy={}), clock())
    _, flow = await start(client, settings, clock, first_name="Ada")
    await flow.post("continue")
    offer = await flow.post("reason", {"reason": "too_expensive"})
    assert "Ada, keep Pro for less than $49/month." in offer.text
    _, anonymous = await start(client, settings, clock)
    await anonymous.post("continue")
    assert "Friend, keep Pro" in (await anonymous.post("reason", {"reason": "too_expensive"})).text


@pytest.mark.parametrize(
    "theme",
    [
        {"brand": "red"},
        {"brand": "#12345"},
        {"font": "x; } body { display:none"},
        {"radius_px": 99},
        {"logo_url": "http://insecure.example/logo.png"},
    ],
)
def test_unsafe_theme_values_are_refused(theme: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Theme(**theme)  # type: ignore[arg-type]
