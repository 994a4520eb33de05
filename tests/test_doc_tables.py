"""Results tables in README.md and docs/ are rendered from committed records
(benchmark/commands/doc_tables.py)."""

import json
from functools import partial
from pathlib import Path

import pytest

from aca_bench.benchmark.commands import perf_adaptive
from aca_bench.benchmark.commands.doc_tables import documents, render
from aca_bench.benchmark.errors import BenchError

ROOT = Path(__file__).resolve().parents[1]


def _store(folder: Path, curves: dict[str, list[float]], extra: dict | None = None) -> None:
    """Records of one configuration per lr (with the `extra` hyperparameters) on alphas 0, 0.01, 0.1,
    three seeds each, each record its own 1 s stack, one after another."""
    folder.mkdir(parents=True)
    lines = []
    for lr, successes in curves.items():
        for seed in range(3):
            for alpha, s in zip([0.0, 0.01, 0.1], successes, strict=True):
                lines.append(_record(float(lr), alpha, seed, s, len(lines), extra=extra))
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def _record(
    lr: float,
    alpha: float,
    seed: int,
    success: float,
    finished: int,
    wall: float = 1.0,
    extra: dict | None = None,
) -> dict:
    """One erm(lr) record that finished `finished` s after 14:00 in a stack of `wall` s."""
    return {
        "run_id": f"{lr}-{seed}-{alpha}",
        "experiment": "e",
        "alpha": alpha,
        "seed": seed,
        "n_train": 1000,
        "n_collective": round(alpha * 1000),
        "task": {"name": "mnist_patch", "version": "1", "params": {}},
        "algorithm": {"name": "erm", "hparams": {"lr": lr, **(extra or {})}},
        "metrics": {"success": success, "clean_accuracy": 0.95},
        "wall_time_s": 1.0,
        "stack_wall_time_s": wall,
        "finished_at": f"2026-11-29T14:{finished // 60:02d}:{finished % 60:02d}+00:00",
        "environment": {"command": "aca-bench run x", "git_commit": "a" * 40, "device": "cpu"},
    }


def test_a_block_is_replaced_by_the_table_of_its_store(tmp_path):
    _store(tmp_path / "ref", {"0.1": [0.0, 0.5, 1.0], "0.2": [0.0, 0.95, 1.0]})
    head = "<!-- records: ref columns=config,alpha_star_text,seeds -->\n"
    doc = "before\n" + head + "stale text\n<!-- /records -->\nafter\n"
    out = render(doc, tmp_path)
    assert out.startswith("before\n" + head)
    assert out.endswith("<!-- /records -->\nafter\n") and "stale text" not in out
    rows = [ln for ln in out.splitlines() if ln.startswith("| erm")]
    # lr 0.1 crosses 0.9 between 0.01 (S 0.5) and 0.1 (S 1.0, clipped to 0.98 before its logit):
    # logit-interpolated at 2.197 / 3.892 = 0.565 of the way in log alpha; the bounds are the bracket
    assert rows[0] == "| erm(lr=0.1) | 0.0367 [0.01, 0.1] | 3 |"
    assert rows[1].startswith("| erm(lr=0.2) | <= 0.01")  # crosses before the first positive alpha
    assert "18 records; command: `aca-bench run x`; commit aaaaaaaaaaaa; cpu; 2026-11-29." in out
    assert render(out, tmp_path) == out  # rendering is idempotent


def test_where_keeps_matching_rows_and_bad_blocks_name_the_problem(tmp_path):
    _store(tmp_path / "ref", {"0.1": [0.0, 0.5, 1.0], "0.2": [0.0, 0.95, 1.0]})
    doc = "<!-- records: ref where=config:lr=0.2 columns=config -->\n<!-- /records -->"
    assert "erm(lr=0.1)" not in render(doc, tmp_path) and "erm(lr=0.2)" in render(doc, tmp_path)
    with pytest.raises(BenchError, match="unknown column 'nope'"):
        render("<!-- records: ref columns=nope -->\n<!-- /records -->", tmp_path)
    with pytest.raises(BenchError, match="no results in"):
        render("<!-- records: missing -->\n<!-- /records -->", tmp_path)
    _store(tmp_path / "a" / "ref", {"0.1": [0.0, 0.5, 1.0]})  # named like the first: one would hide the other
    with pytest.raises(BenchError, match="a/ref: a second store named 'ref' in one records block"):
        render("<!-- records: ref,a/ref view=against:lr by=lr -->\n<!-- /records -->", tmp_path)


