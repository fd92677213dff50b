"""The built wheel is the product: installed into a fresh venv outside the repository, without the network, its
`saveflow` command migrates SQLite and serves the widget, the admin and /health/ready (#27)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import database_settings
from tests.support.servers import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"  # requirements.lock as wheels, made by `make test` (Makefile)
SHIPPED = (  # what the service reads at run time, from inside the package
    "service/templates/widget/frame.html",
    "service/templates/email/winback.txt",
    "service/static/embed.js",
    "service/static/htmx.min.js",
    "service/locales/de/LC_MESSAGES/messages.mo",
    "service/db/piccolo_migrations/__init__.py",
)

# It needs no database server (the installed service runs on its own SQLite file), so `make test` runs it
# once, in the Postgres process, which has the room (tests/support/pytest-both.sh).
pytestmark = pytest.mark.skipif(
    not database_settings().is_postgres, reason="runs once per make test, in the Postgres process"
)


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode()


def test_the_wheel_installs_into_a_fresh_venv_and_serves(tmp_path: Path) -> None:
    assert WHEELHOUSE.is_dir(), "run `make test` (it builds .venv/wheelhouse from requirements.lock)"
    source, dist = tmp_path / "source", tmp_path / "dist"
    files = _run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT).split()
    for name in files:  # a copy: an in-tree build would leave build/ and *.egg-info in the repository
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        dist,
        source,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("saveflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [s for s in SHIPPED if s not in names], sorted(n for n in names if "templates" in n)[:5]
    assert not [n for n in names if n.startswith("tests/")]

    venv = tmp_path / "venv"
    # A venv without pip of its own, filled by this pip (`--python`): setting up a second pip costs more than the
    # install. --no-compile: byte-compiling 69 packages is most of an install's time, and Python compiles on import.
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    install = ("install", "-q", "--no-compile", "--no-index", "--find-links", WHEELHOUSE, wheel)
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", *install, cwd=tmp_path)
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SQLITE_PATH": str(tmp_path / "saveflow.sqlite"),
        "SAVEFLOW_SECRETS_FILE": str(tmp_path / "secrets.json"),
    }
    saveflow = venv / "bin" / "saveflow"
    assert _run(saveflow, "--version", cwd=tmp_path, env=env).startswith("saveflow ")
    _run(saveflow, "migrate", cwd=tmp_path, env=env)
    _run(saveflow, "seed", cwd=tmp_path, env=env)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(saveflow), "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server, log)
        assert _get(f"{url}/health/ready")[0] == 200
        status, page = _get(f"{url}/")  # the demo host page: templates and hashed static URLs from the package
        assert status == 200 and "/static/embed." in page
        assert _get(f"{url}/admin/login")[0] == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
