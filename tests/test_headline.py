"""Which configurations the headline leaderboard ranks (`aca_bench.leaderboard.headline`)."""

from aca_bench.benchmark.aggregate import full_sizes, identity
from aca_bench.benchmark.ids import canonical
from aca_bench.leaderboard.headline import headline, is_headline, standard_settings
from aca_bench.leaderboard.sources import SuiteGrid


def _config(task: str, algorithm: str, hparams: dict, **params) -> str:
    return canonical(
        {"task": {"name": task, "params": params}, "algorithm": {"name": algorithm, "hparams": hparams}}
    )


GRIDS = {
    "erm": [SuiteGrid("standard", "e", "mnist_patch", (), 5, (("epochs", 10),), (("source", "embedded"),))],
    "dpsgd": [
        SuiteGrid("standard", "d", "mnist_patch", (), 5, (("lr", 2), ("target_epsilon", float("inf")))),
        SuiteGrid("dp_epsilon", "d", "mnist_patch", (), 10, (("lr", 1), ("target_epsilon", 8))),
    ],
}


def test_a_configuration_is_headline_when_it_matches_a_standard_experiment_on_the_full_set():
    settings = standard_settings(GRIDS)
    assert is_headline(_config("mnist_patch", "erm", {"epochs": 10, "lr": 0.02}, source="embedded"), settings)
    assert not is_headline(
        _config("mnist_patch", "erm", {"epochs": 5, "lr": 0.02}, source="embedded"), settings
    )
    assert not is_headline(_config("mnist_patch", "erm", {"epochs": 10}, n_train=500), settings)
    # the suite names the data: full MNIST, another n, is not ranked beside the embedded digits
    assert not is_headline(_config("mnist_patch", "erm", {"epochs": 10}, source="mnist"), settings)
    assert is_headline(_config("mnist_patch", "dpsgd", {"lr": 2.0, "target_epsilon": float("inf")}), settings)
    # another suite's setting of an algorithm the standard suite runs is an exploration
    assert not is_headline(_config("mnist_patch", "dpsgd", {"lr": 1.0, "target_epsilon": 8.0}), settings)
    # an outside entry run through the standard suite, and a task the suite leaves out, are headline
    assert is_headline(_config("mnist_patch", "label_smoothing", {"epochs": 3}), settings)
    assert is_headline(_config("grouped_digits", "erm", {"epochs": 3}), settings)


def test_identity_merges_a_full_size_subsample_and_a_resolved_default():
    base = {"n_train": 4000, "algorithm_record": {"delta": 1e-4}}
    full = {
        **base,
        "task": {"name": "t", "params": {}},
        "algorithm": {"name": "dpsgd", "hparams": {"delta": None}},
    }
    sub = {
        **base,
        "task": {"name": "t", "params": {"n_train": 4000}},
        "algorithm": {"name": "dpsgd", "hparams": {"delta": 1e-4}},
    }
    small = {**sub, "n_train": 500, "task": {"name": "t", "params": {"n_train": 500}}}
    other = {**full, "n_train": 60_000, "task": {"name": "t", "params": {"source": "mnist"}}}
    sizes = full_sizes([full, sub, small, other])
    assert sorted(sizes.values()) == [4000, 60_000]  # per data source: full MNIST is another full set
    assert identity(full, sizes) == identity(sub, sizes)
    assert identity(small, sizes)[0]["params"] == {"n_train": 500}
    assert identity({**sub, "task": {"name": "t", "params": {"n_train": 4000, "source": "mnist"}}}, sizes)[0][
        "params"
    ] == {"n_train": 4000, "source": "mnist"}  # 4,000 of full MNIST is a subsample
    assert identity(full, sizes)[1]["hparams"] == {"delta": 1e-4}


def test_an_algorithm_that_never_ran_the_standard_setting_still_has_a_headline():
    settings = standard_settings(GRIDS)
    swept = [_config("mnist_patch", "erm", {"epochs": 5, "lr": lr}) for lr in (0.01, 0.1)]
    small = _config("mnist_patch", "erm", {"epochs": 5, "lr": 0.01}, n_train=500)
    standard = _config("mnist_patch", "erm", {"epochs": 10, "lr": 0.02}, source="embedded")
    assert headline([*swept, small], settings) == set(swept)
    assert headline([*swept, small, standard], settings) == {standard}
