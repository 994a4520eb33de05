"""alpha* on synthetic curves with known crossings, including 'not reached' and the interval."""

import math

import numpy as np
import pytest

from benchmark.critical import AT_MOST, NOT_REACHED, REACHED, critical_mass, crossing

ALPHAS = np.array([0.0, 0.001, 0.01, 0.1])


def test_interpolates_in_log_alpha():
    # Mean crosses 0.9 halfway between 0.001 (S=0.8) and 0.01 (S=1.0): log-midpoint = sqrt(1e-5).
    value, status = crossing(ALPHAS, np.array([0.0, 0.8, 1.0, 1.0]), 0.9)
    assert status == REACHED and value == pytest.approx(math.sqrt(0.001 * 0.01))


def test_crossing_exactly_on_grid_point():
    assert crossing(ALPHAS, np.array([0.0, 0.5, 0.9, 1.0]), 0.9) == (pytest.approx(0.01), REACHED)


def test_not_reached_is_not_a_number():
    cm = critical_mass(ALPHAS, np.array([[0.0, 0.1, 0.2, 0.5], [0.0, 0.2, 0.3, 0.6]]), 0.9)
    assert cm.status == NOT_REACHED and cm.value is None and cm.high is None
    assert "not reached" in cm.text()


def test_crossing_below_smallest_positive_alpha_is_an_upper_bound():
    value, status = crossing(ALPHAS, np.array([0.1, 0.95, 1.0, 1.0]), 0.9)
    assert status == AT_MOST and value == 0.001


def test_already_steered_at_zero():
    assert crossing(ALPHAS, np.array([0.95, 1.0, 1.0, 1.0]), 0.9) == (0.0, REACHED)


def test_mean_curve_and_bootstrap_interval():
    # Seed A crosses at 0.001, seed B only at 0.1: the mean crosses between 0.01 and 0.1.
    per_seed = np.array([[0.0, 0.9, 1.0, 1.0], [0.0, 0.0, 0.6, 1.0]])
    cm = critical_mass(ALPHAS, per_seed, 0.9, n_boot=500)
    expected = math.exp(math.log(0.01) + (0.9 - 0.8) / (1.0 - 0.8) * (math.log(0.1) - math.log(0.01)))
    assert cm.status == REACHED and cm.value == pytest.approx(expected)
    # The extreme resamples are seed A twice (0.001) and seed B twice (S 0.6 -> 1.0: 3/4 of the way).
    assert cm.low == pytest.approx(0.001) and cm.high == pytest.approx(10 ** (-2 + 0.75))
    assert cm.low <= cm.value <= cm.high and cm.n_seeds == 2


def test_identical_seeds_give_a_degenerate_interval():
    row = [0.0, 0.5, 0.95, 1.0]
    cm = critical_mass(ALPHAS, np.array([row, row, row]), 0.9)
    assert cm.low == pytest.approx(cm.value) and cm.high == pytest.approx(cm.value)


def test_interval_reports_not_reached_in_resamples():
    cm = critical_mass(ALPHAS, np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]), 0.5, n_boot=400)
    assert cm.status == REACHED and cm.high is None and "not reached]" in cm.text()
