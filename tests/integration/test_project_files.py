"""The project's own files agree: one version number everywhere, a licence, a changelog entry for it."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx

from service import __version__

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_version_is_set_once_and_reported_everywhere() -> None:
    assert __version__ == PROJECT["version"]
    shown = subprocess.run(
        [sys.executable, "-m", "service", "--version"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == f"saveflow {PROJECT['version']}"


async def test_the_api_document_carries_the_package_version(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert document["info"]["version"] == PROJECT["version"]


def test_the_licence_is_stated_and_shipped() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]


def test_the_clients_packages_carry_the_version_and_the_licence() -> None:
    embed = json.loads((ROOT / "clients/js/package.json").read_text())  # published: it has a version
    assert (embed["version"], embed["license"]) == (PROJECT["version"], PROJECT["license"])
    assert json.loads((ROOT / "clients/node/package.json").read_text())["license"] == PROJECT["license"]


def test_the_changelog_describes_this_version() -> None:
    assert f"## [{PROJECT['version']}]" in (ROOT / "CHANGELOG.md").read_text()