def test_the_against_view_sets_stores_side_by_side(tmp_path):
    _store(tmp_path / "one", {"0.1": [0.0, 0.5, 1.0]}, {"momentum": 0.0})
    _store(tmp_path / "two", {"0.1": [0.0, 0.95, 1.0], "0.2": [0.0, 0.1, 0.2]}, {"momentum": 0.0})
    doc = "<!-- records: one,two view=against:lr by=momentum -->\n<!-- /records -->\n"
    lines = render(doc, tmp_path).splitlines()
    assert lines[1] == (
        "| momentum | lr | one: alpha* [95%] | one: lr | one: clean acc (α=0) "
        "| two: alpha* [95%] | two: lr | two: clean acc (α=0) |"
    )
    assert lines[3].startswith("| 0 | 0.1 | 0.0367 [") and lines[3].endswith(
        "| <= 0.01 [0, 0.01] | 0.1 | 0.95 |"
    )
    assert lines[4] == "| 0 | 0.2 | - | - | - | not reached (> 0.1) | 0.2 | 0.95 |"
    assert "27 records" in render(doc, tmp_path)
    _store(tmp_path / "three", {"0.1": [0.0, 0.5, 1.0]}, {"momentum": 0.0})
    (tmp_path / "three" / "records.jsonl").write_text(
        (tmp_path / "three" / "records.jsonl")
        .read_text()
        .replace('"momentum": 0.0', '"momentum": 0.0, "wd": 1')
        + (tmp_path / "one" / "records.jsonl").read_text().replace('"run_id": "', '"run_id": "x')
    )
    with pytest.raises(BenchError, match="three: 2 configurations at momentum=0, lr=0.1"):
        render("<!-- records: three view=against:lr by=momentum -->\n<!-- /records -->\n", tmp_path)


def test_the_committed_docs_are_current_with_the_committed_records():
    stale = [p.name for p in documents(ROOT) if render(p.read_text(), ROOT) != p.read_text()]
    assert not stale, f"run `aca-bench docs render`: stale tables in {stale}"


def test_view_results_is_what_aca_bench_results_prints(tmp_path, cli):
    _store(tmp_path / "ref", {"0.1": [0.0, 0.5, 1.0]})
    out = render("<!-- records: ref view=results -->\n<!-- /records -->\n", tmp_path)
    printed = cli("results", "--out", tmp_path / "ref").output.strip("\n")
    assert f"```\n$ aca-bench results --out ref\n{printed}\n```\n" in out
    assert "mnist_patch / erm: alpha* 0.0367" in out  # one configuration: no hyperparameter varies


def test_view_adaptive_puts_the_two_arms_side_by_side(tmp_path):
    """A fixed arm of three alphas and an 'auto' arm that trained only alpha 0 and 0.1: model-epochs
    (one per record without an epochs hyperparameter) and the saving; no agreement verdict beside a
    bound; a
    configuration only the fixed arm ran (lr 0.2) counts in neither total."""
    _store(tmp_path / "fixed", {"0.1": [0.0, 0.5, 1.0], "0.2": [0.0, 0.0, 0.0]})
    _store(tmp_path / "auto", {"0.1": [0.0, 0.5, 1.0]})
    auto = tmp_path / "auto" / "records.jsonl"
    kept = [ln for ln in auto.read_text().splitlines() if json.loads(ln)["alpha"] != 0.01]
    auto.write_text("\n".join(kept) + "\n")
    out = render("<!-- records: fixed,auto view=adaptive -->\n<!-- /records -->\n", tmp_path)
    rows = [ln for ln in out.splitlines() if ln.startswith("| mnist_patch /")]
    assert len(rows) == 1 and rows[0].startswith("| mnist_patch / erm(lr=0.1) |")
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1].startswith("9, 0.0367 ") and cells[2].startswith("6, ")  # 3 seeds x 3 or 2 alphas
    assert cells[3] == "1.50x"
    assert cells[2].startswith("6, <= 0.1") and cells[4] == "n/a"  # a bound is not compared
    total = next(ln for ln in out.splitlines() if ln.startswith("| **all configurations in both**"))
    assert "9 model-epochs, 9 s training" in total and "6 model-epochs, 6 s training" in total
    with pytest.raises(BenchError, match="two stores"):
        render("<!-- records: fixed view=adaptive -->\n<!-- /records -->\n", tmp_path)


def test_training_time_counts_stacks_side_by_side_once_and_a_pause_not_at_all():
    def stack(end: str, seconds: float) -> dict:
        return {"finished_at": f"2026-11-29T14:{end}+00:00", "stack_wall_time_s": seconds}

    # Two workers: 0-10 s (two records) beside 2-12 s, then 12-20 s; resumed later: 100-105 s.
    records = [
        stack("00:10", 10),
        stack("00:10", 10),
        stack("00:12", 10),
        stack("00:20", 8),
        stack("01:45", 5),
    ]
    assert perf_adaptive.training_seconds(records) == pytest.approx(25.0)
    assert perf_adaptive.training_seconds(records[3:4]) == pytest.approx(8.0)


