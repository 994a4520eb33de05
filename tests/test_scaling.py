"""The scaling study: alphas placed in members, members* beside alpha*, series of configurations that
differ in n_train (fixed epochs, fixed steps), and the log-log fit with its bootstrap, checked on
synthetic success curves whose alpha*(n) follows a known power law.

The records here are fabricated test fixtures; nothing in them is a result.
"""

import hashlib
import json
import math

import numpy as np
import pytest

from aca_bench.benchmark.aggregate import critical_table, runs_frame
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.ids import canonical
from aca_bench.benchmark.scaling import (
    fit_curves,
    format_series,
    loglog_line,
    markdown,
    scaling_series,
    series_dict,
    with_measured,
)
from aca_bench.benchmark.store import Store
from aca_bench.benchmark.suite import parse_suite

TARGET = 0.9
N_VALUES = (500, 1000, 2000, 4000)
MEMBERS = (5, 10, 15, 20, 30, 40, 50, 60, 80, 100, 120, 160, 240, 320, 480)
LOGIT_TARGET = math.log(TARGET / (1 - TARGET))


def true_alpha(n: int, slope: float, members_at_1000: float = 60.0) -> float:
    """alpha*(n) = (members_at_1000 / 1000) (n / 1000)^slope: slope -1 is a constant count."""
    return members_at_1000 / 1000 * (n / 1000) ** slope


def success(alphas: np.ndarray, alpha_star: float, steepness: float = 4.0) -> np.ndarray:
    """A logistic S(alpha) in log alpha that equals TARGET exactly at alpha_star (0 at alpha 0)."""
    a = np.asarray(alphas, dtype=float)
    out = np.zeros_like(a)
    pos = a > 0
    out[pos] = 1 / (1 + np.exp(-(steepness * (np.log(a[pos]) - math.log(alpha_star)) + LOGIT_TARGET)))
    return out


def synthetic_records(
    slope: float,
    epochs_at: dict[int, int],
    seeds: int = 5,
    noise: float = 0.1,
    algo: str = "erm",
    extra_hp: dict | None = None,
    rng_seed: int = 0,
) -> list[dict]:
    """Records at each n of `epochs_at` (n -> epochs, batch 64); each seed's alpha* is the power law
    times exp(N(0, noise)), its curve the logistic above on the members grid."""
    rng = np.random.default_rng(rng_seed)
    recs = []
    for n, epochs in epochs_at.items():
        alphas = np.array([0.0] + [m / n for m in MEMBERS if m <= n])
        hp = {"lr": 0.02, "batch_size": 64, "epochs": epochs, **(extra_hp or {})}
        task = {"name": "mnist_patch", "version": "1", "params": {"source": "embedded", "n_train": n}}
        for seed in range(seeds):
            star = true_alpha(n, slope) * math.exp(noise * rng.standard_normal())
            for alpha, s in zip(alphas, success(alphas, star), strict=True):
                config = {
                    "task": task,
                    "algorithm": {"name": algo, "hparams": hp},
                    "alpha": alpha,
                    "seed": seed,
                }
                recs.append(
                    {
                        "run_id": hashlib.sha256(canonical(config).encode()).hexdigest()[:16],
                        "experiment": f"{algo}-n{n}",
                        **config,
                        "n_train": n,
                        "n_collective": round(alpha * n),
                        "metrics": {"success": float(s), "clean_accuracy": 0.95},
                        "wall_time_s": 1.0,
                    }
                )
    return recs


FIXED_EPOCHS = dict.fromkeys(N_VALUES, 10)
FIXED_STEPS = {500: 89, 1000: 41, 2000: 20, 4000: 10}  # 623, 615, 620, 620 steps at batch 64


def test_loglog_line_recovers_an_exact_power_law():
    n = np.array(N_VALUES, dtype=float)
    slope, intercept = loglog_line(n, 3.0 * n**-0.7)
    assert slope == pytest.approx(-0.7, abs=1e-9)
    assert intercept == pytest.approx(math.log(3.0), abs=1e-9)
    with pytest.raises(BenchError, match="two or more different n"):
        loglog_line(np.array([500.0, 500.0]), np.array([0.1, 0.2]))


