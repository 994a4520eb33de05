"""Throughput of the stacked engine against the naive per-model loop (DataLoader + nn.Module + optimiser).

Both train the task's model on the same data with the same hyperparameters; the figure is
model-epochs per minute (one model passing once over the training set).
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch.utils.data import DataLoader, TensorDataset

from aca_bench.algorithms import registry
from aca_bench.benchmark.engine import train_stack, vectorizes
from aca_bench.benchmark.environment import synchronize
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.perf.ceiling import conv_calls, conv_seconds
from aca_bench.tasks.base import Task, TaskData


@dataclass
class PerfRow:
    """One measurement."""

    path: str
    algorithm: str
    models: int
    epochs: int
    n_train: int
    seconds: float

    @property
    def model_epochs_per_min(self) -> float:
        return self.models * self.epochs * 60.0 / self.seconds


def tiled(data: TaskData, n_train: int) -> TaskData:
    """The task's training data repeated (or cut) to n_train examples: MNIST-shaped load for timing."""
    reps = -(-n_train // data.x_train.shape[0])
    x = data.x_train.repeat(reps, *([1] * (data.x_train.dim() - 1)))[:n_train]
    y = data.y_train.repeat(reps)[:n_train]
    return TaskData(x, y, data.x_test, data.y_test)


def naive_sgd(task: Task, data: TaskData, hp: dict, models: int, device: torch.device) -> float:
    """What a researcher would write: one model at a time, DataLoader batches, torch.optim.SGD; its
    seconds."""
    x = task.preprocess(data.x_train).to(device)
    loader = DataLoader(
        TensorDataset(x, data.y_train.to(device)), batch_size=hp["batch_size"], shuffle=True, drop_last=True
    )
    synchronize(device)
    start = time.perf_counter()
    for seed in range(models):
        torch.manual_seed(seed)
        model = task.make_model().to(device)
        opt = torch.optim.SGD(
            model.parameters(), lr=hp["lr"], momentum=hp["momentum"], weight_decay=hp["weight_decay"]
        )
        for _ in range(hp["epochs"]):
            for xb, yb in loader:
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(xb), yb).backward()
                opt.step()
    synchronize(device)
    return time.perf_counter() - start


def stacked(
    task: Task, data: TaskData, algo, hp: dict, models: int, device: torch.device, vectorize: bool
) -> PerfRow:
    """The engine: `models` models (different seeds and alphas) as one stack, vmapped or stepped in
    turn."""
    data = data.to(device)
    alphas = [0.001 * (k % 10) for k in range(models)]
    algo.prepare(hp, data.x_train.shape[0], task.n_groups)  # DP-SGD's calibration, cached: untimed
    synchronize(device)
    start = time.perf_counter()
    train_stack(task, data, algo, [hp] * models, alphas, list(range(models)), device, vectorize=vectorize)
    synchronize(device)
    path = "engine (vmapped)" if vectorize else "engine (in turn)"
    return PerfRow(path, algo.name, models, hp["epochs"], data.x_train.shape[0], time.perf_counter() - start)


def opacus_loop(task: Task, data: TaskData, hp: dict, models: int, device: torch.device) -> float:
    """DP-SGD as a researcher would run it: one model at a time through Opacus's PrivacyEngine; its
    seconds."""
    from aca_bench.algorithms.dpsgd import DPSGD
    from aca_bench.algorithms.dpsgd_reference import opacus_spend, train_opacus

    data = data.to(device)
    opacus_spend(DPSGD(), hp, data.x_train.shape[0])  # its calibration at its own rate, cached: untimed
    synchronize(device)
    start = time.perf_counter()
    hp = dict(hp, precision="fp32")  # Opacus's loop as a researcher runs it
    train_opacus(task, data, DPSGD(), [hp] * models, [0.0] * models, list(range(models)), device)
    synchronize(device)
    return time.perf_counter() - start


def warm_up(task: Task, data: TaskData, hp: dict) -> tuple[TaskData, dict]:
    """A few batches and one epoch: a run on them before timing pays one-off costs (kernel selection,
    allocator growth, CUDA context) outside the measurement."""
    return tiled(data, 4 * int(hp["batch_size"])), dict(hp, epochs=1)


CEILING = "conv kernels only"  # the path name of `measure`'s ceiling row


def measure(
    name: str,
    task: Task,
    data: TaskData,
    hp: dict,
    stack: int,
    naive_models: int,
    device: torch.device,
    vectorize: bool | None = None,
    repeats: int = 1,
    on_turn: Callable[[], None] | None = None,
) -> list[PerfRow]:
    """Algorithm `name` through its per-model loop (`Algorithm.naive_loop`) and through the engine, both
    warmed up,
    measured in the same run (`vectorize` None: the engine steps as sweeps do on `device`). Neither
    timing includes DP-SGD's noise calibration: a one-off per configuration, each path's done before
    its clock starts and cached.

    When the engine steps its models in turn, the algorithm's step is a plain backward pass
    (`Algorithm.plain_backward`) and the model has convolutions, a third row times those convolutions' kernels
    alone (`aca_bench.benchmark.perf.ceiling`): the most an in-turn engine could reach.
    With `repeats` > 1 the paths take turns that many times and each row has its median time, so
    that a slow spell of a shared machine does not land on one path only. `on_turn` is called after
    each turn (a progress bar).
    """
    algo = registry.get(name).create()
    naive = algo.naive_loop()
    if naive is None:
        raise BenchError(f"algorithm '{name}' declares no naive loop for perf to time it against")
    if vectorize is None:
        vectorize = vectorizes(device, task.make_model())
    small, short = warm_up(task, data, hp)
    naive.run(task, small, short, 1, device)
    stacked(task, small, algo, short, stack, device, vectorize)
    epochs, n = int(hp["epochs"]), data.x_train.shape[0]
    sampling = algo.sampling(hp, n)  # the engine's batch and steps, which the ceiling times
    calls = conv_calls(task, data, sampling.batch_size) if algo.plain_backward and not vectorize else []
    turns = []
    for _ in range(repeats):
        turn = [
            PerfRow(
                naive.path, name, naive_models, epochs, n, naive.run(task, data, hp, naive_models, device)
            ),
            stacked(task, data, algo, hp, stack, device, vectorize),
        ]
        if calls:
            seconds = conv_seconds(
                calls, epochs * sampling.steps_per_epoch, device, hp.get("precision", "fp32")
            )
            turn.append(PerfRow(CEILING, name, 1, epochs, n, seconds))
        turns.append(turn)
        if on_turn is not None:
            on_turn()
    return [
        replace(rows[0], seconds=statistics.median(r.seconds for r in rows))
        for rows in zip(*turns, strict=True)
    ]
