"""Experiment statistics against published values, and the per-experiment comparison built on them."""

from __future__ import annotations

from collections import Counter

import pytest

from admin.experiments import (
    ArmRow,
    Draft,
    arms_of,
    compare_arms,
    newcombe_difference,
    sample_size,
    sample_size_per_arm,
    two_proportion_p,
    wilson,
)
from admin.queries import ArmCounts
from flows.experiments import Arm, Experiment, assign_arm, validate_experiment


# Newcombe RG (1998a). Two-sided confidence intervals for the single proportion: comparison of seven
# methods. Stat Med 17:857-872, Table I, method 3 (Wilson score, no continuity correction).
@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0),
    ],
)
def test_wilson_interval_matches_newcombe_table_i(successes: int, trials: int, low: float, high: float) -> None:
    assert wilson(successes, trials) == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_for_20_of_50_and_for_nothing() -> None:
    # By hand from Wilson (1927): centre (0.4 + z²/100) / (1 + z²/50) = 0.40713, half-width 0.13105.
    assert wilson(20, 50) == pytest.approx((0.2761, 0.5382), abs=1e-4)
    assert wilson(0, 0) is None


# Newcombe RG (1998b). Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Stat Med 17:873-890, Table II, method 10 (hybrid score from two Wilson
# intervals). Examples (a) and (b) are also what the R package propint's tests check ci.two.indep.props
# against; (e) and (f) follow from Table I's 0/10 and 0/20 intervals.
@pytest.mark.parametrize(
    ("s1", "n1", "s2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),  # (a)
        (9, 10, 3, 10, 0.1705, 0.8090),  # (b)
        (0, 10, 0, 20, -0.1611, 0.2775),  # (e)
        (0, 10, 0, 10, -0.2775, 0.2775),  # (f)
    ],
)
def test_difference_interval_matches_newcombe_table_ii(
    s1: int, n1: int, s2: int, n2: int, low: float, high: float
) -> None:
    assert newcombe_difference(s1, n1, s2, n2) == pytest.approx((low, high), abs=1e-4)
    assert newcombe_difference(1, 0, 1, 10) is None


def test_two_proportion_z_test() -> None:
    # 60/100 vs 45/100: pooled 0.525, z = 0.15 / 0.07062 = 2.124, z² = 4.511 (Pearson's χ² without
    # continuity correction, as R's prop.test(c(60, 45), c(100, 100), correct = FALSE)), p = 0.03367.
    assert two_proportion_p(60, 100, 45, 100) == pytest.approx(0.03367, abs=1e-5)
    assert two_proportion_p(5, 10, 5, 10) == pytest.approx(1.0)
    assert two_proportion_p(1, 0, 1, 10) is None
    assert two_proportion_p(0, 10, 0, 10) is None


def test_sample_size_matches_published_examples() -> None:
    # JMP 13.2 documentation, "Two Sample Proportions": p1 0.08, p2 0.06, two-sided alpha 0.05, power 0.8 → 2554.
    assert sample_size(0.08, 0.06) == 2554
    # Fleiss, Levin & Paik eq. 4.14 without correction for 0.5 vs 0.4: 387.3 → 388 per group.
    assert sample_size(0.5, 0.4) == 388
    # Per arm for an effect from a baseline: the larger of a rise and a fall (0.08 → 0.10 needs more).
    assert sample_size_per_arm(0.08, 0.02) == max(sample_size(0.08, 0.06), sample_size(0.08, 0.10))
    assert sample_size_per_arm(0.0, 0.02) == sample_size(0.0, 0.02)  # only a rise fits
    with pytest.raises(ValueError, match="different"):
        sample_size(0.3, 0.3)


HOLDOUT_LAST = (Arm("control", 45, 1), Arm("variant", 45, 2), Arm("holdout", 10, 1, holdout=True))


