"""Executors run planned stacks and stream their records into the store as each stack finishes."""

import torch
from tqdm import tqdm

from benchmark.plan import Cell
from benchmark.runner import run_cells
from benchmark.store import Store


def progress_bar(total: int, desc: str) -> tqdm:
    """The sweep's bar: cells done / total with ETA (fractional while a stack trains)."""
    return tqdm(
        total=total,
        desc=desc,
        unit="cell",
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n:.1f}/{total} cells [{elapsed}<{remaining}]",
    )


def run_local(stacks: list[list[Cell]], store: Store, device: torch.device, desc: str = "sweep") -> int:
    """Train stacks one after another in this process; returns the number of records written."""
    written = 0
    with progress_bar(sum(map(len, stacks)), desc) as bar:
        for stack in stacks:
            end = bar.n + len(stack)

            def advance(cells: float, end: float = end) -> None:
                bar.update(min(cells, end - bar.n))

            records = run_cells(stack, device, on_progress=advance)
            bar.n = end
            bar.refresh()
            written += store.append(records)
    return written
