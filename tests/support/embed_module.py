"""Builds clients/js/saveflow.mjs, the ES-module form of the embed API, from service/static/embed.js (one source:
the served script stays a classic script host apps link by URL). `python -m tests.support.embed_module` rewrites
it; tests/e2e/test_clients.py fails while the committed module differs from a fresh build."""

from __future__ import annotations

import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "service/static/embed.js"
MODULE = ROOT / "clients/js/saveflow.mjs"

HEADER = (
    "/* SaveFlow's embed API as an ES module (types: saveflow.d.mts). Built from service/static/embed.js by\n"
    "   tests/support/embed_module.py: edit embed.js, then run `python -m tests.support.embed_module`. */\n"
)
OPENING = "((w, d) => {\n"
CLOSING = "})(window, document);\n"
# The classic script finds the service by its own <script src>. A module has no such address (the service does
# not serve it, and a bundler rewrites import.meta.url), so it needs `baseUrl` and says so. It is imported where
# there is no window too (server-side rendering): nothing at the top level touches one.
NEEDS_BASE_URL = 'throw new TypeError("SaveFlow: pass baseUrl, the save-flow service\'s URL")'
REPLACEMENTS = (
    ("defaultBase = new URL(d.currentScript?.src || location).origin", f"defaultBase = () => {{ {NEEDS_BASE_URL}; }}"),
    ("(o.baseUrl || defaultBase)", "(o.baseUrl || defaultBase())"),
    ('d.addEventListener("pointerover", intent);', 'd?.addEventListener("pointerover", intent);'),
    ('d.addEventListener("focusin", intent);', 'd?.addEventListener("focusin", intent);'),
    ("w.SaveFlow = {", "export const SaveFlow = {"),
)
EXPORTS = "export const open = SaveFlow.open;\nexport { prepare };\nexport default SaveFlow;\n"


def build(source: str) -> str:
    """The module text for `source` (embed.js); raises if embed.js no longer has the shape this expects."""
    first_line, _, rest = source.partition("\n")
    if not (first_line.startswith("/*") and rest.startswith(OPENING) and rest.endswith(CLOSING)):
        raise ValueError("embed.js is no longer one arrow IIFE over (window, document) after a comment line")
    body = textwrap.dedent(rest.removeprefix(OPENING).removesuffix(CLOSING))
    for old, new in REPLACEMENTS:
        if body.count(old) != 1:
            raise ValueError(f"embed.js should contain {old!r} exactly once")
        body = body.replace(old, new)
    return HEADER + "const w = globalThis.window, d = w?.document;\n" + body + EXPORTS


if __name__ == "__main__":
    MODULE.write_text(build(SOURCE.read_text()))
    print(f"wrote {MODULE.relative_to(ROOT)}")
