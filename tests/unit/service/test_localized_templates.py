"""Localized templates render exactly what the run-time `_` renders, with plain messages inlined."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import DictLoader, StrictUndefined, TemplateNotFound
from markupsafe import Markup

from service.localized_templates import LocalizedEnvironment, LocalizedLoader, inline_messages

CATALOG = {
    "Why are you leaving?": "Warum kündigen Sie?",
    "Step %(n)s of %(total)s": "Schritt %(n)s von %(total)s",
    "Back": "Zurück",
    "Tricky": "{{ not template }}",
    "You're <b>sure</b>?": "Sind Sie <b>sicher</b>?",
    'Say "hi"': "Sag „hallo“",
}
TEMPLATES = {
    "base.html": '<h1>{% block title %}{% endblock %}</h1><a>{{ _("Back") }}</a>',
    "child.html": (
        '{% extends "base.html" %}{% block title %}{{ _("Why are you leaving?") }}{% endblock %}<p>never shown</p>'
    ),
    "mixed.html": (
        "<p>{{ _('Step %(n)s of %(total)s', n=2, total=4) }}</p><p>{{ _(\"Tricky\") }}</p>"
        '<p>{{ _("You\'re <b>sure</b>?") }}</p><p>{{ _("Not in the catalog") }}</p><p>{{ name }}</p>'
        r'<p>{{ _("Say \"hi\"") }}</p>'
    ),
}


def gettext(message: str) -> str:
    return CATALOG.get(message, message)


def run_time_underscore(message: str, **variables: Any) -> str:
    """What service.i18n's `_` does in an autoescaped template."""
    text = Markup(gettext(message))  # noqa: S704 - catalog text is trusted, as in service.i18n
    return text % variables if variables else text


def _environment() -> LocalizedEnvironment:
    loader = LocalizedLoader(DictLoader(TEMPLATES), gettext_for=lambda locale: gettext)
    return LocalizedEnvironment(loader=loader, autoescape=True, undefined=StrictUndefined)


def test_a_localized_template_renders_what_the_run_time_gettext_renders() -> None:
    env = _environment()
    context = {"_": run_time_underscore, "name": "<script>"}
    for name in ("child.html", "mixed.html"):
        assert env.get_template(f"de:{name}").render(context) == env.get_template(name).render(context)
    assert env.get_template("de:child.html").render(context) == "<h1>Warum kündigen Sie?</h1><a>Zurück</a>"
    assert "&lt;script&gt;" in env.get_template("de:mixed.html").render(context)  # variables still escaped


def test_only_plain_literal_calls_are_inlined() -> None:
    source = TEMPLATES["mixed.html"] + '{{ _("Back") }}'
    inlined = inline_messages(source, gettext)
    assert inlined.endswith("Zurück")
    assert "_('Step %(n)s of %(total)s', n=2, total=4)" in inlined  # has variables: stays a call
    assert '_("Tricky")' in inlined  # its translation looks like template syntax: stays a call
    assert "<p>Sind Sie <b>sicher</b>?</p>" in inlined  # catalog text is trusted markup, as at run time
    assert r'_("Say \"hi\"")' in inlined  # an escape in the literal: stays a call


def test_names_without_a_supported_language_load_unchanged() -> None:
    env = _environment()
    assert env.get_template("child.html").render(_=run_time_underscore) == "<h1>Warum kündigen Sie?</h1><a>Zurück</a>"
    with pytest.raises(TemplateNotFound):
        env.get_template("xx:base.html")  # not a language we have: just an odd name
    assert env.join_path("base.html", "child.html") == "base.html"
    assert env.join_path("base.html", "de:child.html") == "de:base.html"
    assert env.join_path("fr:base.html", "de:child.html") == "fr:base.html"


def test_templates_see_the_environments_globals_and_their_own_never_leak_into_it() -> None:
    env = LocalizedEnvironment(loader=DictLoader({"t.html": "{{ greeting }} {{ name }}"}), undefined=StrictUndefined)
    env.globals["greeting"] = "Hello"
    assert env.get_template("t.html", globals={"name": "Ada"}).render() == "Hello Ada"
    assert "name" not in env.globals  # a template's own globals stay its own
    assert env.get_template("t.html").render(name="Bo") == "Hello Bo"  # and what a render passes wins
    assert env.from_string("{{ greeting }}").render() == "Hello"
