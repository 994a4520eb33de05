"""Executors run planned stacks and stream their records into the store as each stack finishes.

Every cell is claimed in the store before it trains (`aca_bench.benchmark.store.Claims`), so sweeps that
share a
results folder split the cells: a cell another sweep holds is left to it, and waited for, until it is
stored or that sweep's lease goes stale (then it is trained here).
"""

import time
from collections.abc import Callable

import click
import torch
from tqdm import tqdm

from aca_bench.benchmark.plan import Cell
from aca_bench.benchmark.runner import run_cells
from aca_bench.benchmark.store import Claims, Store

POLL_S = 2.0  # how often a sweep waiting on another sweep's cells looks again


def progress_bar(total: int, desc: str) -> tqdm:
    """The sweep's bar: cells done / total with ETA (fractional while a stack trains)."""
    return tqdm(
        total=total,
        desc=desc,
        unit="cell",
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n:.1f}/{total} cells [{elapsed}<{remaining}]",
    )


class WorkQueue:
    """Stacks still to train. `take` returns the next stack's cells this sweep could claim, dropping cells
    another sweep has stored meanwhile (counted in `by_others`), or None while every remaining cell is
    held by another sweep."""

    def __init__(self, stacks: list[list[Cell]], claims: Claims, on_done_elsewhere: Callable[[int], None]):
        self.waiting = [list(s) for s in stacks if s]
        self.claims = claims
        self.by_others = 0
        self._on_done_elsewhere = on_done_elsewhere

    def take(self) -> list[Cell] | None:
        left = []
        mine: list[Cell] | None = None
        for stack in self.waiting:
            if mine is not None:
                left.append(stack)
                continue
            granted, stored = self.claims.claim([c.run_id for c in stack])
            if stored:
                self.by_others += len(stored)
                self._on_done_elsewhere(len(stored))
            rest = [c for c in stack if c.run_id not in granted and c.run_id not in stored]
            if rest:
                left.append(rest)
            if granted:
                mine = [c for c in stack if c.run_id in granted]
        self.waiting = left
        return mine

    def done(self, stack: list[Cell]) -> None:
        """The stack is stored: release its leases."""
        self.claims.release({c.run_id for c in stack})


def report_shared(queue: WorkQueue) -> None:
    """One line when another sweep on the same folder trained some of this sweep's cells."""
    if queue.by_others:
        click.echo(
            f"{queue.by_others} cell(s) were trained by another sweep on this results folder", err=True
        )


def run_local(stacks: list[list[Cell]], store: Store, device: torch.device, desc: str = "sweep") -> int:
    """Train stacks one after another in this process; returns the number of records written."""
    written = 0
    with Claims(store) as claims, progress_bar(sum(map(len, stacks)), desc) as bar:
        queue = WorkQueue(stacks, claims, bar.update)
        while queue.waiting:
            stack = queue.take()
            if stack is None:
                time.sleep(POLL_S)
                continue
            end = bar.n + len(stack)

            def advance(cells: float, end: float = end) -> None:
                bar.update(min(cells, end - bar.n))

            records = run_cells(stack, device, on_progress=advance)
            bar.n = end
            bar.refresh()
            written += store.append(records)
            queue.done(stack)
    report_shared(queue)
    return written
