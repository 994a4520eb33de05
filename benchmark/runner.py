"""Runs one stack of cells end to end: load the task, train, evaluate, build the run records."""

import time
from collections.abc import Callable
from datetime import UTC, datetime

import torch

from aca_bench.algorithms.update_contract import plugin_failure
from aca_bench.benchmark.collective import collective_size
from aca_bench.benchmark.engine import evaluate, member_mask, train_stack
from aca_bench.benchmark.environment import environment, synchronize
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.plan import Cell, canonical
from aca_bench.tasks.base import TaskData

_DATA: dict[tuple, TaskData] = {}


def task_data(cell: Cell, device: torch.device) -> TaskData:
    """The cell's task data on `device`, loaded once per process and device."""
    key = (cell.task, canonical(cell.task_params), canonical(cell.task_paths), str(device))
    if key not in _DATA:
        _DATA[key] = cell.make_task().data().to(device)
    return _DATA[key]


def run_cells(
    cells: list[Cell], device: torch.device, on_progress: Callable[[float], None] | None = None
) -> list[dict]:
    """Train and evaluate one stack of cells (same group key); one record per cell."""
    start = time.perf_counter()
    task = cells[0].make_task()
    data = task_data(cells[0], device)
    algo = cells[0].entry.create()
    train = algo.trainer(cells[0].hparams) or train_stack
    try:
        stack = train(
            task,
            data,
            algo,
            [c.hparams for c in cells],
            [c.alpha for c in cells],
            [c.seed for c in cells],
            device,
            on_epoch=(lambda f: on_progress(f * len(cells))) if on_progress else None,
        )
        eval_members = None
        if task.p["val_collective"]:  # the collective is in the validation split too
            alphas, seeds = [c.alpha for c in cells], [c.seed for c in cells]
            eval_members = member_mask(int(data.x_test.shape[0]), alphas, seeds, device)
        metrics = evaluate(task, data, stack, eval_members)
    except Exception as exc:
        message = plugin_failure(exc, type(algo))  # a plugin's failure: one line with its file and line
        if message is None:
            raise
        raise BenchError(message) from None
    synchronize(device)
    wall = time.perf_counter() - start
    env = environment(device)
    n = int(data.x_train.shape[0])
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    records = []
    for cell, m, extra, overflow in zip(cells, metrics, stack.extras, stack.poisson_overflows, strict=True):
        record = {
            "run_id": cell.run_id,
            "experiment": cell.experiment,
            **cell.config(),
            "strategy": task.strategy_description(),
            "n_train": n,
            "n_classes": task.n_classes,
            "n_collective": collective_size(n, cell.alpha),
            "metrics": m,
            "algorithm_record": extra | ({"poisson_overflows": overflow} if overflow else {}),
            "stack_size": len(cells),
            "wall_time_s": wall / len(cells),
            "stack_wall_time_s": wall,
            "finished_at": finished,
            "environment": env,
        }
        records.append(record)
    return records
