"""Every number the product reads is finite and in range, or refused in one line: hyperparameters and
task parameters (from --set, suites and registry grids) and the success target. inf is a value only
where a parameter declares it (DP-SGD's target_epsilon: no noise)."""

import math

import pytest

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.params import Param

SWEEP = ("sweep", "--task", "mnist_patch", "--algorithm", "erm", "--seeds", "1", "--alphas", "0.1")


def _one_line(result, fragment: str) -> None:
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], result.output


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("inf", "parameter 'lr' must be a finite number, got inf"),
        ("1e400", "parameter 'lr' must be a finite number, got inf"),  # overflows to inf as it is read
        ("nan", "parameter 'lr' must be > 0, got nan"),
        ("-inf", "parameter 'lr' must be > 0, got -inf"),
    ],
)
def test_set_refuses_a_non_finite_hyperparameter(cli, tmp_path, value, words):
    _one_line(cli(*SWEEP, "--set", f"lr={value}", "--out", tmp_path), words)


def test_a_parameter_without_a_range_is_still_finite():
    free = Param(0.5, float, "no declared range")
    for bad in ("nan", "inf", float("-inf")):
        with pytest.raises(BenchError, match="parameter 'x' must be a finite number"):
            free.coerce("x", bad)
    assert free.coerce("x", "0.25") == 0.25


def test_target_epsilon_keeps_inf_as_a_value():
    from aca_bench.algorithms.dpsgd import HPARAMS

    assert HPARAMS["target_epsilon"].coerce("target_epsilon", ".inf") == math.inf
    with pytest.raises(BenchError, match="must be > 0, got nan"):
        HPARAMS["target_epsilon"].coerce("target_epsilon", "nan")


def test_a_suite_with_an_infinite_learning_rate_is_refused(cli, tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: s\nexperiments:\n  - name: e\n    task: mnist_patch\n    algorithm: erm\n"
        "    alphas: [0.1]\n    seeds: 1\n    hparams: {lr: .inf}\n"
    )
    _one_line(cli("run", suite, "--out", tmp_path / "o"), "parameter 'lr' must be a finite number, got inf")


@pytest.mark.parametrize("value", ["nan", "-nan"])
def test_the_success_target_is_finite(cli, tmp_path, value):
    result = cli("results", "--out", tmp_path, "--target", value)
    assert (
        result.exit_code == 2
        and "is not a finite number" in result.output
        and "Traceback" not in result.output
    )


def test_a_registry_grid_with_an_infinite_value_is_refused(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("ACA_BENCH_REGISTRY", "")
    card = tmp_path / "erm_inf.yaml"
    card.write_text(
        "name: erm\nimplementation: aca_bench.algorithms.erm:ERM\ndescription: d\nauthors: [a]\n"
        "license: MIT\nstackable: true\ngrid: {lr: [.inf, 0.1]}\n"
    )
    result = cli("validate", "--schema-only", card)
    assert result.exit_code == 1
    assert f"{card}: grid.lr: parameter 'lr' must be a finite number, got inf" in result.output
