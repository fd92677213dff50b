"""Command line: `python -m service {migrate,seed,serve,sweep,refresh-rollup,create-admin,…}`.

Rules: an entry point; reads the environment once through `Settings.from_env`. `serve` also sets up what
uvicorn's processes share: JSON logging, and with several workers PROMETHEUS_MULTIPROC_DIR, which must be in
the environment before any process imports prometheus_client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import io
import logging
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flows import default_definition
from service import __version__
from service.settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def _now() -> datetime:
    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[None]:
    """The settings' database, bound and open for one command."""
    from service.db.engine import bind_tables, close_engine, create_engine, open_engine

    engine = create_engine(settings.database)
    bind_tables(engine)
    await open_engine(engine)
    try:
        yield
    finally:
        await close_engine(engine)


async def _migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="all")
    if not result.success:
        raise SystemExit(f"migrations failed: {result.message}")


async def _seed(settings: Settings, *, sample_history: bool = False) -> None:
    """Publish the default flow (if none yet) and create the demo admin (if demo mode and none yet)."""
    from service.repositories import sessions as session_repo
    from service.repositories.flows import published_version
    from service.use_cases.flow_config import publish_flow
    from service.use_cases.staff import StaffUserExists, create_staff_user

    async with _database(settings):
        if await published_version("default") is None:
            await publish_flow(default_definition(), _now(), note="Shipped default flow")
            print("Published the default save flow (version 1).")
        if sample_history and settings.demo and not await session_repo.any_exist():
            from service.demo_history import seed_history

            added = await seed_history(_now(), verify_after_days=settings.verify_saves_after_days)
            print(f"Added {added} sample sessions from the last 60 days, so the dashboard has something to show.")
        if settings.demo and settings.demo_admin_password:
            with contextlib.suppress(StaffUserExists):
                await create_staff_user(settings.demo_admin_email, settings.demo_admin_password, "admin", _now())
            url, email, password = settings.public_url, settings.demo_admin_email, settings.demo_admin_password
            print(f"\n  Demo host app: {url}/\n  Admin:         {url}/admin   login {email} / {password}\n")


async def _sweep(settings: Settings) -> None:
    from service.app import build_billing, utc_now
    from service.use_cases.billing_effects import sweep_pending

    async with _database(settings):
        done = await sweep_pending(billing=build_billing(settings, utc_now), clock=utc_now)
        print(f"Finished {done} pending billing operation(s).")


async def _replay_webhooks(settings: Settings) -> None:
    from datetime import timedelta

    from service.app import build_billing, utc_now
    from service.use_cases.webhooks import replay_failed_webhooks

    async with _database(settings):
        done = await replay_failed_webhooks(
            billing=build_billing(settings, utc_now),
            clock=utc_now,
            verify_after=timedelta(days=settings.verify_saves_after_days),
        )
        print(f"Replayed {done} failed webhook(s).")


async def _refresh_rollup(settings: Settings) -> None:
    from service.db.rollup import refresh_dirty_days

    async with _database(settings):
        days = await refresh_dirty_days()
        print(f"Recomputed the dashboard rollup for {days} day(s).")


async def _add_webhook(settings: Settings, url: str, events: list[str], description: str) -> None:
    from service.use_cases.outbound import add_endpoint

    async with _database(settings):
        secret = await add_endpoint(url, event_types=tuple(events), description=description, now=_now())
    print(f"Webhook endpoint added. Verify deliveries with this signing secret (shown once):\n  {secret}")


async def _create_admin(settings: Settings, email: str, role: str) -> None:
    from service.use_cases.staff import create_staff_user

    password = os.environ.get("SAVEFLOW_NEW_ADMIN_PASSWORD") or getpass.getpass("Password (10+ characters): ")
    async with _database(settings):
        await create_staff_user(email, password, role, _now())
    print(f"Created {role} {email}.")


