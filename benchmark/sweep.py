"""A sweep: expand experiments, skip cells already stored, train the rest, store records; adaptive
searches (`alphas: auto`) run as rounds of such passes until each configuration's alpha* is known."""

import contextlib
import itertools
import math
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import torch

from aca_bench.benchmark import adaptive, sizing
from aca_bench.benchmark.critical import TARGET
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.executors.local import run_local
from aca_bench.benchmark.executors.pool import run_pool, worker_pool
from aca_bench.benchmark.plan import Cell, Experiment, canonical, configurations, expand, group_cells
from aca_bench.benchmark.preflight import check_cells
from aca_bench.benchmark.store import Store

# Most models per stack by device type. On 2 CPU cores a vmapped stack of 64 ran ERM 1.5x slower per
# model than one of 16 (its per-step tensors outgrow the caches; measured before convolutional CPU
# stacks stepped their models in turn, where the width matters little). On CUDA, groups larger than
# this are split into stacks as wide as the free memory allows (`aca_bench.benchmark.sizing`).
DEFAULT_MAX_STACK = {"cuda": 64, "cpu": 16}


def _spread(width, workers: int):
    """The stack width for `workers` processes: a group is cut into at least `workers` stacks of near
    equal size (no wider than `width`), so one large group keeps every worker busy."""
    if workers <= 1:
        return width

    def fitted(members: list[Cell]) -> int:
        limit = width(members) if callable(width) else width
        return max(1, min(limit, math.ceil(len(members) / workers)))

    return fitted


def default_max_stack(device: torch.device) -> int:
    """The stack width a sweep uses on `device` when --max-stack is not given and nothing is fitted."""
    return DEFAULT_MAX_STACK.get(device.type, DEFAULT_MAX_STACK["cpu"])


@dataclass(frozen=True)
class ExecutorChoice:
    """Where stacks run: `local` (this process, or `workers` processes of this machine) or `ray` (a
    cluster at `address`, or a local Ray)."""

    kind: str = "local"
    address: str | None = None
    gpus_per_stack: float | None = None
    options: dict = field(default_factory=dict)
    workers: int = 1


@dataclass(frozen=True)
class SearchReport:
    """What one configuration's adaptive search spent, and where it stands."""

    experiment: str
    config: str  # the experiment's name and the grid hyperparameters that tell its configurations apart
    state: adaptive.SearchState
    epochs: int | None  # training epochs of each cell (None when the algorithm has no `epochs`)

    @property
    def rounds(self) -> int:
        return len(self.state.rounds)

    @property
    def cells(self) -> int:
        return self.state.cells

    @property
    def model_epochs(self) -> int | None:
        return None if self.epochs is None else self.cells * self.epochs


@dataclass
class SweepResult:
    planned: int
    skipped: int
    written: int
    seconds: float = 0.0  # wall time of training the cells not already stored
    searches: list[SearchReport] = field(default_factory=list)  # one per `alphas: auto` configuration


def plan_cells(experiments: list[Experiment] | tuple[Experiment, ...]) -> list[Cell]:
    """All cells of the fixed-grid experiments, each run id once."""
    cells: dict[str, Cell] = {}
    for exp in experiments:
        if exp.search is None:
            for c in expand(exp):
                cells.setdefault(c.run_id, c)
    return list(cells.values())


def config_key(config: dict) -> str:
    """The identity of a configuration (task and algorithm with hyperparameters) in a cell's config or
    a record: what an adaptive search's results are collected by."""
    return canonical({"task": config["task"], "algorithm": config["algorithm"]})


def plan_searches(experiments: list[Experiment] | tuple[Experiment, ...]) -> list[tuple[Experiment, Cell]]:
    """(experiment, template cell) per configuration of the `alphas: auto` experiments, each once."""
    out: dict[tuple, tuple[Experiment, Cell]] = {}
    for exp in experiments:
        if exp.search is None:
            continue
        for t in configurations(exp):
            out.setdefault((config_key(t.config()), exp.seeds, exp.search), (exp, t))
    return list(out.values())


def search_results(records: list[dict]) -> dict[str, dict[tuple[float, int], float]]:
    """Success per (alpha, seed), per configuration key, from store records."""
    out: dict[str, dict[tuple[float, int], float]] = {}
    for r in records:
        key = (float(r["alpha"]), int(r["seed"]))
        out.setdefault(config_key(r), {})[key] = float(r["metrics"]["success"])
    return out


