"""Customer segments: priority-ordered rules over token attributes that pick which flow a customer gets.

Rules: standard library only; pure. Definitions are validated when CS saves them (`validate_segment`),
so evaluation never raises: an attribute that is missing or of the wrong type simply does not match.
"""

from __future__ import annotations

import re
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
OP_LABELS: dict[Op, str] = {
    Op.EQ: "is",
    Op.NE: "is not",
    Op.IN: "is one of",
    Op.NOT_IN: "is none of",
    Op.GT: "is more than",
    Op.GTE: "is at least",
    Op.LT: "is less than",
    Op.LTE: "is at most",
    Op.BETWEEN: "is between",
    Op.CONTAINS: "contains",
}
TYPE_WORDS: dict[type, str] = {str: "text", int: "a whole number", bool: "yes or no"}
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # segment ids and attribute names


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
    if isinstance(left, str) is not isinstance(right, str):
        # A value typed in the admin is text, while a host may send the same fact as a number or a
        # flag in the token's attrs (or the other way round): "5" equals 5 and "true" equals True.
        text, other = (str(left), right) if isinstance(left, str) else (str(right), left)
        if isinstance(other, bool):
            return _flag(text) is other
        try:
            return float(text) == float(other)
        except ValueError:
            return False
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
    return [message for _, message in segment_problems(segment)]


def segment_problems(segment: Segment) -> list[tuple[str, str]]:
    """`validate_segment`'s problems, each with the part it is about, so a form can show it next to
    the field: "id", "name", "flow_key", or "condition-<i>" (the i-th condition, from 0)."""
    found: list[tuple[str, str]] = []
    if not segment.id.strip():
        found.append(("id", "A segment needs an id."))
    elif not ATTRIBUTE_NAME.fullmatch(segment.id):
        found.append(("id", "A segment id is made of letters, digits, -, _ and . only (for example big-accounts)."))
    if not segment.name.strip():
        found.append(("name", "A segment needs a name."))
    if not segment.flow_key.strip():
        found.append(("flow_key", f"Segment {segment.name!r} must say which flow it uses."))
    for i, condition in enumerate(segment.conditions):
        found += [(f"condition-{i}", message) for message in _condition_problems(condition)]
    return found


def _condition_problems(c: Condition) -> list[str]:
    if not c.attribute.strip():
        return ["Every condition needs an attribute name."]
    problems: list[str] = []
    where, how = f"Condition on {c.attribute!r}", f"'{OP_LABELS[c.op]}'"
    if not ATTRIBUTE_NAME.fullmatch(c.attribute):
        problems.append(f"{where}: attribute names are letters, digits, -, _ and . only.")
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if c.op is Op.BETWEEN and (len(values) != 2 or not isinstance(c.value, tuple)):
        problems.append(f"{where}: {how} needs exactly two values (low and high).")
    elif c.op in (Op.IN, Op.NOT_IN) and not values:
        problems.append(f"{where}: {how} needs at least one value.")
    elif c.op not in LIST_OPS and isinstance(c.value, tuple):
        problems.append(f"{where}: {how} takes a single value.")
    if c.op in NUMERIC_OPS and not all(_is_number(v) for v in values):
        problems.append(f"{where}: {how} compares numbers, so its value must be a number.")
    if c.op is Op.BETWEEN and len(values) == 2 and all(map(_is_number, values)) and values[0] > values[1]:  # type: ignore[operator]
        problems.append(f"{where}: the low end of {how} is above the high end.")
    if c.op is Op.CONTAINS and not isinstance(c.value, str):
        problems.append(f"{where}: {how} looks for text, so its value must be text.")
    known = KNOWN_ATTRIBUTES.get(c.attribute)
    if known is not None and c.op is not Op.CONTAINS:
        wrong = [v for v in values if not _fits(v, known)]
        if wrong:
            problems.append(f"{where}: {c.attribute} is {TYPE_WORDS[known]}, but got {wrong[0]!r}.")
    return problems


def describe(segment: Segment) -> str:
    """The segment as one plain sentence, e.g. "plan is pro and tenure_months is at least 12 → flow default"."""
    rule = " and ".join(describe_condition(c) for c in segment.conditions) or "everyone"
    return f"{rule} → flow {segment.flow_key}"


def describe_condition(condition: Condition) -> str:
    value = condition.value
    shown = ", ".join(map(_word, value)) if isinstance(value, tuple) else _word(value)
    if condition.op is Op.BETWEEN and isinstance(value, tuple) and len(value) == 2:
        shown = f"{_word(value[0])} and {_word(value[1])}"
    return f"{condition.attribute} {OP_LABELS[condition.op]} {shown}"


def _word(value: Scalar) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _fits(value: Scalar, expected: type) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return _is_number(value)
    return isinstance(value, expected)


# ------------------------------------------------------------------------------------ values as text
_YES, _NO = frozenset({"yes", "true", "1", "y"}), frozenset({"no", "false", "0", "n"})


def _flag(text: str) -> bool | None:
    word = text.strip().casefold()
    return True if word in _YES else False if word in _NO else None


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def value_from_text(attribute: str, op: Op, text: str) -> Scalar | tuple[Scalar, ...]:
    """A condition's value from what an admin typed: comma-separated for 'is one of', 'is none of' and
    'is between'; numbers and yes/no where the attribute or operator needs them. Text that does not
    fit stays text, so `validate_segment` can say what is wrong with it."""
    if op in LIST_OPS:
        return tuple(_typed(attribute, op, part.strip()) for part in text.split(",") if part.strip())
    return _typed(attribute, op, text.strip())


def _typed(attribute: str, op: Op, text: str) -> Scalar:
    known = KNOWN_ATTRIBUTES.get(attribute)
    if op is Op.CONTAINS or known is str:
        return text
    if known is bool:
        flag = _flag(text)
        return text if flag is None else flag
    if known is int or op in NUMERIC_OPS:
        number = _number(text)
        return text if number is None else number
    return text  # a custom attribute compared for equality: "5" also equals a 5 the host sends


def value_to_text(value: Scalar | tuple[Scalar, ...]) -> str:
    """The inverse of `value_from_text`, for showing a stored condition in a form."""
    return ", ".join(map(_word, value)) if isinstance(value, tuple) else _word(value)
