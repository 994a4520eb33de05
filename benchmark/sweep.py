"""A sweep: expand experiments, skip cells already stored, train the rest, store records."""

from dataclasses import dataclass

import torch

from benchmark.executors import run_local
from benchmark.plan import Cell, Experiment, expand, group_cells
from benchmark.store import Store

DEFAULT_MAX_STACK = 64


@dataclass
class SweepResult:
    planned: int
    skipped: int
    written: int


def plan_cells(experiments: list[Experiment] | tuple[Experiment, ...]) -> list[Cell]:
    """All cells of the experiments, each run id once."""
    cells: dict[str, Cell] = {}
    for exp in experiments:
        for c in expand(exp):
            cells.setdefault(c.run_id, c)
    return list(cells.values())


def run_sweep(experiments: list[Experiment] | tuple[Experiment, ...], store: Store, device: torch.device,
              force: bool = False, max_stack: int = DEFAULT_MAX_STACK, desc: str = "sweep") -> SweepResult:
    """Plan, skip finished cells (unless `force`), train the rest stack by stack."""
    cells = plan_cells(experiments)
    if force:
        store.forget({c.run_id for c in cells})
    done = store.done_ids()
    todo = [c for c in cells if c.run_id not in done]
    written = run_local(group_cells(todo, max_stack), store, device, desc=desc) if todo else 0
    return SweepResult(len(cells), len(cells) - len(todo), written)
