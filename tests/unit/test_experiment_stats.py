"""Experiment statistics against textbook values."""

from __future__ import annotations

import pytest

from admin.experiments import two_proportion_p, verdict, wilson


def test_wilson_interval_matches_the_textbook() -> None:
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3)
    assert high == pytest.approx(0.5962, abs=1e-3)
    assert wilson(0, 0) == (None, None)
    low0, high0 = wilson(0, 20)
    assert low0 == 0.0 and high0 == pytest.approx(0.1611, abs=1e-3)


def test_two_proportion_z_test() -> None:
    # 60/100 vs 45/100: z ≈ 2.12, two-sided p ≈ 0.034
    assert two_proportion_p(60, 100, 45, 100) == pytest.approx(0.0339, abs=1e-3)
    assert two_proportion_p(5, 10, 5, 10) == pytest.approx(1.0)
    assert two_proportion_p(1, 0, 1, 10) is None
    assert two_proportion_p(0, 10, 0, 10) is None


def test_verdicts_are_honest_about_small_samples() -> None:
    assert verdict(0.001, 0.9, 0.1, decided=10).startswith("too early")
    assert verdict(0.01, 0.6, 0.45, decided=100) == "better than control"
    assert verdict(0.01, 0.3, 0.45, decided=100) == "worse than control"
    assert verdict(0.2, 0.5, 0.45, decided=100) == "no significant difference yet"
