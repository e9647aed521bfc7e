"""Figure 7's growth exponent: the log-log slope between consecutive sizes."""

from __future__ import annotations

import pytest

from bench.growth import exponents


def test_linear_cost_has_exponent_one_and_quadratic_two() -> None:
    assert exponents([(1_000, 2.0), (10_000, 20.0), (50_000, 100.0)]) == \
        pytest.approx([1.0, 1.0])
    assert exponents([(1_000, 1.0), (10_000, 100.0)]) == pytest.approx([2.0])


def test_a_step_is_judged_on_its_own() -> None:
    """A quadratic step between the last two sizes shows even when the first step is flat."""
    es = exponents([(100, 5.0), (1_000, 5.0), (3_000, 45.0)])
    assert es[0] == pytest.approx(0.0)
    assert es[1] == pytest.approx(2.0)


def test_no_cost_is_no_measure() -> None:
    assert exponents([(1_000, 0.0), (10_000, 3.0), (20_000, -1.0)]) == [None, None]
    assert exponents([(1_000, 1.0)]) == []
