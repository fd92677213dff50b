"""The widget's languages: negotiation, complete catalogs that match the templates, locale formatting."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from flows import default_definition
from service.i18n import LOCALES_DIR, SUPPORTED, date_text, gettext_callables, money_text, negotiate

ROOT = Path(__file__).resolve().parents[3]
TRANSLATED = [lang for lang in SUPPORTED if lang != "en"]


@pytest.mark.parametrize(
    ("token", "header", "expected"),
    [
        ("de", "fr", "de"),
        ("de-AT", None, "de"),
        (None, "fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        (None, "ja, es;q=0.4, de;q=0.7", "de"),
        (None, "ja, zh", "en"),
        ("klingon", "es;q=bogus, fr;q=0.1", "fr"),
        (None, None, "en"),
    ],
)
def test_locale_negotiation(token: str | None, header: str | None, expected: str) -> None:
    assert negotiate(token, header) == expected


def _source_ids(tmp: Path) -> set[str]:
    pot = tmp / "fresh.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "service/locales/babel.cfg",
            "-k",
            "tr",
            "-k",
            "_mark",
            "--no-location",
            "--omit-header",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}  # type: ignore[misc]


def test_every_string_in_the_widget_is_translated_into_every_shipped_language(tmp_path: Path) -> None:
    source = _source_ids(tmp_path)
    assert len(source) > 50
    for lang in TRANSLATED:
        with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f)
        translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
        missing = source - translated.keys()
        assert not missing, f"{lang}: untranslated (run `make messages`, then translate): {sorted(missing)[:5]}"
        for msgid, text in translated.items():
            for placeholder in ("%(date)s", "%(price)s", "%(plan)s", "%(count)s", "%(days)s", "%(n)s", "%(total)s"):
                assert (placeholder in msgid) == (placeholder in str(text)), f"{lang}: {msgid!r} placeholders differ"


def test_compiled_catalogs_match_their_sources() -> None:
    for lang in TRANSLATED:
        folder = LOCALES_DIR / lang / "LC_MESSAGES"
        with (folder / "messages.po").open("rb") as f:
            po = {m.id: m.string for m in read_po(f) if m.id}
        mo = {m.id: m.string for m in read_mo(BytesIO((folder / "messages.mo").read_bytes())) if m.id}
        assert po == mo, f"{lang}: messages.mo is stale; run `make messages`"


def test_the_shipped_flow_has_copy_for_every_reason_and_offer_in_every_language() -> None:
    definition = default_definition()
    keys = {f"reason.{r.id}" for r in definition.reasons}
    keys |= {f"offer.{o.id}.{part}" for o in definition.offers for part in ("title", "body", "accept")}
    for lang in TRANSLATED:
        assert keys <= definition.copy[lang].keys(), f"{lang} lacks {sorted(keys - definition.copy[lang].keys())}"


def test_dates_and_money_follow_the_locale() -> None:
    moment = datetime(2027, 1, 23, tzinfo=UTC)
    assert date_text(moment, "en") == "January 23, 2027"
    assert date_text(moment, "de") == "23. Januar 2027"
    assert date_text(moment, "fr") == "23 janvier 2027"
    assert money_text(4900, "usd", "en") == "$49"
    assert money_text(4900, "eur", "de") == "49\xa0€"
    assert money_text(1999, "eur", "fr") == "19,99\xa0€"


def test_templates_translate_through_jinja_i18n_with_each_renders_own_language() -> None:
    from service.app import build_templates

    engine = build_templates().instance
    assert engine is not None
    template = engine.engine.from_string(
        '{{ _("Back") }}|{% trans %}Back{% endtrans %}|{{ _("Step %(n)s of %(total)s", n=1, total="<b>") }}'
    )
    german, french = gettext_callables("de"), gettext_callables("fr")
    # Interleaved renders in two languages: nothing is installed on the shared environment.
    assert template.render(**german) == "Zurück|Zurück|Schritt 1 von &lt;b&gt;"
    assert template.render(**french) == "Retour|Retour|Étape 1 sur &lt;b&gt;"
    assert template.render() == "Back|Back|Step 1 of &lt;b&gt;"  # no language given: English
