"""The structured flow editor's form mapping: definition → fields → definition is the identity, plain-word
problems for unreadable input, and the row actions (add, remove, move) that work without JavaScript."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from admin.flow_form import (
    LOCALES,
    MAX_ROWS,
    EditorForm,
    amount_text,
    apply_action,
    from_definition,
    from_fields,
    parse_amount,
    to_definition,
    to_fields,
)
from flows import FlowDefinition, FollowUp, ReasonDef, ReasonId, default_definition, validate_definition
from offers import (
    DiscountOffer,
    DowngradeOffer,
    Offer,
    OfferCopy,
    OfferId,
    PauseBehavior,
    PauseOffer,
    TrainingOffer,
    TrialExtensionOffer,
)
from offers.model import ExitInterviewOffer, PauseLength, PauseStart, PauseUnit
from offers.winback import WinbackKind, WinbackOffer
from service.db import codec

IDS = st.from_regex(r"[a-z0-9_-]{1,12}", fullmatch=True)
# Any text a browser can send back unchanged (no surrogates; line breaks as LF, since CRLF is normalised).
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=30)
WHOLE = st.integers(-(10**6), 10**6)
FIRST, LAST = datetime(1900, 1, 1), datetime(2200, 1, 1)  # noqa: DTZ001 - naive bounds, as hypothesis wants
MOMENTS = st.one_of(
    st.none(),
    st.dates(date(1900, 1, 1), date(2200, 1, 1)).map(lambda d: datetime(d.year, d.month, d.day, tzinfo=UTC)),
    st.datetimes(FIRST, LAST, timezones=st.just(UTC)),
    st.datetimes(FIRST, LAST),  # naive, as an old JSON-edited definition may hold
    st.dates(date(1900, 1, 1), date(2200, 1, 1)).map(lambda d: datetime(d.year, d.month, d.day)),  # noqa: DTZ001
)
COPIES = st.builds(OfferCopy, TEXT, TEXT, TEXT)
# Any lengths the one text field can hold ("2 weeks, 1 month"): at least one, each a count of up to 4 digits.
LENGTH = st.builds(PauseLength, st.integers(0, 9999), st.sampled_from(PauseUnit))
LENGTHS = st.lists(LENGTH, min_size=1, max_size=6).map(tuple)
STARTS = st.sampled_from(PauseStart)


LIMIT = st.none() | st.integers(0, 1000)


def offers_with(offer_id: str) -> st.SearchStrategy[Offer]:
    """Every kind, with or without its own cooldown and redemption cap."""
    return st.tuples(_offers_with(offer_id), LIMIT, LIMIT).map(
        lambda drawn: replace(drawn[0], cooldown_days=drawn[1], max_redemptions=drawn[2])
    )


def _offers_with(offer_id: str) -> st.SearchStrategy[Offer]:
    oid = st.just(OfferId(offer_id))
    return st.one_of(
        st.builds(PauseOffer, oid, COPIES, LENGTHS, st.sampled_from(PauseBehavior), MOMENTS, STARTS),
        st.builds(DowngradeOffer, oid, COPIES, TEXT, TEXT, st.integers(0, 10**9), st.booleans()),
        st.builds(TrialExtensionOffer, oid, COPIES, WHOLE),
        st.builds(TrainingOffer, oid, COPIES, IDS.map(lambda s: f"https://{s}.example")),
        st.builds(DiscountOffer, oid, COPIES, TEXT, WHOLE, WHOLE),
        st.builds(ExitInterviewOffer, oid, COPIES, TEXT, WHOLE, IDS.map(lambda s: f"https://{s}.example")),
    )


@st.composite
def definitions(draw: st.DrawFn) -> FlowDefinition:
    """Definitions as the form can express them: ids of letters, digits, - and _, trimmed links."""
    offer_ids = [OfferId(o) for o in draw(st.lists(IDS, unique=True, max_size=5))]
    offers = tuple(draw(offers_with(o)) for o in offer_ids)
    reasons = tuple(
        ReasonDef(
            ReasonId(rid),
            draw(TEXT),
            tuple(draw(st.lists(st.sampled_from(offer_ids), max_size=4))) if offer_ids else (),
            draw(st.sampled_from(FollowUp)),
            draw(TEXT),
        )
        for rid in draw(st.lists(IDS, unique=True, max_size=5))
    )
    keys = [f"reason.{r.id}{s}" for r in reasons for s in ("", ".prompt")]
    keys += [f"offer.{o}.{t}" for o in offer_ids for t in ("title", "body", "accept")]
    keys += ["reason.gone", "offer.gone.title", "something.else"]  # copy no row shows: kept as it is
    copy = draw(
        st.dictionaries(st.sampled_from((*LOCALES, "it")), st.dictionaries(st.sampled_from(keys), TEXT), max_size=5)
    )
    return FlowDefinition(
        key=draw(IDS),
        reasons=reasons,
        offers=offers,
        loss_aversion=draw(st.booleans()),
        survey=draw(st.booleans()),
        feedback=draw(st.booleans()),
        confirm=draw(st.booleans()),
        final_offer_id=draw(st.none() | st.sampled_from(offer_ids)) if offer_ids else None,
        max_offers=draw(WHOLE),
        cancel_always_available=draw(st.booleans()),
        click_to_cancel_countries=tuple(draw(st.lists(st.from_regex(r"[A-Z]{2}", fullmatch=True), unique=True))),
        cancel_at_period_end=draw(st.booleans()),
        randomize_reasons=draw(st.booleans()),
        copy=copy,
        winback=draw(st.none() | st.builds(WinbackOffer, st.sampled_from(WinbackKind), TEXT, WHOLE, WHOLE, WHOLE)),
    )


# 60 generated flows per run (about 0.1 s each): runs on every make test, so the examples add up across runs.
@settings(max_examples=60, deadline=None, database=None)
@given(definitions(), st.randoms(use_true_random=False))
def test_definition_to_form_fields_and_back_is_the_identity(definition: FlowDefinition, rnd: random.Random) -> None:
    fields = to_fields(from_definition(definition))
    rnd.shuffle(fields)  # rows are ordered by their index, not by the order fields arrive in
    parsed = to_definition(from_fields(fields))
    assert parsed.problems == ()
    assert parsed.definition == definition


def test_the_shipped_definition_round_trips_through_the_form_and_stays_valid() -> None:
    shipped = default_definition()
    form = from_definition(shipped)
    assert form.reasons[0]["de-label"] == "Es ist mir zu teuer"  # overrides sit on their row
    assert form.settings["copy_extra"] == ""  # every shipped translation has a row to live on
    parsed = to_definition(from_fields(to_fields(form)))
    assert parsed.definition == shipped
    assert validate_definition(parsed.definition) == []
    assert codec.definition_from_json(codec.definition_to_json(parsed.definition)) == shipped


def _form_with(**changes: str) -> EditorForm:
    fields = dict(to_fields(from_definition(default_definition())))
    fields.update(changes)
    return from_fields(fields.items())


def test_unreadable_input_gives_plain_problems_and_names_the_fields() -> None:
    parsed = to_definition(
        _form_with(
            **{
                "offer-0-lengths": "two months, 1 fortnight",
                "offer-1-amount": "19 dollars",
                "reason-2-id": "no value!",
                "countries": "DE, France",
                "max_offers": "",
                "offer-0-until": "next spring",
                "copy_extra": "{not json",
            }
        )
    )
    assert parsed.definition is None
    assert set(parsed.problems) == {
        "Offer 1: write the lengths like “2 weeks, 1 month” (days, weeks or months).",
        "Offer 2: the new price must be an amount, like 19.00.",
        "Reason 3 needs an id made of letters, digits, - and _ only (for example too_expensive).",
        "Country codes are two letters, like DE or FR: FRANCE is not one.",
        "The number of offers to show must be a whole number, like 3.",
        "Offer 1: the pause end date must look like 2027-03-31 (or stay empty).",
        "The hidden list of other translations was damaged; reload the editor.",
    }
    assert {"offer-0-lengths", "offer-1-amount", "reason-2-id", "countries", "copy_extra"} <= parsed.invalid


def test_textarea_line_breaks_and_unchecked_boxes_read_as_expected() -> None:
    form = _form_with(**{"offer-0-body": "Line one\r\nLine two", "countries": "de fr;  es"})
    settings = {k: v for k, v in form.settings.items() if k != "confirm"}  # an unticked box is not sent
    definition = to_definition(EditorForm(settings, form.reasons, form.offers)).definition
    assert definition is not None
    assert definition.offers[0].copy.body == "Line one\nLine two"
    assert definition.click_to_cancel_countries == ("DE", "FR", "ES")
    assert definition.confirm is False and definition.survey is True


def test_only_the_chosen_kinds_parameters_are_read() -> None:
    definition = to_definition(_form_with(**{"offer-0-kind": "discount", "offer-0-coupon_id": "half"})).definition
    assert definition is not None
    assert definition.offers[0] == DiscountOffer(
        OfferId("pause-2-months"), default_definition().offers[0].copy, "half", 20, 3
    )


@pytest.mark.parametrize(
    ("text", "cents"), [("19", 1900), ("19.5", 1950), ("19.05", 1905), ("19,00", 1900), ("-1.50", -150), ("x", None)]
)
def test_amounts_are_read_as_cents(text: str, cents: int | None) -> None:
    assert parse_amount(text) == cents
    if cents is not None:
        assert parse_amount(amount_text(cents)) == cents


def test_rows_follow_their_index_and_unknown_or_excess_fields_are_ignored() -> None:
    fields = [(f"reason-{i}-id", f"r{i}") for i in range(12)] + [("evil", "x"), ("reason-x-id", "y")]
    form = from_fields(reversed(fields))
    assert [r["id"] for r in form.reasons[:3]] == ["r0", "r1", "r2"]
    assert form.reasons[10]["id"] == "r10"  # numeric, not text, order
    assert len(form.reasons) == 12
    assert "evil" not in form.settings
    too_many = from_fields((f"offer-{i}-id", f"o{i}") for i in range(MAX_ROWS + 5))
    assert len(too_many.offers) == MAX_ROWS


def test_adding_moving_and_removing_reasons() -> None:
    form = from_definition(default_definition())
    added = apply_action(form, "add_reason")
    assert added is not None
    assert added.reasons[-1] == {
        "id": "reason-9",
        "label": "",
        "follow_up": "optional",
        "prompt": "Anything you'd like to add?",
    }
    moved = apply_action(form, "reason_up:1")
    assert moved is not None
    assert [r["id"] for r in moved.reasons[:2]] == ["not_using", "too_expensive"]
    assert apply_action(form, "reason_up:0") == form  # already first
    assert apply_action(form, "reason_down:7") == form  # already last
    removed = apply_action(form, "remove_reason:0")
    assert removed is not None
    assert [r["id"] for r in removed.reasons][:1] == ["not_using"]
    assert apply_action(form, "launch_rockets") is None


def test_adding_an_offer_of_a_kind_and_removing_one_drops_every_route_to_it() -> None:
    base = from_definition(default_definition())
    settings = {**base.settings, "new_offer_kind": "discount", "final_offer_id": "pause-2-months"}
    form = EditorForm(settings, base.reasons, base.offers)
    added = apply_action(form, "add_offer")
    assert added is not None
    assert (added.offers[-1]["id"], added.offers[-1]["kind"], added.offers[-1]["percent_off"]) == (
        "offer-9",  # the first free number after the eight default offers
        "discount",
        "20",
    )
    removed = apply_action(form, "remove_offer:0")  # pause-2-months
    assert removed is not None
    assert all("pause-2-months" not in EditorForm.ranked(r) for r in removed.reasons)
    assert EditorForm.ranked(removed.reasons[0]) == ["downgrade-starter"]
    assert removed.settings["final_offer_id"] == ""
    definition = to_definition(removed).definition
    assert definition is not None
    assert validate_definition(definition) == []


# ------------------------------------------------------------------------------------ offer limits
def test_offer_limits_are_read_from_their_boxes_and_empty_keeps_the_kinds_default() -> None:
    form = _form_with(**{"offer-0-cooldown_days": " 30 ", "offer-0-max_redemptions": "0", "offer-1-cooldown_days": ""})
    parsed = to_definition(form)
    assert parsed.definition is not None
    first, second = parsed.definition.offers[:2]
    assert (first.cooldown_days, first.max_redemptions) == (30, 0)
    assert (second.cooldown_days, second.max_redemptions) == (None, None)  # the policy's defaults apply


def test_offer_limits_survive_the_form_and_the_stored_json() -> None:
    """What the editor publishes (and the live preview stores as a draft) keeps each offer's limits."""
    shipped = default_definition()
    limited = replace(
        shipped, offers=(replace(shipped.offers[0], cooldown_days=7, max_redemptions=3), *shipped.offers[1:])
    )
    form = from_definition(limited)
    assert (form.offers[0]["cooldown_days"], form.offers[0]["max_redemptions"]) == ("7", "3")
    assert (form.offers[1]["cooldown_days"], form.offers[1]["max_redemptions"]) == ("", "")
    parsed = to_definition(from_fields(to_fields(form)))
    assert parsed.definition == limited
    assert codec.definition_from_json(codec.definition_to_json(limited)) == limited


