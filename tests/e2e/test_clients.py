"""The integrators' snippets in clients/, run with Debian's toolchains against the running service: a token each
language mints opens /w/start, and each verifies a webhook the service really delivered (and refuses a tampered or
stale one). The ES-module embed is the current build of embed.js, type-checks with tsc, and opens the flow."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from playwright.async_api import Browser, expect
from standardwebhooks import Webhook

from flows.model import Outcome
from offers.model import OfferKind
from tests.conftest import database_settings
from tests.e2e.conftest import LiveServer
from tests.e2e.pages import WidgetPage
from tests.support.embed_module import MODULE, SOURCE, build
from tests.support.servers import WebhookInbox

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
LANGUAGES = ("node", "ruby", "php", "go")
DEBIAN_JWT_GO = "/usr/share/gocode/src/github.com/golang-jwt/jwt"  # golang-github-golang-jwt-jwt-dev


@pytest.fixture(scope="module", name="commands")
def fx_commands(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """How to run each snippet. Go's is built once, in module mode against Debian's golang-jwt (no proxy)."""
    build_dir = tmp_path_factory.mktemp("go-client")
    for name in ("saveflow.go", "go.mod"):
        shutil.copyfile(CLIENTS / "go" / name, build_dir / name)
    go_env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    for args in (
        ["go", "mod", "edit", f"-replace=github.com/golang-jwt/jwt/v4={DEBIAN_JWT_GO}"],
        ["go", "build", "-o", "saveflow", "."],
    ):
        done = subprocess.run(args, cwd=build_dir, env=go_env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    unformatted = subprocess.run(["gofmt", "-l", str(CLIENTS / "go")], capture_output=True, text=True, check=True)
    assert unformatted.stdout == "", f"gofmt: {unformatted.stdout}"
    return {
        "node": ["node", str(CLIENTS / "node/saveflow.mjs")],
        "ruby": ["ruby", str(CLIENTS / "ruby/saveflow.rb")],
        "php": ["php", str(CLIENTS / "php/saveflow.php")],
        "go": [str(build_dir / "saveflow")],
    }


def mint(command: list[str], secret: str, customer: str, subscription: str) -> str:
    env = {**os.environ, "SAVEFLOW_EMBED_SECRET": secret}
    args = [*command, "token", customer, subscription, "--test"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def verify(command: list[str], secret: str, body: bytes, headers: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAVEFLOW_WEBHOOK_SECRET": secret,
        "WEBHOOK_ID": headers["webhook-id"],
        "WEBHOOK_TIMESTAMP": headers["webhook-timestamp"],
        "WEBHOOK_SIGNATURE": headers["webhook-signature"],
    }
    return subprocess.run([*command, "verify"], input=body.decode(), env=env, capture_output=True, text=True)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_each_language_mints_a_token_that_opens_the_flow(
    own_live_server: LiveServer, commands: dict[str, list[str]], language: str
) -> None:
    server = own_live_server
    token = mint(commands[language], server.embed_secret, "cus_demo_grace", "sub_demo_grace")
    claims = jwt.decode(token, server.embed_secret, algorithms=["HS256"])
    assert (claims["sub"], claims["subscription_id"], claims["test"]) == ("cus_demo_grace", "sub_demo_grace", True)
    assert abs(claims["iat"] - time.time()) < 60 and claims["exp"] - claims["iat"] == 15 * 60
    assert (
        claims["jti"]
        != jwt.decode(
            mint(commands[language], server.embed_secret, "cus_demo_grace", "sub_demo_grace"),
            server.embed_secret,
            algorithms=["HS256"],
        )["jti"]
    )  # one token per click

    async with httpx.AsyncClient(base_url=server.url, follow_redirects=True) as http:
        page = await http.get("/w/start", params={"token": token})
        assert page.status_code == 200, page.text
        assert 'data-testid="step-loss-aversion"' in page.text
        forged = mint(commands[language], "another secret of at least thirty-two chars", "cus_demo_grace", "x")
        assert (await http.get("/w/start", params={"token": forged})).status_code in (400, 401, 403)


@pytest.fixture(scope="module", name="delivery")
async def fx_delivery(
    own_live_server: LiveServer, browser: Browser, commands: dict[str, list[str]]
) -> AsyncIterator[tuple[str, bytes, dict[str, str]]]:
    """A real `session.completed` delivery: an endpoint added with the CLI, then a flow cancelled (test mode)
    without JavaScript under a token the Ruby snippet minted. Yields the endpoint's secret, body and headers."""
    server = own_live_server
    inbox = WebhookInbox()
    added = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "service", "add-webhook", inbox.url, "--event", "session.completed"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"whsec_\S+", added.stdout)
    assert match, added.stdout
    token = mint(commands["ruby"], server.embed_secret, "cus_demo_linus", "sub_demo_linus")
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(f"{server.url}/w/start?token={token}")
        await page.get_by_test_id("continue").click()
        await page.get_by_test_id("cancel-now").click()
        await expect(page.get_by_test_id("step-done")).to_have_attribute("data-outcome", "cancelled")
    finally:
        await context.close()
    body, headers = await asyncio.to_thread(inbox.wait_for, "session.completed")
    yield match.group(), body, headers
    inbox.close()


