"""Configuration names: which hyperparameters or task parameters tell a group's configurations apart."""

import pytest

from aca_bench.benchmark.aggregate import runs_frame
from aca_bench.benchmark.ids import differing_keys


def test_differing_keys_per_group_compares_values_as_json():
    rows = [("a", {"lr": 0.1, "epochs": 2}), ("a", {"lr": 0.2, "epochs": 2}), ("b", {"lr": 0.1})]
    assert differing_keys(rows) == {"a": {"lr"}, "b": set()}
    assert differing_keys([("a", {"grid": [1, 2]}), ("a", {"grid": [1, 2]})]) == {"a": set()}


@pytest.mark.parametrize("order", [1, -1])
def test_a_name_some_mappings_lack_differs_in_either_order(order):
    rows = [("t", {"patch": 3, "n_train": 500}), ("t", {"patch": 3})][::order]
    assert differing_keys(rows, absent_is_a_value=True) == {"t": {"n_train"}}
    assert differing_keys(rows) == {"t": set()}


@pytest.mark.parametrize("order", [1, -1])
def test_configurations_on_one_task_never_share_a_label(tiny_record, order):
    subset = {**tiny_record, "run_id": "b", "task": {**tiny_record["task"], "params": {"n_train": 500}}}
    labels = set(runs_frame([tiny_record, subset][::order])["config"])
    assert labels == {"erm", "erm(n_train=500)"}


def test_a_hyperparameter_left_at_its_default_rule_is_labelled_default(tiny_record):
    """DP-SGD's delta None means the default rule (largest power of ten below 1/n), not a value None."""
    algo = tiny_record["algorithm"]
    given = {
        **tiny_record,
        "run_id": "b",
        "algorithm": {**algo, "hparams": {**algo["hparams"], "delta": 1e-4}},
    }
    default = {**tiny_record, "algorithm": {**algo, "hparams": {**algo["hparams"], "delta": None}}}
    assert set(runs_frame([default, given])["config"]) == {"erm(delta=default)", "erm(delta=0.0001)"}
