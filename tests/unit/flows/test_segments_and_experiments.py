"""Segment rules (every operator, boundaries, unknown attributes) and deterministic experiment bucketing."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.experiments import Arm, Experiment, assign_arm, validate_experiment
from flows.segments import (
    Condition,
    Op,
    Scalar,
    Segment,
    condition_holds,
    describe,
    describe_condition,
    pick_segment,
    segment_problems,
    validate_segment,
    value_from_text,
    value_to_text,
)

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


# ------------------------------------------------------------------------------------ admin-facing helpers
@pytest.mark.parametrize(
    ("attribute", "value", "actual", "expected"),
    [
        ("seats", "5", 5, True),  # typed in the admin as text, sent by the host as a number
        ("seats", 5, "5", True),
        ("seats", "5", 6, False),
        ("seats", "five", 5, False),
        ("beta", "yes", True, True),
        ("beta", "false", False, True),
        ("beta", "yes", False, False),
        ("beta", "maybe", True, False),
    ],
)
def test_text_typed_in_the_admin_equals_the_same_number_or_flag(
    attribute: str, value: Scalar, actual: Scalar, expected: bool
) -> None:
    assert condition_holds(Condition(attribute, Op.EQ, value), {attribute: actual}) is expected
    assert condition_holds(Condition(attribute, Op.IN, (value, "other")), {attribute: actual}) is expected


@pytest.mark.parametrize(
    ("attribute", "op", "text", "value"),
    [
        ("plan", Op.EQ, " Pro ", "Pro"),
        ("plan", Op.IN, "pro, team,, ", ("pro", "team")),
        ("tenure_months", Op.GTE, "12", 12),
        ("mrr_cents", Op.BETWEEN, "1000, 4999.5", (1000, 4999.5)),
        ("mrr_cents", Op.EQ, "lots", "lots"),  # kept as text, so validation can say what is wrong
        ("trialing", Op.EQ, "Yes", True),
        ("trialing", Op.EQ, "no", False),
        ("seats", Op.GT, "10", 10),
        ("seats", Op.EQ, "10", "10"),  # a custom attribute compared for equality stays text
        ("team", Op.CONTAINS, "42", "42"),
    ],
)
def test_values_typed_in_the_admin_get_the_attributes_type(attribute: str, op: Op, text: str, value: object) -> None:
    assert value_from_text(attribute, op, text) == value


def test_a_stored_value_shows_as_text_that_reads_back_the_same() -> None:
    for attribute, op, value in [
        ("country", Op.IN, ("DE", "AT")),
        ("tenure_months", Op.BETWEEN, (0, 6)),
        ("trialing", Op.EQ, True),
        ("mrr_cents", Op.LT, 4900),
    ]:
        assert value_from_text(attribute, op, value_to_text(value)) == value  # type: ignore[arg-type]


def test_problems_name_the_field_or_condition_they_are_about() -> None:
    segment = Segment(
        "bad id!",
        "",
        "",
        (Condition("plan", Op.EQ, "pro"), Condition("mrr_cents", Op.GT, "lots"), Condition("x y", Op.EQ, "1")),
    )
    fields = list(dict.fromkeys(field for field, _ in segment_problems(segment)))
    assert fields == ["id", "name", "flow_key", "condition-1", "condition-2"]
    assert validate_segment(segment) == [message for _, message in segment_problems(segment)]
    assert any("'is more than' compares numbers" in m for m in validate_segment(segment))


def test_a_segment_reads_as_a_sentence() -> None:
    segment = Segment(
        "s",
        "S",
        "winback",
        (Condition("plan", Op.IN, ("pro", "team")), Condition("tenure_months", Op.BETWEEN, (1, 6))),
    )
    assert describe(segment) == "plan is one of pro, team and tenure_months is between 1 and 6 → flow winback"
    assert describe(Segment("all", "All", "default")) == "everyone → flow default"
    assert describe_condition(Condition("trialing", Op.EQ, True)) == "trialing is yes"
