"""The t-band test-inversion alpha* (`critical_mass`, the estimator in use) on synthetic sigmoids with a
known alpha*: coverage within binomial error of its nominal 95% and a small median bias; its bounds on
hand-made curves; the coverage study's model fitted back from its own simulations; the `coverage` command."""

import json
import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aca_bench.benchmark.cli import main
from aca_bench.benchmark.coverage import Cells, Model, fit, score
from aca_bench.benchmark.critical import (
    AT_MOST,
    LEVEL,
    NOT_REACHED,
    REACHED,
    critical_mass,
    critical_mass_bootstrap,
    logit_secant,
)
from aca_bench.benchmark.store import Store

# A curve like the reference records': seeds shift the location, cells add noise where it rises
MODEL = Model(
    centre=math.log(0.02),
    intercept=1.0,
    slope=5.0,
    sd_intercept=0.5,
    sd_slope=0.3,
    corr=0.0,
    sd_cell=0.8,
    floor=0.01,
    ceiling=0.995,
    power=1.5,
)
FINE = np.array([0.0, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.045])  # neighbours <= 1.5x apart
COARSE = np.array([0.0, 0.002, 0.005, 0.01, 0.02, 0.05])  # the quick suite's grid, 2-2.5x apart
SIMS = 400


def _scored(alphas: np.ndarray, seeds: int, estimator=critical_mass, sims: int = SIMS):
    samples = MODEL.simulate(alphas, np.full(len(alphas), 900), seeds, sims, np.random.default_rng(0))
    return score(estimator, samples, alphas, 0.9, MODEL), MODEL.alpha_star(0.9)


@pytest.mark.parametrize(("alphas", "seeds"), [(FINE, 5), (FINE, 10), (COARSE, 5), (COARSE, 20)])
def test_the_interval_covers_the_true_alpha_star_at_its_nominal_level_within_binomial_error(alphas, seeds):
    result, truth = _scored(alphas, seeds)
    assert FINE[1] < truth < FINE[-1]
    # three binomial standard errors below 95% over SIMS experiments
    assert result.coverage >= LEVEL - 3 * math.sqrt(LEVEL * (1 - LEVEL) / SIMS)


def test_band_edges_interpolated_between_grid_alphas_cover_less_than_snapped_ones():
    # the band holds at the grid alphas only; between them the interpolated edge is a guess
    interpolated, _ = _scored(FINE, 5, partial(critical_mass, snap=math.inf))
    snapped, _ = _scored(FINE, 5)
    assert interpolated.coverage < snapped.coverage and interpolated.width < snapped.width


@pytest.mark.parametrize("seeds", [5, 10, 20])
def test_the_point_estimate_has_a_median_bias_within_three_percent_on_a_fine_grid(seeds):
    result, _ = _scored(FINE, seeds)
    assert abs(result.bias) <= 0.03
    assert abs(result.grid_bias) <= 0.01  # logit interpolation of the true mean curve


def test_the_bootstrap_it_replaces_undercovers_on_a_coarse_grid_with_many_seeds():
    # the percentile bootstrap describes where the resampled means cross between two fixed grid
    # points; with 20 seeds that spread is narrow and misses the truth; the inversion does not
    boot, _ = _scored(COARSE, 20, critical_mass_bootstrap, sims=100)
    inverted, _ = _scored(COARSE, 20, sims=100)
    assert boot.coverage < 0.8 < 0.9 < inverted.coverage


ALPHAS = np.array([0.0, 0.01, 0.02, 0.04])


