"""Ray executor: each stack of cells is one Ray task; the driver streams finished records into the store.

A worker that dies has its stack retried by Ray (`max_retries`); stacks finished before are already in
the store. If the driver dies, rerunning the same command skips every stored cell. The driver claims a
stack's cells when it submits it and keeps only about as many stacks submitted as the cluster can run
at once, so another driver on the same results folder can take the rest. Workers train with the
driver's torch thread count, so a cell's record is bitwise the one a local run on that device gives.
"""

import time
from dataclasses import fields

import torch

from aca_bench.algorithms.cards import RegistrySource, active_source, use
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.executors.local import POLL_S, WorkQueue, progress_bar, report_shared
from aca_bench.benchmark.plan import Cell
from aca_bench.benchmark.store import Claims, Store

MAX_RETRIES = 3


def _train_remote(cells: list[dict], source: RegistrySource, device: str, threads: int) -> list[dict]:
    """A worker's stack: the cells (their fields) resolved against the driver's registry source."""
    from aca_bench.benchmark.environment import resolve_device
    from aca_bench.benchmark.runner import run_cells

    torch.set_num_threads(threads)  # Ray starts workers with one thread per requested CPU
    with use(source):
        return run_cells([Cell(**c) for c in cells], resolve_device(device))


def _fields(cell: Cell) -> dict:
    """A cell's fields but its registry entry (a worker resolves it again: a plugin's class may import
    only where its registry folder is on the path)."""
    return {f.name: getattr(cell, f.name) for f in fields(Cell) if f.name != "entry"}


def _slots(ray, gpus: float) -> int:
    """Stacks the cluster can run at once (one CPU each, `gpus` of a GPU each), at least 1."""
    resources = ray.cluster_resources()
    slots = int(resources.get("CPU", 1))
    if gpus > 0:
        slots = min(slots, int(resources.get("GPU", 0) / gpus))
    return max(1, slots)


def run_ray(
    stacks: list[list[Cell]],
    store: Store,
    device: torch.device,
    address: str | None = None,
    gpus_per_stack: float | None = None,
    num_cpus: int | None = None,
    desc: str = "sweep",
) -> int:
    """Run stacks as Ray tasks at `address` (None: start a local Ray); returns the records written."""
    try:
        import ray
    except ImportError:
        raise BenchError("--executor ray needs Ray: pip install 'aca-bench[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=address,
                num_cpus=num_cpus if address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise BenchError(f"cannot connect to Ray at {address!r}: {str(exc).splitlines()[0]}") from None
    gpus = gpus_per_stack if gpus_per_stack is not None else (1.0 if device.type == "cuda" else 0.0)
    remote = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=MAX_RETRIES, retry_exceptions=False)(
        _train_remote
    )
    slots = _slots(ray, gpus)
    threads = torch.get_num_threads()
    source = active_source()
    pending: dict = {}
    written = 0
    try:
        with Claims(store) as claims, progress_bar(sum(map(len, stacks)), desc) as bar:
            queue = WorkQueue(stacks, claims, bar.update)
            while queue.waiting or pending:
                while len(pending) < slots and (stack := queue.take()) is not None:
                    pending[remote.remote([_fields(c) for c in stack], source, device.type, threads)] = stack
                if not pending:
                    time.sleep(POLL_S)  # every remaining cell is held by another sweep
                    continue
                done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                for ref in done:
                    stack = pending.pop(ref)
                    written += store.append(ray.get(ref))
                    queue.done(stack)
                    bar.update(len(stack))
        report_shared(queue)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
    return written