@pytest.mark.parametrize("slope", [-1.0, -0.6, 0.0])
def test_fit_recovers_a_known_slope_and_extrapolation(slope):
    """Per-seed alpha* scatter of 10% gives a slope standard error of about 0.03 over these four n; the
    tolerance is five of those, and a wrong sign or a slope of the wrong size (-1 vs -0.6 vs 0) fails."""
    (series,) = scaling_series(synthetic_records(slope, FIXED_EPOCHS), TARGET, n_boot=400)
    fit = series.fit
    assert fit.n_points == len(N_VALUES)
    assert fit.slope == pytest.approx(slope, abs=0.15)
    assert fit.slope_low < fit.slope < fit.slope_high
    assert fit.slope_high - fit.slope_low < 0.5
    assert fit.n_boot_used == 400
    expected = true_alpha(60_000, slope)
    assert fit.alpha_at_n_low < fit.alpha_at_n < fit.alpha_at_n_high
    assert fit.alpha_at_n == pytest.approx(expected, rel=0.5)
    members, low, high = fit.members_at_n
    assert members == pytest.approx(fit.alpha_at_n * 60_000) and low < members < high


def test_members_star_is_alpha_star_times_n_per_point():
    (series,) = scaling_series(synthetic_records(-1.0, FIXED_EPOCHS), TARGET, n_boot=100)
    for p in series.points:
        d = p.critical
        assert d.status == "reached"
        assert p.members(d.value) == pytest.approx(d.value * p.n_train)
        # a constant count of 60 members: every n needs close to 60 (10% seed scatter)
        assert p.members(d.value) == pytest.approx(60.0, rel=0.25)
    doc = series_dict(series)
    assert [pt["n_train"] for pt in doc["points"]] == list(N_VALUES)
    assert doc["points"][0]["members_star_low"] == pytest.approx(doc["points"][0]["alpha_star_low"] * 500)


def test_fixed_epochs_and_fixed_steps_series_share_the_largest_n():
    """The n = 4000 x 10 epochs configuration belongs to both series; the other fixed-step configurations
    form no series of their own (one n each)."""
    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    recs += [r for r in synthetic_records(-1.0, FIXED_STEPS, rng_seed=1) if r["n_train"] != 4000]
    series = scaling_series(recs, TARGET, n_boot=50)
    assert [s.budget for s in series] == ["10 epochs", "620 steps"]
    epochs, steps = series
    assert [p.epochs for p in epochs.points] == [10, 10, 10, 10]
    assert [p.epochs for p in steps.points] == [89, 41, 20, 10]
    assert [p.steps for p in steps.points] == [623, 615, 620, 620]
    assert epochs.points[-1].critical == steps.points[-1].critical
    assert all(s.label == "erm" and s.task == "mnist_patch" for s in series)


def test_series_are_split_by_other_hyperparameters_and_labelled_by_them():
    recs = synthetic_records(-1.0, FIXED_EPOCHS, algo="dpsgd", extra_hp={"target_epsilon": 8})
    recs += synthetic_records(-0.5, FIXED_EPOCHS, algo="dpsgd", extra_hp={"target_epsilon": 2})
    series = scaling_series(recs, TARGET, n_boot=100)
    assert [s.label for s in series] == ["dpsgd(target_epsilon=2)", "dpsgd(target_epsilon=8)"]
    assert series[0].fit.slope == pytest.approx(-0.5, abs=0.15)
    assert series[1].fit.slope == pytest.approx(-1.0, abs=0.15)


def test_an_n_that_never_reaches_the_target_is_left_out_of_the_fit():
    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    for r in recs:
        if r["n_train"] == 500:
            r["metrics"]["success"] = min(r["metrics"]["success"], 0.5)
    (series,) = scaling_series(recs, TARGET, n_boot=100)
    assert series.points[0].critical.status == "not_reached"
    assert series.fit.n_points == 3
    assert series.fit.slope == pytest.approx(-1.0, abs=0.25)
    text = format_series([series])
    assert "not reached" in text and "(3 n)" in text


def test_a_degenerate_n_is_not_ranked_and_left_out_of_the_fit():
    """A model that did not learn (clean accuracy near chance at alpha 0: the DP-SGD runs at small n)
    steers easily; its alpha* would pull the slope, so it is flagged and never fitted."""
    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    for r in recs:
        r["n_classes"] = 10
        if r["n_train"] == 500:
            r["metrics"]["clean_accuracy"] = 0.17
    (series,) = scaling_series(recs, TARGET, n_boot=100)
    assert series.points[0].critical.status == "degenerate" and series.points[0].critical.value is None
    assert [p.critical.status for p in series.points[1:]] == ["reached"] * 3
    assert series.fit.n_points == 3
    assert series_dict(series)["points"][0]["alpha_star"] is None
    text = format_series([series])
    assert "degenerate: clean accuracy 0.17 at alpha 0" in text and "not ranked" in text and "(3 n)" in text
    # the same records without the collapse fit all four n
    for r in recs:
        r["metrics"]["clean_accuracy"] = 0.95
    assert scaling_series(recs, TARGET, n_boot=100)[0].fit.n_points == 4


