"""Email rendering: each kind's required context, its templates in the recipient's language, CSS inlined.

Rules: may import jinja2, css_inline and service.i18n. Templates live in service/templates/email/: `<kind>.txt`
(whose `subject` block is the subject line) and `<kind>.html`, on the shared `_layout.*`. Strings are
translated through the widget's catalogs (`service.i18n.gettext_callables`); dates are formatted for
the language. HTML is autoescaped, text is not. The HTML's <style> is inlined into style attributes
with css-inline, because many mail clients drop <style> blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from service.i18n import date_text, gettext_callables, normalise

if TYPE_CHECKING:
    from collections.abc import Mapping

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
OPTIONAL_TEXT = ("name", "product")  # a greeting by first name, the product's name


@dataclass(frozen=True, slots=True)
class Kind:
    """What a kind of email needs from its caller: links (absolute http(s) URLs) and dates (aware datetimes)."""

    links: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    optional_dates: tuple[str, ...] = ()
    optional_counts: tuple[str, ...] = ()  # whole numbers ≥ 0 (0 when left out), e.g. an offer's terms


KINDS: dict[str, Kind] = {
    # At cancellation and N days after access ends: a signed, time-limited reactivation link.
    "winback": Kind(
        links=("reactivate_url",),
        optional_dates=("link_expires_at",),
        optional_counts=("percent_off", "duration_months", "free_days"),  # the offer the link makes
    ),
    # N days before a pause ends and billing resumes: a signed link to resume now.
    "pause_ending": Kind(links=("resume_url",), dates=("resumes_at",)),
}


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


_ENV = _environment()
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def template_context(kind: str, context: Mapping[str, object], locale: str) -> dict[str, object]:
    """The caller's context checked against the kind and made printable; ValueError names what is wrong."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown email kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    known = {*spec.links, *spec.dates, *spec.optional_dates, *spec.optional_counts, *OPTIONAL_TEXT}
    if unknown := sorted(context.keys() - known):
        raise ValueError(f"{kind} email: unexpected context {unknown}; it takes {sorted(known)}")
    if missing := sorted({*spec.links, *spec.dates} - context.keys()):
        raise ValueError(f"{kind} email: missing context {missing}")
    values: dict[str, object] = {name: str(context.get(name) or "") for name in OPTIONAL_TEXT}
    for name in spec.links:
        link = context[name]
        if not isinstance(link, str) or not link.startswith(("https://", "http://")) or any(c in link for c in " \r\n"):
            raise ValueError(f"{kind} email: {name} must be an absolute http(s) URL")
        values[name] = link
    for name in (*spec.dates, *spec.optional_dates):
        moment = context.get(name)
        if moment is None and name in spec.optional_dates:
            values[name] = ""
            continue
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise ValueError(f"{kind} email: {name} must be a timezone-aware datetime")
        values[name] = date_text(moment, locale)
    for name in spec.optional_counts:
        count = context.get(name, 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{kind} email: {name} must be a whole number, 0 or more")
        values[name] = count
    return values


def render(
    kind: str,
    *,
    locale: str,
    context: Mapping[str, object],
    unsubscribe_url: str,
    brand: str = "#4338ca",
    brand_contrast: str = "#ffffff",
) -> Rendered:
    """The subject, plain text and inlined HTML of one email in `locale` (English when not supported)."""
    language = normalise(locale) or "en"
    variables: dict[str, object] = {
        **template_context(kind, context, language),
        **gettext_callables(language),
        "locale": language,
        "unsubscribe_url": unsubscribe_url,
        "brand": brand,
        "brand_contrast": brand_contrast,
    }
    text_template = _ENV.get_template(f"{kind}.txt")
    subject_block = text_template.blocks["subject"]
    subject = " ".join("".join(subject_block(text_template.new_context(variables))).split())
    variables["subject"] = subject
    text = text_template.render(variables).strip() + "\n"
    html = _INLINER.inline(_ENV.get_template(f"{kind}.html").render(variables))
    return Rendered(subject=subject, text=text, html=html)
