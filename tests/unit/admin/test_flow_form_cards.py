"""The flow editor's "Offers shown at once": it round-trips, refuses what is not 1 to 3 in plain words, and a
form from before the field existed reads as one offer at a time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from admin.flow_form import EditorForm, from_definition, from_fields, to_definition, to_fields
from flows import default_definition


@pytest.mark.parametrize("per_step", [1, 2, 3])
def test_offers_shown_at_once_round_trips(per_step: int) -> None:
    definition = replace(default_definition(), offers_per_step=per_step)
    form = from_definition(definition)
    assert form.settings["offers_per_step"] == str(per_step)
    assert to_definition(from_fields(to_fields(form))).definition == definition


@pytest.mark.parametrize("typed", ["0", "4", "two", ""])
def test_anything_but_one_to_three_is_a_plain_problem_on_that_field(typed: str) -> None:
    form = from_definition(default_definition())
    parsed = to_definition(EditorForm({**form.settings, "offers_per_step": typed}, form.reasons, form.offers))
    assert parsed.definition is None
    assert parsed.invalid == {"offers_per_step"}
    assert parsed.problems == ("Offers shown at once must be 1 to 3.",)


def test_a_form_without_the_field_shows_one_offer_at_a_time() -> None:
    form = from_definition(default_definition())
    settings = {k: v for k, v in form.settings.items() if k != "offers_per_step"}
    parsed = to_definition(EditorForm(settings, form.reasons, form.offers))
    assert parsed.definition is not None and parsed.definition.offers_per_step == 1