def test_the_holdout_is_the_control_wherever_it_stands() -> None:
    counts = (ArmCounts(400, 100, 410), ArmCounts(400, 80, 405), ArmCounts(400, 160, 400))
    comparison = compare_arms(HOLDOUT_LAST, counts, effect_pp=10)
    assert comparison.control.id == "holdout"
    assert comparison.baseline == pytest.approx(0.4)
    control, variant, holdout = comparison.results
    assert holdout.is_control and holdout.verdict == "control" and holdout.difference_interval is None
    assert control.difference == pytest.approx(0.25 - 0.4)
    assert control.difference_interval == newcombe_difference(100, 400, 160, 400)
    assert control.p_value == two_proportion_p(100, 400, 160, 400)
    assert comparison.needed == sample_size_per_arm(0.4, 0.10) and comparison.enough
    assert variant.verdict == "fewer cancellations than control"


def test_without_a_holdout_the_first_arm_is_the_control() -> None:
    arms = (Arm("a", 1, 1), Arm("b", 1, 2), Arm("c", 1, 3), Arm("d", 1, 4))
    counts = (ArmCounts(3000, 900), ArmCounts(3000, 1200), ArmCounts(3000, 915), ArmCounts(3000, 700))
    comparison = compare_arms(arms, counts, effect_pp=5)
    assert comparison.control.id == "a" and comparison.enough
    verdicts = [r.verdict for r in comparison.results]
    assert verdicts == [
        "control",
        "more cancellations than control",
        "no difference detected",
        "fewer cancellations than control",
    ]


def test_not_enough_data_until_every_assigned_arm_has_its_sample() -> None:
    arms = (*HOLDOUT_LAST, Arm("paused", 0, 3))
    counts = (ArmCounts(500, 100), ArmCounts(30, 1), ArmCounts(500, 150), ArmCounts())
    comparison = compare_arms(arms, counts, effect_pp=10)
    assert not comparison.enough and comparison.smallest == 30  # the weight-0 arm is not waited for
    assert [r.verdict for r in comparison.results] == [
        "not enough data yet",
        "not enough data yet",
        "control",
        "not assigned (weight 0)",
    ]
    assert comparison.results[1].difference_interval is not None  # intervals are honest at any n: still shown


def test_a_control_without_customers_assumes_a_50_percent_baseline() -> None:
    comparison = compare_arms(HOLDOUT_LAST, (ArmCounts(), ArmCounts(), ArmCounts()), effect_pp=2)
    assert comparison.baseline == 0.5 and comparison.needed == sample_size(0.5, 0.48)
    assert all(r.rate is None and r.difference is None for r in comparison.results)


def test_weighted_arms_fill_in_proportion_with_more_than_two_arms() -> None:
    experiment = Experiment(
        "exp-4", "default", (Arm("a", 50, 1), Arm("b", 25, 2), Arm("c", 15, 3), Arm("h", 10, 1, True))
    )
    counts = Counter(assign_arm(experiment, f"cus_{i}").id for i in range(40_000))
    for arm in experiment.arms:
        assert counts[arm.id] / 40_000 == pytest.approx(arm.weight / 100, abs=0.01)


def test_experiment_validation_of_arms() -> None:
    def problems(*arms: Arm) -> list[str]:
        return validate_experiment(Experiment("e", "default", arms))

    assert problems(Arm("a", 1, 1), Arm("b", 1, 1), Arm("c", 1, 1)) == []
    assert problems(*(Arm(f"a{i}", 1, 1) for i in range(9))) == ["An experiment can have at most 8 arms."]
    assert "Arm names" in problems(Arm("a b", 1, 1), Arm("c", 1, 1))[0]
    assert "0 to 1000" in problems(Arm("a", 1001, 1), Arm("b", 1, 1))[0]
    assert "other than the holdout" in problems(Arm("a", 0, 1), Arm("h", 5, 1, holdout=True))[0]


def test_the_start_form_rows_become_arms() -> None:
    draft = Draft("x", "default", (ArmRow("control", "1", "45"), ArmRow("", "1", "9"), ArmRow("holdout", "1", "")), 2)
    assert arms_of(draft) == (Arm("control", 45, 1), Arm("holdout", 0, 1, holdout=True))
    bad = Draft("x", "default", (ArmRow("control", "nope", "1"),), None)
    assert arms_of(bad) == "Arm 'control': pick a flow version and a whole-number weight."
