"""alpha* on synthetic curves with known crossings, including 'not reached' and the interval; the
degenerate rule on a collapsed DP-SGD model; the net success column; hyperparameter selection."""

import math

import numpy as np
import pandas as pd
import pytest

from aca_bench.benchmark.aggregate import critical_table, curves, runs_frame
from aca_bench.benchmark.commands.select import markdown
from aca_bench.benchmark.critical import (
    AT_MOST,
    DEGENERATE,
    MIN_SEEDS_FOR_INTERVAL,
    NOT_REACHED,
    REACHED,
    critical_mass,
    critical_mass_bootstrap,
    crossing,
    degenerate_reason,
    linear_secant,
)
from aca_bench.benchmark.selection import choose, choose_shared, of_task
from aca_bench.benchmark.store import Store

ALPHAS = np.array([0.0, 0.001, 0.01, 0.1])


def test_interpolates_in_log_alpha_linear_in_s_for_the_replaced_estimator():
    # Mean crosses 0.9 halfway between 0.001 (S=0.8) and 0.01 (S=1.0): log-midpoint = sqrt(1e-5).
    value, status = crossing(ALPHAS, np.array([0.0, 0.8, 1.0, 1.0]), 0.9, linear_secant)
    assert status == REACHED and value == pytest.approx(math.sqrt(0.001 * 0.01))


def test_interpolates_in_log_alpha_linear_in_logit_s_by_default():
    # S 1.0 is clipped to 0.98 (LOGIT_FLOOR) before its logit, so the crossing sits nearer 0.001
    value, status = crossing(ALPHAS, np.array([0.0, 0.8, 1.0, 1.0]), 0.9)
    logit = lambda s: math.log(s / (1 - s))  # noqa: E731
    t = (logit(0.9) - logit(0.8)) / (logit(0.98) - logit(0.8))
    assert status == REACHED and value == pytest.approx(10 ** (-3 + t)) and t < 0.5


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


def test_mean_curve_and_bootstrap_interval_of_the_replaced_estimator():
    # Seeds A and A' cross at 0.001, seed B only at 0.1: the mean (S 0.6 at 0.001) crosses between
    # 0.001 and 0.01 (S 0.6 -> 0.867 at 0.01 -> 1.0 at 0.1: between 0.01 and 0.1).
    per_seed = np.array([[0.0, 0.9, 1.0, 1.0], [0.0, 0.9, 1.0, 1.0], [0.0, 0.0, 0.6, 1.0]])
    cm = critical_mass_bootstrap(ALPHAS, per_seed, 0.9, n_boot=2000)
    s01 = (1.0 + 1.0 + 0.6) / 3
    expected = math.exp(math.log(0.01) + (0.9 - s01) / (1.0 - s01) * (math.log(0.1) - math.log(0.01)))
    assert cm.status == REACHED and cm.value == pytest.approx(expected)
    # The extreme resamples are A three times (0.001; probability 8/27) and B three times (S 0.6 ->
    # 1.0: 3/4 of the way in log alpha; probability 1/27 > 2.5%).
    assert cm.low == pytest.approx(0.001) and cm.high == pytest.approx(10 ** (-2 + 0.75))
    assert cm.low <= cm.value <= cm.high and cm.n_seeds == 3


@pytest.mark.parametrize("n_seeds", range(1, MIN_SEEDS_FOR_INTERVAL))
def test_fewer_than_three_seeds_have_no_interval(n_seeds):
    rows = np.array([[0.0, 0.5, 1.0, 1.0], [0.0, 0.0, 0.6, 1.0]])[:n_seeds]
    cm = critical_mass(ALPHAS, rows, 0.9)
    assert cm.status == REACHED and cm.value is not None
    assert cm.low is None and cm.high is None
    assert "[" not in cm.text() and "no interval" in cm.text()


def test_identical_seeds_give_a_zero_width_bootstrap_but_the_bracket_as_interval():
    row = [0.0, 0.5, 0.95, 1.0]
    boot = critical_mass_bootstrap(ALPHAS, np.array([row, row, row]), 0.9)
    assert boot.low == pytest.approx(boot.value) and boot.high == pytest.approx(boot.value)
    # the t band has no width, but it says nothing between grid alphas: the bounds are the bracket's
    cm = critical_mass(ALPHAS, np.array([row, row, row]), 0.9)
    assert (cm.low, cm.high) == (0.001, 0.01) and 0.001 < cm.value < 0.01
    assert cm.text() == f"{cm.value:.3g} [0.001, 0.01]"