def main(argv: list[str] | None = None) -> int:
    # Piccolo finds its engine and migrations through PICCOLO_CONF; the installed package carries its own.
    os.environ.setdefault("PICCOLO_CONF", "service.piccolo_conf")
    parser = argparse.ArgumentParser(prog="saveflow", description="Save-flow service commands")
    parser.add_argument("--version", action="version", version=f"saveflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    seed = sub.add_parser("seed", help="publish the default flow; in demo mode create the demo admin and print it")
    seed.add_argument(
        "--sample-history", action="store_true", help="in demo mode, on an empty database: add sample past sessions"
    )
    serve = sub.add_parser("serve", help="run the web server (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--migrate", action="store_true", help="apply pending database migrations before serving")
    sub.add_parser("sweep", help="finish billing operations a crash left pending")
    sub.add_parser("refresh-rollup", help="recompute dashboard figures for changed days (e.g. after a bulk import)")
    sub.add_parser("replay-webhooks", help="reprocess billing webhooks whose processing failed")
    hook = sub.add_parser("add-webhook", help="send session events to a URL (Standard Webhooks signatures)")
    hook.add_argument("url")
    hook.add_argument("--event", action="append", default=[], dest="events", help="only this event type (repeatable)")
    hook.add_argument("--description", default="")
    create = sub.add_parser("create-admin", help="create a staff user")
    create.add_argument("email")
    create.add_argument("--role", choices=["viewer", "editor", "admin"], default="admin")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except ValueError as exc:  # ConfigError and bad input: a sentence, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "migrate":
        asyncio.run(_migrate())
        return 0
    settings = Settings.from_env(os.environ)
    if args.command == "seed":
        asyncio.run(_seed(settings, sample_history=args.sample_history))
    elif args.command == "sweep":
        asyncio.run(_sweep(settings))
    elif args.command == "refresh-rollup":
        asyncio.run(_refresh_rollup(settings))
    elif args.command == "replay-webhooks":
        asyncio.run(_replay_webhooks(settings))
    elif args.command == "add-webhook":
        asyncio.run(_add_webhook(settings, args.url, args.events, args.description))
    elif args.command == "create-admin":
        asyncio.run(_create_admin(settings, args.email, args.role))
    elif args.command == "serve":
        _serve(args, settings)
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    """uvicorn with JSON logs; several workers share one metrics directory; `--migrate` migrates first."""
    import uvicorn

    if args.workers > 1 and not settings.database.is_postgres:
        raise ValueError(
            f"--workers {args.workers} needs Postgres: SQLite is the single-process mode (one writer). "
            "Set DATABASE_URL=postgresql://… for several workers, or run one worker."
        )
    metrics_dir = _metrics_dir(args.workers)
    from service.observability import configure_logging, uvicorn_log_config  # after PROMETHEUS_MULTIPROC_DIR

    configure_logging()
    try:
        if args.migrate:
            asyncio.run(_migrate_logged())
        uvicorn.run(
            "service.asgi:create",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            timeout_graceful_shutdown=30,  # SIGTERM: stop accepting, let requests in flight finish
            log_config=uvicorn_log_config(),
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_dir(workers: int) -> str | None:
    """PROMETHEUS_MULTIPROC_DIR for the workers: the operator's, emptied of a previous run's files
    (prometheus_client's rule) and kept; else for several workers one of our own (private, fresh, removed
    on exit; returned); else none (one process counts in memory)."""
    if given := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.remove(os.path.join(given, name))
        return None
    if workers <= 1:
        return None
    path = tempfile.mkdtemp(prefix="saveflow-metrics-")  # mode 0700: only this user's processes read it
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path  # inherited by the workers uvicorn spawns
    return path


async def _migrate_logged() -> None:
    """`serve --migrate`: Piccolo's forwards, its printed progress turned into log lines (logs stay JSON)."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    log = logging.getLogger("service.migrate")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = await run_forwards(app_name="all")
    for line in out.getvalue().splitlines():
        if line.strip():
            log.info("%s", line.strip())
    for line in err.getvalue().splitlines():
        if line.strip():
            log.error("%s", line.strip())
    if not result.success:
        log.error("migrations failed: %s", result.message)
        raise SystemExit(1)


if __name__ == "__main__":
    sys.exit(main())
