"""`--workers N` on a CPU: stacks trained in N spawned processes give the records of a local run at the
same per-process thread count, resume like any sweep, and take plugins from the driver's registry."""

import pytest
import torch
from test_registry import CLIPPED_SGD, write_algorithm

from aca_bench.benchmark import sweep
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.executors.pool import worker_pool
from aca_bench.benchmark.plan import AUTO, Experiment
from aca_bench.benchmark.store import Store
from aca_bench.benchmark.sweep import ExecutorChoice, run_sweep

pytestmark = pytest.mark.trains

CPU = torch.device("cpu")
EXP = Experiment("tiny", "mnist_patch", "erm", (0.05,), (0, 1), {}, {"epochs": 1, "batch_size": 500})
TWO = ExecutorChoice(workers=2)


def _records(store):
    return {r["run_id"]: (r["metrics"], r["environment"]["threads"]) for r in store.read()[0]}


@pytest.mark.slow
def test_two_workers_give_the_records_of_a_one_thread_local_run(tmp_path, one_thread):
    local, pooled = Store(tmp_path / "local"), Store(tmp_path / "pool")
    run_sweep([EXP], local, CPU, max_stack=1)
    result = run_sweep([EXP], pooled, CPU, max_stack=1, executor=TWO)  # 4 stacks, 2 at a time
    assert result.written == 4
    assert _records(pooled) == _records(local)  # every metric exactly; one thread in each worker
    assert {t for _, t in _records(pooled).values()} == {1}
    assert run_sweep([EXP], pooled, CPU, max_stack=1, executor=TWO).written == 0  # resumes: nothing left


@pytest.mark.slow
def test_an_adaptive_search_keeps_one_pool_of_workers_across_its_rounds(tmp_path, monkeypatch, one_thread):
    opened = []

    def counted(workers: int):
        opened.append(workers)
        return worker_pool(workers)

    monkeypatch.setattr(sweep, "worker_pool", counted)
    auto = Experiment("auto", "mnist_patch", "erm", AUTO, (0, 1), {}, EXP.hparams, (0.01, 0.5), 0.5, 2)
    result = run_sweep([auto], Store(tmp_path), CPU, executor=TWO)
    search = result.searches[0]
    assert search.rounds == 2 and result.written == search.cells > len(auto.seeds)
    assert opened == [2]  # one pool of two processes for both rounds


@pytest.mark.slow
def test_workers_train_a_plugin_from_registry(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("ACA_BENCH_REGISTRY", "")
    folder = write_algorithm(tmp_path / "plugins", "clipped_sgd", "clipped_sgd_impl", CLIPPED_SGD)
    result = cli(
        "sweep", "--task", "mnist_patch", "--algorithm", "clipped_sgd", "--registry", folder,
        "--alphas", "0.05", "--seeds", "1", "--set", "epochs=1", "--set", "batch_size=500",
        "--workers", "2", "--device", "cpu", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {r["algorithm"]["name"] for r in Store(tmp_path / "out").read()[0]} == {"clipped_sgd"}


def test_workers_are_refused_beside_ray_before_anything_trains(tmp_path):
    with pytest.raises(BenchError, match="--workers runs local stacks in parallel on a CPU"):
        run_sweep([EXP], Store(tmp_path), CPU, executor=ExecutorChoice(kind="ray", workers=2))
    assert not (tmp_path / "records.jsonl").exists()