def test_view_adaptive_summary_totals_the_arms_and_counts_agreement(tmp_path):
    """lr 0.1 has the same curve in both arms (alpha* 0.0367, inside); lr 0.2 crosses at 0.0211 in the
    fixed arm and 0.0367 in the auto one (inside: identical seeds still give the bracket [0.01, 0.1] as
    interval, widths 0.09 / alpha*); lr 0.3, fixed only, counts nowhere."""
    _store(tmp_path / "fixed", {"0.1": [0.0, 0.5, 1.0], "0.2": [0.0, 0.8, 1.0], "0.3": [0.0, 0.0, 1.0]})
    _store(tmp_path / "auto", {"0.1": [0.0, 0.5, 1.0], "0.2": [0.0, 0.5, 1.0]})
    rows = _rows(render("<!-- records: fixed,auto view=adaptive-summary -->\n<!-- /records -->\n", tmp_path))
    assert rows["model-epochs"] == ["18", "18", "1.00x"]  # 2 configurations x 3 seeds x 3 alphas each
    assert rows["training time"] == ["18 s", "18 s", "1.00x"]
    # fixed: median of 0.09 / 0.0367 = 2.45 and 0.09 / 0.0211 = 4.27; auto: 2.45 twice
    assert rows["median interval width / alpha* (2 with both)"] == ["3.36", "2.45", ""]
    assert rows["auto alpha* inside the fixed interval; intervals overlap"][1] == "2 of 2; 2 of 2"
    with pytest.raises(BenchError, match="view=adaptive-summary takes two stores"):
        render("<!-- records: auto view=adaptive-summary -->\n<!-- /records -->\n", tmp_path)


def test_view_adaptive_summary_agrees_with_the_table_per_configuration(tmp_path):
    """Seeds that differ give intervals of non-zero, different widths: the summary's medians and counts
    are those of the per-configuration table's columns."""
    curves = {"0.1": [0.0, 0.5, 1.0], "0.2": [0.0, 0.8, 1.0], "0.4": [0.0, 0.7, 0.95]}
    _store(tmp_path / "fixed", curves)
    _store(tmp_path / "auto", {**curves, "0.2": [0.0, 0.6, 1.0]})
    changes = [("fixed", "0.1", 1, 0.85), ("fixed", "0.2", 2, 0.6), ("fixed", "0.4", 0, 0.9)]
    changes += [("auto", "0.1", 2, 0.8), ("auto", "0.2", 2, 0.88), ("auto", "0.4", 0, 0.3)]
    for arm, lr, seed, s in changes:
        path = tmp_path / arm / "records.jsonl"
        records = [json.loads(ln) for ln in path.read_text().splitlines()]
        for r in records:
            if r["run_id"] == f"{lr}-{seed}-0.01":
                r["metrics"]["success"] = s
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    table = render("<!-- records: fixed,auto view=adaptive -->\n<!-- /records -->\n", tmp_path)
    per_config = [
        [c.strip() for c in ln.strip("|").split("|")] for ln in table.splitlines() if ln.startswith("| mnist")
    ]
    widths = [(float(f.rsplit(", ", 1)[1]), float(a.rsplit(", ", 1)[1])) for _, f, a, _, _ in per_config]
    assert len(set(widths)) == 3 and all(f > 0 and a > 0 for f, a in widths)
    verdicts = [row[4].split("; ") for row in per_config]
    assert {v[0] for v in verdicts} <= {"yes", "no"}
    rows = _rows(render("<!-- records: fixed,auto view=adaptive-summary -->\n<!-- /records -->\n", tmp_path))
    medians = [f"{sorted(w[i] for w in widths)[1]:.2f}" for i in (0, 1)]
    assert rows["median interval width / alpha* (3 with both)"] == [*medians, ""]
    counts = [sum(v[i] == "yes" for v in verdicts) for i in (0, 1)]
    assert rows["auto alpha* inside the fixed interval; intervals overlap"][1] == (
        f"{counts[0]} of 3; {counts[1]} of 3"
    )


def _rows(out: str) -> dict[str, list[str]]:
    """A rendered Markdown table's rows by their first cell."""
    return {
        ln.split("|")[1].strip(): [c.strip() for c in ln.strip("|").split("|")[1:]]
        for ln in out.splitlines()
        if ln.startswith("|")
    }