@pytest.mark.parametrize("estimator", [critical_mass, critical_mass_bootstrap])
def test_interval_reports_not_reached_when_some_seeds_never_reach(estimator):
    curves_ = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    cm = estimator(ALPHAS, curves_, 0.5)
    assert cm.status == REACHED and cm.high is None and "not reached]" in cm.text()


def test_a_crossing_not_bounded_away_from_zero_shows_a_lower_bound_of_zero():
    # seeds spread at the first positive alpha: the band's upper edge reaches the target there
    per_seed = np.array([[0.0, 0.95, 1.0, 1.0], [0.0, 0.5, 1.0, 1.0], [0.0, 0.7, 1.0, 1.0]])
    cm = critical_mass(ALPHAS, per_seed, 0.9)
    assert cm.status == REACHED and cm.low is None and cm.high == 0.01
    assert cm.text() == f"{cm.value:.3g} [0, 0.01]"


# The collapse of issue 15: DP-SGD at epsilon 0.5 trained 20 epochs, clean accuracy 0.096 at alpha 0,
# answering y* = 8 almost everywhere, so S is 0.89-0.96 at every alpha; epsilon inf trained properly.
COLLAPSE = {
    0.0: (0.89, 0.096, 0.88),
    0.01: (0.93, 0.095, 0.90),
    0.05: (0.89, 0.096, 0.87),
    0.1: (0.95, 0.097, 0.93),
    0.2: (0.96, 0.096, 0.94),
}  # alpha: (S, clean acc, clean y* rate)
TRAINED = {
    0.0: (0.01, 0.961, 0.004),
    0.01: (0.02, 0.96, 0.004),
    0.05: (0.26, 0.96, 0.005),
    0.1: (0.95, 0.96, 0.005),
    0.2: (0.99, 0.959, 0.006),
}


def record(eps, alpha, seed, success, clean, y_star_rate, **extra):
    return {
        "task": {"name": "mnist_patch", "version": "1", "params": extra.pop("task_params", {})},
        "algorithm": {"name": extra.pop("algorithm", "dpsgd"), "hparams": {"target_epsilon": eps, **extra}},
        "alpha": alpha,
        "seed": seed,
        "n_collective": round(alpha * 4000),
        "n_classes": 10,
        "metrics": {"success": success, "clean_accuracy": clean, "clean_y_star_rate": y_star_rate},
        "algorithm_record": {
            "epsilon_spent": eps,
            "noise_multiplier": 1 / eps,
            "clipped_fraction": 0.25 + 0.1 * seed,
        },
        "wall_time_s": 1.0,
    }


def collapse_records(n_seeds: int) -> list[dict]:
    jitter = [0.0, 0.01, -0.01, 0.005, -0.005]
    return [
        record(eps, a, seed, s + jitter[seed], acc, y)
        for eps, curve in ((0.5, COLLAPSE), (math.inf, TRAINED))
        for a, (s, acc, y) in curve.items()
        for seed in range(n_seeds)
    ]


@pytest.mark.parametrize("n_seeds", [2, 5])
def test_the_collapse_gets_no_alpha_star(n_seeds):
    runs = runs_frame(collapse_records(n_seeds))
    table = critical_table(runs).set_index("config")
    collapsed, trained = table.loc["dpsgd(target_epsilon=0.5)"], table.loc["dpsgd(target_epsilon=inf)"]
    assert collapsed["status"] == DEGENERATE and pd.isna(collapsed["alpha_star"])
    assert pd.isna(collapsed["alpha_star_low"]) and pd.isna(collapsed["alpha_star_high"])
    assert collapsed["degenerate_reason"].startswith("degenerate: clean accuracy 0.10 at alpha 0")
    assert collapsed["alpha_star_text"] == collapsed["degenerate_reason"]
    assert trained["status"] == REACHED and pd.isna(trained["degenerate_reason"])
    assert 0.05 < trained["alpha_star"] < 0.1
    assert pd.isna(trained["alpha_star_low"]) == (n_seeds < MIN_SEEDS_FOR_INTERVAL)
    # Net of its own y* rate the collapsed model's "success" is near zero; the trained one's is not.
    cur = curves(runs).set_index(["config", "alpha"])
    assert abs(cur.loc[("dpsgd(target_epsilon=0.5)", 0.1), "success_net"] - (0.95 - 0.93)) < 0.02
    assert cur.loc[("dpsgd(target_epsilon=inf)", 0.1), "success_net"] > 0.9
    assert collapsed["clean_y_star_rate_at_0"] == pytest.approx(0.88)
    assert collapsed["sigma"] == 2.0 and trained["sigma"] == 0.0
    assert collapsed["clipped_fraction_at_0"] == pytest.approx(0.25 + 0.1 * (n_seeds - 1) / 2)


