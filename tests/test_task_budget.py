"""Whose defaults a cell trains with: the algorithm's own, unless the task names the algorithm."""

import pytest

from aca_bench.algorithms import registry
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.plan import Experiment, task_budget
from aca_bench.benchmark.suite import load_suite
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
    [("mnist_patch", "erm"), ("waterbirds_feature_flip", "erm")] + [("waterbirds_feature_flip", "groupdro")],
)
def test_the_budget_of_a_task_that_names_the_algorithm_wins(task, algorithm):
    hp = _hparams(task, algorithm)
    budget = {"mnist_patch": MnistPatch, "waterbirds_feature_flip": WaterbirdsFeatureFlip}[
        task
    ].default_hparams
    assert budget[algorithm] and all(hp[k] == v for k, v in budget[algorithm].items())
    assert _hparams(task, algorithm, {"lr": 0.3})["lr"] == 0.3  # the experiment's own values win over both


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
