"""Issue 24 item 1 over HTTP: compressed responses (br and gzip), content-hashed static URLs with their
cache policy, embed.js within its served budget, and the widget's inline style allowed by its CSP hash."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from service.http.assets import IMMUTABLE, STABLE, Assets
from service.settings import Settings
from tests.conftest import FakeClock
from tests.integration.widget_client import embed_token

EMBED_BUDGET_BYTES = 2048
ENCODINGS = ("br", "gzip")


def assets_in(html: str) -> dict[str, str]:
    """{"htmx.min.js": "/static/htmx.min.<hash>.js", ...} for every hashed /static URL the page links."""
    found = re.findall(r'"(/static/([\w.-]+)\.[0-9a-f]{10}(\.\w+))"', html)
    return {name + ext: url for url, name, ext in found}


async def widget_page(client: httpx.AsyncClient, settings: Settings, clock: FakeClock, encoding: str) -> httpx.Response:
    token = embed_token(settings, clock)
    return await client.get("/w/start", params={"token": token}, headers={"Accept-Encoding": encoding})


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_the_widget_page_and_its_assets_are_served_compressed(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock, encoding: str
) -> None:
    page = await widget_page(client, settings, clock, encoding)
    assert page.status_code == 200
    assert page.headers["content-encoding"] == encoding
    assert page.headers["vary"] == "HX-Request,Accept-Encoding"
    assert page.headers["cache-control"] == "no-store"
    assert page.num_bytes_downloaded < len(page.content) / 2
    linked = assets_in(page.text)
    assert set(linked) == {"widget.js", "htmx.min.js"}  # the styles are inline, not linked
    for url in (*linked.values(), Assets.load().url("widget.css")):
        asset = await client.get(url, headers={"Accept-Encoding": encoding})
        assert asset.status_code == 200, url
        assert asset.headers["content-encoding"] == encoding
        assert asset.headers["vary"] == "Accept-Encoding"
        assert asset.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
        assert asset.headers["content-type"] in ("text/javascript; charset=utf-8", "text/css; charset=utf-8")
        assert asset.num_bytes_downloaded < len(asset.content) / 2


async def test_without_accept_encoding_nothing_is_compressed(client: httpx.AsyncClient) -> None:
    response = await client.get(Assets.load().url("htmx.min.js"), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert response.num_bytes_downloaded == len(response.content) > 50_000


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_embed_js_keeps_its_stable_url_a_short_cache_and_its_budget(
    client: httpx.AsyncClient, encoding: str
) -> None:
    embed = await client.get("/static/embed.js", headers={"Accept-Encoding": encoding})
    assert embed.status_code == 200
    assert embed.headers["cache-control"] == STABLE == "public, max-age=300"
    assert embed.headers["content-encoding"] == encoding
    assert embed.num_bytes_downloaded <= EMBED_BUDGET_BYTES  # as served, compressed
    assert "prepare" in embed.text


async def test_a_hashed_url_revalidates_by_etag_and_unknown_names_are_404(client: httpx.AsyncClient) -> None:
    url = Assets.load().url("widget.css")
    first = await client.get(url)
    again = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    head = await client.head(url)
    assert (head.status_code, head.headers["etag"], head.content) == (200, first.headers["etag"], b"")
    assert again.headers["cache-control"] == IMMUTABLE
    assert (await client.get("/static/widget.0123456789.css")).status_code == 404
    assert (await client.get("/static/nothing.js")).status_code == 404


def test_a_hashed_url_changes_when_the_file_changes(tmp_path: Path) -> None:
    (tmp_path / "widget.css").write_text("body { color: red; }")
    before = Assets.load(tmp_path)
    (tmp_path / "widget.css").write_text("body { color: blue; }")
    after = Assets.load(tmp_path)
    assert before.url("widget.css") != after.url("widget.css")
    assert re.fullmatch(r"/static/widget\.[0-9a-f]{10}\.css", after.url("widget.css"))
    assert after.lookup(after.url("widget.css").removeprefix("/static/")) is not None
    assert after.lookup(before.url("widget.css").removeprefix("/static/")) is None  # the old URL is gone
    with pytest.raises(KeyError):
        after.url("missing.css")


async def test_the_inline_style_is_allowed_by_its_hash_and_nothing_else(
    client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    page = await widget_page(client, settings, clock, "br")
    styles = re.findall(r"<style>(.*?)</style>", page.text, flags=re.DOTALL)
    assert len(styles) == 1 and "--sf-brand" in styles[0] and ".sf-btn" in styles[0]
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    csp = page.headers["content-security-policy"]
    assert f"style-src 'self' 'sha256-{digest}';" in csp
    assert "unsafe-inline" not in csp and "script-src 'self';" in csp
    assert '<link rel="stylesheet"' not in page.text  # nothing render-blocking before the first paint
    assert all(" defer>" in tag for tag in re.findall(r"<script[^>]*>", page.text))


async def test_other_pages_link_the_hashed_files(client: httpx.AsyncClient) -> None:
    login = await client.get("/admin/login")
    assert {"widget.css", "pages.css", "htmx.min.js"} <= set(assets_in(login.text))
    assert "<style>" not in login.text
    home = await client.get("/")  # the demo host plays a host app: embed.js, its own script, none of ours
    assert set(assets_in(home.text)) == {"widget.css", "pages.css", "demo.js"}
    assert '/static/embed.js"' in home.text  # by its stable URL, as host apps link it
