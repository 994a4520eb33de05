"""Ray executor: each stack of cells is one Ray task; the driver streams finished records into the store.

A worker that dies has its stack retried by Ray (`max_retries`); stacks finished before are already in
the store. If the driver dies, rerunning the same command skips every stored cell.
"""

from dataclasses import asdict

import torch

from benchmark.errors import BenchError
from benchmark.executors import progress_bar
from benchmark.plan import Cell
from benchmark.store import Store

MAX_RETRIES = 3


def _train_remote(cells: list[dict], device: str) -> list[dict]:
    from benchmark.environment import resolve_device
    from benchmark.runner import run_cells

    return run_cells([Cell(**c) for c in cells], resolve_device(device))


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
    pending = {remote.remote([asdict(c) for c in stack], device.type): len(stack) for stack in stacks}
    written = 0
    try:
        with progress_bar(sum(pending.values()), desc) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                size = pending.pop(ref)
                written += store.append(ray.get(ref))
                bar.update(size)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
    return written
