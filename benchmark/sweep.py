"""A sweep: expand experiments, skip cells already stored, train the rest, store records."""

import time
from dataclasses import dataclass, field

import torch

from benchmark import sizing
from benchmark.executors import run_local
from benchmark.plan import Cell, Experiment, expand, group_cells
from benchmark.preflight import check_cells
from benchmark.store import Store

# Most models per stack by device type. On 2 CPU cores a vmapped stack of 64 ran ERM 1.5x slower per
# model than one of 16 (its per-step tensors outgrow the caches; measured before convolutional CPU
# stacks stepped their models in turn, where the width matters little). On CUDA, groups larger than
# this are split into stacks as wide as the free memory allows (`benchmark.sizing`).
DEFAULT_MAX_STACK = {"cuda": 64, "cpu": 16}


def default_max_stack(device: torch.device) -> int:
    """The stack width a sweep uses on `device` when --max-stack is not given and nothing is fitted."""
    return DEFAULT_MAX_STACK.get(device.type, DEFAULT_MAX_STACK["cpu"])


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
    max_stack: int | None = None,
    desc: str = "sweep",
    executor: ExecutorChoice | None = None,
) -> SweepResult:
    """Plan, skip finished cells (unless `force`), train the rest stack by stack: at most `max_stack`
    models each; by default `default_max_stack(device)`, or on CUDA (in this process) as many as
    fit in free memory."""
    cells = plan_cells(experiments)
    done = set() if force else store.done_ids()
    todo = [c for c in cells if c.run_id not in done]
    check_cells(todo)  # before anything is forgotten or trained
    if force:
        store.forget({c.run_id for c in cells})
    executor = executor or ExecutorChoice()
    width = max_stack or default_max_stack(device)
    if max_stack is None and device.type == "cuda" and executor.kind == "local":
        width = sizing.fitted_width(device, floor=width)
    stacks = group_cells(todo, width)
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
