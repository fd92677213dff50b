"""Pauses after the offer: is the subscription still paused, and is its "pause ending" reminder due?

Rules: standard library and `offers.ports` only; pure. Billing is the source of truth: a pause may have
been resumed early, extended or cancelled since the session that paused it, so every decision takes a
fresh snapshot and never the date the session recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offers.ports import SubscriptionSnapshot


class ReminderAction(StrEnum):
    REMIND = "remind"  # the pause ends within the lead time: remind now, naming `resumes_at`
    WAIT = "wait"  # still paused, but until later than the lead time (extended): remind when it nears
    NONE = "none"  # nothing to remind: resumed early, cancelled, behind on payment, or already over


@dataclass(frozen=True, slots=True)
class ReminderCheck:
    action: ReminderAction
    resumes_at: datetime | None = None  # billing's date, set when the action is REMIND or WAIT


def paused_until(snapshot: SubscriptionSnapshot, now: datetime) -> datetime | None:
    """When billing resumes, if the subscription is live and paused at `now`; else None."""
    if snapshot.is_live and snapshot.paused_until is not None and snapshot.paused_until > now:
        return snapshot.paused_until
    return None


def pause_reminder(snapshot: SubscriptionSnapshot, *, now: datetime, lead: timedelta) -> ReminderCheck:
    """Whether to send the "your pause ends soon" reminder `lead` ahead of the end, from a fresh read.

    Args:
        snapshot: the subscription as billing reports it now.
        now: the sweep's time.
        lead: how long before billing resumes the reminder goes out.
    """
    until = paused_until(snapshot, now)
    if until is None:
        return ReminderCheck(ReminderAction.NONE)
    if until <= now + lead:
        return ReminderCheck(ReminderAction.REMIND, until)
    return ReminderCheck(ReminderAction.WAIT, until)