@pytest.mark.parametrize("language", LANGUAGES)
async def test_each_language_verifies_a_delivered_webhook_and_refuses_a_forged_one(
    delivery: tuple[str, bytes, dict[str, str]], commands: dict[str, list[str]], language: str
) -> None:
    secret, body, headers = delivery
    command = commands[language]
    accepted = verify(command, secret, body, headers)
    assert (accepted.returncode, accepted.stdout.strip()) == (0, "session.completed"), accepted.stderr
    # Several signatures while a secret is rotated: any one that matches will do.
    rotated = {**headers, "webhook-signature": "v1,bm90IHRoZSBzaWduYXR1cmU= " + headers["webhook-signature"]}
    assert verify(command, secret, body, rotated).returncode == 0

    tampered = body.replace(b'"cancelled"', b'"saved"')
    assert tampered != body
    assert verify(command, secret, tampered, headers).returncode == 1
    other_secret = "whsec_" + base64.b64encode(b"an endpoint's other secret, 32 b").decode()
    assert verify(command, other_secret, body, headers).returncode == 1
    # Correctly signed, but ten minutes old: a replayed capture (Standard Webhooks' 5-minute tolerance).
    stale_at = datetime.now(UTC) - timedelta(minutes=10)
    stale = {
        **headers,
        "webhook-timestamp": str(int(stale_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(headers["webhook-id"], stale_at, body.decode()),
    }
    refused = verify(command, secret, body, stale)
    assert refused.returncode == 1 and refused.stdout == "", refused.stdout


@pytest.mark.skipif(
    not database_settings().is_postgres, reason="touches no database: runs once, in the Postgres process"
)
def test_the_es_module_is_the_current_build_of_embed_js() -> None:
    assert MODULE.read_text() == build(SOURCE.read_text()), "run: python -m tests.support.embed_module"


@pytest.mark.skipif(
    not database_settings().is_postgres, reason="touches no database: runs once, in the Postgres process"
)
def test_the_types_type_check_and_name_every_outcome_and_offer_kind() -> None:
    tsc = CLIENTS / "js/node_modules/.bin/tsc"
    checked = subprocess.run([str(tsc), "-p", str(CLIENTS / "js")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    types = (CLIENTS / "js/saveflow.d.mts").read_text()

    def union(name: str) -> set[str]:
        found = re.search(rf"export type {name} =([^;]+);", types)
        assert found, name
        return set(re.findall(r'"(\w+)"', found.group(1)))

    assert union("Outcome") == {o.value for o in Outcome}
    assert union("OfferKind") == {k.value for k in OfferKind}


async def test_the_es_module_opens_the_flow_from_a_host_page_and_resolves_the_outcome(
    own_live_server: LiveServer, browser: Browser, commands: dict[str, list[str]]
) -> None:
    """A host app that bundles the module (served from its own origin) and passes `baseUrl`."""
    server = own_live_server
    token = mint(commands["node"], server.embed_secret, "cus_demo_ada", "sub_demo_ada")
    host = server.foreign_host
    host.page = f"""<!doctype html><html lang="en"><title>host</title>
<button data-testid="cancel-subscription" id="cancel">Cancel subscription</button><output id="result"></output>
<script type="module">
  import * as embed from "{host.url}/assets/saveflow.mjs";
  window.exported = Object.keys(embed).sort().join(",");
  document.getElementById("cancel").addEventListener("click", async () => {{
    const result = await embed.open({{ token: {json.dumps(token)}, baseUrl: {json.dumps(server.url)} }});
    document.getElementById("result").textContent = result.outcome + " " + (result.sessionId || "");
  }});
</script></html>"""
    page = await browser.new_page()
    try:
        await page.route(
            f"{host.url}/assets/saveflow.mjs",
            lambda route: route.fulfill(body=MODULE.read_text(), content_type="text/javascript"),
        )
        await page.goto(f"{host.url}/account")
        await page.wait_for_function("window.exported")
        assert await page.evaluate("window.exported") == "SaveFlow,default,open,prepare"  # as saveflow.d.mts says
        await page.get_by_test_id("cancel-subscription").click()
        widget = WidgetPage(page)
        await widget.expect_step("loss-aversion")
        await widget.click("continue")
        await widget.click("cancel-now")
        await expect(widget.step("done")).to_have_attribute("data-outcome", "cancelled")
        await widget.click("close-widget")
        await expect(page.locator("#result")).to_have_text(re.compile(r"^cancelled \S+$"))
    finally:
        await page.close()