def test_bounds_are_where_the_band_edges_cross_the_target_interpolated_in_logit():
    per_seed = np.array([[0.0, 0.5, 0.91, 1.0], [0.0, 0.6, 0.95, 1.0], [0.0, 0.7, 0.99, 1.0]])
    cm = critical_mass(ALPHAS, per_seed, 0.9, snap=math.inf)
    assert cm.status == REACHED and 0.01 < cm.value < 0.02
    # t band half-widths (2 degrees of freedom): 0.248 at 0.01 (sd 0.1), 0.099 at 0.02 (sd 0.04)
    t = 4.302653
    upper = np.array([0.0, 0.6 + t * 0.1 / math.sqrt(3), 0.95 + t * 0.04 / math.sqrt(3), 1.0])
    lower = np.array([0.0, 0.6 - t * 0.1 / math.sqrt(3), 0.95 - t * 0.04 / math.sqrt(3), 1.0])
    assert cm.low == pytest.approx(0.01 * 2 ** logit_secant(upper[1], upper[2], 0.9))
    assert cm.high == pytest.approx(0.02 * 2 ** logit_secant(lower[2], lower[3], 0.9))
    assert 0.01 < cm.low < cm.value < 0.02 < cm.high < 0.04


def test_a_bound_between_alphas_more_than_snap_apart_moves_out_to_the_grid():
    per_seed = np.array([[0.0, 0.5, 0.91, 1.0], [0.0, 0.6, 0.95, 1.0], [0.0, 0.7, 0.99, 1.0]])
    cm = critical_mass(ALPHAS, per_seed, 0.9, snap=1.5)  # the grid is 2x apart
    assert (cm.low, cm.high) == (0.01, 0.04)
    assert critical_mass(ALPHAS, per_seed, 0.9).value == cm.value


def test_a_curve_the_band_never_lifts_to_the_target_is_not_reached_beyond_the_top_alpha():
    per_seed = np.array([[0.0, 0.1, 0.2, 0.3], [0.0, 0.2, 0.3, 0.4], [0.0, 0.1, 0.2, 0.35]])
    cm = critical_mass(ALPHAS, per_seed, 0.9)
    assert cm.status == NOT_REACHED and cm.value is None and (cm.low, cm.high) == (0.04, None)


def test_a_crossing_below_the_first_alpha_is_at_most_with_no_lower_bound():
    per_seed = np.array([[0.0, 0.95, 1.0, 1.0], [0.0, 0.97, 1.0, 1.0], [0.0, 0.99, 1.0, 1.0]])
    cm = critical_mass(ALPHAS, per_seed, 0.9)
    assert cm.status == AT_MOST and cm.value == 0.01 and cm.low is None and cm.high == 0.01


def test_two_seeds_get_a_point_and_no_interval():
    cm = critical_mass(ALPHAS, np.array([[0.0, 0.5, 0.95, 1.0], [0.0, 0.7, 0.99, 1.0]]), 0.9)
    assert cm.value is not None and cm.low is None and cm.high is None
    assert "no interval from 2 seeds" in cm.text()


def test_the_fit_recovers_the_true_alpha_star_of_its_own_simulation():
    truth = MODEL.alpha_star(0.9)
    success = MODEL.simulate(FINE, np.full(len(FINE), 900), 12, 1, np.random.default_rng(1))[0]
    fitted = fit(Cells(FINE, success, np.full(success.shape, 900)))
    assert fitted.alpha_star(0.9) == pytest.approx(truth, rel=0.15)


def test_a_saturated_mean_follows_a_curve_that_sits_flat_and_then_jumps_where_a_line_cannot():
    # DP-SGD at epsilon 1 in shape: S near 0.12 up to alpha 0.2, above 0.9 from 0.3
    alphas = np.array([0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4])
    centre = float(np.log(alphas[1:]).mean())
    knots = tuple((np.log(alphas[1:]) - centre).tolist())
    levels = (-2.0, -2.0, -1.5, 0.5, 3.0, 4.0, 4.0)
    jump = Model(centre, 0.0, 0.0, 0.3, 0.1, 0.0, 0.6, 0.01, 0.995, 1.0, knots, levels)
    truth = jump.alpha_star(0.9)
    assert 0.25 < truth < 0.3
    success = jump.simulate(alphas, np.full(len(alphas), 900), 20, 1, np.random.default_rng(3))[0]
    data = Cells(alphas, success, np.full(success.shape, 900))
    records = success[:, 1:].mean(0)
    gap = {sat: np.abs(fit(data, sat).mean_curve(alphas[1:]) - records).max() for sat in (True, False)}
    assert gap[True] < 0.05 < gap[False]
    assert fit(data, saturated=True).alpha_star(0.9) == pytest.approx(truth, rel=0.05)


