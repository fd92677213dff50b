"""Languages of the widget: locale negotiation, message catalogs (Babel), and locale-aware formatting.

Rules: may import babel and jinja2 (template helpers). Catalogs live in service/locales; English is
the source language. `make_gettext` gives templates the same `_()` as Jinja's newstyle gettext
(autoescaped, with %(name)s placeholders) bound to one request's locale.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from markupsafe import Markup

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date, datetime

    from jinja2.runtime import Context

SUPPORTED = ("en", "de", "fr", "es")
DEFAULT = "en"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


def normalise(tag: str | None) -> str | None:
    """'de-AT', 'de_at', 'DE' → 'de' when supported; anything else → None."""
    if not tag:
        return None
    try:
        language = Locale.parse(tag.strip().replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return None
    return language if language in SUPPORTED else None


def negotiate(preferred: str | None, accept_language: str | None) -> str:
    """The token's locale wins, then the browser's Accept-Language (by q), then English."""
    if chosen := normalise(preferred):
        return chosen
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, index, tag))
    for _, _, tag in sorted(weighted):
        if chosen := normalise(tag):
            return chosen
    return DEFAULT


@lru_cache(maxsize=len(SUPPORTED))
def translations(locale: str) -> NullTranslations:
    if locale == DEFAULT:
        return NullTranslations()
    return Translations.load(str(LOCALES_DIR), [locale], domain="messages")


@lru_cache(maxsize=len(SUPPORTED) + 1)
def make_gettext(locale: str) -> Callable[..., str]:
    gettext = translations(locale).gettext

    @pass_context
    def _(context: Context, message: str, **variables: Any) -> str:
        text = gettext(message)
        if context.eval_ctx.autoescape:
            # Catalog text is ours (trusted); Markup makes `%` escape the interpolated values.
            text = Markup(text)  # noqa: S704
        return text % variables if variables else text

    return _


def date_text(moment: datetime, locale: str) -> str:
    return _date_text(moment.date(), locale)


@lru_cache(maxsize=4096)
def _date_text(day: date, locale: str) -> str:
    return format_date(day, format="long", locale=locale)


@lru_cache(maxsize=4096)  # Babel's formatting costs ~0.1 ms, and every step shows a price
def money_text(cents: int, currency: str, locale: str) -> str:
    amount = Decimal(cents) / 100
    text = format_currency(amount, currency.upper(), locale=locale)
    return text.replace(".00", "").replace(",00", "") if cents % 100 == 0 else text
