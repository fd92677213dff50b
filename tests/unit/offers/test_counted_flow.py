"""Each subscription counts once per billing period: `offers.value.counted_flow`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from offers.value import PeriodFlow, counted_flow

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RANK = ["abandoned", None, "kept", "saved", "cancelled"]  # weakest first


def flow(n: int, outcome: str | None, *, cancelling: bool = False) -> PeriodFlow:
    return PeriodFlow(f"ses_{n}", outcome, T0 + timedelta(minutes=n), cancelling)


def test_the_strongest_outcome_counts_whatever_the_order() -> None:
    assert counted_flow([flow(1, "abandoned"), flow(2, "cancelled")]) == "ses_2"  # came back and cancelled
    assert counted_flow([flow(1, "saved"), flow(2, "cancelled")]) == "ses_2"  # the save did not hold
    assert counted_flow([flow(1, "kept"), flow(2, "saved")]) == "ses_2"
    assert counted_flow([flow(1, "saved"), flow(2, "kept")]) == "ses_1"  # a later call keeps the pause counted
    assert counted_flow([flow(1, "saved"), flow(2, "abandoned")]) == "ses_1"  # peeking again undoes no save
    assert counted_flow([flow(1, "abandoned"), flow(2, None)]) == "ses_2"  # back, and deciding now


def test_the_latest_counts_among_equals_and_a_flow_on_a_cancelling_subscription_never_does() -> None:
    assert counted_flow([flow(1, "abandoned"), flow(2, "abandoned")]) == "ses_2"
    assert counted_flow([flow(1, "cancelled"), flow(2, "cancelled", cancelling=True)]) == "ses_1"
    assert counted_flow([flow(1, "kept", cancelling=True)]) is None
    assert counted_flow([]) is None


@given(st.lists(st.tuples(st.sampled_from(RANK), st.booleans()), max_size=8))
def test_exactly_one_flow_counts_and_none_is_stronger(spec: list[tuple[str | None, bool]]) -> None:
    flows = [flow(n, outcome, cancelling=cancelling) for n, (outcome, cancelling) in enumerate(spec)]
    counted = counted_flow(flows)
    eligible = [f for f in flows if not f.cancelling_at_start]
    if not eligible:
        assert counted is None
        return
    winner = next(f for f in flows if f.id == counted)
    assert not winner.cancelling_at_start
    assert all(RANK.index(f.outcome) <= RANK.index(winner.outcome) for f in eligible)
