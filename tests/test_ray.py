"""The Ray executor on a local Ray with 2 CPUs: bitwise the records of a local run (same stacks, device
and thread count, see docs/ray.md), and a killed worker is retried."""

import subprocess
import threading
import time

import pytest
import torch
from test_registry import CLIPPED_SGD, write_algorithm

from aca_bench.benchmark.plan import Experiment
from aca_bench.benchmark.store import Store
from aca_bench.benchmark.sweep import ExecutorChoice, run_sweep

pytestmark = pytest.mark.trains

ray = pytest.importorskip("ray")
CPU = torch.device("cpu")
EXP = Experiment("tiny", "mnist_patch", "erm", (0.05,), (0, 1), {}, {"epochs": 1, "batch_size": 500})
RAY = ExecutorChoice("ray", options={"num_cpus": 2})


def _metrics(store):
    return {r["run_id"]: r["metrics"] for r in store.read()[0]}


def _threads(store):
    return {r["environment"]["threads"] for r in store.read()[0]}


@pytest.mark.slow
def test_ray_gives_the_same_records_as_local(tmp_path):
    local, remote = Store(tmp_path / "local"), Store(tmp_path / "ray")
    run_sweep([EXP], local, CPU, max_stack=2)
    res = run_sweep([EXP], remote, CPU, max_stack=2, executor=RAY)
    assert res.written == 4
    assert _threads(remote) == _threads(local) == {torch.get_num_threads()}
    assert _metrics(local) == _metrics(remote)  # every number, exactly
    assert run_sweep([EXP], remote, CPU, max_stack=2, executor=RAY).written == 0  # resumes: nothing left


@pytest.mark.slow
def test_a_worker_killed_mid_stack_is_retried(tmp_path):
    store = Store(tmp_path)
    killed = []

    def kill_first_worker():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            out = subprocess.run(["pgrep", "-f", "ray::train_fields"], capture_output=True, text=True)
            pids = out.stdout.split()
            if pids:
                time.sleep(1.0)  # let it get into training
                subprocess.run(["kill", "-9", pids[0]], check=False)
                killed.append(pids[0])
            time.sleep(0.2)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    res = run_sweep([EXP], store, CPU, max_stack=2, executor=RAY)
    killer.join()
    assert killed, "no Ray worker was found to kill"
    records, problems = store.read()
    assert res.written == 4 and len(records) == 4 and problems == []


@pytest.mark.slow
def test_a_plugin_algorithm_from_registry_trains_on_ray_as_it_does_locally(cli, tmp_path, monkeypatch):
    """`--registry FOLDER --executor ray`: the workers import the plugin from the driver's registry source
    (nothing in the environment) and write the records a local run writes."""
    monkeypatch.setenv("ACA_BENCH_REGISTRY", "")
    folder = write_algorithm(tmp_path / "plugins", "clipped_sgd", "clipped_sgd_impl", CLIPPED_SGD)
    args = ("sweep", "--task", "mnist_patch", "--algorithm", "clipped_sgd", "--registry", folder)
    args += ("--alphas", "0.05", "--seeds", "1", "--set", "epochs=1", "--set", "batch_size=500")
    for name, extra in (("local", ()), ("ray", ("--executor", "ray"))):
        result = cli(*args, *extra, "--device", "cpu", "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert "2 trained" in result.output  # clip 0.5 and 5.0 from the entry's grid
    local, remote = Store(tmp_path / "local"), Store(tmp_path / "ray")
    assert {r["algorithm"]["name"] for r in remote.read()[0]} == {"clipped_sgd"}
    assert _metrics(local) == _metrics(remote)
