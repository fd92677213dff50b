"""Static files under content-hashed URLs (`asset_url("widget.css")`), and the widget's inlined stylesheet.

Rules: standard library, markupsafe and litestar only. Every file in service/static is read and hashed
once, when the app is built: `/static/widget.<hash>.css` is served `immutable` for a year (a new file is
a new URL), and the plain name (`/static/embed.js`, which host apps link by a stable URL) for five
minutes. Compression is not done here: Litestar's CompressionConfig (service/app.py) compresses both.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from litestar import Request, Response, route
from litestar.enums import HttpMethod
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from markupsafe import Markup

if TYPE_CHECKING:
    from litestar.handlers import HTTPRouteHandler

    from service.settings import Theme

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
HASH_CHARS = 10
IMMUTABLE = "public, max-age=31536000, immutable"
STABLE = "public, max-age=300"  # unhashed names: a host app links /static/embed.js for good
TEXT_TYPES = {".js": "text/javascript", ".css": "text/css", ".LICENSE": "text/plain"}
CSS_COMMENT = re.compile(r"/\*.*?\*/\n?", re.DOTALL)  # widget.css has no "/*" inside a string


@dataclass(frozen=True, slots=True)
class Asset:
    name: str  # "widget.css"
    hashed_name: str  # "widget.0123abcdef.css"
    body: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return f'"{self.hashed_name}"'


def hashed_name(name: str, body: bytes) -> str:
    """`widget.css` → `widget.<first HASH_CHARS hex digits of its sha256>.css`."""
    digest = hashlib.sha256(body).hexdigest()[:HASH_CHARS]
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def _media_type(path: Path) -> str:
    """The Content-Type; Litestar adds `; charset=utf-8` to text types itself."""
    return TEXT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Assets:
    """The static files as they were when the app was built, by plain and by hashed name."""

    by_name: dict[str, Asset]
    by_hashed_name: dict[str, Asset]

    @classmethod
    def load(cls, directory: Path = STATIC_DIR) -> Assets:
        found = {}
        for path in sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".")):
            name = path.relative_to(directory).as_posix()
            body = path.read_bytes()
            found[name] = Asset(name, hashed_name(name, body), body, _media_type(path))
        return cls(found, {a.hashed_name: a for a in found.values()})

    def url(self, name: str) -> str:
        """The immutable URL of `name`; an unknown name raises KeyError, so a typo fails the render."""
        return f"/static/{self.by_name[name].hashed_name}"

    def text(self, name: str) -> str:
        return self.by_name[name].body.decode()

    def lookup(self, name: str) -> tuple[Asset, str] | None:
        """The asset a request path names, with its Cache-Control; None when there is no such file."""
        if asset := self.by_hashed_name.get(name):
            return asset, IMMUTABLE
        if asset := self.by_name.get(name):
            return asset, STABLE
        return None


THEMES = ("light", "dark", "auto")  # SaveFlow.open({ theme }): the host's choice, light unless it says otherwise


def theme_name(asked: str | None) -> str:
    """The widget's `<html data-theme>` for a host's `theme` hint; anything else is light (the default)."""
    return asked if asked in THEMES else THEMES[0]


def theme_css(theme: Theme) -> str:
    """The configured brand colour, font and radius as CSS variables: inlined into each widget page, and
    served as /w/theme.css for the error page. The brand colours are the light theme's; widget.css's dark
    rules (`:root[data-theme=…]`) are more specific, so a dark widget keeps its lighter, readable tint."""
    shape = f"--sf-radius: {theme.radius_px}px;"
    if theme.font:
        shape += f" --sf-font: {theme.font}, system-ui, sans-serif;"
    return f":root {{ {shape} --sf-brand: {theme.brand}; --sf-brand-contrast: {theme.brand_contrast}; }}\n"


@dataclass(frozen=True, slots=True)
class InlineStyle:
    """widget.css (no comments) and the theme, inlined into each widget page: first paint waits for no request.

    `csp_source` is the `'sha256-…'` source that lets exactly this text through `style-src` (no
    'unsafe-inline'); the template must emit `text` byte for byte between `<style>` and `</style>`.
    """

    text: Markup
    csp_source: str

    @classmethod
    def of(cls, assets: Assets, theme: Theme) -> InlineStyle:
        text = CSS_COMMENT.sub("", assets.text("widget.css")) + theme_css(theme)
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        return cls(Markup(text), f"'sha256-{digest}'")  # noqa: S704 - our own file and validated settings


def static_files(assets: Assets) -> HTTPRouteHandler:
    """GET /static/{name}: a hashed name is immutable, a plain one is cached briefly; both revalidate by ETag."""

    @route(
        "/static/{name:path}",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],  # HEAD as the static files router had it
        name="static",
        include_in_schema=False,
        sync_to_thread=False,
    )
    def serve_static(request: Request[Any, Any, Any], name: FromPath[PurePosixPath]) -> Response[bytes]:
        found = assets.lookup(name.as_posix().lstrip("/"))
        if found is None:
            raise NotFoundException()
        asset, cache_control = found
        headers = {"Cache-Control": cache_control, "ETag": asset.etag}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(b"", status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return serve_static
