"""The built wheel is the product: installed into a fresh venv outside the repository, without the network, its
`saveflow` command migrates SQLite and serves the widget, the admin and /health/ready; the container image built
from it serves the same as its own user (#27)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

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

# They need no database server (the installed service runs on its own SQLite file), so `make test` runs them
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


@pytest.fixture(scope="module", name="wheel")
def fx_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout: an in-tree build would leave build/ and *.egg-info behind."""
    assert WHEELHOUSE.is_dir(), "run `make test` (it builds .venv/wheelhouse from requirements.lock)"
    work = tmp_path_factory.mktemp("package")
    source, dist = work / "source", work / "dist"
    files = _run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT).split()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, source, cwd=work)
    (wheel,) = dist.glob("saveflow-*.whl")
    return wheel


def test_the_wheel_installs_into_a_fresh_venv_and_serves(wheel: Path, tmp_path: Path) -> None:
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


def _blob(layout: Path, digest: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((layout / "blobs" / digest.replace(":", "/")).read_text())
    return loaded


def test_the_container_image_builds_and_serves_as_its_own_user(wheel: Path, tmp_path: Path) -> None:
    """container/build_image.py's OCI archive, read by umoci (an independent implementation of the image spec) into
    a runtime bundle and started by runc, as a container engine would: its defaults, a volume, a port of our own."""
    archive = tmp_path / "saveflow.oci.tar"
    _run(
        sys.executable,
        ROOT / "container/build_image.py",
        "--wheel",
        wheel,
        "--wheelhouse",
        WHEELHOUSE,
        "--out",
        archive,
        cwd=tmp_path,
    )
    layout, bundle, volume = tmp_path / "layout", tmp_path / "bundle", tmp_path / "volume"
    layout.mkdir()
    bundle.mkdir()
    with tarfile.open(archive) as packed:
        packed.extractall(layout, filter="tar")
    version = wheel.name.split("-")[1]
    image = f"{layout}:{version}"  # the index names the manifest by the package's version
    _run("umoci", "raw", "unpack", "--image", image, bundle / "rootfs", cwd=tmp_path)
    _run(
        "umoci",
        "raw",
        "runtime-config",
        "--image",
        image,
        "--rootfs",
        bundle / "rootfs",
        bundle / "config.json",
        cwd=tmp_path,
    )

    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == f"localhost/saveflow:{version}"
    manifest = _blob(layout, index["manifests"][0]["digest"])
    platform = _blob(layout, manifest["config"]["digest"])
    debian = _run("dpkg", "--print-architecture", cwd=tmp_path).strip()
    assert platform["architecture"] == {"amd64": "amd64", "arm64": "arm64"}.get(debian, platform["architecture"])
    config = json.loads((bundle / "config.json").read_text())
    process = config["process"]
    assert process["args"] == ["saveflow", "serve", "--host", "0.0.0.0", "--port", "8000", "--migrate"]
    assert process["user"] == {"uid": 10001, "gid": 10001}  # never root
    assert "SAVEFLOW_DEMO=0" in process["env"]  # production defaults
    # What `docker run -p PORT:8000 -v ./volume:/var/lib/saveflow` would do, on this host's network instead.
    port = free_port()
    process["args"][process["args"].index("8000")] = str(port)
    process["terminal"] = False
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
    volume.mkdir()
    os.chown(volume, 10001, 10001)
    (mount,) = [m for m in config["mounts"] if m["destination"] == "/var/lib/saveflow"]  # the image's VOLUME
    mount.update(type="bind", source=str(volume), options=["rbind", "rw"])
    (bundle / "config.json").write_text(json.dumps(config))

    name = f"saveflow-test-{port}"
    log = tmp_path / "container.log"
    try:
        with log.open("wb") as out:
            started = subprocess.run(["runc", "run", "--detach", "--bundle", str(bundle), name], stdout=out, stderr=out)
        assert started.returncode == 0, log.read_text()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{url}/health/ready")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert _get(f"{url}/admin/login")[0] == 200
        assert _get(f"{url}/static/embed.js")[0] == 200
        state = json.loads(_run("runc", "state", name, cwd=tmp_path))
        status = Path(f"/proc/{state['pid']}/status").read_text()
        assert re.search(r"^Uid:\s+10001\s", status, re.MULTILINE), status
        assert {p.name for p in volume.iterdir()} >= {"saveflow.sqlite", "secrets.json"}  # kept on the volume
    finally:
        subprocess.run(["runc", "kill", name, "TERM"], check=False, capture_output=True)
        subprocess.run(["runc", "delete", "--force", name], check=False, capture_output=True)
        for done in (archive, layout, bundle):  # a gigabyte, in RAM under make test (/dev/shm)
            shutil.rmtree(done) if done.is_dir() else done.unlink()
