"""Languages of the widget: locale negotiation, message catalogs (Babel), and locale-aware formatting.

Rules: may import babel and jinja2 (template helpers). Catalogs live in service/locales (`make messages`
extracts, merges and compiles them); English is the source language. Templates translate through the
standard `jinja2.ext.i18n` extension in its newstyle form; `gettext_callables(locale)` gives one
render its language. Numbers, money and dates are formatted by Babel.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import pass_context
from markupsafe import Markup

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from jinja2.runtime import Context

SUPPORTED = ("en", "de", "fr", "es")
DEFAULT = "en"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
T = TypeVar("T")


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


def gettext_callables(locale: str) -> dict[str, Callable[..., str]]:
    """`gettext` and `ngettext` in `locale`, for one render's context.

    Templates call them through the standard `jinja2.ext.i18n` extension (`_()`, `{% trans %}`), which
    looks them up in the render context before the environment's globals. Passing them per render,
    rather than installing them on the shared environment, keeps each response in its own language
    when requests in different languages are served at the same time. They follow the extension's
    newstyle rules (what `install_gettext_callables(..., newstyle=True)` installs): the text is a
    `%(name)s` format string, always formatted, and Markup under autoescape so that `%` escapes the
    variables (catalog text is ours, so it is trusted).
    """
    catalog = translations(locale)

    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        text = catalog.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - our own catalog text
        return text % variables

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, /, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = catalog.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - our own catalog text
        return text % variables

    return {"gettext": gettext, "ngettext": ngettext}


def date_text(moment: datetime, locale: str) -> str:
    return format_date(moment.date(), format="long", locale=locale)


@lru_cache(maxsize=1024)  # pure, and a widget shows the same few prices over and over
def money_text(cents: int, currency: str, locale: str) -> str:
    """`cents` in `currency`, formatted for `locale`; whole amounts without decimals ("$49")."""
    amount = Decimal(cents) / 100
    text = format_currency(amount, currency.upper(), locale=locale)
    return text.replace(".00", "").replace(",00", "") if cents % 100 == 0 else text


def number_text(number: int, locale: str) -> str:
    """A count with the locale's grouping: 12,840 (en), 12.840 (de, es), 12 840 (fr)."""
    return format_decimal(number, locale=locale)


def plural_category(number: int, locale: str) -> str:
    """The CLDR plural category of `number` in `locale` ("one", "other", …) by Babel's plural rules."""
    return Locale.parse(locale).plural_form(number)


def in_language(texts: Mapping[str, T], locale: str) -> T:
    """The entry of `texts` (keyed by language tags: "de", "de-AT", "pt_BR") for `locale`'s language, else
    the English one, else the first: a host that names no text for this language still shows something."""
    by_language: dict[str, T] = {}
    for tag, text in texts.items():
        by_language.setdefault(tag.replace("_", "-").split("-", 1)[0].lower(), text)  # the first tag wins
    return by_language.get(locale) or by_language.get(DEFAULT) or next(iter(texts.values()))
