"""The validation split and the n_train subsample every task takes (tasks/splits.py)."""

import pytest
import torch

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.plan import Experiment, expand
from aca_bench.tasks.base import TaskData
from aca_bench.tasks.mnist_patch import MnistPatch
from aca_bench.tasks.splits import carve, strata, stratified_pick

DEFAULTS = {"eval_split": "test", "n_train": None, "subset_seed": 0, "val_collective": False}


def _data(labels: list[int], attrs: list[int] | None = None) -> TaskData:
    y = torch.tensor(labels)
    x = torch.arange(len(labels)).float().unsqueeze(1)  # x remembers each example's index
    attr = None if attrs is None else torch.tensor(attrs)
    return TaskData(x, y, x[:3], y[:3], attr, None if attr is None else attr[:3])


def test_stratified_pick_keeps_every_stratum_in_proportion_within_one():
    stratum = torch.tensor([0] * 700 + [1] * 200 + [2] * 100)
    for k, seed in [(100, 0), (333, 1), (57, 7)]:
        picked = stratified_pick(stratum, k, seed)
        assert picked.shape == (k,) and picked.unique().numel() == k
        counts = torch.bincount(stratum[picked], minlength=3).double()
        assert torch.all((counts - k * torch.tensor([0.7, 0.2, 0.1])).abs() <= 1.0)


def test_pick_is_a_function_of_its_seed():
    stratum = torch.randint(0, 4, (500,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(stratified_pick(stratum, 50, 5), stratified_pick(stratum, 50, 5))
    assert not torch.equal(stratified_pick(stratum, 50, 5), stratified_pick(stratum, 50, 6))


def test_groups_are_strata_of_label_and_attribute():
    labels, attrs = [0, 0, 1, 1] * 250, [0, 1] * 500
    s = strata(torch.tensor(labels), torch.tensor(attrs))
    assert s.unique().tolist() == [0, 1, 2, 3]
    data = _data(labels, attrs)
    out = carve(data, {**DEFAULTS, "n_train": 100})
    groups = torch.bincount(strata(out.y_train, out.attr_train))
    assert groups.tolist() == [25, 25, 25, 25]


def test_val_split_is_a_disjoint_fifth_of_training_and_replaces_the_test_set():
    data = _data([0] * 800 + [1] * 200)
    out = carve(data, {**DEFAULTS, "eval_split": "val"})
    train_ids = set(out.x_train[:, 0].long().tolist())
    val_ids = set(out.x_test[:, 0].long().tolist())
    assert len(val_ids) == 200 and len(train_ids) == 800 and not train_ids & val_ids
    assert torch.bincount(out.y_test).tolist() == [160, 40]


def test_n_train_subsamples_what_is_left_after_the_val_split():
    data = _data([0, 1] * 500)
    out = carve(data, {**DEFAULTS, "eval_split": "val", "n_train": 300})
    val = carve(data, {**DEFAULTS, "eval_split": "val"})
    assert out.x_train.shape[0] == 300
    assert torch.equal(out.x_test, val.x_test)  # the val split does not move with n_train
    assert not set(out.x_train[:, 0].tolist()) & set(val.x_test[:, 0].tolist())


def test_n_train_beyond_the_data_is_refused_in_one_line():
    with pytest.raises(BenchError, match=r"'n_train' must be in \[1, 10\] here, got 11"):
        carve(_data([0, 1] * 5), {**DEFAULTS, "n_train": 11})


def test_split_params_enter_the_run_id_only_when_set():
    def cell(**task_params):
        exp = Experiment("e", "mnist_patch", "erm", (), (0,), task_params, {"epochs": 1})
        return expand(exp)[0]

    plain = cell()
    assert not set(DEFAULTS) & set(plain.task_params)
    sub = cell(n_train=500)
    assert sub.task_params["n_train"] == 500 and sub.run_id != plain.run_id
    assert cell(n_train=500, subset_seed=1).run_id != sub.run_id
    assert cell(eval_split="val").run_id != plain.run_id
    assert cell(subset_seed=0).run_id == plain.run_id


def test_real_digits_subsample_is_balanced():
    data = MnistPatch(n_train=1000).data()
    assert data.x_train.shape[0] == 1000
    assert torch.bincount(data.y_train).tolist() == [100] * 10
    assert data.x_test.shape[0] == MnistPatch().data().x_test.shape[0]


def test_a_collective_in_the_validation_split_needs_one():
    with pytest.raises(BenchError, match="'val_collective' needs eval_split val"):
        carve(_data([0, 1] * 10), DEFAULTS | {"val_collective": True})
    assert (
        carve(_data([0, 1] * 10), DEFAULTS | {"eval_split": "val", "val_collective": True}).x_test.shape[0]
        == 4
    )