def test_a_crossing_reached_only_by_a_collapsed_model_is_degenerate():
    """The DP-SGD case at n = 500: a model that learned at alpha 0 but is at chance where S first reaches
    the target (y* everywhere) did not cross; the point is flagged, never fitted, in the table and the fit
    alike."""
    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    for r in recs:
        r["n_classes"] = 10
    at_500 = [r for r in recs if r["n_train"] == 500]
    crossed = min(r["alpha"] for r in at_500 if r["metrics"]["success"] >= TARGET)
    for r in at_500:
        if r["alpha"] >= crossed:
            r["metrics"]["clean_accuracy"] = 0.10
    (series,) = scaling_series(recs, TARGET, n_boot=100)
    cm = series.points[0].critical
    assert cm.status == "degenerate" and "where alpha* is decided" in cm.text()
    assert series.fit.n_points == 3
    crit = critical_table(runs_frame(recs), TARGET).sort_values("n_train")
    assert crit["status"].tolist() == ["degenerate", "reached", "reached", "reached"]
    # collapse only above every alpha that decides alpha* leaves it ranked
    top = max(r["alpha"] for r in at_500)  # 0.96, far above the bracket [0.1, 0.16]
    for r in at_500:
        r["metrics"]["clean_accuracy"] = 0.10 if r["alpha"] == top else 0.95
    assert scaling_series(recs, TARGET, n_boot=100)[0].points[0].critical.status == "reached"


def test_no_fit_with_fewer_than_two_reached_n():
    recs = [r for r in synthetic_records(-1.0, FIXED_EPOCHS) if r["n_train"] in (500, 1000)]
    for r in recs:
        if r["n_train"] == 1000:
            r["metrics"]["success"] = 0.0
    curves = scaling_series(recs, TARGET, n_boot=50)
    assert curves[0].fit is None
    assert fit_curves([], TARGET) is None
    assert "needs alpha* reached at two or more n" in format_series(curves)


def test_critical_table_puts_members_star_beside_alpha_star():
    crit = critical_table(runs_frame(synthetic_records(-1.0, FIXED_EPOCHS)), TARGET)
    assert sorted(crit["n_train"]) == list(N_VALUES)
    for r in crit.itertuples():
        assert r.members_star == pytest.approx(r.alpha_star * r.n_train)
        assert r.members_star_low == pytest.approx(r.alpha_star_low * r.n_train)
        assert r.members_star_high == pytest.approx(r.alpha_star_high * r.n_train)


def test_critical_table_without_n_train_leaves_members_star_empty(tiny_record):
    rec = {k: v for k, v in tiny_record.items() if k != "n_train"}
    crit = critical_table(runs_frame([rec]), TARGET)
    assert crit["members_star"].iloc[0] is None and crit["n_train"].iloc[0] is None


