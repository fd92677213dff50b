"""Builds the service's container image as an OCI archive, from Debian bookworm packages (mmdebstrap) and the wheel.

No Dockerfile: no container engine runs on the machines that test this, while mmdebstrap, umoci and runc do, so
the image is built the same way here and everywhere, and tests/integration/test_container.py starts what it built.
Usage (as root, which mmdebstrap and chroot need; `make image` does it):

    python container/build_image.py --wheel dist/saveflow-X.whl --wheelhouse .venv/wheelhouse --out saveflow.oci.tar
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "ca-certificates")  # the venv's Python, and TLS roots for billing APIs
UID = 10001  # the service's own user: never root in the container
HOME = "/var/lib/saveflow"  # the SQLite file and generated secrets live here: mount a volume on it
OCI = "application/vnd.oci.image"
# pip's own settings from the building machine (a find-links dir, a cache) must not reach the chroot.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


def build_rootfs(root: Path, wheel: Path, wheelhouse: Path) -> None:
    """Debian's python3 in `root`, the wheel installed from `wheelhouse` (no index) into /opt/saveflow."""
    subprocess.run(
        ["mmdebstrap", "--variant=apt", "--quiet", f"--include={','.join(PACKAGES)}", "bookworm", str(root), MIRROR],
        check=True,
        env={**CLEAN_ENV, "TMPDIR": os.environ.get("TMPDIR", "/tmp")},
    )
    wheels = root / "tmp/wheels"
    shutil.copytree(wheelhouse, wheels)
    shutil.copy2(wheel, wheels)

    def chroot(*args: str) -> None:
        subprocess.run(["chroot", str(root), *args], check=True, env=CLEAN_ENV)

    chroot("python3", "-m", "venv", "/opt/saveflow")
    chroot("/opt/saveflow/bin/pip", "install", "-q", "--no-index", "--find-links", "/tmp/wheels", "saveflow")
    chroot("/opt/saveflow/bin/pip", "uninstall", "-q", "-y", "pip")  # nothing installs at run time
    shutil.rmtree(wheels)
    with (root / "etc/passwd").open("a") as passwd:
        passwd.write(f"saveflow:x:{UID}:{UID}:Save flow:{HOME}:/usr/sbin/nologin\n")
    with (root / "etc/group").open("a") as group:
        group.write(f"saveflow:x:{UID}:\n")
    (root / HOME.lstrip("/")).mkdir(parents=True)
    os.chown(root / HOME.lstrip("/"), UID, UID)
    for cache in ("var/cache/apt", "var/lib/apt/lists"):
        for entry in (root / cache).glob("*"):
            if entry.is_file():
                entry.unlink()


# Debian's architecture names (dpkg) to the OCI image spec's (Go's GOARCH, with a variant for 32-bit ARM).
OCI_ARCHITECTURES = {"amd64": ("amd64", ""), "arm64": ("arm64", "v8"), "armhf": ("arm", "v7"), "i386": ("386", "")}


def image_platform() -> dict[str, str]:
    """mmdebstrap builds for this machine's architecture: the config says which, or runtimes elsewhere misjudge it."""
    debian = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    if debian not in OCI_ARCHITECTURES:
        raise SystemExit(f"no OCI name known for Debian architecture {debian!r}")
    architecture, variant = OCI_ARCHITECTURES[debian]
    return {"architecture": architecture, "os": "linux", **({"variant": variant} if variant else {})}