def test_a_definition_stored_before_offers_had_limits_reads_with_the_defaults() -> None:
    text = codec.definition_to_json(default_definition()).replace('"cooldown_days":null,', "")
    text = text.replace('"max_redemptions":null,', "")
    assert "cooldown_days" not in text
    assert codec.definition_from_json(text) == default_definition()


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("cooldown_days", "-1", "Offer 1: the cooldown in days must be 0 to 3650."),
        ("cooldown_days", "a week", "Offer 1: the cooldown in days must be 0 to 3650."),
        ("max_redemptions", "1001", "Offer 1: the redemptions per customer must be 0 to 1000."),
    ],
)
def test_offer_limits_out_of_range_are_refused_in_plain_words(field: str, value: str, problem: str) -> None:
    parsed = to_definition(_form_with(**{f"offer-0-{field}": value}))
    assert parsed.definition is None
    assert parsed.problems == (problem,)
    assert f"offer-0-{field}" in parsed.invalid


def test_the_form_knows_each_kinds_default_cooldown() -> None:
    assert EditorForm.default_cooldowns == {
        "pause": 180,
        "discount": 365,
        "trial_extension": 365,
        "downgrade": 0,
        "training": 0,
        "exit_interview": 0,
    }
    assert EditorForm.default_max_redemptions == 1


def test_the_win_back_offer_is_edited_switched_to_free_days_or_turned_off() -> None:
    shipped = to_definition(_form_with()).definition
    assert shipped is not None and shipped.winback == default_definition().winback
    free = to_definition(_form_with(winback_kind="free_days", winback_free_days="30")).definition
    assert free is not None and free.winback is not None
    assert (free.winback.kind, free.winback.free_days) == (WinbackKind.FREE_DAYS, 30)
    assert validate_definition(free) == []
    off = to_definition(_form_with(winback_kind="")).definition
    assert off is not None and off.winback is None
    bad = to_definition(_form_with(winback_kind="gift", winback_percent_off="lots"))
    assert bad.definition is None and "winback_kind" in bad.invalid
    out_of_range = to_definition(_form_with(winback_percent_off="0", winback_coupon_id=" ")).definition
    assert out_of_range is not None
    assert validate_definition(out_of_range) == [
        "The win-back discount needs the billing coupon id.",
        "The win-back discount must be between 1% and 100%.",
    ]
