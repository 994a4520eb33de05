"""A sweep: expand experiments, skip cells already stored, train the rest, store records."""

import time
from dataclasses import dataclass, field

import torch

from benchmark.executors import run_local
from benchmark.plan import Cell, Experiment, expand, group_cells
from benchmark.store import Store

DEFAULT_MAX_STACK = 64


@dataclass(frozen=True)
class ExecutorChoice:
    """Where stacks run: `local` (this process) or `ray` (a cluster at `address`, or a local Ray)."""

    kind: str = "local"
    address: str | None = None
    gpus_per_stack: float | None = None
    options: dict = field(default_factory=dict)


@dataclass
class SweepResult:
    planned: int
    skipped: int
    written: int
    seconds: float = 0.0  # wall time of training the cells not already stored


def plan_cells(experiments: list[Experiment] | tuple[Experiment, ...]) -> list[Cell]:
    """All cells of the experiments, each run id once."""
    cells: dict[str, Cell] = {}
    for exp in experiments:
        for c in expand(exp):
            cells.setdefault(c.run_id, c)
    return list(cells.values())


def run_sweep(
    experiments: list[Experiment] | tuple[Experiment, ...],
    store: Store,
    device: torch.device,
    force: bool = False,
    max_stack: int = DEFAULT_MAX_STACK,
    desc: str = "sweep",
    executor: ExecutorChoice | None = None,
) -> SweepResult:
    """Plan, skip finished cells (unless `force`), train the rest stack by stack."""
    cells = plan_cells(experiments)
    if force:
        store.forget({c.run_id for c in cells})
    done = store.done_ids()
    todo = [c for c in cells if c.run_id not in done]
    executor = executor or ExecutorChoice()
    stacks = group_cells(todo, max_stack)
    start = time.perf_counter()
    if not todo:
        written = 0
    elif executor.kind == "ray":
        from benchmark.ray_executor import run_ray

        written = run_ray(
            stacks, store, device, executor.address, executor.gpus_per_stack, desc=desc, **executor.options
        )
    else:
        written = run_local(stacks, store, device, desc=desc)
    return SweepResult(len(cells), len(cells) - len(todo), written, time.perf_counter() - start)