def test_view_rounding_compares_the_cells_two_stores_share(tmp_path):
    """lr 0.1's cells agree bitwise; two of lr 0.2's nine moved (by 0.3 and 0.1), which moves its alpha*;
    a cell only one store holds (lr 0.3) is left out."""
    _store(tmp_path / "a", {"0.1": [0.0, 0.5, 1.0], "0.2": [0.0, 0.8, 1.0], "0.3": [0.0, 0.5, 1.0]})
    _store(tmp_path / "b", {"0.1": [0.0, 0.5, 1.0], "0.2": [0.0, 0.8, 1.0]})
    path = tmp_path / "b" / "records.jsonl"
    records = [json.loads(ln) for ln in path.read_text().splitlines()]
    for r in records:
        r["metrics"]["success"] += {"0.2-0-0.01": -0.3, "0.2-1-0.1": -0.1}.get(r["run_id"], 0.0)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = render("<!-- records: a,b view=rounding -->\n<!-- /records -->\n", tmp_path)
    rows = _rows(out)
    assert {k for k in rows if k.startswith("mnist")} == {
        "mnist_patch / erm(lr=0.1)",
        "mnist_patch / erm(lr=0.2)",
    }
    assert rows["mnist_patch / erm(lr=0.1)"][:3] == ["9", "9", "0.000, 0.000, 0.000"]
    moved = rows["mnist_patch / erm(lr=0.2)"]
    assert moved[:3] == ["9", "7", "0.000, 0.140, 0.300"]  # 90th percentile between 0.1 and 0.3
    assert moved[3] != moved[4]
    assert "\n45 records; command: `aca-bench run x`" in out
    with pytest.raises(BenchError, match="view=rounding takes two stores"):
        render("<!-- records: a view=rounding -->\n<!-- /records -->\n", tmp_path)
    _store(tmp_path / "c", {"0.4": [0.0, 0.5, 1.0]})
    with pytest.raises(BenchError, match="the two stores share no cells"):
        render("<!-- records: a,c view=rounding -->\n<!-- /records -->\n", tmp_path)


def test_view_adaptive_floor_sets_a_search_beside_the_least_its_design_needed(tmp_path):
    """lr 0.1 ran alpha 0 and 0.01-0.05 at 3 seeds, scouts 0.001 and 0.1 at seed 0: the floor drops 0.05,
    beyond the bracket (0.01, 0.02) of its crossing. lr 0.2 never reaches 0.9: the floor keeps its largest
    alpha every seed ran. Each cell is its own 2 s stack, except lr 0.1's three alpha-0 cells, which
    shared a 4 s stack with lr 0.2's alpha-0 cell at seed 0 (1 s each)."""
    curves = {0.1: {0.0: 0.0, 0.01: 0.5, 0.02: 0.95, 0.05: 1.0}, 0.2: {0.0: 0.0, 0.01: 0.2, 0.02: 0.4}}
    cell = partial(_record, extra={"epochs": 2})
    records, t = [], 0
    for lr, curve in curves.items():
        for alpha, s in curve.items():
            for seed in range(3):
                if alpha == 0.0:
                    continue
                t += 2
                records.append(cell(lr, alpha, seed, s, t, 2.0))
    for alpha in (0.001, 0.1):
        t += 2
        records.append(cell(0.1, alpha, 0, 0.0 if alpha < 0.01 else 1.0, t, 2.0))
    t += 4
    shared = [cell(0.1, 0.0, seed, 0.0, t, 4.0) for seed in range(3)] + [cell(0.2, 0.0, 0, 0.0, t, 4.0)]
    for seed in (1, 2):
        t += 2
        records.append(cell(0.2, 0.0, seed, 0.0, t, 2.0))
    (tmp_path / "auto").mkdir()
    path = tmp_path / "auto" / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records + shared))
    rows = _rows(render("<!-- records: auto view=adaptive-floor -->\n<!-- /records -->\n", tmp_path))
    # lr 0.1: 3 alpha-0 cells (1 s each) + 9 cells at 0.01-0.05 + 2 scouts; floor without 0.05's 3 cells
    assert rows["mnist_patch / erm(lr=0.1)"] == ["14", "28", "25", "11", "22", "19", "3"]
    # lr 0.2: alpha 0 at seed 0 (1 s) and seeds 1, 2 (2 s each); the floor drops 0.01's cells
    assert rows["mnist_patch / erm(lr=0.2)"] == ["9", "18", "17", "6", "12", "11", "5"]
    assert rows["**all configurations**"] == ["23", "46", "42", "17", "34", "30", "8"]
    (tmp_path / "workers").mkdir()
    records[1]["finished_at"] = records[0]["finished_at"]  # two 2 s stacks over the same 2 s
    records[1]["stack_wall_time_s"] = 2.5
    (tmp_path / "workers" / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(BenchError, match="stacks ran side by side"):
        render("<!-- records: workers view=adaptive-floor -->\n<!-- /records -->\n", tmp_path)
    with pytest.raises(BenchError, match="view=adaptive-floor takes one store"):
        render("<!-- records: auto,workers view=adaptive-floor -->\n<!-- /records -->\n", tmp_path)
