"""Stacks in flight: the driver loop both parallel executors share, and `--workers N` on one machine.

`drive` keeps up to `slots` stacks submitted, claims each stack's cells when it submits it, and stores
each stack's records as it finishes (the Ray executor submits Ray tasks; `run_pool` submits to the
processes of a `worker_pool`, which a sweep keeps across its rounds). Whether one-thread processes
side by side train faster than one process with all the threads depends on the machine and its load;
docs/performance.md renders the measured comparison on the standard suite from its records.

Workers end with their driver however it ends, `kill -9` included (`parent_death.end_with_parent` is
each worker's initializer).
"""

import concurrent.futures as cf
import multiprocessing
import os
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields

import torch

from aca_bench.algorithms.cards import RegistrySource, active_source, use
from aca_bench.benchmark.executors.local import POLL_S, WorkQueue, progress_bar, report_shared
from aca_bench.benchmark.executors.parent_death import end_with_parent
from aca_bench.benchmark.plan import Cell
from aca_bench.benchmark.store import Claims, Store


def cell_fields(cell: Cell) -> dict:
    """A cell's fields but its registry entry (a worker resolves it again: a plugin's class may import
    only where its registry folder is on the path)."""
    return {f.name: getattr(cell, f.name) for f in fields(Cell) if f.name != "entry"}


def train_fields(cells: list[dict], source: RegistrySource, device: str, threads: int) -> list[dict]:
    """A worker's stack: the cells (their fields) resolved against the driver's registry source, trained
    with `threads` torch threads."""
    from aca_bench.benchmark.environment import resolve_device
    from aca_bench.benchmark.runner import run_cells

    torch.set_num_threads(threads)
    with use(source):
        return run_cells([Cell(**c) for c in cells], resolve_device(device))


def drive(
    stacks: list[list[Cell]],
    store: Store,
    desc: str,
    slots: int,
    submit: Callable[[list[Cell]], Hashable],
    wait: Callable[[list], Iterable[tuple[Hashable, list[dict]]]],
    cancel: Callable[[Hashable], None],
) -> int:
    """Keep up to `slots` stacks submitted (`submit` returns a handle), store the records of each one
    `wait` reports finished (it returns within about POLL_S), cancel what is left on an error; returns
    the records written."""
    pending: dict = {}
    written = 0
    with Claims(store) as claims, progress_bar(sum(map(len, stacks)), desc) as bar:
        queue = WorkQueue(stacks, claims, bar.update)
        try:
            while queue.waiting or pending:
                while len(pending) < slots and (stack := queue.take()) is not None:
                    pending[submit(stack)] = stack
                if not pending:
                    time.sleep(POLL_S)  # every remaining cell is held by another sweep
                    continue
                for handle, records in wait(list(pending)):
                    stack = pending.pop(handle)
                    written += store.append(records)
                    queue.done(stack)
                    bar.update(len(stack))
        finally:
            for handle in pending:
                cancel(handle)
    report_shared(queue)
    return written


@contextmanager
def worker_pool(workers: int) -> Iterator[cf.ProcessPoolExecutor]:
    """`workers` spawned processes of this machine, kept for a whole sweep: its rounds reuse their
    imports and the task data each has loaded."""
    context = multiprocessing.get_context("spawn")  # no forked torch thread pools
    with cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=end_with_parent, initargs=(os.getpid(),)
    ) as pool:
        yield pool


def run_pool(
    stacks: list[list[Cell]],
    store: Store,
    device: torch.device,
    pool: cf.ProcessPoolExecutor,
    workers: int,
    desc: str = "sweep",
) -> int:
    """Train stacks in the `workers` processes of `pool` (`worker_pool`), each with this process's torch
    threads divided among them (at least one); returns the records written."""
    threads = max(1, torch.get_num_threads() // workers)
    source = active_source()

    def submit(stack: list[Cell]) -> cf.Future:
        return pool.submit(train_fields, [cell_fields(c) for c in stack], source, device.type, threads)

    def wait(futures: list[cf.Future]) -> list[tuple[cf.Future, list[dict]]]:
        done, _ = cf.wait(futures, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
        return [(f, f.result()) for f in done]

    return drive(stacks, store, desc, workers, submit, wait, lambda f: f.cancel())
