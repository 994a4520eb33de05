"""Whose defaults a cell trains with: the task's budget for every algorithm that takes one (built in or
outside), the algorithm's own where it keeps its own (DP-SGD), a suite's `budget:` over the task's; and
the warning when a run compares algorithms at different budgets."""

import pytest

from aca_bench.algorithms import registry
from aca_bench.benchmark import runner
from aca_bench.benchmark.budget import budget_mismatches, task_budget
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.plan import Experiment, configurations
from aca_bench.benchmark.suite import load_suite, parse_suite
from aca_bench.benchmark.sweep import plan_cells
from aca_bench.tasks.mnist_patch import MnistPatch
from aca_bench.tasks.waterbirds import WaterbirdsFeatureFlip


def _hparams(task, algorithm, hparams=None):
    return plan_cells([Experiment("e", task, algorithm, (0.1,), (0,), {}, hparams or {})])[0].hparams


def test_an_algorithm_the_task_does_not_name_keeps_its_own_defaults():
    own = {k: p.default for k, p in registry.get("dpsgd").cls.hparams.items()}
    assert _hparams("mnist_patch", "dpsgd") == own
    assert _hparams("mnist_patch", "dpsgd", {"lr": 2.0})["momentum"] == own["momentum"]


@pytest.mark.parametrize(
    ("task", "algorithm"),
    [
        ("mnist_patch", "erm"),
        ("mnist_patch", "jtt"),
        ("mnist_patch", "cvar_dro"),
        ("grouped_digits", "groupdro"),
        ("waterbirds_feature_flip", "erm"),
        ("waterbirds_feature_flip", "groupdro"),
    ],
)
def test_every_algorithm_that_takes_a_budget_trains_at_the_tasks(task, algorithm):
    hp = _hparams(task, algorithm)
    budget = {
        "mnist_patch": MnistPatch,
        "grouped_digits": MnistPatch,
        "waterbirds_feature_flip": WaterbirdsFeatureFlip,
    }[task].budget
    assert budget and all(hp[k] == v for k, v in budget.items())
    assert _hparams(task, algorithm, {"lr": 0.3})["lr"] == 0.3  # the experiment's own values win over both


def _suite(budget: dict | None, *experiments: dict) -> list[Experiment]:
    doc = {"experiments": [{"task": "mnist_patch", "alphas": [0.1], "seeds": 1, **e} for e in experiments]}
    if budget is not None:
        doc["budget"] = budget
    return list(parse_suite(doc, "s.yaml").experiments)


def test_a_suite_budget_overrides_the_tasks_for_all_but_an_algorithm_with_its_own():
    exps = _suite(
        {"epochs": 3, "lr": 0.1},
        {"name": "a", "algorithm": "erm"},
        {"name": "b", "algorithm": "jtt"},
        {"name": "c", "algorithm": "dpsgd"},
        {"name": "d", "algorithm": "erm", "hparams": {"epochs": 4}},
    )
    cells = {c.experiment: c.hparams for c in plan_cells(exps)}
    assert (cells["a"]["epochs"], cells["a"]["lr"], cells["a"]["batch_size"]) == (3, 0.1, 64)
    assert (cells["b"]["epochs"], cells["b"]["lr"]) == (3, 0.1)
    own = registry.get("dpsgd").cls.hparams
    assert (cells["c"]["epochs"], cells["c"]["lr"]) == (own["epochs"].default, own["lr"].default)
    assert cells["d"]["epochs"] == 4  # an experiment's own hparams win


def _mismatches(exps: list[Experiment]) -> list[str]:
    return budget_mismatches([t for e in exps for t in configurations(e)])


def test_algorithms_compared_at_different_budgets_are_named_in_one_line():
    lines = _mismatches(
        _suite(
            None,
            {"name": "a", "algorithm": "erm"},
            {"name": "b", "algorithm": "jtt", "hparams": {"epochs": 2}},
        )
    )
    assert lines == [
        "task 'mnist_patch': the algorithms compared train at different budgets (erm lr 0.02, momentum 0.9, "
        "weight_decay 0, batch_size 64, epochs 10; jtt lr 0.02, momentum 0.9, weight_decay 0, batch_size 64, "
        "epochs 2); give them one: the task's budget, the suite's `budget:` or --set"
    ]
    same = _suite(None, {"name": "a", "algorithm": "erm"}, {"name": "b", "algorithm": "cvar_dro"})
    assert _mismatches(same) == []
    own = _suite(None, {"name": "a", "algorithm": "erm"}, {"name": "c", "algorithm": "dpsgd"})
    assert _mismatches(own) == []  # DP-SGD's budget is its own: not a mismatch


def test_run_prints_the_mismatch_as_a_warning(cli, tmp_path, monkeypatch, tiny_mnist):
    monkeypatch.setattr(runner, "task_data", lambda cell, device: tiny_mnist[1])
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "experiments:\n"
        "  - {name: a, task: mnist_patch, algorithm: erm, alphas: [0.1], seeds: 1, hparams: {epochs: 1}}\n"
        "  - {name: b, task: mnist_patch, algorithm: cvar_dro, alphas: [0.1], seeds: 1,\n"
        "     hparams: {epochs: 1, lr: 0.05}}\n"
    )
    result = cli("run", suite, "--out", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0, result.output  # a warning, not a refusal
    assert "warning: task 'mnist_patch': the algorithms compared train at different budgets" in result.output


def test_quick_suite_trains_erm_with_the_mnist_budget_as_before():
    for cell in plan_cells(load_suite("quick").experiments):
        assert (cell.hparams["lr"], cell.hparams["momentum"], cell.hparams["batch_size"]) == (0.02, 0.9, 64)
        assert cell.hparams["epochs"] == 10


def test_a_task_budget_not_keyed_by_algorithm_is_refused():
    class Flat(MnistPatch):
        name = "flat"
        default_hparams = {"lr": 0.1}

    with pytest.raises(BenchError, match="task 'flat': default_hparams must map algorithm names"):
        task_budget(Flat, "erm")
