"""The pause reminder decision: remind within the lead time, wait for an extended pause, nothing otherwise."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from offers import SubscriptionSnapshot, SubscriptionStatus
from offers.pauses import ReminderAction, ReminderCheck, pause_reminder, paused_until

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
LEAD = timedelta(days=3)
ACTIVE = SubscriptionSnapshot(
    id="sub_1",
    customer_id="cus_1",
    status=SubscriptionStatus.ACTIVE,
    price_id="price_1",
    amount_cents=4900,
    currency="usd",
    interval="month",
    current_period_end=NOW + timedelta(days=20),
)


def paused(until: datetime | None, **changes: object) -> SubscriptionSnapshot:
    return dataclasses.replace(ACTIVE, paused_until=until, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (paused(NOW + LEAD), ReminderCheck(ReminderAction.REMIND, NOW + LEAD)),  # exactly the lead time
        (paused(NOW + timedelta(hours=1)), ReminderCheck(ReminderAction.REMIND, NOW + timedelta(hours=1))),
        (
            paused(NOW + LEAD + timedelta(seconds=1)),
            ReminderCheck(ReminderAction.WAIT, NOW + LEAD + timedelta(seconds=1)),
        ),
        (paused(None), ReminderCheck(ReminderAction.NONE)),  # resumed early
        (paused(NOW), ReminderCheck(ReminderAction.NONE)),  # resumes this instant: too late to remind
        (paused(NOW + LEAD, status=SubscriptionStatus.CANCELED), ReminderCheck(ReminderAction.NONE)),
        (paused(NOW + LEAD, status=SubscriptionStatus.PAST_DUE), ReminderCheck(ReminderAction.NONE)),
    ],
)
def test_pause_reminder(snapshot: SubscriptionSnapshot, expected: ReminderCheck) -> None:
    assert pause_reminder(snapshot, now=NOW, lead=LEAD) == expected


def test_paused_until_is_billings_date_only_while_live_and_ahead() -> None:
    assert paused_until(paused(NOW + LEAD), NOW) == NOW + LEAD
    assert paused_until(paused(NOW - timedelta(seconds=1)), NOW) is None
    assert paused_until(paused(NOW + LEAD, status=SubscriptionStatus.UNPAID), NOW) is None
