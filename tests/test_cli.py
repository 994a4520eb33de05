"""User-caused errors print one line naming the problem, exit non-zero, and show no traceback."""

import pytest

from aca_bench.benchmark.errors import BenchError


def _one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    error = [ln for ln in lines if ln.startswith("Error:")]
    assert len(error) == 1, result.output
    for frag in fragments:
        assert frag in error[0], result.output


SWEEP = ("sweep", "--task", "mnist_patch", "--algorithm", "erm", "--seeds", "1")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("sweep", "--task", "nope", "--algorithm", "erm"), ("unknown task 'nope'", "mnist_patch")),
        (("sweep", "--task", "mnist_patch", "--algorithm", "nope"), ("unknown algorithm 'nope'", "erm")),
        ((*SWEEP, "--alphas", "0.1,1.5"), ("alpha must be in [0, 1], got 1.5",)),
        ((*SWEEP, "--alphas", "0.1,abc"), ("--alphas expects comma-separated numbers",)),
        ((*SWEEP, "--set", "bogus=1"), ("unknown --set key 'bogus'",)),
        ((*SWEEP, "--set", "lr=fast"), ("parameter 'lr' expects float, got 'fast'",)),
        (
            (*SWEEP, "--set", "source=mnist", "--set", "data_dir=/nonexistent/mnist"),
            ("MNIST directory '/nonexistent/mnist' does not exist", "aca-bench data fetch mnist"),
        ),
        ((*SWEEP, "--set", "position=middle"), ("parameter 'position' must be one of",)),
        (("run", "no-such-suite"), ("unknown suite 'no-such-suite'", "quick")),
        (("run", "quick", "--set", "engine=opacus"), ("--set engine: no experiment", "declares 'engine'")),
        (("run", "quick", "--seeds", "0"), ("--seeds: seeds: must be a positive int or a list of ints",)),
        (("run", "quick", "--seeds", "[5, 6"), ("--seeds", "malformed YAML")),
        (("results", "--out", "/nonexistent/results"), ("no results in '/nonexistent/results'",)),
    ],
)
def test_user_errors_are_one_line(cli, tmp_path, args, fragments):
    _one_line_error(cli(*args, "--out", tmp_path) if args[0] == "sweep" else cli(*args), *fragments)


def test_malformed_suite_yaml_names_file_and_line(cli, tmp_path):
    suite = tmp_path / "bad.yaml"
    suite.write_text("experiments:\n  - task: mnist_patch\n    alphas: [0.1, 0.2\n")
    _one_line_error(cli("run", suite, "--out", tmp_path / "o"), str(suite), "malformed YAML")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("experiments: []\n", "experiments: must be a non-empty list"),
        ("experiments:\n  - {task: mnist_patch, algorithm: erm}\n", "experiments[0]: alphas: required"),
        (
            "experiments:\n  - {task: mnist_patch, algorithm: erm, alphas: [0.1], color: red}\n",
            "experiments[0]: color: unknown field",
        ),
        ("experiments:\n  - {task: mnist_patch, algorithm: erm, alphas: [2.0]}\n", "alpha must be in [0, 1]"),
        (
            "target: 3\nexperiments:\n  - {task: mnist_patch, algorithm: erm, alphas: [0.1]}\n",
            "target: must be a number in (0, 1]",
        ),
    ],
)
def test_invalid_suite_fields_are_named(cli, tmp_path, body, fragment):
    suite = tmp_path / "s.yaml"
    suite.write_text(body)
    _one_line_error(cli("run", suite, "--out", tmp_path / "o"), fragment)