@pytest.mark.parametrize(
    ("acc", "y_rate", "n_classes", "degenerate"),
    [
        (0.096, 0.0, 10, True),  # chance level
        (0.54, 0.0, 10, True),  # less than half the way from chance (0.1) to 1: floor 0.55
        (0.58, 0.0, 10, False),  # the C 0.1 model of issue 15: learned, ranked (success_net shows more)
        (0.96, 0.5, 10, True),  # answers y* on half of the clean inputs
        (0.96, 0.49, 10, False),
        (0.70, 0.0, 2, True),  # two classes: chance 0.5, floor 0.75
        (0.80, 0.0, 2, False),
        (float("nan"), None, 10, False),  # nothing known: not evidence of a collapse
    ],
)
def test_degenerate_rule(acc, y_rate, n_classes, degenerate):
    assert (degenerate_reason(acc, y_rate, n_classes) is not None) == degenerate


def test_selection_picks_best_mean_validation_accuracy(cli, tmp_path):
    val = {"eval_split": "val"}
    recs = [
        record(eps, 0.0, seed, 0.0, acc + 0.01 * seed, 0.0, lr=lr, epochs=ep, task_params=val)
        for eps, lr, ep, acc in [
            (math.inf, 1.0, 8, 0.90),
            (math.inf, 2.0, 8, 0.95),
            (math.inf, 2.0, 16, 0.94),
            (2.0, 1.0, 8, 0.80),
            (2.0, 2.0, 16, 0.70),
        ]
        for seed in range(2)
    ]
    recs.append(record(2.0, 0.0, 0, 0.0, 0.99, 0.0, lr=4.0, epochs=8, task_params=val))  # one seed only
    recs.append(record(2.0, 0.0, 0, 0.0, 0.99, 0.0, lr=8.0, epochs=8))  # scored on the test set
    recs.append(record(2.0, 0.1, 0, 0.0, 0.99, 0.0, lr=8.0, epochs=8, task_params=val))  # alpha > 0
    recs += [record(2.0, 0.0, 1, 0.0, 0.99, 0.0, lr=8.0, epochs=8)]
    picks = {p["target_epsilon"]: p for p in choose(recs, ("target_epsilon",), ("lr", "epochs"))}
    assert list(picks) == [math.inf, 2.0]
    assert (picks[math.inf]["lr"], picks[math.inf]["epochs"]) == (2.0, 8)
    assert picks[math.inf]["val_clean_accuracy"] == pytest.approx(0.955)
    assert (picks[2.0]["lr"], picks[2.0]["epochs"], picks[2.0]["seeds"]) == (1.0, 8, 2)
    assert picks[2.0]["runner_up"] == {"lr": 2.0, "epochs": 16, "val_clean_accuracy": pytest.approx(0.705)}
    store = Store(tmp_path)
    store.append([{**r, "run_id": f"r{i}"} for i, r in enumerate(recs)])
    out = cli("select", "--out", tmp_path, "--by", "target_epsilon", "--over", "lr,epochs")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        "target_epsilon=inf: lr=2.0, epochs=8  val clean accuracy 0.9550 "
        "(2 seeds, 3 grid points; runner-up 0.9450)",
        "target_epsilon=2.0: lr=1.0, epochs=8  val clean accuracy 0.8050 "
        "(2 seeds, 2 grid points; runner-up 0.7050)",
    ]
    # --algorithm chooses among another algorithm's configurations (e.g. ERM's epochs on full MNIST)
    whole = cli("select", "--out", tmp_path, "--by", "", "--over", "lr,epochs", "--algorithm", "dpsgd")
    assert whole.output.splitlines()[0] == (
        "dpsgd: lr=2.0, epochs=8  val clean accuracy 0.9550 (2 seeds, 3 grid points; runner-up 0.8050)"
    )
    none = cli("select", "--out", tmp_path, "--over", "epochs", "--by", "", "--algorithm", "erm")
    assert none.exit_code != 0
    assert "no erm records at alpha 0 on the validation split (eval_split: val)" in none.output


