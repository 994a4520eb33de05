"""Checks that run before a sweep trains its first cell, so bad input never costs training time.

Numeric ranges are checked as parameters are read (`aca_bench.benchmark.params`); here come the ones that need
the task's data (a batch size against the training set size) and each algorithm's own preparation of
its hyperparameters (e.g. DP-SGD's noise calibration, cached for the training that follows).
"""

from aca_bench.benchmark.params import check_bounds
from aca_bench.benchmark.plan import Cell, canonical


def check_cells(cells: list[Cell]) -> None:
    """BenchError for the first cell whose hyperparameters cannot train on its task's data."""
    tasks: dict[str, tuple[int, int | None]] = {}
    seen: set[str] = set()
    for cell in cells:
        task_key = canonical([cell.task, cell.task_params, cell.task_paths])
        if task_key not in tasks:
            task = cell.make_task()
            tasks[task_key] = (int(task.data().x_train.shape[0]), task.n_groups)
        n_train, n_groups = tasks[task_key]
        key = canonical([task_key, cell.algorithm, cell.hparams])
        if key in seen:
            continue
        seen.add(key)
        entry = cell.entry
        owner = f"experiment '{cell.experiment}' (task {cell.task}, algorithm {cell.algorithm})"
        check_bounds(entry.cls.hparams, cell.hparams, {"n_train": n_train}, owner)
        algo = entry.create()
        algo.sampling(cell.hparams, n_train)
        algo.prepare(cell.hparams, n_train, n_groups)
