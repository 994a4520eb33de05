"""User-caused errors print one line naming the problem, exit non-zero, and show no traceback."""

import pytest


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
    from benchmark.options import apply_sets
    from benchmark.suite import parse_suite

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
