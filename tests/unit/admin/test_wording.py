"""The admin's words: labels from the session's own flow version, events as sentences, call promises."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from admin.wording import (
    Promise,
    event_sentence,
    humanize,
    language_label,
    offers_note,
    outcome_label,
    promise_in,
    vocabulary,
    waited,
)
from flows import FlowState, SessionId
from flows.defaults import CONTACT, PAUSE, TRAINING
from offers import OfferId
from tests.factories import make_definition

VOCAB = vocabulary(make_definition())


def test_labels_come_from_the_definition_and_its_english_copy() -> None:
    assert VOCAB.reason("too_expensive") == "It's too expensive"
    assert VOCAB.offer(PAUSE) == "Pause instead of cancelling"
    english = make_definition(
        copy={"en": {"reason.too_expensive": "Costs too much", f"offer.{PAUSE}.title": "Take a break"}}
    )
    words = vocabulary(english, make_definition())
    assert (words.reason("too_expensive"), words.offer(PAUSE)) == ("Costs too much", "Take a break")
    assert VOCAB.reason("gone_reason") == "Gone reason" and VOCAB.offer(None) == "—"
    assert humanize("pause-2-months") == "Pause 2 months"
    assert outcome_label("kept") == "Kept" and outcome_label(None) == "In progress"
    assert language_label("de") == "German" and language_label("zz-nope") == "zz-nope"


def test_events_read_as_short_sentences() -> None:
    def said(kind: str, **payload: object) -> str:
        return event_sentence(kind, payload, VOCAB).full

    assert said("ReasonChosen", reason="too_expensive", comment="") == "Chose It's too expensive"
    assert event_sentence("ReasonChosen", {"reason": "other", "comment": "moving"}, VOCAB).detail == "“moving”"
    assert said("OfferAccepted", offer_id=PAUSE) == "Accepted Pause instead of cancelling"
    assert said("OfferApplied", offer_id=PAUSE).startswith("Billing applied the pause")
    assert said("OfferApplied", offer_id=TRAINING).startswith("Handed to the CS team")
    at = "2025-03-01T10:00:00Z"
    assert said("CancelApplied", at=at, effective_at="2025-03-20T10:00:00Z") == "Cancelled at period end"
    assert said("CancelApplied", at=at, effective_at=at) == "Cancelled immediately"
    assert said("Kept") == "Chose to keep the subscription"
    assert said("SomethingNew") == "SomethingNew"


def test_offers_note_says_what_happened_to_the_offers() -> None:
    state = FlowState(session_id=SessionId("s"), offers_shown=(PAUSE, OfferId("downgrade-starter")))
    assert offers_note(state, VOCAB) == "Saw Pause instead of cancelling, Switch to Starter"
    assert offers_note(replace(state, offers_declined=(PAUSE,)), VOCAB) == "Declined Pause instead of cancelling"
    assert offers_note(replace(state, accepted_offer=PAUSE), VOCAB) == "Accepted Pause instead of cancelling"
    assert offers_note(FlowState(session_id=SessionId("s")), VOCAB) == ""


def test_the_promise_comes_from_the_offers_copy_else_24_hours() -> None:
    contact = promise_in(VOCAB.offer_bodies[CONTACT])
    assert contact == Promise(hours=0, business_days=1, wording="within one working day")
    friday = datetime(2025, 3, 7, 15, 0, tzinfo=UTC)
    assert contact.due(friday) == datetime(2025, 3, 10, 15, 0, tzinfo=UTC)  # Monday
    assert promise_in("We'll call within 4 hours.").due(friday) == friday + timedelta(hours=4)
    assert promise_in("Back to you within 2 days").hours == 48
    default = promise_in(VOCAB.offer_bodies[TRAINING])
    assert default.due(friday) == friday + timedelta(hours=24)
    assert "default" in default.described and "the offer's copy" in contact.described
    assert waited(friday, friday + timedelta(hours=3, minutes=20)) == "3 h 20 min"
    assert waited(friday, friday + timedelta(days=2, hours=1)) == "2 d 1 h"
