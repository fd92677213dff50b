"""Browser-test fixtures: a live uvicorn server on a free port (own database; in-memory billing, or Stripe's
API served by FakeStripe on loopback), a host app of its own on another loopback address (127.0.0.2) whose
origin the service allows, and Debian's Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.conftest import database_settings
from tests.support.servers import HostAppServer, free_port, wait_until_healthy
from tests.support.stripe_http import FakeStripe
from tests.support.stripe_server import StripeServer, demo_stripe

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# What a person sees, not how fast (that is `make bench`'s): under make test two suites, mypy and their browsers
# share two cores, and a step that calls billing has taken over Playwright's default 5 s to appear.
expect.set_options(timeout=10_000)
DB_FILE = "e2e.sqlite"
# The two screens the widget is checked on (issue 24).
VIEWPORTS: dict[str, ViewportSize] = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@dataclass(frozen=True)
class LiveServer:
    url: str  # the service (widget, admin, API)
    host_url: str  # the same server under another origin: plays the host app, as in production
    admin_email: str
    admin_password: str
    artifacts: Path  # screenshots a person can look at
    api_key: str
    embed_secret: str  # what a host backend signs embed tokens with
    foreign_host: HostAppServer  # a separate server on 127.0.0.2 (an allowed origin): a real host app
    env: dict[str, str]  # the server's environment: for `python -m service …` commands against its database
    stripe: FakeStripe | None = None  # billing through Stripe: what the service sent (`stripe.writes()`), its state


def _create_postgres_database(base_url: str, *, template: str = "") -> str:
    """A database of its own on the test cluster (a copy of `template`'s), so integration tests can empty
    theirs freely; returns its URL."""
    import asyncpg

    name = "e2e_" + uuid.uuid4().hex[:10]

    async def create() -> None:
        conn = await asyncpg.connect(base_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        finally:
            await conn.close()

    asyncio.run(create())
    return base_url.rsplit("/", 1)[0] + "/" + name


@functools.cache
def _seeded_template() -> tuple[Path, str]:
    """`migrate` and `seed`, run once per test run into a template: each live server starts from a copy of it
    (a copied SQLite file, or a Postgres database created from it), which saves two commands' start-up per
    server. Returns the template's directory (database file, secrets) and its Postgres database name, if any."""
    workdir = Path(tempfile.mkdtemp(prefix="saveflow-e2e-template-"))
    env = _base_env(workdir)
    database = ""
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = _create_postgres_database(os.environ["DATABASE_URL"])
        database = env["DATABASE_URL"].rsplit("/", 1)[1]
    for command in ("migrate", "seed"):
        subprocess.run(
            [sys.executable, "-m", "service", command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120
        )
    return workdir, database


def _base_env(workdir: Path) -> dict[str, str]:
    # A developer's own STRIPE_* must not turn the in-memory runs into real Stripe ones.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH") and "STRIPE" not in k}
    env.update(
        SAVEFLOW_SECRETS_FILE=str(workdir / "secrets.json"), SAVEFLOW_DEMO="1", SQLITE_PATH=str(workdir / DB_FILE)
    )
    return env


@contextlib.contextmanager
def running_service(prefix: str, billing_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """`make run`'s service on a free port with its own database and fresh in-memory demo billing (or the
    billing `billing_env` configures; "{url}" in a value is the server's own address), plus a host app of its
    own on 127.0.0.2 (an allowed origin); stopped on exit."""
    template, template_database = _seeded_template()
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    for file in template.iterdir():  # the secrets, and the SQLite database unless it is Postgres
        shutil.copyfile(file, workdir / file.name)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    foreign_host = HostAppServer("127.0.0.2")
    env = _base_env(workdir)
    env.update(
        SAVEFLOW_PUBLIC_URL=url,
        SAVEFLOW_ALLOWED_ORIGINS=f"http://localhost:{port},{foreign_host.url}",
        **{name: value.replace("{url}", url) for name, value in (billing_env or {}).items()},
    )
    if template_database:
        env["DATABASE_URL"] = _create_postgres_database(os.environ["DATABASE_URL"], template=template_database)
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    foreign_host.start()
    try:
        wait_until_healthy(url, process, log)
        secrets = json.loads((workdir / "secrets.json").read_text())
        artifacts = ROOT / "test-results"
        artifacts.mkdir(exist_ok=True)
        yield LiveServer(
            url=url,
            host_url=f"http://localhost:{port}",
            admin_email="admin@example.com",
            admin_password=secrets["demo_admin_password"],
            artifacts=artifacts,
            api_key=secrets["api_key"],
            embed_secret=secrets["embed_secret"],
            foreign_host=foreign_host,
            env=env,
        )
    finally:
        foreign_host.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session", name="live_server")
def fx_live_server() -> Iterator[LiveServer]:
    """The server most browser tests share. They walk the flow in test mode, so billing stays as seeded."""
    with running_service("saveflow-e2e-") as server:
        yield server


@pytest.fixture(scope="module", name="own_live_server")
def fx_own_live_server() -> Iterator[LiveServer]:
    """A server of the module's own, for tests that really change billing: on the shared one, a customer
    another test paused is (rightly) offered no pause, and the tests would depend on their order."""
    with running_service("saveflow-e2e-own-") as server:
        yield server


# The walks that change billing run on the in-memory provider with SQLite (the demo's pair) and on Stripe with
# Postgres (production's): each walk meets both databases and both providers within one `make test`, at half
# the cost of all four pairs. The providers' own differences are the contract suite's and
# tests/integration/test_billing_providers.py's business.
BILLING_PROVIDERS = ["stripe"] if database_settings().is_postgres else ["memory"]


@pytest.fixture(scope="module", name="billing_server", params=BILLING_PROVIDERS)
def fx_billing_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A server of the module's own on the billing provider paired with this run's database: the in-memory one,
    or Stripe, whose real stripe-python talks HTTP on loopback (STRIPE_API_BASE) to a FakeStripe holding the demo
    customers' subscriptions (tests/support/stripe_server.py). For the walks that change billing."""
    if request.param == "memory":
        with running_service("saveflow-e2e-own-") as server:
            yield server
    else:
        with StripeServer(demo_stripe()) as api, running_service("saveflow-e2e-stripe-", api.env()) as server:
            yield replace(server, stripe=api.fake)


@pytest.fixture(name="open_page")
async def fx_open_page(browser: Browser) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """Pages in contexts of their own, at a named viewport (VIEWPORTS), JavaScript on or off."""
    contexts: list[BrowserContext] = []

    async def open_page(viewport: str, *, javascript: bool = True) -> Page:
        context = await browser.new_context(viewport=VIEWPORTS[viewport], java_script_enabled=javascript)
        contexts.append(context)
        return await context.new_page()

    yield open_page
    for context in contexts:
        await context.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Playwright cannot download its own browser here: drive Debian's Chromium instead (STACK.md §5).
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.browser)