def image_config(version: str, diff_id: str) -> dict[str, Any]:
    """What a runtime needs to start the service (OCI image spec, config.md): production defaults, demo off."""
    return {
        **image_platform(),
        "config": {
            "User": f"{UID}:{UID}",
            "WorkingDir": HOME,
            "Env": [
                "PATH=/opt/saveflow/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG=C.UTF-8",
                "PYTHONUNBUFFERED=1",
                "SAVEFLOW_DEMO=0",
                f"SQLITE_PATH={HOME}/saveflow.sqlite",
                f"SAVEFLOW_SECRETS_FILE={HOME}/secrets.json",
            ],
            "Entrypoint": ["saveflow"],
            "Cmd": ["serve", "--host", "0.0.0.0", "--port", "8000", "--migrate"],  # noqa: S104 - a container's own
            "ExposedPorts": {"8000/tcp": {}},
            "Volumes": {HOME: {}},
            "StopSignal": "SIGTERM",
            "Labels": {
                "org.opencontainers.image.title": "saveflow",
                "org.opencontainers.image.version": version,
                "org.opencontainers.image.licenses": "Apache-2.0",
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "container/build_image.py (mmdebstrap bookworm + the saveflow wheel)"}],
    }


def _blob(blobs: Path, data: bytes) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (blobs / digest.removeprefix("sha256:")).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def write_oci_archive(root: Path, out: Path, version: str) -> None:
    """`root` as one gzipped layer, with its config and manifest, in an OCI image layout packed as a tar file."""
    with tempfile.TemporaryDirectory(prefix="saveflow-oci-") as scratch:
        layout = Path(scratch)
        blobs = layout / "blobs/sha256"
        blobs.mkdir(parents=True)
        layer_tar = layout / "layer.tar"
        subprocess.run(
            ["tar", "--sort=name", "--numeric-owner", "-C", str(root), "-cf", str(layer_tar), "."],
            check=True,
        )
        diff_id = "sha256:" + _sha256_of(layer_tar)
        gzipped = layout / "layer.tar.gz"  # level 1: several times faster than the default, a tenth bigger
        with layer_tar.open("rb") as raw, gzip.GzipFile(gzipped, mode="wb", compresslevel=1, mtime=0) as packed:
            shutil.copyfileobj(raw, packed, 1 << 20)
        layer_tar.unlink()
        layer_digest = _sha256_of(gzipped)
        gzipped.rename(blobs / layer_digest)
        layer = {
            "mediaType": f"{OCI}.layer.v1.tar+gzip",
            "digest": f"sha256:{layer_digest}",
            "size": (blobs / layer_digest).stat().st_size,
        }
        config = {"mediaType": f"{OCI}.config.v1+json", **_blob(blobs, _json(image_config(version, diff_id)))}
        manifest = {"schemaVersion": 2, "mediaType": f"{OCI}.manifest.v1+json", "config": config, "layers": [layer]}
        index = {
            "schemaVersion": 2,
            "mediaType": f"{OCI}.index.v1+json",
            "manifests": [
                {
                    "mediaType": f"{OCI}.manifest.v1+json",
                    **_blob(blobs, _json(manifest)),
                    # ref.name is the tag in the layout (umoci, skopeo); podman and containerd name the image
                    # they load by io.containerd.image.name, else it would be "localhost/<version>:latest".
                    "annotations": {
                        "org.opencontainers.image.ref.name": version,
                        "io.containerd.image.name": f"localhost/saveflow:{version}",
                    },
                }
            ],
        }
        (layout / "index.json").write_bytes(_json(index))
        (layout / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
        with tarfile.open(out, "w") as archive:
            for name in ("oci-layout", "index.json", "blobs"):
                archive.add(layout / name, arcname=name)


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="the saveflow wheel to install")
    parser.add_argument("--wheelhouse", type=Path, required=True, help="its dependencies as wheels (requirements.lock)")
    parser.add_argument("--out", type=Path, required=True, help="the OCI archive to write")
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11):  # the wheelhouse's binary wheels must fit bookworm's Python
        raise SystemExit("run this with Python 3.11 (bookworm's), whose wheels --wheelhouse holds")
    version = args.wheel.name.split("-")[1]
    with tempfile.TemporaryDirectory(prefix="saveflow-rootfs-") as scratch:
        root = Path(scratch) / "rootfs"
        build_rootfs(root, args.wheel.resolve(), args.wheelhouse.resolve())
        write_oci_archive(root, args.out, version)
    print(f"wrote {args.out} (saveflow {version}); load it with `podman load -i {args.out}`")


if __name__ == "__main__":
    main()
