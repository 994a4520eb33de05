"""How far an adaptive search's cost is from the least its design could have spent (`view=adaptive-floor`).

A search (`aca_bench.benchmark.adaptive`) runs alpha 0 at every seed and a coarse grid at the scout
seed, and an alpha* with an interval needs two alphas run at every seed, one on each side of the
target's crossing (one, for a bound, when the smallest already reaches it). So on the path a search
took, no run of that design could have trained fewer cells than its alpha-0 cells, its cells at alphas
not every seed ran (scouts it never completed), and the two alphas at every seed that bracket the
crossing. `markdown` sets that floor beside what the search trained, in cells, model-epochs and
seconds; a cell's seconds are its stack's training time shared by model-epochs, so the floor's time is
what the least work of that design took on this machine at the speed it trained at.
"""

from collections import defaultdict

from aca_bench.benchmark.commands.perf_adaptive import arm_rows, model_epochs, stacks, training_seconds
from aca_bench.benchmark.errors import BenchError
from aca_bench.benchmark.markdown import markdown_table


def seconds_per_cell(records: list[dict]) -> dict[str, float]:
    """run id -> the seconds of its stack's training that fall to it: the stack's time times the cell's
    share of the stack's model-epochs."""
    out = {}
    for (_, wall), members in stacks(records).items():
        total = sum(model_epochs(r) for r in members)
        out |= {r["run_id"]: wall * model_epochs(r) / total for r in members}
    return out


def floor_cells(records: list[dict], target: float) -> list[dict]:
    """The cells of one configuration's search that its design could not have done without: alpha 0,
    alphas not every seed ran, and the alphas every seed ran that bracket the seed-mean curve's first
    crossing of `target` (the smallest alone when it reaches the target, the largest alone when none
    does)."""
    seeds = {r["seed"] for r in records}
    by_alpha: dict[float, list[dict]] = defaultdict(list)
    for r in records:
        by_alpha[r["alpha"]].append(r)
    full = sorted(a for a, rs in by_alpha.items() if a > 0 and {r["seed"] for r in rs} == seeds)
    keep = {a for a in by_alpha if a == 0 or a not in full}
    mean = [sum(r["metrics"]["success"] for r in by_alpha[a]) / len(by_alpha[a]) for a in full]
    hits = [i for i, m in enumerate(mean) if m >= target]
    if full:
        keep |= set(full[-1:] if not hits else full[max(hits[0] - 1, 0) : hits[0] + 1])
    return [r for a in sorted(keep) for r in by_alpha[a]]


def markdown(records: list[dict], target: float) -> str:
    """Per configuration of one adaptive store: cells, model-epochs and seconds it trained, and the same
    at the floor of its design (`floor_cells`) with the seconds of the floor's alpha-0 cells; then totals.
    Refuses a store whose stacks ran side by side (`--workers`): their seconds would overlap."""
    seconds = seconds_per_cell(records)
    if sum(seconds.values()) > 1.05 * training_seconds(records):
        raise BenchError(
            "view=adaptive-floor: the store's stacks ran side by side (--workers); give a one-process run"
        )
    rows, totals = [], [0, 0, 0.0, 0, 0, 0.0, 0.0]
    for row in arm_rows(records, target).values():
        trained, floor = row["records"], floor_cells(row["records"], target)
        figures = [
            len(trained),
            sum(model_epochs(r) for r in trained),
            sum(seconds[r["run_id"]] for r in trained),
            len(floor),
            sum(model_epochs(r) for r in floor),
            sum(seconds[r["run_id"]] for r in floor),
            sum(seconds[r["run_id"]] for r in floor if r["alpha"] == 0),
        ]
        totals = [t + f for t, f in zip(totals, figures, strict=True)]
        rows.append([row["label"], *_formatted(figures)])
    rows.append(["**all configurations**", *_formatted(totals)])
    heads = [
        "configuration",
        "cells trained",
        "model-epochs",
        "seconds",
        "cells at the floor",
        "model-epochs",
        "seconds",
        "of which at alpha 0",
    ]
    return markdown_table(heads, rows)


def _formatted(figures: list) -> list[str]:
    return [f"{v:.0f}" if isinstance(v, float) else str(v) for v in figures]
