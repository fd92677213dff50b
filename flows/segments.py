"""Customer segments: priority-ordered rules over token attributes that pick which flow a customer gets.

Rules: standard library only; pure. Definitions are validated when CS saves them (`validate_segment`),
so evaluation never raises: an attribute that is missing or of the wrong type simply does not match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

Scalar = str | int | float | bool
Attributes = Mapping[str, Scalar]

# Attributes the embed token documents; anything else is a custom attribute of any scalar type.
KNOWN_ATTRIBUTES: dict[str, type] = {
    "plan": str,
    "interval": str,
    "mrr_cents": int,
    "tenure_months": int,
    "country": str,
    "currency": str,
    "trialing": bool,
    "locale": str,
}


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"  # inclusive on both ends
    CONTAINS = "contains"  # substring, case-insensitive


NUMERIC_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN})
LIST_OPS = frozenset({Op.IN, Op.NOT_IN, Op.BETWEEN})


@dataclass(frozen=True, slots=True)
class Condition:
    attribute: str
    op: Op
    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    """All conditions must hold. An empty condition list matches everyone (a catch-all)."""

    id: str
    name: str
    flow_key: str
    conditions: tuple[Condition, ...] = ()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Scalar, right: Scalar) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if _is_number(left) and _is_number(right):
        return left == right
    return type(left) is type(right) and left == right


def condition_holds(condition: Condition, attributes: Attributes) -> bool:
    """Evaluate one condition; a missing or mistyped attribute never matches (and never raises)."""
    if condition.attribute not in attributes:
        return False
    actual, expected, op = attributes[condition.attribute], condition.value, condition.op
    if op in NUMERIC_OPS:
        if not _is_number(actual):
            return False
        number = float(actual)
        if op is Op.BETWEEN:
            if not (isinstance(expected, tuple) and len(expected) == 2 and all(map(_is_number, expected))):
                return False
            low, high = (float(v) for v in expected)
            return low <= number <= high
        if not _is_number(expected):
            return False
        bound = float(expected)  # type: ignore[arg-type]
        return {Op.GT: number > bound, Op.GTE: number >= bound, Op.LT: number < bound, Op.LTE: number <= bound}[op]
    if op is Op.CONTAINS:
        return isinstance(actual, str) and isinstance(expected, str) and expected.casefold() in actual.casefold()
    if op in (Op.IN, Op.NOT_IN):
        values = expected if isinstance(expected, tuple) else (expected,)
        found = any(_equal(actual, v) for v in values)
        return found if op is Op.IN else not found
    if isinstance(expected, tuple):
        return False
    return _equal(actual, expected) if op is Op.EQ else not _equal(actual, expected)


def matches(segment: Segment, attributes: Attributes) -> bool:
    return all(condition_holds(c, attributes) for c in segment.conditions)


def pick_segment(segments: Iterable[Segment], attributes: Attributes) -> Segment | None:
    """The first segment, in priority order, whose conditions all hold."""
    return next((s for s in segments if matches(s, attributes)), None)


def validate_segment(segment: Segment) -> list[str]:
    """Problems a CS admin must fix before saving, in plain words (empty when the segment is valid)."""
    problems: list[str] = []
    if not segment.id.strip() or not segment.name.strip():
        problems.append("A segment needs an id and a name.")
    if not segment.flow_key.strip():
        problems.append(f"Segment {segment.name!r} must say which flow it uses.")
    for c in segment.conditions:
        where = f"Condition on {c.attribute!r}"
        if not c.attribute.strip():
            problems.append("Every condition needs an attribute name.")
            continue
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        if c.op is Op.BETWEEN and (len(values) != 2 or not isinstance(c.value, tuple)):
            problems.append(f"{where}: 'between' needs exactly two values (low and high).")
        elif c.op in (Op.IN, Op.NOT_IN) and not values:
            problems.append(f"{where}: '{c.op}' needs at least one value.")
        elif c.op not in LIST_OPS and isinstance(c.value, tuple):
            problems.append(f"{where}: '{c.op}' takes a single value.")
        if c.op in NUMERIC_OPS and not all(_is_number(v) for v in values):
            problems.append(f"{where}: '{c.op}' compares numbers, so its value must be a number.")
        if c.op is Op.BETWEEN and len(values) == 2 and all(map(_is_number, values)) and values[0] > values[1]:  # type: ignore[operator]
            problems.append(f"{where}: the low end of 'between' is above the high end.")
        if c.op is Op.CONTAINS and not isinstance(c.value, str):
            problems.append(f"{where}: 'contains' looks for text, so its value must be text.")
        known = KNOWN_ATTRIBUTES.get(c.attribute)
        if known is not None and c.op not in (Op.CONTAINS,):
            wrong = [v for v in values if not _fits(v, known)]
            if wrong:
                problems.append(f"{where}: {c.attribute} is a {known.__name__}, but got {wrong[0]!r}.")
    return problems


def _fits(value: Scalar, expected: type) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return _is_number(value)
    return isinstance(value, expected)