def test_the_coverage_command_prints_both_estimators_for_each_configuration(tmp_path):
    rng = np.random.default_rng(2)
    success = MODEL.simulate(FINE, np.full(len(FINE), 900), 5, 1, rng)[0]
    records = [
        {
            "run_id": f"r{seed}-{j}",
            "task": {"name": "mnist_patch", "version": "1", "params": {}},
            "algorithm": {"name": "erm", "hparams": {}},
            "alpha": float(alpha),
            "seed": seed,
            "n_collective": round(alpha * 4000),
            "n_classes": 10,
            "metrics": {
                "success": float(success[seed, j]),
                "clean_accuracy": 0.95,
                "clean_y_star_rate": 0.01,
                "n_success_eval": 900,
            },
            "wall_time_s": 1.0,
        }
        for seed in range(5)
        for j, alpha in enumerate(FINE)
    ]
    Store(tmp_path).append(records)
    result = CliRunner().invoke(main, ["coverage", str(tmp_path), "--sims", "20"])
    assert result.exit_code == 0, result.output
    assert "bootstrap coverage" in result.output and "t-inversion coverage" in result.output
    assert "mnist_patch" in result.output and "20 simulated experiments" in result.output


def test_docs_render_the_table_the_command_wrote_with_its_command_line(tmp_path):
    from aca_bench.benchmark.commands.doc_tables import render

    data = {
        "store": "leaderboard/reference/quick",
        "target": 0.9,
        "sims": 500,
        "seeds": 10,
        "seed": 0,
        "seconds": 12.3,
        "rows": [
            {
                "task": "mnist_patch",
                "config": "erm",
                "seeds": 10,
                "alphas": 6,
                "true_alpha_star": 0.0177,
                "fit_gap": 0.05,
                "scores": {
                    "bootstrap": {"coverage": 0.43, "width": 0.15, "bias": 0.067, "grid_bias": 0.05},
                    "t-inversion": {"coverage": 0.97, "width": None, "bias": -0.01, "grid_bias": 0.0},
                },
            }
        ],
    }
    (tmp_path / "quick.json").write_text(json.dumps(data))
    out = render("<!-- records: quick.json view=coverage -->\n<!-- /records -->\n", tmp_path)
    cells = ["mnist_patch", "erm", "10", "6", "0.0177", "0.05", "43%", "0.15", "+6.7%", "+5.0%", "97%", "inf"]
    assert "| " + " | ".join([*cells, "-1.0%", "+0.0%"]) + " |" in out
    assert "`aca-bench coverage leaderboard/reference/quick --sims 500 --seeds 10`" in out


def test_the_fresh_seed_rerun_of_quick_lands_inside_the_committed_interval_and_back():
    """The check docs/coverage.md states: quick at seeds 5-9 against the reference store's seeds 0-4."""
    from aca_bench.benchmark.aggregate import critical_table, runs_frame
    from aca_bench.benchmark.store import load_records

    def row(store: str):
        (r,) = critical_table(runs_frame(load_records(Path(__file__).parents[1] / store)[0])).itertuples()
        return r

    committed, fresh = row("leaderboard/reference/quick"), row("leaderboard/checks/quick_fresh_seeds")
    assert committed.seeds == fresh.seeds == 5
    assert committed.alpha_star_low <= fresh.alpha_star <= committed.alpha_star_high
    assert fresh.alpha_star_low <= committed.alpha_star <= fresh.alpha_star_high
