"""Security headers on every response: CSP (frame-ancestors from the allowed origins on /w), Referrer-Policy, nosniff.

Rules: settings in, one Litestar `before_send` hook out. A hook rather than layer `response_headers`
because it also reaches the answers Litestar builds itself (error pages, unmatched routes, static files).
A header a handler set itself is left as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.datastructures import MutableScopeHeaders

if TYPE_CHECKING:
    from litestar.types import BeforeMessageSendHookHandler, Message, Scope

    from service.settings import Settings


def content_security_policies(settings: Settings, widget_styles: tuple[str, ...] = ()) -> tuple[str, str]:
    """(the widget's policy, every other page's policy). `widget_styles`: the `'sha256-…'` sources of the
    widget's inline <style> (service.http.assets.InlineStyle), allowed on /w only and never 'unsafe-inline'."""
    img = " ".join(filter(None, ("'self'", "data:", settings.theme.logo_origin)))
    base = (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {img}; "
        "base-uri 'none'; form-action 'self'; object-src 'none'; "
    )
    widget_ancestors = " ".join(("'self'", *settings.allowed_origins))
    # Other pages (demo host, admin) may load the widget from the public URL even when they are
    # reached under another name (e.g. localhost vs 127.0.0.1), as a real host app would; embed.js
    # there posts an early close to the service's absolute URL, hence connect-src too.
    pages = base.replace("script-src 'self'", f"script-src 'self' {settings.public_url}")
    pages += f"connect-src 'self' {settings.public_url}; frame-src 'self' {settings.public_url}; frame-ancestors 'self'"
    widget = base.replace("style-src 'self'", " ".join(("style-src 'self'", *widget_styles)))
    return widget + f"frame-ancestors {widget_ancestors}", pages


def security_headers(settings: Settings, widget_styles: tuple[str, ...] = ()) -> BeforeMessageSendHookHandler:
    widget_csp, page_csp = content_security_policies(settings, widget_styles)
    nosniff = {"X-Content-Type-Options": "nosniff"}
    widget = {"Content-Security-Policy": widget_csp, "Referrer-Policy": "no-referrer", **nosniff}
    pages = {"Content-Security-Policy": page_csp, "Referrer-Policy": "same-origin", **nosniff}

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in (widget if scope["path"].startswith("/w/") else pages).items():
            if name not in headers:
                headers[name] = value

    return add_security_headers
