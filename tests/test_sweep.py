"""Sweeps: records carry the full config, reruns skip finished cells, an interruption loses only the
stack in flight, and an end-to-end sweep on the embedded digits shows the collective steering ERM."""

import pytest
import torch

from aca_bench.benchmark import runner
from aca_bench.benchmark.executors import local
from aca_bench.benchmark.plan import Experiment
from aca_bench.benchmark.store import Store
from aca_bench.benchmark.sweep import plan_cells, run_sweep

pytestmark = pytest.mark.trains

CPU = torch.device("cpu")


@pytest.fixture
def small_data(monkeypatch, tiny_mnist):
    monkeypatch.setattr(runner, "task_data", lambda cell, device: tiny_mnist[1])


def _exp(**hp):
    return Experiment("t", "mnist_patch", "erm", (0.05,), (0, 1), {}, {"epochs": 1, "batch_size": 32, **hp})


def test_records_carry_config_counts_metrics_and_environment(tmp_path, small_data, tiny_mnist):
    store = Store(tmp_path)
    res = run_sweep([_exp()], store, CPU, max_stack=8)
    assert (res.planned, res.skipped, res.written) == (4, 0, 4) and res.seconds > 0
    records, _ = store.read()
    r = next(r for r in records if r["alpha"] == 0.05 and r["seed"] == 1)
    assert r["n_train"] == 256 and r["n_collective"] == 13  # round(0.05 * 256)
    assert r["algorithm"] == {
        "name": "erm",
        "hparams": {
            "lr": 0.02,
            "momentum": 0.9,
            "weight_decay": 0.0,
            "batch_size": 32,
            "epochs": 1,
            "precision": "fp32",
        },
    }
    assert r["task"]["name"] == "mnist_patch" and r["task"]["params"]["patch_size"] == 3
    assert "data_dir" not in r["task"]["params"]  # a location, not part of the run's identity
    assert r["strategy"] == {"name": "patch", "size": 3, "row": 25, "col": 25, "value": 255, "y_star": 8}
    assert 0.0 <= r["metrics"]["success"] <= 1.0 and r["metrics"]["n_success_eval"] == int(
        (tiny_mnist[1].y_test != 8).sum()
    )
    assert r["environment"]["packages"]["torch"] == torch.__version__.split("+")[0] or r["environment"][
        "packages"
    ]["torch"].startswith(torch.__version__.split("+")[0])
    assert r["environment"]["device"] == "cpu" and r["stack_size"] == 4 and r["wall_time_s"] > 0
    assert {c.run_id for c in plan_cells([_exp()])} == {r["run_id"] for r in records}


def test_rerun_skips_finished_cells_and_force_reruns(tmp_path, small_data, monkeypatch):
    store = Store(tmp_path)
    run_sweep([_exp()], store, CPU)
    trained = []
    real = local.run_cells
    monkeypatch.setattr(
        local, "run_cells", lambda cells, *a, **k: trained.extend(cells) or real(cells, *a, **k)
    )
    assert run_sweep([_exp()], store, CPU).written == 0 and trained == []
    assert run_sweep([_exp()], store, CPU, force=True).written == 4 and len(trained) == 4
    assert len(store.read()[0]) == 4


def test_interrupted_sweep_resumes_without_redoing_finished_cells(tmp_path, small_data, monkeypatch):
    store = Store(tmp_path)
    real = local.run_cells
    calls = []

    def flaky(cells, *a, **k):
        calls.append([c.run_id for c in cells])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the second stack
        return real(cells, *a, **k)

    monkeypatch.setattr(local, "run_cells", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_sweep([_exp()], store, CPU, max_stack=2)
    first = set(calls[0])
    assert store.done_ids() == first and len(first) == 2
    calls.clear()
    res = run_sweep([_exp()], store, CPU, max_stack=2)
    redone = {rid for stack in calls for rid in stack}
    assert res.skipped == 2 and res.written == 2 and redone.isdisjoint(first)
    assert len(store.read()[0]) == 4


def test_same_seed_gives_the_same_record_in_any_stack(tmp_path, small_data):
    a, b = Store(tmp_path / "a"), Store(tmp_path / "b")
    run_sweep([_exp()], a, CPU, max_stack=4)
    run_sweep([_exp()], b, CPU, max_stack=1)
    ma = {r["run_id"]: r["metrics"] for r in a.read()[0]}
    mb = {r["run_id"]: r["metrics"] for r in b.read()[0]}
    assert ma.keys() == mb.keys()
    for rid in ma:
        assert ma[rid]["success"] == pytest.approx(mb[rid]["success"], abs=1 / 50)
        assert ma[rid]["clean_accuracy"] == pytest.approx(mb[rid]["clean_accuracy"], abs=1 / 64)


def test_end_to_end_collective_steers_erm_on_embedded_digits(tmp_path, cli):
    """Real data, real CLI: 10% of the training set carrying the patch makes S jump from its base rate."""
    result = cli(
        "sweep",
        "--task",
        "mnist_patch",
        "--algorithm",
        "erm",
        "--alphas",
        "0.1",
        "--seeds",
        "1",
        "--set",
        "epochs=3",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    records, _ = Store(tmp_path).read()
    s = {r["alpha"]: r["metrics"]["success"] for r in records}
    acc = {r["alpha"]: r["metrics"]["clean_accuracy"] for r in records}
    assert s[0.0] < 0.2 and s[0.1] > 0.8 and s[0.1] - s[0.0] > 0.6, s
    assert acc[0.0] > 0.85, acc
    assert "alpha* at S >= 0.9" in result.output


def test_default_stack_width_depends_on_the_device(tmp_path, small_data):
    from aca_bench.benchmark.sweep import default_max_stack

    assert default_max_stack(torch.device("cuda")) == 64 and default_max_stack(CPU) == 16
    exp = Experiment("t", "mnist_patch", "erm", (0.05,), tuple(range(9)), {}, {"epochs": 1, "batch_size": 64})
    run_sweep([exp], Store(tmp_path), CPU)  # 18 cells in one group
    records, _ = Store(tmp_path).read()
    assert sorted(r["stack_size"] for r in records) == [2] * 2 + [16] * 16
