"""Shared fixtures: small hand-made task data and a CLI runner."""

import pytest
import torch
from click.testing import CliRunner

torch.set_num_threads(2)


@pytest.fixture
def cli():
    """Invoke `aca-bench` in-process; returns click's Result."""
    from aca_bench.benchmark.cli import main

    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(a) for a in args], catch_exceptions=True)


@pytest.fixture
def tiny_mnist():
    """The mnist_patch task and a random 256/64-example subset of the embedded digits."""
    from aca_bench.tasks.base import TaskData
    from aca_bench.tasks.mnist_patch import MnistPatch

    task = MnistPatch()
    full = task.load()
    gen = torch.Generator().manual_seed(0)
    tr = torch.randperm(full.x_train.shape[0], generator=gen)[:256]
    te = torch.randperm(full.x_test.shape[0], generator=gen)[:64]
    return task, TaskData(full.x_train[tr], full.y_train[tr], full.x_test[te], full.y_test[te])


@pytest.fixture
def tiny_record():
    """A minimal valid run record (the shape runner.run_cells writes)."""
    return {
        "run_id": "abc",
        "experiment": "e",
        "alpha": 0.0,
        "seed": 0,
        "n_train": 10,
        "n_collective": 0,
        "task": {"name": "mnist_patch", "version": "1", "params": {}},
        "algorithm": {"name": "erm", "hparams": {"lr": 0.1}},
        "metrics": {"success": 0.1, "clean_accuracy": 0.9},
        "wall_time_s": 1.0,
    }


@pytest.fixture
def one_thread():
    """One intra-op thread, for tests of tiny tensors (thread overhead dominates on a busy 2-core box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