def test_broken_results_file_is_reported_and_the_rest_read(cli, tmp_path, tiny_record):
    import json

    (tmp_path / "records.jsonl").write_text(json.dumps(tiny_record) + "\n" + '{"run_id": "x", "met')
    result = cli("results", "--out", tmp_path, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "line 2: truncated last record (a crash mid-write?)" in result.output
    assert "mnist_patch,erm,0.0," in result.output


def test_results_file_without_intact_records_is_one_line(cli, tmp_path):
    (tmp_path / "records.jsonl").write_text("{not json\n")
    _one_line_error(cli("results", "--out", tmp_path), "no intact run records")


def test_list_shows_registered_names(cli):
    assert "mnist_patch" in cli("list", "tasks").output
    assert "erm:" in cli("list", "algorithms").output
    assert "quick:" in cli("list", "suites").output


def test_run_set_reaches_only_the_experiments_that_declare_the_key():
    from aca_bench.benchmark.commands.options import apply_sets
    from aca_bench.benchmark.suite import parse_suite

    suite = parse_suite(
        {
            "experiments": [
                {"name": "e", "task": "mnist_patch", "algorithm": "erm", "alphas": [0.1]},
                {
                    "name": "d",
                    "task": "mnist_patch",
                    "algorithm": "dpsgd",
                    "alphas": [0.1],
                    "hparams": {"lr": 2},
                },
            ]
        },
        "test",
    )
    erm, dp = apply_sets(suite.experiments, ("engine=opacus", "lr=[0.1, 0.2]", "task.y_star=3"))
    assert "engine" not in erm.hparams and dp.hparams["engine"] == "opacus"
    assert erm.hparams["lr"] == dp.hparams["lr"] == [0.1, 0.2]
    assert erm.task_params == dp.task_params == {"y_star": 3}


# Every check below runs before anything trains: the store stays empty.
DP = ("sweep", "--task", "mnist_patch", "--algorithm", "dpsgd", "--seeds", "1", "--alphas", "0.1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((*SWEEP, "--set", "epochs=-3"), "parameter 'epochs' must be >= 1, got -3"),
        ((*SWEEP, "--set", "epochs=0"), "parameter 'epochs' must be >= 1, got 0"),
        ((*SWEEP, "--set", "batch_size=-5"), "parameter 'batch_size' must be in [1, n_train], got -5"),
        ((*SWEEP, "--set", "batch_size=0"), "parameter 'batch_size' must be in [1, n_train], got 0"),
        (
            (*SWEEP, "--set", "batch_size=4001"),
            "parameter 'batch_size' must be in [1, n_train=4000], got 4001",
        ),
        ((*SWEEP, "--set", "lr=0"), "parameter 'lr' must be > 0, got 0"),
        ((*SWEEP, "--set", "lr=nan"), "parameter 'lr' must be > 0, got nan"),
        ((*SWEEP, "--set", "momentum=1"), "parameter 'momentum' must be in [0, 1), got 1"),
        ((*DP, "--set", "delta=2"), "parameter 'delta' must be in (0, 1), got 2"),
        ((*DP, "--set", "delta=0"), "parameter 'delta' must be in (0, 1), got 0"),
        ((*DP, "--set", "target_epsilon=0"), "parameter 'target_epsilon' must be > 0, got 0"),
        ((*DP, "--set", "max_grad_norm=0"), "parameter 'max_grad_norm' must be > 0, got 0"),
        ((*DP, "--set", "noise_multiplier=-1"), "parameter 'noise_multiplier' must be >= 0, got -1"),
        ((*SWEEP, "--set", "patch_size=0"), "parameter 'patch_size' must be in [1, 28], got 0"),
        ((*SWEEP, "--alphas", "0.1,,0.2"), "--alphas: item 2 of '0.1,,0.2' is empty"),
        ((*SWEEP, "--alphas", "0.1,"), "--alphas: item 2 of '0.1,' is empty"),
        ((*SWEEP, "--alphas", ""), "--alphas expects comma-separated numbers, got ''"),
    ],
)
def test_values_out_of_range_are_refused_before_training(cli, tmp_path, args, message):
    result = cli(*args, "--out", tmp_path)
    _one_line_error(result, message)
    assert "expects" not in result.output or "--alphas" in message  # a range error is not a type error
    assert not (tmp_path / "records.jsonl").exists()


def test_dpsgd_range_error_comes_before_opacus_warnings(cli, tmp_path):
    result = cli(*DP, "--set", "delta=0", "--out", tmp_path)
    _one_line_error(result, "parameter 'delta' must be in (0, 1), got 0")
    assert "warn" not in result.output.lower()


def test_range_is_checked_in_suites_and_registry_grids(cli, tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "experiments:\n  - {task: mnist_patch, algorithm: erm, alphas: [0.1], hparams: {epochs: 0}}\n"
    )
    _one_line_error(cli("run", suite, "--out", tmp_path / "o"), "parameter 'epochs' must be >= 1, got 0")
    assert not (tmp_path / "o" / "records.jsonl").exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            "targt: 0.5\nexperiments:\n  - {task: mnist_patch, algorithm: erm, alphas: [0.1]}\n",
            "s.yaml: targt: unknown",
        ),
        (
            "executor: {kind: ray, adress: auto}\n"
            "experiments:\n  - {task: mnist_patch, algorithm: erm, alphas: [0.1]}\n",
            "s.yaml: executor: adress: unknown field",
        ),
    ],
)
def test_unknown_suite_fields_are_refused_at_every_level(cli, tmp_path, body, fragment):
    suite = tmp_path / "s.yaml"
    suite.write_text(body)
    _one_line_error(cli("run", suite, "--out", tmp_path / "o"), fragment)
    assert not (tmp_path / "o").exists()


def test_suite_experiment_fields_are_the_experiment_dataclass():
    from dataclasses import fields

    from aca_bench.benchmark.plan import Experiment
    from aca_bench.benchmark.suite import _EXPERIMENT_FIELDS

    assert {f.name for f in fields(Experiment)} == _EXPERIMENT_FIELDS