def test_results_and_scaling_commands_report_members(cli, tmp_path):
    Store(tmp_path).append(synthetic_records(-1.0, FIXED_EPOCHS))
    res = cli("results", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "members*" in res.output and "of 4000" in res.output
    res = cli("results", "--out", tmp_path, "--format", "json")
    rows = json.loads(res.output)["critical_mass"]
    assert all(r["members_star"] == pytest.approx(r["alpha_star"] * r["n_train"]) for r in rows)
    res = cli("scaling", "--out", tmp_path, "--n-boot", "100")
    assert res.exit_code == 0, res.output
    assert "mnist_patch / erm, 10 epochs" in res.output and "extrapolated to n = 60,000" in res.output
    doc = json.loads(cli("scaling", "--out", tmp_path, "--n-boot", "100", "--format", "json").output)
    assert doc["published"] == {"n_train": 60_000, "alpha": 0.001}
    assert doc["series"][0]["fit"]["slope"] == pytest.approx(-1.0, abs=0.15)
    bad = cli("scaling", "--out", tmp_path / "empty")
    assert bad.exit_code != 0 and "Traceback" not in bad.output and "no results" in bad.output


def suite_doc(**experiment) -> dict:
    return {"experiments": [{"task": "mnist_patch", "algorithm": "erm", **experiment}]}


def test_suite_members_become_alphas_that_round_back_to_the_same_count():
    from aca_bench.benchmark.collective import collective_size

    members = [1, 7, 10, 33, 80, 240, 999]
    suite = parse_suite(suite_doc(members=members, task_params={"n_train": 999}), "s.yaml")
    alphas = suite.experiments[0].alphas
    assert [collective_size(999, a) for a in alphas] == members


@pytest.mark.parametrize(
    ("experiment", "message"),
    [
        ({"members": [10]}, "members: needs task_params.n_train"),
        ({"members": [10], "task_params": {"n_train": True}}, "needs task_params.n_train"),
        ({"members": [10, 600], "task_params": {"n_train": 500}}, r"ints in \[0, n_train = 500\]"),
        ({"members": [1.5], "task_params": {"n_train": 500}}, "must be a list of ints"),
        ({"members": [10], "alphas": [0.1], "task_params": {"n_train": 500}}, "not both"),
        ({}, "alphas: required field is missing"),
    ],
)
def test_suite_members_refuses_bad_input_in_one_line(experiment, message):
    with pytest.raises(BenchError, match=message) as err:
        parse_suite(suite_doc(**experiment), "s.yaml")
    assert "\n" not in str(err.value) and str(err.value).startswith("s.yaml: experiments[0]: ")


def test_builtin_scaling_suite_places_the_same_members_at_every_n_bar_the_largest():
    from aca_bench.benchmark.collective import collective_size
    from aca_bench.benchmark.suite import load_suite

    suite = load_suite("scaling")
    erm = [e for e in suite.experiments if e.algorithm == "erm"]
    assert {e.task_params["n_train"] for e in erm} == set(N_VALUES)
    counts = [{collective_size(e.task_params["n_train"], a) for a in e.alphas} for e in erm]
    widest = max(counts, key=len)
    assert all(c <= widest for c in counts)  # n = 4000 runs a subset of the counts (its cost)
    assert sum(c == widest for c in counts) >= len(erm) - 1
    assert all(len(e.seeds) >= 5 for e in suite.experiments)


def test_docs_scaling_view_renders_the_tables_and_the_fit(tmp_path):
    from aca_bench.benchmark.commands.doc_tables import render

    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    for r in recs:
        r["finished_at"] = "2026-11-29T14:00:00+00:00"
        r["environment"] = {"command": "aca-bench run scaling", "git_commit": "b" * 40, "device": "cpu"}
    Store(tmp_path / "scaling").append(recs)
    doc = "<!-- records: scaling view=scaling -->\nstale\n<!-- /records -->\n"
    out = render(doc, tmp_path)
    assert "stale" not in out
    body = out.splitlines()
    assert sum(line.startswith("| erm, 10 epochs | ") for line in body) == len(N_VALUES) + 1
    fit_row = next(line for line in body if line.startswith("| erm, 10 epochs | -"))
    slope = float(fit_row.split("|")[2].split()[0])
    assert slope == pytest.approx(-1.0, abs=0.15)
    assert "`aca-bench run scaling`" in out and "~0.001 (the poster's 0.1%)" in out
    assert render(out, tmp_path) == out
    fits = render(doc.replace("view=scaling", "view=scaling-fits"), tmp_path).splitlines()
    assert [line for line in fits if line.startswith("| erm, 10 epochs | ")] == [fit_row]  # no per-n rows


def _full_mnist(recs: list[dict], epochs: int) -> list[dict]:
    """The n = 4,000 records moved to n = 60,000 on full MNIST (another source, no n_train param)."""
    out = []
    for r in recs:
        if r["n_train"] == 4000:
            task = {**r["task"], "params": {"source": "mnist"}}
            hp = {**r["algorithm"]["hparams"], "epochs": epochs}
            out.append(
                {
                    **r,
                    "run_id": r["run_id"] + "-full",
                    "task": task,
                    "n_train": 60_000,
                    "algorithm": {**r["algorithm"], "hparams": hp},
                }
            )
    return out


def test_a_measurement_at_the_published_n_is_shown_beside_the_extrapolation_never_in_the_fit():
    """Full MNIST at the series' budget (10 epochs) measures the fixed-epochs extrapolation; run at
    other epochs, or absent, it measures nothing."""
    recs = synthetic_records(-1.0, FIXED_EPOCHS)
    (series,) = scaling_series(recs, TARGET, n_boot=100)
    (measured,) = with_measured([series], recs + _full_mnist(recs, 10), TARGET)
    assert measured.fit == series.fit and measured.points == series.points
    assert measured.measured.n_train == 60_000 and measured.measured.critical.status == "reached"
    assert measured.measured.critical.value == pytest.approx(series.points[-1].critical.value)
    text = format_series([measured])
    assert "measured at n = 60,000: alpha* " + measured.measured.critical.text() in text
    assert series_dict(measured)["measured"]["n_train"] == 60_000
    assert "not measured" in markdown([series], fits_only=True)
    (other,) = with_measured([series], recs + _full_mnist(recs, 5), TARGET)
    assert other.measured is None
