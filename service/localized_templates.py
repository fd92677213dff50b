"""Templates per language: a plain `{{ _("…") }}` is translated once, when Jinja compiles the template.

Rules: may import jinja2 and service.i18n. The name "de:widget/steps/_survey.html" loads
widget/steps/_survey.html with every `{{ _("literal") }}` (a string literal and nothing else) replaced by
its catalog text, inlined as template text: exactly what the `_` helper renders at run time (catalog
text is ours, so it is not escaped), without a function call per message on every render. Calls with
variables, and catalog text that looks like template syntax, stay calls. Templates that a localized
template extends, includes or imports are localized the same way (`join_path`). Names without a
supported language prefix load unchanged, so the admin and other pages are not affected.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from jinja2 import BaseLoader, Environment

from service.i18n import SUPPORTED, translations

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

# What a loader's get_source returns: the source, its file name, and a "still up to date?" check.
SourceType = tuple[str, "str | None", "Callable[[], bool] | None"]

_LITERAL_CALL = re.compile(r"""\{\{ _\((?:"([^"\\{}%#]*)"|'([^'\\{}%#]*)')\) \}\}""")
_TEMPLATE_SYNTAX = ("{{", "}}", "{%", "%}", "{#", "#}")


def localized_name(locale: str, template: str) -> str:
    return f"{locale}:{template}"


def _split(name: str) -> tuple[str | None, str]:
    locale, separator, template = name.partition(":")
    if separator and locale in SUPPORTED:
        return locale, template
    return None, name


def inline_messages(source: str, gettext: Callable[[str], str]) -> str:
    """`source` with each `{{ _("literal") }}` replaced by its translation, where that is safe to inline."""

    def replace(match: re.Match[str]) -> str:
        message = match.group(1) if match.group(1) is not None else match.group(2)
        text = gettext(message)
        if any(marker in text for marker in _TEMPLATE_SYNTAX):
            return match.group(0)
        return text

    return _LITERAL_CALL.sub(replace, source)


class LocalizedLoader(BaseLoader):
    """Wraps a loader; "de:<name>" is <name> with its plain messages already in German."""

    def __init__(self, inner: BaseLoader, gettext_for: Callable[[str], Callable[[str], str]] | None = None) -> None:
        self.inner = inner
        self.gettext_for = gettext_for or (lambda locale: translations(locale).gettext)

    def get_source(self, environment: Environment, template: str) -> SourceType:
        locale, name = _split(template)
        source, filename, uptodate = self.inner.get_source(environment, name)
        if locale is None:
            return source, filename, uptodate
        return inline_messages(source, self.gettext_for(locale)), filename, uptodate

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


class LocalizedEnvironment(Environment):
    """An Environment whose localized templates extend, include and import localized templates, and whose
    templates keep their globals in a plain dict."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as a plain dict, not Jinja's ChainMap over the environment's: every render
        copies them into its context twice (`dict(globals, **vars)`, then `set(globals)`), and iterating
        a ChainMap cost ~15 µs of each widget step. The ChainMap only matters for globals added to the
        environment after a template is loaded, which Jinja advises against and nothing here does: all of
        them are set while the app is built (i18n, filters, Litestar's url_for and csrf helpers)."""
        return {**self.globals, **(d or {})}

    def join_path(self, template: str, parent: str) -> str:
        locale, _ = _split(parent)
        if locale is not None and _split(template)[0] is None:
            return localized_name(locale, template)
        return template