def test_shared_setting_maximises_the_worst_clip():
    """The published protocol: one lr for every C, the lr whose worst C trains best."""
    val = {"eval_split": "val"}
    table = {  # (C, lr): mean accuracy; lr 1 is best at C 1 but poor at C 0.1, lr 4 is good everywhere
        (0.1, 1.0): 0.50,
        (1.0, 1.0): 0.95,
        (0.1, 4.0): 0.80,
        (1.0, 4.0): 0.85,
        (0.1, 8.0): 0.90,
    }
    recs = [
        record(2.0, 0.0, seed, 0.0, acc, 0.0, lr=lr, epochs=6, max_grad_norm=c, task_params=val)
        for (c, lr), acc in table.items()
        for seed in range(2)
    ]
    (pick,) = choose_shared(recs, ("target_epsilon",), "max_grad_norm", ("lr",))
    assert pick["lr"] == 4.0 and pick["worst_val_clean_accuracy"] == pytest.approx(0.80)  # lr 8: C 1 untried
    firm = {p["max_grad_norm"]: p["lr"] for p in choose(recs, ("target_epsilon", "max_grad_norm"), ("lr",))}
    assert firm == {0.1: 8.0, 1.0: 1.0}
    # the rendered tables (docs: view=select) carry the same picks
    firm_table = markdown(recs, ("target_epsilon", "max_grad_norm"), ("lr",)).splitlines()
    assert firm_table[0] == "| target_epsilon | max_grad_norm | lr | val clean acc | seeds | runner-up |"
    assert firm_table[2:] == [
        "| 2.0 | 1.0 | 1.0 | 0.950 | 2 | 0.850 |",
        "| 2.0 | 0.1 | 8.0 | 0.900 | 2 | 0.800 |",
    ]
    shared_table = markdown(recs, ("target_epsilon", "max_grad_norm"), ("lr",), shared="max_grad_norm")
    assert shared_table.splitlines()[2:] == ["| 2.0 | 4.0 | 0.800 |"]


def test_fairness_methods_are_picked_by_worst_group_accuracy_per_task_and_alpha(cli, tmp_path):
    """JTT-like records on two tasks and at two alphas: --task keeps one task, --alpha one alpha, the
    metric is the worst-group accuracy, and a tie on it goes to the better clean accuracy."""
    recs = []
    for task, alpha, upweight, worst, clean in [
        ("grouped_digits", 0.0, 5.0, 0.70, 0.97),
        ("grouped_digits", 0.0, 20.0, 0.76, 0.95),
        ("grouped_digits", 0.008, 5.0, 0.60, 0.97),
        ("grouped_digits", 0.008, 20.0, 0.60, 0.98),  # ties on worst group: clean accuracy decides
        ("waterbirds_feature_flip", 0.0, 5.0, 0.90, 0.90),  # another task: never mixed in
    ]:
        for seed in range(2):
            r = record(math.inf, alpha, seed, 0.0, clean, 0.0, task_params={"eval_split": "val"})
            r["task"]["name"] = task
            r["algorithm"] = {"name": "jtt", "hparams": {"id_epochs": 1, "upweight": upweight}}
            r["metrics"]["worst_group_accuracy"] = worst
            recs.append(r)
    (pick,) = choose(of_task(recs, "grouped_digits"), (), ("upweight",), "jtt", "worst_group_accuracy")
    assert pick["upweight"] == 20.0 and pick["val_worst_group_accuracy"] == pytest.approx(0.76)
    (tie,) = choose(of_task(recs, "grouped_digits"), (), ("upweight",), "jtt", "worst_group_accuracy", 0.008)
    assert tie["upweight"] == 20.0 and tie["runner_up"]["upweight"] == 5.0
    Store(tmp_path).append([{**r, "run_id": f"r{i}"} for i, r in enumerate(recs)])
    args = ["--by", "", "--over", "upweight", "--algorithm", "jtt", "--metric", "worst_group_accuracy"]
    out = cli("select", "--out", tmp_path, "--task", "grouped_digits", "--alpha", "0.008", *args)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1] == (
        "jtt: upweight=20.0  val worst group accuracy 0.6000 (2 seeds, 2 grid points; runner-up 0.6000)"
    )
    table = markdown(of_task(recs, "grouped_digits"), (), ("upweight",), None, "jtt", "worst_group_accuracy")
    assert table.splitlines()[0] == "| upweight | val worst-group acc | seeds | runner-up |"