def _unusable_out(tmp_path, how):
    if how == "a file on the path":
        (tmp_path / "file").write_text("")
        return tmp_path / "file" / "results", "Not a directory"
    if how == "a lock that cannot be opened":
        (tmp_path / "out" / ".lock").mkdir(parents=True)
        return tmp_path / "out", "Is a directory"
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    return tmp_path / "ro", "Permission denied"


@pytest.mark.parametrize("how", ["a file on the path", "a lock that cannot be opened", "a read-only folder"])
def test_unusable_results_folder_is_refused_before_training(cli, tmp_path, how):
    import os

    if how == "a read-only folder" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    out, reason = _unusable_out(tmp_path, how)
    result = cli(*SWEEP, "--alphas", "0.1", "--out", out)
    _one_line_error(result, f"results folder '{out}' cannot be used: {reason}")
    assert "cells:" not in result.output  # nothing trained


RANGED_ALGORITHM = """
from aca_bench.algorithms.erm import ERM
from aca_bench.api import SGD_HPARAMS, Param


class RangedClip(ERM):
    name = "ranged_clip"
    hparams = {**SGD_HPARAMS, "clip": Param(1.0, float, "largest gradient norm", low=0, low_open=True)}
"""


def test_every_command_that_reads_the_registry_takes_registry(cli, tmp_path):
    folder = tmp_path / "reg"
    folder.mkdir()
    (folder / "ranged_clip_impl.py").write_text(RANGED_ALGORITHM)
    (folder / "ranged_clip.yaml").write_text(
        "name: ranged_clip\nimplementation: ranged_clip_impl:RangedClip\ndescription: SGD with a clip.\n"
        "authors: [A. Newcomer]\nlicense: MIT\nstackable: true\n"
    )
    for args in (("list", "algorithms"), ("validate", "--schema-only"), ("perf", "--help")):
        result = cli(*args, "--registry", folder)
        assert result.exit_code == 0, (args, result.output)
    assert "ranged_clip:" in cli("list", "algorithms", "--registry", folder).output
    result = cli(
        *SWEEP, "--algorithm", "ranged_clip", "--registry", folder, "--set", "clip=-1", "--out", tmp_path
    )
    _one_line_error(result, "parameter 'clip' must be > 0, got -1")  # a submitted algorithm's range
    assert "ranged_clip" not in cli("list", "algorithms").output  # the option lasts one command


def test_list_algorithms_on_a_task_shows_the_defaults_a_run_uses(cli):
    from aca_bench.algorithms.dpsgd import HPARAMS

    out = cli("list", "algorithms", "--task", "mnist_patch").output
    dpsgd = out.split("dpsgd:")[1].split("\nerm:")[0]
    for name in ("lr", "momentum", "batch_size", "epochs"):
        assert f"    {name} = {HPARAMS[name].default!r}  " in dpsgd
    erm = out.split("\nerm:")[1].split("\ngroupdro:")[0]
    assert "lr = 0.02" in erm and "[task mnist_patch]" in erm
    assert "cannot run on mnist_patch" in out.split("\ngroupdro:")[1].splitlines()[0]


def test_a_sweep_moves_damaged_records_aside_and_says_so_once(cli, tmp_path, tiny_record):
    import json

    good = json.dumps(tiny_record)
    (tmp_path / "records.jsonl").write_text(good + "\n{not json\n" + good.replace('"abc"', '"def"') + "\n")
    assert "line 2: unreadable record" in cli("results", "--out", tmp_path).output
    result = cli(*SWEEP, "--alphas", "0.1", "--set", "epochs=0", "--out", tmp_path)  # stops before training
    assert f"warning: {tmp_path / 'records.jsonl'}: line 2: unreadable record; moved to " in result.output
    assert (tmp_path / "records.jsonl.damaged").read_text() == "{not json\n"
    again = cli("results", "--out", tmp_path, "--format", "csv")
    assert again.exit_code == 0 and "warning" not in again.output and "unreadable" not in again.output


@pytest.mark.parametrize(("seeds", "expected"), [("3", (0, 1, 2)), ("[5, 6, 7, 8, 9]", (5, 6, 7, 8, 9))])
def test_run_seeds_replaces_every_experiments_seeds(cli, tmp_path, monkeypatch, seeds, expected):
    from aca_bench.benchmark.commands import run

    handed = []

    def fake_sweep(experiments, *args, **kwargs):
        handed.extend(experiments)
        raise BenchError("stop before training")

    monkeypatch.setattr(run, "run_sweep", fake_sweep)
    assert "stop before training" in cli("run", "quick", "--seeds", seeds, "--out", tmp_path / "o").output
    assert handed and all(e.seeds == expected for e in handed)
