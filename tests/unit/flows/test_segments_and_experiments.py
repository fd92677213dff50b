"""Segment rules (every operator, boundaries, unknown attributes) and deterministic experiment bucketing."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.experiments import Arm, Experiment, assign_arm, validate_experiment
from flows.segments import Condition, Op, Scalar, Segment, condition_holds, pick_segment, validate_segment

ATTRS: dict[str, Scalar] = {
    "plan": "Pro",
    "mrr_cents": 4900,
    "tenure_months": 12,
    "country": "DE",
    "trialing": False,
    "team": "Data Eng",
}


@pytest.mark.parametrize(
    ("attribute", "op", "value", "expected"),
    [
        ("plan", Op.EQ, "pro", True),  # text compares case-insensitively
        ("plan", Op.EQ, "team", False),
        ("plan", Op.NE, "team", True),
        ("country", Op.IN, ("US", "DE"), True),
        ("country", Op.NOT_IN, ("US", "DE"), False),
        ("country", Op.IN, "DE", True),
        ("mrr_cents", Op.GT, 4900, False),
        ("mrr_cents", Op.GTE, 4900, True),
        ("mrr_cents", Op.LT, 4900, False),
        ("mrr_cents", Op.LTE, 4900, True),
        ("tenure_months", Op.BETWEEN, (12, 24), True),  # inclusive at both ends
        ("tenure_months", Op.BETWEEN, (1, 11), False),
        ("tenure_months", Op.BETWEEN, (13, 24), False),
        ("team", Op.CONTAINS, "eng", True),
        ("trialing", Op.EQ, False, True),
        ("trialing", Op.EQ, 0, False),  # a bool is not a number
        ("plan", Op.GT, 3, False),  # wrong type never matches and never raises
        ("missing", Op.EQ, "x", False),
        ("missing", Op.NE, "x", False),  # unknown attribute: no match either way
        ("mrr_cents", Op.BETWEEN, (1,), False),
    ],
)
def test_operators(attribute: str, op: Op, value: object, expected: bool) -> None:
    assert condition_holds(Condition(attribute, op, value), ATTRS) is expected  # type: ignore[arg-type]


def test_first_matching_segment_wins_in_priority_order() -> None:
    enterprise = Segment("ent", "Enterprise", "enterprise", (Condition("mrr_cents", Op.GTE, 10000),))
    germany = Segment("de", "Germany", "de-flow", (Condition("country", Op.EQ, "de"),))
    everyone = Segment("all", "Everyone", "default")
    assert pick_segment([enterprise, germany, everyone], ATTRS) == germany
    assert pick_segment([everyone, germany], ATTRS) == everyone
    assert pick_segment([enterprise], ATTRS) is None


@pytest.mark.parametrize(
    "condition",
    [
        Condition("mrr_cents", Op.GT, "lots"),
        Condition("tenure_months", Op.BETWEEN, (5,)),
        Condition("tenure_months", Op.BETWEEN, (24, 12)),
        Condition("country", Op.IN, ()),
        Condition("plan", Op.EQ, ("a", "b")),
        Condition("trialing", Op.EQ, "yes"),
        Condition("note", Op.CONTAINS, 5),
        Condition("", Op.EQ, "x"),
    ],
)
def test_invalid_segments_get_a_plain_message_on_save(condition: Condition) -> None:
    problems = validate_segment(Segment("s", "S", "default", (condition,)))
    assert problems
    assert all(p.endswith(".") for p in problems)


def test_a_valid_segment_has_no_problems() -> None:
    segment = Segment("s", "S", "default", (Condition("tenure_months", Op.BETWEEN, (0, 6)), Condition("x", Op.EQ, 1)))
    assert validate_segment(segment) == []


EXPERIMENT = Experiment(
    "exp-1",
    "default",
    (Arm("control", 45, 1), Arm("variant", 45, 2), Arm("holdout", 10, 1, holdout=True)),
)


@given(st.text(min_size=1, max_size=30))
def test_a_customer_always_lands_in_the_same_arm(customer_id: str) -> None:
    assert assign_arm(EXPERIMENT, customer_id) == assign_arm(EXPERIMENT, customer_id)


def test_arms_are_filled_in_proportion_to_their_weights() -> None:
    counts = Counter(assign_arm(EXPERIMENT, f"cus_{i}").id for i in range(20_000))
    assert abs(counts["control"] / 20_000 - 0.45) < 0.02
    assert abs(counts["holdout"] / 20_000 - 0.10) < 0.01


@settings(max_examples=50)
@given(st.lists(st.integers(0, 5), min_size=2, max_size=5).filter(lambda ws: sum(ws) > 0))
def test_zero_weight_arms_are_never_assigned(weights: list[int]) -> None:
    experiment = Experiment("e", "default", tuple(Arm(f"a{i}", w, i) for i, w in enumerate(weights)))
    for n in range(50):
        assert assign_arm(experiment, f"c{n}").weight > 0


def test_experiment_validation() -> None:
    assert validate_experiment(EXPERIMENT) == []
    bad = Experiment("e", "default", (Arm("a", 0, 1, holdout=True), Arm("a", 0, 2, holdout=True)))
    assert len(validate_experiment(bad)) == 3
