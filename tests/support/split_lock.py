"""`make lock`: split `pip freeze` (stdin) into requirements.lock (what installing the package pulls in, per
pip's install report) and requirements-dev.lock (the rest: test and check tools)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", requirement.split("==")[0]).lower()


def main(report_path: str) -> None:
    report = json.loads(Path(report_path).read_text())
    runtime = {_name(item["metadata"]["name"]) for item in report["install"]} - {"saveflow"}
    frozen = sorted((line.strip() for line in sys.stdin if "==" in line), key=_name)
    Path("requirements.lock").write_text("".join(f"{r}\n" for r in frozen if _name(r) in runtime))
    Path("requirements-dev.lock").write_text("".join(f"{r}\n" for r in frozen if _name(r) not in runtime))


if __name__ == "__main__":
    main(sys.argv[1])
