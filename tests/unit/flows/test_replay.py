"""The machine's log: every decide bumps the version, and replaying the log rebuilds the state exactly."""

from __future__ import annotations

from flows import CancelApplied, CancelConfirmed, CancelFailed, OfferFailed, Outcome, WentBack, replay
from flows.defaults import DOWNGRADE, PAUSE
from tests.factories import NOW, SID, walk
from tests.unit.flows.test_machine import AT_OFFER, CTX, DEFAULT, accept, decline, reason

LONG_PATH = (
    *AT_OFFER,
    accept(PAUSE),
    OfferFailed(at=NOW, offer_id=PAUSE, definitive=True),
    WentBack(at=NOW),
    reason("competitor", "cheaper elsewhere"),
    decline(DOWNGRADE),  # two offers shown already: the discount is over budget, the downgrade comes back
    CancelConfirmed(at=NOW),
    CancelFailed(at=NOW, definitive=False),
    CancelConfirmed(at=NOW),
    CancelApplied(at=NOW, effective_at=NOW),
)


def test_every_decide_bumps_the_version_by_one() -> None:
    decisions = walk(DEFAULT, CTX, LONG_PATH)
    assert [d.state.version for d in decisions] == list(range(1, len(LONG_PATH) + 1))


def test_replay_equals_the_step_by_step_state() -> None:
    decisions = walk(DEFAULT, CTX, LONG_PATH)
    assert decisions[-1].state.outcome is Outcome.CANCELLED
    assert replay(DEFAULT, CTX, SID, LONG_PATH) == decisions[-1].state
    assert replay(DEFAULT, CTX, SID, LONG_PATH[:5]) == decisions[4].state