def _label(exp: Experiment, template: Cell) -> str:
    grid = [k for k, v in exp.hparams.items() if isinstance(v, list)]
    return exp.name + ("(" + ", ".join(f"{k}={template.hparams[k]}" for k in grid) + ")" if grid else "")


def _train(
    stacks: list[list[Cell]],
    store: Store,
    device: torch.device,
    executor: ExecutorChoice,
    workers: ProcessPoolExecutor | None,
    label: str,
) -> int:
    """Train `stacks` where `executor` says (Ray, the `workers` processes, or this process); returns the
    records written."""
    if executor.kind == "ray":
        from aca_bench.benchmark.executors.ray import run_ray

        return run_ray(
            stacks, store, device, executor.address, executor.gpus_per_stack, desc=label, **executor.options
        )
    if workers is not None:
        return run_pool(stacks, store, device, workers, executor.workers, desc=label)
    return run_local(stacks, store, device, desc=label)


def run_sweep(
    experiments: list[Experiment] | tuple[Experiment, ...],
    store: Store,
    device: torch.device,
    force: bool = False,
    max_stack: int | None = None,
    desc: str = "sweep",
    executor: ExecutorChoice | None = None,
    target: float = TARGET,
    after_pass: Callable[[], None] | None = None,
) -> SweepResult:
    """Plan, skip finished cells (unless `force`), train the rest stack by stack: at most `max_stack`
    models each; by default `default_max_stack(device)`, or on CUDA (in this process) as many as
    fit in free memory.

    `alphas: auto` configurations advance their searches (`aca_bench.benchmark.adaptive`, at success `target`)
    together: each pass trains the current round of every search, and the fixed grids' cells with the
    first, in as few stacks as one pass over all of them allows. `after_pass` is called after each pass
    that trained cells (perf-adaptive trains its other arm there)."""
    fixed = plan_cells(experiments)
    searches = plan_searches(experiments)
    done = set() if force else store.done_ids()
    # before anything is forgotten or trained
    check_cells([c for c in fixed if c.run_id not in done] + [t for _, t in searches])
    if force:
        keys = {config_key(t.config()) for _, t in searches}
        old = {r["run_id"] for r in store.read()[0] if config_key(r) in keys}
        store.forget({c.run_id for c in fixed} | old)
    executor = executor or ExecutorChoice()
    if executor.workers > 1 and (executor.kind != "local" or device.type != "cpu"):
        raise BenchError("--workers runs local stacks in parallel on a CPU; a GPU or Ray sets its own")
    width = max_stack or default_max_stack(device)
    if max_stack is None and device.type == "cuda" and executor.kind == "local":
        width = sizing.fitted_width(device, floor=width)
    trained = written = 0
    seconds = 0.0
    last: set[str] = set()
    pool = worker_pool(executor.workers) if executor.workers > 1 else contextlib.nullcontext()
    with pool as workers:
        for turn in itertools.count(1):
            records = store.read()[0]
            done = {r["run_id"] for r in records}
            results = search_results(records)
            states = [
                adaptive.state(results.get(config_key(t.config()), {}), exp.seeds, exp.search, target)
                for exp, t in searches
            ]
            todo = {c.run_id: c for c in fixed if c.run_id not in done}
            for (_, t), st in zip(searches, states, strict=True):
                todo.update((c.run_id, c) for c in (replace(t, alpha=a, seed=s) for a, s in st.todo))
            if not todo:
                break
            if set(todo) == last:
                raise BenchError(f"{len(todo)} cells were trained but left no records; stopping the search")
            last = set(todo)
            stacks = group_cells(list(todo.values()), _spread(width, executor.workers))
            start = time.perf_counter()
            label = desc if not searches else f"{desc} round {turn}"
            written += _train(stacks, store, device, executor, workers, label)
            seconds += time.perf_counter() - start
            trained += len(todo)
            if after_pass is not None:
                after_pass()
    reports = [
        SearchReport(exp.name, _label(exp, t), st, t.hparams.get("epochs"))
        for (exp, t), st in zip(searches, states, strict=True)
    ]
    planned = len(fixed) + sum(r.cells for r in reports)
    return SweepResult(planned, planned - trained, written, seconds, reports)
