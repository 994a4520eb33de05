"""`aca-bench perf` measures both paths for ERM and DP-SGD in one run and reports their ratio."""

import json
import re

import pytest
import torch


@pytest.mark.parametrize(
    ("precision", "stepping", "engine", "repeats"),
    [("fp32", "auto", "engine (in turn)", 1), ("bf16", "vmapped", "engine (vmapped)", 2)],
)
def test_perf_reports_both_paths_and_ratios(cli, tmp_path, precision, stepping, engine, repeats):
    result = cli(
        "perf",
        "--out",
        tmp_path / "perf",
        "--repeats",
        repeats,
        "--precision",
        precision,
        "--stepping",
        stepping,
        "--n-train",
        "128",
        "--stack",
        "2",
        "--naive-models",
        "1",
        "--batch-size",
        "32",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert f"stacked precision {precision}" in result.output
    assert ("median of 2 turns" in result.output) == (repeats == 2)
    rows = re.findall(
        r"^(erm|dpsgd)\s+(naive loop|naive \(Opacus\)|engine \(.+?\)|conv kernels only)"
        r"\s+(\d+)\s+1\s+([\d.]+)\s+([\d.]+)$",
        result.output,
        flags=re.M,
    )
    in_turn = engine == "engine (in turn)"  # only then, and for ERM only, the ceiling is measured
    expected = {("erm", "naive loop"), ("erm", engine), ("dpsgd", "naive (Opacus)"), ("dpsgd", engine)}
    if in_turn:
        expected |= {("erm", "conv kernels only")}
    assert {(a, p) for a, p, *_ in rows} == expected and len(rows) == len(expected)
    rate = {(a, p): float(r) for a, p, _, _, r in rows}
    for _, path, models, seconds, rate_text in rows:
        assert int(models) == (2 if path == engine else 1)
        assert float(rate_text) > 0
        if float(seconds) >= 2:  # printed to 0.01 s: compare only where that rounding is small
            assert abs(float(rate_text) - int(models) * 60 / float(seconds)) / float(rate_text) < 0.05
    for name, naive in (("erm", "naive loop"), ("dpsgd", "naive (Opacus)")):
        ratio = re.search(rf"^{name}: engine / naive = ([\d.]+)x", result.output, flags=re.M)
        assert float(ratio[1]) == pytest.approx(rate[name, engine] / rate[name, naive], rel=0.01, abs=0.01)
        ceiling = re.search(rf"^{name}: conv kernels only / naive = ([\d.]+)x", result.output, flags=re.M)
        assert (ceiling is not None) == (in_turn and name == "erm")
        if ceiling is not None:
            expected_ceiling = rate[name, "conv kernels only"] / rate[name, naive]
            assert float(ceiling[1]) == pytest.approx(expected_ceiling, rel=0.01, abs=0.01)
    _check_records(tmp_path / "perf", rows, result.output, precision, stepping, repeats)


def _check_records(folder, rows, output, precision, stepping, repeats):
    """--out wrote one record per printed row, with the run's settings; the rendered table (view=perf)
    carries the printed ratios."""
    from aca_bench.benchmark.commands.doc_tables import render_block

    records = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert sorted((r["algorithm"], r["path"], r["models"]) for r in records) == sorted(
        (a, p, int(m)) for a, p, m, _, _ in rows
    )
    assert len({r["perf_run"] for r in records}) == 1 and len({r["run_id"] for r in records}) == len(rows)
    for r in records:
        assert r["settings"] == {
            "task": "mnist_patch",
            "n_train": 128,
            "stack": 2,
            "naive_models": 1,
            "epochs": 1,
            "batch_size": 32,
            "precision": precision,
            "stepping": stepping,
            "repeats": repeats,
        }
        assert r["model_epochs_per_min"] == pytest.approx(r["models"] * r["epochs"] * 60 / r["seconds"])
        assert r["environment"]["device"] == "cpu" and r["finished_at"]
    table = render_block(f"{folder.name} view=perf", folder.parent).splitlines()
    line = table[2].strip("| ").split(" | ")
    printed = dict(re.findall(r"^(erm|dpsgd): engine / naive = ([\d.]+)x", output, flags=re.M))
    assert len(table) == 5 and table[4].startswith(f"{len(rows)} records; command: ")
    assert line[0] == f"32, {precision}, {'in turn' if stepping == 'auto' else stepping}, {repeats}"
    assert float(line[3][:-1]) == pytest.approx(float(printed["erm"]), abs=0.011)
    assert float(line[7][:-1]) == pytest.approx(float(printed["dpsgd"]), abs=0.011)
    assert (line[4] == "-") == (stepping == "vmapped")


def test_perf_table_has_one_line_per_run_in_order_and_dashes_for_missing_paths():
    from aca_bench.benchmark.perf.report import markdown

    def rec(run, when, algorithm, path, rate):
        settings = {"batch_size": 64, "precision": "fp32", "repeats": 3}
        return {"perf_run": run, "finished_at": when, "algorithm": algorithm, "path": path,
                "model_epochs_per_min": rate, "settings": settings}  # fmt: skip

    later = [
        rec("b", "2026-01-02", "erm", "naive loop", 100.0),
        rec("b", "2026-01-02", "erm", "engine (vmapped)", 50.0),
    ]
    earlier = [
        rec("a", "2026-01-01", "dpsgd", "naive (Opacus)", 40.0),
        rec("a", "2026-01-01", "dpsgd", "engine (in turn)", 100.0),
        rec("a", "2026-01-01", "erm", "naive loop", 200.0),
        rec("a", "2026-01-01", "erm", "engine (in turn)", 250.0),
        rec("a", "2026-01-01", "erm", "conv kernels only", 700.0),
    ]
    lines = markdown(later + earlier).splitlines()
    assert lines[2:] == [
        "| 64, fp32, in turn, 3 | 200.0 | 250.0 | 1.25x | 3.50x | 40.0 | 100.0 | 2.50x |",
        "| 64, fp32, vmapped, 3 | 100.0 | 50.0 | 0.50x | - | - | - | - |",
    ]


def test_perf_refuses_an_unusable_out_folder_before_timing(cli, tmp_path, tiny_record):
    from aca_bench.benchmark.store import Store

    (tmp_path / "file").write_text("")
    Store(tmp_path / "runs").append([tiny_record])
    for out, why in (
        (tmp_path / "file" / "perf", "cannot be used"),
        (tmp_path / "runs", "holds run records"),
    ):
        result = cli("perf", "--out", out, "--n-train", "64", "--device", "cpu")
        assert result.exit_code == 1 and why in result.output and "model-epochs/min" not in result.output


def test_perf_refuses_an_algorithm_it_cannot_time(cli):
    result = cli("perf", "--algorithms", "groupdro")
    assert result.exit_code == 2 and "perf times dpsgd, erm, not 'groupdro'" in result.output


def test_repeats_give_each_path_its_median_time(monkeypatch, tiny_mnist):
    from aca_bench.benchmark.perf import throughput as perf

    task, data = tiny_mnist
    clock = {"naive loop": iter([0.5, 3.0, 9.0, 1.0]), "engine (in turn)": iter([0.5, 2.0, 8.0, 4.0])}
    ceiling = iter([7.0, 5.0, 6.0])

    def timed(path):
        return lambda *args: perf.PerfRow(path, "erm", 1, 1, 256, next(clock[path]))  # first: warm-up

    monkeypatch.setattr(perf, "naive_sgd", lambda *args: next(clock["naive loop"]))  # ERM's naive loop
    monkeypatch.setattr(perf, "stacked", timed("engine (in turn)"))
    monkeypatch.setattr(perf, "conv_seconds", lambda *args: next(ceiling))
    hp = {"batch_size": 64, "epochs": 1, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}
    turns = []
    rows = perf.measure(
        "erm",
        task,
        data,
        hp,
        2,
        1,
        torch.device("cpu"),
        vectorize=False,
        repeats=3,
        on_turn=lambda: turns.append(1),
    )
    assert len(turns) == 3
    assert [(r.path, r.seconds) for r in rows] == [
        ("naive loop", 3.0),
        ("engine (in turn)", 4.0),
        ("conv kernels only", 6.0),
    ]


def test_neither_path_is_timed_calibrating_dp_noise(monkeypatch, tiny_mnist):
    """Each path calibrates sigma (at its own rate: Opacus's is 1/ceil(n/b)) before its clock
    starts. 250 examples at batch 32: b does not divide n, so the two paths' rates differ."""
    import time

    from aca_bench.benchmark import privacy
    from aca_bench.benchmark.perf import throughput as perf

    class Clock:  # perf's clock, noting how many calibrations had run at each reading
        misses: list[int] = []

        def perf_counter(self) -> float:
            self.misses.append(privacy.calibrate.cache_info().misses)
            return time.perf_counter()

    task, data = tiny_mnist
    privacy.calibrate.cache_clear()
    monkeypatch.setattr(perf, "time", Clock())
    hp = {
        **{"lr": 0.5, "momentum": 0.0, "weight_decay": 0.0, "batch_size": 32, "epochs": 1},
        **{"precision": "fp32", "target_epsilon": 4.0, "noise_multiplier": None, "delta": None},
        **{"max_grad_norm": 1.0, "accountant": "rdp", "engine": "stacked"},
    }
    perf.measure("dpsgd", task, perf.tiled(data, 250), hp, 2, 1, torch.device("cpu"))
    starts, stops = Clock.misses[0::2], Clock.misses[1::2]
    assert len(starts) == 4  # warm-up and timed run of each path
    assert starts == stops  # no calibration between a start and its stop
    assert stops[-1] == 3  # the warm-ups share one rate (32 divides 128); the timed runs have two
