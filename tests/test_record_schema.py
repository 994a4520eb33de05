"""Records pass a schema on read: a wrong-schema record (a missing field, a metric that is inf, NaN or
outside [0, 1]) is reported in one line and moved aside like a damaged line; it never reaches
`results`, `sweep` or `leaderboard build`, and a non-finite success never gives an alpha* or a rank."""

import json

import pytest

from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.record_schema import record_problem
from aca_bench.benchmark.store import DAMAGED, Store


def _records(tiny_record: dict) -> list[dict]:
    """Two seeds at alpha 0 and 0.05, all intact."""
    return [
        {**tiny_record, "run_id": f"r{a}-{s}", "alpha": a, "seed": s, "n_collective": int(a * 100)}
        for a in (0.0, 0.05)
        for s in (0, 1)
    ]


def _write(folder, records: list[dict], *extra_lines: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    (folder / "records.jsonl").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {"metrics": {"success": float("inf"), "clean_accuracy": 0.9}},
            "'metrics.success' is inf, not a number in [0, 1]",
        ),
        ({"metrics": {"success": float("nan"), "clean_accuracy": 0.9}}, "'metrics.success' is nan"),
        ({"metrics": {"success": 1.5, "clean_accuracy": 0.9}}, "'metrics.success' is 1.5"),
        ({"alpha": -0.1}, "'alpha' is -0.1, not a number in [0, 1]"),
        ({"seed": "0"}, "'seed' is '0', not an integer"),
        ({"n_collective": True}, "'n_collective' is True, not an integer >= 0"),
        ({"task": "mnist_patch"}, "'task' is 'mnist_patch', not a mapping"),
        ({"wall_time_s": None}, "'wall_time_s' is null"),
    ],
)
def test_a_wrong_field_is_named(tiny_record, change, words):
    assert words in record_problem({**tiny_record, **change})
    assert record_problem(tiny_record) == ""


def test_a_record_without_its_fields_is_refused_in_one_phrase():
    assert record_problem({"run_id": "x"}) == "not a run record: required field 'task' is missing"
    assert record_problem({"run_id": "x", "perf_run": "p"}) == ""  # an `aca-bench perf` timing
    assert "not a run record" in record_problem([1, 2])


def test_the_store_moves_a_wrong_record_aside_like_a_damaged_line(tmp_path, tiny_record):
    _write(tmp_path, _records(tiny_record), '{"run_id": "x"}')
    store = Store(tmp_path)
    records, problems = store.read()
    assert len(records) == 4
    assert problems == [
        f"{store.path}: line 5: not a run record: required field 'task' is missing; "
        "skipped, its cell will be rerun"
    ]
    moved = store.check()
    assert len(moved) == 1 and moved[0].startswith(f"{store.path}: line 5: not a run record")
    assert (tmp_path / DAMAGED).read_text() == '{"run_id": "x"}\n'
    assert store.read() == (records, [])  # nothing else lost, nothing said twice


def test_results_reads_past_a_wrong_record(cli, tmp_path, tiny_record):
    _write(tmp_path, _records(tiny_record), '{"run_id": "x"}')
    result = cli("results", "--out", tmp_path, "--format", "csv")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert "line 5: not a run record: required field 'task' is missing" in result.output
    assert result.output.count("mnist_patch,erm,") == 3  # both alphas' rows, then alpha*


def test_a_sweep_moves_a_wrong_record_aside_and_goes_on(cli, tmp_path, tiny_record):
    _write(tmp_path, _records(tiny_record), '{"run_id": "x"}')
    sweep = ("sweep", "--task", "mnist_patch", "--algorithm", "erm", "--seeds", "1", "--alphas", "0.1")
    result = cli(*sweep, "--set", "epochs=0", "--out", tmp_path)  # stops before training
    assert "KeyError" not in result.output and "Traceback" not in result.output, result.output
    assert f"{tmp_path / 'records.jsonl'}: line 5: not a run record" in result.output
    assert (tmp_path / DAMAGED).read_text() == '{"run_id": "x"}\n'
    assert len(Store(tmp_path).read()[0]) == 4


def test_leaderboard_build_reads_past_a_wrong_record(cli, tmp_path, tiny_record):
    store = tmp_path / "store"
    _write(store, _records(tiny_record), '{"run_id": "x"}')
    result = cli("leaderboard", "build", "--results", store, "--out", tmp_path / "site")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert "line 5: not a run record: required field 'task' is missing" in result.output
    assert (tmp_path / "site" / "index.html").exists()


def test_a_non_finite_success_never_ranks_nor_counts_as_a_seed(cli, tmp_path, tiny_record):
    """Issue 35 case 7: a record with S = inf gave alpha* 0.05 and ranked first; a NaN seed was
    dropped from the mean but still counted in 'seeds'."""
    recs = _records(tiny_record)
    inf = {**recs[2], "run_id": "inf", "seed": 2, "metrics": {"success": float("inf"), "clean_accuracy": 0.9}}
    nan = {**recs[3], "run_id": "nan", "seed": 3, "metrics": {"success": float("nan"), "clean_accuracy": 0.9}}
    _write(tmp_path, [*recs, inf, nan])
    result = cli("results", "--out", tmp_path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "line 5: not a run record: 'metrics.success' is inf, not a number in [0, 1]" in result.output
    assert "line 6: not a run record: 'metrics.success' is nan, not a number in [0, 1]" in result.output
    tables = json.loads(result.stdout)
    assert {row["seeds"] for row in tables["curves"]} == {2}
    assert all(row["alpha_star"] is None for row in tables["critical_mass"])  # S 0.1 never reaches 0.9


def test_a_record_that_fails_the_schema_is_never_written(tmp_path, tiny_record):
    """Written, it would be moved aside on the next read and its cell retrained without end ('cells were
    trained but left no records')."""
    store = Store(tmp_path)
    bad = {**tiny_record, "run_id": "bad", "metrics": {"success": float("nan"), "clean_accuracy": 0.9}}
    with pytest.raises(BenchError) as info:
        store.append([tiny_record, bad])
    assert info.value.message == (
        f"results folder '{tmp_path}': record bad is not a run record: 'metrics.success' is nan, not a "
        "number in [0, 1]; nothing was stored"
    )
    assert store.read() == ([], [])
