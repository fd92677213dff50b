"""The editor, validation and stored JSON for the paid exit interview and a $0 (forever-free) downgrade."""

from __future__ import annotations

import json

from admin.flow_form import EditorForm, from_definition, from_fields, to_definition, to_fields
from flows import default_definition, validate_definition
from flows.defaults import EXIT_INTERVIEW, FREE_PLAN
from offers import DowngradeOffer, OfferCopy, OfferId
from offers.model import ExitInterviewOffer
from service.db import codec


def _form_with(**changes: str) -> EditorForm:
    fields = dict(to_fields(from_definition(default_definition())))
    fields.update(changes)
    return from_fields(fields.items())


def _row(offer_id: str) -> int:
    return next(i for i, o in enumerate(default_definition().offers) if o.id == offer_id)


def test_an_exit_interview_is_edited_in_its_own_boxes() -> None:
    i = _row(EXIT_INTERVIEW)
    changes = {f"offer-{i}-incentive": "€40 voucher", f"offer-{i}-call_minutes": "20"}
    parsed = to_definition(_form_with(**changes, **{f"offer-{i}-booking_url": " https://cal.example/x "}))
    assert parsed.problems == () and parsed.definition is not None
    offer = parsed.definition.offer(EXIT_INTERVIEW)
    assert isinstance(offer, ExitInterviewOffer)
    assert (offer.incentive, offer.call_minutes, offer.booking_url) == ("€40 voucher", 20, "https://cal.example/x")


def test_an_exit_interview_without_an_incentive_or_with_a_silly_length_is_refused_in_plain_words() -> None:
    i = _row(EXIT_INTERVIEW)
    form = _form_with(
        **{f"offer-{i}-incentive": " ", f"offer-{i}-call_minutes": "600", f"offer-{i}-booking_url": "cal.example"}
    )
    definition = to_definition(form).definition
    assert definition is not None  # readable, so the validation says what is wrong
    name = f"Offer {EXIT_INTERVIEW!r}"
    assert validate_definition(definition) == [
        f"{name}: the booking link must start with https://, http:// or mailto:.",
        f"{name}: say what the customer gets for the call (e.g. a $25 gift card).",
        f"{name}: an exit interview call lasts 5 to 120 minutes.",
    ]
    minutes = to_definition(_form_with(**{f"offer-{i}-call_minutes": "a quarter hour"}))
    assert f"offer-{i}-call_minutes" in minutes.invalid


def test_a_downgrade_to_a_zero_price_is_accepted_by_the_editor() -> None:
    i = _row(FREE_PLAN)
    parsed = to_definition(_form_with(**{f"offer-{i}-amount": "0"}))
    assert parsed.problems == () and parsed.definition is not None
    free = parsed.definition.offer(FREE_PLAN)
    assert isinstance(free, DowngradeOffer) and free.amount_cents == 0
    assert validate_definition(parsed.definition) == []
    below = to_definition(_form_with(**{f"offer-{i}-amount": "-1"})).definition
    assert below is not None and validate_definition(below)  # a negative price still is not one


def test_stored_definitions_with_and_without_an_exit_interview_load() -> None:
    shipped = default_definition()
    data = json.loads(codec.definition_to_json(shipped))
    data["offers"] = [o for o in data["offers"] if o["kind"] != "exit_interview"]  # stored before the kind existed
    for reason in data["reasons"]:
        reason["offer_ids"] = [o for o in reason["offer_ids"] if o != EXIT_INTERVIEW]
    older = codec.definition_from_json(json.dumps(data))
    assert older.offer(EXIT_INTERVIEW) is None and older.offer(FREE_PLAN) is not None
    minimal = {  # the limits are optional in stored JSON, as for every kind
        "id": "call",
        "kind": "exit_interview",
        "copy": {"title": "t", "body": "b", "accept_label": "a"},
        "incentive": "$10 gift card",
        "call_minutes": 10,
        "booking_url": "https://cal.example",
    }
    assert codec.offer_from_builtins(minimal) == ExitInterviewOffer(
        OfferId("call"), OfferCopy("t", "b", "a"), "$10 gift card", 10, "https://cal.example"
    )


def test_the_incentive_has_a_box_per_language_and_round_trips() -> None:
    i = _row(EXIT_INTERVIEW)
    form = from_definition(default_definition())
    assert form.offers[i]["de-incentive"] == "25-$-Gutschein"  # the shipped German wording
    parsed = to_definition(_form_with(**{f"offer-{i}-fr-incentive": "bon de 40 €"}))
    assert parsed.definition is not None
    assert parsed.definition.copy["fr"][f"offer.{EXIT_INTERVIEW}.incentive"] == "bon de 40 €"
