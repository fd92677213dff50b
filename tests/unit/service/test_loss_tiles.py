"""Loss tiles in the customer's language: Babel's numbers and plural rules, and the label's language."""

from __future__ import annotations

import msgspec
import pytest

from service.http._step_facts import LossTile, loss_tiles
from service.i18n import in_language, plural_category


@pytest.mark.parametrize(
    ("number", "locale", "category"),
    [(1, "en", "one"), (0, "en", "other"), (1, "de", "one"), (2, "de", "other"), (0, "fr", "one"), (2, "fr", "other")],
)
def test_plural_categories_follow_cldr(number: int, locale: str, category: str) -> None:
    assert plural_category(number, locale) == category


def test_a_label_is_taken_in_the_language_else_english_else_the_first() -> None:
    assert in_language({"en": "files", "de-AT": "Dateien", "de": "Files (de)"}, "de") == "Dateien"  # first tag wins
    assert in_language({"de": "Dateien", "en": "files"}, "fr") == "files"
    assert in_language({"es": "archivos", "de": "Dateien"}, "fr") == "archivos"


def test_french_zero_is_singular_and_counts_are_grouped_per_locale() -> None:
    stored = msgspec.json.encode(
        [
            {"label": {"fr": {"one": "fichier", "other": "fichiers"}, "en": "files"}, "count": 0},
            {"label": "x", "count": 1500},
        ]
    ).decode()
    assert loss_tiles(stored, "fr") == [LossTile("0", "fichier"), LossTile("1\u202f500", "x")]
    assert loss_tiles(stored, "en") == [LossTile("0", "files"), LossTile("1,500", "x")]


def test_a_missing_plural_form_falls_back_to_other() -> None:
    stored = '[{"label": {"de": {"other": "Dateien"}}, "count": 1}]'
    assert loss_tiles(stored, "de") == [LossTile("1", "Dateien")]


def test_sessions_stored_before_counts_existed_still_render() -> None:
    assert loss_tiles('[{"label": "projects", "value": "128"}]', "de") == [LossTile("128", "projects")]
    assert loss_tiles("[]", "en") == []
