"""The integrators' snippets in clients/, run with Debian's toolchains against the running service: a token each
language mints opens /w/start, and each verifies a webhook the service really delivered (and refuses a tampered or
stale one). The ES-module embed is the current build of embed.js, type-checks with tsc, and opens the flow."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
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
    # Several signatures while a secret is rotated: any one that matches will do, wherever it stands.
    bogus = "v1,bm90IHRoZSBzaWduYXR1cmU="
    for listed in (f"{bogus} {headers['webhook-signature']}", f"{headers['webhook-signature']} {bogus}"):
        assert verify(command, secret, body, {**headers, "webhook-signature": listed}).returncode == 0

    def refuses(secret: str, body: bytes, headers: dict[str, str]) -> None:
        refused = verify(command, secret, body, headers)
        assert (refused.returncode, refused.stdout) == (1, ""), refused.stdout + refused.stderr
        assert refused.stderr.startswith("not verified:"), refused.stderr  # refused, not crashed

    refuses(secret, body.replace(b'"cancelled"', b'"saved"'), headers)  # tampered
    refuses("whsec_" + base64.b64encode(b"an endpoint's other secret, 32 b").decode(), body, headers)
    # An empty key is a key anyone can sign with: unset or empty secrets must verify nothing.
    now = str(int(datetime.now(UTC).timestamp()))
    signed = f"{headers['webhook-id']}.{now}.".encode() + body
    forged = {**headers, "webhook-timestamp": now, "webhook-signature": "v1," + _base64_hmac(b"", signed)}
    for unset in ("", "whsec_"):
        refuses(unset, body, forged)
    # Only v1 signatures count (the spec's other versions are asymmetric).
    refuses(secret, body, {**headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")})
    # Correctly signed but ten minutes old (a replayed capture) or ten minutes ahead: the spec's tolerance is 5.
    for skew in (timedelta(minutes=-10), timedelta(minutes=10)):
        at = datetime.now(UTC) + skew
        resigned = Webhook(secret).sign(headers["webhook-id"], at, body.decode())
        refuses(secret, body, {**headers, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": resigned})


def _base64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


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
    # Imported where there is no window (server-side rendering), it only defines its exports.
    script = f"const m = await import({json.dumps(str(MODULE))}); console.log(Object.keys(m).sort().join())"
    imported = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, check=False
    )
    assert (imported.returncode, imported.stdout.strip()) == (0, "SaveFlow,default,open,prepare"), imported.stderr


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
  try {{ embed.open({{ token: "t" }}); }} catch (error) {{ window.withoutBaseUrl = error.name + ": " + error.message; }}
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
        assert (
            await page.evaluate("window.withoutBaseUrl")
            == "TypeError: SaveFlow: pass baseUrl, the save-flow service's URL"
        )
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
