"""A/B/n experiments: 2 to 8 weighted arms (each a flow version), at most one a holdout that sees no offers.

Rules: standard library only; pure. Bucketing hashes (experiment id, customer id), so a customer
always lands in the same arm, across sessions and workers, with no stored assignment needed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_ARMS = 8
MAX_WEIGHT = 1000
ARM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


@dataclass(frozen=True, slots=True)
class Arm:
    id: str
    weight: int
    flow_version_id: int
    holdout: bool = False  # sees the flow without any offers: the baseline cancel rate


@dataclass(frozen=True, slots=True)
class Experiment:
    id: str
    flow_key: str
    arms: tuple[Arm, ...]


def bucket(experiment_id: str, customer_id: str, buckets: int) -> int:
    """A stable number in [0, buckets) for this customer in this experiment."""
    digest = hashlib.sha256(f"{experiment_id}\x00{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % buckets


def assign_arm(experiment: Experiment, customer_id: str) -> Arm:
    """The arm this customer sees; arms with weight 0 are never assigned."""
    arms = [a for a in experiment.arms if a.weight > 0]
    if not arms:
        raise ValueError(f"experiment {experiment.id} has no arm with a positive weight")
    point = bucket(experiment.id, customer_id, sum(a.weight for a in arms))
    for arm in arms:
        if point < arm.weight:
            return arm
        point -= arm.weight
    raise AssertionError("unreachable: point is below the total weight")  # pragma: no cover


def validate_experiment(experiment: Experiment) -> list[str]:
    """Plain-language problems with this experiment's arms; empty when it can start."""
    problems: list[str] = []
    if len(experiment.arms) < 2:
        problems.append("An experiment needs at least two arms.")
    if len(experiment.arms) > MAX_ARMS:
        problems.append(f"An experiment can have at most {MAX_ARMS} arms.")
    if not all(ARM_ID.fullmatch(a.id) for a in experiment.arms):
        problems.append("Arm names are 1 to 32 letters, digits, '-' or '_', starting with a letter or digit.")
    if len({a.id for a in experiment.arms}) != len(experiment.arms):
        problems.append("Arm names must be unique.")
    if any(a.weight < 0 for a in experiment.arms):
        problems.append("Weights cannot be negative.")
    if any(a.weight > MAX_WEIGHT for a in experiment.arms):
        problems.append(f"Weights are whole numbers from 0 to {MAX_WEIGHT}.")
    if sum(a.weight for a in experiment.arms) <= 0:
        problems.append("At least one arm needs a positive weight.")
    elif not any(a.weight > 0 and not a.holdout for a in experiment.arms):
        problems.append("At least one arm other than the holdout needs a positive weight.")
    if sum(1 for a in experiment.arms if a.holdout) > 1:
        problems.append("Only one arm can be the holdout.")
    return problems
