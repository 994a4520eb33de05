"""Stack widths fitted to a CUDA device's free memory.

A group of cells that may share a stack (same group key) is probed once: a few training steps and
the evaluation at two small widths, peak allocated memory read from the CUDA allocator. Memory is
close to linear in the width (every model has its own parameters, batch and activations), so the
two peaks give a fixed part and a per-model part, and the widest stack whose peak stays within a
share of the free memory follows. CPUs are not sized this way: there a wide stack runs out of cache
long before it runs out of memory (`sweep.DEFAULT_MAX_STACK`).
"""

import math
from collections.abc import Callable

import torch

from aca_bench.benchmark.engine import evaluate, train_stack
from aca_bench.benchmark.plan import Cell

HEADROOM = 0.6  # share of the free memory a stack may plan to use (fragmentation, other processes)
CEILING = 1024  # the widest stack fitted: beyond it a GPU gains little and a failure costs a lot
PROBE_WIDTHS = (2, 4)
PROBE_STEPS = 3


def fit(
    fixed: float, per_model: float, free: float, ceiling: int = CEILING, headroom: float = HEADROOM
) -> int:
    """The most models k, 1 <= k <= ceiling, with fixed + k * per_model <= headroom * free."""
    if per_model <= 0:
        return ceiling
    return max(1, min(ceiling, math.floor((headroom * free - fixed) / per_model)))


def probe(cells: list[Cell], device: torch.device) -> tuple[float, float]:
    """(fixed bytes, bytes per model) of training and evaluating a stack of these cells on CUDA."""
    from aca_bench.benchmark.runner import task_data

    first = cells[0]
    task = first.make_task()
    data = task_data(first, device)
    algo = first.entry.create()
    peaks = []
    for width in PROBE_WIDTHS:
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        stack = train_stack(
            task,
            data,
            algo,
            [first.hparams] * width,
            [first.alpha] * width,
            list(range(width)),
            device,
            max_steps=PROBE_STEPS,
        )
        evaluate(task, data, stack)
        torch.cuda.synchronize(device)
        peaks.append(torch.cuda.max_memory_allocated(device) - base)
        del stack
    (w0, w1), (p0, p1) = PROBE_WIDTHS, peaks
    per_model = (p1 - p0) / (w1 - w0)
    return max(0.0, p0 - w0 * per_model), per_model


def fitted_width(device: torch.device, floor: int) -> Callable[[list[Cell]], int]:
    """For `plan.group_cells`: a group of at most `floor` cells is one stack as it is; a larger group
    is probed and split into stacks as wide as the device's free memory allows."""

    def width(group: list[Cell]) -> int:
        if len(group) <= floor or group[0].entry.create().trainer(group[0].hparams):
            return floor  # one stack already, or a trainer of its own (one model at a time)
        fixed, per_model = probe(group, device)
        free, _ = torch.cuda.mem_get_info(device)
        return fit(fixed, per_model, free)

    return width
