"""Ray executor: each stack of cells is one Ray task; the driver streams finished records into the store.

A worker that dies has its stack retried by Ray (`max_retries`); stacks finished before are already in
the store. If the driver dies, rerunning the same command skips every stored cell. The driver claims a
stack's cells when it submits it and keeps only about as many stacks submitted as the cluster can run
at once, so another driver on the same results folder can take the rest. Workers train with the
driver's torch thread count, so a cell's record is bitwise the one a local run on that device gives.
"""

import torch

from aca_bench.algorithms.cards import active_source
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.executors.local import POLL_S
from aca_bench.benchmark.executors.pool import cell_fields, drive, train_fields
from aca_bench.benchmark.plan import Cell
from aca_bench.benchmark.store import Store

MAX_RETRIES = 3


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
        train_fields
    )
    threads = torch.get_num_threads()
    source = active_source()

    def submit(stack: list[Cell]):
        return remote.remote([cell_fields(c) for c in stack], source, device.type, threads)

    def wait(refs: list) -> list[tuple]:
        done, _ = ray.wait(refs, num_returns=1, timeout=POLL_S)
        return [(ref, ray.get(ref)) for ref in done]

    try:
        written = drive(
            stacks, store, desc, _slots(ray, gpus), submit, wait, lambda r: ray.cancel(r, force=True)
        )
    finally:
        if started_here:
            ray.shutdown()
    return written
